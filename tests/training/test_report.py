"""The metrics table and the model card show enough digits to tell the model from the
baseline, and say per metric whether the model beats it."""

from __future__ import annotations

import io

from rich.console import Console

from training import model_card
from training.evaluate import baseline_verdicts, beats_baseline_tag
from training.train import metrics_table


def _metrics() -> dict[str, dict[str, dict[str, float]]]:
    def scorer(**kw: float) -> dict[str, float]:
        base = {
            "roc_auc": 0.79,
            "pr_auc": 0.0185,
            "brier": 0.0031678,
            "log_loss": 0.019496,
            "ece": 0.000363,
            "capture_top5": 0.31,
            "capture_top10": 0.44,
            "capture_top20": 0.62,
            "base_rate": 0.0032,
            "mean_prediction": 0.00328,
            "ece_ci_low": 0.0003,
            "ece_ci_high": 0.0006,
            "ece_noise_floor": 0.00027,
        }
        return {**base, **kw}

    model = scorer(
        ece_minus_baseline_ci_low=-0.000288,
        ece_minus_baseline_ci_high=0.000102,
        brier_minus_baseline_ci_low=-0.000026,
        brier_minus_baseline_ci_high=-0.000017,
        log_loss_minus_baseline_ci_low=-0.0018,
        log_loss_minus_baseline_ci_high=-0.0015,
    )
    baseline = scorer(roc_auc=0.63, pr_auc=0.0046, brier=0.0031900, log_loss=0.021290,
                      ece=0.000484, capture_top5=0.10, capture_top10=0.18, capture_top20=0.32)  # fmt: skip
    return {"complaint_7d": {"model": model, "baseline": baseline, "oracle": scorer()}}


def test_verdicts_and_tag_state_every_metric():
    verdicts = baseline_verdicts(_metrics())
    assert verdicts["complaint_7d"]["ece"] == "tie"  # the interval contains zero
    assert verdicts["complaint_7d"]["brier"] == "win"  # a gap of 2e-5, outside the noise
    assert all(v == "win" for m, v in verdicts["complaint_7d"].items() if m != "ece")
    tag = beats_baseline_tag(verdicts).split(", ")
    assert "complaint_7d.ece=tie" in tag and "complaint_7d.roc_auc=win" in tag
    assert len(tag) == len(verdicts["complaint_7d"])  # wins stated too, not only the rest


def test_ranking_win_needs_its_interval_above_zero():
    """ROC-AUC 0.79 against 0.63 by value, but the paired interval straddles zero: a tie."""
    metrics = _metrics()
    metrics["complaint_7d"]["model"].update(
        roc_auc_minus_baseline_ci_low=-0.02, roc_auc_minus_baseline_ci_high=0.31
    )
    assert baseline_verdicts(metrics)["complaint_7d"]["roc_auc"] == "tie"
    metrics["complaint_7d"]["model"].update(roc_auc_minus_baseline_ci_low=0.05)
    assert baseline_verdicts(metrics)["complaint_7d"]["roc_auc"] == "win"


def test_model_card_shows_rows_positives_and_intervals_without_simulator_words():
    metrics = _metrics()
    del metrics["complaint_7d"]["oracle"]
    metrics["complaint_7d"]["model"].update(
        roc_auc_minus_baseline_ci_low=0.05, roc_auc_minus_baseline_ci_high=0.27
    )
    import pandas as pd

    split = {
        "test": {"start": "2026-08-01", "end": "2026-08-20", "rows": 1200,
                 "positives": {"complaint_7d": 12}},
    }  # fmt: skip
    card = model_card.render(
        model_name="contact-risk", run_id="r1",
        data={"source": "events.csv", "events": 10, "contacts": 8, "digest": "d",
              "start": pd.Timestamp("2026-03-01"), "end": pd.Timestamp("2026-08-29")},
        split=split, metrics=metrics, calibration={"complaint_7d": "sigmoid"},
        feature_names=[], git_commit="abc", seed=7,
    )  # fmt: skip
    assert "| test | 2026-08-01 | 2026-08-20 | 1,200 | 12 |" in card
    assert "+0.160 [+0.050, +0.270]" in card  # 0.79 − 0.63 and its interval
    assert "oracle" not in card and "simulated" not in card and "180 simulated" not in card
    assert "181 days of recorded history" in card and "12 complaint_7d positives" in card


def test_table_fits_80_columns_with_six_decimal_brier():
    out = io.StringIO()
    Console(file=out, width=80, color_system=None).print(metrics_table(_metrics()))
    text = out.getvalue()
    assert "…" not in text  # nothing truncated on an 80-column terminal
    assert "0.003168" in text and "0.003190" in text  # Brier apart at 4 decimals: tied
    rows: dict[str, list[str]] = {}
    for line in text.splitlines():
        if line.strip():
            rows.setdefault(line.split()[0], line.split())  # "ece" before "ece ci lo"
    # metric, model, baseline, verdict
    assert rows["ece"][:4] == ["ece", "0.000363", "0.000484", "tie"]
    assert rows["brier"][:4] == ["brier", "0.003168", "0.003190", "win"]


def test_model_card_shows_digits_and_verdicts():
    card = model_card.render(
        model_name="contact-risk",
        run_id="r1",
        data={"source": "events.parquet", "events": 10, "contacts": 8, "digest": "d"},
        split={},
        metrics=_metrics(),
        calibration={"complaint_7d": "sigmoid"},
        feature_names=[],
        git_commit="abc",
        seed=7,
    )
    assert "| brier | 0.003168 | 0.003190 | win |" in card
    assert "| ece | 0.000363 | 0.000484 | tie |" in card
    assert "Model Brier − baseline Brier, paired bootstrap 95 %: -0.000026 to -0.000017" in card
    assert "(better than the baseline)" in card
    assert "(not distinguishable from the baseline)" in card
