"""Decision policy (pure) and the screening pipeline on real parts.

The pipeline tests use a real SQLite store in a temp dir, the real rule packs and a small
model really trained and registered in a temp MLflow store (``tests/support/models.py``).
Numbers are fictional (555-01xx) or the docs/rules.md examples.
"""

from __future__ import annotations

import datetime as dt
import json
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from serving.domain.contract import AuthorizeRequest, ContactIn
from serving.domain.decision import Policy, Scored, combined_risk, decide
from serving.domain.reasons import Reason
from tests.support.models import champion_store

UTC = dt.UTC
AT = dt.datetime(2026, 6, 16, 14, 0, tzinfo=UTC)  # Tue 10:00 in Florida
FL = "+13055550142"
FL_2 = "+13055550143"
DC = "+12025550123"
LISTED = "+12025550124"


def _legal(code: str = "QUIET_HOURS") -> Reason:
    return Reason(code, "US", f"US/{code.lower()}", True, "test", None)


# ----------------------------------------------------------------------------- pure decide
def test_thresholds_compare_risk_strictly_greater() -> None:
    items = [
        Scored([], None, 0.5, 0.0),  # risk exactly 0.5: not above review_above
        Scored([], None, 0.6, 0.0),  # above review, not above withhold
        Scored([], None, 0.8, 0.0),  # exactly withhold_above: review
        Scored([], None, 0.9, 0.0),  # above withhold
    ]
    out, summary = decide(items, Policy(review_above=0.5, withhold_above=0.8))
    assert [d.decision for d in out] == ["allow", "review", "review", "withhold"]
    assert [r.code for r in out[3].reasons] == ["RISK_ABOVE_THRESHOLD"]
    assert summary["allow"] == 1 and summary["review"] == 2 and summary["withhold"] == 1


def test_combined_risk_is_probability_of_either_event() -> None:
    got = combined_risk(np.array([0.1, 0.0]), np.array([0.2, 0.3]))
    assert got == pytest.approx([1 - 0.9 * 0.8, 0.3])


def test_legal_reason_withholds_whatever_the_score() -> None:
    out, summary = decide([Scored([_legal()], None, 0.0, 0.0)], Policy())
    assert out[0].decision == "withhold"
    assert [r.code for r in out[0].reasons] == ["QUIET_HOURS"]  # no risk reason added
    assert out[0].rank is None
    assert summary["by_reason"] == {"QUIET_HOURS": 1}


def test_missing_score_without_reason_fails_closed() -> None:
    out, _ = decide([Scored([], None, None, None)], Policy())
    assert out[0].decision == "withhold"


def test_max_contacts_keeps_least_risky_in_request_order() -> None:
    p = [0.04, 0.01, 0.03, 0.02]
    items = [Scored([], None, x, 0.0) for x in p]
    out, summary = decide(items, Policy(max_contacts=2))
    assert [d.decision for d in out] == ["withhold", "allow", "withhold", "allow"]
    assert [d.rank for d in out] == [None, 1, None, 2]
    assert all(out[i].reasons[-1].code == "BUDGET_EXHAUSTED" for i in (0, 2))
    assert summary["expected_complaints"] == pytest.approx(0.03)


def test_expected_complaints_budget_sums_p_complaint_of_allowed() -> None:
    p = [0.2, 0.1, 0.3, 0.05]
    out, summary = decide(
        [Scored([], None, x, 0.0) for x in p], Policy(max_expected_complaints=0.2)
    )
    allowed = [p[i] for i, d in enumerate(out) if d.decision == "allow"]
    assert sum(allowed) <= 0.2 + 1e-12
    assert sorted(allowed) == [0.05, 0.1]
    assert summary["expected_complaints"] == pytest.approx(0.15)


def test_policy_rejects_unknown_keys_and_inverted_thresholds() -> None:
    with pytest.raises(ValidationError, match="withhold_abov"):
        Policy.model_validate({"withhold_abov": 0.5})
    with pytest.raises(ValidationError, match="review_above"):
        Policy(review_above=0.9, withhold_above=0.5)


# ----------------------------------------------------------------------------- pipeline
@pytest.fixture(scope="module")
def loaded_model():
    from training import tracking

    built = champion_store()
    tracking.configure(built.tracking_uri)
    return tracking.load_model()


@pytest.fixture(scope="module")
def rulebook():
    from serving.rules import load_rulebook

    return load_rulebook()


@pytest.fixture
def screener(sqlite_store, rulebook, loaded_model):
    from serving.pipeline import Resources, Screener

    sqlite_store.import_registry("US_NATIONAL_DNC", AT - dt.timedelta(days=2), [LISTED])
    # Florida keeps its own do-not-call list: without a snapshot its numbers are withheld
    sqlite_store.import_registry("US_FL_DNC", AT - dt.timedelta(days=2), [], allow_empty=True)
    # authorize is about now: these tests dial around AT, so the clock says AT and the skew
    # allows the hours they move about in
    return Screener(
        Resources(store=sqlite_store, rulebook=rulebook, model=loaded_model),
        clock=lambda: AT,
        authorize_skew=dt.timedelta(days=1),
    )


def _contact(number: str, **kw) -> ContactIn:
    return ContactIn(number=number, channel=kw.pop("channel", "call"), at=kw.pop("at", AT), **kw)


def test_screen_allows_scores_and_keeps_request_order(screener, loaded_model) -> None:
    contacts = [_contact(FL, ref="a"), _contact("12", ref="b"), _contact(LISTED, ref="c")]
    out = screener.screen(contacts)
    assert [r.ref for r in out.results] == ["a", "b", "c"]
    ok, bad, listed = out.results
    assert ok.decision == "allow" and ok.rank == 1 and ok.reasons == []
    assert 0 < ok.p_complaint < 1 and 0 < ok.p_opt_out < 1
    assert ok.risk == pytest.approx(1 - (1 - ok.p_complaint) * (1 - ok.p_opt_out), abs=2e-6)
    assert ok.subdivision == "US-FL" and ok.time_zones == ["America/New_York"]
    assert bad.number == "12" and [r.code for r in bad.reasons] == ["INVALID_NUMBER"]
    assert "REGISTRY_LISTED" in [r.code for r in listed.reasons]
    assert out.model.version == loaded_model.version and out.model.alias == "champion"
    assert out.summary.allow == 1 and out.summary.withhold == 2


def test_online_features_equal_a_direct_history_read(screener, sqlite_store, loaded_model) -> None:
    """The one-read pipeline scores exactly what features_as_of gives on the store's own
    history frame (the read path the training side uses)."""
    import pandas as pd

    from features.pointintime import features_as_of
    from training.model import feature_matrix

    events = [
        {"event_id": f"e{i}", "number": FL, "ts": AT - dt.timedelta(hours=5 + 20 * i),
         "kind": "contact", "channel": "call", "purpose": "marketing", "dial_mode": "manual",
         "outcome": "no_answer" if i % 2 else "answered", "duration_s": 4.0}
        for i in range(6)
    ] + [{"event_id": "c1", "number": FL, "ts": AT - dt.timedelta(days=3), "kind": "complaint",
          "source": "customer"}]  # fmt: skip
    assert sqlite_store.record_events(events).accepted == 7
    # a service consent is no marketing consent, on both paths alike
    sqlite_store.record_consent(
        [{"number": FL, "channel": "any", "purpose": "service", "type": "express",
          "granted_at": AT - dt.timedelta(days=40)},
         {"number": FL_2, "channel": "sms", "purpose": "marketing", "type": "written",
          "granted_at": AT - dt.timedelta(days=10)}]
    )  # fmt: skip
    out = screener.screen([_contact(FL), _contact(FL_2, channel="sms")])
    history = sqlite_store.history_frame([FL, FL_2], AT)
    consent = sqlite_store.consent_frame([FL, FL_2])
    cands = pd.DataFrame(
        {"number": [FL, FL_2], "channel": ["call", "sms"], "at": pd.to_datetime([AT, AT], utc=True)}
    )
    feats = features_as_of(history, cands, consent)
    assert feats.loc[0, "contacts_7d"] == 6 and feats.loc[0, "complaints_90d"] == 1
    assert pd.isna(feats.loc[0, "days_since_consent"])  # the service consent does not count
    assert feats.loc[1, "days_since_consent"] == pytest.approx(10.0)
    expected = loaded_model.model.predict(feature_matrix(feats, loaded_model.model.feature_names))
    got = [r.p_complaint for r in out.results]
    assert got == pytest.approx(list(expected["complaint_7d"]), abs=1e-6)
    # and feature by feature: the explanations carry the values the service scored
    from features.definitions import FEATURE_NAMES

    explained = screener.screen([_contact(FL), _contact(FL_2, channel="sms")], None,
                                len(FEATURE_NAMES))  # fmt: skip
    for row, result in enumerate(explained.results):
        values = {e.feature: e.value for e in result.explanations}
        for name in ("days_since_consent", "consent_type", "contacts_7d", "dial_mode"):
            a, b = values[name], feats.loc[row, name]
            assert (a is None and pd.isna(b)) or a == pytest.approx(float(b)), (row, name, a, b)


def test_explanations_name_features_with_their_values(screener, sqlite_store) -> None:
    from features.definitions import FEATURE_NAMES

    sqlite_store.record_events(
        [
            {
                "event_id": "x1",
                "number": FL,
                "ts": AT - dt.timedelta(days=1),
                "kind": "contact",
                "channel": "call",
                "outcome": "no_answer",
            }
        ]  # fmt: skip
    )
    result = screener.screen([_contact(FL)], explain=3).results[0]
    assert len(result.explanations) == 3
    assert all(e.feature in FEATURE_NAMES for e in result.explanations)
    sizes = [abs(e.contribution) for e in result.explanations]
    assert sizes == sorted(sizes, reverse=True)
    by_name = {e.feature: e.value for e in result.explanations}
    if "contacts_7d" in by_name:
        assert by_name["contacts_7d"] == 1
    assert screener.screen([_contact(FL)]).results[0].explanations == []


def test_opt_out_reply_revokes_at_once(screener, sqlite_store) -> None:
    sqlite_store.record_events(
        [
            {
                "event_id": "r1",
                "number": FL,
                "ts": AT - dt.timedelta(minutes=1),
                "kind": "reply",
                "text": "STOP",
            }
        ]  # fmt: skip
    )
    result = screener.screen([_contact(FL)]).results[0]
    assert result.decision == "withhold"
    assert "CONSENT_REVOKED" in [r.code for r in result.reasons]


def test_erased_number_is_suppressed(screener, sqlite_store) -> None:
    sqlite_store.erase_subject(FL)
    result = screener.screen([_contact(FL)]).results[0]
    assert result.decision == "withhold"
    assert "SUPPRESSED" in [r.code for r in result.reasons]


def test_audit_rows_hold_hashes_versions_and_reasons_but_no_number(screener, sqlite_store) -> None:
    since = dt.datetime.now(UTC) - dt.timedelta(minutes=1)
    screener.screen([_contact(FL), _contact(LISTED)], request_id="req-1")
    rows = list(sqlite_store.export_decisions(since))
    assert len(rows) == 2
    assert rows[0]["number_hash"] == sqlite_store.number_hash(FL).hex()
    assert rows[1]["number_hash"] == sqlite_store.number_hash(LISTED).hex()
    assert {r["request_id"] for r in rows} == {"req-1"}
    assert rows[0]["model_version"] and rows[0]["rules_version"] == screener.resources.rules_version
    assert "REGISTRY_LISTED" in [x["code"] for x in rows[1]["reasons"]]
    dumped = json.dumps(rows, default=str)
    assert "5550142" not in dumped and "5550124" not in dumped


def test_fail_closed_without_model_keeps_invalid_number(sqlite_store, rulebook) -> None:
    from serving.pipeline import Resources, Screener

    screener = Screener(Resources(store=sqlite_store, rulebook=rulebook, model=None))
    out = screener.screen([_contact(FL), _contact("12")])
    assert [r.decision for r in out.results] == ["withhold", "withhold"]
    assert [r.code for r in out.results[0].reasons] == ["SYSTEM_UNAVAILABLE"]
    assert "model" in out.results[0].reasons[0].detail
    assert [r.code for r in out.results[1].reasons] == ["INVALID_NUMBER"]


def test_fail_closed_when_rule_packs_are_invalid(
    tmp_path, sqlite_url, sqlite_store, loaded_model
) -> None:
    from serving.pipeline import Resources, Screener, load_resources

    (tmp_path / "packs").mkdir()
    (tmp_path / "packs" / "US.yaml").write_text("jurisdiction: US\nnot_a_key: 1\n")
    loaded = load_resources(
        db_url=sqlite_url,
        tracking_uri=champion_store().tracking_uri,
        rules_dir=str(tmp_path / "packs"),
    )
    assert loaded.rulebook is None and "rulebook" in loaded.errors
    assert "rulebook" in loaded.problems()
    out = Screener(Resources(store=sqlite_store, rulebook=None, model=loaded_model)).screen(
        [_contact(FL)]
    )
    assert [r.code for r in out.results[0].reasons] == ["SYSTEM_UNAVAILABLE"]
    loaded.store.close()


def test_fail_closed_when_the_store_breaks(tmp_path, store_env, rulebook, loaded_model) -> None:
    from serving.pipeline import Resources, Screener
    from serving.store import Store

    path = tmp_path / "broken.db"
    store = Store.open(f"sqlite:///{path}")
    screener = Screener(Resources(store=store, rulebook=rulebook, model=loaded_model))
    store.close()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / f"broken.db{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    out = screener.screen([_contact(FL)])
    assert out.results[0].decision == "withhold"
    assert [r.code for r in out.results[0].reasons] == ["SYSTEM_UNAVAILABLE"]
    assert "store" in out.results[0].reasons[0].detail
    assert Resources(store=store, rulebook=rulebook, model=loaded_model).problems()


# ----------------------------------------------------------------------------- authorize
def _authorize(screener, attempt: str | None = None, **kw):
    return screener.authorize(
        AuthorizeRequest(number=FL, channel="call", at=kw.pop("at", AT), attempt_id=attempt, **kw)
    )


def test_authorize_records_allowed_attempts_up_to_the_cap(screener, sqlite_store) -> None:
    decisions = [_authorize(screener, f"a{i}").decision for i in range(5)]
    assert decisions == ["allow", "allow", "allow", "withhold", "withhold"]
    history = sqlite_store.history_frame([FL], AT + dt.timedelta(seconds=1))
    assert sorted(history["event_id"]) == ["a0", "a1", "a2"]
    last = _authorize(screener, "a9")
    assert "FREQUENCY_CAP" in [r.code for r in last.reasons]


def test_authorize_replay_is_idempotent(screener, sqlite_store) -> None:
    first = _authorize(screener, "same")
    again = _authorize(screener, "same")
    assert first.decision == again.decision == "allow"
    assert len(sqlite_store.history_frame([FL], AT + dt.timedelta(seconds=1))) == 1


def test_a_replay_is_decided_afresh_after_an_opt_out(screener, sqlite_store) -> None:
    assert _authorize(screener, "r1").decision == "allow"
    sqlite_store.record_events(
        [{"event_id": "oo", "number": FL, "ts": AT + dt.timedelta(seconds=1), "kind": "opt_out"}]
    )
    again = _authorize(screener, "r1", at=AT + dt.timedelta(seconds=2))
    assert again.decision == "withhold"
    assert "CONSENT_REVOKED" in [r.code for r in again.reasons]
    assert len(sqlite_store.history_frame([FL], AT + dt.timedelta(seconds=3))) == 2  # no re-record


def test_an_attempt_id_of_another_number_is_refused_not_replayed(screener, sqlite_store) -> None:
    from serving.store import AttemptIdConflict

    sqlite_store.dnc_add([{"number": FL, "added_at": AT - dt.timedelta(days=1)}])
    sqlite_store.record_events(
        [{"event_id": "theirs", "number": FL_2, "ts": AT - dt.timedelta(days=2),
          "kind": "contact", "channel": "call"}]
    )  # fmt: skip
    with pytest.raises(AttemptIdConflict, match="attempt_id"):
        _authorize(screener, "theirs")
    assert _authorize(screener, "mine").decision == "withhold"  # INTERNAL_DNC as ever


def test_back_dated_attempts_cannot_slip_under_a_cap(screener, sqlite_store) -> None:
    """FL: at most 3 calls per rolling 24 h. Three attempts recorded at T and T + 2 h fill
    every window that holds T - 30 min, so an attempt for T - 30 min must be withheld."""
    times = [AT, AT + dt.timedelta(hours=1), AT + dt.timedelta(hours=2)]
    assert [_authorize(screener, f"t{i}", at=t).decision for i, t in enumerate(times)] == [
        "allow"
    ] * 3
    early = _authorize(screener, "early", at=AT - dt.timedelta(minutes=30))
    assert early.decision == "withhold"
    assert "FREQUENCY_CAP" in [r.code for r in early.reasons]


def test_concurrent_authorize_never_exceeds_the_cap(screener, sqlite_store) -> None:
    results: list[str] = []
    lock = threading.Lock()

    def call(i: int) -> None:
        decision = _authorize(screener, f"c{i}").decision
        with lock:
            results.append(decision)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 16
    assert results.count("allow") == 3
    assert len(sqlite_store.history_frame([FL], AT + dt.timedelta(seconds=1))) == 3


def test_an_authorize_whose_audit_row_cannot_be_written_records_nothing(
    screener, sqlite_store, sqlite_url
) -> None:
    """The decision and the attempt it allows commit together: when the database refuses
    the audit row, the dial is withheld SYSTEM_UNAVAILABLE and no attempt is recorded (it
    would count towards caps without any record of why it was allowed)."""
    from sqlalchemy import create_engine

    assert _authorize(screener, "ok").decision == "allow"
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_full BEFORE INSERT ON decisions "
            "BEGIN SELECT RAISE(ABORT, 'audit log full'); END"
        )
    engine.dispose()
    refused = _authorize(screener, "lost", at=AT + dt.timedelta(minutes=1))
    assert refused.decision == "withhold"
    assert [r.code for r in refused.reasons] == ["SYSTEM_UNAVAILABLE"]
    history = sqlite_store.history_frame([FL], AT + dt.timedelta(hours=1))
    assert list(history["event_id"]) == ["ok"]
    rows = list(sqlite_store.export_decisions(AT - dt.timedelta(days=3650)))
    assert [r["decision"] for r in rows] == ["allow"]  # the first dial's row, with its attempt


def test_an_authorize_that_cannot_get_the_lock_in_time_withholds(
    screener, sqlite_store, sqlite_url, store_env
) -> None:
    """While another process holds the store's writer slot, a dial waits at most the
    screener's ``lock_wait_s``, then is withheld SYSTEM_UNAVAILABLE with nothing recorded."""
    import sqlite3
    import time

    screener.lock_wait_s = 0.3
    holder = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        refused = _authorize(screener, "busy")
        waited = time.monotonic() - t0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert refused.decision == "withhold"
    assert [r.code for r in refused.reasons] == ["SYSTEM_UNAVAILABLE"]
    assert refused.reasons[0].detail.startswith("store unavailable")
    assert 0.25 <= waited < 10
    assert _authorize(screener, "free").decision == "allow"  # and works once it is free
    assert list(sqlite_store.history_frame([FL], AT + dt.timedelta(hours=1))["event_id"]) == [
        "free"
    ]


def test_authorize_invalid_number_is_a_withhold_not_an_error(screener) -> None:
    result = screener.authorize(AuthorizeRequest(number="not a number", channel="call", at=AT))
    assert result.decision == "withhold" and result.number == "not a number"
    assert [r.code for r in result.reasons] == ["INVALID_NUMBER"]


def test_authorize_returns_a_generated_attempt_id_it_recorded(screener, sqlite_store) -> None:
    result = screener.authorize(AuthorizeRequest(number=FL, channel="call", at=AT))
    assert result.decision == "allow" and result.attempt_id
    history = sqlite_store.history_frame([FL], AT + dt.timedelta(seconds=1))
    assert list(history["event_id"]) == [result.attempt_id]
    assert result.model.alias == "champion" and result.rules_version


@settings(max_examples=200, deadline=None)
@given(
    until=st.one_of(
        st.none(),
        st.datetimes(
            min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2200, 1, 1),
            timezones=st.sampled_from([dt.UTC, dt.timezone(dt.timedelta(hours=-4)),
                                       dt.timezone(dt.timedelta(hours=5, minutes=45))]),
        ),
    ),
    legal=st.booleans(),
    text=st.text(max_size=20),
)  # fmt: skip
def test_audit_reasons_are_what_pydantic_would_dump(until, legal, text) -> None:
    """The audit log's reason dicts are built by hand for speed: they must stay exactly
    ``model_dump(mode="json")``, field for field (a new ReasonOut field fails this)."""
    from serving.domain.contract import ReasonOut
    from serving.domain.reasons import reason_dict as audit_reason

    reason = ReasonOut(code="QUIET_HOURS", jurisdiction="US", rule_id=f"US/{text}", legal=legal,
                       detail=text, until=until)  # fmt: skip
    assert audit_reason(reason) == reason.model_dump(mode="json")


# ----------------------------------------------------------------------------- isolation, now
def _plant_complaint_at_year_one(store, number: str) -> None:
    """A record no contract admits any more, written straight into the store's table (as an
    older version, a restore or a hand edit could have left it)."""
    from features.schema import Event
    from serving.store import tables as t
    from serving.store.sql import to_us

    event = Event.model_construct(
        event_id="odd", number=number, ts=AT, kind="complaint", channel=None, purpose=None,
        subject=None, campaign_id=None, dial_mode=None, outcome=None, duration_s=None,
        text=None, source=None, p_complaint_true=None, p_opt_out_true=None,
    )  # fmt: skip
    row = store._event_row(event, number, 0)
    row["ts"] = to_us(dt.datetime(1, 1, 1, tzinfo=UTC))
    with store._write() as conn:
        conn.execute(t.events.insert(), [row])


def test_one_bad_stored_record_withholds_only_its_own_number(screener, sqlite_store) -> None:
    _plant_complaint_at_year_one(sqlite_store, FL)
    contacts = [_contact(FL_2, ref="a"), _contact(FL, ref="odd"), _contact(DC, ref="c")]
    out = screener.screen(contacts)
    by_ref = {r.ref: r for r in out.results}
    assert by_ref["odd"].decision == "withhold"
    assert [r.code for r in by_ref["odd"].reasons] == ["SYSTEM_UNAVAILABLE"]
    for ref in ("a", "c"):
        assert by_ref[ref].decision == "allow", by_ref[ref].reasons
        assert by_ref[ref].p_complaint is not None


def test_authorize_is_about_now(screener, sqlite_store) -> None:
    from serving.pipeline import AtOutOfRange, Screener

    now = Screener(screener.resources, clock=lambda: AT)  # the default skew: 5 minutes
    for at, attempt in (
        (AT - dt.timedelta(days=40), "past"),
        (AT + dt.timedelta(hours=1), "later"),
    ):
        with pytest.raises(AtOutOfRange, match="^at: "):
            now.authorize(AuthorizeRequest(number=FL, channel="call", at=at, attempt_id=attempt))
    assert len(sqlite_store.history_frame([FL], AT + dt.timedelta(days=1))) == 0  # nothing recorded
    within = AT - dt.timedelta(minutes=4)
    ok = now.authorize(AuthorizeRequest(number=FL, channel="call", at=within, attempt_id="now"))
    assert ok.decision == "allow"
    assert now.authorize(AuthorizeRequest(number=FL_2, channel="call")).decision == "allow"
