"""The dask engine against the local engine on small hand-written files: repeated event ids
(under one number or two, replays, a repeat of a row in error), invalid rows, and which file
and row each reject names — on a real scheduler and worker processes, the input cut into
many small partitions."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from features.distributed import choose_partitions, read_frame_dataset
from serving.cli import main
from tests.support.cluster import DaskCluster

HEADER = "event_id,number,ts,kind,channel,outcome,text,region"
#: Data rows 1…16. Fictional numbers (555-01xx).
ROWS = [
    "e1,+12015550123,2026-05-04T16:00:00Z,contact,call,answered,,",
    "e2,(201) 555-0124,2026-05-04T17:00:00-04:00,contact,SMS,delivered,,US",
    "e3,+12015550123,2026-05-05T09:30:00Z,complaint,,,,",
    "e1,+12015550125,2026-05-06T10:00:00Z,contact,call,no_answer,,",  # e1 under another number
    "e4,+12015550125,yesterday,contact,call,,,",  # bad ts
    "e2,+1 201 555 0124,2026-05-04T21:00:00Z,contact,sms,delivered,,",  # replay of row 2
    "e5,+12015550125,2026-05-07T10:00:00Z,contact,call,answered,,",
    "e1,+12015550123,2026-05-04T16:00:00Z,contact,call,answered,,",  # replay of row 1
    "e5,+12015550123,2026-05-07T11:00:00Z,contact,sms,,,",  # e5 under another number
    "e6,+12015550125,2026-05-08T10:00:00Z,reply,,,Stop.,",
    "e5,+12015550125,2026-05-07T10:00:00Z,contact,call,busy,,",  # e5, same number, other outcome
    "e7,n/a,2026-05-08T12:00:00Z,contact,call,,,",  # not a number
    "e1,+12015550125,2026-05-06T10:00:00Z,contact,call,no_answer,,",  # = row 4, still not row 1
    "e8,+12015550126,2026-05-09T10:00:00Z,contact,call,voicemail,,",
    "e9,+12015550126,2026-05-09T11:00:00Z,opt_out,,,,",
    "e4,+12015550125,2026-05-06T12:00:00Z,contact,sms,delivered,,",  # first valid e4
]


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def _local(events: Path, out: Path, *extra: str) -> int:
    return main(["features", "--events", str(events), "--out", str(out), "--no-progress", *extra])


#: Number-partitions of the tests: +12015550123 and +12015550125 land in different ones
#: (checked where a frame is written), so a repeat under both meets only by its id.
PARTITIONS = ("--partitions", "8")


def _dask(cluster: DaskCluster, events: Path, out: Path, *extra: str) -> int:
    engine = ["--engine", "dask", "--scheduler", cluster.address, "--blocksize", "150"]
    return _local(events, out, *engine, *extra)


def _files_of(out: Path) -> dict[str, str]:
    """The part file each number's contacts went to."""
    return {
        n: part.name
        for part in out.glob("part-*.parquet")
        for n in pd.read_parquet(part, columns=["number"])["number"]
    }


def _frame(path: Path) -> pd.DataFrame:
    frame = read_frame_dataset(path).sort_values("event_id", ignore_index=True)
    return frame.astype({"event_id": "str", "number": "str"})


def _rejects(files: list[Path]) -> pd.DataFrame:
    frame = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files])
    return frame.sort_values(["file", "row", "field"], key=lambda c: c.map(_natural))[
        ["file", "row", "field", "value", "error"]
    ].reset_index(drop=True)


def _natural(value: str) -> object:
    return int(value) if value.isdigit() else value


def _counts(out: str) -> tuple[int, int]:
    found = re.search(r": (\d+) row\(s\) kept, (\d+) rejected", out)
    assert found, out
    return int(found[1]), int(found[2])


def test_repeated_ids_and_bad_rows_as_the_local_engine(
    dask_cluster: DaskCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Same rows kept, same rejects (file, row, field, value, message) and the same counts,
    with the file read in blocks of a few rows on two workers."""
    events = _write(tmp_path / "events.csv", ROWS)
    assert _local(events, tmp_path / "local.parquet", "--skip-invalid") == 0
    local_out = capsys.readouterr().out
    out = tmp_path / "frame"
    assert _dask(dask_cluster, events, out, "--skip-invalid", *PARTITIONS) == 0
    dask_out = capsys.readouterr().out
    assert _counts(dask_out) == _counts(local_out) == (8, 6)
    kept_line = next(line for line in local_out.splitlines() if "row(s) kept" in line)
    assert kept_line.startswith("events.csv: ") and kept_line in dask_out.splitlines()
    assert "2 row(s) repeat an earlier row exactly" in dask_out

    local = _rejects([tmp_path / "local.events.rejects.csv"])
    got = _rejects(sorted((out / "_rejects").glob("*.csv")))
    pd.testing.assert_frame_equal(got, local)
    repeats = got[got["field"] == "event_id"]
    assert list(repeats["row"].astype(int)) == [4, 9, 11, 13]
    assert "repeats the event_id of row 1 with different values" in set(repeats["error"])
    assert len(list((out / "_rejects").glob("events-repeats-*.csv"))) >= 1
    pd.testing.assert_frame_equal(
        _frame(out), _frame(tmp_path / "local.parquet"), check_dtype=False
    )
    assert set(_frame(out)["event_id"]) == {"e1", "e2", "e4", "e5", "e8"}
    where = _files_of(out)
    assert where["+12015550123"] != where["+12015550125"]


def test_without_skip_invalid_the_message_is_the_local_engines(
    dask_cluster: DaskCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _write(tmp_path / "events.csv", ROWS)
    assert _local(events, tmp_path / "local.parquet") == 1
    local_err = capsys.readouterr().err
    out = tmp_path / "frame"
    assert _dask(dask_cluster, events, out, *PARTITIONS) == 1
    dask_err = capsys.readouterr().err
    assert dask_err == local_err
    assert "events.csv row 9 (line 10): event_id 'e5' repeats the event_id of row 7" in dask_err
    assert not list(out.glob("*.parquet"))


def test_an_id_under_two_numbers_in_two_files_is_refused(
    dask_cluster: DaskCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only a repeat across numbers (no other problem): found, fail closed, nothing written."""
    folder = tmp_path / "events"
    folder.mkdir()
    _write(folder / "a.csv", [ROWS[0], ROWS[2]])
    _write(folder / "b.csv", [ROWS[13], ROWS[3]])  # row 2: e1 under another number
    assert _dask(dask_cluster, folder, tmp_path / "frame", *PARTITIONS) == 1
    err = capsys.readouterr().err
    assert "events: 1 invalid row(s); nothing was loaded" in err
    assert "b.csv row 2 (line 3): event_id 'e1' repeats the event_id of a.csv row 1" in err


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_folder_names_each_rejects_file_and_row_within_it(
    dask_cluster: DaskCluster, tmp_path: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Rows are counted per file, as the local engine counts them in each file alone."""
    folder = tmp_path / "events"
    folder.mkdir()
    parts = {
        "a": ROWS[:8],
        "b": [*ROWS[8:], "e2,+12015550127,2026-05-10T10:00:00Z,contact,call,,,"],
    }
    for name, rows in parts.items():
        csv = _write(tmp_path / f"{name}.csv", rows)
        if suffix == ".parquet":  # every column as text, as a CSV is read
            pd.read_csv(csv, dtype=str).to_parquet(folder / f"{name}.parquet", index=False)
        else:
            csv.rename(folder / csv.name)
    out = tmp_path / "frame"
    assert _dask(dask_cluster, folder, out, "--skip-invalid", *PARTITIONS) == 0
    capsys.readouterr()
    where = _files_of(out)
    assert where["+12015550123"] != where["+12015550125"]
    got = _rejects(sorted((out / "_rejects").glob("*.csv")))
    b = f"b{suffix}"
    by_file = {f: list(rows["row"].astype(int)) for f, rows in got.groupby("file")}
    assert by_file == {f"a{suffix}": [4, 5], b: [1, 3, 4, 5, 9]}
    last = got[(got["file"] == b) & (got["row"] == "9")]["error"].item()
    assert last == f"repeats the event_id of a{suffix} row 2 with different values"
    same_number = got[(got["file"] == b) & (got["row"] == "3")]["error"].item()
    assert same_number == f"repeats the event_id of a{suffix} row 7 with different values"
    # each file's own problems, numbered as the local engine numbers that file alone
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in parts:
        source = folder / f"{name}{suffix}"
        assert _local(source, alone / f"{name}.parquet", "--skip-invalid") == 0
        local = _rejects([alone / f"{name}.events.rejects.csv"])
        mine = got[got["file"] == source.name]
        row_field = ["row", "field"]
        assert set(map(tuple, local[row_field].to_numpy())) <= set(
            map(tuple, mine[row_field].to_numpy())
        )
    capsys.readouterr()


def test_partitions_follow_the_threads_and_the_size() -> None:
    """Several per worker thread, none under ~250,000 events, more when memory is short."""
    assert choose_partitions(4_037_528, threads=2) == 16
    assert choose_partitions(4_037_528, threads=1) == 8
    assert choose_partitions(404_059, threads=2) == 1  # ~20,000 numbers: one partition
    assert choose_partitions(1_000_000, threads=2) == 4
    assert choose_partitions(50_000, threads=8) == 1
    assert choose_partitions(4_037_528, threads=64) == 16
    assert choose_partitions(10_000_000, threads=2, memory_per_thread=2_000_000_000) == 20
    assert choose_partitions(10_000_000, threads=2, memory_per_thread=40_000_000_000) == 16


def test_without_partitions_the_count_is_chosen_from_the_cluster_and_input(
    dask_cluster: DaskCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from features.distributed import frame_dataset
    from features.distributed.sizing import cluster_threads

    events = _write(tmp_path / "events.csv", [ROWS[0], ROWS[2], ROWS[13]])
    with dask_cluster.client() as client:
        assert cluster_threads(client) == (2, None)  # 2 workers × 1 thread, no memory limit
        summary = frame_dataset(events, tmp_path / "frame", client=client, progress=False)
    assert summary.partitions == 1 and summary.files == 1  # 3 events: one partition
    assert _dask(dask_cluster, events, tmp_path / "cli") == 0
    assert "(1 files)" in capsys.readouterr().out


def test_sources_are_planned_from_metadata(tmp_path: Path) -> None:
    """Parquet: row groups of one file per partition (up to the block size), the rows from
    the footers; CSV: the rows estimated from its size and its first lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from features.distributed.source import read_source, resolve_source

    csv = _write(tmp_path / "events.csv", ROWS)
    folder = tmp_path / "events"
    folder.mkdir()
    table = pa.Table.from_pandas(pd.read_csv(csv, dtype=str), preserve_index=False)
    pq.write_table(table, folder / "a.parquet", row_group_size=5)  # 4 row groups
    pq.write_table(table.slice(0, 3), folder / "b.parquet")
    planned = read_source(resolve_source(folder), blocksize=1)
    assert planned.rows == len(ROWS) + 3 and len(planned.parts) == 4 + 1
    whole = read_source(resolve_source(folder), blocksize="64MiB")
    assert len(whole.parts) == 2  # never two files in one partition
    assert [len(p.compute()) for p in planned.parts] == [5, 5, 5, 1, 3]
    assert read_source(resolve_source(csv), blocksize="64MiB").rows in (len(ROWS), len(ROWS) + 1)
