"""One number at a time: :func:`normalize` turns any input into a :class:`NumberRecord`.

A record holds the E.164 form, validity (and why not, as :func:`features.phone.e164.checked`
decides it), region (ISO 3166-1), US/CA subdivision (ISO 3166-2, from the area code), line
type, **all** candidate time zones, and whether the number is non-geographic (toll-free etc.).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

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


@functools.lru_cache(maxsize=1_000_000)
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
