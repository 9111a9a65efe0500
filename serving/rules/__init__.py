"""Rules engine: a pure function of (contact, number state, world state, rule book).

:func:`evaluate` returns **every** reason that fires (docs/rules.md, rule 6 of "How the rules are applied") and, when all
of them are time-based, ``next_allowed_at``: the earliest instant at which every rule passes,
searched forward up to 30 days. It never reads the clock or a database — the instant is
``contact.at`` and everything known about the number comes in ``NumberState`` and
``WorldState`` (built by the store).

Packs are data (``packs/*.yaml``, schema in :mod:`serving.rules.schema`); :func:`load_rulebook`
compiles them once into small rule objects, each one of the primitives below. Adding a
jurisdiction is a new YAML file plus tests, never an engine change.

Conventions (docs/rules.md, "How the rules are applied"):
- windows are half-open in the recipient's local time, checked in **every** candidate zone
  (the number's zones ∪ the zones of a known address region);
- toll-free / non-geographic numbers without an address have no zone → ``UNKNOWN_TIMEZONE``;
- US state packs apply by area code **and** by address region; all their reasons are kept;
- history events after ``contact.at`` are ignored (audits and backtests evaluate "as of").

Modules, in dependency order:

- :mod:`~serving.rules.results` — :class:`Reason`, :class:`Evaluation` and their dict shape;
- :mod:`~serving.rules.clock` — wall-clock readings, DST, calendar spans, next pass in every zone;
- :mod:`~serving.rules.places` — address region → candidate zones;
- :mod:`~serving.rules.calendars` — public holiday calendars;
- :mod:`~serving.rules.facts` — what the rules read from one contact's state;
- :mod:`~serving.rules.rule` — the base of every compiled rule; the primitives:
  :mod:`~serving.rules.local_time` (windows, day bans, holidays),
  :mod:`~serving.rules.permissions` (registries, consent, revocation, internal DNC,
  preferences, regions without rules), :mod:`~serving.rules.pacing` (caps, cooling-off,
  blocked periods);
- :mod:`~serving.rules.rulebook` — packs, the rule book, plans, :func:`load_rulebook`;
- :mod:`~serving.rules.evaluator` — :func:`evaluate` (reasons are :class:`serving.domain.reasons.Reason`).
"""

from serving.domain.reasons import Reason, policy_reason
from serving.rules.evaluator import SEARCH_HORIZON, evaluate
from serving.rules.places import zones_for_region
from serving.rules.results import TIME_BASED_CODES, Evaluation
from serving.rules.rulebook import PACKS_DIR, RuleBook, load_rulebook
from serving.rules.schema import RulePackError

__all__ = [
    "PACKS_DIR",
    "SEARCH_HORIZON",
    "TIME_BASED_CODES",
    "Evaluation",
    "Reason",
    "RuleBook",
    "RulePackError",
    "evaluate",
    "load_rulebook",
    "policy_reason",
    "zones_for_region",
]
