"""What runs on the workers: each process's screener (loaded once, checked against the
client's store, keys and champion), the first pass over a partition and the second."""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.pipeline.batch import apply_budget, audit_decisions, decisions_schema, screen_chunk
from serving.pipeline.cluster.budget import SAMPLE_SIZE, partition_allocation, write_allowed
from serving.pipeline.cluster.plan import (
    Partition,
    read_partition,
    replace_atomically,
    run_file,
)

#: The number whose keyed hash the client and each worker compare: the same keys, or no run.
_KEY_PROBE = "+12015550123"


class ClusterRefused(ValueError):
    """The run cannot be done on this cluster (the message says why and what to do)."""


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker opens, and what it checks it opened: the client's store and keys."""

    db_url: str | None
    tracking_uri: str | None
    model_version: str | None  # the champion when the run started
    store_id: str | None
    key_probe: str | None  # keyed hash of _KEY_PROBE under the client's key (hex)


@dataclass(frozen=True)
class RunSpec:
    """One run: where its files go and how its rows are decided."""

    run_id: str
    run_dir: str
    now: dt.datetime
    thresholds: Any  # Policy with the thresholds only (the budget is applied over the file)
    chunk_size: int
    default_region: str | None
    audit: bool
    worker: WorkerSpec
    sample_size: int = SAMPLE_SIZE  # keys of each partition's allowed rows sent to the client


_LOADED: dict[WorkerSpec, Any] = {}
_LOADING = threading.Lock()


def worker_screener(spec: WorkerSpec) -> Any:
    """The screener of this worker process for ``spec``: store, rule book and model loaded
    once per process (the same loading as the local command), checked against the client's
    store id, keys and champion version."""
    with _LOADING:
        screener = _LOADED.get(spec)
        if screener is None:
            from serving.pipeline.resources import load_resources
            from serving.pipeline.screen import Screener

            resources = load_resources(
                db_url=spec.db_url, tracking_uri=spec.tracking_uri, create_store=False
            )
            screener = Screener(resources, audit=False)
            release_worker_resources()  # one run's resources per process (a new champion)
            _LOADED[spec] = screener
    resources = screener.resources
    resources.ensure()
    store = resources.store
    if store is not None:
        if spec.store_id is not None and store.store_id != spec.store_id:
            raise ClusterRefused(
                f"worker {socket.gethostname()} opened store {store.safe_url} (id "
                f"{store.store_id}), not the client's (id {spec.store_id}): give the workers "
                "the client's CONTACTGATE_DB_URL"
            )
        if spec.key_probe is not None and store.number_hash(_KEY_PROBE).hex() != spec.key_probe:
            raise ClusterRefused(
                f"worker {socket.gethostname()}: CONTACTGATE_HMAC_KEY differs from the "
                "client's; start the workers with the store's keys"
            )
    model = resources.model
    if model is not None and spec.model_version and str(model.version) != spec.model_version:
        raise ClusterRefused(
            f"the champion moved during the run (version {spec.model_version} when it "
            f"started, {model.version} loaded by worker {socket.gethostname()}): run again"
        )
    return screener


def release_worker_resources() -> None:
    """Close the store this process opened for its runs and forget what it loaded (the
    caller holds ``_LOADING`` or runs no tasks)."""
    for screener in _LOADED.values():
        if screener.resources.store is not None:
            screener.resources.store.close()
    _LOADED.clear()


def _write_atomic(table: Any, path: Path) -> None:
    import pyarrow.parquet as pq

    replace_atomically(path, lambda temp: pq.write_table(table, temp))


def pass1_path(run_dir: str, index: int) -> Path:
    return run_file(run_dir, "pass1", index, ".parquet")


def final_path(run_dir: str, index: int) -> Path:
    return run_file(run_dir, "final", index, ".parquet")


def rejects_path(run_dir: str, index: int) -> Path:
    return run_file(run_dir, "rejects", index, ".parquet")


def screen_partition(part: Partition, run: RunSpec) -> dict[str, Any]:
    """First pass over one partition (on a worker). Rows are numbered from 0 within the
    partition; the client knows where the partition starts once every count is in. Writes
    the decisions, the allowed rows sorted for the budget and the rows that broke the
    contract; returns counts, the first broken row and a fixed-size sample of the allowed
    rows' order — nothing that grows with the partition."""
    import numpy as np
    import pyarrow as pa

    began = time.perf_counter()
    screener = worker_screener(run.worker)
    frame = read_partition(part)
    tables, rows, risk, pc, rejects = [], [], [], [], []
    model = rules = None
    for start in range(0, len(frame), run.chunk_size):
        chunk = frame.iloc[start : start + run.chunk_size]
        done = screen_chunk(chunk, start, screener, run.thresholds, run.now, run.default_region)
        rejects.extend(done.rejects)
        if done.table.num_rows:
            tables.append(done.table)
            rows.append(done.allowed_rows)
            risk.append(done.allowed_risk)
            pc.append(done.allowed_pc)
            model, rules = done.model, done.rules
    table = pa.concat_tables(tables) if tables else decisions_schema().empty_table()
    _write_atomic(table, pass1_path(run.run_dir, part.index))
    if rejects:
        rejected = pa.table({"row": [r for r, _ in rejects], "error": [e for _, e in rejects]})
        _write_atomic(rejected, rejects_path(run.run_dir, part.index))
    allowed = write_allowed(
        run.run_dir,
        part.index,
        np.concatenate(rows) if rows else np.zeros(0, np.int64),
        np.concatenate(risk) if risk else np.zeros(0),
        np.concatenate(pc) if pc else np.zeros(0),
        run.sample_size,
    )
    resources = screener.resources
    return allowed | {
        "index": part.index,
        "rows": len(frame),
        "rejected": len(rejects),
        "first_reject": rejects[0] if rejects else None,
        "model": model,
        "rules": rules,
        "model_ref": resources.model_ref().model_dump(),
        "rules_version": resources.rules_version,
        "problems": resources.problems(),
        "errors": dict(resources.errors),
        "seconds": time.perf_counter() - began,
    }


def finish_partition(
    index: int, first_row: int, buckets: int, policy: Any, run: RunSpec
) -> dict[str, Any]:
    """Second pass over one partition (on a worker): file rows, rank and budget from the
    buckets' files, audit rows (keyed: a retry adds none), the final decisions file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from serving.domain.decision import Tally

    began = time.perf_counter()
    tally = Tally()
    frame = pq.read_table(pass1_path(run.run_dir, index)).to_pandas()
    frame["row"] = frame["row"] + first_row
    budget = partition_allocation(run.run_dir, index, first_row, buckets, policy)
    frame = apply_budget(frame, budget, tally)
    store = worker_screener(run.worker).resources.store
    if run.audit and store is not None and len(frame):
        audit_decisions(store, frame, run.run_id)
    table = pa.Table.from_pandas(frame, schema=decisions_schema(), preserve_index=False)
    _write_atomic(table, final_path(run.run_dir, index))
    return {
        "decisions": dict(tally.decisions),
        "reasons": dict(tally.reasons),
        "seconds": time.perf_counter() - began,
    }
