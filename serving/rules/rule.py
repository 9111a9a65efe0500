"""The base of every compiled rule (:class:`_Rule`): filters, effective dates, reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from serving.domain.reasons import Reason
from serving.domain.state import Contact
from serving.rules.clock import _at_local
from serving.rules.facts import _Facts

if TYPE_CHECKING:
    from serving.rules.rulebook import _Pack

_UTC = dt.UTC
_DAY = dt.timedelta(days=1)
#: Open ends of a rule's effective dates.
_EARLIEST = dt.datetime.min.replace(tzinfo=_UTC)
_LATEST = dt.datetime.max.replace(tzinfo=_UTC)
_NO_REASONS: tuple[Reason, ...] = ()
#: Rolling windows include an event exactly ``window`` old (docs/rules.md, rule 12 of "How the rules are applied"),
#: so it stops counting one second later: the attempt 24 h + 1 s ago no longer counts.
_RESOLUTION = dt.timedelta(seconds=1)
#: Memo markers (an absent entry; "the instant asked about") and the size a memo is cleared at.
_MISSING, _SAME = object(), object()
_CACHE_SIZE = 4_096
_TIME_VARYING_KINDS = frozenset(
    {
        "window",
        "day_ban",
        "holiday",
        "blocked_period",
        "cap",
        "cooling_off",
        "preference",
        "opt_out_confirmation",
    }
)


class _Rule:
    """A compiled rule: filters precomputed, ``check`` returns the reasons it fires at ``t``."""

    needs_local_time = False
    kind = ""
    #: Every code ``check`` can return.
    codes: frozenset[str] = frozenset()
    #: The ``_Facts.present`` bit without which this rule never fires (0: always checked).
    needs = 0

    def __init__(self, spec: Any, pack: _Pack) -> None:
        self.pack = pack
        self.spec = spec
        self.rule_id = f"{pack.jurisdiction}/{spec.id}"
        self.jurisdiction = pack.jurisdiction
        self.legal = pack.legal and spec.marker != "P"
        self.channels = frozenset(spec.channels)
        self.purposes = frozenset(spec.purposes)
        self.dial_modes = frozenset(spec.dial_modes) if spec.dial_modes is not None else None
        self.line_types = frozenset(spec.line_types) if spec.line_types is not None else None
        # Effective dates (docs/rules.md, "Rules in time"): in force from local midnight of
        # ``effective_from`` through the end of ``effective_until`` in ANY candidate zone —
        # a rule is never applied late nor lifted early wherever the recipient may be.
        self.effective_from = spec.effective_from
        self.effective_until = spec.effective_until
        self.dated = spec.effective_from is not None or spec.effective_until is not None
        self.bounds_cache: dict[tuple[ZoneInfo, ...], tuple[dt.datetime, dt.datetime]] = {}
        if self.dated:
            # Only dated rules pay for the date check: their ``check`` is wrapped once here.
            self.undated_check = self.check
            self.check = self._dated_check  # type: ignore[method-assign]
        self.defer_to_law = spec.defer_to_law
        self.defer_if_fired = spec.defer_to_law == "fired"
        self.by_law = not pack.everywhere  # policy packs apply everywhere
        # Whether the rule's answer can change as the instant moves with the history fixed
        # (the next_allowed_at search re-checks only these).
        self.varies_with_time = spec.kind in _TIME_VARYING_KINDS or self.dated

    def applies(self, contact: Contact) -> bool:
        """Whether the rule governs this contact at all (channel, purpose, mode, line type)."""
        if contact.channel not in self.channels or contact.purpose not in self.purposes:
            return False
        if self.dial_modes is not None and contact.dial_mode not in self.dial_modes:
            return False
        return self.line_types is None or contact.number.line_type in self.line_types

    def in_force_between(self, zones: tuple[ZoneInfo, ...]) -> tuple[dt.datetime, dt.datetime]:
        """``[start, end)``: the instants at which the rule is in force for a recipient in
        ``zones``. Start: the first candidate zone's local midnight of ``effective_from``;
        end: the last zone's local midnight after ``effective_until`` (inclusive date).
        Without a zone, the widest reading: UTC+14 for the start, UTC-12 for the end."""
        found = self.bounds_cache.get(zones)
        if found is not None:
            return found
        start, end = _EARLIEST, _LATEST
        first, last = self.effective_from, self.effective_until
        if zones:
            if first is not None:
                start = min(_at_local(first, 0, zone) for zone in zones)
            if last is not None:
                end = max(_at_local(last + _DAY, 0, zone) for zone in zones)
        else:
            if first is not None:
                start = dt.datetime.combine(first, dt.time(), _UTC) - dt.timedelta(hours=14)
            if last is not None:
                end = dt.datetime.combine(last + _DAY, dt.time(), _UTC) + dt.timedelta(hours=12)
        if len(self.bounds_cache) >= _CACHE_SIZE:
            self.bounds_cache.clear()
        self.bounds_cache[zones] = (start, end)
        return start, end

    def in_force(self, facts: _Facts, instant: dt.datetime) -> bool:
        """Whether the rule's effective dates cover ``instant`` for this recipient."""
        if not self.dated:
            return True
        start, end = self.in_force_between(facts.zones)
        return start <= instant < end

    def _dated_check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        """``check`` of a rule with effective dates: nothing outside them, and a time-based
        reason lasts at most until the rule lapses (what the ``next_allowed_at`` search
        waits for). A permanent reason stays permanent: ``next_allowed_at`` stays null."""
        start, end = self.in_force_between(facts.zones)
        if instant < start or instant >= end:
            return _NO_REASONS
        found = self.undated_check(facts, instant)
        if end is _LATEST or not found:
            return found
        return [
            replace(reason, until=end)
            if reason.until is not None and reason.until > end
            else reason
            for reason in found
        ]

    def reason(self, code: str, detail: str, until: dt.datetime | None = None) -> Reason:
        return Reason(code, self.jurisdiction, self.rule_id, self.legal, detail, until)

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        raise NotImplementedError

    def forget(self) -> None:
        """Drop the rule's memos (:meth:`RuleBook.forget`)."""
        self.bounds_cache.clear()
