"""Store maintenance: create or migrate the schema, back it up, apply retention.

``contactgate store init`` creates (or migrates) the store and prints what it holds;
``contactgate store load FILE --record events`` validates a contract file (events, consent,
preferences, dnc, blocked_periods) and writes it in batches, as the API's writes would;
``contactgate store backup PATH`` writes a consistent copy of a SQLite store;
``contactgate store retention`` drops raw contact/reply events older than the rules and
features need — never DNC records, consent evidence, durable events or tombstones.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

DB_HELP = "store URL (default: $CONTACTGATE_DB_URL or sqlite under data/contactgate.db)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from features.options import add_loading_arguments
    from serving.store import MIN_RETENTION_DAYS

    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = sub.add_parser(
        "init",
        help="create or migrate the store and print its table counts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("--db", metavar="URL", help=DB_HELP)

    load = sub.add_parser(
        "load",
        help="validate a contract file (CSV/Parquet) and write its rows into the store",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    load.add_argument("file", metavar="FILE", type=Path, help="CSV or Parquet file")
    load.add_argument(
        "--record",
        required=True,
        choices=("events", "consent", "preferences", "dnc", "blocked_periods"),
        help="the data contract of the file's rows",
    )
    load.add_argument(
        "--skip-invalid",
        action="store_true",
        help="load the valid rows and write the invalid ones to FILE-stem.rejects.csv "
        "(default: a file with any invalid row is refused whole)",
    )
    add_loading_arguments(load, skip_invalid=False)
    load.add_argument("--batch-size", type=int, default=5_000, help="rows per transaction")
    load.add_argument("--no-progress", action="store_true", help="no progress bar")
    load.add_argument("--db", metavar="URL", help=DB_HELP)

    backup = sub.add_parser(
        "backup",
        help="write a consistent copy of a SQLite store (PostgreSQL: use pg_dump)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    backup.add_argument(
        "path", metavar="PATH", type=Path, help="new file to write (never overwritten)"
    )
    backup.add_argument("--db", metavar="URL", help=DB_HELP)

    retention = sub.add_parser(
        "retention",
        help="drop raw contact/reply events older than N days (keeps DNC, consent, tombstones)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    retention.add_argument(
        "--older-than-days",
        type=int,
        default=MIN_RETENTION_DAYS,
        metavar="N",
        help=f"drop raw events older than N days before --at (at least {MIN_RETENTION_DAYS}: "
        "rules, features and state loading look back that far; default: %(default)s)",
    )
    retention.add_argument(
        "--at",
        metavar="INSTANT",
        help="reference instant, ISO-8601 with offset (default: now)",
    )
    retention.add_argument("--db", metavar="URL", help=DB_HELP)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from features.schema import parse_instant
    from serving.cli.registry import open_store

    console = Console()
    store = open_store(args.db)
    try:
        if args.action == "init":
            table = Table(title=f"store {store.safe_url} — schema version {store.schema_version()}")
            table.add_column("table")
            table.add_column("rows", justify="right")
            for name, count in store.counts().items():
                table.add_row(name, f"{count:,}")
            console.print(table)
        elif args.action == "load":
            _load(store, args, console)
        elif args.action == "backup":
            path = store.backup(args.path)
            console.print(f"backup written: {path} ({path.stat().st_size:,} bytes)")
        else:
            at = (
                parse_instant(args.at, "--at", date_ok=False)
                if args.at
                else dt.datetime.now(dt.UTC)
            )
            counts = store.retention(args.older_than_days, at)
            table = Table(
                title=f"retention: raw events older than {args.older_than_days} days before {at.isoformat()}"
            )
            table.add_column("")
            table.add_column("rows", justify="right")
            for name, count in counts.items():
                table.add_row(name, f"{count:,}")
            console.print(table)
    finally:
        store.close()
    return 0


def _load(store: object, args: argparse.Namespace, console: object) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from rich.table import Table

    from features.io import describe_load, load_records, rejects_path, write_rejects
    from serving.store import load_frame

    loaded = load_records(
        args.file,
        args.record,
        skip_invalid=args.skip_invalid,
        default_region=args.default_region,
        strict=args.strict,
    )
    for line in describe_load(loaded):
        console.print(line, markup=False)
    written = write_rejects(loaded, args.file) if args.skip_invalid else None
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, disable=args.no_progress,
    ) as bar:  # fmt: skip
        task = bar.add_task(f"loading {args.record}", total=len(loaded.frame))
        summary = load_frame(
            store, loaded.frame, args.record, batch_size=args.batch_size,
            progress=lambda n: bar.advance(task, n),
        )  # fmt: skip
    table = Table(title=f"{args.file.name} → {store.safe_url}")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_row("valid rows in the file", f"{summary.rows:,}")
    table.add_row("stored", f"{summary.accepted:,}")
    table.add_row("already stored (replays)", f"{summary.duplicates:,}")
    table.add_row("refused by the store", f"{len(summary.store_rejects):,}")
    table.add_row("invalid rows skipped", f"{loaded.rejected_rows:,}")
    console.print(table)
    for position, error in summary.store_rejects[:20]:
        console.print(f"  loaded row {position}: {error}")
    if written is not None:
        console.print(f"invalid rows written to {rejects_path(args.file)}")
