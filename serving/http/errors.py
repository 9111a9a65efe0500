"""The service's one error model: ``{"error": {"code", "message", "field"}}``.

Every error answer has this shape, whoever gives it: the gate in front of the APIs (keys,
roles, method, body), request validation (BentoML's pydantic errors are rewritten into it by
the gate), and the handlers (a refused import, a store outage). ``code`` is one of
:data:`CODES`, stable for programs; ``message`` is for people; ``field`` names the request
field at fault (``contacts[0].channel``) or is null.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ErrorCode = Literal[
    "invalid_body",
    "invalid_field",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "conflict",
    "body_too_large",
    "unsupported_media_type",
    "internal",
    "unavailable",
    "not_ready",
]

#: The status each code is answered with.
CODES: dict[str, int] = {
    "invalid_body": 400,
    "invalid_field": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "method_not_allowed": 405,
    "conflict": 409,
    "body_too_large": 413,
    "unsupported_media_type": 415,
    "internal": 500,
    "unavailable": 503,
    "not_ready": 503,
}

#: What a 503 from a write says (nothing was stored; writes are idempotent).
STORE_UNAVAILABLE = "store unavailable: nothing was acknowledged; retry (writes are idempotent)"
INTERNAL = "unexpected error; see the server log"


class ErrorDetail(BaseModel):
    """What went wrong: a stable ``code``, a ``message`` for people, the ``field`` at fault."""

    model_config = ConfigDict(title="ErrorDetail")

    code: ErrorCode
    message: str
    field: str | None = Field(None, description="the request field at fault, e.g. contacts[0].at")


class Error(BaseModel):
    """Every error answer of the service."""

    model_config = ConfigDict(
        title="Error",
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "invalid_field",
                        "message": "Input should be 'call' or 'sms'",
                        "field": "contacts[0].channel",
                    }
                }
            ]
        },
    )

    error: ErrorDetail
    detail: list[dict[str, Any]] | None = Field(
        None,
        description="validation errors only: every problem found, as {type, loc, msg}",
    )


class ApiError(Exception):
    """An error answer raised by a handler; :func:`error_response` renders it."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.field = code, message, field

    @property
    def status(self) -> int:
        return CODES[self.code]


def error_payload(
    code: str, message: str, field: str | None = None, detail: list[dict] | None = None
) -> dict[str, Any]:
    payload: dict[str, Any] = {"error": {"code": code, "message": message, "field": field}}
    if detail is not None:
        payload["detail"] = detail
    return payload


def error_bytes(code: str, message: str, field: str | None = None, **extra: Any) -> bytes:
    return json.dumps(error_payload(code, message, field, **extra)).encode()


def error_response(error: ApiError) -> Any:
    from starlette.responses import JSONResponse

    return JSONResponse(
        error_payload(error.code, error.message, error.field), status_code=error.status
    )


def field_path(loc: Sequence[Any]) -> str | None:
    """``["contacts", 0, "channel"]`` → ``contacts[0].channel``."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or None


def from_validation(detail: list[dict[str, Any]]) -> dict[str, Any]:
    """BentoML's pydantic validation answer (``detail``: ``type``, ``loc``, ``msg``, and a
    link to a third-party site) → the error model, keeping every problem in ``detail``."""
    problems = [
        {"type": d.get("type"), "loc": list(d.get("loc") or ()), "msg": d.get("msg")}
        for d in detail
        if isinstance(d, dict)
    ]
    if not problems:
        return error_payload("invalid_body", "the body breaks the contract")
    first = problems[0]
    return error_payload(
        "invalid_field", str(first["msg"]), field_path(first["loc"]), detail=problems
    )


def rewrite(status: int, body: bytes) -> bytes:
    """Any error body of the inner application → the error model (already-shaped bodies pass)."""
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
        return body
    if isinstance(parsed, dict) and isinstance(parsed.get("detail"), list):
        return json.dumps(from_validation(parsed["detail"])).encode()
    if isinstance(parsed, list) and parsed and isinstance(parsed[0], dict):
        parsed = parsed[0]  # BentoML answers its own 4xx exceptions as a one-item list
    message = parsed.get("error") if isinstance(parsed, dict) else None
    code = next((c for c, s in CODES.items() if s == status), None)
    if status == 503:
        return error_bytes("unavailable", STORE_UNAVAILABLE)
    if status >= 500 or code is None:
        return error_bytes("internal", INTERNAL)
    if code == "invalid_body" and isinstance(message, str) and message:
        return error_bytes("invalid_body", message)
    return error_bytes(code, message if isinstance(message, str) and message else code)
