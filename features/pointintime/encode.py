"""Events and candidates as the kernels read them: the one encoder of both input paths.

The frame path (:mod:`features.pointintime.frame`, millions of rows in pandas columns) and
the records path (:mod:`features.pointintime.records`, a request's few Python records) both
hand their columns to the functions here, so the rules below are written once:

* :func:`event_flags`: which :class:`~features.pointintime.kernels.Flag` bits an event sets —
  a contact (by call / SMS), marketing unless its purpose is service or an opt-out
  confirmation (marketing is the Event contract's default), answered, a short hang-up
  (answered, under ``SHORT_HANGUP_SECONDS``), at night local time, a complaint, an opt-out
  or a reply that reads as one, a refusal;
* :func:`subject_codes`: the subject a contact is about (:func:`features.schema.subject_of`);
* :data:`CANDIDATE_DEFAULTS` and :func:`query_codes`: a candidate's purpose (marketing) and
  dial mode (manual) when not given; an SMS has no dial mode (always automated), so whatever a
  row says its ``dial_mode`` is the missing code — in training frames and serving alike;
* :func:`consent_codes`: a consent's channel scope and purpose as the consent kernel reads them.

A column is anything with ``equals(value) -> bool array`` (missing values compare False):
:class:`Coded` / :class:`SeriesColumn` over pandas, :class:`ValuesColumn` over a list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import pandas as pd

from features.definitions import (
    FEATURES_BY_NAME,
    NIGHT_END_HOUR,
    NIGHT_START_HOUR,
    SHORT_HANGUP_SECONDS,
    encode_categorical,
    missing_code,
)
from features.pointintime.kernels import (
    CHANNEL_ANY,
    CHANNEL_CALL,
    CHANNEL_SMS,
    PURPOSE_MARKETING,
    PURPOSE_SERVICE,
    Flag,
)
from features.schema import NON_MARKETING_PURPOSES, subject_of

#: What a candidate contact is when it does not say (the Event contract's defaults).
CANDIDATE_DEFAULTS = {"purpose": "marketing", "dial_mode": "manual"}
#: Categorical features of a query row that come from the row itself (not its history).
QUERY_CODES = ("channel", "purpose", "dial_mode", "region", "line_type")
_MARKETING_CODE = FEATURES_BY_NAME["purpose"].vocabulary.index("marketing")  # type: ignore[union-attr]
_SERVICE_CODE = FEATURES_BY_NAME["purpose"].vocabulary.index("service")  # type: ignore[union-attr]
_CALL_CODE = FEATURES_BY_NAME["channel"].vocabulary.index("call")  # type: ignore[union-attr]
_SMS_CODE = FEATURES_BY_NAME["channel"].vocabulary.index("sms")  # type: ignore[union-attr]


class Column(Protocol):
    def equals(self, value: str) -> np.ndarray:
        """``column == value`` as a bool array; missing → False."""
        ...


class SeriesColumn:
    """A pandas column compared value by value (fast on pandas-3 strings)."""

    def __init__(self, series: pd.Series) -> None:
        self.series = series

    def equals(self, value: str) -> np.ndarray:
        return equals(self.series, value)


class ValuesColumn:
    """A few Python values (the records path)."""

    def __init__(self, values: Sequence[object]) -> None:
        self.values = np.empty(len(values), dtype=object)
        self.values[:] = list(values)

    def equals(self, value: str) -> np.ndarray:
        return np.asarray(self.values == value, dtype=bool)


class Coded:
    """A string column factorised once; comparisons and encodings then run on int codes
    (one hash pass over 10 M strings instead of one per comparison)."""

    def __init__(self, series: pd.Series) -> None:
        self.codes, uniques = pd.factorize(series)
        self.uniques = pd.Index(uniques)
        self._position = {value: i for i, value in enumerate(self.uniques.tolist())}

    def equals(self, value: str) -> np.ndarray:
        position = self._position.get(value)
        if position is None:
            return np.zeros(len(self.codes), dtype=bool)
        return self.codes == position

    def encode(self, feature: str) -> np.ndarray:
        """Fixed-vocabulary codes of feature ``feature`` (see ``encode_categorical``)."""
        lookup = encode_categorical(feature, pd.Series(self.uniques, dtype=object))
        lookup = np.append(lookup, np.int16(missing_code(feature)))
        return lookup[self.codes]  # code -1 (missing) → the appended missing code


def equals(series: pd.Series, value: str) -> np.ndarray:
    """``series == value`` as a bool array, missing → False (fast on pandas-3 strings)."""
    return (series == value).fillna(False).to_numpy(dtype=bool)


def _any_equal(values: Column, options: Sequence[str]) -> np.ndarray:
    """``values`` equal to any of ``options`` (missing → False)."""
    out = values.equals(options[0])
    for option in options[1:]:
        out = out | values.equals(option)
    return out


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or an all-missing column when the frame has none."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(np.full(len(frame), None, dtype=object), index=frame.index)


class EncodedEvents:
    """:func:`event_flags`' result: the kernel flags and the row classes the callers reuse."""

    def __init__(self, flags: np.ndarray, is_contact: np.ndarray, is_call: np.ndarray,
                 is_sms: np.ndarray) -> None:  # fmt: skip
        self.flags = flags
        self.is_contact = is_contact
        self.is_call = is_call
        self.is_sms = is_sms


def event_flags(
    kind: Column,
    channel: Column,
    purpose: Column,
    outcome: Column,
    duration_s: np.ndarray,
    local_hour: Callable[[np.ndarray], np.ndarray],
    opt_out_replies: Callable[[np.ndarray], np.ndarray],
    counted: np.ndarray | None = None,
) -> EncodedEvents:
    """The :class:`Flag` bits of every row.

    ``duration_s``: talk time as float (NaN when missing); ``local_hour(rows)``: the local
    hour of the contact rows ``rows`` (in the number's feature time zone);
    ``opt_out_replies(rows)``: which of the counted reply rows ``rows`` read as an opt-out.
    ``counted`` (default all): rows the history holds; the others (query pseudo-contacts)
    get no flags.
    """
    is_contact = kind.equals("contact")
    n = len(is_contact)
    counted = np.ones(n, dtype=bool) if counted is None else counted
    is_call = is_contact & channel.equals("call")
    is_sms = is_contact & channel.equals("sms")
    answered = is_contact & outcome.equals("answered")
    with np.errstate(invalid="ignore"):
        short = answered & (duration_s < SHORT_HANGUP_SECONDS)
    opt_out = kind.equals("opt_out")
    reply_rows = np.flatnonzero(kind.equals("reply") & counted)
    if len(reply_rows):
        opt_out[reply_rows] |= opt_out_replies(reply_rows)
    contact_rows = np.flatnonzero(is_contact)
    night = np.zeros(n, dtype=bool)
    if len(contact_rows):
        hour = local_hour(contact_rows)
        night[contact_rows] = (hour >= NIGHT_START_HOUR) | (hour < NIGHT_END_HOUR)
    flags = np.zeros(n, dtype=np.uint16)
    for bit, mask in (
        (Flag.CONTACT, is_contact),
        (Flag.CALL, is_call),
        (Flag.SMS, is_sms),
        (Flag.MARKETING, is_contact & ~_any_equal(purpose, NON_MARKETING_PURPOSES)),
        (Flag.ANSWERED, answered),
        (Flag.ANSWERED_CALL, answered & is_call),
        (Flag.SHORT, short),
        (Flag.NIGHT, night),
        (Flag.COMPLAINT, kind.equals("complaint")),
        (Flag.OPT_OUT, opt_out),
        (Flag.REFUSAL, kind.equals("refusal")),
    ):
        flags |= (mask & counted).astype(np.uint16) << int(bit)
    return EncodedEvents(flags, is_contact, is_call, is_sms)


def subject_codes(
    subject: pd.Series | Sequence[str | None], campaign: pd.Series | Sequence[str | None]
) -> np.ndarray:
    """Integer codes of each row's :func:`~features.schema.subject_of` (equal subjects, equal
    codes, whichever column they came from).

    Columns (the frame path) are factorised and ``subject_of`` applied once per distinct
    (subject, campaign) pair; a request's few values (lists) go one by one.
    """
    if not isinstance(subject, pd.Series):
        vocabulary: dict[str, int] = {}
        codes = [
            vocabulary.setdefault(subject_of(s, c), len(vocabulary))
            for s, c in zip(subject, campaign, strict=True)
        ]
        return np.asarray(codes, dtype=np.int64)
    s_codes, s_uniques = pd.factorize(subject)
    s_list = list(s_uniques)
    if (s_codes >= 0).all() and "" not in s_list:
        return s_codes.astype(np.int64, copy=False)  # every row has its own subject
    c_codes, c_uniques = pd.factorize(pd.Series(campaign, copy=False))
    c_list = list(c_uniques)
    width = len(c_list) + 1
    pair_codes, pairs = pd.factorize((s_codes.astype(np.int64) + 1) * width + (c_codes + 1))
    texts = [
        subject_of(
            s_list[p // width - 1] if p // width else None,
            c_list[p % width - 1] if p % width else None,
        )
        for p in np.asarray(pairs).tolist()
    ]
    text_codes, _ = pd.factorize(pd.Series(texts, dtype=object))
    return text_codes.astype(np.int64)[pair_codes]


def with_candidate_default(name: str, values: pd.Series | Sequence[object]) -> np.ndarray:
    """``values`` (an object array) with :data:`CANDIDATE_DEFAULTS` ``[name]`` where missing."""
    default = CANDIDATE_DEFAULTS[name]
    if isinstance(values, pd.Series):
        values = values.astype(object)
        return values.where(values.notna(), default).to_numpy(dtype=object)
    out = np.empty(len(values), dtype=object)
    out[:] = [default if v is None or v != v else v for v in values]  # v != v: NaN
    return out


def query_codes(
    channel_code: np.ndarray, purpose_code: np.ndarray, dial_code: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """A query row's own categorical codes with the defaults applied (no purpose: marketing;
    an SMS: no dial mode), and its channel / purpose as the consent kernel reads them.
    Returns (codes by feature, channel, purpose)."""
    purpose_code = np.where(
        purpose_code == missing_code("purpose"), _MARKETING_CODE, purpose_code
    ).astype(np.int16)
    dial_code = np.where(channel_code == _SMS_CODE, missing_code("dial_mode"), dial_code)
    q_channel = np.where(
        channel_code == _CALL_CODE,
        CHANNEL_CALL,
        np.where(channel_code == _SMS_CODE, CHANNEL_SMS, -1),
    )
    q_purpose = np.where(purpose_code == _SERVICE_CODE, PURPOSE_SERVICE, PURPOSE_MARKETING)
    codes = {
        "channel": channel_code.astype(np.int16),
        "purpose": purpose_code,
        "dial_mode": dial_code.astype(np.int16),
    }
    return codes, q_channel.astype(np.int64), q_purpose.astype(np.int64)


def consent_codes(channel: Column, purpose: Column) -> tuple[np.ndarray, np.ndarray]:
    """(channel scope, purpose) of consent rows: a scope other than call / SMS (``any``,
    missing) covers both; a purpose other than service is marketing."""
    c_channel = np.where(
        channel.equals("call"),
        CHANNEL_CALL,
        np.where(channel.equals("sms"), CHANNEL_SMS, CHANNEL_ANY),
    )
    c_purpose = np.where(purpose.equals("service"), PURPOSE_SERVICE, PURPOSE_MARKETING)
    return c_channel.astype(np.int64), c_purpose.astype(np.int64)
