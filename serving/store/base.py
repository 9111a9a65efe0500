"""What every part of the store shares: the engine and keys, read and write transactions,
number locks, and the number → keyed-hash lookups.

Concurrency: every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` (one writer
at a time, readers never blocked under WAL); on PostgreSQL writers that touch a number take
``pg_advisory_xact_lock`` on its hash.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Self

from sqlalchemy import Connection, Engine, bindparam, func, select, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from features.phone import normalize
from serving.store import tables as t
from serving.store.checkpoint import WalCheckpointer
from serving.store.crypto import NumberCrypto
from serving.store.engine import SQLITE_BUSY_TIMEOUT_S, busy_timeout, is_lock_wait
from serving.store.errors import StoreBusy, StoreUnavailable
from serving.store.identity import StoreGuard, sqlite_path
from serving.store.sql import chunks, now_us, tuples

#: How long the readiness probe waits for the writer slot: a store that cannot take a write
#: in this time is not ready to acknowledge one.
PROBE_WAIT_S = 2.0
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")


def e164_of(raw: str) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, reason) for a number as given."""
    rec = normalize(raw)
    if not rec.valid or rec.e164 is None:
        return None, f"number: {rec.invalid_reason}"
    return rec.e164, None


@functools.cache
def _lookup_statements() -> tuple[object, object]:
    """Which of these event ids exist; which of these number hashes are erased."""
    e, tomb = t.events, t.tombstones
    ids = select(e.c.event_id).where(e.c.event_id.in_(bindparam("ids", expanding=True)))
    erased = select(tomb.c.number_hash).where(
        tomb.c.number_hash.in_(bindparam("h", expanding=True))
    )
    return ids, erased


class StoreBase:
    """The engine, the keys and the transactions the store's parts are written against."""

    def __init__(self, engine: Engine, crypto: NumberCrypto) -> None:
        self._engine = engine
        self._crypto = crypto
        self.dialect: str = engine.dialect.name
        self._closed = False
        self._writers = threading.RLock() if self.dialect == "sqlite" else None
        self.checkpointer: WalCheckpointer | None = None
        path = sqlite_path(engine.url.database) if self.dialect == "sqlite" else None
        #: the store file's identity, checked around every transaction (identity.py)
        self.guard = StoreGuard(path)
        self.store_id: str | None = None  # read at open (readiness table)
        if path is not None:
            self.checkpointer = WalCheckpointer(path).start()
            # the thread holds no reference to the store: stop it when the store is dropped
            weakref.finalize(self, self.checkpointer.stop, 0)

    # ------------------------------------------------------------------ lifecycle
    @property
    def safe_url(self) -> str:
        """The URL with any password masked (for logs and messages)."""
        return self._engine.url.render_as_string(hide_password=True)

    @property
    def crypto(self) -> NumberCrypto:
        return self._crypto

    def close(self) -> None:
        """Release every pooled connection."""
        self._closed = True
        if self.checkpointer is not None:
            self.checkpointer.stop()
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def ping(self) -> None:
        """Raise :class:`StoreUnavailable` unless a round trip to the database succeeds.

        Used for fail-closed behaviour and ``/readyz``. Reads the schema version table, not
        just ``SELECT 1``: a connection can answer while the database behind it is gone or
        corrupt.
        """
        if self._closed:
            raise StoreUnavailable("store is closed")
        self.guard.check()
        try:
            with self._engine.connect() as conn:
                conn.execute(select(func.max(t.schema_version.c.version))).scalar_one()
        except SQLAlchemyError as exc:
            self.guard.note(exc)
            raise StoreUnavailable(
                f"store {self.safe_url} unreachable: {exc.__class__.__name__}"
            ) from exc

    def probe(self) -> None:
        """The readiness probe (``/readyz``): raise :class:`StoreUnavailable` unless the store
        is the one opened (file identity, store id) and a write commits. A store that can be
        read but not written, or was replaced behind the server, is not ready."""
        if self._closed:
            raise StoreUnavailable("store is closed")
        r = t.readiness
        try:
            with self._write(wait_s=PROBE_WAIT_S) as conn:
                found = conn.execute(
                    r.update()
                    .where(r.c.id == 1, r.c.store_id == self.store_id)
                    .values(probed_at=now_us())
                ).rowcount
        except StoreUnavailable:
            raise
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"store {self.safe_url} cannot be written: {exc.__class__.__name__}"
            ) from exc
        if found != 1:
            raise self.guard.fail(f"store {self.safe_url} is not the store opened (store id)")

    def _read_store_id(self) -> None:
        """Remember the store id written when the store was created (readiness table)."""
        with self._read() as conn:
            self.store_id = conn.execute(
                select(t.readiness.c.store_id).where(t.readiness.c.id == 1)
            ).scalar_one_or_none()

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def _write(self, wait_s: float | None = None) -> Iterator[Connection]:
        """A write transaction (SQLite: ``BEGIN IMMEDIATE``); commits on exit.

        On SQLite the writers of this process also queue on a lock first: SQLite has one
        writer slot, and a thread refused it sleeps in the busy handler in steps of up to
        100 ms, where a lock hands over the moment the other commits. Other processes still
        meet the busy handler; correctness never rests on this lock.

        ``wait_s``: give up after this long waiting for the writer slot (SQLite) or a
        number lock (PostgreSQL ``lock_timeout``) instead of the store's default, raising
        :class:`StoreBusy`."""
        guard = self.guard
        guard.check()
        writers = self._writers
        if writers is not None and not writers.acquire(timeout=-1 if wait_s is None else wait_s):
            raise StoreBusy(f"store busy: no writer slot within {wait_s:g} s")
        try:
            with self._engine.connect() as conn:
                if self.dialect == "sqlite":
                    busy_timeout(conn, SQLITE_BUSY_TIMEOUT_S if wait_s is None else wait_s)
                try:
                    conn.execution_options(sqlite_begin="IMMEDIATE")
                    with conn.begin():
                        if wait_s is not None and self.dialect == "postgresql":
                            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait_s * 1000)}")
                        yield conn
                except OperationalError as exc:
                    if wait_s is not None and is_lock_wait(exc):
                        raise StoreBusy(
                            f"store busy: lock not granted within {wait_s:g} s"
                        ) from exc
                    guard.note(exc)
                    raise
                except DBAPIError as exc:
                    guard.note(exc)
                    raise
        finally:
            if writers is not None:
                writers.release()
        # Committed: into the store's file? If it was removed or replaced meanwhile, the
        # write is not acknowledged (the caller's idempotent retry finds the store again).
        guard.check()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot (WAL on SQLite, MVCC on PostgreSQL)."""
        self.guard.check()
        try:
            with self._engine.connect() as conn, conn.begin():
                yield conn
        except DBAPIError as exc:
            self.guard.note(exc)
            raise

    def _lock_numbers(self, conn: Connection, hashes: Iterable[bytes]) -> None:
        """PostgreSQL: advisory transaction locks on these numbers, in a fixed order (so two
        batches never deadlock). SQLite needs none: ``BEGIN IMMEDIATE`` already serialises."""
        if self.dialect != "postgresql":
            return
        ids = sorted({NumberCrypto.lock_id(h) for h in hashes})
        if ids:  # one round trip; unnest yields the sorted array in order
            conn.execute(
                text(
                    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(:ks AS bigint[])) AS k"
                ),
                {"ks": ids},
            )

    def _tombstoned(self, conn: Connection, hashes: Iterable[bytes]) -> set[bytes]:
        hashes = list(set(hashes))
        found: set[bytes] = set()
        stmt = _lookup_statements()[1]
        for chunk in chunks(hashes):
            found.update(bytes(h) for (h,) in tuples(conn, stmt, {"h": list(chunk)}))
        return found

    def _existing_event_ids(self, conn: Connection, ids: list[str]) -> set[str]:
        stmt = _lookup_statements()[0]
        found: set[str] = set()
        for chunk in chunks(list(set(ids))):
            found.update(i for (i,) in tuples(conn, stmt, {"ids": list(chunk)}))
        return found

    # ------------------------------------------------------------------ numbers
    def number_hash(self, number: str) -> bytes:
        """Keyed hash of a number as given (normalised first); ValueError if invalid."""
        e164, err = e164_of(number)
        if e164 is None:
            raise ValueError(err)
        return self._crypto.number_hash(e164)

    def _hash_of(self, number: str) -> tuple[bytes, str]:
        """(keyed hash, E.164) of a number. Canonical E.164 is hashed as is (the fast path);
        anything else is normalised first, so "+1 212-234-5678" still finds its rows."""
        e164 = number if _E164_RE.match(number) else (normalize(number).e164 or number)
        return self._crypto.number_hash(e164), e164

    def _hash_map(self, numbers: Sequence[str]) -> dict[bytes, str]:
        """Keyed hash → E.164 for the distinct numbers asked for."""
        return dict(self._hash_of(n) for n in numbers)
