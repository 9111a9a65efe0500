"""From rule reasons and calibrated probabilities to decisions: pure, no I/O.

Order of authority (DESIGN.md): any legal or policy reason withholds; the score may then add
a withhold (``RISK_ABOVE_THRESHOLD``) or a review, never remove a withhold; finally the
campaign budget (expected complaints, contact count) keeps the least risky allowed contacts
and withholds the rest with ``BUDGET_EXHAUSTED``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from serving.rules import Reason, policy_reason


class Policy(BaseModel):
    """Risk thresholds and campaign budget of a screening request (API.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    review_above: float = Field(0.5, ge=0, le=1)
    withhold_above: float = Field(0.8, ge=0, le=1)
    max_expected_complaints: float | None = Field(None, ge=0)
    max_contacts: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _order(self) -> Policy:
        if self.review_above > self.withhold_above:
            raise ValueError("review_above must not exceed withhold_above")
        return self


def combined_risk(p_complaint: np.ndarray, p_opt_out: np.ndarray) -> np.ndarray:
    """P(complaint or opt-out), treating the two calibrated events as independent."""
    return 1.0 - (1.0 - p_complaint) * (1.0 - p_opt_out)


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


def _risk_reason(risk: float, threshold: float) -> Reason:
    return policy_reason(
        "RISK_ABOVE_THRESHOLD", "risk", f"risk {risk:.3f} above withhold threshold {threshold:.3f}"
    )


def budget_reason(detail: str) -> Reason:
    return policy_reason("BUDGET_EXHAUSTED", "budget", detail)


def decide(items: list[Scored], policy: Policy) -> tuple[list[Decided], dict]:
    """Decisions in input order, plus the summary of API.md."""
    out: list[Decided] = []
    for item in items:
        reasons = list(item.reasons)
        risk = None
        if item.p_complaint is not None and item.p_opt_out is not None:
            risk = 1.0 - (1.0 - item.p_complaint) * (1.0 - item.p_opt_out)  # combined_risk
        if reasons or risk is None:  # a legal reason, or no score at all: fail closed
            decision = "withhold"
        elif risk > policy.withhold_above:
            reasons.append(_risk_reason(risk, policy.withhold_above))
            decision = "withhold"
        elif risk > policy.review_above:
            decision = "review"
        else:
            decision = "allow"
        next_at = item.next_allowed_at if decision == "withhold" else None
        out.append(Decided(decision, reasons, risk, None, next_at))

    allowed = [i for i, d in enumerate(out) if d.decision == "allow"]
    allowed.sort(key=lambda i: (out[i].risk, i))
    kept = 0
    expected = 0.0
    for i in allowed:
        p_c = items[i].p_complaint or 0.0
        if policy.max_contacts is not None and kept >= policy.max_contacts:
            out[i].decision = "withhold"
            out[i].reasons.append(budget_reason(f"max_contacts {policy.max_contacts} reached"))
            continue
        if (
            policy.max_expected_complaints is not None
            and expected + p_c > policy.max_expected_complaints
        ):
            out[i].decision = "withhold"
            out[i].reasons.append(
                budget_reason(
                    f"expected complaints would exceed {policy.max_expected_complaints:g}"
                )
            )
            continue
        kept += 1
        expected += p_c
        out[i].rank = kept
    counts = Counter(d.decision for d in out)
    by_reason = Counter(r.code for d in out for r in d.reasons)
    summary = {
        "allow": counts.get("allow", 0),
        "review": counts.get("review", 0),
        "withhold": counts.get("withhold", 0),
        "by_reason": dict(sorted(by_reason.items())),
        "expected_complaints": round(expected, 6),
    }
    return out, summary
