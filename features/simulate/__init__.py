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
``t`` (docs/model.md windows ``t − N days ≤ ts < t``): contacts in the prior 1, 7 and 30 days
(all channels), the current unanswered-call streak, short hang-ups (answered, < 10 s) and
refusals in the prior 30 / 90 days, the contact's own local hour (night = 21:00–08:00 in
the number's first candidate zone), its purpose, channel and dial mode, and the consent in
force at ``t`` (type, channel). See :data:`COMPLAINT_WEIGHTS` and :data:`OPT_OUT_WEIGHTS`.

Labels match docs/model.md exactly: when the Bernoulli draw fires, the complaint / opt-out (an
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

Modules: :mod:`~features.simulate.world` (vocabulary, ground truth, behaviour, replies,
campaigns, local time), :mod:`~features.simulate.numbers` (number blocks and plans),
:mod:`~features.simulate.rng` (random streams), :mod:`~features.simulate.hazard` (the
observable ceiling), :mod:`~features.simulate.kernel` (the numba kernel),
:mod:`~features.simulate.writer` (Arrow tables, files, the driver),
:mod:`~features.simulate.summary` (labels and the summary) and
:mod:`~features.simulate.cli` (the ``contactgate simulate`` command).
"""

from __future__ import annotations

from features.simulate.hazard import sensitivity_grid
from features.simulate.numbers import NumberBlock, NumberPlan, number_blocks
from features.simulate.summary import (
    labelled_contacts,
    summarize,
)
from features.simulate.world import (
    COMPLAINT_WEIGHTS,
    DEFAULT_OUT,
    DEFAULT_START,
    LANGUAGES,
    OPT_OUT_SENSITIVITY_SIGMA,
    OPT_OUT_WEIGHTS,
    P_CAP,
    REPLY_TEXTS,
    SENSITIVITY_CORRELATION,
    SENSITIVITY_SIGMA,
    CampaignCatalog,
    zone_offsets,
)
from features.simulate.writer import consent_schema, dnc_schema, event_schema, simulate_to_dir

__all__ = [
    "COMPLAINT_WEIGHTS",
    "DEFAULT_OUT",
    "DEFAULT_START",
    "LANGUAGES",
    "OPT_OUT_SENSITIVITY_SIGMA",
    "OPT_OUT_WEIGHTS",
    "P_CAP",
    "REPLY_TEXTS",
    "SENSITIVITY_CORRELATION",
    "SENSITIVITY_SIGMA",
    "CampaignCatalog",
    "NumberBlock",
    "NumberPlan",
    "consent_schema",
    "dnc_schema",
    "event_schema",
    "labelled_contacts",
    "number_blocks",
    "sensitivity_grid",
    "simulate_to_dir",
    "summarize",
    "zone_offsets",
]
