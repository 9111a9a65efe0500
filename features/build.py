"""Point-in-time features: one kernel for the training frame and for serving.

:func:`build_training_frame` computes, for every outbound contact in a history, the features
of :mod:`features.definitions` from the events **strictly before** it, plus the labels.
:func:`features_as_of` computes the same features for candidate contacts at given instants:
it appends the candidates to the history as *pseudo-contacts* (visible to nothing, not even
each other) and runs the very same kernel. Training/serving parity therefore holds by
construction, and ``tests/features/test_features_parity.py`` checks it anyway.

How it is fast (10 M events on 2 cores, see ``benchmarks/bench_features.py``):

* each DISTINCT number is normalised once (:func:`features.phone.normalize_many`); events are
  grouped by E.164 (the raw text when the number is invalid), so "+1 305…" and "(305) …"
  are one history;
* one ``argsort`` of a combined int64 key ``(number code, time)`` orders the events;
* one numba pass walks each number's events in time order, in *blocks* of equal timestamps:
  the features of every contact in a block are read from running totals that hold only
  earlier blocks, then the block is added. Events sharing a second with the contact
  (about 1 % in simulated data) are therefore never seen — "prior" is strictly earlier.
  Windows ``[t - N d, t)`` are running totals minus the totals behind a left pointer.

Decisions a reader should know:

* Local time uses the FIRST of the number's candidate time zones as libphonenumber lists
  them (alphabetical order, e.g. ``America/Denver`` before ``America/North_Dakota/Center``);
  numbers without a zone use UTC. The rules engine checks every zone; a feature needs one.
* ``unanswered_streak`` counts the prior calls later than the latest answered call, so calls
  sharing a second with that answered call do not count: the value does not depend on the
  order of simultaneous events.
* A contact with no purpose is marketing (the Event contract's default). Subjects compare
  as given; a missing subject is the contact's campaign id, else ``"default"`` (API.md's
  default, which the rules apply too). Contacts without a campaign id do not count towards
  ``distinct_campaigns_30d``. An SMS has no dial mode (always automated): its
  ``dial_mode`` is the missing code whatever the row says.
* Consent: the latest grant for the contact's channel (or ``any``) and purpose (a service
  consent is no marketing consent, as the rules read it), granted strictly before ``t`` and
  not revoked strictly before ``t``.
* Labels: a complaint (or opt-out, incl. an opt-out reply) at ``s`` with
  ``t <= s < t + horizon`` and ``s`` earlier than the next contact to the number after ``t``
  (a contact at ``s`` starts its own window, so an event is attributed to one contact time).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pandas as pd

from features.definitions import (
    CATEGORICAL_FEATURES,
    CEILING_COLUMNS,
    COUNT_WINDOWS_DAYS,
    FEATURE_NAMES,
    FEATURES_BY_NAME,
    LONG_WINDOW_DAYS,
    NIGHT_END_HOUR,
    NIGHT_START_HOUR,
    ORACLE_COLUMNS,
    SHORT_HANGUP_SECONDS,
    TARGETS,
    encode_categorical,
    missing_code,
)

NS_PER_HOUR = 3_600 * 10**9
NS_PER_DAY = 24 * NS_PER_HOUR
#: Above this many distinct numbers, :func:`features.phone.normalize_many` (no cache) is used;
#: below it the lru-cached :func:`features.phone.normalize` (the service sees the same
#: numbers again and again).
_CACHED_NORMALISE_LIMIT = 20_000
#: Event columns the kernel reads; any of them may be absent from a hand-made frame.
_EVENT_COLUMNS = (
    "number",
    "ts",
    "kind",
    "channel",
    "purpose",
    "subject",
    "campaign_id",
    "dial_mode",
    "outcome",
    "duration_s",
    "text",
)
_COUNT_SCOPES = ("contacts", "call_contacts", "sms_contacts", "marketing_contacts")

Progress = Callable[[str], None]


# --------------------------------------------------------------------------- numbers
@dataclass(frozen=True)
class NumberTable:
    """Per-row number facts: history key code, region/line-type codes, time-zone index."""

    key_code: np.ndarray  # int64 per row; same code = same history (E.164, raw if invalid)
    keys: pd.Index  # history key per code
    raw_index: pd.Index  # distinct raw numbers seen
    key_of_raw: np.ndarray  # int64 history key code per distinct raw number
    region_code: np.ndarray  # int16 per row
    line_type_code: np.ndarray  # int16 per row
    zone_code: np.ndarray  # int32 per row, index into zones
    zones: tuple[str, ...]
    raw_code: np.ndarray  # int64 per row, index into raw_index
    raw_region: np.ndarray  # object per distinct raw number: ISO 3166-1 or None

    def codes_of(self, numbers: pd.Series) -> np.ndarray:
        """History key codes of other numbers (e.g. consent rows); -1 if never seen here."""
        raw_codes, raw_uniques = pd.factorize(numbers)
        known = self.raw_index.get_indexer(raw_uniques)
        key_of_unique = np.where(known >= 0, self.key_of_raw[np.maximum(known, 0)], -1)
        unseen = np.flatnonzero(known < 0)
        if len(unseen):  # another spelling of a number we know? compare E.164
            other = _normalised(raw_uniques.to_numpy(dtype=object)[unseen])
            e164 = np.where(other["valid"].to_numpy(dtype=bool), other["e164"], None)
            key_of_unique[unseen] = self.keys.get_indexer(pd.Index(e164, dtype=object))
        return np.where(raw_codes >= 0, key_of_unique[raw_codes], -1).astype(np.int64)


def _normalised(raw: np.ndarray) -> pd.DataFrame:
    """Normalise distinct numbers: cached per number for small sets (the service sees the
    same numbers again and again), vectorised and uncached for large ones."""
    from features.phone import normalize, normalize_many

    if len(raw) > _CACHED_NORMALISE_LIMIT:
        return normalize_many(raw)
    records = [normalize(v) for v in raw]
    return pd.DataFrame(
        {
            "e164": pd.Series([r.e164 for r in records], dtype=object),
            "valid": pd.Series([r.valid for r in records], dtype=bool),
            "region": pd.Series([r.region for r in records], dtype=object),
            "line_type": pd.Series([r.line_type for r in records], dtype=object),
            "time_zones": pd.Series([r.time_zones for r in records], dtype=object),
        }
    )


def number_table(numbers: pd.Series) -> NumberTable:
    """Normalise each distinct number once and spread the facts over the rows."""
    raw_codes, raw_uniques = pd.factorize(numbers)
    if len(raw_codes) and raw_codes.min() < 0:
        row = int(np.flatnonzero(raw_codes < 0)[0]) + 1
        raise ValueError(f"events row {row}: number is required")
    raw = raw_uniques.to_numpy(dtype=object)
    table = _normalised(raw)
    valid = table["valid"].to_numpy(dtype=bool)
    key = np.where(valid, table["e164"].to_numpy(dtype=object), raw)
    key_of_raw, keys = pd.factorize(key)
    zones_of_raw = table["time_zones"].to_numpy(dtype=object)
    zone_codes_of_tuple, zone_tuples = pd.factorize(zones_of_raw)  # few distinct tuples
    first_zone = [z[0] if z else "UTC" for z in zone_tuples]
    zone_of_tuple, zones = pd.factorize(np.asarray(first_zone, dtype=object))
    zone_of_raw = zone_of_tuple[zone_codes_of_tuple]
    region_of_raw = table["region"].to_numpy(dtype=object)
    region_codes = encode_categorical("region", pd.Series(region_of_raw, dtype=object))
    line_codes = encode_categorical("line_type", table["line_type"].astype(object))
    return NumberTable(
        key_code=key_of_raw.astype(np.int64)[raw_codes],
        keys=pd.Index(keys, dtype=object),
        raw_index=pd.Index(raw, dtype=object),
        key_of_raw=key_of_raw.astype(np.int64),
        region_code=region_codes[raw_codes],
        line_type_code=line_codes[raw_codes],
        zone_code=zone_of_raw.astype(np.int32)[raw_codes],
        zones=tuple(str(z) for z in zones),
        raw_code=raw_codes.astype(np.int64),
        raw_region=region_of_raw,
    )


# --------------------------------------------------------------------------- helpers
def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series(np.full(len(frame), None, dtype=object), index=frame.index)


class _Coded:
    """A string column factorised once; comparisons and encodings then run on int codes
    (one hash pass over 10 M strings instead of one per comparison)."""

    def __init__(self, series: pd.Series) -> None:
        self.codes, uniques = pd.factorize(series)
        self.uniques = pd.Index(uniques)
        self._position = {value: i for i, value in enumerate(self.uniques.tolist())}

    def equals(self, value: str) -> np.ndarray:
        """``series == value`` as a fresh bool array; missing → False."""
        position = self._position.get(value)
        if position is None:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == position

    def encode(self, feature: str) -> np.ndarray:
        """Fixed-vocabulary codes of feature ``feature`` (see ``encode_categorical``)."""
        lookup = encode_categorical(feature, pd.Series(self.uniques, dtype=object))
        lookup = np.append(lookup, np.int16(missing_code(feature)))
        return lookup[self.codes]  # code -1 (missing) → the appended missing code


def _subject_codes(subject: pd.Series, campaign: pd.Series) -> np.ndarray:
    """Integer codes of each row's subject with API.md's default (the one the rules use too):
    no subject = the campaign id, else ``"default"``. Equal texts get equal codes whichever
    column they came from. Factorises the two columns once each instead of filling strings
    (a fill costs ~6× a factorisation on a serving-sized history)."""
    s_codes, s_uniques = pd.factorize(subject)
    if (s_codes >= 0).all():
        return s_codes
    c_codes, c_uniques = pd.factorize(campaign)
    vocabulary = pd.Index(s_uniques).append(pd.Index(c_uniques)).append(pd.Index(["default"]))
    vocabulary = vocabulary.unique()
    default = vocabulary.get_loc("default")
    # a missing code (-1) picks the slot appended at the end of each map
    c_map = np.append(vocabulary.get_indexer(pd.Index(c_uniques)), default)
    from_campaign = c_map[np.where(c_codes >= 0, c_codes, len(c_map) - 1)]
    s_map = np.append(vocabulary.get_indexer(pd.Index(s_uniques)), -1)
    own = s_map[np.where(s_codes >= 0, s_codes, len(s_map) - 1)]
    return np.where(s_codes >= 0, own, from_campaign)


def _encode_rows(feature: str, series: pd.Series, rows: np.ndarray) -> np.ndarray:
    """Fixed-vocabulary codes of ``series[rows]``: pick the rows first when they are few
    (serving: a thousand candidates in a long history), else encode all and pick."""
    if len(rows) * 4 < len(series):
        return encode_categorical(feature, series.iloc[rows].reset_index(drop=True))
    return _Coded(series).encode(feature)[rows]


def _equals(series: pd.Series, value: str) -> np.ndarray:
    """``series == value`` as a bool array, missing → False (fast on pandas-3 strings)."""
    return (series == value).fillna(False).to_numpy(dtype=bool)


def _instants_ns(values: pd.Series, what: str) -> np.ndarray:
    """UTC instants as int64 nanoseconds; a naive timestamp is an error (no guessing)."""
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        raise ValueError(f"{what}: timestamps must be timezone-aware (UTC), got naive ones")
    if index.hasnans:
        raise ValueError(f"{what}: has missing timestamps")
    return index.tz_convert("UTC").as_unit("ns").asi8


def _local_hour_weekday(
    ts_ns: np.ndarray, zone_code: np.ndarray, zones: tuple[str, ...], rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Local hour and weekday of ``ts_ns[rows]`` in each row's zone (DST-exact, per zone)."""
    hour = np.zeros(len(ts_ns), dtype=np.int8)
    weekday = np.zeros(len(ts_ns), dtype=np.int8)
    sub_zone = zone_code[rows]
    order = np.argsort(sub_zone, kind="stable")
    bounds = np.searchsorted(sub_zone[order], np.arange(len(zones) + 1))
    for z, zone in enumerate(zones):
        picked = rows[order[bounds[z] : bounds[z + 1]]]
        if len(picked) == 0:
            continue
        utc = pd.DatetimeIndex(ts_ns[picked].view("M8[ns]")).tz_localize("UTC")
        local_ns = utc.tz_convert(zone).tz_localize(None).asi8
        hour[picked] = (local_ns // NS_PER_HOUR) % 24
        weekday[picked] = (local_ns // NS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday (3)
    return hour, weekday


def _sort_order(key_code: np.ndarray, ts_ns: np.ndarray) -> np.ndarray:
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


# --------------------------------------------------------------------------- kernel
_N_WINDOWS = len(COUNT_WINDOWS_DAYS)
_W30 = COUNT_WINDOWS_DAYS.index(30)
_W90 = COUNT_WINDOWS_DAYS.index(90)
_W_LONG = _N_WINDOWS  # LONG_WINDOW_DAYS, appended after the count windows


@numba.njit(cache=True, nogil=True)
def _history_kernel(
    code,  # int64 [n] number key code (sorted)
    ts,  # int64 [n] ns (sorted within code)
    flags,  # uint16 [n] bit flags, see _FLAG_* below
    campaign,  # int64 [n] campaign code, -1 = none
    n_campaigns,
    windows,  # int64 [W] window lengths in ns
    horizon,  # int64 label horizon in ns
    out_pos,  # int64 [n] output row of a query row, -1 otherwise
    counts,  # int32 [4 scopes, W, n_out]
    ints,  # int32 [9, n_out]: streak, short30, compl90, compl_ever, opt90, opt_ever,
    #                           ref90, ref_ever, campaigns30
    floats,  # float64 [4, n_out]: hours_last_contact, hours_last_answered, answer_rate_30d,
    #                              night_share
    labels,  # int8 [2, n_out]: complaint, opt_out
):
    n = len(ts)
    n_w = len(windows)
    camp_count = np.zeros(n_campaigns, dtype=np.int32)
    tot = np.zeros(11, dtype=np.int64)  # totals of everything strictly before the block
    left = np.zeros(n_w, dtype=np.int64)  # each window's left pointer
    behind = np.zeros((n_w, 11), dtype=np.int64)  # totals behind each left pointer
    g0 = 0
    while g0 < n:
        g1 = g0
        while g1 < n and code[g1] == code[g0]:
            g1 += 1
        tot[:] = 0
        left[:] = g0
        behind[:, :] = 0
        last_contact = np.int64(-1)
        has_contact = False
        last_answered = np.int64(-1)
        has_answered = False
        streak = 0
        distinct = 0
        # label pointer: totals of complaints / opt-outs up to `right`
        right = g0
        right_compl = 0
        right_opt = 0
        next_contact = g0  # first contact row index at/after the current block end
        b0 = g0
        while b0 < g1:
            t = ts[b0]
            b1 = b0
            while b1 < g1 and ts[b1] == t:
                b1 += 1
            # advance the window pointers past events older than t - window
            for w in range(n_w):
                lo = t - windows[w]
                while left[w] < b0 and ts[left[w]] < lo:
                    f = flags[left[w]]
                    # branch-free: only the bits this window's features read
                    for bit in range(4):
                        behind[w, bit] += (f >> bit) & 1
                    if w == _W30:
                        behind[w, 5] += (f >> 5) & 1
                        behind[w, 6] += (f >> 6) & 1
                    elif w == _W90:
                        behind[w, 8] += (f >> 8) & 1
                        behind[w, 9] += (f >> 9) & 1
                        behind[w, 10] += (f >> 10) & 1
                    if w == _W30 and (f & 1) and campaign[left[w]] >= 0:
                        c = campaign[left[w]]
                        camp_count[c] -= 1
                        if camp_count[c] == 0:
                            distinct -= 1
                    left[w] += 1
            # label window end: min(t + horizon, next contact strictly after t)
            if next_contact < b1:
                next_contact = b1
            while next_contact < g1 and not (flags[next_contact] & 1):
                next_contact += 1
            end_t = t + horizon
            if next_contact < g1 and ts[next_contact] < end_t:
                end_t = ts[next_contact]
            while right < g1 and ts[right] < end_t:
                f = flags[right]
                if f & (1 << 8):
                    right_compl += 1
                if f & (1 << 9):
                    right_opt += 1
                right += 1
            # features of the query rows of this block, from earlier blocks only
            for i in range(b0, b1):
                o = out_pos[i]
                if o < 0:
                    continue
                for w in range(n_w):
                    counts[0, w, o] = tot[0] - behind[w, 0]  # contacts
                    counts[1, w, o] = tot[1] - behind[w, 1]  # calls
                    counts[2, w, o] = tot[2] - behind[w, 2]  # sms
                    counts[3, w, o] = tot[3] - behind[w, 3]  # marketing
                ints[0, o] = streak
                ints[1, o] = tot[6] - behind[_W30, 6]
                ints[2, o] = tot[8] - behind[_W90, 8]
                ints[3, o] = tot[8]
                ints[4, o] = tot[9] - behind[_W90, 9]
                ints[5, o] = tot[9]
                ints[6, o] = tot[10] - behind[_W90, 10]
                ints[7, o] = tot[10]
                ints[8, o] = distinct
                floats[0, o] = (t - last_contact) / 3.6e12 if has_contact else np.nan
                floats[1, o] = (t - last_answered) / 3.6e12 if has_answered else np.nan
                calls30 = tot[1] - behind[_W30, 1]
                answered30 = tot[5] - behind[_W30, 5]
                floats[2, o] = answered30 / calls30 if calls30 > 0 else np.nan
                floats[3, o] = tot[7] / tot[0] if tot[0] > 0 else np.nan
                # labels: events in [t, end_t); everything before the block is in tot
                labels[0, o] = 1 if right_compl - tot[8] > 0 else 0
                labels[1, o] = 1 if right_opt - tot[9] > 0 else 0
            # add the block to the running totals
            block_answered_call = False
            block_calls = 0
            for i in range(b0, b1):
                f = flags[i]
                for bit in range(11):
                    tot[bit] += (f >> bit) & 1
                if f & 1:
                    last_contact = t
                    has_contact = True
                    c = campaign[i]
                    if c >= 0:
                        if camp_count[c] == 0:
                            distinct += 1
                        camp_count[c] += 1
                if f & (1 << 4):
                    last_answered = t
                    has_answered = True
                if f & (1 << 1):
                    block_calls += 1
                    if f & (1 << 5):
                        block_answered_call = True
            streak = 0 if block_answered_call else streak + block_calls
            b0 = b1
        # forget this number's campaigns still inside the 30-day window
        for i in range(left[_W30], g1):
            if (flags[i] & 1) and campaign[i] >= 0:
                camp_count[campaign[i]] -= 1
        g0 = g1


@numba.njit(cache=True, nogil=True)
def _same_subject_kernel(code, subject, ts, flags, windows, out_pos, counts):
    """Prior contacts with the same (number, subject) per window; rows sorted by
    (code, subject, ts). Bit 0 of ``flags`` = counted history contact."""
    n = len(ts)
    n_w = len(windows)
    left = np.zeros(n_w, dtype=np.int64)
    behind = np.zeros(n_w, dtype=np.int64)
    g0 = 0
    while g0 < n:
        g1 = g0
        while g1 < n and code[g1] == code[g0] and subject[g1] == subject[g0]:
            g1 += 1
        tot = 0
        left[:] = g0
        behind[:] = 0
        b0 = g0
        while b0 < g1:
            t = ts[b0]
            b1 = b0
            while b1 < g1 and ts[b1] == t:
                b1 += 1
            for w in range(n_w):
                lo = t - windows[w]
                while left[w] < b0 and ts[left[w]] < lo:
                    behind[w] += flags[left[w]] & 1
                    left[w] += 1
            for i in range(b0, b1):
                o = out_pos[i]
                if o >= 0:
                    for w in range(n_w):
                        counts[w, o] = tot - behind[w]
            for i in range(b0, b1):
                tot += flags[i] & 1
            b0 = b1
        g0 = g1


@numba.njit(cache=True, nogil=True)
def _consent_kernel(
    q_code, q_ts, q_channel, q_purpose, c_start, c_end, c_granted, c_revoked, c_channel,
    c_purpose, c_type, days, types,
):  # fmt: skip
    """Latest consent per query: granted < t, not revoked < t, channel matches (2 = any),
    purpose matches (0 marketing, 1 service)."""
    for q in range(len(q_code)):
        k = q_code[q]
        t = q_ts[q]
        best = -1
        for j in range(c_start[k], c_end[k]):
            if c_granted[j] >= t:
                continue
            if c_revoked[j] < t:
                continue
            if c_channel[j] != 2 and c_channel[j] != q_channel[q]:
                continue
            if c_purpose[j] != q_purpose[q]:
                continue
            if best < 0 or c_granted[j] >= c_granted[best]:
                best = j
        if best >= 0:
            days[q] = (t - c_granted[best]) / 8.64e13
            types[q] = c_type[best]


# --------------------------------------------------------------------------- assembly
# flag bits of the history kernel
_FLAG_CONTACT, _FLAG_CALL, _FLAG_SMS, _FLAG_MARKETING = 0, 1, 2, 3
_FLAG_ANSWERED, _FLAG_ANSWERED_CALL, _FLAG_SHORT, _FLAG_NIGHT = 4, 5, 6, 7
_FLAG_COMPLAINT, _FLAG_OPT_OUT, _FLAG_REFUSAL = 8, 9, 10


_NEVER = np.iinfo(np.int64).max
#: Codes the query rows' categoricals fall back to (the Event contract's default purpose is
#: marketing; an SMS is always sent by an automated platform, so whatever a row says its
#: dial mode is "not applicable", the missing code — in training frames and serving alike).
_MARKETING_CODE = FEATURES_BY_NAME["purpose"].vocabulary.index("marketing")  # type: ignore[union-attr]
_SMS_CODE = FEATURES_BY_NAME["channel"].vocabulary.index("sms")  # type: ignore[union-attr]


@dataclass
class _ConsentArrays:
    """Consent rows ordered by (history key, grant time), with each key's row range."""

    starts: np.ndarray  # int64 per history key code
    ends: np.ndarray
    granted: np.ndarray  # int64 ns
    revoked: np.ndarray  # int64 ns, int64 max = never
    channel: np.ndarray  # int64: 0 call, 1 sms, 2 any
    purpose: np.ndarray  # int64: 0 marketing, 1 service
    type: np.ndarray  # int16 consent_type codes


@dataclass
class _Prepared:
    """The kernels' inputs, however they were gathered (a frame or a few records).

    Rows are events and query pseudo-contacts in any order; ``q_*`` arrays hold one value
    per query row (in ``query_rows`` order), already encoded as the model sees them.
    """

    key_code: np.ndarray  # int64 per row: same code = same history
    ts: np.ndarray  # int64 ns per row
    flags: np.ndarray  # uint16 per row, _FLAG_* bits; 0 for query rows
    campaign: np.ndarray  # int64 per row: campaign code of a history contact, else -1
    n_campaigns: int
    subject: np.ndarray  # int64 per row: subject code (used on contact and query rows)
    is_contact: np.ndarray  # bool per row: history contacts and query pseudo-contacts
    query_rows: np.ndarray  # int64
    q_hour: np.ndarray
    q_weekday: np.ndarray
    q_channel: np.ndarray  # int64: 0 call, 1 sms, -1 other
    q_purpose: np.ndarray  # int64: 0 marketing, 1 service
    q_codes: dict[str, np.ndarray]  # channel, purpose, dial_mode, region, line_type codes
    consent: _ConsentArrays | None


def _compute(
    frame: pd.DataFrame,
    is_query: np.ndarray,
    is_history: np.ndarray,
    consent: pd.DataFrame | None,
    horizon_ns: int,
    progress: Progress | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The shared core: features (and labels) of the ``is_query`` rows, in row order,
    from the ``is_history`` rows strictly before each. Returns (columns, labels[2, n_q])."""
    say = progress or (lambda _msg: None)
    prepared = _prepare_frame(frame, is_query, is_history, consent, say)
    return _features_from_arrays(prepared, horizon_ns, say)


def _prepare_frame(
    frame: pd.DataFrame,
    is_query: np.ndarray,
    is_history: np.ndarray,
    consent: pd.DataFrame | None,
    say: Progress,
) -> _Prepared:
    """Kernel inputs from a frame, vectorised (training frames of millions of rows)."""
    n = len(frame)
    say("normalising numbers")
    numbers = number_table(frame["number"])
    ts = _instants_ns(frame["ts"], "events ts")

    say("classifying events")
    kind = _Coded(frame["kind"])
    is_contact = kind.equals("contact")
    channel = _column(frame, "channel")
    is_call = is_contact & _equals(channel, "call")
    is_sms = is_contact & _equals(channel, "sms")
    purpose = _column(frame, "purpose")
    is_service = _equals(purpose, "service")
    answered = is_contact & _equals(_column(frame, "outcome"), "answered")
    duration = pd.to_numeric(_column(frame, "duration_s"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    short = answered & (duration < SHORT_HANGUP_SECONDS)
    opt_out = kind.equals("opt_out")
    reply_rows = np.flatnonzero(kind.equals("reply") & is_history)
    if len(reply_rows):
        from features.replies import classify_replies

        texts = _column(frame, "text").iloc[reply_rows].reset_index(drop=True)
        regions = pd.Series(numbers.raw_region[numbers.raw_code[reply_rows]], dtype=object)
        opt_out[reply_rows] |= _equals(classify_replies(texts, regions), "opt_out")

    contact_rows = np.flatnonzero(is_contact)
    hour, weekday = _local_hour_weekday(ts, numbers.zone_code, numbers.zones, contact_rows)
    night = is_contact & ((hour >= NIGHT_START_HOUR) | (hour < NIGHT_END_HOUR))

    flags = np.zeros(n, dtype=np.uint16)
    for bit, mask in (
        (_FLAG_CONTACT, is_contact),
        (_FLAG_CALL, is_call),
        (_FLAG_SMS, is_sms),
        (_FLAG_MARKETING, is_contact & ~is_service),
        (_FLAG_ANSWERED, answered),
        (_FLAG_ANSWERED_CALL, answered & is_call),
        (_FLAG_SHORT, short),
        (_FLAG_NIGHT, night),
        (_FLAG_COMPLAINT, kind.equals("complaint")),
        (_FLAG_OPT_OUT, opt_out),
        (_FLAG_REFUSAL, kind.equals("refusal")),
    ):
        flags |= (mask & is_history).astype(np.uint16) << bit
    campaign_codes, campaign_uniques = pd.factorize(_column(frame, "campaign_id"))
    campaign_codes = np.where(is_contact & is_history, campaign_codes, -1).astype(np.int64)
    subject_codes = _subject_codes(_column(frame, "subject"), _column(frame, "campaign_id"))

    query_rows = np.flatnonzero(is_query)
    q_channel = np.where(is_call[query_rows], 0, np.where(is_sms[query_rows], 1, -1))
    q_purpose = _equals(purpose.iloc[query_rows], "service").astype(np.int64)  # else marketing
    channel_codes = _encode_rows("channel", channel, query_rows)
    own_purpose = _encode_rows("purpose", purpose, query_rows)
    own_purpose[own_purpose == missing_code("purpose")] = _MARKETING_CODE
    own_dial = _encode_rows("dial_mode", _column(frame, "dial_mode"), query_rows)
    own_dial[channel_codes == _SMS_CODE] = missing_code("dial_mode")
    return _Prepared(
        key_code=numbers.key_code,
        ts=ts,
        flags=flags,
        campaign=campaign_codes,
        n_campaigns=len(campaign_uniques),
        subject=subject_codes.astype(np.int64, copy=False),
        is_contact=is_contact,
        query_rows=query_rows,
        q_hour=hour[query_rows],
        q_weekday=weekday[query_rows],
        q_channel=q_channel.astype(np.int64),
        q_purpose=q_purpose,
        q_codes={
            "channel": channel_codes,
            "purpose": own_purpose,
            "dial_mode": own_dial,
            "region": numbers.region_code[query_rows],
            "line_type": numbers.line_type_code[query_rows],
        },
        consent=_consent_arrays(consent, numbers) if len(query_rows) and n else None,
    )


def _features_from_arrays(
    p: _Prepared, horizon_ns: int, say: Progress
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Run the kernels on prepared inputs; the feature columns of the query rows."""
    n = len(p.ts)
    query_rows = p.query_rows
    n_q = len(query_rows)
    out_pos = np.full(n, -1, dtype=np.int64)
    out_pos[query_rows] = np.arange(n_q)
    windows = np.array([d * NS_PER_DAY for d in COUNT_WINDOWS_DAYS], dtype=np.int64)
    # the history kernel also counts the long window (its last index, _W_LONG)
    history_windows = np.append(windows, np.int64(LONG_WINDOW_DAYS * NS_PER_DAY))

    say("sorting by number and time")
    order = _sort_order(p.key_code, p.ts)

    say("rolling windows")
    counts = np.zeros((len(_COUNT_SCOPES), _N_WINDOWS + 1, n_q), dtype=np.int32)
    ints = np.zeros((9, n_q), dtype=np.int32)
    floats = np.full((4, n_q), np.nan, dtype=np.float64)
    labels = np.zeros((2, n_q), dtype=np.int8)
    _history_kernel(
        p.key_code[order],
        p.ts[order],
        p.flags[order],
        p.campaign[order],
        max(p.n_campaigns, 1),
        history_windows,
        np.int64(horizon_ns),
        out_pos[order],
        counts,
        ints,
        floats,
        labels,
    )
    del order

    say("same-subject windows")
    rows = np.flatnonzero(p.is_contact)  # history contacts and query pseudo-contacts
    subject_group = p.key_code[rows] * (int(p.subject.max(initial=0)) + 1)
    subject_group += p.subject[rows]
    sub_order = rows[_sort_order(subject_group, p.ts[rows])]
    same_subject = np.zeros((_N_WINDOWS, n_q), dtype=np.int32)
    _same_subject_kernel(
        p.key_code[sub_order],
        p.subject[sub_order],
        p.ts[sub_order],
        p.flags[sub_order] & np.uint16(1),
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
    for s, scope in enumerate(_COUNT_SCOPES):
        for w, d in enumerate(COUNT_WINDOWS_DAYS):
            columns[f"{scope}_{d}d"] = counts[s, w]
    for w, d in enumerate(COUNT_WINDOWS_DAYS):
        columns[f"same_subject_contacts_{d}d"] = same_subject[w]
    for s, scope in enumerate(_COUNT_SCOPES):
        if scope in ("contacts", "marketing_contacts"):
            columns[f"{scope}_90d_to_{LONG_WINDOW_DAYS}d"] = counts[s, _W_LONG] - counts[s, _W90]
    columns["hours_since_last_contact"] = floats[0]
    columns["hours_since_last_answered"] = floats[1]
    columns["answer_rate_30d"] = floats[2]
    columns["night_share"] = floats[3]
    for j, name in enumerate(
        (
            "unanswered_streak",
            "short_hangups_30d",
            "complaints_90d",
            "complaints_ever",
            "opt_outs_90d",
            "opt_outs_ever",
            "refusals_90d",
            "refusals_ever",
            "distinct_campaigns_30d",
        )
    ):
        columns[name] = ints[j]
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


def _consent_arrays(consent: pd.DataFrame | None, numbers: NumberTable) -> _ConsentArrays | None:
    """The consent rows of numbers in ``numbers`` (another spelling counts), kernel-ready."""
    if consent is None or len(consent) == 0:
        return None
    code = numbers.codes_of(consent["number"])
    keep = code >= 0
    if not keep.any():
        return None
    c = consent.iloc[np.flatnonzero(keep)]
    code = code[keep].astype(np.int64)
    granted = _instants_ns(c["granted_at"], "consent granted_at")
    revoked_series = _column(c, "revoked_at")
    revoked = np.full(len(c), _NEVER, dtype=np.int64)
    has_revoked = revoked_series.notna().to_numpy(dtype=bool)
    if has_revoked.any():
        revoked[has_revoked] = _instants_ns(revoked_series[has_revoked], "consent revoked_at")
    scope = _column(c, "channel").fillna("any")
    c_channel = np.where(_equals(scope, "call"), 0, np.where(_equals(scope, "sms"), 1, 2))
    c_purpose = _equals(_column(c, "purpose"), "service").astype(np.int64)  # default marketing
    c_type = encode_categorical("consent_type", _column(c, "type").reset_index(drop=True))
    return _sorted_consent(code, len(numbers.keys), granted, revoked, c_channel, c_purpose, c_type)


def _sorted_consent(
    code: np.ndarray,
    n_keys: int,
    granted: np.ndarray,
    revoked: np.ndarray,
    channel: np.ndarray,
    purpose: np.ndarray,
    types: np.ndarray,
) -> _ConsentArrays:
    order = np.lexsort((granted, code))
    code_sorted = code[order]
    return _ConsentArrays(
        starts=np.searchsorted(code_sorted, np.arange(n_keys), side="left"),
        ends=np.searchsorted(code_sorted, np.arange(n_keys), side="right"),
        granted=granted[order],
        revoked=revoked[order],
        channel=channel[order].astype(np.int64),
        purpose=purpose[order].astype(np.int64),
        type=types[order],
    )


def _consent_features(
    consent: _ConsentArrays | None,
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
    _consent_kernel(
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


# --------------------------------------------------------------------------- public API
def build_training_frame(
    events: pd.DataFrame,
    consent: pd.DataFrame | None = None,
    horizon: str = "7D",
    progress: bool = False,
) -> pd.DataFrame:
    """One row per outbound contact (``kind == "contact"``), in the events' row order.

    Columns: ``event_id``, ``number``, ``ts``, every :data:`FEATURE_NAMES` column (numeric;
    categoricals as fixed-vocabulary codes; missing as NaN), ``complaint_7d`` and
    ``opt_out_7d`` (int8; named after the 7-day default whatever ``horizon`` is), and the
    oracle and observable-ceiling probabilities when the events carry them. ``events`` is a frame as
    :func:`features.io.load_events` returns it.
    """
    say = _console_progress() if progress else None
    return _training_frame(events, consent, horizon, say)


def _training_frame(
    events: pd.DataFrame, consent: pd.DataFrame | None, horizon: str, say: Progress | None
) -> pd.DataFrame:
    horizon_ns = int(pd.Timedelta(horizon).value)
    if horizon_ns <= 0:
        raise ValueError(f"horizon {horizon!r} must be positive")
    frame = events[[c for c in _EVENT_COLUMNS if c in events.columns]]
    is_contact = _equals(frame["kind"], "contact")
    columns, labels = _compute(
        frame, is_contact, np.ones(len(frame), dtype=bool), consent, horizon_ns, say
    )
    rows = np.flatnonzero(is_contact)
    out: dict[str, object] = {
        "event_id": _column(events, "event_id").iloc[rows].reset_index(drop=True),
        "number": events["number"].iloc[rows].reset_index(drop=True),
        "ts": events["ts"].iloc[rows].reset_index(drop=True),
    }
    out.update(columns)
    out[TARGETS[0]] = labels[0]
    out[TARGETS[1]] = labels[1]
    for oracle in (*ORACLE_COLUMNS.values(), *CEILING_COLUMNS.values()):
        if oracle in events.columns:
            out[oracle] = pd.to_numeric(events[oracle].iloc[rows], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan
            )
    return pd.DataFrame(out)


_CANDIDATE_DEFAULTS = {"purpose": "marketing", "dial_mode": "manual"}


def features_as_of(
    events: pd.DataFrame,
    candidates: pd.DataFrame,
    consent: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of candidate contacts, each as of its own instant ``at``.

    ``candidates`` has ``number``, ``channel``, ``at`` (UTC; may differ per row) and
    optionally ``purpose`` (default marketing), ``dial_mode`` (default manual), ``subject``
    (default: the row's ``campaign_id``, else ``"default"``) and ``campaign_id``. Returns the
    :data:`FEATURE_NAMES` columns with the candidates' index and row order. Candidates are
    appended to the history as pseudo-contacts that nothing can see, and the training
    kernel runs unchanged — so a candidate gets exactly the row a real contact at ``at``
    would get in :func:`build_training_frame`.
    """
    missing = [c for c in ("number", "channel", "at") if c not in candidates.columns]
    if missing:
        raise ValueError(f"candidates: missing column(s) {missing}")
    n_c = len(candidates)
    campaign = _column(candidates, "campaign_id").astype(object)
    subject = (
        candidates["subject"].astype(object)
        if "subject" in candidates.columns
        else campaign.where(campaign.notna(), "default")
    )
    pseudo: dict[str, np.ndarray] = {
        "number": candidates["number"].to_numpy(dtype=object),
        "kind": np.full(n_c, "contact", dtype=object),
        "channel": candidates["channel"].to_numpy(dtype=object),
        "purpose": _with_default(candidates, "purpose"),
        "dial_mode": _with_default(candidates, "dial_mode"),
        "subject": subject.to_numpy(dtype=object),
        "campaign_id": campaign.to_numpy(dtype=object),
    }
    at = pd.DatetimeIndex(candidates["at"])
    if at.tz is None:
        raise ValueError("candidates: 'at' must be timezone-aware (UTC)")
    history = events[[c for c in _EVENT_COLUMNS if c in events.columns]]
    # one frame, history then candidates, each column keeping the history's dtype
    combined: dict[str, pd.Series] = {}
    for name in _EVENT_COLUMNS:
        if name == "ts":
            ts_ns = np.concatenate(
                [_instants_ns(history["ts"], "events ts"), at.tz_convert("UTC").as_unit("ns").asi8]
            )
            combined["ts"] = pd.Series(pd.DatetimeIndex(ts_ns.view("M8[ns]")).tz_localize("UTC"))
            continue
        tail = pseudo.get(name, np.full(n_c, None, dtype=object))
        if name in history.columns:
            head_column = history[name]
            if name in pseudo and not pd.api.types.is_string_dtype(head_column.dtype):
                head_column = head_column.astype(object)  # e.g. an all-missing float column
            part = pd.Series(tail, dtype=head_column.dtype)
            combined[name] = pd.concat([head_column, part], ignore_index=True)
        elif name in pseudo:
            head = np.full(len(history), None, dtype=object)
            combined[name] = pd.Series(np.concatenate([head, tail]), dtype="str")
    frame = pd.DataFrame(combined, copy=False)
    n_h = len(history)
    is_query = np.zeros(n_h + n_c, dtype=bool)
    is_query[n_h:] = True
    columns, _labels = _compute(frame, is_query, ~is_query, consent, NS_PER_DAY)
    return pd.DataFrame(columns, index=candidates.index)


def _with_default(candidates: pd.DataFrame, name: str) -> np.ndarray:
    if name not in candidates.columns:
        return np.full(len(candidates), _CANDIDATE_DEFAULTS[name], dtype=object)
    values = candidates[name].astype(object)
    return values.where(values.notna(), _CANDIDATE_DEFAULTS[name]).to_numpy(dtype=object)


# --------------------------------------------------------------------------- few records
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
def _positions(feature: str) -> dict[str, int]:
    vocabulary = FEATURES_BY_NAME[feature].vocabulary or ()
    return {value: i for i, value in enumerate(vocabulary)}


def _code(feature: str, value: str | None) -> int:
    """:func:`encode_categorical` of one value (unknown and missing codes alike)."""
    positions = _positions(feature)
    if value is None:
        return len(positions) + 1
    return positions.get(value, len(positions))


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

    The same kernels run on the same inputs as in :func:`features_as_of`; only gathering
    them differs: plain loops instead of frame operations, which cost more than the kernels
    themselves on a request-sized history (one dial: ~20 ms of pandas for ~0.1 ms of work).
    ``tests/features/test_features_records.py`` checks the two agree on random histories.
    Returns the :data:`FEATURE_NAMES` columns in candidate order.
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
                    _zone(record.time_zones[0] if record.time_zones else "UTC"),
                    record.region,
                )
            )
    campaigns: dict[str, int] = {}
    subjects: dict[str, int] = {}

    def subject_code(subject: str | None, campaign: str | None) -> int:
        text = subject if subject is not None else campaign if campaign is not None else "default"
        return subjects.setdefault(text, len(subjects))

    key_code: list[int] = []
    ts: list[int] = []
    flags: list[int] = []
    campaign: list[int] = []
    subject: list[int] = []
    is_contact: list[bool] = []
    for key, events in histories.items():
        k = keys[key]
        zone, region = facts[k][2], facts[k][3]
        for e in events:
            kind = e.kind
            contact = kind == "contact"
            f = 0
            if contact:
                f = 1 << _FLAG_CONTACT
                call = e.channel == "call"
                if call:
                    f |= 1 << _FLAG_CALL
                elif e.channel == "sms":
                    f |= 1 << _FLAG_SMS
                if e.purpose != "service":
                    f |= 1 << _FLAG_MARKETING
                if e.outcome == "answered":
                    f |= 1 << _FLAG_ANSWERED
                    if call:
                        f |= 1 << _FLAG_ANSWERED_CALL
                    d = e.duration_s
                    if d is not None and d == d and float(d) < SHORT_HANGUP_SECONDS:
                        f |= 1 << _FLAG_SHORT
                hour = e.ts.astimezone(zone).hour
                if hour >= NIGHT_START_HOUR or hour < NIGHT_END_HOUR:
                    f |= 1 << _FLAG_NIGHT
                c = e.campaign_id
                campaign.append(-1 if c is None else campaigns.setdefault(c, len(campaigns)))
                subject.append(subject_code(e.subject, c))
            else:
                campaign.append(-1)
                subject.append(0)
                if kind == "complaint":
                    f = 1 << _FLAG_COMPLAINT
                elif kind == "opt_out":
                    f = 1 << _FLAG_OPT_OUT
                elif kind == "refusal":
                    f = 1 << _FLAG_REFUSAL
                elif kind == "reply" and classify_reply(e.text, region) == "opt_out":
                    f = 1 << _FLAG_OPT_OUT
            key_code.append(k)
            ts.append(_ns(e.ts, "events ts"))
            flags.append(f)
            is_contact.append(contact)

    n_q = len(candidates)
    first_query = len(ts)
    q_hour = np.zeros(n_q, dtype=np.int8)
    q_weekday = np.zeros(n_q, dtype=np.int8)
    q_channel = np.zeros(n_q, dtype=np.int64)
    q_purpose = np.zeros(n_q, dtype=np.int64)
    q_codes = {name: np.zeros(n_q, dtype=np.int16) for name in _QUERY_CODES}
    for i, (key, c) in enumerate(zip(numbers, candidates, strict=True)):
        k = keys[key]
        at = c.at
        key_code.append(k)
        ts.append(_ns(at, "candidates at"))
        flags.append(0)
        campaign.append(-1)
        subject.append(subject_code(c.subject, c.campaign_id))
        is_contact.append(True)
        local = at.astimezone(facts[k][2])
        q_hour[i] = local.hour
        q_weekday[i] = local.weekday()
        q_channel[i] = 0 if c.channel == "call" else 1 if c.channel == "sms" else -1
        purpose = c.purpose if c.purpose is not None else _CANDIDATE_DEFAULTS["purpose"]
        q_purpose[i] = purpose == "service"
        channel_code = _code("channel", c.channel)
        dial_mode = c.dial_mode if c.dial_mode is not None else _CANDIDATE_DEFAULTS["dial_mode"]
        q_codes["channel"][i] = channel_code
        q_codes["purpose"][i] = _code("purpose", purpose)
        q_codes["dial_mode"][i] = (
            missing_code("dial_mode")
            if channel_code == _SMS_CODE
            else _code("dial_mode", dial_mode)
        )
        q_codes["region"][i] = facts[k][0]
        q_codes["line_type"][i] = facts[k][1]

    prepared = _Prepared(
        key_code=np.asarray(key_code, dtype=np.int64),
        ts=np.asarray(ts, dtype=np.int64),
        flags=np.asarray(flags, dtype=np.uint16),
        campaign=np.asarray(campaign, dtype=np.int64),
        n_campaigns=len(campaigns),
        subject=np.asarray(subject, dtype=np.int64),
        is_contact=np.asarray(is_contact, dtype=bool),
        query_rows=np.arange(first_query, first_query + n_q, dtype=np.int64),
        q_hour=q_hour,
        q_weekday=q_weekday,
        q_channel=q_channel,
        q_purpose=q_purpose,
        q_codes=q_codes,
        consent=_consent_of_records(consents or {}, keys) if n_q else None,
    )
    columns, _labels = _features_from_arrays(prepared, NS_PER_DAY, lambda _msg: None)
    return columns


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


_QUERY_CODES = ("channel", "purpose", "dial_mode", "region", "line_type")


def _consent_of_records(
    consents: Mapping[str, Sequence[Any]], keys: dict[str, int]
) -> _ConsentArrays | None:
    code: list[int] = []
    granted: list[int] = []
    revoked: list[int] = []
    channel: list[int] = []
    purpose: list[int] = []
    types: list[int] = []
    for key, records in consents.items():
        k = keys.get(key)
        if k is None:
            continue
        for r in records:
            code.append(k)
            granted.append(_ns(r.granted_at, "consent granted_at"))
            revoked.append(
                _NEVER if r.revoked_at is None else _ns(r.revoked_at, "consent revoked_at")
            )
            channel.append(0 if r.channel == "call" else 1 if r.channel == "sms" else 2)
            purpose.append(1 if r.purpose == "service" else 0)
            types.append(_code("consent_type", r.type))
    if not code:
        return None
    return _sorted_consent(
        np.asarray(code, dtype=np.int64),
        len(keys),
        np.asarray(granted, dtype=np.int64),
        np.asarray(revoked, dtype=np.int64),
        np.asarray(channel, dtype=np.int64),
        np.asarray(purpose, dtype=np.int64),
        np.asarray(types, dtype=np.int16),
    )


# --------------------------------------------------------------------------- CLI
def _console_progress() -> Progress:
    """A plain progress printer (stderr) for library callers who ask for progress."""
    import sys

    def say(message: str) -> None:
        print(f"features: {message}", file=sys.stderr, flush=True)

    return say


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``contactgate features``."""
    parser.add_argument(
        "--events", type=Path, required=True, help="event file (CSV or Parquet, Event contract)"
    )
    parser.add_argument(
        "--consent", type=Path, help="consent file (CSV or Parquet, Consent contract); optional"
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="where to write the training frame (.parquet)"
    )
    parser.add_argument(
        "--horizon", default="7D", help="label attribution window after each contact"
    )
    parser.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: in this process; dask: per number-partition on a Dask cluster",
    )
    parser.add_argument(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786); default: a local cluster of 2 workers",
    )
    parser.add_argument(
        "--partitions", type=int, default=8, help="dask engine: number of number-partitions"
    )


def run(args: argparse.Namespace) -> int:
    """Load, build, write; with a rich progress bar over the build's stages."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from features.io import load_events, load_records

    if args.out.suffix.lower() not in (".parquet", ".pq"):
        raise ValueError(f"{args.out}: the training frame is written as Parquet (.parquet)")
    stages = (
        "loading events",
        "loading consent",
        "normalising numbers",
        "classifying events",
        "sorting by number and time",
        "rolling windows",
        "same-subject windows",
        "consent",
        "writing",
    )
    with Progress(
        TextColumn("[bold]features[/bold] {task.description:<28}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ) as bar:
        task = bar.add_task(stages[0], total=len(stages))

        def say(message: str) -> None:
            done = stages.index(message) if message in stages else bar.tasks[0].completed
            bar.update(task, description=message, completed=done)

        say("loading events")
        events = load_events(args.events).frame
        say("loading consent")
        consent = load_records(args.consent, "consent").frame if args.consent else None
        if args.engine == "dask":
            from features.dask_engine import build_training_frame_dask

            say("rolling windows")
            frame = build_training_frame_dask(
                events,
                consent,
                horizon=args.horizon,
                npartitions=args.partitions,
                scheduler=args.scheduler,
            )
        else:
            frame = _training_frame(events, consent, args.horizon, say)
        say("writing")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        try:
            frame.to_parquet(args.out, index=False)
        except OSError as exc:
            raise ValueError(f"{args.out}: cannot be written: {exc}") from exc
        bar.update(task, completed=len(stages), description="done")
    contacts = len(frame)
    rates = {t: float(frame[t].mean()) if contacts else 0.0 for t in TARGETS}
    print(
        f"wrote {args.out}: {contacts:,} contacts × {len(FEATURE_NAMES)} features; "
        + ", ".join(f"{t} rate {r:.4f}" for t, r in rates.items())
    )
    return 0


__all__ = [
    "CATEGORICAL_FEATURES",
    "FEATURE_NAMES",
    "build_training_frame",
    "features_as_of",
    "features_of_records",
    "warm_up",
    "number_table",
]
