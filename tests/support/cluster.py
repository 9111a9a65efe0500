"""A real Dask cluster for the scale-out tests: a ``dask scheduler`` and ``dask worker``
processes started as subprocesses (``python -m distributed.cli.dask_scheduler`` /
``dask_worker``), connected through a scheduler file, killed with their process groups at
teardown.

    def test_x(dask_cluster):                    # module-scoped, 2 workers × 1 thread
        run(["--scheduler", dask_cluster.address])

    with running_cluster(tmp_path, workers=2) as cluster:   # a cluster of one's own
        cluster.kill_worker(0)                   # SIGKILL a worker (and its nanny) mid-run
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from features.paths import PROJECT_ROOT
from serving.settings import OPENMP_PASSIVE

START_TIMEOUT_S = 90


@dataclass
class DaskCluster:
    """A running scheduler and its workers (each worker a process group of its own)."""

    address: str
    scheduler_file: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    directory: Path | None = None

    def client(self):
        """A ``distributed.Client`` of this cluster (close it, or use it as a context)."""
        from distributed import Client

        return Client(self.address, timeout=START_TIMEOUT_S)

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker ``index`` and everything it started (nanny and worker process)."""
        _kill_group(self.workers[index])

    def worker_pids(self) -> list[int]:
        return [w.pid for w in self.workers]

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def _environment() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    return (
        os.environ
        | OPENMP_PASSIVE
        | {
            "PYTHONPATH": str(PROJECT_ROOT) + (os.pathsep + path if path else ""),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
        }
    )


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=PROJECT_ROOT,
            env=_environment(),
            start_new_session=True,  # a process group: teardown kills the nanny's children too
        )


@contextlib.contextmanager
def running_cluster(
    directory: Path, workers: int = 2, threads: int = 1, *, nanny: bool = True
) -> Iterator[DaskCluster]:
    """Start a scheduler and ``workers`` worker processes; yield when every worker has joined;
    kill them all on the way out, whatever happened."""
    directory.mkdir(parents=True, exist_ok=True)
    scheduler_file = directory / "scheduler.json"
    scheduler_file.unlink(missing_ok=True)
    scheduler = _start(
        ["distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
         "--no-dashboard", "--scheduler-file", str(scheduler_file)],
        directory / "scheduler.log",
    )  # fmt: skip
    cluster = DaskCluster("", scheduler_file, scheduler, directory=directory)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            if scheduler.poll() is not None or time.monotonic() > deadline:
                log = (directory / "scheduler.log").read_text(errors="replace")
                raise RuntimeError(f"the dask scheduler did not start:\n{log[-2000:]}")
            time.sleep(0.1)
        time.sleep(0.1)  # the file is written whole, but give the writer its close
        cluster.address = json.loads(scheduler_file.read_text())["address"]
        for i in range(workers):
            cluster.workers.append(
                _start(
                    [
                        "distributed.cli.dask_worker",
                        cluster.address,
                        "--nthreads",
                        str(threads),
                        "--nworkers",
                        "1",
                        "--no-dashboard",
                        "--name",
                        f"w{i}",
                        "--memory-limit",
                        "0",
                        "--death-timeout",
                        "60",
                        "--local-directory",
                        str(directory / f"w{i}"),
                        "--nanny" if nanny else "--no-nanny",
                    ],
                    directory / f"worker-{i}.log",
                )  # fmt: skip
            )
        with cluster.client() as client:
            client.wait_for_workers(workers, timeout=START_TIMEOUT_S)
        yield cluster
    finally:
        cluster.close()


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaskCluster]:
    """A real scheduler and two single-thread worker processes, shared by a test module."""
    with running_cluster(tmp_path_factory.mktemp("dask-cluster"), workers=2) as cluster:
        yield cluster
