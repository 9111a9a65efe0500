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
from training.config import TrainConfig, load_config
from training.data import (
    SplitPlan,
    TrainingData,
    check_positives,
    load_training_data,
    plan_split,
    scaled_lightgbm,
)
from training.evaluate import (
    RATIO_METRICS,
    RATIO_REFERENCES,
    baseline_verdicts,
    beats_baseline_tag,
    flat_metrics,
    interval_text,
    score_test,
)
from training.frame_data import describe_sampling, load_frame_data
from training.metrics import COMPARED_METRICS


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
    data: TrainingData,
    cfg: TrainConfig,
    tracking_uri: str | None = None,
    console=None,
    *,
    allow_small: bool = False,
) -> TrainResult:
    """Train, evaluate, log and register. Returns the new version (alias ``challenger``).

    Stops before fitting (:class:`training.data.TooFewPositives`) when a slice holds fewer
    than ``cfg.min_positives`` positives of a target, unless ``allow_small``."""
    import mlflow
    from mlflow.models import infer_signature

    from training import model_card, plots, tracking
    from training.model import RiskModel, feature_matrix

    say = console.print if console else print
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    if data.parts is not None and data.plan is not None:  # a frame dataset, split as read
        parts, plan = data.parts, data.plan
    else:
        parts, plan = plan_split(data.frame, cfg, data.end)
    split_info = plan.slices
    for line in plan.describe():
        say(line)
    sampling = {"negative_rate": 1.0, **data.sampling}
    if data.sampling:
        say("sampling: " + describe_sampling(data.sampling, plan.slices))
    warnings_small = check_positives(plan, cfg.min_positives, allow_small=allow_small)
    for line in warnings_small:
        say(line)
    cfg, scaled = scaled_lightgbm(cfg, len(parts["train"]))
    for line in scaled:
        say(f"model: {line}")

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
    metrics, scores_by_target = score_test(parts, predicted, cfg.seed)
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
                "data.contacts": data.contact_count,
                **{f"data.sampling.{k}": v for k, v in sampling.items()},
                "data.start": str(data.start),
                "data.end": str(data.end),
                "split.warmup_days_used": plan.warmup_days,
                "allow_small": allow_small,
                **{f"split.{n}.rows": s["rows"] for n, s in split_info.items()},
                **{
                    f"split.{n}.{t}.positives": k
                    for n, s in split_info.items()
                    for t, k in s["positives"].items()
                },
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
                mlflow.log_input(ds, context=name)  # the schema is inferred here
        flat = flat_metrics(metrics, verdicts)
        mlflow.log_metrics(flat)
        mlflow.set_tag("beats_baseline", beats_baseline_tag(verdicts))
        mlflow.set_tag(
            "mlflow.note.content",
            run_summary(
                data, plan, metrics, verdicts, warnings_small + [f"model: {x}" for x in scaled]
            ),
        )

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
                "contacts": data.contact_count,
                "digest": data.digest,
                "sampling": describe_sampling(data.sampling, split_info)
                if data.sampling
                else "none (every contact of every slice)",
                "start": data.start,
                "end": data.end,
            },
            split=split_info,
            plan=plan.describe(),
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
            python_model=tracking.pyfunc_entry(),
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


TABLE_SCORERS = ("model", "baseline", "oracle", "observable_ceiling")
TABLE_METRICS = COMPARED_METRICS


def metrics_table(metrics: dict[str, dict[str, dict[str, float]]]):
    """A rich table: model vs baseline (and, on simulated data, the oracle and the observable
    ceiling) per target, whether the model beats the baseline (win / tie within the noise /
    loss, by the paired bootstrap interval), and the model's share of the oracle's and of the
    ceiling's ROC-AUC / PR-AUC. Columns of scorers absent from the data are left out. Brier,
    log-loss and ECE get six decimals: their gaps are small in absolute terms because the base
    rates are. Fits 80 columns (one section per target, no target column)."""
    from rich import box
    from rich.table import Table

    from training.model_card import format_metric

    present = [s for s in TABLE_SCORERS if any(s in by for by in metrics.values())]
    references = [r for r in RATIO_REFERENCES if r in present]
    title = "Out-of-time test: model vs " + ", ".join(
        s.replace("_", " ") for s in present if s != "model"
    )
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("metric", no_wrap=True)
    for scorer in present:
        table.add_column(scorer.replace("observable_", ""), justify="right", no_wrap=True)
        if scorer == "baseline":
            table.add_column("vs", no_wrap=True)  # the model against the baseline
    for reference in references:
        table.add_column(
            f"/{reference.replace('observable_', '')[:4]}", justify="right", no_wrap=True
        )
    width = len(present) + ("baseline" in present) + len(references)
    blank = [""] * width
    verdicts = baseline_verdicts(metrics)
    for i, (target, by) in enumerate(metrics.items()):
        if i:
            table.add_section()
        table.add_row(f"[bold]{target}[/bold]", *blank)
        for m in TABLE_METRICS:
            row = [m.replace("capture_top", "capt@") + ("%" if "capture" in m else "")]
            for scorer in present:
                v = by.get(scorer, {}).get(m)
                row.append("–" if v is None else format_metric(m, v))
                if scorer == "baseline":
                    row.append(verdicts[target].get(m, ""))
            for reference in references:
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
                for scorer in present:
                    v = by.get(scorer, {}).get(key)
                    row.append("–" if v is None else format_metric("ece", v))
                    if scorer == "baseline":
                        row.append("")
                table.add_row(*row, *blank[len(row) - 1 :])
    return table


def intervals_table(metrics: dict[str, dict[str, dict[str, float]]]):
    """The verdicts and what they rest on: model − baseline with its paired 95 % bootstrap
    interval, per target and metric; a win needs the interval on the better side of zero.
    Fits 80 columns."""
    from rich import box
    from rich.table import Table

    verdicts = baseline_verdicts(metrics)
    table = Table(
        title="Model − baseline, paired bootstrap 95 % interval", box=box.SIMPLE_HEAD,
        pad_edge=False,
    )  # fmt: skip
    for name in ("metric", "vs", "model − baseline", "interval"):
        table.add_column(
            name, no_wrap=True, justify="left" if name != "model − baseline" else "right"
        )
    for i, (target, by) in enumerate(metrics.items()):
        if i:
            table.add_section()
        table.add_row(f"[bold]{target}[/bold]", "", "", "")
        for m in TABLE_METRICS:
            text = interval_text(by, m)
            diff, _, interval = text.partition(" ")
            table.add_row(
                m.replace("capture_top", "capt@") + ("%" if "capture" in m else ""),
                verdicts[target].get(m, "–"),
                diff or "–",
                interval or "–",
            )
    return table


def run_summary(
    data: TrainingData,
    plan: SplitPlan,
    metrics: dict[str, dict[str, dict[str, float]]],
    verdicts: dict[str, dict[str, str]],
    notes: list[str],
) -> str:
    """The run's description in MLflow: what a reviewer reads first (data, split, positives,
    verdicts with intervals; the promotion decision is added by ``promote``)."""
    lines = [
        f"Data: {Path(data.source).name}, {data.events:,} events, {data.contact_count:,} contacts, "
        f"{data.start:%Y-%m-%d} → {data.end:%Y-%m-%d}.",
        "",
        *plan.describe(),
        *notes,
        "",
        "Verdicts against the baseline (model − baseline, paired bootstrap 95 %):",
    ]
    for target, by in metrics.items():
        for m in ("roc_auc", "pr_auc", "brier", "ece"):
            model = by["model"]
            ci = ""
            if f"{m}_ci_low" in model:
                ci = f" [{model[f'{m}_ci_low']:.3f}, {model[f'{m}_ci_high']:.3f}]"
            lines.append(
                f"- {target} {m}: {verdicts[target].get(m, '–')} — model "
                f"{model.get(m, float('nan')):.4f}{ci}, difference {interval_text(by, m)}"
            )
    lines += [
        "",
        "Promotion: not decided yet (run `contactgate promote`).",
    ]  # promote.PROMOTION_LINE
    return "\n".join(lines)


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
    src.add_argument(
        "--frame",
        help="a training frame written by contactgate features: FILE.parquet or a dataset "
        "folder (either engine; any fsspec URL), read in batches — larger than memory is fine",
    )
    parser.add_argument(
        "--negative-sample-rate",
        type=float,
        metavar="R",
        help="with --frame: keep this share of the negatives of the train and early-stopping "
        "slices, weighted 1/R (default: sampling.negative_rate of the config, else what fits "
        "sampling.max_train_rows); calibration and test are never down-sampled",
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
    parser.add_argument(
        "--allow-small",
        action="store_true",
        help="train even when a slice holds fewer positives than min_positives (noisy)",
    )
    from features.options import add_loading_arguments

    add_loading_arguments(parser)
    from serving.cli.options import add_no_progress

    add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(soft_wrap=True)
    cfg = load_config(args.config)
    if args.seed is not None:
        cfg = cfg.model_copy(update={"seed": args.seed})
    t0 = time.perf_counter()
    if args.negative_sample_rate is not None:
        if not 0 < args.negative_sample_rate <= 1:
            raise ValueError(f"--negative-sample-rate {args.negative_sample_rate}: give 0 < R ≤ 1")
        sampling = cfg.sampling.model_copy(update={"negative_rate": args.negative_sample_rate})
        cfg = cfg.model_copy(update={"sampling": sampling})
    if args.frame:
        console.print(f"reading the training frame {args.frame}")
        data = load_frame_data(args.frame, cfg, progress=not args.no_progress)
        console.print(f"{data.contact_count:,} contacts in {time.perf_counter() - t0:.1f}s")
        return _train_and_report(args, cfg, data, console, t0)
    if args.simulate:
        from features.simulate import simulate_to_dir

        out = GENERATED_DIR / f"train-sim-{args.simulate}-{args.days}-{cfg.seed}"
        console.print(f"simulating {args.simulate:,} numbers × {args.days} days → {out}")
        simulate_to_dir(
            out, numbers=args.simulate, days=args.days, seed=cfg.seed, progress=not args.no_progress
        )
        source = out
    else:
        source = args.events
    console.print(f"building the training frame from {source}")
    data = load_training_data(
        source,
        default_region=args.default_region,
        skip_invalid=args.skip_invalid,
        strict=args.strict,
        rejects_dir=GENERATED_DIR / "rejects",
        progress=not args.no_progress,
    )
    for line in data.report:
        console.print(line, markup=False)
    console.print(
        f"{data.events:,} events → {len(data.frame):,} contacts in {time.perf_counter() - t0:.1f}s"
    )
    return _train_and_report(args, cfg, data, console, t0)


def _train_and_report(args, cfg: TrainConfig, data: TrainingData, console, t0: float) -> int:
    from training.tracking import promote_command
    from training.tracking import tracking_uri as mlflow_uri

    result = train(data, cfg, args.tracking_uri, console, allow_small=args.allow_small)
    console.print(metrics_table(result.metrics))
    console.print(intervals_table(result.metrics))
    console.print(
        f"total {time.perf_counter() - t0:.1f}s. Next (then 'make ui' to inspect):\n"
        + promote_command(cfg.model_name, mlflow_uri(), args.config),
        markup=False,
    )
    (GENERATED_DIR / "last_train.json").parent.mkdir(parents=True, exist_ok=True)
    (GENERATED_DIR / "last_train.json").write_text(
        json.dumps({"run_id": result.run_id, "version": result.version})
    )
    return 0
