"""Rules engine speed: microseconds per ``evaluate`` for typical contacts (prints a table).

Target (issue 6): ≤ 100 µs per typical contact. Run: ``.venv/bin/python benchmarks/bench_rules.py``
(``--repeat N`` evaluations per scenario). Numbers are per process, single core. Each
evaluation is at an instant one microsecond later than the one before (as successive
requests' ``now``), so the engine's memos keyed by instant are not simply hit every time.

The last rows mirror a ``screen`` request: 1,000 simulated numbers (US, CA, GB, FR, DE, AU,
CN; 100 days of history, consents, DNC entries, a registry listing) loaded into a temporary
SQLite store, read back with ``load_states`` / ``world_state`` and evaluated one by one as
``serving.pipeline.screen.score_contacts`` does, calls and SMS — all at one instant (the request's
``now``) and each 37 minutes after the one before (25 days in all; a batch file's own
``at`` values). ``--no-screen`` skips them (the setup takes a few seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from features.phone import normalize
from features.replies import classify_replies
from features.schema import REGISTRIES, Consent, DncEntry
from serving.domain.state import Contact, HistoryEvent, NumberState, WorldState
from serving.rules import evaluate, load_rulebook

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


def _screen_batches(size: int = 1000) -> dict[str, tuple[list[Contact], dict, WorldState]]:
    """Two 1,000-contact batches over simulated numbers, with states read from a store."""
    from features.simulate import simulate_to_dir
    from serving.store import Store, load_frame
    from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, new_key

    os.environ.setdefault(HMAC_ENV, new_key())
    os.environ.setdefault(ENCRYPTION_ENV, new_key())
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        simulate_to_dir(Path(tmp) / "sim", numbers=size, days=100, seed=5, progress=False)
        frames = {name: pd.read_parquet(Path(tmp) / "sim" / f"{name}.parquet")
                  for name in ("events", "consent", "dnc")}  # fmt: skip
        numbers = frames["events"]["number"].drop_duplicates().head(size).tolist()
        # the API hands the engine instants in ``dt.UTC`` (``features.schema.Instant``)
        last = frames["events"]["ts"].max().to_pydatetime().astimezone(dt.UTC)
        at = last + dt.timedelta(hours=1)
        store = Store.open(f"sqlite:///{Path(tmp) / 'store.db'}")
        try:
            for name, frame in frames.items():
                load_frame(store, frame[frame["number"].isin(numbers)], name)
            for registry in REGISTRIES:  # every snapshot fresh; a quarter of the numbers listed
                store.import_registry(registry, at - dt.timedelta(days=1), numbers[::4])
            spread = [at + dt.timedelta(minutes=37 * i) for i in range(len(numbers))]
            batches = {}
            for name, instants in (("one instant", [at] * len(numbers)), ("37 min apart", spread)):
                contacts = [
                    Contact(number=normalize(n), channel="call" if i % 3 else "sms", at=t)
                    for i, (n, t) in enumerate(zip(numbers, instants, strict=True))
                ]
                states = store.load_states(numbers, max(instants))
                batches[name] = (contacts, states, store.world_state(min(instants)))
        finally:
            store.close()
    return batches


def _later(contacts: list[Contact], microseconds: int) -> list[Contact]:
    return [c._replace(at=c.at + dt.timedelta(microseconds=microseconds)) for c in contacts]


def _time(function: Callable[[int], object], repeat: int) -> tuple[float, float]:
    """Median and best µs of ``function(k)`` over 5 samples of ``repeat // 5`` calls each."""
    function(0)  # warm caches (zoneinfo, holidays)
    samples = []
    for sample in range(5):
        start = time.perf_counter()
        for k in range(repeat // 5):
            function(1 + sample * (repeat // 5) + k)
        samples.append((time.perf_counter() - start) / (repeat // 5) * 1e6)
    return statistics.median(samples), min(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20_000, help="evaluations per scenario")
    parser.add_argument("--no-screen", action="store_true", help="skip the screen batches")
    args = parser.parse_args()
    started = time.perf_counter()
    book = load_rulebook()
    load_ms = (time.perf_counter() - started) * 1e3
    print(f"rule book {book.version}: loaded and compiled in {load_ms:.0f} ms\n")
    print(f"{'scenario':44} {'reasons':>7} {'µs median':>10} {'µs best':>8}")
    print("-" * 72)
    for name, (planned, state) in _scenarios().items():
        result = evaluate(planned, state, WORLD, book)
        series = [_later([planned], k)[0] for k in range(args.repeat + 1)]
        median, best = _time(
            lambda k, p=series, s=state: evaluate(p[k], s, WORLD, book), args.repeat
        )
        print(f"{name:44} {len(result.reasons):>7} {median:>10.1f} {best:>8.1f}")
    if not args.no_screen:
        rounds = max(10, args.repeat // 500)
        for name, (contacts, states, world) in _screen_batches().items():
            requests = [_later(contacts, k) for k in range(rounds + 1)]

            def batch(k: int, r=requests, s=states, w=world) -> list:
                return [evaluate(x, s[x.number.e164], w, book) for x in r[k]]

            withheld = sum(1 for result in batch(0) if result.reasons)
            median, best = (v / len(contacts) for v in _time(batch, rounds))
            label = f"screen 1,000, {name} ({withheld} withheld)"
            print(f"{label:44} {'':>7} {median:>10.1f} {best:>8.1f}")
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
