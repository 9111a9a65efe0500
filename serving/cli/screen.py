"""Screen a campaign file of any size — ``contactgate screen campaign.csv -o decisions.csv``.

The same decision code as the ``screen`` API, run in two streaming passes over the file
(:mod:`serving.pipeline.batch`): memory stays bounded whatever the file's size.

Input columns: ``number`` and ``channel`` (required), optionally ``purpose``, ``dial_mode``,
``subject``, ``campaign_id``, ``at``, ``address_region``, ``live_agent_guaranteed``, ``ref``
(CSV or Parquet); national-format numbers are read in the row's ``region`` column or
``--default-region``. A row that breaks the contract stops the run with its file, row and field,
unless ``--skip-invalid`` writes it to ``OUT.rejects.csv``; an unparsable phone number is not
a bad row — it is an ``INVALID_NUMBER`` withhold, as in the API.

``--engine dask`` screens partitions of the file on a Dask cluster (``--scheduler ADDR``, or
a cluster of ``--workers`` processes on this machine) against the shared store, then applies
rank and budget over the whole file as the local run does; the decisions are the same
(:mod:`serving.pipeline.cluster`, docs/scale-out.md). The workers need the store's keys and
``CONTACTGATE_DB_URL`` in their environment; a SQLite store only serves workers on this
machine.

Exit status: 0 done; 1 a bad row stopped the run; 2 bad arguments; 3 done, but the store,
the rule packs or the model was unavailable, so every contact was withheld
``SYSTEM_UNAVAILABLE`` (fail closed).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from features.schema import parse_instant
from serving.cli.options import add_db_url, add_no_progress, announce_resources, progress_bar
from serving.pipeline.batch import DEFAULT_CHUNK, BadRow, count_rows, load_policy, screen_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="campaign contacts, CSV or Parquet")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="decisions file (.csv or .parquet); with --engine dask a path without a suffix is "
        "a Parquet dataset folder written by the workers",
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
    parser.add_argument(
        "--summary-json",
        type=Path,
        default=None,
        help="also write the summary as JSON to this file (on a cluster: with the partitions' "
        "timings)",
    )
    add_no_progress(parser)
    cluster = parser.add_argument_group("on a Dask cluster")
    cluster.add_argument(
        "--engine",
        choices=("local", "dask"),
        default="local",
        help="local: this process; dask: partitions of the file on the workers of a Dask "
        "cluster (same decisions)",
    )
    cluster.add_argument(
        "--scheduler",
        default=None,
        help="address of a running Dask scheduler (tcp://host:8786); without it, --engine dask "
        "starts --workers processes on this machine",
    )
    cluster.add_argument(
        "--workers", type=int, default=2, help="worker processes of the local cluster"
    )
    cluster.add_argument(
        "--partition-rows",
        type=int,
        default=None,
        help="rows per partition (one task per pass; a Parquet row group is never split); "
        "default 100,000",
    )
    cluster.add_argument(
        "--bucket-rows",
        type=int,
        default=None,
        help="allowed rows per bucket of the rank and budget (one worker task sorts a bucket, "
        "then the budget walks the buckets in order); default 500,000",
    )
    cluster.add_argument(
        "--run-dir",
        type=Path,
        default=None,
        help="folder for the partitions' interim files, reachable by every worker and the "
        "client (default: the output's folder)",
    )
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
    if summary.get("partitions"):
        table.add_row("partitions (on the cluster)", f"{summary['partitions']:,}")
    return table


def report(summary: dict[str, Any], json_path: Path | None, console: Any) -> None:
    """The summary table on stdout, the rejects file named, the JSON summary if asked."""
    import json

    from rich.console import Console

    Console().print(summary_table(summary))
    if summary.get("rejects_file"):
        console.print(f"rejected rows written to {summary['rejects_file']}")
    if json_path is not None:
        json_path.write_text(json.dumps(summary, indent=2, default=str))


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

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
    if args.engine == "dask":
        return run_on_cluster(args, policy, default_at, console)
    if args.scheduler:
        console.print("[red]--scheduler needs --engine dask[/red]")
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
    with progress_bar(console, "screening", total, args.no_progress) as advance:
        try:
            summary = screen_file(
                args.file, args.output, screener, policy, chunk_size=args.chunk_size,
                default_at=default_at, skip_invalid=args.skip_invalid, audit=not args.no_audit,
                default_region=args.default_region, progress=advance,
            )  # fmt: skip
        except BadRow as exc:
            console.print(f"[red]{exc}[/red]")
            return 1
    report(summary, args.summary_json, console)
    if resources.store is not None:
        resources.store.close()
    return 0 if not problems else 3


def run_on_cluster(args: argparse.Namespace, policy: Any, default_at: Any, console: Any) -> int:
    """``--engine dask``: the two passes on the workers of a Dask cluster."""

    from serving.pipeline.batch import is_parquet
    from serving.pipeline.cluster import (
        DEFAULT_BUCKET_ROWS,
        DEFAULT_PARTITION_ROWS,
        ClusterRefused,
        connect,
        screen_file_on_cluster,
    )
    from serving.store import default_url

    sizes = (args.partition_rows, args.bucket_rows)
    if args.workers < 1 or any(size is not None and size < 1 for size in sizes):
        console.print("[red]--workers, --partition-rows and --bucket-rows must be at least 1[/red]")
        return 2
    from sqlalchemy.engine import make_url

    url = args.db_url or default_url()
    console.print(f"store: {make_url(url).render_as_string(hide_password=True)}")
    client, cluster = connect(args.scheduler, args.workers)
    try:
        workers = len(client.scheduler_info()["workers"])
        console.print(f"engine: dask, scheduler {client.scheduler.address}, {workers} worker(s)")
        total = count_rows(args.file) if is_parquet(args.file) else None  # metadata only
        with progress_bar(console, "screening", total, args.no_progress) as advance:
            try:
                summary = screen_file_on_cluster(
                    args.file, args.output, policy, client, chunk_size=args.chunk_size,
                    partition_rows=args.partition_rows or DEFAULT_PARTITION_ROWS,
                    bucket_rows=args.bucket_rows or DEFAULT_BUCKET_ROWS,
                    default_at=default_at, skip_invalid=args.skip_invalid,
                    audit=not args.no_audit, default_region=args.default_region,
                    db_url=args.db_url, tracking_uri=args.tracking_uri, run_dir=args.run_dir,
                    progress=advance,
                )  # fmt: skip
            except BadRow as exc:
                console.print(f"[red]{exc}[/red]")
                return 1
            except ClusterRefused as exc:
                console.print(f"[red]{exc}[/red]")
                return 2
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    if summary["problems"]:
        console.print(
            f"[yellow]WARNING: {', '.join(summary['problems'])} unavailable on the workers "
            f"({summary['errors']}); those contacts were withheld SYSTEM_UNAVAILABLE (fail "
            "closed)[/yellow]"
        )
    report(summary, args.summary_json, console)
    return 0 if not summary["problems"] else 3
