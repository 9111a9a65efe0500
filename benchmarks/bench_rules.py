"""Rules engine speed: microseconds per ``evaluate`` for typical contacts (prints a table).

Target (issue 6): ≤ 100 µs per typical contact. Run: ``.venv/bin/python benchmarks/bench_rules.py``
(``--repeat N`` evaluations per scenario). Numbers are per process, single core.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from collections.abc import Callable

import pandas as pd

from features.phone import normalize
from features.replies import classify_replies
from features.schema import REGISTRIES, Consent, DncEntry
from serving.rules.engine import evaluate, load_rulebook
from serving.state import Contact, HistoryEvent, NumberState, WorldState

AT = dt.datetime(2026, 6, 16, 15, 0, tzinfo=dt.UTC)  # Tue 11:00 New York
WORLD = WorldState(registry_snapshots={name: AT - dt.timedelta(days=2) for name in REGISTRIES})


def _history(count: int, every_hours: float) -> tuple[HistoryEvent, ...]:
    return tuple(
        HistoryEvent(
            ts=AT - dt.timedelta(hours=every_hours * (count - i)),
            kind="contact",
            channel="call" if i % 3 else "sms",
            purpose="marketing",
            subject="default",
            outcome="answered" if i % 2 else "no_answer",
        )
        for i in range(count)
    )


def _scenarios() -> dict[str, tuple[Contact, NumberState]]:
    def contact(number: str, channel: str = "call", at: dt.datetime = AT) -> Contact:
        return Contact(number=normalize(number), channel=channel, at=at)

    written = Consent(number="x", type="written", granted_at=AT - dt.timedelta(days=90))
    return {
        "US NY call, cold, allowed": (contact("+12122345678"), NumberState()),
        "US FL call, 20 past contacts": (
            contact("+13052134567"),
            NumberState(history=_history(20, 36)),
        ),
        "US FL call 20:15, withheld + search": (
            contact("+13052134567", at=dt.datetime(2026, 6, 16, 0, 15, tzinfo=dt.UTC)),
            NumberState(),
        ),
        "US sms, consent, DNC list, 40 events": (
            contact("+12132345678", "sms"),
            NumberState(
                history=_history(40, 48),
                consents=(written,),
                dnc=(
                    DncEntry(number="x", added_at=AT - dt.timedelta(days=400), scope="sms"),
                    DncEntry(
                        number="x",
                        action="remove",
                        added_at=AT - dt.timedelta(days=300),
                        scope="sms",
                    ),
                ),
                registries=frozenset({"US_NATIONAL_DNC"}),
            ),
        ),  # fmt: skip
        "FR call, 10 past contacts": (
            contact("+33612345678"),
            NumberState(history=_history(10, 60)),
        ),
        "GB mobile call (4 zones)": (
            contact("+447400123456"),
            NumberState(history=_history(10, 60)),
        ),
        "AU mobile call (8 zones), withheld": (contact("+61412345678"), NumberState()),
        "CA call, 100 past contacts": (
            contact("+14162345678"),
            NumberState(history=_history(100, 20)),
        ),
    }


def _time(function: Callable[[], object], repeat: int) -> tuple[float, float]:
    function()  # warm caches (zoneinfo, holidays)
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat // 5):
            function()
        samples.append((time.perf_counter() - start) / (repeat // 5) * 1e6)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20_000, help="evaluations per scenario")
    args = parser.parse_args()
    started = time.perf_counter()
    book = load_rulebook()
    load_ms = (time.perf_counter() - started) * 1e3
    print(f"rule book {book.version}: loaded and compiled in {load_ms:.0f} ms\n")
    print(f"{'scenario':44} {'reasons':>7} {'µs median':>10} {'µs best':>8}")
    print("-" * 72)
    for name, (planned, state) in _scenarios().items():
        result = evaluate(planned, state, WORLD, book)
        median, best = _time(lambda p=planned, s=state: evaluate(p, s, WORLD, book), args.repeat)
        print(f"{name:44} {len(result.reasons):>7} {median:>10.1f} {best:>8.1f}")
    texts = pd.Series(
        ["STOP", "ok thanks", "No", "退订", "help"] * 200_000 + [f"msg {i}" for i in range(50_000)]
    )
    regions = pd.Series(["US", "AU", "CN", "FR", "GB"] * 210_000)
    start = time.perf_counter()
    classify_replies(texts, regions)
    seconds = time.perf_counter() - start
    print(
        f"\nclassify_replies: {len(texts):,} replies ({texts.nunique():,} distinct) in {seconds:.2f} s"
    )


if __name__ == "__main__":
    main()
