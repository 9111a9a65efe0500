"""Request fields of the operations side: ``default_region`` (numbers in national format in
screen, authorize and record_* bodies) and ``allow_empty`` (a registry snapshot that
lists nothing is accepted only when the request says so), plus ``/readyz`` naming the model
and rule packs in use. The service in process, real store, model and rule packs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from tests.support.models import champion_store
from tests.support.service import AT, AUTH, service_client

NATIONAL = "(212) 555-0161"  # fictional 555-01xx, New York
E164 = "+12125550161"


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    with service_client(tmp_path_factory.mktemp("service")) as test_client:
        yield test_client


def test_readyz_names_the_model_and_rules_in_use(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["model"] == {
        "name": "contact-risk", "version": champion_store().version, "alias": "champion"
    }  # fmt: skip
    assert body["rules_version"] and body["problems"] == []


def test_default_region_reads_national_numbers_everywhere(client) -> None:
    snapshot = {"registry": "US_NATIONAL_DNC", "snapshot_at": "2026-06-15T00:00:00Z",
                "numbers": ["+13055550199"]}  # fmt: skip
    assert client.post("/registry_import", json=snapshot, headers=AUTH["operator"]).is_success
    # Florida keeps its own do-not-call list: without a snapshot its numbers are withheld
    state_list = {"registry": "US_FL_DNC", "snapshot_at": "2026-06-15T00:00:00Z",
                  "numbers": [], "allow_empty": True}  # fmt: skip
    assert client.post("/registry_import", json=state_list, headers=AUTH["operator"]).is_success
    contact = {"number": NATIONAL, "channel": "call", "at": AT}
    without = client.post("/screen", json={"contacts": [contact]}, headers=AUTH["campaign"])
    assert without.status_code == 200
    assert [r["code"] for r in without.json()["results"][0]["reasons"]] == ["INVALID_NUMBER"]
    screen = client.post(
        "/screen", json={"contacts": [contact], "default_region": "US"}, headers=AUTH["campaign"]
    )
    result = screen.json()["results"][0]
    assert result["decision"] == "allow" and result["number"] == E164, result

    # the store refuses a national number without a region, takes it with one
    dnc = {"number": NATIONAL, "added_at": "2026-06-01T00:00:00Z"}
    refused = client.post("/dnc_add", json={"records": [dnc]}, headers=AUTH["operator"])
    assert refused.json()["accepted"] == 0 and len(refused.json()["rejected"]) == 1
    added = client.post(
        "/dnc_add", json={"records": [dnc], "default_region": "US"}, headers=AUTH["operator"]
    )
    assert added.status_code == 200 and added.json()["accepted"] == 1, added.text
    after = client.post("/screen", json={"contacts": [contact | {"number": E164}]},
                        headers=AUTH["campaign"]).json()["results"][0]  # fmt: skip
    assert after["decision"] == "withhold"
    assert "INTERNAL_DNC" in [r["code"] for r in after["reasons"]], after

    # an opt-out reply recorded in national format acts on the E.164 number at once
    reply = {"event_id": "r-nat-1", "number": "(212) 555-0162", "ts": "2026-06-10T00:00:00Z",
             "kind": "reply", "channel": "sms", "text": "STOP"}  # fmt: skip
    events = client.post(
        "/record_events", json={"events": [reply], "default_region": "US"}, headers=AUTH["operator"]
    ).json()
    assert events["accepted"] == 1 and events["actions"] == [{"index": 0, "action": "opt_out"}]

    dial = {"number": "212 555 0163", "channel": "call", "at": AT, "default_region": "US"}
    authorized = client.post("/authorize", json=dial, headers=AUTH["campaign"]).json()
    assert authorized["decision"] == "allow" and authorized["model"]["version"]

    bad = client.post("/screen", json={"contacts": [contact], "default_region": "usa"},
                      headers=AUTH["campaign"])  # fmt: skip
    assert bad.status_code == 400 and "default_region" in bad.text


def test_an_empty_registry_snapshot_needs_allow_empty(client) -> None:
    body = {"registry": "GB_TPS", "snapshot_at": "2026-06-15T00:00:00Z", "numbers": []}
    refused = client.post("/registry_import", json=body, headers=AUTH["operator"])
    assert refused.status_code == 400 and "allow_empty" in refused.text
    accepted = client.post(
        "/registry_import", json=body | {"allow_empty": True}, headers=AUTH["operator"]
    )
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["accepted"] == 0
    junk = body | {"numbers": ["not a number"], "allow_empty": True}
    still_refused = client.post("/registry_import", json=junk, headers=AUTH["operator"])
    assert still_refused.status_code == 400  # all-invalid is a wrong file, not an empty list
