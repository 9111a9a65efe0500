"""A soak of a real ``contactgate serve``: ``screen``, ``authorize`` and ``record_events``
mixed at a fixed rate. Short by default (10 s at 20 requests/s); ``--reliability-long`` runs
the 60-second soak at 100 requests/s. Every request answers 200, and the workers' memory
does not run away. (Speed is measured by benchmarks/bench_soak.py, not asserted here.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import LONG_OPTION
from tests.support.models import champion_store
from tests.support.server import Server, server_environment
from tests.support.soak import init_store, soak

pytestmark = pytest.mark.e2e

#: Worker memory may grow this much over a soak (caches fill; a leak grows without end).
MAX_GROWTH_MB = 150


def test_soak_answers_every_request_and_memory_stays_bounded(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_url: str
) -> None:
    long = request.config.getoption(LONG_OPTION)
    seconds, rate = (60, 100) if long else (10, 20)
    env = server_environment(sqlite_url, champion_store().tracking_uri, tmp_path)
    init_store(sqlite_url, env)  # `contactgate store init` and the registries
    server = Server(env, tmp_path / "server.log")
    try:
        server.wait_ready()
        soak(server, 2, 10)  # warm-up
        result = soak(server, seconds, rate)
    finally:
        server.stop()
    assert not result.errors, result.errors[:5]
    assert result.statuses[200] == result.sent
    assert set(result.latencies_ms) == {"authorize", "screen", "record_events"}
    growth = result.memory_end_mb - result.memory_start_mb
    assert result.memory_start_mb > 0 and growth < MAX_GROWTH_MB, result.memory_mb
