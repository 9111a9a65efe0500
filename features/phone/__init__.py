"""Phone numbers, normalised once at the boundary with ``phonenumbers`` (libphonenumber).

* :func:`normalize` (one number, cached) turns any input into a :class:`NumberRecord`: E.164,
  validity (and why not), region, US/CA subdivision, line type, every candidate time zone,
  and whether the number is non-geographic (``scalar.py``);
* :func:`normalize_many` gives the same records for many inputs as a DataFrame, a few
  seconds per million E.164 numbers instead of two minutes, row for row equal to
  :func:`normalize` (``vectorised.py``; ``benchmarks/bench_phone.py`` measures it);
  :func:`regions_of` is its region column;
* :func:`e164_batch` / :func:`valid_e164` give only the E.164 form of valid numbers, with the
  validity decision :func:`normalize` uses (``e164.py``, the registry import's workers).

The names load on first use: a registry worker that only needs :func:`e164_batch` imports
``phonenumbers`` and nothing else (no pandas, pyarrow or geocoding data).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from features.lazy import lazy_exports

if TYPE_CHECKING:
    from features.phone.e164 import checked, e164_batch, valid_e164
    from features.phone.scalar import (
        LINE_TYPES,
        NON_GEOGRAPHIC_TYPES,
        UNKNOWN_ZONE,
        ZONE_CORRECTIONS,
        NumberRecord,
        area_code_subdivisions,
        normalize,
        with_zone_corrections,
    )
    from features.phone.vectorised import RECORD_COLUMNS, normalize_many, regions_of

_MODULE_OF = {
    "checked": "e164",
    "e164_batch": "e164",
    "valid_e164": "e164",
    "LINE_TYPES": "scalar",
    "NON_GEOGRAPHIC_TYPES": "scalar",
    "UNKNOWN_ZONE": "scalar",
    "ZONE_CORRECTIONS": "scalar",
    "NumberRecord": "scalar",
    "area_code_subdivisions": "scalar",
    "normalize": "scalar",
    "with_zone_corrections": "scalar",
    "RECORD_COLUMNS": "vectorised",
    "normalize_many": "vectorised",
    "regions_of": "vectorised",
}
__all__ = [
    "LINE_TYPES",
    "NON_GEOGRAPHIC_TYPES",
    "RECORD_COLUMNS",
    "UNKNOWN_ZONE",
    "ZONE_CORRECTIONS",
    "NumberRecord",
    "area_code_subdivisions",
    "checked",
    "e164_batch",
    "normalize",
    "normalize_many",
    "regions_of",
    "valid_e164",
    "with_zone_corrections",
]
assert sorted(__all__) == sorted(_MODULE_OF)


__getattr__, __dir__ = lazy_exports(__name__, _MODULE_OF)
