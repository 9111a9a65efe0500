"""Honest training on small data: a split that adapts to short histories and says so,
a stop with a message naming target, slice and counts when positives are too few, model
settings that scale with the data, and promotion gates read from the run's intervals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from training.config import TrainConfig
from training.data import (
    TooFewPositives,
    check_positives,
    load_training_data,
    plan_split,
    scaled_lightgbm,
)
from training.promote import quality_gates

DATA = Path(__file__).resolve().parents[1] / "data" / "callcentre"


@pytest.fixture(scope="module")
def callcentre():
    return load_training_data(DATA, progress=False, skip_invalid=True)


def test_every_number_is_one_e164_history(callcentre):
    assert callcentre.frame["number"].str.startswith("+").all()
    assert any("with an invalid number" in line for line in callcentre.report)


def test_a_short_history_gets_a_short_warmup_printed_with_positives(callcentre):
    frame = callcentre.frame
    end = frame["ts"].min() + pd.Timedelta(days=39)
    short = frame[frame["ts"] < end]
    parts, plan = plan_split(short, TrainConfig(), end)
    assert plan.configured_warmup_days == 30 and plan.warmup_days < 30
    # most of the history is used, not 48 / 8 / 8 / 16 contacts of 1,562
    used = sum(len(p) for p in parts.values())
    assert used > 0.6 * len(short)
    text = "\n".join(plan.describe())
    assert "shortened from 30" in text
    for name, part in parts.items():
        assert f"complaint_7d {int(part['complaint_7d'].sum()):,}" in text, name


def test_too_few_positives_stop_with_target_slice_counts_and_remedies(callcentre):
    frame = callcentre.frame
    end = frame["ts"].min() + pd.Timedelta(days=39)
    _, plan = plan_split(frame[frame["ts"] < end], TrainConfig(), end)
    with pytest.raises(TooFewPositives) as exc:
        check_positives(plan, 10)
    message = str(exc.value)
    short = [
        (name, t, n) for name, s in plan.slices.items() for t, n in s["positives"].items() if n < 10
    ]
    assert short
    for name, target, n in short:
        assert f"{target} in the {name} slice: {n} positive(s)" in message
    for remedy in ("more history", "warmup_days", "--allow-small", "min_positives"):
        assert remedy in message


def test_allow_small_lets_a_few_through_but_never_a_slice_without_both_classes(callcentre):
    _, plan = plan_split(callcentre.frame, TrainConfig(), callcentre.end)
    warnings = check_positives(plan, 10_000, allow_small=True)
    assert warnings and "trained anyway" in warnings[0]
    empty = plan.slices["test"] | {"positives": {"complaint_7d": 0, "opt_out_7d": 5}}
    broken = type(plan)(**{**plan.__dict__, "slices": {**plan.slices, "test": empty}})
    with pytest.raises(TooFewPositives, match="complaint_7d in the test slice: 0 positive"):
        check_positives(broken, 10, allow_small=True)


def test_min_child_samples_scales_with_the_data_unless_set():
    cfg, notes = scaled_lightgbm(TrainConfig(), 4_878)
    assert cfg.lightgbm.min_child_samples == 48 and "4,878" in notes[0]
    assert scaled_lightgbm(TrainConfig(), 5_000_000)[0].lightgbm.min_child_samples == 200
    fixed = TrainConfig.model_validate({"lightgbm": {"min_child_samples": 300}})
    assert scaled_lightgbm(fixed, 4_878)[0].lightgbm.min_child_samples == 300


def _run_metrics(roc_low: float, roc_diff_low: float, pr_diff_low: float) -> dict:
    model = {
        "roc_auc": 0.58, "roc_auc_ci_low": roc_low, "roc_auc_ci_high": 0.71,
        "pr_auc": 0.009,
        "roc_auc_minus_baseline_ci_low": roc_diff_low, "roc_auc_minus_baseline_ci_high": 0.16,
        "pr_auc_minus_baseline_ci_low": pr_diff_low, "pr_auc_minus_baseline_ci_high": 0.006,
    }  # fmt: skip
    by = {"model": model, "baseline": {"roc_auc": 0.57, "pr_auc": 0.008}}
    return {"complaint_7d": by, "opt_out_7d": by}


def test_gates_fail_on_a_roc_interval_containing_one_half_and_on_ties_with_the_baseline():
    gates = quality_gates(_run_metrics(0.44, -0.14, -0.001))
    assert len(gates) == 6 and not any(g.passed for g in gates)
    assert gates[0].line().startswith("[FAIL] complaint_7d ROC-AUC interval above 0.5")
    assert all(g.passed for g in quality_gates(_run_metrics(0.52, 0.01, 0.0005)))
    # a run without intervals (an older model) does not pass by default
    assert not any(g.passed for g in quality_gates({}))
