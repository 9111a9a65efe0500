"""Registry snapshots read from the store: each contact is decided with the snapshot that was
in force at its instant (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import datetime as dt

import pytest

from serving.backtest import replay, split_history
from serving.rules import load_rulebook
from tests.serving.backtest.test_replay import WINDOW

# libphonenumber's New Jersey example number and its neighbours
N, K, L = "+12015550123", "+12015550125", "+12015550126"
S1 = dt.datetime(2026, 2, 12, tzinfo=dt.UTC)
S2 = dt.datetime(2026, 2, 15, tzinfo=dt.UTC)


@pytest.fixture
def registry_store(store):
    store.import_registry("US_NATIONAL_DNC", S1, [L, K])
    store.import_registry("US_NATIONAL_DNC", S2, [L])  # replaces S1: K is no longer listed
    return store


def test_the_store_keeps_every_snapshot_and_the_listing_in_force(registry_store):
    got = registry_store.registry_history([N, K, L])
    assert got == [
        ("US_NATIONAL_DNC", S1, None),  # replaced: its listings are not kept
        ("US_NATIONAL_DNC", S2, frozenset({L})),
    ]
    assert registry_store.registry_history([]) == [
        ("US_NATIONAL_DNC", S1, None),
        ("US_NATIONAL_DNC", S2, frozenset()),
    ]


def test_replay_decides_with_the_snapshot_in_force_at_each_instant(registry_store, tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    rows = [
        ("e0", L, "2026-02-11T15:00:00Z"),  # before any snapshot: stale
        ("e1", L, "2026-02-13T15:00:00Z"),  # S1 in force; listed by the snapshot in force
        ("e2", K, "2026-02-13T15:00:00Z"),  # S1's own listing of K is gone: taken as S2's
        ("e3", N, "2026-02-16T15:00:00Z"),  # S2: not listed
        ("e4", L, "2026-02-16T15:00:00Z"),  # S2: listed
    ]
    (folder / "events.csv").write_text(
        "event_id,number,ts,kind,channel,purpose,dial_mode\n"
        + "".join(f"{e},{n},{ts},contact,call,marketing,manual\n" for e, n, ts in rows)
    )
    shards = split_history(folder, tmp_path / "work", store=registry_store)
    assert shards.sources["registries"].startswith("store ")
    got = replay(shards.history(0), WINDOW, load_rulebook())
    reasons = dict(zip(got["event_id"], got["reasons"], strict=True))
    assert reasons == {
        "e0": "REGISTRY_STALE",
        "e1": "REGISTRY_LISTED",
        "e2": "",
        "e3": "",
        "e4": "REGISTRY_LISTED",
    }
    # a registries file beside the events would be a second source of the same fact
    (folder / "registries.csv").write_text("registry,snapshot_at,number\n")
    with pytest.raises(ValueError, match=r"registries\.csv: registry snapshots come from"):
        split_history(folder, tmp_path / "work2", store=registry_store)


def test_a_store_without_snapshots_leaves_every_registry_stale(store, tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    (folder / "events.csv").write_text(
        "event_id,number,ts,kind,channel,purpose,dial_mode\n"
        f"e0,{N},2026-02-16T15:00:00Z,contact,call,marketing,manual\n"
    )
    shards = split_history(folder, tmp_path / "work", store=store)
    got = replay(shards.history(0), WINDOW, load_rulebook())
    assert got["reasons"].tolist() == ["REGISTRY_STALE"]
