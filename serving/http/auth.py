"""In front of the APIs, before any body is parsed: API keys and roles, body size, JSON.

:class:`GateMiddleware` checks
- the API key and its role (``CONTACTGATE_API_KEYS``, constant-time comparison; 401 for a
  missing or unknown key, 403 for a key whose role may not call the endpoint); without keys
  only loopback clients are served;
- the body size (413 above ``CONTACTGATE_MAX_BODY_BYTES``, default 8 MiB);
- that the body is a JSON object (400 naming the problem).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serving.settings import API_KEYS_ENV, Settings
from serving.store.keys import KeyConfigError

log = logging.getLogger("contactgate.service")

ROLES = ("campaign", "operator", "reviewer")
#: Which roles may call each API (docs/api.md, "Authentication").
ENDPOINT_ROLES: dict[str, frozenset[str]] = {
    "/screen": frozenset({"campaign"}),
    "/authorize": frozenset({"campaign"}),
    "/record_events": frozenset({"operator"}),
    "/record_consent": frozenset({"operator"}),
    "/record_preferences": frozenset({"operator"}),
    "/dnc_add": frozenset({"operator"}),
    "/dnc_remove": frozenset({"operator"}),
    "/registry_import": frozenset({"operator"}),
    "/block_period": frozenset({"operator"}),
    "/erase_subject": frozenset({"operator"}),
    "/subject_report": frozenset({"reviewer"}),
}


def parse_api_keys(text: str | None) -> list[tuple[bytes, str]]:
    """``role:key,role:key`` → [(key bytes, role)]. A key may appear under several roles."""
    pairs: list[tuple[bytes, str]] = []
    for position, item in enumerate((text or "").split(","), start=1):
        item = item.strip()
        if not item:
            continue
        role, sep, key = item.partition(":")
        role, key = role.strip(), key.strip()
        if not sep or role not in ROLES or not key:
            raise KeyConfigError(
                f"{API_KEYS_ENV}: entry {position} must be role:key with role one of "
                f"{', '.join(ROLES)} and a non-empty key"
            )
        pairs.append((key.encode(), role))
    return pairs


def roles_of(presented: bytes, keys: list[tuple[bytes, str]]) -> set[str]:
    """Roles of a presented key. Compares against EVERY configured key with
    :func:`hmac.compare_digest`, so the time taken does not reveal which key came close."""
    roles: set[str] = set()
    for key, role in keys:
        if hmac.compare_digest(presented, key):
            roles.add(role)
    return roles


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a loopback address (127.0.0.0/8, ::1, an IPv4-mapped loopback)
    or the name ``localhost``: the one check for binding and for serving without keys."""
    if host is None:
        return False
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class GateMiddleware:
    """Authentication, roles, body size and JSON well-formedness, before BentoML parses."""

    def __init__(self, app: Any, settings: Settings | None = None) -> None:
        self.app = app
        settings = settings or Settings.from_environ()
        self.keys = parse_api_keys(settings.api_keys)
        self.max_body = settings.max_body_bytes
        if not self.keys:
            log.warning(
                "%s is not set: NO AUTHENTICATION; only loopback requests are served",
                API_KEYS_ENV,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path not in ENDPOINT_ROLES:
            await self.app(scope, receive, send)
            return
        if not self.keys:
            server = scope.get("server")
            if server and not is_loopback(server[0]):
                await _reply(send, 403, "no API keys configured: only loopback is served")
                return
        else:
            presented = _bearer(scope)
            if presented is None:
                await _reply(send, 401, "missing Authorization: Bearer <key>", auth=True)
                return
            roles = roles_of(presented, self.keys)
            if not roles:
                await _reply(send, 401, "unknown API key", auth=True)
                return
            if not roles & ENDPOINT_ROLES[path]:
                allowed = " or ".join(sorted(ENDPOINT_ROLES[path]))
                await _reply(send, 403, f"{path[1:]} needs the {allowed} role")
                return
        body, too_large = await _read_body(scope, receive, self.max_body)
        if too_large:
            await _reply(send, 413, f"body larger than {self.max_body} bytes")
            return
        problem = _json_problem(body)
        if problem:
            await _reply(send, 400, problem)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _bearer(scope: Scope) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            return None
    return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, bool]:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                if int(value) > limit:
                    return b"", True
            except ValueError:
                pass
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", True
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _json_problem(body: bytes) -> str | None:
    if not body.strip():
        return "body: a JSON object is required"
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if hasattr(exc, "lineno") else ""
        return f"body: invalid JSON{where}"
    if not isinstance(parsed, dict):
        return "body: expected a JSON object"
    return None


async def _reply(send: Send, status: int, error: str, auth: bool = False) -> None:
    payload = json.dumps({"error": error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
    ]
    if auth:
        headers.append((b"www-authenticate", b'Bearer realm="contactgate"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
