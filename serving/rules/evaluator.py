"""Evaluate one contact: every reason that fires at ``contact.at`` and, when all of them
are time-based, ``next_allowed_at``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from serving.domain.reasons import Reason, policy_reason
from serving.domain.state import Contact, NumberState, WorldState
from serving.rules.facts import _Facts
from serving.rules.results import Evaluation
from serving.rules.rule import _Rule
from serving.rules.rulebook import RuleBook

__all__ = ["SEARCH_HORIZON", "evaluate"]

#: How far ahead ``next_allowed_at`` is searched (issue 6).
SEARCH_HORIZON = dt.timedelta(days=30)


def _evaluate_rules(rules: Sequence[_Rule], facts: _Facts, instant: dt.datetime) -> list[Reason]:
    reasons: list[Reason] = []
    fired_by_law: set[str] = set()
    for rule in rules:  # policy packs come last, so the law's codes are known by then
        if rule.defer_if_fired and fired_by_law and rule.codes <= fired_by_law:
            continue  # whatever it finds, the law has fired it already
        found = rule.check(facts, instant)
        if not found:
            continue
        if rule.defer_if_fired and all(r.code in fired_by_law for r in found):
            continue
        reasons.extend(found)
        if rule.by_law:
            fired_by_law.update(r.code for r in found)
    return reasons


def evaluate(
    contact: Contact, state: NumberState, world: WorldState, rulebook: RuleBook
) -> Evaluation:
    """All reasons that fire for ``contact`` at ``contact.at`` and the next allowed instant.

    Pure: reads nothing but its arguments. ``state.history`` may hold events after
    ``contact.at``; they are ignored.
    """
    number = contact.number
    if not number.valid:
        detail = f"invalid number: {number.invalid_reason or 'not valid'}"
        return Evaluation([policy_reason("INVALID_NUMBER", "invalid-number", detail)], None)
    facts = _Facts(contact, state, world)
    reasons: list[Reason] = []
    if state.suppressed:
        reasons.append(
            policy_reason(
                "SUPPRESSED", "erasure-suppression", "erased subject (keyed-hash tombstone)"
            )
        )
    if not number.region or number.region == "001":
        reasons.append(
            policy_reason("NO_RULE_PACK", "unknown-region", "number has no geographic region")
        )
    plan = rulebook.plan_for(facts)
    if plan.unknown_timezone:
        reasons.append(
            policy_reason(
                "UNKNOWN_TIMEZONE",
                "unknown-timezone",
                f"{number.line_type} number with no known time zone; "
                + (
                    f"{plan.local_rules} local-time rule(s) cannot be checked"
                    if plan.local_rules
                    else "its local time (and any quiet hours) cannot be known"
                ),
            )
        )
    reasons.extend(_evaluate_rules(plan.rules, facts, contact.at))
    return Evaluation(
        reasons,
        _next_allowed_at(reasons, plan.moving, facts),
        facts.zone_names,
        plan.jurisdictions,
    )


def _next_allowed_at(
    reasons: list[Reason], moving: Sequence[_Rule], facts: _Facts
) -> dt.datetime | None:
    """Earliest instant ≥ at when every rule passes, if all reasons are time-based.

    Rules that do not vary with the instant (not in ``moving``) passed at ``at`` (no
    permanent reason fired) and pass at every later instant too: only the others are
    re-checked.
    """
    if not reasons:
        return None
    if any(reason.until is None for reason in reasons):
        return None
    limit = facts.at + SEARCH_HORIZON
    instant = max(reason.until for reason in reasons if reason.until is not None)
    while instant <= limit:
        found = _evaluate_rules(moving, facts, instant)
        if not found:
            return instant
        if any(reason.until is None for reason in found):
            return None
        later = max(reason.until for reason in found if reason.until is not None)
        if later <= instant:  # defensive: a rule that cannot say when it passes
            return None
        instant = later
    return None
