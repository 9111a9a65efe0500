"""Clock-change days: window boundaries in local time, and multi-zone numbers on them.

A number with several candidate zones is allowed only when the instant is allowed in every
zone (docs/rules.md, rule 2 of "How the rules are applied"), so its window opens when the **last** zone opens and closes
when the **first** zone closes. On a clock-change day those binding zones can change. Each
row gives the expected UTC boundaries worked out by hand from the zones' offsets; the test
also derives them from ``zoneinfo`` per zone (an oracle independent of the engine's search)
and checks the second before and at each boundary, and ``next_allowed_at`` after closing.
"""

from __future__ import annotations

import datetime as dt

import pytest

from features.phone import normalize
from features.schema import Preference
from serving.domain.state import NumberState
from tests.support.rules import calls, check, consent, local, pairs, utc

SECOND = dt.timedelta(seconds=1)
LONDON = "Europe/London"
GB_MOBILE = "+447400123456"  # libphonenumber example (London, Guernsey, Jersey, Man)
FR_MOBILE = "+33612345678"  # docs/rules.md example
DE_MOBILE = "+4915123456789"  # libphonenumber example
AU_MOBILE = "+61412345678"  # libphonenumber example: 8 zones, Cocos to Lord Howe
AU_8 = "+61891234567"  # Adelaide and Perth
IDAHO = "+12082000123"  # Boise and Los Angeles
NORTH_DAKOTA = "+17012010123"  # Denver and North Dakota Center
NEWFOUNDLAND = "+17092000123"  # Halifax and St John's


def _consented(number: str) -> NumberState:
    """A documented express consent for every channel (DE needs evidence)."""
    return NumberState(consents=(consent(number, "express", evidence="web form v3"),))


def _binding(number: str, day: str, opens: str, closes: str) -> tuple[dt.datetime, dt.datetime]:
    """The latest opening and the earliest closing over the number's zones, from zoneinfo."""
    zones = normalize(number).time_zones
    assert len(zones) >= 1
    open_at = max(local(zone, f"{day} {opens}") for zone in zones)
    close_at = min(local(zone, f"{day} {closes}") for zone in zones)
    return open_at, close_at


# (number, channel, local day, window opens, closes, (code, jurisdiction) outside,
#  expected opening UTC, expected closing UTC, expected next opening UTC after closing)
DST_DAYS = [
    # ---- POLICY night SMS (no law sets SMS hours in GB, FR, DE, AU): 08:00-21:00 local
    # GB springs forward Sun 29 Mar 2026 01:00Z: 08:00 BST = 07:00Z
    (GB_MOBILE, "sms", "2026-03-28", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-03-28T08:00:00Z", "2026-03-28T21:00:00Z", "2026-03-29T07:00:00Z"),
    (GB_MOBILE, "sms", "2026-03-29", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-03-29T07:00:00Z", "2026-03-29T20:00:00Z", "2026-03-30T07:00:00Z"),
    # GB falls back Sun 25 Oct 2026 01:00Z: 08:00 GMT = 08:00Z
    (GB_MOBILE, "sms", "2026-10-24", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-10-24T07:00:00Z", "2026-10-24T20:00:00Z", "2026-10-25T08:00:00Z"),
    (GB_MOBILE, "sms", "2026-10-25", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-10-25T08:00:00Z", "2026-10-25T21:00:00Z", "2026-10-26T08:00:00Z"),
    # France and Germany change at the same instant (01:00Z), from CET/CEST
    (FR_MOBILE, "sms", "2026-03-29", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-03-29T06:00:00Z", "2026-03-29T19:00:00Z", "2026-03-30T06:00:00Z"),
    (DE_MOBILE, "sms", "2026-10-25", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-10-25T07:00:00Z", "2026-10-25T20:00:00Z", "2026-10-26T07:00:00Z"),
    # AU mobile, Sunday 4 Oct 2026 (DST starts in the south-east; Lord Howe moves only
    # 30 min): opens 08:00 in Cocos (+06:30), closes 21:00 in Sydney and Lord Howe (+11)
    (AU_MOBILE, "sms", "2026-10-04", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-10-04T01:30:00Z", "2026-10-04T10:00:00Z", "2026-10-05T01:30:00Z"),
    # the day before: Lord Howe (+10:30) closes first at 10:30Z, Sydney (+10) at 11:00Z
    (AU_MOBILE, "sms", "2026-10-03", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-10-03T01:30:00Z", "2026-10-03T10:30:00Z", "2026-10-04T01:30:00Z"),
    # Sunday 5 Apr 2026, DST ends: Lord Howe back to +10:30 closes first at 10:30Z
    (AU_MOBILE, "sms", "2026-04-05", "08:00", "21:00", ("QUIET_HOURS", "POLICY"),
     "2026-04-05T01:30:00Z", "2026-04-05T10:30:00Z", "2026-04-06T01:30:00Z"),
    # ---- AU calls (weekdays 09:00-20:00, Saturday 09:00-17:00, never Sunday)
    # mobile, Saturday before the change: opens in Cocos, closes 17:00 Lord Howe (+10:30);
    # next: Monday 5 Oct 09:00 Cocos (Sunday is banned)
    (AU_MOBILE, "call", "2026-10-03", "09:00", "17:00", ("QUIET_HOURS", "AU"),
     "2026-10-03T02:30:00Z", "2026-10-03T06:30:00Z", "2026-10-05T02:30:00Z"),
    # mobile, Monday after: Sydney and Lord Howe both +11, close 20:00 = 09:00Z
    (AU_MOBILE, "call", "2026-10-05", "09:00", "20:00", ("QUIET_HOURS", "AU"),
     "2026-10-05T02:30:00Z", "2026-10-05T09:00:00Z", "2026-10-06T02:30:00Z"),
    # +61 8, Saturday before: Perth opens (+08), Adelaide closes (+09:30)
    (AU_8, "call", "2026-10-03", "09:00", "17:00", ("QUIET_HOURS", "AU"),
     "2026-10-03T01:00:00Z", "2026-10-03T07:30:00Z", "2026-10-05T01:00:00Z"),
    # +61 8, Monday after: Adelaide on +10:30 closes an hour earlier in UTC
    (AU_8, "call", "2026-10-05", "09:00", "20:00", ("QUIET_HOURS", "AU"),
     "2026-10-05T01:00:00Z", "2026-10-05T09:30:00Z", "2026-10-06T01:00:00Z"),
    # +61 8, Saturday 4 Apr (Adelaide still +10:30); next: Sunday banned, Easter Monday
    # 6 Apr a national holiday → Tuesday 7 Apr 09:00 Perth
    (AU_8, "call", "2026-04-04", "09:00", "17:00", ("QUIET_HOURS", "AU"),
     "2026-04-04T01:00:00Z", "2026-04-04T06:30:00Z", "2026-04-07T01:00:00Z"),
    (AU_8, "call", "2026-04-07", "09:00", "20:00", ("QUIET_HOURS", "AU"),
     "2026-04-07T01:00:00Z", "2026-04-07T10:30:00Z", "2026-04-08T01:00:00Z"),
    # ---- US federal 08:00-21:00 every day; 2026 changes Sun 8 Mar and Sun 1 Nov at 02:00
    # Idaho 208 200: opens 08:00 Pacific, closes 21:00 Mountain
    (IDAHO, "call", "2026-03-07", "08:00", "21:00", ("QUIET_HOURS", "US"),
     "2026-03-07T16:00:00Z", "2026-03-08T04:00:00Z", "2026-03-08T15:00:00Z"),
    (IDAHO, "call", "2026-03-08", "08:00", "21:00", ("QUIET_HOURS", "US"),
     "2026-03-08T15:00:00Z", "2026-03-09T03:00:00Z", "2026-03-09T15:00:00Z"),
    (IDAHO, "call", "2026-10-31", "08:00", "21:00", ("QUIET_HOURS", "US"),
     "2026-10-31T15:00:00Z", "2026-11-01T03:00:00Z", "2026-11-01T16:00:00Z"),
    (IDAHO, "call", "2026-11-01", "08:00", "21:00", ("QUIET_HOURS", "US"),
     "2026-11-01T16:00:00Z", "2026-11-02T04:00:00Z", "2026-11-02T16:00:00Z"),
    # North Dakota 701 201: opens 08:00 Mountain, closes 21:00 Central
    (NORTH_DAKOTA, "call", "2026-03-08", "08:00", "21:00", ("QUIET_HOURS", "US"),
     "2026-03-08T14:00:00Z", "2026-03-09T02:00:00Z", "2026-03-09T14:00:00Z"),
    (NORTH_DAKOTA, "call", "2026-11-01", "08:00", "21:00", ("QUIET_HOURS", "US"),
     "2026-11-01T15:00:00Z", "2026-11-02T03:00:00Z", "2026-11-02T15:00:00Z"),
    # ---- Canada (weekends 10:00-18:00, weekdays 09:00-21:30): Newfoundland 709 200
    # opens in Halifax (Atlantic), closes in St John's (30 min ahead)
    (NEWFOUNDLAND, "call", "2026-03-07", "10:00", "18:00", ("QUIET_HOURS", "CA"),
     "2026-03-07T14:00:00Z", "2026-03-07T21:30:00Z", "2026-03-08T13:00:00Z"),
    (NEWFOUNDLAND, "call", "2026-03-08", "10:00", "18:00", ("QUIET_HOURS", "CA"),
     "2026-03-08T13:00:00Z", "2026-03-08T20:30:00Z", "2026-03-09T12:00:00Z"),
    (NEWFOUNDLAND, "call", "2026-11-01", "10:00", "18:00", ("QUIET_HOURS", "CA"),
     "2026-11-01T14:00:00Z", "2026-11-01T21:30:00Z", "2026-11-02T13:00:00Z"),
    (NEWFOUNDLAND, "call", "2026-11-02", "09:00", "21:30", ("QUIET_HOURS", "CA"),
     "2026-11-02T13:00:00Z", "2026-11-03T01:00:00Z", "2026-11-03T13:00:00Z"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("number", "channel", "day", "opens", "closes", "outside", "open_utc", "close_utc",
     "next_utc"),
    DST_DAYS,
)  # fmt: skip
def test_window_boundaries_on_clock_change_days(
    number: str, channel: str, day: str, opens: str, closes: str, outside: tuple[str, str],
    open_utc: str, close_utc: str, next_utc: str,
) -> None:  # fmt: skip
    open_at, close_at = _binding(number, day, opens, closes)
    assert (open_at, close_at) == (utc(open_utc), utc(close_utc))  # the hand-worked values
    state = _consented(number)
    before = check(number, open_at - SECOND, channel, state)
    assert pairs(before) == {outside}
    assert before.next_allowed_at == open_at
    assert check(number, open_at, channel, state).allowed
    assert check(number, close_at - SECOND, channel, state).allowed
    after = check(number, close_at, channel, state)
    assert pairs(after) == {outside}
    # the window's own reopening; next_allowed_at also skips banned days and holidays
    assert open_at < after.reasons[0].until <= after.next_allowed_at == utc(next_utc)
    assert check(number, utc(next_utc), channel, state).allowed


@pytest.mark.parametrize("number", [IDAHO, NORTH_DAKOTA, NEWFOUNDLAND, AU_8, AU_MOBILE])
def test_a_zone_that_opens_earlier_does_not_open_a_multi_zone_number(number: str) -> None:
    """At the first zone's opening the number is still closed in another zone."""
    record = normalize(number)
    day = "2026-06-16"  # a Tuesday: every pack's weekday window
    jurisdiction = record.region
    opens = {"US": "08:00", "CA": "09:00", "AU": "09:00"}[jurisdiction]
    first = min(local(zone, f"{day} {opens}") for zone in record.time_zones)
    last = max(local(zone, f"{day} {opens}") for zone in record.time_zones)
    assert first < last
    assert pairs(check(number, first)) == {("QUIET_HOURS", jurisdiction)}
    assert check(number, last).allowed


# ---------------------------------------------------------------- GB: no call hours
@pytest.mark.parametrize("day", ["2026-03-29", "2026-10-25"])
def test_gb_calls_have_no_hours_on_clock_change_days(day: str) -> None:
    for wall_clock in ("00:30", "03:00", "07:59", "21:00", "23:30"):
        assert check(GB_MOBILE, local(LONDON, f"{day} {wall_clock}")).allowed, wall_clock


def test_gb_night_sms_from_inside_the_repeated_hour() -> None:
    """25 Oct 2026: 01:00-02:00 BST is followed by 01:00-02:00 GMT. Both 01:30s are night;
    the window opens at 08:00 GMT either way."""
    state = _consented(GB_MOBILE)
    for instant in ("2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z"):  # 01:30 BST, 01:30 GMT
        result = check(GB_MOBILE, instant, "sms", state)
        assert pairs(result) == {("QUIET_HOURS", "POLICY")}
        assert result.next_allowed_at == utc("2026-10-25T08:00:00Z")


def test_gb_abandoned_call_pause_is_72_elapsed_hours_across_the_change() -> None:
    """Ofcom's 72 hours are elapsed time: an abandoned call at 12:00 BST on Sat 24 Oct may
    be followed from 11:00 GMT on Tue 27 Oct (72 h later), not from 12:00 GMT."""
    abandoned = local(LONDON, "2026-10-24 12:00")
    state = NumberState(history=calls(abandoned.isoformat(), outcome="abandoned"))
    end = local(LONDON, "2026-10-27 11:00")
    assert end - abandoned == dt.timedelta(hours=72)
    during = check(GB_MOBILE, end - SECOND, state=state)
    assert pairs(during) == {("COOLING_OFF", "GB")}
    assert during.next_allowed_at == end
    assert check(GB_MOBILE, end, state=state).allowed


# ---------------------------------------------------------------- preferences (POLICY)
def _quiet(number: str, start: str, end: str) -> NumberState:
    preference = Preference(number=number, updated_at=utc("2026-01-01T00:00:00Z"),
                            quiet_start=start, quiet_end=end)  # fmt: skip
    return NumberState(preference=preference, consents=_consented(number).consents)


def test_quiet_hours_in_the_repeated_hour_end_at_the_second_pass() -> None:
    """Quiet 00:30-01:30 on 25 Oct 2026 in London: 23:30Z-00:30Z (BST) and again
    01:00Z-01:30Z (GMT, the repeated hour). Inside the second pass the reason lasts until
    01:30 GMT, not the 01:30 BST already past."""
    state = _quiet(GB_MOBILE, "00:30", "01:30")
    first = check(GB_MOBILE, "2026-10-25T00:15:00Z", state=state)  # 01:15 BST
    assert pairs(first) == {("PREFERENCE", "POLICY")}
    assert first.next_allowed_at == utc("2026-10-25T00:30:00Z")
    assert check(GB_MOBILE, "2026-10-25T00:45:00Z", state=state).allowed  # 01:45 BST
    second = check(GB_MOBILE, "2026-10-25T01:15:00Z", state=state)  # 01:15 GMT
    assert pairs(second) == {("PREFERENCE", "POLICY")}
    assert second.reasons[0].until == second.next_allowed_at == utc("2026-10-25T01:30:00Z")
    assert check(GB_MOBILE, "2026-10-25T01:30:00Z", state=state).allowed


def test_quiet_hours_ending_in_the_skipped_hour_end_at_the_jump() -> None:
    """Quiet 00:30-01:30 on 29 Mar 2026 in London: at 01:00Z the clock jumps from 01:00 GMT
    to 02:00 BST, past 01:30, so the quiet hours end at 01:00Z."""
    state = _quiet(GB_MOBILE, "00:30", "01:30")
    result = check(GB_MOBILE, "2026-03-29T00:45:00Z", state=state)
    assert pairs(result) == {("PREFERENCE", "POLICY")}
    assert result.reasons[0].until == result.next_allowed_at == utc("2026-03-29T01:00:00Z")
    assert not check(GB_MOBILE, utc("2026-03-29T01:00:00Z") - SECOND, state=state).allowed
    assert check(GB_MOBILE, "2026-03-29T01:00:00Z", state=state).allowed


def test_quiet_hours_on_a_multi_zone_number_across_the_us_change() -> None:
    """Idaho 208 200, quiet 09:00-10:00, Sun 8 Mar 2026 (both zones just moved to DST).
    At 09:30 MDT (15:30Z) Boise is quiet; when it leaves (16:00Z) Los Angeles enters its own
    09:00 PDT, so the first instant quiet in neither zone is 10:00 PDT = 17:00Z."""
    state = _quiet(IDAHO, "09:00", "10:00")
    result = check(IDAHO, local("America/Boise", "2026-03-08 09:30"), state=state)
    assert pairs(result) == {("PREFERENCE", "POLICY")}
    la_end = local("America/Los_Angeles", "2026-03-08 10:00")
    assert la_end == utc("2026-03-08T17:00:00Z")
    assert result.next_allowed_at == la_end
    assert not check(IDAHO, la_end - SECOND, state=state).allowed
    assert check(IDAHO, la_end, state=state).allowed
