"""docs/rules.md is generated from the packs and must never drift from them."""

from __future__ import annotations

from pathlib import Path

from serving.rules.catalogue import REASON_CODES, describe_rule, load_packs, render

PAGE = Path(__file__).resolve().parents[3] / "docs" / "rules.md"


def test_docs_rules_md_is_the_generated_catalogue() -> None:
    expected = render(load_packs())
    assert PAGE.read_text(encoding="utf-8") == expected, (
        "docs/rules.md differs from the packs; regenerate it with "
        "`python -m serving.rules.catalogue docs/rules.md`"
    )


def test_every_pack_and_rule_is_in_the_catalogue() -> None:
    packs = load_packs()
    text = render(packs)
    assert len(packs) >= 20
    for pack in packs:
        assert f"## {pack.jurisdiction}\n\n**{pack.title}**" in text
        for rule in pack.rules:
            assert f"| `{rule.id}` | `{rule.kind}` |" in text
            assert describe_rule(rule)


def test_legal_packs_come_before_company_ones() -> None:
    order = [pack.jurisdiction for pack in load_packs()]
    assert order[-3:] == ["DEFAULT", "POLICY", "NO_RULE_PACK"]
    assert order[:-3] == sorted(order[:-3])


def test_reason_codes_are_listed_once() -> None:
    codes = [code for code, *_ in REASON_CODES]
    assert len(codes) == len(set(codes))
    assert {"QUIET_HOURS", "SYSTEM_UNAVAILABLE", "INVALID_NUMBER", "BUDGET_EXHAUSTED"} <= set(codes)
