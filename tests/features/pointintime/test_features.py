"""No leakage and training/serving parity of the point-in-time features.

The fast kernel of :mod:`features.pointintime` is compared, for EVERY feature, with a
deliberately naive reference written straight from the definitions: loop over the contacts,
keep the events of the same number strictly before, count. Histories come from hypothesis
(:mod:`tests.support.frames`) and are built to collide.
"""

from __future__ import annotations

import datetime as dt
import math
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.definitions import (
    CATEGORICAL_FEATURES,
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    ORACLE_COLUMNS,
    TARGETS,
)
from features.phone import normalize
from features.pointintime import build_training_frame, features_as_of
from features.replies import classify_reply
from tests.support.frames import (
    DAY,
    FAST,
    HOUR,
    NUMBERS,
    T0,
    consent_frames,
    histories,
    instants,
    to_events,
)


# --------------------------------------------------------------------------- naive reference
def _key(number: str) -> str:
    record = normalize(number)
    return record.e164 if record.valid else number


def _code(name: str, value: object) -> int:
    vocabulary = FEATURES_BY_NAME[name].vocabulary
    assert vocabulary is not None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return len(vocabulary) + 1
    return vocabulary.index(value) if value in vocabulary else len(vocabulary)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _subject(row: dict) -> str:
    """The API's default subject (docs/api.md): the row's own, else its campaign id, else "default"."""
    for key in ("subject", "campaign_id"):
        if not _missing(row.get(key)):
            return row[key]
    return "default"


_RECORDS_CACHE: dict[int, tuple[pd.DataFrame, list[dict[str, object]]]] = {}


def _records(events: pd.DataFrame) -> list[dict[str, object]]:
    """The events as plain dicts (memoised per frame: the reference loops over them a lot)."""
    cached = _RECORDS_CACHE.get(id(events))
    if cached is None or cached[0] is not events:
        _RECORDS_CACHE.clear()
        cached = _RECORDS_CACHE[id(events)] = (events, events.to_dict("records"))
    return cached[1]


def naive_features(
    events: pd.DataFrame, contact: dict[str, object], consent: pd.DataFrame | None
) -> dict[str, float]:
    """Every feature of one contact from a plain loop over the strict past."""
    t: pd.Timestamp = contact["ts"]
    key = _key(contact["number"])
    past = [r for r in _records(events) if _key(r["number"]) == key and r["ts"] < t]
    record = normalize(contact["number"])
    zone = ZoneInfo(record.time_zones[0] if record.time_zones else "UTC")

    def is_opt_out(r: dict[str, object]) -> bool:
        return r["kind"] == "opt_out" or (
            r["kind"] == "reply" and classify_reply(r["text"], record.region) == "opt_out"
        )

    contacts = [r for r in past if r["kind"] == "contact"]
    calls = [r for r in contacts if r["channel"] == "call"]
    out: dict[str, float] = {}
    for days in (1, 7, 30, 90):
        inside = [r for r in contacts if t - days * DAY <= r["ts"]]
        out[f"contacts_{days}d"] = len(inside)
        out[f"call_contacts_{days}d"] = sum(r["channel"] == "call" for r in inside)
        out[f"sms_contacts_{days}d"] = sum(r["channel"] == "sms" for r in inside)
        out[f"marketing_contacts_{days}d"] = sum(r["purpose"] != "service" for r in inside)
        own_subject = _subject(contact)
        out[f"same_subject_contacts_{days}d"] = sum(_subject(r) == own_subject for r in inside)
    # exposure before the recent windows: [t − 365 d, t − 90 d)
    older = [r for r in contacts if t - 365 * DAY <= r["ts"] < t - 90 * DAY]
    out["contacts_90d_to_365d"] = len(older)
    out["marketing_contacts_90d_to_365d"] = sum(r["purpose"] != "service" for r in older)
    out["hours_since_last_contact"] = (
        (t - max(r["ts"] for r in contacts)) / HOUR if contacts else math.nan
    )
    answered = [r for r in contacts if r["outcome"] == "answered"]
    out["hours_since_last_answered"] = (
        (t - max(r["ts"] for r in answered)) / HOUR if answered else math.nan
    )
    answered_calls = [r["ts"] for r in calls if r["outcome"] == "answered"]
    latest_answered = max(answered_calls) if answered_calls else None
    out["unanswered_streak"] = sum(
        latest_answered is None or r["ts"] > latest_answered for r in calls
    )
    calls30 = [r for r in calls if t - 30 * DAY <= r["ts"]]
    out["answer_rate_30d"] = (
        sum(r["outcome"] == "answered" for r in calls30) / len(calls30) if calls30 else math.nan
    )
    contacts30 = [r for r in contacts if t - 30 * DAY <= r["ts"]]
    out["short_hangups_30d"] = sum(
        r["outcome"] == "answered" and not _missing(r["duration_s"]) and r["duration_s"] < 10
        for r in contacts30
    )
    for name, test in (
        ("complaints", lambda r: r["kind"] == "complaint"),
        ("opt_outs", is_opt_out),
        ("refusals", lambda r: r["kind"] == "refusal"),
    ):
        out[f"{name}_90d"] = sum(test(r) and t - 90 * DAY <= r["ts"] for r in past)
        out[f"{name}_ever"] = sum(test(r) for r in past)
    out["distinct_campaigns_30d"] = len(
        {r["campaign_id"] for r in contacts30 if not _missing(r["campaign_id"])}
    )
    night = [r for r in contacts if not 8 <= r["ts"].to_pydatetime().astimezone(zone).hour < 21]
    out["night_share"] = len(night) / len(contacts) if contacts else math.nan
    best = None
    if consent is not None:
        for c in consent.to_dict("records"):
            if _key(c["number"]) != key or c["channel"] not in (contact["channel"], "any"):
                continue
            own_purpose = "service" if contact.get("purpose") == "service" else "marketing"
            if c["purpose"] != own_purpose:
                continue
            if not c["granted_at"] < t or (not pd.isna(c["revoked_at"]) and c["revoked_at"] < t):
                continue
            if best is None or c["granted_at"] >= best["granted_at"]:
                best = c
    out["days_since_consent"] = math.nan if best is None else (t - best["granted_at"]) / DAY
    out["consent_type"] = _code("consent_type", None if best is None else best["type"])
    out["channel"] = _code("channel", contact["channel"])
    purpose = contact.get("purpose")
    out["purpose"] = _code("purpose", "marketing" if _missing(purpose) else purpose)
    # an SMS is always automated: no dial mode, whatever the row says
    sms = contact["channel"] == "sms"
    out["dial_mode"] = _code("dial_mode", None if sms else contact.get("dial_mode"))
    local = t.to_pydatetime().astimezone(zone)
    out["local_hour"] = local.hour
    out["weekday"] = local.weekday()
    out["region"] = _code("region", record.region)
    out["line_type"] = _code("line_type", record.line_type)
    return out


def naive_labels(events: pd.DataFrame, contact: dict[str, object]) -> dict[str, int]:
    """complaint/opt-out in [t, min(t + 7 d, next contact after t))."""
    t = contact["ts"]
    key = _key(contact["number"])
    mine = [r for r in _records(events) if _key(r["number"]) == key]
    later_contacts = [r["ts"] for r in mine if r["kind"] == "contact" and r["ts"] > t]
    end = min([t + 7 * DAY, *later_contacts])
    region = normalize(contact["number"]).region
    window = [r for r in mine if t <= r["ts"] < end]
    return {
        "complaint_7d": int(any(r["kind"] == "complaint" for r in window)),
        "opt_out_7d": int(
            any(
                r["kind"] == "opt_out"
                or (r["kind"] == "reply" and classify_reply(r["text"], region) == "opt_out")
                for r in window
            )
        ),
    }


def assert_same(fast: dict[str, float], naive: dict[str, float], where: str) -> None:
    for name in FEATURE_NAMES:
        a, b = fast[name], naive[name]
        if _missing(b):
            assert _missing(a) or np.isnan(a), f"{where}: {name} = {a}, naive says missing"
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-9), f"{where}: {name} {a} != {b}"


# --------------------------------------------------------------------------- tests
@FAST
@given(events=histories, consent=consent_frames())
def test_every_feature_and_label_equals_the_naive_strict_past(
    events: pd.DataFrame, consent: pd.DataFrame
) -> None:
    frame = build_training_frame(events, consent)
    contacts = events[events["kind"] == "contact"]
    assert frame["event_id"].tolist() == contacts["event_id"].tolist()
    for (_, row), contact in zip(frame.iterrows(), contacts.to_dict("records"), strict=True):
        where = f"contact {contact['event_id']} at {contact['ts']}"
        assert_same(row.to_dict(), naive_features(events, contact, consent), where)
        for target, value in naive_labels(events, contact).items():
            assert row[target] == value, f"{where}: {target}"


@FAST
@given(events=histories, data=st.data())
def test_a_contact_never_sees_itself_later_events_or_its_own_outcome(
    events: pd.DataFrame, data: st.DataObject
) -> None:
    """Rewrite everything at or after one contact's instant (its own outcome included,
    plus a flood of same-second events): that contact's features must not move."""
    contact_rows = np.flatnonzero(events["kind"].to_numpy() == "contact")
    if len(contact_rows) == 0:
        return
    i = data.draw(st.sampled_from(contact_rows.tolist()))
    t = events["ts"].iloc[i]
    before = build_training_frame(events).set_index("event_id").loc[events["event_id"].iloc[i]]

    changed = events.copy()
    at_or_after = (changed["ts"] >= t).to_numpy()
    changed.loc[at_or_after, "outcome"] = "answered"
    changed.loc[at_or_after, "duration_s"] = 1.0
    changed.loc[at_or_after & (changed["kind"] != "contact").to_numpy(), "kind"] = "complaint"
    flood = [
        {"number": events["number"].iloc[i], "ts": t, "kind": kind, "channel": "call"}
        for kind in ("contact", "complaint", "opt_out", "refusal")
    ] + [{"number": events["number"].iloc[i], "ts": t, "kind": "reply", "text": "STOP"}]
    flood_frame = to_events(flood)
    flood_frame["event_id"] = [f"flood{j}" for j in range(len(flood))]
    changed = pd.concat([changed, flood_frame], ignore_index=True)
    after = build_training_frame(changed).set_index("event_id").loc[events["event_id"].iloc[i]]
    for name in FEATURE_NAMES:
        if name in ("dial_mode", "channel", "purpose"):
            continue  # the contact's own attributes, not history
        a, b = before[name], after[name]
        assert (pd.isna(a) and pd.isna(b)) or a == b, f"{name} moved: {a} -> {b}"


@FAST
@given(events=histories, consent=consent_frames(), data=st.data())
def test_features_as_of_equals_the_training_row_of_a_contact_placed_there(
    events: pd.DataFrame, consent: pd.DataFrame, data: st.DataObject
) -> None:
    n = data.draw(st.integers(1, 4))
    candidates = pd.DataFrame(
        {
            "number": [data.draw(st.sampled_from(NUMBERS)) for _ in range(n)],
            "channel": [data.draw(st.sampled_from(["call", "sms"])) for _ in range(n)],
            "at": pd.Series([data.draw(instants()) for _ in range(n)], dtype="datetime64[us, UTC]"),
            "purpose": [data.draw(st.sampled_from(["marketing", "service"])) for _ in range(n)],
            "dial_mode": [data.draw(st.sampled_from(["manual", "predictive"])) for _ in range(n)],
            "subject": [data.draw(st.sampled_from(["loans", "energy"])) for _ in range(n)],
            "campaign_id": ["c9"] * n,
        }
    ).set_index(pd.Index([f"cand{j}" for j in range(n)][::-1]))
    served = features_as_of(events, candidates, consent)
    assert list(served.index) == list(candidates.index)
    assert list(served.columns) == list(FEATURE_NAMES)
    for j, (label, cand) in enumerate(candidates.iterrows()):
        placed = to_events(
            [
                {
                    "number": cand["number"],
                    "ts": cand["at"],
                    "kind": "contact",
                    "channel": cand["channel"],
                    "purpose": cand["purpose"],
                    "dial_mode": cand["dial_mode"],
                    "subject": cand["subject"],
                    "campaign_id": cand["campaign_id"],
                }
            ]
        )
        placed["event_id"] = ["placed"]
        with_contact = pd.concat([events, placed], ignore_index=True)
        trained = build_training_frame(with_contact, consent).set_index("event_id").loc["placed"]
        for name in FEATURE_NAMES:
            a, b = served.loc[label, name], trained[name]
            assert (pd.isna(a) and pd.isna(b)) or a == b, f"candidate {j}: {name} {a} != {b}"


def test_candidates_do_not_see_each_other_and_defaults_apply() -> None:
    number = "+12015550123"
    events = to_events(
        [{"number": number, "ts": T0, "kind": "contact", "channel": "call", "outcome": "busy"}]
    )
    at = pd.Series([T0 + DAY, T0 + 2 * DAY], dtype="datetime64[us, UTC]")
    candidates = pd.DataFrame({"number": [number, number], "channel": ["sms", "call"], "at": at})
    served = features_as_of(events, candidates)
    assert served["contacts_90d"].tolist() == [1, 1]  # the first candidate is no history
    assert served["hours_since_last_contact"].tolist() == [24.0, 48.0]
    assert served["purpose"].tolist() == [_code("purpose", "marketing")] * 2
    # the SMS candidate has no dial mode (always automated); the call defaults to manual
    assert served["dial_mode"].tolist() == [_code("dial_mode", None), _code("dial_mode", "manual")]


def test_training_frame_shape_dtypes_and_oracle() -> None:
    rows = [
        {"number": "+12015550123", "ts": T0 + k * HOUR, "kind": "contact", "channel": "sms"}
        for k in range(3)
    ] + [{"number": "+12015550123", "ts": T0, "kind": "complaint"}]
    events = to_events(rows)
    frame = build_training_frame(events)
    expected = ["event_id", "number", "ts", *FEATURE_NAMES, *TARGETS, *ORACLE_COLUMNS.values()]
    assert list(frame.columns) == expected
    assert len(frame) == 3
    for name in (*FEATURE_NAMES, *TARGETS):
        assert pd.api.types.is_numeric_dtype(frame[name]), name
    for name in CATEGORICAL_FEATURES:
        assert pd.api.types.is_integer_dtype(frame[name]), name
    assert frame[list(TARGETS)].dtypes.tolist() == [np.dtype("int8")] * 2
    assert frame["p_complaint_true"].tolist() == events["p_complaint_true"].iloc[:3].tolist()
    assert np.isnan(frame["hours_since_last_contact"].iloc[0])
    assert frame["hours_since_last_contact"].iloc[1:].tolist() == [1.0, 1.0]


def test_naive_timestamps_are_refused() -> None:
    events = to_events([{"number": "+12015550123", "ts": T0, "kind": "contact", "channel": "sms"}])
    events["ts"] = events["ts"].dt.tz_localize(None)
    with pytest.raises(ValueError, match="timezone"):
        build_training_frame(events)


def test_local_time_uses_the_first_listed_zone_across_dst() -> None:
    """+1 701 555 0123 maps to Denver and North Dakota Center: Denver (first) is used."""
    at = dt.datetime(2026, 7, 1, 3, 30, tzinfo=dt.UTC)  # 21:30 MDT the day before
    events = to_events(
        [{"number": "+17015550123", "ts": pd.Timestamp(at), "kind": "contact", "channel": "call"}]
    )
    frame = build_training_frame(events)
    assert frame["local_hour"].iloc[0] == 21
    assert frame["weekday"].iloc[0] == 1  # Tuesday 30 June local


def test_features_as_of_accepts_histories_with_all_missing_optional_columns() -> None:
    """A history whose optional columns are all missing (read as float NaN) still serves."""
    events = pd.DataFrame(
        {
            "event_id": ["a", "b"],
            "number": ["+12015550123", "+12015550123"],
            "ts": pd.Series([T0, T0 + HOUR], dtype="datetime64[us, UTC]"),
            "kind": ["contact", "contact"],
            "channel": ["call", "call"],
            "subject": [np.nan, np.nan],
            "campaign_id": [np.nan, np.nan],
        }
    )
    candidates = pd.DataFrame(
        {
            "number": ["+1 201-555-0123"],
            "channel": ["call"],
            "at": pd.Series([T0 + DAY + HOUR], dtype="datetime64[us, UTC]"),
            "subject": ["loans"],
        }
    )
    served = features_as_of(events, candidates)
    assert served["contacts_1d"].tolist() == [1]  # [t - 1 d, t) holds only the second call
    assert served["contacts_7d"].tolist() == [2]
    assert served["same_subject_contacts_7d"].tolist() == [0]
    assert served["unanswered_streak"].tolist() == [2]
