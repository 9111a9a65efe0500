"""The feature set: one definition per feature, shared by training and serving.

Every feature the model sees is declared here once — name, dtype, what it means and, for
the model, a monotone direction. :mod:`features.pointintime` computes them (offline for every past
contact, online for candidates as of an instant, with the same kernel); training reads
:func:`monotone_constraints` and :data:`CATEGORICAL_FEATURES` from here, so the two sides
cannot drift apart.

Monotone direction ``+1`` means the predicted risk must never fall as the value grows:
contact pressure, complaints, opt-outs, refusals, unanswered streaks, night share, short
hang-ups. Everything else is ``0`` (unconstrained): the data decide.

Categoricals are encoded with a FIXED vocabulary (:func:`encode_categorical`): code ``i``
is ``vocabulary[i]``, the next code is "unknown value", the one after "missing". Codes never
depend on the batch, so a model trained on one frame scores any other frame correctly.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.schema import CHANNELS, CONSENT_TYPES, DIAL_MODES, PURPOSES, SCORED_AS_PURPOSE

#: Look-back windows of the rolling counts, in days (window before ``t`` is ``[t - N d, t)``).
COUNT_WINDOWS_DAYS: tuple[int, ...] = (1, 7, 30, 90)
#: The long look-back of the exposure features: within the 400 days of history the store
#: loads for serving, so training and serving see the same value.
LONG_WINDOW_DAYS = 365
#: Local night, where people least want a call or text (21:00–08:00 local).
NIGHT_START_HOUR = 21
NIGHT_END_HOUR = 8
#: An answered call shorter than this is a "short hang-up" (the person hung up at once).
SHORT_HANGUP_SECONDS = 10.0

#: Jurisdictions the rule packs knew when the model features were fixed; any other region
#: gets the "unknown" code (a bundle pins this list: growing it needs a new model).
REGION_VOCABULARY: tuple[str, ...] = ("US", "CA", "GB", "FR", "DE", "AU", "CN")
#: Line types of :data:`features.phone.LINE_TYPES`, spelled out so codes never move.
LINE_TYPE_VOCABULARY: tuple[str, ...] = (
    "fixed_line",
    "mobile",
    "fixed_line_or_mobile",
    "toll_free",
    "premium_rate",
    "shared_cost",
    "voip",
    "personal_number",
    "pager",
    "uan",
    "voicemail",
    "unknown",
)


@dataclass(frozen=True)
class FeatureDef:
    """One model feature.

    ``monotone`` is +1 where risk must never fall as the value grows, 0 otherwise.
    ``vocabulary`` is the fixed category list of a categorical feature (codes are positions;
    ``len(vocabulary)`` = unknown value, ``len(vocabulary) + 1`` = missing).
    """

    name: str
    dtype: str
    description: str
    monotone: int = 0
    categorical: bool = False
    vocabulary: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.monotone not in (1, 0):
            raise ValueError(f"{self.name}: monotone must be +1 or 0, not {self.monotone}")
        if self.categorical != (self.vocabulary is not None):
            raise ValueError(f"{self.name}: a categorical feature needs a vocabulary (and only it)")


def _count_features() -> list[FeatureDef]:
    scopes = (
        ("contacts", "outbound contacts (all channels)"),
        ("call_contacts", "outbound calls"),
        ("sms_contacts", "outbound SMS"),
        ("marketing_contacts", "outbound marketing contacts (all channels)"),
        ("same_subject_contacts", "outbound contacts about the candidate's subject"),
    )
    return [
        FeatureDef(
            f"{prefix}_{days}d",
            "int32",
            f"{what} to the number in [t - {days} d, t)",
            monotone=1,
        )
        for prefix, what in scopes
        for days in COUNT_WINDOWS_DAYS
    ]


def _exposure_features() -> list[FeatureDef]:
    """Contacts a person has been through before the recent windows, [t − 365 d, t − 90 d).

    Why unconstrained: a person who took many contacts months ago without complaining or
    opting out is evidence of tolerance (lower risk); without it the model over-predicts
    for long, quiet histories and its opt-out calibration drifts. Why this window: a contact
    made now enters it only 90 days later, so calling someone more often still raises risk
    through the monotone 1–90-day counts and never lowers it.
    """
    return [
        FeatureDef(
            f"{prefix}_90d_to_{LONG_WINDOW_DAYS}d",
            "int32",
            f"{what} to the number in [t - {LONG_WINDOW_DAYS} d, t - 90 d)",
        )
        for prefix, what in (
            ("contacts", "outbound contacts (all channels)"),
            ("marketing_contacts", "outbound marketing contacts (all channels)"),
        )
    ]


FEATURES: tuple[FeatureDef, ...] = (
    *_count_features(),
    *_exposure_features(),
    FeatureDef(
        "hours_since_last_contact",
        "float64",
        "hours since the latest outbound contact strictly before t (missing if none)",
    ),
    FeatureDef(
        "hours_since_last_answered",
        "float64",
        "hours since the latest answered contact strictly before t (missing if none)",
    ),
    FeatureDef(
        "unanswered_streak",
        "int32",
        "prior call attempts after the latest answered call (all prior calls if none answered)",
        monotone=1,
    ),
    FeatureDef(
        "answer_rate_30d",
        "float64",
        "answered share of the calls in [t - 30 d, t) (missing if no call)",
    ),
    FeatureDef(
        "short_hangups_30d",
        "int32",
        f"answered calls shorter than {SHORT_HANGUP_SECONDS:g} s in [t - 30 d, t)",
        monotone=1,
    ),
    FeatureDef("complaints_90d", "int32", "complaints in [t - 90 d, t)", monotone=1),
    FeatureDef("complaints_ever", "int32", "complaints strictly before t", monotone=1),
    FeatureDef(
        "opt_outs_90d", "int32", "opt-outs (incl. opt-out replies) in [t - 90 d, t)", monotone=1
    ),
    FeatureDef(
        "opt_outs_ever", "int32", "opt-outs (incl. opt-out replies) strictly before t", monotone=1
    ),
    FeatureDef("refusals_90d", "int32", "refusals during a call in [t - 90 d, t)", monotone=1),
    FeatureDef("refusals_ever", "int32", "refusals during a call strictly before t", monotone=1),
    FeatureDef(
        "distinct_campaigns_30d",
        "int32",
        "distinct campaign ids of the outbound contacts in [t - 30 d, t)",
        monotone=1,
    ),
    FeatureDef(
        "night_share",
        "float64",
        f"share of prior outbound contacts at local night ({NIGHT_START_HOUR}:00–"
        f"{NIGHT_END_HOUR:02d}:00) (missing if none)",
        monotone=1,
    ),
    FeatureDef(
        "days_since_consent",
        "float64",
        "days since the latest consent for the channel granted before t and not revoked "
        "before t (missing if none)",
    ),
    FeatureDef(
        "consent_type",
        "int16",
        "type of that consent (missing code when there is none)",
        categorical=True,
        vocabulary=CONSENT_TYPES,
    ),
    FeatureDef(
        "channel", "int16", "the candidate's channel", categorical=True, vocabulary=CHANNELS
    ),
    FeatureDef(
        "purpose", "int16", "the candidate's purpose", categorical=True, vocabulary=PURPOSES
    ),
    FeatureDef(
        "dial_mode", "int16", "the candidate's dial mode", categorical=True, vocabulary=DIAL_MODES
    ),
    FeatureDef("local_hour", "int8", "hour of t in the number's local time (0–23)"),
    FeatureDef("weekday", "int8", "weekday of t in the number's local time (Monday = 0)"),
    FeatureDef(
        "region",
        "int16",
        "the number's region (ISO 3166-1)",
        categorical=True,
        vocabulary=REGION_VOCABULARY,
    ),
    FeatureDef(
        "line_type",
        "int16",
        "the number's line type",
        categorical=True,
        vocabulary=LINE_TYPE_VOCABULARY,
    ),
)

FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.categorical)
FEATURES_BY_NAME: dict[str, FeatureDef] = {f.name: f for f in FEATURES}

TARGETS: tuple[str, ...] = ("complaint_7d", "opt_out_7d")
#: Simulated data only: the true probability of each target, carried through for the oracle.
ORACLE_COLUMNS: dict[str, str] = {
    "complaint_7d": "p_complaint_true",
    "opt_out_7d": "p_opt_out_true",
}
#: Simulated data only: the probability of each target given everything observable before
#: the contact (the oracle with the latent sensitivity integrated over its posterior) — the
#: best any model of the history can do, carried through for the observable ceiling.
CEILING_COLUMNS: dict[str, str] = {
    "complaint_7d": "p_complaint_observable",
    "opt_out_7d": "p_opt_out_observable",
}


def monotone_constraints(names: Sequence[str]) -> list[int]:
    """LightGBM ``monotone_constraints`` for these feature columns, in this order."""
    unknown = [n for n in names if n not in FEATURES_BY_NAME]
    if unknown:
        raise KeyError(f"not features: {unknown}")
    return [FEATURES_BY_NAME[n].monotone for n in names]


def unknown_code(name: str) -> int:
    """Code of a value outside the fixed vocabulary of categorical feature ``name``."""
    return len(_vocabulary(name))


def missing_code(name: str) -> int:
    """Code of a missing value of categorical feature ``name``."""
    return len(_vocabulary(name)) + 1


def _vocabulary(name: str) -> tuple[str, ...]:
    feature = FEATURES_BY_NAME.get(name)
    if feature is None or feature.vocabulary is None:
        raise KeyError(f"{name!r} is not a categorical feature; choose from {CATEGORICAL_FEATURES}")
    return feature.vocabulary


#: Values read as a category of the vocabulary (``value → category``): the contact purposes
#: the model does not know are scored as the purpose they read like. Not part of the feature
#: set's description: an alias maps onto an existing code, so a bundle reads it correctly.
CATEGORY_ALIASES: dict[str, dict[str, str]] = {"purpose": SCORED_AS_PURPOSE}


@functools.cache
def category_positions(name: str) -> dict[str, int]:
    """Value → code of categorical feature ``name``: its vocabulary's positions and the
    :data:`CATEGORY_ALIASES` (read only; values outside it take :func:`unknown_code`)."""
    vocabulary = _vocabulary(name)
    position = {value: i for i, value in enumerate(vocabulary)}
    for alias, category in CATEGORY_ALIASES.get(name, {}).items():
        position[alias] = position[category]
    return position


def encode_categorical(name: str, values: pd.Series) -> np.ndarray:
    """Stable integer codes of ``values`` under the fixed vocabulary of feature ``name``
    (a value of :data:`CATEGORY_ALIASES` takes its category's code).

    >>> encode_categorical("channel", pd.Series(["sms", "call", "fax", None])).tolist()
    [1, 0, 2, 3]
    >>> encode_categorical("purpose", pd.Series(["opt_out_confirmation", "service"])).tolist()
    [1, 1]
    """
    vocabulary = _vocabulary(name)
    codes, uniques = pd.factorize(pd.Series(values, copy=False), use_na_sentinel=True)
    position = category_positions(name)
    lookup = np.array(
        [position.get(u, len(vocabulary)) for u in uniques] + [len(vocabulary) + 1],
        dtype=np.int16,
    )
    return lookup[codes]  # code -1 (missing) picks the last slot


def decode_categorical(name: str, code: int) -> str | None:
    """The category name of code ``code`` of feature ``name``: the vocabulary entry,
    ``"unknown"`` for a value outside it, None for a missing value (the inverse of
    :func:`encode_categorical`).

    >>> decode_categorical("channel", 1), decode_categorical("channel", 2)
    ('sms', 'unknown')
    """
    vocabulary = _vocabulary(name)
    if 0 <= code < len(vocabulary):
        return vocabulary[code]
    return "unknown" if code == len(vocabulary) else None


def combined_risk(p_complaint: Any, p_opt_out: Any) -> Any:
    """P(complaint or opt-out), treating the two calibrated events as independent.

    The one formula for the model's ``risk``, the decisions and the reports; floats and
    numpy arrays alike."""
    return 1.0 - (1.0 - p_complaint) * (1.0 - p_opt_out)


def feature_set_description() -> dict[str, Any]:
    """Everything that decides what a feature column means: each feature's name, dtype,
    monotone direction and vocabulary, plus the windows and thresholds that compute them.

    A model bundle records it (and its fingerprint): codes of a categorical are positions
    in its vocabulary, so a vocabulary that grew under an existing model would silently
    shift what the model reads."""
    return {
        "features": [
            {
                "name": f.name,
                "dtype": f.dtype,
                "monotone": f.monotone,
                "vocabulary": list(f.vocabulary) if f.vocabulary is not None else None,
            }
            for f in FEATURES
        ],
        "count_windows_days": list(COUNT_WINDOWS_DAYS),
        "long_window_days": LONG_WINDOW_DAYS,
        "night_hours": [NIGHT_START_HOUR, NIGHT_END_HOUR],
        "short_hangup_seconds": SHORT_HANGUP_SECONDS,
        "targets": list(TARGETS),
    }


def feature_set_fingerprint(description: dict[str, Any] | None = None) -> str:
    """A short digest of :func:`feature_set_description` (of the code, by default)."""
    text = json.dumps(description or feature_set_description(), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def feature_set_differences(recorded: dict[str, Any]) -> list[str]:
    """How a recorded feature-set description differs from the code's, in plain words
    (empty when they agree)."""
    current = feature_set_description()
    out: list[str] = []
    old = {f["name"]: f for f in recorded.get("features", [])}
    new = {f["name"]: f for f in current["features"]}
    if missing := [n for n in old if n not in new]:
        out.append(f"features no longer computed: {', '.join(missing)}")
    if added := [n for n in new if n not in old]:
        out.append(f"features the bundle does not know: {', '.join(added)}")
    for name in (n for n in new if n in old):
        for key in ("dtype", "monotone", "vocabulary"):
            if old[name].get(key) != new[name].get(key):
                out.append(
                    f"{name}.{key}: bundle {old[name].get(key)!r}, code {new[name].get(key)!r}"
                )
    if [f["name"] for f in recorded.get("features", [])] != list(new) and not out:
        out.append("feature order differs")
    for key in current:
        if key != "features" and recorded.get(key) != current[key]:
            out.append(f"{key}: bundle {recorded.get(key)!r}, code {current[key]!r}")
    return out
