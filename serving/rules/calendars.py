"""Public holiday calendars (the ``holidays`` package), memoised per country and year."""

from __future__ import annotations

import datetime as dt
import functools

import holidays as holidays_package


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
