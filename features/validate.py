"""Check a CSV or Parquet file against a data contract and report every bad row.

Exit status 0 when the file is valid, 1 when it has bad rows. With ``--skip-invalid`` and
``-o``, the valid rows are written to the output and the rejects beside it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from features.io import (
    InvalidFileError,
    describe_load,
    load_records,
    write_records,
    write_rejects,
)
from features.options import add_loading_arguments
from features.schema import FILE_RECORDS


def contract_columns() -> str:
    """Each file contract's columns (``*`` required), for ``validate --help``."""
    from features.io import REGION_COLUMN, columns_for

    lines = ["contracts (* = required; docs/data-contracts.md explains each column):"]
    for record, model in FILE_RECORDS.items():
        names = [f"{c.name}{'*' if c.required else ''}" for c in columns_for(model)]
        if "number" in model.model_fields:
            names.append(f"[{REGION_COLUMN}: country of national-format numbers, file only]")
        lines.append(f"  {record}: " + ", ".join(names))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = contract_columns()
    parser.add_argument(
        "record", choices=sorted(FILE_RECORDS), help="which contract the file follows"
    )
    parser.add_argument("file", type=Path, help="CSV or Parquet file")
    parser.add_argument(
        "-o", "--out", type=Path, help="write the valid, typed rows here (.parquet or .csv)"
    )
    add_loading_arguments(parser)


def run(args: argparse.Namespace) -> int:
    try:
        result = load_records(
            args.file,
            args.record,
            skip_invalid=args.skip_invalid,
            default_region=args.default_region,
            strict=args.strict,
            pseudonyms=True,  # a pseudonymised store export (features.pseudonyms)
        )
    except InvalidFileError as exc:
        print(exc)
        return 1
    for line in describe_load(result):
        print(line)
    if args.out:
        write_records(result.frame, args.out, args.record)
        print(f"wrote {args.out}")
        rejects = write_rejects(result, args.out)
        if rejects:
            print(f"rejects written to {rejects}")
    elif result.rejected_rows:
        for row in result.rejects.itertuples():
            print(f"  row {row.row}: {row.field} {row.value!r} {row.error}")
    return 0
