"""A large history in shards of numbers, so that a backtest's memory is bounded by a shard.

A number's replayed contacts, features and labels depend only on its own events, consents,
DNC records and preferences (plus the registries and blocked periods, which every shard
sees whole). So each of those files is read once in batches, each batch validated (errors
name the file, the file's row and the field) and its numbers normalised, and every row is
appended to the shard of its number — a hash of the E.164, so one number's rows, whatever
their spelling in the file, land in one shard. The backtest then trains on the shards'
events before ``T0`` (up to a number of numbers) and replays and scores one shard at a time,
keeping only the few columns the strategies need.

The shards are Parquet files in a temporary folder, removed when the backtest ends.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from serving.backtest.history import (
    OPTIONAL_RECORDS,
    REGISTRY_FILE,
    History,
    load_registries,
    registries_from_store,
)

#: Events per shard by default (the simulator writes about 6 events per number over 90
#: days, so ~85,000 numbers a shard); a history with fewer events is not split.
SHARD_EVENTS = 500_000
#: Numbers whose events before ``T0`` train the model when the history is split (whole
#: shards are taken in order until this many numbers; a shard is a random sample of numbers).
TRAIN_NUMBERS = 100_000
#: Rows read from the events file at a time.
BATCH_ROWS = 100_000
#: The column that keeps each row's row number in the events file (for error messages).
ROW = "_row"


def shard_of(numbers: pd.Series | np.ndarray, shards: int) -> np.ndarray:
    """The shard of each number (stable across runs and machines: a keyed-free hash)."""
    values = np.asarray(numbers, dtype=object)
    if shards == 1:
        return np.zeros(len(values), dtype=np.int64)
    hashed = pd.util.hash_array(values, categorize=True)
    return (hashed % np.uint64(shards)).astype(np.int64)


def count_rows(path: Path) -> int:
    """Data rows of an events file, without loading it."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    lines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 24):
            lines += chunk.count(b"\n")
    return max(lines - 1, 0)


def _raw_batches(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The file's rows ``rows`` at a time, as :func:`features.io.read_raw` reads them."""
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            yield batch.to_pandas()
        return
    from features.io import sniff_delimiter

    yield from pd.read_csv(
        path, dtype="str", keep_default_na=False, na_values=[""], sep=sniff_delimiter(path),
        encoding="utf-8-sig", chunksize=rows,
    )  # fmt: skip


@dataclass
class Shards:
    """A history folder split by number: the per-number files (events, consent, DNC,
    preferences) in shards on disk, blocked periods and registries in memory."""

    paths: list[Path]  # the event shards
    events: int  # valid event rows kept
    data_end: pd.Timestamp
    sources: dict[str, str]
    rest: History  # blocked periods, registries (events empty)
    notes: list[str] = field(default_factory=list)
    store: Any = None  # registry snapshots read from this store, shard by shard
    records: dict[str, list[Path]] = field(default_factory=dict)  # consent, dnc, preferences

    def history(self, index: int, *, before: pd.Timestamp | None = None) -> History:
        """Shard ``index`` as a :class:`History` (its events strictly before ``before``)."""
        import pyarrow.parquet as pq

        filters = [("ts", "<", before.to_pydatetime())] if before is not None else None
        events = pq.read_table(self.paths[index], filters=filters).to_pandas()
        events = _without_replays(events, self.sources["events"])
        out = History(events=events, sources=self.sources)
        out.blocked_periods = self.rest.blocked_periods
        for name, paths in self.records.items():
            frame = pq.read_table(paths[index]).to_pandas()
            setattr(out, name, frame.drop(columns=[ROW]))
        if self.store is not None:
            out.registries, _ = registries_from_store(self.store, events["number"].unique())
        elif self.rest.registries is not None:
            # this shard's listings, and every snapshot (a snapshot listing none of them
            # still decides which snapshot is in force, and when)
            registries = self.rest.registries
            mine = registries[
                registries["number"].notna()
                & (shard_of(registries["number"].fillna(""), len(self.paths)) == index)
            ]
            every = registries.drop_duplicates(["registry", "snapshot_at"]).assign(number=pd.NA)
            out.registries = pd.concat([mine, every], ignore_index=True)
            out.registries["number"] = out.registries["number"].astype("string")
        return out

    def training_history(self, before: pd.Timestamp, numbers: int) -> tuple[History, int]:
        """The events before ``before`` of whole shards, in order, until ``numbers`` numbers
        are reached; the consents, DNC records and preferences of those shards; and how many
        shards were taken."""
        parts: list[History] = []
        seen = 0
        for index in range(len(self.paths)):
            parts.append(self.history(index, before=before))
            seen += parts[-1].events["number"].nunique()
            if seen >= numbers:
                break
        history = History(
            events=pd.concat([p.events for p in parts], ignore_index=True), sources=self.sources
        )
        history.blocked_periods = self.rest.blocked_periods
        for name in self.records:
            frames = [getattr(p, name) for p in parts]
            setattr(history, name, pd.concat(frames, ignore_index=True))
        return history, len(parts)


def _without_replays(events: pd.DataFrame, source: str) -> pd.DataFrame:
    """A shard's events without exact repeats of an earlier row (replays, no-ops); a repeated
    ``event_id`` with other values is an error naming the file's rows."""
    rows = events.pop(ROW)
    ids = events["event_id"]
    if not ids.duplicated().any():
        return events
    content = pd.util.hash_pandas_object(events.astype("string"), index=False)
    repeat = content.duplicated().to_numpy() & ids.duplicated().to_numpy()
    events, rows = events[~repeat], rows[~repeat]
    clash = events["event_id"].duplicated(keep=False).to_numpy()
    if clash.any():
        first, second = (int(r) for r in rows[clash].sort_values().iloc[:2])
        raise ValueError(
            f"{source} row {second}: event_id {events['event_id'][clash].iloc[0]!r} repeats "
            f"the event_id of row {first} with different values"
        )
    return events.reset_index(drop=True)


def _split_file(
    path: Path, record: str, shards: int, workdir: Path, batch_rows: int
) -> tuple[list[Path], int, pd.Timestamp | None, list[str]]:
    """Validate ``path`` batch by batch and append each valid row to its number's shard:
    the shard files, the rows kept, the latest ``ts`` (events) and the notes. Every invalid
    row is an error naming the file, its row and the field."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from features.io import (
        InvalidFileError,
        RowError,
        columns_for,
        normalise_numbers,
        to_arrow,
        validate_frame,
    )
    from features.schema import FILE_RECORDS

    model = FILE_RECORDS[record]
    paths = [workdir / f"{record}-{i:04d}.parquet" for i in range(shards)]
    writers: list = [None] * shards
    errors: list[RowError] = []
    notes: list[str] = []
    offset = kept = 0
    data_end = None
    cols: list = []
    try:
        for raw in _raw_batches(path, batch_rows):
            try:
                typed, found = validate_frame(raw, model, notes=notes)
            except ValueError as exc:
                raise ValueError(f"{path.name}: {exc}") from exc
            normalise_numbers(typed, None, found)
            errors += [RowError(e.row + offset, e.field, e.value, e.error) for e in found]
            good = np.ones(len(typed), dtype=bool)
            if found:
                good[np.unique([e.row for e in found]) - 1] = False
            typed = typed[good]
            cols = [c for c in columns_for(model) if c.name in typed.columns]
            table = to_arrow(typed, cols)
            table = table.append_column(
                ROW, pa.array(np.flatnonzero(good) + offset + 1, pa.int64())
            )
            shard = shard_of(typed["number"], shards)
            for index in np.unique(shard):
                part = table.filter(pa.array(shard == index))
                if writers[index] is None:
                    writers[index] = pq.ParquetWriter(paths[index], part.schema)
                writers[index].write_table(part)
            if "ts" in typed.columns and len(typed):
                end = typed["ts"].max()
                data_end = end if data_end is None else max(data_end, end)
            kept += len(typed)
            offset += len(raw)
    finally:
        for writer in writers:
            if writer is not None:
                writer.close()
    if errors:
        errors.sort(key=lambda e: (e.row, e.field))
        raise InvalidFileError(path, errors, csv=path.suffix.lower() != ".parquet")
    cols = cols or list(columns_for(model))
    fields = [pa.field(c.name, c.arrow_type) for c in cols] + [pa.field(ROW, pa.int64())]
    for index in [i for i, w in enumerate(writers) if w is None]:
        # a shard no number hashed to (or an empty file): no rows, the same columns
        pq.write_table(pa.schema(fields).empty_table(), paths[index])
    return paths, kept, data_end, notes


def split_history(
    folder: Path,
    workdir: Path,
    *,
    shard_events: int = SHARD_EVENTS,
    batch_rows: int = BATCH_ROWS,
    store: Any = None,
) -> Shards:
    """Split ``folder``'s events, consents, DNC records and preferences by number into shards
    of about ``shard_events`` events under ``workdir``; load the blocked periods and the
    registries whole. Invalid rows are errors naming the file, row and field, as
    :func:`features.io.load_records` names them. With ``store``, the registry snapshots are
    read from it (:func:`registries_from_store`), each shard's numbers at a time; a
    registries file beside the events is then an error (two sources of one fact)."""
    from features.io import load_records
    from training.data import find_file

    folder = Path(folder)
    events_file = find_file(folder, "events") if folder.is_dir() else None
    if events_file is None:
        raise FileNotFoundError(f"{folder}: no events.parquet or events.csv in this folder")
    shards = max(1, math.ceil(count_rows(events_file) / max(shard_events, 1)))
    workdir.mkdir(parents=True, exist_ok=True)
    paths, kept, data_end, notes = _split_file(events_file, "events", shards, workdir, batch_rows)
    if data_end is None:
        raise ValueError(f"{events_file.name}: no events")
    rest = History(events=pd.DataFrame())
    sources = {"events": events_file.name}
    records: dict[str, list[Path]] = {}
    for name in OPTIONAL_RECORDS:
        path = find_file(folder, name)
        if path is None:
            continue
        sources[name] = path.name
        if name == "blocked_periods":  # no number: every shard sees them all
            rest.blocked_periods = load_records(path, name).frame
        else:
            records[name], _, _, more = _split_file(path, name, shards, workdir, batch_rows)
            notes += more
    path = find_file(folder, REGISTRY_FILE)
    if path is not None and store is not None:
        raise ValueError(
            f"{path.name}: registry snapshots come from the store (--db-url) in this run; "
            "move the file away or leave out --db-url"
        )
    if path is not None:
        rest.registries = load_registries(path)
        sources[REGISTRY_FILE] = path.name
    if store is not None:
        sources[REGISTRY_FILE] = f"store {store.safe_url}"
    notes = list(dict.fromkeys(notes))
    return Shards(paths, kept, data_end, sources, rest, notes, store, records)
