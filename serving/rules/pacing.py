"""Rules on how often and when again: frequency caps, cooling-off pauses, operator-declared
blocked periods."""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from features.schema import subject_of
from serving.domain.reasons import Reason, iso_utc
from serving.domain.state import Contact
from serving.rules import schema as pack_schema
from serving.rules.facts import _BLOCKED, _HISTORY, _PAST_CONTACTS, _Facts
from serving.rules.rule import _NO_REASONS, _RESOLUTION, _Rule
from serving.rules.schema import parse_duration

if TYPE_CHECKING:
    from serving.rules.rulebook import _Pack

_UTC = dt.UTC


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
            and (not self.same_subject or subject_of(event.subject, event.campaign_id) == subject)
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
