"""A soak of a running server: requests paced at a fixed rate for a fixed time, mixing
``screen``, ``authorize`` and ``record_events``; latencies per endpoint, status codes, and
the workers' resident memory sampled along the way. Used by tests/reliability/ (short) and
benchmarks/bench_soak.py (60 s at 100 requests/s, printing the table)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import itertools
import math
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx

from tests.support.server import AUTH, Server, rss_mb

#: The request mix: (endpoint, share).
MIX = (("authorize", 0.5), ("screen", 0.25), ("record_events", 0.25))
#: Memory is sampled this often (seconds).
SAMPLE_S = 2.0


def init_store(db_url: str, env: dict[str, str]) -> None:
    """What ``contactgate store init`` and the registry imports leave before a soak: the
    national list with one number and Florida's own list (the numbers dialled are
    Florida's), both snapshotted a day ago, so that dials are decided, not withheld for a
    missing snapshot."""
    from serving.store import Store

    keys = {k: env[k] for k in ("CONTACTGATE_HMAC_KEY", "CONTACTGATE_ENCRYPTION_KEY")}
    day_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    with Store.open(db_url, environ=keys) as store:
        store.import_registry("US_NATIONAL_DNC", day_ago, ["+13055550199"])
        store.import_registry("US_FL_DNC", day_ago, [], allow_empty=True)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


@dataclass
class SoakResult:
    seconds: float
    rate: float
    sent: int = 0
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    late: int = 0  # requests sent more than 100 ms after their slot (the client fell behind)
    memory_mb: list[tuple[float, float]] = field(default_factory=list)  # (t, total worker RSS)

    @property
    def all_ms(self) -> list[float]:
        return [x for values in self.latencies_ms.values() for x in values]

    @property
    def memory_start_mb(self) -> float:
        return self.memory_mb[0][1] if self.memory_mb else float("nan")

    @property
    def memory_end_mb(self) -> float:
        return self.memory_mb[-1][1] if self.memory_mb else float("nan")

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(what, count, p50 ms, p99 ms) per endpoint and overall."""
        out = []
        for name, values in [*sorted(self.latencies_ms.items()), ("all", self.all_ms)]:
            out.append(
                (name, f"{len(values):,}", f"{percentile(values, 0.5):.1f}",
                 f"{percentile(values, 0.99):.1f}")
            )  # fmt: skip
        return out


def _next_tuesday_florida_morning() -> str:
    day = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    while day.weekday() != 1:
        day += dt.timedelta(days=1)
    return day.replace(hour=15, minute=0, second=0, microsecond=0).isoformat()


def soak(server: Server, seconds: float, rate: float, threads: int = 32) -> SoakResult:
    """Send ``rate`` requests/s for ``seconds`` (open loop: a slot's request is sent on time
    whether or not earlier ones have answered, up to ``threads`` in flight)."""
    result = SoakResult(seconds, rate)
    lock = threading.Lock()
    ids = itertools.count()
    run = uuid.uuid4().hex[:8]  # event ids of this soak only
    screen_at = _next_tuesday_florida_morning()
    clients = {
        role: httpx.Client(base_url=server.url, headers=AUTH[role], timeout=30,
                           limits=httpx.Limits(max_connections=threads))
        for role in AUTH
    }  # fmt: skip
    kinds = [name for name, share in MIX for _ in range(round(share * 4))]

    def request(kind: str, n: int) -> None:
        number = f"+1{('212', '305', '415', '617')[n % 4]}55501{n % 100:02d}"
        if kind == "authorize":
            call = ("campaign", "/authorize", {"number": number, "channel": "sms"})
        elif kind == "screen":
            contacts = [
                {"number": f"+130555501{(n + i) % 100:02d}", "channel": "call", "at": screen_at}
                for i in range(10)
            ]
            call = ("campaign", "/screen", {"contacts": contacts})
        else:
            event = {"event_id": f"soak-{run}-{n}", "number": number, "kind": "reply",
                     "ts": dt.datetime.now(dt.UTC).isoformat(), "text": "thanks"}  # fmt: skip
            call = ("operator", "/record_events", {"events": [event]})
        role, path, body = call
        started = time.perf_counter()
        try:
            response = clients[role].post(path, json=body)
            status = response.status_code
        except httpx.HTTPError as exc:
            with lock:
                result.errors.append(f"{kind}: {exc.__class__.__name__}")
            return
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            result.statuses[status] += 1
            if status == 200:
                result.latencies_ms.setdefault(kind, []).append(elapsed)
            else:
                result.errors.append(f"{kind}: {status} {response.text[:120]}")

    def sample(t: float) -> None:
        try:
            total = sum(rss_mb(pid) for pid in server.workers())
        except OSError:
            return
        result.memory_mb.append((t, total))

    start = time.perf_counter()
    sample(0.0)
    next_sample = SAMPLE_S
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for n in range(int(seconds * rate)):
            slot = start + n / rate
            now = time.perf_counter()
            if slot > now:
                time.sleep(slot - now)
            elif now - slot > 0.1:
                result.late += 1
            pool.submit(request, kinds[n % len(kinds)], next(ids))
            result.sent += 1
            if time.perf_counter() - start >= next_sample:
                sample(time.perf_counter() - start)
                next_sample += SAMPLE_S
    sample(time.perf_counter() - start)
    for client in clients.values():
        client.close()
    return result
