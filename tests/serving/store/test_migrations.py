"""Store migrations on a store that already holds data, on SQLite and on a real PostgreSQL.

Migration 3 widens ``events.purpose`` for ``opt_out_confirmation`` (20 characters): a store
made before it (the column a VARCHAR(16)) is upgraded in place at start-up, keeps its rows,
and then stores a confirmation. SQLite does not enforce the length (the table has no CHECK),
so there the migration changes nothing and a table with a CHECK is refused.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from features.schema import Event
from serving.store import Store
from serving.store import tables as t
from tests.support.store import AT, NY, contact

WIDENED = next(m for m in t.MIGRATIONS if "opt_out_confirmation" in m.description)


def _confirmation(event_id: str) -> Event:
    return Event(
        event_id=event_id,
        number=NY,
        ts=AT + dt.timedelta(minutes=1),
        kind="contact",
        channel="sms",
        purpose="opt_out_confirmation",
    )


def _as_before_the_migration(store: Store) -> None:
    """Put the store back as the code before the migration left it: ``events.purpose`` a
    VARCHAR(16) and the schema version below the migration."""
    with store._write() as conn:
        if store.dialect == "postgresql":
            conn.execute(text("ALTER TABLE events ALTER COLUMN purpose TYPE VARCHAR(16)"))
        else:  # SQLite keeps the declared type in the table's SQL: rebuild it as it was
            table_sql, index_sql = _sqlite_definition(conn)
            assert "CHECK" not in table_sql.upper()  # nothing but the type limits the column
            conn.execute(text("ALTER TABLE events RENAME TO events_later"))
            conn.execute(text(table_sql.replace("purpose VARCHAR(32)", "purpose VARCHAR(16)")))
            conn.execute(text("INSERT INTO events SELECT * FROM events_later"))
            conn.execute(text("DROP TABLE events_later"))
            for sql in index_sql:
                conn.execute(text(sql))
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version >= WIDENED.version))


def _sqlite_definition(conn) -> tuple[str, list[str]]:
    rows = conn.execute(
        text("SELECT type, sql FROM sqlite_master WHERE tbl_name = 'events' AND sql IS NOT NULL")
    ).all()
    table_sql = next(sql for kind, sql in rows if kind == "table")
    return table_sql, [sql for kind, sql in rows if kind == "index"]


def _purpose_length(store: Store) -> int | None:
    with store._read() as conn:
        if store.dialect == "postgresql":
            return conn.execute(
                text(
                    "SELECT character_maximum_length FROM information_schema.columns"
                    " WHERE table_schema = current_schema() AND table_name = 'events'"
                    " AND column_name = 'purpose'"
                )
            ).scalar()
        table_sql, _ = _sqlite_definition(conn)
        return 32 if "purpose VARCHAR(32)" in table_sql else 16


def test_purpose_is_widened_on_a_store_holding_data(store_url: str, store_env: dict) -> None:
    store = Store.open(store_url)
    store.record_events([contact(f"m{i}", NY, AT - dt.timedelta(days=i)) for i in range(5)])
    _as_before_the_migration(store)
    assert _purpose_length(store) == 16
    assert store.schema_version() == WIDENED.version - 1
    if store.dialect == "postgresql":  # the length binds there: the old store refuses it
        with pytest.raises(Exception, match="too long"):
            store.record_events([_confirmation("too-early")])
    store.close()

    upgraded = Store.open(store_url)
    try:
        assert upgraded.schema_version() == t.LATEST_VERSION
        # PostgreSQL: altered; SQLite: the declared type stays (it binds nothing there)
        assert _purpose_length(upgraded) == (32 if upgraded.dialect == "postgresql" else 16)
        assert upgraded.counts()["events"] == 5  # the rows are kept
        assert upgraded.record_events([_confirmation("confirm-1")]).accepted == 1
        state = upgraded.load_states([NY], AT + dt.timedelta(minutes=2))[NY]
        purposes = [e.purpose for e in state.history if e.kind == "contact"]
        assert purposes.count("opt_out_confirmation") == 1
        assert purposes.count(None) + purposes.count("marketing") == 5
    finally:
        upgraded.close()


def test_a_sqlite_events_table_with_a_check_is_refused(sqlite_url: str, store_env: dict) -> None:
    store = Store.open(sqlite_url)
    with store._write() as conn:
        table_sql, _ = _sqlite_definition(conn)
        conn.execute(text("ALTER TABLE events RENAME TO events_later"))
        conn.execute(
            text(table_sql.replace("purpose VARCHAR(32)", "purpose VARCHAR(16) CHECK (1)"))
        )
        conn.execute(text("DROP TABLE events_later"))
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version >= WIDENED.version))
    store.close()
    with pytest.raises(RuntimeError, match="CHECK constraint"):
        Store.open(sqlite_url)
