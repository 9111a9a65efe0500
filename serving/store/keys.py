"""Secrets from the environment: the HMAC key for keyed number hashes and the key that
encrypts numbers and consent evidence at rest.

``python -m serving.store.keys .env`` writes fresh keys into an ``.env`` file when absent (as
``make demo`` does); existing keys are never overwritten.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import sys
from collections.abc import Mapping
from pathlib import Path

HMAC_ENV = "CONTACTGATE_HMAC_KEY"
ENCRYPTION_ENV = "CONTACTGATE_ENCRYPTION_KEY"


def new_key() -> str:
    """32 random bytes, URL-safe base64 (a valid Fernet key too)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


class KeyConfigError(ValueError):
    """A secret is missing or malformed (the store's keys, or ``CONTACTGATE_API_KEYS``);
    the message names the variable and the fix, or the bad entry's position."""


def read_key(name: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The 32 key bytes held in environment variable ``name`` (URL-safe base64).

    Refusing to start is the only safe answer to a missing key: a store that hashed numbers
    under an empty or different key would silently stop matching DNC entries and tombstones.
    """
    env = os.environ if environ is None else environ
    hint = (
        f"generate one with `python -m serving.store.keys .env` (or `make demo`) and export {name}"
    )
    value = (env.get(name) or "").strip()
    if not value:
        raise KeyConfigError(f"{name} is not set: {hint}")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigError(f"{name} is malformed (not URL-safe base64): {hint}") from exc
    if len(raw) != 32:
        raise KeyConfigError(
            f"{name} is malformed: it decodes to {len(raw)} bytes, expected 32; {hint}"
        )
    return raw


def load_env_file(path: str | Path) -> None:
    """Put ``KEY=value`` lines of a file into ``os.environ`` unless already set."""
    path = Path(path)
    if not path.exists():
        return
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip())


def ensure_env_file(path: str | Path) -> list[str]:
    """Add missing keys to ``path``; return the names added."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    present = {ln.split("=", 1)[0].strip() for ln in text.splitlines() if "=" in ln}
    added = [name for name in (HMAC_ENV, ENCRYPTION_ENV) if name not in present]
    if added:
        with path.open("a") as fh:
            if text and not text.endswith("\n"):
                fh.write("\n")
            for name in added:
                fh.write(f"{name}={new_key()}\n")
        path.chmod(0o600)
    return added


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else ".env"
    names = ensure_env_file(target)
    print(f"{target}: generated {', '.join(names)}" if names else f"{target}: keys present")
