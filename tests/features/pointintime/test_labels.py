"""Labels at their boundaries: the 7-day attribution window, the next contact, opt-out replies.

``complaint_7d`` / ``opt_out_7d`` of a contact at ``t``: a complaint / opt-out (an opt-out
reply counts) at ``s`` with ``t <= s < min(t + 7 d, next contact after t)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.pointintime import build_training_frame, label_contacts

NUMBER = "+12015550123"  # libphonenumber's US example number
OTHER = "+15062345678"  # libphonenumber's CA example number
T = pd.Timestamp("2026-03-10 14:00", tz="UTC")


def events(*rows: tuple[pd.Timedelta, str, dict[str, object]]) -> pd.DataFrame:
    """A contact at T, then (offset, kind, fields) rows."""
    records = [{"number": NUMBER, "ts": T, "kind": "contact", "channel": "sms"}]
    for offset, kind, fields in rows:
        records.append({"number": NUMBER, "ts": T + offset, "kind": kind, **fields})
    frame = pd.DataFrame(records)
    frame["event_id"] = [f"e{i}" for i in range(len(frame))]
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def label_of_first(frame: pd.DataFrame, target: str) -> int:
    built = build_training_frame(frame).set_index("event_id")
    return int(built.loc["e0", target])


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (pd.Timedelta(0), 1),  # same instant: not a feature of the contact, so its label
        (pd.Timedelta(days=6, hours=23), 1),
        (pd.Timedelta(days=7) - pd.Timedelta(microseconds=1), 1),
        (pd.Timedelta(days=7), 0),  # [t, t + 7 d): exactly 7 days is outside
        (pd.Timedelta(days=8), 0),
        (-pd.Timedelta(seconds=1), 0),  # before the contact
    ],
)
@pytest.mark.parametrize("kind", ["complaint", "opt_out"])
def test_seven_day_window_boundaries(offset: pd.Timedelta, expected: int, kind: str) -> None:
    frame = events((offset, kind, {}))
    target = "complaint_7d" if kind == "complaint" else "opt_out_7d"
    assert label_of_first(frame, target) == expected
    other = "opt_out_7d" if kind == "complaint" else "complaint_7d"
    assert label_of_first(frame, other) == 0


def test_the_next_contact_cuts_the_window() -> None:
    frame = events(
        (pd.Timedelta(days=2), "contact", {"channel": "call"}),
        (pd.Timedelta(days=3), "complaint", {}),
    )
    built = build_training_frame(frame).set_index("event_id")
    assert built.loc["e0", "complaint_7d"] == 0  # the complaint follows the later contact
    assert built.loc["e1", "complaint_7d"] == 1


def test_an_event_at_the_next_contacts_instant_belongs_to_the_next_contact() -> None:
    frame = events(
        (pd.Timedelta(days=2), "contact", {"channel": "call"}),
        (pd.Timedelta(days=2), "complaint", {}),
        (pd.Timedelta(days=2) - pd.Timedelta(seconds=1), "opt_out", {}),
    )
    built = build_training_frame(frame).set_index("event_id")
    assert built.loc["e0", "complaint_7d"] == 0
    assert built.loc["e1", "complaint_7d"] == 1
    assert built.loc["e0", "opt_out_7d"] == 1  # one second before the next contact
    assert built.loc["e1", "opt_out_7d"] == 0


def test_contacts_in_the_same_second_share_their_window() -> None:
    frame = events(
        (pd.Timedelta(0), "contact", {"channel": "call"}),
        (pd.Timedelta(hours=5), "complaint", {}),
    )
    built = build_training_frame(frame).set_index("event_id")
    assert built.loc[["e0", "e1"], "complaint_7d"].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("text", "expected"), [("STOP", 1), ("Please stop texting me", 1), ("HELP", 0), ("ok", 0)]
)
def test_an_opt_out_reply_counts_as_an_opt_out(text: str, expected: int) -> None:
    frame = events((pd.Timedelta(hours=1), "reply", {"text": text}))
    assert label_of_first(frame, "opt_out_7d") == expected
    assert label_of_first(frame, "complaint_7d") == 0


def test_other_numbers_and_other_kinds_do_not_label() -> None:
    frame = events(
        (pd.Timedelta(hours=1), "refusal", {}),
        (pd.Timedelta(hours=2), "opt_in", {}),
        (pd.Timedelta(hours=3), "purchase", {}),
    )
    extra = pd.DataFrame(
        {
            "event_id": ["x1", "x2"],
            "number": [OTHER, OTHER],
            "ts": [T + pd.Timedelta(hours=1)] * 2,
            "kind": ["complaint", "opt_out"],
        }
    )
    extra["ts"] = pd.to_datetime(extra["ts"], utc=True)
    built = build_training_frame(pd.concat([frame, extra], ignore_index=True))
    assert built.set_index("event_id").loc["e0", ["complaint_7d", "opt_out_7d"]].tolist() == [0, 0]


def test_horizon_is_a_parameter() -> None:
    frame = events((pd.Timedelta(days=2), "complaint", {}))
    assert build_training_frame(frame, horizon="1D")["complaint_7d"].iloc[0] == 0
    assert build_training_frame(frame, horizon="3D")["complaint_7d"].iloc[0] == 1
    with pytest.raises(ValueError, match="horizon"):
        build_training_frame(frame, horizon="0D")


def _labels_py(frame: pd.DataFrame) -> pd.DataFrame:
    """Labels of the contacts of ``frame`` (one number) from labels.label_contacts, fed the
    simulator's way: rows sorted by ts, a contact after other events at equal ts, µs."""
    ordered = frame.assign(_late=frame["kind"].eq("contact")).sort_values(
        ["ts", "_late"], kind="stable"
    )
    ts_us = pd.DatetimeIndex(ordered["ts"]).as_unit("us").asi8
    kind = ordered["kind"].to_numpy(dtype=object)
    complaint, opt_out = label_contacts(
        np.zeros(len(ordered), dtype=np.int64),
        ts_us,
        kind == "contact",
        kind == "complaint",
        kind == "opt_out",
    )
    out = pd.DataFrame(
        {"complaint_7d": complaint.astype(int), "opt_out_7d": opt_out.astype(int)},
        index=ordered["event_id"].to_numpy(),
    )
    return out.loc[ordered["event_id"][kind == "contact"].to_numpy()]


@pytest.mark.parametrize(
    "offsets",
    [
        (pd.Timedelta(0),),  # a reaction at exactly t
        (pd.Timedelta(days=7),),  # ... at exactly t + 7 d
        (pd.Timedelta(days=7) - pd.Timedelta(microseconds=1),),
        (pd.Timedelta(0), pd.Timedelta(days=7)),
    ],
)
@pytest.mark.parametrize("kind", ["complaint", "opt_out"])
def test_window_edges_agree_between_the_training_frame_and_labels_py(
    offsets: tuple[pd.Timedelta, ...], kind: str
) -> None:
    """The training frame and features.pointintime.labels (which the simulator's summary
    calls) give the same labels at the window edges: a reaction at exactly t, at t + 7 d."""
    frame = events(*[(offset, kind, {}) for offset in offsets])
    built = build_training_frame(frame).set_index("event_id")[["complaint_7d", "opt_out_7d"]]
    expected = _labels_py(frame)
    assert built.astype(int).to_dict() == expected.to_dict()


def test_window_edges_at_the_next_contact_agree_between_the_two() -> None:
    frame = events(
        (pd.Timedelta(days=2), "contact", {"channel": "call"}),
        (pd.Timedelta(days=2), "complaint", {}),
        (pd.Timedelta(days=9), "opt_out", {}),  # exactly 7 days after the second contact
        (pd.Timedelta(days=2) - pd.Timedelta(seconds=1), "opt_out", {}),
    )
    built = build_training_frame(frame).set_index("event_id")[["complaint_7d", "opt_out_7d"]]
    assert built.astype(int).to_dict() == _labels_py(frame).to_dict()
    assert built.loc["e1"].tolist() == [1, 0]
