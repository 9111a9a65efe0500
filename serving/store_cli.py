"""Store maintenance: create or migrate the schema, back it up, apply retention.

``contactgate store init`` creates (or migrates) the store and prints what it holds;
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
    from serving.store import MIN_RETENTION_DAYS

    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = sub.add_parser(
        "init",
        help="create or migrate the store and print its table counts",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("--db", metavar="URL", help=DB_HELP)

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

    from serving.registry_import import open_store, parse_instant

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
        elif args.action == "backup":
            path = store.backup(args.path)
            console.print(f"backup written: {path} ({path.stat().st_size:,} bytes)")
        else:
            at = parse_instant(args.at, "--at") if args.at else dt.datetime.now(dt.UTC)
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
