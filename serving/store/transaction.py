"""The handle of :meth:`Store.number_lock`: read a number's state and record the attempt
it allows in one transaction that serialises every writer of the number."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, bindparam, select

from features.schema import Event
from serving.domain.state import HistoryEvent, NumberState, WorldState
from serving.store import sql
from serving.store import tables as t
from serving.store.audit_log import audit_insert
from serving.store.base import e164_of
from serving.store.errors import AttemptIdConflict
from serving.store.sql import from_us, insert_ignore, insert_rows, now_us
from serving.store.writes import ERASED

if TYPE_CHECKING:
    from serving.store.database import Store


@functools.cache
def _attempt_statement() -> Any:
    e = t.events
    return select(e.c.number_hash, e.c.kind, e.c.ts).where(e.c.event_id == bindparam("id"))


class NumberTransaction:
    """The handle given by :meth:`Store.number_lock`; valid only inside the ``with``."""

    def __init__(self, store: Store, conn: Connection, e164: str, number_hash: bytes) -> None:
        self._store = store
        self._conn = conn
        self.e164 = e164
        self.number_hash = number_hash

    def state(self, at: dt.datetime, lookback_days: int = 400) -> NumberState:
        """The number's state as of ``at``, read inside the lock (fresh)."""
        return self._store._load_states(self._conn, [self.e164], at, lookback_days)[self.e164]

    def world_state(self, at: dt.datetime) -> WorldState:
        """:meth:`Store.world_state`, read inside the lock."""
        return self._store._world_state(self._conn, at)

    def state_and_later(
        self, at: dt.datetime, until: dt.datetime, lookback_days: int = 400
    ) -> tuple[NumberState, tuple[HistoryEvent, ...]]:
        """The state as of ``at`` and the events recorded after ``at`` up to ``until``,
        in one read (an authorize for an earlier instant must see later attempts)."""
        read = self._store._load_states(self._conn, [self.e164], at, lookback_days, until)
        state = read[self.e164]
        cut = bisect.bisect_right(state.history, at, key=attrgetter("ts"))
        if cut == len(state.history):
            return state, ()
        return replace(state, history=state.history[:cut]), state.history[cut:]

    def recorded_attempt(self, event_id: str) -> dt.datetime | None:
        """When the attempt ``event_id`` was recorded for this number (None: not stored).

        Raises :class:`AttemptIdConflict` when the id belongs to another number or to an
        event that is not a contact: only a true replay of this number's attempt may be
        answered as one.
        """
        found = sql.tuples(self._conn, _attempt_statement(), {"id": event_id})
        if not found:
            return None
        number_hash, kind, ts = found[0]
        if bytes(number_hash) != bytes(self.number_hash) or kind != "contact":
            raise AttemptIdConflict(
                "attempt_id: already the id of another event; send a new attempt_id"
            )
        return from_us(ts)

    def append_decisions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """:meth:`Store.append_decisions` in this transaction: the decision commits (or rolls
        back) together with the attempt it allowed."""
        out = self._store._decision_rows(rows)
        insert_rows(self._conn, audit_insert(), out)
        return len(out)

    def record_contact(self, event: Event) -> bool:
        """Insert the attempt in this transaction; False if its ``event_id`` already exists
        (a replayed authorize). The event's number must be the locked number."""
        e164, err = e164_of(event.number)
        if e164 != self.e164:
            raise ValueError(err or f"event number is not the locked number ({event.event_id})")
        if self._store._existing_event_ids(self._conn, [event.event_id]):
            return False
        if self._store._tombstoned(self._conn, [self.number_hash]):
            raise ValueError(ERASED)
        row = self._store._event_row(event, e164, now_us())
        insert_rows(self._conn, insert_ignore(self._store.dialect, t.events.name), [row])
        return True
