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
import re
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


class _Slot:
    """Stands for a caller's value while the expanded form of a statement is worked out."""

    __slots__ = ("key", "index")

    def __init__(self, key: str, index: int | None) -> None:
        self.key, self.index = key, index


#: Expanded forms are remembered while the IN-lists are this short (the dial reads one
#: number): beyond that, expanding costs little beside the read, and the shapes are many.
_REMEMBER_UP_TO = 16
_NAMED = re.compile(r"%\((\w+)\)s")
_EXPANDED: dict[tuple[int, tuple[tuple[str, int], ...]], tuple[Any, ...]] = {}


def _expand(compiled: Any, params: Mapping[str, Any]) -> tuple[str, Any]:
    state = compiled.construct_expanded_state(dict(params))
    return state.statement, state.positional_parameters if compiled.positional else state.parameters


def _expanded(compiled: Any, params: Mapping[str, Any]) -> tuple[str, Any]:
    """(SQL, driver arguments) of a compiled statement with its IN-lists expanded for
    ``params``. For short lists the expanded SQL and where each argument comes from are
    worked out once per shape (the lengths of the lists) and only filled in afterwards."""
    shape = tuple((k, len(v) if isinstance(v, list | tuple) else -1) for k, v in params.items())
    key = (id(compiled), shape)
    hit = _EXPANDED.get(key)
    if hit is None or hit[0] is not compiled:
        if sum(n for _, n in shape if n > 0) > _REMEMBER_UP_TO:
            return _expand(compiled, params)
        probe = {k: [_Slot(k, i) for i in range(n)] if n >= 0 else _Slot(k, None) for k, n in shape}
        state = compiled.construct_expanded_state(probe)
        if compiled.positional:
            names, found = None, list(state.positional_parameters)
        else:
            names, found = list(state.parameters), list(state.parameters.values())
        # (key, index) of the caller's value, or (None, the statement's own constant)
        sources = [(v.key, v.index) if isinstance(v, _Slot) else (None, v) for v in found]
        wanted = {(k, i) for k, n in shape for i in (range(n) if n >= 0 else (None,))}
        if {(k, i) for k, i in sources if k is not None} != wanted:
            return _expand(compiled, params)  # a value the driver does not take one by one
        sql = state.statement
        if names is not None:  # pyformat: positional ``%s`` in order, as the driver takes fastest
            by_name = dict(zip(names, sources, strict=True))
            sources = [by_name[name] for name in _NAMED.findall(sql)]
            sql = _NAMED.sub("%s", sql)
        hit = _EXPANDED[key] = (compiled, sql, sources)
    _, sql, sources = hit
    return sql, [v if k is None else params[k] if v is None else params[k][v] for k, v in sources]


def rows(conn: Connection, stmt: Any, params: Mapping[str, Any] | None = None) -> tuple[
    tuple[str, ...], list[tuple]
]:  # fmt: skip
    """(column names, rows as plain tuples) of a SELECT built once, run on the driver's
    cursor inside ``conn``'s transaction. Values come back as the driver gives them (bytes,
    ints, text), which is what the store's columns hold."""
    return _select(conn, stmt, params, True)  # type: ignore[return-value]


def tuples(conn: Connection, stmt: Any, params: Mapping[str, Any] | None = None) -> list[tuple]:
    """:func:`rows` without the column names (which cost a driver call of their own)."""
    return _select(conn, stmt, params, False)[1]


def _select(
    conn: Connection, stmt: Any, params: Mapping[str, Any] | None, names: bool
) -> tuple[tuple[str, ...] | None, list[tuple]]:
    params = params or {}
    if conn.dialect.paramstyle not in _DRIVER_STYLES:
        result = conn.execute(stmt, dict(params))
        return tuple(result.keys()), [tuple(r) for r in result.all()]
    compiled = _compiled(stmt, conn.dialect)
    sql, args = _expanded(compiled, params)
    with driver_cursor(conn, sql) as cursor:
        cursor.execute(sql, args)
        found = cursor.fetchall()
        return (tuple(d[0] for d in cursor.description) if names else None), found


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
