"""The simulator's files: determinism, data contracts, consent and DNC, the command
and its summary."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from features import simulate as sim
from features.io import arrow_schema, load_events, load_records
from features.schema import EVENT_KINDS, Consent, DncEntry, Event
from features.simulate import writer
from tests.support.simulate import REGIONS


# --------------------------------------------------------------------------- determinism
def test_same_seed_gives_byte_identical_files_and_other_seed_differs(tmp_path: Path) -> None:
    a = sim.simulate_to_dir(tmp_path / "a", numbers=1500, days=60, seed=3, progress=False)
    b = sim.simulate_to_dir(tmp_path / "b", numbers=1500, days=60, seed=3, progress=False)
    c = sim.simulate_to_dir(tmp_path / "c", numbers=1500, days=60, seed=4, progress=False)
    for name in ("events", "consent", "dnc"):
        assert a[name].read_bytes() == b[name].read_bytes(), name
    assert not pd.read_parquet(a["events"]).equals(pd.read_parquet(c["events"]))


def test_chunking_does_not_change_the_data(tmp_path: Path) -> None:
    kwargs = dict(numbers=2300, days=45, seed=5, start=None, fmt="parquet", progress=False)
    one = writer._simulate_to_dir(tmp_path / "one", chunk_numbers=100_000, **kwargs)
    many = writer._simulate_to_dir(tmp_path / "many", chunk_numbers=333, **kwargs)
    for name in ("events", "consent", "dnc"):
        assert pq.read_table(one[name]).equals(pq.read_table(many[name])), name


def test_a_prefix_of_the_numbers_is_stable_when_more_are_simulated(tmp_path: Path) -> None:
    small = pd.read_parquet(
        sim.simulate_to_dir(tmp_path / "s", numbers=400, days=30, seed=9, progress=False)["events"]
    )
    large = pd.read_parquet(
        sim.simulate_to_dir(tmp_path / "l", numbers=900, days=30, seed=9, progress=False)["events"]
    )
    head = large[large["number"].isin(set(small["number"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(small, head)


# --------------------------------------------------------------------------- contracts
def test_files_load_with_zero_rejects_in_parquet_and_csv(tmp_path: Path) -> None:
    for fmt in ("parquet", "csv"):
        paths = sim.simulate_to_dir(
            tmp_path / fmt, numbers=800, days=40, seed=2, fmt=fmt, progress=False
        )
        assert paths["events"].suffix == f".{fmt}"
        loaded = load_events(paths["events"], skip_invalid=True)
        assert loaded.rejected_rows == 0 and len(loaded.frame) > 1000
        for record in ("consent", "dnc"):
            result = load_records(paths[record], record, skip_invalid=True)
            assert result.rejected_rows == 0 and len(result.frame) > 0, record
    csv = load_events(tmp_path / "csv" / "events.csv").frame
    parquet = load_events(tmp_path / "parquet" / "events.parquet").frame
    assert csv["event_id"].tolist() == parquet["event_id"].tolist()
    assert (csv["ts"] == parquet["ts"]).all()
    np.testing.assert_allclose(csv["p_complaint_true"], parquet["p_complaint_true"], rtol=1e-12)


def test_parquet_schemas_are_the_contracts(big: dict[str, Path]) -> None:
    for name, model in (("events", Event), ("consent", Consent), ("dnc", DncEntry)):
        assert pq.read_schema(big[name]).remove_metadata() == arrow_schema(model), name


def test_kind_specific_fields(events: pd.DataFrame) -> None:
    contacts = events[events["kind"] == "contact"]
    others = events[events["kind"] != "contact"]
    assert contacts["channel"].notna().all() and contacts["campaign_id"].notna().all()
    sms = contacts[contacts["channel"] == "sms"]
    calls = contacts[contacts["channel"] == "call"]
    assert sms["dial_mode"].isna().all() and sms["duration_s"].isna().all()
    assert set(sms["outcome"]) == {"delivered", "failed"}
    assert calls["dial_mode"].notna().all() and (calls["duration_s"] >= 0).all()
    assert set(calls["outcome"]) == {
        "answered", "no_answer", "busy", "voicemail", "abandoned", "amd", "failed"
    }  # fmt: skip
    assert contacts[["p_complaint_true", "p_opt_out_true"]].notna().all().all()
    assert others[["p_complaint_true", "p_opt_out_true"]].isna().all().all()
    assert events["event_id"].is_unique
    complaints = events[events["kind"] == "complaint"]
    assert set(complaints["source"]) == {"customer", "carrier", "regulator"}
    assert set(events["kind"]) == set(EVENT_KINDS)
    # sorted by number, then time (a documented property of the files)
    same_number = events["number"].eq(events["number"].shift())
    assert (events["ts"].diff()[same_number] >= pd.Timedelta(0)).all()
    assert (~same_number).sum() == events["number"].nunique()


# --------------------------------------------------------------------------- consent, DNC
def test_consent_and_dnc_files(big: dict[str, Path], events: pd.DataFrame) -> None:
    consent = pd.read_parquet(big["consent"])
    assert set(consent["type"]) == {"written", "express", "soft_opt_in", "implied"}
    assert 0.01 < consent["revoked_at"].notna().mean() < 0.4
    assert consent["confirmed_at"].notna().any()
    assert (
        consent["revoked_at"].dropna() >= consent.loc[consent["revoked_at"].notna(), "granted_at"]
    ).all()
    assert 0.4 < len(consent) / events["number"].nunique() < 0.7
    dnc = pd.read_parquet(big["dnc"])
    assert set(dnc["action"]) == {"add", "remove"}
    assert {"call", "all"} <= set(dnc["scope"])


# --------------------------------------------------------------------------- CLI + summary
def test_cli_writes_files_and_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from serving.cli import main

    out = tmp_path / "cli"
    code = main(["simulate", "--numbers", "300", "--days", "20", "--seed", "1", "--out", str(out),
                 "--format", "csv", "--start", "2026-03-01T00:00Z", "--no-progress"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "complaint_7d" in printed and "events by kind" in printed
    ts = load_events(out / "events.csv").frame["ts"]
    assert ts.min() >= pd.Timestamp("2026-03-01", tz="UTC")


def test_summary_figures_match_the_files(big: dict[str, Path], labelled) -> None:
    contacts, _ = labelled
    figures = sim.summarize(big)
    assert figures["contacts"] == len(contacts)
    assert figures["complaint_rate"] == pytest.approx(contacts["complaint_7d"].mean())
    assert figures["opt_out_rate"] == pytest.approx(contacts["opt_out_7d"].mean())
    assert set(figures["by_region"]) == REGIONS
    assert figures["by_channel"]["sms"]["contacts"] == (contacts["channel"] == "sms").sum()


def test_naive_start_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time zone"):
        sim.simulate_to_dir(tmp_path, numbers=10, days=5, seed=1, start=dt.datetime(2026, 1, 1))
