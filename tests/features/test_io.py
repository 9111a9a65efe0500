"""Data contracts on files: typed columns, row-level errors that name file, row and field."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError

from features.io import (
    InvalidFileError,
    arrow_schema,
    load_events,
    load_records,
    rejects_path,
    write_records,
    write_rejects,
)
from features.schema import BlockedPeriod, Consent, Event, Preference

HEADER = "event_id,number,ts,kind,channel,outcome,text\n"
GOOD = [
    "e1,+12122345678,2026-06-16T12:00:00Z,contact,call,answered,",
    "e2,+12122345678,2026-06-16T14:00:00+02:00,reply,,,Stop",
    "e3,+33612345678,2026-06-17 09:30:00Z,complaint,,,",
]


def write(tmp_path, name: str, lines: list[str], header: str = HEADER):
    path = tmp_path / name
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def test_good_csv_loads_typed(tmp_path):
    result = load_events(write(tmp_path, "events.csv", GOOD))
    df = result.frame
    assert len(df) == 3 and result.rejects.empty
    assert str(df["ts"].dtype) == "datetime64[us, UTC]"
    # the +02:00 offset is normalised to UTC
    assert df.loc[1, "ts"] == pd.Timestamp("2026-06-16T12:00:00Z")
    assert df["duration_s"].dtype == "float64"


def test_bad_row_names_file_row_and_field(tmp_path):
    lines = GOOD * 400
    lines = [f"x{i}," + ln.split(",", 1)[1] for i, ln in enumerate(lines)]
    lines[1041] = "x1041,+12122345678,yesterday,contact,call,answered,"
    path = write(tmp_path, "events.csv", lines)
    with pytest.raises(InvalidFileError) as exc:
        load_events(path)
    text = str(exc.value)
    assert "events.csv row 1042 (line 1043): ts 'yesterday' is not an ISO-8601 instant" in text
    assert "nothing was loaded" in text
    assert exc.value.errors[0].row == 1042


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ("b1,+12122345678,2026-06-16T12:00:00,contact,call,answered,", "ts", "offset"),
        ("b1,+12122345678,2026-06-16,contact,call,answered,", "ts", "ISO-8601"),
        (
            "b1,+12122345678,2026-06-16T12:00:00Z,contact,fax,answered,",
            "channel",
            "one of call, sms",
        ),
        (
            "b1,+12122345678,2026-06-16T12:00:00Z,contact,,answered,",
            "channel",
            "required for a contact",
        ),
        ("b1,+12122345678,2026-06-16T12:00:00Z,reply,,,", "text", "required for a reply"),
        ("b1,+12122345678,2026-06-16T12:00:00Z,teleport,,,", "kind", "one of contact"),
        ("b1,,2026-06-16T12:00:00Z,complaint,,,", "number", "required"),
        ("e1,+12122345678,2026-06-16T12:00:00Z,complaint,,,", "event_id", "repeats"),
    ],
)
def test_each_kind_of_bad_value(tmp_path, line, field, fragment):
    with pytest.raises(InvalidFileError) as exc:
        load_events(write(tmp_path, "ev.csv", [*GOOD, line]))
    [err] = exc.value.errors
    assert err.row == 4 and err.field == field and fragment in err.error


def test_skip_invalid_keeps_valid_rows_and_writes_rejects_beside_output(tmp_path):
    path = write(tmp_path, "events.csv", [GOOD[0], "b,+12122345678,soon,contact,call,,", GOOD[1]])
    result = load_events(path, skip_invalid=True)
    assert list(result.frame["event_id"]) == ["e1", "e2"]
    assert result.rejected_rows == 1
    out = tmp_path / "out" / "clean.parquet"
    written = write_rejects(result, out)
    assert written == rejects_path(out) == tmp_path / "out" / "clean.rejects.csv"
    rejects = pd.read_csv(written)
    assert rejects.loc[0, "file"] == "events.csv"
    assert rejects.loc[0, "row"] == 2 and rejects.loc[0, "field"] == "ts"


def test_unknown_columns_are_errors_when_strict_and_missing_columns_always(tmp_path):
    with pytest.raises(ValueError, match="unknown column"):
        load_events(
            write(
                tmp_path,
                "a.csv",
                ["e1,+12122345678,2026-06-16T12:00:00Z,opt_out,x"],
                "event_id,number,ts,kind,colour\n",
            ),
            strict=True,
        )
    with pytest.raises(ValueError, match="missing required column"):
        load_events(
            write(tmp_path, "b.csv", ["e1,+1,2026-06-16T12:00:00Z"], "event_id,number,ts\n")
        )


def test_parquet_round_trip_and_naive_timestamps(tmp_path):
    frame = load_events(write(tmp_path, "events.csv", GOOD)).frame
    path = write_records(frame, tmp_path / "events.parquet", "events")
    assert pq.read_schema(path).field("ts").type == arrow_schema(Event).field("ts").type
    back = load_events(path).frame
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)

    naive = frame.assign(ts=frame["ts"].dt.tz_localize(None))
    naive.to_parquet(tmp_path / "naive.parquet")
    with pytest.raises(InvalidFileError, match="no time zone"):
        load_events(tmp_path / "naive.parquet")


def test_csv_round_trip_keeps_instants(tmp_path):
    frame = load_events(write(tmp_path, "events.csv", GOOD)).frame
    path = write_records(frame, tmp_path / "copy.csv", "events")
    pd.testing.assert_series_equal(load_events(path).frame["ts"], frame["ts"])


def test_other_contracts_validate(tmp_path):
    consent = tmp_path / "consent.csv"
    consent.write_text(
        "number,type,granted_at,revoked_at,outside_hours\n"
        "+12122345678,written,2026-01-01T00:00:00Z,,yes\n"
        "+12122345678,verbal,2026-01-01T00:00:00Z,,no\n"
        "+12122345678,written,2026-01-02T00:00:00Z,2026-01-01T00:00:00Z,maybe\n"
    )
    with pytest.raises(InvalidFileError) as exc:
        load_records(consent, "consent")
    fields = {(e.row, e.field) for e in exc.value.errors}
    assert fields == {(2, "type"), (3, "outside_hours"), (3, "revoked_at")}
    ok = load_records(consent, "consent", skip_invalid=True).frame
    assert ok["outside_hours"].tolist() == [True] and ok["channel"].tolist() == ["any"]

    blocked = tmp_path / "blocked.csv"
    blocked.write_text(
        "region,start,end,reason\nUS-LA,2026-08-01T00:00:00Z,2026-07-01T00:00:00Z,storm\nusa,2026-08-01T00:00:00Z,2026-08-02T00:00:00Z,x\n"
    )
    with pytest.raises(InvalidFileError) as exc:
        load_records(blocked, "blocked_periods")
    assert {(e.row, e.field) for e in exc.value.errors} == {(1, "end"), (2, "region")}


def test_pydantic_models_enforce_the_same_rules():
    base = {"event_id": "e", "number": "+12122345678", "ts": "2026-06-16T12:00:00Z"}
    assert Event(**base, kind="contact", channel="sms").ts.tzinfo == dt.UTC
    with pytest.raises(ValidationError, match="channel is required"):
        Event(**base, kind="contact")
    with pytest.raises(ValidationError, match="timezone"):
        Event(**{**base, "ts": "2026-06-16T12:00:00"}, kind="opt_out")
    with pytest.raises(ValidationError, match="extra"):
        Event(**base, kind="opt_out", colour="red")
    with pytest.raises(ValidationError, match="revoked_at is before"):
        Consent(
            number="+1",
            type="written",
            granted_at="2026-01-02T00:00:00Z",
            revoked_at="2026-01-01T00:00:00Z",
        )
    with pytest.raises(ValidationError, match="quiet_start and quiet_end"):
        Preference(number="+1", quiet_start="21:00", updated_at="2026-01-01T00:00:00Z")
    with pytest.raises(ValidationError, match="end must be after start"):
        BlockedPeriod(
            region="US-LA", start="2026-01-02T00:00:00Z", end="2026-01-01T00:00:00Z", reason="x"
        )


def test_validate_command_reports_rows(tmp_path, capsys):
    from serving.cli import main

    path = write(tmp_path, "events.csv", [GOOD[0], "b,+12122345678,soon,contact,call,,"])
    assert main(["validate", "events", str(path)]) == 1
    assert "events.csv row 2 (line 3): ts 'soon'" in capsys.readouterr().out
    out = tmp_path / "clean.parquet"
    assert main(["validate", "events", str(path), "--skip-invalid", "-o", str(out)]) == 0
    assert out.exists() and (tmp_path / "clean.rejects.csv").exists()
