"""Evaluation metrics for calibrated risk scores of rare events.

Expected calibration error uses equal-mass bins: with base rates well under 1 %, equal-width
bins put almost every contact in the first bin and say nothing about the tail that matters.
Lift is the share of all positives found among the riskiest k % of contacts.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

LIFT_SHARES = (0.05, 0.10, 0.20)
_EPS = 1e-7


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 20) -> float:
    """Mean |observed rate − mean prediction| over equal-mass bins, weighted by bin size."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    order = np.argsort(p, kind="stable")
    chunks = np.array_split(order, bins)
    total = len(p)
    return float(sum(len(c) / total * abs(y[c].mean() - p[c].mean()) for c in chunks if len(c)))


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
