"""The service in process: its environment (keys, URLs, BentoML home) and the ASGI app."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from serving.settings import MAX_AUTHORIZE_SKEW_S

if TYPE_CHECKING:
    from starlette.testclient import TestClient

from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key

AT = "2026-06-16T14:00:00Z"  # Tue 10:00 in Florida
FL = "+13055550142"
KEYS = {"campaign": "camp-key-1", "operator": "oper-key-2", "reviewer": "revi-key-3"}
AUTH = {role: {"Authorization": f"Bearer {key}"} for role, key in KEYS.items()}


def service_environment(tmp_path, tracking_uri: str, keys: bool = True) -> dict[str, str]:
    env = {
        HMAC_ENV: new_key(),
        ENCRYPTION_ENV: new_key(),
        "CONTACTGATE_DB_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "MLFLOW_TRACKING_URI": tracking_uri,
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "BENTOML_DO_NOT_TRACK": "True",
        "CONTACTGATE_MAX_BODY_BYTES": "200000",
        # the temp store is new: the service may create it (a real one is `store init`-ed)
        "CONTACTGATE_STORE_CREATE": "1",
        # the tests dial at a fixed instant (AT), not now
        "CONTACTGATE_AUTHORIZE_SKEW_S": str(MAX_AUTHORIZE_SKEW_S),
        # in-process services share MLflow's process-wide URI with the other tests: their
        # champion check must not load models while another test trains (the follower is
        # tested on its own and through a real server)
        "CONTACTGATE_MODEL_POLL_S": "86400",
    }
    if keys:
        env["CONTACTGATE_API_KEYS"] = ",".join(f"{r}:{k}" for r, k in KEYS.items())
    return env


@functools.cache
def asgi_app() -> Any:
    """``ContactGate.to_asgi()``, built once per process: building a second app registers
    BentoML's metrics twice (``DuplicateTimeseries``). A module that needs the service runs
    its own lifespan on it (``with TestClient(asgi_app())``), which makes a fresh service
    instance from that module's environment: its own store, keys and model."""
    from serving.http.service import ContactGate

    return ContactGate.to_asgi()


@contextlib.contextmanager
def service_client(
    tmp: Path, *, unset: tuple[str, ...] = (), keys: bool = True
) -> Iterator[TestClient]:
    """The service in process on a fresh temp store and the trained test model: its own
    environment (keys, URLs), less the variables in ``unset``, for as long as it is used."""
    from starlette.testclient import TestClient

    from tests.support.models import champion_store

    with pytest.MonkeyPatch.context() as mp:
        for name, value in service_environment(tmp, champion_store().tracking_uri, keys).items():
            mp.setenv(name, value)
        for name in ("CONTACTGATE_RULES_DIR", "CONTACTGATE_OPEN_PATHS", *unset):
            mp.delenv(name, raising=False)
        with TestClient(asgi_app()) as client:
            yield client
