"""The ``contactgate`` command line: one entry point, one module per subcommand.

Each subcommand lives in the module that owns its work and exposes
``add_arguments(parser)`` and ``run(args) -> int``. Modules are imported only when their
command runs, so ``contactgate --help`` stays fast (MLflow and BentoML import slowly).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

#: name → (module, one-line help). Order is the order shown in ``--help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("serving.cli.demo", "run the end-to-end main job on embedded SQLite/MLflow defaults"),
    "simulate": ("features.simulate.cli", "generate a synthetic contact history with known risk"),
    "validate": ("features.validate", "check a CSV/Parquet file against a data contract"),
    "features": ("features.pointintime.cli", "build the point-in-time training frame from events"),
    "train": ("training.train", "train calibrated complaint/opt-out models, log to MLflow"),
    "promote": ("training.promote", "move the champion alias when the challenger is as good"),
    "serve": ("serving.cli.serve", "start the HTTP decision service (BentoML)"),
    "screen": ("serving.cli.screen", "screen a campaign file of any size, write decisions"),
    "registry": ("serving.cli.registry", "import a do-not-call registry snapshot"),
    "rules": ("serving.cli.rules", "list the rule packs: rules, sources, review dates"),
    "store": ("serving.cli.store", "store maintenance: init, backup, retention"),
    "audit": ("serving.cli.audit", "export the decision audit log for reviewers"),
    "backtest": (
        "serving.cli.backtest",
        "what a policy would have avoided on history, at what cost",
    ),
}


def _load(name: str):
    module_name = COMMANDS[name][0]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise SystemExit(f"contactgate {name}: not available in this version") from exc
        raise


def _top_parser() -> argparse.ArgumentParser:
    width = max(len(n) for n in COMMANDS)
    listing = "\n".join(f"  {n:<{width}}  {h}" for n, (_, h) in COMMANDS.items())
    parser = argparse.ArgumentParser(
        prog="contactgate",
        description="Decide whether a marketing call or text may go ahead: jurisdiction rules "
        "plus a calibrated complaint/opt-out risk model.",
        epilog=f"commands:\n{listing}\n\nRun 'contactgate COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="contactgate [-h] [--version] COMMAND ...",
    )
    parser.add_argument("--version", "-V", action="store_true", help="print the version and exit")
    return parser


def version() -> str:
    """The installed package version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        return installed("contactgate")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree
        return "unknown"


def _quiet_broken_pipe() -> int:
    """The reader went away (``… | head``): no traceback, and no second error at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing to do
        pass
    return 141  # 128 + SIGPIPE, as a shell reports it


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        return _quiet_broken_pipe()


def _main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if argv and argv[0] in ("--version", "-V"):
        print(f"contactgate {version()}")
        return 0
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    name = argv[0]
    if name not in COMMANDS:
        top.print_usage(sys.stderr)
        print(
            f"contactgate: unknown command {name!r}; choose from {', '.join(COMMANDS)}",
            file=sys.stderr,
        )
        return 2
    from serving.settings import start_runtime

    start_runtime()  # .env secrets, telemetry off, OpenMP passive: before any library loads
    from serving.cli.options import HelpFormatter, without_foreign_hints

    module = _load(name)
    parser = argparse.ArgumentParser(
        prog=f"contactgate {name}",
        description=(module.__doc__ or COMMANDS[name][1]).strip().split("\n\n")[0],
        formatter_class=HelpFormatter,
    )
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise
    except (FileNotFoundError, ValueError) as exc:
        message = without_foreign_hints(str(exc), parser)
        print(f"contactgate {name}: error: {message}", file=sys.stderr)
        return 1
