"""Behavioural tests of the trained model (Made-With-ML style): monotonicity, direction,
minimum quality against the baseline. All on real simulated rows."""

from __future__ import annotations

import numpy as np
import pytest

from features.definitions import FEATURE_NAMES, FEATURES, TARGETS
from training.evaluate import baseline_scores
from training.metrics import evaluate
from training.model import feature_matrix

MONOTONE = [f.name for f in FEATURES if f.monotone > 0]


@pytest.mark.parametrize("feature", MONOTONE)
def test_risk_never_falls_as_a_monotone_feature_grows(fitted, split, feature):
    rows = split["test"].sample(200, random_state=1)
    x = feature_matrix(rows, FEATURE_NAMES)
    j = list(FEATURE_NAMES).index(feature)
    observed = split["train"][feature].dropna()
    hi = float(observed.quantile(0.999)) if len(observed) else 1.0
    grid = np.unique(np.concatenate([[0.0], np.linspace(0, max(hi, 1.0) * 1.5, 12)]))
    for target in TARGETS:
        previous = None
        for value in grid:
            xv = x.copy()
            xv[:, j] = value
            p = fitted.models_[target].predict(xv)
            if previous is not None:
                assert np.all(p >= previous - 1e-12), f"{target} fell as {feature} rose to {value}"
            previous = p


def test_more_complaints_means_higher_risk(fitted, split):
    rows = split["test"].sample(500, random_state=2)
    x = feature_matrix(rows, FEATURE_NAMES)
    j = list(FEATURE_NAMES).index("complaints_ever")
    k = list(FEATURE_NAMES).index("complaints_90d")
    calm, angry = x.copy(), x.copy()
    calm[:, [j, k]] = 0
    angry[:, [j, k]] = 3
    risk_calm = fitted.predict(calm)["risk"]
    risk_angry = fitted.predict(angry)["risk"]
    assert np.all(risk_angry >= risk_calm)
    assert risk_angry.mean() > risk_calm.mean()


def test_probabilities_not_labels(fitted, split):
    out = fitted.predict(split["test"].head(1000))
    for target in TARGETS:
        assert ((out[target] > 0) & (out[target] < 1)).all()
        assert len(np.unique(out[target])) > 5


def test_model_clearly_beats_the_contact_count_baseline(fitted, split):
    test = split["test"]
    pred = fitted.predict(test)
    for target in TARGETS:
        y = test[target].to_numpy(int)
        model = evaluate(y, pred[target])
        base = evaluate(y, baseline_scores(split, target))
        assert model["roc_auc"] > base["roc_auc"] + 0.03, (
            target,
            model["roc_auc"],
            base["roc_auc"],
        )
        assert model["pr_auc"] > base["pr_auc"], target
        assert model["ece"] < 0.02, target


def test_bundle_round_trip(fitted, split, tmp_path):
    from training.model import RiskModel

    fitted.save(tmp_path / "bundle")
    back = RiskModel.load(tmp_path / "bundle")
    rows = split["test"].head(300)
    a, b = fitted.predict(rows), back.predict(rows)
    for key in (*TARGETS, "risk"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-9)
