"""Move the ``champion`` alias to the ``challenger`` when it is at least as good.

Both models are scored on the SAME out-of-time contacts: the challenger's test slice, saved
with its run. The challenger wins when, for every target, its PR-AUC is at least the
champion's (minus a configured tolerance) and its expected calibration error is no worse
(plus a tolerance). The first model becomes champion. ``--force`` promotes anyway and is
recorded as a tag on the model version.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.definitions import TARGETS
from training.config import PromotionConfig, load_config
from training.metrics import evaluate


@dataclass
class Decision:
    promoted: bool
    reason: str
    challenger: str | None
    champion_before: str | None
    comparison: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)


def _test_frame(run_id: str) -> pd.DataFrame:
    import mlflow

    path = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="evaluation/test_frame.parquet"
    )
    return pd.read_parquet(path)


def compare(name: str, rules: PromotionConfig) -> Decision:
    """Score champion and challenger on the challenger's out-of-time data; decide."""
    from training.model import feature_matrix
    from training.tracking import CHALLENGER, CHAMPION, alias_version, load_model

    chal_version = alias_version(name, CHALLENGER)
    champ_version = alias_version(name, CHAMPION)
    if chal_version is None:
        return Decision(
            False, f"{name} has no {CHALLENGER} version: train first", None, champ_version
        )
    if champ_version is None:
        return Decision(True, "first model: no champion yet", chal_version, None)
    if champ_version == chal_version:
        return Decision(
            False, f"version {chal_version} is already the champion", chal_version, champ_version
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
        if c["pr_auc"] < k["pr_auc"] - rules.pr_auc_tolerance:
            failures.append(f"{target} PR-AUC {c['pr_auc']:.4f} < champion {k['pr_auc']:.4f}")
        if c["ece"] > k["ece"] + rules.ece_tolerance:
            failures.append(f"{target} ECE {c['ece']:.4f} > champion {k['ece']:.4f}")
    if failures:
        return Decision(False, "; ".join(failures), chal_version, champ_version, comparison)
    return Decision(
        True,
        "at least as good on PR-AUC and calibration for every target",
        chal_version,
        champ_version,
        comparison,
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
        )
        MlflowClient().set_model_version_tag(
            name, decision.challenger, "promotion_forced", decision.reason[:4000]
        )
    if decision.promoted:
        client = MlflowClient()
        client.set_registered_model_alias(name, CHAMPION, decision.challenger)
        client.set_model_version_tag(
            name, decision.challenger, "promoted_over", decision.champion_before or "none"
        )
    return decision


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
    for target, by in decision.comparison.items():
        c, k = by["challenger"], by["champion"]
        print(
            f"  {target}: PR-AUC {c['pr_auc']:.4f} vs {k['pr_auc']:.4f}, ECE {c['ece']:.4f} vs {k['ece']:.4f}"
            " (challenger vs champion)"
        )
    if decision.promoted:
        print(f"promoted {name} v{decision.challenger} to champion ({decision.reason})")
        return 0
    print(f"kept champion v{decision.champion_before}: {decision.reason}")
    return 0 if decision.challenger else 1
