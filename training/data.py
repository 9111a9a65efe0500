"""Training data: events (and consent) → the point-in-time frame, and its split by time.

The frame has one row per outbound contact (``features.pointintime``). The split is by
contact instant — train / early stopping / calibration / out-of-time test — after a warm-up
(history windows still filling) and before the last 7 days (labels not yet observable).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from training.config import TrainConfig

SPLITS = ("train", "early_stopping", "calibration", "test")
#: The label horizon: a contact's outcome is known 7 days after it.
HORIZON = pd.Timedelta(days=7)


@dataclass
class TrainingData:
    frame: pd.DataFrame
    source: str
    events: int
    digest: str
    start: pd.Timestamp
    end: pd.Timestamp


def data_digest(events: pd.DataFrame) -> str:
    """Content digest of the events (ids, instants, kinds, outcomes): changes when data does."""
    cols = [c for c in ("event_id", "ts", "kind", "outcome") if c in events.columns]
    h = pd.util.hash_pandas_object(events[cols], index=False).to_numpy()
    return hashlib.sha256(h.tobytes()).hexdigest()[:16]


def _find(path: Path, stem: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        if (path / f"{stem}{suffix}").exists():
            return path / f"{stem}{suffix}"
    return None


def load_training_data(events_path: Path, progress: bool = True) -> TrainingData:
    """Events from a file or a folder holding events.* (and optionally consent.*)."""
    from features.io import load_events, load_records
    from features.pointintime import build_training_frame

    consent = None
    if events_path.is_dir():
        ev_file = _find(events_path, "events")
        if ev_file is None:
            raise FileNotFoundError(
                f"{events_path}: no events.parquet or events.csv in this folder"
            )
        cons_file = _find(events_path, "consent")
        if cons_file is not None:
            consent = load_records(cons_file, "consent").frame
    else:
        ev_file = events_path
    events = load_events(ev_file).frame
    frame = build_training_frame(events, consent, progress=progress)
    return TrainingData(
        frame=frame,
        source=str(ev_file),
        events=len(events),
        digest=data_digest(events),
        start=events["ts"].min(),
        end=events["ts"].max(),
    )


def time_split(
    frame: pd.DataFrame, cfg: TrainConfig, data_end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """Split by contact instant. Drops the warm-up (truncated history windows) and contacts whose
    7-day label window is not yet fully observed at the end of the data."""
    start = frame["ts"].min() + pd.Timedelta(days=cfg.split.warmup_days)
    usable = frame[(frame["ts"] >= start) & (frame["ts"] < data_end - HORIZON)]
    usable = usable.sort_values("ts", kind="stable")
    shares = np.cumsum([getattr(cfg.split, s) for s in SPLITS])
    cuts = [0, *(int(round(s * len(usable))) for s in shares)]
    cuts[-1] = len(usable)
    parts = {}
    for name, lo, hi in zip(SPLITS, cuts[:-1], cuts[1:], strict=True):
        parts[name] = usable.iloc[lo:hi]
    for name, part in parts.items():
        if len(part) == 0:
            raise ValueError(f"the {name} slice is empty: not enough contacts after the warm-up")
    return parts
