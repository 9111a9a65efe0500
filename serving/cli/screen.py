"""Screen a campaign file of any size — ``contactgate screen campaign.csv -o decisions.csv``.

The same decision code as the ``screen`` API, run in two streaming passes over the file
(:mod:`serving.pipeline.batch`): memory stays bounded whatever the file's size.

Input columns: ``number`` and ``channel`` (required), optionally ``purpose``, ``dial_mode``,
``subject``, ``campaign_id``, ``at``, ``address_region``, ``live_agent_guaranteed``, ``ref``
(CSV or Parquet); national-format numbers are read in the row's ``region`` column or
``--default-region``. A row that breaks the contract stops the run with its file, row and field,
unless ``--skip-invalid`` writes it to ``OUT.rejects.csv``; an unparsable phone number is not
a bad row — it is an ``INVALID_NUMBER`` withhold, as in the API.

Exit status: 0 done; 1 a bad row stopped the run; 2 bad arguments; 3 done, but the store,
the rule packs or the model was unavailable, so every contact was withheld
``SYSTEM_UNAVAILABLE`` (fail closed).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from features.schema import parse_instant
from serving.cli.options import add_db_url, add_no_progress, announce_resources
from serving.pipeline.batch import DEFAULT_CHUNK, BadRow, count_rows, load_policy, screen_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="campaign contacts, CSV or Parquet")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="decisions file (.csv or .parquet)"
    )
    parser.add_argument(
        "--policy",
        type=Path,
        default=None,
        help="YAML/JSON policy: review_above, withhold_above, max_expected_complaints, "
        "max_contacts (unknown keys are errors)",
    )
    parser.add_argument(
        "--chunk-size", type=int, default=DEFAULT_CHUNK, help="rows screened per store read"
    )
    parser.add_argument(
        "--at",
        default=None,
        help="ISO-8601 instant for rows without 'at' (default: now when the run starts)",
    )
    parser.add_argument(
        "--skip-invalid",
        action="store_true",
        help="write rows that break the contract to OUTPUT.rejects.csv instead of stopping",
    )
    add_db_url(parser)
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI of the champion model "
        "(default: $MLFLOW_TRACKING_URI, else models/mlflow.db)",
    )
    parser.add_argument(
        "--no-audit", action="store_true", help="do not append the decisions to the audit log"
    )
    add_no_progress(parser)
    from features.options import add_loading_arguments

    add_loading_arguments(parser, skip_invalid=False, strict=False)


def summary_table(summary: dict[str, Any]) -> Any:
    """A rich table of the run: decisions, withholds by reason, expected complaints."""
    from rich.table import Table

    table = Table(title="campaign screening")
    table.add_column("")
    table.add_column("contacts", justify="right")
    for name in ("allow", "review", "withhold"):
        table.add_row(name, f"{summary[name]:,}")
    for code, n in summary["by_reason"].items():
        table.add_row(f"  reason {code}", f"{n:,}")
    table.add_row("expected complaints (allowed)", f"{summary['expected_complaints']:.2f}")
    model = summary.get("model") or {}
    table.add_row(
        "model",
        f"{model.get('name')}@{model.get('alias')} version {model.get('version')}"
        if model.get("version")
        else "UNAVAILABLE",
    )
    table.add_row("rule packs", str(summary.get("rules_version") or "UNAVAILABLE"))
    if summary.get("rejected_rows"):
        table.add_row("rejected rows", f"{summary['rejected_rows']:,}")
    return table


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from serving.pipeline import Screener, load_resources

    console = Console(stderr=True)
    if not args.file.exists():
        console.print(f"[red]{args.file}: no such file[/red]")
        return 2
    if args.chunk_size < 1:
        console.print("[red]--chunk-size must be at least 1[/red]")
        return 2
    policy = load_policy(args.policy)
    default_at = None
    if args.at:
        try:
            default_at = parse_instant(args.at, "--at", date_ok=False)
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            return 2
    resources = load_resources(db_url=args.db_url, tracking_uri=args.tracking_uri)
    announce_resources(resources)
    problems = resources.problems()
    if problems:
        console.print(
            f"[yellow]WARNING: {', '.join(problems)} unavailable ({resources.errors}); every "
            "contact will be withheld SYSTEM_UNAVAILABLE (fail closed)[/yellow]"
        )
    screener = Screener(resources, audit=False)
    total = count_rows(args.file)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, disable=args.no_progress,
    ) as bar:  # fmt: skip
        task = bar.add_task("screening", total=total)
        try:
            summary = screen_file(
                args.file, args.output, screener, policy, chunk_size=args.chunk_size,
                default_at=default_at, skip_invalid=args.skip_invalid, audit=not args.no_audit,
                default_region=args.default_region,
                progress=lambda n: bar.advance(task, n),
            )  # fmt: skip
        except BadRow as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
    Console().print(summary_table(summary))
    if summary.get("rejects_file"):
        console.print(f"rejected rows written to {summary['rejects_file']}")
    if resources.store is not None:
        resources.store.close()
    return 0 if not problems else 3
