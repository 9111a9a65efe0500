"""Rule packs as data: strict schema, errors naming file and key, versions, extensibility."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from serving.domain.state import NumberState
from serving.rules import PACKS_DIR, Reason, evaluate, load_rulebook
from serving.rules.schema import RulePackError, read_pack
from tests.support.rules import contact, fresh_world

REQUIRED = {
    "US", "US-FL", "US-OK", "US-MD", "US-LA", "US-AL", "US-MS", "US-TX", "US-UT", "US-KY",
    "US-MA", "US-WA", "US-CT", "US-RI", "US-PA", "US-NM", "US-VA", "US-NV", "US-IL", "US-NE",
    "US-SD", "US-MN", "US-MI", "US-ME", "US-CO", "US-IN", "US-MO", "US-TN", "US-WY",
    "CA", "GB", "FR", "DE", "AU", "CN", "ES", "IT", "NL", "BR", "IN", "JP",
    "DEFAULT", "NO_RULE_PACK", "POLICY",
}  # fmt: skip

MINIMAL = """\
jurisdiction: MX
version: "0.1"
title: Mexico (test)
legal: true
reviewed_at: 2026-12-01
applies_to:
  regions: [MX]
sources:
  - cite: Ley Federal de Protección al Consumidor (test)
rules:
  - id: hours
    kind: window
    marker: C
    cite: test
    url: https://example.org/test
    days:
      mon-fri: [["09:00", "21:00"]]
      sat-sun: []
"""


def test_every_required_pack_loads() -> None:
    book = load_rulebook()
    assert set(book.jurisdictions) == REQUIRED
    assert book.directory == PACKS_DIR


@pytest.mark.parametrize("path", sorted(PACKS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_pack_cites_sources_and_lists_unconfirmed_facts(path: Path) -> None:
    pack = read_pack(path)
    assert pack.jurisdiction == path.stem
    assert pack.sources and all(source.cite for source in pack.sources)
    assert all(rule.cite for rule in pack.rules)
    if any(rule.marker in ("S", "M") for rule in pack.rules):
        assert pack.unconfirmed, f"{path.name} has [S]/[M] rules but lists no unconfirmed facts"
    if pack.jurisdiction in ("POLICY", "DEFAULT", "NO_RULE_PACK"):
        assert pack.legal is False


def _write(tmp_path: Path, text: str, name: str = "MX.yaml") -> Path:
    directory = tmp_path / "packs"
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(text, encoding="utf-8")
    return directory


def test_unknown_top_level_key_names_file_and_key(tmp_path: Path) -> None:
    directory = _write(tmp_path, MINIMAL + "owner: nobody\n")
    with pytest.raises(RulePackError) as error:
        load_rulebook(directory)
    assert "MX.yaml" in str(error.value)
    assert "owner" in str(error.value) and "unknown key" in str(error.value)


def test_unknown_rule_key_names_the_rule(tmp_path: Path) -> None:
    directory = _write(
        tmp_path, MINIMAL.replace("    cite: test\n", "    cite: test\n    hourz: 1\n")
    )
    with pytest.raises(RulePackError) as error:
        load_rulebook(directory)
    message = str(error.value)
    assert "MX.yaml" in message and "rules[0](hours)" in message and "hourz" in message


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('mon-fri: [["09:00", "21:00"]]', 'mon-fri: [["09:00", "25:00"]]', "local time"),
        ("      sat-sun: []\n", "", "every day exactly once"),
        ("kind: window", "kind: curfew", "kind"),
        ("marker: C", "marker: X", "marker"),
        ("legal: true", 'legal: "yes"', "legal"),
    ],
)
def test_invalid_values_are_errors(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in MINIMAL
    directory = _write(tmp_path, MINIMAL.replace(old, new))
    with pytest.raises(RulePackError) as error:
        load_rulebook(directory)
    assert "MX.yaml" in str(error.value) and expected in str(error.value)


def test_bad_duration_and_months_only_for_exemptions(tmp_path: Path) -> None:
    cap = MINIMAL + (
        "  - id: cap\n    kind: cap\n    marker: C\n    cite: test\n    window: 1mo\n    max: 3\n"
    )
    with pytest.raises(RulePackError, match="calendar months"):
        load_rulebook(_write(tmp_path, cap))


def test_yaml_syntax_error_names_file(tmp_path: Path) -> None:
    with pytest.raises(RulePackError, match=r"MX\.yaml"):
        load_rulebook(_write(tmp_path, "jurisdiction: [unclosed\n"))


def test_duplicate_jurisdiction_is_an_error(tmp_path: Path) -> None:
    directory = _write(tmp_path, MINIMAL)
    (directory / "MX2.yaml").write_text(MINIMAL, encoding="utf-8")
    with pytest.raises(RulePackError, match="already defined"):
        load_rulebook(directory)


def test_version_names_pack_versions_and_changes_with_content(tmp_path: Path) -> None:
    shutil.copytree(PACKS_DIR, tmp_path / "packs")  # a rules directory holds every pack
    shipped = load_rulebook()
    first = load_rulebook(_write(tmp_path, MINIMAL))
    again = load_rulebook(tmp_path / "packs")
    assert first.version == again.version
    assert "0.1+" in first.version or "+0.1" in first.version
    assert f"/{len(shipped.pack_versions) + 1} packs/sha256:" in first.version
    changed = load_rulebook(_write(tmp_path, MINIMAL.replace("21:00", "20:00")))
    assert changed.version != first.version
    assert changed.pack_versions == shipped.pack_versions | {"MX": "0.1"}


def test_a_rules_directory_must_hold_every_shipped_pack(tmp_path: Path) -> None:
    """A directory holding only POLICY.yaml used to load, and a Florida call was decided by
    the default rules alone."""
    directory = tmp_path / "packs"
    directory.mkdir()
    shutil.copy(PACKS_DIR / "POLICY.yaml", directory)
    with pytest.raises(RulePackError, match="missing required pack.*US-FL"):
        load_rulebook(directory)
    shutil.rmtree(directory)
    shutil.copytree(PACKS_DIR, directory)
    (directory / "US-FL.yaml").unlink()
    with pytest.raises(RulePackError, match=r"missing required pack\(s\) US-FL:"):
        load_rulebook(directory)


def test_new_jurisdiction_is_just_a_new_yaml_file(tmp_path: Path) -> None:
    directory = tmp_path / "packs"
    shutil.copytree(PACKS_DIR, directory)
    at = "2026-06-20T18:00:00Z"  # Saturday 12:00 in Mexico City
    planned = contact("+525512345678", at)
    before = evaluate(planned, NumberState(), fresh_world(planned.at), load_rulebook(directory))
    assert "DEFAULT" in before.jurisdictions
    (directory / "MX.yaml").write_text(MINIMAL, encoding="utf-8")
    book = load_rulebook(directory)
    after = evaluate(planned, NumberState(), fresh_world(planned.at), book)
    assert "MX" in after.jurisdictions and "DEFAULT" not in after.jurisdictions
    assert [(r.code, r.rule_id) for r in after.reasons] == [("DAY_NOT_ALLOWED", "MX/hours")]


def test_reason_to_dict_has_exactly_the_api_shape() -> None:
    from tests.support.rules import utc

    reason = Reason(
        "QUIET_HOURS", "US-FL", "US-FL/hours", True, "20:15 local", utc("2026-06-16T12:00Z")
    )
    assert reason.to_dict() == {
        "code": "QUIET_HOURS",
        "jurisdiction": "US-FL",
        "rule_id": "US-FL/hours",
        "legal": True,
        "detail": "20:15 local",
        "until": "2026-06-16T12:00:00Z",
    }
    assert Reason("NO_CONSENT", "DE", "DE/consent-sms", True, "x").to_dict()["until"] is None


def test_history_lookback_covers_every_pack_window() -> None:
    lookback = load_rulebook().history_lookback()
    assert lookback["contact"] >= dt.timedelta(days=30)  # France: 4 per 30 days
    assert lookback["refusal"] >= dt.timedelta(days=60)  # France: 60 days after a refusal
    assert lookback["inquiry"] >= dt.timedelta(days=6 * 31)  # Canada EBR / CASL
    assert lookback["purchase"] >= dt.timedelta(days=2 * 365 + 1)  # CASL implied consent
    for kind in ("opt_out", "opt_in", "reply", "contract_start", "contract_end"):
        assert lookback[kind] is None  # revocations never expire
