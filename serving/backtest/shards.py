"""A large history in shards of numbers, so that a backtest's memory is bounded by a shard.

A number's replayed contacts, features and labels depend only on its own events, consents,
DNC records and preferences (plus the registries and blocked periods, which every shard
sees whole). So the events file is read once in batches, each batch validated (errors name
the file, the file's row and the field) and its numbers normalised, and every row is
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
#: days, so ~170,000 numbers a shard); a history with fewer events is not split.
SHARD_EVENTS = 1_000_000
#: Numbers whose events before ``T0`` train the model when the history is split (whole
#: shards are taken in order until this many numbers; a shard is a random sample of numbers).
TRAIN_NUMBERS = 200_000
#: Rows read from the events file at a time.
BATCH_ROWS = 250_000
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
    """A history folder split by number: event shards on disk, the other records in memory."""

    paths: list[Path]
    events: int  # valid rows kept
    data_end: pd.Timestamp
    sources: dict[str, str]
    rest: History  # consent, DNC, preferences, blocked periods, registries (events empty)
    notes: list[str] = field(default_factory=list)
    store: Any = None  # registry snapshots read from this store, shard by shard

    def history(self, index: int, *, before: pd.Timestamp | None = None) -> History:
        """Shard ``index`` as a :class:`History` (its events strictly before ``before``)."""
        import pyarrow.parquet as pq

        filters = [("ts", "<", before.to_pydatetime())] if before is not None else None
        events = pq.read_table(self.paths[index], filters=filters).to_pandas()
        events = _without_replays(events, self.sources["events"])
        return self._with_records(events, index)

    def _with_records(self, events: pd.DataFrame, index: int | None) -> History:
        shards = len(self.paths)
        out = History(events=events, sources=self.sources)
        for name in OPTIONAL_RECORDS:
            frame = getattr(self.rest, name)
            if frame is not None and name != "blocked_periods" and index is not None:
                frame = frame[shard_of(frame["number"], shards) == index].reset_index(drop=True)
            setattr(out, name, frame)
        registries = self.rest.registries
        if self.store is not None and index is not None:
            registries, _ = registries_from_store(self.store, events["number"].unique())
        elif registries is not None and index is not None:
            # this shard's listings, and every snapshot (a snapshot listing none of them
            # still decides which snapshot is in force, and when)
            mine = registries[
                registries["number"].notna()
                & (shard_of(registries["number"].fillna(""), shards) == index)
            ]
            every = registries.drop_duplicates(["registry", "snapshot_at"]).assign(number=pd.NA)
            registries = pd.concat([mine, every], ignore_index=True)
            registries["number"] = registries["number"].astype("string")
        out.registries = registries
        return out

    def training_history(self, before: pd.Timestamp, numbers: int) -> tuple[History, int]:
        """The events before ``before`` of whole shards, in order, until ``numbers`` numbers
        are reached; the records of those numbers; and how many shards were taken."""
        frames: list[pd.DataFrame] = []
        seen = 0
        taken = 0
        for index in range(len(self.paths)):
            part = self.history(index, before=before).events
            frames.append(part)
            seen += part["number"].nunique()
            taken += 1
            if seen >= numbers:
                break
        events = pd.concat(frames, ignore_index=True)
        history = self._with_records(events, None)
        chosen = set(range(taken))
        for name in ("consent", "dnc", "preferences"):
            frame = getattr(history, name)
            if frame is not None:
                keep = np.isin(shard_of(frame["number"], len(self.paths)), list(chosen))
                setattr(history, name, frame[keep].reset_index(drop=True))
        return history, taken


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


def split_history(
    folder: Path,
    workdir: Path,
    *,
    shard_events: int = SHARD_EVENTS,
    batch_rows: int = BATCH_ROWS,
    store: Any = None,
) -> Shards:
    """Split ``folder``'s events by number into shards of about ``shard_events`` events under
    ``workdir``; load the other records whole. Invalid rows are errors naming the file, row
    and field, as :func:`features.io.load_records` names them. With ``store``, the registry
    snapshots are read from it (:func:`registries_from_store`), each shard's numbers at a
    time; a registries file beside the events is then an error (two sources of one fact)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from features.io import (
        InvalidFileError,
        RowError,
        columns_for,
        load_records,
        normalise_numbers,
        to_arrow,
        validate_frame,
    )
    from features.schema import Event
    from training.data import find_file

    folder = Path(folder)
    events_file = find_file(folder, "events") if folder.is_dir() else None
    if events_file is None:
        raise FileNotFoundError(f"{folder}: no events.parquet or events.csv in this folder")
    shards = max(1, math.ceil(count_rows(events_file) / max(shard_events, 1)))
    workdir.mkdir(parents=True, exist_ok=True)
    paths = [workdir / f"events-{i:04d}.parquet" for i in range(shards)]
    writers: list = [None] * shards
    errors: list[RowError] = []
    notes: list[str] = []
    offset = kept = 0
    data_end = None
    try:
        for raw in _raw_batches(events_file, batch_rows):
            try:
                typed, found = validate_frame(raw, Event, notes=notes)
            except ValueError as exc:
                raise ValueError(f"{events_file.name}: {exc}") from exc
            normalise_numbers(typed, None, found)
            errors += [RowError(e.row + offset, e.field, e.value, e.error) for e in found]
            good = np.ones(len(typed), dtype=bool)
            if found:
                good[np.unique([e.row for e in found]) - 1] = False
            typed = typed[good]
            cols = [c for c in columns_for(Event) if c.name in typed.columns]
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
            if len(typed):
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
        raise InvalidFileError(events_file, errors, csv=events_file.suffix.lower() != ".parquet")
    if data_end is None:
        raise ValueError(f"{events_file.name}: no events")
    empty = [i for i, w in enumerate(writers) if w is None]
    for index in empty:  # a shard no number hashed to: an empty file of the same columns
        empty_table = to_arrow(typed.iloc[:0], cols)
        pq.write_table(empty_table.append_column(ROW, pa.array([], pa.int64())), paths[index])
    rest = History(events=pd.DataFrame())
    sources = {"events": events_file.name}
    for name in OPTIONAL_RECORDS:
        path = find_file(folder, name)
        if path is not None:
            setattr(rest, name, load_records(path, name).frame)
            sources[name] = path.name
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
    return Shards(paths, kept, data_end, sources, rest, list(dict.fromkeys(notes)), store)
