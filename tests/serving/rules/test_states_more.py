"""State packs added or changed from the legal comparison: each rule at its boundaries, to
the second, in the recipient's zone, and across the DST changes (docs/rules.md tables)."""

from __future__ import annotations

import datetime as dt

import pytest

from serving.domain.state import NumberState
from tests.support.rules import calls, check, consent, local, pairs, utc

SECOND = dt.timedelta(seconds=1)
NY, CHI, DEN, LAX = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
#: Fictional 555-01xx numbers (area code → state via libphonenumber) and their zone.
N = {
    "RI": ("+14015550123", NY), "PA": ("+12155550123", NY), "NM": ("+15055550123", DEN),
    "VA": ("+18045550123", NY), "NV": ("+17025550123", LAX), "IL": ("+13125550123", CHI),
    "NE": ("+14025550123", CHI), "SD": ("+16055550123", DEN), "MN": ("+16125550123", CHI),
    "MI": ("+13135550123", NY), "ME": ("+12075550123", NY), "MS": ("+16015550123", CHI),
    "OK": ("+14055550123", CHI), "CT": ("+12035550123", NY), "MA": ("+16175550123", NY),
    "WA": ("+12065550123", LAX), "FL": ("+13055550123", NY), "AL": ("+12055550123", CHI),
}  # fmt: skip
WRITTEN = "written"


def _check(state: str, wall: str, channel: str = "call", held: bool = True, **fields):
    number, zone = N[state]
    st = NumberState(consents=(consent(number, WRITTEN),)) if held else NumberState()
    return pairs(check(number, local(zone, wall), channel, state=st, **fields))


def _q(state: str, code: str = "QUIET_HOURS") -> tuple[str, str]:
    return (code, f"US-{state}")


#: (state, local wall clock, dial mode, expected own reason or None). Live calls with a
#: written consent (so only hours, days and holidays can withhold). 2026-06-16 is a Tuesday.
TABLE = [
    # Rhode Island: Mon-Fri 09:00-18:00, Sat 10:00-17:00, no Sundays
    ("RI", "2026-06-16 08:59:59", "manual", _q("RI")),
    ("RI", "2026-06-16 09:00:00", "manual", None),
    ("RI", "2026-06-16 17:59:59", "manual", None),
    ("RI", "2026-06-16 18:00:00", "manual", _q("RI")),
    ("RI", "2026-06-20 09:59:59", "manual", _q("RI")),
    ("RI", "2026-06-20 10:00:00", "manual", None),
    ("RI", "2026-06-20 16:59:59", "manual", None),
    ("RI", "2026-06-20 17:00:00", "manual", _q("RI")),
    ("RI", "2026-06-21 12:00:00", "manual", _q("RI", "DAY_NOT_ALLOWED")),
    ("RI", "2026-08-10 12:00:00", "manual", _q("RI", "HOLIDAY")),  # Victory Day (RI)
    ("RI", "2026-10-12 12:00:00", "manual", _q("RI", "HOLIDAY")),  # Columbus Day
    ("RI", "2026-11-11 12:00:00", "manual", _q("RI", "HOLIDAY")),  # Veterans Day
    # Pennsylvania: 08:00-21:00, no legal holidays
    ("PA", "2026-06-16 07:59:59", "manual", _q("PA")),
    ("PA", "2026-06-16 08:00:00", "manual", None),
    ("PA", "2026-06-16 20:59:59", "manual", None),
    ("PA", "2026-06-16 21:00:00", "manual", _q("PA")),
    ("PA", "2026-07-03 12:00:00", "manual", _q("PA", "HOLIDAY")),  # 4 July observed
    ("PA", "2026-07-02 20:59:59", "manual", None),
    # New Mexico: 09:00-21:00; no prerecorded sales messages (EBR and consent: conservative)
    ("NM", "2026-06-16 08:59:59", "manual", _q("NM")),
    ("NM", "2026-06-16 09:00:00", "manual", None),
    ("NM", "2026-06-16 20:59:59", "manual", None),
    ("NM", "2026-06-16 21:00:00", "manual", _q("NM")),
    ("NM", "2026-06-16 12:00:00", "prerecorded", _q("NM", "DAY_NOT_ALLOWED")),
    # Virginia: 08:00-21:00
    ("VA", "2026-06-16 07:59:59", "manual", _q("VA")),
    ("VA", "2026-06-16 08:00:00", "manual", None),
    ("VA", "2026-06-16 21:00:00", "manual", _q("VA")),
    # Nevada: live 09:00-20:00 [M]; prerecorded 09:00-21:00 (stricter live hours still apply)
    ("NV", "2026-06-16 08:59:59", "manual", _q("NV")),
    ("NV", "2026-06-16 09:00:00", "manual", None),
    ("NV", "2026-06-16 19:59:59", "manual", None),
    ("NV", "2026-06-16 20:00:00", "manual", _q("NV")),
    # Illinois: prerecorded 09:00-21:00; live calls federal only
    ("IL", "2026-06-16 08:59:59", "prerecorded", _q("IL")),
    ("IL", "2026-06-16 09:00:00", "prerecorded", None),
    ("IL", "2026-06-16 20:59:59", "prerecorded", None),
    ("IL", "2026-06-16 21:00:00", "prerecorded", _q("IL")),
    ("IL", "2026-06-16 08:00:00", "manual", None),
    # Nebraska: prerecorded on Sundays 13:00-21:00 only, not on holidays
    ("NE", "2026-06-21 12:59:59", "prerecorded", _q("NE")),
    ("NE", "2026-06-21 13:00:00", "prerecorded", None),
    ("NE", "2026-06-21 20:59:59", "prerecorded", None),
    ("NE", "2026-06-16 08:00:00", "prerecorded", None),
    ("NE", "2026-07-03 12:00:00", "prerecorded", _q("NE", "HOLIDAY")),
    ("NE", "2026-06-21 12:00:00", "manual", None),
    # South Dakota: automated dialling only on weekdays 09:00-21:00 (Denver and Central zones)
    ("SD", "2026-06-16 08:59:59", "predictive", _q("SD")),  # both zones: see the test below
    ("SD", "2026-06-20 12:00:00", "predictive", _q("SD", "DAY_NOT_ALLOWED")),
    ("SD", "2026-06-20 12:00:00", "manual", None),
    # Minnesota: 09:00-21:00
    ("MN", "2026-06-16 08:59:59", "manual", _q("MN")),
    ("MN", "2026-06-16 09:00:00", "manual", None),
    ("MN", "2026-06-16 21:00:00", "manual", _q("MN")),
    # Michigan: 09:00-21:00; no recorded-message solicitation
    ("MI", "2026-06-16 08:59:59", "manual", _q("MI")),
    ("MI", "2026-06-16 09:00:00", "manual", None),
    ("MI", "2026-06-16 12:00:00", "prerecorded", _q("MI", "DAY_NOT_ALLOWED")),
    # Mississippi: 8-8 CST literally as well: 09:00-20:00 CDT in summer, 08:00-20:00 in winter
    ("MS", "2026-06-16 08:59:59", "manual", _q("MS")),
    ("MS", "2026-06-16 09:00:00", "manual", None),
    ("MS", "2026-06-16 19:59:59", "manual", None),
    ("MS", "2026-06-16 20:00:00", "manual", _q("MS")),
    ("MS", "2026-12-15 07:59:59", "manual", _q("MS")),
    ("MS", "2026-12-15 08:00:00", "manual", None),
    # Oklahoma: prerecorded not before 09:00 (live from 08:00)
    ("OK", "2026-06-16 08:59:59", "prerecorded", _q("OK")),
    ("OK", "2026-06-16 09:00:00", "prerecorded", None),
    ("OK", "2026-06-16 08:00:00", "manual", None),
]


def _case_id(row: tuple) -> str:
    return f"{row[0]}-{row[1]}-{row[2]}"


@pytest.mark.parametrize(("state", "wall", "mode", "expected"), TABLE, ids=map(_case_id, TABLE))
def test_state_hours_days_and_holidays(
    state: str, wall: str, mode: str, expected: tuple | None
) -> None:
    own = {p for p in _check(state, wall, dial_mode=mode) if p[1] == f"US-{state}"}
    assert own == ({expected} if expected else set())


def test_south_dakota_reads_both_of_its_zones() -> None:
    """+1 605 maps to Denver and North_Dakota/Center: automated calls need 09:00 in both, so
    they start at 09:00 Mountain (10:00 Central) and end at 21:00 Central (20:00 Mountain)."""
    number, _ = N["SD"]
    held = NumberState(consents=(consent(number, WRITTEN),))

    def fired(instant: dt.datetime) -> bool:
        result = check(number, instant, state=held, dial_mode="predictive")
        return ("QUIET_HOURS", "US-SD") in pairs(result)

    opens = local(DEN, "2026-06-16 09:00")
    closes = local(CHI, "2026-06-16 21:00")
    assert fired(opens - SECOND) and not fired(opens)
    assert not fired(closes - SECOND) and fired(closes)


@pytest.mark.parametrize(
    ("state", "saturday_close", "next_open"),
    [
        # Saturday 17:00 in Rhode Island, closed Sunday; the clocks spring forward on Sunday
        # 8 March 2026: Monday 09:00 EDT = 13:00Z
        ("RI", "2026-03-07 17:00", "2026-03-09T13:00:00Z"),
        # November: clocks go back on Sunday 1 November: Monday 09:00 EST = 14:00Z
        ("RI", "2026-10-31 17:00", "2026-11-02T14:00:00Z"),
    ],
)
def test_next_allowed_at_across_the_dst_change(
    state: str, saturday_close: str, next_open: str
) -> None:
    number, zone = N[state]
    held = NumberState(consents=(consent(number, WRITTEN),))
    result = check(number, local(zone, saturday_close), state=held)
    assert _q(state) in pairs(result)
    assert result.next_allowed_at == utc(next_open)


@pytest.mark.parametrize(
    ("wall", "fires"),
    [
        # 8 March 2026, clocks spring forward at 02:00 CST: 08:00 CST is 09:00 CDT that day
        ("2026-03-09 08:59:59", True),
        ("2026-03-09 09:00:00", False),
        ("2026-03-06 07:59:59", True),  # the Friday before: CST, 08:00 opens
        ("2026-03-06 08:00:00", False),
        ("2026-11-02 07:59:59", True),  # the Monday after fall back: CST again
        ("2026-11-02 08:00:00", False),
    ],
)
def test_mississippi_central_standard_time_across_dst(wall: str, fires: bool) -> None:
    assert (_q("MS") in _check("MS", wall)) is fires


def test_maine_one_automated_call_per_8_hours() -> None:
    number, zone = N["ME"]
    at = local(zone, "2026-06-16 12:00")
    held = (consent(number, WRITTEN),)
    eight = NumberState(history=calls((at - dt.timedelta(hours=8)).isoformat()), consents=held)
    later = NumberState(
        history=calls((at - dt.timedelta(hours=8) - SECOND).isoformat()), consents=held
    )
    assert _q("ME", "FREQUENCY_CAP") in pairs(
        check(number, at, state=eight, dial_mode="predictive")
    )
    assert _q("ME", "FREQUENCY_CAP") not in pairs(
        check(number, at, state=later, dial_mode="predictive")
    )
    assert _q("ME", "FREQUENCY_CAP") not in pairs(check(number, at, state=eight))


@pytest.mark.parametrize(
    ("state", "mode", "channel", "consent_type", "pair"),
    [
        ("CT", "manual", "call", None, ("NO_CONSENT", "US-CT")),
        ("CT", "manual", "call", "express", ("NO_CONSENT", "US-CT")),
        ("CT", "manual", "call", "written", None),
        ("MN", "prerecorded", "call", None, ("NO_CONSENT", "US-MN")),
        ("MN", "prerecorded", "call", "express", None),
        ("MA", "prerecorded", "call", "express", ("NO_CONSENT", "US-MA")),
        ("MA", "prerecorded", "call", "written", None),
        ("WA", "manual", "sms", None, ("NO_CONSENT", "US-WA")),
        ("WA", "manual", "sms", "express", None),
        ("OK", "manual", "sms", "express", ("NO_CONSENT", "US-OK")),
        ("OK", "manual", "sms", "written", None),
    ],
)
def test_state_consent_rules(state, mode, channel, consent_type, pair) -> None:
    number, zone = N[state]
    held = NumberState(consents=(consent(number, consent_type),)) if consent_type else NumberState()
    result = pairs(check(number, local(zone, "2026-06-16 12:00"), channel, state=held,
                         dial_mode=mode))  # fmt: skip
    own = {p for p in result if p[0] == "NO_CONSENT" and p[1] == f"US-{state}"}
    assert own == ({pair} if pair else set())


def test_virginia_text_stop_withholds_with_the_state_as_jurisdiction() -> None:
    from tests.support.rules import event

    number, zone = N["VA"]
    stopped = NumberState(
        history=(event("reply", "2026-03-01T12:00:00Z", text="STOP"),),
        consents=(consent(number, WRITTEN),),
    )
    result = pairs(check(number, local(zone, "2026-06-16 12:00"), "sms", state=stopped))
    assert ("CONSENT_REVOKED", "US-VA") in result
    renewed = NumberState(
        history=stopped.history,
        consents=(consent(number, WRITTEN, granted_at=utc("2026-03-01T12:00:01Z")),),
    )
    assert ("CONSENT_REVOKED", "US-VA") not in pairs(
        check(number, local(zone, "2026-06-16 12:00"), "sms", state=renewed)
    )


@pytest.mark.parametrize(
    ("state", "cite_part"),
    [("FL", "501.616(6)(a)"), ("LA", "R-29617"), ("MS", "77-3-723"), ("UT", "13-25a-103"),
     ("MD", "14-4502"), ("WA", "19.158.040"), ("AL", "770-X-5-.17")],
)  # fmt: skip
def test_corrected_citations(state: str, cite_part: str) -> None:
    from tests.support.rules import rulebook

    pack = next(p for p in rulebook().packs if p.jurisdiction == f"US-{state}")
    hours = next(r for r in pack.rules if r.spec.id == "hours")
    assert cite_part in hours.spec.cite and hours.spec.url
