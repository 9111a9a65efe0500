"""The reviewer's plots stay readable on small data: no two labels of a figure collide
(tick labels, axis labels, titles, legend), with few positives and narrow score ranges."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from training import plots


def _small_test_slice(seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """1,300 contacts with 13 positives; scores in a narrow band, as a small export gives."""
    rng = np.random.default_rng(seed)
    y = np.zeros(1300, dtype=int)
    y[rng.choice(1300, 13, replace=False)] = 1
    model = np.clip(rng.lognormal(np.log(0.006), 0.35, 1300) + 0.004 * y, 1e-4, 1)
    baseline = np.round(rng.uniform(0.004, 0.012, 1300), 3)  # few distinct values
    return y, {"model": model, "baseline": baseline}


def _readable(fig: plt.Figure) -> list[str]:
    fig.tight_layout()
    try:
        return plots.label_overlaps(fig)
    finally:
        plt.close(fig)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "build", [plots.roc_figure, plots.pr_figure, plots.reliability_figure, plots.lift_figure]
)
def test_score_plots_have_no_colliding_labels(build, seed: int) -> None:
    y, scores = _small_test_slice(seed)
    assert _readable(build(y, scores, "complaint_7d")) == []


def test_a_reliability_plot_over_many_decades_is_readable() -> None:
    rng = np.random.default_rng(4)
    p = 10 ** rng.uniform(-6, -0.5, 5000)
    y = (rng.uniform(size=5000) < p).astype(int)
    assert _readable(plots.reliability_figure(y, {"model": p}, "opt_out_7d")) == []


def test_importance_and_shap_plots_have_no_colliding_labels() -> None:
    rng = np.random.default_rng(5)
    names = [f"feature_number_{i}" for i in range(18)]
    importance = pd.Series(rng.lognormal(8, 2, 18), index=names).sort_values(ascending=False)
    assert _readable(plots.importance_figure(importance, "complaint_7d")) == []
    contrib = np.column_stack([rng.normal(0, 0.04, (400, 18)), np.zeros(400)])
    x = rng.normal(size=(400, 18))
    assert _readable(plots.shap_summary_figure(contrib, x, names, "complaint_7d")) == []


def test_the_check_finds_colliding_tick_labels() -> None:
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.set_xticks(np.arange(30), [f"label {i}" for i in range(30)])
    found = _readable(fig)
    assert found and all("label" in f for f in found)
