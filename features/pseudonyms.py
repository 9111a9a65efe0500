"""Pseudonymised numbers: the stand-in a store export writes for a number, and the number
facts written beside it (docs/data-contracts.md, "Pseudonymised exports").

``contactgate store export --pseudonymise`` replaces each number by ``pseudo:`` + the hex of
the store's keyed hash and adds :data:`PSEUDONYM_FACTS`: what the features read from a
number (its region, line type and candidate time zones). Files holding such numbers are
read for features and training (``pseudonyms=True`` in :func:`features.io.load_records`):
a pseudonym is its own history key, and its number features come from these columns
instead of libphonenumber. A store never takes them (it keeps real numbers).
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

#: Prefix of a pseudonymised number: ``pseudo:`` + hex of the store's keyed hash (HMAC-SHA256).
PSEUDONYM_PREFIX = "pseudo:"
#: Columns written beside pseudonymised numbers: what features read from a number.
PSEUDONYM_FACTS = ("number_region", "number_line_type", "number_time_zones")
_PSEUDONYM_RE = re.compile(r"^pseudo:[0-9a-f]{16,128}$")
_REGION_RE = re.compile(r"^([A-Z]{2}|001)$")


def is_pseudonym(values: pd.Series) -> np.ndarray:
    """Which values are pseudonymised numbers (start with ``pseudo:``), as a bool array."""
    text = values.astype("string")
    return text.str.startswith(PSEUDONYM_PREFIX).fillna(False).to_numpy(dtype=bool)


@functools.cache
def _known_zone(name: str) -> bool:
    from zoneinfo import ZoneInfo

    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        return False
    return True


def fact_problems(frame: pd.DataFrame, rows: np.ndarray) -> list[tuple[int, str, str, str]]:
    """Problems of the pseudonymised ``rows`` (0-based positions) of a loaded frame, as
    ``(row, field, value, message)``: the pseudonym's shape and its number facts — the
    line type is required, the region (ISO 3166-1, or ``001`` for non-geographic numbers)
    and the ``|``-separated time zones (IANA names) may be empty."""
    out: list[tuple[int, str, str, str]] = []
    missing = [name for name in PSEUDONYM_FACTS if name not in frame.columns]
    numbers = frame["number"].to_numpy(dtype=object)
    columns = {
        name: frame[name].to_numpy(dtype=object) for name in PSEUDONYM_FACTS if name not in missing
    }
    from features.definitions import LINE_TYPE_VOCABULARY as LINE_TYPES

    for i in rows:
        value = str(numbers[i])
        if not _PSEUDONYM_RE.match(value):
            out.append((i, "number", value, "is not a pseudonym (pseudo: and a hex keyed hash)"))
            continue
        if missing:
            out.append((i, missing[0], "",
                        f"is required for a pseudonymised number: the file has no "
                        f"{', '.join(missing)} column (written by store export --pseudonymise)"))  # fmt: skip
            continue
        line_type = columns["number_line_type"][i]
        if _empty(line_type):
            out.append((i, "number_line_type", "", "is required for a pseudonymised number"))
        elif line_type not in LINE_TYPES:
            out.append((i, "number_line_type", str(line_type),
                        f"is not a line type ({', '.join(LINE_TYPES)})"))  # fmt: skip
        region = columns["number_region"][i]
        if not _empty(region) and not _REGION_RE.match(str(region)):
            out.append((i, "number_region", str(region),
                        "is not an ISO 3166-1 country code such as 'US' (or 001)"))  # fmt: skip
        zones = columns["number_time_zones"][i]
        if not _empty(zones):
            bad = [z for z in str(zones).split("|") if not _known_zone(z)]
            if bad:
                out.append((i, "number_time_zones", str(zones),
                            f"names unknown time zone(s) {bad}; give IANA names separated by |"))  # fmt: skip
    return out


def _empty(value: object) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value))


def pseudonym_table(
    pseudonyms: np.ndarray, rows: np.ndarray, facts: pd.DataFrame | None
) -> pd.DataFrame:
    """Number facts of distinct ``pseudonyms`` from the ``facts`` rows at positions ``rows``
    (one row holding each), in the shape of :func:`features.phone.normalize_many`'s result
    (``e164`` = the pseudonym, ``valid``, ``region``, ``line_type``, ``time_zones``).
    Raises a ValueError naming the first row without facts."""
    missing = [n for n in PSEUDONYM_FACTS if facts is None or n not in facts.columns]
    if missing:
        raise ValueError(
            f"events row {int(rows[0]) + 1}: number {pseudonyms[0]} is pseudonymised but there "
            f"is no {', '.join(missing)} column (written by store export --pseudonymise)"
        )
    assert facts is not None
    picked = facts.iloc[rows]
    line_type = picked["number_line_type"].to_numpy(dtype=object)
    absent = np.flatnonzero([_empty(v) for v in line_type])
    if len(absent):
        row = int(rows[absent[0]]) + 1
        raise ValueError(
            f"events row {row}: number_line_type is required for a pseudonymised number"
        )
    region = [None if _empty(v) else str(v) for v in picked["number_region"].to_numpy(dtype=object)]
    zones = [
        () if _empty(v) else tuple(str(v).split("|"))
        for v in picked["number_time_zones"].to_numpy(dtype=object)
    ]
    return pd.DataFrame(
        {
            "e164": pd.Series(pseudonyms, dtype=object),
            "valid": pd.Series(np.ones(len(pseudonyms), dtype=bool)),
            "region": pd.Series(region, dtype=object),
            "line_type": pd.Series([str(v) for v in line_type], dtype=object),
            "time_zones": pd.Series(zones, dtype=object),
        }
    )
