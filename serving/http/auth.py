"""In front of everything the service serves: paths, methods, API keys and roles, bodies.

:class:`GateMiddleware` is the outermost layer of the application (see
:class:`serving.http.service.GatedService`), so what it refuses reaches nothing behind it —
not the framework's metrics (their labels stay a fixed set), not its access log. It
- answers only the service's own paths: the APIs (POST), the probes, ``/metrics``,
  ``/docs.json`` and ``/`` (GET); any other path is 404 and a wrong method 405;
- checks the API key and its role (``CONTACTGATE_API_KEYS``, constant-time comparison; 401
  for a missing or unknown key, 403 for a key whose role may not call the endpoint);
  ``/metrics`` and ``/docs.json`` need a key too unless ``CONTACTGATE_OPEN_PATHS`` opens them;
- without keys serves loopback only: the request must arrive on a loopback address with a
  loopback ``Host`` (a web page cannot reach it by DNS rebinding), and an API body must be
  ``application/json`` (a web page cannot send that cross-origin without a preflight, which
  is refused: no CORS);
- bounds the body: size (413 above ``CONTACTGATE_MAX_BODY_BYTES``), a JSON object, nesting,
  integer size and finite numbers (400; :mod:`serving.http.body`);
- answers every error in the one error model (:mod:`serving.http.errors`), rewriting the
  framework's own error bodies (validation, 5xx, readiness) into it.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serving.http.body import BodyProblem, parse_object
from serving.http.errors import error_bytes, error_payload, rewrite
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

#: Health probes: open to every caller (an orchestrator has no key), GET only.
PROBES = frozenset({"/livez", "/readyz", "/healthz"})
READ_METHODS = ("GET", "HEAD")


class GateMiddleware:
    """Paths, methods, keys, roles, loopback mode and bodies, before anything else runs."""

    def __init__(self, app: Any, settings: Settings | None = None) -> None:
        self.app = app
        settings = settings or Settings.from_environ()
        self.keys = parse_api_keys(settings.api_keys)
        self.max_body = settings.max_body_bytes
        self.open_paths = settings.open_paths
        if not self.keys:
            log.warning(
                "%s is not set: NO AUTHENTICATION; only loopback requests are served",
                API_KEYS_ENV,
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if path in ENDPOINT_ROLES:
            await self._api(path, method, scope, receive, send)
        elif path in PROBES:
            if method not in READ_METHODS:
                await _method_not_allowed(send, READ_METHODS)
                return
            await self.app(scope, receive, _rewriting(send, probe=True))
        elif path in ("/metrics", "/docs.json", "/"):
            if method not in READ_METHODS:
                await _method_not_allowed(send, READ_METHODS)
                return
            refused = self._refusal(scope, path, None)
            if refused:
                await _reply(send, *refused)
            elif path == "/metrics":
                await self.app(scope, receive, _rewriting(send))
            else:
                await _page(send, path)
        else:
            # not passed on: an unknown path never becomes a metrics label or a log line
            await _reply(send, 404, "not_found", "no such path")

    def _refusal(self, scope: Scope, path: str, roles_needed: frozenset[str] | None) -> tuple:
        """Why the request may not go on (status, code, message[, field, auth]), or ()."""
        if not self.keys:
            server = scope.get("server")
            if server and not is_loopback(server[0]):
                return 403, "forbidden", "no API keys configured: only loopback is served"
            if not is_loopback(_host(scope)):
                return 403, "forbidden", "no API keys configured: only a loopback Host is served"
            return ()
        if roles_needed is None and (path == "/" or path in self.open_paths):
            return ()
        presented = _header(scope, b"authorization")
        token = _bearer(presented)
        if token is None:
            return 401, "unauthorized", "missing Authorization: Bearer <key>", None, True
        roles = roles_of(token, self.keys)
        if not roles:
            return 401, "unauthorized", "unknown API key", None, True
        if roles_needed is not None and not roles & roles_needed:
            allowed = " or ".join(sorted(roles_needed))
            return 403, "forbidden", f"{path[1:]} needs the {allowed} role"
        return ()

    async def _api(self, path: str, method: str, scope: Scope, receive: Receive, send: Send):
        if method != "POST":
            await _method_not_allowed(send, ("POST",))
            return
        refused = self._refusal(scope, path, ENDPOINT_ROLES[path])
        if refused:
            await _reply(send, *refused)
            return
        if not self.keys and not _is_json(_header(scope, b"content-type")):
            await _reply(
                send,
                415,
                "unsupported_media_type",
                "without API keys only Content-Type: application/json is accepted",
                "Content-Type",
            )
            return
        body, too_large = await _read_body(scope, receive, self.max_body)
        if too_large:
            await _reply(send, 413, "body_too_large", f"body larger than {self.max_body} bytes")
            return
        try:
            parse_object(body)
        except BodyProblem as exc:
            await _reply(send, 400, "invalid_body", str(exc), "body")
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, _rewriting(send))


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def _bearer(value: bytes | None) -> bytes | None:
    if value is None:
        return None
    scheme, _, token = value.partition(b" ")
    if scheme.lower() == b"bearer" and token.strip():
        return token.strip()
    return None


def _host(scope: Scope) -> str | None:
    """The ``Host`` header's name without its port (``[::1]:3000`` → ``::1``)."""
    raw = _header(scope, b"host")
    if raw is None:
        return None
    host = raw.decode("latin-1").strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def _is_json(value: bytes | None) -> bool:
    if value is None:
        return False
    media = value.split(b";", 1)[0].strip().lower()
    return media == b"application/json"


async def _read_body(scope: Scope, receive: Receive, limit: int) -> tuple[bytes, bool]:
    declared = _header(scope, b"content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
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


def _rewriting(send: Send, probe: bool = False) -> Send:
    """``send`` for the inner application: an error answer (status >= 400) is held until its
    body is complete and rewritten into the error model; anything else passes as it is. A
    probe's 503 keeps its readiness report and gains the error (:func:`_not_ready`)."""
    held: dict[str, Any] = {}
    chunks: list[bytes] = []

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] >= 400:
            held["start"] = message
            return
        if "start" not in held or message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        start = held.pop("start")
        status = start["status"]
        body = b"".join(chunks)
        payload = _not_ready(body) if status == 503 and probe else rewrite(status, body)
        chunks.clear()
        headers = [
            (k, v)
            for k, v in start.get("headers", ())
            if k.lower() not in (b"content-length", b"content-type")
        ]
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
        ]
        await send(start | {"headers": headers})
        await send({"type": "http.response.body", "body": payload})

    return wrapped


def _not_ready(body: bytes) -> bytes:
    """A probe's 503: the readiness report (``ready``, ``problems``…, when the service gave
    one) with the error model's ``error`` added, naming what is missing."""
    try:
        report = json.loads(body)
    except ValueError:
        report = None
    if not isinstance(report, dict):
        report = {}
    problems = report.get("problems") or []
    missing = ", ".join(str(p) for p in problems) or "store, rule packs or model"
    message = f"not ready (fail closed): {missing}"
    return json.dumps(report | error_payload("not_ready", message)).encode()


async def _method_not_allowed(send: Send, allowed: tuple[str, ...]) -> None:
    await _reply(
        send,
        405,
        "method_not_allowed",
        f"use {' or '.join(allowed)}",
        extra=[(b"allow", ", ".join(allowed).encode())],
    )


async def _page(send: Send, path: str) -> None:
    from serving.http.openapi import INDEX_PAGE, document_bytes

    if path == "/docs.json":
        body, media = document_bytes(), b"application/json"
    else:
        body, media = INDEX_PAGE.encode(), b"text/html; charset=utf-8"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _reply(
    send: Send,
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    auth: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload = error_bytes(code, message, field)
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *(extra or []),
    ]
    if auth:
        headers.append((b"www-authenticate", b'Bearer realm="contactgate"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
