"""Synthetic multi-channel contact histories with a known complaint and opt-out hazard.

The ``contactgate simulate`` command (its first paragraph above is the ``--help``
description); the simulator itself is described in :mod:`features.simulate`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path

from features.schema import parse_instant
from features.simulate.summary import summarize
from features.simulate.world import DEFAULT_OUT, DEFAULT_START
from features.simulate.writer import simulate_to_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--numbers", type=int, default=100_000, help="how many phone numbers")
    parser.add_argument("--days", type=int, default=180, help="days of history to simulate")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed → same files)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder for events/consent/dnc"
    )
    parser.add_argument(
        "--format", dest="fmt", choices=("parquet", "csv"), default="parquet",
        help="file format (Parquet is typed and ~10× smaller)",
    )  # fmt: skip
    parser.add_argument(
        "--start", type=_parse_start, default=DEFAULT_START,
        help="first instant of the history, ISO-8601 with offset or Z (e.g. 2026-01-01T00:00Z)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-summary", action="store_true", help="skip the closing summary")


def _parse_start(text: str) -> dt.datetime:
    try:
        return parse_instant(text, "--start", date_ok=False)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    paths = simulate_to_dir(
        args.out, numbers=args.numbers, days=args.days, seed=args.seed, start=args.start,
        fmt=args.fmt, progress=not args.no_progress,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {elapsed:.1f} s")
    if not args.no_summary:
        summarize(paths)
    return 0
