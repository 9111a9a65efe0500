"""The HTTP decision service (BentoML, class-based): the contract of ``API.md`` v1.

Start it with ``contactgate serve`` (which refuses a non-loopback address when no API keys
are configured) or ``bentoml serve serving.service:ContactGate``.

Each worker loads, once: the store (``CONTACTGATE_DB_URL``), the rule packs, and the model
behind the MLflow registry alias ``champion`` (``MLFLOW_TRACKING_URI``; the native LightGBM
boosters plus calibrators of :class:`training.model.RiskModel` — pyfunc would return
labels). A missing part is retried every few seconds; until all three are there
``/readyz`` answers 503 and every contact is withheld ``SYSTEM_UNAVAILABLE`` (fail closed;
``screen`` and ``authorize`` still answer 200, because a dialer must get an answer).

In front of the APIs, :class:`GateMiddleware` checks, before any body is parsed:
- the API key and its role (``CONTACTGATE_API_KEYS``, constant-time comparison; 401 for a
  missing or unknown key, 403 for a key whose role may not call the endpoint);
- the body size (413 above ``CONTACTGATE_MAX_BODY_BYTES``, default 8 MiB);
- that the body is a JSON object (400 naming the problem). Field errors are then reported
  by pydantic through BentoML as 400 with the field's location, never 5xx.
"""

from __future__ import annotations

import gc
import hmac
import json
import logging
import os
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import bentoml
from starlette.responses import JSONResponse

from features.replies import classify_reply
from serving.api_models import (
    AuthorizeRequest,
    AuthorizeResponse,
    ContactIn,
    EventsRequest,
    RecordsRequest,
    RegistryImportRequest,
    ScreenRequest,
    ScreenResponse,
    SubjectRequest,
)
from serving.decision import Policy
from serving.screening import Resources, Screener, load_resources, mask_digits, screen_response
from serving.store.keys import KeyConfigError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")

log = logging.getLogger("contactgate.service")

API_KEYS_ENV = "CONTACTGATE_API_KEYS"
MAX_BODY_ENV = "CONTACTGATE_MAX_BODY_BYTES"
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
ROLES = ("campaign", "operator", "reviewer")
#: Which roles may call each API (API.md "Authentication").
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
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})


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
    return host is not None and (host in LOOPBACK_HOSTS or host.startswith("127."))


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class GateMiddleware:
    """Authentication, roles, body size and JSON well-formedness, before BentoML parses."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.keys = parse_api_keys(os.environ.get(API_KEYS_ENV))
        self.max_body = int(os.environ.get(MAX_BODY_ENV) or DEFAULT_MAX_BODY_BYTES)
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


def _bad_request(field: str, message: str) -> JSONResponse:
    return JSONResponse({"error": f"{field}: {message}"}, status_code=400)


def _json(data: Any) -> JSONResponse:
    """A JSON response for store dicts (datetimes as ISO-8601)."""
    return JSONResponse(json.loads(json.dumps(data, default=_jsonable)))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


#: Worker processes (``CONTACTGATE_WORKERS``, default 1). Each loads its own model; caps stay
#: exact across workers because ``Store.number_lock`` serialises in the database.
WORKERS = int(os.environ.get("CONTACTGATE_WORKERS") or 1)


@bentoml.service(name="contactgate", traffic={"timeout": 120}, workers=WORKERS)
class ContactGate:
    """Screening, pre-dial authorisation, operator writes, access and erasure (API.md)."""

    def __init__(self) -> None:
        self.resources: Resources = load_resources(
            db_url=os.environ.get("CONTACTGATE_DB_URL"),
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI"),
            model_name=os.environ.get("CONTACTGATE_MODEL_NAME", "contact-risk"),
            alias=os.environ.get("CONTACTGATE_MODEL_ALIAS", "champion"),
            rules_dir=os.environ.get("CONTACTGATE_RULES_DIR"),
        )
        self.screener = Screener(self.resources)
        from features.build import warm_up

        try:
            warm_up()  # compiled kernels loaded before the first dial, not during it
        except Exception as exc:  # the requests will fail closed and say so
            log.error("feature kernels failed to load: %s", exc.__class__.__name__)
        # Everything loaded so far (model, rule book, libraries) lives as long as the worker:
        # keep it out of the garbage collector's full passes, which otherwise stall every
        # request in flight while they walk millions of objects that can never be freed.
        gc.collect()
        gc.freeze()
        problems = self.resources.problems()
        if problems:
            log.error(
                "contactgate NOT READY (fail closed): %s; %s",
                ", ".join(problems),
                self.resources.errors,
            )

    def __is_ready__(self) -> bool:
        """Ready only with model, rule packs and a reachable store (``/readyz``)."""
        self.resources.ensure()
        return not self.resources.problems()

    # ------------------------------------------------------------------ decisions
    @bentoml.api(route="/screen", input_spec=ScreenRequest)
    def screen(
        self, contacts: list[ContactIn], policy: Policy | None = None, explain: int = 0
    ) -> ScreenResponse:
        """Decide a list of planned contacts; results in request order. No side effect but
        the audit log."""
        outcome = self.screener.screen(contacts, policy, explain, request_id=uuid.uuid4().hex)
        return screen_response(outcome)

    @bentoml.api(route="/authorize", input_spec=AuthorizeRequest)
    async def authorize(self, **fields: Any) -> AuthorizeResponse:
        """Check one dial and, when allowed, record it — in one transaction per number.

        On SQLite it runs on the event loop, not in the worker thread of the other APIs: a
        dial costs a few milliseconds, less than handing it to a thread and back, it no
        longer queues behind a whole ``screen`` (the two meet only at the store's writer
        lock), and its waits are bounded (``Screener.lock_wait_s``). A network database can
        stall for longer (a connection attempt waits up to its connect timeout), so with
        PostgreSQL dials run in threads and the loop stays free for health checks."""
        request = AuthorizeRequest.model_validate(fields)
        store = self.resources.store
        if store is not None and store.dialect != "sqlite":
            return await anyio.to_thread.run_sync(self._authorize, request)
        return self._authorize(request)

    def _authorize(self, request: AuthorizeRequest) -> AuthorizeResponse:
        from serving.store import AttemptIdConflict

        try:
            return self.screener.authorize(request)
        except AttemptIdConflict as exc:
            raise bentoml.exceptions.InvalidArgument(str(exc)) from exc

    # ------------------------------------------------------------------ writes
    def _store(self) -> Any:
        self.resources.ensure()
        if self.resources.store is None:
            raise bentoml.exceptions.ServiceUnavailable("store unavailable")
        return self.resources.store

    def _call_store(self, method: str, *args: Any) -> Any:
        """One store operation; a database failure is a 503 (retry: writes are idempotent),
        never a 500 — and never an acknowledgement of something not stored."""
        from serving.store import ImportAborted

        store = self._store()
        try:
            return getattr(store, method)(*args)
        except (ValueError, ImportAborted):
            raise  # the request's own problem, answered as a 4xx by the caller
        except Exception as exc:
            log.error("store %s failed: %s", method, exc.__class__.__name__)
            raise bentoml.exceptions.ServiceUnavailable(
                "store unavailable: nothing was acknowledged; retry (writes are idempotent)"
            ) from exc

    @bentoml.api(route="/record_events", input_spec=EventsRequest)
    def record_events(self, events: list[dict]) -> dict:
        """Store events (idempotent on ``event_id``); an opt-out reply acts at once: the
        rules read stored replies through the keyword classifier on the very next check."""
        result = self._call_store("record_events", events).as_dict()
        rejected = {r["index"] for r in result["rejected"]}
        actions = []
        for index, event in enumerate(events):
            if index in rejected:
                continue
            kind = event.get("kind")
            if kind == "reply":
                label = classify_reply(str(event.get("text") or ""), _region_of(event))
                if label in ("opt_out", "opt_in"):
                    actions.append({"index": index, "action": label})
            elif kind in ("opt_out", "opt_in"):
                actions.append({"index": index, "action": kind})
        return result | {"actions": actions}

    @bentoml.api(route="/record_consent", input_spec=RecordsRequest)
    def record_consent(self, records: list[dict]) -> dict:
        return self._call_store("record_consent", records).as_dict()

    @bentoml.api(route="/record_preferences", input_spec=RecordsRequest)
    def record_preferences(self, records: list[dict]) -> dict:
        return self._call_store("record_preferences", records).as_dict()

    @bentoml.api(route="/dnc_add", input_spec=RecordsRequest)
    def dnc_add(self, records: list[dict]) -> dict:
        return self._call_store("dnc_add", records).as_dict()

    @bentoml.api(route="/dnc_remove", input_spec=RecordsRequest)
    def dnc_remove(self, records: list[dict]) -> dict:
        return self._call_store("dnc_remove", records).as_dict()

    @bentoml.api(route="/block_period", input_spec=RecordsRequest)
    def block_period(self, records: list[dict]) -> dict:
        return self._call_store("block_period", records).as_dict()

    @bentoml.api(route="/registry_import", input_spec=RegistryImportRequest)
    def registry_import(
        self, registry: str, snapshot_at: Any, numbers: list[str], replace: bool = True
    ) -> Any:
        """Swap in (``replace``) or extend a registry snapshot; large files go through
        ``contactgate registry import``."""
        from serving.store import ImportAborted

        try:
            result = self._call_store("import_registry", registry, snapshot_at, numbers, replace)
        except (ImportAborted, ValueError) as exc:
            return _bad_request("numbers", mask_digits(str(exc)))
        return _json(result.as_dict())

    # ------------------------------------------------------------------ access, erasure
    @bentoml.api(route="/subject_report", input_spec=SubjectRequest)
    def subject_report(self, number: str) -> Any:
        """Everything held on a person (GDPR art. 15)."""
        try:
            return _json(self._call_store("subject_report", number))
        except ValueError as exc:
            return _bad_request("number", str(exc).removeprefix("number: "))

    @bentoml.api(route="/erase_subject", input_spec=SubjectRequest)
    def erase_subject(self, number: str) -> Any:
        """Erase a person (GDPR art. 17), keeping only the keyed-hash tombstone."""
        try:
            return _json(self._call_store("erase_subject", number))
        except ValueError as exc:
            return _bad_request("number", str(exc).removeprefix("number: "))


def _region_of(event: dict) -> str | None:
    from features.phone import normalize

    number = event.get("number")
    return normalize(str(number)).region if number else None


ContactGate.add_asgi_middleware(GateMiddleware)
