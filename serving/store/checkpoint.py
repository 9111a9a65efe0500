"""SQLite WAL checkpoints off the request path.

In WAL mode every commit appends pages to the ``-wal`` file, and by default the connection
that commits past 1,000 pages then copies the whole log back into the database and fsyncs it
(an automatic checkpoint) before its call returns. A ``screen`` of 1,000 contacts writes
~1,000 audit-log pages, so nearly every such request paid a checkpoint (~10 ms for 1,000
pages here), and one ``authorize`` in ~250 paid it for the others.

:class:`WalCheckpointer` moves that work to a daemon thread with its own connection, which
runs a ``PASSIVE`` checkpoint a few times a second: it copies what is committed without
waiting for, or blocking, readers and writers (the driver releases the GIL while SQLite
works, so it runs beside the requests). Each commit still fsyncs the log
(``synchronous=FULL``): durability is unchanged, only the copying moves. The request-path
automatic checkpoint stays as a safety net at :data:`REQUEST_PATH_CHECKPOINT_PAGES`, so
the log stays bounded even if the thread falls behind or stops.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

log = logging.getLogger("contactgate.store")

#: A committing connection still checkpoints when the log exceeds this many pages (64 MiB
#: at 4 KiB pages): reached only if the background thread cannot keep up.
REQUEST_PATH_CHECKPOINT_PAGES = 16_384
#: Seconds between background checkpoints (an idle log costs one cheap call).
CHECKPOINT_INTERVAL_S = 0.25


class WalCheckpointer:
    """A daemon thread checkpointing one SQLite database file. ``start`` returns ``self``."""

    def __init__(self, database: str | Path, interval_s: float = CHECKPOINT_INTERVAL_S) -> None:
        self.database = str(database)
        self.interval_s = interval_s
        self.checkpoints = 0  # completed calls
        self.errors = 0
        #: the last checkpoint's (busy, log frames, frames checkpointed); -1: not in WAL mode
        self.last: tuple[int, ...] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="contactgate-wal-checkpoint", daemon=True
        )

    def start(self) -> WalCheckpointer:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current checkpoint (idempotent)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.database, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("WAL checkpointer not started: %s", exc.__class__.__name__)
            return
        try:
            conn.execute("PRAGMA synchronous=FULL")
            while not self._stop.wait(self.interval_s):
                if not Path(self.database).exists():
                    return  # the database was removed under us (a test's temp dir)
                try:
                    # A read first: a connection opened on a brand-new file took it for a
                    # rollback-journal database, and a checkpoint alone would never look
                    # again (it answers (0, -1, -1): "not in WAL mode").
                    conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
                    self.last = tuple(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone())
                except sqlite3.Error as exc:
                    self.errors += 1
                    if self.errors in (1, 10, 100) or self.errors % 1000 == 0:
                        log.warning(
                            "WAL checkpoint failed (%d so far): %s",
                            self.errors,
                            f"{exc.__class__.__name__}: {exc}",
                        )
                    continue
                self.checkpoints += 1
        finally:
            conn.close()
