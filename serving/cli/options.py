"""Options shared by the commands, one flag name per meaning.

``--db-url`` names the store everywhere (``--db`` stays accepted, hidden, for old scripts);
``--no-progress`` turns progress bars off everywhere. :func:`announce_store` prints which
store a command opened, so nothing runs silently on a default.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
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


def announce_resources(resources: Any, *, stream: Any = None) -> None:
    """Lines on stderr naming the store, the model (registry, name, alias, version) and the
    rule packs a command decides with — or what is missing."""
    from training.tracking import describe

    out = stream or sys.stderr
    store = resources.store
    print(f"store: {store.safe_url if store is not None else 'UNAVAILABLE'}", file=out)
    model = resources.model
    uri = resources.tracking_uri or "(default)"
    if model is not None:
        print(describe(uri, model.name, model.alias, str(model.version)), file=out)
    else:
        print(describe(uri, "contact-risk", "champion", None) + " — UNAVAILABLE", file=out)
    print(f"rules: version {resources.rules_version or 'UNAVAILABLE'}", file=out)


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help text as written: a default is shown only when there is one worth showing (not
    None or False) and the help does not already say it; ``literal`` markup is dropped."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or "default" in text.lower()
            or default in (None, False, argparse.SUPPRESS)
            or action.option_strings == []
            or isinstance(default, bool)
        ):
            return text
        return text + " (default: %(default)s)"

    def _format_text(self, text: str) -> str:
        return super()._format_text(text.replace("``", "'"))

    def _format_usage(self, *args: Any, **kwargs: Any) -> str:
        return super()._format_usage(*args, **kwargs)


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    """Every option string of ``parser`` and its subcommands."""
    found: set[str] = set()
    for action in parser._actions:
        found.update(action.option_strings)
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found |= option_strings(sub)
    return found


def without_foreign_hints(message: str, parser: argparse.ArgumentParser) -> str:
    """Drop hint lines ``(use --flag …)`` naming an option this command does not have."""
    import re

    known = option_strings(parser)
    kept = []
    for line in message.split("\n"):
        hint = re.match(r"^\s*\(use (--[a-z0-9-]+)", line)
        if hint and hint.group(1) not in known:
            continue
        kept.append(line)
    return "\n".join(kept)


@contextlib.contextmanager
def progress_bar(
    console: Any, description: str, total: int | None, disable: bool = False
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on ``console`` (items done of ``total``, time remaining); yields
    the function that advances it by ``n``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, disable=disable,
    ) as bar:  # fmt: skip
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)
