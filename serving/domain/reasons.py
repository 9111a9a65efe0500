"""Reasons a contact is withheld (:class:`Reason`) and their one serialised form.

The rules engine produces reasons for the law and the company's policy packs; the
pipeline adds the reasons below (fail closed, unparsable number, risk, budget).
Every place that writes a reason out — the HTTP answers, the audit log, the batch decisions
file — goes through :func:`reason_dict`, so a reason has one shape everywhere
(``{code, jurisdiction, rule_id, legal, detail, until}``, ``until`` as the API writes it).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Reason",
    "ReasonLike",
    "budget_reason",
    "invalid_number",
    "iso_instant",
    "iso_utc",
    "mask_digits",
    "policy_reason",
    "reason_dict",
    "risk_reason",
    "system_unavailable",
]

_DIGITS = re.compile(r"\d{4,}")


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a contact is withheld (docs/api.md, "Reason codes"); ``until`` only for time-based ones."""

    code: str
    jurisdiction: str
    rule_id: str
    legal: bool
    detail: str
    until: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The API shape: ``{code, jurisdiction, rule_id, legal, detail, until}``."""
        return reason_dict(self)


def policy_reason(code: str, rule: str, detail: str) -> Reason:
    """A company-policy reason (``jurisdiction: POLICY``, ``legal: false``, no ``until``)."""
    return Reason(code, "POLICY", f"POLICY/{rule}", False, detail)


class ReasonLike(Protocol):
    """What a reason has, whether the engine's value or the API's response model."""

    code: str
    jurisdiction: str
    rule_id: str
    legal: bool
    detail: str
    until: dt.datetime | None


def iso_instant(value: dt.datetime | None) -> str | None:
    """An aware instant as ISO-8601, ``Z`` for UTC — exactly as the API's JSON writes it
    (pydantic keeps a non-UTC offset; every instant the engine produces is UTC)."""
    if value is None:
        return None
    return value.isoformat().replace("+00:00", "Z")


def iso_utc(value: dt.datetime | None) -> str | None:
    """An aware instant converted to UTC, as :func:`iso_instant` writes it."""
    return None if value is None else iso_instant(value.astimezone(dt.UTC))


def reason_dict(reason: ReasonLike) -> dict[str, Any]:
    """The serialised reason: ``{code, jurisdiction, rule_id, legal, detail, until}``."""
    return {
        "code": reason.code,
        "jurisdiction": reason.jurisdiction,
        "rule_id": reason.rule_id,
        "legal": reason.legal,
        "detail": reason.detail,
        "until": iso_instant(reason.until),
    }


def mask_digits(text: str) -> str:
    """Mask digit runs (numbers may hide in exception messages) before logging."""
    return _DIGITS.sub(lambda m: "#" * len(m.group()), text)


def system_unavailable(what: str) -> Reason:
    """The fail-closed reason: ``what`` names the missing part, never internals or numbers."""
    return policy_reason(
        "SYSTEM_UNAVAILABLE", "fail-closed", f"{what} unavailable; withheld (fail closed)"
    )


def invalid_number(invalid_reason: str | None) -> Reason:
    """A number that does not parse or is not valid: withheld on its own, never an error."""
    return policy_reason(
        "INVALID_NUMBER", "invalid-number", f"invalid number: {invalid_reason or 'not valid'}"
    )


def risk_reason(risk: float, threshold: float) -> Reason:
    return policy_reason(
        "RISK_ABOVE_THRESHOLD", "risk", f"risk {risk:.3f} above withhold threshold {threshold:.3f}"
    )


def budget_reason(detail: str) -> Reason:
    return policy_reason("BUDGET_EXHAUSTED", "budget", detail)
