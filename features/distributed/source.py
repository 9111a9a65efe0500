"""Where the workers read a contract file from, and how each partition is checked.

A source is a Parquet file, a folder of Parquet files (a dataset), a CSV file or a folder of
CSV files, on local disk or behind any fsspec URL (``s3://``, ``gs://``, ``abfs://``, …; the
workers need the filesystem's package and credentials). CSV is read as text, every column,
and typed by the same rules as every loader (:func:`features.io.check_records`), one
partition at a time on the workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from features.distributed.partition import KEY, ROW
from features.io import RowError, check_records

if TYPE_CHECKING:
    import dask.dataframe as dd

_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
#: Row positions of a partition fit in the low 32 bits of the order key.
_ROW_BITS = 32
#: Errors of a partition sent back to the client as messages (all go to its rejects file).
MESSAGES_PER_PARTITION = 20


@dataclass(frozen=True)
class Source:
    """A contract file or folder as the workers read it."""

    url: str
    format: Literal["csv", "parquet"]
    #: What dask reads: the file, the folder, or a glob of the folder's CSV files.
    pattern: str

    @property
    def name(self) -> str:
        return Path(self.url.rstrip("/")).name


def resolve_source(location: str | Path) -> Source:
    """The format of a file or folder (by suffix; a folder by the files it holds). Raises
    FileNotFoundError / ValueError naming it."""
    import fsspec.core

    url = str(location)
    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        raise FileNotFoundError(f"{url}: no such file or folder")
    if fs.isdir(path):
        names = [Path(p).name for p in fs.ls(path, detail=False)]
        visible = [n for n in names if not n.startswith(("_", "."))]
        if any(n.lower().endswith(_PARQUET_SUFFIXES) for n in visible):
            return Source(url, "parquet", url)
        csvs = [n for n in visible if n.lower().endswith(_CSV_SUFFIXES)]
        if csvs:
            suffix = Path(csvs[0]).suffix
            return Source(url, "csv", url.rstrip("/") + f"/*{suffix}")
        raise ValueError(f"{url}: the folder holds no .parquet or .csv files")
    suffix = Path(path).suffix.lower()
    if suffix in _PARQUET_SUFFIXES:
        return Source(url, "parquet", url)
    if suffix in _CSV_SUFFIXES:
        return Source(url, "csv", url)
    raise ValueError(f"{url}: unsupported file type {suffix!r}; use .csv or .parquet")


def read_source(source: Source, blocksize: str | int) -> dd.DataFrame:
    """The raw partitions (nothing read yet): CSV as text with the delimiter of its header,
    Parquet as typed."""
    import dask.dataframe as dd

    from features.io import sniff_delimiter

    if source.format == "parquet":
        return dd.read_parquet(source.pattern, split_row_groups="infer", blocksize=blocksize)
    import fsspec

    first = fsspec.open_files(source.pattern)[0].full_name if "*" in source.pattern else None
    delimiter = sniff_delimiter(first or source.url)
    return dd.read_csv(
        source.pattern,
        dtype="str",
        keep_default_na=False,
        na_values=[""],
        sep=delimiter,
        encoding="utf-8-sig",
        blocksize=blocksize,
    )


def check_partition(
    raw: pd.DataFrame,
    index: int,
    source: Source,
    record: str,
    options: dict,
    rejects_dir: str | None,
    dtypes: dict | None = None,
) -> tuple[pd.DataFrame, dict]:
    """One raw partition → its valid rows, typed (with the order key and, for events, the
    history key), and a small summary: rows, kept, rejected, notes, the first messages.
    With ``rejects_dir`` the rejects are written there (rows numbered within the partition;
    :func:`renumber_rejects` makes them file rows once the partitions' lengths are known)."""
    raw = raw.reset_index(drop=True)
    try:
        checked = check_records(raw, record, **options)
    except ValueError as exc:
        raise ValueError(f"{source.name}: {exc}") from exc
    keep = checked.keep()
    kept = checked.typed.iloc[keep] if not keep.all() else checked.typed
    kept = kept.reset_index(drop=True)
    kept[ROW] = (np.int64(index) << _ROW_BITS) + np.flatnonzero(keep).astype(np.int64)
    if record == "events":  # every kept number is E.164 or a pseudonym, its own history key
        kept[KEY] = kept["number"].astype("str")
    if dtypes is not None:
        differ = {c: t for c, t in dtypes.items() if c in kept and kept[c].dtype != t}
        if differ:
            kept = kept.astype(differ)
    rejects_file = None
    if checked.errors and rejects_dir is not None:
        _, rejects = checked.split()
        rejects.insert(0, "file", source.name)
        rejects_file = f"{rejects_dir}/{record}-{index:05d}.csv"
        _write_csv(rejects, rejects_file)
    summary = {
        "record": record,
        "index": index,
        "rows": len(raw),
        "kept": len(kept),
        "rejected_rows": len({e.row for e in checked.errors}),
        "errors": len(checked.errors),
        "invalid_numbers": checked.invalid_numbers,
        "replays": int(checked.replays.sum()),
        "notes": checked.notes,
        "first_errors": checked.errors[:MESSAGES_PER_PARTITION],
        "rejects_file": rejects_file,
    }
    return kept, summary


def _write_csv(frame: pd.DataFrame, url: str) -> None:
    import fsspec

    with fsspec.open(url, "w", auto_mkdir=True) as handle:
        frame.to_csv(handle, index=False)


def renumber_rejects(url: str, offset: int) -> None:
    """Add ``offset`` (the rows of the partitions before) to a rejects file's row numbers."""
    import fsspec

    with fsspec.open(url, "r") as handle:
        rejects = pd.read_csv(handle, dtype={"value": "str"}, keep_default_na=False)
    rejects["row"] += offset
    _write_csv(rejects, url)


def source_errors(summaries: list[dict]) -> list[RowError]:
    """The errors the partitions sent back (the first of each), numbered as rows of the
    whole source (partitions in order)."""
    errors: list[RowError] = []
    offset = 0
    for s in sorted(summaries, key=lambda s: s["index"]):
        errors += [RowError(e.row + offset, e.field, e.value, e.error) for e in s["first_errors"]]
        offset += s["rows"]
    return errors
