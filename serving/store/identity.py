"""Is this still the store that was opened, and can it still be written?

A SQLite store is a file, and a file can be deleted, replaced (another file moved onto its
path), made read-only or corrupted under a running server. SQLite does not notice: a
connection keeps writing into a deleted file's inode, which vanishes with the last handle.
:class:`StoreGuard` keeps the identity (device, inode) of the file at open and checks it
before every transaction and after every commit, so a write committed into a file that is
no longer the store is never acknowledged. Corruption reported by SQLite
(``database disk image is malformed``, ``file is not a database``) is remembered: from
then on every transaction fails, reads and writes alike, until the service is restarted.

Both backends also carry a store id (a random text written when the store is created, in
the ``readiness`` table): :meth:`Store.probe` (``/readyz``) checks it and writes the row,
so a store replaced behind a server, or one that reads but cannot be written, is not
reported ready.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from serving.store.errors import StoreUnavailable

#: Driver messages that mean the database file itself is damaged (SQLite).
CORRUPTION_MARKERS = ("malformed", "not a database", "disk i/o error")
#: Permissions of the files a SQLite store creates (database, WAL, shared memory, backups):
#: they hold personal data, so only the owner may read them.
PRIVATE_FILE_MODE = 0o600


def sqlite_path(database: str | None) -> Path | None:
    """The file of a SQLite database name (None: in memory or a ``file:`` URI)."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def create_private_file(path: Path) -> None:
    """Create ``path`` empty with owner-only permissions (SQLite gives its WAL and
    shared-memory files the permissions of the database file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_WRONLY, PRIVATE_FILE_MODE)
    os.close(fd)


class StoreGuard:
    """The identity of a store file, checked cheaply (one ``stat``) around transactions."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.failed: str | None = None
        self._identity: tuple[int, int] | None = None
        if path is not None and path.exists():
            self.remember()

    def remember(self) -> None:
        """Take the file's current identity as the store's (at open)."""
        if self.path is not None:
            st = os.stat(self.path)
            self._identity = (st.st_dev, st.st_ino)

    def fail(self, why: str) -> StoreUnavailable:
        """Remember that the store is unusable (until restart) and return the error."""
        if self.failed is None:
            self.failed = why
        return StoreUnavailable(self.failed)

    def check(self) -> None:
        """Raise :class:`StoreUnavailable` unless the store is still the file opened."""
        if self.failed is not None:
            raise StoreUnavailable(self.failed)
        if self.path is None or self._identity is None:
            return
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise self.fail(f"store file {self.path} was removed") from None
        except OSError as exc:
            raise StoreUnavailable(f"store file {self.path}: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != self._identity:
            raise self.fail(f"store file {self.path} was replaced by another file")

    def note(self, exc: BaseException) -> None:
        """Remember corruption reported by the driver (the error itself is re-raised by the
        caller)."""
        text = str(getattr(exc, "orig", None) or exc).lower()
        if any(marker in text for marker in CORRUPTION_MARKERS):
            self.fail(f"store {self.path or ''} is damaged: {text[:120]}".replace("  ", " "))
