"""The model card: one markdown page a compliance reviewer can read without MLflow knowledge."""

from __future__ import annotations

import math

from features.definitions import FEATURES
from training.metrics import COMPARED_METRICS, ECE_BINS, versus_reference

_SHOWN = COMPARED_METRICS
#: Six decimals where the base rates make the values (and the gaps between scorers) small.
_SIX_DECIMALS = frozenset({"brier", "log_loss", "ece", "base_rate", "mean_prediction"})


def format_metric(metric: str, v: float | None) -> str:
    """A metric value with enough digits to tell scorers apart (Brier differences are ~1e-5)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.6f}" if metric in _SIX_DECIMALS else f"{v:.4f}"


def _fmt(v: float) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.4f}"


_REFERENCES_EXPLAINED = (
    "On simulated data two references bound what is achievable. The **oracle** scores each "
    "contact with the simulator's true probability, which includes the person's latent "
    "sensitivity (log-normal; it scales the complaint and opt-out hazards). No model can "
    "reach it: the sensitivity is never observed, only hinted at by the few complaints, "
    "opt-outs and refusals a person has produced so far — most people have none, and a first "
    "contact carries no hint at all. The **observable ceiling** is the oracle with the "
    "sensitivity integrated over its posterior given everything observable before the "
    "contact (earlier contacts and their outcomes): the Bayes-optimal score from the history, "
    "so no model of the history beats it except by chance. *Model / ceiling* is the share of "
    "the achievable that the model reaches; *model / oracle* mixes that with the information "
    "no history holds."
)


def _ratio(value: float | None, reference: float | None, metric: str) -> str:
    if not value or not reference or metric not in ("roc_auc", "pr_auc"):
        return ""
    return _fmt(value / reference)


def _ece_note(by_scorer: dict[str, dict[str, float]]) -> list[str]:
    """The ECE's uncertainty: bootstrap intervals, the noise floor and the paired
    difference to the baseline (an ECE gap inside the noise is no win)."""
    model = by_scorer["model"]
    if "ece_ci_low" not in model:
        return []
    parts = [
        f"{name.replace('_', ' ')} {format_metric('ece', v['ece_ci_low'])}–"
        f"{format_metric('ece', v['ece_ci_high'])}"
        for name, v in by_scorer.items()
        if "ece_ci_low" in v
    ]
    lines = [
        "",
        f"ECE ({ECE_BINS} equal-mass bins, as in the reliability plot), 95 % bootstrap "
        "intervals (bias-corrected): " + "; ".join(parts) + ". "
        f"Noise floor (the ECE a perfectly calibrated score of the model's shape shows on this "
        f"many contacts): {format_metric('ece', model.get('ece_noise_floor'))}.",
    ]
    words = {
        "win": "better than the baseline",
        "loss": "worse than the baseline",
        "tie": "not distinguishable from the baseline",
    }
    for metric, label in (("ece", "ECE"), ("brier", "Brier"), ("log_loss", "log-loss")):
        lo = model.get(f"{metric}_minus_baseline_ci_low")
        hi = model.get(f"{metric}_minus_baseline_ci_high")
        if lo is not None and hi is not None:
            verdict = words[versus_reference(model, by_scorer.get("baseline", {}), metric)]
            lines.append(
                f"Model {label} − baseline {label}, paired bootstrap 95 %: "
                f"{lo:+.6f} to {hi:+.6f} ({verdict})."
            )
    return lines


def _known_limits(simulated: bool, data: dict, split: dict, targets: list[str]) -> list[str]:
    """Limits that speak of the data this run used."""
    start, end = data.get("start"), data.get("end")
    days = (end - start).days if start is not None and end is not None else None
    span = f"{days} days" if days is not None else "the given period"
    origin = "simulated" if simulated else "recorded"
    lines = [
        f"- Trained on {span} of {origin} history ({data.get('source')}): it knows the "
        "campaigns, regions and contact patterns of that period only.",
    ]
    if simulated:
        lines.append(
            "- On simulated data the observable ceiling shows the best achievable from that "
            "history, and the oracle what a person's unseen tolerance adds."
        )
    lines += [
        "- A person's tolerance is only visible through their history: first contacts carry "
        "little signal.",
        "- Calibration holds for the population and period of the calibration slice; "
        "recalibrate after large changes in campaign mix or law.",
        f"- Trees do not extrapolate: contacts with longer histories than the {span} of "
        "training data held get the risk of the longest histories seen.",
    ]
    test = split.get("test", {}).get("positives", {})
    if test:
        counts = ", ".join(f"{test[t]:,} {t} positives" for t in targets if t in test)
        lines.append(
            f"- Rare events: the out-of-time slice holds {counts}; intervals above say how far "
            "each metric can be trusted. Compare models on the same out-of-time data."
        )
    else:
        lines.append(
            "- Rare events: the metrics of small slices are noisy; compare models on the "
            "same out-of-time data."
        )
    lines.append("- Not legal advice; legal rules are enforced separately by the rule packs.")
    return lines


def render(
    *,
    model_name: str,
    run_id: str,
    data: dict,
    split: dict,
    metrics: dict[str, dict[str, dict[str, float]]],
    plan: list[str] | None = None,
    calibration: dict[str, str],
    feature_names: list[str],
    git_commit: str,
    seed: int,
) -> str:
    """``metrics[target][scorer][metric]`` with scorer in model / baseline and, on simulated
    data, oracle / observable_ceiling. ``split``: per slice start, end, rows and positives per
    target; ``plan``: the split as ``train`` printed it."""
    from training.evaluate import interval_text

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
        *([f"- Sampling: {data['sampling']}"] if data.get("sampling") else []),
        "- Numbers never appear in this run's artifacts (features only; keyed hashes where needed).",
        "",
        "## Time split (never random)",
    ]
    targets = list(metrics)
    lines += [
        "| slice | from | to | contacts | " + " | ".join(f"{t} positives" for t in targets) + " |",
        "|---|---|---|---|" + "---|" * len(targets),
    ]
    for name, s in split.items():
        positives = s.get("positives", {})
        cells = " | ".join(f"{positives[t]:,}" if t in positives else "–" for t in targets)
        lines.append(f"| {name} | {s['start']} | {s['end']} | {s['rows']:,} | {cells} |")
    if plan:
        lines += ["", *[f"    {line}" for line in plan]]
    lines += ["", "## Out-of-time results", ""]
    simulated = any("oracle" in by for by in metrics.values())
    if simulated:
        lines += [_REFERENCES_EXPLAINED, ""]
    for target, by_scorer in metrics.items():
        has_ceiling = "observable_ceiling" in by_scorer
        has_oracle = "oracle" in by_scorer
        head = (
            "| metric | model | baseline (contact count) | model vs baseline "
            "| model − baseline [paired 95 %] |"
        )
        rule = "|---|---|---|---|---|"
        if has_oracle:
            head += " oracle (true probability) |"
            rule += "---|"
        if has_ceiling:
            head += " observable ceiling | model / ceiling |"
            rule += "---|---|"
        if has_oracle:
            head += " model / oracle |"
            rule += "---|"
        lines += [f"### {target} (calibration: {calibration.get(target)})", "", head, rule]
        for m in _SHOWN:
            model_v = by_scorer["model"].get(m)
            base_v = by_scorer.get("baseline", {}).get(m)
            oracle_v = by_scorer.get("oracle", {}).get(m)
            verdict = (
                versus_reference(by_scorer["model"], by_scorer["baseline"], m)
                if "baseline" in by_scorer
                else "–"
            )
            cells = [m, format_metric(m, model_v), format_metric(m, base_v), verdict]
            cells.append(interval_text(by_scorer, m) or "–")
            if has_oracle:
                cells.append(format_metric(m, oracle_v))
            if has_ceiling:
                ceiling_v = by_scorer["observable_ceiling"].get(m)
                cells += [format_metric(m, ceiling_v), _ratio(model_v, ceiling_v, m)]
            if has_oracle:
                cells.append(_ratio(model_v, oracle_v, m))
            lines.append("| " + " | ".join(cells) + " |")
        rate = by_scorer["model"].get("base_rate")
        lines += [
            "",
            f"Base rate {format_metric('base_rate', rate)}; mean prediction "
            f"{format_metric('mean_prediction', by_scorer['model'].get('mean_prediction'))}. "
            "*Model vs baseline*: every metric by the paired bootstrap interval of the "
            "difference — a win only when it excludes zero on the better side, a tie when the "
            "gap is within the noise.",
        ]
        lines += _ece_note(by_scorer)
        lines.append("")
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
        *_known_limits(simulated, data, split, targets),
    ]
    return "\n".join(lines) + "\n"
