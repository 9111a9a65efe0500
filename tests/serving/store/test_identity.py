"""The store file under a running process: removed, replaced, damaged, locked, never
created on its own; owner-only files; WAL checkpoints on a brand-new file (real SQLite
files in a temp dir, PostgreSQL where set)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from serving.store import Store, StoreUnavailable
from tests.support.store import AT, NY, contact


def _file(store: Store) -> Path:
    return Path(store._engine.url.database)


def _opt_out(event_id: str, number: str = NY) -> dict:
    return {"event_id": event_id, "number": number, "ts": AT, "kind": "opt_out"}


def test_a_removed_store_file_fails_every_read_and_write(sqlite_store: Store) -> None:
    assert sqlite_store.record_events([_opt_out("before")]).accepted == 1
    path = _file(sqlite_store)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    with pytest.raises(StoreUnavailable, match="removed"):
        sqlite_store.record_events([_opt_out("after")])
    with pytest.raises(StoreUnavailable):
        sqlite_store.load_states([NY], AT)
    with pytest.raises(StoreUnavailable):
        sqlite_store.probe()
    assert not path.exists()  # and nothing was created in its place


def test_a_replaced_store_file_is_not_written_and_stays_failed(
    sqlite_store: Store, tmp_path: Path, store_env: dict[str, str]
) -> None:
    path = _file(sqlite_store)
    other = Store.open(f"sqlite:///{tmp_path / 'other.db'}")
    other.close()
    os.replace(tmp_path / "other.db", path)  # a different (valid, empty) store moved in
    with pytest.raises(StoreUnavailable, match="replaced"):
        sqlite_store.dnc_add([{"number": NY, "added_at": AT}])
    with pytest.raises(StoreUnavailable):
        sqlite_store.probe()
    # and it stays failed: the decisions made on it could not be justified
    with pytest.raises(StoreUnavailable, match="replaced"):
        sqlite_store.ping()


def test_a_write_committed_while_the_file_is_removed_is_not_acknowledged(
    sqlite_store: Store,
) -> None:
    """The file goes between the check before the transaction and the commit: the commit
    lands in the removed inode, and the caller must not be told it was stored."""
    path = _file(sqlite_store)
    with pytest.raises(StoreUnavailable, match="removed"), sqlite_store._write() as conn:
        conn.exec_driver_sql("SELECT 1")
        path.unlink()


def test_a_damaged_store_fails_writes_as_well_as_reads(
    sqlite_store: Store, store_env: dict[str, str]
) -> None:
    sqlite_store.record_events([contact(f"c{i}", NY, AT) for i in range(200)])
    path = _file(sqlite_store)
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    with open(path, "r+b") as f:  # overwrite every page but the first with garbage
        f.seek(4096)
        f.write(os.urandom(size - 4096))
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver says first
        sqlite_store.load_states([NY], AT)
    with pytest.raises(StoreUnavailable, match="damaged"):
        sqlite_store.dnc_add([{"number": NY, "added_at": AT}])
    with pytest.raises(StoreUnavailable, match="damaged"):
        sqlite_store.erase_subject(NY)
    with pytest.raises(StoreUnavailable):
        sqlite_store.probe()


def test_the_probe_writes_so_a_store_that_cannot_take_a_write_is_not_ready(
    sqlite_store: Store,
) -> None:
    sqlite_store.probe()
    holder = sqlite3.connect(_file(sqlite_store), isolation_level=None, timeout=0.1)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the only writer slot
    try:
        sqlite_store.ping()  # reads still answer …
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="cannot be written|busy"):
            sqlite_store.probe()  # … but the store cannot acknowledge a write
        assert time.monotonic() - started < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    sqlite_store.probe()


def test_the_service_never_creates_a_store_on_its_own(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    path = tmp_path / "missing" / "contactgate.db"
    with pytest.raises(StoreUnavailable, match="store init"):
        Store.open(f"sqlite:///{path}", create=False)
    assert not path.exists()
    Store.open(f"sqlite:///{path}").close()  # what `contactgate store init` does
    Store.open(f"sqlite:///{path}", create=False).close()


def test_an_empty_database_is_not_a_store(pg_url: str, store_env: dict[str, str]) -> None:
    with pytest.raises(StoreUnavailable, match="store init"):
        Store.open(pg_url, create=False)
    Store.open(pg_url).close()
    opened = Store.open(pg_url, create=False)
    try:
        opened.probe()
    finally:
        opened.close()


def test_the_probe_notices_a_postgres_store_replaced_behind_it(
    pg_url: str, store_env: dict[str, str]
) -> None:
    opened = Store.open(pg_url)
    try:
        opened.probe()
        with opened._write() as conn:  # a restore of another store's dump, say
            conn.exec_driver_sql("UPDATE readiness SET store_id = 'another'")
        with pytest.raises(StoreUnavailable, match="not the store opened"):
            opened.probe()
    finally:
        opened.close()


def test_store_wal_and_backup_files_are_owner_only(sqlite_store: Store, tmp_path: Path) -> None:
    sqlite_store.record_events([_opt_out("x")])
    path = _file(sqlite_store)
    backup = sqlite_store.backup(tmp_path / "backups" / "copy.db")
    for file in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), backup):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_the_checkpointer_checkpoints_a_brand_new_store_file(
    tmp_path: Path, store_env: dict[str, str]
) -> None:
    """The main database file alone (without its WAL) holds a committed row once the
    background thread has run: it copied the log back."""
    path = tmp_path / "fresh.db"
    store = Store.open(f"sqlite:///{path}")
    try:
        store.record_events([_opt_out("checkpointed")])
        deadline = time.monotonic() + 10
        copy = tmp_path / "main-file-only.db"
        while True:
            shutil.copyfile(path, copy)
            with sqlite3.connect(copy) as raw:
                tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master")}
                found = (
                    "events" in tables
                    and raw.execute(
                        "SELECT count(*) FROM events WHERE event_id = 'checkpointed'"
                    ).fetchone()[0]
                )
            if found or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert found, f"not checkpointed: last {store.checkpointer.last}"
    finally:
        store.close()
