"""End to end: `contactgate backtest` on a small simulated history, as a user runs it — the
files, the JSON keys, the MLflow run, the HTML report (rendered in headless Chromium when
it is installed), and a refused --model."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key
from tests.serving.backtest.conftest import T0, T1

PROJECT = Path(__file__).resolve().parents[3]


KEYS = {HMAC_ENV: new_key(), ENCRYPTION_ENV: new_key()}


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "serving.cli", *args],
        cwd=PROJECT, capture_output=True, text=True, timeout=600, env={**os.environ, **KEYS},
    )  # fmt: skip


def _registry_store(url: str) -> None:
    """Every registry snapshotted (listing no one) the day before T0 and again 10 days in."""
    from features.schema import REGISTRIES
    from serving.store import Store

    store = Store.open(url, environ=KEYS)
    try:
        for at in (T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=10)):
            for registry in REGISTRIES:
                store.import_registry(registry, at, [], allow_empty=True)
    finally:
        store.close()


@pytest.fixture(scope="module")
def backtest_run(sim_history_dir, quick_config, tmp_path_factory):
    root = tmp_path_factory.mktemp("backtest-e2e")
    db_url = f"sqlite:///{root / 'store.db'}"
    _registry_store(db_url)
    config = root / "train.yaml"
    import yaml

    config.write_text(yaml.safe_dump(quick_config.model_dump()))
    policy = root / "policy.yaml"
    policy.write_text("review_above: 0.2\nwithhold_above: 0.3\nmax_expected_complaints: 1.5\n")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    out = root / "out"
    done = _cli(
        "backtest", "--events", str(sim_history_dir), "--from", T0.isoformat(),
        "--to", T1.date().isoformat(), "--policy", str(policy), "--config", str(config),
        "--tracking-uri", uri, "--out", str(out), "--bootstrap", "100", "--db-url", db_url,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out, uri, done.stdout


def test_outputs_and_json_keys(backtest_run, sim_history_dir):
    out, _, stdout = backtest_run
    result = json.loads((out / "backtest.json").read_text())
    assert set(result) == {"strategies", "curve", "headline"}
    ranked = (
        "model", "model_complaint", "contact_count", "random", "oracle", "observable_ceiling",
        "oracle_complaint", "observable_ceiling_complaint",
    )  # fmt: skip
    assert set(result["strategies"]) == {"rules_only", *ranked}
    for name in ranked:
        for key in ("complaints_avoided_share_at_10pct", "opt_outs_avoided_share_at_10pct"):
            assert 0 <= result["strategies"][name][key] <= 1
        # simulated data: the expected figure from the true probabilities sits beside it
        assert 0 < result["strategies"][name]["expected_complaints_avoided_share_at_10pct"] < 1
    assert result["headline"]["of"] == "rules_allowed"
    assert (
        result["strategies"]["model"]["of_all_contacts"]["extra_withheld_at_10pct"]
        > (result["strategies"]["model"]["extra_withheld_at_10pct"])
    )
    shares = [p["withheld_share"] for p in result["curve"]]
    assert shares[0] == 0 and shares[-1] == 0.5
    # every contact of the window is replayed, once
    import pandas as pd

    events = pd.read_parquet(sim_history_dir / "events.parquet")
    in_window = (events["kind"] == "contact") & (events["ts"] >= T0) & (events["ts"] < T1)
    assert result["strategies"]["rules_only"]["contacts"] == int(in_window.sum())
    budget = result["strategies"]["model"]["budget"]
    assert budget["policy"]["max_expected_complaints_per_day"] == 1.5
    meta = json.loads((out / "run.json").read_text())
    assert meta["model_source"] == "trained"
    assert pd.Timestamp(meta["model_data_end"]) < pd.Timestamp(T0)
    assert meta["simulated"] is True
    # the registry snapshots came from the store: two per registry, none stale in the window
    assert meta["sources"]["registries"].startswith("store sqlite:")
    from features.schema import REGISTRIES

    n = len(REGISTRIES)
    said = next(a for a in meta["assumptions"] if a.startswith("Registry snapshots from"))
    assert f"{2 * n} snapshot(s) of {n} registries" in said
    assert f"{n} replaced snapshot(s)" in said
    assert "REGISTRY_STALE" not in result["strategies"]["rules_only"]["by_reason"]
    assert "contact_count: complaints avoided" in stdout
    assert "model_complaint / contact count, complaints avoided" in stdout, stdout


def test_mlflow_run_tagged_backtest_with_metrics_plots_and_report(backtest_run):
    import mlflow

    _, uri, _ = backtest_run
    client = mlflow.MlflowClient(tracking_uri=uri)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()],
        "tags.`contactgate.stage` = 'backtest'",
    )
    assert len(runs) == 1
    run = runs[0]
    assert "model.complaints_avoided_share_at_10pct" in run.data.metrics
    assert "contact_count.complaints_avoided_share_at_10pct.ci_low" in run.data.metrics
    assert "all_contacts.model.complaints_avoided_share_at_10pct" in run.data.metrics
    for key in ("oracle.expected_complaints_avoided_vs_contact_count_at_10pct.ci_high",
                "model_complaint.expected_complaints_avoided_vs_contact_count_at_10pct"):  # fmt: skip
        assert key in run.data.metrics
    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"backtest.json", "report.html", "run.json", "plots"} <= names
    assert [a.path for a in client.list_artifacts(run.info.run_id, "plots")] == ["plots/curve.png"]


def test_report_names_curve_tables_and_limitations(backtest_run):
    out, _, _ = backtest_run
    page = (out / "report.html").read_text()
    for text in ("Avoided against withheld", "By jurisdiction", "By reason", "Limitations",
                 "would have changed what came after", "expected", "In expectation",
                 "observable ceiling", "complaint probability alone", "<script"):  # fmt: skip
        assert (text in page) == (text != "<script"), text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium not installed")
def test_report_renders_in_headless_chromium(backtest_run, tmp_path):
    out, _, _ = backtest_run
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         (out / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    assert 'id="headline"' in dom and 'id="curve"' in dom and 'id="limitations"' in dom
    shot = tmp_path / "report.png"
    done = subprocess.run(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
         "--window-size=1200,1600", (out / "report.html").as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0 and shot.stat().st_size > 20_000


def test_a_model_trained_past_t0_is_refused_by_the_command(backtest_run, sim_history_dir, tmp_path):
    """A version trained on the whole history (its data ends after T0) is refused."""
    out, uri, _ = backtest_run
    config = out.parent / "train.yaml"
    trained = _cli("train", "--events", str(sim_history_dir), "--tracking-uri", uri,
                   "--config", str(config))  # fmt: skip
    assert trained.returncode == 0, trained.stderr[-3000:]
    refused = _cli(
        "backtest", "--events", str(sim_history_dir), "--from", T0.isoformat(),
        "--to", T1.isoformat(), "--model", "1", "--tracking-uri", uri,
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr[-2000:]
    assert "model contact-risk version 1" in refused.stderr
    assert "at or after --from" in refused.stderr
    assert not (tmp_path / "out" / "backtest.json").exists()
