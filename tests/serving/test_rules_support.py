"""Shared builders for the rule tests (no tests here): contacts, states, worlds, instants.

Numbers come from RULES.md examples, libphonenumber example numbers or the fictional
555-01xx range, always through ``features.phone.normalize`` (real libphonenumber data).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from features.phone import normalize
from features.schema import REGISTRIES, Consent, DncEntry
from serving.domain.state import Contact, HistoryEvent, NumberState, WorldState
from serving.rules.engine import Evaluation, RuleBook, evaluate, load_rulebook


@functools.cache
def rulebook() -> RuleBook:
    """The packaged packs, compiled once per test session."""
    return load_rulebook()


def utc(text: str) -> dt.datetime:
    """``"2026-06-16T11:59Z"`` → aware UTC datetime."""
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.UTC)


def fresh_world(at: dt.datetime, **overrides: Any) -> WorldState:
    """Every registry snapshot one day old (well within every re-scrub limit)."""
    snapshots = {name: at - dt.timedelta(days=1) for name in REGISTRIES}
    snapshots.update(overrides.pop("snapshots", {}))
    return WorldState(registry_snapshots=snapshots, **overrides)


def contact(number: str, at: str | dt.datetime, channel: str = "call", **fields: Any) -> Contact:
    instant = utc(at) if isinstance(at, str) else at
    return Contact(number=normalize(number), channel=channel, at=instant, **fields)


def check(
    number: str,
    at: str | dt.datetime,
    channel: str = "call",
    state: NumberState | None = None,
    world: WorldState | None = None,
    **fields: Any,
) -> Evaluation:
    """Evaluate one contact with a fresh world and an empty ("cold") state by default."""
    planned = contact(number, at, channel, **fields)
    return evaluate(planned, state or NumberState(), world or fresh_world(planned.at), rulebook())


def pairs(evaluation: Evaluation) -> set[tuple[str, str]]:
    """``{(code, jurisdiction), ...}`` of the reasons that fired."""
    return {(reason.code, reason.jurisdiction) for reason in evaluation.reasons}


def calls(*timestamps: str, outcome: str = "answered", **fields: Any) -> tuple[HistoryEvent, ...]:
    """Past outbound calls at the given instants (sorted)."""
    return tuple(
        HistoryEvent(ts=utc(ts), kind="contact", channel=fields.get("channel", "call"),
                     purpose=fields.get("purpose", "marketing"), subject=fields.get("subject"),
                     outcome=outcome)
        for ts in sorted(timestamps)
    )  # fmt: skip


def event(kind: str, ts: str, **fields: Any) -> HistoryEvent:
    return HistoryEvent(ts=utc(ts), kind=kind, **fields)


def consent(number: str, ctype: str = "written", channel: str = "any", **fields: Any) -> Consent:
    fields.setdefault("granted_at", utc("2026-01-01T00:00:00Z"))
    return Consent(number=number, type=ctype, channel=channel, **fields)


def dnc(number: str, ts: str, action: str = "add", **fields: Any) -> DncEntry:
    return DncEntry(number=number, action=action, added_at=utc(ts), **fields)


def local(zone: str, wall_clock: str) -> dt.datetime:
    """A wall-clock time in ``zone`` (``"2026-06-16 07:59"``) as a UTC instant."""
    from zoneinfo import ZoneInfo

    naive = dt.datetime.fromisoformat(wall_clock)
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(dt.UTC)


def minute_before(hhmm: str) -> str:
    """``"08:00"`` → ``"07:59"``: the last minute before a window boundary."""
    hours, minutes = map(int, hhmm.split(":"))
    total = hours * 60 + minutes - 1
    return f"{total // 60:02d}:{total % 60:02d}"
