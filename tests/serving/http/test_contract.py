"""The HTTP contract as a campaign tool's developer meets it: the served OpenAPI document, the
one error model on every error answer, methods, and the gate's hardening (loopback mode,
body bounds, metrics labels, pages, keys on /metrics and /docs.json).

The service runs in process (``asgi_app()``, the real store, rule packs and trained model),
as in ``test_service.py``. What needs a gate configured differently from the module's
service (no keys, opened paths) wraps a bare Starlette app in the real gate: one process
can build the BentoML app only once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.support.service import AT, AUTH, FL, service_client

API_PATHS = ("/screen", "/authorize", "/record_events", "/record_consent", "/record_preferences",
             "/dnc_add", "/dnc_remove", "/block_period", "/registry_import", "/subject_report",
             "/erase_subject")  # fmt: skip


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    with service_client(tmp_path_factory.mktemp("contract")) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def document(client) -> dict:
    response = client.get("/docs.json", headers=AUTH["campaign"])
    assert response.status_code == 200
    return response.json()


def _error(response, status: int, code: str, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body["error"]) == {"code", "message", "field"}, body
    assert body["error"]["code"] == code and body["error"]["message"]
    assert body["error"]["field"] == field, body
    return body


# ---------------------------------------------------------------- the document
def test_served_document_is_valid_openapi(document) -> None:
    from importlib.metadata import version

    from openapi_spec_validator import validate

    validate(document)  # raises on the first error
    assert document["openapi"].startswith("3.1")
    info = document["info"]
    assert info["title"] == "contactgate" and info["version"] == version("contactgate")
    assert info["x-api-version"] and "decides whether" in info["description"]
    assert "contact" not in info  # no third party named as the service's contact
    text = json.dumps(document)
    for foreign in ("http://", "https://", "bentoml", "iodescriptor", "pydantic.dev", "badge"):
        assert foreign not in text.lower(), foreign


def test_schemas_are_named_for_what_they_are(document) -> None:
    names = set(document["components"]["schemas"])
    assert {"ScreenRequest", "ScreenResponse", "AuthorizeRequest", "AuthorizeResponse",
            "Contact", "Decision", "Reason", "Explanation", "Policy", "Summary", "Error",
            "ErrorDetail", "Event", "WriteResult", "SubjectReport"} <= names  # fmt: skip
    assert not [n for n in names if "Descriptor" in n or n.endswith(("In", "Out"))]
    decision = document["components"]["schemas"]["Decision"]["properties"]
    assert decision["next_allowed_at"]["anyOf"][-1] == {"type": "null"}


def test_every_api_has_an_example_and_documents_its_errors(document) -> None:
    from serving.domain import contract

    assert set(API_PATHS) <= set(document["paths"])
    for path in API_PATHS:
        operation = document["paths"][path]["post"]
        assert set(document["paths"][path]) == {"post"}
        media = operation["requestBody"]["content"]["application/json"]
        assert media["example"], path
        for status in ("400", "401", "403", "405", "413", "500"):
            schema = operation["responses"][status]["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/Error"}, (path, status)
    assert "409" in document["paths"]["/authorize"]["post"]["responses"]
    assert "503" in document["paths"]["/record_events"]["post"]["responses"]
    example = document["paths"]["/screen"]["post"]["requestBody"]["content"]["application/json"]
    contract.ScreenRequest.model_validate(example["example"])  # the example is a valid request


# ---------------------------------------------------------------- the error model
def test_validation_errors_use_the_error_model(client) -> None:
    body = {"contacts": [{"number": FL, "channel": "fax"}]}
    response = client.post("/screen", json=body, headers=AUTH["campaign"])
    data = _error(response, 400, "invalid_field", "contacts[0].channel")
    assert data["detail"][0]["loc"] == ["contacts", 0, "channel"]
    assert "Descriptor" not in response.text and "http" not in response.text
    missing = client.post("/authorize", json={"channel": "call"}, headers=AUTH["campaign"])
    _error(missing, 400, "invalid_field", "number")
    at = client.post(
        "/screen",
        json={"contacts": [{"number": FL, "channel": "call", "at": "2026-06-16T14:00:00"}]},
        headers=AUTH["campaign"],
    )
    _error(at, 400, "invalid_field", "contacts[0].at")


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status", "code", "field"),
    [
        ("POST", "/screen", {}, b"{}", 401, "unauthorized", None),
        ("POST", "/screen", AUTH["operator"], b"{}", 403, "forbidden", None),
        ("POST", "/screen", AUTH["campaign"], b"{not json", 400, "invalid_body", "body"),
        ("POST", "/screen", AUTH["campaign"], b"[1]", 400, "invalid_body", "body"),
        ("GET", "/screen", AUTH["campaign"], None, 405, "method_not_allowed", None),
        ("PUT", "/record_events", AUTH["operator"], b"{}", 405, "method_not_allowed", None),
        ("POST", "/readyz", {}, b"{}", 405, "method_not_allowed", None),
        ("GET", "/no/such/path", AUTH["campaign"], None, 404, "not_found", None),
        ("GET", "/docs", {}, None, 404, "not_found", None),
        ("POST", "/subject_report", AUTH["reviewer"], b'{"number": "12"}', 400, "invalid_field",
         "number"),
    ],
)  # fmt: skip
def test_every_error_answer_has_one_shape(
    client, method, path, headers, body, status, code, field
) -> None:
    response = client.request(
        method, path, content=body, headers=headers | {"content-type": "application/json"}
    )
    _error(response, status, code, field)
    if status == 405:
        assert response.headers["allow"] in ("POST", "GET, HEAD")
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_oversized_body_is_413_in_the_error_model(client) -> None:
    big = {"contacts": [{"number": FL, "channel": "call"}] * 5000}
    _error(client.post("/screen", json=big, headers=AUTH["campaign"]), 413, "body_too_large")


def test_attempt_id_of_another_event_is_a_409_naming_it(client) -> None:
    event = {"event_id": "taken-1", "number": "+13055550164", "ts": AT, "kind": "opt_in"}
    stored = client.post("/record_events", json={"events": [event]}, headers=AUTH["operator"])
    assert stored.json()["accepted"] == 1
    body = {"number": "+13055550165", "channel": "call", "at": AT, "attempt_id": "taken-1"}
    response = client.post("/authorize", json=body, headers=AUTH["campaign"])
    _error(response, 409, "conflict", "attempt_id")


def test_a_refused_registry_import_names_its_field_with_dates_unmasked(client) -> None:
    body = {"registry": "GB_TPS", "snapshot_at": "2030-06-10T00:00:00Z", "numbers": [FL]}
    response = client.post("/registry_import", json=body, headers=AUTH["operator"])
    data = _error(response, 400, "invalid_field", "snapshot_at")
    assert "2030-06-10" in data["error"]["message"] and "in the future" in data["error"]["message"]


def test_explanations_name_the_category(client) -> None:
    from features.definitions import CATEGORICAL_FEATURES, FEATURES_BY_NAME

    contacts = [{"number": FL, "channel": "sms", "purpose": "service", "at": AT},
                {"number": "+13055550166", "channel": "call", "at": AT}]  # fmt: skip
    response = client.post(
        "/screen", json={"contacts": contacts, "explain": 20}, headers=AUTH["campaign"]
    )
    assert response.status_code == 200, response.text
    seen = {}
    for result in response.json()["results"]:
        for item in result["explanations"]:
            if item["feature"] in CATEGORICAL_FEATURES:
                vocabulary = FEATURES_BY_NAME[item["feature"]].vocabulary
                assert item["value"] is None or item["value"] in (*vocabulary, "unknown"), item
                assert isinstance(item["code"], int)
                seen[(result["number"], item["feature"])] = item["value"]
            else:
                assert item["code"] is None and not isinstance(item["value"], str)
    assert seen, "no categorical feature among the top 20 contributions"
    assert seen.get((FL, "purpose"), "service") == "service"
    assert seen.get((FL, "channel"), "sms") == "sms"


# ---------------------------------------------------------------- keys, pages, metrics
def test_docs_and_metrics_need_a_key(client) -> None:
    _error(client.get("/docs.json"), 401, "unauthorized")
    _error(client.get("/metrics"), 401, "unauthorized")
    _error(client.get("/metrics", headers={"Authorization": "Bearer nope"}), 401, "unauthorized")
    assert client.get("/livez").status_code == 200  # probes stay open


def test_served_pages_load_nothing_from_other_sites(client) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "contactgate" in page.text
    assert "<script" not in page.text.lower() and "http" not in page.text
    for path in ("/docs", "/static_content/index.css", "/schema.json", "/assets/index.js"):
        assert client.get(path).status_code == 404, path


# ---------------------------------------------------------------- the gate alone
def _bare_gate(**settings):
    """The real gate around a bare app: an echo API, a not-ready probe and a framework-style
    validation answer (what BentoML answers, the gate must reshape)."""
    from serving.http.auth import GateMiddleware
    from serving.settings import Settings

    async def echo(request):
        return JSONResponse(await request.json())

    async def not_ready(_request):
        return PlainTextResponse("Service is not ready because .__is_ready__() returns False.", 503)

    async def framework_400(_request):
        detail = [{"type": "missing", "loc": ["records", 2, "number"], "msg": "Field required",
                   "url": "https://errors.pydantic.dev/2/v/missing"}]  # fmt: skip
        return JSONResponse({"error": "1 validation error for X", "detail": detail}, 400)

    app = Starlette(
        routes=[
            Route("/screen", echo, methods=["POST"]),
            Route("/subject_report", echo, methods=["POST"]),
            Route("/dnc_add", framework_400, methods=["POST"]),
            Route("/readyz", not_ready),
            Route("/metrics", lambda _r: PlainTextResponse("metrics")),
        ]
    )
    return GateMiddleware(app, Settings(**settings))


def test_loopback_mode_takes_json_from_a_loopback_host_only() -> None:
    gate = _bare_gate()
    local = TestClient(gate, base_url="http://127.0.0.1:3000")
    assert local.post("/screen", json={"a": 1}).json() == {"a": 1}
    assert TestClient(gate, base_url="http://localhost:3000").post("/screen", json={}).json() == {}
    # a web page's simple request: text/plain, no preflight
    plain = local.post("/subject_report", content=b'{"number": "+13055550142"}',
                       headers={"content-type": "text/plain"})  # fmt: skip
    _error(plain, 415, "unsupported_media_type", "Content-Type")
    form = local.post(
        "/screen", content=b"{}", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    _error(form, 415, "unsupported_media_type", "Content-Type")
    # DNS rebinding: the request arrives on loopback but names another host
    rebound = local.post("/subject_report", json={"number": FL},
                         headers={"host": "attacker.example"})  # fmt: skip
    _error(rebound, 403, "forbidden")
    _error(local.get("/metrics", headers={"host": "attacker.example:3000"}), 403, "forbidden")
    assert local.get("/metrics", headers={"host": "[::1]:3000"}).status_code == 200
    remote = TestClient(gate, base_url="http://10.1.2.3:3000")
    _error(remote.post("/screen", json={"a": 1}), 403, "forbidden")


def test_no_cors() -> None:
    local = TestClient(_bare_gate(), base_url="http://127.0.0.1:3000")
    preflight = local.options(
        "/screen",
        headers={"origin": "http://attacker.example", "access-control-request-method": "POST",
                 "access-control-request-headers": "content-type"},
    )  # fmt: skip
    _error(preflight, 405, "method_not_allowed")
    assert not [h for h in preflight.headers if h.lower().startswith("access-control-")]
    answer = local.post("/screen", json={}, headers={"origin": "http://attacker.example"})
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "nested deeper"),
        (b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper"),
        (b'{"explain": ' + b"9" * 5000 + b"}", "digits"),
        (b'{"explain": ' + b"9" * 21 + b"}", "digits"),
        (b'{"duration_s": Infinity}', "finite"),
        (b'{"duration_s": NaN}', "finite"),
        (b'{"duration_s": 1e999}', "finite"),
    ],
)
def test_bodies_are_bounded_at_the_gate(body, problem) -> None:
    keyed = TestClient(_bare_gate(api_keys="campaign:k"), base_url="http://10.1.2.3:3000")
    response = keyed.post("/screen", content=body, headers={"authorization": "Bearer k"})
    data = _error(response, 400, "invalid_body", "body")
    assert problem in data["error"]["message"]


def test_framework_error_bodies_are_reshaped() -> None:
    local = TestClient(_bare_gate(), base_url="http://127.0.0.1:3000")
    data = _error(local.post("/dnc_add", json={"records": []}), 400, "invalid_field",
                  "records[2].number")  # fmt: skip
    assert data["detail"] == [{"type": "missing", "loc": ["records", 2, "number"],
                               "msg": "Field required"}]  # fmt: skip
    _error(local.get("/readyz"), 503, "not_ready")


def test_opened_paths_need_no_key() -> None:
    from serving.settings import Settings, SettingsError

    gate = _bare_gate(api_keys="operator:k", open_paths=frozenset({"/metrics"}))
    keyed = TestClient(gate, base_url="http://10.1.2.3:3000")
    assert keyed.get("/metrics").status_code == 200
    _error(keyed.get("/docs.json"), 401, "unauthorized")
    assert keyed.get("/docs.json", headers={"authorization": "Bearer k"}).status_code == 200
    assert Settings.from_environ({"CONTACTGATE_OPEN_PATHS": "/metrics, /docs.json"}).open_paths
    with pytest.raises(SettingsError, match="CONTACTGATE_OPEN_PATHS"):
        Settings.from_environ({"CONTACTGATE_OPEN_PATHS": "/screen"})
