"""Writes to the store: idempotence, per-item rejects, encryption at rest, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from features.schema import BlockedPeriod, Consent, DncEntry, Event, Preference
from serving.store import (
    Store,
)
from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key
from tests.support.store import AT, FL, NY, contact


def test_event_replays_are_idempotent(store: Store) -> None:
    events = [contact(f"e{i}", NY, AT - dt.timedelta(hours=i)) for i in range(4)]
    first = store.record_events(events)
    assert (first.accepted, first.duplicates, first.rejected) == (4, 0, [])
    again = store.record_events(events + [events[0]])
    assert (again.accepted, again.duplicates) == (0, 5)
    assert store.counts()["events"] == 4
    assert len(store.load_states([NY], AT)[NY].history) == 4


def test_per_item_rejects_keep_the_valid_items(store: Store) -> None:
    batch = [
        contact("ok1", NY, AT),
        {
            "event_id": "bad-number",
            "number": "not a number",
            "ts": AT.isoformat(),
            "kind": "contact",
            "channel": "call",
        },
        {"event_id": "bad-kind", "number": NY, "ts": AT.isoformat(), "kind": "telepathy"},
        {"event_id": "no-channel", "number": NY, "ts": AT.isoformat(), "kind": "contact"},
        contact("ok2", FL, AT),
    ]
    result = store.record_events(batch)
    assert result.accepted == 2
    assert [i for i, _ in result.rejected] == [1, 2, 3]
    assert "number" in result.rejected[0][1]
    assert "kind" in result.rejected[1][1]
    assert "channel" in result.rejected[2][1]
    assert store.counts()["events"] == 2


def test_append_only_tables_are_idempotent(store: Store) -> None:
    consent = Consent(number=NY, type="written", granted_at=AT, evidence="web form v3")
    pref = Preference(number=NY, max_per_week=2, updated_at=AT)
    entry = DncEntry(number=NY, added_at=AT, source="call centre")
    period = BlockedPeriod(
        region="US-LA", start=AT, end=AT + dt.timedelta(days=2), reason="hurricane"
    )
    for write, record in [
        (store.record_consent, consent),
        (store.record_preferences, pref),
        (store.dnc_add, entry),
        (store.block_period, period),
    ]:
        assert write([record]).accepted == 1
        replay = write([record, record])
        assert (replay.accepted, replay.duplicates) == (0, 2)
    bad = store.record_consent(
        [{"number": NY, "type": "telepathic", "granted_at": AT.isoformat()}, consent]
    )
    assert bad.rejected[0][0] == 0 and bad.duplicates == 1
    counts = store.counts()
    assert (counts["consent"], counts["preferences"], counts["dnc"], counts["blocked_periods"]) == (
        1,
        1,
        1,
        1,
    )


def test_dnc_removal_is_a_new_record(store: Store) -> None:
    store.dnc_add([DncEntry(number=NY, added_at=AT - dt.timedelta(days=2))])
    store.dnc_remove([DncEntry(number=NY, added_at=AT - dt.timedelta(days=1))])
    dnc = store.load_states([NY], AT)[NY].dnc
    assert [d.action for d in dnc] == ["add", "remove"]
    before_removal = store.load_states([NY], AT - dt.timedelta(hours=36))[NY].dnc
    assert [d.action for d in before_removal] == ["add"]


def test_numbers_and_evidence_are_encrypted_at_rest(sqlite_store: Store, sqlite_url: str) -> None:
    store = sqlite_store
    evidence = "signed at kiosk 17, wording v4"
    store.record_events(
        [
            contact("enc1", NY, AT),
            Event(event_id="r1", number=NY, ts=AT, kind="reply", text="Stop please"),
        ]
    )
    store.record_consent([Consent(number=NY, type="written", granted_at=AT, evidence=evidence)])
    store.dnc_add([DncEntry(number=NY, added_at=AT)])
    store.record_preferences([Preference(number=NY, urgent_only=True, updated_at=AT)])
    path = Path(sqlite_url.removeprefix("sqlite:///"))
    blob = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    for secret in (NY, NY[2:], evidence, "Stop please"):
        assert secret.encode() not in blob, secret
    # ... and they read back through the keys.
    report = store.subject_report(NY)
    assert report["consent"][0]["evidence"] == evidence
    assert {e["text"] for e in report["events"]} == {None, "Stop please"}


def test_a_different_key_does_not_match_or_decrypt(
    store_url: str, store_env: dict[str, str]
) -> None:
    with Store.open(store_url) as first:
        first.record_events([contact("k1", NY, AT)])
    other = {HMAC_ENV: new_key(), ENCRYPTION_ENV: new_key()}
    with Store.open(store_url, environ=other) as second:
        assert second.load_states([NY], AT)[NY].history == ()


def test_an_event_id_with_other_content_is_a_conflict_never_stored(store: Store) -> None:
    first = contact("same-id", NY, AT)
    assert store.record_events([first]).accepted == 1
    stop = {"event_id": "same-id", "number": NY, "ts": AT, "kind": "reply", "text": "STOP"}
    other = contact("other", NY, AT - dt.timedelta(hours=1))
    result = store.record_events([other, stop, first])
    assert result.conflicts == [(1, "same-id")]
    assert (result.accepted, result.duplicates, result.rejected) == (1, 1, [])
    assert result.as_dict()["conflicts"] == [{"index": 1, "event_id": "same-id"}]
    kinds = sorted(e.kind for e in store.load_states([NY], AT)[NY].history)
    assert kinds == ["contact", "contact"]  # the reply was not stored
    # within one batch too: the second, different event under an id is the conflict
    twice = store.record_events(
        [dict(stop, event_id="fresh"), dict(stop, event_id="fresh", text="hi")]
    )
    assert (twice.accepted, twice.conflicts) == (1, [(1, "fresh")])
