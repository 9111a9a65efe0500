"""Benchmark the contact-history simulator (issue 2: 1 M numbers × 180 days < 2 minutes).

Runs ``simulate_to_dir`` once at the requested size in this process, then prints a table:
numbers, days, events, seconds (simulation and writing; the first run in a fresh checkout
also includes numba compilation, which is cached afterwards), events/s, peak RSS, and the
realised complaint and opt-out rates per contact (computed afterwards, not timed).

    .venv/bin/python benchmarks/bench_simulate.py                 # 1,000,000 × 180
    .venv/bin/python benchmarks/bench_simulate.py --numbers 100000 --days 90
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_000_000, help="phone numbers")
    parser.add_argument("--days", type=int, default=180, help="days of history")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--out", type=Path, default=None, help="keep the files here")
    parser.add_argument("--no-rates", action="store_true", help="skip the label pass")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.table import Table

    from features.simulate import labelled_contacts, simulate_to_dir

    out = args.out or Path(tempfile.mkdtemp(prefix="bench_simulate_"))
    began = time.perf_counter()
    paths = simulate_to_dir(out, numbers=args.numbers, days=args.days, seed=args.seed)
    seconds = time.perf_counter() - began
    rss_sim = peak_rss_mb()

    import pyarrow.parquet as pq

    events = pq.ParquetFile(paths["events"]).metadata.num_rows
    size_mb = paths["events"].stat().st_size / 1e6
    table = Table(title="contactgate simulate")
    for col in ("numbers", "days", "events", "seconds", "events/s", "peak RSS MB",
                "events.parquet MB", "complaint rate", "opt-out rate"):  # fmt: skip
        table.add_column(col, justify="right")
    complaint = opt_out = "-"
    if not args.no_rates:
        contacts = labelled_contacts(paths["events"])
        complaint = f"{contacts['complaint_7d'].mean():.3%}"
        opt_out = f"{contacts['opt_out_7d'].mean():.2%}"
    table.add_row(
        f"{args.numbers:,}", str(args.days), f"{events:,}", f"{seconds:.1f}",
        f"{events / seconds:,.0f}", f"{rss_sim:,.0f}", f"{size_mb:,.0f}", complaint, opt_out,
    )  # fmt: skip
    console = Console(width=max(Console().width, 120))
    console.print(table)
    console.print(
        f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} "
        f"(other work on the machine shares the CPU); peak RSS is measured before the label pass"
    )
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
