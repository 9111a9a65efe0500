"""CA, GB, FR, DE, AU, CN, the DEFAULT pack and regions with no rule pack."""

from __future__ import annotations

import datetime as dt

import pytest

from features.schema import Consent
from serving.domain.state import NumberState
from tests.support.rules import (
    calls,
    check,
    consent,
    event,
    fresh_world,
    local,
    minute_before,
    pairs,
    utc,
)

TORONTO, PARIS, SYDNEY, LONDON = (
    "America/Toronto",
    "Europe/Paris",
    "Australia/Sydney",
    "Europe/London",
)
CA_NUMBER = "+14162345678"  # docs/rules.md example
FR_NUMBER = "+33612345678"  # docs/rules.md example
AU_FIXED = "+61291234567"  # docs/rules.md example (Sydney)
GB_MOBILE = "+447400123456"  # libphonenumber example
DE_MOBILE = "+4915123456789"  # libphonenumber example
CN_MOBILE = "+8613123456789"  # libphonenumber example


# ---------------------------------------------------------------- Canada
@pytest.mark.parametrize(
    ("wall_clock", "allowed"),
    [
        ("2026-06-16 08:59", False), ("2026-06-16 09:00", True), ("2026-06-15 21:00", True),
        ("2026-06-15 21:29", True), ("2026-06-15 21:30", False),
        ("2026-06-20 09:59", False), ("2026-06-20 10:00", True), ("2026-06-20 17:59", True),
        ("2026-06-20 18:00", False), ("2026-06-21 10:00", True), ("2026-06-21 18:00", False),
    ],
)  # fmt: skip
def test_canada_windows(wall_clock: str, allowed: bool) -> None:
    result = check(CA_NUMBER, local(TORONTO, wall_clock))
    assert result.allowed is allowed
    if not allowed:
        assert pairs(result) == {("QUIET_HOURS", "CA")}


def test_canada_multi_zone_newfoundland_labrador() -> None:
    number = "+17092000123"  # Halifax and St_Johns
    assert pairs(check(number, "2026-06-16T11:59:00Z")) == {("QUIET_HOURS", "CA")}  # 08:59 ADT
    assert check(number, "2026-06-16T12:00:00Z").allowed  # 09:00 ADT, 09:30 NDT
    assert check(number, "2026-06-16T23:59:00Z").allowed  # 21:29 NDT
    late = check(number, "2026-06-17T00:00:00Z")  # 21:30 NDT
    assert pairs(late) == {("QUIET_HOURS", "CA")}
    assert late.next_allowed_at == utc("2026-06-17T12:00:00Z")


# DNCL EBR and CASL implied-consent windows at their edges: test_exemptions.py


def test_casl_implied_consent_from_purchase_expires_after_two_years() -> None:
    state = NumberState(history=(event("purchase", "2024-06-16T15:00:00Z"),))
    assert check(CA_NUMBER, "2026-06-16T14:59:59Z", "sms", state).allowed
    assert pairs(check(CA_NUMBER, "2026-06-16T15:00:00Z", "sms", state)) == {("NO_CONSENT", "CA")}


def test_canada_sms_has_no_crtc_hours_but_policy_night() -> None:
    state = NumberState(consents=(consent(CA_NUMBER, "express"),))
    assert check(CA_NUMBER, local(TORONTO, "2026-06-15 20:59"), "sms", state).allowed
    assert pairs(check(CA_NUMBER, local(TORONTO, "2026-06-15 21:00"), "sms", state)) == {
        ("QUIET_HOURS", "POLICY")
    }


# ---------------------------------------------------------------- United Kingdom
def test_gb_tps_and_ctps_listing_and_staleness_at_28_days() -> None:
    at = local(LONDON, "2026-06-16 12:00")
    assert check(GB_MOBILE, at).allowed
    tps = NumberState(registries=frozenset({"GB_TPS"}))
    assert pairs(check(GB_MOBILE, at, state=tps)) == {("REGISTRY_LISTED", "GB")}
    ctps = NumberState(registries=frozenset({"GB_CTPS"}))
    assert pairs(check(GB_MOBILE, at, state=ctps)) == {("REGISTRY_LISTED", "GB")}
    consented = NumberState(
        registries=frozenset({"GB_TPS"}), consents=(consent(GB_MOBILE, "express"),)
    )
    assert check(GB_MOBILE, at, state=consented).allowed
    exactly = fresh_world(at, snapshots={"GB_TPS": at - dt.timedelta(days=28)})
    assert check(GB_MOBILE, at, world=exactly).allowed
    stale = fresh_world(at, snapshots={"GB_TPS": at - dt.timedelta(days=28, seconds=1)})
    assert pairs(check(GB_MOBILE, at, world=stale)) == {("REGISTRY_STALE", "GB")}


def test_gb_has_no_call_hours() -> None:
    assert check(GB_MOBILE, local(LONDON, "2026-06-16 22:30")).allowed


@pytest.mark.parametrize(
    ("outcome", "hours", "rule_id"),
    [("abandoned", 72, "GB/abandoned-call-72h"), ("amd", 24, "GB/amd-24h")],
)
def test_gb_ofcom_cooling_off_and_live_agent_exemption(
    outcome: str, hours: int, rule_id: str
) -> None:
    last = local(LONDON, "2026-06-15 12:00")
    state = NumberState(history=calls(last.isoformat(), outcome=outcome))
    end = last + dt.timedelta(hours=hours)
    during = check(GB_MOBILE, end - dt.timedelta(seconds=1), state=state)
    assert pairs(during) == {("COOLING_OFF", "GB")}
    assert during.reasons[0].rule_id == rule_id
    assert during.reasons[0].until == end == during.next_allowed_at
    assert check(GB_MOBILE, end, state=state).allowed
    assert check(
        GB_MOBILE, end - dt.timedelta(hours=1), state=state, live_agent_guaranteed=True
    ).allowed


@pytest.mark.parametrize(
    ("ctype", "allowed"), [("soft_opt_in", True), ("express", True), ("implied", False)]
)
def test_gb_sms_consent_or_soft_opt_in(ctype: str, allowed: bool) -> None:
    state = NumberState(consents=(consent(GB_MOBILE, ctype),))
    assert check(GB_MOBILE, local(LONDON, "2026-06-16 12:00"), "sms", state).allowed is allowed


def test_gb_prerecorded_needs_consent() -> None:
    result = check(GB_MOBILE, local(LONDON, "2026-06-16 12:00"), dial_mode="prerecorded")
    assert pairs(result) == {("NO_CONSENT", "GB")}


# ---------------------------------------------------------------- France
@pytest.mark.parametrize(
    ("wall_clock", "expected"),
    [
        ("2026-06-16 09:59", {("QUIET_HOURS", "FR")}),
        ("2026-06-16 10:00", set()),
        ("2026-06-16 12:59", set()),
        ("2026-06-16 13:00", {("QUIET_HOURS", "FR")}),
        ("2026-06-16 13:59", {("QUIET_HOURS", "FR")}),
        ("2026-06-16 14:00", set()),
        ("2026-06-16 19:59", set()),
        ("2026-06-16 20:00", {("QUIET_HOURS", "FR")}),
        ("2026-06-20 11:00", {("DAY_NOT_ALLOWED", "FR")}),
        ("2026-06-21 11:00", {("DAY_NOT_ALLOWED", "FR")}),
        ("2026-07-14 11:00", {("HOLIDAY", "FR")}),  # Fête nationale, a Tuesday
        ("2026-05-14 11:00", {("HOLIDAY", "FR")}),  # Ascension
        ("2026-03-29 11:00", {("DAY_NOT_ALLOWED", "FR")}),  # DST day (Sunday)
        ("2026-03-30 10:00", set()),  # first Monday of CEST
    ],
)
def test_france_windows_days_holidays(wall_clock: str, expected: set) -> None:
    assert pairs(check(FR_NUMBER, local(PARIS, wall_clock))) == expected


def test_france_lunch_break_next_allowed_and_weekend_skip() -> None:
    assert check(FR_NUMBER, local(PARIS, "2026-06-16 13:15")).next_allowed_at == local(
        PARIS, "2026-06-16 14:00"
    )
    friday_evening = check(FR_NUMBER, local(PARIS, "2026-06-19 20:30"))
    assert friday_evening.next_allowed_at == local(PARIS, "2026-06-22 10:00")
    # Monday 13 Jul 20:30 → 14 Jul holiday → Wednesday 10:00.
    assert check(FR_NUMBER, local(PARIS, "2026-07-13 20:30")).next_allowed_at == local(
        PARIS, "2026-07-15 10:00"
    )


def test_france_next_allowed_across_the_spring_dst_change() -> None:
    # Friday 27 March 2026 20:30 CET → Monday 30 March 10:00 CEST (08:00Z).
    result = check(FR_NUMBER, local(PARIS, "2026-03-27 20:30"))
    assert result.next_allowed_at == utc("2026-03-30T08:00:00Z")


def test_france_consent_to_calls_outside_hours() -> None:
    outside = Consent(
        number=FR_NUMBER, channel="call", type="express", granted_at=utc("2026-01-01T00:00:00Z"),
        outside_hours=True,
    )  # fmt: skip
    state = NumberState(consents=(outside,))
    assert check(FR_NUMBER, local(PARIS, "2026-06-16 13:15"), state=state).allowed
    assert check(FR_NUMBER, local(PARIS, "2026-06-20 11:00"), state=state).allowed
    plain = NumberState(consents=(consent(FR_NUMBER, "express", channel="call"),))
    assert not check(FR_NUMBER, local(PARIS, "2026-06-16 13:15"), state=plain).allowed


def test_france_four_attempts_per_30_days_boundary() -> None:
    at = local(PARIS, "2026-06-16 11:00")
    days = (2, 10, 20)
    inside = calls(*((at - dt.timedelta(days=d)).isoformat() for d in days),
                   (at - dt.timedelta(days=30)).isoformat(), outcome="answered")  # fmt: skip
    outside = calls(*((at - dt.timedelta(days=d)).isoformat() for d in days),
                    (at - dt.timedelta(days=30, seconds=1)).isoformat(), outcome="answered")  # fmt: skip
    result = check(FR_NUMBER, at, state=NumberState(history=inside))
    assert pairs(result) == {("FREQUENCY_CAP", "FR")}
    assert result.reasons[0].until == at + dt.timedelta(seconds=1)
    assert check(FR_NUMBER, at, state=NumberState(history=outside)).allowed


def test_france_refusal_60_days() -> None:
    refusal = local(PARIS, "2026-04-17 11:00")
    state = NumberState(history=(event("refusal", refusal.isoformat()),))
    end = refusal + dt.timedelta(days=60)  # Tuesday 16 June 11:00
    assert pairs(check(FR_NUMBER, end - dt.timedelta(seconds=1), state=state)) == {
        ("COOLING_OFF", "FR")
    }
    assert check(FR_NUMBER, end, state=state).allowed


def test_france_refusal_pause_is_60_calendar_days_across_the_clock_change() -> None:
    """Refusal Thu 1 Oct 2026 11:00 CEST; 60 calendar days end Mon 30 Nov 11:00 CET, an hour
    after 60 × 24 h (the clocks went back on 25 Oct): 10:30 CET is still inside."""
    refusal = local(PARIS, "2026-10-01 11:00")
    consent = Consent(number=FR_NUMBER, channel="call", type="express",
                      granted_at=local(PARIS, "2026-09-01 10:00"))  # fmt: skip
    state = NumberState(history=(event("refusal", refusal.isoformat()),), consents=(consent,))
    inside = check(FR_NUMBER, local(PARIS, "2026-11-30 10:30"), state=state)
    assert pairs(inside) == {("COOLING_OFF", "FR")}
    assert inside.reasons[0].until == local(PARIS, "2026-11-30 11:00")
    assert check(FR_NUMBER, local(PARIS, "2026-11-30 11:00"), state=state).allowed


def test_bloctel_and_contract_in_force() -> None:
    at = local(PARIS, "2026-06-16 11:00")
    listed = frozenset({"FR_BLOCTEL"})
    assert pairs(check(FR_NUMBER, at, state=NumberState(registries=listed))) == {
        ("REGISTRY_LISTED", "FR")
    }
    contract = (event("contract_start", "2025-01-01T00:00:00Z"),)
    assert check(FR_NUMBER, at, state=NumberState(history=contract, registries=listed)).allowed
    ended = (*contract, event("contract_end", "2026-01-01T00:00:00Z"))
    assert not check(FR_NUMBER, at, state=NumberState(history=ended, registries=listed)).allowed


def test_france_consent_for_calls_from_2026_08_11() -> None:
    before = check(FR_NUMBER, local(PARIS, "2026-08-10 10:30"))
    assert before.allowed
    after = check(FR_NUMBER, local(PARIS, "2026-08-11 10:30"))
    assert pairs(after) == {("NO_CONSENT", "FR")}
    contract = NumberState(history=(event("contract_start", "2025-01-01T00:00:00Z"),))
    assert check(FR_NUMBER, local(PARIS, "2026-08-11 10:30"), state=contract).allowed


def test_france_sms_needs_consent_and_policy_keeps_nights_quiet() -> None:
    at_night = local(PARIS, "2026-06-16 22:00")
    assert pairs(check(FR_NUMBER, at_night, "sms")) == {
        ("NO_CONSENT", "FR"),
        ("QUIET_HOURS", "POLICY"),
    }
    state = NumberState(consents=(consent(FR_NUMBER, "express", channel="sms"),))
    night = check(FR_NUMBER, at_night, "sms", state)
    assert pairs(night) == {("QUIET_HOURS", "POLICY")}
    assert night.next_allowed_at == local(PARIS, "2026-06-17 08:00")
    assert night.reasons[0].legal is False


# ---------------------------------------------------------------- Germany
def test_germany_needs_documented_express_consent() -> None:
    at = utc("2026-06-16T10:00:00Z")
    assert pairs(check(DE_MOBILE, at)) == {("NO_CONSENT", "DE")}
    undocumented = NumberState(consents=(consent(DE_MOBILE, "express"),))
    assert pairs(check(DE_MOBILE, at, state=undocumented)) == {("NO_CONSENT", "DE")}
    documented = NumberState(
        consents=(consent(DE_MOBILE, "express", evidence="web form v3, 2026-01-01"),)
    )
    assert check(DE_MOBILE, at, state=documented).allowed
    assert check(DE_MOBILE, at, "sms", documented).allowed
    revoked = NumberState(
        consents=(
            consent(DE_MOBILE, "express", evidence="form", revoked_at=utc("2026-05-01T00:00:00Z")),
        )
    )
    assert pairs(check(DE_MOBILE, at, state=revoked)) == {
        ("NO_CONSENT", "DE"),
        ("CONSENT_REVOKED", "DE"),
    }


# ---------------------------------------------------------------- Australia
@pytest.mark.parametrize(
    ("wall_clock", "expected"),
    [
        ("2026-06-16 08:59", {("QUIET_HOURS", "AU")}),
        ("2026-06-16 09:00", set()),
        ("2026-06-16 19:59", set()),
        ("2026-06-16 20:00", {("QUIET_HOURS", "AU")}),
        ("2026-06-20 16:59", set()),
        ("2026-06-20 17:00", {("QUIET_HOURS", "AU")}),
        ("2026-06-21 12:00", {("DAY_NOT_ALLOWED", "AU")}),
        ("2026-04-25 10:00", {("HOLIDAY", "AU")}),  # Anzac Day (Saturday)
        ("2026-04-03 10:00", {("HOLIDAY", "AU")}),  # Good Friday
        ("2026-04-06 10:00", {("HOLIDAY", "AU")}),  # Easter Monday
        ("2026-12-28 10:00", set()),  # substitute days are state holidays, not national
        ("2026-10-04 10:00", {("DAY_NOT_ALLOWED", "AU")}),  # DST starts in Sydney (Sunday)
        ("2026-10-05 09:00", set()),
    ],
)
def test_australia_windows_days_holidays(wall_clock: str, expected: set) -> None:
    assert pairs(check(AU_FIXED, local(SYDNEY, wall_clock))) == expected


def test_australia_sunday_example_next_allowed_is_monday_nine() -> None:
    result = check(AU_FIXED, "2026-06-21T00:00:00Z")
    assert result.next_allowed_at == local(SYDNEY, "2026-06-22 09:00")


@pytest.mark.parametrize(
    ("number", "opens", "closes"),
    [
        # +61 8: Adelaide (+09:30) and Perth (+08:00) in June.
        ("+61891234567", "2026-06-16T01:00:00Z", "2026-06-16T10:30:00Z"),
        # Mobiles: 8 zones from Cocos (+06:30) to Lord Howe (+10:30).
        ("+61412345678", "2026-06-16T02:30:00Z", "2026-06-16T09:30:00Z"),
    ],
)
def test_australian_multi_zone_numbers(number: str, opens: str, closes: str) -> None:
    one_second = dt.timedelta(seconds=1)
    assert pairs(check(number, utc(opens) - one_second)) == {("QUIET_HOURS", "AU")}
    assert check(number, opens).allowed
    assert check(number, utc(closes) - one_second).allowed
    late = check(number, closes)
    assert pairs(late) == {("QUIET_HOURS", "AU")}
    assert late.next_allowed_at == utc(opens) + dt.timedelta(days=1)


def test_australia_dncr_and_no_reply() -> None:
    at = local(SYDNEY, "2026-06-16 12:00")
    assert pairs(check(AU_FIXED, at, state=NumberState(registries=frozenset({"AU_DNCR"})))) == {
        ("REGISTRY_LISTED", "AU")
    }
    mobile = "+61412345678"
    state = NumberState(
        history=(event("reply", "2026-06-10T03:00:00Z", text="No"),),
        consents=(consent(mobile, "express"),),
    )
    assert pairs(check(mobile, at, "sms", state)) == {("CONSENT_REVOKED", "AU")}


# ---------------------------------------------------------------- China
def test_china_consent_and_opt_out_keywords() -> None:
    at = utc("2026-06-16T04:00:00Z")  # 12:00 Shanghai
    assert pairs(check(CN_MOBILE, at, "sms")) == {("NO_CONSENT", "CN")}
    consented = (consent(CN_MOBILE, "express"),)
    assert check(CN_MOBILE, at, "sms", NumberState(consents=consented)).allowed
    for text in ("TD", "退订", "T", "0"):
        state = NumberState(history=(event("reply", "2026-06-15T04:00:00Z", text=text),),
                            consents=consented)  # fmt: skip
        assert pairs(check(CN_MOBILE, at, "sms", state)) == {("CONSENT_REVOKED", "CN")}, text
    night = check(CN_MOBILE, "2026-06-16T13:30:00Z", "sms", NumberState(consents=consented))
    assert pairs(night) == {("QUIET_HOURS", "POLICY")}
    assert night.next_allowed_at == utc("2026-06-17T00:00:00Z")  # 08:00 Shanghai


# ---------------------------------------------------------------- DEFAULT and NO_RULE_PACK
def test_default_pack_for_a_region_without_its_own() -> None:
    portugal = "+351912345678"  # libphonenumber example; Lisbon and Azores zones
    consented = NumberState(consents=(consent(portugal, "express"),))
    assert check(portugal, local("Europe/Lisbon", "2026-06-16 12:00"), state=consented).allowed
    no_consent = check(portugal, local("Europe/Lisbon", "2026-06-16 12:00"))
    assert pairs(no_consent) == {("NO_CONSENT", "DEFAULT")}
    assert no_consent.reasons[0].legal is False
    sunday = check(portugal, local("Europe/Lisbon", "2026-06-21 12:00"), state=consented)
    assert pairs(sunday) == {("DAY_NOT_ALLOWED", "DEFAULT")}
    national_day = check(portugal, local("Europe/Lisbon", "2026-06-10 12:00"), state=consented)
    assert pairs(national_day) == {("HOLIDAY", "DEFAULT")}
    # 09:30 Lisbon is 08:30 in the Azores: both zones must be inside the window.
    assert pairs(check(portugal, local("Europe/Lisbon", "2026-06-16 09:30"), state=consented)) == {
        ("QUIET_HOURS", "DEFAULT")
    }


@pytest.mark.parametrize(
    ("number", "region"),
    [
        ("+441481712345", "GG"),  # Guernsey fixed line
        ("+447781123456", "GG"),  # Guernsey mobile (libphonenumber example)
        ("+447797712345", "JE"),  # Jersey mobile (libphonenumber example)
        ("+441624756789", "IM"),  # Isle of Man fixed line (libphonenumber example)
    ],
)
def test_crown_dependencies_have_no_rule_pack(number: str, region: str) -> None:
    for purpose in ("marketing", "service"):
        result = check(number, "2026-06-16T12:00:00Z", purpose=purpose)
        assert pairs(result) == {("NO_RULE_PACK", region)}
        assert result.next_allowed_at is None


def test_toll_free_outside_us_is_unknown_timezone() -> None:
    result = check("+33800123456", local(PARIS, "2026-06-16 11:00"))
    assert ("UNKNOWN_TIMEZONE", "POLICY") in pairs(result)


def test_toll_free_without_statutory_hours_is_still_unknown_timezone() -> None:
    """GB sets no calling hours, but docs/rules.md, rule 3 of "How the rules are applied" withholds a marketing contact to a
    number whose local time cannot be known (a person's quiet hours could not be honoured)."""
    result = check("+448001234567", "2026-06-16T12:00:00Z")
    assert ("UNKNOWN_TIMEZONE", "POLICY") in pairs(result)
    service = check("+448001234567", "2026-06-16T12:00:00Z", purpose="service")
    assert ("UNKNOWN_TIMEZONE", "POLICY") not in pairs(service)


@pytest.mark.parametrize(
    ("number", "zone", "day", "opens", "closes", "jurisdiction"),
    [
        ("+14162345678", "America/Toronto", "2026-06-20", "10:00", "18:00", "CA"),  # Saturday
        ("+14162345678", "America/Toronto", "2026-06-21", "10:00", "18:00", "CA"),  # Sunday
        ("+14162345678", "America/Toronto", "2026-06-16", "09:00", "21:30", "CA"),  # Tuesday
        ("+61291234567", "Australia/Sydney", "2026-06-20", "09:00", "17:00", "AU"),  # Saturday
        ("+61291234567", "Australia/Sydney", "2026-06-16", "09:00", "20:00", "AU"),  # Tuesday
    ],
)
def test_weekday_and_weekend_windows_at_their_boundary_minutes(
    number: str, zone: str, day: str, opens: str, closes: str, jurisdiction: str
) -> None:
    """CRTC: weekdays 09:00-21:30, weekends 10:00-18:00; AU: weekdays 09:00-20:00,
    Saturday 09:00-17:00 (docs/rules.md). Half-open windows in the recipient's local time."""

    assert ("QUIET_HOURS", jurisdiction) in pairs(
        check(number, local(zone, f"{day} {minute_before(opens)}"))
    )
    assert check(number, local(zone, f"{day} {opens}")).allowed
    assert check(number, local(zone, f"{day} {minute_before(closes)}")).allowed
    assert ("QUIET_HOURS", jurisdiction) in pairs(check(number, local(zone, f"{day} {closes}")))


@pytest.mark.parametrize(
    ("number", "zone", "registry", "days", "jurisdiction"),
    [
        (CA_NUMBER, TORONTO, "CA_DNCL", 31, "CA"),
        (FR_NUMBER, PARIS, "FR_BLOCTEL", 30, "FR"),
        (AU_FIXED, SYDNEY, "AU_DNCR", 30, "AU"),
        (GB_MOBILE, LONDON, "GB_CTPS", 28, "GB"),
    ],
)
def test_registry_snapshot_at_exactly_its_maximum_age(
    number: str, zone: str, registry: str, days: int, jurisdiction: str
) -> None:
    """docs/rules.md, rule 8 of "How the rules are applied": a snapshot exactly at the re-scrub limit still governs; one
    second older withholds everything it governs with REGISTRY_STALE."""
    at = local(zone, "2026-06-16 12:00")
    exactly = fresh_world(at, snapshots={registry: at - dt.timedelta(days=days)})
    assert check(number, at, world=exactly).allowed
    older = fresh_world(at, snapshots={registry: at - dt.timedelta(days=days, seconds=1)})
    assert pairs(check(number, at, world=older)) == {("REGISTRY_STALE", jurisdiction)}


@pytest.mark.parametrize(
    ("number", "zone", "opens_at", "jurisdiction", "utc_opening"),
    [
        # Toronto springs forward on Sun 8 Mar 2026: the weekend window opens 10:00 EDT
        (CA_NUMBER, TORONTO, "2026-03-08 10:00", "CA", "2026-03-08T14:00:00Z"),
        # Paris falls back on Sun 25 Oct 2026: Monday's window opens 10:00 CET
        (FR_NUMBER, PARIS, "2026-10-26 10:00", "FR", "2026-10-26T09:00:00Z"),
        # Sydney springs forward on Sun 4 Oct 2026: Monday opens 09:00 AEDT
        (AU_FIXED, SYDNEY, "2026-10-05 09:00", "AU", "2026-10-04T22:00:00Z"),
    ],
)
def test_windows_follow_the_clock_change(
    number: str, zone: str, opens_at: str, jurisdiction: str, utc_opening: str
) -> None:
    """Windows are local wall-clock time on and after a DST change, not a fixed UTC offset."""
    opening = local(zone, opens_at)
    assert opening == utc(utc_opening)
    state = NumberState()
    if jurisdiction == "FR":  # after 2026-08-11 a French call needs consent
        state = NumberState(consents=(consent(FR_NUMBER, "express", channel="call"),))
    before = check(number, opening - dt.timedelta(minutes=1), state=state)
    assert ("QUIET_HOURS", jurisdiction) in pairs(before)
    assert check(number, opening, state=state).allowed
