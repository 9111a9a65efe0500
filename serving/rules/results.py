"""What an evaluation returns: the reasons that fired (:class:`Reason`) and the outcome
(:class:`Evaluation`), with the API's dict shape (:meth:`Reason.to_dict`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

__all__ = ["TIME_BASED_CODES", "Evaluation", "Reason"]

_UTC = dt.UTC
#: Codes whose reasons clear by waiting; any other code makes ``next_allowed_at`` null.
TIME_BASED_CODES = frozenset(
    {"QUIET_HOURS", "DAY_NOT_ALLOWED", "HOLIDAY", "BLOCKED_PERIOD", "FREQUENCY_CAP",
     "COOLING_OFF", "PREFERENCE"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a contact is withheld (API.md "Reason codes"); ``until`` only for time-based ones."""

    code: str
    jurisdiction: str
    rule_id: str
    legal: bool
    detail: str
    until: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The API shape: ``{code, jurisdiction, rule_id, legal, detail, until}``."""
        return {
            "code": self.code,
            "jurisdiction": self.jurisdiction,
            "rule_id": self.rule_id,
            "legal": self.legal,
            "detail": self.detail,
            "until": _iso(self.until),
        }


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
            "next_allowed_at": _iso(self.next_allowed_at),
            "time_zones": list(self.time_zones),
            "jurisdictions": list(self.jurisdictions),
        }


def _iso(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(_UTC).isoformat().replace("+00:00", "Z")
