"""The one text confirming an opt-out (US: 47 CFR 64.1200(a)(12); elsewhere POLICY).

A contact of purpose ``opt_out_confirmation`` is allowed by SMS only, inside
``[opt-out, opt-out + 5 min)`` of the number's latest opt-out (event or opt-out reply), once
per opt-out. It passes the rules that withhold an opted-out number (revocation, consent,
registries, hours) and nothing else does: a marketing or service text in the same minute is
still withheld. Table tests at the boundaries, in the recipient's own evening.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from serving.domain.state import HistoryEvent, NumberState
from tests.support.rules import check, consent, dnc, event, local, pairs

NY_NUMBER = "+12122345678"  # docs/rules.md example (New York)
GB_MOBILE = "+447400123456"
FR_MOBILE = "+33612345678"
JERSEY = "+447797712345"
#: 23:30 in New York: outside every calling window, as a STOP late in the evening would be.
STOP_AT = local("America/New_York", "2026-06-16 23:30")
SECOND = dt.timedelta(seconds=1)
MINUTE = dt.timedelta(minutes=1)
STOP = event("reply", STOP_AT.isoformat(), text="STOP")


def _confirmation(ts: dt.datetime, channel: str = "sms") -> HistoryEvent:
    return HistoryEvent(ts=ts, kind="contact", channel=channel, purpose="opt_out_confirmation")


@dataclass
class Case:
    name: str
    after: dt.timedelta  # the contact's instant after the opt-out
    history: tuple[HistoryEvent, ...] = (STOP,)
    number: str = NY_NUMBER
    channel: str = "sms"
    purpose: str = "opt_out_confirmation"
    expected: set[tuple[str, str]] = field(default_factory=set)
    registries: frozenset[str] = frozenset()


NOT_ALLOWED_US = {("CONFIRMATION_NOT_ALLOWED", "US")}
CASES = [
    Case("at the opt-out", dt.timedelta(0)),
    Case("4:59 after", 4 * MINUTE + 59 * SECOND),
    Case("5:00 after: the window is half-open", 5 * MINUTE, expected=NOT_ALLOWED_US),
    Case("5:01 after", 5 * MINUTE + SECOND, expected=NOT_ALLOWED_US),
    Case("a day after", dt.timedelta(days=1), expected=NOT_ALLOWED_US),
    Case("by voice", MINUTE, channel="call", expected=NOT_ALLOWED_US),
    Case("no prior opt-out", MINUTE, history=(), expected=NOT_ALLOWED_US),
    Case(
        "only an opt-in reply before it",
        MINUTE,
        history=(event("reply", STOP_AT.isoformat(), text="START"),),
        expected=NOT_ALLOWED_US,
    ),
    Case(
        "a second confirmation",
        2 * MINUTE,
        history=(STOP, _confirmation(STOP_AT + MINUTE)),
        expected={("CONFIRMATION_ALREADY_SENT", "US")},
    ),
    Case(
        "a second one at the same instant as the first",
        MINUTE,
        history=(STOP, _confirmation(STOP_AT + MINUTE - dt.timedelta(microseconds=1))),
        expected={("CONFIRMATION_ALREADY_SENT", "US")},
    ),
    Case(
        "at the opt-out's instant, one recorded later counted just before it",
        dt.timedelta(0),
        history=(STOP, _confirmation(STOP_AT - dt.timedelta(microseconds=1))),
        expected={("CONFIRMATION_ALREADY_SENT", "US")},
    ),
    Case(
        "a new opt-out after an earlier confirmed one",
        MINUTE,
        history=(
            event("reply", (STOP_AT - dt.timedelta(days=3)).isoformat(), text="STOP"),
            _confirmation(STOP_AT - dt.timedelta(days=3) + MINUTE),
            STOP,
        ),
    ),
    Case(
        "an opt-out event (not a reply)",
        4 * MINUTE,
        history=(event("opt_out", STOP_AT.isoformat(), channel="call"),),
    ),
    Case(
        "an opt-in after the opt-out",
        2 * MINUTE,
        history=(STOP, event("reply", (STOP_AT + MINUTE).isoformat(), text="START")),
        expected=NOT_ALLOWED_US,
    ),
    Case(
        "listed on the National DNC, at 23:31 local",
        MINUTE,
        registries=frozenset({"US_NATIONAL_DNC"}),
    ),
    # nothing but the confirmation passes: a marketing or service text in the same minute
    Case(
        "a marketing text after STOP",
        MINUTE,
        purpose="marketing",
        expected={("CONSENT_REVOKED", "US"), ("QUIET_HOURS", "US")},
    ),
    Case(
        "a service text after STOP",
        MINUTE,
        purpose="service",
        expected={("CONSENT_REVOKED", "POLICY")},
    ),
    # elsewhere the company applies the same limits (POLICY)
    Case("GB at 4:59", 4 * MINUTE + 59 * SECOND, number=GB_MOBILE),
    Case(
        "GB at 5:00",
        5 * MINUTE,
        number=GB_MOBILE,
        expected={("CONFIRMATION_NOT_ALLOWED", "POLICY")},
    ),
    Case(
        "FR a second one",
        2 * MINUTE,
        number=FR_MOBILE,
        history=(STOP, _confirmation(STOP_AT + MINUTE)),
        expected={("CONFIRMATION_ALREADY_SENT", "POLICY")},
    ),
    Case(
        "FR by voice",
        MINUTE,
        number=FR_MOBILE,
        channel="call",
        expected={("CONFIRMATION_NOT_ALLOWED", "POLICY")},
    ),
    Case("Jersey: no rules held", MINUTE, number=JERSEY, expected={("NO_RULE_PACK", "JE")}),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_one_confirmation(case: Case) -> None:
    state = NumberState(
        history=case.history,
        consents=(consent(case.number, "written"),),
        registries=case.registries,
    )
    result = check(case.number, STOP_AT + case.after, case.channel, state, purpose=case.purpose)
    assert pairs(result) == case.expected, [r.detail for r in result.reasons]
    if case.purpose == "opt_out_confirmation" and case.expected:
        assert result.next_allowed_at is None  # waiting never makes it allowed


def test_reasons_say_why() -> None:
    state = NumberState(history=(STOP, _confirmation(STOP_AT + MINUTE)))
    again = check(NY_NUMBER, STOP_AT + 2 * MINUTE, "sms", state, purpose="opt_out_confirmation")
    (reason,) = again.reasons
    assert reason.rule_id == "US/opt-out-confirmation" and reason.legal
    assert "confirmed at" in reason.detail and reason.until is None
    late = check(
        NY_NUMBER, STOP_AT + 5 * MINUTE, "sms", NumberState(history=(STOP,)),
        purpose="opt_out_confirmation",
    )  # fmt: skip
    assert "due before" in late.reasons[0].detail
    voice = check(NY_NUMBER, STOP_AT, "call", NumberState(history=(STOP,)),
                  purpose="opt_out_confirmation")  # fmt: skip
    assert "sms only" in voice.reasons[0].detail


def test_the_internal_list_and_an_erasure_still_withhold_it() -> None:
    at = STOP_AT + MINUTE
    never = NumberState(history=(STOP,), dnc=(dnc(NY_NUMBER, STOP_AT.isoformat()),))
    result = check(NY_NUMBER, at, "sms", never, purpose="opt_out_confirmation")
    assert pairs(result) == {("INTERNAL_DNC", "POLICY")}
    uninterested = NumberState(
        history=(STOP,), dnc=(dnc(NY_NUMBER, STOP_AT.isoformat(), category="not_interested"),)
    )
    assert check(NY_NUMBER, at, "sms", uninterested, purpose="opt_out_confirmation").allowed
    erased = NumberState(history=(STOP,), suppressed=True)
    result = check(NY_NUMBER, at, "sms", erased, purpose="opt_out_confirmation")
    assert pairs(result) == {("SUPPRESSED", "POLICY")}
