"""Kernel inputs however gathered (:class:`Prepared`), run through the kernels, assembled into
the :data:`~features.definitions.FEATURE_NAMES` columns (and the labels).

How it is fast (10 M events on 2 cores, see ``benchmarks/bench_features.py``): one
``argsort`` of a combined int64 key ``(number code, time)`` orders the events; one numba pass
walks each number's events in time order, in *blocks* of equal timestamps: the features of
every contact in a block are read from running totals that hold only earlier blocks, then the
block is added. Events sharing a second with the contact (about 1 % in simulated data) are
therefore never seen — "prior" is strictly earlier. Windows ``[t - N d, t)`` are running
totals minus the totals behind a left pointer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from features.definitions import (
    COUNT_WINDOWS_DAYS,
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    LONG_WINDOW_DAYS,
    missing_code,
)
from features.pointintime.kernels import (
    COUNT_SCOPES,
    N_WINDOWS,
    W90,
    W_LONG,
    Flag,
    FloatSlot,
    IntSlot,
    consent_kernel,
    history_kernel,
    same_subject_kernel,
)
from features.pointintime.labels import contact_labels

NS_PER_HOUR = 3_600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR
NEVER = np.iinfo(np.int64).max

Progress = Callable[[str], None]


@dataclass
class ConsentArrays:
    """Consent rows ordered by (history key, grant time), with each key's row range."""

    starts: np.ndarray  # int64 per history key code
    ends: np.ndarray
    granted: np.ndarray  # int64 ns
    revoked: np.ndarray  # int64 ns, NEVER = never
    channel: np.ndarray  # int64: CHANNEL_CALL / CHANNEL_SMS / CHANNEL_ANY
    purpose: np.ndarray  # int64: PURPOSE_MARKETING / PURPOSE_SERVICE
    type: np.ndarray  # int16 consent_type codes


@dataclass
class Prepared:
    """The kernels' inputs, however they were gathered (a frame or a few records).

    Rows are events and query pseudo-contacts in any order; ``q_*`` arrays hold one value
    per query row (in ``query_rows`` order), already encoded as the model sees them.
    """

    key_code: np.ndarray  # int64 per row: same code = same history
    ts: np.ndarray  # int64 ns per row
    flags: np.ndarray  # uint16 per row, Flag bits; 0 for query rows
    campaign: np.ndarray  # int64 per row: campaign code of a history contact, else -1
    n_campaigns: int
    subject: np.ndarray  # int64 per row: subject code (used on contact and query rows)
    is_contact: np.ndarray  # bool per row: history contacts and query pseudo-contacts
    query_rows: np.ndarray  # int64
    q_hour: np.ndarray
    q_weekday: np.ndarray
    q_channel: np.ndarray  # int64: CHANNEL_CALL / CHANNEL_SMS, -1 other
    q_purpose: np.ndarray  # int64: PURPOSE_MARKETING / PURPOSE_SERVICE
    q_codes: dict[str, np.ndarray]  # channel, purpose, dial_mode, region, line_type codes
    consent: ConsentArrays | None


def sort_order(key_code: np.ndarray, ts_ns: np.ndarray) -> np.ndarray:
    """Order by (number, time): one argsort of a combined int64 key when it fits."""
    if len(ts_ns) == 0:
        return np.zeros(0, dtype=np.int64)
    t0 = int(ts_ns.min())
    rel = ts_ns - t0
    unit = 1
    for candidate in (10**9, 10**6, 10**3):
        if not np.any(rel % candidate):
            unit = candidate
            break
    if unit > 1:
        rel = rel // unit
    time_bits = max(int(rel.max()).bit_length(), 1)
    code_bits = max(int(key_code.max()).bit_length(), 1)
    if time_bits + code_bits <= 62:
        # ties (same number and instant) are one block for the kernel: any order will do
        return np.argsort((key_code << time_bits) | rel)
    return np.lexsort((ts_ns, key_code))


def sorted_consent(
    code: np.ndarray,
    n_keys: int,
    granted: np.ndarray,
    revoked: np.ndarray,
    channel: np.ndarray,
    purpose: np.ndarray,
    types: np.ndarray,
) -> ConsentArrays:
    order = np.lexsort((granted, code))
    code_sorted = code[order]
    return ConsentArrays(
        starts=np.searchsorted(code_sorted, np.arange(n_keys), side="left"),
        ends=np.searchsorted(code_sorted, np.arange(n_keys), side="right"),
        granted=granted[order],
        revoked=revoked[order],
        channel=channel[order].astype(np.int64),
        purpose=purpose[order].astype(np.int64),
        type=types[order],
    )


def features_from_arrays(
    p: Prepared, say: Progress, horizon_ns: int | None = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run the kernels on prepared inputs; the feature columns of the query rows, and their
    labels ``[2, n_q]`` (complaint, opt-out) with a ``horizon_ns`` (zeros without)."""
    n = len(p.ts)
    query_rows = p.query_rows
    n_q = len(query_rows)
    out_pos = np.full(n, -1, dtype=np.int64)
    out_pos[query_rows] = np.arange(n_q)
    windows = np.array([d * NS_PER_DAY for d in COUNT_WINDOWS_DAYS], dtype=np.int64)
    # the history kernel also counts the long window (its last index, W_LONG)
    history_windows = np.append(windows, np.int64(LONG_WINDOW_DAYS * NS_PER_DAY))

    say("sorting by number and time")
    order = sort_order(p.key_code, p.ts)

    say("rolling windows")
    counts = np.zeros((len(COUNT_SCOPES), N_WINDOWS + 1, n_q), dtype=np.int32)
    ints = np.zeros((len(IntSlot), n_q), dtype=np.int32)
    floats = np.full((len(FloatSlot), n_q), np.nan, dtype=np.float64)
    code_sorted, ts_sorted, flags_sorted = p.key_code[order], p.ts[order], p.flags[order]
    pos_sorted = out_pos[order]
    history_kernel(
        code_sorted,
        ts_sorted,
        flags_sorted,
        p.campaign[order],
        max(p.n_campaigns, 1),
        history_windows,
        pos_sorted,
        counts,
        ints,
        floats,
    )
    labels = np.zeros((2, n_q), dtype=np.int8)
    if horizon_ns is not None:
        complaint, opt_out = contact_labels(
            code_sorted,
            ts_sorted,
            (flags_sorted >> Flag.CONTACT) & 1 == 1,
            (flags_sorted >> Flag.COMPLAINT) & 1 == 1,
            (flags_sorted >> Flag.OPT_OUT) & 1 == 1,
            horizon_ns,
        )
        queried = pos_sorted >= 0
        labels[0, pos_sorted[queried]] = complaint[queried]
        labels[1, pos_sorted[queried]] = opt_out[queried]
    del order, code_sorted, ts_sorted, flags_sorted, pos_sorted

    say("same-subject windows")
    rows = np.flatnonzero(p.is_contact)  # history contacts and query pseudo-contacts
    subject_group = p.key_code[rows] * (int(p.subject.max(initial=0)) + 1)
    subject_group += p.subject[rows]
    sub_order = rows[sort_order(subject_group, p.ts[rows])]
    same_subject = np.zeros((N_WINDOWS, n_q), dtype=np.int32)
    same_subject_kernel(
        p.key_code[sub_order],
        p.subject[sub_order],
        p.ts[sub_order],
        p.flags[sub_order] & np.uint16(1 << Flag.CONTACT),
        windows,
        out_pos[sub_order],
        same_subject,
    )
    del sub_order

    say("consent")
    days, consent_type = _consent_features(
        p.consent, p.key_code[query_rows], p.ts[query_rows], p.q_channel, p.q_purpose
    )

    columns: dict[str, np.ndarray] = {}
    for s, scope in enumerate(COUNT_SCOPES):
        for w, d in enumerate(COUNT_WINDOWS_DAYS):
            columns[f"{scope}_{d}d"] = counts[s, w]
    for w, d in enumerate(COUNT_WINDOWS_DAYS):
        columns[f"same_subject_contacts_{d}d"] = same_subject[w]
    for s, scope in enumerate(COUNT_SCOPES):
        if scope in ("contacts", "marketing_contacts"):
            columns[f"{scope}_90d_to_{LONG_WINDOW_DAYS}d"] = counts[s, W_LONG] - counts[s, W90]
    for slot in FloatSlot:
        columns[slot.name.lower()] = floats[slot]
    for slot in IntSlot:
        columns[slot.name.lower()] = ints[slot]
    columns["days_since_consent"] = days
    columns["consent_type"] = consent_type
    columns.update(p.q_codes)
    columns["local_hour"] = p.q_hour
    columns["weekday"] = p.q_weekday
    typed = {
        name: columns[name].astype(FEATURES_BY_NAME[name].dtype, copy=False)
        for name in FEATURE_NAMES
    }
    return typed, labels


def _consent_features(
    consent: ConsentArrays | None,
    q_code: np.ndarray,
    q_ts: np.ndarray,
    q_channel: np.ndarray,
    q_purpose: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n_q = len(q_code)
    days = np.full(n_q, np.nan, dtype=np.float64)
    types = np.full(n_q, missing_code("consent_type"), dtype=np.int16)
    if consent is None or n_q == 0:
        return days, types
    consent_kernel(
        q_code,
        q_ts,
        q_channel,
        q_purpose,
        consent.starts,
        consent.ends,
        consent.granted,
        consent.revoked,
        consent.channel,
        consent.purpose,
        consent.type,
        days,
        types,
    )
    return days, types
