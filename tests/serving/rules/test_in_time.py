"""Rules in time: ``effective_from`` / ``effective_until`` (dates, both inclusive) are read in
the recipient's zones — in force from local midnight of the first day in the earliest zone
to local midnight after the last day in the latest one — and ``next_allowed_at`` respects
them (docs/rules.md, "How the rules are applied"). Boundaries are checked to the second."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from serving.domain.state import NumberState
from serving.rules import evaluate, load_rulebook
from tests.support.rules import check, consent, contact, event, fresh_world, local, pairs, utc

SECOND = dt.timedelta(seconds=1)
PARIS = "Europe/Paris"
FR_MOBILE = "+33612345678"
REUNION = (
    "+262692123456"  # libphonenumber example; Indian/Mayotte (UTC+3) and Indian/Reunion (UTC+4)
)
BLOCTEL = NumberState(registries=frozenset({"FR_BLOCTEL"}))


def _codes(number: str, at: dt.datetime, state: NumberState | None = None, **kw) -> set:
    return pairs(check(number, at, state=state, **kw))


# ----------------------------------------------------------------- France, 11 August 2026
@pytest.mark.parametrize(
    ("number", "midnight", "label"),
    [
        (FR_MOBILE, local(PARIS, "2026-08-11 00:00"), "Paris"),
        # overseas: the earliest of the number's zones (Réunion, UTC+4) decides
        (REUNION, utc("2026-08-10T20:00:00Z"), "Reunion/Mayotte"),
    ],
)
def test_france_opt_in_starts_at_local_midnight(
    number: str, midnight: dt.datetime, label: str
) -> None:
    assert ("NO_CONSENT", "FR") not in _codes(number, midnight - SECOND), label
    assert ("NO_CONSENT", "FR") in _codes(number, midnight), label
    held = NumberState(consents=(consent(number, "express", channel="call"),))
    assert ("NO_CONSENT", "FR") not in _codes(number, midnight, held), label


def test_bloctel_lapses_after_10_august_2026() -> None:
    end = local(PARIS, "2026-08-11 00:00")
    assert ("REGISTRY_LISTED", "FR") in _codes(FR_MOBILE, end - SECOND, BLOCTEL)
    assert ("REGISTRY_LISTED", "FR") not in _codes(FR_MOBILE, end, BLOCTEL)


def test_a_bloctel_snapshot_no_longer_refreshed_does_not_withhold_after_the_lapse() -> None:
    at = local(PARIS, "2026-10-06 11:00")  # Tuesday, inside the window
    old = fresh_world(at, snapshots={"FR_BLOCTEL": utc("2026-08-09T00:00:00Z")})
    held = NumberState(consents=(consent(FR_MOBILE, "express", channel="call"),))
    assert check(FR_MOBILE, at, state=held, world=old).allowed
    # the same staleness before the lapse withholds every French call
    before = local(PARIS, "2026-07-07 11:00")
    stale = fresh_world(before, snapshots={"FR_BLOCTEL": before - dt.timedelta(days=30, seconds=1)})
    assert ("REGISTRY_STALE", "FR") in pairs(check(FR_MOBILE, before, world=stale))
    edge = fresh_world(before, snapshots={"FR_BLOCTEL": before - dt.timedelta(days=30)})
    assert ("REGISTRY_STALE", "FR") not in pairs(check(FR_MOBILE, before, world=edge))


def test_next_allowed_at_checks_a_rule_that_starts_while_waiting() -> None:
    """Monday 10 August 2026, 20:30 Paris: the window reopens Tuesday 10:00, but the opt-in
    rule is in force by then, so a cold number has no next allowed instant."""
    at = local(PARIS, "2026-08-10 20:30")
    cold = check(FR_MOBILE, at)
    assert pairs(cold) == {("QUIET_HOURS", "FR")}
    assert cold.next_allowed_at is None
    held = NumberState(consents=(consent(FR_MOBILE, "express", channel="call"),))
    consented = check(FR_MOBILE, at, state=held)
    assert consented.next_allowed_at == local(PARIS, "2026-08-11 10:00")


def test_a_listed_number_waits_for_nothing_before_the_lapse() -> None:
    """Bloctel's REGISTRY_LISTED stays permanent (next_allowed_at null) even though the rule
    lapses: whether the call could go ahead then depends on the opt-in rule."""
    result = check(FR_MOBILE, local(PARIS, "2026-08-10 11:00"), state=BLOCTEL)
    assert pairs(result) == {("REGISTRY_LISTED", "FR")}
    assert result.next_allowed_at is None


# ----------------------------------------------------------------- a time-based dated rule
DATED_WINDOW = """\
jurisdiction: MX
version: "0.1"
title: test pack with a dated window
legal: true
reviewed_at: 2026-12-01
applies_to:
  regions: [MX]
sources:
  - cite: test
rules:
  - id: evening-ban
    kind: window
    marker: C
    cite: test
    url: https://example.org/test
    effective_from: 2026-06-15
    effective_until: 2026-06-16
    days:
      mon-sun: [["09:00", "12:00"]]
"""


@pytest.fixture(scope="module")
def dated_book(tmp_path_factory: pytest.TempPathFactory):
    directory = Path(tmp_path_factory.mktemp("packs"))
    shutil.copytree(Path(load_rulebook().directory), directory, dirs_exist_ok=True)
    (directory / "MX.yaml").write_text(DATED_WINDOW, encoding="utf-8")
    return load_rulebook(directory)


def _mx(at: dt.datetime, book) -> tuple[set, dt.datetime | None]:
    planned = contact("+525512345678", at)
    held = NumberState(consents=(consent("+525512345678", "express"),))
    result = evaluate(planned, held, fresh_world(at), book)
    return {(r.code, r.rule_id) for r in result.reasons}, result.next_allowed_at


def test_a_dated_window_is_off_outside_its_dates_and_its_reason_ends_when_it_lapses(
    dated_book,
) -> None:
    zone = "America/Mexico_City"
    rule = ("QUIET_HOURS", "MX/evening-ban")
    # the day before: not in force, to the second
    assert rule not in _mx(local(zone, "2026-06-14 23:59:59"), dated_book)[0]
    assert rule in _mx(local(zone, "2026-06-15 00:00:00"), dated_book)[0]
    # Tuesday 16 June 13:00: the window would reopen Wednesday 09:00, but the rule lapses
    # at midnight: the reason lasts until then and the contact is allowed at midnight
    reasons, next_at = _mx(local(zone, "2026-06-16 13:00"), dated_book)
    assert rule in reasons
    assert next_at == local(zone, "2026-06-17 00:00")
    assert rule not in _mx(local(zone, "2026-06-17 00:00:00"), dated_book)[0]
    assert rule in _mx(local(zone, "2026-06-16 23:59:59"), dated_book)[0]


def test_dates_in_the_wrong_order_are_a_pack_error(tmp_path: Path) -> None:
    from serving.rules import RulePackError

    (tmp_path / "MX.yaml").write_text(
        DATED_WINDOW.replace("effective_until: 2026-06-16", "effective_until: 2026-06-14"),
        encoding="utf-8",
    )
    with pytest.raises(RulePackError, match="effective_until is before effective_from"):
        load_rulebook(tmp_path)


# ----------------------------------------------------------------- other dated rules
@pytest.mark.parametrize(
    ("number", "zone", "first_day", "channel", "pair", "state"),
    [
        # Connecticut: written consent for sales calls from 1 October 2023
        ("+12035550123", "America/New_York", "2023-10-01", "call", ("NO_CONSENT", "US-CT"), None),
        # Spain: prior consent for calls from 29 June 2023 (Madrid; Canary is an hour behind)
        ("+34612345678", "Europe/Madrid", "2023-06-29", "call", ("NO_CONSENT", "ES"), None),
        # Netherlands: opt-in for telemarketing calls from 1 July 2021
        ("+31612345678", "Europe/Amsterdam", "2021-07-01", "call", ("NO_CONSENT", "NL"), None),
        # Texas: the No-Call list covers texts from 1 September 2025 (a written consent
        # would exempt the number, so the text is cold: federal NO_CONSENT fires throughout)
        ("+15125550123", "America/Chicago", "2025-09-01", "sms", ("REGISTRY_LISTED", "US-TX"),
         "tx"),
        # El Paso (Mountain time): the rule starts at midnight there, an hour later in UTC
        ("+19155550123", "America/Denver", "2025-09-01", "sms", ("REGISTRY_LISTED", "US-TX"),
         "tx"),
        # Virginia: a text STOP honoured from 1 January 2026
        ("+18045550123", "America/New_York", "2026-01-01", "sms", ("CONSENT_REVOKED", "US-VA"),
         "va"),
    ],
)  # fmt: skip
def test_a_rule_starts_at_local_midnight_of_its_first_day(
    number: str, zone: str, first_day: str, channel: str, pair: tuple, state: str | None
) -> None:
    midnight = local(zone, f"{first_day} 00:00")
    held: NumberState | None = None
    if state == "tx":
        held = NumberState(registries=frozenset({"US_TX_DNC"}))
    elif state == "va":
        held = NumberState(history=(event("reply", "2020-01-01T00:00:00Z", text="STOP"),))
    before = _codes(number, midnight - SECOND, held, channel=channel)
    after = _codes(number, midnight, held, channel=channel)
    assert pair not in before
    assert pair in after


def test_a_zone_less_contact_reads_dates_at_the_widest(tmp_path: Path) -> None:
    """A toll-free number (no zone): a rule starts at UTC+14 midnight, so on 10 August 2026
    at 10:00Z, midnight of the 11th somewhere on Earth, the French opt-in already binds a
    contact whose address is unknown — here the FR consent rule via an address in France."""
    # a French address gives zones; the bounds without zones are checked directly
    book = load_rulebook()
    rule = next(r for p in book.packs if p.jurisdiction == "FR" for r in p.rules
                if r.spec.id == "consent-calls-from-2026-08-11")  # fmt: skip
    start, end = rule.in_force_between(())
    assert start == utc("2026-08-10T10:00:00Z")
    assert end == dt.datetime.max.replace(tzinfo=dt.UTC)
    bloctel = next(r for p in book.packs if p.jurisdiction == "FR" for r in p.rules
                   if r.spec.id == "bloctel")  # fmt: skip
    assert bloctel.in_force_between(())[1] == utc("2026-08-11T12:00:00Z")
