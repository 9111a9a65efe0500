"""Arrow columns, output sinks, table schemas and the driver that streams chunks of
simulated numbers to files (:func:`simulate_to_dir`)."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit

from features.schema import (
    CHANNELS,
    CONSENT_TYPES,
    DIAL_MODES,
    EVENT_KINDS,
    OUTCOMES,
    PURPOSES,
    Consent,
    DncEntry,
    Event,
)
from features.simulate.hazard import sensitivity_grid
from features.simulate.kernel import _simulate_numbers
from features.simulate.numbers import US_SPANISH_SHARE, NumberPlan, number_blocks
from features.simulate.world import (
    _WEIGHT_ORDER,
    CHUNK_NUMBERS,
    COMPLAINT_WEIGHTS,
    CONSENT_CHANNELS,
    CONSENT_EVIDENCE,
    DAY,
    DEFAULT_START,
    DNC_ACTIONS,
    DNC_CATEGORIES,
    DNC_SCOPES,
    DNC_SOURCES,
    LANGUAGES,
    MAX_ATTEMPTS,
    MAX_EVENTS_PER_NUMBER,
    MAX_TOUCHES,
    OPT_OUT_WEIGHTS,
    REPLY_TEXTS,
    SOURCES,
    CampaignCatalog,
    zone_offsets,
)


# --------------------------------------------------------------------------- arrow output
def _dictionary_column(values: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """Codes (−1 = missing) → a string column, gathered in C++ (no Python strings)."""
    index = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.array(values, type=pa.string()).take(index)


def _fixed_width_ids(prefix: str, major: np.ndarray, major_digits: int, minor: np.ndarray,
                     minor_digits: int) -> pa.Array:  # fmt: skip
    """``<prefix><major:0Nd>-<minor:0Md>`` for millions of rows without Python strings."""
    n = len(major)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(head) + major_digits + 1 + minor_digits
    buf = np.empty((n, width), dtype=np.uint8)
    _fill_ids(head, major.astype(np.int64), major_digits, minor.astype(np.int64), minor_digits, buf)
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(buf.ravel())]
    )


@njit(cache=True, nogil=True)
def _fill_ids(head, major, major_digits, minor, minor_digits, buf):
    """Write ``<head><major:0Nd>-<minor:0Md>`` rows into a (rows × width) byte matrix."""
    h = head.shape[0]
    for i in range(major.shape[0]):
        for k in range(h):
            buf[i, k] = head[k]
        v = major[i]
        for d in range(major_digits - 1, -1, -1):
            buf[i, h + d] = 48 + v % 10
            v //= 10
        buf[i, h + major_digits] = 45  # "-"
        v = minor[i]
        base = h + major_digits + 1
        for d in range(minor_digits - 1, -1, -1):
            buf[i, base + d] = 48 + v % 10
            v //= 10


def _instants(seconds: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    micros = pa.array(seconds.astype(np.int64) * 1_000_000, mask=missing)
    return micros.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))


def _floats(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.float64(), mask=np.isnan(values))


@dataclass
class _Sink:
    """One output file, written as a stream of row groups (Parquet) or CSV batches."""

    path: Path
    schema: pa.Schema
    parquet_options: dict[str, Any] | None = None
    writer: Any = None

    def write(self, table: pa.Table) -> None:
        if self.path.suffix == ".csv":
            import pyarrow.compute as pc
            import pyarrow.csv as pacsv

            cols = []
            for field_ in table.schema:
                col = table[field_.name]
                if pa.types.is_timestamp(field_.type):
                    col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%SZ")
                cols.append(col)
            table = pa.table(cols, names=table.column_names)
            if self.writer is None:
                self.writer = pacsv.CSVWriter(str(self.path), table.schema)
            self.writer.write_table(table)
        else:
            import pyarrow.parquet as pq

            if self.writer is None:
                self.writer = pq.ParquetWriter(
                    str(self.path), self.schema, compression="zstd", **(self.parquet_options or {})
                )
            self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is None:  # nothing written: still leave a valid, empty file
            self.write(self.schema.empty_table())
        self.writer.close()


# --------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class _Setup:
    plan: NumberPlan
    catalog: CampaignCatalog
    block_zone: np.ndarray
    block_lang: np.ndarray
    block_spanish: np.ndarray
    offsets: np.ndarray
    offsets_t0: int
    text_values: tuple[str, ...]
    text_lo: np.ndarray
    text_n: np.ndarray


def _setup(seed: int, days: int, t0: int) -> _Setup:
    blocks = number_blocks()
    zones = sorted({b.zone for b in blocks})
    block_zone = np.array([zones.index(b.zone) for b in blocks], dtype=np.int64)
    block_lang = np.array([LANGUAGES.index(b.language) for b in blocks], dtype=np.int64)
    block_spanish = np.array(
        [US_SPANISH_SHARE if b.region == "US" else 0.0 for b in blocks], dtype=np.float64
    )
    offsets_t0 = t0 - 3 * DAY
    offsets = zone_offsets(zones, offsets_t0, (days + 20) * 24)
    values: list[str] = []
    text_lo = np.zeros((len(LANGUAGES), 4), dtype=np.int64)
    text_n = np.zeros((len(LANGUAGES), 4), dtype=np.int64)
    for li, lang in enumerate(LANGUAGES):
        for k, texts in enumerate(REPLY_TEXTS[lang]):
            text_lo[li, k] = len(values)
            text_n[li, k] = len(texts)
            values.extend(texts)
    return _Setup(
        NumberPlan.for_seed(seed), CampaignCatalog.for_seed(seed, days), block_zone, block_lang,
        block_spanish, offsets, offsets_t0, tuple(values), text_lo, text_n,
    )  # fmt: skip


def _seed_key(seed: int) -> np.uint64:
    """The master seed's 64-bit key (each number's stream is this key mixed with its index)."""
    return np.random.SeedSequence([seed, 0x53494D]).generate_state(1, dtype=np.uint64)[0]


def _weights(weights: dict[str, float]) -> np.ndarray:
    return np.array([weights[name] for name in _WEIGHT_ORDER], dtype=np.float64)


_EVENT_BUFFERS = (
    ("num", np.int32), ("seq", np.int32), ("ts", np.int64), ("kind", np.int8),
    ("channel", np.int8), ("purpose", np.int8), ("campaign", np.int16), ("dial", np.int8),
    ("outcome", np.int8), ("duration", np.float64), ("text", np.int16), ("source", np.int8),
    ("pc", np.float64), ("po", np.float64), ("pc_obs", np.float64), ("po_obs", np.float64),
)  # fmt: skip
_DNC_BUFFERS = (
    ("num", np.int32), ("action", np.int8), ("scope", np.int8), ("category", np.int8),
    ("ts", np.int64), ("source", np.int8),
)  # fmt: skip
_GRID = sensitivity_grid()
#: Event buffer per number in a chunk (≈ 10 are used on average; a pass that fills the
#: buffer is simply continued with a new one).
EVENTS_PER_NUMBER_BUFFER = 14


def _run_chunk(
    setup: _Setup, first: int, stop: int, *, days: int, t0: int, seed: int
) -> tuple[list[pa.Table], pa.Table, pa.Table]:
    """Simulate global numbers ``first..stop-1``: event tables, consent and DNC tables."""
    n = stop - first
    block, number_strings = setup.plan.assign(first, stop)
    gidx = np.arange(first, stop, dtype=np.int64)
    cap = n * EVENTS_PER_NUMBER_BUFFER + MAX_EVENTS_PER_NUMBER
    con = {
        name: np.zeros(n, dtype=dtype)
        for name, dtype in (
            ("has", np.bool_), ("channel", np.int8), ("purpose", np.int8), ("type", np.int8),
            ("granted", np.int64), ("revoked", np.int64), ("confirmed", np.int64),
            ("outside", np.bool_), ("evidence", np.int8),
        )
    }  # fmt: skip
    cat = setup.catalog
    tables: list[pa.Table] = []
    dnc_parts: list[dict[str, np.ndarray]] = []
    done = 0
    while done < n:
        # Fresh buffers each pass: Arrow may wrap them without copying.
        ev = {name: np.empty(cap, dtype=dtype) for name, dtype in _EVENT_BUFFERS}
        dnc_cap = (n - done) // 4 + 4 * MAX_TOUCHES * MAX_ATTEMPTS
        dnc = {name: np.empty(dnc_cap, dtype=dtype) for name, dtype in _DNC_BUFFERS}
        nxt, n_ev, n_dnc = _simulate_numbers(
            done, gidx, setup.block_zone[block], setup.block_lang[block],
            setup.block_spanish[block], cat.channel, cat.purpose, cat.dial_mode, cat.start_day,
            cat.end_day, cat.night_share, cat.attempts, cat.cdf, setup.offsets,
            setup.offsets_t0, setup.text_lo, setup.text_n, t0, days, _seed_key(seed),
            _weights(COMPLAINT_WEIGHTS), _weights(OPT_OUT_WEIGHTS), *_GRID,
            ev["num"], ev["seq"], ev["ts"], ev["kind"], ev["channel"], ev["purpose"],
            ev["campaign"], ev["dial"], ev["outcome"], ev["duration"], ev["text"], ev["source"],
            ev["pc"], ev["po"], ev["pc_obs"], ev["po_obs"],
            con["has"], con["channel"], con["purpose"], con["type"], con["granted"],
            con["revoked"], con["confirmed"], con["outside"], con["evidence"],
            dnc["num"], dnc["action"], dnc["scope"], dnc["category"], dnc["ts"], dnc["source"],
        )  # fmt: skip
        if nxt == done:
            raise RuntimeError("simulator buffers too small for one number")
        ev_used = {k: v[:n_ev] for k, v in ev.items()}
        tables.append(_event_table(setup, ev_used, gidx, number_strings))
        dnc_parts.append({k: v[:n_dnc] for k, v in dnc.items()})
        done = nxt
    dnc_all = {k: np.concatenate([p[k] for p in dnc_parts]) for k in dnc}
    return tables, _consent_table(con, gidx, number_strings), _dnc_table(dnc_all, number_strings)


def _event_table(setup: _Setup, ev: dict[str, np.ndarray], gidx: np.ndarray,
                 number_strings: pa.Array) -> pa.Table:  # fmt: skip
    cat = setup.catalog
    campaign = ev["campaign"]
    subject_codes = np.where(campaign >= 0, cat.subject_of[np.maximum(campaign, 0)], -1)
    arrays = {
        "event_id": _fixed_width_ids("ev-", gidx[ev["num"]], 9, ev["seq"], 4),
        "number": number_strings.take(pa.array(ev["num"])),
        "ts": _instants(ev["ts"]),
        "kind": _dictionary_column(EVENT_KINDS, ev["kind"]),
        "channel": _dictionary_column(CHANNELS, ev["channel"]),
        "purpose": _dictionary_column(PURPOSES, ev["purpose"]),
        "subject": _dictionary_column(cat.subjects, subject_codes),
        "campaign_id": _dictionary_column(cat.campaign_ids, campaign),
        "dial_mode": _dictionary_column(DIAL_MODES, ev["dial"]),
        "outcome": _dictionary_column(OUTCOMES, ev["outcome"]),
        "duration_s": _floats(ev["duration"]),
        "text": _dictionary_column(setup.text_values, ev["text"]),
        "source": _dictionary_column(SOURCES, ev["source"]),
        "p_complaint_true": _floats(ev["pc"]),
        "p_opt_out_true": _floats(ev["po"]),
        "p_complaint_observable": _floats(ev["pc_obs"]),
        "p_opt_out_observable": _floats(ev["po_obs"]),
    }
    return _table(arrays, event_schema())


def _consent_table(con: dict[str, np.ndarray], gidx: np.ndarray,
                   number_strings: pa.Array) -> pa.Table:  # fmt: skip
    rows = np.flatnonzero(con["has"])
    pick = {k: v[rows] for k, v in con.items()}
    purpose_codes = pick["purpose"]
    arrays = {
        "consent_id": _fixed_width_ids("cs-", gidx[rows], 9, np.zeros(len(rows)), 1),
        "number": number_strings.take(pa.array(rows)),
        "channel": _dictionary_column(CONSENT_CHANNELS, pick["channel"]),
        "purpose": _dictionary_column(PURPOSES, purpose_codes),
        "type": _dictionary_column(CONSENT_TYPES, pick["type"]),
        "granted_at": _instants(pick["granted"]),
        "revoked_at": _instants(pick["revoked"], pick["revoked"] < 0),
        "evidence": _dictionary_column(CONSENT_EVIDENCE, pick["evidence"]),
        "confirmed_at": _instants(pick["confirmed"], pick["confirmed"] < 0),
        "outside_hours": pa.array(pick["outside"], type=pa.bool_()),
    }
    return _table(arrays, consent_schema())


def _dnc_table(dnc: dict[str, np.ndarray], number_strings: pa.Array) -> pa.Table:
    arrays = {
        "number": number_strings.take(pa.array(dnc["num"])),
        "action": _dictionary_column(DNC_ACTIONS, dnc["action"]),
        "scope": _dictionary_column(DNC_SCOPES, dnc["scope"]),
        "category": _dictionary_column(DNC_CATEGORIES, dnc["category"]),
        "added_at": _instants(dnc["ts"]),
        "source": _dictionary_column(DNC_SOURCES, dnc["source"]),
    }
    return _table(arrays, dnc_schema())


def _table(arrays: dict[str, pa.Array], schema: pa.Schema) -> pa.Table:
    return pa.Table.from_arrays([arrays[f.name] for f in schema], schema=schema)


def event_schema() -> pa.Schema:
    """Arrow schema of ``events`` files: the Event contract (features.io.arrow_schema)."""
    from features.io import arrow_schema

    return arrow_schema(Event)


def consent_schema() -> pa.Schema:
    from features.io import arrow_schema

    return arrow_schema(Consent)


def dnc_schema() -> pa.Schema:
    from features.io import arrow_schema

    return arrow_schema(DncEntry)


def _epoch_seconds(start: dt.datetime | None) -> int:
    if start is None:
        start = DEFAULT_START
    if start.tzinfo is None:
        raise ValueError(f"start {start.isoformat()} has no time zone; give an offset or Z")
    return int(start.timestamp())


def simulate_to_dir(
    out: Path,
    *,
    numbers: int,
    days: int,
    seed: int,
    start: dt.datetime | None = None,
    fmt: str = "parquet",
    progress: bool = True,
) -> dict[str, Path]:
    """Simulate ``numbers`` numbers over ``days`` days from ``start`` (default 2026-01-01Z).

    Writes ``events.<fmt>``, ``consent.<fmt>`` and ``dnc.<fmt>`` into ``out`` and returns
    their paths. Same arguments → byte-identical files.
    """
    return _simulate_to_dir(
        Path(out), numbers=numbers, days=days, seed=seed, start=start, fmt=fmt,
        progress=progress, chunk_numbers=CHUNK_NUMBERS,
    )  # fmt: skip


def _simulate_to_dir(out: Path, *, numbers: int, days: int, seed: int, start: dt.datetime | None,
                     fmt: str, progress: bool, chunk_numbers: int) -> dict[str, Path]:  # fmt: skip
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"format {fmt!r}: use parquet or csv")
    if numbers < 1 or days < 1:
        raise ValueError(f"numbers ({numbers}) and days ({days}) must be at least 1")
    t0 = _epoch_seconds(start)
    setup = _setup(seed, days, t0)
    setup.plan.check_capacity(numbers)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.{fmt}" for name in ("events", "consent", "dnc")}
    sinks = {
        "events": _Sink(paths["events"], event_schema(), _EVENT_PARQUET_OPTIONS),
        "consent": _Sink(paths["consent"], consent_schema()),
        "dnc": _Sink(paths["dnc"], dnc_schema()),
    }
    bar = _progress_bar(progress)
    starts = list(range(0, numbers, chunk_numbers))

    def chunk(first: int) -> tuple[list[pa.Table], pa.Table, pa.Table]:
        stop = min(numbers, first + chunk_numbers)
        return _run_chunk(setup, first, stop, days=days, t0=t0, seed=seed)

    # One worker simulates the next chunk (numba and Arrow release the GIL) while this
    # thread writes the previous one: at most two chunks are in memory.
    try:
        with bar, ThreadPoolExecutor(max_workers=1) as pool:
            task = bar.add_task("simulating numbers", total=numbers)
            pending = pool.submit(chunk, starts[0])
            for k, first in enumerate(starts):
                events, consent, dnc = pending.result()
                if k + 1 < len(starts):
                    pending = pool.submit(chunk, starts[k + 1])
                for table in events:
                    sinks["events"].write(table)
                sinks["consent"].write(consent)
                sinks["dnc"].write(dnc)
                bar.update(task, advance=min(numbers, first + chunk_numbers) - first)
    finally:
        for sink in sinks.values():
            sink.close()
    return paths


#: Unique or continuous columns skip dictionary encoding; statistics only where readers
#: filter (number, ts, kind). Together about 25 % faster to write, same size.
_EVENT_PARQUET_OPTIONS: dict[str, Any] = {
    "use_dictionary": [
        "number", "kind", "channel", "purpose", "subject", "campaign_id", "dial_mode",
        "outcome", "text", "source",
    ],
    "write_statistics": ["number", "ts", "kind"],
}  # fmt: skip


def _progress_bar(enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
    )
