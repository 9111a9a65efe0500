"""Builders for the store tests: fixed instants and numbers, fictional numbers, contacts."""

from __future__ import annotations

import datetime as dt

from features.schema import Event

AT = dt.datetime(2026, 6, 16, 12, 0, tzinfo=dt.UTC)
NY = "+12122345678"  # docs/rules.md examples
FL = "+13052134567"
LA_ = "+12132345678"


def fictional(n: int) -> list[str]:
    """n distinct valid US numbers in the fictional 555-01xx ranges."""
    area_codes = ["212", "305", "213", "415", "617", "312", "206", "512", "303", "404"]
    out = [f"+1{ac}55501{i:02d}" for ac in area_codes for i in range(100)]
    assert n <= len(out)
    return out[:n]


def contact(event_id: str, number: str, ts: dt.datetime, **kw: object) -> Event:
    return Event(
        event_id=event_id,
        number=number,
        ts=ts,
        kind="contact",
        channel=kw.pop("channel", "call"),
        **kw,
    )
