"""Command-line options shared by every command that loads contract files (validate,
features, train, store load, screen). Kept apart from :mod:`features.io` so building the
``contactgate`` parser imports no pandas."""

from __future__ import annotations

import argparse


def add_loading_arguments(
    parser: argparse.ArgumentParser, *, skip_invalid: bool = True, strict: bool = True
) -> None:
    """``--default-region``, and ``--strict`` / ``--skip-invalid`` unless told not to."""
    parser.add_argument(
        "--default-region",
        metavar="CC",
        help="ISO 3166-1 country of national-format numbers (e.g. US for '(617) 555-0142') "
        "in rows without a region column value",
    )
    if strict:
        parser.add_argument(
            "--strict",
            action="store_true",
            help="refuse columns the contract does not know (they are ignored with a warning)",
        )
    if skip_invalid:
        parser.add_argument(
            "--skip-invalid",
            action="store_true",
            help="keep the valid rows and write the rejects beside the output instead of failing",
        )
