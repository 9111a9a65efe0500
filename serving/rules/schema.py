"""Schema of a rule pack (``serving/rules/packs/<jurisdiction>.yaml``) and its loader.

A pack is data: who it applies to, where its facts come from, and a list of rules, each
one of a few primitives (``kind``). The schema is strict (``extra="forbid"``): a typo in a
key is an error naming the file and the key, never a silently ignored rule — an ignored
rule in a compliance system is a rule that is not enforced.

Markers follow docs/rules.md: ``C`` seen in primary text, ``S`` secondary source, ``M``
unconfirmed, ``P`` company policy (reported with ``legal: false``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.schema import (
    Channel,
    ConsentType,
    ContactPurpose,
    DialMode,
    EventKind,
    Outcome,
    Registry,
)

#: Where the packaged rule packs live (one YAML file per jurisdiction).
PACKS_DIR = Path(__file__).with_name("packs")

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[str, ...] = Day.__args__  # type: ignore[attr-defined]
#: Shorthands accepted as keys of ``window.days``; each day must end up listed exactly once.
DAY_GROUPS: dict[str, tuple[str, ...]] = {
    **{day: (day,) for day in DAYS},
    "mon-fri": DAYS[:5],
    "mon-sat": DAYS[:6],
    "mon-sun": DAYS,
    "sat-sun": DAYS[5:],
}
Marker = Literal["C", "S", "M", "P"]
LineType = Literal[
    "fixed_line", "mobile", "fixed_line_or_mobile", "toll_free", "premium_rate", "shared_cost",
    "voip", "personal_number", "pager", "uan", "voicemail", "unknown",
]  # fmt: skip

_DURATION_RE = re.compile(r"^(\d+)(s|min|h|d|mo)$")
_CLOCK_RE = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


def _check_duration(value: str) -> str:
    if not _DURATION_RE.match(value):
        raise ValueError(f"{value!r} is not a duration like '24h', '7d', '30d' or '18mo'")
    return value


def _check_fixed_duration(value: str) -> str:
    _check_duration(value)
    if value.endswith("mo"):
        raise ValueError(f"{value!r}: calendar months are only allowed for exemption windows")
    return value


def _check_clock(value: str) -> str:
    if not _CLOCK_RE.match(value):
        raise ValueError(f"{value!r} is not a local time HH:MM (00:00-24:00)")
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
"""A span: seconds ``s``, minutes ``min``, hours ``h``, days ``d`` or calendar months ``mo``."""
FixedDuration = Annotated[str, AfterValidator(_check_fixed_duration)]
Clock = Annotated[str, AfterValidator(_check_clock)]
Interval = Annotated[list[Clock], Field(min_length=2, max_length=2)]
"""A half-open local window ``[start, end)`` written ``["08:00", "21:00"]``."""


def parse_duration(value: str) -> tuple[int, dt.timedelta]:
    """``"18mo"`` → ``(18, 0)``; ``"24h"`` → ``(0, 24 h)``: months stay calendar months."""
    match = _DURATION_RE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a duration")
    amount, unit = int(match.group(1)), match.group(2)
    if unit == "mo":
        return amount, dt.timedelta(0)
    seconds = {"s": 1, "min": 60, "h": 3600, "d": 86400}[unit]
    return 0, dt.timedelta(seconds=amount * seconds)


def clock_minutes(value: str) -> int:
    """``"08:30"`` → 510 minutes after local midnight (``"24:00"`` → 1440)."""
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


class PackModel(BaseModel):
    """Every pack object: unknown keys are errors, values immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Source(PackModel):
    """Where a pack's facts come from (statute, regulator page, vendor documentation)."""

    cite: str = Field(min_length=3)
    url: str | None = None
    marker: Marker = "C"


class AppliesTo(PackModel):
    """Which contacts a pack governs.

    ``regions`` (ISO 3166-1) match the number's region or the country of the address;
    ``subdivisions`` (ISO 3166-2) match the number's area-code subdivision **or** the
    address region (docs/rules.md, rule 4 of "How the rules are applied"). ``default`` marks the conservative pack for a
    known region without its own pack; ``everywhere`` marks the company POLICY pack.
    """

    regions: list[str] = Field(default_factory=list)
    subdivisions: list[str] = Field(default_factory=list)
    default: bool = False
    everywhere: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> AppliesTo:
        chosen = sum([bool(self.regions or self.subdivisions), self.default, self.everywhere])
        if chosen != 1:
            raise ValueError(
                "give exactly one of: regions/subdivisions, default: true, everywhere: true"
            )
        return self


class Exemptions(PackModel):
    """Explicit exemptions (docs/rules.md, rule 7 of "How the rules are applied": from data, never inferred).

    ``ebr_purchase`` / ``ebr_inquiry``: an established business relationship lasts this long
    after a purchase or contract start / an inquiry; a later internal-DNC request or
    opt-out ends it (47 CFR 64.1200(f)(5)(i); CRTC UTR). ``contract_in_force``: a
    ``contract_start`` without a later ``contract_end``. ``consent_types``: a valid consent
    of one of these types for the channel and purpose. ``consent_after_snapshot``: a listing
    cancels consents given before it (Italy's RPO); the store keeps only the snapshot in
    force, so only consents granted after that snapshot's date count (conservative).
    """

    ebr_purchase: Duration | None = None
    ebr_inquiry: Duration | None = None
    contract_in_force: bool = False
    consent_types: list[ConsentType] = Field(default_factory=list)
    consent_after_snapshot: bool = False


class RuleBase(PackModel):
    """What every rule has: identity, provenance and which contacts it applies to.

    ``purposes`` defaults to marketing: service contacts skip marketing-only rules, as the
    laws we encode regulate solicitation. A contact of purpose ``opt_out_confirmation`` is
    governed only by the rules that name it (``opt_out_confirmation`` rules above all).
    ``defer_to_law`` is for POLICY rules:
    ``applies`` — skip when a legal rule of the same kind applies to the contact (e.g. no
    night-time SMS *where no law sets hours*); ``fired`` — skip when a legal rule already
    reported the same code (avoids double reporting).
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    marker: Marker
    cite: str = Field(min_length=3)
    url: str | None = Field(None, pattern=r"^https?://\S+$")
    note: str | None = None
    enabled: bool = True
    channels: list[Channel] = Field(default_factory=lambda: ["call", "sms"], min_length=1)
    purposes: list[ContactPurpose] = Field(default_factory=lambda: ["marketing"], min_length=1)
    dial_modes: list[DialMode] | None = None
    line_types: list[LineType] | None = None
    effective_from: dt.date | None = None
    effective_until: dt.date | None = None
    defer_to_law: Literal["never", "applies", "fired"] = "never"

    @model_validator(mode="after")
    def _dates_in_order(self) -> RuleBase:
        if (
            self.effective_from is not None
            and self.effective_until is not None
            and self.effective_until < self.effective_from
        ):
            raise ValueError("effective_until is before effective_from")
        return self


class WindowRule(RuleBase):
    """Calling windows per weekday in the recipient's local time, half-open ``[start, end)``.

    A day whose list is empty has no window (``DAY_NOT_ALLOWED``); outside every window of
    an allowed day is ``QUIET_HOURS``. ``exempt_outside_hours_consent``: an express consent
    to calls outside these hours lifts the rule (Code de la consommation D.223-9).
    ``fixed_zone``: hours a law writes in a standard time all year (Mississippi's "Central
    Standard Time"), checked on that fixed clock instead of the recipient's.
    """

    kind: Literal["window"]
    days: dict[str, list[Interval]]
    exempt_outside_hours_consent: bool = False
    fixed_zone: str | None = Field(None, pattern=r"^Etc/GMT[+-]\d{1,2}$")

    @model_validator(mode="after")
    def _every_day_once(self) -> WindowRule:
        seen: list[str] = []
        for key, intervals in self.days.items():
            if key not in DAY_GROUPS:
                raise ValueError(f"days: unknown day {key!r}; use mon..sun or mon-fri, sat-sun")
            seen.extend(DAY_GROUPS[key])
            for start, end in intervals:
                if clock_minutes(start) >= clock_minutes(end):
                    raise ValueError(f"days.{key}: window {start}-{end} is empty")
        missing = [day for day in DAYS if day not in seen]
        doubled = sorted({day for day in seen if seen.count(day) > 1})
        if missing or doubled:
            raise ValueError(f"days: every day exactly once (missing {missing}, twice {doubled})")
        return self

    def expanded_days(self) -> dict[str, list[tuple[str, str]]]:
        """``{"mon": [("08:00", "21:00")], ...}`` with shorthands expanded."""
        return {
            day: [(start, end) for start, end in intervals]
            for key, intervals in self.days.items()
            for day in DAY_GROUPS[key]
        }


class DayBanRule(RuleBase):
    """No contact on these local weekdays (``DAY_NOT_ALLOWED``), e.g. Sundays in Louisiana."""

    kind: Literal["day_ban"]
    days: list[Day] = Field(min_length=1)
    exempt_outside_hours_consent: bool = False


class HolidayRule(RuleBase):
    """No contact on a public holiday of a calendar from the ``holidays`` package.

    ``country: from_region`` uses the contact's own region (DEFAULT pack). ``observed``
    includes the weekday on which a weekend holiday is observed.
    """

    kind: Literal["holiday"]
    country: str = Field(pattern=r"^([A-Z]{2}|from_region)$")
    subdiv: str | None = None
    observed: bool = True
    extra_dates: list[dt.date] = Field(default_factory=list)
    exempt_outside_hours_consent: bool = False


class BlockedPeriodRule(RuleBase):
    """Operator-declared blocked periods (``world.blocked_periods``) in the pack's regions.

    ``include_subdivisions``: a period declared for a subdivision of one of the pack's
    countries (``US-GA`` for the US pack) also counts.
    """

    kind: Literal["blocked_period"]
    include_subdivisions: bool = False


class CapRule(RuleBase):
    """At most ``max`` contacts in the rolling ``window`` ending at the proposed contact.

    Every attempt counts whatever its outcome [P]. ``count_channels`` / ``count_purposes``
    say which past contacts count; ``same_subject`` counts only those on the same subject
    (Fla. Stat. 501.059(8)(a): "same subject matter").
    """

    kind: Literal["cap"]
    window: FixedDuration
    max: int = Field(ge=0)
    count_channels: list[Channel] = Field(default_factory=lambda: ["call", "sms"], min_length=1)
    count_purposes: list[ContactPurpose] = Field(
        default_factory=lambda: ["marketing", "service"], min_length=1
    )
    same_subject: bool = False


class CoolingOffRule(RuleBase):
    """A pause of ``duration`` after events: refusals, abandoned calls, machine detection.

    Triggers: events of ``after_kinds`` (e.g. ``refusal``) or contacts with an outcome in
    ``after_outcomes`` on ``after_channels``. With ``min_events`` > 1 the pause starts at
    the event that completes ``min_events`` triggers within ``within`` (POLICY: three
    unanswered calls in 7 days). ``exempt_live_agent``: lifted when the dialer guarantees a
    live agent (Ofcom persistent-misuse policy).
    """

    kind: Literal["cooling_off"]
    after_kinds: list[EventKind] = Field(default_factory=list)
    after_outcomes: list[Outcome] = Field(default_factory=list)
    after_channels: list[Channel] = Field(default_factory=lambda: ["call", "sms"])
    min_events: int = Field(1, ge=1)
    within: FixedDuration | None = None
    duration: FixedDuration
    exempt_live_agent: bool = False

    @model_validator(mode="after")
    def _trigger(self) -> CoolingOffRule:
        if not self.after_kinds and not self.after_outcomes:
            raise ValueError("give after_kinds or after_outcomes")
        if self.min_events > 1 and self.within is None:
            raise ValueError("min_events > 1 needs within")
        return self


class RegistryRule(RuleBase):
    """A do-not-call registry: listed numbers withhold unless exempt; a snapshot older than
    ``max_age`` (or none at all) withholds every contact the registry governs.

    ``effective_delay`` records the law's grace period before a new listing binds (e.g. 30
    days in Pennsylvania); the engine honours every listing of the snapshot in force at once
    (conservative: the store does not keep when a number first appeared)."""

    kind: Literal["registry"]
    registry: Registry
    max_age: FixedDuration
    effective_delay: FixedDuration | None = None
    exemptions: Exemptions = Field(default_factory=Exemptions)


class ConsentRule(RuleBase):
    """Contacts this rule applies to need a valid consent of ``accepted_types``.

    ``implied_from``: events that imply consent for a while (CASL s.10(9): purchase or
    contract 2 years, inquiry 6 months). ``require_confirmed``: only double-opt-in
    confirmed consents count. ``require_evidence``: only documented consents count (UWG
    § 7a). ``exempt_contract_in_force``: a contract in force suffices.
    """

    kind: Literal["consent"]
    accepted_types: list[ConsentType] = Field(min_length=1)
    require_confirmed: bool = False
    require_evidence: bool = False
    implied_from: dict[Literal["purchase", "inquiry", "contract_start"], Duration] = Field(
        default_factory=dict
    )
    exempt_contract_in_force: bool = False


class RevocationRule(RuleBase):
    """An opt-out (event, opt-out reply, revoked consent) withholds (``CONSENT_REVOKED``).

    ``all_channels``: a revocation on one channel withholds the others too [P].
    ``cleared_by``: ``consent`` — only a consent granted after the revocation lifts it
    (START/YES re-enable delivery but are not marketing consent); ``opt_in`` — an opt-in
    event or reply lifts it (service messages).
    """

    kind: Literal["revocation"]
    all_channels: bool = False
    cleared_by: Literal["consent", "opt_in"] = "consent"


class InternalDncRule(RuleBase):
    """The company's own do-not-call list (adds and removals in order, by scope)."""

    kind: Literal["internal_dnc"]


class PreferenceRule(RuleBase):
    """The person's own preferences: channels, urgent only, max per week, quiet hours."""

    kind: Literal["preference"]


class OptOutConfirmationRule(RuleBase):
    """The one text that confirms an opt-out (47 CFR 64.1200(a)(12)): no marketing, sent
    within ``within`` of the opt-out, once.

    Governs contacts of purpose ``opt_out_confirmation`` (the only purpose it takes), on
    every channel it lists: a confirmation is allowed only on a ``via`` channel, inside
    ``[opt-out, opt-out + within)`` of the number's latest opt-out (an opt-out event or
    an opt-out reply, not since followed by an opt-in), and only if no confirmation was
    sent since that opt-out; otherwise ``CONFIRMATION_NOT_ALLOWED`` or, for a second one,
    ``CONFIRMATION_ALREADY_SENT``. Neither clears by waiting.
    """

    kind: Literal["opt_out_confirmation"]
    purposes: list[ContactPurpose] = Field(
        default_factory=lambda: ["opt_out_confirmation"], min_length=1
    )
    within: FixedDuration
    via: list[Channel] = Field(default_factory=lambda: ["sms"], min_length=1)

    @model_validator(mode="after")
    def _confirmations_only(self) -> OptOutConfirmationRule:
        if self.purposes != ["opt_out_confirmation"]:
            raise ValueError("purposes: this rule governs opt_out_confirmation contacts only")
        return self


class NoRulePackRule(RuleBase):
    """Regions we have no rules for (GG, JE, IM): always withhold (``NO_RULE_PACK``)."""

    kind: Literal["no_rule_pack"]


Rule = Annotated[
    WindowRule
    | DayBanRule
    | HolidayRule
    | BlockedPeriodRule
    | CapRule
    | CoolingOffRule
    | RegistryRule
    | ConsentRule
    | RevocationRule
    | InternalDncRule
    | PreferenceRule
    | OptOutConfirmationRule
    | NoRulePackRule,
    Field(discriminator="kind"),
]


class RulePack(PackModel):
    """One jurisdiction's rules, versioned, with sources and unconfirmed facts.

    Provenance: ``reviewed_at`` is when the pack was last checked against its sources
    (``contactgate rules list`` warns after 12 months); every legal rule (marker C/S/M)
    names the ``url`` its fact comes from.
    """

    jurisdiction: str = Field(pattern=r"^([A-Z]{2}(-[A-Z0-9]{1,3})?|DEFAULT|POLICY|NO_RULE_PACK)$")
    version: str = Field(min_length=1)
    title: str
    legal: bool
    reviewed_at: dt.date
    applies_to: AppliesTo
    sources: list[Source] = Field(min_length=1)
    unconfirmed: list[str] = Field(default_factory=list)
    rules: list[Rule] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> RulePack:
        ids = [rule.id for rule in self.rules]
        doubled = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if doubled:
            raise ValueError(f"rules: duplicate id(s) {doubled}")
        if self.legal:
            unsourced = [rule.id for rule in self.rules if rule.marker != "P" and not rule.url]
            if unsourced:
                raise ValueError(f"rules: legal rule(s) without a source url {unsourced}")
        return self


class RulePackError(ValueError):
    """A rule pack that cannot be used; the message names the file and the key."""

    def __init__(self, path: Path, key: str, message: str) -> None:
        super().__init__(f"{path}: {key}: {message}")
        self.path = path
        self.key = key


def _key_path(loc: tuple[Any, ...], document: Any) -> str:
    """A pydantic error location as a YAML key path, with rule ids instead of indexes."""
    parts: list[str] = []
    node = document
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            item = node[step]
            label = item.get("id") if isinstance(item, dict) else None
            parts.append(f"[{step}]" + (f"({label})" if label else ""))
            node = item
        elif isinstance(node, dict) and step in node:
            parts.append(f".{step}" if parts else str(step))
            node = node[step]
        elif step in ("window", "day_ban", "holiday", "blocked_period", "cap", "cooling_off",
                      "registry", "consent", "revocation", "internal_dnc", "preference",
                      "opt_out_confirmation", "no_rule_pack"):  # fmt: skip
            continue  # discriminator tag pydantic inserts in the location
        else:
            parts.append(f".{step}" if parts else str(step))
    return "".join(parts) or "(top level)"


def read_pack(path: Path) -> RulePack:
    """Parse and validate one pack file; any problem is a :class:`RulePackError`."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulePackError(path, "(file)", str(exc)) from exc
    if not isinstance(document, dict):
        raise RulePackError(path, "(top level)", "a pack is a mapping")
    try:
        return RulePack.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = _key_path(tuple(first["loc"]), document)
        if first["type"] == "extra_forbidden":
            message = f"unknown key {str(first['loc'][-1])!r}"
        else:
            message = first["msg"]
        extra = len(exc.errors()) - 1
        if extra:
            message += f" (and {extra} more error{'s' if extra > 1 else ''})"
        raise RulePackError(path, key, message) from exc
