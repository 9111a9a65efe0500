"""The simulated world: vocabulary codes, the ground-truth hazard weights, behaviour
constants, reply texts, campaigns and local time."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np

from features.paths import GENERATED_DIR
from features.schema import (
    CHANNELS,
    CONSENT_TYPES,
    DIAL_MODES,
    EVENT_KINDS,
    OUTCOMES,
    PURPOSES,
)

DEFAULT_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DEFAULT_OUT = GENERATED_DIR / "sim"
#: Numbers per chunk: bounds memory (≈ 25 events/number of buffers); never changes results.
CHUNK_NUMBERS = 50_000
DAY = 86_400
WEEK = 7 * DAY

# --------------------------------------------------------------------------- vocab codes
KIND = {name: i for i, name in enumerate(EVENT_KINDS)}
CHANNEL = {name: i for i, name in enumerate(CHANNELS)}
PURPOSE = {name: i for i, name in enumerate(PURPOSES)}
DIAL = {name: i for i, name in enumerate(DIAL_MODES)}
OUTCOME = {name: i for i, name in enumerate(OUTCOMES)}
SOURCES: tuple[str, ...] = ("customer", "carrier", "regulator")
CONSENT_CHANNELS: tuple[str, ...] = ("any", "call", "sms")
DNC_ACTIONS: tuple[str, ...] = ("add", "remove")
DNC_SCOPES: tuple[str, ...] = ("all", "call", "sms")
DNC_CATEGORIES: tuple[str, ...] = ("do_not_contact", "not_interested")
DNC_SOURCES: tuple[str, ...] = ("customer_service", "call_refusal", "complaint", "opt_out_call")
CONSENT_EVIDENCE: tuple[str, ...] = (
    "web form signup, wording v3",
    "checkout checkbox, wording v2",
    "recorded call, consent script v1",
    "paper form in store, wording v1",
    "SMS keyword opt-in, wording v2",
)

# numba sees module globals as compile-time constants.
K_CONTACT, K_REPLY, K_COMPLAINT = KIND["contact"], KIND["reply"], KIND["complaint"]
K_OPT_OUT, K_OPT_IN, K_REFUSAL = KIND["opt_out"], KIND["opt_in"], KIND["refusal"]
K_PURCHASE, K_INQUIRY = KIND["purchase"], KIND["inquiry"]
K_CONTRACT_START, K_CONTRACT_END = KIND["contract_start"], KIND["contract_end"]
CH_CALL, CH_SMS = CHANNEL["call"], CHANNEL["sms"]
P_MARKETING, P_SERVICE = PURPOSE["marketing"], PURPOSE["service"]
D_MANUAL, D_PREDICTIVE, D_PRERECORDED = DIAL["manual"], DIAL["predictive"], DIAL["prerecorded"]
O_ANSWERED, O_NO_ANSWER, O_BUSY = OUTCOME["answered"], OUTCOME["no_answer"], OUTCOME["busy"]
O_VOICEMAIL, O_ABANDONED, O_AMD = OUTCOME["voicemail"], OUTCOME["abandoned"], OUTCOME["amd"]
O_FAILED, O_DELIVERED = OUTCOME["failed"], OUTCOME["delivered"]
CT_EXPRESS, CT_WRITTEN = CONSENT_TYPES.index("express"), CONSENT_TYPES.index("written")
CT_SOFT, CT_IMPLIED = CONSENT_TYPES.index("soft_opt_in"), CONSENT_TYPES.index("implied")

# --------------------------------------------------------------------------- ground truth
#: Log-hazard weights (β) of the complaint oracle. Counts are capped (see *_CAP) so a
#: runaway history saturates instead of exploding.
COMPLAINT_WEIGHTS: dict[str, float] = {
    "base": math.log(0.00055),
    "contacts_1d": 0.30,
    "contacts_7d": 0.10,
    "contacts_30d": 0.025,
    "night": 0.90,
    "unanswered_streak": 0.15,
    "short_hangups_30d": 0.35,
    "refusals_90d": 0.50,
    "no_consent": 0.90,
    "consent_implied": 0.40,
    "consent_soft_opt_in": 0.30,
    "consent_written": -0.10,
    "service": -1.20,
    "sms": 0.0,
    "predictive": 0.35,
    "prerecorded": 0.80,
}
#: Log-hazard weights of the opt-out oracle (same drivers, different strengths).
OPT_OUT_WEIGHTS: dict[str, float] = {
    "base": math.log(0.0125),
    "contacts_1d": 0.20,
    "contacts_7d": 0.08,
    "contacts_30d": 0.02,
    "night": 0.50,
    "unanswered_streak": 0.06,
    "short_hangups_30d": 0.30,
    "refusals_90d": 0.40,
    "no_consent": 0.50,
    "consent_implied": 0.25,
    "consent_soft_opt_in": 0.20,
    "consent_written": -0.10,
    "service": -1.30,
    "sms": 0.45,
    "predictive": 0.10,
    "prerecorded": 0.30,
}
_WEIGHT_ORDER = tuple(COMPLAINT_WEIGHTS)
CAP_1D, CAP_7D, CAP_30D, CAP_STREAK, CAP_SHORT, CAP_REFUSALS = 6, 20, 60, 10, 4, 3
P_CAP = 0.5
SENSITIVITY_SIGMA = 0.9  # complaint sensitivity, log-normal with mean 1
OPT_OUT_SENSITIVITY_SIGMA = 0.7
SENSITIVITY_CORRELATION = 0.6
#: Refusal during an answered, not short marketing call: ``min(REFUSAL_BASE · s_o ·
#: (1 + REFUSAL_PER_CONTACT_7D · contacts_7d), P_CAP)`` — driven by the opt-out sensitivity.
REFUSAL_BASE = 0.06
REFUSAL_PER_CONTACT_7D = 0.08
#: Quadrature nodes per sensitivity of the observable ceiling (see :func:`sensitivity_grid`).
CEILING_GRID_POINTS = 16
CEILING_GRID_HALF_WIDTH = 5.0  # standard deviations of log-sensitivity covered by the grid

#: Answer probability multiplier by local hour (the person's propensity × this).
HOUR_ANSWER = np.array(
    [0.25, 0.15, 0.1, 0.1, 0.1, 0.15, 0.3, 0.5, 0.7, 0.8, 0.8, 0.75,
     0.7, 0.7, 0.7, 0.75, 0.85, 0.95, 1.0, 1.0, 0.9, 0.7, 0.5, 0.35],
    dtype=np.float64,
)  # fmt: skip
NIGHT_HOURS = np.array([21, 22, 23, 0, 1, 2, 3, 4, 5, 6, 7], dtype=np.int64)

# --------------------------------------------------------------------------- behaviour
TOUCHES_PER_180_DAYS = 7.6  # campaign touches per number (before retries and stops)
INTENSITY_SIGMA = 0.85  # how unevenly numbers are targeted (log-normal, mean 1)
MAX_TOUCHES = 60
MAX_ATTEMPTS = 4
MIN_GAP_S = 1_200  # two contacts to one number are ≥ 20 min apart (room for the call)
MAX_CALL_S = 1_100.0
RETRY_MIN_S = 3_600
RETRY_MEAN_S = 20 * 3_600
LEAK_MARKETING = 0.03  # marketing that still goes out after an opt-out / DNC request
SERVICE_AFTER_OPT_OUT = 0.30
OPT_OUT_AS_REPLY_SMS = 0.70
COMPLAINT_ADDS_DNC = 0.50
REFUSAL_ADDS_DNC = 0.30
OPT_OUT_CALL_ADDS_DNC = 0.50
ORDINARY_REPLY_SMS = 0.05
REACTION_MEAN_S = 18 * 3_600  # complaints/opt-outs come soon after the contact
CONSENT_SHARE = 0.55
PRE_DNC_SHARE = 0.02
MAX_EVENTS_PER_NUMBER = MAX_TOUCHES * MAX_ATTEMPTS * 5 + 32

# --------------------------------------------------------------------------- replies
#: Reply texts by language: (opt-out, help, opt-in, ordinary). Opt-out texts must classify
#: as opt-outs with :func:`features.replies.classify_reply` (docs/rules.md, "Reply keywords"),
#: the others never — a test checks both.
REPLY_TEXTS: dict[str, tuple[tuple[str, ...], ...]] = {
    "en": (
        (
            "STOP",
            "Stop.",
            "stop",
            "STOP!",
            "Unsubscribe",
            "CANCEL",
            "quit",
            "STOPALL",
            "End",
            "please don't text me anymore",
            "Remove me from your list",
            "stop texting me",
            "opt out",
        ),
        ("HELP", "help?", "INFO"),
        ("START",),
        (
            "ok thanks",
            "who is this?",
            "Thanks!",
            "what is this about?",
            "call me later please",
            "Sounds good",
        ),
    ),
    "es": (
        ("BAJA", "baja", "Parar", "ALTO", "STOP"),
        ("AYUDA",),
        ("START",),
        ("gracias", "¿quién es?", "ok"),
    ),
    "fr": (
        ("STOP", "ARRET", "arrêt", "Arrêt", "stop svp"),
        ("AIDE",),
        ("START",),
        ("merci", "c'est qui ?", "d'accord"),
    ),
    "de": (
        ("STOP", "Stopp", "abmelden", "Abmelden bitte"),
        ("HILFE",),
        ("START",),
        ("danke", "wer ist da?", "alles klar"),
    ),
    "zh": (
        ("TD", "退订", "T", "取消", "td"),
        ("帮助",),
        ("START",),
        ("好的", "你是谁？", "谢谢"),
    ),
    "en-AU": (
        ("STOP", "Stop.", "NO", "Unsubscribe", "please don't text me anymore", "opt out"),
        ("HELP",),
        ("START",),
        ("ok thanks", "who is this?", "cheers"),
    ),
}
LANGUAGES: tuple[str, ...] = tuple(REPLY_TEXTS)
LANG_ES = LANGUAGES.index("es")


# --------------------------------------------------------------------------- campaigns
_SUBJECTS_MARKETING = (
    "solar panels", "home insurance", "broadband upgrade", "credit card offer",
    "energy tariff", "mobile plan", "holiday offer", "car warranty", "charity appeal",
    "loyalty rewards",
)  # fmt: skip
_SUBJECTS_SERVICE = ("appointment reminder", "payment due", "delivery update", "account alert")
N_CAMPAIGNS = 48


@dataclass(frozen=True)
class CampaignCatalog:
    """The campaigns of a simulation (seeded), as parallel arrays for the kernel."""

    campaign_ids: tuple[str, ...]
    subjects: tuple[str, ...]
    subject_of: np.ndarray
    channel: np.ndarray
    purpose: np.ndarray
    dial_mode: np.ndarray  # -1 for SMS
    start_day: np.ndarray
    end_day: np.ndarray
    night_share: np.ndarray
    attempts: np.ndarray
    cdf: np.ndarray

    @classmethod
    def for_seed(cls, seed: int, days: int) -> CampaignCatalog:
        rng = np.random.default_rng([seed, 0x43414D])
        n = N_CAMPAIGNS
        subjects = _SUBJECTS_MARKETING + _SUBJECTS_SERVICE
        # The mix is fixed (so rates do not swing with the seed); which campaign gets which
        # role, its window, subject and popularity are drawn.
        calls, sms = 28, n - 28
        channel = np.array([CH_CALL] * calls + [CH_SMS] * sms, dtype=np.int64)
        purpose = np.array(
            [P_MARKETING] * 22 + [P_SERVICE] * 6 + [P_MARKETING] * 16 + [P_SERVICE] * (sms - 16),
            dtype=np.int64,
        )
        dial = np.full(n, -1, dtype=np.int64)
        dial[:calls] = rng.permutation([D_MANUAL] * 11 + [D_PREDICTIVE] * 13 + [D_PRERECORDED] * 4)
        attempts = np.ones(n, dtype=np.int64)
        attempts[:calls] = rng.permutation(np.arange(calls) % MAX_ATTEMPTS + 1)
        night = rng.permutation([0.02] * 22 + [0.05] * 14 + [0.12] * 7 + [0.30] * (n - 43))
        night = np.asarray(night, dtype=np.float64)
        n_mkt = len(_SUBJECTS_MARKETING)
        subject_of = np.where(
            purpose == P_MARKETING,
            rng.integers(0, n_mkt, n),
            n_mkt + rng.integers(0, len(_SUBJECTS_SERVICE), n),
        ).astype(np.int64)
        length = np.maximum(7, (rng.uniform(0.1, 0.6, n) * days).astype(np.int64))
        length = np.minimum(length, days)
        start = (rng.random(n) * (days - length + 1)).astype(np.int64)
        # Always-on programmes (service reminders, the biggest marketing lists).
        always = rng.random(n) < 0.25
        start = np.where(always, 0, start)
        end = np.where(always, days, start + length)
        weight = rng.lognormal(0.0, 0.5, n) * (end - start) / days
        cdf = np.cumsum(weight) / weight.sum()
        ids = tuple(f"cmp-{i + 1:03d}" for i in range(n))
        return cls(
            ids, subjects, subject_of, channel, purpose, dial, start.astype(np.int64),
            end.astype(np.int64), night.astype(np.float64), attempts.astype(np.int64), cdf,
        )  # fmt: skip


# --------------------------------------------------------------------------- local time
def zone_offsets(zones: list[str], start_s: int, hours: int) -> np.ndarray:
    """UTC offset (s) of each zone at every hour from ``start_s``: DST-correct local time."""
    import pandas as pd

    index = pd.date_range(pd.Timestamp(start_s, unit="s", tz="UTC"), periods=hours, freq="h")
    naive_utc = index.tz_localize(None)
    table = np.empty((len(zones), hours), dtype=np.int64)
    for i, zone in enumerate(zones):
        local = index.tz_convert(zone).tz_localize(None)
        table[i] = ((local - naive_utc) // pd.Timedelta(seconds=1)).to_numpy()
    return table
