"""Every reason that fires is returned (docs/rules.md, rule 6 of "How the rules are applied"), each complete.

Table of contacts on which several rules from different packs (state, federal, national,
POLICY) fire at once; each row lists the full expected reasons as
``(code, jurisdiction, rule_id, legal, until)``, with every ``until`` worked out from the
row's own facts (a window's reopening in local time, a cap's oldest counted attempt +
window + 1 s, a pause's trigger + duration) and ``None`` for reasons that do not clear by
waiting. ``next_allowed_at`` is null as soon as one such reason fires, else the latest
``until`` the rules agree on.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest

from features.schema import BlockedPeriod, Preference
from serving.domain.state import HistoryEvent, NumberState, WorldState
from tests.support.rules import calls, check, consent, dnc, event, fresh_world, local

NY, PARIS, LONDON, SYDNEY = "America/New_York", "Europe/Paris", "Europe/London", "Australia/Sydney"
Expected = tuple[str, str, str, bool, dt.datetime | None]
ONE_SECOND = dt.timedelta(seconds=1)


@dataclass
class Case:
    name: str
    number: str
    at: dt.datetime
    channel: str = "call"
    state: NumberState = field(default_factory=NumberState)
    world: WorldState | None = None
    fields: dict = field(default_factory=dict)
    expected: list[Expected] = field(default_factory=list)
    next_allowed_at: dt.datetime | None = None


def _florida() -> Case:
    """Mon 20:15 EDT, predictive, three unanswered calls in 5 h on the same subject, on the
    National DNC and the internal list, an erased subject."""
    at = local(NY, "2026-06-15 20:15")
    times = [at - dt.timedelta(hours=h) for h in (5, 3, 1)]
    number = "+13052134567"
    state = NumberState(
        history=calls(*(t.isoformat() for t in times), outcome="no_answer", subject="s"),
        dnc=(dnc(number, "2026-06-01T00:00:00Z"),),
        registries=frozenset({"US_NATIONAL_DNC"}),
        suppressed=True,
    )
    cap_end = times[0] + dt.timedelta(hours=24) + ONE_SECOND
    return Case(
        "Florida: state, federal and POLICY", number, at, state=state,
        fields={"dial_mode": "predictive", "subject": "s"},
        expected=[
            ("SUPPRESSED", "POLICY", "POLICY/erasure-suppression", False, None),
            ("QUIET_HOURS", "US-FL", "US-FL/hours", True, local(NY, "2026-06-16 08:00")),
            ("FREQUENCY_CAP", "US-FL", "US-FL/calls-per-24h", True, cap_end),
            ("FREQUENCY_CAP", "POLICY", "POLICY/daily-ceiling", False, cap_end),
            ("COOLING_OFF", "POLICY", "POLICY/unanswered-pause", False,
             times[2] + dt.timedelta(days=7)),
            ("REGISTRY_LISTED", "US", "US/national-dnc", True, None),
            ("INTERNAL_DNC", "US", "US/internal-dnc", True, None),
            ("NO_CONSENT", "US", "US/written-consent-autodialed-wireless", True, None),
            ("NO_CONSENT", "US-FL", "US-FL/written-consent-automated", True, None),
        ],
    )  # fmt: skip


def _france() -> Case:
    """Saturday after 11 Aug 2026: four calls in 30 days, a refusal 10 days ago, Bloctel."""
    at = local(PARIS, "2026-09-19 11:00")  # Saturday
    spaced = [at - dt.timedelta(days=d) for d in (23, 16, 9, 2)]  # never 7 in 7 days
    refusal = at - dt.timedelta(days=10)
    history = tuple(
        sorted([*calls(*(t.isoformat() for t in spaced)), event("refusal", refusal.isoformat())],
               key=lambda e: e.ts)
    )  # fmt: skip
    state = NumberState(history=history, registries=frozenset({"FR_BLOCTEL"}))
    return Case(
        "France: four of its own rules, Bloctel lapsed", "+33612345678", at, state=state,
        expected=[
            ("DAY_NOT_ALLOWED", "FR", "FR/hours", True, local(PARIS, "2026-09-21 10:00")),
            ("FREQUENCY_CAP", "FR", "FR/four-per-30-days", True,
             spaced[0] + dt.timedelta(days=30) + ONE_SECOND),
            # 60 calendar days in Paris: across the October clock change, 11:00 CET
            ("COOLING_OFF", "FR", "FR/refusal-60-days", True, local(PARIS, "2026-11-08 11:00")),
            # listed on Bloctel, but Bloctel's rule lapsed after 10 August 2026
            ("NO_CONSENT", "FR", "FR/consent-calls-from-2026-08-11", True, None),
        ],
    )  # fmt: skip


def _united_kingdom() -> Case:
    """Two registries, both Ofcom pauses and the told-us-not-to-call list, one call."""
    at = local(LONDON, "2026-06-16 12:00")
    abandoned, amd = at - dt.timedelta(hours=30), at - dt.timedelta(hours=2)
    history = (*calls(abandoned.isoformat(), outcome="abandoned"),
               *calls(amd.isoformat(), outcome="amd"))  # fmt: skip
    number = "+447400123456"
    state = NumberState(
        history=history,
        registries=frozenset({"GB_TPS", "GB_CTPS"}),
        dnc=(dnc(number, "2026-06-10T00:00:00Z"),),
    )
    return Case(
        "GB: same codes from different rules", number, at, state=state,
        expected=[
            ("REGISTRY_LISTED", "GB", "GB/tps", True, None),
            ("REGISTRY_LISTED", "GB", "GB/ctps", True, None),
            ("INTERNAL_DNC", "GB", "GB/told-us-not-to-call", True, None),
            ("COOLING_OFF", "GB", "GB/abandoned-call-72h", True,
             abandoned + dt.timedelta(hours=72)),
            ("COOLING_OFF", "GB", "GB/amd-24h", True, amd + dt.timedelta(hours=24)),
        ],
    )  # fmt: skip


def _address_and_operator() -> Case:
    """A New York number whose owner lives in Florida: a Florida hurricane block (declared
    for US-FL, enforced by the federal pack's blocked-period rule), Florida's 20:00 cut-off,
    a stale federal snapshot and a preference for SMS only."""
    at = local(NY, "2026-06-16 20:15")
    period = BlockedPeriod(region="US-FL", start=at - dt.timedelta(hours=2),
                           end=at + dt.timedelta(days=2), reason="hurricane")  # fmt: skip
    world = fresh_world(
        at,
        snapshots={"US_NATIONAL_DNC": at - dt.timedelta(days=40)},
        blocked_periods=(period,),
    )
    number = "+12125550123"
    preference = Preference(number=number, updated_at=at - dt.timedelta(days=30), channels="sms")
    return Case(
        "address state, federal and POLICY preference", number, at,
        state=NumberState(preference=preference), world=world,
        fields={"address_region": "US-FL"},
        expected=[
            ("BLOCKED_PERIOD", "US", "US/blocked-period", False, period.end),
            ("REGISTRY_STALE", "US", "US/national-dnc", True, None),
            # the address adds Florida's Central zone: the window reopens 08:00 CDT
            ("QUIET_HOURS", "US-FL", "US-FL/hours", True,
             local("America/Chicago", "2026-06-17 08:00")),
            ("PREFERENCE", "POLICY", "POLICY/preferences", False, None),
        ],
    )  # fmt: skip


def _time_based_only() -> Case:
    """Only reasons that clear by waiting, from three packs: next_allowed_at is the first
    instant all of them pass (the Florida cap and POLICY ceiling clear at 20:30 EDT, after
    Florida's window closed, so next morning 08:00)."""
    at = local(NY, "2026-06-15 19:30")
    times = [at - dt.timedelta(hours=h) for h in (23, 2, 1)]
    history = calls(*(t.isoformat() for t in times), subject="s")
    preference = Preference(number="+13055550123", updated_at=at - dt.timedelta(days=1),
                            quiet_start="19:00", quiet_end="19:45")  # fmt: skip
    cap_end = times[0] + dt.timedelta(hours=24) + ONE_SECOND
    return Case(
        "time-based only: next_allowed_at", "+13055550123", at,
        state=NumberState(history=history, preference=preference), fields={"subject": "s"},
        expected=[
            ("FREQUENCY_CAP", "US-FL", "US-FL/calls-per-24h", True, cap_end),
            ("FREQUENCY_CAP", "POLICY", "POLICY/daily-ceiling", False, cap_end),
            ("PREFERENCE", "POLICY", "POLICY/preferences", False, local(NY, "2026-06-15 19:45")),
        ],
        next_allowed_at=local(NY, "2026-06-16 08:00"),
    )  # fmt: skip


def _australia_sms() -> Case:
    """Sunday night SMS to a mobile that replied "No": AU revocation, POLICY night."""
    at = local(SYDNEY, "2026-06-21 22:00")
    number = "+61412345678"
    state = NumberState(
        history=(HistoryEvent(ts=at - dt.timedelta(days=3), kind="reply", text="No"),),
        consents=(consent(number, "express"),),
    )
    return Case(
        "AU SMS: national and POLICY", number, at, "sms", state=state,
        expected=[
            ("QUIET_HOURS", "POLICY", "POLICY/night-sms", False,
             local("Indian/Cocos", "2026-06-22 08:00")),  # the last of the 8 zones to open
            ("CONSENT_REVOKED", "AU", "AU/revocation", True, None),
        ],
    )  # fmt: skip


CASES = [_florida(), _france(), _united_kingdom(), _address_and_operator(), _time_based_only(),
         _australia_sms()]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_reason_is_returned_complete(case: Case) -> None:
    result = check(case.number, case.at, case.channel, case.state, case.world, **case.fields)
    got = [(r.code, r.jurisdiction, r.rule_id, r.legal, r.until) for r in result.reasons]
    key = lambda row: (row[0], row[1], row[2])  # noqa: E731
    assert sorted(got, key=key) == sorted(case.expected, key=key)
    assert len(got) == len(set(got))  # nothing reported twice
    assert all(reason.detail for reason in result.reasons)
    for reason in result.reasons:  # the API shape carries all six fields
        assert set(reason.to_dict()) == {"code", "jurisdiction", "rule_id", "legal", "detail",
                                         "until"}  # fmt: skip
    assert result.next_allowed_at == case.next_allowed_at
    if case.next_allowed_at is not None:
        later = check(case.number, case.next_allowed_at, case.channel, case.state, case.world,
                      **case.fields)  # fmt: skip
        assert later.allowed


def test_the_table_spans_packs_and_policy() -> None:
    """Each row mixes at least two packs, and the table as a whole at least three reasons."""
    for case in CASES:
        assert len(case.expected) >= 2, case.name
    mixed = [case for case in CASES if len({row[1] for row in case.expected}) >= 3]
    assert mixed, "no row with reasons from three packs"
