"""The base of every compiled rule (:class:`_Rule`): filters, effective dates, reasons."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from serving.domain.reasons import Reason
from serving.domain.state import Contact
from serving.rules.facts import _Facts

if TYPE_CHECKING:
    from serving.rules.rulebook import _Pack

_UTC = dt.UTC
_NO_REASONS: tuple[Reason, ...] = ()
#: Rolling windows include an event exactly ``window`` old (docs/rules.md, rule 12 of "How the rules are applied"),
#: so it stops counting one second later: the attempt 24 h + 1 s ago no longer counts.
_RESOLUTION = dt.timedelta(seconds=1)
#: Memo markers (an absent entry; "the instant asked about") and the size a memo is cleared at.
_MISSING, _SAME = object(), object()
_CACHE_SIZE = 4_096
_TIME_VARYING_KINDS = frozenset(
    {"window", "day_ban", "holiday", "blocked_period", "cap", "cooling_off", "preference"}
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
        # Effective dates as instants: a date starts at its earliest moment anywhere (UTC+14)
        # and ends at its latest (UTC-12), so a rule is never applied late nor lifted early.
        self.effective_from = (
            dt.datetime.combine(spec.effective_from, dt.time(), _UTC) - dt.timedelta(hours=14)
            if spec.effective_from
            else None
        )
        self.effective_until = (
            dt.datetime.combine(spec.effective_until, dt.time(), _UTC) + dt.timedelta(hours=12)
            if spec.effective_until
            else None
        )
        self.defer_to_law = spec.defer_to_law
        self.defer_if_fired = spec.defer_to_law == "fired"
        self.by_law = not pack.everywhere  # policy packs apply everywhere
        # Whether the rule's answer can change as the instant moves with the history fixed
        # (the next_allowed_at search re-checks only these).
        self.varies_with_time = (
            spec.kind in _TIME_VARYING_KINDS
            or self.effective_from is not None
            or self.effective_until is not None
        )

    def applies(self, contact: Contact) -> bool:
        """Whether the rule governs this contact at all (channel, purpose, mode, line type)."""
        if contact.channel not in self.channels or contact.purpose not in self.purposes:
            return False
        if self.dial_modes is not None and contact.dial_mode not in self.dial_modes:
            return False
        return self.line_types is None or contact.number.line_type in self.line_types

    def in_force(self, instant: dt.datetime) -> bool:
        if self.effective_from is not None and instant < self.effective_from:
            return False
        return self.effective_until is None or instant < self.effective_until

    def reason(self, code: str, detail: str, until: dt.datetime | None = None) -> Reason:
        return Reason(code, self.jurisdiction, self.rule_id, self.legal, detail, until)

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        raise NotImplementedError

    def forget(self) -> None:
        """Drop the rule's memos (:meth:`RuleBook.forget`)."""
