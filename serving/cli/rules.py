"""List the rule packs: jurisdictions, rules, their sources and when each pack was reviewed.

``contactgate rules list [--jurisdiction US-TX]`` prints each pack's version, review date and
rules (kind, marker, what it governs, citation and source URL). A pack whose ``reviewed_at``
is more than 12 months old is reported with a warning (on stderr too): the law may have
moved since; review it against its sources and update ``reviewed_at``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

#: A pack not reviewed for longer than this is reported stale.
REVIEW_INTERVAL_MONTHS = 12


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = sub.add_parser(
        "list", help="print jurisdictions, rules, sources and review dates of the rule packs"
    )
    listing.add_argument(
        "--jurisdiction",
        metavar="J",
        help="only this jurisdiction (e.g. US-TX, FR); US also lists the US-<ST> state packs",
    )
    listing.add_argument(
        "--packs", type=Path, metavar="DIR", help="pack directory (default: the packaged packs)"
    )
    listing.add_argument(
        "--today",
        metavar="YYYY-MM-DD",
        help="the date review ages are counted to (default: today, UTC)",
    )


def review_due(reviewed_at: dt.date, today: dt.date) -> bool:
    """Whether a pack reviewed on ``reviewed_at`` is older than the review interval."""
    months = (today.year - reviewed_at.year) * 12 + today.month - reviewed_at.month
    if today.day < reviewed_at.day:
        months -= 1
    return months >= REVIEW_INTERVAL_MONTHS and today > reviewed_at


def run(args: argparse.Namespace) -> int:
    from serving.rules.catalogue import describe_rule, load_packs
    from serving.rules.schema import PACKS_DIR

    today = dt.date.fromisoformat(args.today) if args.today else dt.datetime.now(dt.UTC).date()
    packs = load_packs(args.packs or PACKS_DIR)
    wanted = args.jurisdiction.upper() if args.jurisdiction else None
    if wanted:
        packs = [
            p
            for p in packs
            if p.jurisdiction == wanted or (wanted == "US" and p.jurisdiction.startswith("US-"))
        ]
        if not packs:
            raise ValueError(f"--jurisdiction: no rule pack for {args.jurisdiction!r}")
    stale: list[str] = []
    for pack in packs:
        due = review_due(pack.reviewed_at, today)
        flag = "  WARNING: review due (older than 12 months)" if due else ""
        print(
            f"{pack.jurisdiction}  version {pack.version}  reviewed {pack.reviewed_at}"
            f"  {'law' if pack.legal else 'policy (legal: false)'}{flag}"
        )
        print(f"  {pack.title}")
        for rule in pack.rules:
            dates = ""
            if rule.effective_from or rule.effective_until:
                dates = f" [{rule.effective_from or '…'} → {rule.effective_until or '…'}]"
            print(f"  - {rule.id} ({rule.kind}, {rule.marker}){dates}: {describe_rule(rule)}")
            print(f"      cite: {rule.cite}")
            if rule.url:
                print(f"      source: {rule.url}")
        for source in pack.sources:
            link = f" <{source.url}>" if source.url else ""
            print(f"  source [{source.marker}] {source.cite}{link}")
        print()
        if due:
            stale.append(f"{pack.jurisdiction} (reviewed {pack.reviewed_at})")
    if stale:
        print(
            f"warning: {len(stale)} pack(s) not reviewed for 12 months: {', '.join(stale)}",
            file=sys.stderr,
        )
    return 0
