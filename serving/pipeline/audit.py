"""The audit log's rows: every decision, with the model and rules that made it.

Rows name the number in clear; the store replaces it with its keyed hash when it writes
(numbers never reach the log itself). If the rows cannot be written, the decisions cannot
be justified later, so they turn into ``SYSTEM_UNAVAILABLE`` withholds
(:func:`withhold_unaudited`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from serving.domain.contract import ReasonOut, ResultOut, Summary
from serving.domain.decision import Tally
from serving.domain.reasons import reason_dict, system_unavailable
from serving.domain.state import Contact


def decision_rows(
    results: Sequence[ResultOut],
    contacts: Sequence[Contact],
    model_version: str | None,
    rules_version: str | None,
) -> list[dict[str, Any]]:
    """One audit row per decided contact (request order)."""
    return [
        {
            "number": r.number,
            "decision": r.decision,
            "reasons": [reason_dict(x) for x in r.reasons],
            "model_version": model_version,
            "rules_version": rules_version,
            "at": c.at,
            "channel": c.channel,
            "purpose": c.purpose,
            "campaign_id": c.campaign_id,
            "p_complaint": r.p_complaint,
            "p_opt_out": r.p_opt_out,
            "risk": r.risk,
        }
        for r, c in zip(results, contacts, strict=True)
    ]


def withhold_unaudited(results: Sequence[ResultOut]) -> Summary:
    """Turn every result into a ``SYSTEM_UNAVAILABLE`` withhold (the audit log could not
    be written); returns the new summary."""
    reason = ReasonOut(**reason_dict(system_unavailable("audit log")))
    tally = Tally()
    for r in results:
        if r.decision != "withhold" or not r.reasons:
            r.decision = "withhold"
            r.rank = None
        if all(x.code != "SYSTEM_UNAVAILABLE" for x in r.reasons):
            r.reasons.append(reason)
        tally.add(r.decision, (x.code for x in r.reasons))
    return Summary(**tally.summary(0.0))
