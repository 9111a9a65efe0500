"""The store's history back out as contract files, for retraining and audits.

:meth:`ExportMixin.export_frames` streams one record type (events, consent, preferences, DNC)
in chunks of at most ``chunk_rows`` rows, oldest first, as frames in the record's data
contract — the columns :func:`features.io.load_records` reads back. Numbers are decrypted
with the store's key, or with ``pseudonymise`` replaced by a keyed pseudonym
(:func:`pseudonym`) plus the number facts the features need
(:data:`features.pseudonyms.PSEUDONYM_FACTS`; features and training read such files).
:class:`ContractWriter` appends the chunks to a CSV or Parquet file, so memory stays bounded
by one chunk whatever the size of the store.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from features.io import _pandas_dtype, columns_for, to_arrow
from features.pseudonyms import PSEUDONYM_FACTS, PSEUDONYM_PREFIX
from features.schema import FILE_RECORDS
from serving.store import tables as t
from serving.store.base import StoreBase
from serving.store.crypto import PURPOSE_EVIDENCE, PURPOSE_NUMBER, PURPOSE_TEXT
from serving.store.sql import from_us, to_us

#: Record types that can be exported → (table, the column that orders and filters by time).
EXPORTABLE: dict[str, tuple[Any, str]] = {
    "events": (t.events, "ts"),
    "consent": (t.consent, "granted_at"),
    "preferences": (t.preferences, "updated_at"),
    "dnc": (t.dnc, "added_at"),
}
#: Encrypted columns and their purpose labels (decrypted into the contract field).
_ENCRYPTED = {"text_enc": ("text", PURPOSE_TEXT), "evidence_enc": ("evidence", PURPOSE_EVIDENCE)}
DEFAULT_CHUNK = 20_000


def pseudonym(number_hash: bytes) -> str:
    """The exported stand-in of a number: stable for one HMAC key, not reversible without it."""
    return PSEUDONYM_PREFIX + number_hash.hex()


def _number_facts(e164: str) -> tuple[str | None, str, str | None]:
    from features.phone import normalize

    record = normalize(e164)
    return record.region, record.line_type, "|".join(record.time_zones) or None


class ExportMixin(StoreBase):
    """Streaming exports of the append-only tables in their data contracts."""

    def _export_statement(
        self, record: str, since: dt.datetime | None, until: dt.datetime | None, *, count: bool
    ) -> Any:
        if record not in EXPORTABLE:
            raise ValueError(
                f"record {record!r} cannot be exported; choose from {', '.join(EXPORTABLE)}"
            )
        table, time_col = EXPORTABLE[record]
        stmt = select(func.count()).select_from(table) if count else select(table)
        if since is not None:
            stmt = stmt.where(table.c[time_col] >= to_us(since))
        if until is not None:
            stmt = stmt.where(table.c[time_col] < to_us(until))
        if not count:
            key = table.c.event_id if record == "events" else table.c.id
            stmt = stmt.order_by(table.c[time_col], key)
        return stmt

    def count_records(
        self, record: str, since: dt.datetime | None = None, until: dt.datetime | None = None
    ) -> int:
        """How many rows :meth:`export_frames` would yield (for a progress bar)."""
        with self._read() as conn:
            return int(
                conn.execute(self._export_statement(record, since, until, count=True)).scalar()
            )

    def export_frames(
        self,
        record: str,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        *,
        pseudonymise: bool = False,
        chunk_rows: int = DEFAULT_CHUNK,
    ) -> Iterator[pd.DataFrame]:
        """Rows of ``record`` with ``since <= time < until`` (``ts``, ``granted_at``,
        ``updated_at`` or ``added_at``), oldest first, as contract frames of at most
        ``chunk_rows`` rows. One read transaction, streamed from the database cursor.

        A DNC row whose number was erased has no number to export: it is exported under its
        pseudonym (the person must stay on the list) even without ``pseudonymise``.
        """
        model = FILE_RECORDS[record]
        cols = columns_for(model)
        names = [c.name for c in cols]
        stmt = self._export_statement(record, since, until, count=False)
        crypto = self._crypto
        facts: dict[bytes, tuple[str | None, str, str | None]] = {}
        with self._read() as conn:
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(stmt)
            for rows in result.mappings().partitions(chunk_rows):
                data: dict[str, list[Any]] = {n: [] for n in names}
                extra: dict[str, list[Any]] = {n: [] for n in PSEUDONYM_FACTS}
                for row in rows:
                    h = bytes(row["number_hash"])
                    enc = row["number_enc"]
                    for name in names:
                        if name == "number":
                            if pseudonymise or enc is None:
                                value: Any = pseudonym(h)
                            else:
                                value = crypto.decrypt(enc, PURPOSE_NUMBER)
                        elif name in ("text", "evidence"):
                            enc_col = f"{name}_enc"
                            value = crypto.decrypt_optional(row[enc_col], _ENCRYPTED[enc_col][1])
                        elif name in row:
                            value = row[name]
                        else:  # evaluation-only fields the store does not keep
                            value = None
                        data[name].append(value)
                    if pseudonymise:
                        if h not in facts:
                            facts[h] = (
                                _number_facts(crypto.decrypt(enc, PURPOSE_NUMBER))
                                if enc is not None
                                else (None, "unknown", None)
                            )
                        for name, value in zip(PSEUDONYM_FACTS, facts[h], strict=True):
                            extra[name].append(value)
                frame = _contract_frame(data, cols)
                if pseudonymise:
                    for name in PSEUDONYM_FACTS:
                        frame[name] = pd.array(extra[name], dtype="string")
                yield frame


def _contract_frame(data: dict[str, list[Any]], cols: Any) -> pd.DataFrame:
    out: dict[str, Any] = {}
    for col in cols:
        values = data[col.name]
        if col.kind == "instant":
            out[col.name] = pd.to_datetime(
                [from_us(v) if v is not None else None for v in values], utc=True
            ).astype(_pandas_dtype(col))
        elif col.kind == "bool":
            out[col.name] = pd.array(
                [None if v is None else bool(v) for v in values], dtype="boolean"
            )
        else:
            out[col.name] = pd.array(values, dtype=_pandas_dtype(col))
    return pd.DataFrame(out)


class ContractWriter:
    """Append contract frames to one CSV (ISO-8601 instants) or Parquet file (typed, zstd).

    The format follows the suffix (``.csv`` or ``.parquet``/``.pq``). The file is written
    under a temporary name and moved into place on a clean close, so an interrupted export
    never leaves a half file under the requested name.
    """

    def __init__(self, path: str | Path, record: str, extra_columns: tuple[str, ...] = ()) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".parquet", ".pq"):
            raise ValueError(f"--out {self.path.name}: use a .csv or .parquet file")
        self.csv = suffix == ".csv"
        self.cols = list(columns_for(FILE_RECORDS[record]))
        self.extra = extra_columns
        self.rows = 0
        self._tmp = self.path.with_name(f".{self.path.name}.partial")
        self._handle: Any = None
        self._writer: Any = None

    def __enter__(self) -> ContractWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.csv:
            self._handle = self._tmp.open("w", newline="", encoding="utf-8")
            csv.writer(self._handle).writerow([c.name for c in self.cols] + list(self.extra))
        return self

    def write(self, frame: pd.DataFrame) -> None:
        if self.csv:
            out = frame[[c.name for c in self.cols] + list(self.extra)].copy()
            for c in self.cols:
                if c.kind == "instant":
                    out[c.name] = (
                        out[c.name]
                        .dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
                        .str.replace(".000000Z", "Z", regex=False)
                    )
            out.to_csv(self._handle, index=False, header=False)
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = to_arrow(frame, self.cols)
            for name in self.extra:
                table = table.append_column(
                    name, pa.array(frame[name], type=pa.string(), from_pandas=True)
                )
            if self._writer is None:
                self._writer = pq.ParquetWriter(self._tmp, table.schema, compression="zstd")
            self._writer.write_table(table)
        self.rows += len(frame)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.csv:
            self._handle.close()
        elif self._writer is not None:
            self._writer.close()
        elif exc_type is None:  # nothing written: an empty file with the contract's schema
            import pyarrow.parquet as pq

            empty = to_arrow(
                pd.DataFrame({c.name: [] for c in self.cols}).astype(
                    {c.name: _pandas_dtype(c) for c in self.cols}
                ),
                self.cols,
            )
            pq.write_table(empty, self._tmp)
        if exc_type is None:
            self._tmp.replace(self.path)
        else:
            self._tmp.unlink(missing_ok=True)
