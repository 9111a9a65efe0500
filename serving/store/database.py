"""The compliance store: events, consent, preferences, DNC, registries, tombstones, audit.

One class, :class:`Store`, over SQLAlchemy Core. SQLite (WAL, foreign keys on, busy
timeout, ``synchronous=FULL`` so a write is durable before it is acknowledged) is the
default, under ``data/contactgate.db``; PostgreSQL via ``CONTACTGATE_DB_URL``
(``postgresql+psycopg://…``). Migrations run on :meth:`Store.open`.

Numbers are normalised with :func:`features.phone.normalize` (E.164 is the hash input),
looked up by keyed hash and stored encrypted (:mod:`serving.crypto`).

Concurrency: every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` (one writer
at a time, readers never blocked under WAL); on PostgreSQL writers that touch a number take
``pg_advisory_xact_lock`` on its hash. :meth:`Store.number_lock` is the pre-dial
authorisation primitive built on that: check and record in one serialised transaction.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import json
import os
import re
import threading
import time
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pydantic import ValidationError
from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from features.io import columns_for
from features.phone import e164_batch, normalize
from features.schema import BlockedPeriod, Consent, DncEntry, Event, Preference
from serving.crypto import PURPOSE_EVIDENCE, PURPOSE_NUMBER, PURPOSE_TEXT, NumberCrypto
from serving.domain.state import HistoryEvent, NumberState, WorldState
from serving.store import tables as t
from serving.store.checkpoint import REQUEST_PATH_CHECKPOINT_PAGES, WalCheckpointer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DB_PATH = PROJECT_ROOT / "data" / "contactgate.db"
DB_URL_ENV = "CONTACTGATE_DB_URL"

#: Event kinds that matter for ever, however old: an opt-out never expires (TCPA
#: revocation, RULES.md "US federal"), complaints feed ``complaints_ever``, purchases,
#: inquiries and contracts carry EBR/implied-consent exemptions of up to 2 years (CASL) or
#: for as long as a contract is in force (Bloctel). Inbound replies too: a "STOP" reply
#: is an opt-out (and "START" undoes one), however long ago it came. They are loaded
#: whatever the lookback and :meth:`Store.retention` never drops them.
DURABLE_KINDS: tuple[str, ...] = (
    "opt_out",
    "reply",
    "opt_in",
    "complaint",
    "refusal",
    "purchase",
    "inquiry",
    "contract_start",
    "contract_end",
)
#: What a consent's ``evidence`` reads as in a decision's state: documented, not decrypted.
EVIDENCE_HELD = "(documented; encrypted at rest)"
#: Raw events younger than this are never dropped by retention: rule packs look back at
#: most 60 days (FR refusal cooling-off), features 90 days, and ``load_states`` 400 days.
MIN_RETENTION_DAYS = 400
#: SQLite allows 32,766 bound variables; PostgreSQL has no small limit. One IN-list chunk.
IN_CHUNK = 2000
REGISTRY_BATCH = 50_000
#: How far a registry snapshot's instant may lie ahead of this machine's clock.
MAX_SNAPSHOT_CLOCK_SKEW = dt.timedelta(minutes=10)
SQLITE_BUSY_TIMEOUT_S = 30.0

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_E164_RE = re.compile(r"^\+[1-9]\d{6,14}$")
#: Event contract fields the events table keeps (number and text are stored as hash /
#: ciphertext; the simulator's ``p_*_observable`` evaluation columns are not kept at all).
_EVENT_FIELDS = tuple(
    c.name for c in columns_for(Event) if c.name in ("number", "text") or c.name in t.events.c
)
_CONSENT_FIELDS = tuple(c.name for c in columns_for(Consent))


# ----------------------------------------------------------------------------- helpers
def to_us(instant: dt.datetime) -> int:
    """Microseconds since the epoch (UTC) of an aware datetime; naive ones are refused."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: give an aware instant (UTC)")
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int | None) -> dt.datetime | None:
    """Inverse of :func:`to_us` (aware, UTC); None stays None."""
    return None if us is None else _EPOCH + dt.timedelta(microseconds=us)


def _now_us() -> int:
    return time.time_ns() // 1000


def default_url() -> str:
    """``CONTACTGATE_DB_URL`` or the SQLite file under ``data/``."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{DEFAULT_DB_PATH}"


class StoreUnavailable(RuntimeError):
    """The database cannot be reached; callers fail closed (``SYSTEM_UNAVAILABLE``)."""


class StoreBusy(StoreUnavailable):
    """A write waited longer than its caller allows for the writer slot or a number lock
    (``authorize`` answers ``SYSTEM_UNAVAILABLE`` rather than keep a dialer waiting)."""


def _busy_timeout(conn: Connection, seconds: float) -> None:
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


def _is_lock_wait(exc: BaseException) -> bool:
    """SQLite's "database is locked" or PostgreSQL's lock timeout (SQLSTATE 55P03)."""
    orig = getattr(exc, "orig", None)
    return "locked" in str(orig).lower() or getattr(orig, "sqlstate", None) == "55P03"


class AttemptIdConflict(ValueError):
    """An ``authorize`` attempt id that is already the id of another number's event (or of
    an event that is not a contact): never treated as a replay."""


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer version of contactgate."""


@dataclass
class WriteResult:
    """Outcome of a batch write: per-item rejects never abort the valid items."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The API's response shape (API.md, ``record_events``)."""
        return {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"index": i, "error": e} for i, e in self.rejected],
        }


@dataclass
class ImportResult:
    """Outcome of a registry import. ``rejected`` keeps the first rejects (index, value,
    error); ``rejected_count`` counts them all (a callback receives every one)."""

    registry: str
    snapshot_at: dt.datetime
    snapshot_id: int
    accepted: int = 0
    listed: int = 0  # distinct numbers listed in the snapshot now in force
    rejected_count: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "snapshot_at": self.snapshot_at.isoformat(),
            "accepted": self.accepted,
            "listed": self.listed,
            "rejected": [{"index": i, "error": e} for i, _, e in self.rejected],
            "rejected_count": self.rejected_count,
        }


class ImportAborted(ValueError):
    """A registry import was refused before the swap; the previous snapshot stays in force."""


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "record"
    return f"{loc}: {err.get('msg', 'invalid')}"


def _coerce(items: Sequence[Any], model: type) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (index, record or None, error) for records given as models or mappings."""
    for i, item in enumerate(items):
        if isinstance(item, model):
            yield i, item, None
            continue
        try:
            yield i, model.model_validate(item), None
        except ValidationError as exc:
            yield i, None, _first_error(exc)
        except (TypeError, ValueError) as exc:
            yield i, None, str(exc)


def _e164(raw: str) -> tuple[str | None, str | None]:
    """(E.164, None) or (None, reason) for a number as given."""
    rec = normalize(raw)
    if not rec.valid or rec.e164 is None:
        return None, f"number: {rec.invalid_reason}"
    return rec.e164, None


def normalize_batch(
    raws: Sequence[str], default_region: str | None
) -> list[tuple[str | None, str | None]]:
    """(E.164, None) or (None, reason) per raw number, as :func:`normalize` decides.

    Validity and E.164 come from :func:`features.phone.e164_batch` (the same
    checks, without time zones and line type); the reason of each reject from the
    uncached ``normalize`` (5 M one-off numbers must not fill its per-number cache).
    """
    return _with_reasons(raws, e164_batch(raws, default_region), default_region)


def _with_reasons(
    raws: Sequence[str], e164s: Sequence[str | None], default_region: str | None
) -> list[tuple[str | None, str | None]]:
    uncached = getattr(normalize, "__wrapped__", normalize)
    return [
        (e164, None)
        if e164 is not None
        else (None, uncached(raw, default_region).invalid_reason or "invalid")
        for raw, e164 in zip(raws, e164s, strict=True)
    ]


@functools.cache
def _history_statement() -> tuple[Any, list[str]]:
    """The read of :meth:`Store.history_frame` (built once) and its column names."""
    e = t.events
    h_in = bindparam("h", expanding=True)
    since, until = bindparam("since"), bindparam("until")
    stored = [n for n in _EVENT_FIELDS if n not in ("number", "text") and n in e.c]
    names = ["number_hash", *stored, "text_enc"]
    cols = [e.c[name] for name in names]
    stmt = union_all(
        select(*cols).where(e.c.number_hash.in_(h_in), e.c.ts >= since, e.c.ts < until),
        select(*cols).where(e.c.number_hash.in_(h_in), e.c.kind.in_(DURABLE_KINDS), e.c.ts < since),
    )
    return stmt, names


def _frame_dtype(col: Any) -> Any:
    """The pandas dtype of a contract column (as :mod:`features.io` loads files)."""
    from features.io import _pandas_dtype

    return _pandas_dtype(col)


@functools.cache
def _state_statements() -> tuple[Any, ...]:
    """The six batched reads of :meth:`Store.load_states`, built once (building a SQLAlchemy
    statement costs more than running it on an indexed table). Parameters: ``h`` (the
    expanding list of number hashes), ``at``, ``since`` and ``until`` (epoch microseconds;
    events are read up to ``until``, everything else as of ``at``)."""
    e, c, d, p = t.events, t.consent, t.dnc, t.preferences
    h_in = bindparam("h", expanding=True)
    at, since, until = bindparam("at"), bindparam("since"), bindparam("until")
    cols = (
        e.c.number_hash, e.c.ts, e.c.event_id, e.c.kind, e.c.channel, e.c.purpose, e.c.subject,
        e.c.campaign_id, e.c.dial_mode, e.c.outcome, e.c.duration_s, e.c.text_enc,
    )  # fmt: skip
    events = union_all(
        select(*cols).where(e.c.number_hash.in_(h_in), e.c.ts >= since, e.c.ts <= until),
        select(*cols).where(e.c.number_hash.in_(h_in), e.c.kind.in_(DURABLE_KINDS), e.c.ts < since),
    )
    consent = select(c).where(c.c.number_hash.in_(h_in), c.c.granted_at <= at).order_by(c.c.id)
    dnc = (
        select(d)
        .where(d.c.number_hash.in_(h_in), d.c.added_at <= at)
        .order_by(d.c.added_at, d.c.id)
    )
    prefs = (
        select(p)
        .where(p.c.number_hash.in_(h_in), p.c.updated_at <= at)
        .order_by(p.c.updated_at, p.c.id)
    )
    listings = t.registry_listings
    registries = (
        select(listings.c.number_hash, t.registry_current.c.registry)
        .select_from(t.registry_current)
        .join(listings, listings.c.snapshot_id == t.registry_current.c.snapshot_id)
        .where(listings.c.number_hash.in_(h_in))
    )
    tombs = select(t.tombstones.c.number_hash).where(t.tombstones.c.number_hash.in_(h_in))
    return events, consent, dnc, prefs, registries, tombs


_EVENT_COLUMNS = (
    "number_hash", "ts", "event_id", "kind", "channel", "purpose", "subject", "campaign_id",
    "dial_mode", "outcome", "duration_s", "text_enc",
)  # fmt: skip


@functools.cache
def _events_sql(paramstyle: str, n: int) -> str:
    """The history read of :func:`_state_statements` as driver SQL for ``n`` hashes."""
    mark = "?" if paramstyle == "qmark" else "%s"
    holes = ", ".join([mark] * n)
    cols = ", ".join(_EVENT_COLUMNS)
    kinds = ", ".join([mark] * len(DURABLE_KINDS))
    table = t.events.name
    return (
        f"SELECT {cols} FROM {table} WHERE number_hash IN ({holes}) AND ts >= {mark} "
        f"AND ts <= {mark} UNION ALL SELECT {cols} FROM {table} WHERE number_hash IN ({holes}) "
        f"AND kind IN ({kinds}) AND ts < {mark}"
    )


def _fetch_events(conn: Connection, stmt: Any, params: dict[str, Any]) -> list[tuple]:
    """The rows of the history read, as plain tuples in :data:`_EVENT_COLUMNS` order.

    Run on the driver's cursor (in the same transaction): for a screen of 1,000 numbers the
    SQL Core result rows cost about as much as the query itself. Only for the two dialects
    whose parameter style is known; anything else takes the Core path."""
    style = conn.dialect.paramstyle
    if style not in ("qmark", "format", "pyformat"):
        return [tuple(r) for r in conn.execute(stmt, params).all()]
    hashes = list(params["h"])
    sql = _events_sql(style, len(hashes))
    values = [*hashes, params["since"], params["until"], *hashes, *DURABLE_KINDS, params["since"]]
    with _driver_cursor(conn, sql) as cursor:
        cursor.execute(sql, values)
        return cursor.fetchall()


def _audit_json(value: Any) -> str:
    """An audit-log JSON column: compact, keys sorted, datetimes ISO-8601, anything else
    unusual as its ``str`` (orjson: ~7x faster than the standard library on these rows,
    and a screen writes two per contact)."""
    return orjson.dumps(value, default=str, option=_AUDIT_JSON_OPTIONS).decode()


_AUDIT_JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


@contextlib.contextmanager
def _driver_cursor(conn: Connection, sql: str) -> Iterator[Any]:
    """The driver's cursor inside ``conn``'s transaction. Driver errors are raised as SQL
    Core's (``IntegrityError``, ``OperationalError``, … of :mod:`sqlalchemy.exc`), as a Core
    execution would, so callers handle both paths alike."""
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.cursor()
    try:
        yield cursor
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, None, exc, dbapi_error) from exc
    finally:
        cursor.close()


#: Parameter styles whose SQL the driver helpers below can hand to the cursor directly.
_DRIVER_STYLES = ("qmark", "format", "pyformat")
_COMPILED: dict[tuple[int, str, tuple[str, ...]], tuple[Any, Any]] = {}


def _compiled(stmt: Any, dialect: Any, keys: tuple[str, ...] = ()) -> Any:
    """``stmt`` compiled for ``dialect`` (inserts: for these column ``keys``), once."""
    key = (id(stmt), dialect.name, keys)
    hit = _COMPILED.get(key)
    if hit is None or hit[0] is not stmt:  # the id of a statement that was dropped
        hit = _COMPILED[key] = (stmt, stmt.compile(dialect=dialect, column_keys=list(keys) or None))
    return hit[1]


def _rows(conn: Connection, stmt: Any, params: Mapping[str, Any] | None = None) -> tuple[
    tuple[str, ...], list[tuple]
]:  # fmt: skip
    """(column names, rows as plain tuples) of a SELECT, run on the driver's cursor inside
    ``conn``'s transaction.

    For statements built once (module-level, cached): executing through SQL Core costs
    ~75 µs a statement here against ~20 µs on the cursor, and a dial runs a dozen. Values
    come back as the driver gives them (bytes, ints, text), which is what the store's
    columns hold; other dialects take the Core path."""
    params = params or {}
    if conn.dialect.paramstyle not in _DRIVER_STYLES:
        result = conn.execute(stmt, dict(params))
        return tuple(result.keys()), [tuple(r) for r in result.all()]
    compiled = _compiled(stmt, conn.dialect)
    state = compiled.construct_expanded_state(dict(params))
    args = state.positional_parameters if compiled.positional else state.parameters
    with _driver_cursor(conn, state.statement) as cursor:
        cursor.execute(state.statement, args)
        return tuple(d[0] for d in cursor.description), cursor.fetchall()


def _mappings(
    conn: Connection, stmt: Any, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """:func:`_rows` as one dict per row."""
    names, rows = _rows(conn, stmt, params)
    return [dict(zip(names, row, strict=True)) for row in rows]


def _insert_rows(conn: Connection, stmt: Any, rows: Sequence[Mapping[str, Any]]) -> None:
    """An INSERT built once, for rows that all have the same keys, as one ``executemany`` on
    the driver's cursor inside ``conn``'s transaction (SQL Core's per-row parameter work
    costs more than SQLite's insert). Falls back to Core when a column would need a Python
    default the rows do not carry."""
    if not rows:
        return
    keys = tuple(rows[0])
    if conn.dialect.paramstyle not in _DRIVER_STYLES:
        conn.execute(stmt, list(rows))
        return
    compiled = _compiled(stmt, conn.dialect, keys)
    names = compiled.positiontup if compiled.positional else list(compiled.bind_names.values())
    if not set(names) <= set(keys):
        conn.execute(stmt, list(rows))
        return
    if compiled.positional:
        args: Sequence[Any] = [tuple(row[k] for k in names) for row in rows]
    else:
        args = rows
    with _driver_cursor(conn, compiled.string) as cursor:
        cursor.executemany(compiled.string, args)


@functools.cache
def _attempt_statement() -> Any:
    e = t.events
    return select(e.c.number_hash, e.c.kind, e.c.ts).where(e.c.event_id == bindparam("id"))


@functools.cache
def _lookup_statements() -> tuple[Any, Any]:
    """Which of these event ids exist; which of these number hashes are erased."""
    e, tomb = t.events, t.tombstones
    ids = select(e.c.event_id).where(e.c.event_id.in_(bindparam("ids", expanding=True)))
    erased = select(tomb.c.number_hash).where(
        tomb.c.number_hash.in_(bindparam("h", expanding=True))
    )
    return ids, erased


@functools.cache
def _insert_ignore(dialect: str, table: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING into ``table``, built once per dialect."""
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    return make(t.metadata.tables[table]).on_conflict_do_nothing()


@functools.cache
def _audit_insert() -> Any:
    return insert(t.decisions)


@functools.cache
def _world_statements() -> tuple[Any, Any]:
    """The two reads of :meth:`Store.world_state`, built once (parameter ``at``)."""
    snapshots = select(t.registry_current.c.registry, t.registry_snapshots.c.snapshot_at).join(
        t.registry_snapshots,
        t.registry_snapshots.c.snapshot_id == t.registry_current.c.snapshot_id,
    )
    bp = t.blocked_periods
    periods = select(bp).where(bp.c.end > bindparam("at")).order_by(bp.c.start, bp.c.id)
    return snapshots, periods


def _normalized_batches(
    numbers: Iterable[str], batch_size: int, default_region: str | None, workers: int
) -> Iterator[tuple[list[tuple[int, str]], list[tuple[str | None, str | None]]]]:
    """Yield (batch of (index, raw), normalised results) in input order, reading ahead at
    most ``2 × workers`` batches when a process pool normalises them."""

    def batches() -> Iterator[list[tuple[int, str]]]:
        batch: list[tuple[int, str]] = []
        for index, raw in enumerate(numbers):
            batch.append((index, raw))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    if workers <= 1:
        for batch in batches():
            yield batch, normalize_batch([raw for _, raw in batch], default_region)
        return
    # Workers run the light e164_batch (phonenumbers only); reasons are added here.
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent has threads (progress bar, pool) and open connections.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        for batch in batches():
            raws = [raw for _, raw in batch]
            pending.append((batch, pool.submit(e164_batch, raws, default_region)))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, _with_reasons([raw for _, raw in done], future.result(), default_region)
        while pending:
            done, future = pending.popleft()
            yield done, _with_reasons([raw for _, raw in done], future.result(), default_region)


def _chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


# ----------------------------------------------------------------------------- store
class Store:
    """The compliance store. Open with :meth:`open`; thread-safe (one engine, pooled).

    Every write is idempotent and committed before the method returns; a batch write
    rejects bad items individually and stores the rest.
    """

    def __init__(self, engine: Engine, crypto: NumberCrypto) -> None:
        self._engine = engine
        self._crypto = crypto
        self.dialect: str = engine.dialect.name
        self._closed = False
        self._writers = threading.RLock() if self.dialect == "sqlite" else None
        self.checkpointer: WalCheckpointer | None = None
        database = engine.url.database if self.dialect == "sqlite" else None
        if database and database != ":memory:" and not database.startswith("file:"):
            self.checkpointer = WalCheckpointer(database).start()
            # the thread holds no reference to the store: stop it when the store is dropped
            weakref.finalize(self, self.checkpointer.stop, 0)

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None, *, environ: Mapping[str, str] | None = None) -> Store:
        """Connect, check the keys, run pending migrations, return the store.

        ``url``: a SQLAlchemy URL; default ``CONTACTGATE_DB_URL`` or
        ``sqlite:///data/contactgate.db``. ``environ`` (default ``os.environ``) supplies
        ``CONTACTGATE_HMAC_KEY`` and ``CONTACTGATE_ENCRYPTION_KEY``; a missing or malformed
        key raises :class:`serving.keys.KeyConfigError` naming the variable, before any
        connection is made.
        """
        crypto = NumberCrypto.from_env(environ)
        url = url or (environ or os.environ).get(DB_URL_ENV) or default_url()
        engine = _create_engine(url)
        store = cls(engine, crypto)
        try:
            store._migrate()
        except SQLAlchemyError as exc:
            store.close()
            raise StoreUnavailable(
                f"store {store.safe_url}: {exc.__class__.__name__}: {exc}"
            ) from exc
        except BaseException:
            store.close()
            raise
        return store

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

    def __enter__(self) -> Store:
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
        try:
            with self._engine.connect() as conn:
                conn.execute(select(func.max(t.schema_version.c.version))).scalar_one()
        except SQLAlchemyError as exc:
            raise StoreUnavailable(
                f"store {self.safe_url} unreachable: {exc.__class__.__name__}"
            ) from exc

    def schema_version(self) -> int:
        """The migration version the database is at."""
        with self._read() as conn:
            return int(conn.execute(select(func.max(t.schema_version.c.version))).scalar() or 0)

    def _migrate(self) -> None:
        """Apply the steps of :data:`tables.MIGRATIONS` the database has not seen, under a
        lock so that several service workers starting together migrate once."""
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7305729431)"))
            t.schema_version.create(conn, checkfirst=True)
            current = int(conn.execute(select(func.max(t.schema_version.c.version))).scalar() or 0)
            if current > t.LATEST_VERSION:
                raise SchemaTooNew(
                    f"store {self.safe_url} is at schema version {current}, newer than this "
                    f"code ({t.LATEST_VERSION}); upgrade contactgate"
                )
            for step in t.MIGRATIONS:
                if step.version > current:
                    step.apply(conn)
                    conn.execute(
                        insert(t.schema_version).values(
                            version=step.version, description=step.description, applied_at=_now_us()
                        )
                    )

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
        writers = self._writers
        if writers is not None and not writers.acquire(timeout=-1 if wait_s is None else wait_s):
            raise StoreBusy(f"store busy: no writer slot within {wait_s:g} s")
        try:
            with self._engine.connect() as conn:
                if self.dialect == "sqlite":
                    _busy_timeout(conn, SQLITE_BUSY_TIMEOUT_S if wait_s is None else wait_s)
                try:
                    conn.execution_options(sqlite_begin="IMMEDIATE")
                    with conn.begin():
                        if wait_s is not None and self.dialect == "postgresql":
                            conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait_s * 1000)}")
                        yield conn
                except OperationalError as exc:
                    if wait_s is not None and _is_lock_wait(exc):
                        raise StoreBusy(
                            f"store busy: lock not granted within {wait_s:g} s"
                        ) from exc
                    raise
        finally:
            if writers is not None:
                writers.release()

    @contextlib.contextmanager
    def _read(self) -> Iterator[Connection]:
        """A read transaction: one consistent snapshot (WAL on SQLite, MVCC on PostgreSQL)."""
        with self._engine.connect() as conn, conn.begin():
            yield conn

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

    def _insert_ignore(self, table: t.Table):  # type: ignore[name-defined]
        return _insert_ignore(self.dialect, table.name)

    def _tombstoned(self, conn: Connection, hashes: Iterable[bytes]) -> set[bytes]:
        hashes = list(set(hashes))
        found: set[bytes] = set()
        stmt = _lookup_statements()[1]
        for chunk in _chunks(hashes, IN_CHUNK):
            found.update(bytes(h) for (h,) in _rows(conn, stmt, {"h": list(chunk)})[1])
        return found

    def number_hash(self, number: str) -> bytes:
        """Keyed hash of a number as given (normalised first); ValueError if invalid."""
        e164, err = _e164(number)
        if e164 is None:
            raise ValueError(err)
        return self._crypto.number_hash(e164)

    # ------------------------------------------------------------------ writes
    def record_events(self, events: Sequence[Event | Mapping[str, Any]]) -> WriteResult:
        """Store events; idempotent on ``event_id`` (a replay counts as a duplicate).

        Rejected per item: a record that breaks the Event contract, an invalid number, and
        a number that was erased (an erased person's data is not taken in again; the
        tombstone keeps suppressing them). Numbers are stored hashed + encrypted, reply
        texts encrypted.
        """
        result = WriteResult()
        rows: list[dict[str, Any]] = []
        index_of: list[int] = []
        now = _now_us()
        for i, ev, err in _coerce(events, Event):
            if ev is None:
                result.rejected.append((i, err or "invalid event"))
                continue
            e164, err = _e164(ev.number)
            if e164 is None:
                result.rejected.append((i, err or "number: invalid"))
                continue
            rows.append(self._event_row(ev, e164, now))
            index_of.append(i)
        if rows:
            with self._write() as conn:
                hashes = [r["number_hash"] for r in rows]
                self._lock_numbers(conn, hashes)
                erased = self._tombstoned(conn, hashes)
                existing = self._existing_event_ids(conn, [r["event_id"] for r in rows])
                fresh: list[dict[str, Any]] = []
                for i, row in zip(index_of, rows, strict=True):
                    if row["number_hash"] in erased:
                        result.rejected.append(
                            (i, "number: erased on request (suppressed); not stored")
                        )
                    elif row["event_id"] in existing:
                        result.duplicates += 1
                    else:
                        existing.add(row["event_id"])
                        fresh.append(row)
                if fresh:
                    conn.execute(self._insert_ignore(t.events), fresh)
                result.accepted = len(fresh)
        result.rejected.sort()
        return result

    def _event_row(self, ev: Event, e164: str, now: int) -> dict[str, Any]:
        c = self._crypto
        return {
            "event_id": ev.event_id,
            "number_hash": c.number_hash(e164),
            "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
            "ts": to_us(ev.ts),
            "kind": ev.kind,
            "channel": ev.channel,
            "purpose": ev.purpose,
            "subject": ev.subject,
            "campaign_id": ev.campaign_id,
            "dial_mode": ev.dial_mode,
            "outcome": ev.outcome,
            "duration_s": ev.duration_s,
            "text_enc": c.encrypt_optional(ev.text, PURPOSE_TEXT),
            "source": ev.source,
            "p_complaint_true": ev.p_complaint_true,
            "p_opt_out_true": ev.p_opt_out_true,
            "recorded_at": now,
        }

    def _existing_event_ids(self, conn: Connection, ids: list[str]) -> set[str]:
        stmt = _lookup_statements()[0]
        found: set[str] = set()
        for chunk in _chunks(list(set(ids)), IN_CHUNK):
            found.update(i for (i,) in _rows(conn, stmt, {"ids": list(chunk)})[1])
        return found

    def _append_records(
        self,
        table: t.Table,  # type: ignore[name-defined]
        items: Sequence[Any],
        model: type,
        to_row: Callable[[Any, str | None, bytes | None], dict[str, Any]],
        *,
        numbered: bool = True,
        refuse_erased: bool = True,
    ) -> WriteResult:
        """Shared path of the append-only tables: validate, hash, dedupe by ``record_key``."""
        result = WriteResult()
        rows: list[tuple[int, dict[str, Any]]] = []
        now = _now_us()
        for i, rec, err in _coerce(items, model):
            if rec is None:
                result.rejected.append((i, err or "invalid record"))
                continue
            e164 = h = None
            if numbered:
                e164, err = _e164(rec.number)
                if e164 is None:
                    result.rejected.append((i, err or "number: invalid"))
                    continue
                h = self._crypto.number_hash(e164)
            row = to_row(rec, e164, h)
            payload = {k: v for k, v in rec.model_dump(mode="json").items() if k != "number"}
            payload["number_hash"] = h.hex() if h is not None else None
            row["record_key"] = self._crypto.record_key({"table": table.name, **payload})
            row["recorded_at"] = now
            rows.append((i, row))
        if not rows:
            result.rejected.sort()
            return result
        with self._write() as conn:
            hashes = [r["number_hash"] for _, r in rows if "number_hash" in r]
            self._lock_numbers(conn, hashes)
            erased = self._tombstoned(conn, hashes) if numbered else set()
            keys_stmt = select(table.c.record_key).where(
                table.c.record_key.in_(bindparam("k", expanding=True))
            )
            existing: set[bytes] = set()
            for chunk in _chunks([r["record_key"] for _, r in rows], IN_CHUNK):
                existing.update(
                    bytes(k) for k in conn.execute(keys_stmt, {"k": list(chunk)}).scalars()
                )
            fresh = []
            for i, row in rows:
                if numbered and row["number_hash"] in erased:
                    if refuse_erased:
                        result.rejected.append(
                            (i, "number: erased on request (suppressed); not stored")
                        )
                        continue
                    row["number_enc"] = None  # keep the hash only
                if row["record_key"] in existing:
                    result.duplicates += 1
                    continue
                existing.add(row["record_key"])
                fresh.append(row)
            if fresh:
                conn.execute(self._insert_ignore(table), fresh)
            result.accepted = len(fresh)
        result.rejected.sort()
        return result

    def record_consent(self, records: Sequence[Consent | Mapping[str, Any]]) -> WriteResult:
        """Append consent grants (and revocations, as records with ``revoked_at``) to the
        ledger; evidence is encrypted. Replaying an identical record is a duplicate."""
        c = self._crypto

        def row(rec: Consent, e164: str | None, h: bytes | None) -> dict[str, Any]:
            assert e164 is not None
            return {
                "consent_id": rec.consent_id,
                "number_hash": h,
                "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
                "channel": rec.channel,
                "purpose": rec.purpose,
                "type": rec.type,
                "granted_at": to_us(rec.granted_at),
                "revoked_at": None if rec.revoked_at is None else to_us(rec.revoked_at),
                "evidence_enc": c.encrypt_optional(rec.evidence, PURPOSE_EVIDENCE),
                "confirmed_at": None if rec.confirmed_at is None else to_us(rec.confirmed_at),
                "outside_hours": rec.outside_hours,
            }

        return self._append_records(t.consent, records, Consent, row)

    def record_preferences(self, records: Sequence[Preference | Mapping[str, Any]]) -> WriteResult:
        """Append preference records; the latest ``updated_at`` at an instant applies."""
        c = self._crypto

        def row(rec: Preference, e164: str | None, h: bytes | None) -> dict[str, Any]:
            assert e164 is not None
            return {
                "number_hash": h,
                "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
                "max_per_week": rec.max_per_week,
                "urgent_only": rec.urgent_only,
                "quiet_start": rec.quiet_start,
                "quiet_end": rec.quiet_end,
                "channels": rec.channels,
                "updated_at": to_us(rec.updated_at),
            }

        return self._append_records(t.preferences, records, Preference, row)

    def _dnc(self, records: Sequence[DncEntry | Mapping[str, Any]], action: str) -> WriteResult:
        c = self._crypto
        fixed: list[Any] = []
        for item in records:
            if isinstance(item, DncEntry):
                fixed.append(item.model_copy(update={"action": action}))
            elif isinstance(item, Mapping):
                fixed.append({**item, "action": action})
            else:
                fixed.append(item)

        def row(rec: DncEntry, e164: str | None, h: bytes | None) -> dict[str, Any]:
            assert e164 is not None
            return {
                "number_hash": h,
                "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
                "action": rec.action,
                "scope": rec.scope,
                "category": rec.category,
                "added_at": to_us(rec.added_at),
                "source": rec.source,
            }

        # An erased person may still be added to the DNC list: hash only, never refused.
        return self._append_records(t.dnc, fixed, DncEntry, row, refuse_erased=False)

    def dnc_add(self, records: Sequence[DncEntry | Mapping[str, Any]]) -> WriteResult:
        """Append internal-DNC additions (``action`` is forced to ``add``)."""
        return self._dnc(records, "add")

    def dnc_remove(self, records: Sequence[DncEntry | Mapping[str, Any]]) -> WriteResult:
        """Append internal-DNC removals (``action`` forced to ``remove``); nothing is deleted."""
        return self._dnc(records, "remove")

    def block_period(self, records: Sequence[BlockedPeriod | Mapping[str, Any]]) -> WriteResult:
        """Declare periods with no marketing in a region (state of emergency, ad-hoc holiday)."""

        def row(rec: BlockedPeriod, e164: str | None, h: bytes | None) -> dict[str, Any]:
            return {
                "region": rec.region,
                "start": to_us(rec.start),
                "end": to_us(rec.end),
                "reason": rec.reason,
            }

        return self._append_records(t.blocked_periods, records, BlockedPeriod, row, numbered=False)

    # ------------------------------------------------------------------ registries
    def import_registry(
        self,
        registry: str,
        snapshot_at: dt.datetime,
        numbers: Iterable[str],
        replace: bool = True,
        *,
        default_region: str | None = None,
        batch_size: int = REGISTRY_BATCH,
        on_reject: Callable[[int, str, str], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        max_reject_share: float | None = None,
        keep_rejects: int = 1000,
        workers: int = 1,
    ) -> ImportResult:
        """Load a registry snapshot, streaming ``numbers`` in batches (bounded memory).

        ``replace=True`` (a full snapshot): the numbers go into a new snapshot that no
        reader sees until one final transaction makes it the snapshot in force; any failure
        before that (an exception from ``numbers``, too many rejects, an empty file) leaves
        the previous snapshot in force and removes the partial one.
        ``replace=False`` (a delta): the numbers are added to the snapshot in force in one
        transaction, and its ``snapshot_at`` moves forward to ``snapshot_at`` when later.

        ``default_region`` lets national formats parse (e.g. ``"US"`` for 10-digit US
        numbers). ``on_reject(index, value, error)`` receives every reject (0-based index in
        ``numbers``); ``on_progress(n)`` the count of numbers read so far. With
        ``max_reject_share`` (e.g. 0.01) an import whose rejects exceed that share is
        refused (:class:`ImportAborted`): a wrong file must not replace a good snapshot.
        ``workers`` > 1 normalises batches in that many processes while this one hashes and
        writes (at most ``2 × workers`` batches in flight, so memory stays bounded).
        """
        from features.schema import REGISTRIES

        if registry not in REGISTRIES:
            raise ValueError(
                f"registry {registry!r} is unknown; choose from {', '.join(REGISTRIES)}"
            )
        snap_us = to_us(snapshot_at)
        if snapshot_at > dt.datetime.now(dt.UTC) + MAX_SNAPSHOT_CLOCK_SKEW:
            # a snapshot from the future would keep REGISTRY_STALE from ever firing
            raise ImportAborted(
                f"snapshot_at {snapshot_at.isoformat()} is in the future; the previous "
                "snapshot stays in force"
            )
        with self._read() as conn:
            current = conn.execute(
                select(t.registry_current.c.snapshot_id).where(
                    t.registry_current.c.registry == registry
                )
            ).scalar()
            current_at = (
                None
                if current is None
                else conn.execute(
                    select(t.registry_snapshots.c.snapshot_at).where(
                        t.registry_snapshots.c.snapshot_id == current
                    )
                ).scalar()
            )
        if replace and current_at is not None and snap_us < current_at:
            raise ImportAborted(
                f"snapshot_at {snapshot_at.isoformat()} is older than the {registry} snapshot "
                f"in force ({from_us(current_at).isoformat()}); the newer one stays in force"
            )
        if not replace and current is not None:
            return self._import_delta(
                registry, snapshot_at, int(current), numbers, default_region, on_reject
            )

        with self._write() as conn:
            snapshot_id = int(
                conn.execute(
                    insert(t.registry_snapshots)
                    .values(
                        registry=registry,
                        snapshot_at=snap_us,
                        imported_at=_now_us(),
                        status="loading",
                        listed=0,
                    )
                    .returning(t.registry_snapshots.c.snapshot_id)
                ).scalar_one()
            )
        result = ImportResult(registry, snapshot_at, snapshot_id)
        try:
            read = 0
            for batch, normalized in _normalized_batches(
                numbers, batch_size, default_region, workers
            ):
                self._load_listing_batch(
                    snapshot_id, batch, normalized, result, on_reject, keep_rejects
                )
                read += len(batch)
                if on_progress:
                    on_progress(read)
            if result.accepted == 0:
                raise ImportAborted(
                    f"{registry}: no valid number in the import ({result.rejected_count} rejected); "
                    "the snapshot in force is unchanged"
                )
            if max_reject_share is not None and result.rejected_count > max_reject_share * read:
                raise ImportAborted(
                    f"{registry}: {result.rejected_count:,} of {read:,} numbers rejected, more than "
                    f"{max_reject_share:.1%}; the snapshot in force is unchanged"
                )
            with self._write() as conn:
                listed = int(
                    conn.execute(
                        select(func.count())
                        .select_from(t.registry_listings)
                        .where(t.registry_listings.c.snapshot_id == snapshot_id)
                    ).scalar_one()
                )
                conn.execute(
                    update(t.registry_snapshots)
                    .where(t.registry_snapshots.c.snapshot_id == snapshot_id)
                    .values(status="active", listed=listed)
                )
                previous = conn.execute(
                    select(t.registry_current.c.snapshot_id).where(
                        t.registry_current.c.registry == registry
                    )
                ).scalar()
                if previous is None:
                    conn.execute(
                        insert(t.registry_current).values(
                            registry=registry, snapshot_id=snapshot_id
                        )
                    )
                else:
                    conn.execute(
                        update(t.registry_current)
                        .where(t.registry_current.c.registry == registry)
                        .values(snapshot_id=snapshot_id)
                    )
                    conn.execute(
                        update(t.registry_snapshots)
                        .where(t.registry_snapshots.c.snapshot_id == previous)
                        .values(status="retired")
                    )
            result.listed = listed
        except BaseException:
            self._drop_snapshot_listings(snapshot_id, status="failed")
            raise
        if previous is not None:
            self._drop_snapshot_listings(int(previous), status="retired")
        return result

    def _load_listing_batch(
        self,
        snapshot_id: int,
        batch: list[tuple[int, str]],
        normalized: list[tuple[str | None, str | None]],
        result: ImportResult,
        on_reject: Callable[[int, str, str], None] | None,
        keep_rejects: int,
    ) -> None:
        hashes: set[bytes] = set()
        for (index, raw), (e164, reason) in zip(batch, normalized, strict=True):
            if e164 is None:
                result.rejected_count += 1
                if len(result.rejected) < keep_rejects:
                    result.rejected.append((index, raw, f"number: {reason}"))
                if on_reject:
                    on_reject(index, raw, f"number: {reason}")
                continue
            hashes.add(self._crypto.number_hash(e164))
        result.accepted += sum(1 for e164, _ in normalized if e164 is not None)
        if not hashes:
            return
        with self._write() as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql(
                    "INSERT OR IGNORE INTO registry_listings (snapshot_id, number_hash) VALUES (?, ?)",
                    [(snapshot_id, h) for h in hashes],
                )
            else:
                conn.execute(
                    self._insert_ignore(t.registry_listings),
                    [{"snapshot_id": snapshot_id, "number_hash": h} for h in hashes],
                )

    def _import_delta(
        self,
        registry: str,
        snapshot_at: dt.datetime,
        current: int,
        numbers: Iterable[str],
        default_region: str | None,
        on_reject: Callable[[int, str, str], None] | None,
    ) -> ImportResult:
        result = ImportResult(registry, snapshot_at, current)
        raws = list(numbers)
        hashes: set[bytes] = set()
        for index, (raw, (e164, reason)) in enumerate(
            zip(raws, normalize_batch(raws, default_region), strict=True)
        ):
            if e164 is None:
                result.rejected_count += 1
                result.rejected.append((index, raw, f"number: {reason}"))
                if on_reject:
                    on_reject(index, raw, f"number: {reason}")
            else:
                result.accepted += 1
                hashes.add(self._crypto.number_hash(e164))
        with self._write() as conn:
            if hashes:
                conn.execute(
                    self._insert_ignore(t.registry_listings),
                    [{"snapshot_id": current, "number_hash": h} for h in hashes],
                )
            listed = int(
                conn.execute(
                    select(func.count())
                    .select_from(t.registry_listings)
                    .where(t.registry_listings.c.snapshot_id == current)
                ).scalar_one()
            )
            snaps = t.registry_snapshots
            conn.execute(
                update(snaps)
                .where(snaps.c.snapshot_id == current)
                .values(
                    listed=listed, snapshot_at=func.max(snaps.c.snapshot_at, to_us(snapshot_at))
                )
                if self.dialect == "sqlite"
                else update(snaps)
                .where(snaps.c.snapshot_id == current)
                .values(
                    listed=listed,
                    snapshot_at=func.greatest(snaps.c.snapshot_at, to_us(snapshot_at)),
                )
            )
        result.listed = listed
        return result

    def _drop_snapshot_listings(self, snapshot_id: int, *, status: str) -> None:
        """Delete a snapshot's listings in bounded transactions (never one huge lock)."""
        listings = t.registry_listings
        victims = (
            select(listings.c.number_hash)
            .where(listings.c.snapshot_id == snapshot_id)
            .limit(REGISTRY_BATCH)
            .scalar_subquery()
        )
        stmt = delete(listings).where(
            listings.c.snapshot_id == snapshot_id, listings.c.number_hash.in_(victims)
        )
        while True:
            with self._write() as conn:
                deleted = conn.execute(stmt).rowcount
            if not deleted:
                break
        with self._write() as conn:
            conn.execute(
                update(t.registry_snapshots)
                .where(t.registry_snapshots.c.snapshot_id == snapshot_id)
                .values(status=status)
            )

    # ------------------------------------------------------------------ reads
    def load_states(
        self, numbers: Sequence[str], at: dt.datetime, lookback_days: int = 400
    ) -> dict[str, NumberState]:
        """The :class:`NumberState` of each E.164 number as of ``at``.

        One batched query per table for all numbers. ``history``: events with
        ``at - lookback_days <= ts <= at`` plus every older event of a durable kind
        (:data:`DURABLE_KINDS` — an old opt-out still binds), sorted by ``ts``.
        Consents granted after ``at`` are left out and a revocation after ``at`` is not yet
        visible; DNC records and preferences up to ``at``; registry listings of the
        snapshots in force; ``suppressed`` when an erasure tombstone matches.
        Numbers that are not valid E.164 are keyed as given with an empty state.
        """
        with self._read() as conn:
            return self._load_states(conn, list(dict.fromkeys(numbers)), at, lookback_days)

    def _hash_of(self, number: str) -> tuple[bytes, str]:
        """(keyed hash, E.164) of a number. Canonical E.164 is hashed as is (the fast path);
        anything else is normalised first, so "+1 212-234-5678" still finds its rows."""
        e164 = number if _E164_RE.match(number) else (normalize(number).e164 or number)
        return self._crypto.number_hash(e164), e164

    def _hash_map(self, numbers: Sequence[str]) -> dict[bytes, str]:
        """Keyed hash → E.164 for the distinct numbers asked for."""
        return dict(self._hash_of(n) for n in numbers)

    def _load_states(
        self,
        conn: Connection,
        numbers: list[str],
        at: dt.datetime,
        lookback_days: int,
        events_until: dt.datetime | None = None,
    ) -> dict[str, NumberState]:
        """See :meth:`load_states`; ``events_until`` (later than ``at``) extends the history
        read past ``at`` — only :meth:`NumberTransaction.state_and_later` asks for it."""
        at_us = to_us(at)
        until_us = at_us if events_until is None else max(at_us, to_us(events_until))
        since_us = at_us - lookback_days * 86_400_000_000
        asked = [(n, *self._hash_of(n)) for n in numbers]
        by_hash = {h: e164 for _, h, e164 in asked}
        hashes = list(by_hash)
        history: dict[bytes, list[tuple]] = defaultdict(list)
        consents: dict[bytes, list[Consent]] = defaultdict(list)
        dncs: dict[bytes, list[DncEntry]] = defaultdict(list)
        prefs: dict[bytes, Preference] = {}
        listed: dict[bytes, set[str]] = defaultdict(set)
        erased: set[bytes] = set()
        ev_stmt, consent_stmt, dnc_stmt, pref_stmt, reg_stmt, tomb_stmt = _state_statements()
        decrypt = self._crypto.decrypt
        for chunk in _chunks(hashes, IN_CHUNK):
            params = {"h": list(chunk)}
            at_params = {"h": params["h"], "at": at_us}
            ev_params = {"h": params["h"], "until": until_us, "since": since_us}
            for row in _fetch_events(conn, ev_stmt, ev_params):
                history[bytes(row[0])].append(row)
            for row in _mappings(conn, consent_stmt, at_params):
                h = bytes(row["number_hash"])
                revoked = row["revoked_at"]
                consents[h].append(
                    Consent.model_construct(
                        consent_id=row["consent_id"],
                        number=by_hash[h],
                        channel=row["channel"],
                        purpose=row["purpose"],
                        type=row["type"],
                        granted_at=from_us(row["granted_at"]),
                        revoked_at=from_us(revoked)
                        if revoked is not None and revoked <= at_us
                        else None,
                        # the rules need to know THAT consent is documented (UWG §7a), not
                        # what the evidence says: it stays encrypted (see subject_report)
                        evidence=EVIDENCE_HELD if row["evidence_enc"] is not None else None,
                        confirmed_at=from_us(row["confirmed_at"])
                        if row["confirmed_at"] is not None and row["confirmed_at"] <= at_us
                        else None,
                        outside_hours=bool(row["outside_hours"]),
                    )
                )
            for row in _mappings(conn, dnc_stmt, at_params):
                h = bytes(row["number_hash"])
                dncs[h].append(
                    DncEntry.model_construct(
                        number=by_hash[h],
                        action=row["action"],
                        scope=row["scope"],
                        category=row["category"],
                        added_at=from_us(row["added_at"]),
                        source=row["source"],
                    )
                )
            for row in _mappings(conn, pref_stmt, at_params):
                h = bytes(row["number_hash"])
                prefs[h] = Preference.model_construct(  # later rows overwrite: latest wins
                    number=by_hash[h],
                    max_per_week=row["max_per_week"],
                    urgent_only=bool(row["urgent_only"]),
                    quiet_start=row["quiet_start"],
                    quiet_end=row["quiet_end"],
                    channels=row["channels"],
                    updated_at=from_us(row["updated_at"]),
                )
            for h, registry in _rows(conn, reg_stmt, params)[1]:
                listed[bytes(h)].add(registry)
            erased.update(bytes(h) for (h,) in _rows(conn, tomb_stmt, params)[1])

        states: dict[str, NumberState] = {}
        by_ts = itemgetter(1, 2)
        by_number: dict[bytes, NumberState] = {}
        make, epoch, micros = HistoryEvent, _EPOCH, dt.timedelta
        for h in by_hash:
            rows = history.get(h, [])
            rows.sort(key=by_ts)
            events = tuple(
                [
                    make(epoch + micros(microseconds=ts), kind, channel, purpose, subject, campaign,
                         dial_mode, outcome, duration, None if text is None else decrypt(text, PURPOSE_TEXT))
                    for (_, ts, _, kind, channel, purpose, subject, campaign, dial_mode, outcome, duration, text) in rows
                ]
            )  # fmt: skip
            by_number[h] = NumberState(
                history=events,
                consents=tuple(consents.get(h, ())),
                dnc=tuple(dncs.get(h, ())),
                registries=frozenset(listed.get(h, ())),
                preference=prefs.get(h),
                suppressed=h in erased,
            )
        for name, h, _ in asked:
            states[name] = by_number[h]
        return states

    def world_state(self, at: dt.datetime) -> WorldState:
        """Registry snapshot instants in force, and blocked periods that have not ended by
        ``at`` (the engine looks forward from ``at`` for ``next_allowed_at``)."""
        with self._read() as conn:
            return self._world_state(conn, at)

    def _world_state(self, conn: Connection, at: dt.datetime) -> WorldState:
        snapshots_stmt, periods_stmt = _world_statements()
        snaps = _rows(conn, snapshots_stmt)[1]
        periods = _mappings(conn, periods_stmt, {"at": to_us(at)})
        return WorldState(
            registry_snapshots={reg: from_us(us) for reg, us in snaps},  # type: ignore[misc]
            blocked_periods=tuple(
                BlockedPeriod.model_construct(
                    region=r["region"],
                    start=from_us(r["start"]),
                    end=from_us(r["end"]),
                    reason=r["reason"],
                )
                for r in periods
            ),
        )

    def history_frame(
        self, numbers: Sequence[str], until: dt.datetime, lookback_days: int = 400
    ) -> pd.DataFrame:
        """Events of these E.164 numbers with ``until - lookback_days <= ts < until``
        (strictly before: features use only the past) plus older durable events, as a frame
        in the Event contract (``number`` is the E.164), sorted by number, ts, event_id."""
        until_us = to_us(until)
        since_us = until_us - lookback_days * 86_400_000_000
        by_hash = self._hash_map(list(dict.fromkeys(numbers)))
        stmt, names = _history_statement()
        rows: list[Any] = []
        with self._read() as conn:
            for chunk in _chunks(list(by_hash), IN_CHUNK):
                params = {"h": list(chunk), "since": since_us, "until": until_us}
                rows.extend(conn.execute(stmt, params).all())
        # Sort and split into columns in Python: far cheaper than per-column pandas work
        # on the small frames of an online request.
        position = {name: i for i, name in enumerate(names)}
        i_hash, i_ts, i_id = position["number_hash"], position["ts"], position["event_id"]
        keyed = sorted(
            ((by_hash[bytes(r[i_hash])], r) for r in rows),
            key=lambda x: (x[0], x[1][i_ts], x[1][i_id]),
        )
        columns = list(zip(*(r for _, r in keyed), strict=True)) if keyed else [() for _ in names]
        decrypt = self._crypto.decrypt_optional
        data: dict[str, Any] = {}
        for col in columns_for(Event):
            if col.name == "number":
                values: Any = [number for number, _ in keyed]
            elif col.name == "text":
                values = [decrypt(v, PURPOSE_TEXT) for v in columns[position["text_enc"]]]
            elif col.name not in position:  # simulated-truth fields the store does not keep
                values = [None] * len(keyed)
            else:
                values = columns[position[col.name]]
            if col.kind == "instant":
                data[col.name] = pd.to_datetime(
                    np.asarray(values, dtype="int64"), unit="us", utc=True
                )
            else:
                data[col.name] = pd.array(list(values), dtype=_frame_dtype(col))
        return pd.DataFrame(data)

    def consent_frame(self, numbers: Sequence[str]) -> pd.DataFrame:
        """Every consent record of these E.164 numbers as a frame in the Consent contract
        (``number`` is the E.164, evidence decrypted), sorted by number and ``granted_at``."""
        by_hash = self._hash_map(list(dict.fromkeys(numbers)))
        c = t.consent
        stmt = select(c).where(c.c.number_hash.in_(bindparam("h", expanding=True))).order_by(c.c.id)
        records: list[dict[str, Any]] = []
        with self._read() as conn:
            for chunk in _chunks(list(by_hash), IN_CHUNK):
                for row in conn.execute(stmt, {"h": list(chunk)}).mappings():
                    records.append(self._consent_dict(row, by_hash[bytes(row["number_hash"])]))
        frame = pd.DataFrame.from_records(records, columns=list(_CONSENT_FIELDS))
        for name in ("granted_at", "revoked_at", "confirmed_at"):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return _typed_frame(frame, Consent).sort_values(["number", "granted_at"], ignore_index=True)

    def _consent_dict(self, row: Mapping[str, Any], e164: str) -> dict[str, Any]:
        return {
            "consent_id": row["consent_id"],
            "number": e164,
            "channel": row["channel"],
            "purpose": row["purpose"],
            "type": row["type"],
            "granted_at": from_us(row["granted_at"]),
            "revoked_at": from_us(row["revoked_at"]),
            "evidence": self._crypto.decrypt_optional(row["evidence_enc"], PURPOSE_EVIDENCE),
            "confirmed_at": from_us(row["confirmed_at"]),
            "outside_hours": bool(row["outside_hours"]),
        }

    # ------------------------------------------------------------------ authorisation
    @contextlib.contextmanager
    def number_lock(self, e164: str, wait_s: float | None = None) -> Iterator[NumberTransaction]:
        """One transaction that serialises every writer of this number::

            with store.number_lock("+13052134567") as tx:
                state = tx.state(at)
                if count_contacts(state) < 3:
                    tx.record_contact(event)

        SQLite: ``BEGIN IMMEDIATE`` (the database's single writer slot, waited for up to
        the busy timeout). PostgreSQL: ``pg_advisory_xact_lock`` on the number's hash. The
        state read inside is fresh (it sees every attempt committed before the lock was
        granted), so check-then-insert cannot exceed a cap. Commits on normal exit, rolls
        back on an exception. ``wait_s``: see :meth:`_write` (:class:`StoreBusy` when the
        lock is not granted in time).
        """
        e164_checked, err = _e164(e164)
        if e164_checked is None:
            raise ValueError(err)
        h = self._crypto.number_hash(e164_checked)
        with self._write(wait_s) as conn:
            self._lock_numbers(conn, [h])
            yield NumberTransaction(self, conn, e164_checked, h)

    # ------------------------------------------------------------------ access, erasure
    def subject_report(self, e164: str) -> dict[str, Any]:
        """Everything held on a person (GDPR art. 15), decrypted for them: events, consent,
        preferences, DNC records, registry listings in force, decisions, erasure."""
        h = self.number_hash(e164)
        e164 = normalize(e164).e164 or e164
        with self._read() as conn:
            ev_rows = conn.execute(
                select(t.events).where(t.events.c.number_hash == h).order_by(t.events.c.ts)
            ).mappings()
            events = [
                {
                    **{k: row[k] for k in _EVENT_FIELDS if k not in ("number", "text", "ts")},
                    "number": e164,
                    "ts": from_us(row["ts"]),
                    "text": self._crypto.decrypt_optional(row["text_enc"], PURPOSE_TEXT),
                }
                for row in ev_rows
            ]
            consent_rows = conn.execute(
                select(t.consent).where(t.consent.c.number_hash == h).order_by(t.consent.c.id)
            )
            consents = [self._consent_dict(r, e164) for r in consent_rows.mappings()]
            pref_rows = conn.execute(
                select(t.preferences)
                .where(t.preferences.c.number_hash == h)
                .order_by(t.preferences.c.updated_at)
            ).mappings()
            prefs = [
                {
                    k: r[k]
                    for k in ("max_per_week", "urgent_only", "quiet_start", "quiet_end", "channels")
                }
                | {"updated_at": from_us(r["updated_at"])}
                for r in pref_rows
            ]
            dnc_rows = conn.execute(
                select(t.dnc).where(t.dnc.c.number_hash == h).order_by(t.dnc.c.added_at)
            ).mappings()
            dnc_list = [
                {k: r[k] for k in ("action", "scope", "category", "source")}
                | {"added_at": from_us(r["added_at"])}
                for r in dnc_rows
            ]
            registries = sorted(
                conn.execute(
                    select(t.registry_current.c.registry)
                    .join(
                        t.registry_listings,
                        t.registry_listings.c.snapshot_id == t.registry_current.c.snapshot_id,
                    )
                    .where(t.registry_listings.c.number_hash == h)
                ).scalars()
            )
            decision_rows = conn.execute(
                select(t.decisions).where(t.decisions.c.number_hash == h).order_by(t.decisions.c.id)
            ).mappings()
            decisions = [self._decision_dict(r) for r in decision_rows]
            erased_at = conn.execute(
                select(t.tombstones.c.erased_at).where(t.tombstones.c.number_hash == h)
            ).scalar()
        return {
            "number": e164,
            "number_hash": h.hex(),
            "events": events,
            "consent": consents,
            "preferences": prefs,
            "dnc": dnc_list,
            "registry_listings": registries,
            "decisions": decisions,
            "erased_at": from_us(erased_at),
            "suppressed": erased_at is not None,
        }

    def erase_subject(self, e164: str, *, at: dt.datetime | None = None) -> dict[str, Any]:
        """Erase a person (GDPR art. 17): delete their events, consent records and
        preferences; keep DNC records as hashes only (the encrypted number is wiped) and
        the audit log (hashed); write an HMAC tombstone, so :meth:`load_states` reports
        ``suppressed=True`` and re-imported events, consent or lists never revive them.
        Idempotent. Returns what was erased and kept (counts, no personal data)."""
        e164_checked, err = _e164(e164)
        if e164_checked is None:
            raise ValueError(err)
        h = self._crypto.number_hash(e164_checked)
        erased_at = to_us(at) if at is not None else _now_us()
        with self._write() as conn:
            self._lock_numbers(conn, [h])
            n_events = conn.execute(delete(t.events).where(t.events.c.number_hash == h)).rowcount
            n_consent = conn.execute(delete(t.consent).where(t.consent.c.number_hash == h)).rowcount
            n_prefs = conn.execute(
                delete(t.preferences).where(t.preferences.c.number_hash == h)
            ).rowcount
            n_dnc = conn.execute(
                update(t.dnc).where(t.dnc.c.number_hash == h).values(number_enc=None)
            ).rowcount
            conn.execute(
                self._insert_ignore(t.tombstones), [{"number_hash": h, "erased_at": erased_at}]
            )
            stamp = conn.execute(
                select(t.tombstones.c.erased_at).where(t.tombstones.c.number_hash == h)
            ).scalar_one()
        return {
            "number_hash": h.hex(),
            "events_deleted": n_events,
            "consent_deleted": n_consent,
            "preferences_deleted": n_prefs,
            "dnc_kept_hash_only": n_dnc,
            "tombstone": True,
            "erased_at": from_us(stamp),
        }

    # ------------------------------------------------------------------ audit
    def append_decisions(
        self, rows: Sequence[Mapping[str, Any]], wait_s: float | None = None
    ) -> int:
        """Append decisions to the audit log; returns how many were written (``wait_s``:
        see :meth:`_write`).

        Each row: ``number`` (as given; hashed after normalisation, or the raw text hashed
        when it is not a number) or ``number_hash`` (bytes), ``decision``, ``reasons``
        (list of reason dicts), ``model_version``, ``rules_version``, ``at`` (the instant
        decided on), ``request_id``; optional ``recorded_at`` (default now, the decision
        time export filters on). Any other keys go into ``detail`` (JSON).
        """
        out = self._decision_rows(rows)
        if out:
            with self._write(wait_s) as conn:
                _insert_rows(conn, _audit_insert(), out)
        return len(out)

    def _decision_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        known = {"number", "number_hash", "decision", "reasons", "model_version", "rules_version",
                 "at", "request_id", "recorded_at"}  # fmt: skip
        now = _now_us()
        out = []
        for row in rows:
            h = row.get("number_hash")
            if h is None:
                raw = str(row.get("number") or "")
                e164, _ = _e164(raw)
                h = self._crypto.number_hash(e164 if e164 is not None else raw)
            at = row.get("at")
            recorded = row.get("recorded_at")
            extra = {k: v for k, v in row.items() if k not in known}
            out.append(
                {
                    "request_id": row.get("request_id"),
                    "number_hash": bytes(h),
                    "decision": str(row["decision"]),
                    "reasons": _audit_json(row.get("reasons") or []),
                    "model_version": row.get("model_version"),
                    "rules_version": row.get("rules_version"),
                    "at": to_us(at) if isinstance(at, dt.datetime) else now,
                    "detail": _audit_json(extra) if extra else None,
                    "recorded_at": to_us(recorded) if isinstance(recorded, dt.datetime) else now,
                }
            )
        return out

    def export_decisions(
        self, since: dt.datetime, until: dt.datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Decisions recorded in ``[since, until)`` in order, streamed; hashed numbers only."""
        d = t.decisions
        stmt = select(d).where(d.c.recorded_at >= to_us(since))
        if until is not None:
            stmt = stmt.where(d.c.recorded_at < to_us(until))
        stmt = stmt.order_by(d.c.recorded_at, d.c.id)
        with self._engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)
            for row in result.mappings():
                yield self._decision_dict(row)

    @staticmethod
    def _decision_dict(row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "id": row["id"],
            "request_id": row["request_id"],
            "number_hash": bytes(row["number_hash"]).hex(),
            "decision": row["decision"],
            "reasons": json.loads(row["reasons"]),
            "model_version": row["model_version"],
            "rules_version": row["rules_version"],
            "at": from_us(row["at"]),
            "recorded_at": from_us(row["recorded_at"]),
            "detail": json.loads(row["detail"]) if row["detail"] else {},
        }

    # ------------------------------------------------------------------ maintenance
    def backup(self, path: str | Path) -> Path:
        """Write a consistent copy of a SQLite store to ``path`` (``VACUUM INTO``: one read
        transaction, so concurrent writers neither block it nor tear it). PostgreSQL:
        raises, pointing at ``pg_dump``, the right tool for a server database."""
        path = Path(path)
        if self.dialect != "sqlite":
            raise ValueError(
                f"backup of a {self.dialect} store: use the server's tools, e.g. "
                f"`pg_dump --format=custom --file {path} <database>`"
            )
        if path.exists():
            raise ValueError(
                f"{path}: already exists; choose a new file (a backup never overwrites)"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = self._engine.raw_connection()  # VACUUM cannot run inside a transaction
        try:
            raw.driver_connection.execute("VACUUM INTO ?", (str(path),))
        finally:
            raw.close()
        return path

    def retention(self, older_than_days: int, at: dt.datetime) -> dict[str, int]:
        """Drop raw ``contact`` and ``reply`` events older than ``older_than_days`` before
        ``at``. Never dropped: events of durable kinds (opt-outs, complaints, purchases,
        contracts …), consent records and evidence, DNC records, tombstones, registry
        snapshots, the audit log. ``older_than_days`` below :data:`MIN_RETENTION_DAYS` is
        refused: rules, features and ``load_states`` look back that far."""
        if older_than_days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"older_than_days={older_than_days}: below {MIN_RETENTION_DAYS} days would drop "
                "history that rules and features still read"
            )
        cutoff = to_us(at) - older_than_days * 86_400_000_000
        e = t.events
        with self._write() as conn:
            deleted = conn.execute(
                delete(e).where(e.c.ts < cutoff, e.c.kind.not_in(DURABLE_KINDS))
            ).rowcount
            counts = {
                "events_deleted": int(deleted),
                "events_kept": int(conn.execute(select(func.count()).select_from(e)).scalar_one()),
                "consent_kept": int(
                    conn.execute(select(func.count()).select_from(t.consent)).scalar_one()
                ),
                "dnc_kept": int(conn.execute(select(func.count()).select_from(t.dnc)).scalar_one()),
                "tombstones_kept": int(
                    conn.execute(select(func.count()).select_from(t.tombstones)).scalar_one()
                ),
            }
        return counts

    def registry_counts(self) -> dict[str, int]:
        """Distinct numbers listed per registry in the snapshot in force."""
        snaps = t.registry_snapshots
        with self._read() as conn:
            rows = conn.execute(
                select(t.registry_current.c.registry, snaps.c.listed).join(
                    snaps, snaps.c.snapshot_id == t.registry_current.c.snapshot_id
                )
            ).all()
        return {registry: int(listed) for registry, listed in rows}

    def counts(self) -> dict[str, int]:
        """Row count per table (for ``contactgate store init`` and monitoring)."""
        with self._read() as conn:
            return {
                table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in t.metadata.sorted_tables
            }


class NumberTransaction:
    """The handle given by :meth:`Store.number_lock`; valid only inside the ``with``."""

    def __init__(self, store: Store, conn: Connection, e164: str, number_hash: bytes) -> None:
        self._store = store
        self._conn = conn
        self.e164 = e164
        self.number_hash = number_hash

    def state(self, at: dt.datetime, lookback_days: int = 400) -> NumberState:
        """The number's state as of ``at``, read inside the lock (fresh)."""
        return self._store._load_states(self._conn, [self.e164], at, lookback_days)[self.e164]

    def world_state(self, at: dt.datetime) -> WorldState:
        """:meth:`Store.world_state`, read inside the lock."""
        return self._store._world_state(self._conn, at)

    def state_and_later(
        self, at: dt.datetime, until: dt.datetime, lookback_days: int = 400
    ) -> tuple[NumberState, tuple[HistoryEvent, ...]]:
        """The state as of ``at`` and the events recorded after ``at`` up to ``until``,
        in one read (an authorize for an earlier instant must see later attempts)."""
        read = self._store._load_states(self._conn, [self.e164], at, lookback_days, until)
        state = read[self.e164]
        cut = bisect.bisect_right(state.history, at, key=attrgetter("ts"))
        if cut == len(state.history):
            return state, ()
        return replace(state, history=state.history[:cut]), state.history[cut:]

    def recorded_attempt(self, event_id: str) -> dt.datetime | None:
        """When the attempt ``event_id`` was recorded for this number (None: not stored).

        Raises :class:`AttemptIdConflict` when the id belongs to another number or to an
        event that is not a contact: only a true replay of this number's attempt may be
        answered as one.
        """
        rows = _rows(self._conn, _attempt_statement(), {"id": event_id})[1]
        if not rows:
            return None
        number_hash, kind, ts = rows[0]
        if bytes(number_hash) != bytes(self.number_hash) or kind != "contact":
            raise AttemptIdConflict(
                "attempt_id: already the id of another event; send a new attempt_id"
            )
        return from_us(ts)

    def append_decisions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """:meth:`Store.append_decisions` in this transaction: the decision commits (or rolls
        back) together with the attempt it allowed."""
        out = self._store._decision_rows(rows)
        _insert_rows(self._conn, _audit_insert(), out)
        return len(out)

    def record_contact(self, event: Event) -> bool:
        """Insert the attempt in this transaction; False if its ``event_id`` already exists
        (a replayed authorize). The event's number must be the locked number."""
        e164, err = _e164(event.number)
        if e164 != self.e164:
            raise ValueError(err or f"event number is not the locked number ({event.event_id})")
        if self._store._existing_event_ids(self._conn, [event.event_id]):
            return False
        if self._store._tombstoned(self._conn, [self.number_hash]):
            raise ValueError("number: erased on request (suppressed); not stored")
        row = self._store._event_row(event, e164, _now_us())
        _insert_rows(self._conn, self._store._insert_ignore(t.events), [row])
        return True


# ----------------------------------------------------------------------------- engine
def _typed_frame(frame: pd.DataFrame, model: type) -> pd.DataFrame:
    """Give a frame the column dtypes of its contract (as :mod:`features.io` loads them)."""
    from features.io import _pandas_dtype

    out = frame.copy()
    for col in columns_for(model):
        if col.name not in out.columns:
            continue
        dtype = _pandas_dtype(col)
        if col.kind == "instant":
            out[col.name] = pd.to_datetime(out[col.name], utc=True).astype(dtype)
        else:
            out[col.name] = out[col.name].astype(dtype)
    return out


def _enable_wal(cur: Any) -> None:
    """Put the database in WAL mode (persistent in the file, so usually already on).

    Switching a brand-new file needs an exclusive lock, and SQLite may answer "database is
    locked" at once, without the busy handler, while another process or thread opens the
    same new file (service workers starting together): retry for up to the busy timeout.
    """
    import sqlite3
    import time

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


def _create_engine(url: str) -> Engine:
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
