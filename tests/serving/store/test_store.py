"""The compliance store, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from features.schema import BlockedPeriod, Consent, DncEntry, Event, Preference
from serving.store import (
    MIN_RETENTION_DAYS,
    ImportAborted,
    SchemaTooNew,
    Store,
    StoreUnavailable,
)
from serving.store import tables as t
from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, KeyConfigError, new_key

AT = dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC)
NY = "+12122345678"  # RULES.md examples
FL = "+13052134567"
LA_ = "+12132345678"


def fictional(n: int) -> list[str]:
    """n distinct valid US numbers in the fictional 555-01xx ranges."""
    area_codes = ["212", "305", "213", "415", "617", "312", "206", "512", "303", "404"]
    out = [f"+1{ac}55501{i:02d}" for ac in area_codes for i in range(100)]
    assert n <= len(out)
    return out[:n]


def contact(event_id: str, number: str, ts: dt.datetime, **kw: object) -> Event:
    return Event(
        event_id=event_id,
        number=number,
        ts=ts,
        kind="contact",
        channel=kw.pop("channel", "call"),
        **kw,
    )


# ----------------------------------------------------------------------------- start-up
def test_missing_key_is_a_startup_error_naming_the_variable(store_url: str) -> None:
    with pytest.raises(KeyConfigError, match=HMAC_ENV):
        Store.open(store_url, environ={ENCRYPTION_ENV: new_key()})
    with pytest.raises(KeyConfigError, match=ENCRYPTION_ENV):
        Store.open(store_url, environ={HMAC_ENV: new_key()})


def test_malformed_key_is_a_startup_error(store_url: str) -> None:
    with pytest.raises(KeyConfigError, match=f"{ENCRYPTION_ENV} is malformed"):
        Store.open(store_url, environ={HMAC_ENV: new_key(), ENCRYPTION_ENV: "c2hvcnQ"})


def test_migrations_run_once_and_refuse_a_newer_schema(store: Store, store_url: str) -> None:
    assert store.schema_version() == t.LATEST_VERSION
    store.record_events([contact("m1", NY, AT)])
    again = Store.open(store_url)  # re-running start-up keeps the data
    assert again.counts()["events"] == 1
    assert again.counts()["schema_version"] == len(t.MIGRATIONS)
    with again._write() as conn:
        conn.execute(
            t.schema_version.insert().values(
                version=t.LATEST_VERSION + 1, description="x", applied_at=0
            )
        )
    again.close()
    with pytest.raises(SchemaTooNew, match="newer than this code"):
        Store.open(store_url)


def test_ping_raises_when_unreachable(store: Store, store_env: dict[str, str]) -> None:
    store.ping()
    store.close()
    with pytest.raises(StoreUnavailable):
        store.ping()
    with pytest.raises(StoreUnavailable):
        Store.open("postgresql+psycopg://nobody:x@127.0.0.1:9/none")


# ----------------------------------------------------------------------------- writes
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


# ----------------------------------------------------------------------------- reads
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


# ----------------------------------------------------------------------------- registries
def test_registry_swap_is_atomic(store: Store) -> None:
    old_at = AT - dt.timedelta(days=20)
    store.import_registry("US_NATIONAL_DNC", old_at, [NY, FL])

    def broken() -> Iterator[str]:
        yield LA_
        yield from fictional(300)
        raise OSError("disk read error in the middle of the file")

    with pytest.raises(OSError):
        store.import_registry("US_NATIONAL_DNC", AT, broken(), batch_size=100)
    states = store.load_states([NY, FL, LA_], AT)
    assert states[NY].registries == {"US_NATIONAL_DNC"} and states[LA_].registries == frozenset()
    assert store.world_state(AT).registry_snapshots["US_NATIONAL_DNC"] == old_at
    assert store.counts()["registry_listings"] == 2  # the partial snapshot was removed

    with pytest.raises(ImportAborted, match="rejected"):
        store.import_registry(
            "US_NATIONAL_DNC", AT, [LA_, "junk", "more junk"], max_reject_share=0.01
        )
    with pytest.raises(ImportAborted, match="no valid number"):
        store.import_registry("US_NATIONAL_DNC", AT, ["junk"])
    assert store.load_states([NY], AT)[NY].registries == {"US_NATIONAL_DNC"}

    result = store.import_registry(
        "US_NATIONAL_DNC", AT, [LA_, LA_, "2125550123"], default_region="US"
    )
    assert (result.accepted, result.listed) == (3, 2)
    states = store.load_states([NY, LA_, "+12125550123"], AT)
    assert states[NY].registries == frozenset() and states[LA_].registries == {"US_NATIONAL_DNC"}
    assert states["+12125550123"].registries == {"US_NATIONAL_DNC"}
    assert store.counts()["registry_listings"] == 2  # the retired snapshot's rows are gone


def test_registry_delta_adds_to_the_snapshot_in_force(store: Store) -> None:
    store.import_registry("AU_DNCR", AT - dt.timedelta(days=5), ["+61291234567"])
    store.import_registry("AU_DNCR", AT - dt.timedelta(days=1), ["+61298765432"], replace=False)
    states = store.load_states(["+61291234567", "+61298765432"], AT)
    assert all(s.registries == {"AU_DNCR"} for s in states.values())
    assert store.world_state(AT).registry_snapshots["AU_DNCR"] == AT - dt.timedelta(days=1)


# ----------------------------------------------------------------------------- erasure
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


# ----------------------------------------------------------------------------- audit
def test_decisions_are_appended_and_exported_with_hashes_only(store: Store) -> None:
    rows = [
        {
            "number": NY,
            "decision": "withhold",
            "reasons": [{"code": "QUIET_HOURS", "jurisdiction": "US"}],
            "model_version": "3",
            "rules_version": "r1",
            "at": AT,
            "request_id": f"req-{i}",
            "recorded_at": AT + dt.timedelta(minutes=i),
            "risk": 0.25,
        }
        for i in range(5)
    ]
    rows.append(
        {
            "number": "garbage",
            "decision": "withhold",
            "reasons": [{"code": "INVALID_NUMBER"}],
            "at": AT,
            "recorded_at": AT,
        }
    )
    assert store.append_decisions(rows) == 6
    out = list(store.export_decisions(AT + dt.timedelta(minutes=1), AT + dt.timedelta(minutes=4)))
    assert [r["request_id"] for r in out] == ["req-1", "req-2", "req-3"]
    assert out[0]["reasons"][0]["code"] == "QUIET_HOURS" and out[0]["detail"] == {"risk": 0.25}
    assert out[0]["number_hash"] == store.number_hash(NY).hex()
    assert all(NY not in repr(r) and NY[2:] not in repr(r) for r in out)
    assert len(list(store.export_decisions(AT))) == 6


# ----------------------------------------------------------------------------- maintenance
def test_backup_is_a_readable_copy(store: Store, tmp_path: Path, store_env: dict[str, str]) -> None:
    store.record_events([contact("b1", NY, AT - dt.timedelta(hours=1))])
    store.import_registry("GB_TPS", AT, ["+447400123456"])
    target = tmp_path / "backup" / "copy.db"
    if store.dialect != "sqlite":
        with pytest.raises(ValueError, match="pg_dump"):
            store.backup(target)
        return
    assert store.backup(target) == target
    with pytest.raises(ValueError, match="already exists"):
        store.backup(target)
    with Store.open(f"sqlite:///{target}") as copy:
        assert copy.counts() == store.counts()
        assert len(copy.load_states([NY], AT)[NY].history) == 1
        assert copy.load_states(["+447400123456"], AT)["+447400123456"].registries == {"GB_TPS"}


def test_retention_drops_old_raw_events_only(store: Store) -> None:
    old = AT - dt.timedelta(days=MIN_RETENTION_DAYS + 30)
    store.record_events(
        [
            contact("old-contact", NY, old),
            Event(event_id="old-reply", number=NY, ts=old, kind="reply", text="hi"),
            Event(event_id="old-optout", number=NY, ts=old, kind="opt_out"),
            Event(event_id="old-purchase", number=NY, ts=old, kind="purchase"),
            contact("recent", NY, AT - dt.timedelta(days=3)),
        ]
    )
    store.record_consent([Consent(number=NY, type="written", granted_at=old, evidence="paper")])
    store.dnc_add([DncEntry(number=NY, added_at=old)])
    store.erase_subject(FL)
    with pytest.raises(ValueError, match="below 400"):
        store.retention(30, AT)
    counts = store.retention(MIN_RETENTION_DAYS, AT)
    assert counts["events_deleted"] == 1  # the old contact; replies are kept (a STOP binds)
    assert (counts["consent_kept"], counts["dnc_kept"], counts["tombstones_kept"]) == (1, 1, 1)
    kinds = sorted(h.kind for h in store.load_states([NY], AT)[NY].history)
    assert kinds == ["contact", "opt_out", "purchase", "reply"]
    assert store.subject_report(NY)["consent"][0]["evidence"] == "paper"


def test_concurrent_startups_migrate_once(store_url: str, store_env: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store.open(store_url), range(4)))
    try:
        assert {s.schema_version() for s in stores} == {t.LATEST_VERSION}
        assert stores[0].counts()["schema_version"] == len(t.MIGRATIONS)
    finally:
        for s in stores:
            s.close()


def test_load_states_finds_a_number_written_in_another_format(store: Store) -> None:
    store.record_events([contact("f1", "+1 (212) 234-5678", AT)])
    states = store.load_states(["+1 212-234-5678", NY], AT)
    assert len(states["+1 212-234-5678"].history) == 1 and len(states[NY].history) == 1


def test_a_stop_reply_binds_through_the_store_however_old(store: Store) -> None:
    """An opt-out reply older than the 400-day lookback still revokes (RULES.md US federal:
    revocation by any reasonable means; nothing says it expires)."""
    from tests.serving.test_rules_support import check, pairs

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
    from tests.serving.test_rules_support import check, pairs

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


def test_registry_snapshots_cannot_come_from_the_future_or_roll_back(store: Store) -> None:
    """Either would keep REGISTRY_STALE from firing on a stale list (RULES.md convention 8)."""
    store.import_registry("US_NATIONAL_DNC", AT, [NY])
    with pytest.raises(ImportAborted, match="in the future"):
        store.import_registry(
            "US_NATIONAL_DNC", dt.datetime.now(dt.UTC) + dt.timedelta(days=2), [FL]
        )
    with pytest.raises(ImportAborted, match="older than"):
        store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=1), [FL])
    assert store.world_state(AT).registry_snapshots["US_NATIONAL_DNC"] == AT
    assert store.load_states([NY], AT)[NY].registries == frozenset({"US_NATIONAL_DNC"})


def test_wal_checkpoints_run_off_the_request_path(sqlite_store: Store, sqlite_url: str) -> None:
    """Commits leave their pages in the -wal file, even past SQLite's default automatic
    checkpoint (1,000 pages), so no request pays for copying them back; the store's own
    thread checkpoints them into the database file, and stops with the store."""
    import sqlite3

    from serving.store.checkpoint import WalCheckpointer

    database = Path(sqlite_url.removeprefix("sqlite:///"))
    wal = Path(f"{database}-wal")
    own = sqlite_store.checkpointer
    assert own is not None and own.running
    own.stop()  # first: nothing copies the log back while the rows are written
    assert not own.running
    size = database.stat().st_size
    rows = [
        {"number": n, "decision": "allow", "reasons": [], "at": AT, "recorded_at": AT,
         "note": "x" * 3000}
        for n in fictional(1000) * 2
    ]  # fmt: skip
    for start in range(0, len(rows), 100):
        sqlite_store.append_decisions(rows[start : start + 100])
    assert wal.stat().st_size > 1500 * 4096  # well past the default 1,000-page checkpoint
    assert database.stat().st_size == size  # ... and no commit copied it back

    background = WalCheckpointer(database, interval_s=0.05).start()
    try:
        deadline = time.monotonic() + 20

        def copied_back() -> bool:
            return database.stat().st_size > size + 1000 * 4096 and background.checkpoints > 0

        while not copied_back() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert copied_back()
    finally:
        background.stop()
    assert not background.running
    with sqlite3.connect(database) as raw:
        busy, log_pages, copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and copied == log_pages
    assert len(list(sqlite_store.export_decisions(AT))) == 2000
