"""Contract files: CSV (every cell as text, delimiter sniffed) and Parquet read, checked
(:mod:`features.io.checks`) and loaded whole or with the rejects kept apart; rejects files;
writing records in a contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from features.io.checks import InvalidFileError, check_records
from features.io.columns import columns_for, to_arrow
from features.schema import FILE_RECORDS


@dataclass
class LoadResult:
    """Valid rows, typed; and the rejects (one row per error)."""

    frame: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())
    source: Path | None = None
    #: What was tolerated: ignored columns, case-normalised values, replays skipped.
    notes: list[str] = field(default_factory=list)
    #: Rows whose number is not valid (each is also a reject).
    invalid_numbers: int = 0

    @property
    def rejected_rows(self) -> int:
        return 0 if self.rejects.empty else int(self.rejects["row"].nunique())


# --------------------------------------------------------------------------- files
def sniff_delimiter(path: Path | str) -> str:
    """The delimiter of a CSV file's header line: ``,`` ``;`` or tab, whichever it has most
    of (``,`` when none). ``path`` may be an fsspec URL. Raises ValueError naming the file
    when it is empty."""
    if isinstance(path, str):
        import fsspec

        with fsspec.open(path, "rt", encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    else:
        with path.open("r", encoding="utf-8-sig", errors="replace") as handle:
            header = handle.readline()
    if not header.strip():
        name = Path(str(path)).name
        raise ValueError(f"{name}: the file is empty (expected a header row of column names)")
    counts = {d: header.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_raw(path: Path) -> pd.DataFrame:
    """Read a CSV (all as text, nothing inferred; delimiter sniffed) or Parquet file."""
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        if path.stat().st_size == 0:
            raise ValueError(f"{path.name}: the file is empty")
        return pd.read_parquet(path)
    if suffix in (".csv", ".txt", ".tsv"):
        delimiter = sniff_delimiter(path)
        return pd.read_csv(
            path,
            dtype="str",
            keep_default_na=False,
            na_values=[""],
            engine="pyarrow",
            sep=delimiter,
            encoding="utf-8-sig",
        )
    raise ValueError(f"{path}: unsupported file type {suffix!r}; use .csv or .parquet")


def load_records(
    path: str | Path,
    record: str,
    *,
    skip_invalid: bool = False,
    default_region: str | None = None,
    strict: bool = False,
    pseudonyms: bool = False,
) -> LoadResult:
    """Load and validate a file of one record type (``events``, ``consent``, …).

    Numbers are normalised to E.164 with the row's ``region`` column or ``default_region``
    (:func:`normalise_numbers`); with ``pseudonyms`` a pseudonymised export's numbers are
    kept with their number facts (for features and training). Raises
    :class:`InvalidFileError` if any row is invalid and ``skip_invalid`` is false.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        raw = read_raw(path)
    except ValueError:
        raise
    except Exception as exc:  # a corrupt file must name itself
        raise ValueError(f"{path}: cannot be read as {path.suffix[1:]}: {exc}") from exc
    try:
        checked = check_records(
            raw, record, default_region=default_region, strict=strict, pseudonyms=pseudonyms
        )
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from exc
    if checked.errors and not skip_invalid:
        raise InvalidFileError(path, checked.errors, csv=path.suffix.lower() != ".parquet")
    frame, rejects = checked.split()
    return LoadResult(frame, rejects, path, checked.notes, checked.invalid_numbers)


def load_events(
    path: str | Path,
    *,
    skip_invalid: bool = False,
    default_region: str | None = None,
    strict: bool = False,
) -> LoadResult:
    """Load an event file (CSV or Parquet) in the Event contract."""
    return load_records(
        path, "events", skip_invalid=skip_invalid, default_region=default_region, strict=strict
    )


def describe_load(result: LoadResult) -> list[str]:
    """What a command prints about a loaded file: kept, rejected (invalid numbers among
    them) and every note."""
    name = result.source.name if result.source is not None else "file"
    invalid = (
        f", {result.invalid_numbers:,} with an invalid number" if result.invalid_numbers else ""
    )
    lines = [
        f"{name}: {len(result.frame):,} row(s) kept, {result.rejected_rows:,} rejected{invalid}"
    ]
    lines += [f"{name}: {note}" for note in result.notes]
    return lines


def rejects_path(output: str | Path) -> Path:
    """Where the rejects of a load feeding ``output`` are written: beside it."""
    output = Path(output)
    return output.with_name(output.stem + ".rejects.csv")


def write_rejects(result: LoadResult, output: str | Path) -> Path | None:
    """Write the rejects beside ``output`` (``<stem>.rejects.csv``); None if there are none."""
    if result.rejects.empty:
        return None
    path = rejects_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame = result.rejects.copy()
    if result.source is not None:
        frame.insert(0, "file", result.source.name)
    frame.to_csv(path, index=False)
    return path


def write_records(df: pd.DataFrame, path: str | Path, record: str) -> Path:
    """Write a frame in a record contract to Parquet (typed) or CSV (ISO-8601 instants)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    model = FILE_RECORDS[record]
    cols = [c for c in columns_for(model) if c.name in df.columns]
    if path.suffix.lower() == ".csv":
        out = df[[c.name for c in cols]].copy()
        for c in cols:
            if c.kind == "instant":
                out[c.name] = (
                    out[c.name]
                    .dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                    .str.replace(".000000Z", "Z", regex=False)
                )
        out.to_csv(path, index=False)
    else:
        table = to_arrow(df, cols)
        import pyarrow.parquet as pq

        pq.write_table(table, path, compression="zstd")
    return path
