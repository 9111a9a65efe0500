"""One number at a time: :func:`normalize` turns any input into a :class:`NumberRecord`.

A record holds the E.164 form, validity (and why not, as :func:`features.phone.e164.checked`
decides it), region (ISO 3166-1), US/CA subdivision (ISO 3166-2, from the area code), line
type, **all** candidate time zones, and whether the number is non-geographic (toll-free etc.).
"""

from __future__ import annotations

import functools
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import phonenumbers as pn
from phonenumbers import timezone as pn_timezone

from features.phone._subdivisions import area_code_subdivisions  # noqa: F401 (re-exported)
from features.phone.e164 import checked, e164_of

LINE_TYPES: dict[int, str] = {
    pn.PhoneNumberType.FIXED_LINE: "fixed_line",
    pn.PhoneNumberType.MOBILE: "mobile",
    pn.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    pn.PhoneNumberType.TOLL_FREE: "toll_free",
    pn.PhoneNumberType.PREMIUM_RATE: "premium_rate",
    pn.PhoneNumberType.SHARED_COST: "shared_cost",
    pn.PhoneNumberType.VOIP: "voip",
    pn.PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    pn.PhoneNumberType.PAGER: "pager",
    pn.PhoneNumberType.UAN: "uan",
    pn.PhoneNumberType.VOICEMAIL: "voicemail",
    pn.PhoneNumberType.UNKNOWN: "unknown",
}
#: Line types whose number says nothing about where the person is.
NON_GEOGRAPHIC_TYPES = frozenset(
    {
        "toll_free",
        "premium_rate",
        "shared_cost",
        "voip",
        "personal_number",
        "pager",
        "uan",
        "unknown",
    }
)
UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class NumberRecord:
    """A number as the rules and features see it."""

    raw: str
    e164: str | None
    valid: bool
    invalid_reason: str | None
    region: str | None  # ISO 3166-1 alpha-2 ("US", "GG"); None when unknown
    subdivision: str | None  # ISO 3166-2 for US/CA ("US-FL", "CA-ON")
    line_type: str  # see LINE_TYPES values
    time_zones: tuple[str, ...]  # every candidate IANA zone; () when unknown
    non_geographic: bool  # toll-free / non-geographic / unknown zone


def _invalid(
    raw: str, reason: str, e164: str | None = None, region: str | None = None
) -> NumberRecord:
    return NumberRecord(raw, e164, False, reason, region, None, "unknown", (), True)


#: The most memory :func:`normalize`'s cache may hold (inputs and records, estimated). A
#: count alone did not bound it: a million inputs of up to 1,024 characters took a service
#: worker from 0.7 to 2 GB.
NORMALIZE_CACHE_BYTES = 64 * 1024 * 1024
#: Estimated bytes of one cache entry besides its input text: the record, its strings and
#: tuples, the key and the cache's own bookkeeping (measured with tracemalloc: ~350).
ENTRY_OVERHEAD_BYTES = 400


class CacheInfo(NamedTuple):
    hits: int
    misses: int
    currsize: int
    bytes: int
    max_bytes: int


class ByteBoundedCache:
    """A least-recently-used cache of a function of (text, optional text), bounded by the
    estimated bytes it holds rather than by a count of entries. Thread-safe."""

    def __init__(self, func: Callable[..., Any], max_bytes: int) -> None:
        self.__wrapped__ = func
        functools.update_wrapper(self, func)
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[Any, ...], tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._hits = self._misses = 0
        self._lock = threading.Lock()

    def __call__(self, raw: str, default_region: str | None = None) -> Any:
        key = (raw, default_region)
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self._hits += 1
                return found[0]
            self._misses += 1
        value = self.__wrapped__(raw, default_region)
        size = sys.getsizeof(raw) + ENTRY_OVERHEAD_BYTES
        if size > self.max_bytes:
            return value
        with self._lock:
            if key not in self._entries:
                self._entries[key] = (value, size)
                self._bytes += size
                while self._bytes > self.max_bytes:
                    _, (_, dropped) = self._entries.popitem(last=False)
                    self._bytes -= dropped
        return value

    def cache_info(self) -> CacheInfo:
        with self._lock:
            return CacheInfo(
                self._hits, self._misses, len(self._entries), self._bytes, self.max_bytes
            )

    def cache_clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


def _byte_bounded(max_bytes: int) -> Callable[[Callable[..., Any]], ByteBoundedCache]:
    return lambda func: ByteBoundedCache(func, max_bytes)


@_byte_bounded(NORMALIZE_CACHE_BYTES)
def normalize(raw: str, default_region: str | None = None) -> NumberRecord:
    """Normalise one number. National formats need ``default_region`` (e.g. ``"US"``).

    >>> normalize("+1 305-213-4567").subdivision
    'US-FL'
    >>> normalize("+1 701 201 4567").time_zones
    ('America/Denver', 'America/North_Dakota/Center')
    >>> normalize("hello").invalid_reason
    'not a phone number'
    """
    num, region, reason = checked(raw, default_region)
    e164 = e164_of(num) if num is not None else None
    if reason is not None or num is None:
        return _invalid(raw, reason or "empty", e164, region)
    line_type = LINE_TYPES.get(pn.number_type(num), "unknown")
    zones = tuple(z for z in pn_timezone.time_zones_for_number(num) if z != UNKNOWN_ZONE)
    subdivision = None
    if num.country_code == 1 and region in ("US", "CA"):
        subdivision = area_code_subdivisions().get(str(num.national_number)[:3])
    zones = with_zone_corrections(e164, zones)
    non_geo = line_type in NON_GEOGRAPHIC_TYPES or not zones or region == "001"
    return NumberRecord(raw, e164, True, None, region, subdivision, line_type, zones, non_geo)


#: Where libphonenumber's time-zone data is known to be wrong, by E.164 prefix: zones ADDED in
#: front of its own (the rules check every candidate zone, so adding one is conservative; the
#: features read the first). +1 689 is an overlay of Orlando's 407/321 (Eastern time), but
#: libphonenumber 9.0 lists it in America/Chicago only — a Florida 20:00 cut-off would be
#: checked an hour late.
ZONE_CORRECTIONS: dict[str, tuple[str, ...]] = {"+1689": ("America/New_York",)}


def with_zone_corrections(e164: str | None, zones: tuple[str, ...]) -> tuple[str, ...]:
    """``zones`` of the number with :data:`ZONE_CORRECTIONS` applied."""
    if e164:
        for prefix, extra in ZONE_CORRECTIONS.items():
            if e164.startswith(prefix):
                return tuple(dict.fromkeys((*extra, *zones)))
    return zones
