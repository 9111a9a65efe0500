"""A small simulated history and a quick training configuration for the backtest tests."""

from __future__ import annotations

import datetime as dt
import os

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

#: The window of the small history (2026-01-01 + 80 days ends 2026-03-22).
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 3, 22, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def sim_history_dir(tmp_path_factory):
    from features.simulate import simulate_to_dir

    out = tmp_path_factory.mktemp("backtest-sim")
    simulate_to_dir(out, numbers=4000, days=80, seed=5, progress=False)
    return out


@pytest.fixture(scope="session")
def quick_config():
    from training.config import TrainConfig

    return TrainConfig.model_validate(
        {
            "seed": 3,
            "shap_sample": 100,
            "min_positives": 2,  # a small history: a few complaints per slice
            "experiment": "contactgate-tests",
            "split": {
                "train": 0.45,
                "early_stopping": 0.15,
                "calibration": 0.2,
                "test": 0.2,
                "warmup_days": 10,
            },
            "lightgbm": {
                "num_boost_round": 40,
                "min_child_samples": 40,
                "max_depth": 3,
                "num_leaves": 7,
                "num_threads": 1,
            },
        }
    )
