"""Train calibrated complaint and opt-out models and log everything a reviewer needs to MLflow.

Builds the point-in-time training frame, splits it by time (train / early stopping /
calibration / out-of-time test), trains one monotone LightGBM booster per target,
calibrates each on its own slice, evaluates model, a contact-count baseline and (on
simulated data) the oracle and the observable ceiling on the same out-of-time contacts, and
registers the bundle as a new model version with the alias ``challenger``.

The oracle scores with each person's latent sensitivity, which no history reveals fully; the
observable ceiling (``p_*_observable`` from :mod:`features.simulate`) is the oracle with that
sensitivity integrated over its posterior given the outcomes observed before the contact —
the best any model of the history can do. Model / ceiling is how much is left to learn.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from features.definitions import CEILING_COLUMNS, FEATURE_NAMES, ORACLE_COLUMNS, TARGETS
from features.paths import GENERATED_DIR, PROJECT_ROOT
from training.calibration import Calibrator
from training.config import TrainConfig, load_config
from training.metrics import COMPARED_METRICS, ece_uncertainty, evaluate, versus_reference

SPLITS = ("train", "early_stopping", "calibration", "test")
#: Scorers on simulated data, beside the model and the baseline: column per target.
REFERENCE_SCORERS: dict[str, dict[str, str]] = {
    "oracle": ORACLE_COLUMNS,
    "observable_ceiling": CEILING_COLUMNS,
}
#: What the model is compared with, as ``model / reference`` ratios.
RATIO_REFERENCES = ("oracle", "observable_ceiling")
RATIO_METRICS = ("roc_auc", "pr_auc")
HORIZON = pd.Timedelta(days=7)


# --------------------------------------------------------------------------- data
@dataclass
class TrainingData:
    frame: pd.DataFrame
    source: str
    events: int
    digest: str
    start: pd.Timestamp
    end: pd.Timestamp


def data_digest(events: pd.DataFrame) -> str:
    """Content digest of the events (ids, instants, kinds, outcomes): changes when data does."""
    cols = [c for c in ("event_id", "ts", "kind", "outcome") if c in events.columns]
    h = pd.util.hash_pandas_object(events[cols], index=False).to_numpy()
    return hashlib.sha256(h.tobytes()).hexdigest()[:16]


def _find(path: Path, stem: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        if (path / f"{stem}{suffix}").exists():
            return path / f"{stem}{suffix}"
    return None


def load_training_data(events_path: Path, progress: bool = True) -> TrainingData:
    """Events from a file or a folder holding events.* (and optionally consent.*)."""
    from features.io import load_events, load_records
    from features.pointintime import build_training_frame

    consent = None
    if events_path.is_dir():
        ev_file = _find(events_path, "events")
        if ev_file is None:
            raise FileNotFoundError(
                f"{events_path}: no events.parquet or events.csv in this folder"
            )
        cons_file = _find(events_path, "consent")
        if cons_file is not None:
            consent = load_records(cons_file, "consent").frame
    else:
        ev_file = events_path
    events = load_events(ev_file).frame
    frame = build_training_frame(events, consent, progress=progress)
    return TrainingData(
        frame=frame,
        source=str(ev_file),
        events=len(events),
        digest=data_digest(events),
        start=events["ts"].min(),
        end=events["ts"].max(),
    )


def time_split(
    frame: pd.DataFrame, cfg: TrainConfig, data_end: pd.Timestamp
) -> dict[str, pd.DataFrame]:
    """Split by contact instant. Drops the warm-up (truncated history windows) and contacts whose
    7-day label window is not yet fully observed at the end of the data."""
    start = frame["ts"].min() + pd.Timedelta(days=cfg.split.warmup_days)
    usable = frame[(frame["ts"] >= start) & (frame["ts"] < data_end - HORIZON)]
    usable = usable.sort_values("ts", kind="stable")
    shares = np.cumsum([getattr(cfg.split, s) for s in SPLITS])
    cuts = [0, *(int(round(s * len(usable))) for s in shares)]
    cuts[-1] = len(usable)
    parts = {}
    for name, lo, hi in zip(SPLITS, cuts[:-1], cuts[1:], strict=True):
        parts[name] = usable.iloc[lo:hi]
    for name, part in parts.items():
        if len(part) == 0:
            raise ValueError(f"the {name} slice is empty: not enough contacts after the warm-up")
    return parts


def baseline_scores(train_frames: dict[str, pd.DataFrame], target: str) -> np.ndarray:
    """The heuristic a team would use without a model: more recent contacts → riskier.

    Score = contacts_30d (ties broken by contacts_7d), calibrated on the calibration slice so
    that Brier and calibration metrics compare like with like.
    """

    def score(f: pd.DataFrame) -> np.ndarray:
        return f["contacts_30d"].to_numpy(float) + 0.01 * f["contacts_7d"].to_numpy(float)

    cal = train_frames["calibration"]
    # scale counts into [0, 1) monotonically; isotonic calibration does the rest
    top = max(score(cal).max(), score(train_frames["test"]).max()) + 1.0
    calibrator = Calibrator("isotonic").fit(score(cal) / top, cal[target].to_numpy())
    return calibrator.transform(score(train_frames["test"]) / top)


# --------------------------------------------------------------------------- run
@dataclass
class TrainResult:
    run_id: str
    model_name: str
    version: str
    metrics: dict[str, dict[str, dict[str, float]]]
    seconds: dict[str, float] = field(default_factory=dict)


def git_commit() -> str:
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        return (sha or "unknown") + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _flatten(prefix: str, data: dict) -> dict[str, object]:
    out: dict[str, object] = {}
    for k, v in data.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.update(_flatten(key, v))
        else:
            out[key] = v
    return out


def train(
    data: TrainingData, cfg: TrainConfig, tracking_uri: str | None = None, console=None
) -> TrainResult:
    """Train, evaluate, log and register. Returns the new version (alias ``challenger``)."""
    import mlflow
    from mlflow.models import infer_signature

    from training import model_card, plots, tracking
    from training.model import RiskModel, feature_matrix

    say = console.print if console else print
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    parts = time_split(data.frame, cfg, data.end)
    split_info = {
        n: {"start": str(p["ts"].min()), "end": str(p["ts"].max()), "rows": len(p)}
        for n, p in parts.items()
    }
    say("split: " + ", ".join(f"{n} {s['rows']:,}" for n, s in split_info.items()))

    model = RiskModel(params=cfg.lightgbm, calibration=cfg.calibration, seed=cfg.seed)
    model.fit(parts["train"], parts["early_stopping"], parts["calibration"])
    timings["fit_s"] = time.perf_counter() - t0
    say(
        f"trained in {timings['fit_s']:.1f}s (best iterations: "
        + ", ".join(f"{t} {m.best_iteration}" for t, m in model.models_.items())
        + ")"
    )

    test = parts["test"]
    x_test = feature_matrix(test, FEATURE_NAMES)
    predicted = model.predict(x_test)
    metrics: dict[str, dict[str, dict[str, float]]] = {}
    scores_by_target: dict[str, dict[str, np.ndarray]] = {}
    for target in TARGETS:
        y = test[target].to_numpy(int)
        scores = {"model": predicted[target], "baseline": baseline_scores(parts, target)}
        for scorer, columns in REFERENCE_SCORERS.items():
            column = columns[target]
            if column in test.columns and test[column].notna().all():
                scores[scorer] = test[column].to_numpy(float)
        metrics[target] = {name: evaluate(y, s) for name, s in scores.items()}
        uncertainty = ece_uncertainty(y, scores, reference="baseline", seed=cfg.seed)
        for name, extra in uncertainty.items():
            metrics[target][name].update(extra)
        scores_by_target[target] = scores
    verdicts = baseline_verdicts(metrics)
    timings["evaluate_s"] = time.perf_counter() - t0 - timings["fit_s"]

    configure_uri = tracking.configure(tracking_uri)
    experiment_id = tracking.ensure_experiment(cfg.experiment)
    commit = git_commit()
    with (
        mlflow.start_run(experiment_id=experiment_id, run_name=f"train-{data.digest[:8]}") as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        tmpdir = Path(tmp)
        mlflow.set_tags(
            {
                "git_commit": commit,
                "data_digest": data.digest,
                "data_source": data.source,
                "seed": str(cfg.seed),
                "contactgate.stage": "train",
                "simulated": str("oracle" in scores_by_target[TARGETS[0]]),
            }
        )
        mlflow.log_params(_flatten("", cfg.model_dump()))
        mlflow.log_params(
            {
                "data.events": data.events,
                "data.contacts": len(data.frame),
                "data.start": str(data.start),
                "data.end": str(data.end),
                **{f"split.{n}.rows": s["rows"] for n, s in split_info.items()},
                **{
                    f"{t}.calibration_method": m.calibrator.method_
                    for t, m in model.models_.items()
                },
                **{f"{t}.best_iteration": m.best_iteration for t, m in model.models_.items()},
            }
        )
        # data lineage: the features only — numbers never leave the store
        lineage_cols = [*FEATURE_NAMES, *TARGETS]
        for name in ("train", "test"):
            with warnings.catch_warnings():
                # MLflow hints about int columns and ambiguous local sources: neither applies
                # (features are counts by design; the source is a plain file path)
                warnings.simplefilter("ignore", UserWarning)
                ds = mlflow.data.from_pandas(
                    parts[name][lineage_cols].head(10_000), source=data.source,
                    name=f"{name}-{data.digest[:8]}", targets=TARGETS[0],
                )  # fmt: skip
            mlflow.log_input(ds, context=name)
        flat = {}
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
        mlflow.log_metrics(flat)
        mlflow.set_tag("beats_baseline", beats_baseline_tag(verdicts))

        # plots
        t1 = time.perf_counter()
        plot_dir = tmpdir / "plots"
        sample = np.random.default_rng(cfg.seed).choice(
            len(test), min(cfg.shap_sample, len(test)), replace=False
        )
        for target in TARGETS:
            y = test[target].to_numpy(int)
            sc = scores_by_target[target]
            plots.roc_plot(y, sc, target, plot_dir / f"{target}_roc.png")
            plots.pr_plot(y, sc, target, plot_dir / f"{target}_pr.png")
            plots.reliability_plot(y, sc, target, plot_dir / f"{target}_reliability.png")
            plots.lift_plot(y, sc, target, plot_dir / f"{target}_lift.png")
            plots.importance_plot(
                model.importance(target), target, plot_dir / f"{target}_importance.png"
            )
            xs = x_test[np.sort(sample)]
            plots.shap_summary_plot(
                model.contributions(xs, target),
                xs,
                list(FEATURE_NAMES),
                target,
                plot_dir / f"{target}_shap_summary.png",
            )
        mlflow.log_artifacts(str(plot_dir), artifact_path="plots")
        timings["plots_s"] = time.perf_counter() - t1

        card = model_card.render(
            model_name=cfg.model_name,
            run_id=run.info.run_id,
            data={
                "source": Path(data.source).name,
                "events": data.events,
                "contacts": len(data.frame),
                "digest": data.digest,
                "start": data.start,
                "end": data.end,
            },
            split=split_info,
            metrics=metrics,
            calibration={t: m.calibrator.method_ for t, m in model.models_.items()},
            feature_names=list(FEATURE_NAMES),
            git_commit=commit,
            seed=cfg.seed,
        )
        mlflow.log_text(card, "model_card.md")
        mlflow.log_dict(metrics, "evaluation/metrics.json")
        mlflow.log_dict(verdicts, "evaluation/vs_baseline.json")
        mlflow.log_dict(split_info, "evaluation/split.json")
        # the out-of-time slice for champion/challenger: features, labels, oracle and ceiling. No numbers
        # and no event ids either (an operator's ids may embed a number).
        keep = [
            "ts",
            *FEATURE_NAMES,
            *TARGETS,
            *[c for c in ORACLE_COLUMNS.values() if c in test.columns],
            *[c for c in CEILING_COLUMNS.values() if c in test.columns],
        ]
        test_path = tmpdir / "test_frame.parquet"
        test[keep].to_parquet(test_path, index=False)
        mlflow.log_artifact(str(test_path), artifact_path="evaluation")

        # the bundle, registered
        t2 = time.perf_counter()
        bundle_dir = model.save(tmpdir / "bundle")
        example = test[list(FEATURE_NAMES)].head(5).astype("float64")
        out_example = pd.DataFrame(
            {
                "p_complaint": predicted["complaint_7d"][:5],
                "p_opt_out": predicted["opt_out_7d"][:5],
                "risk": predicted["risk"][:5],
            }
        )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=tracking.RiskPyfunc(),
            artifacts={"bundle": str(bundle_dir)},
            signature=infer_signature(example, out_example),
            input_example=example,
            pip_requirements=tracking.pip_requirements(),
            registered_model_name=cfg.model_name,
        )
        version = str(info.registered_model_version)
        client = mlflow.MlflowClient()
        client.set_registered_model_alias(cfg.model_name, tracking.CHALLENGER, version)
        client.set_model_version_tag(cfg.model_name, version, "data_digest", data.digest)
        client.set_model_version_tag(cfg.model_name, version, "git_commit", commit)
        timings["log_model_s"] = time.perf_counter() - t2
        mlflow.log_metrics({f"timing.{k}": v for k, v in timings.items()})
        say(
            f"logged run {run.info.run_id} to {configure_uri}; registered {cfg.model_name} v{version} @challenger"
        )
    return TrainResult(run.info.run_id, cfg.model_name, version, metrics, timings)


#: Verdict of the model against the baseline as a logged metric: 1 win, 0 tie, -1 loss.
VERDICT_SCORE = {"win": 1.0, "tie": 0.0, "loss": -1.0}


def baseline_verdicts(
    metrics: dict[str, dict[str, dict[str, float]]],
) -> dict[str, dict[str, str]]:
    """Per target and metric: does the model beat the baseline (win / tie / loss)?
    ECE, Brier and log-loss by the paired bootstrap interval, the rest by value
    (:func:`training.metrics.versus_reference`)."""
    return {
        target: {
            m: versus_reference(by["model"], by["baseline"], m)
            for m in COMPARED_METRICS
            if m in by["model"] and "baseline" in by
        }
        for target, by in metrics.items()
    }


def beats_baseline_tag(verdicts: dict[str, dict[str, str]]) -> str:
    """``all`` when the model wins every metric of every target, else what it does not win."""
    short = [f"{t}.{m}={v}" for t, by in verdicts.items() for m, v in by.items() if v != "win"]
    return "all" if not short else ", ".join(short)


TABLE_SCORERS = ("model", "baseline", "oracle", "observable_ceiling")
TABLE_METRICS = COMPARED_METRICS


def metrics_table(metrics: dict[str, dict[str, dict[str, float]]]):
    """A rich table: model vs baseline, oracle and observable ceiling per target, whether the
    model beats the baseline (win / tie within the noise / loss), and the model's share of
    the oracle's and of the ceiling's ROC-AUC / PR-AUC. Brier, log-loss and ECE get six
    decimals: their gaps are small in absolute terms because the base rates are. Fits 80
    columns (one section per target, no target column)."""
    from rich import box
    from rich.table import Table

    from training.model_card import format_metric

    table = Table(
        title="Out-of-time test: model vs baseline, oracle and observable ceiling",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
    )
    table.add_column("metric", no_wrap=True)
    for scorer in TABLE_SCORERS:
        table.add_column(scorer.replace("observable_", ""), justify="right", no_wrap=True)
        if scorer == "baseline":
            table.add_column("vs", no_wrap=True)  # the model against the baseline
    for reference in RATIO_REFERENCES:
        table.add_column(
            f"/{reference.replace('observable_', '')[:4]}", justify="right", no_wrap=True
        )
    blank = [""] * (len(TABLE_SCORERS) + 1 + len(RATIO_REFERENCES))
    verdicts = baseline_verdicts(metrics)
    for i, (target, by) in enumerate(metrics.items()):
        if i:
            table.add_section()
        table.add_row(f"[bold]{target}[/bold]", *blank)
        for m in TABLE_METRICS:
            row = [m.replace("capture_top", "capt@") + ("%" if "capture" in m else "")]
            for scorer in TABLE_SCORERS:
                v = by.get(scorer, {}).get(m)
                row.append("–" if v is None else format_metric(m, v))
                if scorer == "baseline":
                    row.append(verdicts[target].get(m, ""))
            for reference in RATIO_REFERENCES:
                ratio = (
                    by["model"][m] / by[reference][m]
                    if reference in by and m in RATIO_METRICS
                    else None
                )
                row.append(f"{ratio:.3f}" if ratio else "")
            table.add_row(*row)
        if "ece_ci_low" in by["model"]:
            for label, key in (
                ("ece ci lo", "ece_ci_low"),
                ("ece ci hi", "ece_ci_high"),
                ("ece floor", "ece_noise_floor"),
            ):
                row = [label]
                for scorer in TABLE_SCORERS:
                    v = by.get(scorer, {}).get(key)
                    row.append("–" if v is None else format_metric("ece", v))
                    if scorer == "baseline":
                        row.append("")
                table.add_row(*row, *blank[len(TABLE_SCORERS) + 1 :])
    return table


# --------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--events",
        type=Path,
        help="events file (CSV/Parquet) or a folder with events.* and consent.*",
    )
    src.add_argument(
        "--simulate", type=int, metavar="N", help="simulate N numbers and train on them"
    )
    parser.add_argument("--days", type=int, default=180, help="with --simulate: days of history")
    parser.add_argument(
        "--config", type=Path, help="training config YAML (unknown keys are errors)"
    )
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or models/mlflow.db)",
    )
    parser.add_argument("--seed", type=int, help="override the config seed")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console()
    cfg = load_config(args.config)
    if args.seed is not None:
        cfg = cfg.model_copy(update={"seed": args.seed})
    t0 = time.perf_counter()
    if args.simulate:
        from features.simulate import simulate_to_dir

        out = GENERATED_DIR / f"train-sim-{args.simulate}-{args.days}-{cfg.seed}"
        console.print(f"simulating {args.simulate:,} numbers × {args.days} days → {out}")
        simulate_to_dir(out, numbers=args.simulate, days=args.days, seed=cfg.seed)
        source = out
    else:
        source = args.events
    console.print(f"building the training frame from {source}")
    data = load_training_data(source)
    console.print(
        f"{data.events:,} events → {len(data.frame):,} contacts in {time.perf_counter() - t0:.1f}s"
    )
    result = train(data, cfg, args.tracking_uri, console)
    console.print(metrics_table(result.metrics))
    console.print(
        f"total {time.perf_counter() - t0:.1f}s. Next: contactgate promote  (then 'make ui' to inspect)"
    )
    (GENERATED_DIR / "last_train.json").parent.mkdir(parents=True, exist_ok=True)
    (GENERATED_DIR / "last_train.json").write_text(
        json.dumps({"run_id": result.run_id, "version": result.version})
    )
    return 0
