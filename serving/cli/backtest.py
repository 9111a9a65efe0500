"""Replay a window of history through the rules and a model that never saw it: what each
strategy would have withheld, the complaints and opt-outs that followed, and the cost.

Writes OUT/backtest.json, OUT/run.json, OUT/report.html and OUT/plots/curve.png, and logs an
MLflow run tagged contactgate.stage=backtest (docs/backtest.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from serving.backtest.shards import SHARD_EVENTS, TRAIN_NUMBERS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--events", type=Path, required=True,
        help="history folder: events.* (required), consent.*, dnc.*, preferences.*, "
        "blocked_periods.*, registries.* when present",
    )  # fmt: skip
    parser.add_argument("--from", dest="start", required=True,
                        help="window start T0 (ISO-8601 with offset or Z; a date means 00:00Z)")  # fmt: skip
    parser.add_argument("--to", dest="end", required=True, help="window end T1 (exclusive)")
    parser.add_argument("--policy", type=Path,
                        help="YAML/JSON policy: withhold_above, review_above, "
                        "max_expected_complaints (per day), max_contacts (per day)")  # fmt: skip
    parser.add_argument(
        "--model", dest="model_version", metavar="VERSION",
        help="use this registered version (refused if trained on data reaching --from); "
        "default: train on the events strictly before --from",
    )  # fmt: skip
    parser.add_argument("--model-name", default="contact-risk", help="registered model name")
    parser.add_argument("--config", type=Path, help="training config YAML (default training)")
    parser.add_argument(
        "--tracking-uri",
        help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or models/mlflow.db)",
    )
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument(
        "--db-url", dest="db_url", metavar="URL",
        help="read the do-not-call registry snapshots from this store, as they stood at each "
        "contact's instant (instead of a registries file in --events)",
    )  # fmt: skip
    parser.add_argument(
        "--allow-small", action="store_true",
        help="train before --from even below min_positives (noisy; still 2 per slice)",
    )  # fmt: skip
    parser.add_argument(
        "--shard-events", type=int, default=SHARD_EVENTS, metavar="N",
        help="split a history of more events than this into shards of numbers of about N "
        "events each, replayed one at a time (memory bounded by a shard)",
    )  # fmt: skip
    parser.add_argument(
        "--train-numbers", type=int, default=TRAIN_NUMBERS, metavar="N",
        help="when the history is split: train on the events before --from of whole shards "
        "until N numbers",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random strategy and tie-breaks")
    parser.add_argument("--bootstrap", type=int, default=300, help="bootstrap resamples")


def run(args: argparse.Namespace) -> int:
    from features.schema import parse_instant
    from serving.backtest import run_backtest
    from serving.backtest.strategies import RANKED, REFERENCES
    from serving.pipeline.batch import load_policy
    from training.config import load_config

    for flag, value in (
        ("--shard-events", args.shard_events),
        ("--train-numbers", args.train_numbers),
    ):
        if value < 1:
            raise ValueError(f"{flag} {value}: must be a positive number")
    start = parse_instant(args.start, "--from")
    end = parse_instant(args.end, "--to")
    output = run_backtest(
        args.events,
        start,
        end,
        args.out,
        policy=load_policy(args.policy),
        model_version=args.model_version,
        model_name=args.model_name,
        tracking_uri=args.tracking_uri,
        config=load_config(args.config),
        seed=args.seed,
        resamples=args.bootstrap,
        allow_small=args.allow_small,
        shard_events=args.shard_events,
        train_numbers=args.train_numbers,
        db_url=args.db_url,
    )
    s = output.result["strategies"]
    head = output.result["headline"]
    print(f"at 10 % of the contacts the rules allow ({head['extra_withheld']:,} of "
          f"{head['rules_allowed']:,}) withheld on top of the rules:")  # fmt: skip
    for name in (*RANKED, *REFERENCES):
        if name not in s:
            continue
        e = s[name]
        ci = e["complaints_avoided_share_at_10pct_ci95"] or [float("nan")] * 2
        print(
            f"{name:>28}: complaints avoided "
            f"{100 * e['complaints_avoided_share_at_10pct']:.1f} % "
            f"(95 % CI {100 * ci[0]:.1f}–{100 * ci[1]:.1f}), opt-outs avoided "
            f"{100 * e['opt_outs_avoided_share_at_10pct']:.1f} %"
            + (
                f", expected complaints {100 * e['expected_complaints_avoided_share_at_10pct']:.1f} %"
                if "expected_complaints_avoided_share_at_10pct" in e
                else ""
            )
        )
    for name in ("model", "model_complaint"):
        e = s[name]
        ratio = e.get("complaints_avoided_vs_contact_count_at_10pct")
        ci = e.get("complaints_avoided_vs_contact_count_at_10pct_ci95") or [float("nan")] * 2
        said = (
            f"{ratio:.2f}x (95 % CI {ci[0]:.2f}–{ci[1]:.2f})"
            if ratio is not None
            else "undefined (contact count avoided none)"
        )
        expected = e.get("expected_complaints_avoided_vs_contact_count_at_10pct")
        if expected is not None:
            said += f"; expected (true p) {expected:.2f}x"
        print(f"{name} / contact count, complaints avoided: {said}")
    print(f"rules only: {100 * s['rules_only']['withheld_share']:.1f} % withheld")
    print(f"wrote {output.paths['json']}, {output.paths['report']}"
          + (f"; MLflow run {output.run_id}" if output.run_id else ""))  # fmt: skip
    return 0
