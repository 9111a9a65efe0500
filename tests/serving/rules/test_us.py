"""US federal and state packs: windows, DST, day and holiday bans, caps, registry, consent."""

from __future__ import annotations

import datetime as dt

import pytest

from features.schema import BlockedPeriod
from serving.domain.state import NumberState
from tests.support.rules import (
    calls,
    check,
    consent,
    dnc,
    event,
    fresh_world,
    local,
    minute_before,
    pairs,
    utc,
)

NY = "America/New_York"
CHI = "America/Chicago"
DEN = "America/Denver"
LAX = "America/Los_Angeles"
# Fictional 555-01xx numbers by state (area code → state via libphonenumber).
NUMBERS = {
    "NY": ("+12125550123", NY), "FL": ("+13055550123", NY), "OK": ("+14055550123", CHI),
    "MD": ("+14105550123", NY), "LA": ("+12255550123", CHI), "AL": ("+12055550123", CHI),
    "MS": ("+16015550123", CHI), "TX": ("+15125550123", CHI), "UT": ("+18015550123", DEN),
    "KY": ("+15025550123", NY), "MA": ("+16175550123", NY), "WA": ("+12065550123", LAX),
    "CT": ("+12035550123", NY),
}  # fmt: skip
QUIET_US = ("QUIET_HOURS", "US")


def _q(state: str) -> tuple[str, str]:
    return ("QUIET_HOURS", f"US-{state}")


# (state, local wall clock, expected reasons). 2026-06-15 is a Monday, 06-21 a Sunday.
WINDOW_TABLE: list[tuple[str, str, set[tuple[str, str]]]] = [
    ("NY", "2026-06-16 07:59", {QUIET_US}),
    ("NY", "2026-06-16 08:00", set()),
    ("NY", "2026-06-16 20:59", set()),
    ("NY", "2026-06-16 21:00", {QUIET_US}),
    ("NY", "2026-06-21 12:00", set()),  # federal law allows Sundays
    ("FL", "2026-06-16 07:59", {QUIET_US, _q("FL")}),
    ("FL", "2026-06-16 08:00", set()),
    ("FL", "2026-06-16 19:59", set()),
    ("FL", "2026-06-16 20:00", {_q("FL")}),
    ("FL", "2026-06-16 20:59", {_q("FL")}),
    ("FL", "2026-06-16 21:00", {QUIET_US, _q("FL")}),
    ("OK", "2026-06-16 07:59", {QUIET_US, _q("OK")}),
    ("OK", "2026-06-16 19:59", set()),
    ("OK", "2026-06-16 20:00", {_q("OK")}),
    ("MD", "2026-06-16 08:00", set()),
    ("MD", "2026-06-16 20:00", {_q("MD")}),
    ("LA", "2026-06-20 08:00", set()),  # Saturday
    ("LA", "2026-06-20 20:00", {_q("LA")}),
    ("LA", "2026-06-21 12:00", {("DAY_NOT_ALLOWED", "US-LA")}),
    ("LA", "2026-02-17 12:00", {("HOLIDAY", "US-LA")}),  # Mardi Gras
    ("LA", "2026-07-03 12:00", {("HOLIDAY", "US-LA")}),  # Independence Day observed (Fri)
    ("LA", "2026-07-06 12:00", set()),
    ("AL", "2026-06-21 12:00", {("DAY_NOT_ALLOWED", "US-AL")}),
    ("AL", "2026-04-27 12:00", {("HOLIDAY", "US-AL")}),  # Confederate Memorial Day
    ("AL", "2026-12-25 12:00", {("HOLIDAY", "US-AL")}),
    ("AL", "2026-06-16 19:59", set()),
    ("AL", "2026-06-16 20:00", {_q("AL")}),
    ("MS", "2026-06-21 12:00", {("DAY_NOT_ALLOWED", "US-MS")}),
    ("MS", "2026-12-25 12:00", set()),  # holiday ban repealed 2024
    ("MS", "2026-06-16 20:00", {_q("MS")}),
    ("TX", "2026-06-16 08:59", {_q("TX")}),
    ("TX", "2026-06-16 09:00", set()),
    ("TX", "2026-06-20 20:59", set()),
    ("TX", "2026-06-21 11:59", {_q("TX")}),  # Sunday starts at noon
    ("TX", "2026-06-21 12:00", set()),
    ("TX", "2026-06-16 21:00", {QUIET_US, _q("TX")}),
    ("UT", "2026-06-16 08:00", set()),
    ("UT", "2026-06-16 20:59", set()),
    ("UT", "2026-06-21 12:00", {("DAY_NOT_ALLOWED", "US-UT")}),
    ("UT", "2026-07-24 12:00", {("HOLIDAY", "US-UT")}),  # Pioneer Day
    ("KY", "2026-06-16 09:59", {_q("KY")}),
    ("KY", "2026-06-16 10:00", set()),
    ("KY", "2026-06-16 20:59", set()),
    ("MA", "2026-06-16 19:59", set()),
    ("MA", "2026-06-16 20:00", {_q("MA")}),
    ("WA", "2026-06-16 19:59", set()),
    ("WA", "2026-06-16 20:00", {_q("WA")}),
    # Connecticut sales calls need written consent since 2023-10-01 (cold: NO_CONSENT too)
    ("CT", "2026-06-16 08:59", {_q("CT"), ("NO_CONSENT", "US-CT")}),
    ("CT", "2026-06-16 09:00", {("NO_CONSENT", "US-CT")}),
    ("CT", "2026-06-16 20:00", {_q("CT"), ("NO_CONSENT", "US-CT")}),
]


@pytest.mark.parametrize(("state", "wall_clock", "expected"), WINDOW_TABLE)
def test_state_windows_days_and_holidays(
    state: str, wall_clock: str, expected: set[tuple[str, str]]
) -> None:
    number, zone = NUMBERS[state]
    assert pairs(check(number, local(zone, wall_clock))) == expected


@pytest.mark.parametrize(
    ("wall_clock", "expected_next"),
    [
        # Spring forward (2026-03-08): the window opens at 08:00 EDT = 12:00Z.
        ("2026-03-07 21:30", "2026-03-08T12:00:00Z"),
        ("2026-03-08 07:59", "2026-03-08T12:00:00Z"),
        # Fall back (2026-11-01): 08:00 EST = 13:00Z.
        ("2026-10-31 21:30", "2026-11-01T13:00:00Z"),
        ("2026-11-01 07:30", "2026-11-01T13:00:00Z"),
    ],
)
def test_dst_transition_days(wall_clock: str, expected_next: str) -> None:
    result = check("+12125550123", local(NY, wall_clock))
    assert pairs(result) == {QUIET_US}
    assert result.next_allowed_at == utc(expected_next)
    assert check("+12125550123", utc(expected_next)).allowed
    assert not check("+12125550123", utc(expected_next) - dt.timedelta(seconds=1)).allowed


def test_next_allowed_skips_sunday_and_holidays_in_louisiana() -> None:
    number, _ = NUMBERS["LA"]
    saturday_night = check(number, local(CHI, "2026-06-20 20:30"))
    assert saturday_night.next_allowed_at == local(CHI, "2026-06-22 08:00")
    # Thu 20:30 → Fri 3 Jul observed holiday, Sat 4 Jul holiday, Sunday → Mon 08:00.
    before_july_4 = check(number, local(CHI, "2026-07-02 20:30"))
    assert before_july_4.next_allowed_at == local(CHI, "2026-07-06 08:00")


def test_area_code_and_address_region_both_apply() -> None:
    ny_number, _ = NUMBERS["NY"]
    at = local(NY, "2026-06-16 20:15")
    assert pairs(check(ny_number, at)) == set()
    assert pairs(check(ny_number, at, address_region="US-FL")) == {_q("FL")}
    fl_number, _ = NUMBERS["FL"]
    assert pairs(check(fl_number, at, address_region="US-GA")) == {_q("FL")}


def test_address_region_adds_its_time_zones() -> None:
    ny_number, _ = NUMBERS["NY"]
    at = local(NY, "2026-06-16 08:30")  # 07:30 in Chicago
    result = check(ny_number, at, address_region="US-TX")
    assert QUIET_US in pairs(result) and _q("TX") in pairs(result)
    assert "America/Chicago" in result.time_zones


@pytest.mark.parametrize(
    ("number", "ok_utc", "too_early_utc", "too_late_utc"),
    [
        # +1 701 201: Denver and North_Dakota/Center — opens 08:00 MDT, closes 21:00 CDT.
        ("+17012010123", "2026-06-16T14:00:00Z", "2026-06-16T13:59:00Z", "2026-06-17T02:00:00Z"),
        # +1 208 200: Boise and Los_Angeles — opens 08:00 PDT, closes 21:00 MDT.
        ("+12082000123", "2026-06-16T15:00:00Z", "2026-06-16T14:59:00Z", "2026-06-17T03:00:00Z"),
    ],
)
def test_multi_zone_numbers_need_every_zone(
    number: str, ok_utc: str, too_early_utc: str, too_late_utc: str
) -> None:
    assert check(number, ok_utc).allowed
    assert pairs(check(number, too_early_utc)) == {QUIET_US}
    late = check(number, too_late_utc)
    assert pairs(late) == {QUIET_US}
    assert check(number, utc(too_late_utc) - dt.timedelta(minutes=1)).allowed
    assert late.next_allowed_at == utc(ok_utc) + dt.timedelta(days=1)


def test_split_area_code_850_maps_by_prefix() -> None:
    eastern, central = "+18502010123", "+18502000123"
    at = local(NY, "2026-06-16 08:30")  # 07:30 Central
    assert check(eastern, at).allowed
    assert pairs(check(central, at)) == {QUIET_US, _q("FL")}


def test_toll_free_has_unknown_timezone_unless_address_known() -> None:
    result = check("+18005550123", "2026-06-16T16:00:00Z")
    assert pairs(result) == {("UNKNOWN_TIMEZONE", "POLICY")}
    assert result.next_allowed_at is None
    assert check("+18005550123", "2026-06-16T16:00:00Z", address_region="US-NY").allowed
    assert pairs(check("+18005550123", "2026-06-16T11:00:00Z", address_region="US-NY")) == {
        QUIET_US
    }
    # A service call needs no local time: no UNKNOWN_TIMEZONE.
    assert check("+18005550123", "2026-06-16T16:00:00Z", purpose="service").allowed


# ---------------------------------------------------------------- caps (FL, OK, MD)
def test_florida_cap_boundary_24h_plus_one_second() -> None:
    number, zone = NUMBERS["FL"]
    at = local(zone, "2026-06-16 12:00")
    iso = lambda instant: instant.isoformat()  # noqa: E731
    counted = NumberState(
        history=calls(iso(at - dt.timedelta(hours=24)), iso(at - dt.timedelta(hours=2)),
                      iso(at - dt.timedelta(hours=1)), subject="auto")
    )  # fmt: skip
    expired = NumberState(
        history=calls(iso(at - dt.timedelta(hours=24, seconds=1)), iso(at - dt.timedelta(hours=2)),
                      iso(at - dt.timedelta(hours=1)), subject="auto")
    )  # fmt: skip
    result = check(number, at, state=counted, subject="auto")
    assert ("FREQUENCY_CAP", "US-FL") in pairs(result)
    assert result.next_allowed_at == at + dt.timedelta(seconds=1)
    assert check(number, at, state=expired, subject="auto").allowed
    # The same calls on another subject do not count for Florida (POLICY's ceiling does).
    other = check(number, at, state=counted, subject="insurance")
    assert pairs(other) == {("FREQUENCY_CAP", "POLICY")}


def test_oklahoma_counts_calls_maryland_counts_texts_too() -> None:
    at_ok = local(CHI, "2026-06-16 12:00")
    texts = lambda at: NumberState(  # noqa: E731
        history=calls(*(
            (at - dt.timedelta(hours=h)).isoformat() for h in (1, 2, 3)), channel="sms")
    )  # fmt: skip
    assert ("FREQUENCY_CAP", "US-OK") not in pairs(
        check(NUMBERS["OK"][0], at_ok, state=texts(at_ok))
    )
    at_md = local(NY, "2026-06-16 12:00")
    assert ("FREQUENCY_CAP", "US-MD") in pairs(check(NUMBERS["MD"][0], at_md, state=texts(at_md)))
    voice = NumberState(
        history=calls(*((at_ok - dt.timedelta(hours=h)).isoformat() for h in (1, 2, 3)))
    )
    assert ("FREQUENCY_CAP", "US-OK") in pairs(check(NUMBERS["OK"][0], at_ok, state=voice))


# ---------------------------------------------------------------- National DNC
LA_NUMBER = "+12132345678"  # docs/rules.md example (Los Angeles)
LISTED = frozenset({"US_NATIONAL_DNC"})


# EBR windows at their edges: test_exemptions.py


def test_internal_dnc_request_ends_ebr() -> None:
    state = NumberState(
        history=(event("purchase", "2026-01-20T18:00:00Z"),),
        registries=LISTED,
        dnc=(
            dnc(LA_NUMBER, "2026-03-01T00:00:00Z"),
            dnc(LA_NUMBER, "2026-04-01T00:00:00Z", action="remove"),
        ),
    )
    assert pairs(check(LA_NUMBER, "2026-06-16T18:00:00Z", state=state)) == {
        ("REGISTRY_LISTED", "US")
    }


def test_written_consent_exempts_from_national_dnc() -> None:
    state = NumberState(registries=LISTED, consents=(consent(LA_NUMBER, "written"),))
    assert check(LA_NUMBER, "2026-06-16T18:00:00Z", state=state).allowed


def test_registry_snapshot_staleness_at_exactly_31_days() -> None:
    at = utc("2026-06-16T18:00:00Z")
    exactly = fresh_world(at, snapshots={"US_NATIONAL_DNC": at - dt.timedelta(days=31)})
    assert check(LA_NUMBER, at, world=exactly).allowed
    older = fresh_world(at, snapshots={"US_NATIONAL_DNC": at - dt.timedelta(days=31, seconds=1)})
    result = check(LA_NUMBER, at, world=older)
    assert pairs(result) == {("REGISTRY_STALE", "US")}
    assert result.next_allowed_at is None
    missing = fresh_world(at)
    missing.registry_snapshots.pop("US_NATIONAL_DNC")
    assert pairs(check(LA_NUMBER, at, world=missing)) == {("REGISTRY_STALE", "US")}
    # A service call is not governed by the registry.
    assert check(LA_NUMBER, at, world=older, purpose="service").allowed


# ---------------------------------------------------------------- consent and revocation
@pytest.mark.parametrize(
    ("channel", "dial_mode", "consents", "expected"),
    [
        ("call", "manual", (), set()),
        ("call", "predictive", (), {("NO_CONSENT", "US")}),
        ("call", "prerecorded", (), {("NO_CONSENT", "US")}),
        ("sms", "manual", (), {("NO_CONSENT", "US")}),
        ("sms", "manual", (consent(LA_NUMBER, "express"),), {("NO_CONSENT", "US")}),
        ("sms", "manual", (consent(LA_NUMBER, "written", channel="sms"),), set()),
        ("sms", "manual", (consent(LA_NUMBER, "written", channel="call"),), {("NO_CONSENT", "US")}),
        ("call", "predictive", (consent(LA_NUMBER, "written"),), set()),
    ],
)
def test_us_consent_requirements(
    channel: str, dial_mode: str, consents: tuple, expected: set[tuple[str, str]]
) -> None:
    state = NumberState(consents=consents)
    result = check(LA_NUMBER, "2026-06-16T18:00:00Z", channel, state, dial_mode=dial_mode)
    assert pairs(result) == expected


def test_florida_automated_calls_need_written_consent() -> None:
    number, zone = NUMBERS["FL"]
    at = local(zone, "2026-06-16 12:00")
    assert ("NO_CONSENT", "US-FL") in pairs(check(number, at, dial_mode="predictive"))
    assert check(number, at).allowed


def test_revocation_on_sms_withholds_calls_by_policy() -> None:
    state = NumberState(
        history=(event("opt_out", "2026-06-01T12:00:00Z", channel="sms"),),
        consents=(consent(LA_NUMBER, "written"),),
    )
    sms = check(LA_NUMBER, "2026-06-16T18:00:00Z", "sms", state)
    assert pairs(sms) == {("CONSENT_REVOKED", "US")}
    call = check(LA_NUMBER, "2026-06-16T18:00:00Z", "call", state)
    assert pairs(call) == {("CONSENT_REVOKED", "POLICY")}
    assert call.reasons[0].legal is False
    renewed = NumberState(
        history=state.history,
        consents=(
            *state.consents,
            consent(LA_NUMBER, "written", granted_at=utc("2026-06-10T00:00:00Z")),
        ),
    )
    assert check(LA_NUMBER, "2026-06-16T18:00:00Z", "sms", renewed).allowed


def test_start_reenables_service_texts_not_marketing() -> None:
    stop = event("reply", "2026-06-01T12:00:00Z", text="STOP")
    start = event("reply", "2026-06-02T12:00:00Z", text="START")
    written = (consent(LA_NUMBER, "written", channel="sms"),)
    after_stop = NumberState(history=(stop,), consents=written)
    after_start = NumberState(history=(stop, start), consents=written)
    at = "2026-06-16T18:00:00Z"
    assert pairs(check(LA_NUMBER, at, "sms", after_stop, purpose="service")) == {
        ("CONSENT_REVOKED", "POLICY")
    }
    assert check(LA_NUMBER, at, "sms", after_start, purpose="service").allowed
    assert ("CONSENT_REVOKED", "US") in pairs(check(LA_NUMBER, at, "sms", after_start))


# ---------------------------------------------------------------- internal DNC
@pytest.mark.parametrize(
    ("entries", "channel", "purpose", "expected"),
    [
        ((dnc(LA_NUMBER, "2026-06-01T00:00:00Z"),), "call", "marketing", {("INTERNAL_DNC", "US")}),
        ((dnc(LA_NUMBER, "2026-06-01T00:00:00Z"),), "call", "service", {("INTERNAL_DNC", "POLICY")}),
        ((dnc(LA_NUMBER, "2026-06-01T00:00:00Z"),
          dnc(LA_NUMBER, "2026-06-02T00:00:00Z", action="remove")), "call", "marketing", set()),
        ((dnc(LA_NUMBER, "2026-06-01T00:00:00Z", scope="sms"),), "call", "marketing", set()),
        ((dnc(LA_NUMBER, "2026-06-01T00:00:00Z", category="not_interested"),), "call", "service",
         set()),
        ((dnc(LA_NUMBER, "2026-06-20T00:00:00Z"),), "call", "marketing", set()),  # after `at`
    ],
)  # fmt: skip
def test_internal_dnc(
    entries: tuple, channel: str, purpose: str, expected: set[tuple[str, str]]
) -> None:
    state = NumberState(dnc=entries)
    result = check(LA_NUMBER, "2026-06-16T18:00:00Z", channel, state, purpose=purpose)
    assert pairs(result) == expected


def test_blocked_period_in_louisiana_reports_state_and_federal_pack() -> None:
    number, zone = NUMBERS["LA"]
    at = local(zone, "2026-06-16 12:00")
    period = BlockedPeriod(
        region="US-LA", start=at - dt.timedelta(hours=1), end=at + dt.timedelta(hours=5),
        reason="hurricane emergency",
    )  # fmt: skip
    result = check(number, at, world=fresh_world(at, blocked_periods=(period,)))
    assert pairs(result) == {("BLOCKED_PERIOD", "US-LA"), ("BLOCKED_PERIOD", "US")}
    assert result.next_allowed_at == at + dt.timedelta(hours=5)
    # Not in Texas, and over at its end.
    assert check(NUMBERS["TX"][0], at, world=fresh_world(at, blocked_periods=(period,))).allowed
    later = at + dt.timedelta(hours=5)
    assert check(number, later, world=fresh_world(later, blocked_periods=(period,))).allowed


def test_puerto_rico_is_covered_by_the_federal_pack() -> None:
    number = "+17875550123"  # fictional 555-01xx, region PR
    early = check(number, local("America/Puerto_Rico", "2026-06-16 07:59"))
    assert pairs(early) == {QUIET_US}
    assert "DEFAULT" not in early.jurisdictions
    listed = NumberState(registries=LISTED)
    at = local("America/Puerto_Rico", "2026-06-16 12:00")
    assert pairs(check(number, at, state=listed)) == {("REGISTRY_LISTED", "US")}


def test_orlando_overlay_689_is_checked_in_eastern_time() -> None:
    """libphonenumber 9.0 puts +1 689 (an Orlando overlay) in Chicago only; the correction
    table adds New York, so 20:30 EDT is after Florida's 20:00 cut-off."""
    result = check("+16892345678", "2026-06-17T00:30:00Z")  # Tue 20:30 EDT, 19:30 CDT
    assert ("QUIET_HOURS", "US-FL") in pairs(result)
    assert check("+16892345678", "2026-06-16T23:59:00Z").reasons == []  # 19:59 EDT


#: Every state pack's weekday window (docs/rules.md tables), as (opens, closes) local.
STATE_WINDOWS = {
    "FL": ("08:00", "20:00"), "OK": ("08:00", "20:00"), "MD": ("08:00", "20:00"),
    # Mississippi: 8-8 Central Standard Time read literally too, so 09:00-20:00 CDT in June
    "LA": ("08:00", "20:00"), "AL": ("08:00", "20:00"), "MS": ("09:00", "20:00"),
    "TX": ("09:00", "21:00"), "UT": ("08:00", "21:00"), "KY": ("10:00", "21:00"),
    "MA": ("08:00", "20:00"), "WA": ("08:00", "20:00"), "CT": ("09:00", "20:00"),
}  # fmt: skip


@pytest.mark.parametrize("state", sorted(STATE_WINDOWS))
def test_every_state_window_at_its_four_boundary_minutes(state: str) -> None:
    """A Tuesday (no day or holiday ban anywhere): one minute before opening and the minute
    of closing withhold with the state's own reason; the opening minute and the last minute
    before closing are allowed (half-open windows, docs/rules.md, rule 1 of "How the rules are applied")."""
    number, zone = NUMBERS[state]
    opens, closes = STATE_WINDOWS[state]
    day = "2026-06-16"
    # a written consent where a state requires one for every sales call (CT)
    held = NumberState(consents=(consent(number, "written"),))
    before = check(number, local(zone, f"{day} {minute_before(opens)}"), state=held)
    assert _q(state) in pairs(before)
    assert check(number, local(zone, f"{day} {opens}"), state=held).allowed
    assert check(number, local(zone, f"{day} {minute_before(closes)}"), state=held).allowed
    assert _q(state) in pairs(check(number, local(zone, f"{day} {closes}"), state=held))


@pytest.mark.parametrize(("state", "channel"), [("OK", "call"), ("MD", "call"), ("MD", "sms")])
def test_oklahoma_and_maryland_cap_boundary_24h_plus_one_second(state: str, channel: str) -> None:
    """Three same-subject attempts in the rolling 24 h withhold the fourth; once the oldest is
    24 h + 1 s old it no longer counts (windows end at the proposed attempt, docs/rules.md)."""
    number, zone = NUMBERS[state]
    at = local(zone, "2026-06-16 12:00")

    def history(oldest: dt.timedelta) -> NumberState:
        times = [at - oldest, at - dt.timedelta(hours=2), at - dt.timedelta(hours=1)]
        return NumberState(history=calls(*(t.isoformat() for t in times), subject="auto",
                                         channel=channel))  # fmt: skip

    fired = pairs(check(number, at, state=history(dt.timedelta(hours=24)), subject="auto"))
    assert ("FREQUENCY_CAP", f"US-{state}") in fired
    expired = check(number, at, state=history(dt.timedelta(hours=24, seconds=1)), subject="auto")
    assert ("FREQUENCY_CAP", f"US-{state}") not in pairs(expired)


@pytest.mark.parametrize(
    ("state", "day", "why"),
    [
        ("AL", "2026-07-03 12:00", "Independence Day (Sat 4 July) observed on Friday"),
        ("UT", "2026-07-03 12:00", "Independence Day (Sat 4 July) observed on Friday"),
        ("AL", "2027-12-24 12:00", "Christmas (Sat 25 Dec 2027) observed on Friday"),
    ],
)
def test_observed_state_holidays(state: str, day: str, why: str) -> None:
    number, zone = NUMBERS[state]
    assert ("HOLIDAY", f"US-{state}") in pairs(check(number, local(zone, day))), why
