"""Feature definitions: fixed vocabularies give codes that never depend on the batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.definitions import (
    CATEGORICAL_FEATURES,
    FEATURE_NAMES,
    FEATURES,
    FEATURES_BY_NAME,
    ORACLE_COLUMNS,
    TARGETS,
    FeatureDef,
    encode_categorical,
    missing_code,
    monotone_constraints,
    unknown_code,
)
from features.pointintime import build_training_frame


def test_codes_are_stable_across_batches_unknown_and_missing_have_their_own() -> None:
    first = encode_categorical("dial_mode", pd.Series(["predictive", "manual"]))
    second = encode_categorical(
        "dial_mode", pd.Series(["robocall", None, "manual", "prerecorded", "predictive"])
    )
    vocabulary = FEATURES_BY_NAME["dial_mode"].vocabulary
    assert vocabulary is not None
    assert first.tolist() == [vocabulary.index("predictive"), vocabulary.index("manual")]
    assert second.tolist() == [
        unknown_code("dial_mode"),
        missing_code("dial_mode"),
        vocabulary.index("manual"),
        vocabulary.index("prerecorded"),
        vocabulary.index("predictive"),
    ]
    assert unknown_code("dial_mode") == len(vocabulary)
    assert missing_code("dial_mode") == len(vocabulary) + 1
    assert pd.api.types.is_integer_dtype(second.dtype)


@pytest.mark.parametrize("name", CATEGORICAL_FEATURES)
def test_every_vocabulary_value_keeps_its_position_whatever_the_batch(name: str) -> None:
    vocabulary = FEATURES_BY_NAME[name].vocabulary
    assert vocabulary is not None and len(set(vocabulary)) == len(vocabulary)
    shuffled = list(reversed(vocabulary))
    codes = encode_categorical(name, pd.Series(shuffled, dtype="str"))
    assert codes.tolist() == [vocabulary.index(v) for v in shuffled]
    alone = [int(encode_categorical(name, pd.Series([v]))[0]) for v in vocabulary]
    assert alone == list(range(len(vocabulary)))


def test_training_frames_of_different_batches_agree_on_codes() -> None:
    """A batch with only SMS and a batch with both channels give SMS the same code."""
    t = pd.Timestamp("2026-02-02 15:00", tz="UTC")

    def batch(channels: list[str], numbers: list[str]) -> pd.DataFrame:
        frame = pd.DataFrame(
            {
                "event_id": [f"b{i}" for i in range(len(channels))],
                "number": numbers,
                "ts": [t] * len(channels),
                "kind": ["contact"] * len(channels),
                "channel": channels,
            }
        )
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        return build_training_frame(frame)

    only_sms = batch(["sms"], ["+441212345678"])
    both = batch(["call", "sms"], ["+12015550123", "+441212345678"])
    assert only_sms["channel"].iloc[0] == both["channel"].iloc[1]
    assert only_sms["region"].iloc[0] == both["region"].iloc[1]
    assert only_sms["region"].iloc[0] != both["region"].iloc[0]
    assert only_sms["line_type"].iloc[0] == both["line_type"].iloc[1]


def test_definitions_are_complete_and_consistent() -> None:
    names = [f.name for f in FEATURES]
    assert len(names) == len(set(names)) == len(FEATURE_NAMES)
    core = {
        "contacts_1d",
        "contacts_7d",
        "contacts_30d",
        "contacts_90d",
        "complaints_90d",
        "complaints_ever",
        "opt_outs_ever",
        "unanswered_streak",
        "hours_since_last_contact",
    }
    assert core <= set(names)
    for f in FEATURES:
        assert f.description and f.monotone in (0, 1)
        assert np.dtype(f.dtype).kind in "iuf", f.name
    assert TARGETS == ("complaint_7d", "opt_out_7d")
    assert set(ORACLE_COLUMNS) == set(TARGETS)


def test_monotone_directions_where_risk_must_not_fall() -> None:
    rising = [
        "contacts_7d",
        "call_contacts_1d",
        "complaints_ever",
        "opt_outs_90d",
        "refusals_ever",
        "unanswered_streak",
        "night_share",
        "short_hangups_30d",
    ]
    assert monotone_constraints(rising) == [1] * len(rising)
    free = ["hours_since_last_contact", "answer_rate_30d", "channel", "local_hour"]
    assert monotone_constraints(free) == [0] * len(free)
    assert monotone_constraints(["complaints_ever", "local_hour"]) == [1, 0]
    with pytest.raises(KeyError):
        monotone_constraints(["not_a_feature"])


def test_feature_def_rejects_inconsistent_declarations() -> None:
    with pytest.raises(ValueError):
        FeatureDef("x", "int32", "bad direction", monotone=-1)
    with pytest.raises(ValueError):
        FeatureDef("y", "int16", "categorical without vocabulary", categorical=True)
    with pytest.raises(KeyError):
        encode_categorical("contacts_7d", pd.Series(["a"]))
