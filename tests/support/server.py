"""A real ``contactgate serve`` subprocess on a free loopback port, for the end-to-end and
reliability tests and the soak benchmark: its environment, starting it, waiting until it
answers, finding its workers, killing it (gently or with SIGKILL), reading memory.

Real store, real rule packs, the model of the given MLflow store, telemetry off,
``BENTOML_HOME`` in a temp dir. Bounded: the server must answer within
:data:`START_TIMEOUT_S` and every request has a timeout. :meth:`Server.stop` ends the
server and every worker it was seen with, orphans included.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from features.paths import PROJECT_ROOT
from serving.settings import MAX_AUTHORIZE_SKEW_S
from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key

START_TIMEOUT_S = 180
KEYS = {"campaign": "test-campaign", "operator": "test-operator", "reviewer": "test-reviewer"}
AUTH = {role: {"Authorization": f"Bearer {key}"} for role, key in KEYS.items()}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(
    db_url: str, tracking_uri: str, home: Path, *, keys: bool = True, **extra: str
) -> dict[str, str]:
    """The environment of a server: fresh store keys, the API keys of :data:`KEYS` (none
    with ``keys=False``: loopback mode), the store and the model; ``extra`` on top."""
    env = os.environ | {
        HMAC_ENV: new_key(),
        ENCRYPTION_ENV: new_key(),
        "CONTACTGATE_DB_URL": db_url,
        "MLFLOW_TRACKING_URI": tracking_uri,
        "BENTOML_HOME": str(home / "bentoml"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_DO_NOT_TRACK": "True",
        "DO_NOT_TRACK": "1",
    }
    env.pop("CONTACTGATE_SERVER_PID", None)
    env.pop("CONTACTGATE_API_KEYS", None)
    if keys:
        env["CONTACTGATE_API_KEYS"] = ",".join(f"{r}:{k}" for r, k in KEYS.items())
    return env | extra


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (Linux ``/proc``)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: list[int] = []
    todo = [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return False
    return stat.rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (``/proc/<pid>/status`` VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Server:
    """A ``contactgate serve`` subprocess in its own process group.

    ``http`` is a client without credentials (pass ``headers=AUTH[role]``);
    :meth:`client` gives one that carries a role's key."""

    def __init__(self, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.env = env
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "serving.cli", "serve", "--port", str(self.port),
             "--env-file", str(log.with_suffix(".none.env"))],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
            cwd=PROJECT_ROOT,
        )  # fmt: skip
        self.pid = self.process.pid
        self.http = httpx.Client(base_url=self.url, timeout=60)
        #: every worker seen (BentoML puts each in its own process group: ``stop`` ends
        #: them one by one, even orphans)
        self.seen_workers: set[int] = set()

    @classmethod
    def on_new_sqlite_store(cls, tmp: Path, tracking_uri: str, keys: bool = True) -> Server:
        """A server that creates its own SQLite store under ``tmp`` and takes dials at
        any instant of the simulated history (the authorize skew at its maximum)."""
        env = server_environment(
            f"sqlite:///{tmp / 'store.db'}",
            tracking_uri,
            tmp,
            keys=keys,
            CONTACTGATE_STORE_CREATE="1",
            CONTACTGATE_AUTHORIZE_SKEW_S=str(MAX_AUTHORIZE_SKEW_S),
        )
        return cls(env, tmp / "server.log")

    def client(self, role: str = "operator", timeout: float = 30) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH[role], timeout=timeout)

    def wait_ready(self, timeout: float = START_TIMEOUT_S, *, ready: bool = True) -> None:
        """Wait until ``/readyz`` answers 200 (``ready=False``: answers at all, 503 too)."""
        deadline = time.monotonic() + timeout
        with httpx.Client(base_url=self.url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"server exited: {self.log_text()[-3000:]}")
                try:
                    status = client.get("/readyz").status_code
                    if status == 200 or (not ready and status == 503):
                        return
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
        raise TimeoutError(f"server not ready in {timeout:g}s: {self.log_text()[-3000:]}")

    def workers(self) -> list[int]:
        """The server's descendant processes that serve requests (BentoML workers)."""
        found = []
        for pid in children(self.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"serve_http" in cmdline or b"worker" in cmdline:
                found.append(pid)
        found = found or children(self.pid)
        self.seen_workers.update(found)
        return found

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def kill9(self) -> None:
        """SIGKILL the main process only (its workers are left to notice)."""
        os.kill(self.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """Stop the server and every worker it had (whatever is left of them)."""
        self.http.close()
        if self.process.poll() is None:
            self.workers()
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.process.wait(20)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        # the group outlives its leader: orphans of a killed server are in it
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        for pid in self.seen_workers:
            if alive(pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(10)
        self.log.close()
