"""Bulk-load contract files (events, consent, preferences, DNC, blocked periods) into the store.

The same writes as the API's ``record_events``, ``record_consent``, ``record_preferences``,
``dnc_add`` / ``dnc_remove`` and ``block_period``, fed from a CSV or Parquet file that is
validated first against its data contract (errors name the file, row and field). Writes go
in batches, each one transaction, so a large history loads with a progress bar and bounded
transaction size; replaying a file is a no-op for events (idempotent on ``event_id``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.definitions import CEILING_COLUMNS, ORACLE_COLUMNS

#: Columns of simulated files that are ground truth for model evaluation, not store data.
_SIMULATED_TRUTH = frozenset((*ORACLE_COLUMNS.values(), *CEILING_COLUMNS.values()))
DEFAULT_BATCH = 5_000


@dataclass
class LoadSummary:
    """What a load did: rows read, stored, replayed (duplicates) and refused by the store."""

    record: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    file_rejects: int = 0
    store_rejects: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "file_rejects": self.file_rejects,
            "store_rejects": len(self.store_rejects),
        }


def _clean(record: Mapping[str, Any]) -> dict[str, Any]:
    """A row as the store's contracts take it: no missing values, Python datetimes."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        if key in _SIMULATED_TRUTH or value is None or value is pd.NaT:
            continue
        if isinstance(value, float) and value != value:
            continue
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        out[key] = value
    return out


def _writer(store: Any, record: str) -> Callable[[Sequence[dict[str, Any]]], Any]:
    """The store method that takes a batch of this record type."""
    if record == "events":
        return store.record_events
    if record == "consent":
        return store.record_consent
    if record == "preferences":
        return store.record_preferences
    if record == "blocked_periods":
        return store.block_period
    if record == "dnc":

        def write_dnc(rows: Sequence[dict[str, Any]]) -> Any:
            # additions and removals keep their file order: consecutive runs per action
            total, offset = None, 0
            for action, run in _runs(rows, lambda r: r.get("action", "add")):
                result = (store.dnc_add if action == "add" else store.dnc_remove)(run)
                total = _merge(total, result, offset)
                offset += len(run)
            return total

        return write_dnc
    raise ValueError(
        f"record type {record!r}: use events, consent, preferences, dnc or blocked_periods"
    )


def _runs(
    rows: Sequence[dict[str, Any]], key: Callable[[dict[str, Any]], Any]
) -> Iterator[tuple[Any, list]]:
    run: list[dict[str, Any]] = []
    current: Any = None
    for row in rows:
        k = key(row)
        if run and k != current:
            yield current, run
            run = []
        current = k
        run.append(row)
    if run:
        yield current, run


def _merge(total: Any, result: Any, offset: int) -> Any:
    if total is None:
        total = type(result)()
    total.accepted += result.accepted
    total.duplicates += result.duplicates
    total.rejected.extend((i + offset, e) for i, e in result.rejected)
    return total


def load_frame(
    store: Any,
    frame: pd.DataFrame,
    record: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Callable[[int], None] | None = None,
) -> LoadSummary:
    """Write an already validated frame of ``record`` rows into ``store`` in batches."""
    if batch_size < 1:
        raise ValueError("batch size must be at least 1")
    write = _writer(store, record)
    summary = LoadSummary(record, rows=len(frame))
    for start in range(0, len(frame), batch_size):
        part = frame.iloc[start : start + batch_size]
        rows = [_clean(r) for r in part.to_dict("records")]
        result = write(rows)
        summary.accepted += result.accepted
        summary.duplicates += result.duplicates
        # the store's indexes are per batch: report 1-based positions among the loaded rows
        # (the file's data rows when it had no invalid rows)
        summary.store_rejects.extend((start + i + 1, e) for i, e in result.rejected)
        summary.store_rejects.extend(
            (start + i + 1, f"event_id {event_id!r} is already stored with other content")
            for i, event_id in getattr(result, "conflicts", ())
        )
        summary.store_rejects.sort()
        if progress is not None:
            progress(len(part))
    return summary
