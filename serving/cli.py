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

# Usage telemetry stays off everywhere: this project handles personal data and runs offline.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("BENTOML_DO_NOT_TRACK", "True")
os.environ.setdefault("DO_NOT_TRACK", "1")
# OpenMP (LightGBM) waits passively: spinning threads make a shared machine 10-20x slower.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

#: name → (module, one-line help). Order is the order shown in ``--help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("serving.demo", "run the end-to-end main job on embedded SQLite/MLflow defaults"),
    "simulate": ("features.simulate", "generate a synthetic contact history with known risk"),
    "validate": ("features.validate", "check a CSV/Parquet file against a data contract"),
    "features": ("features.build", "build the point-in-time training frame from events"),
    "train": ("training.train", "train calibrated complaint/opt-out models, log to MLflow"),
    "promote": ("training.promote", "move the champion alias when the challenger is as good"),
    "serve": ("serving.serve", "start the HTTP decision service (BentoML)"),
    "screen": ("serving.batch", "screen a campaign file of any size, write decisions"),
    "registry": ("serving.registry_import", "import a do-not-call registry snapshot"),
    "store": ("serving.store_cli", "store maintenance: init, backup, retention"),
    "audit": ("serving.audit", "export the decision audit log for reviewers"),
}


def _load(name: str):
    module_name = COMMANDS[name][0]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise SystemExit(f"contactgate {name}: not available in this version") from exc
        raise


def _load_env_file() -> None:
    """Secrets from the project's ``.env`` (written by ``make demo``), for every command.

    Variables already in the environment win, so a deployment's own settings are never
    overridden; without the file nothing happens and a command that needs a key says so.
    """
    from pathlib import Path

    from serving.store import load_env_file

    load_env_file(Path(__file__).resolve().parent.parent / ".env")


def _top_parser() -> argparse.ArgumentParser:
    width = max(len(n) for n in COMMANDS)
    listing = "\n".join(f"  {n:<{width}}  {h}" for n, (_, h) in COMMANDS.items())
    return argparse.ArgumentParser(
        prog="contactgate",
        description="Decide whether a marketing call or text may go ahead: jurisdiction rules "
        "plus a calibrated complaint/opt-out risk model.",
        epilog=f"commands:\n{listing}\n\nRun 'contactgate COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="contactgate [-h] COMMAND ...",
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
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
    _load_env_file()
    module = _load(name)
    parser = argparse.ArgumentParser(
        prog=f"contactgate {name}",
        description=(module.__doc__ or COMMANDS[name][1]).strip().split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    module.add_arguments(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError) as exc:
        print(f"contactgate {name}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
