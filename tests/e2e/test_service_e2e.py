"""End to end: a real ``contactgate serve`` (BentoML) subprocess on a free loopback port
(:class:`tests.support.server.Server`), with a really trained model in a temp MLflow store.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

import httpx
import pytest

from tests.support.models import champion_store
from tests.support.server import AUTH, Server

pytestmark = pytest.mark.e2e

AT = "2026-06-16T14:00:00Z"  # Tue 10:00 in Florida


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("e2e")
    running = Server.on_new_sqlite_store(tmp, champion_store().tracking_uri)
    try:
        running.wait_ready()
        registry = running.http.post(
            "/registry_import",
            json={
                "registry": "US_NATIONAL_DNC",
                "snapshot_at": "2026-06-15T00:00:00Z",
                "numbers": ["+13055550199"],
            },  # fmt: skip
            headers=AUTH["operator"],
        )
        assert registry.status_code == 200, registry.text
        # Florida and Louisiana keep their own do-not-call lists: without a snapshot in force
        # every marketing contact in those states is withheld REGISTRY_STALE (fail closed)
        for state_list in ("US_FL_DNC", "US_LA_DNC"):
            imported = running.http.post(
                "/registry_import",
                json={
                    "registry": state_list,
                    "snapshot_at": "2026-06-15T00:00:00Z",
                    "numbers": [],
                    "allow_empty": True,
                },  # fmt: skip
                headers=AUTH["operator"],
            )
            assert imported.status_code == 200, imported.text
        yield running
    finally:
        running.stop()


def _contact(number: str, **extra) -> dict:
    return {"number": number, "channel": "call", "at": AT} | extra


def _codes(result: dict) -> list[str]:
    return [r["code"] for r in result["reasons"]]


def test_infrastructure_endpoints(server) -> None:
    assert server.http.get("/livez").status_code == 200
    assert server.http.get("/readyz").status_code == 200
    assert "/screen" in server.http.get("/docs.json", headers=AUTH["reviewer"]).json()["paths"]
    assert server.http.get("/metrics", headers=AUTH["operator"]).status_code == 200


def test_unknown_paths_never_become_metric_labels(server) -> None:
    """Paths a caller invents are 404 at the gate and never reach the framework's metrics
    (one label per path, unbounded) or its access log (a number in a URL)."""
    from serving.http.auth import ENDPOINT_ROLES

    server.http.post("/screen", json={"contacts": []}, headers=AUTH["campaign"])
    for i in range(5):
        assert server.http.get(f"/probe-{i}/+13055550167").status_code == 404
        assert server.http.post(f"/screen/{i}", json={}).status_code == 404
    metrics = server.http.get("/metrics", headers=AUTH["operator"]).text
    assert "probe-" not in metrics and "5550167" not in metrics and "/screen/" not in metrics
    assert 'endpoint="/screen"' in metrics  # the real labels are there
    endpoints = {
        line.split('endpoint="', 1)[1].split('"', 1)[0]
        for line in metrics.splitlines()
        if 'endpoint="' in line
    }
    known = set(ENDPOINT_ROLES) | {"/livez", "/readyz", "/healthz", "/metrics", "/docs.json", "/"}
    assert endpoints <= known, endpoints - known
    assert "5550167" not in server.log_text()


def test_screen(server) -> None:
    response = server.http.post(
        "/screen",
        json={
            "contacts": [
                _contact("+13055550170", ref="r1"),
                _contact("+13055550199"),
                _contact("x"),
            ],
            "explain": 2,
        },  # fmt: skip
        headers=AUTH["campaign"],
    )
    assert response.status_code == 200, response.text
    ok, listed, bad = response.json()["results"]
    assert ok["decision"] == "allow" and ok["ref"] == "r1" and ok["rank"] == 1
    assert len(ok["explanations"]) == 2
    assert "REGISTRY_LISTED" in _codes(listed)
    assert _codes(bad) == ["INVALID_NUMBER"]


def test_auth_and_malformed_bodies(server) -> None:
    assert server.http.post("/screen", json={"contacts": []}).status_code == 401
    assert (
        server.http.post("/screen", json={"contacts": []}, headers=AUTH["reviewer"]).status_code
        == 403
    )
    response = server.http.post(
        "/screen", json={"contacts": [{"number": "+13055550170"}]}, headers=AUTH["campaign"]
    )
    assert response.status_code == 400 and "channel" in response.text


def test_fifty_concurrent_authorizations_under_a_cap_of_three(server) -> None:
    """Florida: at most 3 marketing calls per 24 h (Fla. Stat. § 501.059(8)(c))."""
    body = _contact("+13055550171")

    def call(i: int) -> str:
        with httpx.Client(base_url=server.url, timeout=90) as client:
            response = client.post(
                "/authorize", json=body | {"attempt_id": f"p{i}"}, headers=AUTH["campaign"]
            )
            assert response.status_code == 200, response.text
            return response.json()["decision"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        decisions = list(pool.map(call, range(50)))
    assert decisions.count("allow") == 3, decisions
    report = server.http.post(
        "/subject_report", json={"number": "+13055550171"}, headers=AUTH["reviewer"]
    ).json()
    assert len([e for e in report["events"] if e["kind"] == "contact"]) == 3
    assert len(report["decisions"]) == 50


def test_idempotent_replays(server) -> None:
    event = {"event_id": "e2e-1", "number": "+13055550172", "ts": "2026-06-10T10:00:00Z",
             "kind": "contact", "channel": "call", "outcome": "answered"}  # fmt: skip
    first = server.http.post("/record_events", json={"events": [event]}, headers=AUTH["operator"])
    again = server.http.post("/record_events", json={"events": [event]}, headers=AUTH["operator"])
    assert first.json()["accepted"] == 1 and again.json()["duplicates"] == 1
    attempt = _contact("+13055550172", attempt_id="same-attempt")
    answers = [
        server.http.post("/authorize", json=attempt, headers=AUTH["campaign"]).json()
        for _ in range(2)
    ]
    assert [a["decision"] for a in answers] == ["allow", "allow"]
    assert {a["attempt_id"] for a in answers} == {"same-attempt"}
    report = server.http.post(
        "/subject_report", json={"number": "+13055550172"}, headers=AUTH["reviewer"]
    ).json()
    assert sorted(e["event_id"] for e in report["events"]) == ["e2e-1", "same-attempt"]


def test_opt_out_reply_then_screen_is_revoked(server) -> None:
    number = "+13055550173"
    reply = {"event_id": "e2e-stop", "number": number, "ts": "2026-06-16T13:59:59Z",
             "kind": "reply", "text": "stop"}  # fmt: skip
    response = server.http.post(
        "/record_events", json={"events": [reply]}, headers=AUTH["operator"]
    )
    assert response.json()["actions"] == [{"index": 0, "action": "opt_out"}]
    result = server.http.post(
        "/screen", json={"contacts": [_contact(number)]}, headers=AUTH["campaign"]
    ).json()["results"][0]
    assert result["decision"] == "withhold" and "CONSENT_REVOKED" in _codes(result)


def test_erasure_then_reimport_is_suppressed(server) -> None:
    number = "+13055550174"
    consent = {"number": number, "channel": "any", "purpose": "marketing", "type": "written",
               "granted_at": "2026-01-01T00:00:00Z", "evidence": "web form v3"}  # fmt: skip
    ok = server.http.post("/record_consent", json={"records": [consent]}, headers=AUTH["operator"])
    assert ok.json()["accepted"] == 1
    erased = server.http.post("/erase_subject", json={"number": number}, headers=AUTH["operator"])
    assert erased.status_code == 200 and erased.json()["consent_deleted"] == 1
    server.http.post("/record_consent", json={"records": [consent]}, headers=AUTH["operator"])
    result = server.http.post(
        "/screen", json={"contacts": [_contact(number)]}, headers=AUTH["campaign"]
    ).json()["results"][0]
    assert result["decision"] == "withhold" and "SUPPRESSED" in _codes(result)
    report = server.http.post(
        "/subject_report", json={"number": number}, headers=AUTH["reviewer"]
    ).json()
    assert report["consent"] == [] and report["suppressed"] is True


def test_dnc_preferences_and_blocked_periods_over_http(server) -> None:
    """The remaining operator writes, each followed by the decision it must change."""

    def decide(number: str, **extra) -> dict:
        response = server.http.post(
            "/screen", json={"contacts": [_contact(number, **extra)]}, headers=AUTH["campaign"]
        )
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    def write(path: str, records: list[dict]) -> dict:
        response = server.http.post(path, json={"records": records}, headers=AUTH["operator"])
        assert response.status_code == 200, response.text
        return response.json()

    dnc_number, pref_number, la_number = "+13055550177", "+13055550178", "+12255550179"
    assert decide(dnc_number)["decision"] == "allow"
    entry = {"number": dnc_number, "scope": "all", "added_at": "2026-06-10T00:00:00Z"}
    assert write("/dnc_add", [entry])["accepted"] == 1
    assert "INTERNAL_DNC" in _codes(decide(dnc_number))
    removal = entry | {"added_at": "2026-06-12T00:00:00Z"}
    assert write("/dnc_remove", [removal])["accepted"] == 1
    assert decide(dnc_number)["decision"] == "allow"

    preference = {"number": pref_number, "channels": "sms", "updated_at": "2026-06-01T00:00:00Z"}
    assert write("/record_preferences", [preference])["accepted"] == 1
    assert "PREFERENCE" in _codes(decide(pref_number))  # asked for texts only

    at = "2026-06-16T15:00:00Z"  # Tue 10:00 in Louisiana
    assert decide(la_number, at=at)["decision"] == "allow"
    emergency = {"region": "US-LA", "start": "2026-06-16T00:00:00Z",
                 "end": "2026-06-18T00:00:00Z", "reason": "declared state of emergency"}  # fmt: skip
    assert write("/block_period", [emergency])["accepted"] == 1
    blocked = decide(la_number, at=at)
    assert blocked["decision"] == "withhold" and "BLOCKED_PERIOD" in _codes(blocked)
    bad = write("/block_period", [emergency | {"end": "2026-06-15T00:00:00Z"}])
    assert bad["accepted"] == 0 and bad["rejected"][0]["index"] == 0  # per item, named


def test_model_missing_fails_closed(tmp_path) -> None:
    import mlflow

    empty = tmp_path / "mlflow" / "mlflow.db"
    empty.parent.mkdir()
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{empty}").search_experiments()
    running = Server.on_new_sqlite_store(tmp_path, f"sqlite:///{empty}", keys=False)
    try:
        running.wait_ready(ready=False)
        assert running.http.get("/readyz").status_code == 503
        screen = running.http.post("/screen", json={"contacts": [_contact("+13055550175")]})
        assert screen.status_code == 200
        assert _codes(screen.json()["results"][0]) == ["SYSTEM_UNAVAILABLE"]
        auth = running.http.post("/authorize", json=_contact("+13055550175"))
        assert auth.status_code == 200 and auth.json()["decision"] == "withhold"
        assert "5550175" not in running.log_text()  # numbers never reach the log
    finally:
        running.stop()


def test_store_failure_fails_closed_over_http(tmp_path) -> None:
    """The store breaks under a running server (its file overwritten in place): decisions
    withhold SYSTEM_UNAVAILABLE with HTTP 200, writes answer 503 (nothing acknowledged),
    ``/readyz`` 503."""
    running = Server.on_new_sqlite_store(tmp_path, champion_store().tracking_uri, keys=False)
    try:
        running.wait_ready()
        event = {"event_id": "before", "number": "+13055550176", "ts": AT, "kind": "opt_in"}
        assert running.http.post("/record_events", json={"events": [event]}).status_code == 200
        for suffix in ("", "-wal", "-shm"):
            path = tmp_path / f"store.db{suffix}"
            if path.exists():
                size = max(path.stat().st_size, 4096)
                with path.open("r+b") as fh:  # same inode: open connections see it too
                    fh.write(b"this is not a database " * (size // 23 + 1))
        screen = running.http.post("/screen", json={"contacts": [_contact("+13055550176")]})
        assert screen.status_code == 200
        assert _codes(screen.json()["results"][0]) == ["SYSTEM_UNAVAILABLE"]
        auth = running.http.post("/authorize", json=_contact("+13055550176"))
        assert auth.status_code == 200 and auth.json()["decision"] == "withhold"
        event["event_id"] = "after"
        write = running.http.post("/record_events", json={"events": [event]})
        assert write.status_code == 503, write.text
        assert write.json()["error"]["code"] == "unavailable"  # the project's own body
        ready = running.http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["error"]["code"] == "not_ready"
    finally:
        running.stop()
