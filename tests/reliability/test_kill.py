"""``kill -9`` of a real ``contactgate serve`` and of its workers while opt-outs stream in,
on SQLite and on PostgreSQL: every acknowledged opt-out is in the store afterwards and a
restarted server on the same store withholds those numbers; no worker outlives its server.

Bounded: one kill of each kind per backend (``--reliability-long``: three rounds).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from serving.store import Store
from tests.conftest import LONG_OPTION
from tests.support.models import champion_store
from tests.support.server import AUTH, Server, alive, server_environment

pytestmark = pytest.mark.e2e

#: How long a worker may outlive its killed server.
ORPHAN_LIMIT_S = 10


class OptOuts:
    """A thread posting one opt-out per request; the ids the server acknowledged."""

    def __init__(self, url: str) -> None:
        self.client = httpx.Client(base_url=url, headers=AUTH["operator"], timeout=10)
        self.acked: list[tuple[str, str]] = []  # (event id, number)
        self.failed = 0
        self._ids = itertools.count()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> OptOuts:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            n = next(self._ids)
            event_id, number = f"kill-{n}", f"+1212555{100 + n % 100:04d}"
            body = {"events": [{"event_id": event_id, "number": number, "kind": "opt_out",
                                "ts": dt.datetime.now(dt.UTC).isoformat()}]}  # fmt: skip
            try:
                response = self.client.post("/record_events", json=body)
            except httpx.HTTPError:
                self.failed += 1
                time.sleep(0.05)
                continue
            if response.status_code == 200 and response.json()["accepted"] == 1:
                self.acked.append((event_id, number))
            else:
                self.failed += 1

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acked) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.acked) >= count, f"only {len(self.acked)} acknowledged"


def _store_url(request: pytest.FixtureRequest, backend: str) -> str:
    return request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_kill_9_while_opt_outs_stream_in_loses_nothing_acknowledged(
    request: pytest.FixtureRequest, tmp_path: Path, backend: str
) -> None:
    url = _store_url(request, backend)
    env = server_environment(url, champion_store().tracking_uri, tmp_path, CONTACTGATE_WORKERS="2")
    keys = {k: env[k] for k in ("CONTACTGATE_HMAC_KEY", "CONTACTGATE_ENCRYPTION_KEY")}
    with Store.open(url, environ=keys) as store:  # `contactgate store init`
        store.import_registry(
            "US_NATIONAL_DNC", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), ["+13055550199"]
        )
        store.import_registry(  # Florida's own list (the numbers dialled are Florida's)
            "US_FL_DNC", dt.datetime.now(dt.UTC) - dt.timedelta(days=1), [], allow_empty=True
        )
    rounds = 3 if request.config.getoption(LONG_OPTION) else 1
    acked: list[tuple[str, str]] = []
    for round_ in range(rounds):
        server = Server(env, tmp_path / f"server-{round_}.log")
        try:
            server.wait_ready()
            with OptOuts(server.url) as stream:
                stream.wait_for(20)
                # a worker killed: the server starts another; acknowledged writes stay
                victim = server.workers()[0]
                os.kill(victim, signal.SIGKILL)
                seen = len(stream.acked)
                stream.wait_for(seen + 20)
                # the server killed: its workers must leave within seconds
                workers = server.workers()
                assert workers
                server.kill9()
                killed = time.monotonic()
                while any(alive(p) for p in workers) and time.monotonic() - killed < ORPHAN_LIMIT_S:
                    time.sleep(0.1)
                assert not [p for p in workers if alive(p)], "a worker outlived its server"
                time.sleep(0.5)
            acked += stream.acked
        finally:
            server.stop()
        with Store.open(url, environ=keys, create=False) as store, store._read() as conn:
            stored = store._existing_event_ids(conn, [i for i, _ in acked])
        assert not {i for i, _ in acked} - stored, "acknowledged opt-outs are missing"
    # restarted on the same store: the opted-out numbers are withheld
    server = Server(env, tmp_path / "server-restart.log")
    try:
        server.wait_ready()
        with server.client("campaign") as client:
            at = (dt.datetime.now(dt.UTC) + dt.timedelta(days=7)).isoformat()
            numbers = sorted({n for _, n in acked})[:50]
            body = {"contacts": [{"number": n, "channel": "call", "at": at} for n in numbers]}
            results = client.post("/screen", json=body).json()["results"]
        assert all(r["decision"] == "withhold" for r in results)
        assert all("CONSENT_REVOKED" in [x["code"] for x in r["reasons"]] for r in results), (
            results[0]
        )
    finally:
        server.stop()
