"""Training config validation, metrics and calibration on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from training.calibration import Calibrator
from training.config import load_config
from training.metrics import capture_at, evaluate, expected_calibration_error


def test_config_rejects_unknown_keys(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("seed: 1\nlightgbm:\n  num_leaf: 8\n")
    with pytest.raises(ValueError, match=r"train.yaml.*num_leaf"):
        load_config(path)
    path.write_text("split: {train: 0.7, early_stopping: 0.1, calibration: 0.1, test: 0.2}\n")
    with pytest.raises(ValueError, match="add up to 1"):
        load_config(path)
    path.write_text("seed: '7'\n")  # strict: no silent coercion
    with pytest.raises(ValueError, match="seed"):
        load_config(path)
    path.write_text("seed: 5\nlightgbm: {max_depth: 4}\n")
    cfg = load_config(path)
    assert cfg.seed == 5 and cfg.lightgbm.max_depth == 4 and cfg.lightgbm.num_leaves == 31


def test_capture_and_ece_on_hand_made_data():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.1, 0.1, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert capture_at(y, s, 0.10) == 0.5  # the top contact holds one of two positives
    assert capture_at(y, s, 0.30) == 1.0
    # a constant prediction equal to the base rate is perfectly calibrated overall
    assert expected_calibration_error(y, np.full(10, 0.2), bins=1) == pytest.approx(0.0)
    assert expected_calibration_error(y, np.full(10, 0.5), bins=1) == pytest.approx(0.3)


def test_calibration_repairs_a_distorted_score():
    rng = np.random.default_rng(0)
    p = rng.beta(0.5, 40, 200_000)
    y = (rng.random(p.size) < p).astype(int)
    distorted = np.sqrt(p)  # same ranking, badly calibrated
    before = evaluate(y, distorted)
    for method in ("isotonic", "sigmoid"):
        cal = Calibrator(method).fit(distorted[:100_000], y[:100_000])
        after = evaluate(y[100_000:], cal.transform(distorted[100_000:]))
        assert after["ece"] < before["ece"] / 10
        again = Calibrator.from_dict(cal.to_dict())
        np.testing.assert_allclose(again.transform(distorted[:50]), cal.transform(distorted[:50]))
    assert Calibrator("auto").fit(distorted[:2000], y[:2000]).method_ == "sigmoid"  # few positives


def test_bootstrap_intervals_tells_a_tie_from_a_win():
    from training.metrics import bootstrap_intervals

    rng = np.random.default_rng(1)
    p = np.clip(rng.lognormal(np.log(0.02), 0.7, 200_000), 0, 0.5)
    y = (rng.random(p.size) < p).astype(int)
    other = np.clip(p * rng.lognormal(0, 0.05, p.size), 0, 0.5)  # as calibrated, a bit noisier
    scores = {"model": p, "baseline": other, "worse": p * 1.3}
    out = bootstrap_intervals(y, scores, replicates=60, seed=2)
    # far from calibrated, the interval brackets the ECE (near calibration, resampling noise
    # adds to the ECE and the interval sits above it: the paired difference is what compares)
    ece = expected_calibration_error(y, scores["worse"])
    assert out["worse"]["ece_ci_low"] <= ece <= out["worse"]["ece_ci_high"]
    # a calibrated score's ECE is its noise floor; a 30 % overestimate is far above it
    assert out["model"]["ece_noise_floor"] == pytest.approx(
        expected_calibration_error(y, p), rel=0.5
    )
    assert out["worse"]["ece_ci_low"] > 3 * out["worse"]["ece_noise_floor"]
    # two calibrated scores tie; the overestimate is reliably worse than the baseline
    assert (
        out["model"]["ece_minus_baseline_ci_low"] < 0 < out["model"]["ece_minus_baseline_ci_high"]
    )
    assert out["worse"]["ece_minus_baseline_ci_low"] > 0
    assert "ece_minus_baseline_ci_low" not in out["baseline"]
    # the same resamples give paired Brier / log-loss intervals around the point difference
    for metric in ("brier", "log_loss"):
        gap = evaluate(y, scores["worse"])[metric] - evaluate(y, other)[metric]
        lo = out["worse"][f"{metric}_minus_baseline_ci_low"]
        hi = out["worse"][f"{metric}_minus_baseline_ci_high"]
        assert 0 < lo <= gap <= hi, (metric, lo, gap, hi)


def test_verdict_against_the_baseline_per_metric():
    """Paired metrics are judged by their interval (a gap inside the noise is a tie), the
    ranking metrics by value, each in its own direction."""
    from training.metrics import COMPARED_METRICS, bootstrap_intervals, versus_reference

    rng = np.random.default_rng(4)
    p = np.clip(rng.lognormal(np.log(0.02), 0.7, 200_000), 0, 0.5)
    y = (rng.random(p.size) < p).astype(int)
    noisy = np.clip(p * rng.lognormal(0, 0.05, p.size), 0, 0.5)  # as calibrated, less sharp
    flat = np.full(p.size, p.mean())  # calibrated in the mean, no ranking at all
    scores = {"model": p, "baseline": flat, "noisy": noisy, "over": p * 1.3}
    out = bootstrap_intervals(y, scores, replicates=40, seed=5)
    by = {name: {**evaluate(y, s), **out[name]} for name, s in scores.items()}
    verdict = {
        name: {m: versus_reference(by[name], by["baseline"], m) for m in COMPARED_METRICS}
        for name in ("model", "noisy", "over")
    }
    # the true probability beats a constant on ranking and proper scores
    for m in ("roc_auc", "pr_auc", "brier", "log_loss", "capture_top10"):
        assert verdict["model"][m] == "win", m
    # both are calibrated: their ECEs differ by noise only
    assert verdict["model"]["ece"] == "tie"
    # a 30 % overestimate ranks as well as the truth but loses on calibration
    assert verdict["over"]["ece"] == "loss" and verdict["over"]["roc_auc"] == "win"
    # without a paired interval the point values decide, lower-is-better respected
    assert versus_reference({"brier": 0.0031}, {"brier": 0.0032}, "brier") == "win"
    assert versus_reference({"roc_auc": 0.61}, {"roc_auc": 0.62}, "roc_auc") == "loss"
    assert versus_reference({"ece": 0.001}, {"ece": 0.001}, "ece") == "tie"


def test_ranking_metrics_of_the_bootstrap_match_scikit_learn_with_ties():
    """The bootstrap's one-pass ROC-AUC / average precision / capture equal the reported
    metrics on unit weights, ties included (scores rounded to a few values)."""
    from training.metrics import LIFT_SHARES, RANKING_METRICS, _ranking_kernel

    rng = np.random.default_rng(8)
    p = np.round(rng.beta(1, 30, 5_000), 3)
    y = (rng.random(p.size) < p * 2).astype(float)
    desc = np.argsort(-p, kind="stable")
    got = _ranking_kernel(p[desc], y[desc], np.ones(p.size), desc, np.asarray(LIFT_SHARES))
    want = evaluate(y.astype(int), p)
    for metric, value in zip(RANKING_METRICS, got, strict=True):
        assert value == pytest.approx(want[metric], abs=2e-3 if "capture" in metric else 1e-9), (
            metric
        )


def test_a_ranking_gap_inside_the_noise_is_a_tie_not_a_win():
    """On a few dozen positives a model a little better by value than the baseline is not a
    win: the paired interval of ROC-AUC and PR-AUC straddles zero."""
    from training.metrics import bootstrap_intervals, versus_reference

    rng = np.random.default_rng(3)
    n = 3_000
    p = np.full(n, 0.01)
    y = (rng.random(n) < p).astype(int)
    model = p + rng.normal(0, 0.001, n)  # noise: no information
    base = p + rng.normal(0, 0.001, n)
    out = bootstrap_intervals(y, {"model": model, "baseline": base}, replicates=200, seed=1)
    by = {"model": {**evaluate(y, model), **out["model"]}, "baseline": evaluate(y, base)}
    for metric in ("roc_auc", "pr_auc"):
        assert versus_reference(by["model"], by["baseline"], metric) == "tie", metric
    # the ROC-AUC interval of an uninformative score contains 0.5
    assert out["model"]["roc_auc_ci_low"] < 0.5 < out["model"]["roc_auc_ci_high"]


def test_an_ece_lies_inside_its_own_interval():
    from training.metrics import bootstrap_intervals

    rng = np.random.default_rng(6)
    p = np.clip(rng.lognormal(np.log(0.02), 0.7, 20_000), 0, 0.5)
    y = (rng.random(p.size) < p).astype(int)
    out = bootstrap_intervals(y, {"model": p, "baseline": p * 0.9}, replicates=100, seed=2)
    for name, score in (("model", p), ("baseline", p * 0.9)):
        ece = expected_calibration_error(y, score)
        assert out[name]["ece_ci_low"] <= ece <= out[name]["ece_ci_high"], name
