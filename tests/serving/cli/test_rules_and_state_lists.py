"""`contactgate rules list` (provenance and review dates) and state do-not-call lists
imported with `contactgate registry import`, then screened through the real store."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from serving.cli import main
from serving.cli.rules import review_due
from serving.domain.state import Contact
from serving.rules import PACKS_DIR, evaluate, load_rulebook
from serving.store import Store


def test_rules_list_prints_rules_sources_and_review_dates(capsys: pytest.CaptureFixture) -> None:
    assert main(["rules", "list", "--jurisdiction", "US-TX", "--today", "2027-01-01"]) == 0
    out, err = capsys.readouterr()
    assert "US-TX  version" in out and "reviewed 2026-12-03" in out
    assert "state-dnc-texts (registry, S) [2025-09-01 → …]" in out
    assert "source: https://www.varnumlaw.com/insights/texas-sb-140" in out
    assert "WARNING" not in out and err == ""


def test_rules_list_us_includes_the_state_packs(capsys: pytest.CaptureFixture) -> None:
    assert main(["rules", "list", "--jurisdiction", "us", "--today", "2027-01-01"]) == 0
    out = capsys.readouterr().out
    headers = {line.split()[0] for line in out.splitlines() if "  version " in line}
    assert {"US", "US-TX", "US-PA", "US-RI", "US-WY"} <= headers and "FR" not in headers


def test_rules_list_warns_about_packs_older_than_12_months(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    directory = tmp_path / "packs"
    shutil.copytree(PACKS_DIR, directory)
    pack = directory / "JP.yaml"
    pack.write_text(pack.read_text().replace("reviewed_at: 2026-12-03", "reviewed_at: 2025-12-02"))
    assert main(["rules", "list", "--packs", str(directory), "--today", "2026-12-02"]) == 0
    out, err = capsys.readouterr()
    assert "JP  version 2026.1  reviewed 2025-12-02  law  WARNING: review due" in out
    assert err.strip() == "warning: 1 pack(s) not reviewed for 12 months: JP (reviewed 2025-12-02)"


@pytest.mark.parametrize(
    ("reviewed", "today", "due"),
    [("2025-12-03", "2026-12-02", False), ("2025-12-03", "2026-12-03", True),
     ("2024-02-29", "2025-02-28", False), ("2024-02-29", "2025-03-01", True)],
)  # fmt: skip
def test_review_is_due_after_12_calendar_months(reviewed: str, today: str, due: bool) -> None:
    assert review_due(dt.date.fromisoformat(reviewed), dt.date.fromisoformat(today)) is due


def test_rules_list_unknown_jurisdiction_is_an_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["rules", "list", "--jurisdiction", "XX"]) == 1
    assert "--jurisdiction: no rule pack for 'XX'" in capsys.readouterr().err


@pytest.mark.parametrize("state", ["TX", "PA", "FL"])
def test_a_state_list_imported_with_the_cli_withholds_through_the_store(
    state: str, tmp_path: Path, sqlite_url: str, store_env: dict[str, str]
) -> None:
    area = {"TX": "512", "PA": "215", "FL": "305"}[state]
    path = tmp_path / "state.txt"
    path.write_text(f"{area}5550101\n{area}5550102\n")
    as_of = "2026-06-10T00:00:00Z"
    code = main(["registry", "import", f"US_{state}_DNC", str(path), "--as-of", as_of,
                 "--db", sqlite_url, "--quiet", "--workers", "1"])  # fmt: skip
    assert code == 0
    at = dt.datetime(2026, 6, 16, 17, tzinfo=dt.UTC)  # noon in Chicago, 13:00 New York
    from features.phone import normalize

    listed, other = normalize(f"+1{area}5550101"), normalize(f"+1{area}5550109")
    with Store.open(sqlite_url) as store:
        states = store.load_states([listed.e164, other.e164], at)
        world = store.world_state(at)
    assert world.registry_snapshots[f"US_{state}_DNC"] == dt.datetime(2026, 6, 10, tzinfo=dt.UTC)
    book = load_rulebook()
    for number, expected in ((listed, True), (other, False)):
        result = evaluate(Contact(number=number, channel="call", at=at), states[number.e164],
                          world, book)  # fmt: skip
        fired = ("REGISTRY_LISTED", f"US-{state}") in {
            (r.code, r.jurisdiction) for r in result.reasons
        }
        assert fired is expected
        # the other registries have no snapshot in this store: stale, but for the US lists
        # that govern this number only
        stale = {r.jurisdiction for r in result.reasons if r.code == "REGISTRY_STALE"}
        assert stale == {"US"}


@pytest.mark.parametrize("registry", ["US_TX_DNC", "US_WY_DNC", "IT_RPO", "BR_NAO_ME_PERTURBE"])
def test_the_api_import_body_accepts_the_new_registries(registry: str) -> None:
    from serving.domain.contract import RegistryImportRequest

    body = RegistryImportRequest.model_validate(
        {"registry": registry, "snapshot_at": "2026-06-10T00:00:00Z", "numbers": ["+15125550101"]}
    )
    assert body.registry == registry
    with pytest.raises(ValueError, match="registry"):
        RegistryImportRequest.model_validate(
            {"registry": "US_NY_DNC", "snapshot_at": "2026-06-10T00:00:00Z", "numbers": []}
        )
