"""A real ``contactgate serve`` subprocess on a free loopback port, for the end-to-end tests.

Real SQLite store, real rule packs, the model of the given MLflow store, telemetry off,
``BENTOML_HOME`` in a temp dir. Bounded: the server must be ready within
``START_TIMEOUT_S`` and every request has a timeout.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from serving.settings import MAX_AUTHORIZE_SKEW_S
from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key

START_TIMEOUT_S = 120
KEYS = {"campaign": "e2e-campaign", "operator": "e2e-operator", "reviewer": "e2e-reviewer"}
AUTH = {role: {"Authorization": f"Bearer {key}"} for role, key in KEYS.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A ``contactgate serve`` subprocess in its own process group."""

    def __init__(self, tmp: Path, tracking_uri: str, keys: bool = True) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = os.environ | {
            HMAC_ENV: new_key(),
            ENCRYPTION_ENV: new_key(),
            "CONTACTGATE_DB_URL": f"sqlite:///{tmp / 'store.db'}",
            "MLFLOW_TRACKING_URI": tracking_uri,
            "BENTOML_HOME": str(tmp / "bentoml"),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "BENTOML_DO_NOT_TRACK": "True",
            "DO_NOT_TRACK": "1",
            "CONTACTGATE_STORE_CREATE": "1",  # a new temp store
            "CONTACTGATE_AUTHORIZE_SKEW_S": str(MAX_AUTHORIZE_SKEW_S),  # dials at AT, not now
        }
        env.pop("CONTACTGATE_API_KEYS", None)
        if keys:
            env["CONTACTGATE_API_KEYS"] = ",".join(f"{r}:{k}" for r, k in KEYS.items())
        self.log = open(tmp / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "serving.cli", "serve", "--port", str(self.port),
             "--env-file", str(tmp / "no.env")],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def wait_started(self, ready: bool = True) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_text()[-3000:]}")
            try:
                status = self.client.get("/readyz", timeout=5).status_code
                if status == 200 or (not ready and status == 503):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise TimeoutError(f"server not up in {START_TIMEOUT_S}s: {self.log_text()[-3000:]}")

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        self.log.close()
