"""Audit rows with keys (store migration 4): a row written twice is stored once, on both
backends, including a store created before the key existed and already holding rows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from serving.store import tables as t
from tests.support.store import AT, fictional


def _rows(numbers: list[str], run: str | None) -> list[dict]:
    return [
        {"number": n, "decision": "allow", "reasons": [], "model_version": "1",
         "rules_version": "r", "at": AT, "request_id": "batch-x"}
        | ({"audit_key": f"{run}:{i}"} if run else {})
        for i, n in enumerate(numbers)
    ]  # fmt: skip


def _count(store, **where) -> int:
    d = t.decisions
    stmt = select(func.count()).select_from(d)
    for column, value in where.items():
        stmt = stmt.where(d.c[column] == value)
    with store._read() as conn:
        return conn.execute(stmt).scalar_one()


def test_a_keyed_row_written_again_is_skipped(store) -> None:
    numbers = fictional(5)
    store.append_decisions(_rows(numbers[:3], "run1"))
    store.append_decisions(_rows(numbers, "run1"))  # a retry that got further
    store.append_decisions(_rows(numbers[:2], "run2"))  # another run: its own keys
    store.append_decisions(_rows(numbers[:2], None))  # the service's rows: no key
    store.append_decisions(_rows(numbers[:2], None))
    assert _count(store) == 5 + 2 + 4
    exported = list(store.export_decisions(AT - dt.timedelta(days=3650)))
    assert len(exported) == 11


def test_migration_adds_the_key_to_a_store_holding_rows(store_url, store_env) -> None:
    from serving.store import Store

    first = Store.open(store_url)
    with first._write() as conn:  # the store as it was before the key: no column, version 3
        conn.exec_driver_sql("DROP INDEX ux_decisions_audit_key")
        conn.exec_driver_sql("ALTER TABLE decisions DROP COLUMN audit_key")
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version >= 4))
    old = fictional(3)
    with first._write() as conn:
        conn.execute(
            t.decisions.insert(),
            [
                {"request_id": "old", "number_hash": first.number_hash(n), "decision": "allow",
                 "reasons": "[]", "at": 1, "recorded_at": 1}
                for n in old
            ],
        )  # fmt: skip
    first.close()

    again = Store.open(store_url)  # runs migration 4 on the rows held
    try:
        assert again.schema_version() == t.LATEST_VERSION
        assert _count(again, request_id="old") == 3
        again.append_decisions(_rows(old, "run"))
        again.append_decisions(_rows(old, "run"))
        assert _count(again) == 6
    finally:
        again.close()
    Store.open(store_url).close()  # opening once more changes nothing
