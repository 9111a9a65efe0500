"""Country packs ES, IT, NL, BR, IN, JP and the fixes to CA and FR: each rule at its
boundaries, to the second, in the recipient's zones (both of them for a Spanish mobile:
Madrid and the Canaries), across the DST change."""

from __future__ import annotations

import datetime as dt

import pytest

from serving.domain.state import NumberState
from tests.support.rules import check, consent, event, local, pairs, utc

SECOND = dt.timedelta(seconds=1)
#: libphonenumber example numbers and the zone the wall clocks are read in
NUMBERS = {
    "ES": ("+34612345678", "Europe/Madrid"),  # also Atlantic/Canary, an hour behind
    "IT": ("+393123456789", "Europe/Rome"),
    "NL": ("+31612345678", "Europe/Amsterdam"),
    "BR": ("+5511961234567", "America/Sao_Paulo"),
    "IN": ("+919123456789", "Asia/Kolkata"),
    "JP": ("+819012345678", "Asia/Tokyo"),
}


def _own(country: str, wall: str, channel: str = "call", held: str | None = "express",
         **fields) -> set:  # fmt: skip
    number, zone = NUMBERS[country]
    state = NumberState(consents=(consent(number, held),)) if held else NumberState()
    result = pairs(check(number, local(zone, wall), channel, state=state, **fields))
    return {pair for pair in result if pair[1] == country}


#: (country, local wall clock, expected reason of the country's own pack or None), with an
#: express consent. 2026-06-16 is a Tuesday.
TABLE = [
    # Spain: weekdays 09:00-21:00 in Madrid AND the Canaries (an hour behind): 10:00-21:00
    ("ES", "2026-06-16 09:59:59", ("QUIET_HOURS", "ES")),
    ("ES", "2026-06-16 10:00:00", None),
    ("ES", "2026-06-16 20:59:59", None),
    ("ES", "2026-06-16 21:00:00", ("QUIET_HOURS", "ES")),
    ("ES", "2026-06-20 12:00:00", ("DAY_NOT_ALLOWED", "ES")),  # Saturday (DEFAULT allowed it)
    ("ES", "2026-06-21 12:00:00", ("DAY_NOT_ALLOWED", "ES")),
    ("ES", "2026-10-12 12:00:00", ("HOLIDAY", "ES")),  # Fiesta Nacional
    # Italy (policy hours Mon-Sat 09:00-20:00)
    ("IT", "2026-06-16 08:59:59", ("QUIET_HOURS", "IT")),
    ("IT", "2026-06-16 09:00:00", None),
    ("IT", "2026-06-16 19:59:59", None),
    ("IT", "2026-06-16 20:00:00", ("QUIET_HOURS", "IT")),
    ("IT", "2026-06-02 12:00:00", ("HOLIDAY", "IT")),  # Festa della Repubblica
    # Netherlands
    ("NL", "2026-06-16 08:59:59", ("QUIET_HOURS", "NL")),
    ("NL", "2026-06-16 09:00:00", None),
    ("NL", "2026-04-27 12:00:00", ("HOLIDAY", "NL")),  # Koningsdag
    # Brazil
    ("BR", "2026-06-16 08:59:59", ("QUIET_HOURS", "BR")),
    ("BR", "2026-06-16 09:00:00", None),
    ("BR", "2026-06-21 12:00:00", ("DAY_NOT_ALLOWED", "BR")),
    ("BR", "2026-09-07 12:00:00", ("HOLIDAY", "BR")),  # Independência
    # India
    ("IN", "2026-06-16 08:59:59", ("QUIET_HOURS", "IN")),
    ("IN", "2026-06-16 09:00:00", None),
    ("IN", "2026-08-15 12:00:00", ("HOLIDAY", "IN")),  # Independence Day (a Saturday)
    # Japan
    ("JP", "2026-06-16 08:59:59", ("QUIET_HOURS", "JP")),
    ("JP", "2026-06-16 09:00:00", None),
    ("JP", "2026-06-16 19:59:59", None),
    ("JP", "2026-06-16 20:00:00", ("QUIET_HOURS", "JP")),
    ("JP", "2026-05-05 12:00:00", ("HOLIDAY", "JP")),  # Children's Day
]


@pytest.mark.parametrize(("country", "wall", "expected"), TABLE,
                         ids=[f"{c}-{w}" for c, w, _ in TABLE])  # fmt: skip
def test_country_hours_days_and_holidays(country: str, wall: str, expected: tuple | None) -> None:
    assert _own(country, wall) == ({expected} if expected else set())


@pytest.mark.parametrize("country", sorted(NUMBERS))
def test_a_country_with_a_pack_no_longer_falls_to_default(country: str) -> None:
    number, zone = NUMBERS[country]
    result = check(number, local(zone, "2026-06-16 12:00"))
    assert country in result.jurisdictions and "DEFAULT" not in result.jurisdictions


@pytest.mark.parametrize(
    ("country", "channel", "mode", "held", "pair"),
    [
        ("ES", "call", "manual", None, ("NO_CONSENT", "ES")),
        ("ES", "call", "prerecorded", "express", None),
        ("ES", "sms", "manual", None, ("NO_CONSENT", "ES")),
        ("IT", "call", "manual", None, ("NO_CONSENT", "IT")),
        ("NL", "call", "manual", None, ("NO_CONSENT", "NL")),
        ("NL", "sms", "manual", "soft_opt_in", None),
        ("NL", "call", "manual", "soft_opt_in", ("NO_CONSENT", "NL")),
        ("BR", "call", "manual", None, ("NO_CONSENT", "BR")),
        ("IN", "sms", "manual", None, ("NO_CONSENT", "IN")),
        # Japan: calls are opt-out (no consent needed), advertising texts opt-in
        ("JP", "call", "manual", None, None),
        ("JP", "sms", "manual", None, ("NO_CONSENT", "JP")),
        ("JP", "sms", "manual", "express", None),
    ],
)
def test_country_consent(country, channel, mode, held, pair) -> None:
    got = {p for p in _own(country, "2026-06-16 12:00", channel, held, dial_mode=mode)
           if p[0] == "NO_CONSENT"}  # fmt: skip
    assert got == ({pair} if pair else set())


def test_japan_no_renewed_solicitation_after_a_refusal() -> None:
    number, zone = NUMBERS["JP"]
    at = local(zone, "2026-06-16 12:00")
    refused = NumberState(history=(event("refusal", (at - dt.timedelta(days=3000)).isoformat()),))
    result = check(number, at, state=refused)
    assert ("COOLING_OFF", "JP") in pairs(result)
    assert result.next_allowed_at is None  # beyond the 30-day search
    cleared = NumberState(history=(event("refusal", (at - dt.timedelta(days=3650)).isoformat()),))
    assert ("COOLING_OFF", "JP") not in pairs(check(number, at, state=cleared))


def test_spain_across_the_october_clock_change() -> None:
    """Friday 23 October 20:30 Madrid: closed at the weekend; the clocks go back on Sunday
    25 October, so Monday 10:00 Madrid (09:00 Canary) is 09:00Z, not 08:00Z."""
    number, zone = NUMBERS["ES"]
    held = NumberState(consents=(consent(number, "express"),))
    result = check(number, local(zone, "2026-10-23 21:30"), state=held)
    assert ("QUIET_HOURS", "ES") in pairs(result)
    assert result.next_allowed_at == utc("2026-10-26T09:00:00Z")


# ----------------------------------------------------------------- fixes to CA and FR
def test_canada_prerecorded_calls_need_express_consent_even_with_a_business_relationship() -> None:
    number = "+14162345678"
    at = local("America/Toronto", "2026-06-16 12:00")
    purchase = NumberState(history=(event("purchase", "2026-05-01T12:00:00Z"),))
    assert ("NO_CONSENT", "CA") in pairs(check(number, at, state=purchase, dial_mode="prerecorded"))
    assert check(number, at, state=purchase).allowed  # a live call with the EBR is fine
    held = NumberState(consents=(consent(number, "express"),))
    assert check(number, at, state=held, dial_mode="prerecorded").allowed


@pytest.mark.parametrize("wall", ["2026-06-16 11:00", "2026-09-15 11:00"])
def test_france_automated_calls_need_consent_before_and_after_the_opt_in(wall: str) -> None:
    number = "+33612345678"
    at = local("Europe/Paris", wall)
    contract = NumberState(history=(event("contract_start", "2026-01-01T12:00:00Z"),))
    result = check(number, at, state=contract, dial_mode="prerecorded")
    assert ("NO_CONSENT", "FR") in pairs(result)
    assert check(number, at, state=contract).allowed  # a live call under a contract is fine
