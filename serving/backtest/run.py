"""The backtest end to end: history → model (trained before ``T0`` or a checked registered
version) → replay through the rules → scores of the window's contacts → strategies →
``backtest.json``, ``run.json``, the HTML report and its plot, and an MLflow run tagged
``contactgate.stage=backtest``. The only module of the package that does I/O besides
:mod:`serving.backtest.history`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.definitions import CEILING_COLUMNS, FEATURE_NAMES, TARGETS, combined_risk
from serving.backtest import report
from serving.backtest.history import History
from serving.backtest.model import BacktestModel, registered_model, train_before
from serving.backtest.replay import REPLAY_COLUMNS, Window, replay
from serving.backtest.shards import SHARD_EVENTS, TRAIN_NUMBERS, split_history
from serving.backtest.strategies import COMPARED, LABELS, TRUTH, evaluate_strategies, has_truth
from training.data import HORIZON

#: What the strategies read of each scored contact (the rest is dropped shard by shard).
STRATEGY_COLUMNS = (
    *(c for c in REPLAY_COLUMNS if c not in ("channel", "purpose")),
    *TARGETS, "p_complaint", "p_opt_out", "risk", "contacts_30d", "contacts_7d",
    *TRUTH.values(), *CEILING_COLUMNS.values(),
)  # fmt: skip


@dataclass
class BacktestOutput:
    result: dict[str, Any]
    meta: dict[str, Any]
    paths: dict[str, Path]
    contacts: pd.DataFrame
    run_id: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)


def scored_contacts(
    history: History, window: Window, rulebook: Any, bm: BacktestModel
) -> pd.DataFrame:
    """The window's contacts: the rules' replay joined with the point-in-time features and
    labels of the training frame (the same kernels as the service) and the model's scores."""
    from features.pointintime import build_training_frame
    from training.model import feature_matrix

    replayed = replay(history, window, rulebook)
    events = history.events
    frame = build_training_frame(events, history.consent)
    frame = frame[frame["event_id"].isin(set(replayed["event_id"]))]
    simulated = (*TRUTH.values(), *CEILING_COLUMNS.values())
    keep = ["event_id", *FEATURE_NAMES, *TARGETS, *(c for c in simulated if c in frame)]
    # the frame's channel / purpose are the model's codes; the replay's are the text values
    replayed = replayed.drop(columns=["channel", "purpose"])
    merged = replayed.merge(frame[keep], on="event_id", how="left", validate="one_to_one")
    if merged[TARGETS[0]].isna().any():
        raise ValueError("some replayed contacts have no row in the training frame")
    predicted = bm.model.predict(feature_matrix(merged, FEATURE_NAMES))
    merged["p_complaint"] = predicted["complaint_7d"]
    merged["p_opt_out"] = predicted["opt_out_7d"]
    merged["risk"] = combined_risk(merged["p_complaint"], merged["p_opt_out"])
    return merged


def _metrics(result: dict[str, Any]) -> dict[str, float]:
    s = result["strategies"]
    out: dict[str, float] = {
        "rules_only.withheld_share": s["rules_only"]["withheld_share"],
        "rules_only.complaints_avoided_share": s["rules_only"]["complaints_avoided_share"],
        "rules_only.opt_outs_avoided_share": s["rules_only"]["opt_outs_avoided_share"],
        "budget.withheld_share": s["model"]["budget"]["withheld_share"],
        "budget.complaints_avoided_share": s["model"]["budget"]["complaints_avoided_share"],
    }
    ranked = [k for k in s if k != "rules_only"]
    for strategy in ranked:
        for prefix, entry in (("", s[strategy]), ("all_contacts.", s[strategy]["of_all_contacts"])):
            for name in (*LABELS, *(f"expected_{k}" for k in TRUTH)):
                key = f"{name}_avoided_share_at_10pct"
                if key not in entry:
                    continue
                out[f"{prefix}{strategy}.{key}"] = entry[key]
                ci = entry.get(f"{key}_ci95")
                if ci:
                    stem = f"{prefix}{strategy}.{key}"
                    out[f"{stem}.ci_low"], out[f"{stem}.ci_high"] = ci
                ratio = entry.get(f"{name}_avoided_vs_contact_count_at_10pct")
                if strategy in COMPARED and ratio is not None:
                    key = f"{prefix}{strategy}.{name}_avoided_vs_contact_count_at_10pct"
                    out[key] = ratio
                    ci = entry.get(f"{name}_avoided_vs_contact_count_at_10pct_ci95")
                    if ci:
                        out[f"{key}.ci_low"], out[f"{key}.ci_high"] = ci
    return out


def run_backtest(
    events_dir: Path,
    start: dt.datetime,
    end: dt.datetime,
    out_dir: Path,
    *,
    policy: Any = None,
    model_version: str | None = None,
    model_name: str = "contact-risk",
    tracking_uri: str | None = None,
    config: Any = None,
    seed: int = 0,
    resamples: int = 300,
    log_mlflow: bool = True,
    allow_small: bool = False,
    shard_events: int = SHARD_EVENTS,
    train_numbers: int = TRAIN_NUMBERS,
    db_url: str | None = None,
    say=print,
) -> BacktestOutput:
    from serving.domain.decision import Policy
    from serving.rules import load_rulebook
    from training.config import TrainConfig

    policy = policy or Policy()
    cfg = config or TrainConfig()
    window = Window(start, end)
    seconds: dict[str, float] = {}
    peak_mb: dict[str, float] = {}  # the process's peak resident memory after each stage
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        store = None
        if db_url is not None:
            from serving.store import Store

            store = Store.open(db_url, create=False)
            stack.callback(store.close)
        work = stack.enter_context(tempfile.TemporaryDirectory(prefix="contactgate-backtest-"))
        shards = split_history(events_dir, Path(work), shard_events=shard_events, store=store)
        registry_note = _registry_assumption(shards, store)
        seconds["load_s"] = time.perf_counter() - t0
        peak_mb["load"] = peak_rss_mb()
        say(
            f"loaded {shards.events:,} events ({', '.join(shards.sources.values())})"
            + (f" in {len(shards.paths)} shards of numbers" if len(shards.paths) > 1 else "")
        )

        t = time.perf_counter()
        train_shards = None
        if model_version is None:
            history, train_shards = shards.training_history(pd.Timestamp(start), train_numbers)
            bm = train_before(history, start, cfg, allow_small=allow_small, say=say)
            del history
            say(
                f"trained before {start.isoformat()}: "
                + ", ".join(f"{k} {v:,}" for k, v in (bm.rows or {}).items())
                + (
                    f" (numbers of {train_shards} of {len(shards.paths)} shards)"
                    if train_shards < len(shards.paths)
                    else ""
                )
            )
        else:
            bm = registered_model(model_name, model_version, start, tracking_uri)
            say(
                f"model {model_name} v{bm.version}: trained on data up to {bm.data_end.isoformat()}"
            )
        seconds["model_s"] = time.perf_counter() - t
        peak_mb["model"] = peak_rss_mb()

        t = time.perf_counter()
        rulebook = load_rulebook()
        parts = []
        for index in range(len(shards.paths)):
            part = scored_contacts(shards.history(index), window, rulebook, bm)
            parts.append(part[[c for c in STRATEGY_COLUMNS if c in part.columns]])
            if len(shards.paths) > 1:
                say(f"shard {index + 1}/{len(shards.paths)}: {len(part):,} contacts replayed")
        contacts = pd.concat(parts, ignore_index=True)
        del parts
        contacts = contacts.sort_values(["ts", "event_id"], kind="stable", ignore_index=True)
        seconds["replay_and_score_s"] = time.perf_counter() - t
        peak_mb["replay_and_score"] = peak_rss_mb()
        say(f"replayed {len(contacts):,} contacts of the window through the rules and the model")

    t = time.perf_counter()
    result = evaluate_strategies(contacts, policy, seed=seed, resamples=resamples)
    seconds["strategies_s"] = time.perf_counter() - t
    peak_mb["strategies"] = peak_rss_mb()

    data_end = shards.data_end
    incomplete = int((contacts["ts"] + HORIZON > data_end).sum())
    assumptions = [registry_note] if registry_note else []
    if incomplete:
        assumptions.append(
            f"{incomplete:,} contacts have a 7-day outcome window running past the end of the "
            f"data ({data_end.isoformat()}): their reactions may be missing."
        )
    assumptions.append(
        "Outcomes are counted with the model's label definition (a reaction within 7 days, "
        "before the next contact to the number)."
    )
    simulated = has_truth(contacts)
    meta = {
        "window_start": start.isoformat(),
        "window_end": end.isoformat(),
        "contacts": len(contacts),
        "events": shards.events,
        "shards": len(shards.paths),
        "training_shards": train_shards,
        "sources": shards.sources,
        "model_source": bm.source,
        "model_name": bm.name,
        "model_version": bm.version,
        "model_run_id": bm.run_id,
        "model_data_end": bm.data_end.isoformat(),
        "model_data_digest": bm.data_digest,
        "training_rows": bm.rows,
        "policy": policy.model_dump(),
        "seed": seed,
        "bootstrap_resamples": resamples,
        "simulated": simulated,
        "rules_version": getattr(rulebook, "version", None),
        "assumptions": assumptions,
        "limitations": list(report.LIMITATIONS),
    }

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "backtest.json",
        "run": out_dir / "run.json",
        "report": out_dir / "report.html",
        "curve": out_dir / "plots" / "curve.png",
    }
    paths["json"].write_text(json.dumps(result, indent=2, default=_plain))
    report.curve_plot(result["curve"], paths["curve"], simulated)
    paths["report"].write_text(report.render(result, meta, paths["curve"]))
    seconds["total_s"] = time.perf_counter() - t0
    meta["seconds"] = {k: round(v, 2) for k, v in seconds.items()}
    meta["peak_rss_mb"] = {k: round(v) for k, v in peak_mb.items()}
    paths["run"].write_text(json.dumps(meta, indent=2, default=_plain))
    run_id = _log_mlflow(result, meta, paths, bm, cfg, tracking_uri) if log_mlflow else None
    return BacktestOutput(result, meta, paths, contacts, run_id, seconds)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / 1024 if sys.platform == "darwin" else peak / 1024


def _registry_assumption(shards: Any, store: Any) -> str | None:
    """What the run assumes of the registries: none given, or the store's kept snapshots."""
    if store is None:
        if shards.rest.registries is not None:
            return None
        return (
            "No registries file: every do-not-call registry counts as freshly snapshotted and "
            "listing no one, so registry listings withhold nothing in this replay."
        )
    snapshots = store.registry_history([])
    if not snapshots:
        return (
            f"Registry snapshots from the store ({store.safe_url}): it holds none, so every "
            "contact in a registry country is withheld REGISTRY_STALE, as the service would."
        )
    replaced = sum(1 for *_, listed in snapshots if listed is None)
    registries = len({registry for registry, *_ in snapshots})
    text = (
        f"Registry snapshots from the store ({store.safe_url}): {len(snapshots)} snapshot(s) of "
        f"{registries} registr{'y' if registries == 1 else 'ies'}, each in force from its "
        "snapshot instant until the next."
    )
    if replaced:
        text += (
            f" The store keeps the listings of the snapshots in force only: {replaced} replaced "
            "snapshot(s) are taken to list what their registry's snapshot in force lists."
        )
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def _log_mlflow(result, meta, paths, bm: BacktestModel, cfg, tracking_uri) -> str:
    import mlflow

    from training import tracking

    tracking.configure(tracking_uri)
    experiment_id = tracking.ensure_experiment(cfg.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="backtest") as run:
        mlflow.set_tags(
            {
                "contactgate.stage": "backtest",
                "model_source": bm.source,
                "simulated": str(meta["simulated"]),
                **({"model_version": bm.version} if bm.version else {}),
                **({"data_digest": bm.data_digest} if bm.data_digest else {}),
            }
        )
        mlflow.log_params(
            {
                "window.start": meta["window_start"],
                "window.end": meta["window_end"],
                "model.data_end": meta["model_data_end"],
                "contacts": meta["contacts"],
                "seed": meta["seed"],
                **{f"policy.{k}": v for k, v in meta["policy"].items()},
            }
        )
        mlflow.log_metrics(_metrics(result))
        mlflow.log_artifact(str(paths["json"]))
        mlflow.log_artifact(str(paths["run"]))
        mlflow.log_artifact(str(paths["report"]))
        mlflow.log_artifact(str(paths["curve"]), artifact_path="plots")
        if bm.source == "trained":
            with tempfile.TemporaryDirectory() as tmp:
                bundle = bm.model.save(Path(tmp) / "bundle")
                mlflow.log_artifacts(str(bundle), artifact_path="model_bundle")
        return run.info.run_id
