"""CPU time of the decision pipeline in process, and where it goes: a table.

    .venv/bin/python benchmarks/bench_pipeline.py [--numbers 1000] [--screens 20]
        [--batch-rows 20000] [--profile DIR]

CPU time (``time.process_time``), not wall time: on a shared machine the relative figures
hold even when the wall clock does not. What it measures, on a temp SQLite store holding the
simulated history of ``--numbers`` numbers and a small model trained into a temp MLflow
store:
1. ``screen``: :meth:`Screener.screen` of 1,000 contacts (audit on), heap settled as the
   service settles it — CPU per request (mean, median, max) and the garbage collector's
   share (its own passes, timed through ``gc.callbacks``);
2. batch: :func:`serving.pipeline.batch.screen_file` on a ``--batch-rows`` CSV (audit on) —
   CPU per run, rows per CPU second, collector share.
``--profile DIR`` also writes cProfile files of both (``screen.prof``, ``batch.prof``).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


class CollectorClock:
    """CPU seconds spent inside the garbage collector's passes."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.passes = [0, 0, 0]
        self._began = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._began = time.process_time()
        else:
            self.seconds += time.process_time() - self._began
            self.passes[info["generation"]] += 1

    def reset(self) -> None:
        self.seconds, self.passes = 0.0, [0, 0, 0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1000, help="numbers with history")
    parser.add_argument("--screens", type=int, default=20, help="screen requests timed")
    parser.add_argument("--batch-rows", type=int, default=20_000, help="0 skips the batch")
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile files here")
    args = parser.parse_args()

    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from serving.domain.contract import ContactIn
    from serving.domain.decision import Policy
    from serving.pipeline import Screener, load_resources, settle_heap
    from serving.pipeline.batch import screen_file
    from serving.store import Store
    from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key
    from tests.support.models import champion_store, simulated_history

    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.environ[HMAC_ENV] = os.environ.get(HMAC_ENV) or new_key()
    os.environ[ENCRYPTION_ENV] = os.environ.get(ENCRYPTION_ENV) or new_key()
    console.print("training a small model into a temp MLflow store …")
    built = champion_store()
    numbers, records, at = simulated_history(built.sim_dir, args.numbers)
    db_url = f"sqlite:///{tmp / 'store.db'}"
    with Store.open(db_url) as store:
        store.record_events(records)
        store.import_registry("US_NATIONAL_DNC", at - dt.timedelta(days=1), ["+13055550199"])
    resources = load_resources(db_url=db_url, tracking_uri=built.tracking_uri)
    if resources.problems():
        raise SystemExit(f"not ready: {resources.problems()} {resources.errors}")
    clock = CollectorClock()
    rows: list[tuple[str, str, str, str]] = []

    # --- screen, heap settled as the service does it
    screener = Screener(resources, audit=True)
    contacts = [
        ContactIn.model_validate(
            {"number": n, "channel": "call" if i % 3 else "sms", "at": at.isoformat()}
        )
        for i, n in enumerate(numbers[:1000])
    ]
    for _ in range(2):
        screener.screen(contacts)  # warm-up: kernels, memos
    settle_heap()
    clock.reset()
    cpu = []
    for _ in range(args.screens):
        began = time.process_time()
        screener.screen(contacts)
        cpu.append(time.process_time() - began)
    total = sum(cpu)
    rows.append(
        (
            f"screen {len(contacts):,} contacts × {args.screens}",
            f"mean {statistics.mean(cpu) * 1000:.1f} ms, median {statistics.median(cpu) * 1000:.1f}, "
            f"max {max(cpu) * 1000:.1f}",
            f"{len(contacts) / statistics.mean(cpu):,.0f} contacts/CPU-s",
            f"{clock.seconds / total:.0%} ({clock.passes} passes by generation)",
        )
    )
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.screens):
            screener.screen(contacts)
        profile.disable()
        profile.dump_stats(args.profile / "screen.prof")

    # --- batch
    if args.batch_rows:
        reps = -(-args.batch_rows // len(numbers))
        frame = pd.DataFrame(
            {"number": (numbers * reps)[: args.batch_rows], "channel": "call", "at": at.isoformat()}
        )
        frame["ref"] = [f"r{i}" for i in range(len(frame))]
        campaign = tmp / "campaign.csv"
        frame.to_csv(campaign, index=False)
        batch = Screener(resources, audit=False)  # as `contactgate screen` builds it
        gc.unfreeze()  # the batch command's process: CPython's collector until screen_file
        gc.set_threshold(700, 10, 10)
        clock.reset()
        began = time.process_time()
        screen_file(campaign, tmp / "decisions.csv", batch, Policy(), audit=True)
        spent = time.process_time() - began
        rows.append(
            (
                f"batch {args.batch_rows:,} rows (audit on)",
                f"{spent:.2f} s",
                f"{args.batch_rows / spent:,.0f} rows/CPU-s",
                f"{clock.seconds / spent:.0%} ({clock.passes} passes by generation)",
            )
        )
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            screen_file(campaign, tmp / "decisions.csv", batch, Policy(), audit=True)
            profile.disable()
            profile.dump_stats(args.profile / "batch.prof")

    resources.store.close()
    table = Table(title=f"decision pipeline, CPU time in process ({os.cpu_count()} cores, shared)")
    for name in ("what", "CPU", "throughput", "garbage collector share"):
        table.add_column(name)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
