"""Files as exports arrive: national-format numbers with a region, enum values in any case,
extra columns, other delimiters, replays, empty files — tolerant where it is safe, strict
where it matters."""

from __future__ import annotations

import pandas as pd
import pytest

from features.io import InvalidFileError, describe_load, load_events, load_records

HEADER = "event_id,number,ts,kind,channel,outcome,duration_s\n"


def write(tmp_path, name: str, lines: list[str], header: str = HEADER):
    path = tmp_path / name
    path.write_text(header + "\n".join(lines) + "\n")
    return path


def test_national_numbers_need_a_region_and_become_e164_with_one(tmp_path):
    path = write(
        tmp_path,
        "ev.csv",
        [
            "e1,(617) 555-0142,2026-06-16T12:00:00Z,contact,call,answered,",
            "e2,+1 617 555 0142,2026-06-17T12:00:00Z,contact,call,answered,",
        ],
    )
    with pytest.raises(InvalidFileError) as exc:
        load_events(path)
    [err] = exc.value.errors
    assert err.row == 1 and err.field == "number" and "--default-region" in err.error
    result = load_events(path, default_region="US")
    # one person, one key: the national and the international spelling are one history
    assert list(result.frame["number"]) == ["+16175550142", "+16175550142"]


def test_region_column_reads_each_row_in_its_country_and_is_not_kept(tmp_path):
    path = write(
        tmp_path,
        "ev.csv",
        [
            "e1,(617) 555-0142,US,2026-06-16T12:00:00Z,contact,call,answered,",
            "e2,02079 460123,GB,2026-06-16T12:00:00Z,contact,call,answered,",
            "e3,01 99 00 12 34,fr,2026-06-16T12:00:00Z,contact,call,answered,",
            "e4,+33 1 99 00 12 35,,2026-06-16T12:00:00Z,contact,call,answered,",
        ],
        "event_id,number,region,ts,kind,channel,outcome,duration_s\n",
    )
    result = load_events(path, default_region="US")
    assert list(result.frame["number"]) == [
        "+16175550142",
        "+442079460123",
        "+33199001234",
        "+33199001235",
    ]
    assert "region" not in result.frame.columns


def test_invalid_numbers_are_counted_rejected_and_never_kept_raw(tmp_path):
    path = write(
        tmp_path,
        "ev.csv",
        [
            "e1,(617) 555-0142,2026-06-16T12:00:00Z,contact,call,answered,",
            "e2,n/a,2026-06-16T12:00:00Z,contact,call,answered,",
            "e3,07700 900461,2026-06-16T12:00:00Z,contact,call,answered,",
        ],
    )
    result = load_events(path, default_region="US", skip_invalid=True)
    assert result.invalid_numbers == 2
    assert result.frame["number"].tolist() == ["+16175550142"]
    assert set(result.frame["number"]).isdisjoint({"n/a", "07700 900461"})
    assert set(result.rejects["field"]) == {"number"}
    assert "with an invalid number" in describe_load(result)[0]


def test_enum_values_match_in_any_case_with_a_count(tmp_path):
    path = write(
        tmp_path,
        "ev.csv",
        [
            "e1,+12122345678,2026-06-16T12:00:00Z,Contact,SMS,delivered,",
            "e2,+12122345678,2026-06-17T12:00:00Z,contact,Call,ANSWERED,3",
        ],
    )
    result = load_events(path)
    assert list(result.frame["kind"]) == ["contact", "contact"]
    assert list(result.frame["channel"]) == ["sms", "call"]
    assert result.frame.loc[1, "outcome"] == "answered"
    assert any("channel: 2 value(s)" in n for n in result.notes)


def test_unknown_columns_are_ignored_with_one_note_unless_strict(tmp_path):
    path = write(
        tmp_path,
        "ev.csv",
        ["e1,+12122345678,2026-06-16T12:00:00Z,contact,call,answered,,A07,x"],
        HEADER.strip() + ",agent_id,notes\n",
    )
    result = load_events(path)
    [note] = result.notes
    assert "agent_id" in note and "notes" in note and "agent_id" not in result.frame.columns
    with pytest.raises(ValueError, match="agent_id"):
        load_events(path, strict=True)


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    lines = [
        "e1,+12122345678,2026-06-16T12:00:00Z,contact,call,answered,",
        "e2,+12122345678,2026-06-17T12:00:00+02:00,contact,sms,delivered,",
    ]
    path = write(
        tmp_path,
        "ev.csv",
        [ln.replace(",", delimiter) for ln in lines],
        HEADER.replace(",", delimiter),
    )
    result = load_events(path)
    assert list(result.frame["event_id"]) == ["e1", "e2"]


def test_empty_file_is_named_in_its_error(tmp_path):
    path = tmp_path / "consent.csv"
    path.write_text("")
    with pytest.raises(ValueError, match=r"consent\.csv: the file is empty"):
        load_records(path, "consent")


def test_exact_repeat_is_a_replay_and_a_different_row_under_the_id_names_both(tmp_path):
    row = "e1,+12122345678,2026-06-16T12:00:00Z,contact,call,answered,12"
    result = load_events(write(tmp_path, "a.csv", [row, "e2" + row[2:], row]))
    assert list(result.frame["event_id"]) == ["e1", "e2"]
    assert any("replay" in n for n in result.notes)
    other = row.replace(",12", ",13")
    with pytest.raises(InvalidFileError) as exc:
        load_events(write(tmp_path, "b.csv", [row, "e2" + row[2:], other]))
    [err] = exc.value.errors
    assert err.row == 3 and err.field == "event_id" and "row 1" in err.error


@pytest.mark.parametrize(
    ("value", "message"),
    [("-5", "must be ≥ 0"), ("abc", "is not a number")],
)
def test_not_a_number_only_for_non_numbers(tmp_path, value, message):
    path = write(
        tmp_path, "ev.csv", [f"e1,+12122345678,2026-06-16T12:00:00Z,contact,call,answered,{value}"]
    )
    with pytest.raises(InvalidFileError) as exc:
        load_events(path)
    [err] = exc.value.errors
    assert err.field == "duration_s" and err.error == message


def test_the_store_loader_reads_the_same_e164_as_training(tmp_path):
    """validate, features, train and the store share one loader: same frame, same keys."""
    path = write(
        tmp_path,
        "dnc.csv",
        ["(617) 555-0142,2026-06-16T12:00:00Z", "617.555.0142,2026-06-17T12:00:00Z"],
        "number,added_at\n",
    )
    frame = load_records(path, "dnc", default_region="us").frame
    assert frame["number"].tolist() == ["+16175550142"] * 2
    assert pd.api.types.is_object_dtype(frame["number"]) or pd.api.types.is_string_dtype(
        frame["number"]
    )


def test_validate_help_lists_each_contracts_columns(capsys):
    from serving.cli import main

    with pytest.raises(SystemExit):
        main(["validate", "--help"])
    text = capsys.readouterr().out
    assert "consent: consent_id, number*" in text and "type*" in text
    assert "--default-region" in text and "region: country of national-format numbers" in text
