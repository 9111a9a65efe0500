"""Reads from the store: states, world state, frames, and rules fed through them, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import random

from features.schema import BlockedPeriod, Consent, Event, Preference
from serving.store import (
    MIN_RETENTION_DAYS,
    Store,
)
from tests.support.store import AT, FL, NY, contact, fictional


def test_load_states_is_batched_and_matches_a_per_number_reading(store: Store) -> None:
    rng = random.Random(11)
    numbers = fictional(40)
    kinds = ["contact", "contact", "contact", "complaint", "opt_out", "purchase", "refusal"]
    events: list[Event] = []
    for n_i, number in enumerate(numbers):
        for j in range(rng.randint(0, 12)):
            kind = rng.choice(kinds)
            ts = AT - dt.timedelta(days=rng.uniform(-20, 900))
            extra = {"channel": rng.choice(["call", "sms"])} if kind == "contact" else {}
            events.append(Event(event_id=f"{n_i}-{j}", number=number, ts=ts, kind=kind, **extra))
    # Boundary events on the first number: exactly at `at`, exactly at the lookback edge.
    edge = AT - dt.timedelta(days=400)
    events += [
        contact("at-at", numbers[0], AT),
        contact("at-edge", numbers[0], edge),
        contact("before-edge", numbers[0], edge - dt.timedelta(microseconds=1)),
    ]
    assert store.record_events(events).accepted == len(events)
    store.record_consent(
        [
            Consent(
                number=numbers[1],
                type="express",
                granted_at=AT - dt.timedelta(days=5),
                revoked_at=AT + dt.timedelta(days=1),
            ),
            Consent(number=numbers[1], type="written", granted_at=AT + dt.timedelta(days=1)),
        ]
    )
    store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=3), numbers[:5])
    store.import_registry("GB_TPS", AT - dt.timedelta(days=3), [numbers[4], "+447400123456"])
    states = store.load_states(numbers + ["+447400123456"], AT)
    assert set(states) == set(numbers) | {"+447400123456"}
    for number in numbers:
        mine = [e for e in events if e.number == number]
        expected = sorted(
            (e.ts, e.kind)
            for e in mine
            if e.ts <= AT
            and (e.ts >= edge or e.kind in ("complaint", "opt_out", "purchase", "refusal"))
        )
        assert [(h.ts, h.kind) for h in states[number].history] == expected, number
    history0 = {h.ts for h in states[numbers[0]].history}
    assert (
        AT in history0 and edge in history0 and edge - dt.timedelta(microseconds=1) not in history0
    )
    # Only the consent granted by `at`, its later revocation not yet visible.
    assert [(c.type, c.revoked_at) for c in states[numbers[1]].consents] == [("express", None)]
    assert states[numbers[4]].registries == {"US_NATIONAL_DNC", "GB_TPS"}
    assert states[numbers[5]].registries == frozenset()
    assert states["+447400123456"].registries == {"GB_TPS"}


def test_world_state_and_preferences(store: Store) -> None:
    store.import_registry("CA_DNCL", AT - dt.timedelta(days=10), ["+14162345678"])
    store.block_period(
        [
            BlockedPeriod(
                region="US-LA",
                start=AT - dt.timedelta(days=3),
                end=AT - dt.timedelta(days=1),
                reason="past",
            ),
            BlockedPeriod(
                region="US-LA",
                start=AT - dt.timedelta(days=1),
                end=AT + dt.timedelta(days=1),
                reason="storm",
            ),
        ]
    )
    store.record_preferences(
        [
            Preference(number=NY, max_per_week=3, updated_at=AT - dt.timedelta(days=9)),
            Preference(number=NY, urgent_only=True, updated_at=AT - dt.timedelta(days=2)),
            Preference(number=NY, max_per_week=9, updated_at=AT + dt.timedelta(days=2)),
        ]
    )
    world = store.world_state(AT)
    assert world.registry_snapshots == {"CA_DNCL": AT - dt.timedelta(days=10)}
    assert [p.reason for p in world.blocked_periods] == ["storm"]
    pref = store.load_states([NY], AT)[NY].preference
    assert pref is not None and pref.urgent_only and pref.max_per_week is None


def test_history_and_consent_frames(store: Store) -> None:
    store.record_events(
        [
            contact(
                "h1",
                NY,
                AT - dt.timedelta(days=2),
                purpose="marketing",
                outcome="answered",
                duration_s=42.0,
            ),
            Event(
                event_id="h2", number=NY, ts=AT - dt.timedelta(days=1), kind="reply", text="STOP"
            ),
            contact("h3", NY, AT),  # at `until`: not before it
            contact("h4", FL, AT - dt.timedelta(hours=1)),
        ]
    )
    store.record_consent(
        [Consent(number=FL, type="express", granted_at=AT - dt.timedelta(days=30), evidence="ivr")]
    )
    frame = store.history_frame([NY, FL], AT)
    assert list(frame["event_id"]) == ["h4", "h1", "h2"] or list(frame["event_id"]) == [
        "h1",
        "h2",
        "h4",
    ]
    assert set(frame["number"]) == {NY, FL}
    assert str(frame["ts"].dtype) == "datetime64[us, UTC]"
    row = frame.set_index("event_id").loc["h1"]
    assert row["duration_s"] == 42.0 and row["outcome"] == "answered"
    assert frame.set_index("event_id").loc["h2", "text"] == "STOP"
    consent = store.consent_frame([NY, FL])
    assert list(consent["number"]) == [FL] and consent.loc[0, "evidence"] == "ivr"
    assert consent.loc[0, "granted_at"] == AT - dt.timedelta(days=30)


def test_load_states_finds_a_number_written_in_another_format(store: Store) -> None:
    store.record_events([contact("f1", "+1 (212) 234-5678", AT)])
    states = store.load_states(["+1 212-234-5678", NY], AT)
    assert len(states["+1 212-234-5678"].history) == 1 and len(states[NY].history) == 1


def test_a_stop_reply_binds_through_the_store_however_old(store: Store) -> None:
    """An opt-out reply older than the 400-day lookback still revokes (docs/rules.md, US:
    revocation by any reasonable means; nothing says it expires)."""
    from tests.support.rules import check, pairs

    granted = AT - dt.timedelta(days=900)
    store.record_consent([Consent(number=NY, channel="sms", type="written", granted_at=granted,
                                  evidence="web form v3")])  # fmt: skip
    store.record_events(
        [
            Event(
                event_id="stop",
                number=NY,
                ts=AT - dt.timedelta(days=700),
                kind="reply",
                text="Stop.",
            )
        ]
    )
    store.retention(MIN_RETENTION_DAYS, AT)
    at = AT.replace(hour=15)
    state = store.load_states([NY], at)[NY]
    assert ("CONSENT_REVOKED", "US") in pairs(check(NY, at, "sms", state))


def test_documented_consent_counts_in_germany_through_the_store(store: Store) -> None:
    """UWG §7a needs documented consent: the state the store builds says THAT evidence is
    held (without decrypting it), so a documented German consent allows."""
    from tests.support.rules import check, pairs

    de, de_bare = "+4915112345678", "+4915112345679"
    granted = AT - dt.timedelta(days=30)
    store.record_consent(
        [
            Consent(number=de, channel="any", type="express", granted_at=granted,
                    evidence="double opt-in 2026-05, wording v2"),
            Consent(number=de_bare, channel="any", type="express", granted_at=granted),
        ]
    )  # fmt: skip
    at = AT.replace(hour=10)
    states = store.load_states([de, de_bare], at)
    assert "NO_CONSENT" not in {code for code, _ in pairs(check(de, at, "call", states[de]))}
    assert ("NO_CONSENT", "DE") in pairs(check(de_bare, at, "call", states[de_bare]))
