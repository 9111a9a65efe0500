"""Move the ``champion`` alias to the ``challenger`` when it passes every gate.

Gates, for every target, on the challenger's own out-of-time evaluation (its run's
``evaluation/metrics.json``: bootstrap intervals over the test contacts):

1. its ROC-AUC interval lies above 0.5 (it ranks better than chance);
2. it beats the baseline on ROC-AUC: the paired interval of model − baseline is above zero;
3. it beats the baseline on PR-AUC, the same way.

When there is a champion, both are also scored on the SAME contacts (the challenger's test
slice): for every target the challenger's PR-AUC is at least the champion's (minus a
configured tolerance) and its calibration error no worse (plus a tolerance). The first model
is gated like any other. The decision lists every gate, passed or failed. ``--force``
promotes anyway; it is recorded on the model version (``promotion_forced``, with the
failed gates) and printed.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.definitions import TARGETS
from training.config import PromotionConfig, load_config
from training.metrics import evaluate


@dataclass(frozen=True)
class Gate:
    """One promotion condition and how the challenger did on it."""

    name: str
    passed: bool
    detail: str

    def line(self) -> str:
        return f"[{'pass' if self.passed else 'FAIL'}] {self.name}: {self.detail}"


@dataclass
class Decision:
    promoted: bool
    reason: str
    challenger: str | None
    champion_before: str | None
    comparison: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    gates: list[Gate] = field(default_factory=list)


def _run_metrics(run_id: str) -> dict:
    import json

    import mlflow

    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="evaluation/metrics.json"
        )
    except Exception:  # an older or foreign run: no evaluation recorded
        return {}
    return json.loads(Path(path).read_text())


def quality_gates(metrics: dict) -> list[Gate]:
    """The gates a challenger must pass on its own out-of-time evaluation, per target."""
    gates: list[Gate] = []
    for target in TARGETS:
        model = metrics.get(target, {}).get("model", {})
        lo, hi = model.get("roc_auc_ci_low"), model.get("roc_auc_ci_high")
        name = f"{target} ROC-AUC interval above 0.5"
        if lo is None or hi is None:
            gates.append(Gate(name, False, "no interval recorded with the run (retrain)"))
        else:
            gates.append(
                Gate(
                    name, lo > 0.5, f"{model.get('roc_auc', float('nan')):.3f} [{lo:.3f}, {hi:.3f}]"
                )
            )
        for metric, label in (("roc_auc", "ROC-AUC"), ("pr_auc", "PR-AUC")):
            d_lo = model.get(f"{metric}_minus_baseline_ci_low")
            d_hi = model.get(f"{metric}_minus_baseline_ci_high")
            name = f"{target} {label} beats the baseline"
            if d_lo is None or d_hi is None:
                gates.append(Gate(name, False, "no paired interval recorded with the run"))
                continue
            base = metrics[target].get("baseline", {}).get(metric, float("nan"))
            gates.append(
                Gate(
                    name,
                    d_lo > 0,
                    f"model {model.get(metric, float('nan')):.4f} vs baseline {base:.4f}, "
                    f"difference interval [{d_lo:+.4f}, {d_hi:+.4f}]",
                )
            )
    return gates


def _test_frame(run_id: str) -> pd.DataFrame:
    import mlflow

    path = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="evaluation/test_frame.parquet"
    )
    return pd.read_parquet(path)


def compare(name: str, rules: PromotionConfig) -> Decision:
    """Score champion and challenger on the challenger's out-of-time data; decide."""
    from mlflow import MlflowClient

    from training.model import feature_matrix
    from training.tracking import CHALLENGER, CHAMPION, alias_version, load_model

    chal_version = alias_version(name, CHALLENGER)
    champ_version = alias_version(name, CHAMPION)
    if chal_version is None:
        return Decision(
            False, f"{name} has no {CHALLENGER} version: train first", None, champ_version
        )
    if champ_version == chal_version:
        return Decision(
            False, f"version {chal_version} is already the champion", chal_version, champ_version
        )
    run_id = MlflowClient().get_model_version(name, chal_version).run_id
    gates = quality_gates(_run_metrics(run_id))
    failed = [g for g in gates if not g.passed]
    if champ_version is None:
        if failed:
            return Decision(
                False,
                "first model, gated like any other: failed " + "; ".join(g.name for g in failed),
                chal_version,
                None,
                gates=gates,
            )
        return Decision(
            True,
            "first model (no champion yet): every gate passed",
            chal_version,
            None,
            gates=gates,
        )

    challenger = load_model(name, CHALLENGER)
    champion = load_model(name, CHAMPION)
    test = _test_frame(challenger.run_id)
    missing = [f for f in champion.model.feature_names if f not in test.columns]
    if missing:
        return Decision(
            False,
            f"champion needs features the challenger's test data lacks: {missing}; "
            "use --force to replace it",
            chal_version,
            champ_version,
            gates=gates,
        )
    comparison: dict[str, dict[str, dict[str, float]]] = {}
    failures = []
    for who, loaded in (("challenger", challenger), ("champion", champion)):
        pred = loaded.model.predict(feature_matrix(test, loaded.model.feature_names))
        for target in TARGETS:
            comparison.setdefault(target, {})[who] = evaluate(
                test[target].to_numpy(int), pred[target]
            )
    for target, by in comparison.items():
        c, k = by["challenger"], by["champion"]
        pr_ok = c["pr_auc"] >= k["pr_auc"] - rules.pr_auc_tolerance
        ece_ok = c["ece"] <= k["ece"] + rules.ece_tolerance
        gates.append(
            Gate(
                f"{target} PR-AUC at least the champion's",
                pr_ok,
                f"{c['pr_auc']:.4f} vs {k['pr_auc']:.4f} (tolerance {rules.pr_auc_tolerance:g})",
            )
        )
        gates.append(
            Gate(
                f"{target} ECE no worse than the champion's",
                ece_ok,
                f"{c['ece']:.4f} vs {k['ece']:.4f} (tolerance {rules.ece_tolerance:g})",
            )
        )
        if not pr_ok:
            failures.append(f"{target} PR-AUC {c['pr_auc']:.4f} < champion {k['pr_auc']:.4f}")
        if not ece_ok:
            failures.append(f"{target} ECE {c['ece']:.4f} > champion {k['ece']:.4f}")
    failures = [g.name for g in failed] + failures
    if failures:
        return Decision(False, "; ".join(failures), chal_version, champ_version, comparison, gates)
    return Decision(
        True,
        "every gate passed: beats the baseline and at least as good as the champion on "
        "PR-AUC and calibration for every target",
        chal_version,
        champ_version,
        comparison,
        gates,
    )


def promote(name: str, rules: PromotionConfig, force: bool = False) -> Decision:
    from mlflow import MlflowClient

    from training.tracking import CHAMPION

    decision = compare(name, rules)
    if (
        not decision.promoted
        and force
        and decision.challenger
        and decision.challenger != decision.champion_before
    ):
        decision = Decision(
            True,
            f"forced over: {decision.reason}",
            decision.challenger,
            decision.champion_before,
            decision.comparison,
            decision.gates,
        )
        MlflowClient().set_model_version_tag(
            name, decision.challenger, "promotion_forced", decision.reason[:4000]
        )
    if decision.challenger and decision.gates:
        MlflowClient().set_model_version_tag(
            name,
            decision.challenger,
            "promotion_gates",
            "; ".join(g.line() for g in decision.gates)[:4000],
        )
        _describe_on_run(name, decision)
    if decision.promoted:
        client = MlflowClient()
        client.set_registered_model_alias(name, CHAMPION, decision.challenger)
        client.set_model_version_tag(
            name, decision.challenger, "promoted_over", decision.champion_before or "none"
        )
    return decision


#: The line of a run's description that ``train`` leaves for the promotion decision.
PROMOTION_LINE = "Promotion: "


def _describe_on_run(name: str, decision: Decision) -> None:
    """Write the decision and its gates into the challenger run's description."""
    from mlflow import MlflowClient

    client = MlflowClient()
    run_id = client.get_model_version(name, decision.challenger).run_id
    note = client.get_run(run_id).data.tags.get("mlflow.note.content", "")
    head = note.split(PROMOTION_LINE)[0].rstrip()
    verdict = "promoted to champion" if decision.promoted else "not promoted"
    lines = [
        f"{PROMOTION_LINE}{verdict} — {decision.reason}",
        *(f"- {g.line()}" for g in decision.gates),
    ]
    client.set_tag(run_id, "mlflow.note.content", (head + "\n\n" + "\n".join(lines)).strip())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None, help="registered model name (default from config: contact-risk)"
    )
    parser.add_argument(
        "--config", type=Path, help="training config YAML (its promotion tolerances)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or models/mlflow.db)",
    )
    parser.add_argument(
        "--force", action="store_true", help="promote even if worse (recorded as a tag)"
    )


def run(args: argparse.Namespace) -> int:
    from training.tracking import CHALLENGER, CHAMPION, alias_version, configure, describe

    cfg = load_config(args.config)
    uri = configure(args.tracking_uri)
    name = args.model or cfg.model_name
    for alias in (CHAMPION, CHALLENGER):
        print(describe(uri, name, alias, alias_version(name, alias)))
    decision = promote(name, cfg.promotion, force=args.force)
    for gate in decision.gates:
        print(f"  {gate.line()}")
    for target, by in decision.comparison.items():
        c, k = by["challenger"], by["champion"]
        print(
            f"  {target}: PR-AUC {c['pr_auc']:.4f} vs {k['pr_auc']:.4f}, ECE {c['ece']:.4f} vs {k['ece']:.4f}"
            " (challenger vs champion)"
        )
    if decision.promoted:
        print(f"promoted {name} v{decision.challenger} to champion ({decision.reason})")
        if decision.reason.startswith("forced"):
            print("the override is recorded on the version (tag promotion_forced)")
        return 0
    kept = (
        f"kept champion v{decision.champion_before}"
        if decision.champion_before
        else f"not promoted: {name} has no champion"
    )
    print(f"{kept}: {decision.reason}")
    if decision.challenger and decision.challenger != decision.champion_before:
        print("  (--force promotes anyway and is recorded on the version)")
    return 0 if decision.challenger else 1
