"""Event and consent frames for the point-in-time feature tests (hypothesis strategies).

Histories are built to collide: events on a coarse time grid (same-second ties, events
exactly 1/7/30/90 days apart), every event kind, one number written in two formats,
multi-zone numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from features.schema import CONSENT_TYPES, EVENT_KINDS, OUTCOMES

T0 = pd.Timestamp("2026-01-05 00:00", tz="UTC")  # a Monday in winter; DST starts in range
#: Fictional / library example numbers (never real people): a US number in two formats,
#: a multi-zone US number, GB and AU mobiles with several zones, a CN mobile, and garbage.
NUMBERS = (
    "+12015550123",
    "+1 201-555-0123",
    "+17015550123",
    "+447400123456",
    "+61412345678",
    "+8613123456789",
    "12345",
)
REPLY_TEXTS = ("STOP", "help", "thanks!", "please stop texting me", "yes", "T")
HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


# --------------------------------------------------------------------------- generation
@st.composite
def instants(draw: st.DrawFn) -> pd.Timestamp:
    """Instants on a coarse grid, so ties and exact window boundaries are common."""
    # days whose differences are often exactly 1, 7, 30, 90 or 365 (the window edges)
    day = draw(st.sampled_from([0, 1, 7, 8, 30, 31, 37, 38, 90, 91, 97, 120, 365, 366, 455]))
    hour = draw(st.sampled_from([0, 0, 7, 8, 20, 21]))
    second = draw(st.sampled_from([0, 0, 0, 1]))
    return T0 + day * DAY + hour * HOUR + pd.Timedelta(seconds=second)


@st.composite
def event_rows(draw: st.DrawFn) -> dict[str, object]:
    kind = draw(st.sampled_from(("contact",) * 6 + EVENT_KINDS))
    row: dict[str, object] = {
        "number": draw(st.sampled_from(NUMBERS[:2] * 3 + NUMBERS)),  # mostly one history
        "ts": draw(instants()),
        "kind": kind,
    }
    if kind == "contact":
        row["channel"] = draw(st.sampled_from(["call", "call", "sms"]))
        row["purpose"] = draw(st.sampled_from(["marketing", "service", None]))
        row["subject"] = draw(st.sampled_from(["loans", "energy", None]))
        row["campaign_id"] = draw(st.sampled_from(["c1", "c2", "c3", None]))
        row["dial_mode"] = draw(st.sampled_from(["manual", "predictive", "prerecorded", None]))
        row["outcome"] = draw(st.sampled_from([*OUTCOMES, "answered", None]))
        row["duration_s"] = draw(st.sampled_from([None, 0.0, 5.0, 9.99, 10.0, 60.0]))
    elif kind == "reply":
        row["text"] = draw(st.sampled_from(REPLY_TEXTS))
    elif kind in ("opt_out", "opt_in"):
        row["channel"] = draw(st.sampled_from(["call", "sms", None]))
    return row


def to_events(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A frame shaped like ``features.io.load_events(...).frame``."""
    columns = {
        "event_id": "str",
        "number": "str",
        "kind": "str",
        "channel": "str",
        "purpose": "str",
        "subject": "str",
        "campaign_id": "str",
        "dial_mode": "str",
        "outcome": "str",
        "text": "str",
    }
    frame = pd.DataFrame(
        {
            name: pd.Series([r.get(name) for r in rows], dtype=dtype)
            for name, dtype in columns.items()
        }
    )
    frame["event_id"] = pd.Series([f"e{i:04d}" for i in range(len(rows))], dtype="str")
    frame["ts"] = pd.Series([r["ts"] for r in rows], dtype="datetime64[us, UTC]")
    frame["duration_s"] = pd.Series([r.get("duration_s") for r in rows], dtype="float64")
    frame["p_complaint_true"] = np.linspace(0.0, 0.5, len(rows))
    frame["p_opt_out_true"] = np.linspace(0.5, 0.0, len(rows))
    return frame


@st.composite
def consent_frames(draw: st.DrawFn) -> pd.DataFrame:
    rows = []
    for _ in range(draw(st.integers(0, 4))):
        granted = draw(instants())
        revoked = draw(st.one_of(st.none(), instants()))
        if revoked is not None and revoked < granted:
            granted, revoked = revoked, granted
        rows.append(
            {
                "number": draw(st.sampled_from(NUMBERS)),
                "channel": draw(st.sampled_from(["call", "sms", "any"])),
                "purpose": draw(st.sampled_from(["marketing", "service"])),
                "type": draw(st.sampled_from(CONSENT_TYPES)),
                "granted_at": granted,
                "revoked_at": revoked,
            }
        )
    frame = pd.DataFrame(
        rows, columns=["number", "channel", "purpose", "type", "granted_at", "revoked_at"]
    )
    for col in ("granted_at", "revoked_at"):
        frame[col] = pd.to_datetime(frame[col], utc=True).astype("datetime64[us, UTC]")
    return frame


histories = st.lists(event_rows(), min_size=1, max_size=40).map(to_events)


FAST = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
