"""Schemathesis fuzzing of the OpenAPI spec the service serves at ``/docs.json``.

Same set-up as ``test_service.py`` (and the same app, ``asgi_app()``: BentoML builds one per
process): the service in process behind Starlette's TestClient, with this module's own temp
SQLite store, the real rule packs and a really trained model; only the environment is set
here. For every POST operation of the served spec, schemathesis generates
a bounded, deterministic batch of bodies that match the schema (positive) and that break it
(negative); each is sent with a key of a role allowed to call the API, so it gets past the
gate to validation and the handler. The contract (docs/api.md): a malformed body is a 4xx naming
the field, never a 5xx. Instants at the edges of the date range, found as 500s (and as
needless ``SYSTEM_UNAVAILABLE`` withholds) while probing what the fuzzing covers, are pinned
below as plain regression cases: the generated date-times rarely reach those edges.

The cases are drawn from ``APIOperation.as_strategy`` and sent through the module's own
TestClient rather than through ``schemathesis.pytest.from_fixture`` and schemathesis' ASGI
transport: the lazy-fixture runner does not work with pytest 9.2 (it sets ``Item._nodeid``),
and that transport would run a second service instance (another lifespan) beside this one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from starlette.testclient import TestClient

from tests.support.models import champion_store
from tests.support.service import AUTH, FL, asgi_app, service_environment

#: Generated requests per operation and generation mode (positive / negative).
MAX_EXAMPLES = 16
#: The service's POST APIs (docs/api.md); ``test_every_post_operation_is_fuzzed`` keeps it complete.
POST_PATHS = ("/authorize", "/block_period", "/dnc_add", "/dnc_remove", "/erase_subject",
              "/record_consent", "/record_events", "/record_preferences", "/registry_import",
              "/screen", "/subject_report")  # fmt: skip
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def gate(tmp_path_factory) -> Iterator[tuple[TestClient, schemathesis.BaseSchema]]:
    """The in-process service and the OpenAPI schema it serves at ``/docs.json``."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    with pytest.MonkeyPatch.context() as mp:
        for name, value in service_environment(tmp, champion_store().tracking_uri).items():
            mp.setenv(name, value)
        mp.delenv("CONTACTGATE_RULES_DIR", raising=False)
        with TestClient(asgi_app()) as client:
            docs = client.get("/docs.json", headers=AUTH["reviewer"])
            assert docs.status_code == 200
            config = schemathesis.Config.from_dict({"seed": 20260616})
            yield client, schemathesis.openapi.from_dict(docs.json(), config=config)


def _role_for(path: str) -> str:
    from serving.http.auth import ENDPOINT_ROLES

    return sorted(ENDPOINT_ROLES[path])[0]


def test_every_post_operation_is_fuzzed(gate) -> None:
    from serving.http.auth import ENDPOINT_ROLES

    _, schema = gate
    served = {
        operation.path
        for result in schema.get_all_operations()
        if (operation := result.ok()).method.upper() == "POST"
    }
    assert served == set(POST_PATHS) == set(ENDPOINT_ROLES)


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.value)
@pytest.mark.parametrize("path", POST_PATHS)
def test_generated_requests_never_5xx(gate, path, mode) -> None:
    client, schema = gate
    operation = schema[path]["POST"]
    headers = AUTH[_role_for(path)]

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: schemathesis.Case) -> None:
        kwargs = case.as_transport_kwargs(base_url=str(client.base_url), headers=headers)
        if "data" in kwargs:  # raw bytes (e.g. a JSON ``null`` body): httpx calls it content
            kwargs["content"] = kwargs.pop("data")
        if not kwargs.get("cookies"):
            kwargs.pop("cookies", None)
        response = client.request(**kwargs)
        assert response.status_code < 500, (operation.label, case.body, response.text)
        case.validate_response(response, checks=[not_a_server_error])

    check()


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        # the UTC instant is past year 9999 / before year 1: was an OverflowError, a 500
        ("/screen", {"contacts": [{"number": FL, "channel": "call",
                                   "at": "9999-12-31T23:00:00-05:00"}]}, "at"),
        ("/authorize", {"number": FL, "channel": "call", "at": "0001-01-01T00:00:00+01:00"}, "at"),
        ("/registry_import", {"registry": "US_NATIONAL_DNC", "numbers": [FL],
                              "snapshot_at": "9999-12-31T23:59:59-01:00"}, "snapshot_at"),
        # beyond the pipeline's nanosecond timestamps: was a SYSTEM_UNAVAILABLE withhold
        ("/screen", {"contacts": [{"number": FL, "channel": "call",
                                   "at": "9999-12-31T23:00:00Z"}]}, "at"),
        ("/authorize", {"number": FL, "channel": "call", "at": "1600-01-01T00:00:00Z"}, "at"),
    ],
)  # fmt: skip
def test_out_of_range_instants_are_400_naming_the_field(gate, path, body, field) -> None:
    client, _ = gate
    response = client.post(path, json=body, headers=AUTH[_role_for(path)])
    assert response.status_code == 400, response.text
    assert response.json()["error"]["field"].endswith(field)
    assert field in response.json()["detail"][0]["loc"]
    assert "5550142" not in response.text  # inputs are not echoed back


@pytest.mark.parametrize(
    ("path", "item", "field"),
    [
        ("/record_events", {"event_id": "ov-1", "number": FL, "kind": "opt_out",
                            "ts": "9999-12-31T23:00:00-05:00"}, "ts"),
        ("/block_period", {"region": "US", "reason": "test", "start": "0001-01-01T00:00:00+01:00",
                           "end": "2026-01-01T00:00:00Z"}, "start"),
    ],
)  # fmt: skip
def test_out_of_range_instants_in_records_are_rejected_per_item(gate, path, item, field) -> None:
    client, _ = gate
    key = "events" if path == "/record_events" else "records"
    response = client.post(path, json={key: [item]}, headers=AUTH[_role_for(path)])
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["accepted"] == 0
    assert [r["index"] for r in data["rejected"]] == [0]
    assert data["rejected"][0]["error"].startswith(f"{field}:")
