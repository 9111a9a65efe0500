"""Evaluation plots for reviewers: ROC, PR, reliability, lift, importance, SHAP summary.

Each ``*_figure`` function builds one figure; each ``*_plot`` writes it as a PNG and
returns its path (:func:`label_overlaps` checks that no two labels of a figure collide). Scores are compared side by side
(model, baseline, oracle, observable ceiling) so a reviewer sees how close the model is to
the best achievable.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from training.metrics import ECE_BINS, lift_curve  # noqa: E402

_COLOURS = {
    "model": "#1f77b4",
    "baseline": "#7f7f7f",
    "oracle": "#2ca02c",
    "observable_ceiling": "#ff7f0e",
}


def _log_ticks(axis, lo: float, hi: float) -> None:
    """Readable ticks on a log axis of any span: 1-2-5 steps over a short span, decades
    over a long one; minor ticks unlabelled (their labels collide on a short span)."""
    decades = np.log10(hi / lo)
    subs = (1.0, 2.0, 5.0) if decades <= 2.5 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=12))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g}"))
    axis.set_minor_formatter(NullFormatter())


def label_overlaps(fig: plt.Figure) -> list[str]:
    """Pairs of visible texts of a figure (tick labels, axis labels, titles, legends) whose
    boxes intersect once drawn: empty for a readable figure."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    found: list[str] = []
    for ax in fig.axes:
        groups = [
            [t for t in ax.get_xticklabels(which="both") if t.get_visible() and t.get_text()],
            [t for t in ax.get_yticklabels(which="both") if t.get_visible() and t.get_text()],
        ]
        ticks = []
        for labels in groups:
            boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in labels]
            for i, (a, box_a) in enumerate(boxes):
                found += [f"tick labels {a!r} and {b!r}" for b, box_b in boxes[i + 1 :]
                          if box_a.overlaps(box_b)]  # fmt: skip
            ticks += boxes
        singles = (ax.title, ax.xaxis.label, ax.yaxis.label)
        texts = [(t.get_text(), t.get_window_extent(renderer)) for t in singles if t.get_text()]
        for a, box_a in texts:
            found += [f"{a!r} and tick label {b!r}" for b, box_b in ticks if box_a.overlaps(box_b)]
        legend = ax.get_legend()
        if legend is not None:
            box = legend.get_window_extent(renderer)
            found += [f"legend and {a!r}" for a, other in texts + ticks if box.overlaps(other)]
    return found


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roc_figure(y: np.ndarray, scores: dict[str, np.ndarray], target: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, s in scores.items():
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=name, color=_COLOURS.get(name))
    ax.plot([0, 1], [0, 1], ls=":", color="black", lw=0.8)
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate",
        title=f"ROC — {target} (out-of-time)",
    )
    ax.legend(loc="lower right")
    return fig


def pr_figure(y: np.ndarray, scores: dict[str, np.ndarray], target: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, s in scores.items():
        precision, recall, _ = precision_recall_curve(y, s)
        ax.plot(recall, precision, label=name, color=_COLOURS.get(name))
    ax.axhline(np.mean(y), ls=":", color="black", lw=0.8, label="base rate")
    ax.set(xlabel="recall", ylabel="precision", title=f"Precision–recall — {target}")
    ax.legend(loc="upper right")
    return fig


def reliability_figure(
    y: np.ndarray, scores: dict[str, np.ndarray], target: str, bins: int = ECE_BINS
) -> plt.Figure:
    """Observed rate against mean prediction in equal-mass bins (as many as the ECE of the
    model card uses), with 95 % Wilson intervals.

    Log–log axes because the events are rare; a bin with no event is drawn as a hollow
    triangle at the bottom edge (its rate is below what the bin can show), not as a zero
    that a log axis cannot place.
    """
    fig, ax = plt.subplots(figsize=(5.5, 5))
    points: list[tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for name, s in scores.items():
        order = np.argsort(s, kind="stable")
        chunks = [c for c in np.array_split(order, bins) if len(c)]
        mean_p = np.array([s[c].mean() for c in chunks])
        n = np.array([len(c) for c in chunks], dtype=float)
        rate = np.array([y[c].mean() for c in chunks])
        z = 1.96  # Wilson score interval
        centre = (rate + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        points.append((name, mean_p, rate, np.maximum(centre - half, 0), centre + half))
    positive = [v for _, m, r, _, _ in points for v in (*m[m > 0], *r[r > 0])]
    lo = max(min(positive, default=1e-4) / 2, 1e-6)
    hi = min(max(max(positive, default=0.5) * 2, lo * 10), 1.0)
    for name, mean_p, rate, low, high in points:
        colour = _COLOURS.get(name)
        seen = rate > 0
        ax.errorbar(
            mean_p[seen], rate[seen], yerr=[rate[seen] - np.maximum(low[seen], lo), high[seen] - rate[seen]],
            marker="o", ms=3, lw=1, capsize=2, label=name, color=colour,
        )  # fmt: skip
        if (~seen).any():
            ax.scatter(mean_p[~seen], np.full((~seen).sum(), lo), marker="v", s=18,
                       facecolors="none", edgecolors=colour)  # fmt: skip
    ax.plot([lo, hi], [lo, hi], ls=":", color="black", lw=0.8, label="perfect")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo / 1.3, hi)
    ax.set(
        xlabel="mean predicted probability (bin)",
        ylabel="observed rate (bin), 95 % interval",
        title=f"Reliability — {target} ({bins} equal-mass bins)",
    )
    _log_ticks(ax.xaxis, lo, hi)
    _log_ticks(ax.yaxis, lo / 1.3, hi)
    ax.legend(loc="best", fontsize="small", framealpha=0.85)
    return fig


def lift_figure(y: np.ndarray, scores: dict[str, np.ndarray], target: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(5.5, 5))
    for name, s in scores.items():
        share, captured = lift_curve(y, s)
        ax.plot(share, captured, label=name, color=_COLOURS.get(name))
    ax.plot([0, 1], [0, 1], ls=":", color="black", lw=0.8, label="random")
    for k in (0.05, 0.10, 0.20):
        ax.axvline(k, color="#cccccc", lw=0.6)
    ax.set(
        xlabel="share of contacts, riskiest first",
        ylabel="share of positives captured",
        title=f"Lift — {target}",
    )
    ax.legend(loc="lower right")
    return fig


def importance_figure(importance: pd.Series, target: str, top: int = 20) -> plt.Figure:
    imp = importance.head(top)[::-1]
    fig, ax = plt.subplots(figsize=(6, 0.3 * len(imp) + 1.2))
    ax.barh(imp.index, imp.to_numpy(), color=_COLOURS["model"])
    ax.set(xlabel="total gain", title=f"Feature importance — {target}")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
    return fig


def shap_summary_figure(
    contrib: np.ndarray, x: np.ndarray, names: list[str], target: str, top: int = 15
) -> plt.Figure:
    """Beeswarm-style summary from LightGBM ``pred_contrib`` (TreeSHAP values, log-odds)."""
    values = contrib[:, :-1]
    order = np.argsort(-np.abs(values).mean(axis=0))[:top][::-1]
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(order) + 1.5))
    for row, j in enumerate(order):
        col = x[:, j]
        finite = np.isfinite(col)
        colour = np.full(len(col), 0.5)
        if finite.any():
            ranks = pd.Series(col[finite]).rank(pct=True).to_numpy()
            colour[finite] = ranks
        jitter = rng.uniform(-0.3, 0.3, len(col))
        ax.scatter(
            values[:, j], row + jitter, c=colour, cmap="coolwarm", s=4, alpha=0.6, linewidths=0
        )
    ax.set_yticks(range(len(order)), [names[j] for j in order])
    ax.axvline(0, color="black", lw=0.6)
    ax.set(
        xlabel="contribution to log-odds (blue = low value, red = high)",
        title=f"SHAP summary — {target}",
    )
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6))
    return fig


# ----------------------------------------------------------------------------- files
def roc_plot(y: np.ndarray, scores: dict[str, np.ndarray], target: str, path: Path) -> Path:
    return _save(roc_figure(y, scores, target), path)


def pr_plot(y: np.ndarray, scores: dict[str, np.ndarray], target: str, path: Path) -> Path:
    return _save(pr_figure(y, scores, target), path)


def reliability_plot(
    y: np.ndarray, scores: dict[str, np.ndarray], target: str, path: Path, bins: int = ECE_BINS
) -> Path:
    return _save(reliability_figure(y, scores, target, bins), path)


def lift_plot(y: np.ndarray, scores: dict[str, np.ndarray], target: str, path: Path) -> Path:
    return _save(lift_figure(y, scores, target), path)


def importance_plot(importance: pd.Series, target: str, path: Path, top: int = 20) -> Path:
    return _save(importance_figure(importance, target, top), path)


def shap_summary_plot(
    contrib: np.ndarray, x: np.ndarray, names: list[str], target: str, path: Path, top: int = 15
) -> Path:
    return _save(shap_summary_figure(contrib, x, names, target, top), path)
