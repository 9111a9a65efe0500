"""Import a do-not-call registry snapshot from a file of any size (bounded memory).

``contactgate registry import US_NATIONAL_DNC dnc.txt --as-of 2026-06-10T00:00:00Z``

The file is either one number per line (``.txt``, any other suffix; ``.gz`` compressed
too) or a CSV with a header and a number column (``.csv``). Numbers are streamed in
batches, normalised (E.164 with ``features.phone``; national formats use the registry's
country unless ``--default-region`` says otherwise), keyed-hashed and loaded into a new
snapshot that becomes the one in force in a single final transaction. A failed import —
an unreadable file, too many rejects, no valid number, an interruption — leaves the
previous snapshot in force. Rejects are written beside the file with their line numbers
(``<file>.rejects.csv``), never silently dropped.

``contactgate registry status`` lists the snapshots in force and their age.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import datetime as dt
import gzip
import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from features.schema import REGISTRIES, parse_instant
from serving.cli.options import HelpFormatter, add_db_url, add_no_progress, announce_store

#: The country whose national format a registry's files use (its `registry` rule in docs/rules.md).
REGISTRY_REGION: dict[str, str] = {
    "US_NATIONAL_DNC": "US",
    "CA_DNCL": "CA",
    "GB_TPS": "GB",
    "GB_CTPS": "GB",
    "FR_BLOCTEL": "FR",
    "AU_DNCR": "AU",
    **{
        f"US_{state}_DNC": "US"
        for state in ("CO", "FL", "IN", "LA", "MA", "MO", "MS", "OK", "PA", "TN", "TX", "WY")
    },
    "IT_RPO": "IT",
    "BR_NAO_ME_PERTURBE": "BR",
}


def registry_place(registry: str) -> str:
    """Where a registry lists numbers: its country, or ``US-TX`` for a state list ``US_TX_DNC``."""
    parts = registry.split("_")
    if len(parts) == 3 and parts[0] == "US" and parts[2] == "DNC" and len(parts[1]) == 2:
        return f"US-{parts[1]}"
    return REGISTRY_REGION[registry]


NUMBER_COLUMNS = ("number", "phone", "phone_number", "telephone", "e164", "msisdn")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = sub.add_parser(
        "import",
        help="load a registry snapshot from a file and make it the one in force",
        description=__doc__.strip().split("\n\n")[0] if __doc__ else None,
        formatter_class=HelpFormatter,
    )
    imp.add_argument(
        "registry", metavar="REGISTRY", choices=REGISTRIES, help=f"one of {', '.join(REGISTRIES)}"
    )
    imp.add_argument(
        "file",
        metavar="FILE",
        type=Path,
        help="one number per line (.txt, optionally .gz) or a CSV with a header and a number column",
    )
    imp.add_argument(
        "--as-of",
        required=True,
        metavar="INSTANT",
        help="when the registry published this snapshot (ISO-8601 instant with offset or Z, or "
        "a date YYYY-MM-DD read as midnight UTC); rules "
        "treat the snapshot as stale once it is older than the law's re-scrub interval",
    )
    imp.add_argument(
        "--default-region",
        metavar="CC",
        help="country for numbers without +CC (default: the registry's country, e.g. US)",
    )
    imp.add_argument(
        "--column",
        metavar="NAME",
        help=f"CSV column holding the number (default: the first of {', '.join(NUMBER_COLUMNS)}, "
        "or the only column)",
    )
    imp.add_argument(
        "--delta",
        action="store_true",
        help="add the numbers to the snapshot in force instead of replacing it (a change file, "
        "loaded in one transaction, so meant for small files)",
    )
    imp.add_argument(
        "--max-reject-share",
        type=float,
        default=0.01,
        metavar="SHARE",
        help="refuse the import (previous snapshot stays) when more than this share of lines "
        "is rejected: a wrong file must not replace a good snapshot (default: %(default)s)",
    )
    imp.add_argument(
        "--allow-shrink",
        action="store_true",
        help="accept a full snapshot listing fewer than half the numbers of the one in force "
        "(refused otherwise: a truncated file must not lift most of the registry)",
    )
    imp.add_argument(
        "--rejects",
        type=Path,
        metavar="PATH",
        help="where to write rejected lines (default: beside FILE as <stem>.rejects.csv)",
    )
    imp.add_argument(
        "--batch-size",
        type=int,
        default=50_000,
        help="numbers per database batch (default: %(default)s)",
    )
    imp.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes that normalise numbers while the main one writes; 1 = no pool "
        "(default: %(default)s)",
    )
    imp.add_argument(
        "--allow-empty",
        action="store_true",
        help="accept a file listing no number at all as the snapshot in force (a genuinely "
        "empty list, checked); without it an empty replacement is refused",
    )
    add_db_url(imp)
    add_no_progress(imp, "--quiet")

    status = sub.add_parser(
        "status",
        help="list the registry snapshots in force and their age",
        formatter_class=HelpFormatter,
    )
    add_db_url(status)


def open_store(url: str | None) -> Any:
    """Open the store (keys come from the environment, which the command line filled from
    the project's ``.env``)."""
    from serving.store import Store

    return Store.open(url)


# ----------------------------------------------------------------------------- reading
@dataclass
class NumberFile:
    """Streams the numbers of a registry file and maps each one back to its line.

    Only the places where the line number stops being ``first_line + index`` (blank lines,
    multi-line CSV records) are remembered, so memory stays bounded by the oddities of the
    file, not its length.
    """

    path: Path
    column: str | None = None
    blank_lines: int = 0
    bytes_read: int = 0
    total_bytes: int = 0
    _raw: IO[bytes] | None = None
    _breaks_at: list[int] = field(default_factory=list)  # index where an offset starts
    _breaks_offset: list[int] = field(default_factory=list)  # line - index from there on

    @property
    def is_csv(self) -> bool:
        suffixes = [s.lower() for s in self.path.suffixes]
        return ".csv" in suffixes

    def line_of(self, index: int) -> int:
        """The 1-based line in the file of the ``index``-th number yielded."""
        k = bisect.bisect_right(self._breaks_at, index) - 1
        return index + self._breaks_offset[k]

    def _note(self, index: int, line: int) -> None:
        if not self._breaks_offset or self._breaks_offset[-1] != line - index:
            self._breaks_at.append(index)
            self._breaks_offset.append(line - index)

    def _open_text(self) -> IO[str]:
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path}: no such file")
        self.total_bytes = self.path.stat().st_size
        self._raw = self.path.open("rb")
        stream: IO[bytes] = (
            gzip.GzipFile(fileobj=self._raw) if self.path.suffix.lower() == ".gz" else self._raw
        )
        return io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")

    def _position(self) -> int:
        return self._raw.tell() if self._raw is not None else 0

    def __iter__(self) -> Iterator[str]:
        with self._open_text() as text:
            yield from (self._csv_numbers(text) if self.is_csv else self._line_numbers(text))
        self.bytes_read = self.total_bytes

    def _line_numbers(self, text: IO[str]) -> Iterator[str]:
        index = 0
        for line_no, line in enumerate(text, start=1):
            value = line.strip()
            if not value:
                self.blank_lines += 1
                continue
            self._note(index, line_no)
            if index % 8192 == 0:
                self.bytes_read = self._position()
            index += 1
            yield value

    def _csv_numbers(self, text: IO[str]) -> Iterator[str]:
        reader = csv.reader(text)
        header = next(reader, None)
        if header is None:
            return
        names = [h.strip().lower() for h in header]
        if self.column is not None:
            wanted = self.column.strip().lower()
            if wanted not in names:
                raise ValueError(
                    f"{self.path.name} line 1: no column {self.column!r} (columns: {', '.join(header)})"
                )
            col = names.index(wanted)
        elif len(names) == 1:
            col = 0
        else:
            found = [c for c in NUMBER_COLUMNS if c in names]
            if not found:
                raise ValueError(
                    f"{self.path.name} line 1: no number column among {', '.join(header)}; name it with --column"
                )
            col = names.index(found[0])
        index = 0
        for row in reader:
            value = row[col].strip() if col < len(row) else ""
            if not value and not any(cell.strip() for cell in row):
                self.blank_lines += 1
                continue
            self._note(index, reader.line_num)
            if index % 8192 == 0:
                self.bytes_read = self._position()
            index += 1
            yield value


class RejectWriter:
    """Writes rejected lines to a CSV (line, value, error), opened on the first reject."""

    def __init__(self, path: Path, source: NumberFile) -> None:
        self.path = path
        self._source = source
        self._fh: IO[str] | None = None
        self._writer: Any = None
        self.count = 0

    def __call__(self, index: int, value: str, error: str) -> None:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("w", newline="")
            self._writer = csv.writer(self._fh)
            self._writer.writerow(["file", "line", "value", "error"])
        self._writer.writerow([self._source.path.name, self._source.line_of(index), value, error])
        self.count += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()


# ----------------------------------------------------------------------------- commands
def run(args: argparse.Namespace) -> int:
    if args.action == "status":
        return _status(args)
    return _import(args)


def _import(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from features.io import rejects_path
    from serving.store import ImportAborted

    console = Console(stderr=True)
    as_of = parse_instant(args.as_of, "--as-of")
    if as_of > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5):
        raise ValueError(
            f"--as-of {args.as_of}: in the future; a snapshot cannot be younger than now"
        )
    if not 0 <= args.max_reject_share <= 1:
        raise ValueError(
            f"--max-reject-share {args.max_reject_share}: give a share between 0 and 1"
        )
    if args.batch_size < 1:
        raise ValueError(f"--batch-size {args.batch_size}: must be positive")
    region = (args.default_region or REGISTRY_REGION[args.registry]).upper()
    source = NumberFile(args.file, column=args.column)
    if not args.file.exists():
        raise FileNotFoundError(f"{args.file}: no such file")
    rejects = RejectWriter(args.rejects or rejects_path(args.file), source)
    started = time.perf_counter()
    store = open_store(args.db_url)
    announce_store(store)
    try:
        with Progress(
            TextColumn(f"[bold]{args.registry}[/] {args.file.name}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[numbers]:>12,} numbers"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            disable=args.no_progress,
            transient=False,
        ) as progress:
            task = progress.add_task("import", total=args.file.stat().st_size or None, numbers=0)

            def on_progress(n: int) -> None:
                progress.update(task, completed=source.bytes_read, numbers=n)

            result = store.import_registry(
                args.registry,
                as_of,
                source,
                replace=not args.delta,
                default_region=region,
                batch_size=args.batch_size,
                on_reject=rejects,
                on_progress=on_progress,
                max_reject_share=args.max_reject_share,
                keep_rejects=0,
                workers=args.workers,
                allow_shrink=args.allow_shrink,
                allow_empty=args.allow_empty,
            )
            progress.update(task, completed=source.total_bytes)
    except ImportAborted as exc:
        rejects.close()
        where = f"; rejected lines in {rejects.path}" if rejects.count else ""
        if exc.setting == "max_reject_share":
            where += f" (--max-reject-share {args.max_reject_share} sets the limit)"
        elif exc.setting == "allow_shrink":
            where += " (--allow-shrink accepts it)"
        elif "allow_empty" in str(exc):
            where += " (--allow-empty accepts a genuinely empty list)"
        raise ValueError(f"{args.file}: {exc}{where}") from None
    finally:
        rejects.close()
        store.close()
    elapsed = time.perf_counter() - started
    read = result.accepted + result.rejected_count
    _summary(console, args, result, read, source.blank_lines, elapsed, rejects)
    return 0


def _summary(
    console: Any,
    args: argparse.Namespace,
    result: Any,
    read: int,
    blanks: int,
    elapsed: float,
    rejects: RejectWriter,
) -> None:
    from rich.table import Table

    table = Table(
        title=f"{args.registry} snapshot as of {result.snapshot_at.isoformat()}", show_header=False
    )
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row(
        "mode",
        "delta (added to the snapshot in force)" if args.delta else "replace (swapped atomically)",
    )
    table.add_row("numbers read", f"{read:,}")
    table.add_row("valid", f"{result.accepted:,}")
    table.add_row("listed in force (distinct)", f"{result.listed:,}")
    table.add_row("rejected", f"{result.rejected_count:,}")
    table.add_row("blank lines skipped", f"{blanks:,}")
    table.add_row("time", f"{elapsed:,.1f} s ({read / max(elapsed, 1e-9):,.0f} numbers/s)")
    if rejects.count:
        table.add_row("rejects written to", str(rejects.path))
    console.print(table)


def _status(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    store = open_store(args.db_url)
    announce_store(store)
    try:
        now = dt.datetime.now(dt.UTC)
        world = store.world_state(now)
        counts = store.registry_counts()
    finally:
        store.close()
    table = Table(title="registry snapshots in force")
    for name in ("registry", "snapshot_at", "age (days)", "listed"):
        table.add_column(name)
    for registry in REGISTRIES:
        at = world.registry_snapshots.get(registry)
        if at is None:
            table.add_row(registry, "—", "—", "—")
        else:
            table.add_row(
                registry,
                at.isoformat(),
                f"{(now - at).total_seconds() / 86400:.1f}",
                f"{counts.get(registry, 0):,}",
            )
    Console().print(table)
    return 0
