"""`contactgate demo` end to end on small sizes: real simulator, training, MLflow registry,
promotion, SQLite store and batch screening — every step the README's `make demo` runs."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

from serving.cli import main


@pytest.mark.slow
def test_demo_trains_promotes_and_screens_a_campaign(
    tmp_path: Path, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    tracking = f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}"
    db = f"sqlite:///{tmp_path / 'store.db'}"
    out = tmp_path / "gen"
    args = ["demo", "--numbers", "3000", "--days", "120", "--campaign", "400", "--out", str(out),
            "--db-url", db, "--tracking-uri", tracking, "--allow-small"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "champion is now contact-risk v1" in printed
    assert "campaign screening" in printed

    decisions = pd.read_csv(out / "decisions.csv")
    campaign = pd.read_csv(out / "campaign.csv")
    assert len(decisions) == len(campaign) == 400
    assert decisions["ref"].tolist() == campaign["ref"].tolist()  # request order
    bad = campaign["number"] == "not-a-number"
    assert bad.any()
    assert (decisions.loc[bad, "reason_codes"] == "INVALID_NUMBER").all()
    allowed = decisions[decisions["decision"] == "allow"]
    assert len(allowed) > 0 and decisions["decision"].eq("withhold").any()
    assert sorted(allowed["rank"].astype(int)) == list(range(1, len(allowed) + 1))
    assert (
        allowed["risk"].is_monotonic_increasing
        or allowed.sort_values("rank")["risk"].is_monotonic_increasing
    )  # rank 1 = safest
    assert decisions.loc[~bad, "p_complaint"].between(0, 1).all()
    assert decisions.loc[bad, "p_complaint"].isna().all()  # nothing to score

    # a second run trains v2 and promotes only if it is at least as good
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "champion is now contact-risk v2" in printed or "champion stays v1" in printed
    assert os.path.exists(tmp_path / "mlflow" / "mlflow.db")
