"""The core values and pure decisions: no I/O, no clock, no database.

- :mod:`serving.domain.state` — what the rules decide on (contact, history, number state);
- :mod:`serving.domain.reasons` — the project's own reasons and their one serialised form;
- :mod:`serving.domain.decision` — rules + probabilities → decisions, budget, summary;
- :mod:`serving.domain.contract` — the request and response messages of the API.
"""

from serving.domain.decision import (
    Allocation,
    Decided,
    Policy,
    Scored,
    Tally,
    allocate_budget,
    budget_detail,
    combined_risk,
    decide,
)
from serving.domain.reasons import (
    budget_reason,
    invalid_number,
    iso_instant,
    mask_digits,
    reason_dict,
    risk_reason,
    system_unavailable,
)
from serving.domain.state import Contact, HistoryEvent, NumberState, WorldState

__all__ = [
    "Allocation",
    "Contact",
    "Decided",
    "HistoryEvent",
    "NumberState",
    "Policy",
    "Scored",
    "Tally",
    "WorldState",
    "allocate_budget",
    "budget_detail",
    "budget_reason",
    "combined_risk",
    "decide",
    "invalid_number",
    "iso_instant",
    "mask_digits",
    "reason_dict",
    "risk_reason",
    "system_unavailable",
]
