"""The decision audit log for reviewers — ``contactgate audit export --since …``.

Every decision the service or the batch made is in the store's audit log with the model
version, the rules version, the reasons and the keyed hash of the number (never the number
itself). This command streams a time range of it to CSV or JSON Lines.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from serving.cli.options import HelpFormatter, add_db_url, announce_store

FIELDS = (
    "id", "recorded_at", "request_id", "number_hash", "decision", "reason_codes", "reasons",
    "model_version", "rules_version", "at", "detail",
)  # fmt: skip


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    export = sub.add_parser(
        "export",
        help="write decisions recorded in [--since, --until) to CSV or JSON Lines",
        formatter_class=HelpFormatter,
    )
    export.add_argument(
        "--since", required=True, help="first decision time included (ISO date or instant)"
    )
    export.add_argument("--until", default=None, help="decision time excluded (default: now)")
    export.add_argument(
        "-o", "--output", type=Path, default=None, help="file to write (default: stdout)"
    )
    export.add_argument(
        "--format", choices=("csv", "jsonl"), default=None,
        help="output format (default: from the file suffix, csv on stdout)",
    )  # fmt: skip
    add_db_url(export)


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "reason_codes": ";".join(r.get("code", "") for r in row.get("reasons") or []),
        "reasons": json.dumps(row.get("reasons") or [], sort_keys=True),
        "detail": json.dumps(row.get("detail") or {}, sort_keys=True, default=str),
        "at": row["at"].isoformat() if row.get("at") else None,
        "recorded_at": row["recorded_at"].isoformat() if row.get("recorded_at") else None,
    }


def export(store: Any, since: dt.datetime, until: dt.datetime | None, out: TextIO, fmt: str) -> int:
    """Stream the decisions to ``out``; returns how many were written."""
    import csv

    n = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in store.export_decisions(since, until):
            writer.writerow(_flat(row))
            n += 1
    else:
        for row in store.export_decisions(since, until):
            out.write(json.dumps(row, default=str, sort_keys=True) + "\n")
            n += 1
    return n


def run(args: argparse.Namespace) -> int:
    from features.schema import parse_instant
    from serving.store import Store

    since = parse_instant(args.since, "--since")
    until = parse_instant(args.until, "--until") if args.until else None
    fmt = args.format or ("jsonl" if args.output and args.output.suffix == ".jsonl" else "csv")
    store = Store.open(args.db_url)
    announce_store(store)
    try:
        if args.output is None:
            n = export(store, since, until, sys.stdout, fmt)
        else:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            with args.output.open("w", newline="") as handle:
                n = export(store, since, until, handle, fmt)
    finally:
        store.close()
    print(f"{n:,} decisions exported", file=sys.stderr)
    return 0
