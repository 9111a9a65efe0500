"""Registry snapshots in the store: atomic swaps, deltas, refused snapshots, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from serving.store import (
    ImportAborted,
    Store,
)
from tests.support.store import AT, FL, LA_, NY, fictional


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


def test_registry_snapshots_cannot_come_from_the_future_or_roll_back(store: Store) -> None:
    """Either would keep REGISTRY_STALE from firing on a stale list (docs/rules.md, rule 8 of "How the rules are applied")."""
    store.import_registry("US_NATIONAL_DNC", AT, [NY])
    with pytest.raises(ImportAborted, match="in the future"):
        store.import_registry(
            "US_NATIONAL_DNC", dt.datetime.now(dt.UTC) + dt.timedelta(days=2), [FL]
        )
    with pytest.raises(ImportAborted, match="older than"):
        store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=1), [FL])
    assert store.world_state(AT).registry_snapshots["US_NATIONAL_DNC"] == AT
    assert store.load_states([NY], AT)[NY].registries == frozenset({"US_NATIONAL_DNC"})


def test_a_replacement_shrinking_the_list_by_more_than_half_needs_allow_shrink(
    store: Store,
) -> None:
    """A registry of 300 numbers replaced by one (a truncated file) was accepted."""
    numbers = fictional(300)
    store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=2), numbers)
    with pytest.raises(
        ImportAborted, match=r"^numbers: .*1 numbers.*half of the 300.*allow_shrink"
    ):
        store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=1), numbers[:1])
    assert store.world_state(AT).registry_snapshots["US_NATIONAL_DNC"] == AT - dt.timedelta(days=2)
    assert store.load_states([numbers[-1]], AT)[numbers[-1]].registries == {"US_NATIONAL_DNC"}
    kept = store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=1), numbers[:150])
    assert kept.listed == 150  # half is not "more than half"
    shrunk = store.import_registry("US_NATIONAL_DNC", AT, numbers[:1], allow_shrink=True)
    assert shrunk.listed == 1
