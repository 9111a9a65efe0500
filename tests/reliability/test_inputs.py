"""Hostile and unlucky inputs through the service in process (ContactGate.to_asgi()): instants
out of their bounds, non-finite numbers, an authorize that is not about now, event ids
reused with other content. Real store (temp SQLite), rule packs and a trained model; the
authorize skew is the default one (5 minutes), so dials here are about the real now."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.support.service import AUTH, service_client

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
NUMBER = "+13055550171"


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    with service_client(
        tmp_path_factory.mktemp("inputs"), unset=("CONTACTGATE_AUTHORIZE_SKEW_S",)
    ) as test_client:
        yield test_client


def _post(client: TestClient, path: str, body: object, role: str = "operator"):
    return client.post(path, json=body, headers=AUTH[role])


@pytest.mark.parametrize(
    ("path", "record", "field"),
    [
        ("/record_events", {"event_id": "c1", "number": NUMBER, "ts": "0001-01-01T00:00:00Z",
                            "kind": "complaint"}, "ts"),
        ("/record_events", {"event_id": "c2", "number": NUMBER, "ts": "9999-12-31T00:00:00Z",
                            "kind": "opt_in"}, "ts"),
        ("/record_consent", {"number": NUMBER, "type": "express",
                             "granted_at": "1066-10-14T09:00:00Z"}, "granted_at"),
        ("/record_consent", {"number": NUMBER, "type": "express",
                             "granted_at": "2026-01-01T00:00:00Z",
                             "revoked_at": "2999-01-01T00:00:00Z"}, "revoked_at"),
        ("/dnc_add", {"number": NUMBER, "added_at": "0001-01-01T00:00:00Z"}, "added_at"),
        ("/record_preferences", {"number": NUMBER, "updated_at": "0100-01-01T00:00:00Z"},
         "updated_at"),
        ("/block_period", {"region": "US-FL", "start": "0001-01-01T00:00:00Z",
                           "end": "2026-01-01T00:00:00Z", "reason": "x"}, "start"),
    ],
)  # fmt: skip
def test_an_instant_out_of_bounds_is_refused_naming_the_field(client, path, record, field) -> None:
    key = "events" if path == "/record_events" else "records"
    response = _post(client, path, {key: [record]})
    assert response.status_code == 200, response.text  # per item: the rest of a batch is kept
    rejected = response.json()["rejected"]
    assert [r["index"] for r in rejected] == [0]
    assert rejected[0]["error"].startswith(f"{field}: "), rejected
    assert "1970-01-01" in rejected[0]["error"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/screen", {"contacts": [{"number": NUMBER, "channel": "call",
                                   "at": "0001-01-01T00:00:00Z"}]}, "at"),
        ("/registry_import", {"registry": "US_NATIONAL_DNC", "snapshot_at": "0001-01-01T00:00:00Z",
                              "numbers": [NUMBER]}, "snapshot_at"),
    ],
)  # fmt: skip
def test_an_instant_out_of_bounds_in_a_request_is_a_400(client, path, body, field) -> None:
    role = "campaign" if path == "/screen" else "operator"
    response = _post(client, path, body, role)
    assert response.status_code == 400, response.text
    assert field in response.text


def test_a_complaint_of_year_one_cannot_withhold_a_batch(client) -> None:
    """The finding: such a record was accepted, and every later screen containing that
    number withheld every contact of the batch."""
    odd = {"event_id": "y1", "number": NUMBER, "ts": "0001-01-01T00:00:00Z", "kind": "complaint"}
    assert _post(client, "/record_events", {"events": [odd]}).json()["accepted"] == 0
    at = (NOW + dt.timedelta(days=1)).replace(hour=15).isoformat()  # daytime in Florida
    contacts = [{"number": n, "channel": "call", "at": at} for n in (NUMBER, "+13055550172")]
    results = _post(client, "/screen", {"contacts": contacts}, "campaign").json()["results"]
    for r in results:
        assert "SYSTEM_UNAVAILABLE" not in [x["code"] for x in r["reasons"]], r


@pytest.mark.parametrize("literal", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_numbers_are_refused(client, literal) -> None:
    event = json.dumps(
        {"event_id": f"inf-{literal}", "number": NUMBER, "ts": NOW.isoformat(),
         "kind": "contact", "channel": "call", "duration_s": "NUMBER"}
    ).replace('"NUMBER"', literal)  # fmt: skip
    body = f'{{"events": [{event}]}}'
    response = client.post(
        "/record_events",
        content=body,
        headers=AUTH["operator"] | {"Content-Type": "application/json"},
    )
    if response.status_code == 200:  # per item, naming the field
        rejected = response.json()["rejected"]
        assert [r["index"] for r in rejected] == [0] and "duration_s" in rejected[0]["error"]
    else:  # or the body as a whole
        assert response.status_code == 400, response.text
    report = _post(client, "/subject_report", {"number": NUMBER}, "reviewer")
    assert report.status_code == 200, report.text


def test_a_policy_threshold_cannot_be_nan(client) -> None:
    contact = json.dumps({"number": NUMBER, "channel": "call"})
    body = f'{{"contacts": [{contact}], "policy": {{"review_above": NaN}}}}'
    response = client.post(
        "/screen", content=body, headers=AUTH["campaign"] | {"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("offset", [dt.timedelta(days=-216), dt.timedelta(minutes=-6),
                                    dt.timedelta(minutes=6), dt.timedelta(days=30)])  # fmt: skip
def test_authorize_at_another_instant_is_a_400_naming_at(client, offset) -> None:
    number = "+13055550173"
    now = dt.datetime.now(dt.UTC)
    _post(client, "/dnc_add", {"records": [{"number": number, "added_at": now.isoformat()}]})
    body = {"number": number, "channel": "call", "at": (now + offset).isoformat(),
            "attempt_id": f"skew-{offset.total_seconds():g}"}  # fmt: skip
    response = _post(client, "/authorize", body, "campaign")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"] == "at"
    history = _post(client, "/subject_report", {"number": number}, "reviewer").json()
    assert not [e for e in history.get("events", []) if e.get("kind") == "contact"]


def test_an_event_id_reused_with_other_content_is_a_409_and_acts_on_nothing(client) -> None:
    number = "+13055550174"
    ts = NOW.isoformat()
    first = {"event_id": "dup-1", "number": number, "ts": ts, "kind": "contact", "channel": "sms"}
    assert _post(client, "/record_events", {"events": [first]}).json()["accepted"] == 1
    stop = {"event_id": "dup-1", "number": number, "ts": ts, "kind": "reply", "text": "STOP"}
    fine = {"event_id": "dup-2", "number": number, "ts": ts, "kind": "contact", "channel": "sms"}
    response = _post(client, "/record_events", {"events": [fine, stop]})
    assert response.status_code == 409, response.text
    data = response.json()
    assert data["error"]["code"] == "conflict" and data["error"]["field"] == "events[1].event_id"
    assert "dup-1" in data["error"]["message"] and "index 1" in data["error"]["message"]
    assert data["conflicts"] == [{"index": 1, "event_id": "dup-1"}]
    assert data["accepted"] == 1 and data["actions"] == []  # the STOP was not stored
    replay = _post(client, "/record_events", {"events": [first]})
    assert replay.status_code == 200 and replay.json()["duplicates"] == 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("CONTACTGATE_MAX_BODY_BYTES", "8MB"), ("CONTACTGATE_MAX_BODY_BYTES", "999999999999"),
     ("CONTACTGATE_AUTHORIZE_SKEW_S", "-5"), ("CONTACTGATE_WORKERS", "many"),
     ("CONTACTGATE_STORE_CREATE", "maybe")],
)  # fmt: skip
def test_a_malformed_setting_stops_serve_naming_it(tmp_path, capsys, name, value) -> None:
    from serving.cli import main

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(name, value)
        code = main(["serve", "--env-file", str(tmp_path / "none.env")])
    assert code == 2
    assert name in capsys.readouterr().err


def test_registry_errors_name_snapshot_at_with_its_date_unmasked(client) -> None:
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    body = {"registry": "GB_TPS", "snapshot_at": future.isoformat(), "numbers": ["+447400123456"]}
    response = _post(client, "/registry_import", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["field"] == "snapshot_at" and future.date().isoformat() in error["message"], error
    assert "#" not in error["message"]
