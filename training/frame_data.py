"""Training data from a frame dataset that may not fit in memory (``contactgate train --frame``).

A frame written by ``contactgate features`` (one Parquet file, or a dataset folder of
``part-NNNNN.parquet`` files from either engine) is read twice, in Parquet record batches:

1. a cheap pass over ``ts`` and the two targets (~50 bytes a contact) splits the contacts by
   time with the one split rule (:func:`training.data.plan_split`: warm-up, label cut,
   train / early stopping / calibration / test) and decides which rows to keep;
2. a second pass keeps those rows' features, targets and (simulated data) reference
   probabilities — nothing else (no numbers, no event ids).

What is kept (``sampling`` in the training config): in the train and early-stopping slices
every positive of either target and a random share ``r`` of the negatives, each kept negative
weighing ``1 / r`` (so the booster sees the base rate it would see on all rows); the
calibration and test slices are never stratified — above ``max_eval_rows`` each is a uniform
random sample, which keeps its base rate — so the calibrator maps the booster's scores to
probabilities of the real population and the ECE is measured on it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from features.definitions import CEILING_COLUMNS, FEATURE_NAMES, ORACLE_COLUMNS, TARGETS
from training.config import TrainConfig
from training.data import SPLITS, WEIGHT, TrainingData, plan_split

_BATCH_ROWS = 262_144
#: Slices whose negatives are down-sampled (with weights); the others are not stratified.
SAMPLED_SLICES = ("train", "early_stopping")


def _batches(files: list[str], columns: list[str]):
    """Record batches of every file in order, with only ``columns``."""
    import fsspec
    import pyarrow.parquet as pq

    for url in files:
        with fsspec.open(url, "rb") as handle:
            parquet = pq.ParquetFile(handle)
            present = [c for c in columns if c in parquet.schema_arrow.names]
            missing = [c for c in columns if c not in present and c in ("ts", *TARGETS)]
            if missing:
                raise ValueError(
                    f"{url}: not a training frame (no column {', '.join(missing)}); "
                    "write one with contactgate features"
                )
            yield from parquet.iter_batches(batch_size=_BATCH_ROWS, columns=present)


def negative_rate(cfg: TrainConfig, positives: int, negatives: int) -> float:
    """The configured rate, else 1 when the train + early-stopping rows fit the budget,
    else the rate that fills it with every positive and a share of the negatives."""
    if cfg.sampling.negative_rate is not None:
        return cfg.sampling.negative_rate
    room = cfg.sampling.max_train_rows - positives
    if negatives <= room:
        return 1.0
    if room <= 0:
        raise ValueError(
            f"{positives:,} positives in the train and early-stopping slices exceed "
            f"sampling.max_train_rows ({cfg.sampling.max_train_rows:,}); raise it"
        )
    return room / negatives


def load_frame_data(path: str | Path, cfg: TrainConfig, *, progress: bool = True) -> TrainingData:
    """The split and sampled training data of a frame file or dataset folder (see the
    module's description). ``TrainingData.parts`` holds the slices, ``sampling`` what was
    kept."""
    from rich.progress import Progress

    from features.distributed import frame_files

    files = frame_files(path)
    # pass 1: instants and targets
    ts_parts, target_parts = [], {t: [] for t in TARGETS}
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("reading ts and targets", total=None)
        for batch in _batches(files, ["ts", *TARGETS]):
            ts_parts.append(batch.column("ts").to_numpy())
            for t in TARGETS:
                target_parts[t].append(batch.column(t).to_numpy(zero_copy_only=False))
            bar.advance(task, batch.num_rows)
    if not ts_parts or not sum(len(p) for p in ts_parts):
        raise ValueError(f"{path}: the training frame has no contacts")
    ts = pd.to_datetime(np.concatenate(ts_parts), utc=True)
    index = pd.DataFrame({"ts": ts, **{t: np.concatenate(target_parts[t]) for t in TARGETS}})
    del ts_parts, target_parts
    start, end = index["ts"].min(), index["ts"].max()
    parts_idx, plan = plan_split(index, cfg, end)
    code = np.full(len(index), -1, dtype=np.int8)
    for k, name in enumerate(SPLITS):
        code[parts_idx[name].index.to_numpy()] = k
    positive = np.zeros(len(index), dtype=bool)
    for t in TARGETS:
        positive |= index[t].to_numpy(dtype=bool)
    digest = hashlib.sha256(
        index["ts"].to_numpy("datetime64[us]").view(np.int64).tobytes() + positive.tobytes()
    ).hexdigest()[:16]
    del parts_idx

    # which rows to keep, and their weights
    sampled = np.isin(code, [SPLITS.index(s) for s in SAMPLED_SLICES])
    rate = negative_rate(cfg, int((sampled & positive).sum()), int((sampled & ~positive).sum()))
    rng = np.random.default_rng(cfg.seed)
    u = rng.random(len(index))
    keep = sampled & (positive | (u < rate))
    eval_rates = {}
    for name in SPLITS:
        if name in SAMPLED_SLICES:
            continue
        rows = code == SPLITS.index(name)
        share = min(1.0, cfg.sampling.max_eval_rows / max(int(rows.sum()), 1))
        eval_rates[name] = share
        keep |= rows & (u < share)
    weight = np.where(positive | ~sampled, 1.0, 1.0 / rate)
    contacts = len(index)
    del u, index

    # pass 2: the kept rows
    columns = ["ts", *FEATURE_NAMES, *TARGETS, *ORACLE_COLUMNS.values(), *CEILING_COLUMNS.values()]
    chunks, offset = [], 0
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("reading the kept rows", total=contacts)
        for batch in _batches(files, columns):
            rows = np.flatnonzero(keep[offset : offset + batch.num_rows])
            if len(rows):
                chunk = batch.take(rows).to_pandas()
                chunk[WEIGHT] = weight[offset + rows]
                chunk["_slice"] = code[offset + rows]
                chunks.append(chunk)
            offset += batch.num_rows
            bar.advance(task, batch.num_rows)
    if offset != contacts:
        raise ValueError(f"{path}: changed while it was read ({contacts:,} then {offset:,} rows)")
    kept = pd.concat(chunks, ignore_index=True)
    del chunks
    parts = {}
    for k, name in enumerate(SPLITS):
        part = kept[kept["_slice"] == k].drop(columns="_slice")
        parts[name] = part.sort_values("ts", kind="stable").reset_index(drop=True)
    del kept
    sampling = {
        "negative_rate": rate,
        "train_rows_kept": len(parts["train"]),
        "early_stopping_rows_kept": len(parts["early_stopping"]),
        **{f"{name}_rate": share for name, share in eval_rates.items()},
    }
    return TrainingData(
        frame=parts["test"].iloc[:0],
        source=str(path),
        events=contacts,
        digest=digest,
        start=start,
        end=end,
        report=[],
        parts=parts,
        plan=plan,
        contacts=contacts,
        sampling=sampling,
    )


def describe_sampling(sampling: dict, slices: dict) -> str:
    """One line: what was kept of each slice."""
    rate = sampling["negative_rate"]
    train = sampling["train_rows_kept"] + sampling["early_stopping_rows_kept"]
    total = slices["train"]["rows"] + slices["early_stopping"]["rows"]
    shares = {name: sampling[f"{name}_rate"] for name in SPLITS if f"{name}_rate" in sampling}
    evals = ", ".join(
        f"{name} {'all' if share >= 1 else f'uniform {share:.3g}'}"
        for name, share in shares.items()
    )
    return (
        f"negatives of train and early stopping kept at rate {rate:.3g} "
        f"(weight {1 / rate:.3g}), every positive kept: {train:,} of {total:,} rows; "
        f"not stratified: {evals}"
    )
