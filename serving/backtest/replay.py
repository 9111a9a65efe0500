"""Replay: every outbound contact of a window decided by the rules as of its own instant.

Pure (no I/O, no clock): frames in, one row per contact out. For each contact the
:class:`~serving.domain.state.NumberState` is what a store would have returned at that
instant — the number's events before it (in time order; at an equal instant, the rows
before it in the file), the consents granted by then (a revocation or confirmation is
visible only once it has happened), the internal DNC records and the latest preference
made by then, the registry snapshot in force and whether it lists the number — and the
rules are :func:`serving.rules.evaluate`, the service's engine.

Why it is fast: states are built **incrementally**. Events are sorted once by number and
time; one pass per number appends each event to a running history and evaluates each
contact of the window on the way, so a contact costs one tuple of its prior events and one
rule evaluation instead of a store read. A number's state depends only on its own events,
so replaying number by number decides each contact exactly as a replay in global time
order would; the output is in time order.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.schema import REGISTRIES, BlockedPeriod, Consent, DncEntry, Preference, subject_of
from serving.backtest.history import History
from serving.domain.state import Contact, HistoryEvent, NumberState, WorldState

#: Columns of :func:`replay`'s output.
REPLAY_COLUMNS = (
    "event_id", "number", "ts", "jurisdiction", "channel", "purpose",
    "rules_withheld", "reasons", "reason_jurisdictions",
)  # fmt: skip
_HISTORY_FIELDS = (
    "kind", "channel", "purpose", "subject", "campaign_id", "dial_mode", "outcome",
    "duration_s", "text",
)  # fmt: skip


@dataclass(frozen=True)
class Window:
    """The half-open window ``[start, end)`` of contacts to replay (aware UTC instants)."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name}: the window's instants need a time zone (UTC)")
        if self.end <= self.start:
            raise ValueError(f"--to ({self.end.isoformat()}) must be after --from")


def _objects(series: pd.Series) -> list:
    """Values as Python objects with missing values as ``None``."""
    values = series.astype(object)
    return values.where(series.notna(), None).tolist()


def _instants(series: pd.Series) -> list[dt.datetime]:
    return list(pd.DatetimeIndex(series).tz_convert("UTC").to_pydatetime())


def _number_keys(raw_numbers: np.ndarray) -> tuple[dict[str, str], dict[str, object]]:
    """raw number → key (its E.164 when valid, else the raw text) and key → NumberRecord."""
    from features.phone import NumberRecord, normalize_many

    unique = pd.unique(raw_numbers)
    table = normalize_many(list(unique))
    key_of: dict[str, str] = {}
    record_of: dict[str, object] = {}
    for raw, row in zip(unique, table.itertuples(index=False, name=None), strict=True):
        record = NumberRecord(*row)
        key = record.e164 if record.valid and record.e164 else str(raw)
        key_of[raw] = key
        record_of.setdefault(key, record)
    return key_of, record_of


class _Registries:
    """Snapshots in force at an instant, and who they list. Without a registries file every
    registry counts as freshly snapshotted and listing no one (the report says so)."""

    def __init__(self, frame: pd.DataFrame | None, key_of: dict[str, str]) -> None:
        self.assumed = frame is None
        self.times: dict[str, list[dt.datetime]] = {}
        self.listed: dict[str, list[frozenset[str]]] = {}
        if frame is None:
            return
        for registry, rows in frame.groupby("registry", sort=True):
            snaps = rows.groupby("snapshot_at", sort=True)["number"]
            self.times[str(registry)] = [t.to_pydatetime() for t in snaps.groups]
            self.listed[str(registry)] = [
                frozenset(key_of.get(n, n) for n in numbers.dropna()) for _, numbers in snaps
            ]

    def in_force(self, at: dt.datetime) -> tuple[int, ...]:
        """Index of the snapshot in force per registry (-1: none yet)."""
        return tuple(bisect.bisect_right(self.times[r], at) - 1 for r in self.times)

    def world_snapshots(self, at: dt.datetime, index: tuple[int, ...]) -> dict[str, dt.datetime]:
        if self.assumed:
            return dict.fromkeys(REGISTRIES, at)
        return {r: self.times[r][i] for r, i in zip(self.times, index, strict=True) if i >= 0}

    def listing(self, key: str, index: tuple[int, ...]) -> frozenset[str]:
        if self.assumed:
            return frozenset()
        return frozenset(
            r for r, i in zip(self.times, index, strict=True) if i >= 0 and key in self.listed[r][i]
        )


class _Ledger:
    """One number's records of a contract (consent, DNC, preferences) as of an instant.
    Records are built once; what an instant sees is cached by which of them it sees."""

    def __init__(
        self, frame: pd.DataFrame | None, key_of: dict[str, str], model: type, time_col: str
    ) -> None:
        self.by_key: dict[str, list] = {}
        self.model = model
        self.time_col = time_col
        self._seen: dict[tuple, tuple] = {}
        if frame is None or frame.empty:
            return
        frame = frame.assign(_key=frame["number"].map(key_of))
        frame = frame[frame["_key"].notna()].sort_values([time_col], kind="stable")
        names = [c for c in frame.columns if c in model.model_fields]
        columns = {
            c: _instants_or_none(frame[c]) if c in _INSTANT_FIELDS else _objects(frame[c])
            for c in names
        }
        for i, key in enumerate(frame["_key"].tolist()):
            record = model.model_construct(**{c: columns[c][i] for c in names})
            self.by_key.setdefault(key, []).append(record)

    def at(self, key: str, at: dt.datetime) -> tuple:
        records = self.by_key.get(key)
        if not records:
            return ()
        if self.model is Consent:  # a revocation or a confirmation is visible once made
            seen = tuple(
                (
                    r.granted_at <= at,
                    r.revoked_at is not None and r.revoked_at <= at,
                    r.confirmed_at is not None and r.confirmed_at <= at,
                )
                for r in records
            )
            cached = self._seen.get((key, seen))
            if cached is None:
                cached = tuple(
                    r.model_copy(
                        update={
                            "revoked_at": r.revoked_at if revoked else None,
                            "confirmed_at": r.confirmed_at if confirmed else None,
                        }
                    )
                    for r, (granted, revoked, confirmed) in zip(records, seen, strict=True)
                    if granted
                )
                self._seen[(key, seen)] = cached
            return cached
        count = sum(1 for r in records if getattr(r, self.time_col) <= at)
        cached = self._seen.get((key, count))
        if cached is None:
            cached = tuple(records[:count])
            self._seen[(key, count)] = cached
        return cached


_INSTANT_FIELDS = frozenset({"granted_at", "revoked_at", "confirmed_at", "added_at", "updated_at"})


def _instants_or_none(series: pd.Series) -> list[dt.datetime | None]:
    values = pd.DatetimeIndex(series)
    missing = values.isna()
    if values.tz is None:
        if not missing.all():
            raise ValueError(f"{series.name}: instants need a time zone (UTC)")
        return [None] * len(values)
    values = values.tz_convert("UTC")
    return [None if m else v for v, m in zip(values.to_pydatetime(), missing, strict=True)]


def replay(history: History, window: Window, rulebook: object) -> pd.DataFrame:
    """One row per outbound contact with ``window.start <= ts < window.end``, in time order
    (:data:`REPLAY_COLUMNS`): the rules' verdict as of the contact's instant."""
    from serving.rules import evaluate

    events = history.events
    ts_all = pd.DatetimeIndex(events["ts"]).tz_convert("UTC")
    start, end = pd.Timestamp(window.start), pd.Timestamp(window.end)
    is_contact = (events["kind"] == "contact").to_numpy()
    in_window = is_contact & (ts_all >= start) & (ts_all < end)
    if not in_window.any():
        return pd.DataFrame({c: [] for c in REPLAY_COLUMNS})
    key_of, record_of = _number_keys(events["number"].to_numpy())
    keys = events["number"].map(key_of).to_numpy(object)
    wanted = set(keys[in_window])
    rows = np.flatnonzero(np.fromiter((k in wanted for k in keys), bool, len(keys)))
    rows = rows[ts_all[rows] < end]  # later events cannot matter to a contact before ``end``
    order = rows[np.lexsort((rows, ts_all.asi8[rows], keys[rows].astype(str)))]

    sub = events.iloc[order]
    when = _instants(sub["ts"])
    columns = {
        name: (_objects(sub[name]) if name in sub.columns else [None] * len(sub))
        for name in _HISTORY_FIELDS
    }
    ids = _objects(sub["event_id"])
    window_row = in_window[order]
    sub_keys = keys[order]

    consents = _Ledger(history.consent, key_of, Consent, "granted_at")
    dncs = _Ledger(history.dnc, key_of, DncEntry, "added_at")
    prefs = _Ledger(history.preferences, key_of, Preference, "updated_at")
    registries = _Registries(history.registries, key_of)
    periods = [BlockedPeriod.model_construct(**r) for r in _records(history.blocked_periods)]
    worlds: dict[tuple, WorldState] = {}

    out: list[tuple] = []
    running: list[HistoryEvent] = []
    current = None
    make = HistoryEvent._make
    rows_of = list(zip(when, *(columns[name] for name in _HISTORY_FIELDS), strict=True))
    for i in range(len(order)):
        key = sub_keys[i]
        if key != current:
            current, running = key, []
        at = when[i]
        if window_row[i]:
            number = record_of[key]
            channel, purpose = columns["channel"][i], columns["purpose"][i] or "marketing"
            contact = Contact(
                number=number,
                channel=channel,
                at=at,
                purpose=purpose,
                dial_mode=columns["dial_mode"][i] or "manual",
                subject=subject_of(columns["subject"][i], columns["campaign_id"][i]),
                campaign_id=columns["campaign_id"][i],
            )
            in_force = registries.in_force(at)
            prefs_now = prefs.at(key, at)
            state = NumberState(
                history=tuple(running),
                consents=consents.at(key, at),
                dnc=dncs.at(key, at),
                registries=registries.listing(key, in_force),
                preference=prefs_now[-1] if prefs_now else None,
            )
            active = tuple(j for j, p in enumerate(periods) if p.end > at)
            world_key = (in_force, active, at if registries.assumed else None)
            world = worlds.get(world_key)
            if world is None:
                world = WorldState(
                    registry_snapshots=registries.world_snapshots(at, in_force),
                    blocked_periods=tuple(periods[j] for j in active),
                )
                if not registries.assumed:
                    worlds[world_key] = world
            reasons = evaluate(contact, state, world, rulebook).reasons
            out.append(
                (
                    ids[i], key, at, number.region or "unknown", channel, purpose,
                    bool(reasons),
                    "|".join(dict.fromkeys(r.code for r in reasons)),
                    "|".join(dict.fromkeys(r.jurisdiction for r in reasons)),
                )
            )  # fmt: skip
        running.append(make(rows_of[i]))
    frame = pd.DataFrame(out, columns=list(REPLAY_COLUMNS))
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame.sort_values("ts", kind="stable", ignore_index=True)


def _records(frame: pd.DataFrame | None) -> Sequence[dict]:
    if frame is None or frame.empty:
        return []
    out = []
    for record in frame.to_dict("records"):
        out.append(
            {
                k: (v.to_pydatetime() if isinstance(v, pd.Timestamp) else v)
                for k, v in record.items()
            }
        )
    return out
