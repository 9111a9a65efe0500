"""Packs compiled into rule objects (:class:`_Pack`), indexed into a :class:`RuleBook`, and
the memoised plan of what to check for one contact shape (:class:`_Plan`)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from serving.domain.state import Contact
from serving.rules.clock import _wall_readings
from serving.rules.facts import _Facts, _place
from serving.rules.local_time import _DayBanRule, _HolidayRule, _WindowRule
from serving.rules.pacing import _BlockedPeriodRule, _CapRule, _CoolingOffRule
from serving.rules.permissions import (
    _ConsentRule,
    _InternalDncRule,
    _NoRulePackRule,
    _OptOutConfirmationRule,
    _PreferenceRule,
    _RegistryRule,
    _RevocationRule,
)
from serving.rules.rule import _CACHE_SIZE, _Rule
from serving.rules.schema import PACKS_DIR, RulePack, RulePackError, parse_duration, read_pack

__all__ = ["PACKS_DIR", "RuleBook", "load_rulebook"]


_RULE_CLASSES: dict[str, type[_Rule]] = {
    "window": _WindowRule,
    "day_ban": _DayBanRule,
    "holiday": _HolidayRule,
    "blocked_period": _BlockedPeriodRule,
    "cap": _CapRule,
    "cooling_off": _CoolingOffRule,
    "registry": _RegistryRule,
    "consent": _ConsentRule,
    "revocation": _RevocationRule,
    "internal_dnc": _InternalDncRule,
    "preference": _PreferenceRule,
    "opt_out_confirmation": _OptOutConfirmationRule,
    "no_rule_pack": _NoRulePackRule,
}


class _Pack:
    """A compiled pack: its enabled rules as objects, its scope as sets."""

    def __init__(self, spec: RulePack, path: Path) -> None:
        self.spec = spec
        self.path = path
        self.jurisdiction = spec.jurisdiction
        self.legal = spec.legal
        self.version = spec.version
        self.regions = tuple(spec.applies_to.regions)
        self.subdivisions = tuple(spec.applies_to.subdivisions)
        self.is_default = spec.applies_to.default
        self.everywhere = spec.applies_to.everywhere
        self.rules: tuple[_Rule, ...] = tuple(
            _RULE_CLASSES[rule.kind](rule, self) for rule in spec.rules if rule.enabled
        )


@dataclass(frozen=True)
class RuleBook:
    """All packs, compiled and indexed; ``version`` = pack versions + a content hash."""

    packs: tuple[_Pack, ...]
    version: str
    directory: Path
    pack_versions: dict[str, str] = field(default_factory=dict)
    by_region: dict[str, tuple[_Pack, ...]] = field(default_factory=dict)
    by_subdivision: dict[str, tuple[_Pack, ...]] = field(default_factory=dict)
    default_pack: _Pack | None = None
    everywhere_packs: tuple[_Pack, ...] = ()
    plan_cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def jurisdictions(self) -> tuple[str, ...]:
        return tuple(pack.jurisdiction for pack in self.packs)

    def history_lookback(self) -> dict[str, dt.timedelta | None]:
        """How far back the store must load each event kind for these packs (None: all).

        Contacts: the longest cap window, cooling-off (duration + within) and the 7-day
        preference cap. Refusals: the longest cooling-off after them. Purchases and
        inquiries: the longest EBR / implied-consent window (a month counted as 31 days).
        Opt-outs, opt-ins, replies and contract starts/ends: all of them, because a
        revocation never expires and a contract stays in force until it ends.
        """
        month = dt.timedelta(days=31)
        week = dt.timedelta(days=7)
        spans: dict[str, dt.timedelta] = {"contact": week}

        def widen(kind: str, span: dt.timedelta) -> None:
            spans[kind] = max(spans.get(kind, dt.timedelta(0)), span)

        for pack in self.packs:
            for rule in pack.rules:
                spec = rule.spec
                if spec.kind == "cap":
                    widen("contact", parse_duration(spec.window)[1])
                elif spec.kind == "cooling_off":
                    span = parse_duration(spec.duration)[1]
                    if spec.within:
                        span += parse_duration(spec.within)[1]
                    if spec.after_outcomes:
                        widen("contact", span)
                    for kind in spec.after_kinds:
                        widen(kind, span)
                elif spec.kind in ("registry", "consent"):
                    windows = (
                        {"purchase": spec.exemptions.ebr_purchase, "contract_start": spec.exemptions.ebr_purchase,
                         "inquiry": spec.exemptions.ebr_inquiry}
                        if spec.kind == "registry"
                        else dict(spec.implied_from)
                    )  # fmt: skip
                    for kind, text in windows.items():
                        if text:
                            months, delta = parse_duration(text)
                            widen(kind, months * month + delta)
        lookback: dict[str, dt.timedelta | None] = dict(spans)
        for kind in ("opt_out", "opt_in", "reply", "contract_start", "contract_end"):
            lookback[kind] = None
        return lookback

    def packs_for(self, facts: _Facts) -> tuple[_Pack, ...]:
        """Packs governing a contact: by region, by subdivision, the default, then policy.

        Sets ``facts.default_regions`` (the countries only the default pack covers).
        """
        chosen: list[_Pack] = []
        uncovered: list[str] = []
        for country in facts.country_codes:
            packs = self.by_region.get(country, ())
            if not packs:
                uncovered.append(country)
            chosen.extend(pack for pack in packs if pack not in chosen)
        for subdivision in facts.subdivision_codes:
            chosen.extend(
                pack for pack in self.by_subdivision.get(subdivision, ()) if pack not in chosen
            )
        default_regions: tuple[str, ...] = ()
        if uncovered and self.default_pack is not None:
            default_regions = tuple(uncovered)
            chosen.append(self.default_pack)
        chosen.extend(self.everywhere_packs)
        facts.default_regions = default_regions
        return tuple(chosen)

    def rules_for(self, packs: tuple[_Pack, ...], contact: Contact) -> tuple[_Rule, ...]:
        """The rules of ``packs`` that govern this kind of contact, in pack order.

        A POLICY rule with ``defer_to_law: applies`` is dropped when a rule of the same
        kind from another pack governs the contact.
        """
        applicable: list[_Rule] = []
        law_kinds: set[str] = set()
        for pack in packs:
            for rule in pack.rules:
                if not rule.applies(contact):
                    continue
                if rule.defer_to_law == "applies" and rule.kind in law_kinds:
                    continue
                applicable.append(rule)
                if not pack.everywhere and not rule.dated:
                    # a dated law may lapse: the policy it would replace stays (conservative)
                    law_kinds.add(rule.kind)
        return tuple(applicable)

    def forget(self) -> None:
        """Drop every memo: the plans, the rules' own and the module's (wall-clock readings,
        places). Results never depend on them (``tests/serving/rules/test_memos.py``)."""
        self.plan_cache.clear()
        for pack in self.packs:
            for rule in pack.rules:
                rule.forget()
        _wall_readings.cache_clear()
        _place.cache_clear()

    def plan_for(self, facts: _Facts) -> _Plan:
        """What to check for this contact (:class:`_Plan`), memoised per contact shape:
        places, channel, purpose, dial mode, line type, live agent and ``facts.present``."""
        contact = facts.contact
        key = (
            facts.country_codes,
            facts.subdivision_codes,
            bool(facts.zones),
            contact.channel,
            contact.purpose,
            contact.dial_mode,
            contact.number.line_type,
            contact.live_agent_guaranteed,
            facts.present,
        )
        plan = self.plan_cache.get(key)
        if plan is None:
            if len(self.plan_cache) >= _CACHE_SIZE:
                self.plan_cache.clear()
            plan = self.plan_cache[key] = _Plan(self, facts)
        facts.default_regions = plan.default_regions
        return plan


class _Plan:
    """The packs and rules of one contact shape (:meth:`RuleBook.plan_for`).

    ``rules`` leave out those whose input is absent (``_Rule.needs``: they pass at every
    instant) and, when no zone is known, the local-time ones: ``local_rules`` counts these
    for ``UNKNOWN_TIMEZONE``, which ``unknown_timezone`` says fires. ``moving`` are the
    rules the ``next_allowed_at`` search re-checks.
    """

    __slots__ = (
        "packs", "default_regions", "jurisdictions", "rules", "moving", "unknown_timezone",
        "local_rules",
    )  # fmt: skip

    def __init__(self, book: RuleBook, facts: _Facts) -> None:
        self.packs = book.packs_for(facts)
        self.default_regions = facts.default_regions
        self.jurisdictions = tuple(pack.jurisdiction for pack in self.packs)
        present = facts.present
        rules = [
            rule
            for rule in book.rules_for(self.packs, facts.contact)
            if not rule.needs or rule.needs & present
        ]
        self.unknown_timezone = False
        self.local_rules = 0
        if not facts.zones:
            # docs/rules.md, rule 3 of "How the rules are applied": no known zone → UNKNOWN_TIMEZONE for every marketing
            # contact (a window we cannot check, or one a later rule or preference would
            # need), and for any other contact that a local-time rule governs
            self.local_rules = sum(1 for rule in rules if rule.needs_local_time)
            if self.local_rules or facts.contact.purpose == "marketing":
                self.unknown_timezone = True
                rules = [rule for rule in rules if not rule.needs_local_time]
        self.rules = tuple(rules)
        self.moving = tuple(rule for rule in rules if rule.varies_with_time)


@functools.cache
def required_jurisdictions() -> frozenset[str]:
    """The jurisdictions of the packs shipped with contactgate: every rules directory must
    hold a pack for each (it may change them and add more)."""
    return frozenset(read_pack(file).jurisdiction for file in PACKS_DIR.glob("*.yaml"))


def load_rulebook(path: Path | None = None) -> RuleBook:
    """Read, validate and compile every ``*.yaml`` pack in ``path`` (default: packaged packs).

    Raises :class:`RulePackError` naming the file and key of the first problem.
    """
    directory = Path(path) if path is not None else PACKS_DIR
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise RulePackError(directory, "(directory)", "no *.yaml rule packs found")
    digest = hashlib.sha256()
    packs: list[_Pack] = []
    seen: dict[str, Path] = {}
    for file in files:
        spec = read_pack(file)
        if spec.jurisdiction in seen:
            raise RulePackError(
                file,
                "jurisdiction",
                f"{spec.jurisdiction} is already defined in {seen[spec.jurisdiction].name}",
            )
        seen[spec.jurisdiction] = file
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
        packs.append(_Pack(spec, file))
    if directory.resolve() != PACKS_DIR.resolve():
        missing = sorted(required_jurisdictions() - set(seen))
        if missing:
            raise RulePackError(
                directory,
                "(directory)",
                f"missing required pack(s) {', '.join(missing)}: a rules directory holds every "
                f"pack shipped in {PACKS_DIR} (copy it, then edit or add packs); a jurisdiction "
                "without its pack would be decided by the default rules alone",
            )
    by_region: dict[str, list[_Pack]] = {}
    by_subdivision: dict[str, list[_Pack]] = {}
    default_pack = None
    everywhere: list[_Pack] = []
    for pack in packs:
        for region in pack.regions:
            by_region.setdefault(region, []).append(pack)
        for subdivision in pack.subdivisions:
            by_subdivision.setdefault(subdivision, []).append(pack)
        if pack.is_default:
            if default_pack is not None:
                raise RulePackError(pack.path, "applies_to.default", "only one default pack")
            default_pack = pack
        if pack.everywhere:
            everywhere.append(pack)
    versions = {pack.jurisdiction: pack.version for pack in packs}
    distinct = sorted(set(versions.values()))
    version = f"{'+'.join(distinct)}/{len(packs)} packs/sha256:{digest.hexdigest()[:12]}"
    return RuleBook(
        packs=tuple(packs),
        version=version,
        directory=directory,
        pack_versions=versions,
        by_region={key: tuple(value) for key, value in by_region.items()},
        by_subdivision={key: tuple(value) for key, value in by_subdivision.items()},
        default_pack=default_pack,
        everywhere_packs=tuple(everywhere),
    )
