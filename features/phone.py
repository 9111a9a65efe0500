"""Phone numbers, normalised once at the boundary with ``phonenumbers`` (libphonenumber).

:func:`normalize` turns any input into a :class:`NumberRecord`: E.164, validity (and why
not), region (ISO 3166-1), US/CA subdivision (ISO 3166-2, from the area code), line type,
**all** candidate time zones, and whether the number is non-geographic (toll-free etc.).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import phonenumbers as pn
from phonenumbers import timezone as pn_timezone
from phonenumbers.geodata import GEOCODE_DATA

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
    {"toll_free", "premium_rate", "shared_cost", "voip", "personal_number", "pager", "uan", "unknown"}
)
UNKNOWN_ZONE = "Etc/Unknown"

_US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC",
    "Washington, D.C.": "DC", "District of Columbia": "DC",
}
_CA_PROVINCES = {
    "Alberta": "AB", "British Columbia": "BC", "Manitoba": "MB", "New Brunswick": "NB",
    "Newfoundland and Labrador": "NL", "Newfoundland": "NL", "Nova Scotia": "NS",
    "Ontario": "ON", "Prince Edward Island": "PE", "Quebec": "QC", "Québec": "QC",
    "Saskatchewan": "SK", "Northwest Territories": "NT", "Nunavut": "NU", "Yukon": "YT",
    "Nova Scotia/Prince Edward Island": "NS", "Yukon/Northwest Territories/Nunavut": "YT",
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


def _invalid(raw: str, reason: str, e164: str | None = None, region: str | None = None) -> NumberRecord:
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
    text = (raw or "").strip()
    if not text:
        return _invalid(raw, "empty")
    try:
        num = pn.parse(text, default_region)
    except pn.NumberParseException as exc:
        return _invalid(raw, _PARSE_REASONS.get(exc.error_type, "not a phone number"))
    e164 = pn.format_number(num, pn.PhoneNumberFormat.E164)
    if not pn.is_possible_number(num):
        reason = _POSSIBLE_REASONS.get(pn.is_possible_number_with_reason(num), "not a possible number")
        return _invalid(raw, reason, e164)
    region = pn.region_code_for_number(num)
    if not pn.is_valid_number(num):
        return _invalid(raw, "not a valid number for its region", e164, region)
    line_type = LINE_TYPES.get(pn.number_type(num), "unknown")
    zones = tuple(z for z in pn_timezone.time_zones_for_number(num) if z != UNKNOWN_ZONE)
    subdivision = None
    if num.country_code == 1 and region in ("US", "CA"):
        subdivision = area_code_subdivisions().get(str(num.national_number)[:3])
    non_geo = line_type in NON_GEOGRAPHIC_TYPES or not zones or region == "001"
    return NumberRecord(raw, e164, True, None, region, subdivision, line_type, zones, non_geo)


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
