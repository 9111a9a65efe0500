"""Wall-clock arithmetic: local readings, skipped and repeated times (DST), calendar spans,
and the earliest instant that passes in every candidate zone."""

from __future__ import annotations

import calendar
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from zoneinfo import ZoneInfo

_UTC = dt.UTC


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
    counted in (the law leaves the zone open: the conservative reading). Fixed spans
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
