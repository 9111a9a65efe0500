"""Reading a history folder for a backtest: the files a user exports, in the data contracts.

A folder holds ``events.<csv|parquet>`` (required) and, when the operator has them,
``consent``, ``dnc``, ``preferences`` and ``blocked_periods`` files (the contracts of
:mod:`features.schema`) and ``registries.<csv|parquet>``: one row per listing with columns
``registry``, ``snapshot_at`` and ``number`` (a snapshot that lists nobody is one row with
an empty ``number``). Invalid rows are errors naming the file, row and field
(:func:`features.io.load_records`). The registry snapshots may come from the store instead
(:func:`registries_from_store`): the snapshots it has kept over time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from features.schema import REGISTRIES
from training.data import find_file

#: Optional record files of a history folder, by contract name.
OPTIONAL_RECORDS = ("consent", "dnc", "preferences", "blocked_periods")
REGISTRY_FILE = "registries"


@dataclass
class History:
    """Everything known about the numbers, as frames in the data contracts."""

    events: pd.DataFrame
    consent: pd.DataFrame | None = None
    dnc: pd.DataFrame | None = None
    preferences: pd.DataFrame | None = None
    blocked_periods: pd.DataFrame | None = None
    registries: pd.DataFrame | None = None  # registry, snapshot_at, number (may be empty)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        """Whether the events carry the simulator's true probabilities."""
        return (
            "p_complaint_true" in self.events.columns
            and self.events["p_complaint_true"].notna().any()
        )


def load_registries(path: Path) -> pd.DataFrame:
    """``registry, snapshot_at, number`` rows; errors name the file, row and field."""
    from features.io import read_raw

    raw = read_raw(path)
    missing = [c for c in ("registry", "snapshot_at") if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name}: missing column(s) {', '.join(missing)}")
    frame = pd.DataFrame(
        {
            "registry": raw["registry"].astype("string"),
            "number": raw["number"].astype("string")
            if "number" in raw.columns
            else pd.Series(pd.NA, index=raw.index, dtype="string"),
        }
    )
    bad = ~frame["registry"].isin(REGISTRIES)
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise ValueError(
            f"{path.name}: row {row + 1}, field registry: {frame['registry'].iloc[row]!r} "
            f"is not one of {', '.join(REGISTRIES)}"
        )
    at = pd.to_datetime(raw["snapshot_at"], utc=False, errors="coerce", format="ISO8601")
    if getattr(at.dt, "tz", None) is None:
        raise ValueError(f"{path.name}: field snapshot_at: instants need an offset or Z")
    if at.isna().any():
        row = int(at.isna().to_numpy().argmax())
        raise ValueError(f"{path.name}: row {row + 1}, field snapshot_at: not an instant")
    frame["snapshot_at"] = at.dt.tz_convert("UTC")
    return frame


def registries_from_store(store: Any, numbers: Iterable[str]) -> tuple[pd.DataFrame, int]:
    """The store's registry snapshots over time as ``registry, snapshot_at, number`` rows
    (the numbers among ``numbers`` each lists; one row with an empty number per snapshot),
    and how many snapshots had been replaced. The store keeps the listings of the snapshot in
    force only: a replaced snapshot is taken to list what its registry's snapshot in force
    lists (when in doubt, listed — the replay withholds rather than allows)."""
    snapshots = store.registry_history(list(numbers))
    in_force = {registry: listed for registry, _, listed in snapshots if listed is not None}
    rows: list[tuple] = []
    replaced = 0
    for registry, at, listed in snapshots:
        if listed is None:
            replaced += 1
            listed = in_force.get(registry, frozenset())
        rows.append((registry, at, None))
        rows.extend((registry, at, number) for number in sorted(listed))
    frame = pd.DataFrame(rows, columns=["registry", "snapshot_at", "number"])
    frame["registry"] = frame["registry"].astype("string")
    frame["number"] = frame["number"].astype("string")
    frame["snapshot_at"] = pd.to_datetime(frame["snapshot_at"], utc=True)
    return frame, replaced


def load_history(folder: Path) -> History:
    """The history in ``folder`` (``events.*`` required, the other files when present)."""
    from features.io import load_events, load_records

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder (give the folder holding events.*)")
    events_file = find_file(folder, "events")
    if events_file is None:
        raise FileNotFoundError(f"{folder}: no events.parquet or events.csv in this folder")
    history = History(events=load_events(events_file).frame)
    history.sources["events"] = events_file.name
    for name in OPTIONAL_RECORDS:
        path = find_file(folder, name)
        if path is not None:
            setattr(history, name, load_records(path, name).frame)
            history.sources[name] = path.name
    path = find_file(folder, REGISTRY_FILE)
    if path is not None:
        history.registries = load_registries(path)
        history.sources[REGISTRY_FILE] = path.name
    return history
