"""Address region → candidate time zones (``"US-FL"``, ``"FR"``)."""

from __future__ import annotations

import functools
from pathlib import Path

import phonenumbers as pn
from phonenumbers.tzdata import TIMEZONE_DATA

from features.phone import UNKNOWN_ZONE, area_code_subdivisions

__all__ = ["zones_for_region"]


@functools.cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """ISO 3166-1 → IANA zones from the system ``zone.tab`` (empty when it is missing)."""
    table: dict[str, list[str]] = {}
    for candidate in (Path("/usr/share/zoneinfo/zone.tab"), Path("/usr/lib/zoneinfo/zone.tab")):
        if candidate.exists():
            for line in candidate.read_text(encoding="utf-8").splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                parts = line.split("\t")
                table.setdefault(parts[0], []).append(parts[2])
            break
    return {code: tuple(zones) for code, zones in table.items()}


@functools.cache
def zones_for_region(code: str) -> tuple[str, ...]:
    """Candidate zones of an address region: ``"US-FL"`` (from libphonenumber's area-code
    data for that state) or ``"FR"`` (from ``zone.tab``, else libphonenumber's example number)."""
    if "-" in code:
        prefixes = ["1" + area for area, sub in area_code_subdivisions().items() if sub == code]
        zones = {
            zone
            for key, names in TIMEZONE_DATA.items()
            if any(key.startswith(prefix) for prefix in prefixes)
            for zone in names
            if zone != UNKNOWN_ZONE
        }
        return tuple(sorted(zones))
    zones_by_country = _country_zones()
    if code in zones_by_country:
        return zones_by_country[code]
    example = pn.example_number(code)
    if example is None:
        return ()
    from phonenumbers import timezone as pn_timezone

    return tuple(z for z in pn_timezone.time_zones_for_number(example) if z != UNKNOWN_ZONE)
