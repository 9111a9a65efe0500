"""The HTTP decision service (BentoML, class-based): the contract of docs/api.md (v1).

Start it with ``contactgate serve`` (which refuses a non-loopback address when no API keys
are configured) or ``bentoml serve serving.http.service:ContactGate``.

Each worker loads, once: the store (``CONTACTGATE_DB_URL``), the rule packs, and the model
behind the MLflow registry alias ``champion`` (``MLFLOW_TRACKING_URI``; the native LightGBM
boosters plus calibrators of :class:`training.model.RiskModel` — pyfunc would return
labels). A missing part is retried every few seconds; until all three are there
``/readyz`` answers 503 and every contact is withheld ``SYSTEM_UNAVAILABLE`` (fail closed;
``screen`` and ``authorize`` still answer 200, because a dialer must get an answer).

In front of everything, :class:`serving.http.auth.GateMiddleware` (the outermost layer,
see :class:`GatedService`) checks paths, methods, keys, roles and bodies before any body is
parsed, and serves the OpenAPI document (:mod:`serving.http.openapi`). Field errors are then
reported by pydantic through BentoML as 400 naming the field, never 5xx; every error answer
has the one shape of :mod:`serving.http.errors`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from typing import Any

import anyio.to_thread
import bentoml
from _bentoml_sdk.service.factory import Service
from starlette.responses import JSONResponse

from features.replies import classify_reply
from serving.domain.contract import (
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
from serving.domain.decision import Policy
from serving.domain.reasons import mask_digits
from serving.http.auth import GateMiddleware
from serving.http.errors import STORE_UNAVAILABLE, ApiError, error_payload, error_response
from serving.http.readyz import ReadyzMiddleware
from serving.pipeline import (
    Resources,
    Screener,
    load_resources,
    screen_response,
    settle_heap,
    with_default_region,
)
from serving.settings import Settings, start_runtime

log = logging.getLogger("contactgate.service")


def _json(data: Any) -> JSONResponse:
    """A JSON response for store dicts (datetimes as ISO-8601)."""
    return JSONResponse(json.loads(json.dumps(data, default=_jsonable)))


def _jsonable(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class GatedService(Service):
    """The BentoML service with :class:`GateMiddleware` as the OUTERMOST layer of its
    application: middleware added with ``add_asgi_middleware`` runs inside the framework's
    metrics and access-log layers, which would then label and log every path a caller
    invents (``bentoml.service(service_class=...)`` is the framework's hook for this)."""

    def to_asgi(self, is_main: bool = True) -> Any:
        return GateMiddleware(super().to_asgi(is_main))


def _answers_errors(method: Any) -> Any:
    """An API method whose :class:`ApiError` is answered in the error model (BentoML would
    answer any exception of ours with its own generic 500)."""
    import functools
    import inspect

    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def answer_async(*args: Any, **kwargs: Any) -> Any:
            try:
                return await method(*args, **kwargs)
            except ApiError as exc:
                return error_response(exc)

        return answer_async

    @functools.wraps(method)
    def answer(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except ApiError as exc:
            return error_response(exc)

    return answer


#: Worker processes (``CONTACTGATE_WORKERS``, default 1), needed when the class is declared.
#: Each worker loads its own model; caps stay exact across workers because
#: ``Store.number_lock`` serialises in the database.
WORKERS = Settings.from_environ().workers


@bentoml.service(
    name="contactgate",
    description="Decide whether a marketing call or text may go ahead.",
    traffic={"timeout": 120},
    workers=WORKERS,
    service_class=GatedService,
)
class ContactGate:
    """Screening, pre-dial authorisation, operator writes, access and erasure."""

    def __init__(self) -> None:
        start_runtime()
        # Read once per service instance (a worker's start), from the environment it has.
        self.settings = settings = Settings.from_environ()
        self.resources: Resources = load_resources(
            db_url=settings.db_url,
            tracking_uri=settings.tracking_uri,
            model_name=settings.model_name,
            alias=settings.model_alias,
            rules_dir=settings.rules_dir,
            create_store=settings.store_create,
            poll_s=settings.model_poll_s,
            serve=True,
        )
        self.screener = Screener(
            self.resources, authorize_skew=dt.timedelta(seconds=settings.authorize_skew_s)
        )
        from features.pointintime import warm_up

        try:
            warm_up()  # compiled kernels loaded before the first dial, not during it
        except Exception as exc:  # the requests will fail closed and say so
            log.error("feature kernels failed to load: %s", exc.__class__.__name__)
        # Everything loaded so far (model, rule book, libraries) lives as long as the worker:
        # keep it out of the garbage collector's full passes, which otherwise stall every
        # request in flight while they walk objects that can never be freed.
        settle_heap()
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
        self,
        contacts: list[ContactIn],
        policy: Policy | None = None,
        explain: int = 0,
        default_region: str | None = None,
    ) -> ScreenResponse:
        """Decide a list of planned contacts; results in request order. No side effect but
        the audit log."""
        outcome = self.screener.screen(
            contacts,
            policy,
            explain,
            request_id=uuid.uuid4().hex,
            default_region=default_region,
        )
        return screen_response(outcome)

    @bentoml.api(route="/authorize", input_spec=AuthorizeRequest)
    @_answers_errors
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
        from serving.pipeline import AtOutOfRange
        from serving.store import AttemptIdConflict

        try:
            return self.screener.authorize(request)
        except AttemptIdConflict as exc:
            message = str(exc).removeprefix("attempt_id: ")
            raise ApiError("conflict", message, "attempt_id") from exc
        except AtOutOfRange as exc:
            raise ApiError("invalid_field", str(exc).removeprefix("at: "), "at") from exc

    # ------------------------------------------------------------------ writes
    def _store(self) -> Any:
        self.resources.ensure()
        if self.resources.store is None:
            raise ApiError("unavailable", STORE_UNAVAILABLE)
        return self.resources.store

    def _call_store(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One store operation; a database failure is a 503 (retry: writes are idempotent),
        never a 500 — and never an acknowledgement of something not stored."""
        from serving.store import ImportAborted

        store = self._store()
        try:
            return getattr(store, method)(*args, **kwargs)
        except (ValueError, ImportAborted):
            raise  # the request's own problem, answered as a 4xx by the caller
        except Exception as exc:
            log.error("store %s failed: %s", method, exc.__class__.__name__)
            raise ApiError("unavailable", STORE_UNAVAILABLE) from exc

    @bentoml.api(route="/record_events", input_spec=EventsRequest)
    @_answers_errors
    def record_events(self, events: list[dict], default_region: str | None = None) -> Any:
        """Store events (idempotent on ``event_id``); an opt-out reply acts at once: the
        rules read stored replies through the keyword classifier on the very next check.
        An id already stored with other content is 409 naming it (the other events of the
        batch are stored and counted as usual)."""
        events = with_default_region(events, default_region)
        written = self._call_store("record_events", events)
        result = written.as_dict()
        # an action only for an event that is stored (new, or an identical replay)
        rejected = {r["index"] for r in result["rejected"]} | {i for i, _ in written.conflicts}
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
        if written.conflicts:
            index, event_id = written.conflicts[0]
            message = (
                f"event_id {event_id!r} (index {index}): already recorded with other content; "
                "not stored — send a new event_id"
            )
            error = error_payload("conflict", message, f"events[{index}].event_id")
            return JSONResponse(result | {"actions": actions} | error, status_code=409)
        return result | {"actions": actions}

    @bentoml.api(route="/record_consent", input_spec=RecordsRequest)
    @_answers_errors
    def record_consent(self, records: list[dict], default_region: str | None = None) -> dict:
        return self._call_store(
            "record_consent", with_default_region(records, default_region)
        ).as_dict()

    @bentoml.api(route="/record_preferences", input_spec=RecordsRequest)
    @_answers_errors
    def record_preferences(self, records: list[dict], default_region: str | None = None) -> dict:
        return self._call_store(
            "record_preferences", with_default_region(records, default_region)
        ).as_dict()

    @bentoml.api(route="/dnc_add", input_spec=RecordsRequest)
    @_answers_errors
    def dnc_add(self, records: list[dict], default_region: str | None = None) -> dict:
        return self._call_store("dnc_add", with_default_region(records, default_region)).as_dict()

    @bentoml.api(route="/dnc_remove", input_spec=RecordsRequest)
    @_answers_errors
    def dnc_remove(self, records: list[dict], default_region: str | None = None) -> dict:
        return self._call_store(
            "dnc_remove", with_default_region(records, default_region)
        ).as_dict()

    @bentoml.api(route="/block_period", input_spec=RecordsRequest)
    @_answers_errors
    def block_period(self, records: list[dict], default_region: str | None = None) -> dict:
        return self._call_store("block_period", records).as_dict()

    @bentoml.api(route="/registry_import", input_spec=RegistryImportRequest)
    @_answers_errors
    def registry_import(
        self,
        registry: str,
        snapshot_at: Any,
        numbers: list[str],
        replace: bool = True,
        allow_shrink: bool = False,
        allow_empty: bool = False,
    ) -> Any:
        """Swap in (``replace``) or extend a registry snapshot; large files go through
        ``contactgate registry import``."""
        from serving.store import ImportAborted

        try:
            result = self._call_store(
                "import_registry",
                registry,
                snapshot_at,
                numbers,
                replace,
                allow_shrink=allow_shrink,
                allow_empty=allow_empty,
            )
        except ImportAborted as exc:  # the store's own words: dates and counts, no number
            message = str(exc)
            field = "snapshot_at" if message.startswith("snapshot_at") else "numbers"
            raise ApiError("invalid_field", message, field) from exc
        except ValueError as exc:
            raise ApiError("invalid_field", mask_digits(str(exc)), "numbers") from exc
        return _json(result.as_dict())

    # ------------------------------------------------------------------ access, erasure
    @bentoml.api(route="/subject_report", input_spec=SubjectRequest)
    @_answers_errors
    def subject_report(self, number: str) -> Any:
        """Everything held on a person (GDPR art. 15)."""
        try:
            return _json(self._call_store("subject_report", number))
        except ValueError as exc:
            raise ApiError("invalid_field", str(exc).removeprefix("number: "), "number") from exc

    @bentoml.api(route="/erase_subject", input_spec=SubjectRequest)
    @_answers_errors
    def erase_subject(self, number: str) -> Any:
        """Erase a person (GDPR art. 17), keeping only the keyed-hash tombstone."""
        try:
            return _json(self._call_store("erase_subject", number))
        except ValueError as exc:
            raise ApiError("invalid_field", str(exc).removeprefix("number: "), "number") from exc


def _region_of(event: dict) -> str | None:
    from features.phone import normalize

    number = event.get("number")
    return normalize(str(number)).region if number else None


ContactGate.add_asgi_middleware(ReadyzMiddleware)
