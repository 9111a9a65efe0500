"""Soak the decision service: a fixed request rate for a fixed time, and print a table.

    .venv/bin/python benchmarks/bench_soak.py [--seconds 60] [--rate 100] [--workers 1]
        [--db-url URL] [--tracking-uri URI]

A real ``contactgate serve`` on loopback (SQLite in a temp dir unless ``--db-url``; without
``--tracking-uri`` a small model is trained into a temp MLflow store first) receives
``--rate`` requests/s for ``--seconds``: half ``authorize`` (one SMS each, about now), a
quarter ``screen`` (10 contacts), a quarter ``record_events`` (one reply). Printed: p50/p99
latency per endpoint (client side, loopback), status codes, and the workers' resident
memory at the start and the end (sampled every 2 s). A reference loop's time before and
after says how busy the shared machine was.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    parser.add_argument("--db-url", default=None, help="store URL (default: temp SQLite)")
    parser.add_argument("--tracking-uri", default=None, help="MLflow store with a champion")
    args = parser.parse_args()

    from bench_service import _machine_ms  # the reference loop, shared by the benchmarks
    from rich.console import Console
    from rich.table import Table

    from tests.support.server import Server, server_environment
    from tests.support.soak import init_store, soak

    console = Console()
    machine_before = _machine_ms()
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    db_url = args.db_url or f"sqlite:///{tmp / 'store.db'}"
    tracking_uri = args.tracking_uri
    if tracking_uri is None:
        from tests.support.models import champion_store

        console.print("training a small model into a temp MLflow store …")
        tracking_uri = champion_store().tracking_uri
    env = server_environment(db_url, tracking_uri, tmp, CONTACTGATE_WORKERS=str(args.workers))
    init_store(db_url, env)  # `contactgate store init` and the registries
    server = Server(env, tmp / "server.log")
    try:
        server.wait_ready()
        soak(server, 3, min(args.rate, 20))  # warm-up, not counted
        result = soak(server, args.seconds, args.rate)
    finally:
        server.stop()
    machine_after = _machine_ms()

    table = Table(
        title=f"soak: {args.seconds:g} s at {args.rate:g} requests/s, {args.workers} worker(s), "
        f"{'SQLite' if db_url.startswith('sqlite') else 'PostgreSQL'}"
    )
    for column in ("endpoint", "requests (200)", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "endpoint" else "right")
    for row in result.rows():
        table.add_row(*row)
    console.print(table)
    growth = result.memory_end_mb - result.memory_start_mb
    console.print(
        f"sent {result.sent:,} ({result.late:,} late by > 100 ms); statuses "
        f"{dict(result.statuses)}; transport errors {len(result.errors) - sum(v for k, v in result.statuses.items() if k != 200)}"
    )
    console.print(
        f"worker RSS: start {result.memory_start_mb:.0f} MB, end {result.memory_end_mb:.0f} MB "
        f"(growth {growth:+.0f} MB), max {max(m for _, m in result.memory_mb):.0f} MB"
    )
    console.print(
        f"reference loop: {machine_before:.0f} ms before, {machine_after:.0f} ms after "
        "(~135 ms on an idle 2-core VM)"
    )
    bad = [e for e in result.errors][:5]
    if bad:
        console.print(f"first errors: {bad}")
    return 0 if not result.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
