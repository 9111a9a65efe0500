"""Evaluation metrics for calibrated risk scores of rare events.

Expected calibration error uses equal-mass bins: with base rates well under 1 %, equal-width
bins put almost every contact in the first bin and say nothing about the tail that matters.
Lift is the share of all positives found among the riskiest k % of contacts.

An ECE on rare events is mostly binomial noise unless the score is badly off: even a
perfectly calibrated score shows an ECE of about ``mean |Binomial − mean| / n`` per bin.
:func:`bootstrap_intervals` therefore reports, per scorer, that noise floor (the ECE of labels
drawn from the score itself) and a bootstrap interval, and a *paired* bootstrap interval of
the difference to the baseline for every compared metric — ECE, Brier, log-loss, ROC-AUC,
PR-AUC and capture: two values within each other's noise are a tie, not a win (on a few
dozen positives a ROC-AUC gap of 0.05 is noise). :func:`versus_reference` turns the
intervals into a win / tie / loss verdict per metric.
"""

from __future__ import annotations

import numpy as np
from numba import njit
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

LIFT_SHARES = (0.05, 0.10, 0.20)
#: Equal-mass bins of every ECE: the metric, its interval, the model card and the plot.
ECE_BINS = 20
_EPS = 1e-7
#: Metrics where smaller is better; every other reported metric is better when larger.
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})
#: Metrics with a paired bootstrap interval of the difference to the reference scorer.
PAIRED_METRICS = ("ece", "brier", "log_loss")
#: Every metric judged against the baseline, in report order.
COMPARED_METRICS = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "capture_top5",
    "capture_top10",
    "capture_top20",
)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |observed rate − mean prediction| over equal-mass bins, weighted by bin size."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    return _binned_ece(y[order] - p[order], np.ones(len(p)), order, bins)


@njit(cache=True, nogil=True)
def _binned_ece_kernel(sorted_gap, weight, order, bins):
    total = 0.0
    for i in range(len(order)):
        total += weight[order[i]]
    sums = np.zeros(bins)
    before = 0.0
    for i in range(len(order)):
        w = weight[order[i]]
        b = min(int(before * bins / total), bins - 1)  # truncation = floor here (≥ 0)
        sums[b] += w * sorted_gap[i]
        before += w
    return np.abs(sums).sum() / total


@njit(cache=True, nogil=True)
def _resampled_kernel(sorted_gap, sorted_losses, weight, order, bins):
    """ECE as :func:`_binned_ece_kernel`, then the weighted mean of each loss column, in the
    same pass over the rows (the weights are read once for all of them)."""
    total = 0.0
    for i in range(len(order)):
        total += weight[order[i]]
    sums = np.zeros(bins)
    means = np.zeros(1 + sorted_losses.shape[1])
    before = 0.0
    for i in range(len(order)):
        w = weight[order[i]]
        b = min(int(before * bins / total), bins - 1)
        sums[b] += w * sorted_gap[i]
        before += w
        for j in range(sorted_losses.shape[1]):
            means[1 + j] += w * sorted_losses[i, j]
    means[0] = np.abs(sums).sum()
    return means / total


def _binned_ece(sorted_gap: np.ndarray, weight: np.ndarray, order: np.ndarray, bins: int) -> float:
    """ECE of rows sorted by prediction (``sorted_gap`` = label − prediction), row ``i``
    counted ``weight[order[i]]`` times, in bins of equal total weight (row ``i`` goes to bin
    ``⌊bins · weight before i / total⌋``). One pass, no copies: the bootstrap calls it often."""
    return float(_binned_ece_kernel(sorted_gap, weight, order, bins))


@njit(cache=True, nogil=True)
def _ranking_kernel(score_desc, y_desc, weight, order_desc, shares):
    """ROC-AUC, average precision and the capture at each of ``shares`` of rows counted
    ``weight[order_desc[i]]`` times, from rows sorted by score, riskiest first (ties grouped
    as scikit-learn groups them: one threshold per distinct score)."""
    n = len(order_desc)
    pos_total = 0.0
    all_total = 0.0
    for i in range(n):
        w = weight[order_desc[i]]
        pos_total += w * y_desc[i]
        all_total += w
    neg_total = all_total - pos_total
    out = np.full(2 + len(shares), np.nan)
    if pos_total == 0.0 or neg_total == 0.0:
        return out
    tp = 0.0
    fp = 0.0
    auc = 0.0
    ap = 0.0
    seen = 0.0
    captured = np.zeros(len(shares))
    i = 0
    while i < n:
        j = i
        group_pos = 0.0
        group_neg = 0.0
        while j < n and score_desc[j] == score_desc[i]:
            w = weight[order_desc[j]]
            group_pos += w * y_desc[j]
            group_neg += w * (1.0 - y_desc[j])
            # capture: the first ``share`` of the weight, rows in stable order
            for k in range(len(shares)):
                room = shares[k] * all_total - seen
                if room > 0.0:
                    captured[k] += min(w, room) * y_desc[j]
            seen += w
            j += 1
        # positives of this group rank above the negatives not yet seen, tied with its own
        auc += group_pos * (neg_total - fp - group_neg) + 0.5 * group_pos * group_neg
        tp += group_pos
        fp += group_neg
        if group_pos > 0.0:
            ap += group_pos / pos_total * tp / (tp + fp)
        i = j
    out[0] = auc / (pos_total * neg_total)
    out[1] = ap
    for k in range(len(shares)):
        out[2 + k] = captured[k] / pos_total
    return out


#: Ranking metrics with a bootstrap interval, in the order of :func:`_ranking_kernel`.
RANKING_METRICS = ("roc_auc", "pr_auc", *(f"capture_top{int(s * 100)}" for s in LIFT_SHARES))
#: Every metric with a paired interval of the difference to the reference scorer.
INTERVAL_METRICS = (*PAIRED_METRICS, *RANKING_METRICS)


def bootstrap_intervals(
    y: np.ndarray,
    scores: dict[str, np.ndarray],
    *,
    reference: str = "baseline",
    bins: int = ECE_BINS,
    replicates: int = 200,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """How far each scorer's metrics can be trusted, on the same contacts.

    Every replicate resamples the same contacts for every scorer, so the intervals are
    paired. Per scorer: ``ece_ci_low`` / ``ece_ci_high``, ``roc_auc_ci_low`` / ``_high`` and
    ``pr_auc_ci_low`` / ``_high`` (95 %), and ``ece_noise_floor`` (mean ECE when the labels
    are drawn from the score itself: what a perfectly calibrated score of this shape would
    show). Per scorer other than ``reference``: ``<metric>_minus_<reference>_ci_low`` /
    ``_ci_high`` for every metric in :data:`INTERVAL_METRICS`, the paired interval of the
    difference; a verdict is a win only when it excludes zero on the better side.

    An ECE is an absolute value of noisy bin gaps, so resampling adds to it: its interval
    is the percentile interval shifted by the bootstrap's bias (mean of the replicates −
    the point estimate), which keeps the point estimate inside its own interval, with the
    same ``bins`` for both.
    """
    y = np.asarray(y, dtype=float)
    n = len(y)
    rng = np.random.default_rng(seed)
    shares = np.asarray(LIFT_SHARES, dtype=float)
    ordered = {}
    for name, p in scores.items():
        p = np.asarray(p, dtype=float)
        order = np.argsort(p, kind="stable")
        q = np.clip(p[order], _EPS, 1 - _EPS)  # as in evaluate()
        ys = y[order]
        # per-contact Brier and log-loss terms, in prediction order (PAIRED_METRICS[1:])
        losses = np.column_stack([(ys - q) ** 2, -(ys * np.log(q) + (1 - ys) * np.log1p(-q))])
        desc = np.argsort(-np.clip(p, _EPS, 1 - _EPS), kind="stable")
        ranking = (np.clip(p, _EPS, 1 - _EPS)[desc], y[desc], desc)
        ordered[name] = (p[order], ys - p[order], order, losses, ranking)
    width = len(INTERVAL_METRICS)
    draws = {name: np.empty((replicates, width)) for name in scores}
    for r in range(replicates):
        weight = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
        for name, (_p, gap, order, losses, (s_desc, y_desc, desc)) in ordered.items():
            draws[name][r, : len(PAIRED_METRICS)] = _resampled_kernel(
                gap, losses, weight, order, bins
            )
            draws[name][r, len(PAIRED_METRICS) :] = _ranking_kernel(
                s_desc, y_desc, weight, desc, shares
            )
    ones = np.ones(n)
    out: dict[str, dict[str, float]] = {}
    for name, (p, gap, order, _losses, _ranking) in ordered.items():
        floor = [_binned_ece((rng.random(n) < p) - p, ones, order, bins) for _ in range(10)]
        point_ece = _binned_ece(gap, ones, order, bins)
        bias = float(np.mean(draws[name][:, 0])) - point_ece
        lo, hi = np.percentile(draws[name][:, 0], [2.5, 97.5]) - bias
        out[name] = {
            "ece_ci_low": float(max(0.0, min(lo, point_ece))),
            "ece_ci_high": float(max(hi, point_ece)),
            "ece_noise_floor": float(np.mean(floor)),
        }
        for j, m in enumerate(RANKING_METRICS[:2], start=len(PAIRED_METRICS)):
            column = draws[name][:, j]
            if np.isfinite(column).all():
                r_lo, r_hi = np.percentile(column, [2.5, 97.5])
                out[name][f"{m}_ci_low"] = float(r_lo)
                out[name][f"{m}_ci_high"] = float(r_hi)
        if reference in draws and name != reference:
            diff = draws[name] - draws[reference]
            for j, m in enumerate(INTERVAL_METRICS):
                if not np.isfinite(diff[:, j]).all():
                    continue  # a replicate without both classes: no interval, no win
                d_lo, d_hi = np.percentile(diff[:, j], [2.5, 97.5])
                out[name][f"{m}_minus_{reference}_ci_low"] = float(d_lo)
                out[name][f"{m}_minus_{reference}_ci_high"] = float(d_hi)
    return out


def versus_reference(
    scorer: dict[str, float], reference: dict[str, float], metric: str, name: str = "baseline"
) -> str:
    """``win``, ``tie`` or ``loss`` of ``scorer`` against ``reference`` on one metric.

    The paired bootstrap interval of the difference decides (:func:`bootstrap_intervals`):
    a win needs the whole interval on the better side, an interval containing zero is a tie
    (within the noise). Only without an interval (two bare point values) do the values
    decide.
    """
    lo = scorer.get(f"{metric}_minus_{name}_ci_low")
    hi = scorer.get(f"{metric}_minus_{name}_ci_high")
    lower_better = metric in LOWER_IS_BETTER
    if lo is not None and hi is not None:
        if (hi < 0) if lower_better else (lo > 0):
            return "win"
        if (lo > 0) if lower_better else (hi < 0):
            return "loss"
        return "tie"
    a, b = scorer.get(metric), reference.get(metric)
    if a is None or b is None or a != a or b != b:
        return "–"
    if a == b:
        return "tie"
    better = a < b if lower_better else a > b
    return "win" if better else "loss"


def capture_at(y: np.ndarray, score: np.ndarray, share: float) -> float:
    """Share of all positives among the ``share`` riskiest contacts (ties broken stably)."""
    y = np.asarray(y, dtype=float)
    positives = y.sum()
    if positives == 0:
        return float("nan")
    k = max(1, int(round(share * len(y))))
    top = np.argsort(-np.asarray(score, dtype=float), kind="stable")[:k]
    return float(y[top].sum() / positives)


def evaluate(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """Every reported metric for one score vector (probabilities in [0, 1])."""
    y = np.asarray(y, dtype=int)
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    both = 0 < y.sum() < len(y)
    out = {
        "roc_auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, p)) if both else float("nan"),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, p, labels=[0, 1])),
        "ece": expected_calibration_error(y, p),
        "base_rate": float(y.mean()),
        "mean_prediction": float(p.mean()),
    }
    for share in LIFT_SHARES:
        out[f"capture_top{int(share * 100)}"] = capture_at(y, p, share)
    return out


def lift_curve(y: np.ndarray, score: np.ndarray, points: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(share of contacts, share of positives captured) from the riskiest down."""
    y = np.asarray(y, dtype=float)
    order = np.argsort(-np.asarray(score, dtype=float), kind="stable")
    cum = np.cumsum(y[order]) / max(y.sum(), 1.0)
    idx = np.unique(np.linspace(0, len(y) - 1, points + 1).astype(int))
    return (idx + 1) / len(y), cum[idx]
