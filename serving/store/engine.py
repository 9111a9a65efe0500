"""The store's database engine: where it lives, how SQLite is set up (WAL, durable writes,
busy timeout, ``BEGIN IMMEDIATE``), and how lock waits are told apart from other errors."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from features.paths import DATA_DIR
from serving.store.checkpoint import REQUEST_PATH_CHECKPOINT_PAGES

DEFAULT_DB_PATH = DATA_DIR / "contactgate.db"
DB_URL_ENV = "CONTACTGATE_DB_URL"
SQLITE_BUSY_TIMEOUT_S = 30.0


def default_url() -> str:
    """``CONTACTGATE_DB_URL`` or the SQLite file under ``data/``."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{DEFAULT_DB_PATH}"


def busy_timeout(conn: Connection, seconds: float) -> None:
    """Set SQLite's busy timeout on the driver connection unless it is set so already (the
    pooled connection remembers it; outside any transaction: a statement through SQL Core
    would begin one). Reads on a connection a dial left at its short wait can only fail
    sooner, never wrongly: in WAL mode they take no lock."""
    millis = int(seconds * 1000)
    info = conn.connection.info
    if info.get("busy_timeout_ms") == millis:
        return
    cursor = conn.connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={millis}")
    finally:
        cursor.close()
    info["busy_timeout_ms"] = millis


def is_lock_wait(exc: BaseException) -> bool:
    """SQLite's "database is locked" or PostgreSQL's lock timeout (SQLSTATE 55P03)."""
    orig = getattr(exc, "orig", None)
    return "locked" in str(orig).lower() or getattr(orig, "sqlstate", None) == "55P03"


def _enable_wal(cur: Any) -> None:
    """Put the database in WAL mode (persistent in the file, so usually already on).

    Switching a brand-new file needs an exclusive lock, and SQLite may answer "database is
    locked" at once, without the busy handler, while another process or thread opens the
    same new file (service workers starting together): retry for up to the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            if str(cur.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
                cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def create_store_engine(url: str) -> Engine:
    """The SQLAlchemy engine of a store URL (SQLite or PostgreSQL; anything else raises)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
            pool_size=8,
            max_overflow=56,
            pool_timeout=60,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from the driver so BEGIN IMMEDIATE is possible.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            _enable_wal(cur)
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            cur.execute("PRAGMA synchronous=FULL")  # durable before acknowledged
            # Reads of hot pages without a system call per page; the cache is per connection.
            cur.execute("PRAGMA mmap_size=268435456")
            cur.execute("PRAGMA cache_size=-16384")
            # checkpoints run on Store's background thread (serving.store.checkpoint)
            cur.execute(f"PRAGMA wal_autocheckpoint={REQUEST_PATH_CHECKPOINT_PAGES}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed,
            pool_size=10,
            max_overflow=50,
            pool_pre_ping=True,
            pool_timeout=60,
            connect_args={"connect_timeout": 5},
        )
    raise ValueError(
        f"{DB_URL_ENV}: unsupported database {parsed.get_backend_name()!r}; use sqlite or postgresql+psycopg"
    )
