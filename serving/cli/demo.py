"""The end-to-end main job on embedded defaults (SQLite store under data/, MLflow under models/).

Steps:
1. simulate a multi-channel contact history with known per-contact risk (the oracle, and the
   observable ceiling: that risk given only what a history can show);
2. build the point-in-time training frame and train the calibrated complaint / opt-out
   models, logged to MLflow and registered as ``challenger``;
3. promote the challenger to ``champion`` when it is at least as good as the champion;
4. load the campaign numbers' history, consent and internal DNC requests into the store,
   plus a fresh snapshot of every do-not-call registry;
5. screen a simulated campaign of 10,000 contacts (a few with unparseable numbers) with the
   champion and the rule packs, write the decisions and print the summary.

Re-running is safe: the simulation is deterministic, event writes are idempotent, and each
run trains a new model version that is promoted only if it is at least as good.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from pathlib import Path
from typing import Any

from features.paths import GENERATED_DIR
from serving.cli.options import add_db_url


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--numbers", type=int, default=40_000, help="simulated numbers")
    parser.add_argument("--days", type=int, default=180, help="simulated days of history")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument("--campaign", type=int, default=10_000, help="contacts in the campaign")
    parser.add_argument("--out", type=Path, default=GENERATED_DIR / "demo", help="output folder")
    parser.add_argument("--config", type=Path, default=None, help="training config YAML")
    parser.add_argument(
        "--allow-small",
        action="store_true",
        help="train even when a slice holds fewer positives than min_positives (small demos)",
    )
    add_db_url(parser)
    parser.add_argument(
        "--tracking-uri", default=None, help="MLflow URI (default: models/mlflow.db)"
    )


def _step(console: Any, k: int, text: str) -> float:
    console.rule(f"[bold][{k}/5][/bold] {text}")
    return time.perf_counter()


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd
    from rich.console import Console

    from features.simulate import simulate_to_dir, summarize
    from training import tracking
    from training.config import load_config
    from training.data import load_training_data
    from training.promote import promote
    from training.train import metrics_table, train

    console = Console()
    cfg = load_config(args.config)
    cfg = cfg.model_copy(update={"seed": args.seed})
    started = time.perf_counter()

    t = _step(console, 1, f"simulate {args.numbers:,} numbers × {args.days} days → {args.out}")
    paths = simulate_to_dir(
        args.out, numbers=args.numbers, days=args.days, seed=args.seed,
        progress=not args.no_progress,
    )  # fmt: skip
    summarize(paths)
    console.print(f"simulated in {time.perf_counter() - t:.1f}s")

    t = _step(console, 2, "train the calibrated complaint / opt-out models (MLflow)")
    data = load_training_data(args.out, progress=not args.no_progress)
    console.print(f"{data.events:,} events → {len(data.frame):,} contacts")
    result = train(data, cfg, args.tracking_uri, console, allow_small=args.allow_small)
    console.print(metrics_table(result.metrics))
    console.print(f"trained and logged in {time.perf_counter() - t:.1f}s")

    t = _step(console, 3, "promote the challenger when it is at least as good as the champion")
    tracking.configure(args.tracking_uri)
    decision = promote(cfg.model_name, cfg.promotion)
    for gate in decision.gates:
        console.print(f"  {gate.line()}", markup=False)
    if not decision.promoted and decision.champion_before is None and decision.challenger:
        console.print(
            "[yellow]no champion yet and the gates failed: the demo promotes anyway to have a "
            "model to screen with (--force, recorded on the version)[/yellow]"
        )
        decision = promote(cfg.model_name, cfg.promotion, force=True)
    if decision.promoted:
        console.print(
            f"champion is now {cfg.model_name} v{decision.challenger} ({decision.reason})"
        )
    else:
        console.print(f"champion stays v{decision.champion_before}: {decision.reason}")

    t = _step(console, 4, "load the campaign numbers' history and the registries into the store")
    from serving.cli.registry import open_store

    events = pd.read_parquet(paths["events"], columns=["number", "ts"])
    end = events["ts"].max()
    # a Tuesday afternoon in New York shortly after the history ends
    at = (end + pd.Timedelta(days=1)).normalize()
    at = at + pd.Timedelta(days=(1 - at.day_of_week) % 7, hours=17)
    rng = np.random.default_rng(args.seed)
    all_numbers = events["number"].drop_duplicates().to_numpy()
    chosen = rng.choice(all_numbers, size=min(args.campaign, len(all_numbers)), replace=False)
    store = open_store(args.db_url)
    try:
        _load_store(store, paths, set(chosen.tolist()), at.to_pydatetime(), rng, console)
    finally:
        store.close()
    del events
    console.print(f"store ready in {time.perf_counter() - t:.1f}s")

    t = _step(console, 5, f"screen a campaign of {args.campaign:,} contacts at {at.isoformat()}")
    campaign = _campaign(chosen, args.campaign, at, rng)
    campaign_path = args.out / "campaign.csv"
    campaign.to_csv(campaign_path, index=False)
    decisions_path = args.out / "decisions.csv"
    summary = _screen(campaign_path, decisions_path, args, console)
    console.print(
        f"screened in {time.perf_counter() - t:.1f}s → {decisions_path}\n"
        f"demo finished in {time.perf_counter() - started:.0f}s.\n"
        "Next: [bold]make ui[/bold] opens MLflow (runs, plots, model card) on "
        "http://127.0.0.1:5000; [bold]make serve[/bold] starts the decision service on "
        "http://127.0.0.1:3000 (curl examples in the README)."
    )
    return 0 if summary else 1


def _load_store(store: Any, paths: dict[str, Path], numbers: set[str], at: dt.datetime,
                rng: Any, console: Any) -> None:  # fmt: skip
    """History, consent and DNC of the campaign numbers; registries listing a few of them."""
    from features.io import load_records
    from features.phone import normalize_many
    from serving.store import load_frame

    for record in ("events", "consent", "dnc"):
        frame = load_records(paths[record], record).frame
        frame = frame[frame["number"].isin(numbers)]
        summary = load_frame(store, frame, record)
        console.print(
            f"{record}: {summary.accepted:,} stored, {summary.duplicates:,} already there, "
            f"{len(summary.store_rejects):,} refused"
        )
    ordered = sorted(numbers)
    normalised = normalize_many(ordered)
    places = list(
        zip(normalised["region"].tolist(), normalised["subdivision"].tolist(), strict=True)
    )
    snapshot_at = at - dt.timedelta(days=3)
    from serving.cli.registry import REGISTRY_REGION, registry_place

    for registry in REGISTRY_REGION:
        place = registry_place(registry)
        in_place = [n for n, (r, s) in zip(ordered, places, strict=True) if place in (r, s)]
        listed = [n for n in in_place if rng.random() < 0.08]
        # a snapshot in force for every list, so every state's calls are screened (a list
        # none of the campaign's numbers is on is recorded as checked and empty)
        result = store.import_registry(registry, snapshot_at, listed, True, allow_empty=True)
        console.print(
            f"{registry}: snapshot of {snapshot_at:%Y-%m-%d} lists {result.listed:,} numbers"
        )


def _campaign(numbers: Any, size: int, at: Any, rng: Any) -> Any:
    """Planned contacts: mostly marketing calls, some texts and service calls, a few bad rows."""
    import numpy as np
    import pandas as pd

    picked = rng.choice(numbers, size=size, replace=len(numbers) < size)
    frame = pd.DataFrame(
        {
            "ref": [f"demo-{i:05d}" for i in range(size)],
            "number": picked.astype(object),
            "channel": rng.choice(["call", "sms"], size=size, p=[0.7, 0.3]),
            "purpose": rng.choice(["marketing", "service"], size=size, p=[0.9, 0.1]),
            "dial_mode": rng.choice(["manual", "predictive"], size=size, p=[0.6, 0.4]),
            "campaign_id": "demo-spring",
            "at": at.isoformat(),
        }
    )
    bad = rng.choice(size, size=max(1, size // 1000), replace=False)
    frame.loc[np.sort(bad), "number"] = "not-a-number"
    return frame


def _screen(campaign_path: Path, decisions_path: Path, args: argparse.Namespace, console: Any):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress

    from serving.cli.screen import summary_table
    from serving.domain.decision import Policy
    from serving.pipeline import Screener, load_resources
    from serving.pipeline.batch import screen_file

    resources = load_resources(db_url=args.db_url, tracking_uri=args.tracking_uri)
    problems = resources.problems()
    if problems:
        console.print(f"[red]not ready: {', '.join(problems)} {resources.errors}[/red]")
        return None
    try:
        screener = Screener(resources, audit=False)
        with Progress(
            "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
            console=console, disable=args.no_progress,
        ) as bar:  # fmt: skip
            task = bar.add_task("screening", total=args.campaign)
            summary = screen_file(
                campaign_path, decisions_path, screener, Policy(), audit=True,
                progress=lambda n: bar.advance(task, n),
            )  # fmt: skip
        console.print(summary_table(summary))
        return summary
    finally:
        resources.store.close()
