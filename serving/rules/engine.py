"""Rules engine: a pure function of (contact, number state, world state, rule book).

:func:`evaluate` returns **every** reason that fires (RULES.md convention 6) and, when all
of them are time-based, ``next_allowed_at``: the earliest instant at which every rule passes,
searched forward up to 30 days. It never reads the clock or a database — the instant is
``contact.at`` and everything known about the number comes in ``NumberState`` and
``WorldState`` (built by the store).

Packs are data (``packs/*.yaml``, schema in :mod:`serving.rules.schema`); :func:`load_rulebook`
compiles them once into small rule objects, each one of the primitives below. Adding a
jurisdiction is a new YAML file plus tests, never an engine change.

Conventions (RULES.md "Engine conventions"):
- windows are half-open in the recipient's local time, checked in **every** candidate zone
  (the number's zones ∪ the zones of a known address region);
- toll-free / non-geographic numbers without an address have no zone → ``UNKNOWN_TIMEZONE``;
- US state packs apply by area code **and** by address region; all their reasons are kept;
- history events after ``contact.at`` are ignored (audits and backtests evaluate "as of").
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays as holidays_package
import phonenumbers as pn
from phonenumbers.tzdata import TIMEZONE_DATA

from features.phone import UNKNOWN_ZONE, area_code_subdivisions
from features.replies import classify_reply
from features.schema import Consent
from serving.domain.reasons import Reason, iso_utc, policy_reason
from serving.domain.state import Contact, HistoryEvent, NumberState, WorldState
from serving.rules import schema as pack_schema
from serving.rules.schema import RulePack, RulePackError, clock_minutes, parse_duration, read_pack

__all__ = [
    "Evaluation",
    "Reason",
    "RuleBook",
    "RulePackError",
    "evaluate",
    "load_rulebook",
    "PACKS_DIR",
    "SEARCH_HORIZON",
]

PACKS_DIR = Path(__file__).with_name("packs")
#: How far ahead ``next_allowed_at`` is searched (issue 6).
SEARCH_HORIZON = dt.timedelta(days=30)
#: Rolling windows include an event exactly ``window`` old (DESIGN.md: ``t − 7d ≤ ts < t``),
#: so it stops counting one second later: the attempt 24 h + 1 s ago no longer counts.
_RESOLUTION = dt.timedelta(seconds=1)
_UTC = dt.UTC
_DAY_INDEX = {day: index for index, day in enumerate(pack_schema.DAYS)}
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: Codes whose reasons clear by waiting; any other code makes ``next_allowed_at`` null.
TIME_BASED_CODES = frozenset(
    {"QUIET_HOURS", "DAY_NOT_ALLOWED", "HOLIDAY", "BLOCKED_PERIOD", "FREQUENCY_CAP",
     "COOLING_OFF", "PREFERENCE"}
)  # fmt: skip
_NO_REASONS: tuple[Reason, ...] = ()
#: Consents that allow calls outside hours; consents that clear an earlier revocation.
_OUTSIDE_HOURS_TYPES = frozenset({"express", "written"})
_CLEARING_TYPES = frozenset({"express", "written", "soft_opt_in", "implied"})
#: Memo markers (an absent entry; "the instant asked about") and the size a memo is cleared at.
_MISSING, _SAME = object(), object()
_CACHE_SIZE = 4_096
_TIME_VARYING_KINDS = frozenset(
    {"window", "day_ban", "holiday", "blocked_period", "cap", "cooling_off", "preference"}
)
#: What a rule reads that may be absent (``_Rule.needs``): a rule whose input is empty passes
#: at every instant, so :func:`evaluate` leaves it out (``_Facts.present`` says what is there).
_PAST_CONTACTS, _HISTORY, _REVOCATIONS, _DNC, _BLOCKED, _PREFERENCE = (1 << i for i in range(6))


# ============================================================================ results
@dataclass(frozen=True, slots=True)
class Evaluation:
    """Every reason that fired at ``contact.at`` and when the contact could go ahead.

    ``next_allowed_at`` is null when nothing fired, when a permanent reason fired, or when
    the time-based reasons do not all clear within :data:`SEARCH_HORIZON`.
    """

    reasons: list[Reason]
    next_allowed_at: dt.datetime | None
    time_zones: tuple[str, ...] = ()
    jurisdictions: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        """True when no rule withholds the contact."""
        return not self.reasons

    @property
    def codes(self) -> list[str]:
        """The reason codes, in the order they fired."""
        return [reason.code for reason in self.reasons]

    def to_dict(self) -> dict[str, Any]:
        return {
            "reasons": [reason.to_dict() for reason in self.reasons],
            "next_allowed_at": iso_utc(self.next_allowed_at),
            "time_zones": list(self.time_zones),
            "jurisdictions": list(self.jurisdictions),
        }


# ============================================================================ time helpers
@functools.cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _add_months(instant: dt.datetime, months: int) -> dt.datetime:
    """Calendar months, clamping the day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = instant.month - 1 + months
    year, month = instant.year + month_index // 12, month_index % 12 + 1
    day = min(instant.day, calendar.monthrange(year, month)[1])
    return instant.replace(year=year, month=month, day=day)


def _span_end(
    start: dt.datetime, duration: tuple[int, dt.timedelta], zones: Sequence[ZoneInfo] = ()
) -> dt.datetime:
    """End of the exemption window ``[start, end)`` that ``duration`` opens at ``start``.

    Calendar months are counted on the recipient's wall clock (a purchase at 10:00 on
    20 January ends its 18 months at 10:00 on 20 July, local time, whatever DST did in
    between) in **every** candidate zone, and in UTC; the window ends at the earliest of
    these, so an exemption is never stretched by a clock change or by the zone it is
    counted in (RULES.md leaves the zone open: the conservative reading). Fixed spans
    (``d``, ``h``) are elapsed time.
    """
    months, delta = duration
    if not months:
        return start + delta
    end = _add_months(start.astimezone(_UTC), months)
    for zone in zones:
        wall = _add_months(start.astimezone(zone), months)
        # a wall time the clocks skip or repeat on that day: the earlier of its two readings
        end = min(end, wall.replace(fold=0).astimezone(_UTC), wall.replace(fold=1).astimezone(_UTC))
    return end + delta


def _local_minutes(local: dt.datetime) -> float:
    return local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60


def _hh_mm(local: dt.datetime) -> str:
    """``f"{local:%H:%M}"`` without ``strftime`` (a few µs per call)."""
    return f"{local.hour:02d}:{local.minute:02d}"


def _at_local(
    day: dt.date, minutes: int, zone: ZoneInfo, after: dt.datetime | None = None
) -> dt.datetime:
    """The first instant (not before ``after``) at which the wall clock in ``zone`` reads
    ``minutes`` past midnight of ``day`` or later.

    A wall time the clocks repeat (autumn) has two instants: the first one not before
    ``after``. A wall time the clocks skip (spring) is passed at the change itself: quiet
    hours ending at 01:30 on a night when 01:00 jumps to 02:00 end at the jump.
    """
    readings = _wall_readings(day, minutes, zone)
    if after is not None and len(readings) == 2 and readings[0] < after:
        return readings[1]
    return readings[0]


@functools.lru_cache(maxsize=16_384)
def _wall_readings(day: dt.date, minutes: int, zone: ZoneInfo) -> tuple[dt.datetime, ...]:
    """The instants (UTC) at which ``zone`` reads ``minutes`` past midnight of ``day``: two
    when the clocks repeat it, one when they do not, and for a skipped wall time the jump
    alone (:func:`_at_local`; a pure function of its arguments, so it is memoised)."""
    if minutes >= 1440:
        day, minutes = day + dt.timedelta(days=1), minutes - 1440
    wall = dt.datetime(day.year, day.month, day.day, minutes // 60, minutes % 60)
    readings = sorted({wall.replace(tzinfo=zone, fold=fold).astimezone(_UTC) for fold in (0, 1)})
    if readings[0].astimezone(zone).replace(tzinfo=None) != wall:  # skipped: find the jump
        # the clock reads earlier than ``wall`` at ``before``, later at ``reached`` (seconds)
        before, reached = (int(reading.timestamp()) for reading in readings)
        while reached - before > 1:
            middle = (before + reached) // 2
            clock = dt.datetime.fromtimestamp(middle, zone).replace(tzinfo=None)
            before, reached = (before, middle) if clock >= wall else (middle, reached)
        return (dt.datetime.fromtimestamp(reached, _UTC),)
    return tuple(readings)


def _next_pass_everywhere(
    zones: Sequence[ZoneInfo],
    start: dt.datetime,
    next_pass_in_zone: Callable[[ZoneInfo, dt.datetime], dt.datetime | None],
    limit: dt.datetime,
) -> dt.datetime | None:
    """Earliest instant ≥ ``start`` passing in every zone (each zone's own next pass, iterated)."""
    instant = start
    while instant <= limit:
        latest = instant
        for zone in zones:
            candidate = next_pass_in_zone(zone, instant)
            if candidate is None:
                return None
            latest = max(latest, candidate)
        if latest == instant:
            return instant
        instant = latest
    return None


# ============================================================================ region → zones
@functools.cache
def _country_zones() -> dict[str, tuple[str, ...]]:
    """ISO 3166-1 → IANA zones from the system ``zone.tab`` (empty when it is missing)."""
    table: dict[str, list[str]] = {}
    for candidate in (Path("/usr/share/zoneinfo/zone.tab"), Path("/usr/lib/zoneinfo/zone.tab")):
        if candidate.exists():
            for line in candidate.read_text(encoding="utf-8").splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                parts = line.split("\t")
                table.setdefault(parts[0], []).append(parts[2])
            break
    return {code: tuple(zones) for code, zones in table.items()}


@functools.cache
def zones_for_region(code: str) -> tuple[str, ...]:
    """Candidate zones of an address region: ``"US-FL"`` (from libphonenumber's area-code
    data for that state) or ``"FR"`` (from ``zone.tab``, else libphonenumber's example number)."""
    if "-" in code:
        prefixes = ["1" + area for area, sub in area_code_subdivisions().items() if sub == code]
        zones = {
            zone
            for key, names in TIMEZONE_DATA.items()
            if any(key.startswith(prefix) for prefix in prefixes)
            for zone in names
            if zone != UNKNOWN_ZONE
        }
        return tuple(sorted(zones))
    zones_by_country = _country_zones()
    if code in zones_by_country:
        return zones_by_country[code]
    example = pn.example_number(code)
    if example is None:
        return ()
    from phonenumbers import timezone as pn_timezone

    return tuple(z for z in pn_timezone.time_zones_for_number(example) if z != UNKNOWN_ZONE)


# ============================================================================ holidays
@functools.cache
def _holiday_dates(country: str, subdiv: str | None, observed: bool, year: int) -> frozenset:
    """Public holidays of one calendar year (cached; ``holidays`` builds are slow)."""
    try:
        calendar_ = holidays_package.country_holidays(
            country, subdiv=subdiv, years=year, observed=observed
        )
    except NotImplementedError:  # country not in the holidays package: no calendar
        return frozenset()
    return frozenset(calendar_.keys())


# ============================================================================ facts
@functools.lru_cache(maxsize=4_096)
def _place(
    region: str | None,
    subdivision: str | None,
    non_geographic: bool,
    time_zones: tuple[str, ...],
    address: str | None,
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[ZoneInfo, ...]]:
    """Countries, subdivisions, zone names and zones of a number (and known address)."""
    countries = [region] if region and region != "001" else []
    subdivisions = [subdivision] if subdivision else []
    if address:
        country = address.split("-", 1)[0]
        if country not in countries:
            countries.append(country)
        if "-" in address and address not in subdivisions:
            subdivisions.append(address)
    names: list[str] = [] if non_geographic else list(time_zones)
    if address:
        names.extend(zone for zone in zones_for_region(address) if zone not in names)
    return tuple(countries), tuple(subdivisions), tuple(names), tuple(_zone(n) for n in names)


class _Facts:
    """What the rules need from one contact's state, derived once per evaluation."""

    __slots__ = (
        "contact", "state", "world", "at", "zones", "zone_names", "region", "country_codes",
        "subdivision_codes", "contacts", "contact_times", "events", "revocations", "opt_ins",
        "dnc_active", "last_dnc_add", "default_regions", "blocked_cache", "present",
    )  # fmt: skip

    def __init__(self, contact: Contact, state: NumberState, world: WorldState) -> None:
        self.contact = contact
        self.state = state
        self.world = world
        self.at = contact.at
        number = contact.number
        self.region = number.region
        self.country_codes, self.subdivision_codes, self.zone_names, self.zones = _place(
            number.region,
            number.subdivision,
            number.non_geographic,
            number.time_zones,
            contact.address_region,
        )
        self.default_regions: tuple[str, ...] = ()
        self.blocked_cache: dict[int, list] = {}
        at = self.at
        contacts: list[HistoryEvent] = []
        contact_times: list[dt.datetime] = []
        events: dict[str, list[HistoryEvent]] = {}
        revocations: list[tuple[dt.datetime, str | None, str]] = []
        opt_ins: list[tuple[dt.datetime, str | None]] = []
        for event in state.history:
            kind, ts = event.kind, event.ts
            if kind == "contact":
                if ts < at:
                    contacts.append(event)
                    contact_times.append(ts)
                continue
            if ts > at:
                continue
            if kind in events:
                events[kind].append(event)
            else:
                events[kind] = [event]
            if kind == "opt_out":
                revocations.append((ts, event.channel, "opt-out"))
            elif kind == "opt_in":
                opt_ins.append((ts, event.channel))
            elif kind == "reply" and event.text:
                label = classify_reply(event.text, number.region)
                if label == "opt_out":
                    revocations.append((ts, "sms", "opt-out reply"))
                elif label == "opt_in":
                    opt_ins.append((ts, "sms"))
        for consent in state.consents:
            if consent.revoked_at is not None and consent.revoked_at <= at:
                scope = None if consent.channel == "any" else consent.channel
                revocations.append((consent.revoked_at, scope, "consent revoked"))
        self.contacts = contacts
        self.contact_times = contact_times
        self.events = events
        self.revocations = revocations
        self.opt_ins = opt_ins
        active: dict[str, str] = {}
        last_add: dt.datetime | None = None
        for entry in state.dnc:
            if entry.added_at > at:
                continue
            if entry.action == "add":
                # a later add never weakens an earlier one: do_not_contact (everything)
                # outranks not_interested (marketing only) until a removal clears the scope
                if active.get(entry.scope) != "do_not_contact":
                    active[entry.scope] = entry.category
                last_add = entry.added_at if last_add is None else max(last_add, entry.added_at)
            elif entry.scope == "all":
                active.clear()
            else:
                active.pop(entry.scope, None)
        self.dnc_active = active
        self.last_dnc_add = last_add
        preference = state.preference
        self.present = (
            (_PAST_CONTACTS | _HISTORY if contacts else 0)
            | (_HISTORY if events else 0)
            | (_REVOCATIONS if revocations else 0)
            | (_DNC if active else 0)
            | (_BLOCKED if world.blocked_periods else 0)
            | (_PREFERENCE if preference is not None and preference.updated_at <= at else 0)
        )

    # ------------------------------------------------------------------ shared questions
    def latest_revocation(self, channel: str | None) -> tuple[dt.datetime, str] | None:
        """Latest revocation covering ``channel`` (``None``: any channel)."""
        best: tuple[dt.datetime, str] | None = None
        for ts, scope, what in self.revocations:
            if channel is not None and scope not in (None, "any", channel):
                continue
            if best is None or ts > best[0]:
                best = (ts, what)
        return best

    def relationship_cutoff(self) -> dt.datetime | None:
        """An internal-DNC request or an opt-out ends business relationships before it."""
        latest = self.latest_revocation(None)
        candidates = [ts for ts in (self.last_dnc_add, latest[0] if latest else None) if ts]
        return max(candidates) if candidates else None

    def valid_consents(
        self,
        channel: str,
        purpose: str,
        types: Iterable[str],
        *,
        require_confirmed: bool = False,
        require_evidence: bool = False,
        after: dt.datetime | None = None,
    ) -> list[Consent]:
        """Consents in force at ``at`` for the channel and purpose, of one of ``types``.

        Opt-outs are not applied here: they fire their own ``CONSENT_REVOKED`` reason
        (revocation rules), so a revoked contact is not also reported ``NO_CONSENT``.
        """
        at = self.at
        wanted = frozenset(types)  # no copy of a frozenset
        found = []
        for consent in self.state.consents:
            if consent.type not in wanted or consent.purpose != purpose:
                continue
            if consent.channel not in ("any", channel) or consent.granted_at > at:
                continue
            if consent.revoked_at is not None and consent.revoked_at <= at:
                continue
            if after is not None and consent.granted_at <= after:
                continue
            if require_confirmed and (consent.confirmed_at is None or consent.confirmed_at > at):
                continue
            if require_evidence and not consent.evidence:
                continue
            found.append(consent)
        return found

    def has_outside_hours_consent(self) -> bool:
        return any(
            consent.outside_hours
            for consent in self.valid_consents(
                self.contact.channel, self.contact.purpose, _OUTSIDE_HOURS_TYPES
            )
        )

    def contract_in_force(self) -> bool:
        starts = self.events.get("contract_start", [])
        if not starts:
            return False
        last_start = max(event.ts for event in starts)
        ends = [event.ts for event in self.events.get("contract_end", []) if event.ts >= last_start]
        return not ends

    def event_within(
        self, kinds: Iterable[str], duration: tuple[int, dt.timedelta], after: dt.datetime | None
    ) -> dt.datetime | None:
        """Latest event of ``kinds`` whose window ``[ts, ts + duration)`` still holds ``at``
        (calendar months on the recipient's clock, ending at the earliest zone: ``_span_end``)."""
        best = None
        for kind in kinds:
            for event in self.events.get(kind, ()):
                if after is not None and event.ts <= after:
                    continue
                end = _span_end(event.ts, duration, self.zones)
                if self.at < end and (best is None or event.ts > best):
                    best = event.ts
        return best


def _subject(event: HistoryEvent) -> str:
    return event.subject or event.campaign_id or "default"


# ============================================================================ rules
class _Rule:
    """A compiled rule: filters precomputed, ``check`` returns the reasons it fires at ``t``."""

    needs_local_time = False
    kind = ""
    #: Every code ``check`` can return.
    codes: frozenset[str] = frozenset()
    #: The ``_Facts.present`` bit without which this rule never fires (0: always checked).
    needs = 0

    def __init__(self, spec: Any, pack: _Pack) -> None:
        self.pack = pack
        self.spec = spec
        self.rule_id = f"{pack.jurisdiction}/{spec.id}"
        self.jurisdiction = pack.jurisdiction
        self.legal = pack.legal and spec.marker != "P"
        self.channels = frozenset(spec.channels)
        self.purposes = frozenset(spec.purposes)
        self.dial_modes = frozenset(spec.dial_modes) if spec.dial_modes is not None else None
        self.line_types = frozenset(spec.line_types) if spec.line_types is not None else None
        # Effective dates as instants: a date starts at its earliest moment anywhere (UTC+14)
        # and ends at its latest (UTC-12), so a rule is never applied late nor lifted early.
        self.effective_from = (
            dt.datetime.combine(spec.effective_from, dt.time(), _UTC) - dt.timedelta(hours=14)
            if spec.effective_from
            else None
        )
        self.effective_until = (
            dt.datetime.combine(spec.effective_until, dt.time(), _UTC) + dt.timedelta(hours=12)
            if spec.effective_until
            else None
        )
        self.defer_to_law = spec.defer_to_law
        self.defer_if_fired = spec.defer_to_law == "fired"
        self.by_law = not pack.everywhere  # policy packs apply everywhere
        # Whether the rule's answer can change as the instant moves with the history fixed
        # (the next_allowed_at search re-checks only these).
        self.varies_with_time = (
            spec.kind in _TIME_VARYING_KINDS
            or self.effective_from is not None
            or self.effective_until is not None
        )

    def applies(self, contact: Contact) -> bool:
        """Whether the rule governs this contact at all (channel, purpose, mode, line type)."""
        if contact.channel not in self.channels or contact.purpose not in self.purposes:
            return False
        if self.dial_modes is not None and contact.dial_mode not in self.dial_modes:
            return False
        return self.line_types is None or contact.number.line_type in self.line_types

    def in_force(self, instant: dt.datetime) -> bool:
        if self.effective_from is not None and instant < self.effective_from:
            return False
        return self.effective_until is None or instant < self.effective_until

    def reason(self, code: str, detail: str, until: dt.datetime | None = None) -> Reason:
        return Reason(code, self.jurisdiction, self.rule_id, self.legal, detail, until)

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        raise NotImplementedError

    def forget(self) -> None:
        """Drop the rule's memos (:meth:`RuleBook.forget`)."""


class _WindowRule(_Rule):
    """Weekday windows in local time, half-open, in every candidate zone."""

    needs_local_time = True
    kind = "window"
    codes = frozenset({"QUIET_HOURS", "DAY_NOT_ALLOWED"})

    def __init__(self, spec: pack_schema.WindowRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        expanded = spec.expanded_days()
        self.windows: list[list[tuple[int, int]]] = [
            sorted((clock_minutes(start), clock_minutes(end)) for start, end in expanded[day])
            for day in pack_schema.DAYS
        ]
        self.text: list[str] = [
            ", ".join(f"{start}-{end}" for start, end in expanded[day]) or "no calls"
            for day in pack_schema.DAYS
        ]
        self.exempt_consent = spec.exempt_outside_hours_consent
        self.has_any_window = any(self.windows)
        # open[weekday][minute of the day]: ``start <= m < end`` for a clock reading m holds
        # exactly when it does for its whole minute (the bounds are whole minutes)
        self.open = [
            bytes(any(start <= minute < end for start, end in day) for minute in range(1440))
            for day in self.windows
        ]
        self.open_cache: dict[tuple[ZoneInfo, dt.datetime], dt.datetime | None] = {}

    def forget(self) -> None:
        self.open_cache.clear()

    def _next_open(self, zone: ZoneInfo, instant: dt.datetime) -> dt.datetime | None:
        """:meth:`_find_open`, memoised per (zone, instant): a batch's withheld contacts
        share their instants and the window openings they are searched to."""
        key = (zone, instant)
        found = self.open_cache.get(key, _MISSING)
        if found is _MISSING:
            found = self._find_open(zone, instant)
            if len(self.open_cache) >= _CACHE_SIZE:
                self.open_cache.clear()
            # ``instant`` itself is stored as the key's own value: equal instants in other
            # tzinfo objects get their own object back
            self.open_cache[key] = _SAME if found is instant else found
        return instant if found is _SAME else found

    def _find_open(self, zone: ZoneInfo, instant: dt.datetime) -> dt.datetime | None:
        local = instant.astimezone(zone)
        minutes = _local_minutes(local)
        day = local.date()
        for offset in range(8):
            current = day + dt.timedelta(days=offset)
            for start, end in self.windows[current.weekday()]:
                if offset == 0:
                    if start <= minutes < end:
                        return instant
                    if minutes >= start:
                        continue
                return _at_local(current, start, zone, instant)
        return None

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        failing: list[tuple[str, dt.datetime, bool]] = []
        is_open = self.open
        for name, zone in zip(facts.zone_names, facts.zones, strict=True):
            local = instant.astimezone(zone)
            weekday = local.weekday()
            if not is_open[weekday][local.hour * 60 + local.minute]:
                failing.append((name, local, not self.windows[weekday]))
        if not failing or (self.exempt_consent and facts.has_outside_hours_consent()):
            return _NO_REASONS
        limit = instant + dt.timedelta(days=8)
        until = _next_pass_everywhere(facts.zones, instant, self._next_open, limit)
        name, local, day_closed = failing[0]
        weekday = local.weekday()
        where = name if len(facts.zones) == 1 else f"{name}, one of {len(facts.zones)} zones"
        if day_closed:
            detail = (
                f"{_DAY_NAMES[weekday]} {_hh_mm(local)} local ({where}): no contact on this day"
            )
            return (self.reason("DAY_NOT_ALLOWED", detail, until),)
        detail = (
            f"{_DAY_NAMES[weekday]} {_hh_mm(local)} local ({where}), allowed {self.text[weekday]}"
        )
        return (self.reason("QUIET_HOURS", detail, until),)


class _DayBanRule(_Rule):
    """No contact on some local weekdays in any candidate zone."""

    needs_local_time = True
    kind = "day_ban"
    codes = frozenset({"DAY_NOT_ALLOWED"})

    def __init__(self, spec: pack_schema.DayBanRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.banned = frozenset(_DAY_INDEX[day] for day in spec.days)
        self.exempt_consent = spec.exempt_outside_hours_consent

    def _next_allowed_day(self, zone: ZoneInfo, instant: dt.datetime) -> dt.datetime | None:
        local = instant.astimezone(zone)
        if local.weekday() not in self.banned:
            return instant
        for offset in range(1, 8):
            day = local.date() + dt.timedelta(days=offset)
            if day.weekday() not in self.banned:
                return _at_local(day, 0, zone)
        return None

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        for name, zone in zip(facts.zone_names, facts.zones, strict=True):
            local = instant.astimezone(zone)
            if local.weekday() in self.banned:
                if self.exempt_consent and facts.has_outside_hours_consent():
                    return _NO_REASONS
                limit = instant + dt.timedelta(days=8)
                until = _next_pass_everywhere(facts.zones, instant, self._next_allowed_day, limit)
                detail = f"{local:%A} local ({name}): no contact on this day"
                return (self.reason("DAY_NOT_ALLOWED", detail, until),)
        return _NO_REASONS


class _HolidayRule(_Rule):
    """No contact on a public holiday (local date) in any candidate zone."""

    needs_local_time = True
    kind = "holiday"
    codes = frozenset({"HOLIDAY"})

    def __init__(self, spec: pack_schema.HolidayRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.country = spec.country
        self.subdiv = spec.subdiv
        self.observed = spec.observed
        self.extra = frozenset(spec.extra_dates)
        self.exempt_consent = spec.exempt_outside_hours_consent
        self.dates: dict[tuple[tuple[str, ...], int], frozenset[dt.date]] = {}

    def _countries(self, facts: _Facts) -> tuple[str, ...]:
        if self.country == "from_region":
            return facts.default_regions
        return (self.country,)

    def forget(self) -> None:
        self.dates.clear()

    def _is_holiday(self, countries: tuple[str, ...], day: dt.date) -> bool:
        key = (countries, day.year)
        dates = self.dates.get(key)
        if dates is None:  # the extra dates and every country's holidays of that year
            dates = self.dates[key] = self.extra.union(
                *(_holiday_dates(country, self.subdiv, self.observed, day.year)
                  for country in countries)
            )  # fmt: skip
        return day in dates

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        countries = self._countries(facts)

        def next_non_holiday(zone: ZoneInfo, moment: dt.datetime) -> dt.datetime | None:
            day = moment.astimezone(zone).date()
            if not self._is_holiday(countries, day):
                return moment
            for offset in range(1, 15):
                following = day + dt.timedelta(days=offset)
                if not self._is_holiday(countries, following):
                    return _at_local(following, 0, zone)
            return None

        for name, zone in zip(facts.zone_names, facts.zones, strict=True):
            day = instant.astimezone(zone).date()
            if self._is_holiday(countries, day):
                if self.exempt_consent and facts.has_outside_hours_consent():
                    return _NO_REASONS
                limit = instant + dt.timedelta(days=15)
                until = _next_pass_everywhere(facts.zones, instant, next_non_holiday, limit)
                calendar_name = "/".join(countries) + (f"-{self.subdiv}" if self.subdiv else "")
                holiday_name = _holiday_name(countries, self.subdiv, self.observed, day)
                detail = f"{day.isoformat()} local ({name}) is a holiday in {calendar_name}"
                if holiday_name:
                    detail += f": {holiday_name}"
                return (self.reason("HOLIDAY", detail, until),)
        return _NO_REASONS


@functools.cache
def _holiday_name(
    countries: tuple[str, ...], subdiv: str | None, observed: bool, day: dt.date
) -> str | None:
    for country in countries:
        try:
            names = holidays_package.country_holidays(
                country, subdiv=subdiv, years=day.year, observed=observed
            )
        except NotImplementedError:
            continue
        if day in names:
            return names.get(day)
    return None


class _BlockedPeriodRule(_Rule):
    """Operator-declared periods (``world.blocked_periods``) in the pack's regions."""

    kind = "blocked_period"
    codes = frozenset({"BLOCKED_PERIOD"})
    needs = _BLOCKED

    def __init__(self, spec: pack_schema.BlockedPeriodRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.include_subdivisions = spec.include_subdivisions

    def _periods(self, facts: _Facts) -> list:
        cached = facts.blocked_cache.get(id(self))
        if cached is not None:
            return cached
        contact_codes = set(facts.country_codes) | set(facts.subdivision_codes)
        owned_regions = set(self.pack.regions) or set(facts.default_regions)
        owned = owned_regions | set(self.pack.subdivisions)
        periods = []
        for period in facts.world.blocked_periods:
            if period.region not in contact_codes:
                continue
            country = period.region.split("-", 1)[0]
            if period.region in owned or (self.include_subdivisions and country in owned_regions):
                periods.append(period)
        facts.blocked_cache[id(self)] = periods
        return periods

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        periods = self._periods(facts)
        active = [p for p in periods if p.start <= instant < p.end]
        if not active:
            return _NO_REASONS
        until = max(p.end for p in active)
        changed = True
        while changed:  # chained or overlapping periods
            changed = False
            for period in periods:
                if period.start <= until < period.end:
                    until, changed = period.end, True
        first = active[0]
        detail = f"blocked in {first.region} until {iso_utc(first.end)}: {first.reason}"
        return (self.reason("BLOCKED_PERIOD", detail, until),)


class _CapRule(_Rule):
    """At most ``max`` past contacts in the rolling window ending at the proposed one."""

    kind = "cap"
    codes = frozenset({"FREQUENCY_CAP"})
    needs = _PAST_CONTACTS

    def __init__(self, spec: pack_schema.CapRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.window = parse_duration(spec.window)[1]
        self.window_text = spec.window
        self.max = spec.max
        self.count_channels = frozenset(spec.count_channels)
        self.count_purposes = frozenset(spec.count_purposes)
        self.same_subject = spec.same_subject

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        start = bisect.bisect_left(facts.contact_times, instant - self.window)
        recent = facts.contacts[start:]
        if len(recent) < self.max:  # too few contacts in the window whatever they were
            return _NO_REASONS
        subject = facts.contact.subject
        channels, purposes = self.count_channels, self.count_purposes
        counted = [
            event.ts
            for event in recent
            if event.channel in channels
            and (event.purpose or "marketing") in purposes
            and (not self.same_subject or _subject(event) == subject)
        ]
        if len(counted) < self.max:
            return _NO_REASONS
        until = counted[len(counted) - self.max] + self.window + _RESOLUTION
        what = "/".join(sorted(self.count_channels))
        about = f" on subject {subject!r}" if self.same_subject else ""
        detail = (
            f"{len(counted)} {what} contact(s) in the last {self.window_text}{about}, "
            f"at most {self.max}"
        )
        return (self.reason("FREQUENCY_CAP", detail, until),)


class _CoolingOffRule(_Rule):
    """A pause after refusals, abandoned calls, machine detection or unanswered streaks."""

    kind = "cooling_off"
    codes = frozenset({"COOLING_OFF"})
    needs = _HISTORY

    def __init__(self, spec: pack_schema.CoolingOffRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.after_kinds = tuple(spec.after_kinds)
        self.after_outcomes = frozenset(spec.after_outcomes)
        self.after_channels = frozenset(spec.after_channels)
        self.min_events = spec.min_events
        self.within = parse_duration(spec.within)[1] if spec.within else None
        self.duration = parse_duration(spec.duration)[1]
        self.duration_text = spec.duration
        # "60 days" in law are calendar days in the recipient's time (FR D.223-9): across a
        # DST change they are not 60 × 24 h; the pause ends at the later of the two
        whole_days = self.duration == dt.timedelta(days=self.duration.days)
        self.calendar_days = self.duration.days if spec.duration.endswith("d") and whole_days else 0
        self.exempt_live_agent = spec.exempt_live_agent
        self.what = ", ".join([*spec.after_kinds, *spec.after_outcomes])
        # a calendar-day pause can outlast duration by a DST shift: look a little further back
        margin = dt.timedelta(hours=3) if self.calendar_days else dt.timedelta(0)
        self.lookback = self.duration + (self.within or dt.timedelta(0)) + margin

    def _pause_end(self, trigger: dt.datetime, zones: Sequence[ZoneInfo]) -> dt.datetime:
        end = trigger + self.duration
        if self.calendar_days:
            for zone in zones:
                wall = trigger.astimezone(zone).replace(tzinfo=None)
                wall += dt.timedelta(days=self.calendar_days)
                end = max(end, wall.replace(tzinfo=zone).astimezone(_UTC))
        return end

    def applies(self, contact: Contact) -> bool:
        if self.exempt_live_agent and contact.live_agent_guaranteed:
            return False
        return super().applies(contact)

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        horizon = instant - self.lookback
        triggers: list[dt.datetime] = []
        if self.after_outcomes and facts.contacts:
            start = bisect.bisect_left(facts.contact_times, horizon)
            outcomes, channels = self.after_outcomes, self.after_channels
            triggers = [
                event.ts
                for event in facts.contacts[start:]
                if event.outcome in outcomes and event.channel in channels
            ]
        events = facts.events
        for kind in self.after_kinds:
            if kind in events:
                triggers.extend(event.ts for event in events[kind] if event.ts >= horizon)
        if len(triggers) < self.min_events:
            return _NO_REASONS
        triggers.sort()
        pause_end: dt.datetime | None = None
        need = self.min_events
        for index in range(need - 1, len(triggers)):
            if (
                self.within is not None
                and triggers[index] - triggers[index - need + 1] > self.within
            ):
                continue
            end = self._pause_end(triggers[index], facts.zones)
            if pause_end is None or end > pause_end:
                pause_end = end
        if pause_end is None or instant >= pause_end:
            return _NO_REASONS
        count = f"{need} × " if need > 1 else ""
        detail = f"{self.duration_text} pause after {count}{self.what}"
        return (self.reason("COOLING_OFF", detail, pause_end),)


class _RegistryRule(_Rule):
    """A do-not-call registry with a maximum snapshot age and explicit exemptions."""

    kind = "registry"
    codes = frozenset({"REGISTRY_STALE", "REGISTRY_LISTED"})

    def __init__(self, spec: pack_schema.RegistryRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.registry = spec.registry
        self.max_age = parse_duration(spec.max_age)[1]
        self.max_age_text = spec.max_age
        exemptions = spec.exemptions
        self.ebr_purchase = (
            parse_duration(exemptions.ebr_purchase) if exemptions.ebr_purchase else None
        )
        self.ebr_inquiry = (
            parse_duration(exemptions.ebr_inquiry) if exemptions.ebr_inquiry else None
        )
        self.contract_in_force = exemptions.contract_in_force
        self.consent_types = frozenset(exemptions.consent_types)

    def _exemption(self, facts: _Facts) -> str | None:
        contact = facts.contact
        cutoff = facts.relationship_cutoff()
        if self.ebr_purchase and facts.event_within(
            ("purchase", "contract_start"), self.ebr_purchase, cutoff
        ):
            return "EBR (purchase)"
        if self.ebr_inquiry and facts.event_within(("inquiry",), self.ebr_inquiry, cutoff):
            return "EBR (inquiry)"
        if self.contract_in_force and facts.contract_in_force():
            return "contract in force"
        if self.consent_types and facts.valid_consents(
            contact.channel, contact.purpose, self.consent_types
        ):
            return "consent"
        return None

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        reasons: list[Reason] = []
        snapshot_at = facts.world.registry_snapshots.get(self.registry)
        if snapshot_at is None:
            detail = f"no {self.registry} snapshot loaded (must be at most {self.max_age_text} old)"
            reasons.append(self.reason("REGISTRY_STALE", detail))
        elif facts.at - snapshot_at > self.max_age:
            detail = f"{self.registry} snapshot of {iso_utc(snapshot_at)} is older than {self.max_age_text}"
            reasons.append(self.reason("REGISTRY_STALE", detail))
        if self.registry in facts.state.registries and self._exemption(facts) is None:
            reasons.append(self.reason("REGISTRY_LISTED", f"listed on {self.registry}"))
        return reasons


class _ConsentRule(_Rule):
    """Contacts this rule governs need consent of an accepted type (or an exemption)."""

    kind = "consent"
    codes = frozenset({"NO_CONSENT"})

    def __init__(self, spec: pack_schema.ConsentRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.enabled = spec.enabled
        self.types = tuple(spec.accepted_types)
        self.type_set = frozenset(self.types)
        self.require_confirmed = spec.require_confirmed
        self.require_evidence = spec.require_evidence
        self.implied = {kind: parse_duration(value) for kind, value in spec.implied_from.items()}
        self.exempt_contract = spec.exempt_contract_in_force

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        if not self.in_force(instant):
            return _NO_REASONS
        contact = facts.contact
        if facts.valid_consents(
            contact.channel,
            contact.purpose,
            self.type_set,
            require_confirmed=self.require_confirmed,
            require_evidence=self.require_evidence,
        ):
            return _NO_REASONS
        if self.implied:
            cutoff = facts.relationship_cutoff()
            for kind, duration in self.implied.items():
                if facts.event_within((kind,), duration, cutoff):
                    return _NO_REASONS
        if self.exempt_contract and facts.contract_in_force():
            return _NO_REASONS
        needed = "/".join(self.types)
        extra = ", double opt-in confirmed" if self.require_confirmed else ""
        extra += ", documented" if self.require_evidence else ""
        mode = f" {contact.dial_mode}" if contact.channel == "call" else ""
        detail = f"{contact.purpose}{mode} {contact.channel} needs {needed} consent{extra}"
        return (self.reason("NO_CONSENT", detail),)


class _RevocationRule(_Rule):
    """A revocation (opt-out event, opt-out reply, revoked consent) withholds."""

    kind = "revocation"
    codes = frozenset({"CONSENT_REVOKED"})
    needs = _REVOCATIONS

    def __init__(self, spec: pack_schema.RevocationRule, pack: _Pack) -> None:
        super().__init__(spec, pack)
        self.all_channels = spec.all_channels
        self.cleared_by = spec.cleared_by

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        contact = facts.contact
        latest = facts.latest_revocation(None if self.all_channels else contact.channel)
        if latest is None:
            return _NO_REASONS
        revoked_at, what = latest
        if self.cleared_by == "opt_in":
            if any(
                ts > revoked_at and scope in (None, "any", contact.channel)
                for ts, scope in facts.opt_ins
            ):
                return _NO_REASONS
        elif facts.valid_consents(
            contact.channel,
            contact.purpose,
            _CLEARING_TYPES,
            after=revoked_at,
        ):
            return _NO_REASONS
        scope = "every channel" if self.all_channels else contact.channel
        detail = f"{what} at {iso_utc(revoked_at)} withholds {contact.purpose} on {scope}"
        return (self.reason("CONSENT_REVOKED", detail),)


class _InternalDncRule(_Rule):
    """The internal do-not-call list: adds and removals in order, by scope and category."""

    kind = "internal_dnc"
    codes = frozenset({"INTERNAL_DNC"})
    needs = _DNC

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        contact = facts.contact
        for scope in ("all", contact.channel):
            category = facts.dnc_active.get(scope)
            if category is None:
                continue
            if category == "not_interested" and contact.purpose != "marketing":
                continue
            detail = f"on the internal DNC list (scope {scope}, {category})"
            return (self.reason("INTERNAL_DNC", detail),)
        return _NO_REASONS


class _PreferenceRule(_Rule):
    """The person's own preferences, honoured as company policy (``PREFERENCE``)."""

    needs_local_time = False  # quiet hours are skipped, not guessed, without a zone
    kind = "preference"
    codes = frozenset({"PREFERENCE"})
    needs = _PREFERENCE

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        preference = facts.state.preference
        if preference is None or preference.updated_at > facts.at:
            return _NO_REASONS
        contact = facts.contact
        reasons: list[Reason] = []
        if preference.channels is not None:
            allowed = preference.channels.split("|")
            if contact.channel not in allowed:
                detail = f"asked for {'/'.join(allowed)} only"
                reasons.append(self.reason("PREFERENCE", detail))
        if preference.urgent_only and contact.purpose == "marketing":
            reasons.append(self.reason("PREFERENCE", "asked for urgent (service) contacts only"))
        if preference.max_per_week is not None:
            week = dt.timedelta(days=7)
            start = bisect.bisect_left(facts.contact_times, instant - week)
            recent = facts.contact_times[start:]
            if len(recent) >= preference.max_per_week:
                index = len(recent) - preference.max_per_week
                # max_per_week 0: never (no contact ever leaves the window for it)
                until = recent[index] + week + _RESOLUTION if index < len(recent) else None
                detail = f"{len(recent)} contact(s) in 7 days, asked for at most {preference.max_per_week}"
                reasons.append(self.reason("PREFERENCE", detail, until))
        if preference.quiet_start is not None and preference.quiet_end is not None and facts.zones:
            quiet_start = clock_minutes(preference.quiet_start)
            quiet_end = clock_minutes(preference.quiet_end)

            def in_quiet(minutes: float) -> bool:
                if quiet_start <= quiet_end:
                    return quiet_start <= minutes < quiet_end
                return minutes >= quiet_start or minutes < quiet_end

            def quiet_over(zone: ZoneInfo, moment: dt.datetime) -> dt.datetime | None:
                local = moment.astimezone(zone)
                if not in_quiet(_local_minutes(local)):
                    return moment
                day = local.date()
                if quiet_start > quiet_end and _local_minutes(local) >= quiet_start:
                    day += dt.timedelta(days=1)
                return _at_local(day, quiet_end, zone, moment)

            for name, zone in zip(facts.zone_names, facts.zones, strict=True):
                local = instant.astimezone(zone)
                if in_quiet(_local_minutes(local)):
                    limit = instant + dt.timedelta(days=2)
                    until = _next_pass_everywhere(facts.zones, instant, quiet_over, limit)
                    detail = (
                        f"{_hh_mm(local)} local ({name}) is in the person's quiet hours "
                        f"{preference.quiet_start}-{preference.quiet_end}"
                    )
                    reasons.append(self.reason("PREFERENCE", detail, until))
                    break
        return reasons


class _NoRulePackRule(_Rule):
    """A region we hold no rules for: withhold everything."""

    kind = "no_rule_pack"
    codes = frozenset({"NO_RULE_PACK"})

    def check(self, facts: _Facts, instant: dt.datetime) -> Sequence[Reason]:
        # the region this pack was chosen for: the number's, or the address's country (a
        # GB number of someone living in Jersey is reported as JE, not GB)
        uncovered = [code for code in facts.country_codes if code in self.pack.regions]
        region = uncovered[0] if uncovered else facts.region or "unknown region"
        detail = f"no rule pack for {region}"
        if region != facts.region:
            detail += f" (address region; the number is {facts.region})"
        return (Reason("NO_RULE_PACK", region, self.rule_id, False, detail),)


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
    "no_rule_pack": _NoRulePackRule,
}


# ============================================================================ packs, rule book
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
                if not pack.everywhere:
                    law_kinds.add(rule.kind)
        return tuple(applicable)

    def forget(self) -> None:
        """Drop every memo: the plans, the rules' own and the module's (wall-clock readings,
        places). Results never depend on them (``tests/serving/test_rules_memos.py``)."""
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
            # RULES.md convention 3: no known zone → UNKNOWN_TIMEZONE for every marketing
            # contact (a window we cannot check, or one a later rule or preference would
            # need), and for any other contact that a local-time rule governs
            self.local_rules = sum(1 for rule in rules if rule.needs_local_time)
            if self.local_rules or facts.contact.purpose == "marketing":
                self.unknown_timezone = True
                rules = [rule for rule in rules if not rule.needs_local_time]
        self.rules = tuple(rules)
        self.moving = tuple(rule for rule in rules if rule.varies_with_time)


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


# ============================================================================ evaluate
def _evaluate_rules(rules: Sequence[_Rule], facts: _Facts, instant: dt.datetime) -> list[Reason]:
    reasons: list[Reason] = []
    fired_by_law: set[str] = set()
    for rule in rules:  # policy packs come last, so the law's codes are known by then
        if rule.defer_if_fired and fired_by_law and rule.codes <= fired_by_law:
            continue  # whatever it finds, the law has fired it already
        found = rule.check(facts, instant)
        if not found:
            continue
        if rule.defer_if_fired and all(r.code in fired_by_law for r in found):
            continue
        reasons.extend(found)
        if rule.by_law:
            fired_by_law.update(r.code for r in found)
    return reasons


def evaluate(
    contact: Contact, state: NumberState, world: WorldState, rulebook: RuleBook
) -> Evaluation:
    """All reasons that fire for ``contact`` at ``contact.at`` and the next allowed instant.

    Pure: reads nothing but its arguments. ``state.history`` may hold events after
    ``contact.at``; they are ignored.
    """
    number = contact.number
    if not number.valid:
        detail = f"invalid number: {number.invalid_reason or 'not valid'}"
        return Evaluation([policy_reason("INVALID_NUMBER", "invalid-number", detail)], None)
    facts = _Facts(contact, state, world)
    reasons: list[Reason] = []
    if state.suppressed:
        reasons.append(
            policy_reason(
                "SUPPRESSED", "erasure-suppression", "erased subject (keyed-hash tombstone)"
            )
        )
    if not number.region or number.region == "001":
        reasons.append(
            policy_reason("NO_RULE_PACK", "unknown-region", "number has no geographic region")
        )
    plan = rulebook.plan_for(facts)
    if plan.unknown_timezone:
        reasons.append(
            policy_reason(
                "UNKNOWN_TIMEZONE",
                "unknown-timezone",
                f"{number.line_type} number with no known time zone; "
                + (
                    f"{plan.local_rules} local-time rule(s) cannot be checked"
                    if plan.local_rules
                    else "its local time (and any quiet hours) cannot be known"
                ),
            )
        )
    reasons.extend(_evaluate_rules(plan.rules, facts, contact.at))
    return Evaluation(
        reasons,
        _next_allowed_at(reasons, plan.moving, facts),
        facts.zone_names,
        plan.jurisdictions,
    )


def _next_allowed_at(
    reasons: list[Reason], moving: Sequence[_Rule], facts: _Facts
) -> dt.datetime | None:
    """Earliest instant ≥ at when every rule passes, if all reasons are time-based.

    Rules that do not vary with the instant (not in ``moving``) passed at ``at`` (no
    permanent reason fired) and pass at every later instant too: only the others are
    re-checked.
    """
    if not reasons:
        return None
    if any(reason.until is None for reason in reasons):
        return None
    limit = facts.at + SEARCH_HORIZON
    instant = max(reason.until for reason in reasons if reason.until is not None)
    while instant <= limit:
        found = _evaluate_rules(moving, facts, instant)
        if not found:
            return instant
        if any(reason.until is None for reason in found):
            return None
        later = max(reason.until for reason in found if reason.until is not None)
        if later <= instant:  # defensive: a rule that cannot say when it passes
            return None
        instant = later
    return None
