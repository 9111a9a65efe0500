"""Start the HTTP decision service (BentoML) — ``contactgate serve``.

Refuses to bind anything but a loopback address when ``CONTACTGATE_API_KEYS`` is unset:
without keys there is no authentication, and personal data must not be reachable from the
network. Configuration comes from the environment (docs/operations.md):
``CONTACTGATE_DB_URL``, ``MLFLOW_TRACKING_URI``, ``CONTACTGATE_API_KEYS``,
``CONTACTGATE_HMAC_KEY``, ``CONTACTGATE_ENCRYPTION_KEY``; a ``.env`` file in the project
root fills what is not set.
"""

from __future__ import annotations

import argparse
import os
import sys

from features.paths import PROJECT_ROOT
from serving.cli.options import add_db_url

SERVICE = "serving.http.service:ContactGate"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind; anything but loopback needs CONTACTGATE_API_KEYS",
    )
    parser.add_argument("--port", type=int, default=3000, help="TCP port to listen on")
    add_db_url(parser)
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help="MLflow tracking URI holding the champion model (overrides MLFLOW_TRACKING_URI)",
    )
    parser.add_argument(
        "--env-file",
        default=str(PROJECT_ROOT / ".env"),
        help="file of KEY=value lines read for variables not already set",
    )


def bind_problem(host: str, environ: dict[str, str] | os._Environ[str]) -> str | None:
    """Why the service must not bind ``host`` with this environment (None: it may)."""
    from serving.http.auth import is_loopback, parse_api_keys
    from serving.settings import API_KEYS_ENV
    from serving.store.keys import KeyConfigError

    try:
        keys = parse_api_keys(environ.get(API_KEYS_ENV))
    except KeyConfigError as exc:
        return str(exc)
    if not keys and not is_loopback(host):
        return (
            f"refusing to bind {host}: {API_KEYS_ENV} is not set, so there would be no "
            "authentication. Set role:key pairs (e.g. campaign:k1,operator:k2,reviewer:k3) "
            "or bind 127.0.0.1."
        )
    return None


def _announce(environ: os._Environ[str]) -> None:
    """Say which store and model the service will use (and where each came from)."""
    from serving.settings import Settings
    from training.tracking import default_tracking_uri, mask_uri

    settings = Settings.from_environ(environ)
    store = settings.db_url or "sqlite under data/contactgate.db (default)"
    if settings.db_url:
        from sqlalchemy.engine import make_url

        store = make_url(settings.db_url).render_as_string(hide_password=True)
    print(
        f"contactgate serve: store {store}; model {settings.model_name}@{settings.model_alias} "
        f"from {mask_uri(default_tracking_uri())}, checked for a new champion every "
        f"{settings.model_poll_s} s",
        file=sys.stderr,
    )


def run(args: argparse.Namespace) -> int:
    from serving.settings import start_runtime

    start_runtime(args.env_file)
    if args.db_url:
        os.environ["CONTACTGATE_DB_URL"] = args.db_url
    if args.tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    # One OpenMP thread per predict: requests are small and many; a thread team per
    # one-row predict costs milliseconds on a shared 2-core machine (measured: 70 → 42 ms
    # per authorize). Concurrency comes from BentoML's request threads instead.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from serving.settings import SERVER_PID_ENV, Settings, SettingsError

    try:
        Settings.from_environ()  # every setting checked before a worker starts
    except SettingsError as exc:
        print(f"contactgate serve: {exc}", file=sys.stderr)
        return 2
    problem = bind_problem(args.host, os.environ)
    if problem:
        print(f"contactgate serve: {problem}", file=sys.stderr)
        return 2
    if not os.environ.get("CONTACTGATE_API_KEYS"):
        print(
            "contactgate serve: WARNING: CONTACTGATE_API_KEYS is not set — no authentication; "
            f"serving loopback {args.host} only",
            file=sys.stderr,
        )
    _announce(os.environ)
    command = [
        sys.executable, "-m", "bentoml", "serve", SERVICE,
        "--host", args.host, "--port", str(args.port), "--working-dir", str(PROJECT_ROOT),
    ]  # fmt: skip
    # The workers watch this process (the server keeps its pid through exec) and exit when
    # it is gone, so no orphan keeps serving the port (serving.settings.watch_server).
    os.environ[SERVER_PID_ENV] = str(os.getpid())
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)  # the server takes this process: signals reach it
    return 0  # pragma: no cover
