"""The command line as a user meets it: one flag name per meaning, honest help, quiet
broken pipes, hints only for options that exist, refusals listed with their rows."""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest

from serving.cli import COMMANDS, main
from serving.store import Store

SUBCOMMANDS = {"store": ("init", "load", "export", "backup", "retention"),
               "registry": ("import", "status"), "audit": ("export",)}  # fmt: skip


def _help(*argv: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("contactgate ") and out.split()[1][0].isdigit()
    main(["--help"])
    assert "--version" in capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_has_no_empty_defaults_or_markup(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pages = [(command,)] + [(command, sub) for sub in SUBCOMMANDS.get(command, ())]
    for argv in pages:
        text = " ".join(_help(*argv, capsys=capsys).split())
        assert "(default: None)" not in text, argv
        assert "(default: False)" not in text, argv
        assert "``" not in text, argv
        for chunk in text.split("(default: ")[1:]:  # never two defaults for one option
            assert "(default:" not in chunk.split(")", 1)[0], argv


def test_one_store_flag_and_one_progress_flag(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (("screen",), ("serve",), ("demo",), ("store", "load"), ("store", "export"),
                 ("store", "init"), ("registry", "import"), ("registry", "status"),
                 ("audit", "export")):  # fmt: skip
        text = _help(*argv, capsys=capsys)
        assert "--db-url" in text, argv
        assert "--db " not in text and "--db\n" not in text, argv  # the old name is hidden
    for argv in (("screen",), ("simulate",), ("store", "load"), ("store", "export"),
                 ("registry", "import"), ("train",), ("features",), ("demo",)):  # fmt: skip
        assert "--no-progress" in _help(*argv, capsys=capsys), argv
        assert "--quiet" not in _help(*argv, capsys=capsys), argv


def test_skip_invalid_is_suggested_only_where_it_exists(
    tmp_path: Path, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from serving.cli import _load
    from serving.cli.options import without_foreign_hints

    bad = tmp_path / "events.csv"
    bad.write_text("event_id,number,ts,kind,channel\ne1,+12125550100,yesterday,contact,call\n")
    assert (
        main(["train", "--events", str(bad), "--tracking-uri", f"sqlite:///{tmp_path}/m.db"]) == 1
    )
    err = capsys.readouterr().err
    assert "ts" in err
    # the hint appears exactly when the command has the option (train has it)
    assert ("--skip-invalid" in err) == ("--skip-invalid" in _help("train", capsys=capsys))
    url = f"sqlite:///{tmp_path / 'store.db'}"
    assert main(["store", "load", str(bad), "--record", "events", "--db-url", url]) == 1
    message = capsys.readouterr().err
    assert "ts" in message and "(use --skip-invalid" in message  # store load has it
    for command, has_it in (("store", True), ("registry", False), ("audit", False)):
        parser = argparse.ArgumentParser()
        _load(command).add_arguments(parser)
        shown = without_foreign_hints(message, parser)
        assert ("--skip-invalid" in shown) is has_it, command
        assert "ts 'yesterday'" in shown  # the error itself always stays


def test_store_refusals_go_to_the_rejects_file_with_rows(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    header = ("event_id", "number", "ts", "kind", "channel")
    first = tmp_path / "first.csv"
    with first.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [header] + [(f"e{i}", "+12125550100", "2026-05-01T00:00:00Z", "contact", "call")
                        for i in range(30)]
        )  # fmt: skip
    base = ["--record", "events", "--skip-invalid", "--no-progress", "--db-url", sqlite_url]
    assert main(["store", "load", str(first), *base]) == 0
    # the same ids with other content (sms, not call) are refused by the store, one by one
    again = tmp_path / "again.csv"
    rows = [("new-1", "+12125550101", "2026-05-02T00:00:00Z", "contact", "call")]
    rows += [(f"e{i}", "+12125550100", "2026-05-01T00:00:00Z", "contact", "sms") for i in range(25)]
    rows += [("new-2", "+12125550102", "yesterday", "contact", "call")]
    with again.open("w", newline="") as fh:
        csv.writer(fh).writerows([header, *rows])
    capsys.readouterr()
    assert main(["store", "load", str(again), *base]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "row 2: refused by the store: event_id 'e0' is already stored with other content" in out
    assert "… and 5 more" in out  # 25 refusals, 20 shown
    with (tmp_path / "again.rejects.csv").open(newline="") as fh:
        rejects = list(csv.DictReader(fh))
    by_row = {int(r["row"]): r for r in rejects}
    assert sorted(by_row) == list(range(2, 28))  # 25 store refusals + the bad instant
    assert by_row[27]["field"] == "ts"
    assert by_row[2]["field"] == "(store)" and "e0" in by_row[2]["error"]
    with Store.open(sqlite_url) as store:
        assert store.counts()["events"] == 31


def test_broken_pipe_is_quiet(tmp_path: Path, sqlite_url: str, store_env: dict[str, str]) -> None:
    at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    with Store.open(sqlite_url) as store:
        store.append_decisions(
            [{"number": f"+1212555{i % 10000:04d}", "decision": "allow", "reasons": [],
              "model_version": "1", "rules_version": "r", "at": at, "request_id": "x",
              "recorded_at": at}
             for i in range(20_000)]
        )  # fmt: skip
    env = os.environ | store_env
    shell = (f"{sys.executable} -m serving.cli audit export --since 2026-01-01 "
             f"--db-url {sqlite_url} | head -n 2")  # fmt: skip
    done = subprocess.run(shell, shell=True, env=env, capture_output=True, text=True, timeout=300)
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
