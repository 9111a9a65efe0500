"""The end-to-end main job on embedded defaults (SQLite store, local MLflow).

Steps so far: simulate a contact history and summarise it. Later steps (features,
training, promotion, screening a campaign) are added as they land.
"""

from __future__ import annotations

import argparse
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
GENERATED = PROJECT_ROOT / "data" / "generated"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--numbers", type=int, default=20_000, help="simulated numbers")
    parser.add_argument("--days", type=int, default=180, help="simulated days of history")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--out", type=Path, default=GENERATED / "demo", help="output folder")


def run(args: argparse.Namespace) -> int:
    from features.simulate import simulate_to_dir, summarize

    print(f"[1/1] simulating {args.numbers:,} numbers over {args.days} days → {args.out}")
    paths = simulate_to_dir(args.out, numbers=args.numbers, days=args.days, seed=args.seed)
    summarize(paths)
    return 0
