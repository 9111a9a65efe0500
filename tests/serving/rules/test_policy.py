"""The company POLICY pack, engine-level reasons, all-reasons and next_allowed_at."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from features.schema import Preference
from serving.domain.state import NumberState
from serving.rules import PACKS_DIR, evaluate, load_rulebook
from tests.support.rules import (
    calls,
    check,
    consent,
    contact,
    dnc,
    event,
    fresh_world,
    local,
    pairs,
    utc,
)

NY = "America/New_York"
NUMBER = "+12122345678"  # docs/rules.md example (New York)
GB_MOBILE = "+447400123456"


def _ago(at: dt.datetime, **delta: float) -> str:
    return (at - dt.timedelta(**delta)).isoformat()


# ---------------------------------------------------------------- unanswered pause
def test_three_unanswered_calls_in_7_days_pause_7_days() -> None:
    at = local(NY, "2026-06-16 12:00")
    third = at - dt.timedelta(days=1)
    history = calls(_ago(at, days=6), _ago(at, days=3), third.isoformat(), outcome="no_answer")
    result = check(NUMBER, at, state=NumberState(history=history))
    assert pairs(result) == {("COOLING_OFF", "POLICY")}
    assert result.reasons[0].until == third + dt.timedelta(days=7)
    assert result.next_allowed_at == third + dt.timedelta(days=7)  # 12:00 EDT: inside hours
    assert check(NUMBER, third + dt.timedelta(days=7), state=NumberState(history=history)).allowed
    two = calls(_ago(at, days=3), third.isoformat(), outcome="no_answer")
    assert check(NUMBER, at, state=NumberState(history=two)).allowed
    spread = calls(_ago(at, days=9), _ago(at, days=3), third.isoformat(), outcome="no_answer")
    assert check(NUMBER, at, state=NumberState(history=spread)).allowed
    answered = calls(_ago(at, days=6), _ago(at, days=3), third.isoformat(), outcome="answered")
    assert check(NUMBER, at, state=NumberState(history=answered)).allowed
    # The pause is for calls; an SMS with written consent may go.
    sms_ok = NumberState(history=history, consents=(consent(NUMBER, "written"),))
    assert check(NUMBER, at, "sms", sms_ok).allowed


# ---------------------------------------------------------------- ceilings
def test_daily_and_weekly_ceilings_across_channels() -> None:
    at = local(NY, "2026-06-16 12:00")
    day = calls(_ago(at, hours=20), _ago(at, hours=10)) + calls(_ago(at, hours=1), channel="sms")
    result = check(NUMBER, at, state=NumberState(history=tuple(sorted(day, key=lambda e: e.ts))))
    assert pairs(result) == {("FREQUENCY_CAP", "POLICY")}
    assert result.reasons[0].rule_id == "POLICY/daily-ceiling"
    assert result.next_allowed_at == at - dt.timedelta(hours=20) + dt.timedelta(hours=24, seconds=1)
    week = calls(*(_ago(at, days=d) for d in (1, 2, 3, 4, 5, 6)))
    weekly = check(NUMBER, at, state=NumberState(history=week))
    assert [r.rule_id for r in weekly.reasons] == ["POLICY/weekly-ceiling"]
    five = calls(*(_ago(at, days=d) for d in (1, 2, 3, 4, 5)))
    assert check(NUMBER, at, state=NumberState(history=five)).allowed


# ---------------------------------------------------------------- night SMS
def test_night_sms_only_where_no_law_sets_hours() -> None:
    written = NumberState(consents=(consent(NUMBER, "written"),))
    us_night = check(NUMBER, local(NY, "2026-06-16 21:30"), "sms", written)
    assert pairs(us_night) == {("QUIET_HOURS", "US")}  # the law's hours, not POLICY's
    gb = NumberState(consents=(consent(GB_MOBILE, "express"),))
    london = "Europe/London"
    assert check(GB_MOBILE, local(london, "2026-06-16 20:59"), "sms", gb).allowed
    assert pairs(check(GB_MOBILE, local(london, "2026-06-16 21:00"), "sms", gb)) == {
        ("QUIET_HOURS", "POLICY")
    }
    assert pairs(check(GB_MOBILE, local(london, "2026-06-16 07:59"), "sms", gb)) == {
        ("QUIET_HOURS", "POLICY")
    }
    assert check(GB_MOBILE, local(london, "2026-06-16 08:00"), "sms", gb).allowed
    # Service texts are not marketing.
    assert check(GB_MOBILE, local(london, "2026-06-16 23:00"), "sms", purpose="service").allowed


def test_double_opt_in_is_off_by_default_and_configurable(tmp_path: Path) -> None:
    at = local("Europe/London", "2026-06-16 12:00")
    unconfirmed = NumberState(consents=(consent(GB_MOBILE, "express"),))
    assert check(GB_MOBILE, at, "sms", unconfirmed).allowed
    directory = tmp_path / "packs"
    shutil.copytree(PACKS_DIR, directory)
    policy = directory / "POLICY.yaml"
    text = policy.read_text(encoding="utf-8")
    assert "    enabled: false\n" in text
    policy.write_text(text.replace("    enabled: false\n", "    enabled: true\n"), encoding="utf-8")
    book = load_rulebook(directory)
    planned = contact(GB_MOBILE, at, "sms")
    result = evaluate(planned, unconfirmed, fresh_world(at), book)
    assert pairs(result) == {("NO_CONSENT", "POLICY")}
    confirmed = NumberState(
        consents=(consent(GB_MOBILE, "express", confirmed_at=utc("2026-01-02T00:00:00Z")),)
    )
    assert evaluate(planned, confirmed, fresh_world(at), book).allowed


# ---------------------------------------------------------------- preferences
def _pref(**fields: object) -> Preference:
    return Preference(number=NUMBER, updated_at=utc("2026-01-01T00:00:00Z"), **fields)


def test_preferences_channels_urgent_only_quiet_hours_and_weekly_max() -> None:
    at = local(NY, "2026-06-16 12:00")
    sms_only = check(NUMBER, at, state=NumberState(preference=_pref(channels="sms")))
    assert pairs(sms_only) == {("PREFERENCE", "POLICY")}
    assert sms_only.next_allowed_at is None
    urgent = NumberState(preference=_pref(urgent_only=True))
    assert pairs(check(NUMBER, at, state=urgent)) == {("PREFERENCE", "POLICY")}
    assert check(NUMBER, at, state=urgent, purpose="service").allowed
    quiet = NumberState(preference=_pref(quiet_start="11:00", quiet_end="13:30"))
    result = check(NUMBER, at, state=quiet)
    assert pairs(result) == {("PREFERENCE", "POLICY")}
    assert result.next_allowed_at == local(NY, "2026-06-16 13:30")
    overnight = NumberState(preference=_pref(quiet_start="20:00", quiet_end="09:30"))
    evening = check(NUMBER, local(NY, "2026-06-16 20:30"), state=overnight)
    assert evening.next_allowed_at == local(NY, "2026-06-17 09:30")
    history = calls(_ago(at, days=6), _ago(at, days=2))
    weekly = NumberState(history=history, preference=_pref(max_per_week=2))
    capped = check(NUMBER, at, state=weekly)
    assert pairs(capped) == {("PREFERENCE", "POLICY")}
    assert capped.next_allowed_at == at + dt.timedelta(days=1, seconds=1)
    never = NumberState(history=history, preference=_pref(max_per_week=0))
    refused = check(NUMBER, at, state=never)  # "no contact at all", with or without history
    assert pairs(refused) == {("PREFERENCE", "POLICY")} and refused.next_allowed_at is None
    fresh = check(NUMBER, at, state=NumberState(preference=_pref(max_per_week=0)))
    assert pairs(fresh) == {("PREFERENCE", "POLICY")} and fresh.next_allowed_at is None


# ---------------------------------------------------------------- engine-level reasons
def test_invalid_number_and_suppressed() -> None:
    invalid = check("+1 555", "2026-06-16T16:00:00Z")
    assert pairs(invalid) == {("INVALID_NUMBER", "POLICY")}
    assert invalid.next_allowed_at is None
    suppressed = check(NUMBER, "2026-06-16T16:00:00Z", state=NumberState(suppressed=True))
    assert pairs(suppressed) == {("SUPPRESSED", "POLICY")}


def test_every_reason_that_fires_is_returned() -> None:
    at = utc("2026-06-16T00:15:00Z")  # Mon 20:15 in Florida
    fl = "+13052134567"
    state = NumberState(
        history=calls(_ago(at, hours=5), _ago(at, hours=3), _ago(at, hours=1), outcome="no_answer"),
        dnc=(dnc(fl, "2026-06-01T00:00:00Z"),),
        registries=frozenset({"US_NATIONAL_DNC"}),
        suppressed=True,
    )
    result = check(fl, at, state=state, dial_mode="predictive")
    assert pairs(result) == {
        ("SUPPRESSED", "POLICY"),
        ("QUIET_HOURS", "US-FL"),
        ("FREQUENCY_CAP", "US-FL"),
        ("FREQUENCY_CAP", "POLICY"),
        ("COOLING_OFF", "POLICY"),
        ("REGISTRY_LISTED", "US"),
        ("INTERNAL_DNC", "US"),
        ("NO_CONSENT", "US"),
        ("NO_CONSENT", "US-FL"),
    }
    assert result.next_allowed_at is None  # permanent reasons fired


def test_next_allowed_at_combines_time_based_rules() -> None:
    # Florida, Mon 19:30: three calls in the last 24 h (the first 23 h ago) → the cap clears
    # at 20:30, after the Florida window closed → next morning 08:00; the unanswered pause
    # does not fire (calls were answered).
    at = local(NY, "2026-06-15 19:30")
    fl = "+13055550123"
    history = calls(_ago(at, hours=23), _ago(at, hours=2), _ago(at, hours=1), subject="s")
    result = check(fl, at, state=NumberState(history=history), subject="s")
    assert pairs(result) == {("FREQUENCY_CAP", "US-FL"), ("FREQUENCY_CAP", "POLICY")}
    assert result.next_allowed_at == local(NY, "2026-06-16 08:00")
    assert check(
        fl, result.next_allowed_at, state=NumberState(history=history), subject="s"
    ).allowed


def test_nothing_allowed_within_30_days_gives_null() -> None:
    at = local(NY, "2026-06-16 12:00")
    pref = Preference(number=NUMBER, updated_at=utc("2026-01-01T00:00:00Z"),
                      quiet_start="07:00", quiet_end="22:00")  # fmt: skip
    # Quiet 07:00-22:00 and legal hours 08:00-21:00 never overlap.
    result = check(NUMBER, at, state=NumberState(preference=pref))
    assert pairs(result) == {("PREFERENCE", "POLICY")}
    assert result.next_allowed_at is None


def test_history_after_at_is_ignored() -> None:
    at = local(NY, "2026-06-16 12:00")
    later = NumberState(
        history=(event("opt_out", _ago(at, hours=-1)),),
        dnc=(dnc(NUMBER, _ago(at, hours=-1)),),
    )
    assert check(NUMBER, at, state=later).allowed


@pytest.mark.parametrize("channel", ["call", "sms"])
def test_evaluation_is_pure_and_repeatable(channel: str) -> None:
    at = local(NY, "2026-06-16 07:00")
    state = NumberState(consents=(consent(NUMBER, "written"),))
    first = check(NUMBER, at, channel, state)
    second = check(NUMBER, at, channel, state)
    assert first == second
    assert first.to_dict()["next_allowed_at"] == "2026-06-16T12:00:00Z"
