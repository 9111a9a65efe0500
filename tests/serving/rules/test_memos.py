"""The engine's shortcuts never change a result.

``evaluate`` memoises what a contact's shape decides (``RuleBook.plan_for``: packs, rules,
jurisdictions), window openings per (zone, instant), wall-clock readings per (day, minute,
zone), holiday calendars per year; and it leaves out the rules whose input is absent
(``_Rule.needs``) and the policy rules whose every code the law has already fired
(``_Rule.codes``). Here contacts are evaluated on one rule book that has seen many others
(sharing instants, zones and shapes, with events, DNC entries, preferences and blocked
periods) and compared with the same contact on a book whose memos were just dropped; and
the rules left out are checked to find nothing, now and later. About 3 s in all.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.domain.state import HistoryEvent
from serving.rules import evaluate, load_rulebook
from serving.rules.facts import _Facts
from tests.support.rules import OTHER_KINDS, SAMPLE, _case, extras, scenario

WARM = load_rulebook()  # shared by every example: its memos only grow
COLD = load_rulebook()  # forgets everything before each evaluation

#: Instants next to the first contact's: the same, a microsecond, an hour or a day later.
offsets = st.sampled_from([dt.timedelta(0)] * 3 + [dt.timedelta(microseconds=1),
                          dt.timedelta(hours=1), dt.timedelta(days=1)])  # fmt: skip


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(scenario, extras, offsets), min_size=2, max_size=6))
def test_a_warm_rule_book_answers_as_a_cold_one(batch: list) -> None:
    """A batch around one instant (a request's ``now``): every result as on a fresh book."""
    first = batch[0][0][1]
    cases = [_case(case, extra, first + offset) for case, extra, offset in batch]
    warm = [evaluate(planned, state, world, WARM) for planned, state, world in cases]
    for (planned, state, world), got in zip(cases, warm, strict=True):
        COLD.forget()
        expected = evaluate(planned, state, world, COLD)
        assert got.to_dict() == expected.to_dict()
        assert got.next_allowed_at == expected.next_allowed_at


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario, extras)
def test_rules_left_out_find_nothing(case: tuple, extra: tuple) -> None:
    """A rule whose input is absent finds nothing at ``at`` nor later; every rule's reasons
    carry one of the codes it declares (a policy rule is skipped on those)."""
    for number, channel in itertools.product(SAMPLE, ("call", "sms")):
        planned, state, world = _case((number, case[1], channel, *case[3:]), extra, case[1])
        others = tuple(event for event in state.history if event.kind != "contact")
        hour_ago = planned.at - dt.timedelta(hours=1)
        each_kind = tuple(HistoryEvent(ts=hour_ago, kind=kind) for kind in OTHER_KINDS)
        # as drawn, without past contacts, and with only one event of every other kind
        for history in (state.history, others, each_kind):
            facts = _Facts(planned, replace(state, history=history), world)
            for rule in WARM.rules_for(WARM.packs_for(facts), planned):
                found = rule.check(facts, planned.at)
                assert {reason.code for reason in found} <= rule.codes, rule.rule_id
                if rule.needs and not rule.needs & facts.present:
                    for later in (dt.timedelta(0), dt.timedelta(hours=5), dt.timedelta(days=3)):
                        assert not rule.check(facts, planned.at + later), rule.rule_id
