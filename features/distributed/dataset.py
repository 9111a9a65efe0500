"""The training frame from storage to storage on a Dask cluster.

The graph, all of it on the workers::

    read partitions (Parquet row groups / CSV blocks, any fsspec URL)
      → check each partition (features.io.check_records: the contract, E.164)
      → shuffle by number (the history key)        → shuffle (event_id, order, key) by id
      → per partition: repeated event ids resolved (features.distributed.repeats),
        build_training_frame, write OUT/part-NNNNN.parquet (one schema for every file)
    consent: read and checked the same way, concatenated once on a worker, given to every
    partition.

The client receives one small summary per input partition (its file, rows, kept, rejected,
the first messages) and one per output partition (contacts, positives per target, the first
repeats rejected), never events, ids or frame rows. A source with invalid rows fails closed
as the loaders do: without ``skip_invalid`` the dataset is removed and the error lists the
rows; with it the rejects are written to ``OUT/_rejects/<record>-NNNNN.csv`` (per input
partition) and ``OUT/_rejects/events-repeats-NNNNN.csv`` (per number-partition), each row
named by its file and its row within that file.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from features.definitions import TARGETS
from features.distributed.partition import KEY, ROW, connected, partition_frame
from features.distributed.repeats import cross_number_repeats, reject_errors, resolve_repeats
from features.distributed.sizing import choose_partitions, cluster_threads
from features.distributed.source import (
    RowPlaces,
    Source,
    check_partition,
    read_source,
    renumber_rejects,
    resolve_source,
    source_errors,
    write_csv,
)

if TYPE_CHECKING:
    import pyarrow as pa
    from distributed import Client

#: The folder (inside the dataset) the rejects of ``skip_invalid`` go to; readers skip it.
REJECTS_FOLDER = "_rejects"
PART_NAME = "part-{:05d}.parquet"
_STATS_COLUMNS = ["partition", "events", "contacts", "replays", "conflicts", *TARGETS]
_STATS_META = pd.DataFrame(
    {**{c: pd.Series(dtype="int64") for c in _STATS_COLUMNS}, "errors": pd.Series(dtype=object)}
)


@dataclass
class DatasetSummary:
    """What :func:`frame_dataset` did, from per-partition aggregates."""

    out: str
    files: int
    contacts: int
    positives: dict[str, int]
    #: Number-partitions: given, or chosen from the input's rows and the cluster's threads.
    partitions: int = 0
    #: Per record (events, consent): rows read, kept, rejected, invalid numbers.
    loads: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Per record, the name of its file or folder (what the local engine's lines start with).
    names: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def describe(self) -> list[str]:
        lines = []
        for record, n in self.loads.items():
            invalid = (
                f", {n['invalid_numbers']:,} with an invalid number" if n["invalid_numbers"] else ""
            )
            name = self.names.get(record, record)
            lines.append(
                f"{name}: {n['kept']:,} row(s) kept, {n['rejected_rows']:,} rejected{invalid}"
            )
        lines += self.notes
        if self.rejects:
            lines.append(
                f"rejects written to {len(self.rejects)} file(s) in {self.out}/{REJECTS_FOLDER}/"
            )
        return lines


def _frame_schema(
    meta_events: pd.DataFrame, meta_consent: pd.DataFrame | None, horizon: str
) -> pa.Schema:
    """The Arrow schema every partition's file is written with (columns typed null in an
    empty frame are text)."""
    import pyarrow as pa

    empty = partition_frame(meta_events.iloc[:0], meta_consent, horizon)
    schema = pa.Schema.from_pandas(empty.drop(columns=[ROW]), preserve_index=False)
    fields = [
        f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in schema
    ]  # fmt: skip
    return pa.schema(fields)


def _write_part(
    part: pd.DataFrame,
    consent: pd.DataFrame | None,
    horizon: str,
    out: str,
    schema: pa.Schema,
    cross: pd.DataFrame | None,
    places: RowPlaces,
    rejects_dir: str | None,
    partition_info: dict | None = None,
) -> pd.DataFrame:
    """One output partition: repeated event ids resolved over the whole source (replays
    skipped, conflicts rejected, written to ``rejects_dir``), the frame built and written as
    ``OUT/part-NNNNN.parquet``; returns its one-row summary."""
    import fsspec
    import pyarrow as pa
    import pyarrow.parquet as pq

    index = int(partition_info["number"]) if partition_info else 0
    part, replays, rejects = resolve_repeats(part, cross, places)
    if len(rejects) and rejects_dir is not None:
        write_csv(rejects, f"{rejects_dir}/events-repeats-{index:05d}.csv")
    frame = partition_frame(part, consent, horizon).drop(columns=[ROW])
    table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
    with fsspec.open(f"{out}/{PART_NAME.format(index)}", "wb", auto_mkdir=True) as handle:
        pq.write_table(table, handle, compression="zstd")
    row = {
        "partition": index,
        "events": len(part),
        "contacts": len(frame),
        "replays": replays,
        "conflicts": len(rejects),
        **{t: int(frame[t].sum()) for t in TARGETS},
        "errors": reject_errors(rejects),
    }
    return pd.DataFrame([row], columns=_STATS_META.columns).astype(
        {c: "int64" for c in _STATS_COLUMNS}
    )


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(parts, ignore_index=True)


def _prepare_out(out: str) -> None:
    """Create the dataset folder; remove the files of an earlier run (fewer partitions now
    must not leave old ones behind)."""
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(out)
    if fs.exists(path) and not fs.isdir(path):
        raise ValueError(f"{out}: exists and is not a folder (the dask engine writes a dataset)")
    fs.makedirs(path, exist_ok=True)
    _remove_out(out)


def _remove_out(out: str) -> None:
    """Remove a dataset's files and rejects (nothing else in the folder)."""
    import fsspec.core

    fs, path = fsspec.core.url_to_fs(out)
    old = fs.glob(f"{path}/part-*.parquet")
    if old:
        fs.rm(old)
    if fs.exists(f"{path}/{REJECTS_FOLDER}"):
        fs.rm(f"{path}/{REJECTS_FOLDER}", recursive=True)


def _checked(
    client: Client,
    source: Source,
    record: str,
    options: dict,
    rejects_dir: str | None,
    blocksize,
) -> tuple[list, pd.DataFrame, int]:
    """(the checked partitions as delayed (rows, summary) pairs, their meta, the source's
    rows as its metadata tells). The meta is checked on a worker too: the client loads no
    phone-number machinery."""
    from dask import delayed

    raw = read_source(source, blocksize)
    meta, _ = client.submit(
        check_partition, raw.meta, 0, source, record, options, None, pure=False
    ).result()
    dtypes = meta.dtypes.to_dict()
    pairs = [
        delayed(check_partition, nout=2, pure=True)(
            part, i, source, record, options, rejects_dir, dtypes
        )
        for i, part in enumerate(raw.parts)
    ]
    return pairs, meta, raw.rows


def frame_dataset(
    events: str | Path,
    out: str | Path,
    consent: str | Path | None = None,
    *,
    horizon: str = "7D",
    npartitions: int | None = None,
    scheduler: str | None = None,
    client: Client | None = None,
    default_region: str | None = None,
    skip_invalid: bool = False,
    strict: bool = False,
    blocksize: str | int = "64MiB",
    progress: bool = True,
) -> DatasetSummary:
    """Build the training frame of ``events`` (and ``consent``) on the cluster and write it
    to the dataset folder ``out`` (``part-NNNNN.parquet``, one per number-partition).

    ``npartitions`` — the number-partitions; by default chosen from the events' rows (the
    Parquet footers, a CSV's size) and the cluster's threads (:func:`features.distributed.
    sizing.choose_partitions`). Inputs and ``out`` are paths or fsspec URLs the WORKERS can
    reach. ``client`` — an
    existing ``distributed.Client``; else ``scheduler`` — a running scheduler's address;
    else a local cluster of 2 worker processes for the call. Raises
    :class:`features.io.InvalidFileError` (the dataset removed) when a source has invalid
    rows and ``skip_invalid`` is false.
    """
    import dask.dataframe as dd
    from dask import delayed
    from distributed import as_completed

    from features.io import InvalidFileError

    if npartitions is not None and npartitions < 1:
        raise ValueError(f"npartitions must be at least 1, not {npartitions}")
    t0 = time.perf_counter()
    out = str(out).rstrip("/")
    # as the local engine reads them: a pseudonymised export's numbers with their facts
    options = {"default_region": default_region, "strict": strict, "pseudonyms": True}
    sources = {"events": resolve_source(events)}
    if consent is not None:
        sources["consent"] = resolve_source(consent)
    _prepare_out(out)
    rejects_dir = f"{out}/{REJECTS_FOLDER}" if skip_invalid else None

    with connected(scheduler, client) as running:
        checked = {
            r: _checked(running, s, r, options, rejects_dir, blocksize) for r, s in sources.items()
        }
        ev_pairs, ev_meta, ev_rows = checked["events"]
        if npartitions is None:
            npartitions = choose_partitions(ev_rows, *cluster_threads(running))
        kept = dd.from_delayed([p[0] for p in ev_pairs], meta=ev_meta, verify_meta=False)
        consent_all = consent_meta = None
        if "consent" in checked:
            co_pairs, consent_meta, _ = checked["consent"]
            consent_all = delayed(_concat, pure=True)([p[0] for p in co_pairs])
        summaries = {r: [p[1] for p in pairs] for r, (pairs, _, _) in checked.items()}
        places = delayed(RowPlaces.of, pure=True)(summaries["events"], sources["events"].name)
        # on a worker: the client neither compiles the kernel nor builds a frame
        schema = delayed(_frame_schema, pure=True)(ev_meta, consent_meta, horizon)
        by_id = kept[["event_id", ROW, KEY]].shuffle(on="event_id", npartitions=npartitions)
        cross_meta = pd.DataFrame({c: pd.Series(dtype="int64") for c in (ROW, "_first_row")})
        cross = by_id.map_partitions(cross_number_repeats, meta=cross_meta).to_delayed()
        cross_all = delayed(_concat, pure=True)(cross)
        by_number = kept.shuffle(on=KEY, npartitions=npartitions)
        written = by_number.map_partitions(
            _write_part, consent_all, horizon, out, schema, cross_all, places, rejects_dir,
            meta=_STATS_META, align_dataframes=False,
        )  # fmt: skip

        part_futures = running.compute(written.to_delayed())
        summary_futures = {r: running.compute(s) for r, s in summaries.items()}
        _follow(part_futures, as_completed, progress)
        stats = pd.concat([f.result() for f in part_futures], ignore_index=True)
        loaded = {r: [f.result() for f in fs] for r, fs in summary_futures.items()}
        placed = {r: RowPlaces.of(ss, sources[r].name) for r, ss in loaded.items()}
        rejects = _renumber(running, loaded, placed)
        if skip_invalid:
            rejects += _repeat_rejects(out, stats)

    errors = {r: sum(s["errors"] for s in ss) for r, ss in loaded.items()}
    conflicts = int(stats["conflicts"].sum())
    if (any(errors.values()) or conflicts) and not skip_invalid:
        _remove_out(out)
        # the events first, as the local engine loads them first
        record = "events" if errors["events"] or conflicts else "consent"
        source = sources[record]
        rows = source_errors(loaded[record], placed[record])
        if record == "events":
            rows += [e for found in stats["errors"] for e in found]
        order = {name: i for i, name in enumerate(dict.fromkeys(placed[record].files))}
        rows.sort(key=lambda e: (order.get(e.file, -1), e.row, e.field))
        invalid = sum(s["rejected_rows"] for s in loaded[record])
        listed = len(rows)
        total = errors[record] + (conflicts if record == "events" else 0)
        raise InvalidFileError(
            Path(source.name), rows, csv=source.format == "csv",
            invalid_rows=invalid + (conflicts if record == "events" else 0),
            more=total - listed,
        )  # fmt: skip
    loads = {
        r: {
            k: sum(s[k] for s in ss)
            for k in ("rows", "kept", "rejected_rows", "invalid_numbers", "replays")
        }
        for r, ss in loaded.items()
    }
    loads["events"]["kept"] -= int(stats["replays"].sum()) + conflicts
    loads["events"]["replays"] += int(stats["replays"].sum())
    loads["events"]["rejected_rows"] += conflicts
    notes = []
    for record, ss in loaded.items():
        for note in dict.fromkeys(n for s in ss for n in s["notes"]):
            notes.append(f"{sources[record].name}: {note}")
    if loads["events"]["replays"]:
        notes.append(
            f"{sources['events'].name}: {loads['events']['replays']:,} row(s) repeat an "
            "earlier row exactly (replays, skipped as no-ops)"
        )
    return DatasetSummary(
        out=out,
        files=len(stats),
        partitions=npartitions,
        contacts=int(stats["contacts"].sum()),
        positives={t: int(stats[t].sum()) for t in TARGETS},
        loads=loads,
        names={r: source.name for r, source in sources.items()},
        notes=notes,
        rejects=rejects,
        seconds=time.perf_counter() - t0,
    )


def _follow(futures: list, as_completed, progress: bool) -> None:
    """Wait for the output partitions, with a progress bar over them."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]features[/bold] partitions written"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        disable=not progress,
    ) as bar:
        task = bar.add_task("partitions", total=len(futures))
        for _ in as_completed(futures):
            bar.advance(task)


def _renumber(
    client: Client, loaded: dict[str, list[dict]], placed: dict[str, RowPlaces]
) -> list[str]:
    """Number the rejects files' rows within their files (on the workers)."""
    files, offsets = [], []
    for record, summaries in loaded.items():
        for s in summaries:
            if s["rejects_file"]:
                files.append(s["rejects_file"])
                offsets.append(placed[record].offsets[s["index"]])
    if files:
        client.gather(client.map(renumber_rejects, files, offsets, pure=False))
    return files


def _repeat_rejects(out: str, stats: pd.DataFrame) -> list[str]:
    """The rejects files the number-partitions wrote (repeated event ids)."""
    rejected = stats.loc[stats["conflicts"] > 0, "partition"]
    return [f"{out}/{REJECTS_FOLDER}/events-repeats-{int(i):05d}.csv" for i in rejected]


def frame_files(path: str | Path) -> list[str]:
    """The Parquet files of a training frame written by either engine: the file itself, or
    a dataset folder's ``*.parquet`` files in name order (``_rejects/`` and other files
    beside them are not part of it)."""
    import fsspec.core

    fs, local = fsspec.core.url_to_fs(str(path))
    if not fs.exists(local):
        raise FileNotFoundError(f"{path}: no such file or folder")
    if not fs.isdir(local):
        return [str(path)]
    files = sorted(fs.glob(f"{local.rstrip('/')}/*.parquet"))
    if not files:
        raise ValueError(f"{path}: the folder holds no .parquet files (not a training frame)")
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return [f if protocol in ("file", "local") else f"{protocol}://{f}" for f in files]


def read_frame_dataset(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A training frame written by either engine — one Parquet file or a dataset folder —
    as one pandas frame (small frames; training streams larger ones)."""
    import pyarrow.dataset as ds

    files = frame_files(path)
    return ds.dataset(files, format="parquet").to_table(columns=columns).to_pandas()
