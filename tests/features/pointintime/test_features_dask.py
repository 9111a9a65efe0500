"""The Dask engine gives exactly the in-process training frame (same rows, order, dtypes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.distributed import build_training_frame_dask
from features.io import load_events, load_records
from features.pointintime import build_training_frame
from features.simulate import simulate_to_dir


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = tmp_path_factory.mktemp("sim")
    paths = simulate_to_dir(out, numbers=400, days=60, seed=11, progress=False)
    events = load_events(paths["events"]).frame
    consent = load_records(paths["consent"], "consent").frame
    return events, consent


@pytest.mark.slow
def test_dask_local_cluster_equals_in_process(simulated: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    from distributed import Client, LocalCluster

    events, consent = simulated
    # shuffle the rows: the output must follow the input order, not the partitioning
    events = events.sample(frac=1.0, random_state=3).reset_index(drop=True)
    local = build_training_frame(events, consent)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        distributed = build_training_frame_dask(events, consent, npartitions=5, client=client)
    assert len(local) > 1000
    pd.testing.assert_frame_equal(distributed, local)


def test_two_spellings_of_one_number_land_in_one_partition() -> None:
    """History is per E.164: the engine must shuffle on the normalised key, not the text."""
    from distributed import Client, LocalCluster

    t = pd.Timestamp("2026-05-04 16:00", tz="UTC")
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(6)],
            "number": ["+12015550123", "+1 201-555-0123", "+1 (201) 555-0123"] * 2,
            "ts": [t + pd.Timedelta(hours=i) for i in range(6)],
            "kind": ["contact"] * 6,
            "channel": ["call"] * 6,
        }
    )
    events["ts"] = pd.to_datetime(events["ts"], utc=True)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        distributed = build_training_frame_dask(events, npartitions=3, client=client)
    assert distributed["contacts_1d"].tolist() == [0, 1, 2, 3, 4, 5]
    pd.testing.assert_frame_equal(distributed, build_training_frame(events))


def test_cli_dask_engine_writes_the_same_rows(tmp_path: Path) -> None:
    """``contactgate features --engine dask --scheduler ADDRESS`` against a running cluster
    writes a dataset folder holding the local engine's rows."""
    from distributed import LocalCluster

    from features.distributed import read_frame_dataset
    from serving.cli import main

    paths = simulate_to_dir(tmp_path / "sim", numbers=60, days=20, seed=5, progress=False)
    local_out, dask_out = tmp_path / "local.parquet", tmp_path / "dask"
    common = ["features", "--events", str(paths["events"]), "--consent", str(paths["consent"])]
    assert main([*common, "--out", str(local_out), "--no-progress"]) == 0
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        engine = ["--engine", "dask", "--scheduler", cluster.scheduler_address, "--no-progress"]
        assert main([*common, "--out", str(dask_out), *engine, "--partitions", "3"]) == 0
        assert main([*common, "--out", str(tmp_path / "x.parquet"), *engine]) == 1
    assert len(list(dask_out.glob("part-*.parquet"))) == 3
    got = read_frame_dataset(dask_out).sort_values("event_id", ignore_index=True)
    want = pd.read_parquet(local_out).sort_values("event_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


def test_cli_errors_name_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from serving.cli import main

    missing = tmp_path / "nope.parquet"
    assert main(["features", "--events", str(missing), "--out", str(tmp_path / "o.parquet")]) == 1
    assert "nope.parquet" in capsys.readouterr().err
    bad = tmp_path / "events.csv"
    bad.write_text("event_id,number,ts,kind\ne1,+12015550123,yesterday,contact\n")
    assert main(["features", "--events", str(bad), "--out", str(tmp_path / "o.parquet")]) == 1
    err = capsys.readouterr().err
    assert "events.csv" in err and "row 1" in err and "ts" in err
