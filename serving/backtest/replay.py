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


def _instants(series: pd.Series) -> list[dt.datetime | None]:
    index = pd.DatetimeIndex(series).tz_convert("UTC")
    return [None if pd.isna(v) else v.to_pydatetime() for v in index]


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


def _per_number(frame: pd.DataFrame | None, key_of: dict[str, str], time_col: str) -> dict:
    """Records of a contract frame grouped by number key, in time then file order."""
    if frame is None or frame.empty:
        return {}
    frame = frame.assign(_key=frame["number"].map(key_of))
    frame = frame[frame["_key"].notna()].sort_values([time_col], kind="stable")
    out: dict[str, list[dict]] = {}
    for record in frame.to_dict("records"):
        for name, value in record.items():
            if isinstance(value, pd.Timestamp):
                record[name] = value.to_pydatetime()
            elif value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
                record[name] = None
        out.setdefault(record.pop("_key"), []).append(record)
    return out


def _consents_at(records: list[dict], at: dt.datetime) -> tuple[Consent, ...]:
    out = []
    for r in records:
        if r["granted_at"] > at:
            continue
        fields = {k: v for k, v in r.items() if k in Consent.model_fields}
        if fields.get("revoked_at") is not None and fields["revoked_at"] > at:
            fields["revoked_at"] = None
        if fields.get("confirmed_at") is not None and fields["confirmed_at"] > at:
            fields["confirmed_at"] = None
        out.append(Consent.model_construct(**fields))
    return tuple(out)


def _model_records(records: list[dict], model: type, time_col: str, at: dt.datetime) -> list:
    return [
        model.model_construct(**{k: v for k, v in r.items() if k in model.model_fields})
        for r in records
        if r[time_col] <= at
    ]


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

    consents = _per_number(history.consent, key_of, "granted_at")
    dncs = _per_number(history.dnc, key_of, "added_at")
    prefs = _per_number(history.preferences, key_of, "updated_at")
    registries = _Registries(history.registries, key_of)
    periods = [BlockedPeriod.model_construct(**r) for r in _records(history.blocked_periods)]
    worlds: dict[tuple, WorldState] = {}

    out: list[tuple] = []
    running: list[HistoryEvent] = []
    current = None
    make = HistoryEvent
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
            prefs_now = _model_records(prefs.get(key, ()), Preference, "updated_at", at)
            state = NumberState(
                history=tuple(running),
                consents=_consents_at(consents.get(key, ()), at),
                dnc=tuple(_model_records(dncs.get(key, ()), DncEntry, "added_at", at)),
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
        running.append(make(at, *(columns[name][i] for name in _HISTORY_FIELDS)))
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
