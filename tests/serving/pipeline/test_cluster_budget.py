"""The rank and budget of the cluster engine, task by task in this process: partitions'
allowed rows → samples → buckets → the budget's walk → each partition's allocation, compared
with the local command's (``batch._select``: one sort, ``allocate_budget``) on the same rows,
bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.domain.decision import Policy
from serving.pipeline.batch import _select
from serving.pipeline.cluster.budget import (
    bucket_bounds,
    choose_boundaries,
    gather_bucket,
    partition_allocation,
    risk_key,
    walk_bucket,
    write_allowed,
)


def _cluster_allocation(run_dir, partitions, policy, bucket_rows, sample_size):
    """``partitions``: per partition (rows within it, risk, p_complaint, row count). Returns
    (rank, withheld, expected, buckets) keyed by file row, as the cluster engine computes them."""
    samples, starts, row = {}, {}, 1
    for i, (rows, risk, pc, count) in enumerate(partitions):
        samples[i] = write_allowed(str(run_dir), i, rows, risk, pc, sample_size)
        starts[i] = row
        row += count
    allowed = sum(s["allowed"] for s in samples.values())
    bounds = bucket_bounds(choose_boundaries(samples, bucket_rows), allowed)
    with_rows = [i for i, s in samples.items() if s["allowed"]]
    limits = (policy.max_contacts, policy.max_expected_complaints)
    before, sizes = None, []
    for b, (lo, hi) in enumerate(bounds):
        gathered = gather_bucket(b, lo, hi, with_rows, str(run_dir))
        sizes.append(gathered["rows"])
        before = walk_bucket(b, gathered, before, limits, str(run_dir))
    rank, withheld = {}, {}
    for i in range(len(partitions)):
        got = partition_allocation(str(run_dir), i, starts[i], len(bounds), policy)
        assert not set(got.rank) & set(rank) and not set(got.withheld) & set(withheld)
        rank.update(got.rank)
        withheld.update(got.withheld)
    assert sum(sizes) == allowed
    return rank, withheld, (before or {"expected": 0.0})["expected"], sizes


def _local_allocation(partitions, policy):
    rows, risk, pc, row = [], [], [], 1
    for part_rows, part_risk, part_pc, count in partitions:
        rows.append(np.asarray(part_rows, dtype=np.int64) + row)
        risk.append(np.asarray(part_risk, dtype=np.float64))
        pc.append(np.asarray(part_pc, dtype=np.float64))
        row += count
    return _select(np.concatenate(rows), np.concatenate(risk), np.concatenate(pc), policy)


def _partitions(rng, sizes, risks=None, allowed_share=0.7):
    """Random partitions: ``sizes`` rows each, a share of them allowed; risks drawn from
    ``risks`` (few values: ties across partitions) or uniform."""
    out = []
    for count in sizes:
        rows = np.flatnonzero(rng.random(count) < allowed_share)
        risk = rng.choice(risks, len(rows)) if risks is not None else rng.random(len(rows))
        pc = rng.random(len(rows)) * 0.2
        out.append((rows, risk, pc, count))
    return out


def _assert_same(tmp_path, partitions, policy, bucket_rows, sample_size=512):
    rank, withheld, expected, sizes = _cluster_allocation(
        tmp_path, partitions, policy, bucket_rows, sample_size
    )
    local = _local_allocation(partitions, policy)
    assert rank == local.rank
    assert withheld == local.withheld
    assert expected == local.expected_complaints  # bit for bit: the same additions in order
    return sizes


@pytest.mark.parametrize(
    "policy",
    [
        Policy(),
        Policy(max_contacts=120),
        Policy(max_expected_complaints=9.0),
        Policy(max_contacts=300, max_expected_complaints=14.5),
        Policy(max_contacts=0),
        Policy(max_expected_complaints=0.0),
    ],
    ids=["none", "contacts", "complaints", "both", "zero contacts", "zero complaints"],
)
def test_buckets_equal_the_local_budget(tmp_path, policy) -> None:
    rng = np.random.default_rng(7)
    partitions = _partitions(rng, [97, 0, 150, 61, 200, 3])
    sizes = _assert_same(tmp_path, partitions, policy, bucket_rows=50, sample_size=16)
    assert len(sizes) >= 5  # several buckets, each walked after the one before


def test_the_greedy_skips_a_large_complaint_and_keeps_later_small_ones(tmp_path) -> None:
    """Risk order and p_complaint chosen so that the walk withholds a row that would pass
    the limit and keeps smaller ones after it, across bucket and partition boundaries."""
    risk = np.linspace(0.01, 0.4, 40)
    pc = np.where(np.arange(40) % 5 == 2, 0.3, 0.01)
    partitions = [
        (np.arange(20), risk[::2], pc[::2], 20),
        (np.arange(20), risk[1::2], pc[1::2], 20),
    ]
    policy = Policy(max_expected_complaints=0.8)
    _assert_same(tmp_path, partitions, policy, bucket_rows=7, sample_size=3)
    local = _local_allocation(partitions, policy)
    withheld_at = sorted(local.withheld)
    assert withheld_at and max(local.rank) > withheld_at[0]  # kept rows after a withhold


def test_ties_in_risk_across_partitions_follow_the_file_row(tmp_path) -> None:
    rng = np.random.default_rng(3)
    partitions = _partitions(rng, [40, 40, 40, 40], risks=np.array([0.1, 0.2, 0.2, 0.3]))
    sizes = _assert_same(tmp_path, partitions, Policy(max_contacts=77), bucket_rows=13,
                         sample_size=5)  # fmt: skip
    assert len(sizes) > 3


def test_odd_risks_sort_as_the_local_command_sorts_them(tmp_path) -> None:
    risks = np.array([0.0, -0.0, 0.5, np.nan, 1.0, 0.25, np.inf])
    assert list(np.argsort(risk_key(risks), kind="stable")) == list(
        np.lexsort((np.arange(7), risks))
    )
    partitions = [(np.arange(7), risks, np.full(7, 0.1), 7), (np.arange(7), risks[::-1], np.full(7, 0.1), 7)]  # fmt: skip
    _assert_same(tmp_path, partitions, Policy(max_contacts=9), bucket_rows=3, sample_size=2)


def test_nothing_allowed(tmp_path) -> None:
    empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0), 30)
    rank, withheld, expected, sizes = _cluster_allocation(
        tmp_path, [empty, empty], Policy(max_contacts=5), 10, 8
    )
    assert rank == withheld == {} and expected == 0.0 and sizes == []


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    sizes=st.lists(st.integers(0, 60), min_size=1, max_size=6),
    bucket_rows=st.integers(1, 40),
    sample_size=st.integers(1, 9),
    max_contacts=st.none() | st.integers(0, 150),
    max_expected=st.none() | st.floats(0, 8),
)
def test_any_split_equals_the_local_budget(
    tmp_path_factory, seed, sizes, bucket_rows, sample_size, max_contacts, max_expected
) -> None:
    rng = np.random.default_rng(seed)
    partitions = _partitions(
        rng, sizes, risks=np.array([0.05, 0.1, 0.1, 0.2]) if seed % 2 else None
    )
    policy = Policy(max_contacts=max_contacts, max_expected_complaints=max_expected)
    _assert_same(tmp_path_factory.mktemp("run"), partitions, policy, bucket_rows, sample_size)
