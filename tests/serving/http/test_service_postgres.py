"""The service on a PostgreSQL store: dials run in threads there (serving.http.service), and
the cap still holds across concurrent requests."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from starlette.testclient import TestClient

from tests.conftest import fresh_pg_schema
from tests.support.models import champion_store
from tests.support.service import AT, AUTH, asgi_app, service_environment

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def pg_client(tmp_path_factory, pg_server_url: str) -> Iterator[TestClient]:
    tmp = tmp_path_factory.mktemp("service-pg")
    with fresh_pg_schema(pg_server_url) as url, pytest.MonkeyPatch.context() as mp:
        env = service_environment(tmp, champion_store().tracking_uri) | {"CONTACTGATE_DB_URL": url}
        for name, value in env.items():
            mp.setenv(name, value)
        mp.delenv("CONTACTGATE_RULES_DIR", raising=False)
        with TestClient(asgi_app()) as client:
            yield client


def test_concurrent_dials_on_postgresql_never_exceed_the_cap(pg_client: TestClient) -> None:
    assert pg_client.get("/readyz").status_code == 200
    number = "+13055550172"  # Florida: at most 3 calls per 24 h
    snapshot = {"registry": "US_NATIONAL_DNC", "snapshot_at": "2026-06-15T00:00:00Z",
                "numbers": ["+13055550199"], "replace": True}  # fmt: skip
    imported = pg_client.post("/registry_import", json=snapshot, headers=AUTH["operator"])
    assert imported.status_code == 200, imported.text
    # Florida keeps its own do-not-call list: without a snapshot its numbers are withheld
    state_list = {"registry": "US_FL_DNC", "snapshot_at": "2026-06-15T00:00:00Z",
                  "numbers": [], "allow_empty": True}  # fmt: skip
    assert pg_client.post("/registry_import", json=state_list, headers=AUTH["operator"]).is_success

    def dial(i: int) -> str:
        body = {"number": number, "channel": "call", "at": AT, "attempt_id": f"pg{i}"}
        response = pg_client.post("/authorize", json=body, headers=AUTH["campaign"])
        assert response.status_code == 200, response.text
        return response.json()["decision"]

    with ThreadPoolExecutor(8) as pool:
        decisions = list(pool.map(dial, range(12)))
    assert decisions.count("allow") == 3 and decisions.count("withhold") == 9
    report = pg_client.post("/subject_report", json={"number": number}, headers=AUTH["reviewer"])
    assert len(report.json()["events"]) == 3 and len(report.json()["decisions"]) == 12
