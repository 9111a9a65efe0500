"""The one opt-out confirmation text through the API: the service in process, a real store,
model and rule packs. A STOP recorded with ``record_events`` allows exactly one
``opt_out_confirmation`` text within 5 minutes; ``authorize`` records it (a 20-character
purpose the store keeps), and a second one, a late one or a call is withheld."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.support.service import AUTH, service_client

NUMBER = "+12125550171"  # fictional 555-01xx, New York
STOP_AT = dt.datetime(2026, 6, 17, 3, 30, tzinfo=dt.UTC)  # 23:30 in New York


def _at(seconds: int) -> str:
    return (STOP_AT + dt.timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def _confirmation(seconds: int, channel: str = "sms") -> dict:
    return {"number": NUMBER, "channel": channel, "purpose": "opt_out_confirmation",
            "at": _at(seconds)}  # fmt: skip


def _codes(result: dict) -> list[str]:
    return [reason["code"] for reason in result["reasons"]]


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    with service_client(tmp_path_factory.mktemp("service")) as test_client:
        stop = {"event_id": "stop-1", "number": NUMBER, "ts": _at(0), "kind": "reply",
                "text": "STOP"}  # fmt: skip
        stored = test_client.post("/record_events", json={"events": [stop]},
                                  headers=AUTH["operator"]).json()  # fmt: skip
        assert stored["actions"] == [{"index": 0, "action": "opt_out"}], stored
        yield test_client


def test_screen_allows_one_confirmation_inside_the_window(client) -> None:
    contacts = [
        _confirmation(299),  # 4:59 after the STOP
        _confirmation(300),  # 5:00
        _confirmation(60, channel="call"),
        {"number": NUMBER, "channel": "sms", "at": _at(60)},  # marketing: still withheld
        {"number": "+12125550172", "channel": "sms", "purpose": "opt_out_confirmation",
         "at": _at(60)},  # no opt-out to confirm
    ]  # fmt: skip
    response = client.post("/screen", json={"contacts": contacts}, headers=AUTH["campaign"])
    assert response.status_code == 200, response.text
    first, late, call, marketing, stranger = response.json()["results"]
    # hours (23:34 local), the registries (none imported) and the revocation do not apply
    assert first["decision"] == "allow", first
    assert first["p_complaint"] is not None  # scored, as a service text
    assert _codes(late) == ["CONFIRMATION_NOT_ALLOWED"]
    assert late["next_allowed_at"] is None
    assert _codes(call) == ["CONFIRMATION_NOT_ALLOWED"]
    assert "CONSENT_REVOKED" in _codes(marketing)
    assert _codes(stranger) == ["CONFIRMATION_NOT_ALLOWED"]
    assert "no opt-out to confirm" in stranger["reasons"][0]["detail"]


def test_authorize_records_it_once(client) -> None:
    dial = _confirmation(60) | {"attempt_id": "confirm-stop-1"}
    first = client.post("/authorize", json=dial, headers=AUTH["campaign"]).json()
    assert first["decision"] == "allow" and first["attempt_id"] == "confirm-stop-1", first
    again = client.post("/authorize", json=_confirmation(90), headers=AUTH["campaign"]).json()
    assert again["decision"] == "withhold"
    assert _codes(again) == ["CONFIRMATION_ALREADY_SENT"]
    assert again["reasons"][0]["rule_id"] == "US/opt-out-confirmation"
    # the store kept the attempt with its purpose (20 characters)
    report = client.post("/subject_report", json={"number": NUMBER}, headers=AUTH["reviewer"])
    contacts = [e for e in report.json()["events"] if e["kind"] == "contact"]
    assert [e["purpose"] for e in contacts] == ["opt_out_confirmation"]


def test_the_purpose_in_the_contract_and_the_openapi_document(client) -> None:
    sent = {"event_id": "confirm-platform-1", "number": "+12125550173", "ts": _at(30),
            "kind": "contact", "channel": "sms", "purpose": "opt_out_confirmation"}  # fmt: skip
    stored = client.post("/record_events", json={"events": [sent]}, headers=AUTH["operator"])
    assert stored.json()["accepted"] == 1, stored.text
    bad = client.post("/screen", json={"contacts": [_confirmation(60) | {"purpose": "confirm"}]},
                      headers=AUTH["campaign"])  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["error"]["field"] == "contacts[0].purpose"
    document = client.get("/docs.json", headers=AUTH["campaign"]).json()
    text = str(document["components"]["schemas"]["Contact"])
    assert "opt_out_confirmation" in text and "marketing" in text
