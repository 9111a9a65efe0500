"""Every worked example of docs/rules.md, verbatim."""

from __future__ import annotations

import pytest

from features.schema import Consent
from serving.domain.state import NumberState
from tests.support.rules import check, event, pairs, utc

COLD = NumberState()


@pytest.mark.parametrize(
    ("number", "at", "expected"),
    [
        ("+12122345678", "2026-06-16T11:59:00Z", {("QUIET_HOURS", "US")}),
        ("+12122345678", "2026-06-16T12:00:00Z", set()),
        ("+13052134567", "2026-06-16T00:15:00Z", {("QUIET_HOURS", "US-FL")}),
        ("+14162345678", "2026-06-16T01:00:00Z", set()),
        ("+33612345678", "2026-06-16T11:15:00Z", {("QUIET_HOURS", "FR")}),
        ("+61291234567", "2026-06-21T00:00:00Z", {("DAY_NOT_ALLOWED", "AU")}),
    ],
)
def test_cold_calls(number: str, at: str, expected: set[tuple[str, str]]) -> None:
    assert pairs(check(number, at, "call", COLD)) == expected


def test_quiet_hours_us_carries_until_and_next_allowed() -> None:
    result = check("+12122345678", "2026-06-16T11:59:00Z")
    assert result.next_allowed_at == utc("2026-06-16T12:00:00Z")
    assert result.reasons[0].until == utc("2026-06-16T12:00:00Z")
    assert result.reasons[0].legal is True
    assert result.reasons[0].rule_id == "US/hours"


def test_florida_example_matches_api_sample() -> None:
    reason = check("+13052134567", "2026-06-16T00:15:00Z").reasons[0]
    assert reason.to_dict() == {
        "code": "QUIET_HOURS",
        "jurisdiction": "US-FL",
        "rule_id": "US-FL/hours",
        "legal": True,
        "detail": "Mon 20:15 local (America/New_York), allowed 08:00-20:00",
        "until": "2026-06-16T12:00:00Z",
    }


def test_stop_reply_revokes_written_sms_consent() -> None:
    state = NumberState(
        history=(event("reply", "2026-06-15T16:00:00Z", text="Stop."),),
        consents=(
            Consent(
                number="+12122345678",
                channel="sms",
                type="written",
                granted_at=utc("2026-01-10T00:00:00Z"),
            ),
        ),
    )
    result = check("+12122345678", "2026-06-16T15:00:00Z", "sms", state)
    assert ("CONSENT_REVOKED", "US") in pairs(result)
    assert result.next_allowed_at is None
    before = check("+12122345678", "2026-06-15T15:59:59Z", "sms", state)  # before the reply
    assert before.allowed


def test_dnc_listed_number_with_recent_purchase_is_allowed_by_ebr() -> None:
    state = NumberState(
        history=(event("purchase", "2025-01-20T12:00:00Z"),),
        registries=frozenset({"US_NATIONAL_DNC"}),
    )
    assert check("+12132345678", "2026-06-16T18:00:00Z", "call", state).allowed
    without_purchase = NumberState(registries=frozenset({"US_NATIONAL_DNC"}))
    assert pairs(check("+12132345678", "2026-06-16T18:00:00Z", "call", without_purchase)) == {
        ("REGISTRY_LISTED", "US")
    }
