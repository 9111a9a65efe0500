"""Reading the store: a number's state as of an instant (the rules' input), the world
state (registry snapshots, blocked periods), and history / consent frames for features.

Every statement here is built once (building a SQLAlchemy statement costs more than
running it on an indexed table) and the hot ones run on the driver's cursor
(:mod:`serving.store.sql`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, bindparam, select, union_all

from features.io import _pandas_dtype, columns_for
from features.schema import BlockedPeriod, Consent, DncEntry, Event, Preference
from serving.domain.state import HistoryEvent, NumberState, WorldState
from serving.store import tables as t
from serving.store.base import StoreBase
from serving.store.crypto import PURPOSE_EVIDENCE, PURPOSE_TEXT, NumberCrypto
from serving.store.sql import EPOCH, chunks, from_us, mappings, to_us, tuples

#: Event kinds that matter for ever, however old: an opt-out never expires (TCPA
#: revocation, docs/rules.md "US"), complaints feed ``complaints_ever``, purchases,
#: inquiries and contracts carry EBR/implied-consent exemptions of up to 2 years (CASL) or
#: for as long as a contract is in force (Bloctel). Inbound replies too: a "STOP" reply
#: is an opt-out (and "START" undoes one), however long ago it came. They are loaded
#: whatever the lookback and :meth:`Store.retention` never drops them.
DURABLE_KINDS: tuple[str, ...] = (
    "opt_out",
    "reply",
    "opt_in",
    "complaint",
    "refusal",
    "purchase",
    "inquiry",
    "contract_start",
    "contract_end",
)
#: What a consent's ``evidence`` reads as in a decision's state: documented, not decrypted.
EVIDENCE_HELD = "(documented; encrypted at rest)"
#: Event contract fields the events table keeps (number and text are stored as hash /
#: ciphertext; the simulator's ``p_*_observable`` evaluation columns are not kept at all).
EVENT_FIELDS = tuple(
    c.name for c in columns_for(Event) if c.name in ("number", "text") or c.name in t.events.c
)
_CONSENT_FIELDS = tuple(c.name for c in columns_for(Consent))
#: The columns of the history read of :meth:`ReadsMixin.load_states`, in row order.
_STATE_EVENT_COLUMNS = (
    "number_hash", "ts", "event_id", "kind", "channel", "purpose", "subject", "campaign_id",
    "dial_mode", "outcome", "duration_s", "text_enc",
)  # fmt: skip
#: The columns of the history read of :meth:`ReadsMixin.history_frame`, in row order.
_FRAME_EVENT_COLUMNS = (
    "number_hash",
    *(n for n in EVENT_FIELDS if n not in ("number", "text") and n in t.events.c),
    "text_enc",
)


@functools.cache
def events_read(columns: tuple[str, ...], until_inclusive: bool) -> Any:
    """The history read, built once per shape: ``columns`` of the events of the number
    hashes ``h`` (expanding) with ``since <= ts < until`` (``ts <= until`` when
    ``until_inclusive``), plus every older event of a :data:`DURABLE_KINDS` kind."""
    e = t.events
    h_in = bindparam("h", expanding=True)
    since, until = bindparam("since"), bindparam("until")
    cols = [e.c[name] for name in columns]
    recent = e.c.ts <= until if until_inclusive else e.c.ts < until
    return union_all(
        select(*cols).where(e.c.number_hash.in_(h_in), e.c.ts >= since, recent),
        select(*cols).where(e.c.number_hash.in_(h_in), e.c.kind.in_(DURABLE_KINDS), e.c.ts < since),
    )


@functools.cache
def _state_statements() -> tuple[Any, ...]:
    """The six batched reads of :meth:`ReadsMixin.load_states`. Parameters: ``h`` (the
    expanding list of number hashes), ``at``, ``since`` and ``until`` (epoch microseconds;
    events are read up to ``until``, everything else as of ``at``)."""
    c, d, p = t.consent, t.dnc, t.preferences
    h_in = bindparam("h", expanding=True)
    at = bindparam("at")
    events = events_read(_STATE_EVENT_COLUMNS, until_inclusive=True)
    consent = select(c).where(c.c.number_hash.in_(h_in), c.c.granted_at <= at).order_by(c.c.id)
    dnc = (
        select(d)
        .where(d.c.number_hash.in_(h_in), d.c.added_at <= at)
        .order_by(d.c.added_at, d.c.id)
    )
    prefs = (
        select(p)
        .where(p.c.number_hash.in_(h_in), p.c.updated_at <= at)
        .order_by(p.c.updated_at, p.c.id)
    )
    listings = t.registry_listings
    registries = (
        select(listings.c.number_hash, t.registry_current.c.registry)
        .select_from(t.registry_current)
        .join(listings, listings.c.snapshot_id == t.registry_current.c.snapshot_id)
        .where(listings.c.number_hash.in_(h_in))
    )
    tombs = select(t.tombstones.c.number_hash).where(t.tombstones.c.number_hash.in_(h_in))
    return events, consent, dnc, prefs, registries, tombs


@functools.cache
def _world_statements() -> tuple[Any, Any]:
    """The two reads of :meth:`ReadsMixin.world_state` (parameter ``at``)."""
    snapshots = select(t.registry_current.c.registry, t.registry_snapshots.c.snapshot_at).join(
        t.registry_snapshots,
        t.registry_snapshots.c.snapshot_id == t.registry_current.c.snapshot_id,
    )
    bp = t.blocked_periods
    periods = select(bp).where(bp.c.end > bindparam("at")).order_by(bp.c.start, bp.c.id)
    return snapshots, periods


def _typed_frame(frame: pd.DataFrame, model: type) -> pd.DataFrame:
    """Give a frame the column dtypes of its contract (as :mod:`features.io` loads them)."""
    out = frame.copy()
    for col in columns_for(model):
        if col.name not in out.columns:
            continue
        dtype = _pandas_dtype(col)
        if col.kind == "instant":
            out[col.name] = pd.to_datetime(out[col.name], utc=True).astype(dtype)
        else:
            out[col.name] = out[col.name].astype(dtype)
    return out


def consent_record(row: Mapping[str, Any], e164: str, crypto: NumberCrypto) -> dict[str, Any]:
    """A consent row as a record of the Consent contract (evidence decrypted)."""
    return {
        "consent_id": row["consent_id"],
        "number": e164,
        "channel": row["channel"],
        "purpose": row["purpose"],
        "type": row["type"],
        "granted_at": from_us(row["granted_at"]),
        "revoked_at": from_us(row["revoked_at"]),
        "evidence": crypto.decrypt_optional(row["evidence_enc"], PURPOSE_EVIDENCE),
        "confirmed_at": from_us(row["confirmed_at"]),
        "outside_hours": bool(row["outside_hours"]),
    }


class ReadsMixin(StoreBase):
    """States, world state and frames read from the store."""

    def load_states(
        self, numbers: Sequence[str], at: dt.datetime, lookback_days: int = 400
    ) -> dict[str, NumberState]:
        """The :class:`NumberState` of each E.164 number as of ``at``.

        One batched query per table for all numbers. ``history``: events with
        ``at - lookback_days <= ts <= at`` plus every older event of a durable kind
        (:data:`DURABLE_KINDS` — an old opt-out still binds), sorted by ``ts``.
        Consents granted after ``at`` are left out and a revocation after ``at`` is not yet
        visible; DNC records and preferences up to ``at``; registry listings of the
        snapshots in force; ``suppressed`` when an erasure tombstone matches.
        Numbers that are not valid E.164 are keyed as given with an empty state.
        """
        with self._read() as conn:
            return self._load_states(conn, list(dict.fromkeys(numbers)), at, lookback_days)

    def _load_states(
        self,
        conn: Connection,
        numbers: list[str],
        at: dt.datetime,
        lookback_days: int,
        events_until: dt.datetime | None = None,
    ) -> dict[str, NumberState]:
        """See :meth:`load_states`; ``events_until`` (later than ``at``) extends the history
        read past ``at`` — only :meth:`NumberTransaction.state_and_later` asks for it."""
        at_us = to_us(at)
        until_us = at_us if events_until is None else max(at_us, to_us(events_until))
        since_us = at_us - lookback_days * 86_400_000_000
        asked = [(n, *self._hash_of(n)) for n in numbers]
        by_hash = {h: e164 for _, h, e164 in asked}
        hashes = list(by_hash)
        history: dict[bytes, list[tuple]] = defaultdict(list)
        consents: dict[bytes, list[Consent]] = defaultdict(list)
        dncs: dict[bytes, list[DncEntry]] = defaultdict(list)
        prefs: dict[bytes, Preference] = {}
        listed: dict[bytes, set[str]] = defaultdict(set)
        erased: set[bytes] = set()
        ev_stmt, consent_stmt, dnc_stmt, pref_stmt, reg_stmt, tomb_stmt = _state_statements()
        decrypt = self._crypto.decrypt
        for chunk in chunks(hashes):
            params = {"h": list(chunk)}
            at_params = {"h": params["h"], "at": at_us}
            ev_params = {"h": params["h"], "until": until_us, "since": since_us}
            for row in tuples(conn, ev_stmt, ev_params):
                history[bytes(row[0])].append(row)
            for row in mappings(conn, consent_stmt, at_params):
                h = bytes(row["number_hash"])
                revoked = row["revoked_at"]
                consents[h].append(
                    Consent.model_construct(
                        consent_id=row["consent_id"],
                        number=by_hash[h],
                        channel=row["channel"],
                        purpose=row["purpose"],
                        type=row["type"],
                        granted_at=from_us(row["granted_at"]),
                        revoked_at=from_us(revoked)
                        if revoked is not None and revoked <= at_us
                        else None,
                        # the rules need to know THAT consent is documented (UWG §7a), not
                        # what the evidence says: it stays encrypted (see subject_report)
                        evidence=EVIDENCE_HELD if row["evidence_enc"] is not None else None,
                        confirmed_at=from_us(row["confirmed_at"])
                        if row["confirmed_at"] is not None and row["confirmed_at"] <= at_us
                        else None,
                        outside_hours=bool(row["outside_hours"]),
                    )
                )
            for row in mappings(conn, dnc_stmt, at_params):
                h = bytes(row["number_hash"])
                dncs[h].append(
                    DncEntry.model_construct(
                        number=by_hash[h],
                        action=row["action"],
                        scope=row["scope"],
                        category=row["category"],
                        added_at=from_us(row["added_at"]),
                        source=row["source"],
                    )
                )
            for row in mappings(conn, pref_stmt, at_params):
                h = bytes(row["number_hash"])
                prefs[h] = Preference.model_construct(  # later rows overwrite: latest wins
                    number=by_hash[h],
                    max_per_week=row["max_per_week"],
                    urgent_only=bool(row["urgent_only"]),
                    quiet_start=row["quiet_start"],
                    quiet_end=row["quiet_end"],
                    channels=row["channels"],
                    updated_at=from_us(row["updated_at"]),
                )
            for h, registry in tuples(conn, reg_stmt, params):
                listed[bytes(h)].add(registry)
            erased.update(bytes(h) for (h,) in tuples(conn, tomb_stmt, params))

        states: dict[str, NumberState] = {}
        by_ts = itemgetter(1, 2)
        by_number: dict[bytes, NumberState] = {}
        make, epoch, micros = HistoryEvent, EPOCH, dt.timedelta
        for h in by_hash:
            found = history.get(h, [])
            found.sort(key=by_ts)
            events = tuple(
                [
                    make(epoch + micros(microseconds=ts), kind, channel, purpose, subject, campaign,
                         dial_mode, outcome, duration, None if text is None else decrypt(text, PURPOSE_TEXT))
                    for (_, ts, _, kind, channel, purpose, subject, campaign, dial_mode, outcome, duration, text) in found
                ]
            )  # fmt: skip
            by_number[h] = NumberState(
                history=events,
                consents=tuple(consents.get(h, ())),
                dnc=tuple(dncs.get(h, ())),
                registries=frozenset(listed.get(h, ())),
                preference=prefs.get(h),
                suppressed=h in erased,
            )
        for name, h, _ in asked:
            states[name] = by_number[h]
        return states

    def world_state(self, at: dt.datetime) -> WorldState:
        """Registry snapshot instants in force, and blocked periods that have not ended by
        ``at`` (the engine looks forward from ``at`` for ``next_allowed_at``)."""
        with self._read() as conn:
            return self._world_state(conn, at)

    def _world_state(self, conn: Connection, at: dt.datetime) -> WorldState:
        snapshots_stmt, periods_stmt = _world_statements()
        snaps = tuples(conn, snapshots_stmt)
        periods = mappings(conn, periods_stmt, {"at": to_us(at)})
        return WorldState(
            registry_snapshots={reg: from_us(us) for reg, us in snaps},  # type: ignore[misc]
            blocked_periods=tuple(
                BlockedPeriod.model_construct(
                    region=r["region"],
                    start=from_us(r["start"]),
                    end=from_us(r["end"]),
                    reason=r["reason"],
                )
                for r in periods
            ),
        )

    def history_frame(
        self, numbers: Sequence[str], until: dt.datetime, lookback_days: int = 400
    ) -> pd.DataFrame:
        """Events of these E.164 numbers with ``until - lookback_days <= ts < until``
        (strictly before: features use only the past) plus older durable events, as a frame
        in the Event contract (``number`` is the E.164), sorted by number, ts, event_id."""
        until_us = to_us(until)
        since_us = until_us - lookback_days * 86_400_000_000
        by_hash = self._hash_map(list(dict.fromkeys(numbers)))
        names = _FRAME_EVENT_COLUMNS
        stmt = events_read(names, until_inclusive=False)
        found: list[Any] = []
        with self._read() as conn:
            for chunk in chunks(list(by_hash)):
                params = {"h": list(chunk), "since": since_us, "until": until_us}
                found.extend(conn.execute(stmt, params).all())
        # Sort and split into columns in Python: far cheaper than per-column pandas work
        # on the small frames of an online request.
        position = {name: i for i, name in enumerate(names)}
        i_hash, i_ts, i_id = position["number_hash"], position["ts"], position["event_id"]
        keyed = sorted(
            ((by_hash[bytes(r[i_hash])], r) for r in found),
            key=lambda x: (x[0], x[1][i_ts], x[1][i_id]),
        )
        columns = list(zip(*(r for _, r in keyed), strict=True)) if keyed else [() for _ in names]
        decrypt = self._crypto.decrypt_optional
        data: dict[str, Any] = {}
        for col in columns_for(Event):
            if col.name == "number":
                values: Any = [number for number, _ in keyed]
            elif col.name == "text":
                values = [decrypt(v, PURPOSE_TEXT) for v in columns[position["text_enc"]]]
            elif col.name not in position:  # simulated-truth fields the store does not keep
                values = [None] * len(keyed)
            else:
                values = columns[position[col.name]]
            if col.kind == "instant":
                data[col.name] = pd.to_datetime(
                    np.asarray(values, dtype="int64"), unit="us", utc=True
                )
            else:
                data[col.name] = pd.array(list(values), dtype=_pandas_dtype(col))
        return pd.DataFrame(data)

    def consent_frame(self, numbers: Sequence[str]) -> pd.DataFrame:
        """Every consent record of these E.164 numbers as a frame in the Consent contract
        (``number`` is the E.164, evidence decrypted), sorted by number and ``granted_at``."""
        by_hash = self._hash_map(list(dict.fromkeys(numbers)))
        c = t.consent
        stmt = select(c).where(c.c.number_hash.in_(bindparam("h", expanding=True))).order_by(c.c.id)
        records: list[dict[str, Any]] = []
        with self._read() as conn:
            for chunk in chunks(list(by_hash)):
                for row in conn.execute(stmt, {"h": list(chunk)}).mappings():
                    records.append(
                        consent_record(row, by_hash[bytes(row["number_hash"])], self._crypto)
                    )
        frame = pd.DataFrame.from_records(records, columns=list(_CONSENT_FIELDS))
        for name in ("granted_at", "revoked_at", "confirmed_at"):
            frame[name] = pd.to_datetime(frame[name], utc=True)
        return _typed_frame(frame, Consent).sort_values(["number", "granted_at"], ignore_index=True)
