"""Shared fixtures: store keys, a temp SQLite store, and a real PostgreSQL when available.

PostgreSQL comes from ``CONTACTGATE_TEST_PG_URL`` (``postgresql+psycopg://user:pw@host/db``;
``.ci/run`` installs and starts a server and exports it). Each test gets its own schema
(via ``search_path``), dropped afterwards, so tests never see each other's rows. Without
the variable, or when the server does not answer, PostgreSQL cases are skipped with the
reason shown in the summary (``-ra``).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from serving.settings import start_runtime
from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key
from tests.support.cluster import dask_cluster  # noqa: F401 (a fixture: real dask processes)

# As every entry point does: telemetry off, OpenMP passive (no .env: tests bring their keys).
start_runtime(env_file=None)

PG_URL_ENV = "CONTACTGATE_TEST_PG_URL"
LONG_OPTION = "--reliability-long"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        LONG_OPTION,
        action="store_true",
        help="run the long variants of tests/reliability/ (the 60-second soak at 100 "
        "requests/s, more kill rounds)",
    )


#: One pair of fresh keys per test session (never real secrets).
_SESSION_KEYS = {HMAC_ENV: new_key(), ENCRYPTION_ENV: new_key()}


@pytest.fixture
def store_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Put test keys into the environment (the outside world) and return them."""
    for name, value in _SESSION_KEYS.items():
        monkeypatch.setenv(name, value)
    return dict(_SESSION_KEYS)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """The PostgreSQL URL of the test server, or a skip with the reason."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        pytest.skip(f"PostgreSQL tests skipped: {PG_URL_ENV} is not set (.ci/run sets it in CI)")
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any connection failure is a skip, with its reason
        pytest.skip(
            f"PostgreSQL tests skipped: {PG_URL_ENV} does not answer ({exc.__class__.__name__})"
        )
    finally:
        engine.dispose()
    return url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose ``search_path`` is a fresh schema, dropped after the test."""
    with fresh_pg_schema(pg_server_url) as url:
        yield url


@contextlib.contextmanager
def fresh_pg_schema(pg_server_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose ``search_path`` is a fresh schema, dropped on exit."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_server_url).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite store file in the test's temp dir."""
    return f"sqlite:///{tmp_path / 'store' / 'contactgate.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """The same test on both backends."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_url: str, store_env: dict[str, str]) -> Iterator[object]:
    """An opened, migrated :class:`serving.store.Store` on each backend."""
    from serving.store import Store

    opened = Store.open(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(sqlite_url: str, store_env: dict[str, str]) -> Iterator[object]:
    """An opened SQLite store in a temp dir."""
    from serving.store import Store

    opened = Store.open(sqlite_url)
    try:
        yield opened
    finally:
        opened.close()
