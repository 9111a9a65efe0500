"""``contactgate features --engine dask`` against a real scheduler and worker processes: the
workers read a Parquet folder or a CSV file, check it, and write the frame as a dataset
holding exactly the local engine's rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from features.distributed import read_frame_dataset
from features.io import write_records
from features.simulate import simulate_to_dir
from serving.cli import main
from tests.support.cluster import DaskCluster


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """~3,000 simulated events and their consent."""
    out = tmp_path_factory.mktemp("history")
    return simulate_to_dir(out, numbers=500, days=60, seed=17, progress=False)


def _rows(path: Path) -> pd.DataFrame:
    frame = read_frame_dataset(path).sort_values("event_id", ignore_index=True)
    # one engine writes numbers as text, the other as objects: compare values
    return frame.astype({"event_id": "str", "number": "str"})


def _local(history: dict[str, Path], out: Path, events: Path, *extra: str) -> pd.DataFrame:
    args = ["features", "--events", str(events), "--consent", str(history["consent"])]
    assert main([*args, "--out", str(out), "--no-progress", *extra]) == 0
    return _rows(out)


def _dask(
    cluster: DaskCluster, history: dict[str, Path], out: Path, events: Path | str, *extra: str
) -> int:
    args = ["features", "--events", str(events), "--consent", str(history["consent"])]
    engine = ["--engine", "dask", "--scheduler", cluster.address, "--no-progress"]
    return main([*args, "--out", str(out), *engine, *extra])


def test_parquet_folder_to_dataset_equals_the_local_engine(
    dask_cluster: DaskCluster,
    history: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    events = pd.read_parquet(history["events"])
    assert len(events) > 2000
    folder = tmp_path / "events"
    folder.mkdir()
    # a folder of three files, rows shuffled: partitions must not depend on the order
    shuffled = events.sample(frac=1.0, random_state=2).reset_index(drop=True)
    chunks = [shuffled.iloc[i : i + 1200] for i in range(0, len(shuffled), 1200)]
    # an exact replay of a contact, in another file: it meets its twin after the shuffle
    contact = shuffled.index[shuffled["kind"] == "contact"][0]
    chunks[-1] = pd.concat([chunks[-1], shuffled.loc[[contact]]])
    for i, chunk in enumerate(chunks):
        write_records(chunk, folder / f"e{i}.parquet", "events")
    local = _local(history, tmp_path / "local.parquet", history["events"])
    capsys.readouterr()

    out = tmp_path / "frame"
    url = f"file://{folder}"  # any fsspec URL: the workers resolve it
    assert _dask(dask_cluster, history, out, url, "--partitions", "4") == 0
    assert "1 row(s) repeat an earlier row exactly" in capsys.readouterr().out
    assert sorted(p.name for p in out.glob("*.parquet")) == [
        f"part-{i:05d}.parquet" for i in range(4)
    ]
    got = _rows(out)
    assert len(got) == len(local) > 1000
    pd.testing.assert_frame_equal(got, local, check_dtype=False)


def test_csv_with_bad_rows_to_dataset_and_rejects(
    dask_cluster: DaskCluster, history: dict[str, Path], tmp_path: Path
) -> None:
    """CSV read as text in small blocks, checked on the workers: the rejects carry the
    rows of the file, the valid rows give the local engine's frame."""
    csv = tmp_path / "events.csv"
    write_records(pd.read_parquet(history["events"]), csv, "events")
    lines = csv.read_text().splitlines()
    bad_rows = (5, 1700, len(lines) - 2)  # data rows (line = row + 1)
    for row in bad_rows:
        cells = lines[row].split(",")
        cells[2] = "yesterday"  # ts
        lines[row] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")

    local = _local(history, tmp_path / "local.parquet", csv, "--skip-invalid")
    out = tmp_path / "frame"
    extra = ("--partitions", "3", "--blocksize", "40000", "--skip-invalid")
    assert _dask(dask_cluster, history, out, csv, *extra) == 0
    pd.testing.assert_frame_equal(_rows(out), local, check_dtype=False)
    rejects = pd.concat(
        [pd.read_csv(f) for f in sorted((out / "_rejects").glob("events-*.csv"))],
        ignore_index=True,
    )
    assert len(list((out / "_rejects").glob("*.csv"))) >= 2  # in more than one partition
    assert sorted(rejects["row"]) == list(bad_rows)
    assert set(rejects["field"]) == {"ts"} and set(rejects["file"]) == {"events.csv"}
    local_rejects = pd.read_csv(tmp_path / "local.events.rejects.csv")
    assert sorted(local_rejects["row"]) == sorted(rejects["row"])


def test_invalid_rows_fail_closed_and_name_file_row_field(
    dask_cluster: DaskCluster,
    history: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    csv = tmp_path / "events.csv"
    write_records(pd.read_parquet(history["events"]).head(600), csv, "events")
    lines = csv.read_text().splitlines()
    cells = lines[400].split(",")
    cells[3] = "fax"  # kind
    lines[400] = ",".join(cells)
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "frame"
    assert _dask(dask_cluster, history, out, csv, "--blocksize", "20000") == 1
    err = capsys.readouterr().err
    assert "events.csv row 400 (line 401): kind 'fax' is not one of" in err
    assert not list(out.glob("*.parquet"))  # nothing written when a row is bad


def test_without_a_scheduler_a_local_cluster_runs_it(
    history: dict[str, Path], tmp_path: Path
) -> None:
    """No --scheduler: two local worker processes are started for the run (and stopped)."""
    from features.distributed import frame_dataset

    events = tmp_path / "events.parquet"
    write_records(pd.read_parquet(history["events"]).head(800), events, "events")
    local = _local(history, tmp_path / "local.parquet", events)
    summary = frame_dataset(
        events, tmp_path / "frame", history["consent"], npartitions=2, progress=False
    )
    assert summary.contacts == len(local) and summary.files == 2
    pd.testing.assert_frame_equal(_rows(tmp_path / "frame"), local, check_dtype=False)


def test_an_event_id_repeated_with_other_values_across_files_is_refused_or_rejected(
    dask_cluster: DaskCluster,
    history: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The loaders' rule across files of a folder: a different row under an earlier
    event_id of the same number fails closed naming both rows; with --skip-invalid the first
    one is kept."""
    events = pd.read_parquet(history["events"]).head(700)
    folder = tmp_path / "events"
    folder.mkdir()
    changed = events.iloc[[10]].assign(ts=events["ts"].iloc[10] + pd.Timedelta(minutes=5))
    write_records(events, folder / "a.parquet", "events")
    write_records(changed, folder / "b.parquet", "events")
    out = tmp_path / "frame"
    assert _dask(dask_cluster, history, out, folder) == 1
    err = capsys.readouterr().err
    assert "events: 1 invalid row(s); nothing was loaded" in err
    first_id = events["event_id"].iloc[10]
    assert f"b.parquet row 1: event_id '{first_id}' repeats the event_id of a.parquet row 11" in err
    assert not list(out.glob("*.parquet"))

    assert _dask(dask_cluster, history, out, folder, "--skip-invalid") == 0
    assert "events: 700 row(s) kept, 1 rejected" in capsys.readouterr().out
    single = tmp_path / "events.parquet"
    write_records(events, single, "events")
    pd.testing.assert_frame_equal(
        _rows(out), _local(history, tmp_path / "local.parquet", single), check_dtype=False
    )


def test_a_pseudonymised_export_gives_the_local_engines_rows(
    dask_cluster: DaskCluster, history: dict[str, Path], tmp_path: Path
) -> None:
    """Numbers as ``pseudo:…`` with their facts (a pseudonymised store export): each is its
    own history key on the cluster too."""
    import hashlib

    from features.phone import normalize

    events = pd.read_parquet(history["events"]).head(1500)
    facts = {}
    for number in events["number"].unique():
        record = normalize(number)
        pseudonym = "pseudo:" + hashlib.sha256(number.encode()).hexdigest()
        facts[number] = (pseudonym, record.region, record.line_type, "|".join(record.time_zones))
    table = pd.DataFrame(
        [facts[n] for n in events["number"]],
        columns=["number", "number_region", "number_line_type", "number_time_zones"],
    )
    csv = tmp_path / "events.csv"
    write_records(events, csv, "events")
    written = pd.read_csv(csv, dtype=str, keep_default_na=False)
    written[table.columns] = table.to_numpy()
    written.to_csv(csv, index=False)

    local_out = tmp_path / "local.parquet"
    assert main(["features", "--events", str(csv), "--out", str(local_out), "--no-progress"]) == 0
    engine = ["--engine", "dask", "--scheduler", dask_cluster.address, "--no-progress"]
    out = tmp_path / "frame"
    assert main(["features", "--events", str(csv), "--out", str(out), *engine]) == 0
    got, want = _rows(out), _rows(local_out)
    assert got["number"].str.startswith("pseudo:").all() and len(got) > 1000
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
