"""Rank and campaign budget over the whole file, computed on the workers.

The local command sorts every allowed row by (risk, file row) and walks that order once
(:func:`serving.domain.decision.allocate_budget`). On a cluster the same order and the same
walk are cut into risk ranges ("buckets"), so the client never holds a row:

1. each first-pass task sorts its allowed rows by (risk, row) into ``allowed-PPPPP.npy``
   and returns their count and a fixed-size sample of that order (:func:`write_allowed`);
2. the client picks bucket boundaries on the key (risk, partition, row) from the samples
   (:func:`choose_boundaries`) — the partitions are in file order, so the key orders rows
   exactly as (risk, file row) does;
3. one task per bucket gathers its key range from every partition's file, sorts it and
   writes ``bucket-BBBBB.npy`` (:func:`gather_bucket`; in parallel);
4. the budget walks the buckets in order, each task receiving only the running (kept,
   expected complaints) of the bucket before it and writing the rank and the withhold of
   each of its rows to ``budget-BBBBB.npy``, in (partition, row) order
   (:func:`walk_bucket`; a chain, the one sequential part: 16 bytes read, one compiled
   loop step and 16 bytes written per allowed row);
5. each second-pass task reads the slices of its partition from every bucket
   (:func:`partition_allocation`).

The walk adds the kept rows' ``p_complaint`` one by one in rank order from 0.0, as
``allocate_budget`` does, so the decisions, ranks, withholds and expected complaints are
bit for bit the local command's. Every file is written under a temporary name and
renamed: a retried task rewrites the same bytes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numba
import numpy as np

from serving.pipeline.cluster.plan import replace_atomically, run_file

#: Keys sampled from each partition's allowed rows (evenly spaced in its sorted order).
SAMPLE_SIZE = 512
#: Allowed rows per bucket (a bucket is sorted in one worker's memory: ~50 bytes a row).
DEFAULT_BUCKET_ROWS = 500_000
#: The budget's verdict on an allowed row (``budget-BBBBB.npy``, row 1).
KEPT, OVER_CONTACTS, OVER_COMPLAINTS = 0, 1, 2


def allowed_path(run_dir: str, index: int) -> Path:
    return run_file(run_dir, "allowed", index, ".npy")


def bucket_path(run_dir: str, bucket: int) -> Path:
    return run_file(run_dir, "bucket", bucket, ".npy")


def budget_path(run_dir: str, bucket: int) -> Path:
    return run_file(run_dir, "budget", bucket, ".npy")


def _save_atomic(array: Any, path: Path) -> None:
    def write(temp: Path) -> None:
        with temp.open("wb") as handle:
            np.save(handle, array)

    replace_atomically(path, write)


def _load(path: Path) -> Any:
    """A saved array, memory-mapped: a reader touches only the pages it slices."""
    return np.load(path, mmap_mode="r")


def risk_key(risk: Any) -> Any:
    """Unsigned integers ordered as ``np.lexsort`` orders the risks: ascending, -0.0 equal
    to 0.0, NaN last (one NaN)."""
    r = np.asarray(risk, dtype=np.float64) + 0.0  # -0.0 + 0.0 is 0.0
    r = np.where(np.isnan(r), np.nan, r)
    bits = r.view(np.uint64)
    negative = (bits >> np.uint64(63)).astype(bool)
    return np.where(negative, ~bits, bits | np.uint64(1 << 63))


# ----------------------------------------------------------------------------- first pass
def write_allowed(
    run_dir: str, index: int, rows: Any, risk: Any, p_complaint: Any, sample_size: int
) -> dict[str, Any]:
    """Sort a partition's allowed rows (rows numbered within the partition) by (risk, row),
    write them (key, row, p_complaint) and return their count and a sample of the order:
    the keys at positions ``j × n // sample_size`` (every row when there are fewer)."""
    key = risk_key(risk)
    order = np.lexsort((rows, key))
    n = len(order)
    table = np.empty((3, n), dtype=np.uint64)
    table[0] = key[order]
    table[1] = np.asarray(rows, dtype=np.int64)[order].view(np.uint64)
    table[2] = np.asarray(p_complaint, dtype=np.float64)[order].view(np.uint64)
    _save_atomic(table, allowed_path(run_dir, index))
    at = np.unique((np.arange(min(n, sample_size), dtype=np.int64) * n) // max(sample_size, 1))
    return {
        "allowed": n,
        "sample_at": at,
        "sample_key": table[0, at].copy(),
        "sample_row": table[1, at].view(np.int64).copy(),
    }


# ----------------------------------------------------------------------------- the client
Bound = tuple[int, int, int]  # (risk key, partition, row within the partition)


def choose_boundaries(samples: dict[int, dict[str, Any]], bucket_rows: int) -> list[Bound]:
    """Boundaries of about ``allowed ÷ bucket_rows`` buckets of about equal size, from the
    partitions' samples (each sampled key stands for the rows up to the next one); bucket
    ``b`` holds the keys in ``[bounds[b - 1], bounds[b])``."""
    total = sum(s["allowed"] for s in samples.values())
    buckets = -(-total // max(bucket_rows, 1))
    if buckets <= 1:
        return []
    keys, parts, rows, weights = [], [], [], []
    for part, s in samples.items():
        if not s["allowed"]:
            continue
        keys.append(s["sample_key"])
        parts.append(np.full(len(s["sample_key"]), part, dtype=np.int64))
        rows.append(s["sample_row"])
        weights.append(np.diff(np.append(s["sample_at"], s["allowed"])))
    key, part, row = np.concatenate(keys), np.concatenate(parts), np.concatenate(rows)
    order = np.lexsort((row, part, key))
    weight = np.concatenate(weights)[order]
    before = np.cumsum(weight) - weight  # the rows ahead of each sampled key
    targets = [total * b / buckets for b in range(1, buckets)]
    at = sorted({int(i) for i in np.searchsorted(before, targets) if 0 < i < len(order)})
    return [(int(key[order[i]]), int(part[order[i]]), int(row[order[i]])) for i in at]


def bucket_bounds(bounds: list[Bound], allowed: int) -> list[tuple[Bound | None, Bound | None]]:
    """``[lo, hi)`` of each bucket (None: open); no bucket at all when nothing is allowed."""
    if not allowed:
        return []
    edges: list[Bound | None] = [None, *bounds, None]
    return list(zip(edges[:-1], edges[1:], strict=True))


# ----------------------------------------------------------------------------- buckets
def _position(table: Any, part: int, bound: Bound) -> int:
    """The first position of partition ``part``'s sorted table whose key (risk, part, row)
    is not below ``bound``."""
    key, b_part, b_row = bound
    lo = int(np.searchsorted(table[0], np.uint64(key), "left"))
    hi = int(np.searchsorted(table[0], np.uint64(key), "right"))
    if part != b_part or lo == hi:
        return lo if part > b_part else hi
    return lo + int(np.searchsorted(table[1, lo:hi].view(np.int64), b_row, "left"))


def gather_bucket(
    bucket: int, lo: Bound | None, hi: Bound | None, parts: list[int], run_dir: str
) -> dict[str, Any]:
    """One bucket (on a worker): the rows of ``[lo, hi)`` from the allowed files of
    ``parts`` (the partitions with allowed rows, in file order), written as four rows of
    ``bucket-BBBBB.npy``: partition, row, position in risk order — in (partition, row)
    order — and ``p_complaint`` in risk order."""
    began = time.perf_counter()
    keys, part_of, rows, pcs = [], [], [], []
    for part in parts:
        table = _load(allowed_path(run_dir, part))
        start = 0 if lo is None else _position(table, part, lo)
        stop = table.shape[1] if hi is None else _position(table, part, hi)
        if stop <= start:
            continue
        keys.append(np.array(table[0, start:stop]))
        rows.append(np.array(table[1, start:stop]).view(np.int64))
        pcs.append(np.array(table[2, start:stop]))
        part_of.append(np.full(stop - start, part, dtype=np.int64))
    if keys:
        key, part, row, pc = (np.concatenate(x) for x in (keys, part_of, rows, pcs))
    else:
        key = pc = np.zeros(0, np.uint64)
        part = row = np.zeros(0, np.int64)
    by_risk = np.argsort(key, kind="stable")  # ties: partition, then row (input order)
    position = np.empty(len(key), dtype=np.int64)
    position[by_risk] = np.arange(len(key), dtype=np.int64)
    by_row = np.lexsort((row, part))
    table = np.empty((4, len(key)), dtype=np.uint64)
    table[0] = part[by_row].view(np.uint64)
    table[1] = row[by_row].view(np.uint64)
    table[2] = position[by_row].view(np.uint64)
    table[3] = pc[by_risk]
    _save_atomic(table, bucket_path(run_dir, bucket))
    return {"bucket": bucket, "rows": len(key), "seconds": time.perf_counter() - began}


@numba.njit(cache=True, nogil=True)
def _walk(p_complaint, kept, expected, max_contacts, max_expected):  # pragma: no cover
    """``allocate_budget``'s loop over one bucket (numbers instead of dictionaries):
    ``max_contacts`` < 0 or ``max_expected`` NaN: no such limit."""
    n = p_complaint.shape[0]
    verdict = np.zeros(n, dtype=np.int64)
    rank = np.zeros(n, dtype=np.int64)
    for i in range(n):
        if max_contacts >= 0 and kept >= max_contacts:
            verdict[i] = 1
            continue
        if max_expected == max_expected and expected + p_complaint[i] > max_expected:
            verdict[i] = 2
            continue
        kept += 1
        expected += p_complaint[i]
        rank[i] = kept
    return verdict, rank, kept, expected


def walk_bucket(
    bucket: int, gathered: dict[str, Any], before: dict[str, Any] | None, limits: Any, run_dir: str
) -> dict[str, Any]:
    """The budget over one bucket (on a worker), after the buckets before it (``before``:
    the previous bucket's answer, None for the first): writes ``budget-BBBBB.npy`` (rank,
    verdict — in the bucket file's (partition, row) order) and returns the running
    totals. ``limits``: (max_contacts, max_expected_complaints), None for no limit."""
    began = time.perf_counter()
    kept, expected = (0, 0.0) if before is None else (before["kept"], before["expected"])
    max_contacts, max_expected = limits
    if gathered["rows"]:
        table = _load(bucket_path(run_dir, bucket))
        p_complaint = np.array(table[3]).view(np.float64)
        verdict, rank, kept, expected = _walk(
            p_complaint,
            kept,
            expected,
            -1 if max_contacts is None else int(max_contacts),
            np.nan if max_expected is None else float(max_expected),
        )
        position = np.array(table[2]).view(np.int64)
        out = np.stack([rank[position], verdict[position]])
    else:
        out = np.zeros((2, 0), dtype=np.int64)
    _save_atomic(out, budget_path(run_dir, bucket))
    return {
        "bucket": bucket,
        "kept": int(kept),
        "expected": float(expected),
        "seconds": time.perf_counter() - began,
    }


# ----------------------------------------------------------------------------- second pass
def partition_allocation(run_dir: str, part: int, first_row: int, buckets: int, policy: Any):
    """The :class:`~serving.domain.decision.Allocation` of one partition's allowed rows
    (keyed by file row: ``first_row`` + row within the partition), read from every
    bucket's slice of the partition."""
    from serving.domain.decision import Allocation, budget_detail

    limits = {OVER_CONTACTS: "max_contacts", OVER_COMPLAINTS: "max_expected_complaints"}
    out = Allocation()
    for bucket in range(buckets):
        table = _load(bucket_path(run_dir, bucket))
        if not table.shape[1]:
            continue
        lo = int(np.searchsorted(table[0], np.uint64(part), "left"))
        hi = int(np.searchsorted(table[0], np.uint64(part), "right"))
        if lo == hi:
            continue
        rows = (np.array(table[1, lo:hi]).view(np.int64) + first_row).tolist()
        result = _load(budget_path(run_dir, bucket))
        ranks = np.array(result[0, lo:hi]).tolist()
        verdicts = np.array(result[1, lo:hi]).tolist()
        for row, rank, verdict in zip(rows, ranks, verdicts, strict=True):
            if verdict == KEPT:
                out.rank[row] = rank
            else:
                out.withheld[row] = budget_detail(limits[verdict], policy)
    return out
