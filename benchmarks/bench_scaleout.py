"""Batch screening on a Dask cluster: one worker against two, and the client's memory at two
file sizes. Prints a table.

    .venv/bin/python benchmarks/bench_scaleout.py [--rows 1000000] [--small-rows 250000]
        [--partition-rows 100000] [--bucket-rows 250000] [--pg-url postgresql+psycopg://…]
        [--tracking-uri URI]

What it does:
1. a store (a fresh schema of ``--pg-url``, else a temp SQLite file) gets the simulated
   history of ``--numbers`` numbers; without ``--tracking-uri`` a small model is trained
   into a temp MLflow store first;
2. campaign CSVs of ``--small-rows`` and ``--rows`` rows (numbers with history, repeated):
   service calls, every tenth a marketing call, so that most rows are allowed (every
   registry holds a current, empty snapshot) and the rank and budget see nearly the whole
   file; the policy keeps at most half of the rows (``max_contacts``) within an expected
   complaints limit (``max_expected_complaints``: 0.002 a row), so the budget withholds;
3. a real ``dask scheduler`` with 1, then 2, single-thread ``dask worker`` processes; on each,
   a 200-row warm-up run (each worker loads the store, rules and model once), then
   ``contactgate screen FILE --engine dask --scheduler ADDR --policy …`` (audit on) as a
   subprocess that reports its own peak RSS (the client alone) and the tasks' timings;
4. the table: wall time and rows/s per run, the speed-up of two workers over one (goal
   ≥ 1.6×), the client's peak RSS at both sizes (goal: independent of the file's size), and
   the per-partition costs the projection in docs/scale-out.md is computed from, and the
   rank and budget's tasks (a bucket's sort, the budget's walk through it).
Two workers share one SQLite file's single writer slot: measure with ``--pg-url``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")

from _measure import MEASURED_CLI  # noqa: E402  (benchmarks/, beside this script)


def _registries() -> list[str]:
    """Every registry a rule pack consults (each gets a current, empty snapshot, so that no
    contact of the campaign is withheld for a missing one)."""
    from serving.rules.catalogue import load_packs
    from serving.rules.schema import RegistryRule

    return sorted(
        {
            rule.registry
            for pack in load_packs()
            for rule in pack.rules
            if isinstance(rule, RegistryRule)
        }
    )


def _pg_schema(url: str) -> tuple[str, str]:
    """(URL whose search_path is a fresh schema, the schema) on the server at ``url``."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    return scoped.render_as_string(hide_password=False), schema


def _drop_schema(url: str, schema: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


def _run(campaign: Path, out: Path, address: str, env: dict, args: argparse.Namespace) -> dict:
    summary_path = out.with_suffix(".summary.json")
    policy = campaign.with_suffix(".policy.yaml")
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, "screen", str(campaign), "-o", str(out),
         "--engine", "dask", "--scheduler", address, "--no-progress", "--policy", str(policy),
         "--partition-rows", str(args.partition_rows), "--bucket-rows", str(args.bucket_rows),
         "--summary-json", str(summary_path)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=7200,
    )  # fmt: skip
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"screen failed ({done.returncode}): {done.stderr[-2000:]}")
    peak = [ln for ln in done.stderr.splitlines() if ln.startswith("PEAK_RSS_KB")]
    summary = json.loads(summary_path.read_text())
    out.unlink(missing_ok=True)
    return {
        "wall": wall,
        "peak_mb": int(peak[-1].split()[1]) / 1024 if peak else float("nan"),
        "summary": summary,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the large file")
    parser.add_argument(
        "--small-rows", type=int, default=None, help="rows of the small file (default rows/4)"
    )
    parser.add_argument("--numbers", type=int, default=2000, help="numbers with history")
    parser.add_argument("--partition-rows", type=int, default=100_000)
    parser.add_argument("--bucket-rows", type=int, default=250_000,
                        help="allowed rows per bucket of the rank and budget")  # fmt: skip
    parser.add_argument("--pg-url", default=os.environ.get("CONTACTGATE_TEST_PG_URL"),
                        help="PostgreSQL server for the store (default $CONTACTGATE_TEST_PG_URL; "
                        "none: a temp SQLite file)")  # fmt: skip
    parser.add_argument("--tracking-uri", default=None, help="MLflow store with a champion")
    args = parser.parse_args()
    small_rows = args.small_rows or max(args.rows // 4, 1)

    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from serving.store import Store
    from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key
    from tests.support.cluster import running_cluster

    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scaleout-"))
    os.environ[HMAC_ENV] = os.environ.get(HMAC_ENV) or new_key()
    os.environ[ENCRYPTION_ENV] = os.environ.get(ENCRYPTION_ENV) or new_key()
    schema = None
    if args.pg_url:
        db_url, schema = _pg_schema(args.pg_url)
    else:
        db_url = f"sqlite:///{tmp / 'store.db'}"
    if args.tracking_uri:
        from features.simulate import simulate_to_dir

        tracking_uri, sim_dir = args.tracking_uri, tmp / "sim"
        simulate_to_dir(sim_dir, numbers=args.numbers, days=100, seed=5, progress=False)
    else:
        from tests.support.models import champion_store

        console.print("training a small model into a temp MLflow store …")
        built = champion_store()
        tracking_uri, sim_dir = built.tracking_uri, built.sim_dir
    try:
        from tests.support.models import simulated_history

        numbers, records, at = simulated_history(sim_dir, args.numbers)
        store = Store.open(db_url)
        store.record_events(records)
        for registry in _registries():
            store.import_registry(registry, at - dt.timedelta(days=1), [], allow_empty=True)
        store.close()

        files = {}
        for rows in sorted({200, small_rows, args.rows}):
            path = tmp / f"campaign-{rows}.csv"
            reps = math.ceil(rows / len(numbers))
            frame = pd.DataFrame(
                {"number": (numbers * reps)[:rows], "channel": "call", "at": at.isoformat()}
            )
            frame["purpose"] = ["marketing" if i % 10 == 9 else "service" for i in range(rows)]
            frame["ref"] = [f"r{i}" for i in range(rows)]
            frame.to_csv(path, index=False)
            path.with_suffix(".policy.yaml").write_text(
                f"max_contacts: {rows // 2}\nmax_expected_complaints: {rows * 0.002:.3f}\n"
            )
            files[rows] = path
        env = os.environ | {"CONTACTGATE_DB_URL": db_url, "MLFLOW_TRACKING_URI": tracking_uri}
        os.environ.update({"CONTACTGATE_DB_URL": db_url, "MLFLOW_TRACKING_URI": tracking_uri})
        results: dict[tuple[int, int], dict] = {}
        for workers in (1, 2):
            with running_cluster(tmp / f"cluster-{workers}", workers=workers) as cluster:
                # the workers load the store, rules and model once: not part of the figures
                _run(files[200], tmp / "out.csv", cluster.address, env, args)
                results[workers, 0] = _run(
                    files[200], tmp / "out.csv", cluster.address, env, args
                )  # the fixed cost of a run: start-up, connecting, a first task
                for rows in [args.rows] if workers == 1 else sorted({small_rows, args.rows}):
                    console.print(f"{workers} worker(s), {rows:,} rows …")
                    results[workers, rows] = _run(
                        files[rows], tmp / "out.csv", cluster.address, env, args
                    )
    finally:
        if schema is not None:
            _drop_schema(args.pg_url, schema)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)

    table = Table(
        title=f"batch screening on a Dask cluster ({os.cpu_count()} cores, shared; store "
        f"{'PostgreSQL' if schema else 'SQLite'}, audit on, {args.partition_rows:,} rows a "
        "partition)"
    )
    for name in ("run", "wall", "rows/s", "client peak RSS", "per partition (median)"):
        table.add_column(name)
    for (workers, rows), got in sorted(results.items()):
        if rows == 0:
            continue
        timing = got["summary"]["timing"]
        p1 = statistics.median(timing["first_pass_task_s"])
        p2 = statistics.median(timing["second_pass_task_s"])
        summary = got["summary"]
        allowed = summary["allow"] + summary["by_reason"].get("BUDGET_EXHAUSTED", 0)
        buckets = timing.get("bucket_task_s", [])
        walks = timing.get("budget_walk_task_s", [])
        budget = (
            f"; {len(buckets)} bucket(s): sort {max(buckets):.2f} s, walk {max(walks):.2f} s "
            "(the slowest)"
            if buckets
            else ""
        )
        table.add_row(
            f"{workers} worker(s), {rows:,} rows ({summary['partitions']} partitions, "
            f"{allowed / rows:.0%} allowed, {summary['allow']:,} kept)",
            f"{got['wall']:.1f} s",
            f"{rows / got['wall']:,.0f}",
            f"{got['peak_mb']:,.0f} MB",
            f"first pass {p1:.2f} s, second pass {p2:.2f} s{budget}",
        )
    one, two = results[1, args.rows], results[2, args.rows]
    table.add_row("speed-up, two workers over one", f"{one['wall'] / two['wall']:.2f}×", "",
                  "", "goal ≥ 1.6×")  # fmt: skip
    fixed = {w: results[w, 0]["wall"] for w in (1, 2)}
    table.add_row(
        "the same without a run's fixed cost (a 200-row run: "
        f"{fixed[1]:.1f} s / {fixed[2]:.1f} s)",
        f"{(one['wall'] - fixed[1]) / (two['wall'] - fixed[2]):.2f}×"
        if min(one["wall"] - fixed[1], two["wall"] - fixed[2]) > 0
        else "n/a (runs too short)",
        "", "", "",
    )  # fmt: skip
    if small_rows != args.rows:
        small, large = results[2, small_rows], results[2, args.rows]
        table.add_row(
            f"client peak RSS, {args.rows:,} vs {small_rows:,} rows",
            "", "", f"{large['peak_mb'] - small['peak_mb']:+,.0f} MB",
            "goal: independent of the file's size",
        )  # fmt: skip
        for rows, got in ((small_rows, small), (args.rows, large)):
            peaks = got["summary"]["timing"].get("client_peak_rss_mb", {})
            table.add_row(
                f"client peak RSS after each phase, {rows:,} rows", "", "", "",
                ", ".join(f"{k} {v:,.0f} MB" for k, v in peaks.items()),
            )  # fmt: skip
    phases = two["summary"]["timing"]["phases_s"]
    table.add_row(
        "client phases (2 workers, large file)", "", "", "",
        ", ".join(f"{k} {v:.1f} s" for k, v in phases.items()),
    )  # fmt: skip
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
