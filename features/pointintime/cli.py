"""``contactgate features``: build the point-in-time training frame from an event file."""

from __future__ import annotations

import argparse
from pathlib import Path

from features.definitions import FEATURE_NAMES, TARGETS
from features.pointintime.frame import training_frame


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``contactgate features``."""
    parser.add_argument(
        "--events", type=Path, required=True, help="event file (CSV or Parquet, Event contract)"
    )
    parser.add_argument(
        "--consent", type=Path, help="consent file (CSV or Parquet, Consent contract); optional"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="where to write the training frame (.parquet)"
    )
    parser.add_argument(
        "--horizon", default="7D", help="label attribution window after each contact"
    )
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: in this process; dask: per number-partition on a Dask cluster",
    )
    parser.add_argument(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786); default: a local cluster of 2 workers",
    )
    parser.add_argument(
        "--partitions", type=int, default=8, help="dask engine: number of number-partitions"
    )
    from features.options import add_loading_arguments

    add_loading_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Load, build, write; with a rich progress bar over the build's stages."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from features.io import describe_load, load_records, write_rejects

    def load(path, record: str):
        result = load_records(
            path,
            record,
            skip_invalid=args.skip_invalid,
            default_region=args.default_region,
            strict=args.strict,
            pseudonyms=True,  # a pseudonymised store export (features.pseudonyms)
        )
        written = write_rejects(result, args.out.with_name(f"{args.out.stem}.{record}.parquet"))
        reports.extend(describe_load(result))
        if written:
            reports.append(f"rejects written to {written}")
        return result.frame

    reports: list[str] = []

    if args.out.suffix.lower() not in (".parquet", ".pq"):
        raise ValueError(f"{args.out}: the training frame is written as Parquet (.parquet)")
    stages = (
        "loading events",
        "loading consent",
        "normalising numbers",
        "classifying events",
        "sorting by number and time",
        "rolling windows",
        "same-subject windows",
        "consent",
        "writing",
    )
    with Progress(
        TextColumn("[bold]features[/bold] {task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        disable=args.no_progress,
    ) as bar:
        task = bar.add_task(stages[0], total=len(stages))

        def say(message: str) -> None:
            done = stages.index(message) if message in stages else bar.tasks[0].completed
            bar.update(task, description=message, completed=done)

        say("loading events")
        events = load(args.events, "events")
        say("loading consent")
        consent = load(args.consent, "consent") if args.consent else None
        if args.engine == "dask":
            from features.dask_engine import build_training_frame_dask

            say("rolling windows")
            frame = build_training_frame_dask(
                events,
                consent,
                horizon=args.horizon,
                npartitions=args.partitions,
                scheduler=args.scheduler,
            )
        else:
            frame = training_frame(events, consent, args.horizon, say)
        say("writing")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        try:
            frame.to_parquet(args.out, index=False)
        except OSError as exc:
            raise ValueError(f"{args.out}: cannot be written: {exc}") from exc
        bar.update(task, completed=len(stages), description="done")
    for line in reports:
        print(line)
    contacts = len(frame)
    rates = {t: float(frame[t].mean()) if contacts else 0.0 for t in TARGETS}
    print(
        f"wrote {args.out}: {contacts:,} contacts × {len(FEATURE_NAMES)} features; "
        + ", ".join(f"{t} rate {r:.4f}" for t, r in rates.items())
    )
    return 0
