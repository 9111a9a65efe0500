"""Store maintenance: backups, retention, WAL checkpoints, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import pytest

from features.schema import Consent, DncEntry, Event
from serving.store import (
    MIN_RETENTION_DAYS,
    Store,
)
from tests.support.store import AT, FL, NY, contact, fictional


def test_backup_is_a_readable_copy(store: Store, tmp_path: Path, store_env: dict[str, str]) -> None:
    store.record_events([contact("b1", NY, AT - dt.timedelta(hours=1))])
    store.import_registry("GB_TPS", AT, ["+447400123456"])
    target = tmp_path / "backup" / "copy.db"
    if store.dialect != "sqlite":
        with pytest.raises(ValueError, match="pg_dump"):
            store.backup(target)
        return
    assert store.backup(target) == target
    with pytest.raises(ValueError, match="already exists"):
        store.backup(target)
    with Store.open(f"sqlite:///{target}") as copy:
        assert copy.counts() == store.counts()
        assert len(copy.load_states([NY], AT)[NY].history) == 1
        assert copy.load_states(["+447400123456"], AT)["+447400123456"].registries == {"GB_TPS"}


def test_retention_drops_old_raw_events_only(store: Store) -> None:
    old = AT - dt.timedelta(days=MIN_RETENTION_DAYS + 30)
    store.record_events(
        [
            contact("old-contact", NY, old),
            Event(event_id="old-reply", number=NY, ts=old, kind="reply", text="hi"),
            Event(event_id="old-optout", number=NY, ts=old, kind="opt_out"),
            Event(event_id="old-purchase", number=NY, ts=old, kind="purchase"),
            contact("recent", NY, AT - dt.timedelta(days=3)),
        ]
    )
    store.record_consent([Consent(number=NY, type="written", granted_at=old, evidence="paper")])
    store.dnc_add([DncEntry(number=NY, added_at=old)])
    store.erase_subject(FL)
    with pytest.raises(ValueError, match="below 400"):
        store.retention(30, AT)
    counts = store.retention(MIN_RETENTION_DAYS, AT)
    assert counts["events_deleted"] == 1  # the old contact; replies are kept (a STOP binds)
    assert (counts["consent_kept"], counts["dnc_kept"], counts["tombstones_kept"]) == (1, 1, 1)
    kinds = sorted(h.kind for h in store.load_states([NY], AT)[NY].history)
    assert kinds == ["contact", "opt_out", "purchase", "reply"]
    assert store.subject_report(NY)["consent"][0]["evidence"] == "paper"


def test_wal_checkpoints_run_off_the_request_path(sqlite_store: Store, sqlite_url: str) -> None:
    """Commits leave their pages in the -wal file, even past SQLite's default automatic
    checkpoint (1,000 pages), so no request pays for copying them back; the store's own
    thread checkpoints them into the database file, and stops with the store."""
    import sqlite3

    from serving.store.checkpoint import WalCheckpointer

    database = Path(sqlite_url.removeprefix("sqlite:///"))
    wal = Path(f"{database}-wal")
    own = sqlite_store.checkpointer
    assert own is not None and own.running
    own.stop()  # first: nothing copies the log back while the rows are written
    assert not own.running
    size = database.stat().st_size
    rows = [
        {"number": n, "decision": "allow", "reasons": [], "at": AT, "recorded_at": AT,
         "note": "x" * 3000}
        for n in fictional(1000) * 2
    ]  # fmt: skip
    for start in range(0, len(rows), 100):
        sqlite_store.append_decisions(rows[start : start + 100])
    assert wal.stat().st_size > 1500 * 4096  # well past the default 1,000-page checkpoint
    assert database.stat().st_size == size  # ... and no commit copied it back

    background = WalCheckpointer(database, interval_s=0.05).start()
    try:
        deadline = time.monotonic() + 20

        def copied_back() -> bool:
            return database.stat().st_size > size + 1000 * 4096 and background.checkpoints > 0

        while not copied_back() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert copied_back()
    finally:
        background.stop()
    assert not background.running
    with sqlite3.connect(database) as raw:
        busy, log_pages, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and copied == log_pages
    assert len(list(sqlite_store.export_decisions(AT))) == 2000
