"""No silent defaults: the commands that read a model or a store say which, and what they
write names the model and rule-pack versions that decided."""

from __future__ import annotations

import shlex
from pathlib import Path

import pandas as pd
import pytest

from serving.cli import main
from tests.support.models import champion_store, champion_store_copy
from training.tracking import promote_command

AT = "2026-06-16T14:00:00Z"


def test_screen_names_store_model_and_rules_in_its_output(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str],
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("CONTACTGATE_DB_URL", raising=False)
    built = champion_store()
    campaign = tmp_path / "campaign.csv"
    campaign.write_text(
        "number,channel,at\n"
        f"+13055550101,call,{AT}\n(212) 555-0102,sms,{AT}\n+13055550103,call,{AT}\n"
    )
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"decisions{suffix}"
        argv = ["screen", str(campaign), "-o", str(out), "--db-url", sqlite_url,
                "--tracking-uri", built.tracking_uri, "--no-progress"]  # fmt: skip
        assert main(argv) == 0
        captured = capsys.readouterr()
        assert f"store: {sqlite_url}" in captured.err
        assert f"model: contact-risk@champion → version {built.version}" in captured.err
        assert built.tracking_uri in captured.err
        assert "rules: version " in captured.err
        rules = captured.err.split("rules: version ", 1)[1].splitlines()[0].strip()
        frame = pd.read_csv(out, dtype=str) if suffix == ".csv" else pd.read_parquet(out)
        assert set(frame["model_version"]) == {built.version}
        assert set(frame["rules_version"]) == {rules}
        summary = " ".join(captured.out.split())
        assert f"contact-risk@champion version {built.version}" in summary
        assert f"rule packs │ {rules[:30]}" in summary


def test_promote_names_the_registry_and_train_ends_with_the_exact_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = champion_store_copy(tmp_path)
    main(["promote", "--tracking-uri", registry.tracking_uri])
    out = capsys.readouterr().out
    assert f"model: contact-risk@champion → version {registry.version}" in out
    assert f"(tracking URI {registry.tracking_uri})" in out
    assert "model: contact-risk@challenger → no version" in out

    command = promote_command("contact-risk", "sqlite:////tmp/a dir/mlflow.db", "my cfg.yaml")
    assert shlex.split(command) == [
        "contactgate", "promote", "--tracking-uri", "sqlite:////tmp/a dir/mlflow.db",
        "--config", "my cfg.yaml",
    ]  # fmt: skip
    assert "--model other" in promote_command("other", "sqlite:///m.db")
