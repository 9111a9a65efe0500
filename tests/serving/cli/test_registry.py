"""`contactgate registry import` and `registry status`, through the real CLI and store."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
from pathlib import Path

import pytest

from serving.cli import main
from serving.store import Store

AS_OF = "2026-06-10T00:00:00Z"
AT = dt.datetime(2026, 6, 16, 12, tzinfo=dt.UTC)


def fictional(
    n: int, area_codes: tuple[str, ...] = ("212", "305", "213", "415", "617")
) -> list[str]:
    """Distinct valid US numbers in the fictional 555-01xx ranges, in national format."""
    out = [f"{ac}55501{i:02d}" for ac in area_codes for i in range(100)]
    return out[:n]


def run_cli(*argv: str) -> int:
    return main(["registry", *argv])


def import_file(
    registry: str, path: Path, db: str, *extra: str, as_of: str = AS_OF, workers: int = 1
) -> int:
    """``contactgate registry import`` quietly, with this many normalising workers."""
    return run_cli(
        "import", registry, str(path), "--as-of", as_of, "--db", db, "--quiet",
        "--workers", str(workers), *extra,
    )  # fmt: skip


def read_rejects(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def listed(url: str, numbers: list[str]) -> dict[str, bool]:
    with Store.open(url) as store:
        states = store.load_states(numbers, AT)
    return {n: "US_NATIONAL_DNC" in s.registries for n, s in states.items()}


def test_text_file_imports_with_rejects_beside_it(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str]
) -> None:
    good = fictional(120)
    lines = good[:50] + ["", "not-a-number", "+1 212 555 0150"] + good[50:] + ["   ", "123"]
    path = tmp_path / "dnc.txt"
    path.write_text("\n".join(lines) + "\n")
    code = import_file("US_NATIONAL_DNC", path, sqlite_url, "--max-reject-share", "0.05")
    assert code == 0
    rejects = read_rejects(tmp_path / "dnc.rejects.csv")
    assert [(r["line"], r["value"]) for r in rejects] == [("52", "not-a-number"), ("125", "123")]
    assert all(r["file"] == "dnc.txt" and r["error"].startswith("number:") for r in rejects)
    e164 = ["+1" + n for n in good]
    assert all(listed(sqlite_url, e164).values())
    with Store.open(sqlite_url) as store:
        assert store.registry_counts() == {"US_NATIONAL_DNC": 120}  # 0150 appears twice
        assert store.world_state(AT).registry_snapshots["US_NATIONAL_DNC"] == dt.datetime(
            2026, 6, 10, tzinfo=dt.UTC
        )


def test_csv_with_a_number_column_and_gzip(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str]
) -> None:
    path = tmp_path / "tps.csv.gz"
    with gzip.open(path, "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["listed_on", "Phone", "note"])
        writer.writerow(["2026-01-01", "07400 123456", "multi\nline note"])
        writer.writerow(["2026-01-02", "+44 7400 123457", ""])
        writer.writerow(["2026-01-03", "nope", ""])
    code = import_file("GB_TPS", path, sqlite_url, "--max-reject-share", "0.5")
    assert code == 0
    with Store.open(sqlite_url) as store:
        states = store.load_states(["+447400123456", "+447400123457"], AT)
    assert all(s.registries == {"GB_TPS"} for s in states.values())
    rejects = read_rejects(tmp_path / "tps.csv.rejects.csv")
    assert [(r["line"], r["value"]) for r in rejects] == [("5", "nope")]  # the note spans two lines


def test_a_bad_file_leaves_the_previous_snapshot(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first.txt"
    first.write_text("\n".join(fictional(100)) + "\n")
    assert import_file("US_NATIONAL_DNC", first, sqlite_url) == 0
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("\n".join(["+12135550100"] + [f"ID-{i}" for i in range(50)]) + "\n")
    code = import_file("US_NATIONAL_DNC", wrong, sqlite_url, as_of="2026-06-15T00:00:00Z")
    assert code == 1
    err = capsys.readouterr().err
    assert "snapshot in force is unchanged" in err and "wrong.rejects.csv" in err
    assert len(read_rejects(tmp_path / "wrong.rejects.csv")) == 50
    state = listed(sqlite_url, ["+12125550100", "+12135550100"])
    assert state == {"+12125550100": True, "+12135550100": False}


def test_worker_pool_gives_the_same_snapshot(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str]
) -> None:
    numbers = fictional(500)
    path = tmp_path / "au.txt"
    path.write_text("\n".join(numbers + ["x"]) + "\n")
    code = import_file(
        "US_NATIONAL_DNC",
        path,
        sqlite_url,
        "--batch-size",
        "64",
        "--max-reject-share",
        "0.01",
        workers=2,
    )
    assert code == 0
    assert all(listed(sqlite_url, ["+1" + n for n in numbers]).values())
    assert [r["line"] for r in read_rejects(tmp_path / "au.rejects.csv")] == ["501"]


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2026-06-10T00:00:00", "--as-of"),  # a time without an offset is ambiguous
        ("2100-01-01T00:00:00Z", "in the future"),
        ("2999-01-01T00:00:00Z", "--as-of '2999-01-01T00:00:00Z': must be from"),
    ],
)
def test_as_of_must_be_a_past_aware_instant(
    tmp_path: Path,
    sqlite_url: str,
    store_env: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    as_of: str,
    message: str,
) -> None:
    path = tmp_path / "x.txt"
    path.write_text("+12125550100\n")
    assert import_file("US_NATIONAL_DNC", path, sqlite_url, as_of=as_of) == 1
    assert message in capsys.readouterr().err


def test_missing_file_and_missing_column_are_named(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_file("CA_DNCL", tmp_path / "absent.txt", sqlite_url) == 1
    assert "absent.txt: no such file" in capsys.readouterr().err
    path = tmp_path / "cols.csv"
    path.write_text("a,b\n1,2\n")
    assert import_file("CA_DNCL", path, sqlite_url) == 1
    assert "cols.csv line 1: no number column" in capsys.readouterr().err


def test_status_lists_snapshots(
    tmp_path: Path, sqlite_url: str, store_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "dnc.txt"
    path.write_text("\n".join(fictional(10)) + "\n")
    import_file("US_NATIONAL_DNC", path, sqlite_url)
    capsys.readouterr()
    assert run_cli("status", "--db", sqlite_url) == 0
    out = capsys.readouterr().out
    assert "US_NATIONAL_DNC" in out and "2026-06-10" in out and "10" in out


def test_bulk_validity_matches_normalize() -> None:
    """The light bulk path decides validity and E.164 exactly as features.phone.normalize."""
    import phonenumbers as pn

    from features.phone import e164_batch, normalize

    samples: list[tuple[str, str | None]] = []
    for region in ("US", "CA", "GB", "FR", "DE", "AU", "CN", "GG", "JE", "IM"):
        for kind in (
            pn.PhoneNumberType.FIXED_LINE,
            pn.PhoneNumberType.MOBILE,
            pn.PhoneNumberType.TOLL_FREE,
        ):
            example = pn.example_number_for_type(region, kind)
            if example is None:
                continue
            national = pn.format_number(example, pn.PhoneNumberFormat.NATIONAL)
            intl = pn.format_number(example, pn.PhoneNumberFormat.INTERNATIONAL)
            samples += [
                (national, region),
                (intl, None),
                (national, None),
                (national + "9", region),
            ]
    samples += [(n, "US") for n in fictional(50)] + [
        ("+1 212 555 01", None),
        ("", "US"),
        ("  ", None),
    ]
    samples += [
        ("abc", "US"),
        ("+999 123", None),
        ("0800 123", "GB"),
        ("+12125550100", "FR"),
        ("12125550100", "US"),
    ]
    for raws_region in {r for _, r in samples}:
        raws = [raw for raw, r in samples if r == raws_region]
        expected = [normalize(raw, raws_region) for raw in raws]
        got = e164_batch(raws, raws_region)
        assert got == [rec.e164 if rec.valid else None for rec in expected], raws_region
    assert any(e is None for e in e164_batch([raw for raw, _ in samples], None))
