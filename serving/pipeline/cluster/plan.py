"""Partitions of a campaign file, planned from its metadata on the client and read by the
workers themselves."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from serving.pipeline.batch import is_parquet, parquet_files

#: Rows per partition (one task of each pass); the client holds one partition's decisions.
DEFAULT_PARTITION_ROWS = 100_000


@dataclass(frozen=True)
class Partition:
    """A slice of the campaign file a worker reads by itself."""

    index: int
    path: str
    kind: str  # "csv" | "parquet"
    offset: int = 0  # csv: byte range [offset, offset + length), aligned to newlines
    length: int = 0
    header: bytes = b""  # csv: the header line, put before every block but the first
    row_groups: tuple[int, ...] = ()  # parquet: the row groups of ``path``


# ----------------------------------------------------------------------------- planning
def plan_partitions(path: Path, partition_rows: int = DEFAULT_PARTITION_ROWS) -> list[Partition]:
    """Partitions of a CSV file, a Parquet file or a folder of Parquet files, from metadata
    (and, for a CSV, the first megabyte to estimate the bytes of a row)."""
    path = path.resolve()
    if is_parquet(path):
        return _parquet_partitions(path, partition_rows)
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(1 << 20)
    header = sample.split(b"\n", 1)[0] + b"\n"
    lines = max(sample.count(b"\n") - 1, 1)
    per_row = max((len(sample) - len(header)) / lines, 1.0)
    block = max(int(per_row * partition_rows), 1024)
    return [
        Partition(i, str(path), "csv", offset, min(block, size - offset), header)
        for i, offset in enumerate(range(0, max(size, 1), block))
    ]


def _parquet_partitions(path: Path, partition_rows: int) -> list[Partition]:
    import pyarrow.parquet as pq

    out: list[Partition] = []
    for file in parquet_files(path):
        meta = pq.ParquetFile(file).metadata
        groups: list[int] = []
        rows = 0
        for g in range(meta.num_row_groups):
            groups.append(g)
            rows += meta.row_group(g).num_rows
            if rows >= partition_rows:
                out.append(Partition(len(out), str(file), "parquet", row_groups=tuple(groups)))
                groups, rows = [], 0
        if groups:
            out.append(Partition(len(out), str(file), "parquet", row_groups=tuple(groups)))
    return out


def read_partition(part: Partition) -> Any:
    """The rows of a partition as a DataFrame, read as the local command reads them (CSV:
    every column as text; Parquet: as stored, then validated by the contract)."""
    import io

    import pandas as pd

    if part.kind == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(part.path).read_row_groups(list(part.row_groups)).to_pandas()
    from fsspec.utils import read_block

    with open(part.path, "rb") as handle:
        block = read_block(handle, part.offset, part.length, delimiter=b"\n")
    if part.offset == 0:
        data = block
    elif not block:
        return pd.DataFrame()
    else:
        data = part.header + block
    if not data.strip():
        return pd.DataFrame()
    return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)


def run_file(run_dir: str, stem: str, index: int, suffix: str) -> Path:
    """A file of the run's shared folder: ``<stem>-NNNNN<suffix>`` (a partition or bucket)."""
    return Path(run_dir) / f"{stem}-{index:05d}{suffix}"


def replace_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """``write`` a temporary sibling, then rename it to ``path``: a reader (or a retried
    task) sees the whole file or none."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}")
    write(temp)
    os.replace(temp, path)
