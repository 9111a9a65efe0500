"""Evaluation, pure: scores on the out-of-time slice, intervals and verdicts. No MLflow, no I/O.

The model is compared on the same contacts with a contact-count baseline and, on simulated
data, with the oracle and the observable ceiling. :func:`score_test` gives every scorer's
metrics (with bootstrap intervals), :func:`baseline_verdicts` says per metric whether the
model wins, ties or loses against the baseline, and :func:`flat_metrics` is the flat form
that ``training.train`` logs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.definitions import CEILING_COLUMNS, ORACLE_COLUMNS, TARGETS
from training.calibration import Calibrator
from training.metrics import COMPARED_METRICS, bootstrap_intervals, evaluate, versus_reference

#: Scorers on simulated data, beside the model and the baseline: column per target.
REFERENCE_SCORERS: dict[str, dict[str, str]] = {
    "oracle": ORACLE_COLUMNS,
    "observable_ceiling": CEILING_COLUMNS,
}
#: What the model is compared with, as ``model / reference`` ratios.
RATIO_REFERENCES = ("oracle", "observable_ceiling")
RATIO_METRICS = ("roc_auc", "pr_auc")

Metrics = dict[str, dict[str, dict[str, float]]]  # target → scorer → metric → value


def contact_count_score(frame: pd.DataFrame) -> np.ndarray:
    """The contact-count heuristic: contacts_30d, ties broken by contacts_7d (higher = riskier)."""
    return frame["contacts_30d"].to_numpy(float) + 0.01 * frame["contacts_7d"].to_numpy(float)


def baseline_scores(train_frames: dict[str, pd.DataFrame], target: str) -> np.ndarray:
    """The heuristic a team would use without a model: more recent contacts → riskier.

    Score = contacts_30d (ties broken by contacts_7d), calibrated on the calibration slice so
    that Brier and calibration metrics compare like with like.
    """
    score = contact_count_score
    cal = train_frames["calibration"]
    # scale counts into [0, 1) monotonically; isotonic calibration does the rest
    top = max(score(cal).max(), score(train_frames["test"]).max()) + 1.0
    calibrator = Calibrator("isotonic").fit(score(cal) / top, cal[target].to_numpy())
    return calibrator.transform(score(train_frames["test"]) / top)


def score_test(
    parts: dict[str, pd.DataFrame], predicted: dict[str, np.ndarray], seed: int
) -> tuple[Metrics, dict[str, dict[str, np.ndarray]]]:
    """Metrics of every scorer on the test slice (with ECE/Brier/log-loss intervals against
    the baseline), and the scores themselves per target (for the plots)."""
    test = parts["test"]
    metrics: Metrics = {}
    scores_by_target: dict[str, dict[str, np.ndarray]] = {}
    for target in TARGETS:
        y = test[target].to_numpy(int)
        scores = {"model": predicted[target], "baseline": baseline_scores(parts, target)}
        for scorer, columns in REFERENCE_SCORERS.items():
            column = columns[target]
            if column in test.columns and test[column].notna().all():
                scores[scorer] = test[column].to_numpy(float)
        metrics[target] = {name: evaluate(y, s) for name, s in scores.items()}
        uncertainty = bootstrap_intervals(y, scores, reference="baseline", seed=seed)
        for name, extra in uncertainty.items():
            metrics[target][name].update(extra)
        scores_by_target[target] = scores
    return metrics, scores_by_target


#: Verdict of the model against the baseline as a logged metric: 1 win, 0 tie, -1 loss.
VERDICT_SCORE = {"win": 1.0, "tie": 0.0, "loss": -1.0}


def baseline_verdicts(
    metrics: dict[str, dict[str, dict[str, float]]],
) -> dict[str, dict[str, str]]:
    """Per target and metric: does the model beat the baseline (win / tie / loss)? Every
    metric by the paired bootstrap interval of model − baseline: a win only when it
    excludes zero on the better side (:func:`training.metrics.versus_reference`)."""
    return {
        target: {
            m: versus_reference(by["model"], by["baseline"], m)
            for m in COMPARED_METRICS
            if m in by["model"] and "baseline" in by
        }
        for target, by in metrics.items()
    }


def beats_baseline_tag(verdicts: dict[str, dict[str, str]]) -> str:
    """Every metric's verdict, ``target.metric=verdict`` joined by ", " (wins included)."""
    return ", ".join(f"{t}.{m}={v}" for t, by in verdicts.items() for m, v in by.items())


def interval_text(by_scorer: dict[str, dict[str, float]], metric: str) -> str:
    """``+0.012 [−0.004, +0.031]``: model − baseline and its paired 95 % interval ("" when
    there is none)."""
    model, base = by_scorer.get("model", {}), by_scorer.get("baseline", {})
    lo = model.get(f"{metric}_minus_baseline_ci_low")
    hi = model.get(f"{metric}_minus_baseline_ci_high")
    if lo is None or hi is None or metric not in model or metric not in base:
        return ""
    digits = 6 if metric in ("brier", "log_loss", "ece") else 3
    return f"{model[metric] - base[metric]:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def flat_metrics(metrics: Metrics, verdicts: dict[str, dict[str, str]]) -> dict[str, float]:
    """``target.scorer.metric`` → value (NaN left out), the model's ratios to the oracle and
    the ceiling, and each verdict as 1 / 0 / -1."""
    flat: dict[str, float] = {}
    for target, by_scorer in metrics.items():
        for scorer, values in by_scorer.items():
            for k, v in values.items():
                if v == v:  # skip NaN
                    flat[f"{target}.{scorer}.{k}"] = v
        for reference in RATIO_REFERENCES:
            if reference in by_scorer:
                for k in RATIO_METRICS:
                    flat[f"{target}.model_vs_{reference}.{k}"] = (
                        by_scorer["model"][k] / by_scorer[reference][k]
                    )
        for k, verdict in verdicts[target].items():
            if verdict in VERDICT_SCORE:
                flat[f"{target}.model_beats_baseline.{k}"] = VERDICT_SCORE[verdict]
    return flat
