"""Every file instant is held to the contracts' span (features.schema: EARLIEST_INSTANT …
LATEST_INSTANT): `contactgate validate` and every file load refuse what the API and the
store refuse, row by row, naming file, row and field."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from features.io import load_records
from features.schema import INSTANT_RANGE_TEXT, Event

#: Written by hand: each ts with the verdict the contract gives it.
EVENTS_CSV = """\
event_id,number,ts,kind,channel
e1,+12015550123,2026-03-01T10:00:00Z,contact,call
e2,+12015550124,0001-01-01T00:00:00Z,complaint,
e3,+12015550125,1969-12-31T23:59:59Z,contact,sms
e4,+12015550126,2200-01-01T00:00:00Z,contact,call
e5,+12015550127,2199-12-31T23:00:00-05:00,contact,call
e6,+12015550128,9999-12-31T23:00:00-05:00,contact,call
e7,+12015550129,1970-01-01T00:00:00Z,opt_out,
e8,+12015550130,2199-12-31T18:59:59-05:00,opt_out,
e9,+12015550131,yesterday,opt_out,
"""
OUT_OF_RANGE_ROWS = [2, 3, 4, 5, 6]


def _api_accepts(ts: str) -> bool:
    try:
        Event(event_id="x", number="+12015550123", ts=ts, kind="opt_out")
    except ValidationError:
        return False
    return True


def test_validate_refuses_instants_out_of_range_naming_file_row_and_field(tmp_path, capsys):
    from serving.cli import main

    path = tmp_path / "events.csv"
    path.write_text(EVENTS_CSV)
    assert main(["validate", "events", str(path)]) == 1
    out = capsys.readouterr().out
    for row in OUT_OF_RANGE_ROWS:
        ts = EVENTS_CSV.splitlines()[row].split(",")[2]
        assert f"events.csv row {row} (line {row + 1}): ts {ts!r} {INSTANT_RANGE_TEXT}" in out
    assert "row 9 (line 10): ts 'yesterday' is not an ISO-8601 instant" in out
    for row in (1, 7, 8):
        assert f"row {row} " not in out

    clean = tmp_path / "clean.csv"
    assert main(["validate", "events", str(path), "--skip-invalid", "-o", str(clean)]) == 0
    assert sorted(pd.read_csv(clean)["event_id"]) == ["e1", "e7", "e8"]


def test_file_and_api_give_every_instant_the_same_verdict(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(EVENTS_CSV)
    loaded = load_records(path, "events", skip_invalid=True)
    kept = set(loaded.frame["event_id"])
    for line in EVENTS_CSV.splitlines()[1:]:
        event_id, _, ts, *_ = line.split(",")
        assert (event_id in kept) == _api_accepts(ts), (event_id, ts)


@pytest.mark.parametrize("year", [1960, 2250])
def test_typed_parquet_instants_are_held_to_the_same_span(tmp_path, year):
    path = tmp_path / "consent.parquet"
    pd.DataFrame(
        {
            "number": ["+12015550123", "+12015550124"],
            "type": ["written", "written"],
            "granted_at": pd.to_datetime(
                ["2026-01-05T10:00:00Z", f"{year}-01-05T10:00:00Z"], utc=True
            ).astype("datetime64[us, UTC]"),
        }
    ).to_parquet(path)
    loaded = load_records(path, "consent", skip_invalid=True)
    assert list(loaded.frame["number"]) == ["+12015550123"]
    (reject,) = loaded.rejects.itertuples()
    assert (reject.row, reject.field, reject.error) == (2, "granted_at", INSTANT_RANGE_TEXT)
