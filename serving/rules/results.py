"""What an evaluation returns: the reasons that fired (:class:`serving.domain.reasons.Reason`)
and the outcome (:class:`Evaluation`), in the API's dict shape."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from serving.domain.reasons import Reason, iso_utc

__all__ = ["TIME_BASED_CODES", "Evaluation", "Reason"]

#: Codes whose reasons clear by waiting; any other code makes ``next_allowed_at`` null.
TIME_BASED_CODES = frozenset(
    {"QUIET_HOURS", "DAY_NOT_ALLOWED", "HOLIDAY", "BLOCKED_PERIOD", "FREQUENCY_CAP",
     "COOLING_OFF", "PREFERENCE"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every reason that fired at ``contact.at`` and when the contact could go ahead.

    ``next_allowed_at`` is null when nothing fired, when a permanent reason fired, or when
    the time-based reasons do not all clear within :data:`SEARCH_HORIZON`.
    """

    reasons: list[Reason]
    next_allowed_at: dt.datetime | None
    time_zones: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """True when no rule withholds the contact."""
        return not self.reasons

    @property
    def codes(self) -> list[str]:
        """The reason codes, in the order they fired."""
        return [reason.code for reason in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reasons": [reason.to_dict() for reason in self.reasons],
            "next_allowed_at": iso_utc(self.next_allowed_at),
            "time_zones": list(self.time_zones),
            "jurisdictions": list(self.jurisdictions),
        }
