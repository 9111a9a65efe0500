"""Benchmark: `contactgate store export` of a large store (time, peak memory).

Simulates a history (default 20,000 numbers × 180 days), loads its events into a fresh
SQLite store with `contactgate store load`, then exports them with `contactgate store
export` to CSV, to Parquet and pseudonymised, each in its own subprocess whose peak resident
memory is sampled. Everything lives in a temp dir, deleted at the end. Prints a table and a
reference loop (the machine is shared).

    .venv/bin/python benchmarks/bench_export.py [--numbers 20000] [--days 180]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bench_store import python_speed_ms  # noqa: E402


def run_measured(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of a command, sampling its process tree every 50 ms."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    ps = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = ps.memory_info().rss + sum(c.memory_info().rss for c in ps.children(True))
            peak = max(peak, rss)
        except psutil.Error:
            pass
        time.sleep(0.05)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[3:6]} failed: {proc.stderr.read().decode()[-2000:]}")
    return time.perf_counter() - t0, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--numbers", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=180)
    args = parser.parse_args()
    from features.simulate import simulate_to_dir
    from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key

    cli = [sys.executable, "-m", "serving.cli"]
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        simulate_to_dir(root / "sim", numbers=args.numbers, days=args.days, seed=3, progress=False)
        url = f"sqlite:///{root / 'store.db'}"
        env = os.environ | {HMAC_ENV: new_key(), ENCRYPTION_ENV: new_key()}
        load_s, load_mb = run_measured(
            [*cli, "store", "load", str(root / "sim" / "events.parquet"), "--record", "events",
             "--no-progress", "--db-url", url], env)  # fmt: skip
        from serving.store import Store

        with Store.open(url, environ=env) as store:
            rows = store.count_records("events")
        table = [("store load (events.parquet)", load_s, load_mb)]
        for label, out, extra in (
            ("export → CSV", root / "out.csv", []),
            ("export → Parquet", root / "out.parquet", []),
            ("export → Parquet, --pseudonymise", root / "pseudo.parquet", ["--pseudonymise"]),
        ):
            wall, mb = run_measured(
                [*cli, "store", "export", "--record", "events", "--out", str(out),
                 "--no-progress", "--db-url", url, *extra], env)  # fmt: skip
            table.append((label, wall, mb))
        size = (root / "store.db").stat().st_size / 2**20
        print(
            f"{rows:,} events ({args.numbers:,} numbers × {args.days} days), store {size:,.0f} MB"
        )
        print("| step | wall | rows/s | peak RSS |")
        print("|---|---|---|---|")
        for label, wall, mb in table:
            print(f"| {label} | {wall:.1f} s | {rows / wall:,.0f} | {mb:,.0f} MB |")
    print(f"reference loop (1 M additions): {python_speed_ms():.0f} ms (idle core: ~30-40 ms)")


if __name__ == "__main__":
    main()
