"""Erasure: the tombstone keeps a person suppressed, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

from features.schema import Consent, DncEntry, Preference
from serving.store import (
    Store,
)
from serving.store import tables as t
from tests.support.store import AT, FL, NY, contact


def test_erasure_keeps_a_tombstone_and_never_revives(store: Store) -> None:
    store.record_events(
        [contact("x1", NY, AT - dt.timedelta(days=1)), contact("x2", FL, AT - dt.timedelta(days=1))]
    )
    store.record_consent(
        [Consent(number=NY, type="written", granted_at=AT - dt.timedelta(days=9), evidence="form")]
    )
    store.record_preferences([Preference(number=NY, max_per_week=1, updated_at=AT)])
    store.dnc_add([DncEntry(number=NY, added_at=AT - dt.timedelta(days=1))])
    store.append_decisions([{"number": NY, "decision": "allow", "reasons": [], "at": AT}])

    erased = store.erase_subject(NY)
    assert (erased["events_deleted"], erased["consent_deleted"], erased["preferences_deleted"]) == (
        1,
        1,
        1,
    )
    assert store.erase_subject(NY)["events_deleted"] == 0  # idempotent

    # Re-imported events, consent and lists do not revive the person.
    replay = store.record_events(
        [contact("x1", NY, AT - dt.timedelta(days=1)), contact("x3", NY, AT)]
    )
    assert replay.accepted == 0 and len(replay.rejected) == 2
    assert store.record_consent([Consent(number=NY, type="written", granted_at=AT)]).accepted == 0
    store.import_registry("US_NATIONAL_DNC", AT, [NY, FL])
    state = store.load_states([NY, FL], AT)
    assert state[NY].suppressed and state[NY].history == () and state[NY].consents == ()
    assert [d.action for d in state[NY].dnc] == ["add"]  # the DNC hash is kept
    assert not state[FL].suppressed and len(state[FL].history) == 1
    with store.number_lock(NY) as tx:
        assert tx.state(AT).suppressed
    report = store.subject_report(NY)
    assert report["suppressed"] and report["events"] == [] and report["consent"] == []
    assert len(report["decisions"]) == 1 and report["registry_listings"] == ["US_NATIONAL_DNC"]
    with store._read() as conn:  # no encrypted number is left for the erased person
        h = store.number_hash(NY)
        assert (
            conn.execute(t.dnc.select().where(t.dnc.c.number_hash == h))
            .mappings()
            .one()["number_enc"]
            is None
        )
