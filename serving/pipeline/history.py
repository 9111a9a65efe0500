"""A number's history as ``authorize`` must see it: attempts recorded at or after the dial's
instant count as made just before it (conservative: a cap can only fill, never empty), and a
replayed attempt does not count against itself. Pure functions of a :class:`NumberState`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace

from serving.domain.state import HistoryEvent, NumberState

LATER_ATTEMPTS_WINDOW = dt.timedelta(days=31)
#: Later events that only ever restrict (never exempt): they bind an earlier ``at`` too.
RESTRICTIVE_KINDS = frozenset({"contact", "opt_out", "complaint", "refusal"})


def prior_attempts_before(state: NumberState, at: dt.datetime) -> NumberState:
    """Count attempts already recorded at or after ``at`` as made just before it.

    ``authorize`` records an attempt at its own instant; a second request for the same
    instant (or an earlier ``at`` that reached the lock later) must still see it, or two
    dials at one second would both pass a cap. Conservative: it only ever counts more.
    """
    if not any(e.kind == "contact" and e.ts >= at for e in state.history):
        return state
    just_before = at - dt.timedelta(microseconds=1)
    history = sorted(
        (
            e._replace(ts=just_before) if e.kind == "contact" and e.ts >= at else e
            for e in state.history
        ),
        key=lambda e: e.ts,
    )
    return replace(state, history=tuple(history))


#: How far after an authorize's ``at`` recorded events are still looked at: the longest cap
#: window of any pack (FR: 4 per rolling 30 days) plus a margin.


def with_later_restrictions(
    state: NumberState, later: Sequence[HistoryEvent], at: dt.datetime
) -> NumberState:
    """Add to ``state`` (as of ``at``) the attempts and restrictive events recorded after it.

    An ``authorize`` for an earlier instant than attempts already recorded (a dialer's
    clock, a queued request) must not slip under a cap that those attempts fill: any
    rolling window containing the new attempt may hold them. Exemptions recorded later
    (purchases, consent) are not taken back in time. :func:`prior_attempts_before` then
    counts the later attempts as made just before ``at`` — conservative, never fewer.
    """
    extra = tuple(e for e in later if e.ts > at and e.kind in RESTRICTIVE_KINDS)
    if not extra:
        return state
    history = tuple(sorted((*state.history, *extra), key=lambda e: e.ts))
    return replace(state, history=history)


def without_attempt(state: NumberState, ts: dt.datetime) -> NumberState:
    """``state`` less one recorded contact at ``ts`` (the attempt being replayed)."""
    history = list(state.history)
    for i, e in enumerate(history):
        if e.kind == "contact" and e.ts == ts:
            del history[i]
            break
    return replace(state, history=tuple(history))
