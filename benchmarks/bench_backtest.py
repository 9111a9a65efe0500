"""Benchmark ``contactgate backtest`` end to end, training included.

Simulates ``--numbers`` numbers over ``--days`` days (not timed as part of the backtest),
then backtests the last ``--window-days`` days: load, train strictly before the window,
replay every contact through the rules, score, strategies with the bootstrap, report and
MLflow run (in a temp store). Prints a table of stage timings, peak RSS and the headline
figures: complaints (opt-outs) avoided at 10 % of contacts withheld on top of the rules,
model vs contact count, with 95 % intervals (numbers resampled).

    .venv/bin/python benchmarks/bench_backtest.py --numbers 100000 --seed 7
    .venv/bin/python benchmarks/bench_backtest.py --numbers 100000 --seed 11
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def pct(v, ci=None) -> str:
    if v is None:
        return "–"
    text = f"{100 * v:.1f} %"
    return text + (f" ({100 * ci[0]:.1f}–{100 * ci[1]:.1f})" if ci else "")


def ratio(entry: dict, name: str) -> str:
    value = entry.get(f"{name}_avoided_vs_contact_count_at_10pct")
    if value is None:
        return ""
    ci = entry.get(f"{name}_avoided_vs_contact_count_at_10pct_ci95")
    return f"{value:.2f}x" + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=90, help="days of simulated history")
    parser.add_argument("--window-days", type=int, default=30, help="the backtest window")
    parser.add_argument("--seed", type=int, default=7, help="simulator seed")
    parser.add_argument("--bootstrap", type=int, default=300)
    parser.add_argument("--data", type=Path, help="reuse (or keep) the simulated folder here")
    parser.add_argument(
        "--shard-events", type=int, help="events per shard (default: the command's)"
    )
    parser.add_argument("--train-numbers", type=int, help="numbers to train on when split")
    args = parser.parse_args(argv)

    from serving.settings import start_runtime

    start_runtime()
    from rich.console import Console
    from rich.table import Table

    from benchmarks.bench_store import python_speed_ms
    from features.simulate import DEFAULT_START, simulate_to_dir
    from serving.backtest import run_backtest
    from serving.backtest.run import peak_rss_mb
    from serving.backtest.strategies import RANKED, REFERENCES

    loop_before = python_speed_ms()
    work = Path(tempfile.mkdtemp(prefix="bench_backtest_"))
    data = args.data or work / "sim"
    t = time.perf_counter()
    if not (data / "events.parquet").exists():
        simulate_to_dir(data, numbers=args.numbers, days=args.days, seed=args.seed)
    simulate_s = time.perf_counter() - t
    end = DEFAULT_START + dt.timedelta(days=args.days)
    start = end - dt.timedelta(days=args.window_days)
    began = time.perf_counter()
    out = run_backtest(
        data, start, end, work / "out", seed=args.seed, resamples=args.bootstrap,
        tracking_uri=f"sqlite:///{work / 'mlflow.db'}", say=lambda m: print(m, flush=True),
        **{k: v for k, v in (("shard_events", args.shard_events),
                             ("train_numbers", args.train_numbers)) if v is not None},
    )  # fmt: skip
    total = time.perf_counter() - began

    console = Console(width=170)
    table = Table(title=f"contactgate backtest: {args.numbers:,} numbers, window "
                  f"{start:%Y-%m-%d} – {end:%Y-%m-%d}, seed {args.seed}")  # fmt: skip
    table.add_column("stage")
    table.add_column("seconds", justify="right")
    table.add_row("simulate (not part of the backtest)", f"{simulate_s:.1f}")
    for name, value in out.seconds.items():
        table.add_row(name.removesuffix("_s"), f"{value:.1f}")
    table.add_row("end to end (incl. MLflow run)", f"{total:.1f}")
    for stage, mb in out.meta["peak_rss_mb"].items():
        table.add_row(f"peak RSS MB after {stage}", f"{mb:,.0f}")
    table.add_row("peak RSS MB", f"{peak_rss_mb():,.0f}")
    table.add_row("shards (training on)", f"{out.meta['shards']} ({out.meta['training_shards']})")
    loop = f"{loop_before:.0f} / {python_speed_ms():.0f}"
    table.add_row("reference loop ms, before / after (idle core ~30-40)", loop)
    table.add_row("load average (1 min) at the end", f"{os.getloadavg()[0]:.1f}")
    table.add_row("contacts in the window", f"{len(out.contacts):,}")
    console.print(table)

    s = out.result["strategies"]
    head = out.result["headline"]
    for basis, title in (
        ("allowed", f"10 % of the {head['rules_allowed']:,} contacts the rules allow"),
        ("all", f"10 % of all {head['contacts']:,} contacts"),
    ):
        figures = Table(title=f"withheld on top of the rules: {title} (95 % CI, numbers resampled)")
        for col in ("strategy", "complaints avoided", "÷ count", "expected (true p)",
                    "÷ count, expected", "opt-outs avoided", "÷ count"):  # fmt: skip
            figures.add_column(col, justify="right")
        for name in (*RANKED, *REFERENCES):
            if name not in s:
                continue
            e = s[name] if basis == "allowed" else s[name]["of_all_contacts"]
            figures.add_row(
                name,
                pct(e["complaints_avoided_share_at_10pct"], e["complaints_avoided_share_at_10pct_ci95"]),
                ratio(e, "complaints"),
                pct(e.get("expected_complaints_avoided_share_at_10pct"),
                    e.get("expected_complaints_avoided_share_at_10pct_ci95")),
                ratio(e, "expected_complaints"),
                pct(e["opt_outs_avoided_share_at_10pct"], e["opt_outs_avoided_share_at_10pct_ci95"]),
                ratio(e, "opt_outs"),
            )  # fmt: skip
        console.print(figures)
    rules = s["rules_only"]
    print(
        f"rules only: {pct(rules['withheld_share'])} of contacts withheld, "
        f"{pct(rules['complaints_avoided_share'])} of complaints avoided"
    )
    print(f"report: {out.paths['report']}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    raise SystemExit(main())
