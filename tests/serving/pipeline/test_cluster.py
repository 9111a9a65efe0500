"""Batch screening on a real Dask cluster (``dask scheduler`` + ``dask worker`` processes):
the same decisions, ranks and budget as the local run, one audit row per contact even when
a worker is killed mid-run, bad rows named by their file row."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace

import pandas as pd
import pytest

from serving.domain.decision import Policy
from tests.conftest import _SESSION_KEYS
from tests.support.campaign import AT, seed_store, write_campaign
from tests.support.cluster import running_cluster
from tests.support.models import champion_store

POLICY = Policy(max_contacts=9, max_expected_complaints=5.0)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """Two worker processes started with the store's keys in their environment."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _SESSION_KEYS.items():
            mp.setenv(name, value)
        with running_cluster(tmp_path_factory.mktemp("cluster"), workers=2) as running:
            yield running


@pytest.fixture
def campaign_store(store_url, store_env):
    """A seeded store (SQLite file, or PostgreSQL when set) and its URL."""
    from serving.store import Store

    store = Store.open(store_url)
    seed_store(store)
    try:
        yield store_url, store
    finally:
        store.close()


def _local(path, out, url, policy=POLICY, **kw):
    from serving.pipeline import Screener, load_resources
    from serving.pipeline.batch import screen_file

    resources = load_resources(db_url=url, tracking_uri=champion_store().tracking_uri)
    try:
        kw.setdefault("default_at", AT)
        return screen_file(path, out, Screener(resources, audit=False), policy, audit=False,
                           chunk_size=29, **kw)  # fmt: skip
    finally:
        resources.store.close()


def _on_cluster(client, path, out, url, policy=POLICY, **kw):
    from serving.pipeline.cluster import screen_file_on_cluster

    kw.setdefault("partition_rows", 40)
    kw.setdefault("default_at", AT)
    return screen_file_on_cluster(
        path, out, policy, client, chunk_size=17, db_url=url,
        tracking_uri=champion_store().tracking_uri, **kw,
    )  # fmt: skip


def _audit(store, run_prefix="batch-"):
    from sqlalchemy import select

    from serving.store import tables as t

    d = t.decisions
    with store._read() as conn:
        found = conn.execute(
            select(d.c.audit_key, d.c.decision).where(d.c.request_id.like(f"{run_prefix}%"))
        ).all()
    return found


def _same(a, b) -> None:
    left, right = pd.read_csv(a, dtype={"rank": "Int64"}), pd.read_csv(b, dtype={"rank": "Int64"})
    pd.testing.assert_frame_equal(left, right)


def test_cluster_run_equals_the_local_run(tmp_path, cluster, campaign_store) -> None:
    url, store = campaign_store
    path = tmp_path / "campaign.csv"
    records = write_campaign(path, rows=230)
    local = _local(path, tmp_path / "local.csv", url)
    with cluster.client() as client:
        summary = _on_cluster(client, path, tmp_path / "dask.csv", url)
    _same(tmp_path / "local.csv", tmp_path / "dask.csv")
    got = pd.read_csv(tmp_path / "dask.csv")
    assert list(got["row"]) == list(range(2, len(records) + 2))
    assert summary["partitions"] > 3
    for key in ("allow", "review", "withhold", "by_reason", "expected_complaints"):
        assert summary[key] == local[key], key
    assert summary["by_reason"]["BUDGET_EXHAUSTED"] > 0 and summary["allow"] == 9
    audit = _audit(store)
    assert len(audit) == len(records) == len({k for k, _ in audit})
    assert sorted(d for _, d in audit) == sorted(got["decision"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # run folder gone

    with cluster.client() as client:  # the output as a dataset, written by the workers
        _on_cluster(client, path, tmp_path / "dataset", url, audit=False)
    dataset = pd.read_parquet(tmp_path / "dataset")
    assert len(list((tmp_path / "dataset").glob("part-*.parquet"))) == summary["partitions"]
    dataset.to_csv(tmp_path / "dataset.csv", index=False)
    _same(tmp_path / "local.csv", tmp_path / "dataset.csv")


def test_parquet_dataset_and_bad_rows_by_file_row(tmp_path, cluster, campaign_store) -> None:
    url, _ = campaign_store
    path = tmp_path / "campaign.csv"
    records = write_campaign(path, rows=150)
    folder = tmp_path / "dataset"
    folder.mkdir()
    frame = pd.DataFrame(records)
    frame.loc[97, "channel"] = "fax"  # file row 98 of the dataset (row 1 is its first)
    for i in range(3):
        frame.iloc[i * 50 : (i + 1) * 50].to_parquet(folder / f"part-{i}.parquet", index=False)
    with cluster.client() as client:
        from serving.pipeline.batch import BadRow

        with pytest.raises(BadRow, match=r"dataset: row 98: field channel"):
            _on_cluster(client, folder, tmp_path / "dask.csv", url, audit=False)
        summary = _on_cluster(client, folder, tmp_path / "dask.csv", url, audit=False,
                              skip_invalid=True)  # fmt: skip
    local = _local(folder, tmp_path / "local.csv", url, skip_invalid=True)
    _same(tmp_path / "local.csv", tmp_path / "dask.csv")
    assert summary["rejected_rows"] == local["rejected_rows"] == 1
    rejects = pd.read_csv(summary["rejects_file"])
    assert list(rejects["row"]) == [98]


def test_sqlite_store_refused_for_workers_on_other_machines() -> None:
    from serving.pipeline.cluster import ClusterRefused, refuse_sqlite_across_machines

    class Scheduler:  # what distributed.Client.scheduler_info() answers, one remote worker
        def __init__(self, *hosts):
            self.hosts = hosts

        def scheduler_info(self):
            return {"workers": {f"tcp://{h}:40000": {} for h in self.hosts}}

    refuse_sqlite_across_machines(Scheduler("127.0.0.1"), "sqlite:////tmp/x.db")
    refuse_sqlite_across_machines(Scheduler("192.0.2.7"), "postgresql+psycopg://h/db")
    with pytest.raises(ClusterRefused, match="SQLite file cannot be shared.*PostgreSQL"):
        refuse_sqlite_across_machines(Scheduler("127.0.0.1", "192.0.2.7"), "sqlite:////tmp/x.db")


def test_workers_killed_mid_run(tmp_path, campaign_store) -> None:
    """SIGKILL one of three workers as soon as the first partition's decisions are written
    (first pass) and another as soon as the first partition is finished (second pass: audit
    rows written): the scheduler runs their tasks again on the last one, the output equals
    the local run's and each row has exactly one audit row."""
    url, store = campaign_store
    path = tmp_path / "campaign.csv"
    records = write_campaign(path, rows=400)
    _local(path, tmp_path / "local.csv", url)
    run_dir = tmp_path / "runs"
    run_dir.mkdir()
    result: dict = {}

    def wait_for(pattern: str) -> bool:
        """Whether the run was still going when a file matching ``pattern`` appeared."""
        deadline = time.monotonic() + 120
        while not list(run_dir.glob(pattern)) and time.monotonic() < deadline:
            if not thread.is_alive():
                return False
            time.sleep(0.01)
        return thread.is_alive()

    with running_cluster(tmp_path / "cluster", workers=3) as cluster, cluster.client() as client:

        def run() -> None:
            try:
                result["summary"] = _on_cluster(client, path, tmp_path / "dask.csv", url,
                                                run_dir=run_dir, partition_rows=20)  # fmt: skip
            except BaseException as exc:  # reported below
                result["error"] = exc

        thread = threading.Thread(target=run)
        thread.start()
        in_pass_one = wait_for("*/pass1-*.parquet")
        cluster.kill_worker(0)
        in_pass_two = wait_for("*/final-*.parquet")
        cluster.kill_worker(1)
        thread.join(300)
        assert not thread.is_alive()
    assert "error" not in result, result.get("error")
    partitions = result["summary"]["partitions"]
    assert partitions >= 10
    assert in_pass_one and in_pass_two, "a worker was killed after the run had finished"
    _same(tmp_path / "local.csv", tmp_path / "dask.csv")
    audit = _audit(store)
    assert len(audit) == len(records) == len({k for k, _ in audit})
    with contextlib.suppress(FileNotFoundError):
        assert not list(run_dir.iterdir())


def test_cli_on_a_running_scheduler(tmp_path, cluster, campaign_store, monkeypatch, capsys) -> None:
    from serving.cli import main

    url, _ = campaign_store
    path = tmp_path / "campaign.csv"
    write_campaign(path, rows=120)
    policy = tmp_path / "policy.yaml"
    policy.write_text("max_contacts: 9\nmax_expected_complaints: 5.0\n")
    _local(path, tmp_path / "local.csv", url)
    summary = tmp_path / "summary.json"
    assert main(["screen", str(path), "-o", str(tmp_path / "dask.csv"), "--engine", "dask",
                 "--scheduler", cluster.address, "--db-url", url, "--tracking-uri",
                 champion_store().tracking_uri, "--policy", str(policy), "--at", AT.isoformat(),
                 "--partition-rows", "50", "--bucket-rows", "4", "--no-progress", "--no-audit",
                 "--summary-json", str(summary)]) == 0  # fmt: skip
    _same(tmp_path / "local.csv", tmp_path / "dask.csv")
    assert "engine: dask" in capsys.readouterr().err
    import json

    timing = json.loads(summary.read_text())["timing"]
    assert len(timing["first_pass_task_s"]) == json.loads(summary.read_text())["partitions"]
    assert len(timing["budget_walk_task_s"]) > 1  # several buckets of 4 allowed rows
    assert set(timing["client_peak_rss_mb"]) == {"first pass", "rank and budget",
                                                 "second pass", "output"}  # fmt: skip
    assert main(["screen", str(path), "-o", str(tmp_path / "x.csv"), "--engine", "dask",
                 "--scheduler", cluster.address, "--bucket-rows", "0"]) == 2  # fmt: skip
    said = capsys.readouterr()
    assert "--bucket-rows must be at least 1" in " ".join((said.out + said.err).split())


def test_a_worker_refuses_another_store_or_other_keys(campaign_store, monkeypatch) -> None:
    """The checks each worker makes before deciding, on the real store: the store id and the
    keyed hash under its keys must be the client's."""
    from serving.pipeline.cluster import (
        ClusterRefused,
        release_worker_resources,
        worker_screener,
        worker_spec,
    )

    url, store = campaign_store

    class Local:  # runs the one task worker_spec submits (the champion's version) here
        def submit(self, fn, *args, **kw):
            class Done:
                def result(self):
                    return fn(*args)

            return Done()

    spec = worker_spec(Local(), url, champion_store().tracking_uri)
    assert spec.store_id == store.store_id and spec.model_version == champion_store().version
    try:
        assert worker_screener(spec).resources.store is not None
        with pytest.raises(ClusterRefused, match="not the client's"):
            worker_screener(replace(spec, store_id="another"))
        with pytest.raises(ClusterRefused, match="CONTACTGATE_HMAC_KEY differs"):
            worker_screener(replace(spec, key_probe="00" * 32))
        with pytest.raises(ClusterRefused, match="champion moved"):
            worker_screener(replace(spec, model_version="999"))
    finally:
        release_worker_resources()


@pytest.fixture
def history_campaign(tmp_path, store_url, store_env):
    """A store holding the simulated history of 150 numbers (the risks and p_complaint of
    their contacts vary) and a campaign calling each of them twice (a second time further
    down the file: risks tied across partitions); (url, campaign, its instant)."""
    import datetime as dt

    from serving.store import Store
    from tests.support.models import simulated_history

    numbers, records, at = simulated_history(champion_store().sim_dir, 150)
    store = Store.open(store_url)
    try:
        store.record_events(records)
        for registry in ("US_NATIONAL_DNC", "US_FL_DNC", "US_LA_DNC"):
            store.import_registry(registry, at - dt.timedelta(days=1), [], allow_empty=True)
    finally:
        store.close()
    path = tmp_path / "campaign.csv"
    frame = pd.DataFrame({"number": numbers * 2, "channel": "call", "at": at.isoformat()})
    frame["ref"] = [f"r{i}" for i in range(len(frame))]
    frame.to_csv(path, index=False)
    return store_url, path, at


def _greedy_skip_limit(local_csv) -> float:
    """A ``max_expected_complaints`` under which the budget withholds an allowed row and
    keeps a later, smaller one: from the allowed rows of an unbudgeted local run."""
    import numpy as np

    out = pd.read_csv(local_csv)
    allowed = out[out["decision"] == "allow"]
    order = np.lexsort((allowed["row"].to_numpy(), allowed["risk"].to_numpy()))
    pc = allowed["p_complaint"].to_numpy()[order]
    for k in range(1, len(pc)):
        later = np.flatnonzero(pc[k + 1 :] < pc[k])
        if len(later):
            return float(pc[:k].sum() + (pc[k] + pc[k + 1 + later[0]]) / 2)
    raise AssertionError("no allowed row is followed by a smaller p_complaint")


def test_rank_and_budget_equal_the_local_run_over_many_buckets(
    tmp_path, cluster, history_campaign
) -> None:
    """Several buckets (a few allowed rows each, chosen from 3-key samples), risks tied
    across partitions: each budget gives the local command's decisions, ranks, withholds
    and expected complaints — including a complaint limit that withholds a row and keeps a
    later one, and a campaign with nothing allowed."""
    url, path, at = history_campaign
    _local(path, tmp_path / "free.csv", url, policy=Policy(), default_at=at)
    limit = _greedy_skip_limit(tmp_path / "free.csv")
    policies = {
        "no budget": Policy(),
        "max_contacts": Policy(max_contacts=23),
        "max_expected_complaints": Policy(max_expected_complaints=limit),
        "both": Policy(max_contacts=30, max_expected_complaints=limit * 1.5),
        "nothing allowed": Policy(review_above=0.0, withhold_above=0.0, max_contacts=3),
    }
    with cluster.client() as client:
        for name, policy in policies.items():
            local = _local(path, tmp_path / f"{name}.local.csv", url, policy=policy,
                           default_at=at)  # fmt: skip
            summary = _on_cluster(client, path, tmp_path / f"{name}.dask.csv", url,
                                  policy=policy, audit=False, default_at=at, partition_rows=60,
                                  bucket_rows=6, sample_size=3)  # fmt: skip
            _same(tmp_path / f"{name}.local.csv", tmp_path / f"{name}.dask.csv")
            for key in ("allow", "review", "withhold", "by_reason", "expected_complaints"):
                assert summary[key] == local[key], (name, key)
            buckets = len(summary["timing"]["budget_walk_task_s"])
            assert (buckets == 0) if name == "nothing allowed" else (buckets >= 4), (name, buckets)
    free = pd.read_csv(tmp_path / "no budget.dask.csv")
    allowed = free[free["decision"] == "allow"]
    assert allowed["rank"].tolist() and sorted(allowed["rank"]) == list(range(1, len(allowed) + 1))
    assert allowed["risk"].duplicated().any()  # ties in risk
    skipped = pd.read_csv(tmp_path / "max_expected_complaints.dask.csv")
    held = skipped[skipped["reason_codes"] == "BUDGET_EXHAUSTED"]
    kept = skipped[skipped["decision"] == "allow"]
    assert len(held) and (kept["risk"] > held["risk"].min()).any()  # a later row still fit
    assert "expected complaints would exceed" in held["reasons"].iloc[0]
    assert pd.read_csv(tmp_path / "nothing allowed.dask.csv")["decision"].ne("allow").all()


def test_what_the_client_receives_does_not_grow_with_the_rows(
    tmp_path, cluster, campaign_store
) -> None:
    """Four partitions of 40, then of 160 rows: every task result the client receives (the
    first pass's counts and fixed-size sample, a bucket's counts, the budget's running
    totals, the second pass's tallies) is as large at four times the allowed rows."""
    url, _ = campaign_store
    largest = {}
    with cluster.client() as client:
        for rows in (160, 640):
            path = tmp_path / f"campaign-{rows}.parquet"  # four row groups: four partitions
            pd.DataFrame(write_campaign(tmp_path / "c.csv", rows=rows)).to_parquet(
                path, index=False, row_group_size=rows // 4
            )
            summary = _on_cluster(client, path, tmp_path / f"dask-{rows}.csv", url,
                                  policy=Policy(max_contacts=rows // 3), audit=False,
                                  partition_rows=rows // 4, bucket_rows=rows, sample_size=4)  # fmt: skip
            assert summary["partitions"] == 4
            largest[rows] = (summary["allow"] + summary["by_reason"].get("BUDGET_EXHAUSTED", 0),
                             summary["timing"]["largest_result_bytes"])  # fmt: skip
    (allowed_small, small), (allowed_large, large) = largest[160], largest[640]
    assert allowed_large >= 3 * allowed_small > 0
    assert set(small) == set(large) == {"first pass", "bucket", "budget walk", "second pass"}
    for stage, size in large.items():
        # 24 bytes per allowed row would add > 1 KB per partition here
        assert size <= small[stage] + 64, (stage, small[stage], size)
