"""LightGBM's single-row C path (training.fast_predict) agrees with ``Booster.predict``."""

from __future__ import annotations

import pickle

import lightgbm as lgb
import numpy as np
import pytest

from training.fast_predict import SingleRowPredictor


@pytest.fixture(scope="module")
def booster() -> lgb.Booster:
    """A small real booster with a categorical column and missing values."""
    rng = np.random.default_rng(3)
    n = 4000
    x = rng.normal(size=(n, 5))
    x[:, 4] = rng.integers(0, 6, n)  # categorical codes
    x[rng.random((n, 5)) < 0.1] = np.nan
    logit = 0.8 * np.nan_to_num(x[:, 0]) - 0.5 * np.nan_to_num(x[:, 1]) + (x[:, 4] == 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    data = lgb.Dataset(x, y, categorical_feature=[4], free_raw_data=False)
    params = {"objective": "binary", "num_leaves": 7, "verbose": -1, "seed": 1}
    return lgb.train(params, data, num_boost_round=40)


@pytest.mark.parametrize("iterations", [40, 12])
def test_single_rows_score_as_booster_predict(booster: lgb.Booster, iterations: int) -> None:
    rng = np.random.default_rng(iterations)
    rows = rng.normal(size=(300, 5))
    rows[:, 4] = rng.integers(-1, 8, 300)  # includes unseen categories
    rows[rng.random((300, 5)) < 0.2] = np.nan
    fast = SingleRowPredictor(booster, iterations)
    expected = booster.predict(rows, num_iteration=iterations)
    got = np.array([fast.predict(row) for row in rows])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert len(np.unique(got)) > 20  # the rows really differ


def test_a_row_of_the_wrong_width_is_refused_and_the_predictor_travels(
    booster: lgb.Booster,
) -> None:
    fast = SingleRowPredictor(booster, 12)
    with pytest.raises(ValueError, match="expected 5 features"):
        fast.predict(np.zeros(4))
    row = np.array([0.3, -1.0, np.nan, 2.0, 2.0])
    copy = pickle.loads(pickle.dumps(fast))
    assert (
        copy.predict(row) == fast.predict(row) == booster.predict(row[None, :], num_iteration=12)[0]
    )
