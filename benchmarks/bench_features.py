"""Speed and memory of the point-in-time features; prints a table (not a test).

    .venv/bin/python benchmarks/bench_features.py            # ~10 M events (1.2 M numbers)
    .venv/bin/python benchmarks/bench_features.py --numbers 100000   # a quick look

Measures, each in a fresh process so its peak memory is its own:

1. the whole training frame (:func:`features.pointintime.build_training_frame`, every feature and
   both labels, with consent) from the loaded events — target ≤ 60 s, ≤ 8 GB peak;
2. the six core features (prior 1/7/30-day contacts, prior complaints, unanswered streak,
   hours since last contact) with our kernel and with DuckDB window SQL — the reference a
   data scientist would write; both read the same Parquet columns, results are compared;
3. :func:`features.pointintime.features_as_of` for 1,000 numbers × 50 events — target < 50 ms;
4. ``contactgate features`` storage to storage: the local engine (load, check, build, write
   one file) against the dask engine on a real ``dask scheduler`` with 1 and then 2
   ``dask worker`` processes (1 thread each) reading a folder of Parquet files and writing
   a dataset. Peaks: the local process and the dask CLIENT, each its own process, RSS
   sampled in a thread; each worker (``getrusage`` in the worker). Targets on ~4 M events: client peak ≤ 1/3 of the local
   engine's, 2 workers ≥ 1.6× the throughput of 1. Then ``train --frame`` on the dataset
   written, with every negative and with 1 in 10: peak, and ECE on the unsampled test slice.
   The dask engine chooses its partitions unless ``--partitions`` is given.

    .venv/bin/python benchmarks/bench_features.py --numbers 400000 --skip whole core asof

The simulated history is generated once into ``data/generated/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

from features.paths import GENERATED_DIR  # noqa: E402

CORE_SIX = (
    "contacts_1d",
    "contacts_7d",
    "contacts_30d",
    "complaints_ever",
    "unanswered_streak",
    "hours_since_last_contact",
)
CORE_COLUMNS = ["event_id", "number", "ts", "kind", "channel", "outcome"]


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2  # KiB → GiB


def _in_fresh_process(fn, *args):
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --------------------------------------------------------------------------- 1. whole frame
def whole_frame(directory: str) -> dict[str, float]:
    import pandas as pd

    from features.pointintime import build_training_frame

    build_training_frame(pd.read_parquet(Path(directory) / "events.parquet").iloc[:200])  # JIT
    t0 = time.perf_counter()
    events = pd.read_parquet(Path(directory) / "events.parquet")
    consent = pd.read_parquet(Path(directory) / "consent.parquet")
    t1 = time.perf_counter()
    frame = build_training_frame(events, consent)
    t2 = time.perf_counter()
    return {
        "events": len(events),
        "rows": len(frame),
        "columns": frame.shape[1],
        "read_s": t1 - t0,
        "build_s": t2 - t1,
        "peak_gb": _peak_gb(),
    }


# --------------------------------------------------------------------------- 2. core six
def core_six_ours(directory: str) -> dict[str, object]:
    """The six core features with the kernel of features.pointintime (no normalisation: grouped by
    the number as written, like the SQL)."""
    import numpy as np
    import pandas as pd

    from features.pointintime.assemble import NS_PER_DAY, sort_order
    from features.pointintime.encode import equals
    from features.pointintime.frame import instants_ns
    from features.pointintime.kernels import Flag, FloatSlot, IntSlot, history_kernel

    def six(events: pd.DataFrame) -> pd.DataFrame:
        code, _ = pd.factorize(events["number"])
        code = code.astype(np.int64)
        ts = instants_ns(events["ts"], "ts")
        kind = events["kind"]
        contact = equals(kind, "contact")
        call = contact & equals(events["channel"], "call")
        answered_call = call & equals(events["outcome"], "answered")
        flags = (
            contact.astype(np.uint16) << Flag.CONTACT
            | call.astype(np.uint16) << Flag.CALL
            | answered_call.astype(np.uint16) << Flag.ANSWERED_CALL
            | equals(kind, "complaint").astype(np.uint16) << Flag.COMPLAINT
        )
        rows = np.flatnonzero(contact)
        out_pos = np.full(len(ts), -1, dtype=np.int64)
        out_pos[rows] = np.arange(len(rows))
        order = sort_order(code, ts)
        n_q = len(rows)
        counts = np.zeros((4, 4, n_q), dtype=np.int32)
        ints = np.zeros((len(IntSlot), n_q), dtype=np.int32)
        floats = np.full((len(FloatSlot), n_q), np.nan)
        windows = np.array([d * NS_PER_DAY for d in (1, 7, 30, 90)], dtype=np.int64)
        history_kernel(
            code[order], ts[order], flags[order], np.full(len(ts), -1, dtype=np.int64)[order],
            1, windows, out_pos[order], counts, ints, floats,
        )  # fmt: skip
        return pd.DataFrame(
            {
                "event_id": events["event_id"].iloc[rows].to_numpy(),
                "contacts_1d": counts[0, 0],
                "contacts_7d": counts[0, 1],
                "contacts_30d": counts[0, 2],
                "complaints_ever": ints[IntSlot.COMPLAINTS_EVER],
                "unanswered_streak": ints[IntSlot.UNANSWERED_STREAK],
                "hours_since_last_contact": floats[FloatSlot.HOURS_SINCE_LAST_CONTACT],
            }
        )

    path = Path(directory) / "events.parquet"
    six(pd.read_parquet(path, columns=CORE_COLUMNS).iloc[:200])  # JIT
    t0 = time.perf_counter()
    events = pd.read_parquet(path, columns=CORE_COLUMNS)
    t1 = time.perf_counter()
    result = six(events)
    t2 = time.perf_counter()
    result.sort_values("event_id").reset_index(drop=True).to_parquet(
        Path(directory) / "_bench_core_ours.parquet"
    )
    return {"read_s": t1 - t0, "compute_s": t2 - t1, "total_s": t2 - t0, "peak_gb": _peak_gb()}


DUCKDB_SQL = """
WITH e AS (
  SELECT event_id, number, ts, kind,
         kind = 'contact' AS is_contact,
         kind = 'contact' AND channel = 'call' AS is_call,
         kind = 'contact' AND channel = 'call' AND outcome = 'answered' AS is_answered_call,
         kind = 'complaint' AS is_complaint
  FROM read_parquet('{path}')
),
w AS (
  SELECT *,
    count(*) FILTER (WHERE is_contact) OVER day1 AS contacts_1d,
    count(*) FILTER (WHERE is_contact) OVER day7 AS contacts_7d,
    count(*) FILTER (WHERE is_contact) OVER day30 AS contacts_30d,
    count(*) FILTER (WHERE is_complaint) OVER past AS complaints_ever,
    count(*) FILTER (WHERE is_call) OVER past AS calls_before,
    max(ts) FILTER (WHERE is_contact) OVER past AS last_contact,
    count(*) FILTER (WHERE is_call) OVER upto AS calls_upto_here
  FROM e
  WINDOW
    day1 AS (PARTITION BY number ORDER BY ts
             RANGE BETWEEN INTERVAL 1 DAY PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
    day7 AS (PARTITION BY number ORDER BY ts
             RANGE BETWEEN INTERVAL 7 DAY PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
    day30 AS (PARTITION BY number ORDER BY ts
              RANGE BETWEEN INTERVAL 30 DAY PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
    past AS (PARTITION BY number ORDER BY ts
             RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING),
    upto AS (PARTITION BY number ORDER BY ts
             RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
s AS (
  SELECT *,
    max(CASE WHEN is_answered_call THEN calls_upto_here END) OVER (
      PARTITION BY number ORDER BY ts
      RANGE BETWEEN UNBOUNDED PRECEDING AND INTERVAL 1 MICROSECOND PRECEDING
    ) AS calls_upto_last_answered
  FROM w
)
SELECT event_id, contacts_1d, contacts_7d, contacts_30d, complaints_ever,
       calls_before - coalesce(calls_upto_last_answered, 0) AS unanswered_streak,
       epoch_us(ts - last_contact) / 3.6e9 AS hours_since_last_contact
FROM s WHERE is_contact
"""


def core_six_duckdb(directory: str, threads: int) -> dict[str, object]:
    import duckdb

    path = Path(directory) / "events.parquet"
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    t0 = time.perf_counter()
    result = con.execute(DUCKDB_SQL.format(path=path)).df()
    t1 = time.perf_counter()
    result.sort_values("event_id").reset_index(drop=True).to_parquet(
        Path(directory) / "_bench_core_duckdb.parquet"
    )
    return {"total_s": t1 - t0, "peak_gb": _peak_gb()}


def core_six_agree(directory: str) -> str:
    import numpy as np
    import pandas as pd

    ours = pd.read_parquet(Path(directory) / "_bench_core_ours.parquet")
    sql = pd.read_parquet(Path(directory) / "_bench_core_duckdb.parquet")
    if (
        len(ours) != len(sql)
        or not (ours["event_id"].to_numpy() == sql["event_id"].to_numpy()).all()
    ):
        return "DIFFERENT ROWS"
    bad = [
        name
        for name in CORE_SIX
        if not np.allclose(
            ours[name].to_numpy(dtype=float), sql[name].to_numpy(dtype=float), equal_nan=True
        )
    ]
    return "identical" if not bad else f"DIFFER: {bad}"


# --------------------------------------------------------------------------- 3. as of
def as_of(numbers: int, per_number: int, repeats: int) -> dict[str, float]:
    import numpy as np
    import pandas as pd

    from features.pointintime import features_as_of

    rng = np.random.default_rng(1)
    # fictional US numbers 555-01xx in many area codes (libphonenumber accepts them as valid)
    area = rng.choice([201, 212, 305, 312, 415, 617, 702, 713, 808, 907], numbers)
    raw = [f"+1{a}55501{i % 100:02d}" for i, a in enumerate(area)]
    raw = [f"{r[:-2]}{i // 100 % 100:02d}" if i >= 100 else r for i, r in enumerate(raw)]
    now = pd.Timestamp("2026-06-01 15:00", tz="UTC")
    n = numbers * per_number
    kinds = np.where(
        rng.random(n) < 0.9, "contact", rng.choice(["complaint", "opt_out", "reply"], n)
    )
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "number": np.repeat(raw, per_number),
            "ts": now - pd.to_timedelta(rng.integers(1, 120 * 86400, n), unit="s"),
            "kind": kinds,
            "channel": np.where(kinds == "contact", rng.choice(["call", "sms"], n), None),
            "purpose": np.where(kinds == "contact", "marketing", None),
            "campaign_id": np.where(kinds == "contact", rng.choice(["c1", "c2", "c3"], n), None),
            "subject": np.where(kinds == "contact", rng.choice(["loans", "energy"], n), None),
            "outcome": np.where(kinds == "contact", rng.choice(["answered", "no_answer"], n), None),
            "duration_s": rng.uniform(0, 120, n),
            "text": np.where(kinds == "reply", "STOP", None),
        }
    ).astype({c: "str" for c in ("event_id", "number", "kind")})
    candidates = pd.DataFrame({"number": raw, "channel": "call", "at": pd.Series([now] * numbers)})
    t0 = time.perf_counter()
    features_as_of(events, candidates)
    cold = time.perf_counter() - t0
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        features_as_of(events, candidates)
        runs.append(time.perf_counter() - t0)
    # the service's path: the same histories as Python records (what the store returns)
    from types import SimpleNamespace

    from features.pointintime import features_of_records

    fields = ("ts", "kind", "channel", "purpose", "subject", "campaign_id", "dial_mode",
              "outcome", "duration_s", "text")  # fmt: skip
    histories: dict[str, list[SimpleNamespace]] = {}
    for row in events.to_dict("records"):
        values = {f: row.get(f) for f in fields}
        values["ts"] = values["ts"].to_pydatetime()
        histories.setdefault(row["number"], []).append(SimpleNamespace(**values))
    planned = [
        SimpleNamespace(channel="call", at=now.to_pydatetime(), purpose=None, dial_mode=None,
                        subject=None, campaign_id=None)
        for _ in raw
    ]  # fmt: skip
    records = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        features_of_records(raw, planned, histories)
        records.append(time.perf_counter() - t0)
    return {
        "cold_ms": cold * 1e3,
        "median_ms": statistics.median(runs) * 1e3,
        "min_ms": min(runs) * 1e3,
        "records_median_ms": statistics.median(records) * 1e3,
        "records_min_ms": min(records) * 1e3,
    }


# --------------------------------------------------------------------------- 4. engines
class _SampledPeak:
    """This process's peak RSS, sampled every 20 ms in a thread (``ru_maxrss`` of a fresh
    process can carry its parent's high-water mark over ``fork``)."""

    def __enter__(self) -> _SampledPeak:
        import threading

        import psutil

        self.peak, self._stop = 0, threading.Event()
        me = psutil.Process()

        def sample() -> None:
            while not self._stop.is_set():
                self.peak = max(self.peak, me.memory_info().rss)
                self._stop.wait(0.02)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def gb(self) -> float:
        return self.peak / 1024**3


def local_engine(directory: str, out: str) -> dict[str, float]:
    """``contactgate features`` with the local engine, as a user runs it."""
    from serving.cli import main

    d = Path(directory)
    with _SampledPeak() as peak:
        t0 = time.perf_counter()
        code = main(["features", "--events", str(d / "events.parquet"), "--consent",
                     str(d / "consent.parquet"), "--out", out, "--no-progress"])  # fmt: skip
        wall = time.perf_counter() - t0
    return {"code": code, "wall_s": wall, "peak_gb": peak.gb}


def dask_client(directory: str, out: str, address: str, partitions: int | None) -> dict[str, float]:
    """``contactgate features --engine dask`` against a running cluster; this process is the
    client, so its peak is the client's. ``partitions`` None: the engine chooses."""
    from serving.cli import main

    d = Path(directory)
    chosen = ["--partitions", str(partitions)] if partitions else []
    with _SampledPeak() as peak:
        t0 = time.perf_counter()
        code = main(["features", "--events", str(d / "events_parts"), "--consent",
                     str(d / "consent.parquet"), "--out", out, "--engine", "dask",
                     "--scheduler", address, *chosen, "--no-progress"])  # fmt: skip
        wall = time.perf_counter() - t0
    return {"code": code, "wall_s": wall, "peak_gb": peak.gb}


def _worker_peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def events_folder(directory: str, files: int) -> str:
    """The events as a folder of ``files`` Parquet files (what the workers read)."""
    import pyarrow.parquet as pq

    folder = Path(directory) / "events_parts"
    if len(list(folder.glob("*.parquet"))) == files:
        return str(folder)
    folder.mkdir(exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    table = pq.read_table(Path(directory) / "events.parquet")
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(
            table.slice(i * step, step), folder / f"events-{i:03d}.parquet", compression="zstd"
        )
    return str(folder)


def engines(
    directory: Path,
    workers: tuple[int, ...],
    partitions: int | None,
    files: int,
    train: bool = True,
) -> list:
    import tempfile

    import pyarrow.parquet as pq

    from features.distributed import choose_partitions
    from tests.support.cluster import running_cluster

    events = pq.ParquetFile(directory / "events.parquet").metadata.num_rows
    # in a process of its own: this one stays small (a child can inherit its high-water mark)
    _in_fresh_process(events_folder, str(directory), files)
    rows = []
    with tempfile.TemporaryDirectory(dir=directory) as tmp:
        local = _in_fresh_process(local_engine, str(directory), f"{tmp}/local.parquet")
        rows.append((f"features, local engine, {events:,} events (load, check, build, write)",
                     f"{local['wall_s']:.1f} s ({events / local['wall_s']:,.0f} events/s)",
                     f"{local['peak_gb']:.2f} GB"))  # fmt: skip
        walls = {}
        for n in workers:
            with running_cluster(Path(tmp) / f"cluster{n}", workers=n) as cluster:
                with cluster.client() as client:  # compile the kernel first, as a
                    client.run(_compile_kernel)  # long-lived cluster has
                result = _in_fresh_process(
                    dask_client, str(directory), f"{tmp}/dask{n}", cluster.address, partitions
                )
                with cluster.client() as client:
                    peaks = client.run(_worker_peak_gb)
            walls[n] = result["wall_s"]
            # the workers run one thread each and no memory limit: the engine's own choice
            count = f"{partitions}" if partitions else f"auto: {choose_partitions(events, n)}"
            rows.append((f"features, dask engine, {n} worker(s), {count} partitions: client",
                         f"{result['wall_s']:.1f} s ({events / result['wall_s']:,.0f} events/s)",
                         f"{result['peak_gb']:.2f} GB"))  # fmt: skip
            rows.append((f"  workers' peak each (max of {n})", "",
                         f"{max(peaks.values()):.2f} GB"))  # fmt: skip
            rows.append((f"  client peak / local engine peak ({n} worker(s))",
                         "", f"{result['peak_gb'] / local['peak_gb']:.2f}"))  # fmt: skip
        if 1 in walls and 2 in walls:
            rows.append(("  throughput 2 workers / 1 worker", f"{walls[1] / walls[2]:.2f}×", ""))
        dataset = f"{tmp}/dask{workers[-1]}"
        for rate in (1.0, 0.1) if train and workers else ():
            t = _in_fresh_process(frame_training, dataset, rate)
            rows.append((f"train --frame (dataset), negatives at rate {rate:g}: "
                         f"{t['kept']:,} train+ES rows kept",
                         f"{t['wall_s']:.1f} s; ECE complaint {t['ece_complaint_7d']:.4f}, "
                         f"opt-out {t['ece_opt_out_7d']:.4f}",
                         f"{t['peak_gb']:.2f} GB"))  # fmt: skip
    return rows


def frame_training(dataset: str, rate: float) -> dict[str, float]:
    """Read a frame dataset as ``train --frame`` does (sampled at ``rate``), fit, calibrate
    and score the unsampled out-of-time slice; peak of this process."""
    from features.definitions import TARGETS
    from training.config import TrainConfig
    from training.frame_data import load_frame_data
    from training.metrics import expected_calibration_error
    from training.model import RiskModel

    cfg = TrainConfig.model_validate({"sampling": {"negative_rate": rate}})
    with _SampledPeak() as peak:
        t0 = time.perf_counter()
        data = load_frame_data(dataset, cfg, progress=False)
        parts = data.parts
        model = RiskModel(params=cfg.lightgbm, calibration=cfg.calibration, seed=cfg.seed)
        model.fit(parts["train"], parts["early_stopping"], parts["calibration"])
        predicted = model.predict(parts["test"])
        wall = time.perf_counter() - t0
    ece = {
        t: expected_calibration_error(parts["test"][t].to_numpy(int), predicted[t]) for t in TARGETS
    }
    return {
        "wall_s": wall,
        "peak_gb": peak.gb,
        "kept": len(parts["train"]) + len(parts["early_stopping"]),
        **{f"ece_{t}": v for t, v in ece.items()},
    }


def _compile_kernel() -> None:
    """Build the frame of a few events in this worker (compiles the kernel; cached after)."""
    import pandas as pd

    from features.pointintime import build_training_frame

    t = pd.Timestamp("2026-05-04 16:00", tz="UTC")
    events = pd.DataFrame({"event_id": ["a", "b"], "number": ["+12015550123"] * 2,
                           "ts": pd.to_datetime([t, t + pd.Timedelta(hours=1)], utc=True),
                           "kind": ["contact", "complaint"], "channel": ["call", None]})  # fmt: skip
    build_training_frame(events)


# --------------------------------------------------------------------------- main
def ensure_data(numbers: int, days: int, seed: int) -> Path:
    directory = GENERATED_DIR / f"bench_features_{numbers}n_{days}d_s{seed}"
    if not (directory / "events.parquet").exists():
        from features.simulate import simulate_to_dir

        print(f"generating {numbers:,} numbers × {days} days into {directory} …", flush=True)
        simulate_to_dir(directory, numbers=numbers, days=days, seed=seed, progress=True)
    return directory


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=1_200_000, help="simulated numbers")
    parser.add_argument("--days", type=int, default=180, help="simulated days")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    parser.add_argument("--data", type=Path, help="use this simulated directory as it is")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=(),
        choices=("whole", "core", "asof", "engines", "train"),
        help="parts to skip",
    )
    parser.add_argument(
        "--workers", type=int, nargs="*", default=(1, 2), help="engines: dask worker counts"
    )
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="engines: number-partitions of the dask engine (default: the engine chooses)",
    )
    parser.add_argument(
        "--files", type=int, default=16, help="engines: Parquet files the events are split into"
    )
    args = parser.parse_args()
    directory = str(args.data or ensure_data(args.numbers, args.days, args.seed))
    rows: list[tuple[str, str, str]] = []
    if "whole" not in args.skip:
        whole = _in_fresh_process(whole_frame, directory)
        rows.append(
            (
                f"training frame, all {whole['columns']} columns, {whole['events']:,} events "
                f"→ {whole['rows']:,} contacts",
                f"{whole['build_s']:.1f} s (+ read {whole['read_s']:.1f} s)",
                f"{whole['peak_gb']:.2f} GB",
            )
        )
    if "core" not in args.skip:
        ours = _in_fresh_process(core_six_ours, directory)
        sql = _in_fresh_process(core_six_duckdb, directory, args.threads)
        agree = core_six_agree(directory)
        rows.append(
            (
                "six core features, ours (read + numba kernel)",
                f"{ours['total_s']:.1f} s (read {ours['read_s']:.1f} s)",
                f"{ours['peak_gb']:.2f} GB",
            )
        )
        rows.append(
            (
                f"six core features, DuckDB window SQL ({args.threads} threads)",
                f"{sql['total_s']:.1f} s",
                f"{sql['peak_gb']:.2f} GB",
            )
        )
        rows.append(
            (
                f"  ratio DuckDB / ours; results {agree}",
                f"{sql['total_s'] / ours['total_s']:.2f}×",
                "",
            )
        )
    if "asof" not in args.skip:
        result = _in_fresh_process(as_of, 1000, 50, 20)
        rows.append(
            (
                "features_as_of, 1,000 numbers × 50 events (median of 20, warm)",
                f"{result['median_ms']:.1f} ms (min {result['min_ms']:.1f}, cold "
                f"{result['cold_ms']:.0f})",
                "",
            )
        )
        rows.append(
            (
                "features_of_records (service path), same histories (median of 20)",
                f"{result['records_median_ms']:.1f} ms (min {result['records_min_ms']:.1f})",
                "",
            )
        )
    if "engines" not in args.skip:
        rows += engines(
            Path(directory), tuple(args.workers), args.partitions, args.files,
            train="train" not in args.skip,
        )  # fmt: skip
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measurement':<{width}}  {'wall':<34}  peak RSS")
    print("-" * (width + 48))
    for what, wall, peak in rows:
        print(f"{what:<{width}}  {wall:<34}  {peak}")
    print(f"\ndata: {directory}; cores: {os.cpu_count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
