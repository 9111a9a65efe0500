"""State do-not-call lists (``US_<ST>_DNC``), Italy's RPO and Brazil's Não Me Perturbe: a
listed number withholds ``REGISTRY_LISTED`` with the list's jurisdiction; no snapshot, or one
older than the list's ``max_age`` (to the second), withholds ``REGISTRY_STALE`` for that
jurisdiction only; each list's exemptions at their boundaries."""

from __future__ import annotations

import datetime as dt

import pytest

from features.schema import REGISTRIES
from serving.domain.state import NumberState
from tests.support.rules import check, consent, event, fresh_world, local, pairs, utc

SECOND = dt.timedelta(seconds=1)
#: state → (fictional number in the state, its zone, the list's max_age in days)
STATE_LISTS = {
    "CO": ("+13035550123", "America/Denver", 31),
    "FL": ("+13055550123", "America/New_York", 92),
    "IN": ("+13175550123", "America/New_York", 92),
    "LA": ("+12255550123", "America/Chicago", 31),
    "MA": ("+16175550123", "America/New_York", 92),
    "MO": ("+13145550123", "America/Chicago", 31),
    "MS": ("+16015550123", "America/Chicago", 31),
    "OK": ("+14055550123", "America/Chicago", 31),
    "PA": ("+12155550123", "America/New_York", 92),
    "TN": ("+16155550123", "America/Chicago", 31),
    "TX": ("+15125550123", "America/Chicago", 92),
    "WY": ("+13075550123", "America/Denver", 31),
}  # fmt: skip
DAY = "2026-06-16 12:00"  # a Tuesday, inside every state's window


def test_the_twelve_state_lists_are_registries() -> None:
    assert {f"US_{state}_DNC" for state in STATE_LISTS} <= set(REGISTRIES)
    assert {"IT_RPO", "BR_NAO_ME_PERTURBE"} <= set(REGISTRIES)


@pytest.mark.parametrize("state", sorted(STATE_LISTS))
def test_a_listed_number_is_withheld_by_its_state(state: str) -> None:
    number, zone, _ = STATE_LISTS[state]
    at = local(zone, DAY)
    listed = NumberState(registries=frozenset({f"US_{state}_DNC"}))
    assert ("REGISTRY_LISTED", f"US-{state}") in pairs(check(number, at, state=listed))
    assert ("REGISTRY_LISTED", f"US-{state}") not in pairs(check(number, at))


@pytest.mark.parametrize("state", sorted(STATE_LISTS))
def test_a_state_list_on_another_state_does_not_matter(state: str) -> None:
    other = "NY"  # no list of its own
    listed = NumberState(registries=frozenset({f"US_{state}_DNC"}))
    assert check("+12125550123", local("America/New_York", DAY), state=listed).allowed, other


@pytest.mark.parametrize("state", sorted(STATE_LISTS))
def test_a_state_list_applies_by_address_region_too(state: str) -> None:
    listed = NumberState(registries=frozenset({f"US_{state}_DNC"}))
    # a New York number of someone living in the state: both zones must be in the windows
    result = check("+12125550123", local("America/New_York", DAY), state=listed,
                   address_region=f"US-{state}")  # fmt: skip
    assert ("REGISTRY_LISTED", f"US-{state}") in pairs(result)


@pytest.mark.parametrize("state", sorted(STATE_LISTS))
def test_no_snapshot_withholds_that_state_only(state: str) -> None:
    number, zone, _ = STATE_LISTS[state]
    at = local(zone, DAY)
    world = fresh_world(at)
    del world.registry_snapshots[f"US_{state}_DNC"]
    assert ("REGISTRY_STALE", f"US-{state}") in pairs(check(number, at, world=world))
    assert check("+12125550123", local("America/New_York", DAY), world=world).allowed


@pytest.mark.parametrize("state", sorted(STATE_LISTS))
def test_a_snapshot_is_stale_one_second_after_its_max_age(state: str) -> None:
    number, zone, days = STATE_LISTS[state]
    at = local(zone, DAY)
    oldest = fresh_world(at, snapshots={f"US_{state}_DNC": at - dt.timedelta(days=days)})
    assert ("REGISTRY_STALE", f"US-{state}") not in pairs(check(number, at, world=oldest))
    older = fresh_world(at, snapshots={f"US_{state}_DNC": at - dt.timedelta(days=days) - SECOND})
    assert ("REGISTRY_STALE", f"US-{state}") in pairs(check(number, at, world=older))


@pytest.mark.parametrize("state", sorted(STATE_LISTS))
def test_a_state_list_covers_texts(state: str) -> None:
    number, zone, _ = STATE_LISTS[state]
    listed = NumberState(registries=frozenset({f"US_{state}_DNC"}))
    result = check(number, local(zone, DAY), "sms", state=listed)
    assert ("REGISTRY_LISTED", f"US-{state}") in pairs(result)


@pytest.mark.parametrize(
    ("state", "exempt"),
    [(state, True) for state in sorted(STATE_LISTS)],
)
def test_written_consent_exempts_from_every_state_list(state: str, exempt: bool) -> None:
    number, zone, _ = STATE_LISTS[state]
    state_ = NumberState(
        registries=frozenset({f"US_{state}_DNC"}), consents=(consent(number, "written"),)
    )
    fired = ("REGISTRY_LISTED", f"US-{state}") in pairs(
        check(number, local(zone, DAY), state=state_)
    )
    assert fired is not exempt


def test_pennsylvania_business_relationship_lasts_12_months_to_the_second() -> None:
    number, zone, _ = STATE_LISTS["PA"]
    at = local(zone, DAY)
    listed = frozenset({"US_PA_DNC"})
    purchase = local(zone, "2025-06-16 12:00")  # 12 calendar months before, local clock
    within = NumberState(registries=listed,
                         history=(event("purchase", (purchase + SECOND).isoformat()),))  # fmt: skip
    ended = NumberState(registries=listed, history=(event("purchase", purchase.isoformat()),))
    assert ("REGISTRY_LISTED", "US-PA") not in pairs(check(number, at, state=within))
    assert ("REGISTRY_LISTED", "US-PA") in pairs(check(number, at, state=ended))
    # but the national list's 18 months do not carry over to the state list
    assert ("REGISTRY_LISTED", "US-PA") in pairs(check(number, at, state=NumberState(
        registries=listed, history=(event("purchase", "2025-03-01T12:00:00Z"),))))  # fmt: skip


def test_indiana_has_no_business_relationship_exemption_but_a_contract_counts() -> None:
    number, zone, _ = STATE_LISTS["IN"]
    at = local(zone, DAY)
    listed = frozenset({"US_IN_DNC"})
    recent = NumberState(registries=listed, history=(event("purchase", "2026-06-01T12:00:00Z"),))
    assert ("REGISTRY_LISTED", "US-IN") in pairs(check(number, at, state=recent))
    contract = NumberState(registries=listed,
                           history=(event("contract_start", "2026-01-01T12:00:00Z"),))  # fmt: skip
    assert ("REGISTRY_LISTED", "US-IN") not in pairs(check(number, at, state=contract))
    ended = NumberState(registries=listed, history=(
        event("contract_start", "2026-01-01T12:00:00Z"),
        event("contract_end", "2026-06-16T15:59:59Z"),
    ))  # fmt: skip
    assert ("REGISTRY_LISTED", "US-IN") in pairs(check(number, at, state=ended))
    express = NumberState(registries=listed, consents=(consent(number, "express"),))
    assert ("REGISTRY_LISTED", "US-IN") not in pairs(check(number, at, state=express))


# ----------------------------------------------------------------------- Italy, Brazil
IT_MOBILE = "+393123456789"
ROME = "Europe/Rome"


@pytest.mark.parametrize(
    ("granted", "listed_withholds"),
    [
        (dt.timedelta(0), True),  # granted at the snapshot instant: not after it
        (-SECOND, True),  # before the snapshot that lists the number: cancelled
        (SECOND, False),  # after it: counts
    ],
)
def test_the_rpo_cancels_consents_granted_before_the_snapshot(
    granted: dt.timedelta, listed_withholds: bool
) -> None:
    at = local(ROME, DAY)
    snapshot = at - dt.timedelta(days=5)
    world = fresh_world(at, snapshots={"IT_RPO": snapshot})
    state = NumberState(
        registries=frozenset({"IT_RPO"}),
        consents=(consent(IT_MOBILE, "express", granted_at=snapshot + granted),),
    )
    result = pairs(check(IT_MOBILE, at, state=state, world=world))
    assert (("REGISTRY_LISTED", "IT") in result) is listed_withholds
    assert ("NO_CONSENT", "IT") not in result  # the consent itself is valid for the pack


def test_the_rpo_exempts_a_contract_in_force_and_goes_stale_after_30_days() -> None:
    at = local(ROME, DAY)
    contract = NumberState(registries=frozenset({"IT_RPO"}),
                           history=(event("contract_start", "2026-01-01T12:00:00Z"),),
                           consents=(consent(IT_MOBILE, "express"),))  # fmt: skip
    assert check(IT_MOBILE, at, state=contract).allowed
    edge = fresh_world(at, snapshots={"IT_RPO": at - dt.timedelta(days=30)})
    past = fresh_world(at, snapshots={"IT_RPO": at - dt.timedelta(days=30) - SECOND})
    assert ("REGISTRY_STALE", "IT") not in pairs(check(IT_MOBILE, at, state=contract, world=edge))
    assert ("REGISTRY_STALE", "IT") in pairs(check(IT_MOBILE, at, state=contract, world=past))


def test_nao_me_perturbe_withholds_even_with_consent() -> None:
    number = "+5511961234567"
    at = local("America/Sao_Paulo", DAY)
    held = NumberState(consents=(consent(number, "express"),))
    assert check(number, at, state=held).allowed
    listed = NumberState(registries=frozenset({"BR_NAO_ME_PERTURBE"}), consents=held.consents)
    assert pairs(check(number, at, state=listed)) == {("REGISTRY_LISTED", "BR")}
    world = fresh_world(at)
    del world.registry_snapshots["BR_NAO_ME_PERTURBE"]
    assert pairs(check(number, at, state=held, world=world)) == {("REGISTRY_STALE", "BR")}


def test_registry_reasons_name_the_state_and_are_legal() -> None:
    number, zone, _ = STATE_LISTS["TX"]
    listed = NumberState(registries=frozenset({"US_TX_DNC"}))
    reason = next(r for r in check(number, local(zone, DAY), state=listed).reasons
                  if r.code == "REGISTRY_LISTED")  # fmt: skip
    assert (reason.jurisdiction, reason.rule_id, reason.legal) == ("US-TX", "US-TX/state-dnc", True)
    assert reason.until is None
    assert utc("2026-06-16T17:00:00Z") == local(zone, DAY)
