"""`contactgate store load`: contract files into a real SQLite store, through the real CLI."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from serving.cli import main
from serving.store import Store

AT = dt.datetime(2026, 6, 16, 12, tzinfo=dt.UTC)
NY = "+12122345678"
LA = "+12132345678"


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _event(event_id: str, number: str, days_ago: int, **extra: str) -> dict[str, str]:
    row = {
        "event_id": event_id,
        "number": number,
        "ts": (AT - dt.timedelta(days=days_ago)).isoformat(),
        "kind": "contact",
        "channel": "call",
        "outcome": "no_answer",
    }
    return row | extra


def test_events_load_in_batches_and_replays_are_duplicates(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [_event(f"e{i}", NY if i % 2 else LA, days_ago=1 + i) for i in range(7)]
    path = _write_csv(tmp_path / "events.csv", rows)
    args = [
        "store",
        "load",
        str(path),
        "--record",
        "events",
        "--batch-size",
        "3",
        "--db",
        sqlite_url,
    ]
    assert main([*args, "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "stored" in out
    with Store.open(sqlite_url) as store:
        assert store.counts()["events"] == 7
        states = store.load_states([NY, LA], AT)
        assert len(states[NY].history) == 3 and len(states[LA].history) == 4
    assert main([*args, "--no-progress"]) == 0  # idempotent on event_id
    with Store.open(sqlite_url) as store:
        assert store.counts()["events"] == 7


def test_a_bad_row_refuses_the_file_naming_row_and_field(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [_event("a", NY, 1), _event("b", NY, 2, ts="yesterday"), _event("c", LA, 3)]
    path = _write_csv(tmp_path / "events.csv", rows)
    args = ["store", "load", str(path), "--record", "events", "--no-progress", "--db", sqlite_url]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "events.csv row 2 (line 3): ts 'yesterday'" in err
    with Store.open(sqlite_url) as store:
        assert store.counts()["events"] == 0  # nothing loaded

    assert main([*args, "--skip-invalid"]) == 0
    rejects = tmp_path / "events.rejects.csv"
    assert rejects.exists() and "yesterday" in rejects.read_text()
    with Store.open(sqlite_url) as store:
        assert store.counts()["events"] == 2


def test_dnc_additions_and_removals_keep_their_order(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str]
) -> None:
    def dnc(number: str, action: str, days_ago: int) -> dict[str, str]:
        added = (AT - dt.timedelta(days=days_ago)).isoformat()
        return {"number": number, "action": action, "scope": "all", "added_at": added}

    rows = [dnc(NY, "add", 10), dnc(NY, "remove", 5), dnc(LA, "add", 4)]
    path = _write_csv(tmp_path / "dnc.csv", rows)
    assert (
        main(["store", "load", str(path), "--record", "dnc", "--no-progress", "--db", sqlite_url])
        == 0
    )
    with Store.open(sqlite_url) as store:
        states = store.load_states([NY, LA], AT)
        assert [d.action for d in states[NY].dnc] == ["add", "remove"]
        assert [d.action for d in states[LA].dnc] == ["add"]
