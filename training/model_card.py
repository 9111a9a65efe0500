"""The model card: one markdown page a compliance reviewer can read without MLflow knowledge."""

from __future__ import annotations

import math

from features.definitions import FEATURES

_SHOWN = (
    "roc_auc",
    "pr_auc",
    "brier",
    "log_loss",
    "ece",
    "capture_top5",
    "capture_top10",
    "capture_top20",
)


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.4f}"


def render(
    *,
    model_name: str,
    run_id: str,
    data: dict,
    split: dict,
    metrics: dict[str, dict[str, dict[str, float]]],
    calibration: dict[str, str],
    feature_names: list[str],
    git_commit: str,
    seed: int,
) -> str:
    """``metrics[target][scorer][metric]`` with scorer in model/baseline/oracle."""
    lines = [
        f"# Model card — {model_name}",
        "",
        f"Run `{run_id}` · code `{git_commit}` · seed {seed}",
        "",
        "## What it predicts",
        "Two calibrated probabilities per planned contact: `complaint_7d` (a complaint within 7 days "
        "after the contact and before the next contact to the same number) and `opt_out_7d` (an opt-out "
        "or opt-out reply in the same window). The service combines them into "
        "`risk = 1 − (1 − p_complaint)(1 − p_opt_out)`. The score can add a withhold or a review; it "
        "never removes a legal withhold.",
        "",
        "## Data",
        f"- Source: {data.get('source')}",
        f"- Events: {data.get('events'):,} · contacts in the training frame: {data.get('contacts'):,}",
        f"- Digest: `{data.get('digest')}`",
        f"- Window: {data.get('start')} → {data.get('end')}",
        "- Numbers never appear in this run's artifacts (features only; keyed hashes where needed).",
        "",
        "## Time split (never random)",
        "| slice | from | to | contacts |",
        "|---|---|---|---|",
    ]
    for name, s in split.items():
        lines.append(f"| {name} | {s['start']} | {s['end']} | {s['rows']:,} |")
    lines += ["", "## Out-of-time results", ""]
    for target, by_scorer in metrics.items():
        lines += [
            f"### {target} (calibration: {calibration.get(target)})",
            "",
            "| metric | model | baseline (contact count) | oracle (true probability) | model / oracle |",
            "|---|---|---|---|---|",
        ]
        for m in _SHOWN:
            model_v = by_scorer["model"].get(m)
            base_v = by_scorer.get("baseline", {}).get(m)
            oracle_v = by_scorer.get("oracle", {}).get(m)
            ratio = model_v / oracle_v if oracle_v and m in ("roc_auc", "pr_auc") else None
            lines.append(
                f"| {m} | {_fmt(model_v)} | {_fmt(base_v)} | {_fmt(oracle_v)} | {_fmt(ratio) if ratio else ''} |"
            )
        rate = by_scorer["model"].get("base_rate")
        lines += [
            "",
            f"Base rate {_fmt(rate)}; mean prediction {_fmt(by_scorer['model'].get('mean_prediction'))}.",
            "",
        ]
    mono = [f for f in FEATURES if f.name in feature_names and f.monotone > 0]
    lines += [
        "## Monotone features",
        "Risk never falls as any of these grows (LightGBM monotone constraints; checked by sweep tests):",
        "",
        *[f"- `{f.name}` — {f.description}" for f in mono],
        "",
        "## Inputs",
        f"{len(feature_names)} features computed as of the contact instant from events strictly before it "
        "(one code path for training and serving). Categoricals are fixed-vocabulary integer codes.",
        "",
        "## Known limits",
        "- Trained on the history it was given; on simulated data the oracle shows the best achievable.",
        "- A person's tolerance is only visible through their history: first contacts carry little signal.",
        "- Calibration holds for the population and period of the calibration slice; recalibrate after "
        "large changes in campaign mix or law.",
        "- Rare events: the metrics of small slices are noisy; compare models on the same out-of-time data.",
        "- Not legal advice; legal rules are enforced separately by the rule packs.",
    ]
    return "\n".join(lines) + "\n"
