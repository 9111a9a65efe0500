"""The frame path: the training frame and features of candidates from pandas frames.

:func:`build_training_frame` computes, for every outbound contact in a history, the features
of :mod:`features.definitions` from the events **strictly before** it, plus the labels
(:mod:`features.pointintime.labels`). :func:`features_as_of` computes the same features for
candidate contacts at given instants: it appends the candidates to the history as
*pseudo-contacts* (visible to nothing, not even each other) and runs the very same kernels.
Training/serving parity therefore holds by construction.

Decisions a reader should know (the encoding rules themselves are in
:mod:`features.pointintime.encode`):

* ``unanswered_streak`` counts the prior calls later than the latest answered call, so calls
  sharing a second with that answered call do not count: the value does not depend on the
  order of simultaneous events.
* Subjects compare as given, with :func:`features.schema.subject_of`'s default. Contacts
  without a campaign id do not count towards ``distinct_campaigns_30d``.
* Consent: the latest grant for the contact's channel (or ``any``) and purpose (a service
  consent is no marketing consent, as the rules read it), granted strictly before ``t`` and
  not revoked strictly before ``t``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.definitions import CEILING_COLUMNS, ORACLE_COLUMNS, TARGETS, encode_categorical
from features.pointintime.assemble import (
    NEVER,
    NS_PER_DAY,
    NS_PER_HOUR,
    ConsentArrays,
    Prepared,
    Progress,
    features_from_arrays,
    sorted_consent,
)
from features.pointintime.encode import (
    Coded,
    SeriesColumn,
    column,
    consent_codes,
    equals,
    event_flags,
    query_codes,
    subject_codes,
    with_candidate_default,
)
from features.pointintime.numbers import NumberTable, number_table
from features.pseudonyms import PSEUDONYM_FACTS

#: Event columns the kernels read; any of them may be absent from a hand-made frame. The
#: number facts of a pseudonymised export stand in for libphonenumber (features.pseudonyms).
EVENT_COLUMNS = (
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
    *PSEUDONYM_FACTS,
)


def instants_ns(values: pd.Series, what: str) -> np.ndarray:
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


def _encode_rows(feature: str, series: pd.Series, rows: np.ndarray) -> np.ndarray:
    """Fixed-vocabulary codes of ``series[rows]``: pick the rows first when they are few
    (serving: a thousand candidates in a long history), else encode all and pick."""
    if len(rows) * 4 < len(series):
        return encode_categorical(feature, series.iloc[rows].reset_index(drop=True))
    return Coded(series).encode(feature)[rows]


def _compute(
    frame: pd.DataFrame,
    is_query: np.ndarray,
    is_history: np.ndarray,
    consent: pd.DataFrame | None,
    horizon_ns: int | None,
    progress: Progress | None = None,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Features (and labels) of the ``is_query`` rows, in row order, from the ``is_history``
    rows strictly before each. Returns (columns, labels[2, n_q])."""
    say = progress or (lambda _msg: None)
    prepared = _prepare_frame(frame, is_query, is_history, consent, say)
    return features_from_arrays(prepared, say, horizon_ns)


def _prepare_frame(
    frame: pd.DataFrame,
    is_query: np.ndarray,
    is_history: np.ndarray,
    consent: pd.DataFrame | None,
    say: Progress,
) -> Prepared:
    """Kernel inputs from a frame, vectorised (training frames of millions of rows)."""
    n = len(frame)
    say("normalising numbers")
    numbers = number_table(frame["number"], frame)
    ts = instants_ns(frame["ts"], "events ts")

    say("classifying events")
    local: dict[str, np.ndarray] = {}

    def local_hour(rows: np.ndarray) -> np.ndarray:
        local["hour"], local["weekday"] = _local_hour_weekday(
            ts, numbers.zone_code, numbers.zones, rows
        )
        return local["hour"][rows]

    def opt_out_replies(rows: np.ndarray) -> np.ndarray:
        from features.replies import classify_replies

        texts = column(frame, "text").iloc[rows].reset_index(drop=True)
        regions = pd.Series(numbers.raw_region[numbers.raw_code[rows]], dtype=object)
        return equals(classify_replies(texts, regions), "opt_out")

    duration = pd.to_numeric(column(frame, "duration_s"), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    channel, purpose = column(frame, "channel"), column(frame, "purpose")
    events = event_flags(
        Coded(frame["kind"]),
        SeriesColumn(channel),
        SeriesColumn(purpose),
        SeriesColumn(column(frame, "outcome")),
        duration,
        local_hour,
        opt_out_replies,
        counted=is_history,
    )
    hour = local.get("hour", np.zeros(n, dtype=np.int8))
    weekday = local.get("weekday", np.zeros(n, dtype=np.int8))
    campaign_codes, campaign_uniques = pd.factorize(column(frame, "campaign_id"))
    campaign_codes = np.where(events.is_contact & is_history, campaign_codes, -1)
    subjects = subject_codes(column(frame, "subject"), column(frame, "campaign_id"))

    query_rows = np.flatnonzero(is_query)
    q_codes, q_channel, q_purpose = query_codes(
        _encode_rows("channel", channel, query_rows),
        _encode_rows("purpose", purpose, query_rows),
        _encode_rows("dial_mode", column(frame, "dial_mode"), query_rows),
    )
    q_codes["region"] = numbers.region_code[query_rows]
    q_codes["line_type"] = numbers.line_type_code[query_rows]
    return Prepared(
        key_code=numbers.key_code,
        ts=ts,
        flags=events.flags,
        campaign=campaign_codes.astype(np.int64),
        n_campaigns=len(campaign_uniques),
        subject=subjects,
        is_contact=events.is_contact,
        query_rows=query_rows,
        q_hour=hour[query_rows],
        q_weekday=weekday[query_rows],
        q_channel=q_channel,
        q_purpose=q_purpose,
        q_codes=q_codes,
        consent=_consent_arrays(consent, numbers) if len(query_rows) and n else None,
    )


def _consent_arrays(consent: pd.DataFrame | None, numbers: NumberTable) -> ConsentArrays | None:
    """The consent rows of numbers in ``numbers`` (another spelling counts), kernel-ready."""
    if consent is None or len(consent) == 0:
        return None
    code = numbers.codes_of(consent["number"])
    keep = code >= 0
    if not keep.any():
        return None
    c = consent.iloc[np.flatnonzero(keep)]
    code = code[keep].astype(np.int64)
    granted = instants_ns(c["granted_at"], "consent granted_at")
    revoked_series = column(c, "revoked_at")
    revoked = np.full(len(c), NEVER, dtype=np.int64)
    has_revoked = revoked_series.notna().to_numpy(dtype=bool)
    if has_revoked.any():
        revoked[has_revoked] = instants_ns(revoked_series[has_revoked], "consent revoked_at")
    c_channel, c_purpose = consent_codes(
        SeriesColumn(column(c, "channel")), SeriesColumn(column(c, "purpose"))
    )
    c_type = encode_categorical("consent_type", column(c, "type").reset_index(drop=True))
    return sorted_consent(code, len(numbers.keys), granted, revoked, c_channel, c_purpose, c_type)


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
    say = console_progress() if progress else None
    return training_frame(events, consent, horizon, say)


def training_frame(
    events: pd.DataFrame, consent: pd.DataFrame | None, horizon: str, say: Progress | None
) -> pd.DataFrame:
    """:func:`build_training_frame` reporting its stages to ``say``."""
    horizon_ns = int(pd.Timedelta(horizon).value)
    if horizon_ns <= 0:
        raise ValueError(f"horizon {horizon!r} must be positive")
    frame = events[[c for c in EVENT_COLUMNS if c in events.columns]]
    is_contact = equals(frame["kind"], "contact")
    columns, labels = _compute(
        frame, is_contact, np.ones(len(frame), dtype=bool), consent, horizon_ns, say
    )
    rows = np.flatnonzero(is_contact)
    out: dict[str, object] = {
        "event_id": column(events, "event_id").iloc[rows].reset_index(drop=True),
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


def console_progress() -> Progress:
    """A plain progress printer (stderr) for library callers who ask for progress."""
    import sys

    def say(message: str) -> None:
        print(f"features: {message}", file=sys.stderr, flush=True)

    return say


def features_as_of(
    events: pd.DataFrame,
    candidates: pd.DataFrame,
    consent: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Features of candidate contacts, each as of its own instant ``at``.

    ``candidates`` has ``number``, ``channel``, ``at`` (UTC; may differ per row) and
    optionally ``purpose``, ``dial_mode`` (defaults: ``encode.CANDIDATE_DEFAULTS``),
    ``subject`` (default: :func:`features.schema.subject_of`) and ``campaign_id``. Returns the
    :data:`FEATURE_NAMES` columns with the candidates' index and row order. Candidates are
    appended to the history as pseudo-contacts that nothing can see, and the training
    kernel runs unchanged — so a candidate gets exactly the row a real contact at ``at``
    would get in :func:`build_training_frame`.
    """
    missing = [c for c in ("number", "channel", "at") if c not in candidates.columns]
    if missing:
        raise ValueError(f"candidates: missing column(s) {missing}")
    n_c = len(candidates)
    pseudo: dict[str, np.ndarray] = {
        "number": candidates["number"].to_numpy(dtype=object),
        "kind": np.full(n_c, "contact", dtype=object),
        "channel": candidates["channel"].to_numpy(dtype=object),
        "purpose": with_candidate_default("purpose", column(candidates, "purpose")),
        "dial_mode": with_candidate_default("dial_mode", column(candidates, "dial_mode")),
        "subject": column(candidates, "subject").to_numpy(dtype=object),
        "campaign_id": column(candidates, "campaign_id").to_numpy(dtype=object),
    }
    at = pd.DatetimeIndex(candidates["at"])
    if at.tz is None:
        raise ValueError("candidates: 'at' must be timezone-aware (UTC)")
    history = events[[c for c in EVENT_COLUMNS if c in events.columns]]
    # one frame, history then candidates, each column keeping the history's dtype
    combined: dict[str, pd.Series] = {}
    for name in EVENT_COLUMNS:
        if name == "ts":
            ts_ns = np.concatenate(
                [instants_ns(history["ts"], "events ts"), at.tz_convert("UTC").as_unit("ns").asi8]
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
    columns, _labels = _compute(frame, is_query, ~is_query, consent, None)
    return pd.DataFrame(columns, index=candidates.index)
