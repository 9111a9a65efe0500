"""The compliance store (SQLite or PostgreSQL): ``from serving.store import Store``.

See :mod:`serving.store.database` for the class and :mod:`serving.store.tables` for the
schema and its migrations.
"""

from serving.store.database import (
    DURABLE_KINDS,
    MIN_RETENTION_DAYS,
    AttemptIdConflict,
    ImportAborted,
    ImportResult,
    NumberTransaction,
    SchemaTooNew,
    Store,
    StoreBusy,
    StoreUnavailable,
    WriteResult,
    default_url,
    from_us,
    to_us,
)

__all__ = [
    "DURABLE_KINDS",
    "AttemptIdConflict",
    "MIN_RETENTION_DAYS",
    "ImportAborted",
    "ImportResult",
    "NumberTransaction",
    "SchemaTooNew",
    "Store",
    "StoreBusy",
    "StoreUnavailable",
    "WriteResult",
    "default_url",
    "from_us",
    "to_us",
]
