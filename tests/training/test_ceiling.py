"""The observable ceiling: the Bayes posterior of the history, so no model of it does better.

``p_*_observable`` (features.simulate) is E[true probability | everything observable before
the contact]. Two consequences are checked on simulated data: it is calibrated against the
oracle in any group of contacts defined by their history (the tower property), and on a
proper scoring rule it beats the trained model, which sees less, while the oracle, which
sees the latent sensitivity, beats it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, log_loss

from features.definitions import CEILING_COLUMNS, FEATURE_NAMES, ORACLE_COLUMNS, TARGETS
from training.model import feature_matrix


def _cluster_z(frame: pd.DataFrame, target: str) -> tuple[float, float]:
    """Mean of (oracle − ceiling) and its z-score, clustered by number (a person's
    contacts share one sensitivity, so they are not independent)."""
    diff = frame[ORACLE_COLUMNS[target]] - frame[CEILING_COLUMNS[target]]
    per_number = diff.groupby(frame["number"].to_numpy()).sum()
    mean = diff.sum() / len(frame)
    se = np.sqrt((per_number**2).sum()) / len(frame)
    return float(mean), float(mean / se)


@pytest.mark.parametrize(
    "group",
    ["everyone", "after_a_complaint", "after_an_opt_out", "after_a_refusal", "long_quiet"],
)
def test_ceiling_matches_the_oracle_in_groups_defined_by_history(training_data, group) -> None:
    frame = training_data.frame
    quiet = (
        (frame["complaints_ever"] == 0)
        & (frame["opt_outs_ever"] == 0)
        & (frame["refusals_ever"] == 0)
        & (frame["contacts_90d"] >= 12)
    )
    masks = {
        "everyone": np.ones(len(frame), dtype=bool),
        "after_a_complaint": frame["complaints_ever"] > 0,
        "after_an_opt_out": frame["opt_outs_ever"] > 0,
        "after_a_refusal": frame["refusals_ever"] > 0,
        "long_quiet": quiet,
    }
    part = frame[np.asarray(masks[group])]
    assert len(part) > 300, group
    for target in TARGETS:
        oracle = part[ORACLE_COLUMNS[target]].mean()
        prior = frame.loc[frame["contacts_90d"] == 0, CEILING_COLUMNS[target]].mean()
        _, z = _cluster_z(part, target)
        assert abs(z) < 4, (group, target, z)
        # the groups are informative: their risk is not that of a first contact
        if group != "everyone":
            assert abs(oracle / prior - 1) > 0.1, (group, target, oracle, prior)


def test_ceiling_scores_between_model_and_oracle(fitted, split) -> None:
    test = split["test"]
    predicted = fitted.predict(feature_matrix(test, FEATURE_NAMES))
    for target in TARGETS:
        y = test[target].to_numpy(int)
        ceiling = test[CEILING_COLUMNS[target]].to_numpy(float)
        oracle = test[ORACLE_COLUMNS[target]].to_numpy(float)
        model = predicted[target]
        for loss in (log_loss, brier_score_loss):
            assert loss(y, oracle) <= loss(y, ceiling) <= loss(y, model), (target, loss.__name__)
