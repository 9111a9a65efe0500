"""How the store runs SQL: instants as epoch microseconds, IN-lists in chunks, and the one
driver path for statements built once.

Statements the store builds once (module-level, cached) are compiled once per dialect and
run on the driver's cursor inside SQL Core's transaction: executing through SQL Core costs
~75 µs a statement here against ~20 µs on the cursor, and a dial runs a dozen. Driver
errors surface as SQL Core's, so callers handle both paths alike. Dialects whose parameter
style is not known take the Core path.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError

from serving.store import tables as t

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: SQLite allows 32,766 bound variables; PostgreSQL has no small limit. One IN-list chunk.
IN_CHUNK = 2000


def to_us(instant: dt.datetime) -> int:
    """Microseconds since the epoch (UTC) of an aware datetime; naive ones are refused."""
    if instant.tzinfo is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: give an aware instant (UTC)")
    delta = instant - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_us(us: int | None) -> dt.datetime | None:
    """Inverse of :func:`to_us` (aware, UTC); None stays None."""
    return None if us is None else EPOCH + dt.timedelta(microseconds=us)


def now_us() -> int:
    return time.time_ns() // 1000


def chunks(seq: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


@functools.cache
def insert_ignore(dialect: str, table: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING into ``table``, built once per dialect."""
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    return make(t.metadata.tables[table]).on_conflict_do_nothing()


@contextlib.contextmanager
def driver_cursor(conn: Connection, sql: str) -> Iterator[Any]:
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


def rows(conn: Connection, stmt: Any, params: Mapping[str, Any] | None = None) -> tuple[
    tuple[str, ...], list[tuple]
]:  # fmt: skip
    """(column names, rows as plain tuples) of a SELECT built once, run on the driver's
    cursor inside ``conn``'s transaction. Values come back as the driver gives them (bytes,
    ints, text), which is what the store's columns hold."""
    params = params or {}
    if conn.dialect.paramstyle not in _DRIVER_STYLES:
        result = conn.execute(stmt, dict(params))
        return tuple(result.keys()), [tuple(r) for r in result.all()]
    compiled = _compiled(stmt, conn.dialect)
    state = compiled.construct_expanded_state(dict(params))
    args = state.positional_parameters if compiled.positional else state.parameters
    with driver_cursor(conn, state.statement) as cursor:
        cursor.execute(state.statement, args)
        return tuple(d[0] for d in cursor.description), cursor.fetchall()


def mappings(
    conn: Connection, stmt: Any, params: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """:func:`rows` as one dict per row."""
    names, found = rows(conn, stmt, params)
    return [dict(zip(names, row, strict=True)) for row in found]


def insert_rows(conn: Connection, stmt: Any, records: Sequence[Mapping[str, Any]]) -> None:
    """An INSERT built once, for rows that all have the same keys, as one ``executemany`` on
    the driver's cursor inside ``conn``'s transaction (SQL Core's per-row parameter work
    costs more than SQLite's insert). Falls back to Core when a column would need a Python
    default the rows do not carry."""
    if records:
        _insert_many(conn, stmt, tuple(records[0]), records, positional=False)


def insert_tuples(
    conn: Connection, stmt: Any, keys: tuple[str, ...], values: Sequence[tuple]
) -> None:
    """:func:`insert_rows` for rows given as tuples in ``keys`` order: no dict per row, for
    the 50,000-row batches of a registry import."""
    if values:
        _insert_many(conn, stmt, keys, values, positional=True)


def _insert_many(
    conn: Connection, stmt: Any, keys: tuple[str, ...], records: Sequence[Any], positional: bool
) -> None:
    def as_dicts() -> list[Any]:
        return [dict(zip(keys, r, strict=True)) for r in records] if positional else list(records)

    if conn.dialect.paramstyle not in _DRIVER_STYLES:
        conn.execute(stmt, as_dicts())
        return
    compiled = _compiled(stmt, conn.dialect, keys)
    names = compiled.positiontup if compiled.positional else list(compiled.bind_names.values())
    if not set(names) <= set(keys):
        conn.execute(stmt, as_dicts())
        return
    args: Sequence[Any]
    if not compiled.positional:
        args = as_dicts()
    elif not positional:
        args = [tuple(row[k] for k in names) for row in records]
    elif tuple(names) == keys:
        args = records
    else:
        at = [keys.index(name) for name in names]
        args = [tuple(r[i] for i in at) for r in records]
    with driver_cursor(conn, compiled.string) as cursor:
        cursor.executemany(compiled.string, args)
