"""Labels and the summary of a simulated history: realised ``complaint_7d`` /
``opt_out_7d`` per contact beside the oracle, overall and by region and channel.

The labels are the training labels (:mod:`features.pointintime.labels`, the one
definition) and regions come from the one phone normalisation (:func:`features.phone.regions_of`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from features.phone import regions_of
from features.pointintime.labels import label_contacts

_PROBABILITY_COLUMNS = [
    "p_complaint_true", "p_opt_out_true", "p_complaint_observable", "p_opt_out_observable",
]  # fmt: skip
_SUMMARY_COLUMNS = ["number", "ts", "kind", "channel", "text", *_PROBABILITY_COLUMNS]
#: Rows per segment when labelling a Parquet file (bounded memory for any file size).
_SEGMENT_ROWS = 1_000_000


def _read_event_columns(path: Path) -> pa.Table:
    """The columns labelling needs, whole file (CSV, or a Parquet file not grouped by number)."""
    cols = _SUMMARY_COLUMNS
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path, columns=cols).combine_chunks()
    import pandas as pd

    from features.io import read_raw

    raw = read_raw(path)
    ts = pd.to_datetime(raw["ts"], utc=True, format="ISO8601")
    arrays = [pa.array(raw[c], type=pa.string(), from_pandas=True) for c in cols]
    arrays[1] = pa.array(ts.to_numpy("datetime64[us]")).cast(pa.timestamp("us", tz="UTC"))
    for k in range(5, len(cols)):
        arrays[k] = pa.array(pd.to_numeric(raw[cols[k]]).to_numpy(float), from_pandas=True)
    return pa.table(arrays, names=cols)


def _event_segments(path: Path, segment_rows: int = _SEGMENT_ROWS):
    """Tables that each hold whole numbers, read in segments of about ``_SEGMENT_ROWS``.

    Valid when each number's rows are contiguous (as this simulator writes them); the
    caller checks that the segments saw every number exactly once and otherwise falls back
    to :func:`_read_event_columns`.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    carry: pa.Table | None = None
    batches = pq.ParquetFile(path).iter_batches(batch_size=segment_rows, columns=_SUMMARY_COLUMNS)
    for batch in batches:
        table = pa.Table.from_batches([batch])
        if carry is not None and carry.num_rows:
            table = pa.concat_tables([carry, table])
        table = table.combine_chunks()
        numbers = table["number"].combine_chunks()
        is_last = pc.equal(numbers, numbers[len(numbers) - 1]).to_numpy(zero_copy_only=False)
        others = np.flatnonzero(~is_last)
        start = int(others[-1]) + 1 if len(others) else 0
        if start == 0:
            carry = table
            continue
        yield table.slice(0, start)
        carry = table.slice(start)
    if carry is not None and carry.num_rows:
        yield carry


def _numbers_are_grouped(path: Path) -> bool:
    """Whether each number's rows are contiguous in a Parquet file (read as small codes)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["number"], read_dictionary=["number"])
    column = table.unify_dictionaries()["number"].combine_chunks()
    codes = column.indices.to_numpy(zero_copy_only=False)
    runs = 1 + int(np.count_nonzero(np.diff(codes))) if len(codes) else 0
    return runs == len(column.dictionary)


def _labelled_segments(events_path: Path, segment_rows: int = _SEGMENT_ROWS):
    """(contact frame, events by kind, numbers) per segment of whole numbers."""
    events_path = Path(events_path)
    if events_path.suffix == ".parquet" and _numbers_are_grouped(events_path):
        for segment in _event_segments(events_path, segment_rows):
            yield _contact_frame(segment)
    else:
        yield _contact_frame(_read_event_columns(events_path))


def _codes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, list[str | None]]:
    import pyarrow.compute as pc

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _contact_frame(table: pa.Table) -> tuple[Any, dict[str, int], int]:
    """Label the contacts of a table that holds every event of its numbers."""
    import pandas as pd

    from features.replies import classify_replies

    code, number_values = _codes(table["number"])
    ts = table["ts"].cast(pa.timestamp("us")).cast(pa.int64()).to_numpy(zero_copy_only=False)
    kind_code, kinds = _codes(table["kind"])
    kind_counts = np.bincount(kind_code[kind_code >= 0], minlength=len(kinds))
    by_kind = {str(k): int(c) for k, c in zip(kinds, kind_counts, strict=True)}

    def is_kind(name: str) -> np.ndarray:
        return kind_code == kinds.index(name) if name in kinds else np.zeros(len(ts), bool)

    is_contact = is_kind("contact")
    reaction = is_kind("complaint") | is_kind("opt_out") | is_kind("reply")
    d_code, d_ts = np.diff(code), np.diff(ts)
    # Sorted by (number, ts), and no reaction tied with a contact that sorts before it?
    tie_wrong = (d_code == 0) & (d_ts == 0) & is_contact[:-1] & reaction[1:]
    ordered = bool(np.all(d_code >= 0) and np.all((d_code > 0) | (d_ts >= 0)))
    ordered = ordered and not tie_wrong.any()
    order = np.arange(len(ts)) if ordered else np.lexsort((is_contact, ts, code))
    code, ts, kind_code, is_contact = code[order], ts[order], kind_code[order], is_contact[order]
    region_of_code, region_names = _codes(regions_of(pa.array(number_values)))
    region = region_of_code[code]
    reply_rows = np.flatnonzero(kind_code == kinds.index("reply")) if "reply" in kinds else []
    opt_out_reply = np.zeros(len(ts), dtype=bool)
    if len(reply_rows):
        texts = table["text"].take(pa.array(order[reply_rows])).cast(pa.string()).to_pandas()
        regions = pd.Series(np.array(region_names, dtype=object)[region[reply_rows]])
        labels = classify_replies(texts, regions.set_axis(texts.index))
        opt_out_reply[reply_rows] = (labels == "opt_out").to_numpy()
    is_complaint = (kind_code == kinds.index("complaint")) if "complaint" in kinds else None
    is_opt_out = (kind_code == kinds.index("opt_out")) if "opt_out" in kinds else None
    none = np.zeros(len(ts), dtype=bool)
    complaint, opt_out = label_contacts(
        code,
        ts,
        is_contact,
        none if is_complaint is None else is_complaint,
        opt_out_reply | (none if is_opt_out is None else is_opt_out),
    )
    rows = np.flatnonzero(is_contact)
    src = pa.array(order[rows])
    channel_code, channels = _codes(table["channel"].take(src))
    frame = pd.DataFrame(
        {
            "number_code": code[rows],
            "region": pd.Categorical.from_codes(region[rows], categories=region_names),
            "ts": ts[rows],
            "channel": pd.Categorical.from_codes(
                channel_code, categories=[c if c is not None else "" for c in channels]
            ),
            "complaint_7d": complaint[rows],
            "opt_out_7d": opt_out[rows],
            **{
                name: table[name].take(src).to_numpy(zero_copy_only=False)
                for name in _PROBABILITY_COLUMNS
            },
        }
    )
    return frame, by_kind, len(number_values)


def labelled_contacts(events_path: Path):
    """The contacts of an events file with their realised labels, region and oracle.

    A pandas DataFrame, one row per contact: ``number_code`` (dense code of the number),
    ``region`` (ISO 3166-1), ``ts`` (µs since epoch), ``channel``, ``complaint_7d``,
    ``opt_out_7d``, ``p_complaint_true``, ``p_opt_out_true`` (the oracle) and
    ``p_complaint_observable``, ``p_opt_out_observable`` (the observable ceiling). Opt-out replies are
    recognised with :func:`features.replies.classify_replies`.
    """
    import pandas as pd

    frames = []
    offset = 0
    for frame, _, numbers in _labelled_segments(Path(events_path)):
        frames.append(frame.assign(number_code=frame["number_code"] + offset))
        offset += numbers
    if len(frames) == 1:
        return frames[0]
    regions = sorted({c for f in frames for c in f["region"].cat.categories})
    channels = sorted({c for f in frames for c in f["channel"].cat.categories})
    frames = [
        f.assign(
            region=f["region"].cat.set_categories(regions),
            channel=f["channel"].cat.set_categories(channels),
        )
        for f in frames
    ]
    return pd.concat(frames, ignore_index=True)


def summarize(paths: dict[str, Path]) -> dict:
    """Print a summary table of a simulation and return its figures.

    Figures: events by kind, numbers, contacts, realised complaint / opt-out rate per
    contact (share of contacts with ``complaint_7d`` / ``opt_out_7d``) and the mean oracle
    probabilities, overall and by region and channel; consent and DNC row counts.
    """
    import pyarrow.parquet as pq
    from rich.console import Console
    from rich.table import Table

    from features.io import read_raw

    events_path = Path(paths["events"])
    sums = ("contacts", "complaint_7d", "opt_out_7d", "p_complaint_true", "p_opt_out_true")
    totals: dict[tuple[str, str], np.ndarray] = {}
    by_kind: dict[str, int] = {}
    n_numbers = 0
    for frame, kinds, numbers in _labelled_segments(events_path):
        n_numbers += numbers
        for k, v in kinds.items():
            by_kind[k] = by_kind.get(k, 0) + v
        frame = frame.assign(contacts=1)
        for dim in ("all", "region", "channel"):
            keys = ["all"] * len(frame) if dim == "all" else frame[dim].astype(str)
            grouped = frame[list(sums)].groupby(np.asarray(keys), sort=False).sum()
            for key, row in grouped.iterrows():
                acc = totals.setdefault((dim, str(key)), np.zeros(len(sums)))
                acc += row.to_numpy(dtype=float)
    n_events = sum(by_kind.values())

    def rates(acc: np.ndarray | None) -> dict[str, float]:
        count = 0 if acc is None else int(acc[0])
        if not count:
            return {"contacts": 0, **dict.fromkeys(
                ("complaint_rate", "opt_out_rate", "p_complaint_mean", "p_opt_out_mean"), math.nan
            )}  # fmt: skip
        return {
            "contacts": count,
            "complaint_rate": acc[1] / count,
            "opt_out_rate": acc[2] / count,
            "p_complaint_mean": acc[3] / count,
            "p_opt_out_mean": acc[4] / count,
        }

    def count_rows(path: Path) -> int:
        if path.suffix == ".parquet":
            return int(pq.ParquetFile(path).metadata.num_rows)
        return len(read_raw(path))

    def by(dim: str) -> dict[str, dict[str, float]]:
        keys = sorted(k for d, k in totals if d == dim)
        return {k: rates(totals[(dim, k)]) for k in keys}

    figures: dict[str, Any] = {
        "events": n_events,
        "events_by_kind": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
        "numbers": n_numbers,
        **rates(totals.get(("all", "all"))),
        "by_region": by("region"),
        "by_channel": by("channel"),
        "consent_rows": count_rows(Path(paths["consent"])),
        "dnc_rows": count_rows(Path(paths["dnc"])),
    }
    console = Console(width=max(Console().width, 100))
    head = Table(title=f"Simulated history: {events_path.parent}")
    head.add_column("events by kind")
    head.add_column("rows", justify="right")
    for k, v in figures["events_by_kind"].items():
        head.add_row(k, f"{v:,}")
    head.add_row("[b]all events[/b]", f"{n_events:,}")
    head.add_row("numbers (with events)", f"{figures['numbers']:,}")
    head.add_row("consent rows", f"{figures['consent_rows']:,}")
    head.add_row("internal DNC rows", f"{figures['dnc_rows']:,}")
    console.print(head)
    table = Table(title="Per contact: realised labels vs oracle (mean true probability)")
    for col in ("group", "contacts", "complaint_7d", "oracle p_complaint", "opt_out_7d",
                "oracle p_opt_out"):  # fmt: skip
        table.add_column(col, justify="right" if col != "group" else "left")

    def row(name: str, r: dict[str, float]) -> None:
        table.add_row(
            name, f"{r['contacts']:,}", f"{r['complaint_rate']:.3%}", f"{r['p_complaint_mean']:.3%}",
            f"{r['opt_out_rate']:.2%}", f"{r['p_opt_out_mean']:.2%}",
        )  # fmt: skip

    row("[b]all[/b]", figures)
    for name, r in figures["by_region"].items():
        row(f"region {name}", r)
    for name, r in figures["by_channel"].items():
        row(f"channel {name}", r)
    console.print(table)
    return figures
