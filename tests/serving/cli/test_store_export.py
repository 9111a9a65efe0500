"""`contactgate store export`: the store's history back out as contract files.

A simulated history is loaded with ``store load``, exported, and the training frame built
from the export must equal the one built from the original files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from features.definitions import FEATURE_NAMES, TARGETS
from features.io import load_records
from serving.cli import main
from serving.store import Store
from training.data import load_training_data


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from features.simulate import simulate_to_dir

    out = tmp_path_factory.mktemp("sim")
    simulate_to_dir(out, numbers=400, days=120, seed=5, progress=False)
    return out


def _load(folder: Path, url: str, record: str) -> None:
    (path,) = folder.glob(f"{record}.*")
    assert (
        main(["store", "load", str(path), "--record", record, "--db-url", url, "--no-progress"])
        == 0
    )


def _load_and_export(folder: Path, url: str, out: Path, suffix: str, *options: str) -> None:
    """Load a simulated folder's events and consent into the store, export both to ``out``."""
    for record in ("events", "consent"):
        _load(folder, url, record)
    for record in ("events", "consent"):
        assert main([
            "store", "export", "--record", record, "--out", str(out / f"{record}{suffix}"),
            "--db-url", url, "--no-progress", *options,
        ]) == 0  # fmt: skip


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_load_export_train_gives_the_same_training_frame(
    simulated: Path, tmp_path: Path, store_url: str, store_env: dict[str, str], suffix: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    out = tmp_path / "export"
    _load_and_export(simulated, store_url, out, suffix, "--chunk-rows", "997")
    captured = capsys.readouterr()
    assert "store: " in captured.err  # which store was used is said
    assert "rows written to" in captured.out

    original = load_training_data(simulated, progress=False).frame
    exported = load_training_data(out, progress=False).frame
    columns = ["event_id", "number", "ts", *FEATURE_NAMES, *TARGETS]
    key = ["ts", "event_id"]
    a = original[columns].sort_values(key, ignore_index=True)
    b = exported[columns].sort_values(key, ignore_index=True)
    assert len(a) > 1000
    pd.testing.assert_frame_equal(a, b, check_dtype=False, check_categorical=False)

    # the exported rows are the loaded rows (numbers decrypted), consent included
    events_in = load_records(next(simulated.glob("events.*")), "events").frame
    events_out = load_records(out / f"events{suffix}", "events").frame
    assert sorted(events_out["event_id"]) == sorted(events_in["event_id"])
    assert set(events_out["number"]) == set(events_in["number"])


def test_export_window_pseudonymise_and_refusals(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    from features.schema import Event

    at = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    numbers = ["+12122345678", "+442079460123", "+33123456789"]
    with Store.open(sqlite_url) as store:
        store.record_events(
            [
                Event(event_id=f"e{i}", number=numbers[i % 3], ts=at + dt.timedelta(days=i),
                      kind="contact", channel="sms")
                for i in range(10)
            ]
        )  # fmt: skip
    out = tmp_path / "window.csv"
    assert main([
        "store", "export", "--record", "events", "--out", str(out), "--db-url", sqlite_url,
        "--since", "2026-03-03", "--until", "2026-03-06T00:00Z", "--pseudonymise", "--no-progress",
    ]) == 0  # fmt: skip
    frame = pd.read_csv(out, dtype=str)
    assert list(frame["event_id"]) == ["e2", "e3", "e4"]
    assert frame["number"].str.fullmatch(r"pseudo:[0-9a-f]{64}").all()
    assert not any(n in out.read_text() for n in numbers)  # no number in clear
    assert list(frame["number_region"]) == ["FR", "US", "GB"]
    assert frame.loc[1, "number_time_zones"] == "America/New_York"
    assert frame.loc[2, "number_time_zones"] == "Europe/London"
    # one person, one pseudonym, stable across exports with the same key
    again = tmp_path / "again.csv"
    assert main(["store", "export", "--record", "events", "--out", str(again),
                 "--db-url", sqlite_url, "--pseudonymise", "--no-progress"]) == 0  # fmt: skip
    full = pd.read_csv(again, dtype=str)
    assert full["number"].nunique() == 3
    assert set(frame["number"]) <= set(full["number"])

    # a bad suffix or window is refused before anything is written
    capsys.readouterr()
    assert main(["store", "export", "--record", "events", "--out", str(tmp_path / "x.json"),
                 "--db-url", sqlite_url]) == 1  # fmt: skip
    assert ".csv or .parquet" in capsys.readouterr().err
    assert main(["store", "export", "--record", "events", "--out", str(tmp_path / "y.csv"),
                 "--db-url", sqlite_url, "--since", "2026-03-05", "--until", "2026-03-01"]) == 1  # fmt: skip
    assert "--until must be after --since" in capsys.readouterr().err
    assert not (tmp_path / "y.csv").exists()


def test_export_of_an_empty_store_writes_a_readable_file(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str]
) -> None:
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"dnc{suffix}"
        assert main(["store", "export", "--record", "dnc", "--out", str(out),
                     "--db-url", sqlite_url, "--no-progress"]) == 0  # fmt: skip
        assert load_records(out, "dnc").frame.empty


@pytest.fixture(scope="module")
def simulated_to_train(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough history for ``train`` to find positives of both targets in every slice."""
    from features.simulate import simulate_to_dir

    out = tmp_path_factory.mktemp("sim-train")
    simulate_to_dir(out, numbers=1500, days=120, seed=5, progress=False)
    return out


def test_a_pseudonymised_export_trains_like_the_original(
    simulated_to_train: Path, tmp_path: Path, sqlite_url: str, store_env: dict[str, str]
) -> None:
    """Load → export with ``--pseudonymise`` → the training frame equals the one of the
    original files in every feature and label (only the numbers differ: one pseudonym per
    number), and ``contactgate train`` runs on the export."""
    simulated = simulated_to_train
    out = tmp_path / "pseudonymised"
    _load_and_export(simulated, sqlite_url, out, ".csv", "--pseudonymise")
    assert "+1" not in (out / "events.csv").read_text()  # no number in clear

    original = load_training_data(simulated, progress=False).frame
    exported = load_training_data(out, progress=False).frame
    assert exported["number"].str.fullmatch(r"pseudo:[0-9a-f]{64}").all()
    columns = ["event_id", "ts", *FEATURE_NAMES, *TARGETS]
    a = original.sort_values(["ts", "event_id"], ignore_index=True)
    b = exported.sort_values(["ts", "event_id"], ignore_index=True)
    assert len(a) > 1000
    pd.testing.assert_frame_equal(
        a[columns], b[columns], check_dtype=False, check_categorical=False
    )
    # one pseudonym per number, one number per pseudonym
    pairs = pd.DataFrame({"number": a["number"], "pseudonym": b["number"]}).drop_duplicates()
    assert pairs["number"].is_unique and pairs["pseudonym"].is_unique

    tracking = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = tmp_path / "train.yaml"  # complaints are rare: wide slices keep some in each
    config.write_text(
        "split: {train: 0.4, early_stopping: 0.2, calibration: 0.25, test: 0.15, warmup_days: 14}\n"
        "lightgbm: {num_boost_round: 30, num_threads: 1}\n"
    )
    assert main(["train", "--events", str(out), "--tracking-uri", tracking, "--config",
                 str(config), "--allow-small", "--no-progress"]) == 0  # fmt: skip


def test_pseudonymised_numbers_need_their_facts(tmp_path: Path) -> None:
    from features.io import InvalidFileError

    pseudonym = "pseudo:" + "ab" * 32
    header = "event_id,number,ts,kind,channel,number_region,number_line_type,number_time_zones"
    good = (
        f"e1,{pseudonym},2026-03-01T10:00:00Z,contact,sms,US,fixed_line_or_mobile,America/New_York"
    )
    path = tmp_path / "events.csv"
    path.write_text(f"{header}\n{good}\n")
    frame = load_records(path, "events", pseudonyms=True).frame
    assert frame.loc[0, "number"] == pseudonym and frame.loc[0, "number_region"] == "US"
    # a store keeps real numbers: without pseudonyms the row is refused, naming the field
    with pytest.raises(InvalidFileError, match=r"events.csv row 1 \(line 2\): number"):
        load_records(path, "events")
    # without the fact columns, or with a fact that is not one: file, row and field named
    path.write_text(
        f"event_id,number,ts,kind,channel\ne1,{pseudonym},2026-03-01T10:00:00Z,contact,sms\n"
    )
    with pytest.raises(
        InvalidFileError, match=r"row 1 \(line 2\): number_region .*no number_region"
    ):
        load_records(path, "events", pseudonyms=True)
    bad = good.replace("fixed_line_or_mobile", "landline").replace("America/New_York", "Mars/Base")
    path.write_text(f"{header}\n{good.replace('e1', 'e0')}\n{bad}\n")
    with pytest.raises(InvalidFileError) as refused:
        load_records(path, "events", pseudonyms=True)
    text = str(refused.value)
    assert "row 2 (line 3): number_line_type" in text and "number_time_zones" in text
    assert "row 1 " not in text  # the good row is not blamed
