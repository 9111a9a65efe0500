"""Registry, aliases and promotion on a real temporary MLflow SQLite store."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest

from features.definitions import FEATURE_NAMES
from training.promote import promote
from training.tracking import CHALLENGER, CHAMPION, alias_version, configure, load_model
from training.train import train


@pytest.mark.slow
def test_train_register_promote_cycle(training_data, small_config, mlflow_uri):
    first = train(training_data, small_config, mlflow_uri)
    assert alias_version(small_config.model_name, CHALLENGER) == first.version
    assert alias_version(small_config.model_name, CHAMPION) is None

    # the first model is gated like any other: promoted exactly when every gate passes
    decision = promote(small_config.model_name, small_config.promotion)
    assert "first model" in decision.reason and len(decision.gates) == 6
    assert decision.promoted == all(g.passed for g in decision.gates)
    if not decision.promoted:
        assert alias_version(small_config.model_name, CHAMPION) is None
        for gate in decision.gates:
            assert (gate.name in decision.reason) != gate.passed
        decision = promote(small_config.model_name, small_config.promotion, force=True)
        assert decision.promoted and decision.reason.startswith("forced")
    assert alias_version(small_config.model_name, CHAMPION) == first.version

    # the champion loads with native boosters and returns probabilities
    loaded = load_model(small_config.model_name, CHAMPION)
    rows = training_data.frame.tail(200)
    p = loaded.model.predict(rows)["complaint_7d"]
    assert ((p > 0) & (p < 1)).all() and loaded.version == first.version

    # the generic pyfunc entry point returns probabilities too, not 0/1 labels
    pyfunc = mlflow.pyfunc.load_model(f"models:/{small_config.model_name}@{CHAMPION}")
    out = pyfunc.predict(rows[list(FEATURE_NAMES)].astype("float64"))
    assert list(out.columns) == ["p_complaint", "p_opt_out", "risk"]
    np.testing.assert_allclose(out["p_complaint"].to_numpy(), p)

    # a much weaker challenger is refused …
    weak = small_config.model_copy(
        update={
            "lightgbm": small_config.lightgbm.model_copy(
                update={"num_boost_round": 1, "learning_rate": 0.001}
            )
        }
    )
    second = train(training_data, weak, mlflow_uri)
    decision = promote(small_config.model_name, small_config.promotion)
    assert not decision.promoted and "PR-AUC" in decision.reason
    assert alias_version(small_config.model_name, CHAMPION) == first.version

    # … unless forced, which is recorded on the version
    decision = promote(small_config.model_name, small_config.promotion, force=True)
    assert decision.promoted and decision.reason.startswith("forced")
    assert alias_version(small_config.model_name, CHAMPION) == second.version
    tags = mlflow.MlflowClient().get_model_version(small_config.model_name, second.version).tags
    assert "promotion_forced" in tags


@pytest.mark.slow
def test_run_has_metrics_plots_card_and_no_numbers(
    training_data, small_config, mlflow_uri, tmp_path
):
    result = train(training_data, small_config, mlflow_uri)
    configure(mlflow_uri)
    client = mlflow.MlflowClient()
    run = client.get_run(result.run_id)
    for key in (
        "complaint_7d.model.roc_auc",
        "opt_out_7d.baseline.pr_auc",
        "complaint_7d.oracle.ece",
        "opt_out_7d.model.capture_top10",
        "complaint_7d.model_vs_oracle.roc_auc",
        "complaint_7d.observable_ceiling.log_loss",
        "opt_out_7d.observable_ceiling.ece",
        "opt_out_7d.model_vs_observable_ceiling.pr_auc",
        "opt_out_7d.model.ece_ci_high",
        "opt_out_7d.model.ece_minus_baseline_ci_high",
        "complaint_7d.baseline.ece_noise_floor",
        "opt_out_7d.model.brier_minus_baseline_ci_high",
        "complaint_7d.model.log_loss_minus_baseline_ci_low",
        "complaint_7d.model_beats_baseline.pr_auc",
        "opt_out_7d.model_beats_baseline.ece",
    ):
        assert key in run.data.metrics, key
    assert run.data.tags["beats_baseline"]
    assert run.data.tags["git_commit"] and run.data.tags["data_digest"]
    arts = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    for target in ("complaint_7d", "opt_out_7d"):
        for kind in ("roc", "pr", "reliability", "lift", "importance", "shap_summary"):
            assert f"plots/{target}_{kind}.png" in arts
    local = mlflow.artifacts.download_artifacts(run_id=result.run_id, dst_path=str(tmp_path / "a"))
    card = (tmp_path / "a" / "model_card.md").read_text()
    assert "oracle" in card and "Monotone features" in card
    assert "observable ceiling" in card and "model / ceiling" in card
    # no phone number of the data appears in any artifact
    numbers = set(training_data.frame["number"].drop_duplicates().head(2000))
    for path in (tmp_path / "a").rglob("*"):
        if path.is_file() and path.suffix in (".md", ".json", ".txt", ".yaml", ".parquet", ""):
            blob = path.read_bytes()
            assert not any(n.encode() in blob for n in list(numbers)[:200]), path
    test_frame = pd.read_parquet(tmp_path / "a" / "evaluation" / "test_frame.parquet")
    assert "number" not in test_frame.columns
    assert local
