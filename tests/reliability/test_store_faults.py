"""The store file deleted, replaced, made read-only (``chattr +i``: refused even to root and
to descriptors already open), locked against writes or damaged while the service is
under load (opt-outs streaming in, dials, screens) — through the service in process
(ContactGate.to_asgi()) on a real SQLite file, each case with its own fresh service; and on
PostgreSQL, the service's database connections killed under the same load.

Nothing acknowledged is lost: hard links keep the original file (and its WAL) reachable
after it is removed from its path, and every acknowledged opt-out must be in it. Nothing is
allowed once the fault is in place, and ``/readyz`` says 503. On PostgreSQL a killed
connection fails its own request closed (503 for a write, ``SYSTEM_UNAVAILABLE`` for a
decision, never a 500) and the service carries on on fresh connections.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from serving.store import Store
from tests.support.models import champion_store
from tests.support.service import AUTH, asgi_app, service_environment
from tests.support.tcp_proxy import TcpProxy

#: How long the load runs before and after the fault.
LOAD_S = 1.5


def _next_tuesday_10_florida() -> str:
    now = dt.datetime.now(dt.UTC)
    day = now + dt.timedelta(days=2)
    while day.weekday() != 1:
        day += dt.timedelta(days=1)
    return day.replace(hour=15, minute=0, second=0, microsecond=0).isoformat()


class Load:
    """Three threads on one service: opt-outs, dials, screens; what each got and when."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.stop = threading.Event()
        self.acked: list[tuple[float, str]] = []  # (request start, event id)
        self.decisions: list[tuple[float, str, str]] = []  # (start, endpoint, decision)
        self.errors: list[str] = []
        self.statuses: list[tuple[float, str, int]] = []  # (start, endpoint, HTTP status)
        #: (start, end, what): decisions as "endpoint:decision", acknowledged opt-outs by id
        self.spans: list[tuple[float, float, str]] = []
        self._ids = itertools.count()
        self.screen_at = _next_tuesday_10_florida()
        self.threads = [
            threading.Thread(target=self._loop, args=(f,), daemon=True)
            for f in (self._opt_out, self._dial, self._screen)
        ]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)

    def _loop(self, step: Callable[[], None]) -> None:
        while not self.stop.is_set():
            try:
                step()
            except Exception as exc:  # a transport error: nothing acknowledged
                self.errors.append(f"{exc.__class__.__name__}: {exc}"[:200])
            time.sleep(0.01)

    def _opt_out(self) -> None:
        n = next(self._ids)
        event_id = f"stop-{n}"
        number = f"+1212555{100 + n % 100:04d}"
        started = time.monotonic()
        response = self.client.post(
            "/record_events",
            json={"events": [{"event_id": event_id, "number": number, "kind": "opt_out",
                              "ts": dt.datetime.now(dt.UTC).isoformat()}]},
            headers=AUTH["operator"],
        )  # fmt: skip
        self.statuses.append((started, "record_events", response.status_code))
        if response.status_code == 200 and response.json()["accepted"] == 1:
            self.acked.append((started, event_id))
            self.spans.append((started, time.monotonic(), event_id))

    def _dial(self) -> None:
        started = time.monotonic()
        response = self.client.post(
            "/authorize",
            json={"number": f"+1305555{100 + int(started * 10) % 100:04d}", "channel": "call"},
            headers=AUTH["campaign"],
        )
        self.statuses.append((started, "authorize", response.status_code))
        if response.status_code == 200:
            self.decisions.append((started, "authorize", response.json()["decision"]))
            self.spans.append(
                (started, time.monotonic(), f"authorize:{response.json()['decision']}")
            )

    def _screen(self) -> None:
        started = time.monotonic()
        contacts = [
            {"number": f"+1305555{100 + i:04d}", "channel": "call", "at": self.screen_at}
            for i in range(20)
        ]
        response = self.client.post(
            "/screen", json={"contacts": contacts}, headers=AUTH["campaign"]
        )
        self.statuses.append((started, "screen", response.status_code))
        if response.status_code == 200:
            ended = time.monotonic()
            for result in response.json()["results"]:
                self.decisions.append((started, "screen", result["decision"]))
                self.spans.append((started, ended, f"screen:{result['decision']}"))


def _links(path: Path, keep: Path) -> None:
    """Hard links to the store's files: the original stays readable whatever its path."""
    for suffix in ("", "-wal"):
        if Path(f"{path}{suffix}").exists():
            os.link(f"{path}{suffix}", f"{keep}{suffix}")


def _stored_ids(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM events")}


def _remove(path: Path, tmp: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _replace(path: Path, tmp: Path) -> None:
    other = tmp / "other.db"
    Store.open(f"sqlite:///{other}").close()
    os.replace(other, path)


def _damage(path: Path, tmp: Path) -> None:
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.seek(4096)
        f.write(os.urandom(max(size - 4096, 4096 * 8)))


FAULTS = {"removed": _remove, "replaced": _replace, "damaged": _damage}


@pytest.fixture
def service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env = service_environment(tmp_path, champion_store().tracking_uri)
    env.pop("CONTACTGATE_STORE_CREATE")
    env.pop("CONTACTGATE_AUTHORIZE_SKEW_S")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONTACTGATE_RULES_DIR", raising=False)
    path = Path(env["CONTACTGATE_DB_URL"].removeprefix("sqlite:///"))
    with Store.open(env["CONTACTGATE_DB_URL"]) as store:  # `contactgate store init`
        store.import_registry(
            "US_NATIONAL_DNC", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), ["+13055550199"]
        )
        store.import_registry(  # Florida's own list (the numbers dialled are Florida's)
            "US_FL_DNC", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), [], allow_empty=True
        )
    with TestClient(asgi_app()) as client:
        assert client.get("/readyz").status_code == 200
        yield client, path


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_store_fault_under_load_loses_nothing_acknowledged_and_allows_nothing(
    service, tmp_path: Path, fault: str
) -> None:
    client, path = service
    keep = tmp_path / "original.db"
    with Load(client) as load:
        time.sleep(LOAD_S)
        if fault != "damaged":
            _links(path, keep)
        FAULTS[fault](path, tmp_path)
        faulted = time.monotonic()
        time.sleep(LOAD_S)
    assert client.get("/readyz").status_code == 503
    before = [d for t, e, d in load.decisions if t < faulted and e == "screen"]
    after = [(e, d) for t, e, d in load.decisions if t > faulted]
    assert "allow" in before, "the load never got an allow before the fault"
    assert after and all(d != "allow" for _, d in after), after[:5]
    late_acks = [i for t, i in load.acked if t > faulted]
    assert late_acks == [], late_acks[:5]
    assert load.acked, "no opt-out acknowledged before the fault"
    if fault != "damaged":  # a damaged file cannot be read back: its data is gone
        missing = {i for _, i in load.acked} - _stored_ids(keep)
        assert not missing, sorted(missing)[:5]
    response = client.post(
        "/record_events",
        json={"events": [{"event_id": "x", "number": "+12125550100", "kind": "opt_out",
                          "ts": dt.datetime.now(dt.UTC).isoformat()}]},
        headers=AUTH["operator"],
    )  # fmt: skip
    assert response.status_code == 503, response.text
    assert not path.exists() or fault != "removed"  # nothing created in its place


def test_a_store_that_cannot_take_writes_is_not_ready_and_allows_no_dial(service) -> None:
    client, path = service
    holder = sqlite3.connect(path, isolation_level=None, timeout=1)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the only writer slot
    try:
        started = time.monotonic()
        assert client.get("/readyz").status_code == 503
        dial = client.post(
            "/authorize", json={"number": "+13055550150", "channel": "call"},
            headers=AUTH["campaign"],
        ).json()  # fmt: skip
        assert dial["decision"] == "withhold"
        assert [r["code"] for r in dial["reasons"]] == ["SYSTEM_UNAVAILABLE"]
        assert time.monotonic() - started < 20
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert client.get("/readyz").status_code == 200  # writable again: ready again


def _immutable(paths: list[Path], on: bool) -> bool:
    """``chattr +i`` / ``-i``: the file system then refuses every write to the file, even
    through descriptors already open and even for root. False where it cannot be set."""
    import subprocess

    flag = "+i" if on else "-i"
    done = subprocess.run(["chattr", flag, *map(str, paths)], capture_output=True, check=False)
    return done.returncode == 0


def test_a_store_made_read_only_under_load_acknowledges_nothing_and_allows_nothing(
    service, tmp_path: Path
) -> None:
    client, path = service
    files = [p for p in (path, Path(f"{path}-wal")) if p.exists()]
    if not _immutable(files, on=False):
        pytest.skip("chattr is not available on this file system (needed to refuse writes)")
    try:
        with Load(client) as load:
            time.sleep(LOAD_S)
            assert _immutable(files, on=True)
            faulted = time.monotonic()
            time.sleep(LOAD_S)
        assert client.get("/readyz").status_code == 503
        after = [(e, d) for t, e, d in load.decisions if t > faulted]
        assert after and all(d != "allow" for _, d in after), after[:5]
        late_acks = [i for t, i in load.acked if t > faulted]
        assert late_acks == [], late_acks[:5]
    finally:
        _immutable(files, on=False)
    assert load.acked, "no opt-out acknowledged before the fault"
    missing = {i for _, i in load.acked} - _stored_ids(path)
    assert not missing, sorted(missing)[:5]


def test_the_service_does_not_create_a_missing_store(tmp_path: Path, monkeypatch) -> None:
    env = service_environment(tmp_path, champion_store().tracking_uri)
    env.pop("CONTACTGATE_STORE_CREATE")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    path = Path(env["CONTACTGATE_DB_URL"].removeprefix("sqlite:///"))
    with TestClient(asgi_app()) as client:
        assert client.get("/readyz").status_code == 503
        screened = client.post(
            "/screen",
            json={"contacts": [{"number": "+13055550150", "channel": "call"}]},
            headers=AUTH["campaign"],
        ).json()
        assert screened["results"][0]["decision"] == "withhold"
        write = client.post(
            "/dnc_add",
            json={"records": [{"number": "+13055550150",
                               "added_at": dt.datetime.now(dt.UTC).isoformat()}]},
            headers=AUTH["operator"],
        )  # fmt: skip
        assert write.status_code == 503
    assert not path.exists()


# ---------------------------------------------------------------------------- PostgreSQL
def _terminate(admin: Any, application: str) -> int:
    """``pg_terminate_backend`` on every connection the service holds (found by its
    application name: other connections to the server are left alone)."""
    from sqlalchemy import text

    with admin.connect() as conn:
        return len(
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = :name AND pid <> pg_backend_pid()"
                ),
                {"name": application},
            ).all()
        )


@pytest.fixture
def pg_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str):
    """The service in process on a fresh PostgreSQL schema, reached through a
    :class:`TcpProxy` (the database can go away) under an application name of its own
    (its connections can be told from the other tests')."""
    from sqlalchemy.engine import make_url

    application = f"contactgate-fault-{uuid.uuid4().hex[:8]}"
    direct = make_url(pg_url)
    proxy = TcpProxy((direct.host or "127.0.0.1", direct.port or 5432))
    url = (
        direct.set(host="127.0.0.1", port=proxy.port)
        .update_query_dict({"application_name": application})
        .render_as_string(hide_password=False)
    )
    env = service_environment(tmp_path, champion_store().tracking_uri) | {"CONTACTGATE_DB_URL": url}
    env.pop("CONTACTGATE_STORE_CREATE")
    env.pop("CONTACTGATE_AUTHORIZE_SKEW_S")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONTACTGATE_RULES_DIR", raising=False)
    try:
        with Store.open(url) as store:  # `contactgate store init`
            store.import_registry(
                "US_NATIONAL_DNC", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), ["+13055550199"]
            )
            store.import_registry(
                "US_FL_DNC", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), [], allow_empty=True
            )
        with TestClient(asgi_app()) as client:
            assert client.get("/readyz").status_code == 200
            yield client, pg_url, application, proxy
    finally:
        proxy.close()


def _stored_event_ids(url: str) -> set[str]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SELECT event_id FROM events")).scalars())
    finally:
        engine.dispose()


def _answers_of_the_project(load: Load) -> None:
    """Every request got a decision (200) or, for a write, the project's 503."""
    assert load.errors == [], load.errors[:5]
    wrong = [(e, s) for _, e, s in load.statuses if s != 200 and (e, s) != ("record_events", 503)]
    assert not wrong, wrong[:5]


@pytest.mark.postgres
def test_postgres_connections_killed_under_load_lose_nothing_acknowledged(
    pg_service, pg_server_url: str
) -> None:
    from sqlalchemy import create_engine

    client, direct_url, application, _ = pg_service
    admin = create_engine(pg_server_url)
    killed = 0
    try:
        with Load(client) as load:
            time.sleep(LOAD_S)
            storm = time.monotonic()
            while time.monotonic() - storm < 2 * LOAD_S:  # the database drops the service
                killed += _terminate(admin, application)
                time.sleep(0.05)
            calm = time.monotonic()
            time.sleep(LOAD_S)
    finally:
        admin.dispose()
    assert killed, "no connection of the service was terminated"
    _answers_of_the_project(load)
    assert any(s == 200 for t, e, s in load.statuses if e == "record_events" and t > calm)
    assert load.acked, "no opt-out acknowledged"
    missing = {i for _, i in load.acked} - _stored_event_ids(direct_url)
    assert not missing, sorted(missing)[:5]
    # the service carries on on fresh connections: ready, and deciding again
    assert client.get("/readyz").status_code == 200
    after = [d for t, e, d in load.decisions if t > calm + 0.5 and e == "screen"]
    assert "allow" in after, "no allow once the connections were back"


@pytest.mark.postgres
def test_postgres_gone_under_load_fails_closed_and_recovers_when_back(pg_service) -> None:
    client, direct_url, _, proxy = pg_service
    with Load(client) as load:
        time.sleep(LOAD_S)
        proxy.cut()  # every connection reset, new ones refused
        gone = time.monotonic()
        time.sleep(2 * LOAD_S)
        assert client.get("/readyz").status_code == 503
        proxy.restore()
        back = time.monotonic()
        time.sleep(2 * LOAD_S)
    _answers_of_the_project(load)
    # what began and ended while the database was away (a request that began then may
    # reach the database once it is back, and rightly succeed)
    during = [what for start, end, what in load.spans if gone < start and end < back]
    assert any(w.endswith(":withhold") for w in during), during[:5]
    assert not [w for w in during if not w.endswith(":withhold")], during[:5]
    assert any(s == 503 for t, e, s in load.statuses if e == "record_events" and gone < t < back)
    assert load.acked, "no opt-out acknowledged"
    missing = {i for _, i in load.acked} - _stored_event_ids(direct_url)
    assert not missing, sorted(missing)[:5]
    # back: ready, writes acknowledged and contacts allowed again
    assert client.get("/readyz").status_code == 200
    assert any(s == 200 for t, e, s in load.statuses if e == "record_events" and t > back + 0.5)
    assert "allow" in [d for t, e, d in load.decisions if t > back + 0.5 and e == "screen"]
