"""Synthetic multi-channel contact histories with a known complaint and opt-out hazard.

Why a simulator: real complaint data is scarce, private and has no ground truth. Here every
outbound contact carries the true probabilities ``p_complaint_true`` / ``p_opt_out_true``
that its label fires, so a trained model can be compared with the best achievable (the
oracle), and the rules and service can be exercised on realistic volumes.

What is generated (files in the data contracts of :mod:`features.schema`):

* ``events.<fmt>`` — contacts (calls and SMS with campaign, subject, purpose, dial mode,
  outcome, duration), inbound replies (opt-out words in several languages, HELP, START,
  ordinary replies), complaints, opt-outs, refusals, purchases, inquiries, contract start/end,
  opt-ins. Each number's events are contiguous (numbers in generation order, not sorted
  by string) and in ``ts`` order; ``ts`` has whole seconds. Two contacts to one number
  are at least 20 minutes apart; a non-contact event may share a second with a contact.
* ``consent.<fmt>`` — at most one marketing/service consent grant per number, some revoked.
* ``dnc.<fmt>`` — internal do-not-call requests (and a few removals).

Ground truth (the oracle). For an outbound contact at ``t`` to a person with latent
sensitivity ``s`` (log-normal, mean 1, not observable)::

    hazard = base · s · exp(Σ βᵢ·xᵢ),   p = min(1 − exp(−hazard), 0.5)

with drivers ``xᵢ`` that a feature pipeline can compute from the history strictly before
``t`` (DESIGN.md windows ``t − N days ≤ ts < t``): contacts in the prior 1, 7 and 30 days
(all channels), the current unanswered-call streak, short hang-ups (answered, < 10 s) and
refusals in the prior 30 / 90 days, the contact's own local hour (night = 21:00–08:00 in
the number's first candidate zone), its purpose, channel and dial mode, and the consent in
force at ``t`` (type, channel). See :data:`COMPLAINT_WEIGHTS` and :data:`OPT_OUT_WEIGHTS`.

Labels match DESIGN.md exactly: when the Bernoulli draw fires, the complaint / opt-out (an
``opt_out`` event, or for SMS often an opt-out *reply*) is placed strictly inside
``(t, min(next contact to the number, t + 7 days))``, and no complaint or opt-out is ever
generated anywhere else, so ``P(complaint_7d = 1) = p_complaint_true`` exactly. Follow-up
events of contacts in the last week may fall up to 7 days after the simulated horizon.

After an opt-out, marketing to the number stops (3 % leak through, as in real operations,
so ``opt_outs_ever`` is informative) and 30 % of service contacts continue; internal DNC
requests (after refusals and complaints) stop marketing on their scope likewise.

Performance: one numba kernel simulates each number sequentially from its own random
stream (a counter-based SplitMix64 keyed by the seed and the number's index), so results do
not depend on chunking; chunks of numbers stream to Parquet (zstd) in bounded memory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from features.paths import GENERATED_DIR
from features.schema import (
    CHANNELS,
    CONSENT_TYPES,
    DIAL_MODES,
    EVENT_KINDS,
    OUTCOMES,
    PURPOSES,
    Consent,
    DncEntry,
    Event,
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
#: as opt-outs with :func:`features.replies.classify_reply` (RULES.md "Reply keywords"),
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

# --------------------------------------------------------------------------- numbers
#: Share of numbers per region (percent of 100 slots).
REGION_SLOTS: dict[str, int] = {"US": 50, "CA": 8, "GB": 10, "FR": 8, "DE": 8, "AU": 8, "CN": 8}
_US_AREA_CODES: tuple[str, ...] = (
    "305", "407", "813", "904", "850",  # FL (850-200 is Central time, 850-201 Eastern)
    "214", "512", "713", "210", "915",  # TX (915 El Paso is Mountain time)
    "213", "415", "619", "916", "310",  # CA
    "212", "718", "518", "716",  # NY
    "312", "404", "617", "206", "602", "303", "504", "410", "405", "502", "205", "601",
    "801", "203", "701", "808", "907", "614", "215", "704",
)  # fmt: skip
_US_EXCHANGES = ("200", "201", "234", "456")
_CA_AREA_CODES = ("416", "647", "514", "438", "604", "403", "613", "902", "306", "204")
_CA_FRENCH = ("514", "438")
_CA_EXCHANGES = ("234", "456", "789")
#: (E.164 prefix, subscriber digits, language) of the other regions.
_OTHER_BLOCKS: dict[str, tuple[tuple[str, int, str], ...]] = {
    "GB": (("+44207", 7, "en"), ("+44208", 7, "en"), ("+44161", 7, "en"), ("+441214", 6, "en"),
           ("+447400", 6, "en"), ("+447500", 6, "en")),
    "FR": (("+3361", 7, "fr"), ("+3362", 7, "fr"), ("+3314", 7, "fr"), ("+3345", 7, "fr"),
           ("+3347", 7, "fr")),
    "DE": (("+49151", 8, "de"), ("+49176", 8, "de"), ("+4930", 8, "de"), ("+4989", 8, "de")),
    "AU": (("+6129", 7, "en-AU"), ("+6139", 7, "en-AU"), ("+61892", 6, "en-AU"),
           ("+6141", 7, "en-AU"), ("+6140", 7, "en-AU")),
    "CN": (("+86138", 8, "zh"), ("+86139", 8, "zh"), ("+86106", 7, "zh"), ("+86216", 7, "zh")),
}  # fmt: skip
US_SPANISH_SHARE = 0.15
_SUBSCRIBER_MULTIPLIER = 1_000_003  # odd, not a multiple of 5: a bijection mod 10^k


@dataclass(frozen=True)
class NumberBlock:
    """A range of numbers sharing a prefix, hence a region, subdivision and time zones.

    Zones come from :func:`features.phone.normalize` of the prefix (one call per block,
    not per number); ``zone`` — the first candidate zone — is the simulator's local clock.
    """

    region: str
    prefix: str
    digits: int
    language: str
    subdivision: str | None
    zones: tuple[str, ...]

    @property
    def zone(self) -> str:
        return self.zones[0]


@functools.cache
def number_blocks() -> tuple[NumberBlock, ...]:
    """Every block numbers are drawn from, validated with real libphonenumber data."""
    from features.phone import normalize

    specs: list[tuple[str, str, int, str]] = []
    for npa in _US_AREA_CODES:
        specs += [("US", f"+1{npa}{nxx}", 4, "en") for nxx in _US_EXCHANGES]
    for npa in _CA_AREA_CODES:
        lang = "fr" if npa in _CA_FRENCH else "en"
        specs += [("CA", f"+1{npa}{nxx}", 4, lang) for nxx in _CA_EXCHANGES]
    for region, blocks in _OTHER_BLOCKS.items():
        specs += [(region, prefix, digits, lang) for prefix, digits, lang in blocks]
    out = []
    rng = np.random.default_rng(0x424C4B)
    for region, prefix, digits, lang in specs:
        subscribers = rng.integers(0, 10**digits, 10).tolist() + [0, 10**digits - 1]
        samples = [normalize(f"{prefix}{s:0{digits}d}") for s in subscribers]
        good = all(r.valid and r.region == region and r.time_zones for r in samples)
        same_zones = len({r.time_zones for r in samples}) == 1
        if not (good and same_zones):
            raise RuntimeError(f"simulator number block {prefix} is not a valid {region} range")
        r = samples[0]
        out.append(NumberBlock(region, prefix, digits, lang, r.subdivision, r.time_zones))
    return tuple(out)


def _region_of_block() -> dict[str, list[int]]:
    by_region: dict[str, list[int]] = {r: [] for r in REGION_SLOTS}
    for i, block in enumerate(number_blocks()):
        by_region[block.region].append(i)
    return by_region


@dataclass(frozen=True)
class NumberPlan:
    """Which block and subscriber number each global number index gets (seeded, stable)."""

    slot_region: np.ndarray  # slot (0..99) → region index
    slot_rank: np.ndarray  # slot → rank among the slots of its region
    region_blocks: list[np.ndarray]  # region index → block indices
    subscriber_offset: int

    @classmethod
    def for_seed(cls, seed: int) -> NumberPlan:
        rng = np.random.default_rng([seed, 0x4E554D])
        regions = list(REGION_SLOTS)
        slots = np.repeat(np.arange(len(regions)), [REGION_SLOTS[r] for r in regions])
        rng.shuffle(slots)
        rank = np.zeros(len(slots), dtype=np.int64)
        seen = np.zeros(len(regions), dtype=np.int64)
        for i, r in enumerate(slots):
            rank[i] = seen[r]
            seen[r] += 1
        by_region = _region_of_block()
        blocks = [np.array(by_region[r], dtype=np.int64) for r in regions]
        return cls(slots, rank, blocks, int(rng.integers(0, 10**6)))

    def check_capacity(self, numbers: int) -> None:
        """Refuse a size that would repeat a number (each block holds 10^digits numbers)."""
        cycles = -(-numbers // len(self.slot_region))
        all_blocks = number_blocks()
        for r, name in enumerate(REGION_SLOTS):
            per_region = cycles * int(np.sum(self.slot_region == r))
            needed = -(-per_region // len(self.region_blocks[r]))
            smallest = min(10 ** all_blocks[b].digits for b in self.region_blocks[r])
            if needed > smallest:
                raise ValueError(f"--numbers {numbers:,} exceeds the simulator's {name} ranges")

    def assign(self, first: int, stop: int) -> tuple[np.ndarray, pa.Array]:
        """Block index and E.164 string of global numbers ``first..stop-1``."""
        gidx = np.arange(first, stop, dtype=np.int64)
        n_slots = len(self.slot_region)
        slot = gidx % n_slots
        region = self.slot_region[slot]
        per_cycle = np.bincount(self.slot_region, minlength=len(self.region_blocks))
        j = (gidx // n_slots) * per_cycle[region] + self.slot_rank[slot]
        block = np.empty(len(gidx), dtype=np.int64)
        within = np.empty(len(gidx), dtype=np.int64)
        for r, blocks in enumerate(self.region_blocks):
            mask = region == r
            block[mask] = blocks[j[mask] % len(blocks)]
            within[mask] = j[mask] // len(blocks)
        all_blocks = number_blocks()
        digits = np.array([b.digits for b in all_blocks], dtype=np.int64)
        subscriber = (within * _SUBSCRIBER_MULTIPLIER + self.subscriber_offset) % (
            10 ** digits[block]
        )
        width = max(len(b.prefix) for b in all_blocks)
        prefix_bytes = np.zeros((len(all_blocks), width), dtype=np.uint8)
        prefix_len = np.zeros(len(all_blocks), dtype=np.int64)
        for k, b in enumerate(all_blocks):
            raw = np.frombuffer(b.prefix.encode("ascii"), dtype=np.uint8)
            prefix_bytes[k, : len(raw)] = raw
            prefix_len[k] = len(raw)
        lengths = prefix_len[block] + digits[block]
        offsets = np.zeros(len(block) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        data = np.empty(int(offsets[-1]), dtype=np.uint8)
        _fill_numbers(prefix_bytes, prefix_len, digits, block, subscriber, offsets, data)
        strings = pa.Array.from_buffers(
            pa.string(), len(block), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
        return block, strings


@njit(cache=True, nogil=True)
def _fill_numbers(prefix_bytes, prefix_len, digits, block, subscriber, offsets, data):
    """Write ``prefix + zero-padded subscriber`` of every number into one byte buffer."""
    for i in range(block.shape[0]):
        b = block[i]
        o = offsets[i]
        for k in range(prefix_len[b]):
            data[o + k] = prefix_bytes[b, k]
        o += prefix_len[b]
        v = subscriber[i]
        for d in range(digits[b] - 1, -1, -1):
            data[o + d] = 48 + v % 10
            v //= 10


@njit(cache=True, nogil=True)
def _fill_ids(head, major, major_digits, minor, minor_digits, buf):
    """Write ``<head><major:0Nd>-<minor:0Md>`` rows into a (rows × width) byte matrix."""
    h = head.shape[0]
    for i in range(major.shape[0]):
        for k in range(h):
            buf[i, k] = head[k]
        v = major[i]
        for d in range(major_digits - 1, -1, -1):
            buf[i, h + d] = 48 + v % 10
            v //= 10
        buf[i, h + major_digits] = 45  # "-"
        v = minor[i]
        base = h + major_digits + 1
        for d in range(minor_digits - 1, -1, -1):
            buf[i, base + d] = 48 + v % 10
            v //= 10


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


# --------------------------------------------------------------------------- random
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(cache=True, nogil=True, inline="always")
def _next(state: np.ndarray) -> np.uint64:
    """SplitMix64: a counter-based stream; one per number, so chunking changes nothing."""
    state[0] += _GOLDEN
    z = state[0]
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


@njit(cache=True, nogil=True, inline="always")
def _uniform(state: np.ndarray) -> float:
    return float(_next(state) >> _S11) * _INV53


@njit(cache=True, nogil=True, inline="always")
def _normal(state: np.ndarray) -> float:
    u1 = 1.0 - _uniform(state)
    u2 = _uniform(state)
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


@njit(cache=True, nogil=True, inline="always")
def _poisson(state: np.ndarray, mean: float) -> int:
    if mean > 30.0:
        return max(0, int(round(mean + math.sqrt(mean) * _normal(state))))
    limit = math.exp(-mean)
    k = 0
    p = _uniform(state)
    while p > limit:
        k += 1
        p *= _uniform(state)
    return k


@njit(cache=True, nogil=True, inline="always")
def _delay_in_window(state: np.ndarray, window_s: int) -> int:
    """A reaction delay in [1, window_s − 1] s: truncated exponential (most come soon)."""
    span = float(window_s - 1)
    u = _uniform(state)
    d = -REACTION_MEAN_S * math.log(1.0 - u * (1.0 - math.exp(-span / REACTION_MEAN_S)))
    return min(max(1, int(d)), window_s - 1)


@njit(cache=True, nogil=True, inline="always")
def _pick(state: np.ndarray, lo: int, count: int) -> int:
    return lo + min(int(_uniform(state) * count), count - 1)


# --------------------------------------------------------------------------- observable ceiling
def sensitivity_grid(
    points: int = CEILING_GRID_POINTS, half_width: float = CEILING_GRID_HALF_WIDTH
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quadrature of the joint sensitivity prior: ``(s_complaint, s_opt_out, prior)``.

    The two log-sensitivities are standard normals ``z_c``, ``z_o`` with correlation
    :data:`SENSITIVITY_CORRELATION` (``s = exp(σ z − σ²/2)``). Each gets the same uniform grid
    of ``points`` nodes over ``±half_width``; ``prior[i, j]`` is the bivariate normal density
    at ``(z_c[i], z_o[j])``, normalised to sum 1 (trapezoid rule: it converges fast on smooth
    integrands, and a product grid keeps the likelihoods separable — a complaint depends on
    ``z_c`` only, an opt-out or a refusal on ``z_o`` only).
    """
    z = np.linspace(-half_width, half_width, points)
    rho = SENSITIVITY_CORRELATION
    zc, zo = z[:, None], z[None, :]
    log_density = -(zc**2 - 2 * rho * zc * zo + zo**2) / (2 * (1 - rho**2))
    prior = np.exp(log_density - log_density.max())
    prior /= prior.sum()
    s_c = np.exp(SENSITIVITY_SIGMA * z - 0.5 * SENSITIVITY_SIGMA**2)
    s_o = np.exp(OPT_OUT_SENSITIVITY_SIGMA * z - 0.5 * OPT_OUT_SENSITIVITY_SIGMA**2)
    return s_c, s_o, np.ascontiguousarray(prior)


@njit(cache=True, nogil=True, inline="always")
def _one_minus_exp_neg(x: float) -> float:
    """``min(1 − exp(−x), P_CAP)``; a Taylor polynomial for small ``x`` (relative error
    < 3e-10 below 0.1, where most hazards are) saves the exponential."""
    if x < 0.1:
        return x * (1.0 - x * (0.5 - x * (1.0 / 6.0 - x * (1.0 / 24.0 - x * (
            1.0 / 120.0 - x / 720.0)))))  # fmt: skip
    return min(-math.expm1(-x), P_CAP)


@njit(cache=True, nogil=True)
def _ceiling_predict(hazard_c, hazard_o, s_c, s_o, prior, like_c, like_o, p_c, p_o, mix_c, mix_o):
    """E[p | observed history] of one contact: the true probability averaged over the
    sensitivity posterior ``prior · like_c ⊗ like_o`` (likelihoods of the earlier outcomes).

    ``hazard_*`` is ``exp(Σ βᵢ·xᵢ)`` (the hazard without the sensitivity). Leaves each node's
    true probability in ``p_c`` / ``p_o`` for :func:`_ceiling_update`; ``mix_*`` are scratch.
    Returns ``(p_complaint, p_opt_out)``.
    """
    k = s_c.shape[0]
    for i in range(k):
        p_c[i] = _one_minus_exp_neg(s_c[i] * hazard_c)
        p_o[i] = _one_minus_exp_neg(s_o[i] * hazard_o)
        mix_c[i] = 0.0
        mix_o[i] = 0.0
    # marginal weights: mix_c = prior · like_o, mix_o = priorᵀ · like_c (the grid prior is
    # symmetric: both log-sensitivities share the grid and are standard normal), written
    # as row updates so the inner loop vectorises
    for i in range(k):
        lc = like_c[i]
        lo = like_o[i]
        for j in range(k):
            mix_c[j] += prior[i, j] * lo
            mix_o[j] += prior[i, j] * lc
    num_c = 0.0
    num_o = 0.0
    total = 0.0
    for i in range(k):
        w_c = like_c[i] * mix_c[i]
        total += w_c
        num_c += w_c * p_c[i]
        num_o += like_o[i] * mix_o[i] * p_o[i]
    return num_c / total, num_o / total


@njit(cache=True, nogil=True)
def _ceiling_update(like_c, like_o, p_c, p_o, complained, opted_out, refusal_possible, refused,
                    contacts_7d, s_o):  # fmt: skip
    """Multiply in the likelihood of one contact's observed outcomes (in place).

    A complaint (or none) tells about ``s_c``; an opt-out (or none) and, on an answered
    marketing call that was not a short hang-up, a refusal (or none) tell about ``s_o``.
    Only ratios matter: a vector is rescaled when its maximum gets small (no underflow).
    """
    k = like_c.shape[0]
    top_c = 0.0
    top_o = 0.0
    ref_scale = REFUSAL_BASE * (1.0 + REFUSAL_PER_CONTACT_7D * contacts_7d)
    for i in range(k):
        like_c[i] *= p_c[i] if complained else 1.0 - p_c[i]
        f = p_o[i] if opted_out else 1.0 - p_o[i]
        if refusal_possible:
            p_ref = min(ref_scale * s_o[i], P_CAP)
            f *= p_ref if refused else 1.0 - p_ref
        like_o[i] *= f
        top_c = max(top_c, like_c[i])
        top_o = max(top_o, like_o[i])
    if top_c < 1e-100:
        for i in range(k):
            like_c[i] /= top_c
    if top_o < 1e-100:
        for i in range(k):
            like_o[i] /= top_o


# --------------------------------------------------------------------------- kernel
_NEW, _OPEN, _CLOSED = 0, 1, 2
_FAR = np.int64(2**62)


@njit(cache=True, nogil=True)
def _eligible(j, ct, ctouch, cattempt, ccamp, camp_purpose, camp_channel, ukeep, touch_state,
              last_t, optout_from, dnc_all_from, dnc_call_from, pre_from, pre_until):  # fmt: skip
    """Whether candidate ``j`` goes out, given the number's state (also used to look ahead)."""
    t = ct[j]
    if cattempt[j] > 0 and touch_state[ctouch[j]] != _OPEN:
        return False
    if t < last_t + MIN_GAP_S:
        return False
    c = ccamp[j]
    if camp_purpose[c] == P_MARKETING:
        blocked = t > optout_from or t > dnc_all_from or (pre_from < t and t < pre_until)
        if camp_channel[c] == CH_CALL and t > dnc_call_from:
            blocked = True
        if blocked and ukeep[j] >= LEAK_MARKETING:
            return False
    elif t > optout_from and ukeep[j] >= SERVICE_AFTER_OPT_OUT:
        return False
    return True


@njit(cache=True, nogil=True)
def _simulate_numbers(
    first, gidx, number_zone, number_lang_default, number_spanish_share,
    camp_channel, camp_purpose, camp_dial, camp_start_day, camp_end_day, camp_night,
    camp_attempts, camp_cdf,
    offsets, offsets_t0, text_lo, text_n,
    t0, days, seed_key, wc, wo, grid_sc, grid_so, grid_prior,
    ev_num, ev_seq, ev_ts, ev_kind, ev_channel, ev_purpose, ev_campaign, ev_dial, ev_outcome,
    ev_duration, ev_text, ev_source, ev_pc, ev_po, ev_pc_obs, ev_po_obs,
    con_has, con_channel, con_purpose, con_type, con_granted, con_revoked, con_confirmed,
    con_outside, con_evidence,
    dnc_num, dnc_action, dnc_scope, dnc_category, dnc_ts, dnc_source,
):  # fmt: skip
    """Simulate numbers ``first…`` until done or the event buffers are nearly full.

    Returns (next number to do, events written, DNC rows written).
    """
    n_numbers = gidx.shape[0]
    t_end = t0 + days * DAY
    cap = ev_ts.shape[0]
    n_camp = camp_cdf.shape[0]
    state = np.empty(1, dtype=np.uint64)
    max_c = MAX_TOUCHES * MAX_ATTEMPTS
    ct = np.empty(max_c, np.int64)
    ctouch = np.empty(max_c, np.int64)
    cattempt = np.empty(max_c, np.int64)
    ccamp = np.empty(max_c, np.int64)
    ukeep = np.empty(max_c, np.float64)
    touch_state = np.empty(MAX_TOUCHES, np.int64)
    look_state = np.empty(MAX_TOUCHES, np.int64)
    kt = np.empty(max_c, np.int64)
    kshort = np.empty(max_c, np.bool_)
    kref_t = np.empty(max_c, np.int64)
    # per-number event buffer (sorted by ts before output)
    b_ts = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_kind = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_channel = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_purpose = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_campaign = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_dial = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_outcome = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_duration = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    b_text = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_source = np.empty(MAX_EVENTS_PER_NUMBER, np.int64)
    b_pc = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    b_po = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    b_pc_obs = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)  # set on contact rows only
    b_po_obs = np.empty(MAX_EVENTS_PER_NUMBER, np.float64)
    # the observable ceiling: likelihood of the number's observed outcomes per grid node
    n_grid = grid_sc.shape[0]
    like_c = np.empty(n_grid, np.float64)
    like_o = np.empty(n_grid, np.float64)
    node_pc = np.empty(n_grid, np.float64)
    node_po = np.empty(n_grid, np.float64)
    mix_c = np.empty(n_grid, np.float64)
    mix_o = np.empty(n_grid, np.float64)
    n_ev = 0
    n_dnc = 0
    i = first
    while i < n_numbers:
        if n_ev + MAX_EVENTS_PER_NUMBER > cap or n_dnc + 2 * max_c + 4 > dnc_ts.shape[0]:
            break
        state[0] = np.uint64(seed_key) ^ (np.uint64(gidx[i]) * _MIX1)
        _next(state)
        zone = number_zone[i]
        # ---- latent traits
        z1 = _normal(state)
        z2 = _normal(state)
        sens_c = math.exp(SENSITIVITY_SIGMA * z1 - 0.5 * SENSITIVITY_SIGMA**2)
        zo = SENSITIVITY_CORRELATION * z1 + math.sqrt(1 - SENSITIVITY_CORRELATION**2) * z2
        sens_o = math.exp(OPT_OUT_SENSITIVITY_SIGMA * zo - 0.5 * OPT_OUT_SENSITIVITY_SIGMA**2)
        intensity = math.exp(INTENSITY_SIGMA * _normal(state) - 0.5 * INTENSITY_SIGMA**2)
        propensity = 1.0 / (1.0 + math.exp(-(-0.3 + 0.9 * _normal(state))))
        lang = number_lang_default[i]
        if _uniform(state) < number_spanish_share[i]:
            lang = LANG_ES
        # ---- consent (one grant or none)
        has = _uniform(state) < CONSENT_SHARE
        g_t = _FAR
        r_t = _FAR
        c_chan = 0
        c_type = -1
        c_purpose = P_MARKETING
        if has:
            u = _uniform(state)
            c_type = (
                CT_WRITTEN
                if u < 0.35
                else (CT_EXPRESS if u < 0.65 else (CT_SOFT if u < 0.85 else CT_IMPLIED))
            )
            u = _uniform(state)
            c_chan = 0 if u < 0.65 else (2 if u < 0.85 else 1)
            c_purpose = P_MARKETING if _uniform(state) < 0.9 else P_SERVICE
            if _uniform(state) < 0.85:
                g_t = t0 - int((1.0 + 719.0 * _uniform(state)) * DAY)
            else:
                g_t = t0 + int(_uniform(state) * days * DAY)
            if _uniform(state) < 0.05:
                r_t = max(g_t, t0) + 1 + int(_uniform(state) * days * DAY)
            con_confirmed[i] = -1
            if c_type <= CT_WRITTEN and _uniform(state) < 0.6:
                con_confirmed[i] = g_t + 60 + int(_uniform(state) * 2 * DAY)
            con_outside[i] = _uniform(state) < 0.05
            con_evidence[i] = _pick(state, 0, 5)
        con_has[i] = has
        con_channel[i] = c_chan
        con_type[i] = c_type
        con_purpose[i] = c_purpose
        con_granted[i] = g_t
        # ---- internal DNC before the simulation (some removed during it)
        pre_from = _FAR
        pre_until = _FAR
        if _uniform(state) < PRE_DNC_SHARE:
            pre_from = t0 - int((1.0 + 364.0 * _uniform(state)) * DAY)
            dnc_num[n_dnc] = i
            dnc_action[n_dnc] = 0
            dnc_scope[n_dnc] = 0
            dnc_category[n_dnc] = 0
            dnc_ts[n_dnc] = pre_from
            dnc_source[n_dnc] = 0
            n_dnc += 1
            if _uniform(state) < 0.2:
                pre_until = t0 + int(_uniform(state) * days * DAY)
                dnc_num[n_dnc] = i
                dnc_action[n_dnc] = 1
                dnc_scope[n_dnc] = 0
                dnc_category[n_dnc] = 0
                dnc_ts[n_dnc] = pre_until
                dnc_source[n_dnc] = 0
                n_dnc += 1
        # ---- candidate contacts: campaign touches and their retries
        n_touch = min(_poisson(state, intensity * TOUCHES_PER_180_DAYS * days / 180.0), MAX_TOUCHES)
        nc = 0
        for tch in range(n_touch):
            u = _uniform(state)
            c = 0
            while c < n_camp - 1 and camp_cdf[c] < u:
                c += 1
            span = camp_end_day[c] - camp_start_day[c]
            day = camp_start_day[c] + min(int(_uniform(state) * span), span - 1)
            if _uniform(state) < camp_night[c]:
                hour = NIGHT_HOURS[_pick(state, 0, 11)]
            else:
                hour = 9 + _pick(state, 0, 11)
            naive = t0 + day * DAY + hour * 3600 + int(_uniform(state) * 3600)
            h = (naive - offsets_t0) // 3600
            t = naive - offsets[zone, h]
            touch_state[tch] = _NEW
            for a in range(camp_attempts[c]):
                if a > 0:
                    t += RETRY_MIN_S + int(-RETRY_MEAN_S * math.log(1.0 - _uniform(state)))
                if t < t0 or t >= t_end:
                    break
                ct[nc] = t
                ctouch[nc] = tch
                cattempt[nc] = a
                ccamp[nc] = c
                nc += 1
        order = np.argsort(ct[:nc], kind="mergesort")
        ct[:nc] = ct[:nc][order]
        ctouch[:nc] = ctouch[:nc][order]
        cattempt[:nc] = cattempt[:nc][order]
        ccamp[:nc] = ccamp[:nc][order]
        for j in range(nc):
            ukeep[j] = _uniform(state)
        # ---- sequential history
        like_c[:] = 1.0
        like_o[:] = 1.0
        nb = 0
        nk = 0
        streak = 0
        last_t = -_FAR
        optout_from = _FAR
        dnc_all_from = _FAR
        dnc_call_from = _FAR
        for j in range(nc):
            ok = _eligible(j, ct, ctouch, cattempt, ccamp, camp_purpose, camp_channel, ukeep,
                           touch_state, last_t, optout_from, dnc_all_from, dnc_call_from,
                           pre_from, pre_until)  # fmt: skip
            if not ok:
                touch_state[ctouch[j]] = _CLOSED
                continue
            t = ct[j]
            c = ccamp[j]
            ch = camp_channel[c]
            pur = camp_purpose[c]
            dial = camp_dial[c]
            # drivers from the kept history strictly before t
            c1 = 0
            c7 = 0
            c30 = 0
            short30 = 0
            ref90 = 0
            for k in range(nk - 1, -1, -1):
                age = t - kt[k]
                if age > 90 * DAY:
                    break
                if age <= DAY:
                    c1 += 1
                if age <= WEEK:
                    c7 += 1
                if age <= 30 * DAY:
                    c30 += 1
                    if kshort[k]:
                        short30 += 1
                if kref_t[k] >= 0 and t - kref_t[k] <= 90 * DAY:
                    ref90 += 1
            local = t + offsets[zone, (t - offsets_t0) // 3600]
            local_hour = (local % DAY) // 3600
            night = local_hour >= 21 or local_hour < 8
            consent_ok = (
                has and g_t < t and t < r_t and c_purpose == P_MARKETING
                and (c_chan == 0 or (c_chan == 1 and ch == CH_CALL) or (c_chan == 2 and ch == CH_SMS))
            )  # fmt: skip
            # x: the driver vector in _WEIGHT_ORDER
            x1 = min(c1, CAP_1D)
            x7 = min(c7, CAP_7D)
            x30 = min(c30, CAP_30D)
            xs = min(streak, CAP_STREAK)
            xsh = min(short30, CAP_SHORT)
            xr = min(ref90, CAP_REFUSALS)
            no_consent = 0.0
            implied = 0.0
            soft = 0.0
            written = 0.0
            if pur == P_MARKETING:
                if not consent_ok:
                    no_consent = 1.0
                elif c_type == CT_IMPLIED:
                    implied = 1.0
                elif c_type == CT_SOFT:
                    soft = 1.0
                elif c_type == CT_WRITTEN:
                    written = 1.0
            service = 1.0 if pur == P_SERVICE else 0.0
            sms = 1.0 if ch == CH_SMS else 0.0
            predictive = 1.0 if dial == D_PREDICTIVE else 0.0
            prerec = 1.0 if dial == D_PRERECORDED else 0.0
            nightf = 1.0 if night else 0.0
            lc = (wc[0] + wc[1] * x1 + wc[2] * x7 + wc[3] * x30 + wc[4] * nightf + wc[5] * xs
                  + wc[6] * xsh + wc[7] * xr + wc[8] * no_consent + wc[9] * implied
                  + wc[10] * soft + wc[11] * written + wc[12] * service + wc[13] * sms
                  + wc[14] * predictive + wc[15] * prerec)  # fmt: skip
            lo = (wo[0] + wo[1] * x1 + wo[2] * x7 + wo[3] * x30 + wo[4] * nightf + wo[5] * xs
                  + wo[6] * xsh + wo[7] * xr + wo[8] * no_consent + wo[9] * implied
                  + wo[10] * soft + wo[11] * written + wo[12] * service + wo[13] * sms
                  + wo[14] * predictive + wo[15] * prerec)  # fmt: skip
            pc = min(1.0 - math.exp(-sens_c * math.exp(lc)), P_CAP)
            po = min(1.0 - math.exp(-sens_o * math.exp(lo)), P_CAP)
            pc_obs, po_obs = _ceiling_predict(math.exp(lc), math.exp(lo), grid_sc, grid_so,
                                              grid_prior, like_c, like_o, node_pc, node_po,
                                              mix_c, mix_o)  # fmt: skip
            complained = False
            opted_out = False
            refused = False
            # outcome: the answer model (propensity × hour of day)
            duration = math.nan
            short = False
            if ch == CH_SMS:
                outcome = O_FAILED if _uniform(state) < 0.04 else O_DELIVERED
            else:
                duration = 0.0
                if _uniform(state) < propensity * HOUR_ANSWER[local_hour]:
                    if dial == D_PREDICTIVE and _uniform(state) < 0.04:
                        outcome = O_ABANDONED
                    else:
                        outcome = O_ANSWERED
                        p_short = (
                            0.06 + 0.03 * min(c7, 10) + (0.25 if dial == D_PRERECORDED else 0.0)
                        )
                        if _uniform(state) < p_short:
                            duration = float(int(10 + 89 * _uniform(state))) / 10.0
                            short = True
                        else:
                            duration = min(
                                max(math.exp(3.9 + 0.8 * _normal(state)), 10.0), MAX_CALL_S
                            )
                            duration = float(int(duration))
                else:
                    u = _uniform(state)
                    if dial != D_MANUAL and u < 0.3:
                        outcome = O_AMD
                    elif u < 0.55:
                        outcome = O_NO_ANSWER
                    elif u < 0.83:
                        outcome = O_VOICEMAIL
                        duration = float(15 + int(30 * _uniform(state)))
                    elif u < 0.95:
                        outcome = O_BUSY
                    else:
                        outcome = O_FAILED
                if outcome == O_ANSWERED:
                    streak = 0
                else:
                    streak += 1
            # touch bookkeeping: retry only unanswered calls
            a = cattempt[j]
            if ch == CH_CALL and outcome != O_ANSWERED and a + 1 < camp_attempts[c]:
                touch_state[ctouch[j]] = _OPEN
            else:
                touch_state[ctouch[j]] = _CLOSED
            # emit the contact
            b_ts[nb] = t
            b_kind[nb] = K_CONTACT
            b_channel[nb] = ch
            b_purpose[nb] = pur
            b_campaign[nb] = c
            b_dial[nb] = dial
            b_outcome[nb] = outcome
            b_duration[nb] = duration
            b_text[nb] = -1
            b_source[nb] = -1
            b_pc[nb] = pc
            b_po[nb] = po
            b_pc_obs[nb] = pc_obs
            b_po_obs[nb] = po_obs
            nb += 1
            kt[nk] = t
            kshort[nk] = short
            kref_t[nk] = -1
            # refusal during an answered marketing call
            refusal_possible = outcome == O_ANSWERED and pur == P_MARKETING and not short
            if refusal_possible:
                p_ref = min(REFUSAL_BASE * sens_o * (1.0 + REFUSAL_PER_CONTACT_7D * c7), P_CAP)
                if _uniform(state) < p_ref:
                    refused = True
                    rt = t + max(1, int(duration))
                    kref_t[nk] = rt
                    nb = _emit_simple(nb, rt, K_REFUSAL, -1, b_ts, b_kind, b_channel, b_purpose,
                                      b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                      b_pc, b_po)  # fmt: skip
                    if _uniform(state) < REFUSAL_ADDS_DNC:
                        dnc_call_from = min(dnc_call_from, rt)
                        n_dnc = _emit_dnc(n_dnc, i, 0, 1, 1, rt, 1, dnc_num, dnc_action,
                                          dnc_scope, dnc_category, dnc_ts, dnc_source)  # fmt: skip
            nk += 1
            last_t = t
            # the label window: (t, min(next contact, t + 7 days))
            for m in range(n_touch):
                look_state[m] = touch_state[m]
            next_t = _FAR
            for jj in range(j + 1, nc):
                if _eligible(jj, ct, ctouch, cattempt, ccamp, camp_purpose, camp_channel, ukeep,
                             look_state, last_t, optout_from, dnc_all_from, dnc_call_from,
                             pre_from, pre_until):  # fmt: skip
                    next_t = ct[jj]
                    break
                look_state[ctouch[jj]] = _CLOSED
            window = min(next_t, t + WEEK) - t
            if _uniform(state) < pc:
                complained = True
                ts_c = t + _delay_in_window(state, window)
                u = _uniform(state)
                if ch == CH_SMS:
                    src = 0 if u < 0.55 else (1 if u < 0.9 else 2)
                else:
                    src = 0 if u < 0.8 else (1 if u < 0.9 else 2)
                nb = _emit_simple(nb, ts_c, K_COMPLAINT, src, b_ts, b_kind, b_channel, b_purpose,
                                  b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                  b_pc, b_po)  # fmt: skip
                if _uniform(state) < COMPLAINT_ADDS_DNC:
                    dnc_all_from = min(dnc_all_from, ts_c)
                    n_dnc = _emit_dnc(n_dnc, i, 0, 0, 0, ts_c, 2, dnc_num, dnc_action, dnc_scope,
                                      dnc_category, dnc_ts, dnc_source)  # fmt: skip
            if _uniform(state) < po:
                opted_out = True
                ts_o = t + _delay_in_window(state, window)
                if ch == CH_SMS and _uniform(state) < OPT_OUT_AS_REPLY_SMS:
                    txt = _pick(state, text_lo[lang, 0], text_n[lang, 0])
                    nb = _emit_simple(nb, ts_o, K_REPLY, -1, b_ts, b_kind, b_channel, b_purpose,
                                      b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                      b_pc, b_po)  # fmt: skip
                    b_text[nb - 1] = txt
                else:
                    nb = _emit_simple(nb, ts_o, K_OPT_OUT, -1, b_ts, b_kind, b_channel, b_purpose,
                                      b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                      b_pc, b_po)  # fmt: skip
                    if ch == CH_CALL and _uniform(state) < OPT_OUT_CALL_ADDS_DNC:
                        n_dnc = _emit_dnc(n_dnc, i, 0, 0, 0, ts_o, 3, dnc_num, dnc_action,
                                          dnc_scope, dnc_category, dnc_ts, dnc_source)  # fmt: skip
                optout_from = min(optout_from, ts_o)
                if has and g_t < ts_o and ts_o < r_t:
                    r_t = ts_o
            elif ch == CH_SMS and outcome == O_DELIVERED and _uniform(state) < ORDINARY_REPLY_SMS:
                u = _uniform(state)
                kind_col = 3 if u < 0.75 else (1 if u < 0.9 else 2)  # ordinary / help / start
                if kind_col == 2 and optout_from < _FAR:
                    kind_col = 3
                txt = _pick(state, text_lo[lang, kind_col], text_n[lang, kind_col])
                ts_r = t + 1 + int(_uniform(state) * min(window - 1, 6 * 3600))
                nb = _emit_simple(nb, ts_r, K_REPLY, -1, b_ts, b_kind, b_channel, b_purpose,
                                  b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                  b_pc, b_po)  # fmt: skip
                b_text[nb - 1] = txt
            _ceiling_update(like_c, like_o, node_pc, node_po, complained, opted_out,
                            refusal_possible, refused, c7, grid_so)  # fmt: skip
        con_revoked[i] = r_t if r_t < _FAR else -1
        # ---- business events, independent of contacts
        for kind, mean in ((K_PURCHASE, 0.25), (K_INQUIRY, 0.15), (K_CONTRACT_START, 0.06)):
            for _ in range(min(_poisson(state, mean * days / 180.0), 5)):
                te = t0 + int(_uniform(state) * days * DAY)
                nb = _emit_simple(nb, te, kind, -1, b_ts, b_kind, b_channel, b_purpose,
                                  b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                                  b_pc, b_po)  # fmt: skip
                if kind == K_CONTRACT_START and _uniform(state) < 0.4:
                    te2 = te + int((30 + 120 * _uniform(state)) * DAY)
                    if te2 < t_end:
                        nb = _emit_simple(nb, te2, K_CONTRACT_END, -1, b_ts, b_kind, b_channel,
                                          b_purpose, b_campaign, b_dial, b_outcome, b_duration,
                                          b_text, b_source, b_pc, b_po)  # fmt: skip
        if has and g_t >= t0:
            nb = _emit_simple(nb, g_t, K_OPT_IN, -1, b_ts, b_kind, b_channel, b_purpose,
                              b_campaign, b_dial, b_outcome, b_duration, b_text, b_source,
                              b_pc, b_po)  # fmt: skip
            b_channel[nb - 1] = -1 if c_chan == 0 else (CH_CALL if c_chan == 1 else CH_SMS)
        # ---- output in time order
        order = np.argsort(b_ts[:nb], kind="mergesort")
        for q in range(nb):
            s = order[q]
            o = n_ev + q
            ev_num[o] = i
            ev_seq[o] = q
            ev_ts[o] = b_ts[s]
            ev_kind[o] = b_kind[s]
            ev_channel[o] = b_channel[s]
            ev_purpose[o] = b_purpose[s]
            ev_campaign[o] = b_campaign[s]
            ev_dial[o] = b_dial[s]
            ev_outcome[o] = b_outcome[s]
            ev_duration[o] = b_duration[s]
            ev_text[o] = b_text[s]
            ev_source[o] = b_source[s]
            ev_pc[o] = b_pc[s]
            ev_po[o] = b_po[s]
            contact = b_kind[s] == K_CONTACT
            ev_pc_obs[o] = b_pc_obs[s] if contact else math.nan
            ev_po_obs[o] = b_po_obs[s] if contact else math.nan
        n_ev += nb
        i += 1
    return i, n_ev, n_dnc


@njit(cache=True, nogil=True, inline="always")
def _emit_simple(nb, ts, kind, source, b_ts, b_kind, b_channel, b_purpose, b_campaign, b_dial,
                 b_outcome, b_duration, b_text, b_source, b_pc, b_po):  # fmt: skip
    b_ts[nb] = ts
    b_kind[nb] = kind
    b_channel[nb] = -1
    b_purpose[nb] = -1
    b_campaign[nb] = -1
    b_dial[nb] = -1
    b_outcome[nb] = -1
    b_duration[nb] = math.nan
    b_text[nb] = -1
    b_source[nb] = source
    b_pc[nb] = math.nan
    b_po[nb] = math.nan
    return nb + 1


@njit(cache=True, nogil=True, inline="always")
def _emit_dnc(n, i, action, scope, category, ts, source, dnc_num, dnc_action, dnc_scope,
              dnc_category, dnc_ts, dnc_source):  # fmt: skip
    dnc_num[n] = i
    dnc_action[n] = action
    dnc_scope[n] = scope
    dnc_category[n] = category
    dnc_ts[n] = ts
    dnc_source[n] = source
    return n + 1


# --------------------------------------------------------------------------- arrow output
def _dictionary_column(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Codes (−1 = missing) → a string column, gathered in C++ (no Python strings)."""
    index = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.array(values, type=pa.string()).take(index)


def _fixed_width_ids(prefix: str, major: np.ndarray, major_digits: int, minor: np.ndarray,
                     minor_digits: int) -> pa.Array:  # fmt: skip
    """``<prefix><major:0Nd>-<minor:0Md>`` for millions of rows without Python strings."""
    n = len(major)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(head) + major_digits + 1 + minor_digits
    buf = np.empty((n, width), dtype=np.uint8)
    _fill_ids(head, major.astype(np.int64), major_digits, minor.astype(np.int64), minor_digits, buf)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.ravel())]
    )


def _instants(seconds: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    micros = pa.array(seconds.astype(np.int64) * 1_000_000, mask=missing)
    return micros.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))


def _floats(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


@dataclass
class _Sink:
    """One output file, written as a stream of row groups (Parquet) or CSV batches."""

    path: Path
    schema: pa.Schema
    parquet_options: dict[str, Any] | None = None
    writer: Any = None

    def write(self, table: pa.Table) -> None:
        if self.path.suffix == ".csv":
            import pyarrow.compute as pc
            import pyarrow.csv as pacsv

            cols = []
            for field_ in table.schema:
                col = table[field_.name]
                if pa.types.is_timestamp(field_.type):
                    col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ")
                cols.append(col)
            table = pa.table(cols, names=table.column_names)
            if self.writer is None:
                self.writer = pacsv.CSVWriter(str(self.path), table.schema)
            self.writer.write_table(table)
        else:
            import pyarrow.parquet as pq

            if self.writer is None:
                self.writer = pq.ParquetWriter(
                    str(self.path), self.schema, compression="zstd", **(self.parquet_options or {})
                )
            self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:  # nothing written: still leave a valid, empty file
            self.write(self.schema.empty_table())
        self.writer.close()


# --------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class _Setup:
    plan: NumberPlan
    catalog: CampaignCatalog
    block_zone: np.ndarray
    block_lang: np.ndarray
    block_spanish: np.ndarray
    offsets: np.ndarray
    offsets_t0: int
    text_values: tuple[str, ...]
    text_lo: np.ndarray
    text_n: np.ndarray


def _setup(seed: int, days: int, t0: int) -> _Setup:
    blocks = number_blocks()
    zones = sorted({b.zone for b in blocks})
    block_zone = np.array([zones.index(b.zone) for b in blocks], dtype=np.int64)
    block_lang = np.array([LANGUAGES.index(b.language) for b in blocks], dtype=np.int64)
    block_spanish = np.array(
        [US_SPANISH_SHARE if b.region == "US" else 0.0 for b in blocks], dtype=np.float64
    )
    offsets_t0 = t0 - 3 * DAY
    offsets = zone_offsets(zones, offsets_t0, (days + 20) * 24)
    values: list[str] = []
    text_lo = np.zeros((len(LANGUAGES), 4), dtype=np.int64)
    text_n = np.zeros((len(LANGUAGES), 4), dtype=np.int64)
    for li, lang in enumerate(LANGUAGES):
        for k, texts in enumerate(REPLY_TEXTS[lang]):
            text_lo[li, k] = len(values)
            text_n[li, k] = len(texts)
            values.extend(texts)
    return _Setup(
        NumberPlan.for_seed(seed), CampaignCatalog.for_seed(seed, days), block_zone, block_lang,
        block_spanish, offsets, offsets_t0, tuple(values), text_lo, text_n,
    )  # fmt: skip


def _seed_key(seed: int) -> np.uint64:
    """The master seed's 64-bit key (each number's stream is this key mixed with its index)."""
    return np.random.SeedSequence([seed, 0x53494D]).generate_state(1, dtype=np.uint64)[0]


def _weights(weights: dict[str, float]) -> np.ndarray:
    return np.array([weights[name] for name in _WEIGHT_ORDER], dtype=np.float64)


_EVENT_BUFFERS = (
    ("num", np.int32), ("seq", np.int32), ("ts", np.int64), ("kind", np.int8),
    ("channel", np.int8), ("purpose", np.int8), ("campaign", np.int16), ("dial", np.int8),
    ("outcome", np.int8), ("duration", np.float64), ("text", np.int16), ("source", np.int8),
    ("pc", np.float64), ("po", np.float64), ("pc_obs", np.float64), ("po_obs", np.float64),
)  # fmt: skip
_DNC_BUFFERS = (
    ("num", np.int32), ("action", np.int8), ("scope", np.int8), ("category", np.int8),
    ("ts", np.int64), ("source", np.int8),
)  # fmt: skip
_GRID = sensitivity_grid()
#: Event buffer per number in a chunk (≈ 10 are used on average; a pass that fills the
#: buffer is simply continued with a new one).
EVENTS_PER_NUMBER_BUFFER = 14


def _run_chunk(
    setup: _Setup, first: int, stop: int, *, days: int, t0: int, seed: int
) -> tuple[list[pa.Table], pa.Table, pa.Table]:
    """Simulate global numbers ``first..stop-1``: event tables, consent and DNC tables."""
    n = stop - first
    block, number_strings = setup.plan.assign(first, stop)
    gidx = np.arange(first, stop, dtype=np.int64)
    cap = n * EVENTS_PER_NUMBER_BUFFER + MAX_EVENTS_PER_NUMBER
    con = {
        name: np.zeros(n, dtype=dtype)
        for name, dtype in (
            ("has", np.bool_), ("channel", np.int8), ("purpose", np.int8), ("type", np.int8),
            ("granted", np.int64), ("revoked", np.int64), ("confirmed", np.int64),
            ("outside", np.bool_), ("evidence", np.int8),
        )
    }  # fmt: skip
    cat = setup.catalog
    tables: list[pa.Table] = []
    dnc_parts: list[dict[str, np.ndarray]] = []
    done = 0
    while done < n:
        # Fresh buffers each pass: Arrow may wrap them without copying.
        ev = {name: np.empty(cap, dtype=dtype) for name, dtype in _EVENT_BUFFERS}
        dnc_cap = (n - done) // 4 + 4 * MAX_TOUCHES * MAX_ATTEMPTS
        dnc = {name: np.empty(dnc_cap, dtype=dtype) for name, dtype in _DNC_BUFFERS}
        nxt, n_ev, n_dnc = _simulate_numbers(
            done, gidx, setup.block_zone[block], setup.block_lang[block],
            setup.block_spanish[block], cat.channel, cat.purpose, cat.dial_mode, cat.start_day,
            cat.end_day, cat.night_share, cat.attempts, cat.cdf, setup.offsets,
            setup.offsets_t0, setup.text_lo, setup.text_n, t0, days, _seed_key(seed),
            _weights(COMPLAINT_WEIGHTS), _weights(OPT_OUT_WEIGHTS), *_GRID,
            ev["num"], ev["seq"], ev["ts"], ev["kind"], ev["channel"], ev["purpose"],
            ev["campaign"], ev["dial"], ev["outcome"], ev["duration"], ev["text"], ev["source"],
            ev["pc"], ev["po"], ev["pc_obs"], ev["po_obs"],
            con["has"], con["channel"], con["purpose"], con["type"], con["granted"],
            con["revoked"], con["confirmed"], con["outside"], con["evidence"],
            dnc["num"], dnc["action"], dnc["scope"], dnc["category"], dnc["ts"], dnc["source"],
        )  # fmt: skip
        if nxt == done:
            raise RuntimeError("simulator buffers too small for one number")
        ev_used = {k: v[:n_ev] for k, v in ev.items()}
        tables.append(_event_table(setup, ev_used, gidx, number_strings))
        dnc_parts.append({k: v[:n_dnc] for k, v in dnc.items()})
        done = nxt
    dnc_all = {k: np.concatenate([p[k] for p in dnc_parts]) for k in dnc}
    return tables, _consent_table(con, gidx, number_strings), _dnc_table(dnc_all, number_strings)


def _event_table(setup: _Setup, ev: dict[str, np.ndarray], gidx: np.ndarray,
                 number_strings: pa.Array) -> pa.Table:  # fmt: skip
    cat = setup.catalog
    campaign = ev["campaign"]
    subject_codes = np.where(campaign >= 0, cat.subject_of[np.maximum(campaign, 0)], -1)
    arrays = {
        "event_id": _fixed_width_ids("ev-", gidx[ev["num"]], 9, ev["seq"], 4),
        "number": number_strings.take(pa.array(ev["num"])),
        "ts": _instants(ev["ts"]),
        "kind": _dictionary_column(EVENT_KINDS, ev["kind"]),
        "channel": _dictionary_column(CHANNELS, ev["channel"]),
        "purpose": _dictionary_column(PURPOSES, ev["purpose"]),
        "subject": _dictionary_column(cat.subjects, subject_codes),
        "campaign_id": _dictionary_column(cat.campaign_ids, campaign),
        "dial_mode": _dictionary_column(DIAL_MODES, ev["dial"]),
        "outcome": _dictionary_column(OUTCOMES, ev["outcome"]),
        "duration_s": _floats(ev["duration"]),
        "text": _dictionary_column(setup.text_values, ev["text"]),
        "source": _dictionary_column(SOURCES, ev["source"]),
        "p_complaint_true": _floats(ev["pc"]),
        "p_opt_out_true": _floats(ev["po"]),
        "p_complaint_observable": _floats(ev["pc_obs"]),
        "p_opt_out_observable": _floats(ev["po_obs"]),
    }
    return _table(arrays, event_schema())


def _consent_table(con: dict[str, np.ndarray], gidx: np.ndarray,
                   number_strings: pa.Array) -> pa.Table:  # fmt: skip
    rows = np.flatnonzero(con["has"])
    pick = {k: v[rows] for k, v in con.items()}
    purpose_codes = pick["purpose"]
    arrays = {
        "consent_id": _fixed_width_ids("cs-", gidx[rows], 9, np.zeros(len(rows)), 1),
        "number": number_strings.take(pa.array(rows)),
        "channel": _dictionary_column(CONSENT_CHANNELS, pick["channel"]),
        "purpose": _dictionary_column(PURPOSES, purpose_codes),
        "type": _dictionary_column(CONSENT_TYPES, pick["type"]),
        "granted_at": _instants(pick["granted"]),
        "revoked_at": _instants(pick["revoked"], pick["revoked"] < 0),
        "evidence": _dictionary_column(CONSENT_EVIDENCE, pick["evidence"]),
        "confirmed_at": _instants(pick["confirmed"], pick["confirmed"] < 0),
        "outside_hours": pa.array(pick["outside"], type=pa.bool_()),
    }
    return _table(arrays, consent_schema())


def _dnc_table(dnc: dict[str, np.ndarray], number_strings: pa.Array) -> pa.Table:
    arrays = {
        "number": number_strings.take(pa.array(dnc["num"])),
        "action": _dictionary_column(DNC_ACTIONS, dnc["action"]),
        "scope": _dictionary_column(DNC_SCOPES, dnc["scope"]),
        "category": _dictionary_column(DNC_CATEGORIES, dnc["category"]),
        "added_at": _instants(dnc["ts"]),
        "source": _dictionary_column(DNC_SOURCES, dnc["source"]),
    }
    return _table(arrays, dnc_schema())


def _table(arrays: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def event_schema() -> pa.Schema:
    """Arrow schema of ``events`` files: the Event contract (features.io.arrow_schema)."""
    from features.io import arrow_schema

    return arrow_schema(Event)


def consent_schema() -> pa.Schema:
    from features.io import arrow_schema

    return arrow_schema(Consent)


def dnc_schema() -> pa.Schema:
    from features.io import arrow_schema

    return arrow_schema(DncEntry)


def _epoch_seconds(start: dt.datetime | None) -> int:
    if start is None:
        start = DEFAULT_START
    if start.tzinfo is None:
        raise ValueError(f"start {start.isoformat()} has no time zone; give an offset or Z")
    return int(start.timestamp())


def simulate_to_dir(
    out: Path,
    *,
    numbers: int,
    days: int,
    seed: int,
    start: dt.datetime | None = None,
    fmt: str = "parquet",
    progress: bool = True,
) -> dict[str, Path]:
    """Simulate ``numbers`` numbers over ``days`` days from ``start`` (default 2026-01-01Z).

    Writes ``events.<fmt>``, ``consent.<fmt>`` and ``dnc.<fmt>`` into ``out`` and returns
    their paths. Same arguments → byte-identical files.
    """
    return _simulate_to_dir(
        Path(out), numbers=numbers, days=days, seed=seed, start=start, fmt=fmt,
        progress=progress, chunk_numbers=CHUNK_NUMBERS,
    )  # fmt: skip


def _simulate_to_dir(out: Path, *, numbers: int, days: int, seed: int, start: dt.datetime | None,
                     fmt: str, progress: bool, chunk_numbers: int) -> dict[str, Path]:  # fmt: skip
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format {fmt!r}: use parquet or csv")
    if numbers < 1 or days < 1:
        raise ValueError(f"numbers ({numbers}) and days ({days}) must be at least 1")
    t0 = _epoch_seconds(start)
    setup = _setup(seed, days, t0)
    setup.plan.check_capacity(numbers)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.{fmt}" for name in ("events", "consent", "dnc")}
    sinks = {
        "events": _Sink(paths["events"], event_schema(), _EVENT_PARQUET_OPTIONS),
        "consent": _Sink(paths["consent"], consent_schema()),
        "dnc": _Sink(paths["dnc"], dnc_schema()),
    }
    bar = _progress_bar(progress)
    starts = list(range(0, numbers, chunk_numbers))

    def chunk(first: int) -> tuple[list[pa.Table], pa.Table, pa.Table]:
        stop = min(numbers, first + chunk_numbers)
        return _run_chunk(setup, first, stop, days=days, t0=t0, seed=seed)

    # One worker simulates the next chunk (numba and Arrow release the GIL) while this
    # thread writes the previous one: at most two chunks are in memory.
    try:
        with bar, ThreadPoolExecutor(max_workers=1) as pool:
            task = bar.add_task("simulating numbers", total=numbers)
            pending = pool.submit(chunk, starts[0])
            for k, first in enumerate(starts):
                events, consent, dnc = pending.result()
                if k + 1 < len(starts):
                    pending = pool.submit(chunk, starts[k + 1])
                for table in events:
                    sinks["events"].write(table)
                sinks["consent"].write(consent)
                sinks["dnc"].write(dnc)
                bar.update(task, advance=min(numbers, first + chunk_numbers) - first)
    finally:
        for sink in sinks.values():
            sink.close()
    return paths


#: Unique or continuous columns skip dictionary encoding; statistics only where readers
#: filter (number, ts, kind). Together about 25 % faster to write, same size.
_EVENT_PARQUET_OPTIONS: dict[str, Any] = {
    "use_dictionary": [
        "number", "kind", "channel", "purpose", "subject", "campaign_id", "dial_mode",
        "outcome", "text", "source",
    ],
    "write_statistics": ["number", "ts", "kind"],
}  # fmt: skip


def _progress_bar(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )


# --------------------------------------------------------------------------- labels + summary
_COUNTRY_REGIONS: dict[str, str] = {"+44": "GB", "+33": "FR", "+49": "DE", "+61": "AU", "+86": "CN"}


def region_of_numbers(numbers: pa.Array | list[str]) -> pa.Array:
    """ISO 3166-1 region of simulated E.164 numbers from their prefix (no per-number parse).

    NANP numbers go by area code (libphonenumber's geocoder table, ``US``/``CA``), the
    others by country calling code; anything else is ``"??"``. Only meant for numbers this
    simulator wrote (its blocks are checked against ``features.phone.normalize``).
    """
    import pyarrow.compute as pc

    from features.phone import area_code_subdivisions

    arr = numbers if isinstance(numbers, pa.Array) else pa.array(numbers, type=pa.string())
    nanp = area_code_subdivisions()
    area_codes = pa.array(list(nanp), type=pa.string())
    nanp_regions = pa.array([v[:2] for v in nanp.values()], type=pa.string())
    by_area = nanp_regions.take(pc.index_in(pc.utf8_slice_codeunits(arr, 2, 5), area_codes))
    countries = pa.array(list(_COUNTRY_REGIONS), type=pa.string())
    country_regions = pa.array(list(_COUNTRY_REGIONS.values()), type=pa.string())
    by_country = country_regions.take(pc.index_in(pc.utf8_slice_codeunits(arr, 0, 3), countries))
    region = pc.if_else(pc.starts_with(arr, "+1"), by_area, by_country)
    return pc.fill_null(region, "??")


def label_contacts(
    number_code: np.ndarray,
    ts: np.ndarray,
    is_contact: np.ndarray,
    is_complaint: np.ndarray,
    is_opt_out: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``complaint_7d`` / ``opt_out_7d`` for every row (meaningful on contact rows).

    DESIGN.md: a complaint (an opt-out, incl. an opt-out reply) strictly after the contact,
    within 7 days, and strictly before the next contact to the same number. Rows must be
    sorted by (number, ts); at equal ts a contact counts as later than other events.
    ``ts`` is in microseconds since the epoch.
    """
    n = len(ts)
    idx = np.arange(n)
    last_contact = np.maximum.accumulate(np.where(is_contact, idx, -1)) if n else idx
    prev = np.where(is_contact, -1, last_contact)  # the contact a reaction belongs to
    linked = prev >= 0
    rows = np.flatnonzero(linked)
    linked[rows] = number_code[prev[rows]] == number_code[rows]
    never = np.iinfo(np.int64).max
    next_ts = np.full(n, never, dtype=np.int64)
    contact_rows = np.flatnonzero(is_contact)
    if len(contact_rows) > 1:
        same_number = number_code[contact_rows[1:]] == number_code[contact_rows[:-1]]
        next_ts[contact_rows[:-1]] = np.where(same_number, ts[contact_rows[1:]], never)
    labels = []
    for hit in (is_complaint, is_opt_out):
        rows = np.flatnonzero(hit & linked)
        c = prev[rows]
        inside = (
            (ts[rows] > ts[c]) & (ts[rows] <= ts[c] + WEEK * 1_000_000) & (ts[rows] < next_ts[c])
        )
        label = np.zeros(n, dtype=bool)
        label[c[inside]] = True
        labels.append(label)
    return labels[0], labels[1]


_PROBABILITY_COLUMNS = [
    "p_complaint_true", "p_opt_out_true", "p_complaint_observable", "p_opt_out_observable",
]  # fmt: skip
_SUMMARY_COLUMNS = ["number", "ts", "kind", "channel", "text", *_PROBABILITY_COLUMNS]
#: Rows per segment when labelling a Parquet file (bounded memory for any file size).
_SEGMENT_ROWS = 1_000_000


def _read_event_columns(path: Path) -> pa.Table:
    """The columns labelling needs, whole file (CSV, or a Parquet file not grouped by number)."""
    cols = _SUMMARY_COLUMNS
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=cols).combine_chunks()
    import pandas as pd

    from features.io import read_raw

    raw = read_raw(path)
    ts = pd.to_datetime(raw["ts"], utc=True, format="ISO8601")
    arrays = [pa.array(raw[c], type=pa.string(), from_pandas=True) for c in cols]
    arrays[1] = pa.array(ts.to_numpy("datetime64[us]")).cast(pa.timestamp("us", tz="UTC"))
    for k in range(5, len(cols)):
        arrays[k] = pa.array(pd.to_numeric(raw[cols[k]]).to_numpy(float), from_pandas=True)
    return pa.table(arrays, names=cols)


def _event_segments(path: Path, segment_rows: int = _SEGMENT_ROWS):
    """Tables that each hold whole numbers, read in segments of about ``_SEGMENT_ROWS``.

    Valid when each number's rows are contiguous (as this simulator writes them); the
    caller checks that the segments saw every number exactly once and otherwise falls back
    to :func:`_read_event_columns`.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    carry: pa.Table | None = None
    batches = pq.ParquetFile(path).iter_batches(batch_size=segment_rows, columns=_SUMMARY_COLUMNS)
    for batch in batches:
        table = pa.Table.from_batches([batch])
        if carry is not None and carry.num_rows:
            table = pa.concat_tables([carry, table])
        table = table.combine_chunks()
        numbers = table["number"].combine_chunks()
        is_last = pc.equal(numbers, numbers[len(numbers) - 1]).to_numpy(zero_copy_only=False)
        others = np.flatnonzero(~is_last)
        start = int(others[-1]) + 1 if len(others) else 0
        if start == 0:
            carry = table
            continue
        yield table.slice(0, start)
        carry = table.slice(start)
    if carry is not None and carry.num_rows:
        yield carry


def _numbers_are_grouped(path: Path) -> bool:
    """Whether each number's rows are contiguous in a Parquet file (read as small codes)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["number"], read_dictionary=["number"])
    column = table.unify_dictionaries()["number"].combine_chunks()
    codes = column.indices.to_numpy(zero_copy_only=False)
    runs = 1 + int(np.count_nonzero(np.diff(codes))) if len(codes) else 0
    return runs == len(column.dictionary)


def _labelled_segments(events_path: Path, segment_rows: int = _SEGMENT_ROWS):
    """(contact frame, events by kind, numbers) per segment of whole numbers."""
    events_path = Path(events_path)
    if events_path.suffix == ".parquet" and _numbers_are_grouped(events_path):
        for segment in _event_segments(events_path, segment_rows):
            yield _contact_frame(segment)
    else:
        yield _contact_frame(_read_event_columns(events_path))


def _codes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _contact_frame(table: pa.Table) -> tuple[Any, dict[str, int], int]:
    """Label the contacts of a table that holds every event of its numbers."""
    import pandas as pd

    from features.replies import classify_replies

    code, number_values = _codes(table["number"])
    ts = table["ts"].cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    kind_code, kinds = _codes(table["kind"])
    kind_counts = np.bincount(kind_code[kind_code >= 0], minlength=len(kinds))
    by_kind = {str(k): int(c) for k, c in zip(kinds, kind_counts, strict=True)}

    def is_kind(name: str) -> np.ndarray:
        return kind_code == kinds.index(name) if name in kinds else np.zeros(len(ts), bool)

    is_contact = is_kind("contact")
    reaction = is_kind("complaint") | is_kind("opt_out") | is_kind("reply")
    d_code, d_ts = np.diff(code), np.diff(ts)
    # Sorted by (number, ts), and no reaction tied with a contact that sorts before it?
    tie_wrong = (d_code == 0) & (d_ts == 0) & is_contact[:-1] & reaction[1:]
    ordered = bool(np.all(d_code >= 0) and np.all((d_code > 0) | (d_ts >= 0)))
    ordered = ordered and not tie_wrong.any()
    order = np.arange(len(ts)) if ordered else np.lexsort((is_contact, ts, code))
    code, ts, kind_code, is_contact = code[order], ts[order], kind_code[order], is_contact[order]
    region_of_code, region_names = _codes(region_of_numbers(pa.array(number_values)))
    region = region_of_code[code]
    reply_rows = np.flatnonzero(kind_code == kinds.index("reply")) if "reply" in kinds else []
    opt_out_reply = np.zeros(len(ts), dtype=bool)
    if len(reply_rows):
        texts = table["text"].take(pa.array(order[reply_rows])).cast(pa.string()).to_pandas()
        regions = pd.Series(np.array(region_names, dtype=object)[region[reply_rows]])
        labels = classify_replies(texts, regions.set_axis(texts.index))
        opt_out_reply[reply_rows] = (labels == "opt_out").to_numpy()
    is_complaint = (kind_code == kinds.index("complaint")) if "complaint" in kinds else None
    is_opt_out = (kind_code == kinds.index("opt_out")) if "opt_out" in kinds else None
    none = np.zeros(len(ts), dtype=bool)
    complaint, opt_out = label_contacts(
        code,
        ts,
        is_contact,
        none if is_complaint is None else is_complaint,
        opt_out_reply | (none if is_opt_out is None else is_opt_out),
    )
    rows = np.flatnonzero(is_contact)
    src = pa.array(order[rows])
    channel_code, channels = _codes(table["channel"].take(src))
    frame = pd.DataFrame(
        {
            "number_code": code[rows],
            "region": pd.Categorical.from_codes(region[rows], categories=region_names),
            "ts": ts[rows],
            "channel": pd.Categorical.from_codes(
                channel_code, categories=[c if c is not None else "" for c in channels]
            ),
            "complaint_7d": complaint[rows],
            "opt_out_7d": opt_out[rows],
            **{
                name: table[name].take(src).to_numpy(zero_copy_only=False)
                for name in _PROBABILITY_COLUMNS
            },
        }
    )
    return frame, by_kind, len(number_values)


def labelled_contacts(events_path: Path):
    """The contacts of an events file with their realised labels, region and oracle.

    A pandas DataFrame, one row per contact: ``number_code`` (dense code of the number),
    ``region`` (ISO 3166-1), ``ts`` (µs since epoch), ``channel``, ``complaint_7d``,
    ``opt_out_7d``, ``p_complaint_true``, ``p_opt_out_true`` (the oracle) and
    ``p_complaint_observable``, ``p_opt_out_observable`` (the observable ceiling). Opt-out replies are
    recognised with :func:`features.replies.classify_replies`.
    """
    import pandas as pd

    frames = []
    offset = 0
    for frame, _, numbers in _labelled_segments(Path(events_path)):
        frames.append(frame.assign(number_code=frame["number_code"] + offset))
        offset += numbers
    if len(frames) == 1:
        return frames[0]
    regions = sorted({c for f in frames for c in f["region"].cat.categories})
    channels = sorted({c for f in frames for c in f["channel"].cat.categories})
    frames = [
        f.assign(
            region=f["region"].cat.set_categories(regions),
            channel=f["channel"].cat.set_categories(channels),
        )
        for f in frames
    ]
    return pd.concat(frames, ignore_index=True)


def summarize(paths: dict[str, Path]) -> dict:
    """Print a summary table of a simulation and return its figures.

    Figures: events by kind, numbers, contacts, realised complaint / opt-out rate per
    contact (share of contacts with ``complaint_7d`` / ``opt_out_7d``) and the mean oracle
    probabilities, overall and by region and channel; consent and DNC row counts.
    """
    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.table import Table

    from features.io import read_raw

    events_path = Path(paths["events"])
    sums = ("contacts", "complaint_7d", "opt_out_7d", "p_complaint_true", "p_opt_out_true")
    totals: dict[tuple[str, str], np.ndarray] = {}
    by_kind: dict[str, int] = {}
    n_numbers = 0
    for frame, kinds, numbers in _labelled_segments(events_path):
        n_numbers += numbers
        for k, v in kinds.items():
            by_kind[k] = by_kind.get(k, 0) + v
        frame = frame.assign(contacts=1)
        for dim in ("all", "region", "channel"):
            keys = ["all"] * len(frame) if dim == "all" else frame[dim].astype(str)
            grouped = frame[list(sums)].groupby(np.asarray(keys), sort=False).sum()
            for key, row in grouped.iterrows():
                acc = totals.setdefault((dim, str(key)), np.zeros(len(sums)))
                acc += row.to_numpy(dtype=float)
    n_events = sum(by_kind.values())

    def rates(acc: np.ndarray | None) -> dict[str, float]:
        count = 0 if acc is None else int(acc[0])
        if not count:
            return {"contacts": 0, **dict.fromkeys(
                ("complaint_rate", "opt_out_rate", "p_complaint_mean", "p_opt_out_mean"), math.nan
            )}  # fmt: skip
        return {
            "contacts": count,
            "complaint_rate": acc[1] / count,
            "opt_out_rate": acc[2] / count,
            "p_complaint_mean": acc[3] / count,
            "p_opt_out_mean": acc[4] / count,
        }

    def count_rows(path: Path) -> int:
        if path.suffix == ".parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        return len(read_raw(path))

    def by(dim: str) -> dict[str, dict[str, float]]:
        keys = sorted(k for d, k in totals if d == dim)
        return {k: rates(totals[(dim, k)]) for k in keys}

    figures: dict[str, Any] = {
        "events": n_events,
        "events_by_kind": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
        "numbers": n_numbers,
        **rates(totals.get(("all", "all"))),
        "by_region": by("region"),
        "by_channel": by("channel"),
        "consent_rows": count_rows(Path(paths["consent"])),
        "dnc_rows": count_rows(Path(paths["dnc"])),
    }
    console = Console(width=max(Console().width, 100))
    head = Table(title=f"Simulated history: {events_path.parent}")
    head.add_column("events by kind")
    head.add_column("rows", justify="right")
    for k, v in figures["events_by_kind"].items():
        head.add_row(k, f"{v:,}")
    head.add_row("[b]all events[/b]", f"{n_events:,}")
    head.add_row("numbers (with events)", f"{figures['numbers']:,}")
    head.add_row("consent rows", f"{figures['consent_rows']:,}")
    head.add_row("internal DNC rows", f"{figures['dnc_rows']:,}")
    console.print(head)
    table = Table(title="Per contact: realised labels vs oracle (mean true probability)")
    for col in ("group", "contacts", "complaint_7d", "oracle p_complaint", "opt_out_7d",
                "oracle p_opt_out"):  # fmt: skip
        table.add_column(col, justify="right" if col != "group" else "left")

    def row(name: str, r: dict[str, float]) -> None:
        table.add_row(
            name, f"{r['contacts']:,}", f"{r['complaint_rate']:.3%}", f"{r['p_complaint_mean']:.3%}",
            f"{r['opt_out_rate']:.2%}", f"{r['p_opt_out_mean']:.2%}",
        )  # fmt: skip

    row("[b]all[/b]", figures)
    for name, r in figures["by_region"].items():
        row(f"region {name}", r)
    for name, r in figures["by_channel"].items():
        row(f"channel {name}", r)
    console.print(table)
    return figures


# --------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--numbers", type=int, default=100_000, help="how many phone numbers")
    parser.add_argument("--days", type=int, default=180, help="days of history to simulate")
    parser.add_argument("--seed", type=int, default=7, help="random seed (same seed → same files)")
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder for events/consent/dnc"
    )
    parser.add_argument(
        "--format", dest="fmt", choices=("parquet", "csv"), default="parquet",
        help="file format (Parquet is typed and ~10× smaller)",
    )  # fmt: skip
    parser.add_argument(
        "--start", type=_parse_start, default=DEFAULT_START,
        help="first instant of the history, ISO-8601 with offset or Z (e.g. 2026-01-01T00:00Z)",
    )  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--no-summary", action="store_true", help="skip the closing summary")


def _parse_start(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 instant") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no offset; add Z or +hh:mm")
    return value


def run(args: argparse.Namespace) -> int:
    began = time.perf_counter()
    paths = simulate_to_dir(
        args.out, numbers=args.numbers, days=args.days, seed=args.seed, start=args.start,
        fmt=args.fmt, progress=not args.no_progress,
    )  # fmt: skip
    elapsed = time.perf_counter() - began
    print(f"wrote {', '.join(str(p) for p in paths.values())} in {elapsed:.1f} s")
    if not args.no_summary:
        summarize(paths)
    return 0
