"""Batch screening on a Dask cluster (``contactgate screen FILE --engine dask``).

The local two passes of :mod:`serving.pipeline.batch`, with the work of each pass spread over
partitions of the file:

1. the client plans partitions from the file's metadata only (Parquet row groups, CSV byte
   ranges ending at a newline) and submits one task per partition. A worker reads its
   partition itself (every column as text), screens it chunk by chunk with
   :func:`~serving.pipeline.batch.screen_chunk` — the local command's code — against the
   shared store with the model and rules it loaded once per process, writes the decisions
   to ``RUN_DIR/pass1-NNNNN.parquet`` and returns only its row count and the (row, risk,
   p_complaint) of its allowed rows;
2. the client numbers the rows (partition row counts, in file order), ranks the allowed
   rows and applies the campaign budget with the local command's function;
3. one task per partition fills rank and ``BUDGET_EXHAUSTED`` into its decisions, appends
   them to the audit log and writes ``RUN_DIR/final-NNNNN.parquet``; the client streams
   those files, in order, into the output.

A worker that dies loses its tasks; the scheduler runs them again elsewhere. Every file is
written under a temporary name and renamed, and every audit row carries the key run id +
file row (the store skips a key it holds), so a partition run twice leaves one set of
files and one audit row per contact. The client holds one partition's decisions at a time
plus 24 bytes per allowed row (and the budget's rank of each) — never the file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import threading
import time
import uuid
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.pipeline.batch import (
    DEFAULT_CHUNK,
    BadRow,
    DecisionsWriter,
    _select,
    apply_budget,
    audit_decisions,
    decisions_schema,
    first_row_of,
    is_parquet,
    parquet_files,
    screen_chunk,
    write_rejects,
)

#: Rows per partition (one task of each pass); the client holds one partition's decisions.
DEFAULT_PARTITION_ROWS = 100_000
#: The number whose keyed hash the client and each worker compare: the same keys, or no run.
_KEY_PROBE = "+12015550123"


class ClusterRefused(ValueError):
    """The run cannot be done on this cluster (the message says why and what to do)."""


@dataclass(frozen=True)
class Partition:
    """A slice of the campaign file a worker reads by itself."""

    index: int
    path: str
    kind: str  # "csv" | "parquet"
    offset: int = 0  # csv: byte range [offset, offset + length), aligned to newlines
    length: int = 0
    header: bytes = b""  # csv: the header line, put before every block but the first
    row_groups: tuple[int, ...] = ()  # parquet: the row groups of ``path``


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
    thresholds: Any  # Policy with the thresholds only (the budget is the client's)
    chunk_size: int
    default_region: str | None
    audit: bool
    worker: WorkerSpec


# ----------------------------------------------------------------------------- planning
def plan_partitions(path: Path, partition_rows: int = DEFAULT_PARTITION_ROWS) -> list[Partition]:
    """Partitions of a CSV file, a Parquet file or a folder of Parquet files, from metadata
    (and, for a CSV, the first megabyte to estimate the bytes of a row)."""
    path = path.resolve()
    if is_parquet(path):
        return _parquet_partitions(path, partition_rows)
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(1 << 20)
    header = sample.split(b"\n", 1)[0] + b"\n"
    lines = max(sample.count(b"\n") - 1, 1)
    per_row = max((len(sample) - len(header)) / lines, 1.0)
    block = max(int(per_row * partition_rows), 1024)
    return [
        Partition(i, str(path), "csv", offset, min(block, size - offset), header)
        for i, offset in enumerate(range(0, max(size, 1), block))
    ]


def _parquet_partitions(path: Path, partition_rows: int) -> list[Partition]:
    import pyarrow.parquet as pq

    out: list[Partition] = []
    for file in parquet_files(path):
        meta = pq.ParquetFile(file).metadata
        groups: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            groups.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= partition_rows:
                out.append(Partition(len(out), str(file), "parquet", row_groups=tuple(groups)))
                groups, rows = [], 0
        if groups:
            out.append(Partition(len(out), str(file), "parquet", row_groups=tuple(groups)))
    return out


def read_partition(part: Partition) -> Any:
    """The rows of a partition as a DataFrame, read as the local command reads them (CSV:
    every column as text; Parquet: as stored, then validated by the contract)."""
    import io

    import pandas as pd

    if part.kind == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(part.path).read_row_groups(list(part.row_groups)).to_pandas()
    from fsspec.utils import read_block

    with open(part.path, "rb") as handle:
        block = read_block(handle, part.offset, part.length, delimiter=b"\n")
    if part.offset == 0:
        data = block
    elif not block:
        return pd.DataFrame()
    else:
        data = part.header + block
    if not data.strip():
        return pd.DataFrame()
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


# ----------------------------------------------------------------------------- workers
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

    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    pq.write_table(table, temp)
    os.replace(temp, path)


def pass1_path(run_dir: str, index: int) -> Path:
    return Path(run_dir) / f"pass1-{index:05d}.parquet"


def final_path(run_dir: str, index: int) -> Path:
    return Path(run_dir) / f"final-{index:05d}.parquet"


def screen_partition(part: Partition, run: RunSpec) -> dict[str, Any]:
    """First pass over one partition (on a worker). Rows are numbered from 0 within the
    partition; the client knows where the partition starts once every count is in."""
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
    resources = screener.resources
    return {
        "index": part.index,
        "rows": len(frame),
        "allowed_rows": np.concatenate(rows) if rows else np.zeros(0, np.int64),
        "allowed_risk": np.concatenate(risk) if risk else np.zeros(0),
        "allowed_pc": np.concatenate(pc) if pc else np.zeros(0),
        "rejects": rejects,
        "model": model,
        "rules": rules,
        "model_ref": resources.model_ref().model_dump(),
        "rules_version": resources.rules_version,
        "problems": resources.problems(),
        "errors": dict(resources.errors),
        "seconds": time.perf_counter() - began,
    }


def finish_partition(
    index: int, first_row: int, rank: dict[int, int], withheld: dict[int, str], run: RunSpec
) -> dict[str, Any]:
    """Second pass over one partition (on a worker): file rows, rank and budget from the
    client, audit rows (keyed: a retry adds none), the final decisions file."""
    import pyarrow.parquet as pq

    from serving.domain.decision import Allocation, Tally

    began = time.perf_counter()
    tally = Tally()
    frame = pq.read_table(pass1_path(run.run_dir, index)).to_pandas()
    frame["row"] = frame["row"] + first_row
    frame = apply_budget(frame, Allocation(rank=rank, withheld=withheld), tally)
    store = worker_screener(run.worker).resources.store
    if run.audit and store is not None and len(frame):
        audit_decisions(store, frame, run.run_id)
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, schema=decisions_schema(), preserve_index=False)
    _write_atomic(table, final_path(run.run_dir, index))
    return {
        "decisions": dict(tally.decisions),
        "reasons": dict(tally.reasons),
        "seconds": time.perf_counter() - began,
    }


# ----------------------------------------------------------------------------- the client
@dataclass
class _Collected:
    counts: dict[int, int] = field(default_factory=dict)
    rows: dict[int, Any] = field(default_factory=dict)
    risk: dict[int, Any] = field(default_factory=dict)
    pc: dict[int, Any] = field(default_factory=dict)
    rejects: dict[int, list[tuple[int, str]]] = field(default_factory=dict)
    first: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    models: set[str] = field(default_factory=set)
    #: seconds: each first-pass task, each second-pass task, and the client's phases
    pass1_s: list[float] = field(default_factory=list)
    pass2_s: list[float] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)


def _this_machine(host: str) -> bool:
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        if host == "localhost":
            return True
    try:
        own = {a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None)}
    except OSError:
        own = set()
    return host in own


def refuse_sqlite_across_machines(client: Any, url: str) -> None:
    """A SQLite store is a file on one machine: only workers on this machine may share it."""
    from urllib.parse import urlparse

    from sqlalchemy.engine import make_url

    if make_url(url).get_backend_name() != "sqlite":
        return
    hosts = {urlparse(addr).hostname or "" for addr in client.scheduler_info()["workers"]}
    away = sorted(h for h in hosts if not _this_machine(h))
    if away:
        raise ClusterRefused(
            f"the store is a SQLite file ({url}) and workers run on other machines "
            f"({', '.join(away)}): a SQLite file cannot be shared between hosts; use "
            "PostgreSQL (CONTACTGATE_DB_URL=postgresql+psycopg://…) for a cluster"
        )


def champion_version(tracking_uri: str | None) -> str | None:
    """The version the champion alias points at (None: none, or no registry). Run on a
    worker: the client need not import MLflow."""
    from training.tracking import alias_version, default_tracking_uri

    try:
        return alias_version("contact-risk", "champion", uri=tracking_uri or default_tracking_uri())
    except Exception:  # no registry: the workers fail closed on the model
        return None


def worker_spec(client: Any, db_url: str | None, tracking_uri: str | None) -> WorkerSpec:
    """What the workers must open: the client's store (its id), keys and champion."""
    from serving.store import NumberCrypto, Store, default_url

    url = db_url or default_url()
    store_id = None
    try:
        store = Store.open(url, create=False)
    except Exception:  # the workers find the same: every contact withheld (fail closed)
        store = None
    if store is not None:
        store_id = store.store_id
        store.close()
    version = client.submit(champion_version, tracking_uri, pure=False).result()
    probe = NumberCrypto.from_env().number_hash(_KEY_PROBE).hex()
    return WorkerSpec(db_url, tracking_uri, version, store_id, probe)


def screen_file_on_cluster(
    path: Path,
    output: Path,
    policy: Any,
    client: Any,
    *,
    chunk_size: int = DEFAULT_CHUNK,
    partition_rows: int = DEFAULT_PARTITION_ROWS,
    default_at: dt.datetime | None = None,
    skip_invalid: bool = False,
    audit: bool = True,
    progress: Callable[[int], None] | None = None,
    default_region: str | None = None,
    db_url: str | None = None,
    tracking_uri: str | None = None,
    run_dir: Path | None = None,
) -> dict[str, Any]:
    """:func:`serving.pipeline.batch.screen_file` on the workers of ``client`` (a
    ``distributed.Client``); the same decisions, ranks, budget and summary. ``run_dir``: a
    folder every worker and the client can reach (default: beside the output). ``output``
    without a suffix: a Parquet dataset folder (:func:`is_dataset`)."""
    from distributed import as_completed

    from serving.domain.decision import Policy
    from serving.store import default_url

    url = db_url or default_url()
    if is_dataset(output) and output.exists():
        raise ClusterRefused(f"{output}: already exists; give a new folder for the dataset")
    refuse_sqlite_across_machines(client, url)
    run_id = uuid.uuid4().hex
    base = (run_dir or output.parent).resolve()
    folder = base / f".{output.name}.{run_id[:8]}.run"
    worker = worker_spec(client, db_url, tracking_uri)
    folder.mkdir(parents=True, exist_ok=False)
    run = RunSpec(
        run_id=run_id,
        run_dir=str(folder),
        now=default_at or dt.datetime.now(dt.UTC),
        thresholds=Policy(review_above=policy.review_above, withhold_above=policy.withhold_above),
        chunk_size=chunk_size,
        default_region=default_region,
        audit=audit,
        worker=worker,
    )
    began = time.perf_counter()
    parts = plan_partitions(path, partition_rows)
    got = _Collected()
    submitted: list[Any] = []  # cancelled if the run fails: no task left writing
    try:
        futures = [
            client.submit(screen_partition, p, run, key=f"screen-1-{run_id}-{p.index}", pure=False)
            for p in parts
        ]
        submitted.extend(futures)
        for future in as_completed(futures):
            res = future.result()
            future.release()
            i = res["index"]
            got.counts[i] = res["rows"]
            got.rows[i], got.risk[i], got.pc[i] = (
                res["allowed_rows"], res["allowed_risk"], res["allowed_pc"],
            )  # fmt: skip
            got.rejects[i] = res["rejects"]
            if res["model"]:
                got.models.add(str(res["model"]))
            if not got.first or (not got.first["model_ref"].get("version")):
                got.first = {k: res[k] for k in ("model_ref", "rules_version")}
            got.problems.extend(p for p in res["problems"] if p not in got.problems)
            got.errors.update(res["errors"])
            got.pass1_s.append(res["seconds"])
            if progress is not None:
                progress(res["rows"])
        got.phases["first pass"] = time.perf_counter() - began
        summary = _finish(path, output, policy, client, parts, run, got, skip_invalid, submitted)
    except BaseException:
        client.cancel(submitted)
        raise
    finally:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    return summary | {
        "model": got.first.get("model_ref") or {},
        "rules_version": got.first.get("rules_version"),
        "problems": got.problems,
        "errors": got.errors,
        "partitions": len(parts),
        "timing": {
            "first_pass_task_s": sorted(got.pass1_s),
            "second_pass_task_s": sorted(got.pass2_s),
            "phases_s": got.phases,
        },
    }


def _finish(
    path: Path,
    output: Path,
    policy: Any,
    client: Any,
    parts: list[Partition],
    run: RunSpec,
    got: _Collected,
    skip_invalid: bool,
    submitted: list[Any],
) -> dict[str, Any]:
    """Number the rows, apply the budget, run the second pass, write the output."""
    import numpy as np
    import pyarrow.parquet as pq

    from serving.domain.decision import Tally

    began = time.perf_counter()
    starts: list[int] = []
    row = first_row_of(path)
    for p in parts:
        starts.append(row)
        row += got.counts[p.index]
    rejects = [(starts[i] + r, e) for i in range(len(parts)) for r, e in got.rejects[i]]
    if rejects and not skip_invalid:
        first = min(rejects)
        raise BadRow(f"{path}: row {first[0]}: {first[1]}")
    budget = _select(
        np.concatenate([got.rows[i] + starts[i] for i in range(len(parts))] or [np.zeros(0, int)]),
        np.concatenate([got.risk[i] for i in range(len(parts))] or [np.zeros(0)]),
        np.concatenate([got.pc[i] for i in range(len(parts))] or [np.zeros(0)]),
        policy,
    )
    got.rows.clear(), got.risk.clear(), got.pc.clear()
    ranks: list[dict[int, int]] = [{} for _ in parts]
    held: list[dict[int, str]] = [{} for _ in parts]
    for r, k in budget.rank.items():
        ranks[bisect_right(starts, r) - 1][r] = k
    for r, why in budget.withheld.items():
        held[bisect_right(starts, r) - 1][r] = why
    expected = budget.expected_complaints
    del budget
    futures = [
        client.submit(
            finish_partition,
            p.index,
            starts[p.index],
            ranks[p.index],
            held[p.index],
            run,
            key=f"screen-2-{run.run_id}-{p.index}",
            pure=False,
        )  # fmt: skip
        for p in parts
    ]
    submitted.extend(futures)
    del ranks, held
    got.phases["rank and budget"] = time.perf_counter() - began
    began = time.perf_counter()
    tally = Tally()
    for done in client.gather(futures):
        tally.decisions.update(done["decisions"])
        tally.reasons.update(done["reasons"])
        got.pass2_s.append(done["seconds"])
    got.phases["second pass"] = time.perf_counter() - began
    began = time.perf_counter()
    if is_dataset(output):
        publish_dataset(run.run_dir, [p.index for p in parts], output)
        got.phases["output"] = time.perf_counter() - began
        return tally.summary(expected) | write_rejects(rejects, output)
    writer = DecisionsWriter(output)
    try:
        for p in parts:
            frame = pq.read_table(final_path(run.run_dir, p.index)).to_pandas()
            frame["rank"] = frame["rank"].astype("Int64")
            writer.write(frame)
        writer.commit()
    finally:
        writer.discard()
    got.phases["output"] = time.perf_counter() - began
    return tally.summary(expected) | write_rejects(rejects, output)


def is_dataset(output: Path) -> bool:
    """An output without a suffix is a Parquet dataset: a folder of one file per partition,
    written by the workers (no single writer on the client)."""
    return output.suffix == ""


def publish_dataset(run_dir: str, indices: list[int], output: Path) -> None:
    """Move the partitions' final files into ``output`` (``part-NNNNN.parquet``, in file
    order): gathered in a temporary sibling folder, renamed into place at once."""
    import shutil

    temp = output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")
    temp.mkdir(parents=True)
    try:
        for i in indices:
            shutil.move(final_path(run_dir, i), temp / f"part-{i:05d}.parquet")
        os.replace(temp, output)
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def connect(scheduler: str | None, workers: int = 2) -> tuple[Any, Any]:
    """(client, own local cluster or None): the scheduler at ``scheduler``, or a cluster of
    ``workers`` single-threaded processes on this machine."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
    return Client(cluster), cluster
