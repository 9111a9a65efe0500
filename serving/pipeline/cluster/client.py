"""The client's side of a run: checks, the tasks of both passes and of the budget, the
output. It holds scalars and a fixed-size sample per partition, a few numbers per bucket,
and one partition's decisions at a time while it writes a single output file."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pickle
import socket
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.pipeline.batch import (
    DEFAULT_CHUNK,
    BadRow,
    DecisionsWriter,
    first_row_of,
)
from serving.pipeline.cluster.budget import (
    DEFAULT_BUCKET_ROWS,
    SAMPLE_SIZE,
    bucket_bounds,
    choose_boundaries,
    gather_bucket,
    walk_bucket,
)
from serving.pipeline.cluster.plan import DEFAULT_PARTITION_ROWS, Partition, plan_partitions
from serving.pipeline.cluster.workers import (
    _KEY_PROBE,
    ClusterRefused,
    RunSpec,
    WorkerSpec,
    final_path,
    finish_partition,
    rejects_path,
    screen_partition,
)

#: Rows the client converts and writes at a time when it writes a single output file.
OUTPUT_BATCH = 10_000


def result_bytes(result: Any) -> int:
    """The size of a task's result as the client receives it (pickled)."""
    return len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))


@dataclass
class _Collected:
    counts: dict[int, int] = field(default_factory=dict)
    samples: dict[int, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[int, int] = field(default_factory=dict)
    first_reject: dict[int, tuple[int, str]] = field(default_factory=dict)
    first: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    models: set[str] = field(default_factory=set)
    #: seconds: each task of each stage, and the client's phases
    pass1_s: list[float] = field(default_factory=list)
    bucket_s: list[float] = field(default_factory=list)
    walk_s: list[float] = field(default_factory=list)
    pass2_s: list[float] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    #: the largest result the client received from a task of each stage (bytes, pickled)
    received: dict[str, int] = field(default_factory=dict)

    #: the client's peak resident memory (MB) at the end of each phase
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    def receive(self, stage: str, result: Any) -> None:
        self.received[stage] = max(self.received.get(stage, 0), result_bytes(result))

    def end_phase(self, phase: str, began: float) -> None:
        self.phases[phase] = time.perf_counter() - began
        self.peak_rss_mb[phase] = _peak_rss_mb()


def _peak_rss_mb() -> float:
    """This process's own peak resident memory so far (MB): ``VmHWM`` where the system has
    it (``ru_maxrss`` can carry over a parent's peak across ``execve``), else ``ru_maxrss``,
    else NaN."""
    import re

    try:
        status = Path("/proc/self/status").read_text()
        return round(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024, 1)
    except (OSError, AttributeError):
        pass
    try:
        import resource
    except ImportError:  # not a POSIX system
        return float("nan")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


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
    bucket_rows: int = DEFAULT_BUCKET_ROWS,
    sample_size: int = SAMPLE_SIZE,
) -> dict[str, Any]:
    """:func:`serving.pipeline.batch.screen_file` on the workers of ``client`` (a
    ``distributed.Client``); the same decisions, ranks, budget and summary. ``run_dir``: a
    folder every worker and the client can reach (default: beside the output). ``output``
    without a suffix: a Parquet dataset folder (:func:`is_dataset`). ``bucket_rows``: allowed
    rows per bucket of the rank and budget; ``sample_size``: keys of each partition's
    allowed rows the client receives to choose the buckets."""
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
        sample_size=sample_size,
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
            got.receive("first pass", res)
            i = res["index"]
            got.counts[i] = res["rows"]
            got.samples[i] = {
                k: res[k] for k in ("allowed", "sample_at", "sample_key", "sample_row")
            }
            got.rejected[i] = res["rejected"]
            if res["first_reject"] is not None:
                got.first_reject[i] = res["first_reject"]
            if res["model"]:
                got.models.add(str(res["model"]))
            if not got.first or (not got.first["model_ref"].get("version")):
                got.first = {k: res[k] for k in ("model_ref", "rules_version")}
            got.problems.extend(p for p in res["problems"] if p not in got.problems)
            got.errors.update(res["errors"])
            got.pass1_s.append(res["seconds"])
            if progress is not None:
                progress(res["rows"])
        got.end_phase("first pass", began)
        summary = _finish(
            path, output, policy, client, parts, run, got, skip_invalid, submitted, bucket_rows
        )
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
            "bucket_task_s": sorted(got.bucket_s),
            "budget_walk_task_s": sorted(got.walk_s),
            "second_pass_task_s": sorted(got.pass2_s),
            "phases_s": got.phases,
            "largest_result_bytes": got.received,
            "client_peak_rss_mb": got.peak_rss_mb,
        },
    }


def _rank_and_budget(
    client: Any, parts: list[Partition], policy: Any, run: RunSpec, got: _Collected,
    submitted: list[Any], bucket_rows: int,
) -> tuple[int, float]:  # fmt: skip
    """Buckets sorted in parallel, the budget walked through them in order (each task
    handed the running totals of the one before): (buckets, expected complaints)."""
    allowed = sum(s["allowed"] for s in got.samples.values())
    bounds = bucket_bounds(choose_boundaries(got.samples, bucket_rows), allowed)
    with_rows = [p.index for p in parts if got.samples[p.index]["allowed"]]
    got.samples.clear()
    limits = (policy.max_contacts, policy.max_expected_complaints)
    gathered, walked, before = [], [], None
    for b, (lo, hi) in enumerate(bounds):
        key = f"{run.run_id}-{b}"
        bucket = client.submit(gather_bucket, b, lo, hi, with_rows, run.run_dir,
                               key=f"screen-bucket-{key}", pure=False)  # fmt: skip
        before = client.submit(walk_bucket, b, bucket, before, limits, run.run_dir,
                               key=f"screen-budget-{key}", pure=False)  # fmt: skip
        gathered.append(bucket)
        walked.append(before)
    submitted.extend(gathered + walked)
    for res in client.gather(gathered):
        got.receive("bucket", res)
        got.bucket_s.append(res["seconds"])
    expected = 0.0
    for res in client.gather(walked):
        got.receive("budget walk", res)
        got.walk_s.append(res["seconds"])
        expected = res["expected"]
    return len(bounds), expected


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
    bucket_rows: int,
) -> dict[str, Any]:
    """Number the rows, apply the budget, run the second pass, write the output."""
    import pyarrow.parquet as pq

    from serving.domain.decision import Tally

    began = time.perf_counter()
    starts: dict[int, int] = {}
    row = first_row_of(path)
    for p in parts:
        starts[p.index] = row
        row += got.counts[p.index]
    if got.first_reject and not skip_invalid:
        first = min((starts[i] + r, e) for i, (r, e) in got.first_reject.items())
        raise BadRow(f"{path}: row {first[0]}: {first[1]}")
    buckets, expected = _rank_and_budget(client, parts, policy, run, got, submitted, bucket_rows)
    got.end_phase("rank and budget", began)
    began = time.perf_counter()
    futures = [
        client.submit(
            finish_partition,
            p.index,
            starts[p.index],
            buckets,
            policy,
            run,
            key=f"screen-2-{run.run_id}-{p.index}",
            pure=False,
        )  # fmt: skip
        for p in parts
    ]
    submitted.extend(futures)
    tally = Tally()
    for done in client.gather(futures):
        got.receive("second pass", done)
        tally.decisions.update(done["decisions"])
        tally.reasons.update(done["reasons"])
        got.pass2_s.append(done["seconds"])
    got.end_phase("second pass", began)
    began = time.perf_counter()
    rejects = _write_rejects(run, parts, starts, got, output)
    if is_dataset(output):
        publish_dataset(run.run_dir, [p.index for p in parts], output)
        got.end_phase("output", began)
        return tally.summary(expected) | rejects
    writer = DecisionsWriter(output)
    try:
        for p in parts:  # a slice of a partition at a time: the client's peak stays small
            final = pq.ParquetFile(final_path(run.run_dir, p.index))
            for batch in final.iter_batches(batch_size=OUTPUT_BATCH):
                frame = batch.to_pandas()
                frame["rank"] = frame["rank"].astype("Int64")
                writer.write(frame)
            final.close()
        writer.commit()
    finally:
        writer.discard()
    got.end_phase("output", began)
    return tally.summary(expected) | rejects


def _write_rejects(
    run: RunSpec, parts: list[Partition], starts: dict[int, int], got: _Collected, output: Path
) -> dict[str, Any]:
    """``OUTPUT.rejects.csv`` as :func:`serving.pipeline.batch.write_rejects` writes it,
    from the partitions' files one at a time (rows numbered over the file)."""
    import pyarrow.parquet as pq

    out: dict[str, Any] = {"rejected_rows": sum(got.rejected.values())}
    if not out["rejected_rows"]:
        return out
    target = output.with_name(output.name + ".rejects.csv")
    header = True
    for p in parts:
        if not got.rejected.get(p.index):
            continue
        frame = pq.read_table(rejects_path(run.run_dir, p.index)).to_pandas()
        frame["row"] = frame["row"] + starts[p.index]
        frame.to_csv(target, index=False, header=header, mode="w" if header else "a")
        header = False
    out["rejects_file"] = str(target)
    return out


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
