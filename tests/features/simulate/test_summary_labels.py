"""The simulator's summary labels contacts exactly as training does, at the window edges.

A reaction at exactly the contact's instant ``t`` counts for it; one at exactly ``t + 7 d``
does not; the next contact to the number cuts the window. The simulator never emits a
reaction at those instants, so these histories are written by hand.
"""

from __future__ import annotations

import pandas as pd
import pytest

from features.pointintime import build_training_frame
from features.simulate import labelled_contacts

NUMBER = "+12015550123"  # libphonenumber's US example number
T = pd.Timestamp("2026-03-10 14:00", tz="UTC")
DAY = pd.Timedelta(days=1)


def _history(tmp_path, *rows: tuple[pd.Timedelta, str]):
    """A contact at T, then (offset, kind) rows; written as the simulator writes events."""
    records = [{"ts": T, "kind": "contact", "channel": "sms"}]
    records += [
        {"ts": T + offset, "kind": kind, "channel": "call" if kind == "contact" else None}
        for offset, kind in rows
    ]
    frame = pd.DataFrame(records).assign(number=NUMBER, text=None)
    frame["event_id"] = [f"e{i}" for i in range(len(frame))]
    for column in ("p_complaint_true", "p_opt_out_true"):
        frame[column] = 0.01
    for column in ("p_complaint_observable", "p_opt_out_observable"):
        frame[column] = 0.01
    frame = frame.sort_values("ts", kind="stable")
    path = tmp_path / "events.parquet"
    frame.astype({"text": "string"}).to_parquet(path, index=False)
    return frame, path


def _training_labels(frame: pd.DataFrame) -> list[list[int]]:
    events = frame[["event_id", "number", "ts", "kind", "channel"]]
    built = build_training_frame(events).sort_values("ts", kind="stable")
    return built[["complaint_7d", "opt_out_7d"]].astype(int).to_numpy().tolist()


def _summary_labels(path) -> list[list[int]]:
    contacts = labelled_contacts(path).sort_values("ts", kind="stable")
    return contacts[["complaint_7d", "opt_out_7d"]].astype(int).to_numpy().tolist()


@pytest.mark.parametrize(
    "rows",
    [
        [(pd.Timedelta(0), "complaint")],  # at exactly t: counts
        [(7 * DAY, "complaint")],  # at exactly t + 7 d: does not
        [(7 * DAY - pd.Timedelta(seconds=1), "opt_out")],
        [(pd.Timedelta(0), "opt_out"), (7 * DAY, "complaint")],
        [(2 * DAY, "contact"), (2 * DAY, "complaint"), (9 * DAY, "opt_out")],
    ],
)
def test_summary_labels_equal_training_labels_at_the_window_edges(tmp_path, rows) -> None:
    frame, path = _history(tmp_path, *rows)
    expected = _training_labels(frame)
    assert _summary_labels(path) == expected
    assert len(expected) == 1 + sum(kind == "contact" for _, kind in rows)


def test_the_edges_themselves(tmp_path) -> None:
    _, at_t = _history(tmp_path, (pd.Timedelta(0), "complaint"))
    assert _summary_labels(at_t) == [[1, 0]]
    (tmp_path / "b").mkdir()
    _, at_week = _history(tmp_path / "b", (7 * DAY, "complaint"))
    assert _summary_labels(at_week) == [[0, 0]]
