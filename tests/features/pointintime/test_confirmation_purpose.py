"""An opt-out confirmation in the features: scored as a service text without changing the
purpose vocabulary (so every model bundle stays valid), and never a marketing contact."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from features.definitions import (
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    encode_categorical,
    feature_set_description,
)
from features.pointintime import build_training_frame, features_of_records
from features.schema import Event

NUMBER = "+12125550191"  # fictional 555-01xx
T = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


def test_the_purpose_vocabulary_is_unchanged_and_a_confirmation_reads_as_service() -> None:
    assert FEATURES_BY_NAME["purpose"].vocabulary == ("marketing", "service")
    described = {f["name"]: f for f in feature_set_description()["features"]}
    assert described["purpose"]["vocabulary"] == ["marketing", "service"]
    codes = encode_categorical("purpose", pd.Series(["opt_out_confirmation", "service", "x"]))
    assert codes.tolist() == [1, 1, 2]


def _event(i: int, hours: float, **fields: object) -> Event:
    return Event(event_id=f"e{i}", number=NUMBER, ts=T + dt.timedelta(hours=hours), **fields)


def test_a_confirmation_is_scored_as_a_service_text_and_not_counted_as_marketing() -> None:
    history = [
        _event(1, 0, kind="contact", channel="sms", purpose="marketing"),
        _event(2, 1, kind="reply", text="STOP"),
        _event(3, 1.01, kind="contact", channel="sms", purpose="opt_out_confirmation"),
    ]
    later = T + dt.timedelta(hours=3)

    def candidate(purpose: str) -> dict[str, float]:
        row = type("C", (), {"channel": "sms", "at": later, "purpose": purpose, "dial_mode": None,
                             "subject": None, "campaign_id": None})()  # fmt: skip
        columns = features_of_records([NUMBER], [row], {NUMBER: history})
        return {name: float(columns[name][0]) for name in FEATURE_NAMES}

    confirmation, service = candidate("opt_out_confirmation"), candidate("service")
    np.testing.assert_equal(confirmation, service)  # NaN equals NaN here
    assert confirmation["contacts_1d"] == 2 and confirmation["marketing_contacts_1d"] == 1

    frame = build_training_frame(pd.DataFrame([e.model_dump() for e in history]))
    by_id = frame.set_index("event_id")
    assert by_id.loc["e3", "purpose"] == 1  # the service code
    assert by_id.loc["e3", "marketing_contacts_1d"] == 1  # the marketing text before it
