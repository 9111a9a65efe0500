"""US states and Canadian provinces of NANP area codes, from libphonenumber's geocoder."""

from __future__ import annotations

import functools

from phonenumbers.geodata import GEOCODE_DATA

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
