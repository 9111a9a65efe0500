"""From rule reasons and calibrated probabilities to decisions: pure, no I/O.

Order of authority: any legal or policy reason withholds; the score may then add
a withhold (``RISK_ABOVE_THRESHOLD``) or a review, never remove a withhold; finally the
campaign budget (expected complaints, contact count) keeps the least risky allowed contacts
and withholds the rest with ``BUDGET_EXHAUSTED``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.definitions import combined_risk
from serving.domain.reasons import Reason, budget_reason, risk_reason

K = TypeVar("K", bound=Hashable)


class Policy(BaseModel):
    """Risk thresholds and campaign budget of a screening request (docs/api.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    review_above: float = Field(0.5, ge=0, le=1)
    withhold_above: float = Field(0.8, ge=0, le=1)
    max_expected_complaints: float | None = Field(None, ge=0)
    max_contacts: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _order(self) -> Policy:
        if self.review_above > self.withhold_above:
            raise ValueError("review_above must not exceed withhold_above")
        return self


@dataclass
class Scored:
    """One contact after rules and model: the input to :func:`decide`."""

    reasons: list[Reason]
    next_allowed_at: dt.datetime | None
    p_complaint: float | None
    p_opt_out: float | None
    explanations: list[dict] = field(default_factory=list)


@dataclass
class Decided:
    """One contact's decision; ``rank`` only for allowed contacts (1 = least risky)."""

    decision: str  # allow | review | withhold
    reasons: list[Reason]
    risk: float | None
    rank: int | None
    next_allowed_at: dt.datetime | None


@dataclass
class Allocation:
    """The campaign budget applied to allowed contacts: ranks of those kept, the budget
    reason's detail for those withheld, and the expected complaints of those kept."""

    rank: dict[Any, int] = field(default_factory=dict)
    withheld: dict[Any, str] = field(default_factory=dict)
    expected_complaints: float = 0.0


def budget_detail(limit: str, policy: Policy) -> str:
    """The detail of a ``BUDGET_EXHAUSTED`` withhold: which limit of ``policy`` the contact
    would pass (``max_contacts`` or ``max_expected_complaints``)."""
    if limit == "max_contacts":
        return f"max_contacts {policy.max_contacts} reached"
    return f"expected complaints would exceed {policy.max_expected_complaints:g}"


def allocate_budget(least_risky_first: Iterable[tuple[K, float]], policy: Policy) -> Allocation:
    """Keep allowed contacts, least risky first, while the budget lasts.

    ``least_risky_first`` yields ``(key, p_complaint)`` in rank order. A contact past
    ``max_contacts``, or one whose ``p_complaint`` would take the total past
    ``max_expected_complaints``, is withheld ``BUDGET_EXHAUSTED`` (the detail says which);
    every contact is tried, since a later one with a smaller ``p_complaint`` may still fit.
    Used by :func:`decide` (one request) and the batch's second pass (a whole file).
    """
    out = Allocation()
    kept = 0
    expected = 0.0
    for key, p_c in least_risky_first:
        if policy.max_contacts is not None and kept >= policy.max_contacts:
            out.withheld[key] = budget_detail("max_contacts", policy)
            continue
        if (
            policy.max_expected_complaints is not None
            and expected + p_c > policy.max_expected_complaints
        ):
            out.withheld[key] = budget_detail("max_expected_complaints", policy)
            continue
        kept += 1
        expected += p_c
        out.rank[key] = kept
    out.expected_complaints = expected
    return out


@dataclass
class Tally:
    """Counts of decisions and reason codes: the summary of a request or a file."""

    decisions: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)

    def add(self, decision: str, codes: Iterable[str]) -> None:
        self.decisions[decision] += 1
        self.reasons.update(codes)

    def summary(self, expected_complaints: float = 0.0) -> dict[str, Any]:
        """``{allow, review, withhold, by_reason, expected_complaints}`` (docs/api.md)."""
        return {
            "allow": self.decisions.get("allow", 0),
            "review": self.decisions.get("review", 0),
            "withhold": self.decisions.get("withhold", 0),
            "by_reason": dict(sorted(self.reasons.items())),
            "expected_complaints": round(expected_complaints, 6),
        }


def decide(items: list[Scored], policy: Policy) -> tuple[list[Decided], dict]:
    """Decisions in input order, plus the summary (docs/api.md)."""
    out: list[Decided] = []
    for item in items:
        reasons = list(item.reasons)
        risk = None
        if item.p_complaint is not None and item.p_opt_out is not None:
            risk = combined_risk(item.p_complaint, item.p_opt_out)
        if reasons or risk is None:  # a legal reason, or no score at all: fail closed
            decision = "withhold"
        elif risk > policy.withhold_above:
            reasons.append(risk_reason(risk, policy.withhold_above))
            decision = "withhold"
        elif risk > policy.review_above:
            decision = "review"
        else:
            decision = "allow"
        next_at = item.next_allowed_at if decision == "withhold" else None
        out.append(Decided(decision, reasons, risk, None, next_at))

    allowed = [i for i, d in enumerate(out) if d.decision == "allow"]
    allowed.sort(key=lambda i: (out[i].risk, i))
    budget = allocate_budget(((i, items[i].p_complaint or 0.0) for i in allowed), policy)
    for i, detail in budget.withheld.items():
        out[i].decision = "withhold"
        out[i].reasons.append(budget_reason(detail))
    for i, rank in budget.rank.items():
        out[i].rank = rank
    tally = Tally()
    for d in out:
        tally.add(d.decision, (r.code for r in d.reasons))
    return out, tally.summary(budget.expected_complaints)
