"""Numbers of a history: each distinct number normalised once, its facts spread over the rows.

Events are grouped by E.164 (the raw text when the number is invalid), so "+1 305…" and
"(305) …" are one history. A pseudonymised number (``pseudo:…``, from a store export) is its
own history key, and its facts come from the export's number-fact columns
(:mod:`features.pseudonyms`), not from libphonenumber. Local time uses the FIRST of the number's candidate time zones as
libphonenumber lists them (alphabetical order, e.g. ``America/Denver`` before
``America/North_Dakota/Center``); numbers without a zone use UTC (:func:`feature_zone`). The
rules engine checks every zone; a feature needs one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.definitions import encode_categorical
from features.pseudonyms import is_pseudonym, pseudonym_table

#: Above this many distinct numbers, :func:`features.phone.normalize_many` (no cache) is used;
#: below it the lru-cached :func:`features.phone.normalize` (the service sees the same
#: numbers again and again).
_CACHED_NORMALISE_LIMIT = 20_000


def feature_zone(time_zones: tuple[str, ...]) -> str:
    """The time zone the features read a number's local time in."""
    return time_zones[0] if time_zones else "UTC"


@dataclass(frozen=True)
class NumberTable:
    """Per-row number facts: history key code, region/line-type codes, time-zone index."""

    key_code: np.ndarray  # int64 per row; same code = same history (E.164, raw if invalid)
    keys: pd.Index  # history key per code
    raw_index: pd.Index  # distinct raw numbers seen
    key_of_raw: np.ndarray  # int64 history key code per distinct raw number
    region_code: np.ndarray  # int16 per row
    line_type_code: np.ndarray  # int16 per row
    zone_code: np.ndarray  # int32 per row, index into zones
    zones: tuple[str, ...]
    raw_code: np.ndarray  # int64 per row, index into raw_index
    raw_region: np.ndarray  # object per distinct raw number: ISO 3166-1 or None

    def codes_of(self, numbers: pd.Series) -> np.ndarray:
        """History key codes of other numbers (e.g. consent rows); -1 if never seen here."""
        raw_codes, raw_uniques = pd.factorize(numbers)
        known = self.raw_index.get_indexer(raw_uniques)
        key_of_unique = np.where(known >= 0, self.key_of_raw[np.maximum(known, 0)], -1)
        unseen = np.flatnonzero(known < 0)
        if len(unseen):  # another spelling of a number we know? compare E.164
            other = _normalised(raw_uniques.to_numpy(dtype=object)[unseen])
            e164 = np.where(other["valid"].to_numpy(dtype=bool), other["e164"], None)
            key_of_unique[unseen] = self.keys.get_indexer(pd.Index(e164, dtype=object))
        return np.where(raw_codes >= 0, key_of_unique[raw_codes], -1).astype(np.int64)


def _normalised(raw: np.ndarray) -> pd.DataFrame:
    """Normalise distinct numbers: cached per number for small sets (the service sees the
    same numbers again and again), vectorised and uncached for large ones."""
    from features.phone import normalize, normalize_many

    if len(raw) > _CACHED_NORMALISE_LIMIT:
        return normalize_many(raw)
    records = [normalize(v) for v in raw]
    return pd.DataFrame(
        {
            "e164": pd.Series([r.e164 for r in records], dtype=object),
            "valid": pd.Series([r.valid for r in records], dtype=bool),
            "region": pd.Series([r.region for r in records], dtype=object),
            "line_type": pd.Series([r.line_type for r in records], dtype=object),
            "time_zones": pd.Series([r.time_zones for r in records], dtype=object),
        }
    )


def number_table(numbers: pd.Series, facts: pd.DataFrame | None = None) -> NumberTable:
    """Normalise each distinct number once and spread the facts over the rows.

    ``facts``: rows aligned with ``numbers`` holding the number-fact columns of a
    pseudonymised export (:data:`features.pseudonyms.PSEUDONYM_FACTS`), read for the
    ``pseudo:…`` numbers only; a pseudonym without them is a ValueError naming the row."""
    raw_codes, raw_uniques = pd.factorize(numbers)
    if len(raw_codes) and raw_codes.min() < 0:
        row = int(np.flatnonzero(raw_codes < 0)[0]) + 1
        raise ValueError(f"events row {row}: number is required")
    raw = raw_uniques.to_numpy(dtype=object)
    pseudo = is_pseudonym(pd.Series(raw, dtype=object))
    if pseudo.any():
        first_row = np.unique(raw_codes, return_index=True)[1]  # codes are 0..len(raw)-1
        table = pd.concat(
            [
                _normalised(raw[~pseudo]).set_axis(np.flatnonzero(~pseudo)),
                pseudonym_table(raw[pseudo], first_row[pseudo], facts).set_axis(
                    np.flatnonzero(pseudo)
                ),
            ]
        ).sort_index()
    else:
        table = _normalised(raw)
    valid = table["valid"].to_numpy(dtype=bool)
    key = np.where(valid, table["e164"].to_numpy(dtype=object), raw)
    key_of_raw, keys = pd.factorize(key)
    zones_of_raw = table["time_zones"].to_numpy(dtype=object)
    zone_codes_of_tuple, zone_tuples = pd.factorize(zones_of_raw)  # few distinct tuples
    first_zone = [feature_zone(z) for z in zone_tuples]
    zone_of_tuple, zones = pd.factorize(np.asarray(first_zone, dtype=object))
    zone_of_raw = zone_of_tuple[zone_codes_of_tuple]
    region_of_raw = table["region"].to_numpy(dtype=object)
    region_codes = encode_categorical("region", pd.Series(region_of_raw, dtype=object))
    line_codes = encode_categorical("line_type", table["line_type"].astype(object))
    return NumberTable(
        key_code=key_of_raw.astype(np.int64)[raw_codes],
        keys=pd.Index(keys, dtype=object),
        raw_index=pd.Index(raw, dtype=object),
        key_of_raw=key_of_raw.astype(np.int64),
        region_code=region_codes[raw_codes],
        line_type_code=line_codes[raw_codes],
        zone_code=zone_of_raw.astype(np.int32)[raw_codes],
        zones=tuple(str(z) for z in zones),
        raw_code=raw_codes.astype(np.int64),
        raw_region=region_of_raw,
    )
