"""`contactgate store init|backup|retention` through the real CLI on a SQLite store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from features.schema import DncEntry, Event
from serving.cli import main
from serving.store import Store
from serving.store.tables import LATEST_VERSION

AT = dt.datetime(2026, 6, 16, 12, tzinfo=dt.UTC)
NY = "+12122345678"


def test_init_backup_retention(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["store", "init", "--db", sqlite_url]) == 0
    assert f"schema version {LATEST_VERSION}" in capsys.readouterr().out
    with Store.open(sqlite_url) as store:
        store.record_events(
            [
                Event(
                    event_id="old",
                    number=NY,
                    ts=AT - dt.timedelta(days=500),
                    kind="contact",
                    channel="call",
                ),
                Event(
                    event_id="new",
                    number=NY,
                    ts=AT - dt.timedelta(days=5),
                    kind="contact",
                    channel="call",
                ),
            ]
        )
        store.dnc_add([DncEntry(number=NY, added_at=AT - dt.timedelta(days=800))])

    target = tmp_path / "backups" / "store-copy.db"
    assert main(["store", "backup", str(target), "--db", sqlite_url]) == 0
    assert "backup written" in capsys.readouterr().out
    assert main(["store", "backup", str(target), "--db", sqlite_url]) == 1  # never overwrites
    assert "already exists" in capsys.readouterr().err

    assert main(["store", "retention", "--older-than-days", "30", "--db", sqlite_url]) == 1
    assert "below 400" in capsys.readouterr().err
    assert main(["store", "retention", "--at", AT.isoformat(), "--db", sqlite_url]) == 0
    with Store.open(sqlite_url) as store:
        state = store.load_states([NY], AT)[NY]
        assert [h.ts for h in state.history] == [AT - dt.timedelta(days=5)]
        assert len(state.dnc) == 1
    with Store.open(f"sqlite:///{target}") as copy:  # the backup still has both events
        assert copy.counts()["events"] == 2


def test_missing_keys_stop_the_cli_with_the_variable_name(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CONTACTGATE_HMAC_KEY", raising=False)
    monkeypatch.setenv("CONTACTGATE_HMAC_KEY", "")
    assert main(["store", "init", "--db", sqlite_url]) == 1
    assert "CONTACTGATE_HMAC_KEY is not set" in capsys.readouterr().err
