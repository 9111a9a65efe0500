"""The contract every rule primitive keeps (in the manner of scikit-learn's estimator checks).

Each check runs once per rule class of the engine (``kind``), on every rule of that kind in
the packaged packs, over generated contacts, states and worlds (the property tests'
scenarios, ``tests/support/rules.py``). A rule:

- is registered under its own kind, and the registry covers every rule class and every kind
  the pack schema accepts;
- declares the codes it can fire, time-based ones (:data:`TIME_BASED_CODES`) exactly when its
  kind is one whose answer moves with the instant;
- only withholds, with complete reasons: each carries a declared code, the rule's id, legal
  flag and jurisdiction (``no_rule_pack`` names the uncovered region instead);
- gives an ``until`` only for a time-based code, aware and after the instant checked;
- when it does not vary with time, gives the same answer at every later instant (what the
  ``next_allowed_at`` search relies on to skip it);
- is deterministic: the same answer twice, and again after its memos are dropped;
- passes at the ``until`` of its only reason (all kinds but ``preference``, whose parts are
  independent: its weekly cap can clear into its quiet hours).

And none of it is vacuous: every kind is used by a pack and fires on some generated contact,
the time-based ones with an ``until``.
"""

from __future__ import annotations

import datetime as dt
import typing

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from serving.rules import TIME_BASED_CODES, Reason, load_rulebook
from serving.rules import schema as pack_schema
from serving.rules.facts import _Facts
from serving.rules.rule import _TIME_VARYING_KINDS, _Rule
from serving.rules.rulebook import _RULE_CLASSES
from tests.support.rules import _case, extras, scenario

BOOK = load_rulebook()
KINDS = sorted(_RULE_CLASSES)
RULES = {kind: [r for pack in BOOK.packs for r in pack.rules if r.kind == kind] for kind in KINDS}
#: Later instants at which a rule that does not vary with time must answer as at ``at``.
LATER = (dt.timedelta(microseconds=1), dt.timedelta(hours=1), dt.timedelta(days=3),
         dt.timedelta(days=29))  # fmt: skip
#: Kinds whose single reason may give way, at its ``until``, to another part of the rule.
SEVERAL_PARTS = frozenset({"preference"})

cases = st.tuples(scenario, extras)


def _facts(drawn: tuple) -> tuple[_Facts, dt.datetime]:
    """Facts of a drawn case, with the packs chosen (which sets ``default_regions``)."""
    case, extra = drawn
    planned, state, world = _case(case, extra, case[1])
    facts = _Facts(planned, state, world)
    BOOK.packs_for(facts)
    return facts, planned.at


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in cls.__subclasses__():
        found |= _subclasses(sub)
    return found


def test_the_registry_covers_every_rule_class_and_every_schema_kind() -> None:
    assert set(_RULE_CLASSES.values()) == _subclasses(_Rule)
    schema_kinds = {
        typing.get_args(model.model_fields["kind"].annotation)[0]
        for model in typing.get_args(typing.get_args(pack_schema.Rule)[0])
    }
    assert set(_RULE_CLASSES) == schema_kinds
    for kind, cls in _RULE_CLASSES.items():
        assert cls.kind == kind


def test_every_time_based_code_is_one_a_rule_can_fire() -> None:
    declared = set().union(*(cls.codes for cls in _RULE_CLASSES.values()))
    assert declared >= TIME_BASED_CODES


@pytest.mark.parametrize("kind", KINDS)
def test_a_kind_declares_its_codes_and_the_packs_use_it(kind: str) -> None:
    cls = _RULE_CLASSES[kind]
    assert cls.codes
    # a kind with a time-based code varies with the instant; so does the confirmation of an
    # opt-out, whose permanent reasons start when its window closes
    varies = bool(cls.codes & TIME_BASED_CODES) or kind == "opt_out_confirmation"
    assert varies == (kind in _TIME_VARYING_KINDS)
    assert RULES[kind], f"no pack uses {kind}: its contract would go unchecked"


def _check_reasons(rule: _Rule, found: list[Reason], at: dt.datetime) -> None:
    for reason in found:
        assert isinstance(reason, Reason)
        assert reason.code in rule.codes, rule.rule_id
        assert reason.rule_id == rule.rule_id
        assert reason.legal == rule.legal
        if rule.kind != "no_rule_pack":
            assert reason.jurisdiction == rule.jurisdiction
        if reason.until is not None:
            assert reason.code in TIME_BASED_CODES, rule.rule_id
            assert reason.until.utcoffset() is not None, rule.rule_id
            assert reason.until > at, (rule.rule_id, reason)


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=cases)
def test_every_rule_keeps_the_contract(kind: str, drawn: tuple) -> None:
    facts, at = _facts(drawn)
    for rule in RULES[kind]:
        found = list(rule.check(facts, at))
        _check_reasons(rule, found, at)
        assert list(rule.check(facts, at)) == found, rule.rule_id
        rule.forget()
        assert list(rule.check(facts, at)) == found, rule.rule_id
        if not rule.varies_with_time:
            for later in LATER:
                assert list(rule.check(facts, at + later)) == found, (rule.rule_id, later)
        if kind not in SEVERAL_PARTS and len(found) == 1 and found[0].until is not None:
            assert not rule.check(facts, found[0].until), (rule.rule_id, found[0])


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_fires_on_some_contact(kind: str) -> None:
    """The contract above is not vacuous: each kind withholds some generated contact (a
    time-based kind with an ``until``)."""
    time_based = bool(_RULE_CLASSES[kind].codes & TIME_BASED_CODES)

    def fires(drawn: tuple) -> bool:
        facts, at = _facts(drawn)
        return any(
            reason.until is not None or not time_based
            for rule in RULES[kind]
            for reason in rule.check(facts, at)
        )

    search = settings(max_examples=2_000, database=None, deadline=None, phases=[Phase.generate])
    find(cases, fires, settings=search)  # raises NoSuchExample when none fires
