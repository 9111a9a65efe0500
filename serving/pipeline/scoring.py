"""Rules and model for contacts with valid numbers: pure, no I/O.

Online features are the training kernels run on the history the store returned
(``features_of_records``), so training and serving compute a feature one way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from features.definitions import CATEGORICAL_FEATURES, decode_categorical
from serving.domain.contract import Explanation
from serving.domain.decision import Scored
from serving.domain.state import Contact, NumberState, WorldState
from serving.pipeline.protocols import RiskModelLike, RuleBookLike


def _explanations(
    model: RiskModelLike, x: np.ndarray, rows: np.ndarray, k: int
) -> dict[int, list[Explanation]]:
    """Top-``k`` feature contributions per row, from LightGBM ``pred_contrib``.

    The contribution of a feature is its log-odds contribution summed over the two raw
    boosters (complaint and opt-out), i.e. how much it pushes the combined risk up or down
    before calibration. Only the rows asked for are explained: ``pred_contrib`` costs far
    more than a prediction.
    """
    if k <= 0 or len(rows) == 0:
        return {}
    names = list(model.feature_names)
    total = None
    for target in model.models_:
        contrib = model.contributions(x[rows], target)[:, : len(names)]
        total = contrib if total is None else total + contrib
    assert total is not None
    values = x[rows]
    out: dict[int, list[Explanation]] = {}
    for i, row in enumerate(rows):
        top = np.argsort(-np.abs(total[i]), kind="stable")[:k]
        out[int(row)] = [
            _explanation(names[j], values[i, j], round(float(total[i, j]), 6)) for j in top
        ]
    return out


def _explanation(feature: str, value: float, contribution: float) -> Explanation:
    """A categorical feature is explained by its category's name, its code beside it."""
    if np.isnan(value):
        return Explanation(feature=feature, value=None, contribution=contribution)
    if feature in CATEGORICAL_FEATURES:
        code = int(value)
        name = decode_categorical(feature, code)
        return Explanation(feature=feature, value=name, code=code, contribution=contribution)
    return Explanation(feature=feature, value=float(value), contribution=contribution)


@dataclass(frozen=True)
class ModelScores:
    """Calibrated probabilities (and asked-for explanations) of a list of contacts."""

    p_complaint: np.ndarray
    p_opt_out: np.ndarray
    explanations: dict[int, list[Explanation]]


def model_scores(
    contacts: Sequence[Contact],
    states: dict[str, NumberState],
    model: RiskModelLike,
    explain: int = 0,
) -> ModelScores:
    """Online features (the training kernels on the states' history) → calibrated model."""
    from features.pointintime import features_of_records

    columns = features_of_records(
        [c.number.e164 for c in contacts],
        contacts,
        {number: state.history for number, state in states.items()},
        {number: state.consents for number, state in states.items()},
    )
    x = np.empty((len(contacts), len(model.feature_names)), dtype=np.float64)
    for j, name in enumerate(model.feature_names):
        x[:, j] = columns[name]
    predicted = model.predict(x)
    explained = _explanations(model, x, np.arange(len(contacts)), explain)
    return ModelScores(predicted["complaint_7d"], predicted["opt_out_7d"], explained)


def score_contacts(
    contacts: Sequence[Contact],
    states: dict[str, NumberState],
    world: WorldState,
    rulebook: RuleBookLike,
    model: RiskModelLike,
    explain: int = 0,
    scores: ModelScores | None = None,
) -> tuple[list[Scored], list[tuple[str, ...]]]:
    """Rules and model for contacts with valid numbers (pure: no I/O).

    ``scores`` reuses probabilities computed before (``authorize`` scores outside its lock
    and runs only the rules inside). Returns one :class:`Scored` per contact and each
    contact's candidate time zones.
    """
    from serving.rules import evaluate

    if not contacts:
        return [], []
    if scores is None:
        scores = model_scores(contacts, states, model, explain)
    evaluations = [evaluate(c, states[c.number.e164], world, rulebook) for c in contacts]
    p_complaint = np.asarray(scores.p_complaint, dtype=np.float64).tolist()
    p_opt_out = np.asarray(scores.p_opt_out, dtype=np.float64).tolist()
    scored = [
        Scored(
            reasons=list(ev.reasons),
            next_allowed_at=ev.next_allowed_at,
            p_complaint=p_complaint[i],
            p_opt_out=p_opt_out[i],
            explanations=scores.explanations.get(i, []),
        )
        for i, ev in enumerate(evaluations)
    ]
    return scored, [tuple(ev.time_zones) for ev in evaluations]
