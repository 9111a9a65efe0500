"""Numbers at rest: keyed hashes for lookups, authenticated encryption for the values.

Why keyed: a plain SHA-256 of a phone number is reversible by brute force (there are only
~10^10 numbers per country), so GDPR guidance treats it as personal data in clear. An
HMAC-SHA256 under a secret key (``CONTACTGATE_HMAC_KEY``) cannot be enumerated without the
key, which is what lets an erasure tombstone keep "never contact this person again" without
keeping the number (docs/api.md, "subject_report" and "erase_subject").

Values that must be read back (the E.164 of a number, consent evidence, reply texts) are
encrypted with AES-256-GCM under ``CONTACTGATE_ENCRYPTION_KEY``: a random 96-bit nonce per
value and a *purpose label* as associated data, so a ciphertext copied from one column into
another fails to decrypt instead of being misread.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from serving.store.keys import ENCRYPTION_ENV, HMAC_ENV, read_key

NONCE_BYTES = 12
#: Purpose labels bound into each ciphertext (AES-GCM associated data).
PURPOSE_NUMBER = b"contactgate/number/v1"
PURPOSE_EVIDENCE = b"contactgate/consent-evidence/v1"
PURPOSE_TEXT = b"contactgate/reply-text/v1"


#: Numbers whose keyed hash :class:`NumberCrypto` keeps (~12 MB at most).
HASH_CACHE_SIZE = 65_536


class DecryptionError(ValueError):
    """A stored value does not decrypt under the configured key (wrong key or tampering)."""


class NumberCrypto:
    """Keyed hashing and encryption with the two keys of the environment.

    >>> c = NumberCrypto(b"h" * 32, b"e" * 32)
    >>> c.number_hash("+12122345678") == c.number_hash("+12122345678")
    True
    >>> c.decrypt(c.encrypt("+12122345678", PURPOSE_NUMBER), PURPOSE_NUMBER)
    '+12122345678'
    """

    __slots__ = ("_hmac_key", "_aead", "_hashes")

    def __init__(self, hmac_key: bytes, encryption_key: bytes) -> None:
        if len(hmac_key) < 32 or len(encryption_key) != 32:
            raise ValueError("keys must be 32 bytes (HMAC key at least 32)")
        self._hmac_key = hmac_key
        self._aead = AESGCM(encryption_key)
        self._hashes: dict[str, bytes] = {}

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> NumberCrypto:
        """Read both keys from the environment; a missing or malformed key raises
        :class:`serving.store.keys.KeyConfigError` naming the variable."""
        env = os.environ if environ is None else environ
        return cls(read_key(HMAC_ENV, env), read_key(ENCRYPTION_ENV, env))

    # ------------------------------------------------------------------ keyed hashes
    def number_hash(self, e164: str) -> bytes:
        """HMAC-SHA256 of the E.164 string (32 bytes): the lookup key of a number.

        Remembered for the last :data:`HASH_CACHE_SIZE` numbers or so: a screen hashes each
        number to read its state and again for its audit row."""
        found = self._hashes.get(e164)
        if found is None:
            found = hmac.digest(self._hmac_key, b"number:" + e164.encode(), "sha256")
            if len(self._hashes) >= HASH_CACHE_SIZE:
                self._hashes.clear()
            self._hashes[e164] = found
        return found

    def record_key(self, payload: Mapping[str, Any]) -> bytes:
        """Idempotency key of an append-only record: HMAC of its canonical JSON.

        Keyed for the same reason as :meth:`number_hash`: the payload holds a number hash
        and dates, and an unkeyed digest would be a brute-forceable fingerprint.
        """
        canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
        return hmac.digest(self._hmac_key, b"record:" + canonical.encode(), "sha256")

    @staticmethod
    def lock_id(number_hash: bytes) -> int:
        """A signed 64-bit id for PostgreSQL advisory locks, taken from the hash."""
        return int.from_bytes(number_hash[:8], "big", signed=True)

    @staticmethod
    def hash_hex(number_hash: bytes) -> str:
        """The hash as shown to reviewers and in exports (hex, never the number)."""
        return number_hash.hex()

    # ------------------------------------------------------------------ encryption
    def encrypt(self, value: str, purpose: bytes) -> bytes:
        """``nonce || ciphertext+tag`` of a UTF-8 string."""
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode(), purpose)

    def decrypt(self, token: bytes, purpose: bytes) -> str:
        """Inverse of :meth:`encrypt`; raises :class:`DecryptionError` on a wrong key."""
        token = bytes(token)
        try:
            return self._aead.decrypt(token[:NONCE_BYTES], token[NONCE_BYTES:], purpose).decode()
        except InvalidTag as exc:
            raise DecryptionError(
                f"a stored value does not decrypt with {ENCRYPTION_ENV}: wrong key or altered data"
            ) from exc

    def encrypt_optional(self, value: str | None, purpose: bytes) -> bytes | None:
        return None if value is None else self.encrypt(value, purpose)

    def decrypt_optional(self, token: bytes | None, purpose: bytes) -> str | None:
        return None if token is None else self.decrypt(token, purpose)
