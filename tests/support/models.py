"""One small, really trained risk model in a temp MLflow store, built once per test session.

Shared by the serving tests (decision pipeline, in-process service, batch) and the
end-to-end tests: a simulated history → the real training frame → :class:`RiskModel` fitted
with few shallow trees → logged and registered with MLflow exactly as ``contactgate train``
does (pyfunc wrapper holding the bundle) → alias ``champion``. Plots and model cards are
skipped: they are the training issue's concern and cost most of its time.

Test modules use :func:`champion_store` (cached per process), so the model is trained once
even when several modules ask for it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MODEL_NAME = "contact-risk"


@dataclass(frozen=True)
class ChampionStore:
    """Where the trained test model lives."""

    tracking_uri: str
    directory: Path
    version: str
    sim_dir: Path  # simulated events (+ consent) the model was trained on


_BUILT: ChampionStore | None = None


def champion_store() -> ChampionStore:
    """Train (once per process) and return the temp MLflow store holding ``champion``."""
    global _BUILT
    if _BUILT is None:
        root = Path(tempfile.mkdtemp(prefix="contactgate-model-"))
        atexit.register(shutil.rmtree, root, True)
        _BUILT = _train_into(root)
    return _BUILT


def _train_into(root: Path) -> ChampionStore:
    import mlflow
    from mlflow.models import infer_signature

    from features.definitions import FEATURE_NAMES
    from features.simulate import simulate_to_dir
    from training import tracking
    from training.config import TrainConfig
    from training.data import load_training_data, time_split
    from training.model import RiskModel

    sim_dir = root / "sim"
    simulate_to_dir(sim_dir, numbers=4000, days=100, seed=5, progress=False)
    data = load_training_data(sim_dir, progress=False)
    cfg = TrainConfig.model_validate(
        {
            "seed": 3,
            # complaints are rare (~0.3 % of contacts): a wide calibration slice keeps
            # both classes in it for the calibrator
            "split": {
                "train": 0.5,
                "early_stopping": 0.15,
                "calibration": 0.25,
                "test": 0.1,
                "warmup_days": 20,
            },
            "lightgbm": {
                "num_boost_round": 40,
                "min_child_samples": 40,
                "max_depth": 4,
                "num_leaves": 15,
                "num_threads": 1,
            },
        }
    )
    parts = time_split(data.frame, cfg, data.end)
    model = RiskModel(params=cfg.lightgbm, seed=cfg.seed).fit(
        parts["train"], parts["early_stopping"], parts["calibration"]
    )
    uri = tracking.configure(f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    experiment = tracking.ensure_experiment("contactgate-tests")
    bundle = model.save(root / "bundle")
    example = parts["test"][list(FEATURE_NAMES)].head(3).astype("float64")
    out = model.predict(example)
    with mlflow.start_run(experiment_id=experiment):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=tracking.pyfunc_entry(),
            artifacts={"bundle": str(bundle)},
            signature=infer_signature(example, {k: v for k, v in out.items()}),
            input_example=example,
            pip_requirements=tracking.pip_requirements(),
            registered_model_name=MODEL_NAME,
        )
    version = str(info.registered_model_version)
    mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, tracking.CHAMPION, version)
    return ChampionStore(uri, root, version, sim_dir)


def champion_store_copy(destination: Path) -> ChampionStore:
    """A private copy of the trained test store, for tests that register versions or move
    aliases (the shared one stays as it is). New runs' artifacts go under ``destination``."""
    built = champion_store()
    shutil.copytree(built.directory / "mlflow", destination / "mlflow")
    shutil.copytree(built.directory / "bundle", destination / "bundle")
    uri = f"sqlite:///{destination / 'mlflow' / 'mlflow.db'}"
    return ChampionStore(uri, destination, built.version, built.sim_dir)


def register_bundle(tracking_uri: str, bundle: Path, experiment: str = "follow") -> str:
    """Log ``bundle`` as a new version of the test model, as ``contactgate train`` does
    (pyfunc wrapper holding the bundle); returns the version. Aliases are left alone."""
    import mlflow

    from training import tracking

    tracking.configure(tracking_uri)
    experiment_id = tracking.ensure_experiment(experiment)
    with mlflow.start_run(experiment_id=experiment_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=tracking.pyfunc_entry(),
            artifacts={"bundle": str(bundle)},
            pip_requirements=tracking.pip_requirements(),
            registered_model_name=MODEL_NAME,
        )
    return str(info.registered_model_version)


def set_champion(tracking_uri: str, version: str) -> None:
    """Move ``champion`` to ``version`` (what ``contactgate promote`` does once it decides)."""
    import mlflow

    from training import tracking

    tracking.configure(tracking_uri)
    mlflow.MlflowClient().set_registered_model_alias(MODEL_NAME, tracking.CHAMPION, version)


def simulated_history(sim_dir: Path, count: int) -> tuple[list[str], list[dict], Any]:
    """The first ``count`` numbers of a simulated history, their events as store records
    (the simulator's truth columns and missing values dropped) and an instant one hour
    after the last event — what the service benchmarks load into a store and screen."""
    import datetime as dt

    import pandas as pd

    events = pd.read_parquet(sim_dir / "events.parquet")
    numbers = events["number"].drop_duplicates().head(count).tolist()
    history = events[events["number"].isin(numbers)].drop(
        columns=[c for c in ("p_complaint_true", "p_opt_out_true") if c in events.columns]
    )
    records = [
        {k: v for k, v in row.items() if not (v is None or (isinstance(v, float) and v != v))}
        for row in history.to_dict("records")
    ]
    return numbers, records, events["ts"].max().to_pydatetime() + dt.timedelta(hours=1)
