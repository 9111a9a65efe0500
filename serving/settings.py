"""The runtime and the service's settings: read once, validated at start, nothing at import.

:func:`start_runtime` is what every entry point calls first (the ``contactgate`` command
line and the HTTP service's workers): it reads the project's ``.env`` for variables not
already set, turns usage telemetry off (this project handles personal data and runs
offline) and makes OpenMP threads wait passively (spinning LightGBM threads slow a shared
machine 10-20x). :class:`Settings` is the service's configuration, read from the
environment once; a malformed value stops the start with a message naming the variable.
"""

from __future__ import annotations

import os
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
DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
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


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r}: must be a whole number") from None
    if value < 1:
        raise SettingsError(f"{name}={text!r}: must be at least 1")
    return value


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
    model_poll_s: int = DEFAULT_MODEL_POLL_S

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
            max_body_bytes=_positive_int(env, MAX_BODY_ENV, DEFAULT_MAX_BODY_BYTES),
            workers=_positive_int(env, "CONTACTGATE_WORKERS", 1),
            model_poll_s=_positive_int(env, MODEL_POLL_ENV, DEFAULT_MODEL_POLL_S),
        )
