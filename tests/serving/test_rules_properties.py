"""Property tests: more adverse information never turns a withhold into an allow.

Adding a DNC entry, a registry listing, a complaint or an earlier contact can only add
reasons (RULES.md convention 6: rules only withhold).
"""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.schema import REGISTRIES, DncEntry
from serving.rules.engine import evaluate
from serving.state import HistoryEvent, NumberState
from tests.serving.test_rules_support import contact, fresh_world, rulebook, utc

NUMBERS = [
    "+12122345678", "+13052134567", "+12255550123", "+15125550123", "+17012010123",
    "+14162345678", "+33612345678", "+447400123456", "+61412345678", "+61291234567",
    "+4915123456789", "+8613123456789", "+34612345678", "+441481712345", "+18005550123",
]  # fmt: skip
START = utc("2026-01-01T00:00:00Z")
SPAN_MINUTES = 365 * 24 * 60

instants = st.integers(0, SPAN_MINUTES).map(lambda m: START + dt.timedelta(minutes=m))
past = st.integers(1, 60 * 24 * 45)  # minutes before the contact, up to 45 days
contact_events = st.builds(
    lambda minutes, channel, outcome, subject: (minutes, channel, outcome, subject),
    past,
    st.sampled_from(["call", "sms"]),
    st.sampled_from(["answered", "no_answer", "abandoned", "amd", "voicemail", "delivered"]),
    st.sampled_from(["a", "b"]),
)
other_events = st.tuples(
    past, st.sampled_from(["purchase", "inquiry", "refusal", "contract_start", "complaint"])
)

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def _state(at: dt.datetime, contacts: list, others: list, listed: set[str]) -> NumberState:
    events = [
        HistoryEvent(ts=at - dt.timedelta(minutes=m), kind="contact", channel=channel,
                     purpose="marketing", subject=subject, outcome=outcome)
        for m, channel, outcome, subject in contacts
    ] + [HistoryEvent(ts=at - dt.timedelta(minutes=m), kind=kind) for m, kind in others]  # fmt: skip
    return NumberState(
        history=tuple(sorted(events, key=lambda e: e.ts)), registries=frozenset(listed)
    )


def _withheld(
    number: str, at: dt.datetime, channel: str, state: NumberState, purpose: str = "marketing"
) -> bool:
    planned = contact(number, at, channel, subject="a", purpose=purpose)
    return not evaluate(planned, state, fresh_world(at), rulebook()).allowed


scenario = st.tuples(
    st.sampled_from(NUMBERS),
    instants,
    st.sampled_from(["call", "sms"]),
    st.lists(contact_events, max_size=6),
    st.lists(other_events, max_size=3),
    st.sets(st.sampled_from(REGISTRIES), max_size=2),
)


dnc_entries = st.lists(
    st.tuples(
        past,
        st.sampled_from(["add", "remove"]),
        st.sampled_from(["all", "call", "sms"]),
        st.sampled_from(["do_not_contact", "not_interested"]),
    ),
    max_size=3,
)


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
    number, at, channel, contacts, others, listed = case

    def entry(minutes: int, action: str, scope: str, category: str) -> DncEntry:
        return DncEntry(number=number, action=action, scope=scope, category=category,
                        added_at=at - dt.timedelta(minutes=minutes))  # fmt: skip

    before = sorted((entry(*e) for e in existing), key=lambda d: d.added_at)
    state = _state(at, contacts, others, listed)
    state = NumberState(history=state.history, registries=state.registries, dnc=tuple(before))
    if not _withheld(number, at, channel, state, purpose):
        return
    minutes, scope, category = added
    after = sorted([*before, entry(minutes, "add", scope, category)], key=lambda d: d.added_at)
    more = NumberState(history=state.history, registries=state.registries, dnc=tuple(after))
    assert _withheld(number, at, channel, more, purpose)


@PROPERTY_SETTINGS
@given(scenario, st.sampled_from(REGISTRIES))
def test_adding_a_registry_listing_never_allows(case: tuple, registry: str) -> None:
    number, at, channel, contacts, others, listed = case
    state = _state(at, contacts, others, listed)
    if _withheld(number, at, channel, state):
        assert _withheld(number, at, channel, _state(at, contacts, others, listed | {registry}))


@PROPERTY_SETTINGS
@given(scenario, past)
def test_adding_a_complaint_never_allows(case: tuple, minutes: int) -> None:
    number, at, channel, contacts, others, listed = case
    state = _state(at, contacts, others, listed)
    if _withheld(number, at, channel, state):
        more = _state(at, contacts, [*others, (minutes, "complaint")], listed)
        assert _withheld(number, at, channel, more)


@PROPERTY_SETTINGS
@given(scenario, contact_events)
def test_adding_an_earlier_contact_never_allows(case: tuple, extra: tuple) -> None:
    number, at, channel, contacts, others, listed = case
    state = _state(at, contacts, others, listed)
    if _withheld(number, at, channel, state):
        assert _withheld(number, at, channel, _state(at, [*contacts, extra], others, listed))


@PROPERTY_SETTINGS
@given(scenario)
def test_next_allowed_at_is_allowed_and_later(case: tuple) -> None:
    """When given, next_allowed_at is after ``at`` and the contact passes then."""
    number, at, channel, contacts, others, listed = case
    state = _state(at, contacts, others, listed)
    planned = contact(number, at, channel, subject="a")
    result = evaluate(planned, state, fresh_world(at), rulebook())
    if result.next_allowed_at is None:
        return
    assert result.next_allowed_at > at
    assert result.next_allowed_at <= at + dt.timedelta(days=30)
    later = contact(number, result.next_allowed_at, channel, subject="a")
    # History stays "as of at": events are all before at, so they are before the later instant.
    assert evaluate(later, state, fresh_world(later.at), rulebook()).allowed
