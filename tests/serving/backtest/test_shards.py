"""A history split into shards of numbers replays and scores every contact exactly as the
whole history does; errors still name the file's own row; training takes whole shards."""

from __future__ import annotations

import pandas as pd
import pytest

from serving.backtest import Window, load_history, scored_contacts, split_history, train_before
from serving.backtest.shards import shard_of
from serving.rules import load_rulebook
from tests.serving.backtest.conftest import T0, T1


@pytest.fixture(scope="module")
def model(sim_history_dir, quick_config):
    return train_before(load_history(sim_history_dir), T0, quick_config)


def test_shards_score_every_contact_as_the_whole_history(sim_history_dir, model, tmp_path):
    window, rulebook = Window(T0, T1), load_rulebook()
    whole = scored_contacts(load_history(sim_history_dir), window, rulebook, model)
    shards = split_history(sim_history_dir, tmp_path, shard_events=5_000, batch_rows=4_000)
    assert len(shards.paths) >= 3
    parts = [scored_contacts(shards.history(i), window, rulebook, model) for i in range(3)]
    parts += [scored_contacts(shards.history(i), window, rulebook, model)
              for i in range(3, len(shards.paths))]  # fmt: skip
    split = pd.concat(parts, ignore_index=True)
    # every number in one shard only
    numbers = [set(p["number"]) for p in parts]
    assert sum(len(n) for n in numbers) == len(set().union(*numbers))
    key = ["event_id"]
    pd.testing.assert_frame_equal(
        whole.sort_values(key, ignore_index=True),
        split.sort_values(key, ignore_index=True)[whole.columns],
        check_dtype=False,
    )
    assert shards.events == len(pd.read_parquet(sim_history_dir / "events.parquet"))
    # consents and DNC records split with their numbers: none lost, none in two shards
    consent = pd.concat([shards.history(i).consent for i in range(len(shards.paths))])
    assert sorted(consent["consent_id"]) == sorted(
        pd.read_parquet(sim_history_dir / "consent.parquet")["consent_id"]
    )


def test_training_takes_whole_shards_before_t0(sim_history_dir, tmp_path):
    shards = split_history(sim_history_dir, tmp_path, shard_events=5_000)
    history, taken = shards.training_history(pd.Timestamp(T0), numbers=1)
    assert taken == 1  # one shard already holds more than one number
    first = pd.read_parquet(shards.paths[0])
    expected = first[first["ts"] < T0]
    assert len(history.events) == len(expected)
    assert set(history.events["number"]) == set(expected["number"])
    assert history.events["ts"].max() < T0
    # the consents of that shard's numbers (a number may hold a consent and no event)
    assert (shard_of(history.consent["number"], len(shards.paths)) == 0).all()
    all_consent = pd.read_parquet(sim_history_dir / "consent.parquet")
    assert 0 < len(history.consent) < len(all_consent)
    everything, taken = shards.training_history(pd.Timestamp(T0), numbers=10**9)
    assert taken == len(shards.paths)
    every = pd.concat(pd.read_parquet(p) for p in shards.paths)
    assert everything.events["number"].nunique() == every[every["ts"] < T0]["number"].nunique()


def test_an_invalid_row_in_a_later_batch_names_the_files_row(tmp_path):
    rows = ["event_id,number,ts,kind,channel"]
    rows += [f"e{i},+12015550123,2026-02-0{1 + i}T15:00:00Z,contact,call" for i in range(6)]
    rows.append("e6,+12015550124,not a time,contact,call")  # data row 7
    folder = tmp_path / "history"
    folder.mkdir()
    (folder / "events.csv").write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"events\.csv row 7 \(line 8\): ts 'not a time'"):
        split_history(folder, tmp_path / "work", shard_events=2, batch_rows=3)


def test_a_repeated_event_id_with_other_values_is_an_error_and_a_replay_is_dropped(tmp_path):
    rows = ["event_id,number,ts,kind,channel"]
    rows += [
        "e1,+12015550123,2026-02-01T15:00:00Z,contact,call",
        "e1,+12015550123,2026-02-01T15:00:00Z,contact,call",  # an exact replay: dropped
        "e2,+12015550123,2026-02-02T15:00:00Z,contact,call",
    ]
    folder = tmp_path / "history"
    folder.mkdir()
    (folder / "events.csv").write_text("\n".join(rows) + "\n")
    shards = split_history(folder, tmp_path / "work", shard_events=1)
    assert sorted(pd.concat(shards.history(i).events for i in range(3))["event_id"]) == [
        "e1", "e2",
    ]  # fmt: skip
    (folder / "events.csv").write_text(
        "\n".join([*rows, "e2,+12015550123,2026-02-03T15:00:00Z,contact,sms"]) + "\n"
    )
    shards = split_history(folder, tmp_path / "work2", shard_events=1)
    with pytest.raises(ValueError, match=r"events\.csv row 4: event_id 'e2' repeats .* row 3"):
        for i in range(len(shards.paths)):
            shards.history(i)


def test_an_empty_consent_file_gives_empty_shards_and_no_events_is_an_error(tmp_path):
    folder = tmp_path / "history"
    folder.mkdir()
    (folder / "events.csv").write_text(
        "event_id,number,ts,kind,channel\n"
        "e0,+12015550123,2026-02-01T15:00:00Z,contact,call\n"
        "e1,+12015550124,2026-02-01T15:00:00Z,contact,call\n"
    )
    (folder / "consent.csv").write_text(
        "consent_id,number,channel,purpose,type,granted_at,revoked_at,evidence\n"
    )
    shards = split_history(folder, tmp_path / "work", shard_events=1)
    assert len(shards.paths) == 2
    for i in range(2):
        consent = shards.history(i).consent
        assert consent.empty and "granted_at" in consent.columns
    (folder / "events.csv").write_text("event_id,number,ts,kind,channel\n")
    with pytest.raises(ValueError, match=r"events\.csv: no events"):
        split_history(folder, tmp_path / "work2")
