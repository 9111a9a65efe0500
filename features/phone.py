"""Phone numbers, normalised once at the boundary with ``phonenumbers`` (libphonenumber).

:func:`normalize` turns any input into a :class:`NumberRecord`: E.164, validity (and why
not), region (ISO 3166-1), US/CA subdivision (ISO 3166-2, from the area code), line type,
**all** candidate time zones, and whether the number is non-geographic (toll-free etc.).

:func:`normalize_many` gives the same records for many inputs as a DataFrame, one row per
input, a few seconds per million E.164 numbers instead of two minutes (issue 2, item 4): it
applies libphonenumber's own metadata column-wise and hands everything else to
:func:`normalize`, so both agree row for row (``tests/features/test_phone.py`` checks it;
``benchmarks/bench_phone.py`` measures it).
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd
import phonenumbers as pn
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import timezone as pn_timezone
from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.phonemetadata import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, _test_number_length
from phonenumbers.tzdata import TIMEZONE_DATA

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

_US_STATES = {
    "Alabama": "AL",
    "Alaska": "AK",
    "Arizona": "AZ",
    "Arkansas": "AR",
    "California": "CA",
    "Colorado": "CO",
    "Connecticut": "CT",
    "Delaware": "DE",
    "Florida": "FL",
    "Georgia": "GA",
    "Hawaii": "HI",
    "Idaho": "ID",
    "Illinois": "IL",
    "Indiana": "IN",
    "Iowa": "IA",
    "Kansas": "KS",
    "Kentucky": "KY",
    "Louisiana": "LA",
    "Maine": "ME",
    "Maryland": "MD",
    "Massachusetts": "MA",
    "Michigan": "MI",
    "Minnesota": "MN",
    "Mississippi": "MS",
    "Missouri": "MO",
    "Montana": "MT",
    "Nebraska": "NE",
    "Nevada": "NV",
    "New Hampshire": "NH",
    "New Jersey": "NJ",
    "New Mexico": "NM",
    "New York": "NY",
    "North Carolina": "NC",
    "North Dakota": "ND",
    "Ohio": "OH",
    "Oklahoma": "OK",
    "Oregon": "OR",
    "Pennsylvania": "PA",
    "Rhode Island": "RI",
    "South Carolina": "SC",
    "South Dakota": "SD",
    "Tennessee": "TN",
    "Texas": "TX",
    "Utah": "UT",
    "Vermont": "VT",
    "Virginia": "VA",
    "Washington": "WA",
    "West Virginia": "WV",
    "Wisconsin": "WI",
    "Wyoming": "WY",
    "Washington D.C.": "DC",
    "Washington, D.C.": "DC",
    "District of Columbia": "DC",
    "Washington State": "WA",  # libphonenumber's name for 206, 253, 360, 425, 509
}
_CA_PROVINCES = {
    "Alberta": "AB",
    "British Columbia": "BC",
    "Manitoba": "MB",
    "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL",
    "Newfoundland": "NL",
    "Nova Scotia": "NS",
    "Ontario": "ON",
    "Prince Edward Island": "PE",
    "Quebec": "QC",
    "Québec": "QC",
    "Saskatchewan": "SK",
    "Northwest Territories": "NT",
    "Nunavut": "NU",
    "Yukon": "YT",
    "Nova Scotia/Prince Edward Island": "NS",
    "Yukon/Northwest Territories/Nunavut": "YT",
    "British Colombia": "BC",  # sic, libphonenumber's spelling for 236, 250, 604, 672, 778
}
_US_ABBR = set(_US_STATES.values())
_CA_ABBR = set(_CA_PROVINCES.values())


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


@functools.cache
def area_code_subdivisions() -> dict[str, str]:
    """NANP area code (3 digits) → ISO 3166-2 subdivision, from libphonenumber's geocoder."""
    table: dict[str, str] = {}
    for key, names in GEOCODE_DATA.items():
        if len(key) != 4 or not key.startswith("1"):
            continue
        name = names.get("en", "")
        code = _subdivision_from_name(name)
        if code:
            table[key[1:]] = code
    # Area codes the geocoder only names by city ("Bridgeport, CT" under 1203xxx): use
    # them when every longer prefix of the area code names the same subdivision.
    by_area: dict[str, set[str | None]] = {}
    for key, names in GEOCODE_DATA.items():
        if len(key) > 4 and key.startswith("1") and key[1:4] not in table:
            by_area.setdefault(key[1:4], set()).add(_subdivision_from_name(names.get("en", "")))
    for area, codes in by_area.items():
        known = codes - {None}
        if len(known) == 1:
            table[area] = known.pop()
    return table


def _subdivision_from_name(name: str) -> str | None:
    if name in _US_STATES:
        return "US-" + _US_STATES[name]
    if name in _CA_PROVINCES:
        return "CA-" + _CA_PROVINCES[name]
    if ", " in name:  # "New York, NY", "Etobicoke, ON"
        abbr = name.rsplit(", ", 1)[1].strip()
        if abbr in _US_ABBR:
            return "US-" + abbr
        if abbr in _CA_ABBR:
            return "CA-" + abbr
    return None


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
    text = raw.strip() if isinstance(raw, str) else ""  # None / NaN count as empty
    if not text:
        return _invalid(raw, "empty")
    try:
        num = pn.parse(text, default_region)
    except pn.NumberParseException as exc:
        return _invalid(raw, _PARSE_REASONS.get(exc.error_type, "not a phone number"))
    e164 = pn.format_number(num, pn.PhoneNumberFormat.E164)
    if not pn.is_possible_number(num):
        reason = _POSSIBLE_REASONS.get(
            pn.is_possible_number_with_reason(num), "not a possible number"
        )
        return _invalid(raw, reason, e164)
    region = pn.region_code_for_number(num)
    if not pn.is_valid_number(num):
        return _invalid(raw, "not a valid number for its region", e164, region)
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


_PARSE_REASONS = {
    pn.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code (use +CC or a default region)",
    pn.NumberParseException.NOT_A_NUMBER: "not a phone number",
    pn.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    pn.NumberParseException.TOO_SHORT_NSN: "too short",
    pn.NumberParseException.TOO_LONG: "too long",
}
_POSSIBLE_REASONS = {
    pn.ValidationResult.TOO_SHORT: "too short",
    pn.ValidationResult.TOO_LONG: "too long",
    pn.ValidationResult.INVALID_LENGTH: "invalid length",
    pn.ValidationResult.INVALID_COUNTRY_CODE: "unknown country code",
}


# --------------------------------------------------------------------------------------------
# Many numbers at once.
#
# ``normalize`` costs ~120 µs a number (parse + validate + type + zones in pure Python), i.e.
# two minutes for a million. ``normalize_many`` reproduces the same steps for E.164-like input
# ("+" then 4-17 digits, optionally spaced with " -.()") column-wise, calling code by calling
# code: parse()'s national-prefix cut ("+44 (0)20 ..."), the possible-length test, region choice
# for shared codes (+1, +44, ...), the line-type tests in phonenumbers' order, and the time-zone
# lookups. libphonenumber's own metadata regexes run through pyarrow.compute (RE2; they are
# RE2-compatible, and anchored here exactly as phonenumbers' match / fullmatch use them); lengths
# and zones go through numpy lookup tables. Whatever takes a branch of phonenumbers we do not
# mirror (national formats, letters, extensions, "00" prefixes, national-prefix transform rules,
# unknown codes with a default region) goes through ``normalize`` itself. Every row is thus
# exact by construction; tests/features/test_phone.py compares the two row by row.
# --------------------------------------------------------------------------------------------

#: Column order of :func:`normalize_many` — exactly the :class:`NumberRecord` fields.
RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(NumberRecord))
#: ``object`` keeps ``None`` as ``None`` (pandas 3's ``str`` dtype would turn it into NaN).
_COLUMN_DTYPES = {
    name: ("bool" if name in ("valid", "non_geographic") else "object") for name in RECORD_COLUMNS
}
#: Input the fast path takes: optional spaces, one "+", then digits and " -.()" only. Each of
#: these is punctuation ``phonenumbers.parse`` ignores; anything else goes to ``normalize``.
_E164_LIKE = r"^ *\+[0-9 .()\-]*$"
_FAST_DIGITS = (4, 17)  # 4: "+" and 3 digits is the shortest viable input; 17 fits int64
_MAX_INPUT_LENGTH = 250  # phonenumberutil._MAX_INPUT_STRING_LENGTH: longer input is "too long"
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


def normalize_many(
    raws: Sequence[str | None] | np.ndarray | pd.Series, default_region: str | None = None
) -> pd.DataFrame:
    """Normalise many numbers at once; row ``i`` equals ``normalize(raws[i], default_region)``.

    Returns one row per input, index ``0..n-1``, columns :data:`RECORD_COLUMNS` (``None`` stays
    ``None``; ``time_zones`` holds shared tuple objects). Duplicates are normalised once. The
    per-number cache of :func:`normalize` is not filled: millions of one-off numbers would pin
    memory in it.
    """
    values = _as_object_array(raws)
    if pd.api.types.infer_dtype(values, skipna=False) == "string":  # the usual case: all str
        encoded = pa.array(values, type=pa.large_string()).dictionary_encode()
        codes = encoded.indices.to_numpy()
        text, is_text = encoded.dictionary, np.ones(len(encoded.dictionary), dtype=bool)
        distinct = None  # the strings of ``text`` themselves
    else:  # None / NaN / numbers mixed in: only the str values can take the fast path
        codes, distinct = pd.factorize(values, use_na_sentinel=False)
        is_text = np.fromiter(
            (isinstance(v, str) for v in distinct), dtype=bool, count=len(distinct)
        )
        text = pa.array(np.where(is_text, distinct, ""), type=pa.large_string())
    columns = _normalize_distinct(text, is_text, distinct, default_region)
    if len(text) == len(values) and np.array_equal(codes, np.arange(len(values))):
        codes = slice(None)  # all distinct, first-seen order: no need to copy every column
    frame = pd.DataFrame(
        {
            name: pd.Series(columns[name][codes], dtype=_COLUMN_DTYPES[name], copy=False)
            for name in RECORD_COLUMNS
            if name != "raw"
        }
    )
    frame.insert(0, "raw", pd.Series(values, dtype=object, copy=False))
    for prefix in ZONE_CORRECTIONS:
        # as normalize does: valid numbers only
        hit = frame["e164"].str.startswith(prefix, na=False).to_numpy(dtype=bool) & frame[
            "valid"
        ].to_numpy(dtype=bool)
        if hit.any():
            rows = frame.index[hit]
            corrected = [
                with_zone_corrections(e, z)
                for e, z in zip(frame.loc[rows, "e164"], frame.loc[rows, "time_zones"], strict=True)
            ]
            frame.loc[rows, "time_zones"] = pd.Series(corrected, index=rows, dtype=object)
    return frame


def _as_object_array(raws: Sequence[str | None] | np.ndarray | pd.Series) -> np.ndarray:
    if isinstance(raws, pd.Series):
        raws = raws.to_numpy(dtype=object)
    if isinstance(raws, np.ndarray) and raws.dtype == object:
        return raws.reshape(-1)
    out = np.empty(len(raws), dtype=object)
    out[:] = list(raws)
    return out


def _normalize_distinct(
    text: pa.Array, is_text: np.ndarray, distinct: np.ndarray | None, default_region: str | None
) -> dict[str, np.ndarray]:
    """Column arrays, one entry per distinct input, for every field but ``raw``.

    ``text`` holds each distinct input as a string ("" where ``is_text`` is False);
    ``distinct`` holds the inputs themselves (None: they are ``text``'s strings), for the rows
    ``normalize`` has to do.
    """
    count = len(text)
    e164_like = (
        is_text
        & (pc.utf8_length(text).to_numpy() <= _MAX_INPUT_LENGTH)
        & pc.match_substring_regex(text, _E164_LIKE).to_numpy(zero_copy_only=False)
    )
    candidate_rows = np.flatnonzero(e164_like)
    digits = _digits_after_plus(text.filter(pa.array(e164_like)))
    n_digits = pc.utf8_length(digits).to_numpy()
    in_range = (n_digits >= _FAST_DIGITS[0]) & (n_digits <= _FAST_DIGITS[1])
    fast_rows = candidate_rows[in_range]
    columns = _empty_columns(count)
    zone_ids = np.full(count, _zone_id(()), dtype=np.int64)
    handled = _fill_fast(
        columns, zone_ids, fast_rows, digits.filter(pa.array(in_range)), default_region
    )
    columns["time_zones"] = _zone_objects()[zone_ids]
    slow = np.ones(count, dtype=bool)
    slow[fast_rows[handled]] = False
    for row in np.flatnonzero(slow):
        raw = distinct[row] if distinct is not None else text[int(row)].as_py()
        record = normalize.__wrapped__(raw, default_region)
        for name in RECORD_COLUMNS[1:]:
            columns[name][row] = getattr(record, name)
        columns["time_zones"][row] = _ZONE_LISTS[_zone_id(record.time_zones)]
    return columns


def _digits_after_plus(e164_like: pa.Array) -> pa.Array:
    """The digits of strings matching ``_E164_LIKE``; cheap for the usual "+" + digits."""
    digits = pc.utf8_slice_codeunits(e164_like, 1)
    plain = pc.and_(pc.starts_with(e164_like, "+"), pc.ascii_is_decimal(digits))
    if pc.all(plain).as_py() is not False:
        return digits
    formatted = pc.invert(plain)
    cleaned = pc.replace_substring_regex(e164_like.filter(formatted), r"[^0-9]", "")
    return pc.replace_with_mask(digits, formatted, cleaned)


def _empty_columns(count: int) -> dict[str, np.ndarray]:
    columns = {name: np.full(count, None, dtype=object) for name in RECORD_COLUMNS[1:]}
    columns["valid"] = np.zeros(count, dtype=bool)
    columns["non_geographic"] = np.ones(count, dtype=bool)
    return columns


#: Every distinct zone tuple seen, once: rows refer to these objects (a million rows hold a
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


def _fill_fast(
    columns: dict[str, np.ndarray],
    zone_ids: np.ndarray,
    rows: np.ndarray,
    digits: pa.Array,
    default_region: str | None,
) -> np.ndarray:
    """Fill ``columns`` / ``zone_ids`` at ``rows`` from E.164 digit strings (no "+"), calling
    code by calling code; returns which of ``rows`` were handled (the rest go slow)."""
    handled = np.zeros(len(rows), dtype=bool)
    if not len(rows):
        return handled
    value = pc.cast(digits, pa.int64()).to_numpy()
    n_digits = pc.utf8_length(digits).to_numpy()
    country_code = _split_country_code(value, n_digits)
    country_code[pc.starts_with(digits, "0").to_numpy(zero_copy_only=False)] = 0  # no code
    order = np.argsort(country_code, kind="stable")
    bounds = np.flatnonzero(np.diff(country_code[order])) + 1
    for group in np.split(order, bounds):
        code = int(country_code[group[0]])
        if code == 0:
            # No known calling code after "+": parse() retries the digits as a national number
            # of the default region; with none, that ends in INVALID_COUNTRY_CODE.
            if default_region is None:
                columns["invalid_reason"][rows[group]] = _PARSE_REASONS[
                    pn.NumberParseException.INVALID_COUNTRY_CODE
                ]
                columns["line_type"][rows[group]] = "unknown"
                handled[group] = True
            continue
        plan = _country_plan(code)
        if plan is None:
            continue
        numbers = _CountryNumbers(
            rows=rows[group],
            nsn=pc.utf8_slice_codeunits(digits.take(pa.array(group)), start=len(str(code))),
            value=value[group],
            n_digits=n_digits[group],
            nsn_length=n_digits[group] - len(str(code)),
        )
        handled[group[plan.fill(columns, zone_ids, numbers)]] = True
    return handled


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


def _split_country_code(value: np.ndarray, n_digits: np.ndarray) -> np.ndarray:
    """The 1-3 digit calling code each number starts with (0 if none), shortest first as in
    ``phonenumberutil._extract_country_code`` (the codes are prefix-free anyway)."""
    country_code = np.zeros(len(value), dtype=np.int64)
    for width in (3, 2, 1):  # later (shorter) assignments win, matching "shortest first"
        prefix = value // (10 ** (n_digits - width))
        is_known = np.isin(prefix, _known_country_codes())
        country_code[is_known] = prefix[is_known]
    return country_code


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
