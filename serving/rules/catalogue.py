"""The rule catalogue: ``docs/rules.md`` rendered from the packs themselves.

The page is generated, never edited by hand: a table per jurisdiction (each rule's kind,
its parameters in plain words, its citation and marker), the pack's sources and
unconfirmed facts, the reason codes and the reply keywords. A test compares the committed
page with :func:`render`, so the page cannot drift from the packs.

Regenerate with ``python -m serving.rules.catalogue docs/rules.md``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from features import replies
from serving.rules.schema import (
    DAYS,
    PACKS_DIR,
    BlockedPeriodRule,
    CapRule,
    ConsentRule,
    CoolingOffRule,
    DayBanRule,
    HolidayRule,
    InternalDncRule,
    NoRulePackRule,
    OptOutConfirmationRule,
    PreferenceRule,
    RegistryRule,
    RevocationRule,
    RuleBase,
    RulePack,
    WindowRule,
    read_pack,
)

__all__ = [
    "CONVENTIONS",
    "PACKS_DIR",
    "REASON_CODES",
    "WORKED_EXAMPLES",
    "describe_rule",
    "load_packs",
    "main",
    "render",
]

#: Packs that are not a jurisdiction's law; listed after the legal ones, in this order.
_NON_LEGAL_ORDER = ("DEFAULT", "POLICY", "NO_RULE_PACK")
_MARKERS = {
    "C": "seen in the primary text",
    "S": "secondary source",
    "M": "unconfirmed",
    "P": "company policy (reported with `legal: false`)",
}
_DAY_LABELS = dict(zip(DAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
_UNITS = {"s": "second", "min": "minute", "h": "hour", "d": "day", "mo": "month"}

#: Every reason code a decision can carry: (code, where it comes from, clears by waiting,
#: meaning). The rule kinds name the pack primitive that reports it.
REASON_CODES: tuple[tuple[str, str, bool, str], ...] = (
    ("QUIET_HOURS", "`window`", True, "outside the allowed local hours of an allowed day"),
    ("DAY_NOT_ALLOWED", "`window`, `day_ban`", True, "a local weekday with no contact"),
    ("HOLIDAY", "`holiday`", True, "a public holiday of the recipient's calendar"),
    ("BLOCKED_PERIOD", "`blocked_period`", True, "inside an operator-declared blocked period"),
    ("FREQUENCY_CAP", "`cap`", True, "the rolling-window contact cap is reached"),
    ("COOLING_OFF", "`cooling_off`", True, "a pause after refusals or unanswered attempts"),
    ("PREFERENCE", "`preference`", True, "the person's own preferences exclude the contact"),
    ("REGISTRY_LISTED", "`registry`", False, "listed on a do-not-call registry, not exempt"),
    ("REGISTRY_STALE", "`registry`", False, "the registry snapshot is missing or older than the pack allows"),
    ("NO_CONSENT", "`consent`", False, "no valid consent of an accepted type"),
    ("CONSENT_REVOKED", "`revocation`", False, "an opt-out or revocation not since cleared"),
    ("INTERNAL_DNC", "`internal_dnc`", False, "on the company's own do-not-call list"),
    ("CONFIRMATION_NOT_ALLOWED", "`opt_out_confirmation`", False, "an opt-out confirmation with no opt-out to confirm, after its window, cleared by an opt-in, or not by text"),
    ("CONFIRMATION_ALREADY_SENT", "`opt_out_confirmation`", False, "the latest opt-out was confirmed already (one confirmation per opt-out)"),
    ("NO_RULE_PACK", "`no_rule_pack`; engine", False, "a region with no rules (GG, JE, IM) or a number with no geographic region"),
    ("INVALID_NUMBER", "engine", False, "the number cannot be parsed or is not valid"),
    ("SUPPRESSED", "engine", False, "the number belongs to an erased subject (tombstone)"),
    ("UNKNOWN_TIMEZONE", "engine", False, "no time zone is known, so local-time rules cannot be checked"),
    ("RISK_ABOVE_THRESHOLD", "decision", False, "combined risk above `withhold_above`"),
    ("BUDGET_EXHAUSTED", "decision", False, "the campaign budget keeps less risky contacts"),
    ("SYSTEM_UNAVAILABLE", "service", False, "store, packs or model unavailable, or the number's lock not obtained: fail closed"),
)  # fmt: skip


# ------------------------------------------------------------------------- loading
def load_packs(directory: Path = PACKS_DIR) -> list[RulePack]:
    """Every ``*.yaml`` pack in ``directory``, validated; legal packs first, by name."""
    packs = [read_pack(path) for path in sorted(directory.glob("*.yaml"))]

    def order(pack: RulePack) -> tuple[int, str]:
        if pack.jurisdiction in _NON_LEGAL_ORDER:
            return 1 + _NON_LEGAL_ORDER.index(pack.jurisdiction), ""
        return 0, pack.jurisdiction

    return sorted(packs, key=order)


# ------------------------------------------------------------------------- plain words
def _span(value: str) -> str:
    """``"24h"`` → ``"24 hours"``; ``"1d"`` → ``"1 day"``; ``"18mo"`` → ``"18 months"``."""
    digits = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = _UNITS[value[len(digits) :]]
    return f"{digits} {unit}" + ("" if digits == "1" else "s")


def _words(values: Iterable[str], last: str = "or") -> str:
    items = [str(value).replace("_", " ") for value in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + f" {last} " + items[-1]


def _values(values: Iterable[str]) -> str:
    """Pack vocabulary as written in the YAML, e.g. `` `express` or `written` ``."""
    items = [f"`{value}`" for value in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


def _code(values: Iterable[str]) -> str:
    return ", ".join(f"`{value}`" for value in values)


def _day_range(days: Sequence[str]) -> str:
    if len(days) == 1:
        return _DAY_LABELS[days[0]]
    return f"{_DAY_LABELS[days[0]]}–{_DAY_LABELS[days[-1]]}"


def _windows(rule: WindowRule) -> str:
    """Consecutive days with the same windows grouped: ``Mon–Sat 09:00–20:00; Sun none``."""
    expanded = rule.expanded_days()
    groups: list[tuple[list[str], list[tuple[str, str]]]] = []
    for day in DAYS:
        intervals = expanded[day]
        if groups and groups[-1][1] == intervals:
            groups[-1][0].append(day)
        else:
            groups.append(([day], intervals))
    parts = []
    for days, intervals in groups:
        hours = ", ".join(f"{start}–{end}" for start, end in intervals) or "no contact"
        parts.append(f"{_day_range(days)} {hours}")
    return "; ".join(parts)


def _outside_hours(rule: WindowRule | DayBanRule | HolidayRule) -> str:
    if rule.exempt_outside_hours_consent:
        return " An express consent to contact outside the usual hours lifts it."
    return ""


def _window_words(rule: WindowRule) -> str:
    text = f"Local hours [start, end): {_windows(rule)}."
    if rule.fixed_zone:
        text = (
            f"Hours [start, end) on the fixed clock `{rule.fixed_zone}` (standard time all"
            f" year): {_windows(rule)}."
        )
    return text + _outside_hours(rule)


def _day_ban_words(rule: DayBanRule) -> str:
    days = _words((_DAY_LABELS[day] for day in rule.days), "and")
    text = f"No contact on {days} (local)."
    return text + _outside_hours(rule)


def _holiday_words(rule: HolidayRule) -> str:
    if rule.country == "from_region":
        calendar = "the public holidays of the number's own region"
    else:
        calendar = f"the public holidays of {rule.country}"
        if rule.subdiv:
            calendar += f" ({rule.subdiv})"
    text = f"No contact on {calendar}"
    text += ", observed weekdays included." if rule.observed else ", observed days not added."
    if rule.extra_dates:
        text += f" Also on {_words((d.isoformat() for d in rule.extra_dates), 'and')}."
    return text + _outside_hours(rule)


def _blocked_words(rule: BlockedPeriodRule) -> str:
    text = "No contact during an operator-declared blocked period for the pack's regions"
    if rule.include_subdivisions:
        text += " or any of their subdivisions"
    return text + "."


def _cap_words(rule: CapRule) -> str:
    counted = _words(rule.count_channels, "and")
    purposes = _words(rule.count_purposes, "and")
    text = (
        f"At most {rule.max} {counted} contact(s) ({purposes}) in any rolling"
        f" {_span(rule.window)}: withheld when {rule.max} already took place in the"
        f" {_span(rule.window)} before it. Every attempt counts, whatever its outcome."
    )
    if rule.same_subject:
        text += " Only contacts on the same subject count."
    return text


def _cooling_words(rule: CoolingOffRule) -> str:
    triggers = []
    if rule.after_kinds:
        triggers.append(f"a {_values(rule.after_kinds)} event")
    if rule.after_outcomes:
        triggers.append(
            f"a {_words(rule.after_channels)} with outcome {_values(rule.after_outcomes)}"
        )
    trigger = " or ".join(triggers)
    if rule.min_events > 1 and rule.within:
        text = (
            f"After {rule.min_events} triggers within {_span(rule.within)} ({trigger}),"
            f" no contact for {_span(rule.duration)}."
        )
    else:
        text = f"After {trigger}, no contact for {_span(rule.duration)}."
    if rule.exempt_live_agent:
        text += " Lifted when a live agent is guaranteed."
    return text


def _registry_words(rule: RegistryRule) -> str:
    text = (
        f"Numbers listed on `{rule.registry}` are withheld; a snapshot older than"
        f" {_span(rule.max_age)} (or none) withholds every contact the rule governs."
    )
    exempt = []
    ex = rule.exemptions
    if ex.ebr_purchase:
        exempt.append(f"a purchase or contract start within {_span(ex.ebr_purchase)}")
    if ex.ebr_inquiry:
        exempt.append(f"an inquiry within {_span(ex.ebr_inquiry)}")
    if ex.contract_in_force:
        exempt.append("a contract in force")
    if ex.consent_types:
        after = " granted after the snapshot in force" if ex.consent_after_snapshot else ""
        exempt.append(f"a valid {_values(ex.consent_types)} consent{after}")
    if exempt:
        text += f" Exempt: {'; '.join(exempt)}."
        if ex.ebr_purchase or ex.ebr_inquiry:
            text += " A later internal-DNC request or opt-out ends a business relationship."
    if ex.consent_after_snapshot:
        text += " A listing cancels consents given before it."
    if rule.effective_delay:
        text += (
            f" The law lets a new listing bind {_span(rule.effective_delay)} after it appears;"
            " listings are honoured at once (conservative)."
        )
    return text


def _consent_words(rule: ConsentRule) -> str:
    text = f"Needs a valid {_values(rule.accepted_types)} consent for the channel and purpose."
    if rule.require_confirmed:
        text += " Only double-opt-in confirmed consents count."
    if rule.require_evidence:
        text += " Only consents with recorded evidence count."
    if rule.implied_from:
        implied = _words(
            (
                f"{kind.replace('_', ' ')} for {_span(span)}"
                for kind, span in rule.implied_from.items()
            ),
            "and",
        )
        text += f" Implied by a {implied}."
    if rule.exempt_contract_in_force:
        text += " A contract in force suffices."
    return text


def _revocation_words(rule: RevocationRule) -> str:
    text = "An opt-out (event, opt-out reply or revoked consent) withholds"
    if rule.all_channels:
        text += " contacts on every channel."
    else:
        text += " contacts on the channel it names (every channel when it names none)."
    if rule.cleared_by == "consent":
        text += " Only a consent granted after it clears it."
    else:
        text += " An opt-in event or reply (START, YES, UNSTOP) clears it."
    return text


def _confirmation_words(rule: OptOutConfirmationRule) -> str:
    return (
        f"One text confirming an opt-out (purpose `opt_out_confirmation`, no marketing): by"
        f" {_words(rule.via)} only, within {_span(rule.within)} of the number's latest opt-out"
        f" (an opt-out event or opt-out reply not since followed by an opt-in),"
        f" `[opt-out, opt-out + {rule.within})`, and once per opt-out. Rules that do not name"
        f" this purpose (hours, registries, consent, revocations) do not govern it."
    )


_DESCRIBE = {
    WindowRule: _window_words,
    DayBanRule: _day_ban_words,
    HolidayRule: _holiday_words,
    BlockedPeriodRule: _blocked_words,
    CapRule: _cap_words,
    CoolingOffRule: _cooling_words,
    RegistryRule: _registry_words,
    ConsentRule: _consent_words,
    RevocationRule: _revocation_words,
    InternalDncRule: lambda rule: (
        "Numbers on the company's internal do-not-call list "
        "(adds and removals in order, by channel scope) are withheld."
    ),
    PreferenceRule: lambda rule: (
        "The person's own preferences: allowed channels, urgent "
        "only, at most N contacts a week, quiet hours."
    ),
    OptOutConfirmationRule: _confirmation_words,
    NoRulePackRule: lambda rule: "Every contact is withheld: no rules are held here.",
}


def describe_rule(rule: RuleBase) -> str:
    """One rule's parameters in plain words."""
    return _DESCRIBE[type(rule)](rule)


def _scope(rule: RuleBase) -> str:
    """Which contacts the rule governs, beyond the defaults."""
    parts = [_words(rule.channels, "and"), _words(rule.purposes, "and")]
    if rule.dial_modes:
        parts.append(f"dial mode {_values(rule.dial_modes)}")
    if rule.line_types:
        parts.append(f"line type {_values(rule.line_types)}")
    if rule.effective_from:
        parts.append(f"from {rule.effective_from.isoformat()}")
    if rule.effective_until:
        parts.append(f"through {rule.effective_until.isoformat()}")
    if rule.defer_to_law == "applies":
        parts.append("only where no legal rule of this kind applies")
    elif rule.defer_to_law == "fired":
        parts.append("not reported when a legal rule gave the same code")
    if not rule.enabled:
        parts.append("**disabled**")
    return "; ".join(parts)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# ------------------------------------------------------------------------- rendering
def _applies(pack: RulePack) -> str:
    where = pack.applies_to
    if where.default:
        return "any known region without a pack of its own"
    if where.everywhere:
        return "every contact, on top of the law"
    parts = []
    if where.regions:
        parts.append(f"regions {_code(where.regions)}")
    if where.subdivisions:
        parts.append(f"subdivisions {_code(where.subdivisions)} (by area code or address region)")
    return "; ".join(parts)


def _render_pack(pack: RulePack) -> list[str]:
    lines = [
        f"## {pack.jurisdiction}",
        "",
        f"**{pack.title}**",
        "",
        f"Version {pack.version}; {'law' if pack.legal else 'not law (`legal: false`)'};"
        f" applies to {_applies(pack)}; reviewed {pack.reviewed_at.isoformat()}.",
        "",
        "| rule | kind | governs | parameters | citation | marker |",
        "|---|---|---|---|---|---|",
    ]
    for rule in pack.rules:
        cite = rule.cite + (f" — {rule.note}" if rule.note else "")
        cite += f" <{rule.url}>" if rule.url else ""
        lines.append(
            f"| `{rule.id}` | `{rule.kind}` | {_cell(_scope(rule))} |"
            f" {_cell(describe_rule(rule))} | {_cell(cite)} | {rule.marker} |"
        )
    lines += ["", "Sources:", ""]
    for source in pack.sources:
        link = f" <{source.url}>" if source.url else ""
        lines.append(f"- [{source.marker}] {source.cite}{link}")
    if pack.unconfirmed:
        lines += ["", "Unconfirmed or policy facts:", ""]
        lines += [f"- {fact}" for fact in pack.unconfirmed]
    lines.append("")
    return lines


#: How the engine applies the packs, numbered so that other text can cite "convention N".
CONVENTIONS: tuple[str, ...] = (
    'Windows are half-open in the recipient\'s local time: "8 a.m. to 9 p.m." is `[08:00, 21:00)`.',
    "The candidate time zones are every zone of the number (libphonenumber) plus the zones"
    " of a known address region. A contact passes a window, day or holiday rule only if it"
    " passes in **every** candidate zone.",
    "A number with no known zone (toll-free, non-geographic) is withheld `UNKNOWN_TIMEZONE`"
    " when it is a marketing contact or when a local-time rule governs it.",
    "US state packs apply by the state of the number's area code **and** by the"
    " `address_region` when one is given; the reasons of both are kept.",
    "Opt-outs act at once: the next check after a stored opt-out or STOP reply withholds,"
    " although laws allow days to process them.",
    "Every reason that fires is reported. The risk score may add a withhold or a review,"
    " never remove a reason.",
    "Exemptions come only from recorded data (consents; purchase, inquiry and contract"
    " events), never from inference.",
    "A registry snapshot older than the rule's `max_age`, or none at all, withholds every"
    " contact that registry governs (`REGISTRY_STALE`).",
    "A region with no rules (Guernsey, Jersey, Isle of Man, reached by some +44 numbers"
    " outside the UK's law) and a number with no geographic region are withheld"
    " `NO_RULE_PACK`.",
    "History after the contact's `at` is ignored: a decision is evaluated as of `at`, so"
    " audits and backtests see what was known then.",
    "`next_allowed_at` is the earliest instant at which every rule passes, searched up to"
    " 30 days ahead; it is null when a reason does not clear by waiting.",
    "Rolling windows include an event exactly one window old (`t − 7d ≤ ts < t`).",
    "Durations: `30s`, `15min`, `24h`, `7d`; calendar months (`18mo`) only in exemption"
    " windows, counted on the recipient's wall clock in every candidate zone and in UTC,"
    " the day clamped to the month's end, the window ending at the earliest reading.",
    "A rule with `effective_from` / `effective_until` (dates, both inclusive) is in force from"
    " local midnight of its first day in the earliest candidate zone to local midnight after"
    " its last day in the latest one (UTC+14 and UTC−12 without a zone), so it is never"
    " applied late nor lifted early. A time-based reason of a rule that lapses lasts at most"
    " until it lapses; `next_allowed_at` checks the rules that start later too.",
    "A contact of purpose `opt_out_confirmation` (the one text confirming an opt-out) is"
    " governed only by the rules that name that purpose: the `opt_out_confirmation` rule of"
    " the law (US) or of `POLICY` elsewhere, the internal list's do-not-contact entries, and"
    " `NO_RULE_PACK`. It is not a solicitation, so hours, registries, consent and the"
    " revocation it confirms do not withhold it; it is scored as a service text.",
)


def _render_conventions() -> list[str]:
    lines = ["## How the rules are applied", ""]
    lines += [f"{number}. {text}" for number, text in enumerate(CONVENTIONS, start=1)]
    lines += [
        "",
        "Adding a jurisdiction is a new `serving/rules/packs/XX.yaml` and a table-driven test"
        " under `tests/serving/rules/`, then `python -m serving.rules.catalogue docs/rules.md`;"
        " no engine change. A region with a pack of its own no longer falls back to `DEFAULT`.",
        "",
    ]
    return lines


#: Worked examples: (number and channel, instant, state, expected). Each is a case of the
#: worked-examples test of the rules (under ``tests/serving/rules/``), which holds them.
WORKED_EXAMPLES: tuple[tuple[str, str, str, str], ...] = (
    ("+12122345678 call", "2026-06-16T11:59Z (07:59 EDT)", "no history", "withhold `QUIET_HOURS` (US)"),
    ("+12122345678 call", "2026-06-16T12:00Z (08:00 EDT)", "no history", "allow"),
    ("+13052134567 call", "2026-06-16T00:15Z (Mon 20:15 EDT)", "no history", "withhold `QUIET_HOURS` (US-FL)"),
    ("+14162345678 call", "2026-06-16T01:00Z (Mon 21:00 EDT)", "no history", "allow (CA weekdays until 21:30)"),
    ("+33612345678 call", "2026-06-16T11:15Z (13:15 CEST)", "no history", "withhold `QUIET_HOURS` (FR)"),
    ("+61291234567 call", "2026-06-21T00:00Z (Sun 10:00 AEST)", "no history", "withhold `DAY_NOT_ALLOWED` (AU)"),
    ("+12122345678 sms", "2026-06-16T15:00Z", "written consent, then a reply \"Stop.\"", "withhold `CONSENT_REVOKED`"),
    ("+12132345678 call", "2026-06-16T18:00Z", "on the US national DNC, purchase on 2025-01-20", "allow (established business relationship)"),
)  # fmt: skip


def _render_examples() -> list[str]:
    lines = [
        "## Worked examples",
        "",
        "Each row is a case of the rules' worked-examples test (under `tests/serving/rules/`).",
        "",
        "| contact | at (UTC) | state | decision of the rules |",
        "|---|---|---|---|",
    ]
    lines += [f"| {' | '.join(_cell(cell) for cell in row)} |" for row in WORKED_EXAMPLES]
    lines.append("")
    return lines


def _render_reasons() -> list[str]:
    lines = [
        "## Reason codes",
        "",
        "Every reason that fires is reported. A reason from a pack carries the pack's"
        " jurisdiction and `rule_id`; the others are reported as jurisdiction `POLICY` with"
        " `legal: false`. `next_allowed_at` is given only when every reason clears by waiting"
        " and all of them clear within 30 days.",
        "",
        "| code | reported by | clears by waiting | meaning |",
        "|---|---|---|---|",
    ]
    for code, origin, timed, meaning in REASON_CODES:
        lines.append(f"| `{code}` | {origin} | {'yes' if timed else 'no'} | {meaning} |")
    lines.append("")
    return lines


def _render_replies() -> list[str]:
    regional = "; ".join(
        f"{region}: {_code(sorted(words))}"
        for region, words in sorted(replies.REGIONAL_OPT_OUT_WORDS.items())
    )
    samples = ("Stop.", "I said STOP", "ＳＴＯＰ", "ARRÊT", "please don't text me", "N", "AYUDA",
               "No más", "No more", "ne me contactez plus", "配信停止")  # fmt: skip
    regions_of = {"N": ("CN", "US", None), "No más": ("US",), "No more": ("US", "GB"),
                  "ne me contactez plus": ("FR",), "配信停止": ("JP",)}  # fmt: skip
    sample_rows = [
        f"| {_cell(text)} | {region or '(unknown)'} | `{replies.classify_reply(text, region)}` |"
        for text in samples
        for region in regions_of.get(text, (None,))
    ]
    return [
        "## Reply keywords",
        "",
        "Inbound texts (`reply` events) are classified as `opt_out`, `help`, `opt_in` or"
        " `other` by `features/replies.py`. The text is normalised first: Unicode NFKC,"
        " case folded, accents stripped, punctuation and symbols turned into spaces. An"
        " opt-out wins over help and opt-in words in the same message.",
        "",
        f"- Opt-out as the whole message or its first word: {_code(sorted(replies.OPT_OUT_WORDS))}.",
        f"- Opt-out anywhere in the message as a word of its own:"
        f" {_code(sorted(replies.ANYWHERE_OPT_OUT_WORDS))}.",
        f"- Opt-out only where the sender's region uses them (and when the region is"
        f" unknown): {regional}.",
        "- Opt-out: plain-language revocations in English, Spanish, French, German,"
        ' Portuguese, Italian, Dutch, Japanese and Chinese ("stop texting", "remove me",'
        ' "wrong number", "ne me contactez plus", "hör auf", "pare de mandar", …).',
        f"- Help, never an opt-out: {_code(sorted(replies.HELP_WORDS))}.",
        f"- Opt-in (re-enables delivery; **not** a marketing consent):"
        f" {_code(sorted(replies.OPT_IN_WORDS))}.",
        "",
        "| message | sender's region | label |",
        "|---|---|---|",
        *sample_rows,
        "",
    ]


def render(packs: Sequence[RulePack]) -> str:
    """The whole ``docs/rules.md`` page for these packs."""
    lines = [
        "# Rules",
        "",
        "<!-- Generated by `python -m serving.rules.catalogue docs/rules.md` from"
        " serving/rules/packs/*.yaml; do not edit by hand. -->",
        "",
        "Each jurisdiction's rules are a YAML pack in `serving/rules/packs/`, validated by"
        " `serving/rules/schema.py` (an unknown key is an error naming the file and the key)."
        " A contact is checked against every pack that applies to it — the national pack,"
        " the state packs of its area code and of its address region, `DEFAULT` for a known"
        " region without a pack, and always `POLICY` — and every reason that fires is"
        " reported. Rules only ever withhold. Windows are half-open `[start, end)` in the"
        " recipient's local time and are checked in every candidate time zone.",
        "",
        "Unless a rule says otherwise it governs marketing calls and texts. Rolling windows"
        " count an event exactly one window old. Markers: "
        + "; ".join(f"`{marker}` {meaning}" for marker, meaning in _MARKERS.items())
        + ".",
        "",
        "Jurisdictions: " + ", ".join(f"[{p.jurisdiction}](#{_anchor(p)})" for p in packs) + ".",
        "",
    ]
    lines += _render_conventions()
    for pack in packs:
        lines += _render_pack(pack)
    lines += _render_examples()
    lines += _render_reasons()
    lines += _render_replies()
    return "\n".join(lines).rstrip("\n") + "\n"


def _anchor(pack: RulePack) -> str:
    """The anchor of the pack's heading (``## US-FL`` → ``us-fl``)."""
    return pack.jurisdiction.lower()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m serving.rules.catalogue [OUTPUT]``: write the page (stdout without one)."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = render(load_packs())
    if not args:
        sys.stdout.write(text)
        return 0
    Path(args[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
