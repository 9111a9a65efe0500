"""The records path: features of a few candidates whose histories are Python records.

The same encoder (:mod:`features.pointintime.encode`) and kernels run on the same inputs as
in :func:`features.pointintime.features_as_of`; only gathering the columns differs: lists
instead of frame operations, which cost more than the kernels themselves on a request-sized
history (one dial: ~20 ms of pandas for ~0.1 ms of work).
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from features.definitions import category_positions, missing_code, unknown_code
from features.pointintime.assemble import (
    NEVER,
    ConsentArrays,
    Prepared,
    features_from_arrays,
    sorted_consent,
)
from features.pointintime.encode import (
    QUERY_CODES,
    ValuesColumn,
    consent_codes,
    event_flags,
    query_codes,
    subject_codes,
    with_candidate_default,
)
from features.pointintime.numbers import feature_zone

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_ONE_US = dt.timedelta(microseconds=1)


def _ns(value: dt.datetime, what: str) -> int:
    if value.tzinfo is None:
        raise ValueError(f"{what}: timestamps must be timezone-aware (UTC), got a naive one")
    return (value - _EPOCH) // _ONE_US * 1000


@functools.cache
def _zone(name: str) -> zoneinfo.ZoneInfo | dt.timezone:
    return dt.UTC if name == "UTC" else zoneinfo.ZoneInfo(name)


@functools.cache
def _positions(feature: str) -> tuple[dict[str, int], int, int]:
    return category_positions(feature), unknown_code(feature), missing_code(feature)


def _code(feature: str, value: str | None) -> int:
    """:func:`encode_categorical` of one value (aliases, unknown and missing codes alike)."""
    positions, unknown, missing = _positions(feature)
    if value is None:
        return missing
    return positions.get(value, unknown)


def _codes(feature: str, values: Sequence[Any]) -> np.ndarray:
    return np.array([_code(feature, v) for v in values], dtype=np.int16)


def features_of_records(
    numbers: Sequence[str],
    candidates: Sequence[Any],
    histories: Mapping[str, Sequence[Any]],
    consents: Mapping[str, Sequence[Any]] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`features_as_of` for a few candidates whose histories are Python records.

    ``numbers[i]`` is candidate ``i``'s history key (its E.164 number); ``candidates[i]``
    has ``channel``, ``at`` (aware) and ``purpose``, ``dial_mode``, ``subject``,
    ``campaign_id`` (any may be None: the same defaults apply). ``histories[key]`` holds
    the number's events (attributes of the Event contract: ``ts``, ``kind``, ``channel``,
    ``purpose``, ``subject``, ``campaign_id``, ``outcome``, ``duration_s``, ``text``) and
    ``consents[key]`` its consent records (``channel``, ``type``, ``purpose``,
    ``granted_at``, ``revoked_at``).

    ``tests/features/pointintime/test_features_records.py`` checks it agrees with
    :func:`features_as_of` on random histories. Returns the :data:`FEATURE_NAMES` columns in
    candidate order.
    """
    from features.phone import normalize
    from features.replies import classify_reply

    if len(numbers) != len(candidates):
        raise ValueError("features_of_records: one history key per candidate")
    keys: dict[str, int] = {}
    facts: list[tuple[int, int, Any, str | None]] = []  # region, line type, zone, region
    for key in (*histories.keys(), *numbers):
        if key not in keys:
            keys[key] = len(keys)
            record = normalize(key)
            facts.append(
                (
                    _code("region", record.region),
                    _code("line_type", record.line_type),
                    _zone(feature_zone(record.time_zones)),
                    record.region,
                )
            )

    events = [(keys[key], e) for key, history in histories.items() for e in history]
    history = [e for _, e in events]
    key_code = [k for k, _ in events]

    def local_hour(rows: np.ndarray) -> np.ndarray:
        return np.array(
            [history[r].ts.astimezone(facts[key_code[r]][2]).hour for r in rows.tolist()],
            dtype=np.int64,
        )

    def opt_out_replies(rows: np.ndarray) -> np.ndarray:
        return np.array(
            [
                classify_reply(history[r].text, facts[key_code[r]][3]) == "opt_out"
                for r in rows.tolist()
            ],
            dtype=bool,
        )

    encoded = event_flags(
        ValuesColumn([e.kind for e in history]),
        ValuesColumn([e.channel for e in history]),
        ValuesColumn([e.purpose for e in history]),
        ValuesColumn([e.outcome for e in history]),
        np.array([e.duration_s for e in history], dtype=np.float64),
        local_hour,
        opt_out_replies,
    )
    campaigns: dict[str, int] = {}
    campaign = [
        campaigns.setdefault(e.campaign_id, len(campaigns))
        if contact and e.campaign_id is not None
        else -1
        for e, contact in zip(history, encoded.is_contact.tolist(), strict=True)
    ]

    n_q = len(candidates)
    q_local = [
        c.at.astimezone(facts[keys[key]][2]) for key, c in zip(numbers, candidates, strict=True)
    ]
    q_codes, q_channel, q_purpose = query_codes(
        _codes("channel", [c.channel for c in candidates]),
        _codes("purpose", with_candidate_default("purpose", [c.purpose for c in candidates])),
        _codes("dial_mode", with_candidate_default("dial_mode", [c.dial_mode for c in candidates])),
    )
    q_codes["region"] = np.array([facts[keys[key]][0] for key in numbers], dtype=np.int16)
    q_codes["line_type"] = np.array([facts[keys[key]][1] for key in numbers], dtype=np.int16)
    assert set(q_codes) == set(QUERY_CODES)
    # subjects of history contacts and candidates, one vocabulary (other rows: unused)
    subject = subject_codes(
        [e.subject for e in history] + [c.subject for c in candidates],
        [e.campaign_id for e in history] + [c.campaign_id for c in candidates],
    )
    first_query = len(history)
    prepared = Prepared(
        key_code=np.asarray(key_code + [keys[key] for key in numbers], dtype=np.int64),
        ts=np.asarray(
            [_ns(e.ts, "events ts") for e in history]
            + [_ns(c.at, "candidates at") for c in candidates],
            dtype=np.int64,
        ),
        flags=np.concatenate([encoded.flags, np.zeros(n_q, dtype=np.uint16)]),
        campaign=np.asarray(campaign + [-1] * n_q, dtype=np.int64),
        n_campaigns=len(campaigns),
        subject=subject,
        is_contact=np.concatenate([encoded.is_contact, np.ones(n_q, dtype=bool)]),
        query_rows=np.arange(first_query, first_query + n_q, dtype=np.int64),
        q_hour=np.array([t.hour for t in q_local], dtype=np.int8),
        q_weekday=np.array([t.weekday() for t in q_local], dtype=np.int8),
        q_channel=q_channel,
        q_purpose=q_purpose,
        q_codes=q_codes,
        consent=_consent_of_records(consents or {}, keys) if n_q else None,
    )
    columns, _labels = features_from_arrays(prepared, lambda _msg: None)
    return columns


def _consent_of_records(
    consents: Mapping[str, Sequence[Any]], keys: dict[str, int]
) -> ConsentArrays | None:
    rows = [(keys[key], r) for key, records in consents.items() if key in keys for r in records]
    if not rows:
        return None
    records = [r for _, r in rows]
    channel, purpose = consent_codes(
        ValuesColumn([r.channel for r in records]), ValuesColumn([r.purpose for r in records])
    )
    return sorted_consent(
        np.asarray([k for k, _ in rows], dtype=np.int64),
        len(keys),
        np.asarray([_ns(r.granted_at, "consent granted_at") for r in records], dtype=np.int64),
        np.asarray(
            [
                NEVER if r.revoked_at is None else _ns(r.revoked_at, "consent revoked_at")
                for r in records
            ],
            dtype=np.int64,
        ),
        channel,
        purpose,
        _codes("consent_type", [r.type for r in records]),
    )


def warm_up() -> None:
    """Load the compiled kernels now (numba's cache: ~1.5 s in a fresh process) instead of
    on a service's first request. Runs the records path on one made-up contact."""
    from types import SimpleNamespace

    at = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    number = "+12015550123"  # libphonenumber's example range, nobody's number
    event = SimpleNamespace(
        ts=at - dt.timedelta(days=1), kind="contact", channel="call", purpose=None,
        subject=None, campaign_id="c", dial_mode=None, outcome="answered", duration_s=5.0,
        text=None,
    )  # fmt: skip
    consent = SimpleNamespace(
        channel="any", type="express", purpose="marketing", granted_at=at, revoked_at=None
    )
    candidate = SimpleNamespace(
        channel="sms", at=at, purpose=None, dial_mode=None, subject=None, campaign_id=None
    )
    features_of_records([number], [candidate], {number: [event]}, {number: [consent]})
