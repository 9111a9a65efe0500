"""The service's OpenAPI 3.1 document (``GET /docs.json``) and its index page (``GET /``).

Built from the contract's own models (:mod:`serving.domain.contract`, :mod:`features.schema`)
rather than by the framework: schemas are named for what they are (``ScreenRequest``,
``Decision``, ``Reason``…), optional fields are ``anyOf [T, null]`` (JSON Schema 2020-12,
as OpenAPI 3.1 has it), every request has an example, and every error answer the service
gives is documented with the one error model (:mod:`serving.http.errors`). Nothing in
either links to or loads anything from another site.
"""

from __future__ import annotations

import functools
import json
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

#: The HTTP contract's version (docs/api.md); the package version is ``info.version``.
API_VERSION = "1.2"
OPENAPI_VERSION = "3.1.0"

#: Contract class → schema name, where the class's name says how it is used in Python
#: rather than what it is.
SCHEMA_NAMES = {
    "ContactIn": "Contact",
    "ReasonOut": "Reason",
    "ResultOut": "Decision",
}

DESCRIPTION = (
    "contactgate decides whether a marketing call or text may go ahead: jurisdiction rules "
    "(calling hours, holidays, frequency caps, consent, do-not-call registries) plus a "
    "calibrated complaint/opt-out risk model. `screen` decides planned contacts, "
    "`authorize` checks and records one dial, the writes keep the store current, "
    "`subject_report` and `erase_subject` serve a person's access and erasure rights.\n\n"
    f"HTTP contract version {API_VERSION}. Every error answer has the shape "
    '`{"error": {"code", "message", "field"}}`.'
)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("contactgate")
    except PackageNotFoundError:
        return "0+unknown"


CONSENT = {
    "consent_id": "co-77",
    "number": "+12125550142",
    "channel": "sms",
    "type": "written",
    "granted_at": "2026-01-10T12:00:00Z",
    "evidence": "web form v3",
}
PREFERENCE = {"number": "+12125550142", "max_per_week": 2, "updated_at": "2026-06-01T09:00:00Z"}
DNC = {"number": "+12125550142", "scope": "call", "added_at": "2026-06-16T10:00:00Z"}
BLOCK = {
    "region": "US-NY",
    "start": "2026-06-20T00:00:00-04:00",
    "end": "2026-06-21T00:00:00-04:00",
    "reason": "declared emergency",
}


def _records(record: dict[str, Any]) -> dict[str, Any]:
    return {"records": [record]}


def _examples(model: type[BaseModel]) -> list[Any]:
    return (model.model_config.get("json_schema_extra") or {}).get("examples") or []


def _operations() -> list[dict[str, Any]]:
    """Every API: route, role, request and response models, the errors it can answer."""
    from features.schema import BlockedPeriod, Consent, DncEntry, Event, Preference
    from serving.domain import contract as c

    gate = [400, 401, 403, 405, 413, 415, 500]
    write = [*gate, 503]
    return [
        dict(
            name="screen",
            role="campaign",
            request=c.ScreenRequest,
            response=c.ScreenResponse,
            errors=gate,
            summary="Decide a list of planned contacts",
            description="No side effect but the audit log. Results come back in request "
            "order. Never fails because of the system's state: what cannot be decided is "
            "withheld `SYSTEM_UNAVAILABLE`.",
        ),
        dict(
            name="authorize",
            role="campaign",
            request=c.AuthorizeRequest,
            response=c.AuthorizeResponse,
            errors=[*gate[:4], 409, *gate[4:]],
            summary="Check one dial and, when allowed, record it",
            description="In one transaction per number, so concurrent dials never pass a "
            "cap together. 409 when `attempt_id` is already the id of another event.",
        ),
        dict(
            name="record_events",
            role="operator",
            request=("RecordEventsRequest", "events", Event, _examples(c.EventsRequest)),
            response=c.EventsResult,
            errors=[*write[:4], 409, *write[4:]],
            summary="Store events (idempotent on event_id)",
            description="Valid events are stored even when others are rejected; an opt-out "
            "acts at once and is listed in `actions`. 409 when an `event_id` is already stored "
            "with other content: the error names it, and the body also carries the counts "
            "of the events that were stored.",
        ),
        *(
            dict(
                name=name,
                role="operator",
                request=(schema, "records", record, [_records(example)]),
                response=c.WriteResult,
                errors=write,
                summary=summary,
            )
            for name, schema, record, example, summary in (
                (
                    "record_consent",
                    "RecordConsentRequest",
                    Consent,
                    CONSENT,
                    "Store consent records",
                ),
                (
                    "record_preferences",
                    "RecordPreferencesRequest",
                    Preference,
                    PREFERENCE,
                    "Store a person's contact preferences",
                ),
                (
                    "dnc_add",
                    "DncRequest",
                    DncEntry,
                    DNC,
                    "Add numbers to the internal do-not-call list",
                ),
                (
                    "dnc_remove",
                    "DncRequest",
                    DncEntry,
                    DNC,
                    "Remove numbers from the internal do-not-call list (a new record)",
                ),
                (
                    "block_period",
                    "BlockPeriodRequest",
                    BlockedPeriod,
                    BLOCK,
                    "Declare a period without contact in a region",
                ),
            )  # fmt: skip
        ),
        dict(
            name="registry_import",
            role="operator",
            request=c.RegistryImportRequest,
            response=c.RegistryImportResult,
            errors=write,
            summary="Swap in or extend a do-not-call registry snapshot",
            description="A refused import leaves the previous snapshot in force (400).",
        ),
        dict(
            name="subject_report",
            role="reviewer",
            request=c.SubjectRequest,
            response=c.SubjectReport,
            errors=write,
            summary="Everything held on a person (GDPR art. 15)",
        ),
        dict(
            name="erase_subject",
            role="operator",
            request=c.SubjectRequest,
            response=c.ErasureResult,
            errors=write,
            summary="Erase a person (GDPR art. 17), keeping a keyed-hash tombstone",
        ),
    ]


_ERROR_WHEN = {
    400: "The body is not a JSON object, or a field breaks the contract (`field` names it)",
    401: "No API key, or an unknown one",
    403: "The key's role may not call this endpoint, or (without keys) a non-loopback "
    "address or Host",
    404: "No such path",
    405: "Wrong method: the APIs take POST",
    409: "The id is already the id of another record, or stored with other content",
    413: "The body is larger than the configured limit",
    415: "Without API keys only `application/json` bodies are accepted",
    500: "Unexpected error (see the server log); nothing was acknowledged",
    503: "The store is unavailable: nothing was acknowledged; retry (writes are idempotent)",
}


def _record_list_models(operations: list[dict[str, Any]]) -> list[type[BaseModel]]:
    """The write requests as the document shows them: a list of the endpoint's record
    contract (the service checks each record on its own, so one bad record never fails
    the others)."""
    from pydantic import ConfigDict, Field, create_model

    from serving.domain.contract import MAX_RECORDS_PER_REQUEST, DefaultRegion

    made: dict[str, type[BaseModel]] = {}
    for op in operations:
        request = op["request"]
        if not isinstance(request, tuple):
            continue
        name, key, record, examples = request
        if name not in made:
            made[name] = create_model(
                name,
                __config__=ConfigDict(extra="forbid", json_schema_extra={"examples": examples}),
                __doc__=f"{record.__name__} records to store; each is checked on its own.",
                **{key: (list[record], Field(max_length=MAX_RECORDS_PER_REQUEST))},
                default_region=(DefaultRegion, None),
            )
        op["request"] = made[name]
    return list(made.values())


def _rename(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                head, _, name = value.rpartition("/")
                value = f"{head}/{SCHEMA_NAMES.get(name, name)}"
            elif key == "title" and isinstance(value, str) and value in SCHEMA_NAMES:
                value = SCHEMA_NAMES[value]
            out[key] = _rename(value)
        return out
    if isinstance(node, list):
        return [_rename(v) for v in node]
    return node


def _schemas(requests: list[type[BaseModel]], responses: list[type[BaseModel]]) -> dict:
    from serving.http.errors import Error

    pairs = [(m, "validation") for m in requests] + [
        (m, "serialization") for m in [*responses, Error]
    ]
    _, schema = models_json_schema(pairs, ref_template="#/components/schemas/{model}")
    defs = schema.get("$defs", {})
    return _rename({SCHEMA_NAMES.get(k, k): v for k, v in sorted(defs.items())})


def _ref(model: type[BaseModel]) -> dict[str, str]:
    name = SCHEMA_NAMES.get(model.__name__, model.__name__)
    return {"$ref": f"#/components/schemas/{name}"}


def _error_responses(statuses: list[int]) -> dict[str, Any]:
    return {
        str(status): {
            "description": _ERROR_WHEN[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for status in statuses
    }


def _api_path(op: dict[str, Any]) -> dict[str, Any]:
    request: type[BaseModel] = op["request"]
    examples = _examples(request)
    media: dict[str, Any] = {"schema": _ref(request)}
    if examples:
        media["example"] = examples[0]
    operation = {
        "operationId": op["name"],
        "summary": op["summary"],
        "description": f"{op.get('description', op['summary'] + '.')}\n\nRole: `{op['role']}`.",
        "tags": [{"campaign": "decisions", "operator": "writes"}.get(op["role"], "privacy")],
        "requestBody": {"required": True, "content": {"application/json": media}},
        "responses": {
            "200": {
                "description": "OK",
                "content": {"application/json": {"schema": _ref(op["response"])}},
            }
        }
        | _error_responses(op["errors"]),
    }
    return {"post": operation}


def _infrastructure_paths() -> dict[str, Any]:
    text = {"text/plain": {"schema": {"type": "string"}}}
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    open_get = {"tags": ["infrastructure"], "security": []}
    return {
        "/livez": {
            "get": open_get
            | {
                "operationId": "livez",
                "summary": "The process is up",
                "responses": {"200": {"description": "Up", "content": text}},
            }
        },
        "/readyz": {
            "get": open_get
            | {
                "operationId": "readyz",
                "summary": "Store, rule packs and model are loaded",
                "responses": {
                    "200": {"description": "Ready", "content": text},
                    "503": {"description": "Not ready (fail closed)", "content": error},
                },
            }
        },
        "/metrics": {
            "get": {
                "tags": ["infrastructure"],
                "operationId": "metrics",
                "summary": "Prometheus metrics (any API key, unless opened by a setting)",
                "responses": {
                    "200": {"description": "Prometheus text format", "content": text},
                    "401": {"description": _ERROR_WHEN[401], "content": error},
                },
            }
        },
        "/docs.json": {
            "get": {
                "tags": ["infrastructure"],
                "operationId": "openapi_document",
                "summary": "This document (any API key, unless opened by a setting)",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "401": {"description": _ERROR_WHEN[401], "content": error},
                },
            }
        },
    }


@functools.cache
def document() -> dict[str, Any]:
    """The OpenAPI document (built once per process; it depends on code only)."""
    operations = _operations()
    made = _record_list_models(operations)
    requests = [op["request"] for op in operations if op["request"] not in made] + made
    responses = list(dict.fromkeys(op["response"] for op in operations))
    paths = {f"/{op['name']}": _api_path(op) for op in operations}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "contactgate",
            "version": _package_version(),
            "summary": "May this marketing call or text go ahead?",
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            "x-api-version": API_VERSION,
        },
        "tags": [
            {"name": "decisions", "description": "Screening and pre-dial authorisation"},
            {"name": "writes", "description": "Keeping the store current (operator role)"},
            {"name": "privacy", "description": "Access and erasure for a person"},
            {"name": "infrastructure", "description": "Probes, metrics and this document"},
        ],
        "paths": paths | _infrastructure_paths(),
        "components": {
            "schemas": _schemas(list(dict.fromkeys(requests)), responses),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


@functools.cache
def document_bytes() -> bytes:
    return json.dumps(document()).encode()


INDEX_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>contactgate</title></head>
<body><h1>contactgate</h1>
<p>Decides whether a marketing call or text may go ahead.</p>
<p>The HTTP contract: <a href="/docs.json">/docs.json</a> (OpenAPI 3.1).
Probes: <a href="/livez">/livez</a>, <a href="/readyz">/readyz</a>.</p>
</body></html>
"""
