"""The service's feature path (records → kernels) equals the frame path, feature for feature.

``features_of_records`` gathers the kernels' inputs with plain loops over Python records
(what the store returns for a request); ``features_as_of`` gathers them with frame
operations. Both run the same kernels, so any difference is a bug in how one of them
gathers: the histories come from the same hypothesis strategies as the leakage tests
(same-second ties, window edges, every event kind, replies, one number in two spellings,
multi-zone numbers, consent rows of every scope), candidates carry missing values where
the defaults apply.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from features.definitions import FEATURE_NAMES
from features.phone import normalize
from features.pointintime import features_as_of, features_of_records
from tests.support.frames import (
    FAST,
    NUMBERS,
    consent_frames,
    histories,
    instants,
    to_events,
)

VALID_NUMBERS = tuple(n for n in NUMBERS if normalize(n).valid)
_EVENT_FIELDS = (
    "kind", "channel", "purpose", "subject", "campaign_id", "dial_mode", "outcome",
    "duration_s", "text",
)  # fmt: skip


def _key(number: str) -> str:
    record = normalize(number)
    return record.e164 if record.valid and record.e164 else number


def _value(value: object) -> object:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else value


def _records(frame: pd.DataFrame, fields: tuple[str, ...], times: tuple[str, ...]) -> dict:
    """Rows of ``frame`` as attribute records, grouped by history key (row order kept)."""
    grouped: dict[str, list[SimpleNamespace]] = {}
    for row in frame.to_dict("records"):
        values = {name: _value(row.get(name)) for name in fields}
        for name in times:
            stamp = _value(row.get(name))
            values[name] = None if stamp is None else pd.Timestamp(stamp).to_pydatetime()
        grouped.setdefault(_key(row["number"]), []).append(SimpleNamespace(**values))
    return grouped


def _candidate(draw: st.DrawFn, number: str) -> dict[str, object]:
    return {
        "number": number,
        "channel": draw(st.sampled_from(["call", "sms"])),
        "at": draw(instants()),
        "purpose": draw(st.sampled_from(["marketing", "service", None])),
        "dial_mode": draw(st.sampled_from(["manual", "predictive", None])),
        "subject": draw(st.sampled_from(["loans", "energy", None])),
        "campaign_id": draw(st.sampled_from(["c1", "c9", None])),
    }


def candidates_for(events: pd.DataFrame, data: st.DataObject) -> list[dict[str, object]]:
    """One candidate per valid number with history (so every history is read), plus a few
    on any number."""
    with_history = [n for n in dict.fromkeys(events["number"]) if normalize(n).valid]
    numbers = with_history + data.draw(st.lists(st.sampled_from(VALID_NUMBERS), max_size=2))
    if not numbers:
        numbers = [data.draw(st.sampled_from(VALID_NUMBERS))]
    return [data.draw(st.composite(_candidate)(n)) for n in numbers]


def _compare(events: pd.DataFrame, consent: pd.DataFrame | None, planned: list[dict]) -> None:
    frame = pd.DataFrame(
        {
            name: pd.Series([c[name] for c in planned], dtype=object)
            for name in ("number", "channel", "purpose", "dial_mode", "subject", "campaign_id")
        }
    )
    frame["at"] = pd.Series([c["at"] for c in planned], dtype="datetime64[us, UTC]")
    expected = features_as_of(events, frame, consent)
    got = features_of_records(
        [_key(str(c["number"])) for c in planned],
        [SimpleNamespace(**(c | {"at": pd.Timestamp(c["at"]).to_pydatetime()})) for c in planned],
        _records(events, _EVENT_FIELDS + ("number",), ("ts",)),
        None
        if consent is None
        else _records(consent, ("channel", "purpose", "type"), ("granted_at", "revoked_at")),
    )
    assert list(got) == list(FEATURE_NAMES)
    for name in FEATURE_NAMES:
        a, b = got[name], expected[name].to_numpy()
        assert a.dtype == b.dtype, f"{name}: dtype {a.dtype} != {b.dtype}"
        assert np.array_equal(a, b, equal_nan=True), f"{name}: {a.tolist()} != {b.tolist()}"


@FAST
@given(events=histories, consent=consent_frames(), data=st.data())
def test_records_path_equals_frame_path(
    events: pd.DataFrame, consent: pd.DataFrame, data: st.DataObject
) -> None:
    _compare(events, consent, candidates_for(events, data))


def test_records_path_without_history_or_consent() -> None:
    planned = [
        {"number": VALID_NUMBERS[0], "channel": "sms", "at": pd.Timestamp("2026-03-01", tz="UTC"),
         "purpose": None, "dial_mode": "predictive", "subject": None, "campaign_id": None}
    ]  # fmt: skip
    empty = to_events([])
    _compare(empty, None, planned)
    got = features_of_records(
        [_key(VALID_NUMBERS[0])],
        [SimpleNamespace(**(planned[0] | {"at": planned[0]["at"].to_pydatetime()}))],
        {},
    )
    assert got["contacts_90d"].tolist() == [0]
    assert np.isnan(got["hours_since_last_contact"][0])


def test_records_path_refuses_naive_instants() -> None:
    candidate = SimpleNamespace(
        channel="call", at=dt.datetime(2026, 3, 1, 12), purpose=None, dial_mode=None,
        subject=None, campaign_id=None,
    )  # fmt: skip
    with pytest.raises(ValueError, match="timezone-aware"):
        features_of_records([_key(VALID_NUMBERS[0])], [candidate], {})


def test_records_path_local_night_and_regional_replies() -> None:
    """The cases random histories reach least often: night starts at 21:00 sharp and ends at
    08:00 sharp in the number's own zone, and a regional short word (``T``) opts out in AU, not in the US."""
    gb, au, us = "+447400123456", "+61412345678", "+12015550123"
    london = dt.UTC  # GB in winter: local = UTC
    rows = [
        {"number": gb, "ts": pd.Timestamp(dt.datetime(2026, 1, 6, h, m, tzinfo=london)),
         "kind": "contact", "channel": "call"}
        for h, m in ((20, 59), (21, 0), (7, 59), (8, 0))
    ] + [
        {"number": n, "ts": pd.Timestamp("2026-01-06 03:00", tz="UTC"), "kind": "reply",
         "text": "T"}
        for n in (au, us)
    ]  # fmt: skip
    events = to_events(rows)
    at = pd.Timestamp("2026-01-07 12:00", tz="UTC")
    planned = [
        {"number": n, "channel": "sms", "at": at, "purpose": None, "dial_mode": None,
         "subject": None, "campaign_id": None}
        for n in (gb, au, us)
    ]  # fmt: skip
    _compare(events, None, planned)
    got = features_of_records(
        [_key(gb), _key(au), _key(us)],
        [SimpleNamespace(**(c | {"at": at.to_pydatetime()})) for c in planned],
        _records(events, _EVENT_FIELDS + ("number",), ("ts",)),
    )
    assert got["night_share"][0] == pytest.approx(0.5)  # 21:00 and 07:59 are night
    assert got["opt_outs_ever"].tolist() == [0, 1, 0]
