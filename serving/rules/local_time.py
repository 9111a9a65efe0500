"""Rules on the recipient's local time: weekday windows, banned days, public holidays."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from serving.domain.reasons import Reason
from serving.rules import schema as pack_schema
from serving.rules.calendars import _holiday_dates, _holiday_name
from serving.rules.clock import _at_local, _hh_mm, _local_minutes, _next_pass_everywhere, _zone
from serving.rules.facts import _Facts
from serving.rules.rule import _CACHE_SIZE, _MISSING, _NO_REASONS, _SAME, _Rule
from serving.rules.schema import clock_minutes

if TYPE_CHECKING:
    from serving.rules.rulebook import _Pack

_DAY_INDEX = {day: index for index, day in enumerate(pack_schema.DAYS)}
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


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
        #: a law's fixed standard-time clock (``fixed_zone``) instead of the recipient's
        self.fixed = ((spec.fixed_zone,), (_zone(spec.fixed_zone),)) if spec.fixed_zone else None

    def forget(self) -> None:
        super().forget()
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
        names, zones = self.fixed or (facts.zone_names, facts.zones)
        for name, zone in zip(names, zones, strict=True):
            local = instant.astimezone(zone)
            weekday = local.weekday()
            if not is_open[weekday][local.hour * 60 + local.minute]:
                failing.append((name, local, not self.windows[weekday]))
        if not failing or (self.exempt_consent and facts.has_outside_hours_consent()):
            return _NO_REASONS
        limit = instant + dt.timedelta(days=8)
        until = _next_pass_everywhere(zones, instant, self._next_open, limit)
        name, local, day_closed = failing[0]
        weekday = local.weekday()
        where = name if len(zones) == 1 else f"{name}, one of {len(zones)} zones"
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
        super().forget()
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
