"""``contactgate features``: the point-in-time training frame from event (and consent) files,
in this process or, storage to storage, on a Dask cluster (:mod:`features.distributed`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from features.definitions import FEATURE_NAMES, TARGETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``contactgate features``."""
    parser.add_argument(
        "--events",
        required=True,
        help="event file (CSV or Parquet, Event contract); with --engine dask also a folder "
        "of Parquet or CSV files or an fsspec URL (s3://…) the workers read",
    )
    parser.add_argument(
        "--consent",
        help="consent file (CSV or Parquet, Consent contract), same forms as --events; optional",
    )
    parser.add_argument(
        "--out",
        required=True,
        help="where to write the training frame: FILE.parquet, or a folder (a Parquet "
        "dataset, part-NNNNN.parquet; the dask engine always writes a folder, its workers "
        "write one file per partition)",
    )
    parser.add_argument(
        "--horizon", default="7D", help="label attribution window after each contact"
    )
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: in this process; dask: the workers of a Dask cluster read the files, "
        "shuffle by number and write the dataset (the client holds no rows)",
    )
    parser.add_argument(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786); default: a local cluster of 2 workers",
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="dask engine: number of number-partitions (output files); default: 8 per "
        "worker thread of the cluster, but no fewer than ~250,000 events each (the input's "
        "rows from the Parquet footers or the CSV's size) and more if a worker's memory "
        "needs smaller ones",
    )
    parser.add_argument(
        "--blocksize",
        default="64MiB",
        help="dask engine: bytes of input per read partition (e.g. 64MiB)",
    )
    from features.options import add_loading_arguments

    add_loading_arguments(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """The local engine (load, build, write) or the dask engine (storage to storage)."""
    if args.engine == "dask":
        return _run_dask(args)
    return _run_local(args)


def is_dataset(out: str) -> bool:
    """A folder is written for ``--out`` without a .parquet suffix."""
    return Path(out).suffix.lower() not in (".parquet", ".pq")


def _run_dask(args: argparse.Namespace) -> int:
    from features.distributed import frame_dataset

    if not is_dataset(args.out):
        raise ValueError(
            f"{args.out}: the dask engine writes a dataset folder (one file per partition); "
            "give --out a folder name without .parquet"
        )
    summary = frame_dataset(
        args.events,
        args.out,
        args.consent,
        horizon=args.horizon,
        npartitions=args.partitions,
        scheduler=args.scheduler,
        default_region=args.default_region,
        skip_invalid=args.skip_invalid,
        strict=args.strict,
        blocksize=args.blocksize,
        progress=not args.no_progress,
    )
    for line in summary.describe():
        print(line)
    _print_written(summary.out, summary.contacts, summary.positives, f" ({summary.files} files)")
    return 0


def _print_written(out: str, contacts: int, positives: dict[str, int], files: str = "") -> None:
    rates = {t: positives.get(t, 0) / contacts if contacts else 0.0 for t in TARGETS}
    print(
        f"wrote {out}{files}: {contacts:,} contacts × {len(FEATURE_NAMES)} features; "
        + ", ".join(f"{t} rate {r:.4f}" for t, r in rates.items())
    )


def _run_local(args: argparse.Namespace) -> int:
    """Load, build, write; with a rich progress bar over the build's stages."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from features.io import describe_load, load_records, write_rejects
    from features.pointintime.frame import training_frame

    out = Path(args.out)
    target = out / "part-00000.parquet" if is_dataset(args.out) else out

    def load(path, record: str):
        result = load_records(
            path,
            record,
            skip_invalid=args.skip_invalid,
            default_region=args.default_region,
            strict=args.strict,
            pseudonyms=True,  # a pseudonymised store export (features.pseudonyms)
        )
        written = write_rejects(result, out.with_name(f"{out.stem}.{record}.parquet"))
        reports.extend(describe_load(result))
        if written:
            reports.append(f"rejects written to {written}")
        return result.frame

    reports: list[str] = []
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
        frame = training_frame(events, consent, args.horizon, say)
        say("writing")
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            frame.to_parquet(target, index=False)
        except OSError as exc:
            raise ValueError(f"{args.out}: cannot be written: {exc}") from exc
        bar.update(task, completed=len(stages), description="done")
    for line in reports:
        print(line)
    positives = {t: int(frame[t].sum()) for t in TARGETS}
    _print_written(str(args.out), len(frame), positives)
    return 0
