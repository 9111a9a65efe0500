"""The subject a contact is about: one default (features.schema.subject_of) for rules and
features, empty text read as no subject on both the frame and the records path."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pandas as pd
import pytest

from features.pointintime import build_training_frame, features_of_records
from features.schema import subject_of

NUMBER = "+12015550123"  # libphonenumber's US example number
T = dt.datetime(2026, 3, 10, 14, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("subject", "campaign", "expected"),
    [
        ("loans", "c1", "loans"),
        (None, "c1", "c1"),
        ("", "c1", "c1"),
        ("", "", "default"),
        (None, None, "default"),
    ],
)
def test_subject_of(subject: str | None, campaign: str | None, expected: str) -> None:
    assert subject_of(subject, campaign) == expected


def test_an_empty_subject_is_the_campaign_on_both_paths() -> None:
    rows = [
        {"subject": "c1", "campaign_id": None},  # about "c1"
        {"subject": "", "campaign_id": "c1"},  # no subject: its campaign, "c1"
        {"subject": "", "campaign_id": None},  # "default"
        {"subject": None, "campaign_id": None},  # "default"
    ]
    frame = pd.DataFrame(
        [
            {
                "event_id": f"e{i}",
                "number": NUMBER,
                "ts": T + dt.timedelta(hours=i),
                "kind": "contact",
                "channel": "sms",
                **row,
            }
            for i, row in enumerate(rows)
        ]  # fmt: skip
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    built = build_training_frame(frame)
    assert built["same_subject_contacts_1d"].tolist() == [0, 1, 0, 1]

    history = [
        SimpleNamespace(
            ts=T + dt.timedelta(hours=i),
            kind="contact",
            channel="sms",
            purpose=None,
            dial_mode=None,
            outcome=None,
            duration_s=None,
            text=None,
            **row,
        )  # fmt: skip
        for i, row in enumerate(rows)
    ]
    candidates = [
        SimpleNamespace(
            channel="sms",
            at=T + dt.timedelta(hours=5),
            purpose=None,
            dial_mode=None,
            subject=subject,
            campaign_id=campaign,
        )  # fmt: skip
        for subject, campaign in (("", "c1"), ("", ""), ("loans", None))
    ]
    got = features_of_records([NUMBER] * 3, candidates, {NUMBER: history})
    assert got["same_subject_contacts_1d"].tolist() == [2, 2, 0]
