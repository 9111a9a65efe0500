"""Where the workers read a contract file from, and how each partition is checked.

A source is a Parquet file, a folder of Parquet files (a dataset), a CSV file or a folder of
CSV files, on local disk or behind any fsspec URL (``s3://``, ``gs://``, ``abfs://``, …; the
workers need the filesystem's package and credentials). CSV is read as text, every column,
and typed by the same rules as every loader (:func:`features.io.check_records`), one
partition at a time on the workers.

Every row carries an order key (``ROW``: its input partition and its position there); once
the partitions are read, :class:`RowPlaces` turns a key into the file it came from and its
row within that file — the numbering of the local engine, per file of a folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from features.distributed.partition import KEY, ROW
from features.io import RowError, check_records

_CSV_SUFFIXES = (".csv", ".txt", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
#: Row positions of a partition fit in the low 32 bits of the order key.
_ROW_BITS = 32
#: Errors of a partition sent back to the client as messages (all go to its rejects file).
MESSAGES_PER_PARTITION = 20
#: The column a CSV partition's file comes in (dropped before the checks).
_FILE = "_source_file"
#: Bytes of a CSV file the client reads to estimate its rows (its first lines only).
_CSV_SAMPLE_BYTES = 1 << 16


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


@dataclass
class SourceParts:
    """The raw partitions of a source, nothing read yet."""

    #: One delayed raw frame per input partition, in file order.
    parts: list
    #: An empty raw frame (the columns the partitions have).
    meta: pd.DataFrame
    #: Rows of the source: exact for Parquet (the files' footers), estimated for CSV (its
    #: bytes over the bytes per line of its first lines).
    rows: int


def _files(source: Source, suffixes: tuple[str, ...]) -> list[str]:
    """The source's files in name order (a folder: its visible files with these suffixes)."""
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(source.url)
    if not fs.isdir(path):
        return [source.url]
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    names = sorted(
        p for p in fs.ls(path, detail=False)
        if not Path(p).name.startswith(("_", ".")) and p.lower().endswith(suffixes)
    )  # fmt: skip
    return [p if protocol in ("file", "local") else f"{protocol}://{p}" for p in names]


def read_source(source: Source, blocksize: str | int) -> SourceParts:
    """The raw partitions: Parquet by row groups (one or more of one file, up to
    ``blocksize`` bytes uncompressed), read as typed; CSV in blocks of ``blocksize`` bytes
    cut at line ends, every cell as text, with the delimiter of its header."""
    from dask import delayed
    from dask.utils import parse_bytes

    limit = parse_bytes(blocksize) if isinstance(blocksize, str) else int(blocksize)
    if source.format == "parquet":
        import fsspec
        import pyarrow.parquet as pq

        parts, rows, meta = [], 0, None
        for url in _files(source, _PARQUET_SUFFIXES):
            with fsspec.open(url, "rb") as handle:  # the footer only
                footer = pq.ParquetFile(handle)
                info = footer.metadata
                if meta is None:
                    meta = footer.schema_arrow.empty_table().to_pandas()
            groups: list[int] = []
            size = 0
            for g in range(info.num_row_groups):
                group = info.row_group(g)
                if groups and size + group.total_byte_size > limit:
                    parts.append(delayed(_read_row_groups, pure=True)(url, groups))
                    groups, size = [], 0
                groups.append(g)
                size += group.total_byte_size
            parts.append(delayed(_read_row_groups, pure=True)(url, groups))
            rows += info.num_rows
        return SourceParts(parts, meta, rows)
    import dask.dataframe as dd
    import fsspec

    from features.io import sniff_delimiter

    files = fsspec.open_files(source.pattern)
    delimiter = sniff_delimiter(files[0].full_name if "*" in source.pattern else source.url)
    raw = dd.read_csv(
        source.pattern,
        dtype="str",
        keep_default_na=False,
        na_values=[""],
        sep=delimiter,
        encoding="utf-8-sig",
        blocksize=limit,
        include_path_column=_FILE,
    )
    with files[0] as handle:
        sample = handle.read(_CSV_SAMPLE_BYTES)
    lines = max(sample.count(b"\n"), 1)
    total = sum(f.fs.size(f.path) for f in files)
    return SourceParts(list(raw.to_delayed()), raw._meta, int(total * lines / max(len(sample), 1)))


def _read_row_groups(url: str, groups: list[int]) -> pd.DataFrame:
    """Row groups of one Parquet file, as the local loader reads a whole file."""
    import fsspec
    import pyarrow.parquet as pq

    with fsspec.open(url, "rb") as handle:
        table = pq.ParquetFile(handle).read_row_groups(groups)
    return table.to_pandas().assign(**{_FILE: url})


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
    history key), and a small summary: its file, rows, kept, rejected, notes, the first
    messages. Repeated event ids are left for the whole source (:mod:`features.distributed.
    repeats`). With ``rejects_dir`` the rejects are written there, rows numbered within the
    partition (:func:`renumber_rejects` makes them file rows once every partition is read)."""
    raw = raw.reset_index(drop=True)
    file = None
    if _FILE in raw.columns:
        paths = raw.pop(_FILE)
        file = Path(str(paths.iloc[0])).name if len(paths) else None
    try:
        checked = check_records(raw, record, **options, repeated_ids=False)
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
        rejects.insert(0, "file", file or source.name)
        rejects_file = f"{rejects_dir}/{record}-{index:05d}.csv"
        write_csv(rejects, rejects_file)
    summary = {
        "record": record,
        "index": index,
        "file": file,
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


def write_csv(frame: pd.DataFrame, url: str) -> None:
    import fsspec

    with fsspec.open(url, "w", auto_mkdir=True) as handle:
        frame.to_csv(handle, index=False)


@dataclass(frozen=True)
class RowPlaces:
    """Where the rows of a source's partitions are: each partition's file and the rows of
    that file before it (partitions in order; a partition never spans two files)."""

    files: tuple[str, ...]
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, summaries: list[dict], default: str) -> RowPlaces:
        """From the partitions' summaries (a CSV partition names its file once read)."""
        ordered = sorted(summaries, key=lambda s: s["index"])
        files, offsets, seen = [], [], {}
        for s in ordered:
            name = s["file"] or default
            files.append(name)
            offsets.append(seen.get(name, 0))
            seen[name] = seen.get(name, 0) + s["rows"]
        return cls(tuple(files), tuple(offsets))

    def of_keys(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(file, 1-based row within it) of order keys."""
        keys = np.asarray(keys, dtype=np.int64)
        part = keys >> _ROW_BITS
        pos = keys & ((1 << _ROW_BITS) - 1)
        files = np.asarray(self.files, dtype=object)[part]
        return files, np.asarray(self.offsets, dtype=np.int64)[part] + pos + 1

    def describe(self, key: int, relative_to: str | None = None) -> str:
        """``row N`` (in ``relative_to``'s file) or ``FILE row N`` (in another file)."""
        files, rows = self.of_keys(np.array([key]))
        if files[0] == relative_to:
            return f"row {rows[0]}"
        return f"{files[0]} row {rows[0]}"


def renumber_rejects(url: str, offset: int) -> None:
    """Add ``offset`` (the rows of the file in the partitions before) to a rejects file's
    row numbers."""
    import fsspec

    with fsspec.open(url, "r") as handle:
        rejects = pd.read_csv(handle, dtype={"value": "str"}, keep_default_na=False)
    rejects["row"] += offset
    write_csv(rejects, url)


def source_errors(summaries: list[dict], places: RowPlaces) -> list[RowError]:
    """The errors the partitions sent back (the first of each), numbered as rows of their
    files."""
    errors: list[RowError] = []
    for s in sorted(summaries, key=lambda s: s["index"]):
        file, offset = places.files[s["index"]], places.offsets[s["index"]]
        errors += [
            RowError(e.row + offset, e.field, e.value, e.error, file) for e in s["first_errors"]
        ]
    return errors
