"""The store's tables (SQLAlchemy Core) and the ordered migration steps run at start-up.

Conventions, chosen for speed and exactness on both SQLite and PostgreSQL:

* every instant is a ``BIGINT`` of **microseconds since the Unix epoch, UTC** — no driver
  time-zone conversion, exact ordering, and integer comparisons in the hot index range scan;
* a number is never stored in clear: ``number_hash`` (HMAC-SHA256, 32 bytes) is the lookup
  key and ``number_enc`` (AES-GCM) the value, readable only with the encryption key;
* append-only tables carry ``record_key`` (HMAC of the record's content, unique), which makes
  replaying a record a no-op.

Adding a column or table means appending a :class:`Migration` with explicit DDL; the table
objects below always describe the latest version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    text,
)

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", String(200), nullable=False),
    Column("applied_at", BigInteger, nullable=False),
)

#: One row per thing that happened to a number (features.schema.Event).
#: Clustered by (number_hash, ts, event_id): on SQLite a WITHOUT ROWID table stores a
#: number's events side by side in primary-key order, so loading its history is one short
#: B-tree range read instead of one random row lookup per event.
events = Table(
    "events",
    metadata,
    Column("number_hash", LargeBinary(32), primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("event_id", String(256), primary_key=True),
    Column("number_enc", LargeBinary, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("channel", String(8)),
    # marketing | service | opt_out_confirmation (20 characters; 16 until migration 3)
    Column("purpose", String(32)),
    Column("subject", String(256)),
    Column("campaign_id", String(256)),
    Column("dial_mode", String(16)),
    Column("outcome", String(16)),
    Column("duration_s", Float),
    Column("text_enc", LargeBinary),
    Column("source", String(16)),
    Column("p_complaint_true", Float),
    Column("p_opt_out_true", Float),
    Column("recorded_at", BigInteger, nullable=False),
    # Idempotency: replaying an event_id is a no-op.
    Index("ux_events_event_id", "event_id", unique=True),
    # Durable kinds (opt-outs, complaints, purchases, contracts) older than the window.
    Index("ix_events_number_kind_ts", "number_hash", "kind", "ts"),
    # Retention deletes by age.
    Index("ix_events_ts", "ts"),
    sqlite_with_rowid=False,
)

consent = Table(
    "consent",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_key", LargeBinary(32), nullable=False, unique=True),
    Column("consent_id", String(256)),
    Column("number_hash", LargeBinary(32), nullable=False),
    Column("number_enc", LargeBinary, nullable=False),
    Column("channel", String(8), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("type", String(16), nullable=False),
    Column("granted_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger),
    Column("evidence_enc", LargeBinary),
    Column("confirmed_at", BigInteger),
    Column("outside_hours", Boolean, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_consent_number", "number_hash", "granted_at"),
)

preferences = Table(
    "preferences",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_key", LargeBinary(32), nullable=False, unique=True),
    Column("number_hash", LargeBinary(32), nullable=False),
    Column("number_enc", LargeBinary, nullable=False),
    Column("max_per_week", Integer),
    Column("urgent_only", Boolean, nullable=False),
    Column("quiet_start", String(5)),
    Column("quiet_end", String(5)),
    Column("channels", String(32)),
    Column("updated_at", BigInteger, nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_preferences_number", "number_hash", "updated_at"),
)

#: Internal do-not-call list: adds and removals, append-only. ``number_enc`` is emptied by
#: an erasure (the hash stays: the person must never be called again).
dnc = Table(
    "dnc",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_key", LargeBinary(32), nullable=False, unique=True),
    Column("number_hash", LargeBinary(32), nullable=False),
    Column("number_enc", LargeBinary),
    Column("action", String(8), nullable=False),
    Column("scope", String(8), nullable=False),
    Column("category", String(20), nullable=False),
    Column("added_at", BigInteger, nullable=False),
    Column("source", String(256)),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_dnc_number", "number_hash", "added_at"),
)

#: One row per imported snapshot; ``status`` is loading → active → retired (or failed).
registry_snapshots = Table(
    "registry_snapshots",
    metadata,
    Column("snapshot_id", Integer, primary_key=True, autoincrement=True),
    Column("registry", String(32), nullable=False),
    Column("snapshot_at", BigInteger, nullable=False),
    Column("imported_at", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("listed", BigInteger, nullable=False, default=0),
)

#: The snapshot in force per registry. Swapping a snapshot is one UPDATE of this row.
registry_current = Table(
    "registry_current",
    metadata,
    Column("registry", String(32), primary_key=True),
    Column(
        "snapshot_id",
        Integer,
        ForeignKey("registry_snapshots.snapshot_id"),
        nullable=False,
    ),
)

registry_listings = Table(
    "registry_listings",
    metadata,
    Column(
        "snapshot_id",
        Integer,
        ForeignKey("registry_snapshots.snapshot_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("number_hash", LargeBinary(32), primary_key=True),
    sqlite_with_rowid=False,
)

blocked_periods = Table(
    "blocked_periods",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("record_key", LargeBinary(32), nullable=False, unique=True),
    Column("region", String(8), nullable=False),
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("reason", String(256), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Index("ix_blocked_periods_end", "end"),
)

#: Erasure tombstones: the keyed hash only (ICO guidance: keep a minimal suppression entry).
tombstones = Table(
    "tombstones",
    metadata,
    Column("number_hash", LargeBinary(32), primary_key=True),
    Column("erased_at", BigInteger, nullable=False),
)

#: Decision audit log: hashed numbers only.
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("request_id", String(128)),
    Column("number_hash", LargeBinary(32), nullable=False),
    Column("decision", String(10), nullable=False),
    Column("reasons", Text, nullable=False),  # JSON list of reason objects
    Column("model_version", String(64)),
    Column("rules_version", String(64)),
    Column("at", BigInteger, nullable=False),
    Column("detail", Text),  # JSON of any further fields (channel, risk, ...)
    Column("recorded_at", BigInteger, nullable=False),
    # A decision's own key when its writer may write it twice (a batch partition retried
    # after its worker died: run id + file row); a row whose key is stored already is
    # skipped. NULL for the service's decisions (each is written once, in its request).
    Column("audit_key", String(64)),
    Index("ix_decisions_recorded_at", "recorded_at"),
    Index("ix_decisions_number", "number_hash"),
    Index("ux_decisions_audit_key", "audit_key", unique=True),
)

#: One row: the store's id (random, written when the store is created) and when the
#: readiness probe last wrote it (serving.store.identity).
readiness = Table(
    "readiness",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("store_id", String(64), nullable=False),
    Column("probed_at", BigInteger, nullable=False),
)


@dataclass(frozen=True)
class Migration:
    """One schema step. Steps run in ``version`` order, each in the start-up transaction."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _initial_schema(conn: Connection) -> None:
    first = [t for t in metadata.sorted_tables if t.name not in {"schema_version", "readiness"}]
    metadata.create_all(conn, tables=first)


def _readiness(conn: Connection) -> None:
    import time
    import uuid

    readiness.create(conn)
    conn.execute(
        readiness.insert().values(id=1, store_id=uuid.uuid4().hex, probed_at=time.time_ns() // 1000)
    )


def _audit_keys(conn: Connection) -> None:
    """``decisions.audit_key`` and its unique index, on a store created before them (a
    store created since has both from the initial schema). NULLs never collide, so the rows
    already held keep theirs NULL."""
    from sqlalchemy import inspect

    if "audit_key" not in {c["name"] for c in inspect(conn).get_columns("decisions")}:
        conn.exec_driver_sql("ALTER TABLE decisions ADD COLUMN audit_key VARCHAR(64)")
    conn.exec_driver_sql(
        "CREATE UNIQUE INDEX IF NOT EXISTS ux_decisions_audit_key ON decisions (audit_key)"
    )


def _wider_event_purpose(conn: Connection) -> None:
    """``events.purpose`` from VARCHAR(16) to VARCHAR(32): a contact may be an
    ``opt_out_confirmation`` (20 characters).

    PostgreSQL enforces the length: the column type is altered (widening a VARCHAR changes
    the catalogue only; no row is rewritten). SQLite never enforces a VARCHAR length, so a
    table without a CHECK constraint (SQLAlchemy's ``String`` declares none) already takes
    the longer value and is left as it is — rebuilding the largest table to restate its
    declared type would copy every row at start-up. A table that someone gave a CHECK is
    refused, naming it, rather than guessed at.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE events ALTER COLUMN purpose TYPE VARCHAR(32)"))
    elif conn.dialect.name == "sqlite":
        declared = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'")
        ).scalar()
        if declared and "CHECK" in declared.upper():
            raise RuntimeError(
                "events has a CHECK constraint this migration cannot judge; widen "
                "events.purpose to 32 characters by hand, then start again"
            )


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "initial schema: events, consent, preferences, dnc, registries, audit", _initial_schema
    ),
    Migration(2, "readiness: the store id and the readiness probe's row", _readiness),
    Migration(3, "events.purpose VARCHAR(32) for opt_out_confirmation", _wider_event_purpose),
    Migration(4, "decisions.audit_key: a decision written twice is stored once", _audit_keys),
)
LATEST_VERSION = MIGRATIONS[-1].version
