"""Replay against a hand-computed history: each contact decided by the service's rules with
the number's state as of its own instant (history, consent, internal DNC, registries)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from serving.backtest import History, Window, replay
from serving.rules import load_rulebook

# libphonenumber's example number and its neighbours: New Jersey, America/New_York (UTC-5
# in February)
N, M, K, L = "+12015550123", "+12015550124", "+12015550125", "+12015550126"
CALL = {"channel": "call", "purpose": "marketing", "dial_mode": "manual"}
WINDOW = Window(dt.datetime(2026, 2, 10, tzinfo=dt.UTC), dt.datetime(2026, 2, 20, tzinfo=dt.UTC))


def _events(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        [
            {"event_id": f"e{i}", "number": number, "ts": ts, "kind": kind, **fields}
            for i, (number, ts, kind, fields) in enumerate(rows)
        ]
    )
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    return frame


def _hand_history() -> History:
    events = _events(
        [
            (N, "2026-02-09T15:00Z", "contact", CALL),  # e0 before the window
            (N, "2026-02-10T15:00Z", "contact", CALL),  # e1 10:00 local: allowed
            (N, "2026-02-10T15:05Z", "opt_out", {}),  # e2 after e1: binds e3, not e1
            (N, "2026-02-11T15:00Z", "contact", CALL),  # e3 CONSENT_REVOKED
            (M, "2026-02-12T03:00Z", "contact", CALL),  # e4 22:00 local: QUIET_HOURS
            (M, "2026-02-14T15:00Z", "contact", CALL),  # e5 after the DNC request
            (M, "2026-02-20T15:00Z", "contact", CALL),  # e6 at T1: outside the window
            (K, "2026-02-15T15:00Z", "contact", {"channel": "sms"}),  # e7 before consent
            (K, "2026-02-17T15:00Z", "contact", {"channel": "sms"}),  # e8 consent in force
        ]
    )
    dnc = pd.DataFrame(
        [{"number": M, "action": "add", "scope": "all", "category": "do_not_contact",
          "added_at": pd.Timestamp("2026-02-13T00:00Z"), "source": None}]
    )  # fmt: skip
    consent = pd.DataFrame(
        [{"consent_id": "c1", "number": K, "channel": "sms", "purpose": "marketing",
          "type": "written", "granted_at": pd.Timestamp("2026-02-16T00:00Z"),
          # revoked after e8: not yet visible when e8 is decided
          "revoked_at": pd.Timestamp("2026-02-18T00:00Z"), "evidence": "web form v3",
          "confirmed_at": pd.NaT, "outside_hours": False}]
    )  # fmt: skip
    return History(events=events, consent=consent, dnc=dnc)


def test_every_contact_of_the_window_decided_as_of_its_instant():
    got = replay(_hand_history(), WINDOW, load_rulebook())
    assert got["event_id"].tolist() == ["e1", "e3", "e4", "e5", "e7", "e8"]
    assert got["ts"].is_monotonic_increasing
    assert dict(zip(got["event_id"], got["reasons"], strict=True)) == {
        "e1": "",  # the opt-out comes five minutes later
        "e3": "CONSENT_REVOKED",
        "e4": "QUIET_HOURS",
        "e5": "INTERNAL_DNC",
        "e7": "NO_CONSENT",  # the written consent is granted the next day
        "e8": "",  # consent in force; its revocation is still in the future
    }
    assert got["rules_withheld"].tolist() == [False, True, True, True, True, False]
    assert set(got["jurisdiction"]) == {"US"}
    assert set(got.loc[got["rules_withheld"], "reason_jurisdictions"]) == {"US"}


def test_registry_snapshot_in_force_and_its_listing():
    events = _events(
        [
            (L, "2026-02-11T15:00Z", "contact", CALL),  # no snapshot yet: stale
            (L, "2026-02-13T15:00Z", "contact", CALL),  # listed by the 02-12 snapshot
            (N, "2026-02-13T15:00Z", "contact", CALL),  # not listed
        ]
    )
    registries = pd.DataFrame(
        {
            "registry": ["US_NATIONAL_DNC"],
            "snapshot_at": [pd.Timestamp("2026-02-12T00:00Z")],
            "number": [L],
        }
    )
    got = replay(History(events=events, registries=registries), WINDOW, load_rulebook())
    reasons = dict(zip(got["event_id"], got["reasons"], strict=True))
    assert reasons["e0"] == "REGISTRY_STALE"
    assert reasons["e1"] == "REGISTRY_LISTED"
    assert reasons["e2"] == ""


def test_frequency_cap_counts_only_earlier_contacts():
    """Contacts of the window fill a number's history one by one: later ones see earlier
    ones (and only those), as a store read at each instant would."""
    rows = [(N, f"2026-02-{d:02d}T15:00Z", "contact", CALL) for d in range(10, 20)]
    got = replay(History(events=_events(rows)), WINDOW, load_rulebook())
    from serving.domain.state import HistoryEvent, NumberState
    from serving.rules import evaluate
    from tests.support.rules import contact, fresh_world

    expected = []
    for i, (_, ts, _, _) in enumerate(rows):
        past = tuple(
            HistoryEvent(
                pd.Timestamp(t).to_pydatetime(),
                "contact",
                "call",
                "marketing",
                "default",
                None,
                "manual",
            )  # fmt: skip
            for _, t, _, _ in rows[:i]
        )
        planned = contact(N, ts, "call", dial_mode="manual")
        codes = [r.code for r in evaluate(planned, NumberState(history=past),
                                          fresh_world(planned.at), load_rulebook()).reasons]  # fmt: skip
        expected.append("|".join(dict.fromkeys(codes)))
    assert got["reasons"].tolist() == expected


def test_an_empty_window_and_a_backwards_window():
    later = Window(WINDOW.end + dt.timedelta(days=1), WINDOW.end + dt.timedelta(days=9))
    assert replay(_hand_history(), later, load_rulebook()).empty
    # T1 is exclusive, T0 inclusive: e6 at 02-20 belongs to the next window
    at_end = Window(WINDOW.end, WINDOW.end + dt.timedelta(days=1))
    assert replay(_hand_history(), at_end, load_rulebook())["event_id"].tolist() == ["e6"]
    with pytest.raises(ValueError, match="--to"):
        Window(WINDOW.end, WINDOW.start)
