"""The pre-dial authorisation primitive: concurrent check-and-record never exceeds a cap."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

from features.schema import Event
from serving.store import Store

AT = dt.datetime(2026, 6, 16, 15, 0, tzinfo=dt.UTC)
NUMBER = "+13052134567"  # docs/rules.md, US-FL: at most 3 calls per 24 h on one subject
CAP = 3
THREADS = 50


def authorize(store: Store, attempt: int, start: threading.Barrier) -> bool:
    """Count the last 24 h of contacts inside the lock; record the attempt if under the cap."""
    start.wait()
    with store.number_lock(NUMBER) as tx:
        state = tx.state(AT)
        recent = [
            h for h in state.history if h.kind == "contact" and AT - h.ts < dt.timedelta(hours=24)
        ]
        if len(recent) >= CAP:
            return False
        event = Event(
            event_id=f"attempt-{attempt}", number=NUMBER, ts=AT, kind="contact", channel="call"
        )
        return tx.record_contact(event)


def test_fifty_concurrent_authorizations_never_exceed_the_cap(store: Store) -> None:
    store.record_events(
        [
            Event(
                event_id="old",
                number=NUMBER,
                ts=AT - dt.timedelta(hours=25),
                kind="contact",
                channel="call",
            )
        ]
    )
    start = threading.Barrier(THREADS)
    with ThreadPoolExecutor(THREADS) as pool:
        allowed = list(pool.map(lambda i: authorize(store, i, start), range(THREADS)))
    assert sum(allowed) == CAP
    state = store.load_states([NUMBER], AT)[NUMBER]
    assert sum(1 for h in state.history if h.ts == AT) == CAP


def test_a_replayed_attempt_is_not_recorded_twice(store: Store) -> None:
    event = Event(event_id="attempt-x", number=NUMBER, ts=AT, kind="contact", channel="call")
    with store.number_lock(NUMBER) as tx:
        assert tx.record_contact(event)
    with store.number_lock(NUMBER) as tx:
        assert not tx.record_contact(event)
        assert len(tx.state(AT).history) == 1


def test_an_exception_inside_the_lock_rolls_back(store: Store) -> None:
    event = Event(event_id="attempt-y", number=NUMBER, ts=AT, kind="contact", channel="call")
    try:
        with store.number_lock(NUMBER) as tx:
            tx.record_contact(event)
            raise RuntimeError("dialer went away")
    except RuntimeError:
        pass
    assert store.load_states([NUMBER], AT)[NUMBER].history == ()


def test_state_and_later_is_the_state_as_of_at_plus_the_events_after_it(store: Store) -> None:
    """One locked read gives exactly the two reads it replaces: the state as of ``at`` and
    the events recorded in ``(at, until]``."""
    hours = (-500 * 24, -2, 0, 1, 24 * 31, 24 * 31 + 1)  # old opt-out, before, at, after, edge
    store.record_events(
        [
            Event(event_id=f"e{h}", number=NUMBER, ts=AT + dt.timedelta(hours=h),
                  kind="opt_out" if h < -24 else "contact", channel="call")
            for h in hours
        ]
        + [Event(event_id="late-complaint", number=NUMBER, ts=AT + dt.timedelta(hours=3),
                 kind="complaint")]
    )  # fmt: skip
    until = AT + dt.timedelta(days=31)
    with store.number_lock(NUMBER) as tx:
        state, later = tx.state_and_later(AT, until)
        assert state == tx.state(AT)
        beyond = tx.state(until).history
    assert [e.ts for e in later] == [e.ts for e in beyond if e.ts > AT]
    assert [e.kind for e in later] == ["contact", "complaint", "contact"]
    assert later[-1].ts == until  # inclusive end, like the as-of read
    assert state.history[0].kind == "opt_out"  # durable, older than the look-back


def test_a_lock_not_granted_in_time_raises_store_busy(
    store: Store, store_url: str, store_env: dict[str, str]
) -> None:
    """``number_lock(wait_s=…)`` gives up after about ``wait_s`` while another writer holds
    the number, from this process (SQLite: the in-process writer lock; PostgreSQL: the
    advisory lock) or from another store (SQLite: its writer slot), and works again after."""
    import time

    import pytest

    from serving.store import StoreBusy

    other = Store.open(store_url)
    try:
        for holder in (store, other):
            held, done = threading.Event(), threading.Event()

            def hold(
                owner: Store = holder, held: threading.Event = held, done: threading.Event = done
            ) -> None:
                with owner.number_lock(NUMBER):
                    held.set()
                    done.wait(30)

            thread = threading.Thread(target=hold)
            thread.start()
            try:
                assert held.wait(30)
                t0 = time.monotonic()
                with pytest.raises(StoreBusy), store.number_lock(NUMBER, wait_s=0.3):
                    pass
                assert 0.25 <= time.monotonic() - t0 < 10
            finally:
                done.set()
                thread.join(30)
            with store.number_lock(NUMBER, wait_s=0.3) as tx:  # free again
                assert tx.record_contact(
                    Event(event_id=f"after-{id(holder)}", number=NUMBER, ts=AT, kind="contact",
                          channel="call")
                )  # fmt: skip
    finally:
        other.close()
    assert len(store.load_states([NUMBER], AT)[NUMBER].history) == 2
