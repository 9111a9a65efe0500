"""Two ``contactgate serve`` processes on one PostgreSQL store behave as one service: dials of
one number spread over both stay within the cap, and what one records (a STOP reply, a
do-not-call entry, a preference, a registry snapshot, a blocked period) the other honours
on its next decision — no replica decides from a copy of its own."""

from __future__ import annotations

import concurrent.futures
import itertools
from collections.abc import Iterator

import httpx
import pytest

from serving.settings import MAX_AUTHORIZE_SKEW_S
from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key
from tests.conftest import fresh_pg_schema
from tests.support.models import champion_store
from tests.support.process import AUTH, Server, server_environment

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

AT = "2026-06-16T14:00:00Z"  # Tue 10:00 in Florida


@pytest.fixture(scope="module")
def replicas(pg_server_url, tmp_path_factory) -> Iterator[list[Server]]:
    """Two servers, one PostgreSQL schema, the same keys; the registries they need in force."""
    import datetime as dt

    from serving.store import Store

    keys = {HMAC_ENV: new_key(), ENCRYPTION_ENV: new_key()}
    tmp = tmp_path_factory.mktemp("replicas")
    with fresh_pg_schema(pg_server_url) as url:
        store = Store.open(url, environ=keys)
        snapshot = dt.datetime(2026, 6, 15, tzinfo=dt.UTC)
        store.import_registry("US_NATIONAL_DNC", snapshot, ["+13055550199"])
        for state_list in ("US_FL_DNC", "US_LA_DNC"):
            store.import_registry(state_list, snapshot, [], allow_empty=True)
        store.close()
        servers: list[Server] = []
        try:
            for name in ("a", "b"):
                env = server_environment(
                    url, champion_store().tracking_uri, tmp / name, **keys,
                    CONTACTGATE_AUTHORIZE_SKEW_S=str(MAX_AUTHORIZE_SKEW_S),
                )  # fmt: skip
                (tmp / name).mkdir()
                servers.append(Server(env, tmp / name / "server.log"))
            for server in servers:
                server.wait_ready()
            yield servers
        finally:
            for server in servers:
                server.stop()


def _contact(number: str, **extra) -> dict:
    return {"number": number, "channel": "call", "at": AT} | extra


def _screen(server: Server, number: str, **extra) -> dict:
    with server.client("campaign") as client:
        response = client.post("/screen", json={"contacts": [_contact(number, **extra)]})
    assert response.status_code == 200, response.text
    return response.json()["results"][0]


def _write(server: Server, path: str, body: dict) -> dict:
    with server.client("operator") as client:
        response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def _codes(result: dict) -> list[str]:
    return [r["code"] for r in result["reasons"]]


def test_concurrent_dials_across_replicas_stay_within_the_cap(replicas) -> None:
    """Florida: at most 3 marketing calls per 24 h; 40 dials of one number, alternating
    between the two replicas, all at once."""
    number = "+13055550171"
    urls = itertools.cycle([s.url for s in replicas])
    jobs = [(next(urls), i) for i in range(40)]

    def dial(job: tuple[str, int]) -> str:
        url, i = job
        with httpx.Client(base_url=url, headers=AUTH["campaign"], timeout=90) as client:
            response = client.post("/authorize", json=_contact(number, attempt_id=f"r{i}"))
        assert response.status_code == 200, response.text
        return response.json()["decision"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        decisions = list(pool.map(dial, jobs))
    assert decisions.count("allow") == 3, decisions
    for server in replicas:  # both see the same three attempts and all forty decisions
        with server.client("reviewer") as client:
            report = client.post("/subject_report", json={"number": number}).json()
        assert len([e for e in report["events"] if e["kind"] == "contact"]) == 3
        assert len(report["decisions"]) == 40
    for server in replicas:  # a minute later, on either replica: the cap is reached
        assert "FREQUENCY_CAP" in _codes(_screen(server, number, at="2026-06-16T14:01:00Z"))


def test_a_stop_through_one_replica_is_honoured_by_the_other_at_once(replicas) -> None:
    a, b = replicas
    number = "+13055550173"
    assert _screen(b, number)["decision"] == "allow"
    reply = {"event_id": "rep-stop", "number": number, "ts": "2026-06-16T13:59:59Z",
             "kind": "reply", "text": "Stop."}  # fmt: skip
    assert _write(a, "/record_events", {"events": [reply]})["actions"] == [
        {"index": 0, "action": "opt_out"}
    ]
    after = _screen(b, number)
    assert after["decision"] == "withhold" and "CONSENT_REVOKED" in _codes(after)
    with b.client("campaign") as client:
        dial = client.post("/authorize", json=_contact(number, attempt_id="s1"))
    assert dial.json()["decision"] == "withhold"


def test_every_write_through_one_replica_reaches_the_other(replicas) -> None:
    """Do-not-call entries, preferences, registry snapshots, blocked periods: written
    through one replica, each changes the other's very next decision."""
    a, b = replicas
    dnc_number, pref_number, listed, la_number = (
        "+13055550177", "+13055550178", "+13055550180", "+12255550179",
    )  # fmt: skip
    for number in (dnc_number, pref_number, listed):
        assert _screen(b, number)["decision"] == "allow"
    entry = {"number": dnc_number, "scope": "all", "added_at": "2026-06-10T00:00:00Z"}
    _write(a, "/dnc_add", {"records": [entry]})
    assert "INTERNAL_DNC" in _codes(_screen(b, dnc_number))
    _write(b, "/dnc_remove", {"records": [entry | {"added_at": "2026-06-12T00:00:00Z"}]})
    assert _screen(a, dnc_number)["decision"] == "allow"

    preference = {"number": pref_number, "channels": "sms", "updated_at": "2026-06-01T00:00:00Z"}
    _write(a, "/record_preferences", {"records": [preference]})
    assert "PREFERENCE" in _codes(_screen(b, pref_number))

    snapshot = {"registry": "US_NATIONAL_DNC", "snapshot_at": "2026-06-16T00:00:00Z",
                "numbers": ["+13055550199", listed]}  # fmt: skip
    _write(b, "/registry_import", snapshot)
    assert _screen(a, listed)["decision"] == "withhold"

    at = "2026-06-16T15:00:00Z"  # Tue 10:00 in Louisiana
    assert _screen(b, la_number, at=at)["decision"] == "allow"
    emergency = {"region": "US-LA", "start": "2026-06-16T00:00:00Z",
                 "end": "2026-06-18T00:00:00Z", "reason": "declared state of emergency"}  # fmt: skip
    _write(a, "/block_period", {"records": [emergency]})
    assert "BLOCKED_PERIOD" in _codes(_screen(b, la_number, at=at))
