"""Exemption windows at their edges: the instant just inside and just outside each one.

How the engine counts (``serving.rules.clock._span_end``): an exemption opened by an event lasts
``[event, event + span)``. Calendar months (``18mo``) are counted on the recipient's wall
clock in **every** candidate zone and in UTC, and the window ends at the earliest of these
readings (winter to summer the local clock ends first, summer to winter UTC does); a day the target month lacks is clamped to its last day (31 Jan + 3 months =
30 Apr). So a purchase at 10:00 PST on 20 January ends its 18 months at 10:00 PDT on
20 July — one hour before the UTC count would (the law leaves the zone open; counting
in UTC stretched every winter-to-summer exemption by the DST hour).

Covered: US National DNC EBR (18 months after a purchase or contract, 3 months after an
inquiry), CA DNCL EBR (18 / 6 months), CASL implied consent for SMS (24 months after a
purchase or contract start, 6 months after an inquiry), the Bloctel and 2026 consent
exemptions for a contract in force (FR), and express consent to calls outside hours (FR,
the only pack with ``exempt_outside_hours_consent``).
"""

from __future__ import annotations

import datetime as dt

import pytest

from features.schema import Consent
from serving.domain.state import HistoryEvent, NumberState
from tests.support.rules import check, consent, event, local, pairs, utc

LA = "America/Los_Angeles"
TORONTO = "America/Toronto"
PARIS = "Europe/Paris"
US_NUMBER = "+12132345678"  # docs/rules.md example (Los Angeles; no state pack)
CA_NUMBER = "+14162345678"  # docs/rules.md example (Toronto)
FR_NUMBER = "+33612345678"  # docs/rules.md example
SECOND = dt.timedelta(seconds=1)


def _happened(kind: str, zone: str, wall_clock: str) -> HistoryEvent:
    return HistoryEvent(ts=local(zone, wall_clock), kind=kind)


# ---------------------------------------------------------------- US National DNC EBR
# (event kind, event local time, last allowed local instant, first withheld local instant)
US_EBR_EDGES = [
    # 18 months after a purchase, crossing from PST into PDT: ends 10:00 PDT, not 11:00
    ("purchase", "2025-01-20 10:00", "2026-07-20 09:59:59", "2026-07-20 10:00"),
    ("contract_start", "2025-01-20 10:00", "2026-07-20 09:59:59", "2026-07-20 10:00"),
    # late evening local is the next day in UTC: the local calendar decides (20:00 PDT)
    ("purchase", "2025-01-31 20:00", "2026-07-31 19:59:59", "2026-07-31 20:00"),
    # 3 months after an inquiry on 31 January: clamped to 30 April, on the local clock
    ("inquiry", "2026-01-31 12:00", "2026-04-30 11:59:59", "2026-04-30 12:00"),
    # 3 months within one DST season: the plain edge
    ("inquiry", "2026-03-16 11:00", "2026-06-16 10:59:59", "2026-06-16 11:00"),
    # 21:30 PDT on 30 Aug is 31 Aug in UTC: the UTC count clamps to 28 Feb 04:30Z
    # (27 Feb 20:30 PST) before the local count's 28 Feb 21:30; the earlier reading wins
    ("purchase", "2025-08-30 21:30", "2027-02-27 20:29:59", "2027-02-27 20:30"),
]


def test_us_ebr_no_longer_lasts_the_extra_dst_hour_of_a_utc_count() -> None:
    """Purchase 2025-01-20 18:00Z (10:00 PST). Counting 18 months in UTC gave 18:00Z on
    20 July = 11:00 PDT; on the recipient's calendar the 18 months ended at 10:00 PDT."""
    state = NumberState(
        history=(event("purchase", "2025-01-20T18:00:00Z"),),
        registries=frozenset({"US_NATIONAL_DNC"}),
    )
    assert check(US_NUMBER, "2026-07-20T16:59:59Z", state=state).allowed
    assert not check(US_NUMBER, "2026-07-20T17:00:00Z", state=state).allowed
    assert not check(US_NUMBER, "2026-07-20T17:59:59Z", state=state).allowed


def test_us_ebr_starts_at_the_purchase_instant_and_not_before() -> None:
    purchase = local(LA, "2026-06-16 12:00")
    state = NumberState(
        history=(HistoryEvent(ts=purchase, kind="purchase"),),
        registries=frozenset({"US_NATIONAL_DNC"}),
    )
    assert check(US_NUMBER, purchase, state=state).allowed
    assert pairs(check(US_NUMBER, purchase - SECOND, state=state)) == {("REGISTRY_LISTED", "US")}


def test_us_ebr_in_a_multi_zone_number_ends_at_the_earliest_zone() -> None:
    """+1 208 200 (Boise and Los Angeles): 18 months after 10:00 MST / 09:00 PST on
    20 Jan 2025 end at 10:00 MDT = 16:00Z in Boise, an hour before Los Angeles' 17:00Z."""
    number = "+12082000123"
    state = NumberState(
        history=(event("purchase", "2025-01-20T17:00:00Z"),),
        registries=frozenset({"US_NATIONAL_DNC"}),
    )
    assert check(number, "2026-07-20T15:59:59Z", state=state).allowed
    assert pairs(check(number, "2026-07-20T16:00:00Z", state=state)) == {("REGISTRY_LISTED", "US")}


def test_an_opt_out_ends_the_ebr() -> None:
    """docs/rules.md: a do-not-call request ends the EBR; an opt-out (here by SMS) is one."""
    state = NumberState(
        history=(
            event("purchase", "2026-05-01T18:00:00Z"),
            event("opt_out", "2026-06-01T18:00:00Z", channel="sms"),
        ),
        registries=frozenset({"US_NATIONAL_DNC"}),
    )
    result = check(US_NUMBER, local(LA, "2026-06-16 12:00"), state=state)
    assert ("REGISTRY_LISTED", "US") in pairs(result)


# ---------------------------------------------------------------- Canada: DNCL EBR, CASL
CA_EBR_EDGES = [
    # 18 months after a purchase or contract, EST → EDT: ends 10:00 EDT (14:00Z)
    ("purchase", "2024-12-16 10:00", "2026-06-16 09:59:59", "2026-06-16 10:00"),
    ("contract_start", "2024-12-16 10:00", "2026-06-16 09:59:59", "2026-06-16 10:00"),
    # 6 months after an inquiry, EST → EDT
    ("inquiry", "2025-12-16 10:00", "2026-06-16 09:59:59", "2026-06-16 10:00"),
    # 6 months after an inquiry on 31 Dec: clamped to 30 June
    ("inquiry", "2025-12-31 12:00", "2026-06-30 11:59:59", "2026-06-30 12:00"),
]


#: (number, its zone, registry, jurisdiction, rule id) of each national do-not-call list
DNC_LISTS = {
    "US": (US_NUMBER, LA, "US_NATIONAL_DNC", "US", "US/national-dnc"),
    "CA": (CA_NUMBER, TORONTO, "CA_DNCL", "CA", "CA/national-dncl"),
}


@pytest.mark.parametrize(
    ("country", "kind", "happened", "last_inside", "first_outside"),
    [("US", *edge) for edge in US_EBR_EDGES] + [("CA", *edge) for edge in CA_EBR_EDGES],
)
def test_national_dnc_ebr_edges(
    country: str, kind: str, happened: str, last_inside: str, first_outside: str
) -> None:
    number, zone, registry, jurisdiction, rule_id = DNC_LISTS[country]
    state = NumberState(
        history=(_happened(kind, zone, happened),), registries=frozenset({registry})
    )
    assert check(number, local(zone, last_inside), state=state).allowed
    outside = check(number, local(zone, first_outside), state=state)
    assert pairs(outside) == {("REGISTRY_LISTED", jurisdiction)}
    assert outside.reasons[0].rule_id == rule_id
    assert outside.next_allowed_at is None  # a listing is not time-based


def test_canada_dncl_inquiry_from_summer_to_winter_ends_at_the_utc_reading() -> None:
    """Inquiry 16 Jun 2025 14:00 EDT (18:00Z). Six months on the local clock end at
    14:00 EST (19:00Z); six months in UTC at 18:00Z = 13:00 EST. The earlier reading wins,
    so the exemption is never longer than either count. And it is 6 months, not 18."""
    state = NumberState(
        history=(_happened("inquiry", TORONTO, "2025-06-16 14:00"),),
        registries=frozenset({"CA_DNCL"}),
    )
    assert check(CA_NUMBER, local(TORONTO, "2025-12-16 12:59:59"), state=state).allowed
    for wall_clock in ("2025-12-16 13:00", "2025-12-16 13:59", "2026-01-16 14:00"):
        result = check(CA_NUMBER, local(TORONTO, wall_clock), state=state)
        assert pairs(result) == {("REGISTRY_LISTED", "CA")}, wall_clock


CASL_EDGES = [
    # implied consent: 24 months after a purchase / a contract start, 6 after an inquiry
    ("purchase", "2024-01-15 11:00", "2026-01-15 10:59:59", "2026-01-15 11:00"),
    # a contract signed on a leap day: 24 months end on 28 Feb (clamped)
    ("contract_start", "2024-02-29 12:00", "2026-02-28 11:59:59", "2026-02-28 12:00"),
    ("inquiry", "2025-12-31 12:00", "2026-06-30 11:59:59", "2026-06-30 12:00"),
    ("inquiry", "2025-11-14 15:00", "2026-05-14 14:59:59", "2026-05-14 15:00"),
]


@pytest.mark.parametrize(("kind", "happened", "last_inside", "first_outside"), CASL_EDGES)
def test_casl_implied_consent_edges(
    kind: str, happened: str, last_inside: str, first_outside: str
) -> None:
    state = NumberState(history=(_happened(kind, TORONTO, happened),))
    assert check(CA_NUMBER, local(TORONTO, last_inside), "sms", state).allowed
    outside = check(CA_NUMBER, local(TORONTO, first_outside), "sms", state)
    assert pairs(outside) == {("NO_CONSENT", "CA")}
    assert outside.reasons[0].rule_id == "CA/casl-consent-sms"


def test_casl_implied_consent_is_not_opened_by_an_inquiry_for_24_months() -> None:
    state = NumberState(history=(_happened("inquiry", TORONTO, "2025-06-16 12:00"),))
    assert pairs(check(CA_NUMBER, local(TORONTO, "2026-06-16 12:00"), "sms", state)) == {
        ("NO_CONSENT", "CA")
    }


def test_an_unsubscribe_ends_casl_implied_consent() -> None:
    state = NumberState(
        history=(
            _happened("purchase", TORONTO, "2026-01-10 12:00"),
            event("reply", local(TORONTO, "2026-03-01 12:00").isoformat(), text="ARRET"),
        )
    )
    result = check(CA_NUMBER, local(TORONTO, "2026-06-16 12:00"), "sms", state)
    assert ("CONSENT_REVOKED", "CA") in pairs(result)
    assert ("NO_CONSENT", "CA") in pairs(result)  # the purchase's implied consent is gone too


# ---------------------------------------------------------------- France: contract in force
CONTRACT_START = "2025-01-06 10:00"
CONTRACT_END = "2026-06-16 11:00"  # a Tuesday


def _contract(end: str | None = CONTRACT_END) -> tuple[HistoryEvent, ...]:
    events = [_happened("contract_start", PARIS, CONTRACT_START)]
    if end is not None:
        events.append(_happened("contract_end", PARIS, end))
    return tuple(events)


@pytest.mark.parametrize(
    ("offset", "in_force"),
    [(-SECOND, True), (dt.timedelta(0), False), (SECOND, False), (dt.timedelta(hours=1), False)],
)
def test_bloctel_exemption_ends_with_the_contract(offset: dt.timedelta, in_force: bool) -> None:
    """A contract is in force from its start up to, not including, its end instant."""
    at = local(PARIS, CONTRACT_END) + offset
    state = NumberState(history=_contract(), registries=frozenset({"FR_BLOCTEL"}))
    result = check(FR_NUMBER, at, state=state)
    if in_force:
        assert result.allowed
    else:
        assert pairs(result) == {("REGISTRY_LISTED", "FR")}
        assert result.reasons[0].rule_id == "FR/bloctel"


def test_bloctel_exemption_starts_with_the_contract() -> None:
    start = local(PARIS, "2026-06-16 11:00")
    state = NumberState(
        history=(HistoryEvent(ts=start, kind="contract_start"),),
        registries=frozenset({"FR_BLOCTEL"}),
    )
    assert check(FR_NUMBER, start, state=state).allowed
    assert not check(FR_NUMBER, start - SECOND, state=state).allowed


def test_a_new_contract_after_an_end_is_in_force_again() -> None:
    history = (*_contract(), _happened("contract_start", PARIS, "2026-06-17 10:30"))
    state = NumberState(history=history, registries=frozenset({"FR_BLOCTEL"}))
    assert not check(FR_NUMBER, local(PARIS, "2026-06-17 10:29"), state=state).allowed
    assert check(FR_NUMBER, local(PARIS, "2026-06-17 10:30"), state=state).allowed


def test_overlapping_contracts_are_read_conservatively() -> None:
    """Events carry no contract id, so an end after the latest start ends "the" contract:
    two overlapping contracts, one ended → withheld (never an exemption we cannot prove)."""
    history = (
        _happened("contract_start", PARIS, "2025-01-06 10:00"),
        _happened("contract_start", PARIS, "2025-03-03 10:00"),
        _happened("contract_end", PARIS, "2026-01-05 10:00"),
    )
    state = NumberState(history=history, registries=frozenset({"FR_BLOCTEL"}))
    assert pairs(check(FR_NUMBER, local(PARIS, "2026-06-16 11:00"), state=state)) == {
        ("REGISTRY_LISTED", "FR")
    }


@pytest.mark.parametrize(
    ("offset", "in_force"), [(-SECOND, True), (dt.timedelta(0), False), (SECOND, False)]
)
def test_2026_consent_rule_exempts_a_contract_in_force_until_its_end(
    offset: dt.timedelta, in_force: bool
) -> None:
    """From 11 Aug 2026 a call needs consent unless linked to a contract in force."""
    end = "2026-09-15 11:00"  # a Tuesday
    at = local(PARIS, end) + offset
    result = check(FR_NUMBER, at, state=NumberState(history=_contract(end)))
    if in_force:
        assert result.allowed
    else:
        assert pairs(result) == {("NO_CONSENT", "FR")}
        assert result.reasons[0].rule_id == "FR/consent-calls-from-2026-08-11"


# ---------------------------------------------------------------- France: outside hours
def _outside_hours(**fields: object) -> Consent:
    fields.setdefault("granted_at", utc("2026-01-01T00:00:00Z"))
    fields.setdefault("channel", "call")
    fields.setdefault("type", "express")
    return Consent(number=FR_NUMBER, outside_hours=True, **fields)


LUNCH = "2026-06-16 13:15"  # Tuesday, in the 13:00-14:00 break


def test_outside_hours_consent_counts_from_its_grant_instant() -> None:
    granted = local(PARIS, LUNCH)
    state = NumberState(consents=(_outside_hours(granted_at=granted),))
    assert check(FR_NUMBER, granted, state=state).allowed
    before = check(FR_NUMBER, granted - SECOND, state=state)
    assert pairs(before) == {("QUIET_HOURS", "FR")}


def test_outside_hours_consent_ends_at_its_revocation_instant() -> None:
    revoked = local(PARIS, LUNCH)
    state = NumberState(consents=(_outside_hours(revoked_at=revoked),))
    assert check(FR_NUMBER, revoked - SECOND, state=state).allowed
    at_revocation = pairs(check(FR_NUMBER, revoked, state=state))
    assert ("QUIET_HOURS", "FR") in at_revocation
    assert ("CONSENT_REVOKED", "FR") in at_revocation


@pytest.mark.parametrize(
    ("fields", "lifts"),
    [
        ({}, True),
        ({"type": "written"}, True),
        ({"channel": "any"}, True),
        ({"type": "implied"}, False),  # D.223-9: *express* consent to calls outside hours
        ({"type": "soft_opt_in"}, False),
        ({"channel": "sms"}, False),  # a consent to texts says nothing about calls
        ({"purpose": "service"}, False),  # consent for another purpose
    ],
)
def test_which_consents_lift_the_french_hours(fields: dict, lifts: bool) -> None:
    state = NumberState(consents=(_outside_hours(**fields),))
    for wall_clock, code in (
        (LUNCH, "QUIET_HOURS"),
        ("2026-06-16 20:00", "QUIET_HOURS"),
        ("2026-06-20 11:00", "DAY_NOT_ALLOWED"),  # Saturday
        ("2026-07-14 11:00", "HOLIDAY"),  # Fête nationale
    ):
        result = check(FR_NUMBER, local(PARIS, wall_clock), state=state)
        if lifts:
            assert result.allowed, wall_clock
        else:
            assert (code, "FR") in pairs(result), wall_clock


def test_outside_hours_consent_does_not_lift_the_other_french_rules() -> None:
    """Only the hours, days and holidays: the 4-per-30-days cap and the 60-day refusal
    pause still apply (D.223-9 al. 3-4)."""
    at = local(PARIS, LUNCH)
    refusal = event("refusal", (at - dt.timedelta(days=10)).isoformat())
    state = NumberState(history=(refusal,), consents=(_outside_hours(),))
    assert pairs(check(FR_NUMBER, at, state=state)) == {("COOLING_OFF", "FR")}


def test_outside_hours_consent_does_not_lift_policy_night_sms() -> None:
    """The SMS night rule is company policy, not D.223-9: an outside-hours consent to
    *calls* (or even to SMS) does not lift it."""
    state = NumberState(
        consents=(_outside_hours(channel="any"), consent(FR_NUMBER, "express", channel="sms"))
    )
    assert pairs(check(FR_NUMBER, local(PARIS, "2026-06-16 22:00"), "sms", state)) == {
        ("QUIET_HOURS", "POLICY")
    }
