"""Store maintenance: create or migrate the schema, back it up, apply retention.

``contactgate store init`` creates (or migrates) the store and prints what it holds;
``contactgate store load FILE --record events`` validates a contract file (events, consent,
preferences, dnc, blocked_periods) and writes it in batches, as the API's writes would;
``contactgate store export --record events --out FILE`` streams the store's history back out
as a contract file (CSV or Parquet) for retraining, numbers decrypted or pseudonymised;
``contactgate store backup PATH`` writes a consistent copy of a SQLite store;
``contactgate store retention`` drops raw contact/reply events older than the rules and
features need — never DNC records, consent evidence, durable events or tombstones.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from serving.cli.options import HelpFormatter, add_db_url, add_no_progress

#: How many store refusals are printed before "and N more" (all go to the rejects file).
SHOWN_REFUSALS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from features.options import add_loading_arguments
    from serving.store import MIN_RETENTION_DAYS

    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = sub.add_parser(
        "init",
        help="create or migrate the store and print its table counts",
        formatter_class=HelpFormatter,
    )
    add_db_url(init)

    load = sub.add_parser(
        "load",
        help="validate a contract file (CSV/Parquet) and write its rows into the store",
        formatter_class=HelpFormatter,
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
    add_no_progress(load)
    add_db_url(load)

    backup = sub.add_parser(
        "backup",
        help="write a consistent copy of a SQLite store (PostgreSQL: use pg_dump)",
        formatter_class=HelpFormatter,
    )
    backup.add_argument(
        "path", metavar="PATH", type=Path, help="new file to write (never overwritten)"
    )
    add_db_url(backup)

    retention = sub.add_parser(
        "retention",
        help="drop raw contact/reply events older than N days (keeps DNC, consent, tombstones)",
        formatter_class=HelpFormatter,
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
    add_db_url(retention)

    export = sub.add_parser(
        "export",
        help="stream the store's history out as a contract file (CSV or Parquet) for retraining",
        formatter_class=HelpFormatter,
    )
    export.add_argument(
        "--record",
        required=True,
        choices=("events", "consent", "preferences", "dnc"),
        help="the data contract to export",
    )
    export.add_argument(
        "--out",
        required=True,
        type=Path,
        metavar="FILE",
        help="file to write; .csv or .parquet (written whole or not at all)",
    )
    export.add_argument(
        "--since",
        metavar="T",
        help="first instant included, ISO-8601 date or instant (default: the beginning)",
    )
    export.add_argument(
        "--until", metavar="T", help="instant excluded, ISO-8601 date or instant (default: none)"
    )
    export.add_argument(
        "--pseudonymise",
        action="store_true",
        help="replace numbers by keyed pseudonyms and add the number facts features need "
        "(number_region, number_line_type, number_time_zones)",
    )
    export.add_argument(
        "--chunk-rows", type=int, default=20_000, help="rows read and written at a time"
    )
    add_no_progress(export)
    add_db_url(export)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from features.schema import parse_instant
    from serving.cli.options import announce_store
    from serving.cli.registry import open_store

    console = Console()
    store = open_store(args.db_url)
    announce_store(store)
    try:
        if args.action == "init":
            table = Table(title=f"store schema version {store.schema_version()}")
            table.add_column("table")
            table.add_column("rows", justify="right")
            for name, count in store.counts().items():
                table.add_row(name, f"{count:,}")
            console.print(table)
        elif args.action == "load":
            _load(store, args, console)
        elif args.action == "export":
            _export(store, args, console)
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

    from features.io import describe_load, load_records, write_rejects
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
    file_row = _file_rows(loaded)
    refused = [(file_row(position), error) for position, error in summary.store_rejects]
    for row, error in refused[:SHOWN_REFUSALS]:
        console.print(f"  row {row}: refused by the store: {error}", markup=False)
    if len(refused) > SHOWN_REFUSALS:
        console.print(f"  … and {len(refused) - SHOWN_REFUSALS:,} more", markup=False)
    if refused and args.skip_invalid:
        written = _append_refusals(loaded, args.file, refused)
    if written is not None:
        console.print(f"rejected rows written to {written}", markup=False)


def _file_rows(loaded: object) -> object:
    """Maps a 1-based position among the loaded (valid) rows to the file's data row."""
    import numpy as np

    rejected = set() if loaded.rejects.empty else set(loaded.rejects["row"].astype(int))
    total = len(loaded.frame) + len(rejected)
    kept = np.array([r for r in range(1, total + 1) if r not in rejected], dtype=np.int64)
    return lambda position: int(kept[position - 1])


def _append_refusals(loaded: object, file: Path, refused: list[tuple[int, str]]) -> Path:
    """Add the store's refusals to the rejects file beside ``file`` (row, field, error)."""
    import pandas as pd

    from features.io import rejects_path

    path = rejects_path(file)
    extra = pd.DataFrame(
        [{"row": row, "field": "(store)", "value": "", "error": error} for row, error in refused]
    )
    if not loaded.rejects.empty:
        extra = pd.concat([loaded.rejects, extra], ignore_index=True)
    extra = extra.sort_values("row", kind="stable", ignore_index=True)
    extra.insert(0, "file", file.name)
    extra.to_csv(path, index=False)
    return path


def _export(store: object, args: argparse.Namespace, console: object) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from features.schema import parse_instant
    from serving.store import PSEUDONYM_FACTS, ContractWriter

    since = parse_instant(args.since, "--since") if args.since else None
    until = parse_instant(args.until, "--until") if args.until else None
    if since is not None and until is not None and until <= since:
        raise ValueError("--until must be after --since")
    if args.chunk_rows < 1:
        raise ValueError("--chunk-rows must be at least 1")
    extra = PSEUDONYM_FACTS if args.pseudonymise else ()
    writer = ContractWriter(args.out, args.record, extra)  # checks the suffix first
    total = store.count_records(args.record, since, until)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, disable=args.no_progress,
    ) as bar, writer:  # fmt: skip
        task = bar.add_task(f"exporting {args.record}", total=total)
        for frame in store.export_frames(
            args.record, since, until, pseudonymise=args.pseudonymise, chunk_rows=args.chunk_rows
        ):
            writer.write(frame)
            bar.advance(task, len(frame))
    numbers = "pseudonymised" if args.pseudonymise else "decrypted"
    console.print(
        f"{writer.rows:,} {args.record} rows written to {args.out} (numbers {numbers})",
        markup=False,
    )
