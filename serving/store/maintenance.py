"""Keeping the store in shape: migrations, the schema version, backups, retention of raw
events, and row counts. (WAL checkpoints run on the store's background thread:
:mod:`serving.store.checkpoint`.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text

from serving.store import tables as t
from serving.store.base import StoreBase
from serving.store.errors import SchemaTooNew
from serving.store.identity import create_private_file
from serving.store.reads import DURABLE_KINDS
from serving.store.sql import now_us, to_us

#: Raw events younger than this are never dropped by retention: rule packs look back at
#: most 60 days (FR refusal cooling-off), features 90 days, and ``load_states`` 400 days.
MIN_RETENTION_DAYS = 400


class MaintenanceMixin(StoreBase):
    """Migrations, backup, retention and counts."""

    def schema_version(self) -> int:
        """The migration version the database is at."""
        with self._read() as conn:
            return int(conn.execute(select(func.max(t.schema_version.c.version))).scalar() or 0)

    def _migrate(self) -> None:
        """Apply the steps of :data:`tables.MIGRATIONS` the database has not seen, under a
        lock so that several service workers starting together migrate once."""
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(7305729431)"))
            t.schema_version.create(conn, checkfirst=True)
            current = int(conn.execute(select(func.max(t.schema_version.c.version))).scalar() or 0)
            if current > t.LATEST_VERSION:
                raise SchemaTooNew(
                    f"store {self.safe_url} is at schema version {current}, newer than this "
                    f"code ({t.LATEST_VERSION}); upgrade contactgate"
                )
            for step in t.MIGRATIONS:
                if step.version > current:
                    step.apply(conn)
                    conn.execute(
                        insert(t.schema_version).values(
                            version=step.version, description=step.description, applied_at=now_us()
                        )
                    )

    def backup(self, path: str | Path) -> Path:
        """Write a consistent copy of a SQLite store to ``path`` (``VACUUM INTO``: one read
        transaction, so concurrent writers neither block it nor tear it). PostgreSQL:
        raises, pointing at ``pg_dump``, the right tool for a server database."""
        path = Path(path)
        if self.dialect != "sqlite":
            raise ValueError(
                f"backup of a {self.dialect} store: use the server's tools, e.g. "
                f"`pg_dump --format=custom --file {path} <database>`"
            )
        if path.exists():
            raise ValueError(
                f"{path}: already exists; choose a new file (a backup never overwrites)"
            )
        create_private_file(path)  # owner-only, like the store itself
        raw = self._engine.raw_connection()  # VACUUM cannot run inside a transaction
        try:
            raw.driver_connection.execute("VACUUM INTO ?", (str(path),))
        finally:
            raw.close()
        return path

    def retention(self, older_than_days: int, at: dt.datetime) -> dict[str, int]:
        """Drop raw ``contact`` and ``reply`` events older than ``older_than_days`` before
        ``at``. Never dropped: events of durable kinds (opt-outs, complaints, purchases,
        contracts …), consent records and evidence, DNC records, tombstones, registry
        snapshots, the audit log. ``older_than_days`` below :data:`MIN_RETENTION_DAYS` is
        refused: rules, features and ``load_states`` look back that far."""
        if older_than_days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"older_than_days={older_than_days}: below {MIN_RETENTION_DAYS} days would drop "
                "history that rules and features still read"
            )
        cutoff = to_us(at) - older_than_days * 86_400_000_000
        e = t.events
        with self._write() as conn:
            deleted = conn.execute(
                delete(e).where(e.c.ts < cutoff, e.c.kind.not_in(DURABLE_KINDS))
            ).rowcount
            counts = {
                "events_deleted": int(deleted),
                "events_kept": int(conn.execute(select(func.count()).select_from(e)).scalar_one()),
                "consent_kept": int(
                    conn.execute(select(func.count()).select_from(t.consent)).scalar_one()
                ),
                "dnc_kept": int(conn.execute(select(func.count()).select_from(t.dnc)).scalar_one()),
                "tombstones_kept": int(
                    conn.execute(select(func.count()).select_from(t.tombstones)).scalar_one()
                ),
            }
        return counts

    def counts(self) -> dict[str, int]:
        """Row count per table (for ``contactgate store init`` and monitoring)."""
        with self._read() as conn:
            return {
                table.name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
                for table in t.metadata.sorted_tables
            }
