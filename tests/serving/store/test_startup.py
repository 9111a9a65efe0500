"""The store at start-up: keys, migrations, reachability, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import pytest

from serving.store import (
    SchemaTooNew,
    Store,
    StoreUnavailable,
)
from serving.store import tables as t
from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, KeyConfigError, new_key
from tests.support.store import AT, NY, contact


def test_missing_key_is_a_startup_error_naming_the_variable(store_url: str) -> None:
    with pytest.raises(KeyConfigError, match=HMAC_ENV):
        Store.open(store_url, environ={ENCRYPTION_ENV: new_key()})
    with pytest.raises(KeyConfigError, match=ENCRYPTION_ENV):
        Store.open(store_url, environ={HMAC_ENV: new_key()})


def test_malformed_key_is_a_startup_error(store_url: str) -> None:
    with pytest.raises(KeyConfigError, match=f"{ENCRYPTION_ENV} is malformed"):
        Store.open(store_url, environ={HMAC_ENV: new_key(), ENCRYPTION_ENV: "c2hvcnQ"})


def test_migrations_run_once_and_refuse_a_newer_schema(store: Store, store_url: str) -> None:
    assert store.schema_version() == t.LATEST_VERSION
    store.record_events([contact("m1", NY, AT)])
    again = Store.open(store_url)  # re-running start-up keeps the data
    assert again.counts()["events"] == 1
    assert again.counts()["schema_version"] == len(t.MIGRATIONS)
    with again._write() as conn:
        conn.execute(
            t.schema_version.insert().values(
                version=t.LATEST_VERSION + 1, description="x", applied_at=0
            )
        )
    again.close()
    with pytest.raises(SchemaTooNew, match="newer than this code"):
        Store.open(store_url)


def test_ping_raises_when_unreachable(store: Store, store_env: dict[str, str]) -> None:
    store.ping()
    store.close()
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        Store.open("postgresql+psycopg://nobody:x@127.0.0.1:9/none")


def test_concurrent_startups_migrate_once(store_url: str, store_env: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store.open(store_url), range(4)))
    try:
        assert {s.schema_version() for s in stores} == {t.LATEST_VERSION}
        assert stores[0].counts()["schema_version"] == len(t.MIGRATIONS)
    finally:
        for s in stores:
            s.close()
