"""Training data: events (and consent) → the point-in-time frame, and its split by time.

The frame has one row per outbound contact (``features.pointintime``). The split is by
contact instant — train / early stopping / calibration / out-of-time test — after a warm-up
(history windows still filling) and before the last 7 days (labels not yet observable).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from training.config import TrainConfig

SPLITS = ("train", "early_stopping", "calibration", "test")
#: A frame column weighing its rows while fitting (down-sampled negatives weigh ``1 / rate``).
WEIGHT = "_weight"
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
    #: What loading the files said: rows kept and rejected, invalid numbers, notes.
    report: list[str] = field(default_factory=list)
    #: Already split (a frame dataset read in passes, :mod:`training.frame_data`): the
    #: slices, their plan, the contacts of the whole frame and what was sampled.
    parts: dict[str, pd.DataFrame] | None = None
    plan: SplitPlan | None = None
    contacts: int | None = None
    sampling: dict[str, float | int] = field(default_factory=dict)

    @property
    def contact_count(self) -> int:
        return self.contacts if self.contacts is not None else len(self.frame)


def data_digest(events: pd.DataFrame) -> str:
    """Content digest of the events (ids, instants, kinds, outcomes): changes when data does."""
    cols = [c for c in ("event_id", "ts", "kind", "outcome") if c in events.columns]
    h = pd.util.hash_pandas_object(events[cols], index=False).to_numpy()
    return hashlib.sha256(h.tobytes()).hexdigest()[:16]


def find_file(path: Path, stem: str) -> Path | None:
    """``path/stem.parquet`` or else ``path/stem.csv``, if either exists."""
    for suffix in (".parquet", ".csv"):
        if (path / f"{stem}{suffix}").exists():
            return path / f"{stem}{suffix}"
    return None


def load_training_data(
    events_path: Path,
    progress: bool = True,
    *,
    default_region: str | None = None,
    skip_invalid: bool = False,
    strict: bool = False,
    rejects_dir: Path | None = None,
) -> TrainingData:
    """Events from a file or a folder holding events.* (and optionally consent.*), loaded
    as every command loads contract files (:func:`features.io.load_records`: numbers to
    E.164 with the region column or ``default_region``). With ``skip_invalid`` the rejects
    go to ``rejects_dir`` (``<file stem>.rejects.csv``)."""
    from features.io import describe_load, load_records, write_rejects
    from features.pointintime import build_training_frame

    report: list[str] = []

    def load(path: Path, record: str) -> pd.DataFrame:
        result = load_records(
            path, record, skip_invalid=skip_invalid, default_region=default_region, strict=strict,
            pseudonyms=True,  # a pseudonymised store export trains like the original
        )  # fmt: skip
        report.extend(describe_load(result))
        if rejects_dir is not None:
            written = write_rejects(result, rejects_dir / path.name)
            if written:
                report.append(f"rejects written to {written}")
        return result.frame

    consent = None
    if events_path.is_dir():
        ev_file = find_file(events_path, "events")
        if ev_file is None:
            raise FileNotFoundError(
                f"{events_path}: no events.parquet or events.csv in this folder"
            )
        cons_file = find_file(events_path, "consent")
        if cons_file is not None:
            consent = load(cons_file, "consent")
    else:
        ev_file = events_path
    events = load(ev_file, "events")
    if events.empty:
        raise ValueError(f"{ev_file.name}: no valid events to train on")
    frame = build_training_frame(events, consent, progress=progress)
    return TrainingData(
        frame=frame,
        source=str(ev_file),
        events=len(events),
        digest=data_digest(events),
        start=events["ts"].min(),
        end=events["ts"].max(),
        report=report,
    )


#: The warm-up never takes more than this share of the history (short histories keep most
#: of their contacts; the configured warm-up applies from 5 × its length on).
MAX_WARMUP_SHARE = 1 / 5


@dataclass(frozen=True)
class SplitPlan:
    """How the contacts were split: the warm-up used, the label cut, rows and positives per
    slice. ``describe()`` is what ``train`` prints; the model card and MLflow carry it too."""

    warmup_days: int
    configured_warmup_days: int
    history_days: float
    excluded_warmup: int
    excluded_unlabelled: int
    slices: dict[str, dict[str, object]]

    def describe(self) -> list[str]:
        shortened = (
            f" (shortened from {self.configured_warmup_days}: the history covers "
            f"{self.history_days:.0f} days)"
            if self.warmup_days < self.configured_warmup_days
            else ""
        )
        lines = [
            f"split by contact time: warm-up {self.warmup_days} days{shortened} "
            f"({self.excluded_warmup:,} contacts), last {HORIZON.days} days unlabelled "
            f"({self.excluded_unlabelled:,} contacts)"
        ]
        for name, s in self.slices.items():
            positives = ", ".join(f"{t} {n:,}" for t, n in s["positives"].items())
            lines.append(
                f"  {name:<15} {s['rows']:>9,} contacts  {s['start'][:10]} → {s['end'][:10]}  "
                f"positives: {positives}"
            )
        return lines


class TooFewPositives(ValueError):
    """A slice holds fewer positives of a target than training needs to be honest."""


def time_split(
    frame: pd.DataFrame, cfg: TrainConfig, data_end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """Split by contact instant. Drops the warm-up (truncated history windows) and contacts whose
    7-day label window is not yet fully observed at the end of the data."""
    return plan_split(frame, cfg, data_end)[0]


def plan_split(
    frame: pd.DataFrame, cfg: TrainConfig, data_end: pd.Timestamp
) -> tuple[dict[str, pd.DataFrame], SplitPlan]:
    """:func:`time_split` and its :class:`SplitPlan`. The warm-up adapts to short histories:
    at most :data:`MAX_WARMUP_SHARE` of the days between the first contact and the label cut."""
    from features.definitions import TARGETS

    first = frame["ts"].min()
    label_cut = data_end - HORIZON
    history_days = max((label_cut - first) / pd.Timedelta(days=1), 0.0) if len(frame) else 0.0
    warmup_days = min(cfg.split.warmup_days, int(history_days * MAX_WARMUP_SHARE))
    start = first + pd.Timedelta(days=warmup_days)
    in_warmup = frame["ts"] < start
    unlabelled = frame["ts"] >= label_cut
    usable = frame[~in_warmup & ~unlabelled].sort_values("ts", kind="stable")
    shares = np.cumsum([getattr(cfg.split, s) for s in SPLITS])
    cuts = [0, *(int(round(s * len(usable))) for s in shares)]
    cuts[-1] = len(usable)
    parts = {}
    for name, lo, hi in zip(SPLITS, cuts[:-1], cuts[1:], strict=True):
        parts[name] = usable.iloc[lo:hi]
    for name, part in parts.items():
        if len(part) == 0:
            raise ValueError(
                f"the {name} slice is empty: {len(usable):,} contacts remain after a "
                f"{warmup_days}-day warm-up and the last {HORIZON.days} days (labels not yet "
                f"known) of {len(frame):,}; give more history"
            )
    slices = {
        name: {
            "start": str(part["ts"].min()),
            "end": str(part["ts"].max()),
            "rows": len(part),
            "positives": {t: int(part[t].sum()) for t in TARGETS if t in part.columns},
        }
        for name, part in parts.items()
    }
    plan = SplitPlan(
        warmup_days=warmup_days,
        configured_warmup_days=cfg.split.warmup_days,
        history_days=history_days,
        excluded_warmup=int((in_warmup & ~unlabelled).sum()),
        excluded_unlabelled=int(unlabelled.sum()),
        slices=slices,
    )
    return parts, plan


def check_positives(plan: SplitPlan, minimum: int, *, allow_small: bool = False) -> list[str]:
    """Stop when a slice holds fewer than ``minimum`` positives of a target (fewer than 2
    with ``allow_small``: a slice without both classes cannot be fitted, calibrated or
    scored at all). Returns warnings for the slices below ``minimum`` that ``allow_small``
    let through."""
    needed = 2 if allow_small else minimum
    short = [
        (name, target, n, s["rows"])
        for name, s in plan.slices.items()
        for target, n in s["positives"].items()
        if n < minimum
    ]
    blocking = [x for x in short if x[2] < needed]
    listing = "; ".join(
        f"{target} in the {name} slice: {n} positive(s) among {rows:,} contacts"
        for name, target, n, rows in short
    )
    if blocking:
        name, target, n, rows = blocking[0]
        raise TooFewPositives(
            f"too few positives to train and evaluate honestly: {listing} "
            f"(minimum {minimum} per target and slice, config min_positives). "
            "Give more history (more numbers or months), a shorter warm-up "
            "(split.warmup_days in --config), wider slices (split shares), or --allow-small "
            "to train anyway with noisy results"
            + (" (which still needs 2 per slice)" if allow_small else "")
            + "."
        )
    if short:
        return [f"WARNING: below min_positives ({minimum}), trained anyway: {listing}"]
    return []


def scaled_lightgbm(cfg: TrainConfig, train_rows: int) -> tuple[TrainConfig, list[str]]:
    """Model settings that scale with the data unless the config sets them:
    ``min_child_samples`` is 1 % of the training rows, between 20 and the default (200)."""
    lgb = cfg.lightgbm
    if "min_child_samples" in lgb.model_fields_set:
        return cfg, []
    default = lgb.min_child_samples
    scaled = int(min(default, max(20, train_rows // 100)))
    if scaled == default:
        return cfg, []
    updated = lgb.model_copy(update={"min_child_samples": scaled})
    note = f"min_child_samples {scaled} (scaled to {train_rows:,} training contacts; default {default})"
    return cfg.model_copy(update={"lightgbm": updated}), [note]
