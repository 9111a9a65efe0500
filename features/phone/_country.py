"""libphonenumber's metadata prepared for column-wise use: one plan per calling code.

A :class:`_CountryPlan` holds what :func:`features.phone.normalize` consults for one calling
code (national-prefix patterns, possible lengths, regions in phonenumbers' order, line-type
patterns, time zones) so that :func:`features.phone.normalize_many` can apply it to a whole
column of numbers; zones are shared tuple objects addressed by integer ids.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import phonenumbers as pn
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import timezone as pn_timezone
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, _test_number_length
from phonenumbers.tzdata import TIMEZONE_DATA

from features.phone.e164 import _PARSE_REASONS, _POSSIBLE_REASONS
from features.phone.scalar import (
    LINE_TYPES,
    NON_GEOGRAPHIC_TYPES,
    UNKNOWN_ZONE,
    area_code_subdivisions,
)

_UNKNOWN_TYPE = int(pn.PhoneNumberType.UNKNOWN)
#: phonenumbers' own test order in ``_number_type_helper`` before fixed line / mobile.
_SPECIAL_TYPES = (
    ("premium_rate", pn.PhoneNumberType.PREMIUM_RATE),
    ("toll_free", pn.PhoneNumberType.TOLL_FREE),
    ("shared_cost", pn.PhoneNumberType.SHARED_COST),
    ("voip", pn.PhoneNumberType.VOIP),
    ("personal_number", pn.PhoneNumberType.PERSONAL_NUMBER),
    ("pager", pn.PhoneNumberType.PAGER),
    ("uan", pn.PhoneNumberType.UAN),
    ("voicemail", pn.PhoneNumberType.VOICEMAIL),
)
#: Country calling codes whose national-prefix pattern can match the empty string (Argentina):
#: the parse outcome then depends on capture groups, so the whole code takes the slow path.
_SLOW_COUNTRY_CODES = frozenset({54})


#: few hundred tuples), and the fast path handles them as integer ids.
_ZONE_LISTS: list[tuple[str, ...]] = []
_ZONE_IDS: dict[tuple[str, ...], int] = {}


_ZONE_LOCK = threading.Lock()  # the service may normalise from several threads


def _zone_id(zones: tuple[str, ...]) -> int:
    with _ZONE_LOCK:
        if zones not in _ZONE_IDS:
            _ZONE_IDS[zones] = len(_ZONE_LISTS)
            _ZONE_LISTS.append(zones)
        return _ZONE_IDS[zones]


def _zone_objects() -> np.ndarray:
    return _object_array(_ZONE_LISTS)


@dataclass(frozen=True, slots=True)
class _CountryNumbers:
    """Numbers of one calling code: their rows in the output, digits and lengths."""

    rows: np.ndarray  # output rows
    nsn: pa.Array  # national significant numbers (digits after the calling code)
    value: np.ndarray  # all E.164 digits as int64 (no leading zero: calling codes start 1-9)
    n_digits: np.ndarray  # digit count of ``value``
    nsn_length: np.ndarray

    def take(self, positions: np.ndarray) -> _CountryNumbers:
        return _CountryNumbers(
            self.rows[positions],
            self.nsn.take(pa.array(positions)),
            self.value[positions],
            self.n_digits[positions],
            self.nsn_length[positions],
        )


@functools.cache
def _known_country_codes() -> np.ndarray:
    return np.array(sorted(COUNTRY_CODE_TO_REGION_CODE), dtype=np.int64)


def _full(pattern: str) -> str:
    """Whole-string match, as ``re_util.fullmatch`` (RE2 ``$`` is end of text)."""
    return f"^(?:{pattern})$"


def _prefix(pattern: str) -> str:
    """Match at the start, as ``re.match``."""
    return f"^(?:{pattern})"


def _matches_desc(nsn: pa.Array, lengths: np.ndarray, desc: object) -> np.ndarray:
    """``phonenumberutil._is_number_matching_desc`` for a column of national numbers."""
    mask = np.zeros(len(nsn), dtype=bool)
    pattern = getattr(desc, "national_number_pattern", None)
    if desc is None or not pattern:
        return mask
    possible = desc.possible_length
    mask[:] = _length_mask(tuple(possible))[lengths] if len(possible) else True
    candidates = np.flatnonzero(mask)
    if len(candidates):
        subset = nsn.take(pa.array(candidates))
        matched = pc.match_substring_regex(subset, _full(pattern))
        mask[candidates] = matched.to_numpy(zero_copy_only=False)
    return mask


def _number_types(nsn: pa.Array, lengths: np.ndarray, metadata: object) -> np.ndarray:
    """``phonenumberutil._number_type_helper`` for a column: PhoneNumberType codes.

    Same tests in the same order; each test only sees the numbers still undecided.
    """
    types = np.full(len(nsn), _UNKNOWN_TYPE, dtype=np.int64)
    pending = np.flatnonzero(_matches_desc(nsn, lengths, metadata.general_desc))
    for attribute, number_type in _SPECIAL_TYPES:
        if not len(pending):
            return types
        desc = getattr(metadata, attribute)
        hit = _matches_desc(nsn.take(pa.array(pending)), lengths[pending], desc)
        types[pending[hit]] = number_type
        pending = pending[~hit]
    if not len(pending):
        return types
    fixed = _matches_desc(nsn.take(pa.array(pending)), lengths[pending], metadata.fixed_line)
    fixed_rows, other_rows = pending[fixed], pending[~fixed]
    if metadata.same_mobile_and_fixed_line_pattern:
        types[fixed_rows] = pn.PhoneNumberType.FIXED_LINE_OR_MOBILE
        return types
    for subset_rows, if_mobile, if_not in (
        (fixed_rows, pn.PhoneNumberType.FIXED_LINE_OR_MOBILE, pn.PhoneNumberType.FIXED_LINE),
        (other_rows, pn.PhoneNumberType.MOBILE, _UNKNOWN_TYPE),
    ):
        if len(subset_rows):
            subset = nsn.take(pa.array(subset_rows))
            mobile = _matches_desc(subset, lengths[subset_rows], metadata.mobile)
            types[subset_rows] = np.where(mobile, if_mobile, if_not)
    return types


@functools.cache
def _zone_prefix_tables() -> list[tuple[int, np.ndarray, np.ndarray]]:
    """phonenumbers' prefix → zones data as (prefix length, sorted int prefixes, zone ids),
    longest prefixes first; ``Etc/Unknown`` is dropped as ``normalize`` drops it."""
    by_length: dict[int, list[tuple[int, int]]] = {}
    for prefix, zones in TIMEZONE_DATA.items():
        zone_id = _zone_id(tuple(z for z in zones if z != UNKNOWN_ZONE))
        by_length.setdefault(len(prefix), []).append((int(prefix), zone_id))
    tables = []
    for length in sorted(by_length, reverse=True):
        pairs = sorted(by_length[length])
        keys = np.array([key for key, _ in pairs], dtype=np.int64)
        ids = np.array([zone_id for _, zone_id in pairs], dtype=np.int64)
        tables.append((length, keys, ids))
    return tables


def _geographic_zone_ids(value: np.ndarray, n_digits: np.ndarray) -> np.ndarray:
    """``timezone.time_zones_for_geographical_number``: the longest E.164 prefix in the data."""
    zone_ids = np.full(len(value), _zone_id(()), dtype=np.int64)
    pending = np.arange(len(value))
    for length, keys, ids in _zone_prefix_tables():
        if not len(pending):
            break
        # A prefix longer than the number is the whole number in phonenumbers' slicing; such a
        # key has fewer digits than ``length`` and is found when ``length`` reaches it.
        usable = pending[n_digits[pending] >= length]
        prefix = value[usable] // (10 ** (n_digits[usable] - length))
        position = np.minimum(np.searchsorted(keys, prefix), len(keys) - 1)
        hit = keys[position] == prefix
        zone_ids[usable[hit]] = ids[position[hit]]
        found = np.zeros(len(value), dtype=bool)
        found[usable[hit]] = True
        pending = pending[~found[pending]]
    return zone_ids


class _CountryPlan:
    """What ``normalize`` consults for one calling code, prepared once per code."""

    def __init__(self, code: int, metadata: object, regions: list[tuple[str, object]]):
        self.code = code
        self.regions = regions  # (region code, metadata) in phonenumbers' order; main first
        self.region_names = _object_array([name for name, _ in regions] + [None])
        self.code_length = len(str(code))
        prefix_pattern = metadata.national_prefix_for_parsing
        self.national_prefix = _prefix(prefix_pattern) if prefix_pattern else None
        # Without a transform rule parse() just cuts the prefix off (when that keeps the number
        # viable and of a usable length); with one, capture groups rebuild it: slow path.
        self.national_prefix_cut = (
            _prefix(_without_captures(prefix_pattern))
            if prefix_pattern
            and not metadata.national_prefix_transform_rule
            and _without_captures(prefix_pattern) is not None
            else None
        )
        general_pattern = metadata.general_desc.national_number_pattern
        self.general_pattern = _full(general_pattern) if general_pattern else None
        # is_possible_number_with_reason only looks at the length, against the main region.
        self.length_results = np.array(
            [int(_test_number_length("0" * length, metadata)) for length in range(_MAX_NSN + 1)],
            dtype=np.int64,
        )
        self.length_possible = np.isin(self.length_results, _POSSIBLE_RESULTS)
        self.length_keeps_prefix = np.isin(self.length_results, _LENGTHS_THAT_KEEP_THE_PREFIX)
        self.is_geographic = np.zeros(len(_LINE_TYPE_NAMES), dtype=bool)
        for number_type in LINE_TYPES:
            self.is_geographic[number_type] = pn.is_number_type_geographical(number_type, code)
        country_zones = pn_timezone._country_level_time_zones_for_number(
            pn.PhoneNumber(country_code=code)
        )
        self.country_zone_id = _zone_id(tuple(z for z in country_zones if z != UNKNOWN_ZONE))
        names = [name for name, _ in regions]
        self.is_north_america = np.isin(names, ["US", "CA"]) if code == 1 else None
        self.is_non_geo_entity = np.isin(names, [pn.REGION_CODE_FOR_NON_GEO_ENTITY])

    def patterns(self) -> list[str]:
        """Every regex this plan may run, to check once that RE2 accepts them."""
        found = [p for p in (self.national_prefix, self.national_prefix_cut) if p]
        for _, metadata in self.regions:
            if metadata.leading_digits:
                found.append(_prefix(metadata.leading_digits))
            for attribute in ("general_desc", "fixed_line", "mobile", *dict(_SPECIAL_TYPES)):
                pattern = getattr(getattr(metadata, attribute), "national_number_pattern", None)
                if pattern:
                    found.append(_full(pattern))
        return found

    def fill(
        self, columns: dict[str, np.ndarray], zone_ids: np.ndarray, numbers: _CountryNumbers
    ) -> np.ndarray:
        """Fill ``columns`` / ``zone_ids`` for ``numbers``; returns which ones were handled."""
        handled_of_all = np.ones(len(numbers.rows), dtype=bool)
        too_short = numbers.nsn_length < _MIN_NSN  # parse() raises before anything else
        columns["invalid_reason"][numbers.rows[too_short]] = _PARSE_REASONS[
            pn.NumberParseException.TOO_SHORT_NSN
        ]
        columns["line_type"][numbers.rows[too_short]] = "unknown"
        long_enough = np.flatnonzero(~too_short)
        numbers, handled = self._strip_national_prefix(numbers.take(long_enough))
        handled_of_all[long_enough] = handled
        e164 = pc.utf8_replace_slice(numbers.nsn, start=0, stop=0, replacement=f"+{self.code}")
        columns["e164"][numbers.rows[handled]] = e164.filter(handled).to_numpy(zero_copy_only=False)
        length_result = self.length_results[numbers.nsn_length]
        possible = self.length_possible[numbers.nsn_length]
        impossible = np.flatnonzero(handled & ~possible)
        for result in np.unique(length_result[impossible]):
            picked = numbers.rows[impossible[length_result[impossible] == result]]
            columns["invalid_reason"][picked] = _POSSIBLE_REASONS.get(
                result, "not a possible number"
            )
            columns["line_type"][picked] = "unknown"
        candidates = numbers.take(np.flatnonzero(handled & possible))
        region_index, types = self._regions_and_types(candidates)
        valid = (region_index >= 0) & (types != _UNKNOWN_TYPE)
        invalid_rows = candidates.rows[~valid]
        columns["invalid_reason"][invalid_rows] = "not a valid number for its region"
        columns["region"][invalid_rows] = self.region_names[region_index[~valid]]
        columns["line_type"][invalid_rows] = "unknown"
        valid_positions = np.flatnonzero(valid)
        self._fill_valid(
            columns,
            zone_ids,
            candidates.take(valid_positions),
            region_index[valid_positions],
            types[valid_positions],
        )
        return handled_of_all

    def _strip_national_prefix(
        self, numbers: _CountryNumbers
    ) -> tuple[_CountryNumbers, np.ndarray]:
        """parse()'s national-prefix step (``+44 (0)20 …`` → ``+44 20 …``); returns the numbers
        with their prefixes cut as parse() would cut them, and which of them we could handle.

        Mirrors ``_maybe_strip_national_prefix_carrier_code`` (keep the number if it fits the
        general pattern and the cut one does not) and the length test parse() applies after it.
        """
        handled = np.ones(len(numbers.rows), dtype=bool)
        if not self.national_prefix:
            return numbers, handled
        starts = pc.match_substring_regex(numbers.nsn, self.national_prefix)
        starts = starts.to_numpy(zero_copy_only=False)
        if self.national_prefix_cut is None:
            return numbers, ~starts
        positions = np.flatnonzero(starts)
        if not len(positions):
            return numbers, handled
        nsn = numbers.nsn.take(pa.array(positions))
        cut = pc.replace_substring_regex(nsn, self.national_prefix_cut, "", max_replacements=1)
        if self.general_pattern:
            viable = pc.match_substring_regex(nsn, self.general_pattern)
            cut_viable = pc.match_substring_regex(cut, self.general_pattern)
            keep = (viable.to_numpy(zero_copy_only=False)) & ~(
                cut_viable.to_numpy(zero_copy_only=False)
            )
        else:
            keep = np.zeros(len(positions), dtype=bool)
        cut_length = pc.utf8_length(cut).to_numpy()
        use = ~keep & ~self.length_keeps_prefix[np.minimum(cut_length, _MAX_NSN)]
        if not use.any():
            return numbers, handled
        mask = np.zeros(len(numbers.rows), dtype=bool)
        mask[positions[use]] = True
        new_nsn = pc.replace_with_mask(numbers.nsn, pa.array(mask), cut.filter(pa.array(use)))
        nsn_length = pc.utf8_length(new_nsn).to_numpy()
        value = numbers.value.copy()
        changed_value = pc.cast(cut.filter(pa.array(use)), pa.int64()).to_numpy()
        value[mask] = self.code * 10 ** nsn_length[mask] + changed_value
        cut_numbers = _CountryNumbers(
            rows=numbers.rows,
            nsn=new_nsn,
            value=value,
            n_digits=nsn_length + self.code_length,
            nsn_length=nsn_length,
        )
        return cut_numbers, handled

    def _regions_and_types(self, numbers: _CountryNumbers) -> tuple[np.ndarray, np.ndarray]:
        """``region_code_for_number`` (-1 for None), then ``_number_type_helper`` for it."""
        region_index = np.full(len(numbers.rows), -1, dtype=np.int64)
        types = np.full(len(numbers.rows), _UNKNOWN_TYPE, dtype=np.int64)
        pending = np.arange(len(numbers.rows))
        for position, (_, metadata) in enumerate(self.regions):
            if not len(pending):
                break
            nsn, lengths = numbers.nsn.take(pa.array(pending)), numbers.nsn_length[pending]
            if len(self.regions) == 1:  # a code with one region: chosen without any check
                chosen_types = _number_types(nsn, lengths, metadata)
                chosen = np.ones(len(pending), dtype=bool)
            elif metadata.leading_digits:  # shared code: leading digits decide if present
                chosen = pc.match_substring_regex(nsn, _prefix(metadata.leading_digits))
                chosen = chosen.to_numpy(zero_copy_only=False)
                picked = np.flatnonzero(chosen)
                chosen_types = np.full(len(pending), _UNKNOWN_TYPE, dtype=np.int64)
                chosen_types[picked] = _number_types(
                    nsn.take(pa.array(picked)), lengths[picked], metadata
                )
            else:  # ... otherwise the first region for which the number has a type
                chosen_types = _number_types(nsn, lengths, metadata)
                chosen = chosen_types != _UNKNOWN_TYPE
            region_index[pending[chosen]] = position
            types[pending[chosen]] = chosen_types[chosen]
            pending = pending[~chosen]
        return region_index, types

    def _fill_valid(
        self,
        columns: dict[str, np.ndarray],
        zone_ids: np.ndarray,
        numbers: _CountryNumbers,
        region_index: np.ndarray,
        types: np.ndarray,
    ) -> None:
        """Line type, zones (``timezone.time_zones_for_number``), subdivision, non-geographic."""
        rows = numbers.rows
        if not len(rows):
            return
        # Fixed line (and mobile where the country says so) are located by prefix; other types
        # get the zones of the whole calling code.
        ids = np.full(len(rows), self.country_zone_id, dtype=np.int64)
        geographic = self.is_geographic[types]
        ids[geographic] = _geographic_zone_ids(
            numbers.value[geographic], numbers.n_digits[geographic]
        )
        zone_ids[rows] = ids
        if self.is_north_america is not None:  # NANP: state / province from the area code
            north_america = self.is_north_america[region_index]
            nsn_value = numbers.value[north_america] % 10 ** numbers.nsn_length[north_america]
            # str(national_number)[:3]; NSNs valid in US/CA never start with 0.
            area = nsn_value // 10 ** np.maximum(numbers.nsn_length[north_america] - 3, 0)
            columns["subdivision"][rows[north_america]] = _area_code_table()[area]
        columns["region"][rows] = self.region_names[region_index]
        columns["line_type"][rows] = _LINE_TYPE_NAMES[types]
        columns["valid"][rows] = True
        columns["non_geographic"][rows] = (
            _NON_GEOGRAPHIC_TYPE_MASK[types]
            | _zone_is_empty()[ids]
            | self.is_non_geo_entity[region_index]
        )


@functools.cache
def _area_code_table() -> np.ndarray:
    """``area_code_subdivisions`` as an array indexed by the 3-digit area code."""
    table = np.full(1000, None, dtype=object)
    for area, subdivision in area_code_subdivisions().items():
        table[int(area)] = subdivision
    return table


def _zone_is_empty() -> np.ndarray:
    return np.array([not zones for zones in _ZONE_LISTS], dtype=bool)


_MIN_NSN, _MAX_NSN = 2, 17  # phonenumberutil._MIN_LENGTH_FOR_NSN, _MAX_LENGTH_FOR_NSN
_POSSIBLE_RESULTS = [
    int(pn.ValidationResult.IS_POSSIBLE),
    int(pn.ValidationResult.IS_POSSIBLE_LOCAL_ONLY),
]
#: parse() keeps a national prefix when the number without it would be of these lengths.
_LENGTHS_THAT_KEEP_THE_PREFIX = [
    int(pn.ValidationResult.TOO_SHORT),
    int(pn.ValidationResult.IS_POSSIBLE_LOCAL_ONLY),
    int(pn.ValidationResult.INVALID_LENGTH),
]


def _without_captures(pattern: str) -> str | None:
    """``pattern`` with capture groups made non-capturing (pyarrow's regex functions reject
    unnamed groups); None when the pattern has escaped or bracketed parentheses."""
    if "\\(" in pattern or "\\)" in pattern or re.search(r"\[[^\]]*[()]", pattern):
        return None
    return re.sub(r"\((?!\?)", "(?:", pattern)


_NON_GEOGRAPHIC_TYPE_MASK = np.zeros(max(LINE_TYPES) + 1, dtype=bool)
_NON_GEOGRAPHIC_TYPE_MASK[[t for t, name in LINE_TYPES.items() if name in NON_GEOGRAPHIC_TYPES]] = (
    True
)
_LINE_TYPE_NAMES = np.full(max(LINE_TYPES) + 1, "unknown", dtype=object)
_LINE_TYPE_NAMES[list(LINE_TYPES)] = list(LINE_TYPES.values())


def _object_array(items: Sequence[object]) -> np.ndarray:
    """A 1-d object array of ``items`` (numpy would turn a list of tuples into 2-d)."""
    out = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        out[i] = item
    return out


@functools.cache
def _length_mask(possible_lengths: tuple[int, ...]) -> np.ndarray:
    """Lookup table: ``mask[length]`` is whether ``length`` is among ``possible_lengths``."""
    mask = np.zeros(_MAX_NSN + 1, dtype=bool)
    mask[[n for n in possible_lengths if 0 <= n <= _MAX_NSN]] = True
    return mask


@functools.cache
def _country_plan(code: int) -> _CountryPlan | None:
    """The plan for one calling code, or None when that code must take the slow path."""
    if code in _SLOW_COUNTRY_CODES or code not in COUNTRY_CODE_TO_REGION_CODE:
        return None
    main_region = pn.region_code_for_country_code(code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, main_region)
    if metadata is None:
        return None
    regions = []
    for region in COUNTRY_CODE_TO_REGION_CODE[code]:
        if region == pn.REGION_CODE_FOR_NON_GEO_ENTITY:
            region_metadata = PhoneMetadata.metadata_for_nongeo_region(code)
        else:
            region_metadata = PhoneMetadata.metadata_for_region(region, None)
        if region_metadata is not None:  # phonenumbers skips regions without metadata too
            regions.append((region, region_metadata))
    plan = _CountryPlan(code, metadata, regions)
    probe = pa.array(["0"])
    try:
        for pattern in plan.patterns():
            pc.match_substring_regex(probe, pattern)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # not RE2 syntax: stay exact, go slow
        return None
    return plan
