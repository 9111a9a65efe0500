"""Shared builders for the rule tests (no tests here): contacts, states, worlds, instants,
and the hypothesis scenarios of the property, memo and contract tests (``tests/serving/rules/``:
``test_properties.py``, ``test_memos.py``, ``test_contract.py``).

Numbers come from docs/rules.md examples, libphonenumber example numbers or the fictional
555-01xx range, always through ``features.phone.normalize`` (real libphonenumber data).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import replace
from typing import Any

from hypothesis import strategies as st

from features.phone import normalize
from features.schema import REGISTRIES, BlockedPeriod, Consent, DncEntry, Preference
from serving.domain.state import Contact, HistoryEvent, NumberState, WorldState
from serving.rules import Evaluation, RuleBook, evaluate, load_rulebook


@functools.cache
def rulebook() -> RuleBook:
    """The packaged packs, compiled once per test session."""
    return load_rulebook()


def utc(text: str) -> dt.datetime:
    """``"2026-06-16T11:59Z"`` → aware UTC datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def fresh_world(at: dt.datetime, **overrides: Any) -> WorldState:
    """Every registry snapshot one day old (well within every re-scrub limit)."""
    snapshots = {name: at - dt.timedelta(days=1) for name in REGISTRIES}
    snapshots.update(overrides.pop("snapshots", {}))
    return WorldState(registry_snapshots=snapshots, **overrides)


def contact(number: str, at: str | dt.datetime, channel: str = "call", **fields: Any) -> Contact:
    instant = utc(at) if isinstance(at, str) else at
    return Contact(number=normalize(number), channel=channel, at=instant, **fields)


def check(
    number: str,
    at: str | dt.datetime,
    channel: str = "call",
    state: NumberState | None = None,
    world: WorldState | None = None,
    **fields: Any,
) -> Evaluation:
    """Evaluate one contact with a fresh world and an empty ("cold") state by default."""
    planned = contact(number, at, channel, **fields)
    return evaluate(planned, state or NumberState(), world or fresh_world(planned.at), rulebook())


def pairs(evaluation: Evaluation) -> set[tuple[str, str]]:
    """``{(code, jurisdiction), ...}`` of the reasons that fired."""
    return {(reason.code, reason.jurisdiction) for reason in evaluation.reasons}


def calls(*timestamps: str, outcome: str = "answered", **fields: Any) -> tuple[HistoryEvent, ...]:
    """Past outbound calls at the given instants (sorted)."""
    return tuple(
        HistoryEvent(ts=utc(ts), kind="contact", channel=fields.get("channel", "call"),
                     purpose=fields.get("purpose", "marketing"), subject=fields.get("subject"),
                     outcome=outcome)
        for ts in sorted(timestamps)
    )  # fmt: skip


def event(kind: str, ts: str, **fields: Any) -> HistoryEvent:
    return HistoryEvent(ts=utc(ts), kind=kind, **fields)


def consent(number: str, ctype: str = "written", channel: str = "any", **fields: Any) -> Consent:
    fields.setdefault("granted_at", utc("2026-01-01T00:00:00Z"))
    return Consent(number=number, type=ctype, channel=channel, **fields)


def dnc(number: str, ts: str, action: str = "add", **fields: Any) -> DncEntry:
    return DncEntry(number=number, action=action, added_at=utc(ts), **fields)


def local(zone: str, wall_clock: str) -> dt.datetime:
    """A wall-clock time in ``zone`` (``"2026-06-16 07:59"``) as a UTC instant."""
    from zoneinfo import ZoneInfo

    naive = dt.datetime.fromisoformat(wall_clock)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def minute_before(hhmm: str) -> str:
    """``"08:00"`` → ``"07:59"``: the last minute before a window boundary."""
    hours, minutes = map(int, hhmm.split(":"))
    total = hours * 60 + minutes - 1
    return f"{total // 60:02d}:{total % 60:02d}"


# ---------------------------------------------------------------- property-test scenarios
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


def _state(
    at: dt.datetime, contacts: list, others: list, listed: set[str], consents: tuple = ()
) -> NumberState:
    events = [
        HistoryEvent(ts=at - dt.timedelta(minutes=m), kind="contact", channel=channel,
                     purpose="marketing", subject=subject, outcome=outcome)
        for m, channel, outcome, subject in contacts
    ] + [HistoryEvent(ts=at - dt.timedelta(minutes=m), kind=kind) for m, kind in others]  # fmt: skip
    return NumberState(
        history=tuple(sorted(events, key=lambda e: e.ts)),
        registries=frozenset(listed),
        consents=consents,
    )


scenario = st.tuples(
    st.sampled_from(NUMBERS),
    instants,
    st.sampled_from(["call", "sms"]),
    st.lists(contact_events, max_size=6),
    st.lists(other_events, max_size=3),
    st.sets(st.sampled_from(REGISTRIES), max_size=2),
    # none, or a documented consent (so SMS and DE/FR contacts are not all NO_CONSENT)
    st.sampled_from(["", "express", "written"]),
)


def _consents(number: str, at: dt.datetime, kind: str) -> tuple[Consent, ...]:
    if not kind:
        return ()
    granted = at - dt.timedelta(days=100)
    return (Consent(number=number, type=kind, granted_at=granted, evidence="form"),)


dnc_entries = st.lists(
    st.tuples(
        past,
        st.sampled_from(["add", "remove"]),
        st.sampled_from(["all", "call", "sms"]),
        st.sampled_from(["do_not_contact", "not_interested"]),
    ),
    max_size=3,
)


preferences = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from([None, 0, 1, 3]),
        st.booleans(),
        st.sampled_from([None, ("21:00", "08:00"), ("12:00", "13:30")]),
        st.sampled_from([None, "sms", "call|sms"]),
        st.sampled_from([-60, 600]),  # updated after the contact (ignored) or before it
    ),
)
blocked = st.lists(
    st.tuples(st.sampled_from(["US", "US-FL", "FR", "GB", "AU", "CA-ON"]),
              st.integers(-48, 48), st.integers(1, 72)),
    max_size=2,
)  # fmt: skip
extras = st.tuples(
    dnc_entries,
    preferences,
    blocked,
    st.lists(st.tuples(st.integers(1, 60 * 24 * 30), st.sampled_from(["opt_out", "opt_in"])),
             max_size=2),
    st.sampled_from(["marketing", "service", "opt_out_confirmation"]),
    st.sampled_from([None, "US-FL", "FR", "AU-WA"]),
    st.sampled_from(["manual", "predictive", "prerecorded"]),
)  # fmt: skip


def _case(case: tuple, extra: tuple, at: dt.datetime) -> tuple:
    """(contact, state, world) of a property-test scenario, moved to ``at``, plus extras."""
    number, _, channel, contacts, others, listed, kind = case
    dncs, preference, periods, opt_events, purpose, address, mode = extra
    state: NumberState = _state(at, contacts, others, listed, _consents(number, at, kind))
    revocations = [HistoryEvent(ts=at - dt.timedelta(minutes=m), kind=k) for m, k in opt_events]
    entries = [
        DncEntry(number=number, action=action, scope=scope, category=category,
                 added_at=at - dt.timedelta(minutes=minutes))
        for minutes, action, scope, category in dncs
    ]  # fmt: skip
    liked = None
    if preference is not None:
        most, urgent, quiet, channels, minutes = preference
        liked = Preference(number=number, max_per_week=most, urgent_only=urgent,
                           quiet_start=quiet and quiet[0], quiet_end=quiet and quiet[1],
                           channels=channels, updated_at=at - dt.timedelta(minutes=minutes))  # fmt: skip
    state = replace(
        state,
        history=tuple(sorted([*state.history, *revocations], key=lambda e: e.ts)),
        dnc=tuple(sorted(entries, key=lambda d: d.added_at)),
        preference=liked,
    )
    world = fresh_world(at, blocked_periods=tuple(
        BlockedPeriod(region=region, start=at + dt.timedelta(hours=start),
                      end=at + dt.timedelta(hours=start + hours), reason="storm")
        for region, start, hours in periods
    ))  # fmt: skip
    planned = contact(number, at, channel, subject="a", purpose=purpose, address_region=address,
                      dial_mode=mode)  # fmt: skip
    return planned, state, world


#: One number per pack family: US (NY, FL state pack), CA, FR, GB, AU, DE, CN, toll-free.
SAMPLE = ["+12122345678", "+13052134567", "+14162345678", "+33612345678", "+447400123456",
          "+61412345678", "+4915123456789", "+8613123456789", "+18005550123"]  # fmt: skip
OTHER_KINDS = ("purchase", "inquiry", "refusal", "complaint", "contract_start", "opt_in")
