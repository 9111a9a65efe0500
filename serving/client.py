"""The official Python client of the decision service (docs/api.md, "Python client").

Typed requests and results (the contract's own models, :mod:`serving.domain.contract`), a
timeout on every call, the API key as a bearer token, and retries only where a retry cannot
do harm: the writes, which are idempotent (a replayed record is a duplicate, an import or an
erasure done twice ends the same). ``screen`` and ``authorize`` are never retried — a
decision is the caller's to ask for again. ``screen`` splits a list longer than the
per-request limit into several requests and joins the answers.

>>> from serving.client import Client
>>> with Client("http://127.0.0.1:3000", api_key="...") as gate:  # doctest: +SKIP
...     answer = gate.screen([{"number": "+13055550142", "channel": "call"}])
...     answer.results[0].decision
'allow'
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from serving.domain.contract import (
    MAX_CONTACTS_PER_REQUEST,
    AuthorizeRequest,
    AuthorizeResponse,
    ContactIn,
    ErasureResult,
    EventsResult,
    RegistryImportResult,
    ScreenResponse,
    SubjectReport,
    Summary,
    WriteResult,
)
from serving.domain.decision import Policy

__all__ = ["Client", "ContactgateError", "DEFAULT_TIMEOUT_S"]

DEFAULT_TIMEOUT_S = 30.0
#: Statuses a write is retried on: the service or a proxy in front of it was unavailable.
RETRY_STATUSES = frozenset({502, 503, 504})

Result = TypeVar("Result", bound=BaseModel)
Record = Mapping[str, Any] | BaseModel


class ContactgateError(Exception):
    """An error answer of the service: ``status`` and the error model's ``code``,
    ``message`` and ``field`` (None when the answer was not the service's own)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(f"{status} {code}: {message}" + (f" ({field})" if field else ""))
        self.status, self.code, self.message, self.field = status, code, message, field


class Client:
    """A connection to the service. Use it as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        write_retries: int = 3,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )
        self.write_retries = max(0, write_retries)
        self.backoff_s = backoff_s

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ decisions
    def screen(
        self,
        contacts: Sequence[Mapping[str, Any] | ContactIn],
        policy: Policy | Mapping[str, Any] | None = None,
        explain: int = 0,
        *,
        chunk_size: int = MAX_CONTACTS_PER_REQUEST,
    ) -> ScreenResponse:
        """Decide planned contacts; results in input order. A list longer than
        ``chunk_size`` (at most the per-request limit) is sent in several requests and the
        answers joined: ranks are recomputed over the whole list and the summaries added.
        A budget (``max_contacts``, ``max_expected_complaints``) applies to one request, so
        a budgeted list must fit in one."""
        items = [_contact(c) for c in contacts]
        policy_model = Policy.model_validate(policy or {})
        size = max(1, min(chunk_size, MAX_CONTACTS_PER_REQUEST))
        budgeted = policy_model.max_contacts is not None or (
            policy_model.max_expected_complaints is not None
        )
        if budgeted and len(items) > size:
            raise ValueError(
                f"a budget applies to one request: at most {size} contacts, not {len(items)}"
            )
        answers = [
            self._call(
                "/screen",
                {
                    "contacts": items[start : start + size],
                    "policy": policy_model.model_dump(mode="json"),
                    "explain": explain,
                },
                ScreenResponse,
                retry=False,
            )
            for start in range(0, max(len(items), 1), size)
        ]
        return answers[0] if len(answers) == 1 else _joined(answers)

    def authorize(
        self, contact: Mapping[str, Any] | AuthorizeRequest, **fields: Any
    ) -> AuthorizeResponse:
        """Check one dial and, when allowed, record it (never retried)."""
        body = AuthorizeRequest.model_validate(_plain(contact) | fields)
        payload = body.model_dump(mode="json", exclude_unset=True)
        return self._call("/authorize", payload, AuthorizeResponse, retry=False)

    # ------------------------------------------------------------------ writes
    def record_events(self, events: Iterable[Record]) -> EventsResult:
        return self._call("/record_events", {"events": _records(events)}, EventsResult)

    def record_consent(self, records: Iterable[Record]) -> WriteResult:
        return self._call("/record_consent", {"records": _records(records)}, WriteResult)

    def record_preferences(self, records: Iterable[Record]) -> WriteResult:
        return self._call("/record_preferences", {"records": _records(records)}, WriteResult)

    def dnc_add(self, records: Iterable[Record]) -> WriteResult:
        return self._call("/dnc_add", {"records": _records(records)}, WriteResult)

    def dnc_remove(self, records: Iterable[Record]) -> WriteResult:
        return self._call("/dnc_remove", {"records": _records(records)}, WriteResult)

    def block_period(self, records: Iterable[Record]) -> WriteResult:
        return self._call("/block_period", {"records": _records(records)}, WriteResult)

    def registry_import(
        self, registry: str, snapshot_at: str, numbers: Sequence[str], replace: bool = True
    ) -> RegistryImportResult:
        body = {
            "registry": registry,
            "snapshot_at": snapshot_at,
            "numbers": list(numbers),
            "replace": replace,
        }
        return self._call("/registry_import", body, RegistryImportResult)

    # ------------------------------------------------------------------ access, erasure
    def subject_report(self, number: str) -> SubjectReport:
        """Everything held on a person (reading: retried like the writes)."""
        return self._call("/subject_report", {"number": number}, SubjectReport)

    def erase_subject(self, number: str) -> ErasureResult:
        return self._call("/erase_subject", {"number": number}, ErasureResult)

    # ------------------------------------------------------------------ transport
    def _call(
        self, path: str, body: dict[str, Any], result: type[Result], *, retry: bool = True
    ) -> Result:
        attempts = 1 + (self.write_retries if retry else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._http.post(path, json=body)
            except httpx.TransportError:
                if last:
                    raise
            else:
                if response.status_code < 400:
                    return result.model_validate(response.json())
                if last or response.status_code not in RETRY_STATUSES:
                    raise _error(response)
            time.sleep(self.backoff_s * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover


def _plain(value: Mapping[str, Any] | BaseModel) -> dict[str, Any]:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True)
    return dict(value)


def _contact(value: Mapping[str, Any] | ContactIn) -> dict[str, Any]:
    return ContactIn.model_validate(_plain(value)).model_dump(mode="json", exclude_unset=True)


def _records(records: Iterable[Record]) -> list[dict[str, Any]]:
    return [_plain(r) for r in records]


def _error(response: httpx.Response) -> ContactgateError:
    try:
        detail = response.json()["error"]
        return ContactgateError(
            response.status_code, detail["code"], detail["message"], detail.get("field")
        )
    except (ValueError, KeyError, TypeError):
        return ContactgateError(response.status_code, "http_error", response.text[:200])


def _joined(answers: list[ScreenResponse]) -> ScreenResponse:
    """Several answers of one split list as one: results in order, ranks over all of them
    (by risk, then position, as the service ranks), summaries added."""
    first = answers[0]
    if any(a.model != first.model or a.rules_version != first.rules_version for a in answers):
        raise ContactgateError(
            0, "changed", "the model or rules changed between the parts of the list; screen again"
        )
    results = [r.model_copy() for a in answers for r in a.results]
    allowed = sorted(
        (i for i, r in enumerate(results) if r.decision == "allow"),
        key=lambda i: (results[i].risk if results[i].risk is not None else 1.0, i),
    )
    for rank, i in enumerate(allowed, start=1):
        results[i].rank = rank
    by_reason: dict[str, int] = {}
    for a in answers:
        for code, n in a.summary.by_reason.items():
            by_reason[code] = by_reason.get(code, 0) + n
    summary = Summary(
        allow=sum(a.summary.allow for a in answers),
        review=sum(a.summary.review for a in answers),
        withhold=sum(a.summary.withhold for a in answers),
        by_reason=dict(sorted(by_reason.items())),
        expected_complaints=sum(a.summary.expected_complaints for a in answers),
    )
    return ScreenResponse(
        results=results, model=first.model, rules_version=first.rules_version, summary=summary
    )
