"""Reference computations for the simulator tests, written independently of
:mod:`features.simulate` (labels with ``merge_asof``), so a bug in the simulator's own label
or driver code shows up as a disagreement."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.phone import normalize
from features.replies import classify_reply

WEEK = pd.Timedelta(days=7)
REGIONS = {"US", "CA", "GB", "FR", "DE", "AU", "CN"}


def reference_labels(events: pd.DataFrame) -> pd.DataFrame:
    """Contacts with complaint_7d / opt_out_7d per docs/model.md, computed with merge_asof.

    Also returns, for every complaint / opt-out (event or opt-out reply), the contact it
    follows and whether it sits inside that contact's window.
    """
    ev = events.copy()
    is_reply = (ev["kind"] == "reply") & ev["text"].notna()
    reply_label = pd.Series("other", index=ev.index)
    reply_label[is_reply] = [
        classify_reply(t, normalize(n).region)
        for t, n in zip(ev.loc[is_reply, "text"], ev.loc[is_reply, "number"], strict=True)
    ]
    ev["reaction"] = np.where(
        ev["kind"] == "complaint",
        "complaint",
        np.where((ev["kind"] == "opt_out") | (reply_label == "opt_out"), "opt_out", ""),
    )
    contacts = ev[ev["kind"] == "contact"][["event_id", "number", "ts"]].sort_values("ts")
    contacts = contacts.rename(columns={"ts": "contact_ts", "event_id": "contact_id"})
    nxt = contacts.sort_values(["number", "contact_ts"]).copy()
    nxt["next_ts"] = nxt.groupby("number")["contact_ts"].shift(-1)
    reactions = ev[ev["reaction"] != ""][["number", "ts", "reaction"]].sort_values("ts")
    linked = pd.merge_asof(
        reactions,
        contacts,
        left_on="ts",
        right_on="contact_ts",
        by="number",
        allow_exact_matches=False,
        direction="backward",
    ).merge(nxt[["contact_id", "next_ts"]], on="contact_id", how="left")
    linked["inside"] = (
        linked["contact_id"].notna()
        & (linked["ts"] <= linked["contact_ts"] + WEEK)
        & (linked["next_ts"].isna() | (linked["ts"] < linked["next_ts"]))
    )
    out = ev[ev["kind"] == "contact"].set_index("event_id")
    for name in ("complaint", "opt_out"):
        ids = linked.loc[linked["inside"] & (linked["reaction"] == name), "contact_id"]
        out[f"{name}_7d"] = out.index.isin(ids)
    return out, linked
