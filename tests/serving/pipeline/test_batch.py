"""Batch screening (``contactgate screen``) and the audit export, on real parts.

The batch must give the same decisions as the API path (one ``decide_contacts`` call on
the whole list) whatever the chunk size: that is what "the same decision code" means.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from serving.domain.contract import ContactIn
from serving.domain.decision import Policy
from tests.support.campaign import AT, seed_store
from tests.support.campaign import write_campaign as _campaign
from tests.support.models import champion_store

UTC = dt.UTC


@pytest.fixture(scope="module")
def loaded_model():
    from training import tracking

    tracking.configure(champion_store().tracking_uri)
    return tracking.load_model()


@pytest.fixture
def screener(sqlite_store, loaded_model):
    from serving.pipeline import Resources, Screener
    from serving.rules import load_rulebook

    seed_store(sqlite_store)
    return Screener(Resources(sqlite_store, load_rulebook(), loaded_model), audit=False)


def test_batch_equals_the_api_path_across_chunks(tmp_path, screener) -> None:
    from features.phone import normalize
    from serving.pipeline.batch import screen_file

    records = _campaign(tmp_path / "campaign.csv")
    policy = Policy(max_contacts=7)
    out = tmp_path / "decisions.csv"
    summary = screen_file(tmp_path / "campaign.csv", out, screener, policy, chunk_size=37)
    got = pd.read_csv(out, dtype={"rank": "Int64"})
    assert list(got["ref"]) == [r["ref"] for r in records]
    assert list(got["row"]) == list(range(2, len(records) + 2))  # file rows, header = row 1

    items = [ContactIn.model_validate(r) for r in records]
    planned = [it.to_contact(AT, normalize(it.number)) for it in items]
    api = screener.decide_contacts(planned, policy, 0, items=items).results
    assert list(got["decision"]) == [r.decision for r in api]
    assert [None if pd.isna(x) else int(x) for x in got["rank"]] == [r.rank for r in api]
    assert list(got["reason_codes"].fillna("")) == [
        ";".join(x.code for x in r.reasons) for r in api
    ]
    assert summary["allow"] == 7 == sum(r.decision == "allow" for r in api)
    assert summary["by_reason"]["BUDGET_EXHAUSTED"] > 0
    assert summary["by_reason"]["INVALID_NUMBER"] == sum(
        1 for r in records if r["number"] == "not-a-number"
    )


def test_bad_row_names_file_row_and_field(tmp_path, screener) -> None:
    from serving.pipeline.batch import BadRow, screen_file

    path = tmp_path / "bad.csv"
    path.write_text("number,channel\n+13055550101,call\n+13055550102,fax\n")
    with pytest.raises(BadRow, match=r"bad\.csv: row 3: field channel"):
        screen_file(path, tmp_path / "out.csv", screener, Policy(), default_at=AT)
    summary = screen_file(
        path, tmp_path / "out.csv", screener, Policy(), default_at=AT, skip_invalid=True
    )
    rejects = pd.read_csv(summary["rejects_file"])
    assert list(rejects["row"]) == [3] and "channel" in rejects["error"][0]
    assert len(pd.read_csv(tmp_path / "out.csv")) == 1


def test_cli_screen_then_audit_export(tmp_path, sqlite_url, store_env, monkeypatch) -> None:
    from serving.cli import main
    from serving.store import Store

    monkeypatch.setenv("CONTACTGATE_DB_URL", sqlite_url)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", champion_store().tracking_uri)
    records = _campaign(tmp_path / "campaign.csv", rows=60)
    policy = tmp_path / "policy.yaml"
    policy.write_text("review_above: 0.5\nwithhold_above: 0.8\nmax_contacts: 3\n")
    since = dt.datetime.now(UTC) - dt.timedelta(minutes=1)
    out = tmp_path / "decisions.parquet"
    assert main(["screen", str(tmp_path / "campaign.csv"), "-o", str(out), "--policy",
                 str(policy), "--no-progress", "--chunk-size", "25"]) == 0  # fmt: skip
    decisions = pd.read_parquet(out)
    assert len(decisions) == len(records)
    assert (decisions["decision"] == "allow").sum() <= 3

    export = tmp_path / "audit.csv"
    assert main(["audit", "export", "--since", since.isoformat(), "-o", str(export)]) == 0
    audit = pd.read_csv(export)
    assert len(audit) == len(records)
    store = Store.open(sqlite_url)
    try:
        hashes = {store.number_hash(r["number"]).hex() for r in records if r["number"][0] == "+"}
    finally:
        store.close()
    assert hashes <= set(audit["number_hash"])
    text = export.read_text()
    assert not [r["number"] for r in records if r["number"][1:] in text]  # hashes only


def test_policy_file_errors_name_the_key(tmp_path) -> None:
    from serving.pipeline.batch import load_policy

    path = tmp_path / "p.yaml"
    path.write_text("withhold_abov: 0.3\n")
    with pytest.raises(SystemExit, match="withhold_abov"):
        load_policy(path)


def test_an_audit_failure_leaves_no_decisions_file(tmp_path, screener, sqlite_url) -> None:
    """Allowed decisions without their audit rows must never reach the dialer: when the
    audit write fails half-way (here the database itself refuses the 11th audit row, after
    a first batch of 10 was written) the run stops and no decisions file is left behind."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    from serving.pipeline.batch import screen_file

    _campaign(tmp_path / "campaign.csv", rows=40)
    out = tmp_path / "decisions.csv"
    engine = create_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TRIGGER audit_full BEFORE INSERT ON decisions "
            "WHEN (SELECT count(*) FROM decisions) >= 10 "
            "BEGIN SELECT RAISE(ABORT, 'audit log full'); END"
        )
    engine.dispose()
    with pytest.raises(SQLAlchemyError):
        screen_file(tmp_path / "campaign.csv", out, screener, Policy(), audit=True, write_batch=10)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if ".partial" in p.name or ".pass1" in p.name]
