"""No leakage: the default model is trained strictly before T0; a registered version whose
training data reaches T0 is refused (its run's ``data.end``), one trained before is used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.backtest import (
    LeakageError,
    check_training_end,
    events_before,
    load_history,
    registered_model,
    train_before,
)
from tests.serving.backtest.conftest import T0


def test_training_end_at_or_after_t0_is_refused():
    with pytest.raises(LeakageError, match="at or after --from"):
        check_training_end("2026-03-01T00:00:00+00:00", T0, "model m version 1")
    with pytest.raises(LeakageError, match="reaches 2026-03-05"):
        check_training_end("2026-03-05 10:00:00+00:00", T0, "model m version 1")
    with pytest.raises(LeakageError, match="no data.end"):
        check_training_end(None, T0, "model m version 1")
    got = check_training_end("2026-02-28 23:59:59+00:00", T0, "model m version 1")
    assert got == pd.Timestamp("2026-02-28T23:59:59Z")


def test_events_before_cut_the_consent_ledger_as_it_stood(sim_history_dir):
    history = load_history(sim_history_dir)
    events, consent = events_before(history, T0)
    assert events["ts"].max() < pd.Timestamp(T0)
    assert len(events) == int((history.events["ts"] < pd.Timestamp(T0)).sum())
    assert (consent["granted_at"] < pd.Timestamp(T0)).all()
    assert not (consent["revoked_at"] >= pd.Timestamp(T0)).any()
    assert (history.consent["revoked_at"] >= pd.Timestamp(T0)).any()  # the cut mattered


def test_default_model_sees_nothing_at_or_after_t0(sim_history_dir, quick_config):
    """Trained on the full history or on a copy cut at T0, the model is the same: nothing
    at or after T0 reaches it."""
    history = load_history(sim_history_dir)
    full = train_before(history, T0, quick_config)
    assert full.data_end < pd.Timestamp(T0)
    cut = load_history(sim_history_dir)
    cut.events, cut.consent = events_before(history, T0)
    # later events, scrambled, must change nothing either
    later = history.events[history.events["ts"] >= pd.Timestamp(T0)].copy()
    later["kind"] = "complaint"
    cut_plus = load_history(sim_history_dir)
    cut_plus.events = pd.concat([cut.events, later], ignore_index=True)
    cut_plus.consent = cut.consent
    again = train_before(cut, T0, quick_config)
    scrambled = train_before(cut_plus, T0, quick_config)
    from features.definitions import FEATURE_NAMES
    from features.pointintime import build_training_frame
    from training.model import feature_matrix

    frame = build_training_frame(history.events.head(5000), history.consent)
    x = feature_matrix(frame, FEATURE_NAMES)
    for other in (again, scrambled):
        for target in ("complaint_7d", "opt_out_7d"):
            np.testing.assert_array_equal(
                full.model.predict(x)[target], other.model.predict(x)[target]
            )
    assert full.rows == again.rows == scrambled.rows


@pytest.fixture(scope="module")
def registered(sim_history_dir, quick_config, tmp_path_factory):
    """A real `contactgate train` run on the whole small history (it ends after T0),
    registered in a temp MLflow store."""
    from training.data import load_training_data
    from training.train import train

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    data = load_training_data(sim_history_dir, progress=False)
    result = train(data, quick_config, uri, allow_small=True)
    return uri, result.version, data.end


def test_registered_version_trained_past_t0_is_refused(registered):
    uri, version, data_end = registered
    assert data_end >= pd.Timestamp(T0)
    with pytest.raises(LeakageError, match="at or after --from"):
        registered_model("contact-risk", version, T0, uri)
    # an instant equal to its last event is refused too (the data reaches it)
    with pytest.raises(LeakageError):
        registered_model("contact-risk", version, data_end.to_pydatetime(), uri)


def test_registered_version_trained_before_t0_is_used(registered):
    uri, version, data_end = registered
    later = (data_end + pd.Timedelta(seconds=1)).to_pydatetime()
    got = registered_model("contact-risk", version, later, uri)
    assert got.source == "registered" and got.version == version
    assert got.data_end == data_end
    assert got.data_digest
    x = np.zeros((2, len(got.model.feature_names)))
    assert got.model.predict(x)["risk"].shape == (2,)


def test_unknown_version_is_an_error(registered):
    uri, _, _ = registered
    with pytest.raises(ValueError, match="not found"):
        registered_model("contact-risk", "999", T0, uri)
