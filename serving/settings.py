"""The runtime and the service's settings: read once, validated at start, nothing at import.

:func:`start_runtime` is what every entry point calls first (the ``contactgate`` command
line and the HTTP service's workers): it reads the project's ``.env`` for variables not
already set, turns usage telemetry off (this project handles personal data and runs
offline) and makes OpenMP threads wait passively (spinning LightGBM threads slow a shared
machine 10-20x). :class:`Settings` is the service's configuration, read from the
environment once; a malformed value stops the start with a message naming the variable.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from features.paths import PROJECT_ROOT

#: Usage telemetry of the libraries we run, switched off everywhere.
TELEMETRY_OFF: dict[str, str] = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "True",
    "DO_NOT_TRACK": "1",
}
#: OpenMP (LightGBM) threads wait passively instead of spinning.
OPENMP_PASSIVE: dict[str, str] = {"OMP_WAIT_POLICY": "PASSIVE"}
DEFAULT_ENV_FILE = PROJECT_ROOT / ".env"

API_KEYS_ENV = "CONTACTGATE_API_KEYS"
MAX_BODY_ENV = "CONTACTGATE_MAX_BODY_BYTES"
OPEN_PATHS_ENV = "CONTACTGATE_OPEN_PATHS"
#: The paths that need an API key when keys are configured, unless opened by OPEN_PATHS_ENV.
OPENABLE_PATHS = ("/metrics", "/docs.json")
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
#: A request body larger than this is refused whatever the setting (a JSON body of this
#: size parses into several times as much memory in a worker).
MAX_BODY_LIMIT = 64 * 1024 * 1024
STORE_CREATE_ENV = "CONTACTGATE_STORE_CREATE"
AUTHORIZE_SKEW_ENV = "CONTACTGATE_AUTHORIZE_SKEW_S"
#: How far ``authorize``'s ``at`` may lie from the server clock, either way.
DEFAULT_AUTHORIZE_SKEW_S = 300
#: The largest skew a setting may allow (ten years: replaying recorded traffic in tests).
MAX_AUTHORIZE_SKEW_S = 3653 * 86_400
#: Set by ``contactgate serve``: the server's process id, which its workers watch.
SERVER_PID_ENV = "CONTACTGATE_SERVER_PID"
#: How often a worker looks whether its server is still there.
SERVER_WATCH_INTERVAL_S = 1.0
#: How long a worker whose server is gone has to finish before it is ended.
ORPHAN_GRACE_S = 5.0
WORKERS_ENV = "CONTACTGATE_WORKERS"
MAX_WORKERS = 64
MODEL_POLL_ENV = "CONTACTGATE_MODEL_POLL_S"
#: How often (seconds) the service asks the registry whether the champion changed.
DEFAULT_MODEL_POLL_S = 60


class SettingsError(ValueError):
    """A setting is malformed; the message names the variable and what it must be."""


def start_runtime(
    env_file: str | Path | None = DEFAULT_ENV_FILE,
    environ: MutableMapping[str, str] | None = None,
) -> None:
    """Prepare the process: ``.env`` secrets, telemetry off, OpenMP passive.

    Variables already in the environment win, so a deployment's own settings are never
    overridden; without the file nothing happens and a command that needs a key says so.
    """
    from serving.store.keys import load_env_file

    env = os.environ if environ is None else environ
    if env_file is not None:
        load_env_file(env_file)
    for name, value in (TELEMETRY_OFF | OPENMP_PASSIVE).items():
        env.setdefault(name, value)
    watch_server(env)


_watching = threading.Event()


def watch_server(environ: Mapping[str, str]) -> None:
    """In a worker of ``contactgate serve``: end this process soon after the server is gone.

    A worker whose server was killed (``kill -9``) would otherwise keep serving the port
    with whatever model and keys it had. A daemon thread looks every
    :data:`SERVER_WATCH_INTERVAL_S` whether the server process still exists and is still
    this process's ancestor; when not, the worker is asked to stop (SIGTERM) and ended
    :data:`ORPHAN_GRACE_S` later. Nothing happens outside a server's worker.
    """
    text = (environ.get(SERVER_PID_ENV) or "").strip()
    if not text.isdigit() or int(text) == os.getpid() or _watching.is_set():
        return
    server = int(text)
    if not _is_ancestor(server) and not _server_gone(server, os.getppid()):
        return  # a process started some other way that inherited the variable
    # (a worker started while its server was being killed is already an orphan: it goes)
    _watching.set()
    parent = os.getppid()
    threading.Thread(
        target=_watch, args=(server, parent), name="contactgate-server-watch", daemon=True
    ).start()


def _is_ancestor(pid: int) -> bool:
    """Whether ``pid`` is this process's parent, grandparent, … (Linux ``/proc``)."""
    current = os.getppid()
    for _ in range(16):
        if current == pid:
            return True
        if current <= 1:
            return False
        try:
            with open(f"/proc/{current}/stat", "rb") as f:
                current = int(f.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
    return False


def _server_gone(server: int, parent: int) -> bool:
    if os.getppid() != parent:  # re-parented: the process that started us is gone
        return True
    try:
        with open(f"/proc/{server}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(server, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    return state in (b"Z", b"X")  # dead, not yet reaped by its own parent


def _watch(server: int, parent: int) -> None:
    while not _server_gone(server, parent):
        time.sleep(SERVER_WATCH_INTERVAL_S)
    logging.getLogger("contactgate.service").error(
        "server process %d is gone; this worker stops", server
    )
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(ORPHAN_GRACE_S)
    os._exit(70)


def _positive_int(
    environ: Mapping[str, str], name: str, default: int, maximum: int | None = None
) -> int:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: must be a whole number") from None
    if value < 1:
        raise SettingsError(f"{name}={text!r}: must be at least 1")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name}={text!r}: must be at most {maximum}")
    return value


def _flag(environ: Mapping[str, str], name: str) -> bool:
    text = (environ.get(name) or "").strip().lower()
    if text in ("", "0", "false", "no"):
        return False
    if text in ("1", "true", "yes"):
        return True
    raise SettingsError(f"{name}={text!r}: must be 1/true/yes or 0/false/no")


@dataclass(frozen=True)
class Settings:
    """The decision service's configuration (docs/operations.md lists every variable)."""

    db_url: str | None = None
    tracking_uri: str | None = None
    model_name: str = "contact-risk"
    model_alias: str = "champion"
    rules_dir: str | None = None
    api_keys: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    workers: int = 1
    store_create: bool = False
    authorize_skew_s: int = DEFAULT_AUTHORIZE_SKEW_S
    model_poll_s: int = DEFAULT_MODEL_POLL_S
    open_paths: frozenset[str] = frozenset()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            db_url=env.get("CONTACTGATE_DB_URL") or None,
            tracking_uri=env.get("MLFLOW_TRACKING_URI") or None,
            model_name=env.get("CONTACTGATE_MODEL_NAME") or "contact-risk",
            model_alias=env.get("CONTACTGATE_MODEL_ALIAS") or "champion",
            rules_dir=env.get("CONTACTGATE_RULES_DIR") or None,
            api_keys=env.get(API_KEYS_ENV) or None,
            max_body_bytes=_positive_int(
                env, MAX_BODY_ENV, DEFAULT_MAX_BODY_BYTES, maximum=MAX_BODY_LIMIT
            ),
            workers=_positive_int(env, WORKERS_ENV, 1, maximum=MAX_WORKERS),
            store_create=_flag(env, STORE_CREATE_ENV),
            authorize_skew_s=_positive_int(
                env, AUTHORIZE_SKEW_ENV, DEFAULT_AUTHORIZE_SKEW_S, maximum=MAX_AUTHORIZE_SKEW_S
            ),
            model_poll_s=_positive_int(env, MODEL_POLL_ENV, DEFAULT_MODEL_POLL_S),
            open_paths=_open_paths(env),
        )


def _open_paths(environ: Mapping[str, str]) -> frozenset[str]:
    text = environ.get(OPEN_PATHS_ENV) or ""
    paths = frozenset(p.strip() for p in text.split(",") if p.strip())
    unknown = sorted(paths - set(OPENABLE_PATHS))
    if unknown:
        raise SettingsError(
            f"{OPEN_PATHS_ENV}={text!r}: {', '.join(unknown)} cannot be opened; "
            f"choose from {', '.join(OPENABLE_PATHS)}"
        )
    return paths
