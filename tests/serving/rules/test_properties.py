"""Property tests: more adverse information never turns a withhold into an allow.

Adding a DNC entry, a registry listing, a complaint or an earlier contact can only add
reasons (docs/rules.md, rule 6 of "How the rules are applied": rules only withhold). Each property checks more than the
implication, on every example (so none is vacuous when the base case is allowed): the
reason codes after are a superset of those before, and ``next_allowed_at`` never moves
earlier (an allow instant after would be an allow instant before). 40-80 examples each;
the whole file runs in a few seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from features.schema import REGISTRIES, DncEntry
from serving.domain.state import HistoryEvent, NumberState
from serving.rules import Evaluation, evaluate
from tests.support.rules import (
    _consents,
    _state,
    contact,
    contact_events,
    dnc_entries,
    fresh_world,
    past,
    rulebook,
    scenario,
)

PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _evaluate(
    number: str, at: dt.datetime, channel: str, state: NumberState, purpose: str = "marketing"
) -> Evaluation:
    planned = contact(number, at, channel, subject="a", purpose=purpose)
    return evaluate(planned, state, fresh_world(at), rulebook())


def _withheld(
    number: str, at: dt.datetime, channel: str, state: NumberState, purpose: str = "marketing"
) -> bool:
    return not _evaluate(number, at, channel, state, purpose).allowed


def _never_softer(before: Evaluation, after: Evaluation) -> None:
    """More adverse facts: every code still fires, and the contact is not allowed sooner."""
    hypothesis_event("base withheld" if before.reasons else "base allowed")
    assert set(after.codes) >= set(before.codes), (before.codes, after.codes)
    if not before.allowed:
        assert not after.allowed
        if after.next_allowed_at is not None:
            assert before.next_allowed_at is not None
            assert after.next_allowed_at >= before.next_allowed_at


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario,
    dnc_entries,
    st.tuples(past, st.sampled_from(["all", "call", "sms"]),
              st.sampled_from(["do_not_contact", "not_interested"])),
    st.sampled_from(["marketing", "service"]),
)  # fmt: skip
def test_adding_a_dnc_entry_never_allows(
    case: tuple, existing: list, added: tuple, purpose: str
) -> None:
    """On top of any earlier adds and removals, of any scope and category (a later
    ``not_interested`` must not soften an earlier ``do_not_contact``)."""
    number, at, channel, contacts, others, listed, kind = case

    def entry(minutes: int, action: str, scope: str, category: str) -> DncEntry:
        return DncEntry(number=number, action=action, scope=scope, category=category,
                        added_at=at - dt.timedelta(minutes=minutes))  # fmt: skip

    before = sorted((entry(*e) for e in existing), key=lambda d: d.added_at)
    base = _state(at, contacts, others, listed, _consents(number, at, kind))
    state = replace(base, dnc=tuple(before))
    minutes, scope, category = added
    after = sorted([*before, entry(minutes, "add", scope, category)], key=lambda d: d.added_at)
    more = replace(base, dnc=tuple(after))
    _never_softer(
        _evaluate(number, at, channel, state, purpose),
        _evaluate(number, at, channel, more, purpose),
    )


@PROPERTY_SETTINGS
@given(scenario, st.sampled_from(REGISTRIES))
def test_adding_a_registry_listing_never_allows(case: tuple, registry: str) -> None:
    number, at, channel, contacts, others, listed, kind = case
    consents = _consents(number, at, kind)
    state = _state(at, contacts, others, listed, consents)
    more = _state(at, contacts, others, listed | {registry}, consents)
    _never_softer(_evaluate(number, at, channel, state), _evaluate(number, at, channel, more))


@PROPERTY_SETTINGS
@given(scenario, past)
def test_adding_a_complaint_never_allows(case: tuple, minutes: int) -> None:
    number, at, channel, contacts, others, listed, kind = case
    state = _state(at, contacts, others, listed, _consents(number, at, kind))
    complaint = HistoryEvent(ts=at - dt.timedelta(minutes=minutes), kind="complaint")
    more = replace(state, history=tuple(sorted([*state.history, complaint], key=lambda e: e.ts)))
    _never_softer(_evaluate(number, at, channel, state), _evaluate(number, at, channel, more))


@PROPERTY_SETTINGS
@given(scenario, contact_events)
def test_adding_an_earlier_contact_never_allows(case: tuple, extra: tuple) -> None:
    number, at, channel, contacts, others, listed, kind = case
    consents = _consents(number, at, kind)
    state = _state(at, contacts, others, listed, consents)
    more = _state(at, [*contacts, extra], others, listed, consents)
    _never_softer(_evaluate(number, at, channel, state), _evaluate(number, at, channel, more))


@PROPERTY_SETTINGS
@given(scenario)
def test_next_allowed_at_is_allowed_and_later(case: tuple) -> None:
    """When given, next_allowed_at is after ``at`` and the contact passes then."""
    number, at, channel, contacts, others, listed, kind = case
    state = _state(at, contacts, others, listed, _consents(number, at, kind))
    planned = contact(number, at, channel, subject="a")
    result = evaluate(planned, state, fresh_world(at), rulebook())
    if result.next_allowed_at is None:
        return
    assert result.next_allowed_at > at
    assert result.next_allowed_at <= at + dt.timedelta(days=30)
    later = contact(number, result.next_allowed_at, channel, subject="a")
    # History stays "as of at": events are all before at, so they are before the later instant.
    assert evaluate(later, state, fresh_world(later.at), rulebook()).allowed
