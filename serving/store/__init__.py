"""The compliance store (SQLite or PostgreSQL): ``from serving.store import Store``.

:class:`Store` (:mod:`serving.store.database`) is assembled from focused parts: writes,
reads, registries, privacy, audit log and maintenance, over the transactions of
:mod:`serving.store.base` and the one driver-SQL path of :mod:`serving.store.sql`. The
schema and its migrations are in :mod:`serving.store.tables`; keyed hashes and encryption
in :mod:`serving.store.crypto`, the keys in :mod:`serving.store.keys`, bulk loading of
contract files in :mod:`serving.store.load`.

The names below are imported on first use, so that ``python -m serving.store.keys`` and
``from serving.store.keys import …`` do not load the database layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from features.lazy import lazy_exports

if TYPE_CHECKING:
    from serving.store.crypto import DecryptionError, NumberCrypto
    from serving.store.database import Store
    from serving.store.engine import default_url
    from serving.store.errors import (
        AttemptIdConflict,
        ImportAborted,
        ImportResult,
        SchemaTooNew,
        StoreBusy,
        StoreUnavailable,
        WriteResult,
    )
    from serving.store.export import EXPORTABLE, PSEUDONYM_FACTS, ContractWriter
    from serving.store.keys import KeyConfigError, load_env_file
    from serving.store.load import LoadSummary, load_frame
    from serving.store.maintenance import MIN_RETENTION_DAYS
    from serving.store.reads import DURABLE_KINDS
    from serving.store.sql import from_us, to_us
    from serving.store.transaction import NumberTransaction

_HOMES = {
    "EXPORTABLE": "export",
    "PSEUDONYM_FACTS": "export",
    "ContractWriter": "export",
    "AttemptIdConflict": "errors",
    "DURABLE_KINDS": "reads",
    "DecryptionError": "crypto",
    "ImportAborted": "errors",
    "ImportResult": "errors",
    "KeyConfigError": "keys",
    "LoadSummary": "load",
    "MIN_RETENTION_DAYS": "maintenance",
    "NumberCrypto": "crypto",
    "NumberTransaction": "transaction",
    "SchemaTooNew": "errors",
    "Store": "database",
    "StoreBusy": "errors",
    "StoreUnavailable": "errors",
    "WriteResult": "errors",
    "default_url": "engine",
    "from_us": "sql",
    "load_env_file": "keys",
    "load_frame": "load",
    "to_us": "sql",
}

__all__ = [
    "EXPORTABLE",
    "PSEUDONYM_FACTS",
    "ContractWriter",
    "AttemptIdConflict",
    "DURABLE_KINDS",
    "DecryptionError",
    "ImportAborted",
    "ImportResult",
    "KeyConfigError",
    "LoadSummary",
    "MIN_RETENTION_DAYS",
    "NumberCrypto",
    "NumberTransaction",
    "SchemaTooNew",
    "Store",
    "StoreBusy",
    "StoreUnavailable",
    "WriteResult",
    "default_url",
    "from_us",
    "load_env_file",
    "load_frame",
    "to_us",
]


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
