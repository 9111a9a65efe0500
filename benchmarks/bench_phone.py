"""Phone normalisation speed: per-number ``normalize`` vs vectorised ``normalize_many``.

Issue 2 asks that normalising 1 million numbers take seconds, not minutes. Inputs are ``--n``
distinct E.164 numbers across US/CA/GB/FR/DE/AU/CN (libphonenumber's example fixed-line and
mobile numbers with random last six digits, so most are valid). The per-number path runs on
``--per-number-n`` of them and is extrapolated to ``--n``. Each method runs in its own
process so its peak RSS (``ru_maxrss``) is its own; "added MB" is the peak minus the RSS
once the inputs exist. "CPU s" (process time) is less disturbed than wall time when other work
shares the machine. ``normalize_many`` is timed cold (first call in the process: loads
libphonenumber metadata and builds its tables) and warm (second call).

Run: ``.venv/bin/python benchmarks/bench_phone.py [--n 1000000] [--per-number-n 100000]``.
Single core; numbers vary with whatever else shares the machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REGIONS = ("US", "CA", "GB", "FR", "DE", "AU", "CN")
ROOT = Path(__file__).resolve().parents[1]


def distinct_numbers(count: int, seed: int = 0) -> np.ndarray:
    """``count`` distinct E.164 strings (object array), shuffled, deterministic for a seed."""
    import phonenumbers as pn

    templates = []
    for region in REGIONS:
        for number_type in (pn.PhoneNumberType.FIXED_LINE, pn.PhoneNumberType.MOBILE):
            example = pn.example_number_for_type(region, number_type)
            templates.append(pn.format_number(example, pn.PhoneNumberFormat.E164)[:-6])
    rng = np.random.default_rng(seed)
    found = np.empty(0, dtype=object)
    while len(found) < count:
        want = int((count - len(found)) * 1.1) + 16
        heads = np.array(templates, dtype=object)[rng.integers(0, len(templates), want)]
        tails = np.char.zfill(rng.integers(0, 10**6, want).astype(str), 6).astype(object)
        found = np.unique(np.concatenate([found, heads + tails]))
    return rng.permutation(found)[:count]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _worker(method: str, count: int) -> dict[str, float]:
    """Run one method in this process; returns timings and memory as a JSON-able dict."""
    numbers = distinct_numbers(count)
    from features.phone import normalize, normalize_many

    baseline = _rss_mb()
    result: dict[str, float] = {"n": count}
    if method == "normalize":
        start, start_cpu = time.perf_counter(), time.process_time()
        records = [normalize(raw) for raw in numbers]
        result["seconds"] = time.perf_counter() - start
        result["cpu_seconds"] = time.process_time() - start_cpu
        result["valid_share"] = sum(r.valid for r in records) / count
    else:
        start, start_cpu = time.perf_counter(), time.process_time()
        frame = normalize_many(numbers)
        result["seconds"] = time.perf_counter() - start
        result["cpu_seconds"] = time.process_time() - start_cpu
        result["valid_share"] = float(frame["valid"].mean())
        del frame
        start, start_cpu = time.perf_counter(), time.process_time()
        normalize_many(numbers)
        result["warm_seconds"] = time.perf_counter() - start
        result["warm_cpu_seconds"] = time.process_time() - start_cpu
    result["peak_mb"] = _rss_mb()
    result["added_mb"] = result["peak_mb"] - baseline
    return result


def _run(method: str, count: int) -> dict[str, float]:
    completed = subprocess.run(
        [sys.executable, __file__, "--worker", method, "--n", str(count)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=1_000_000, help="distinct numbers for normalize_many"
    )
    parser.add_argument(
        "--per-number-n",
        type=int,
        default=100_000,
        help="numbers for the per-number normalize path (extrapolated to --n)",
    )
    parser.add_argument("--worker", choices=["normalize", "normalize_many"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_worker(args.worker, args.n)))
        return 0

    from rich.console import Console
    from rich.table import Table

    per_number_n = min(args.per_number_n, args.n)
    single = _run("normalize", per_number_n)
    many = _run("normalize_many", args.n)
    table = Table(title=f"phone normalisation, {args.n:,} distinct E.164 numbers, one core")
    columns = ("method", "n", "seconds", "CPU s", "numbers/s", "peak RSS MB", "added MB", "valid")
    for column in columns:
        table.add_column(column, justify="left" if column == "method" else "right")

    def row(method: str, n: int, seconds: float, cpu: float, result: dict[str, float]) -> None:
        table.add_row(
            method,
            f"{n:,}",
            f"{seconds:.2f}",
            f"{cpu:.2f}",
            f"{n / seconds:,.0f}",
            f"{result['peak_mb']:.0f}",
            f"{result['added_mb']:.0f}",
            f"{result['valid_share']:.1%}",
        )

    row("normalize (per number)", per_number_n, single["seconds"], single["cpu_seconds"], single)
    scale = args.n / per_number_n
    table.add_row(
        "normalize, extrapolated",
        f"{args.n:,}",
        f"{single['seconds'] * scale:.1f}",
        f"{single['cpu_seconds'] * scale:.1f}",
        *[""] * 4,
        style="dim",
    )
    row("normalize_many (cold)", args.n, many["seconds"], many["cpu_seconds"], many)
    row("normalize_many (warm)", args.n, many["warm_seconds"], many["warm_cpu_seconds"], many)
    Console(width=110).print(table)
    speed_up = single["cpu_seconds"] * scale / many["warm_cpu_seconds"]
    print(f"speed-up in CPU time (warm normalize_many vs per-number normalize): {speed_up:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
