"""the worked examples of docs/rules.md through the store, on SQLite and PostgreSQL alike.

The rule tables elsewhere build states by hand; here every fact (consent, the reply, the
purchase, the registry listing and snapshot ages) is written through the store's API and
read back with ``load_states`` / ``world_state`` — the path the service decides on.
"""

from __future__ import annotations

import datetime as dt

import pytest

from features.schema import REGISTRIES
from serving.rules import evaluate
from tests.support.rules import contact, rulebook, utc

SNAPSHOT_AT = utc("2026-06-15T00:00:00Z")
LISTED_ELSEWHERE = "+12025550123"  # fictional 555-01xx: keeps every snapshot non-empty

EXAMPLES = [
    # (number, at, channel, expected {(code, jurisdiction)})
    ("+12122345678", "2026-06-16T11:59:00Z", "call", {("QUIET_HOURS", "US")}),
    ("+12122345678", "2026-06-16T12:00:00Z", "call", set()),
    ("+13052134567", "2026-06-16T00:15:00Z", "call", {("QUIET_HOURS", "US-FL")}),
    ("+14162345678", "2026-06-16T01:00:00Z", "call", set()),
    ("+33612345678", "2026-06-16T11:15:00Z", "call", {("QUIET_HOURS", "FR")}),
    ("+61291234567", "2026-06-21T00:00:00Z", "call", {("DAY_NOT_ALLOWED", "AU")}),
]


def _decide(store, number: str, at: str, channel: str):
    planned = contact(number, at, channel)
    state = store.load_states([number], planned.at)[number]
    return evaluate(planned, state, store.world_state(planned.at), rulebook())


def _pairs(evaluation) -> set[tuple[str, str]]:
    return {(r.code, r.jurisdiction) for r in evaluation.reasons}


@pytest.fixture
def fresh_store(store):
    """The store with a one-day-old snapshot of every registry."""
    for registry in REGISTRIES:
        store.import_registry(registry, SNAPSHOT_AT, [LISTED_ELSEWHERE])
    return store


@pytest.mark.parametrize(("number", "at", "channel", "expected"), EXAMPLES)
def test_cold_examples_through_the_store(fresh_store, number, at, channel, expected) -> None:
    assert _pairs(_decide(fresh_store, number, at, channel)) == expected


def test_stop_reply_revokes_written_sms_consent_through_the_store(fresh_store) -> None:
    number = "+12122345678"
    fresh_store.record_consent(
        [{"number": number, "channel": "sms", "type": "written",
          "granted_at": "2026-01-10T00:00:00Z", "evidence": "web form, wording v3"}]
    )  # fmt: skip
    assert _pairs(_decide(fresh_store, number, "2026-06-16T15:00:00Z", "sms")) == set()
    fresh_store.record_events(
        [{"event_id": "r1", "number": number, "ts": "2026-06-16T15:00:00Z", "kind": "reply",
          "text": "Stop."}]
    )  # fmt: skip
    after = _decide(fresh_store, number, "2026-06-16T15:00:01Z", "sms")
    assert "CONSENT_REVOKED" in {code for code, _ in _pairs(after)}


def test_ebr_allows_a_listed_number_through_the_store(fresh_store) -> None:
    number = "+12132345678"
    fresh_store.import_registry("US_NATIONAL_DNC", SNAPSHOT_AT, [number, LISTED_ELSEWHERE])
    at = "2026-06-16T18:00:00Z"
    assert _pairs(_decide(fresh_store, number, at, "call")) == {("REGISTRY_LISTED", "US")}
    fresh_store.record_events(
        [{"event_id": "p1", "number": number, "ts": "2025-01-20T15:00:00Z", "kind": "purchase"}]
    )
    assert _pairs(_decide(fresh_store, number, at, "call")) == set()  # EBR: 18 months


def test_a_stale_snapshot_withholds_through_the_store(store) -> None:
    store.import_registry(
        "US_NATIONAL_DNC", SNAPSHOT_AT - dt.timedelta(days=40), [LISTED_ELSEWHERE]
    )
    reasons = _pairs(_decide(store, "+12122345678", "2026-06-16T14:00:00Z", "call"))
    assert ("REGISTRY_STALE", "US") in reasons
