"""Shared training fixtures: one small simulated history, one trained bundle, temp MLflow stores.

MLflow's SQLite store is migrated once per session and copied per test (parallel
writers and repeated migrations are slow and can lock).
"""

from __future__ import annotations

import os
import shutil

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@pytest.fixture(scope="session")
def sim_dir(tmp_path_factory):
    from features.simulate import simulate_to_dir

    out = tmp_path_factory.mktemp("sim")
    simulate_to_dir(out, numbers=12_000, days=150, seed=11, progress=False)
    return out


@pytest.fixture(scope="session")
def training_data(sim_dir):
    from training.data import load_training_data

    return load_training_data(sim_dir, progress=False)


@pytest.fixture(scope="session")
def small_config():
    from training.config import TrainConfig

    return TrainConfig.model_validate(
        {
            "seed": 3,
            "shap_sample": 300,
            # depth 6 here: on this small simulation a depth-2 complaint model stops after
            # ~15 rounds without a split on complaint history, and the directional tests
            # need a model that has learnt it (the default's depth 2 does on full data)
            "lightgbm": {
                "num_boost_round": 200,
                "min_child_samples": 50,
                "max_depth": 6,
                "learning_rate": 0.08,
                "early_stopping_rounds": 40,
            },
        }
    )


@pytest.fixture(scope="session")
def split(training_data, small_config):
    from training.data import time_split

    return time_split(training_data.frame, small_config, training_data.end)


@pytest.fixture(scope="session")
def fitted(split, small_config):
    from training.model import RiskModel

    return RiskModel(params=small_config.lightgbm, seed=small_config.seed).fit(
        split["train"], split["early_stopping"], split["calibration"]
    )


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory):
    import mlflow

    d = tmp_path_factory.mktemp("mlflow-template")
    uri = f"sqlite:///{d / 'mlflow.db'}"
    mlflow.MlflowClient(tracking_uri=uri).search_experiments()  # runs the migrations once
    return d / "mlflow.db"


@pytest.fixture
def mlflow_uri(tmp_path, _mlflow_template):
    db = tmp_path / "mlflow.db"
    shutil.copy(_mlflow_template, db)
    return f"sqlite:///{db}"
