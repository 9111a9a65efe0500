"""The official client's transport policy: what is retried, the key, the timeout, errors, and
``screen`` splitting. The server is the outside world here, so it is played by
``httpx.MockTransport`` with answers in the service's own shapes; the client against the
real service is tested end to end (tests/e2e/test_client_compat.py).
"""

from __future__ import annotations

import json

import httpx
import pytest

from serving.client import Client, ContactgateError
from serving.domain.contract import MAX_CONTACTS_PER_REQUEST


class Outside:
    """A scripted server: answers in order, records every request."""

    def __init__(self, *answers: tuple[int, dict] | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        status, body = answer
        return httpx.Response(status, json=body)


WRITE_OK = {"accepted": 1, "duplicates": 0, "rejected": []}
UNAVAILABLE = {"error": {"code": "unavailable", "message": "store unavailable", "field": None}}


def _client(outside: Outside, **kwargs) -> Client:
    return Client(
        "http://127.0.0.1:3000",
        api_key="k",
        transport=httpx.MockTransport(outside),
        backoff_s=0,
        **kwargs,
    )


def _screen_answer(n: int, risks: list[float] | None = None) -> dict:
    risks = risks or [0.1] * n
    return {
        "results": [
            {"number": f"+1305555{i:04d}", "decision": "allow", "reasons": [], "risk": r,
             "rank": None, "p_complaint": r / 2, "p_opt_out": r / 2}
            for i, r in enumerate(risks)
        ],
        "model": {"name": "contact-risk", "version": "1", "alias": "champion"},
        "rules_version": "r1",
        "summary": {"allow": n, "review": 0, "withhold": 0, "by_reason": {},
                    "expected_complaints": sum(r / 2 for r in risks)},
    }  # fmt: skip


def test_writes_are_retried_on_unavailable_and_connection_failures() -> None:
    outside = Outside((503, UNAVAILABLE), httpx.ConnectError("refused"), (200, WRITE_OK))
    with _client(outside) as client:
        result = client.dnc_add([{"number": "+13055550142", "added_at": "2026-06-16T10:00:00Z"}])
    assert result.accepted == 1 and len(outside.requests) == 3
    assert {r.headers["authorization"] for r in outside.requests} == {"Bearer k"}
    assert len({r.content for r in outside.requests}) == 1  # the same write, replayed


def test_writes_give_up_after_their_retries_with_the_error_model() -> None:
    outside = Outside(*[(503, UNAVAILABLE)] * 3)
    with _client(outside, write_retries=2) as client, pytest.raises(ContactgateError) as error:
        client.record_events([])
    assert (error.value.status, error.value.code) == (503, "unavailable")
    assert len(outside.requests) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 409, 413])
def test_client_errors_are_never_retried(status) -> None:
    body = {"error": {"code": "invalid_field", "message": "no", "field": "records[0].number"}}
    outside = Outside((status, body))
    with _client(outside) as client, pytest.raises(ContactgateError) as error:
        client.record_consent([{"number": "x"}])
    assert error.value.field == "records[0].number" and len(outside.requests) == 1


def test_decisions_are_never_retried() -> None:
    outside = Outside((503, UNAVAILABLE), httpx.ReadTimeout("slow"))
    with _client(outside) as client:
        with pytest.raises(ContactgateError):
            client.screen([{"number": "+13055550142", "channel": "call"}])
        with pytest.raises(httpx.ReadTimeout):
            client.authorize({"number": "+13055550142", "channel": "call"})
    assert len(outside.requests) == 2


def test_timeout_is_set_on_every_call() -> None:
    outside = Outside((200, WRITE_OK))
    with _client(outside, timeout=2.5) as client:
        client.block_period([])
    assert outside.requests[0].extensions["timeout"]["read"] == 2.5


def test_screen_splits_long_lists_and_joins_the_answers() -> None:
    outside = Outside(
        (200, _screen_answer(3, [0.3, 0.1, 0.2])), (200, _screen_answer(2, [0.05, 0.4]))
    )
    contacts = [{"number": "+13055550142", "channel": "call"}] * 5
    with _client(outside) as client:
        answer = client.screen(contacts, chunk_size=3)
    sent = [len(json.loads(r.content)["contacts"]) for r in outside.requests]
    assert sent == [3, 2]
    assert [r.rank for r in answer.results] == [4, 2, 3, 1, 5]  # by risk over the whole list
    assert answer.summary.allow == 5
    assert answer.summary.expected_complaints == pytest.approx(0.525)


def test_screen_keeps_to_the_per_request_limit() -> None:
    n = MAX_CONTACTS_PER_REQUEST + 1
    outside = Outside((200, _screen_answer(MAX_CONTACTS_PER_REQUEST)), (200, _screen_answer(1)))
    with _client(outside) as client:
        answer = client.screen([{"number": "+13055550142", "channel": "call"}] * n,
                               chunk_size=10 * n)  # fmt: skip
        assert len(answer.results) == n
        with pytest.raises(ValueError, match="budget"):
            client.screen([{"number": "+13055550142", "channel": "call"}] * 3,
                          policy={"max_contacts": 1}, chunk_size=2)  # fmt: skip
    assert [len(json.loads(r.content)["contacts"]) for r in outside.requests] == [
        MAX_CONTACTS_PER_REQUEST,
        1,
    ]
