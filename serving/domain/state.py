"""What the rules engine decides on: plain, immutable values, no I/O.

The store (:mod:`serving.store`) builds these from the database; tests build them by hand.
The engine (:mod:`serving.rules`) is a pure function of
``(contact, number state, world state, instant)`` and never reads the clock or the store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import NamedTuple

from features.phone import NumberRecord
from features.schema import BlockedPeriod, Consent, DncEntry, Preference


class Contact(NamedTuple):
    """A planned contact, after API defaults are applied (docs/api.md, ``screen``). A named
    tuple for the reason :class:`HistoryEvent` is one: a screen builds one per contact."""

    number: NumberRecord
    channel: str  # call | sms
    at: dt.datetime  # aware, UTC
    purpose: str = "marketing"  # marketing | service | opt_out_confirmation
    dial_mode: str = "manual"  # an SMS is always sent by an automated platform
    subject: str = "default"
    campaign_id: str | None = None
    address_region: str | None = None  # ISO 3166-2 of a known address, e.g. "US-GA"
    live_agent_guaranteed: bool = False
    ref: str | None = None


class HistoryEvent(NamedTuple):
    """One past event of a number, as the rules need it (subset of ``schema.Event``).

    A named tuple rather than a frozen dataclass: the store builds one per stored event on
    every read (~6,000 for a 1,000-contact screen), and a frozen dataclass's ``__init__``
    sets each field through ``object.__setattr__`` (~5x the cost). Immutable either way;
    change one with ``event._replace(ts=…)``."""

    ts: dt.datetime  # aware, UTC
    kind: str
    channel: str | None = None
    purpose: str | None = None
    subject: str | None = None
    campaign_id: str | None = None
    dial_mode: str | None = None
    outcome: str | None = None
    duration_s: float | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class NumberState:
    """Everything held on one number that a rule may look at.

    ``history`` is sorted by ``ts`` and covers at least the longest window any rule pack
    uses (the store loads 400 days). Registry listings name the registries on which the
    number is listed in the snapshot currently in force.
    """

    history: tuple[HistoryEvent, ...] = ()
    consents: tuple[Consent, ...] = ()
    dnc: tuple[DncEntry, ...] = ()  # adds and removals, in the order they were made
    registries: frozenset[str] = frozenset()
    preference: Preference | None = None
    suppressed: bool = False  # an erasure tombstone (keyed hash) matches this number


@dataclass(frozen=True, slots=True)
class WorldState:
    """State that is not per number: registry snapshot ages, operator blocked periods."""

    registry_snapshots: dict[str, dt.datetime] = field(
        default_factory=dict
    )  # registry → snapshot_at
    blocked_periods: tuple[BlockedPeriod, ...] = ()
