"""Options shared by the commands, one flag name per meaning.

``--db-url`` names the store everywhere (``--db`` stays accepted, hidden, for old scripts);
``--no-progress`` turns progress bars off everywhere. :func:`announce_store` prints which
store a command opened, so nothing runs silently on a default.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

DB_URL_HELP = "store URL (default: $CONTACTGATE_DB_URL, else SQLite under data/contactgate.db)"


def add_db_url(parser: argparse.ArgumentParser) -> None:
    """``--db-url URL``, with the older spelling ``--db`` as a hidden alias."""
    parser.add_argument("--db-url", dest="db_url", metavar="URL", default=None, help=DB_URL_HELP)
    parser.add_argument("--db", dest="db_url", metavar="URL", help=argparse.SUPPRESS)


def add_no_progress(parser: argparse.ArgumentParser, *hidden_aliases: str) -> None:
    """``--no-progress``; ``hidden_aliases`` (e.g. ``--quiet``) set the same flag, unlisted."""
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    for alias in hidden_aliases:
        parser.add_argument(alias, dest="no_progress", action="store_true", help=argparse.SUPPRESS)


def announce_store(store: Any, *, stream: Any = None) -> None:
    """One line on stderr naming the store in use (credentials masked)."""
    print(f"store: {store.safe_url}", file=stream or sys.stderr)
