"""A small campaign and the store it is screened against, for the batch-screening tests
(local and on a cluster): fictional numbers, a do-not-call registry listing one of them, a
history of contacts, a few unparseable numbers."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

AT = dt.datetime(2026, 6, 16, 14, 0, tzinfo=dt.UTC)
LISTED = "+13055550199"


def seed_store(store: Any) -> None:
    """Registries in force (one number listed) and 120 past contacts of 40 numbers."""
    store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=2), [LISTED])
    # Florida keeps its own do-not-call list: without a snapshot its numbers are withheld
    store.import_registry("US_FL_DNC", AT - dt.timedelta(days=2), [], allow_empty=True)
    history = [
        {"event_id": f"h{i}", "number": f"+1305555{100 + i % 40:04d}",
         "ts": AT - dt.timedelta(hours=3 + i), "kind": "contact", "channel": "call",
         "outcome": "no_answer"}
        for i in range(120)
    ]  # fmt: skip
    store.record_events(history)


def campaign_records(rows: int = 230) -> list[dict[str, str]]:
    """Campaign rows: 60 numbers, every 23rd unparseable, every 31st (from 5) listed."""
    records = []
    for i in range(rows):
        number = f"+1305555{100 + i % 60:04d}" if i % 23 else "not-a-number"
        if i % 31 == 5:
            number = LISTED
        records.append(
            {
                "number": number,
                "channel": "sms" if i % 7 == 3 else "call",
                "at": AT.isoformat(),
                "ref": f"crm-{i}",
                "campaign_id": f"c{i % 3}",
            }  # fmt: skip
        )
    return records


def write_campaign(path: Path, rows: int = 230) -> list[dict[str, str]]:
    """:func:`campaign_records` written as a CSV file; returns them."""
    records = campaign_records(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return records
