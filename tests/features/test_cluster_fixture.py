"""The shared real-cluster fixture: separate scheduler and worker processes, killed at the end."""

from __future__ import annotations

import os
from pathlib import Path

from tests.support.cluster import running_cluster


def _pid() -> int:
    return os.getpid()


def test_workers_are_processes_of_their_own_and_die_with_the_cluster(tmp_path: Path) -> None:
    with running_cluster(tmp_path, workers=2) as cluster, cluster.client() as client:
        pids = set(client.run(_pid).values())
        assert len(pids) == 2 and os.getpid() not in pids
        assert client.submit(sum, [1, 2, 3]).result() == 6
        procs = [cluster.scheduler, *cluster.workers]
    assert all(p.poll() is not None for p in procs)
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
        )
