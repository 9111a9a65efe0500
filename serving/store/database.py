"""The compliance store: events, consent, preferences, DNC, registries, tombstones, audit.

One class, :class:`Store`, over SQLAlchemy Core, assembled from its parts: writes
(:mod:`~serving.store.writes`), reads (:mod:`~serving.store.reads`), registries
(:mod:`~serving.store.registries`), privacy (:mod:`~serving.store.privacy`), the audit log
(:mod:`~serving.store.audit_log`) and maintenance (:mod:`~serving.store.maintenance`), all
written against the transactions of :mod:`~serving.store.base`. SQLite (WAL, foreign keys
on, busy timeout, ``synchronous=FULL`` so a write is durable before it is acknowledged) is
the default, under ``data/contactgate.db``; PostgreSQL via ``CONTACTGATE_DB_URL``
(``postgresql+psycopg://…``). Migrations run on :meth:`Store.open`.

Numbers are normalised with :func:`features.phone.normalize` (E.164 is the hash input),
looked up by keyed hash and stored encrypted (:mod:`serving.store.crypto`).

Concurrency: every write transaction on SQLite starts with ``BEGIN IMMEDIATE`` (one writer
at a time, readers never blocked under WAL); on PostgreSQL writers that touch a number take
``pg_advisory_xact_lock`` on its hash. :meth:`Store.number_lock` is the pre-dial
authorisation primitive built on that: check and record in one serialised transaction.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

from sqlalchemy import inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from serving.store.audit_log import AuditLogMixin
from serving.store.base import e164_of
from serving.store.crypto import NumberCrypto
from serving.store.engine import DB_URL_ENV, create_store_engine, default_url
from serving.store.errors import StoreUnavailable
from serving.store.export import ExportMixin
from serving.store.identity import create_private_file, sqlite_path
from serving.store.maintenance import MaintenanceMixin
from serving.store.privacy import PrivacyMixin
from serving.store.reads import ReadsMixin
from serving.store.registries import RegistriesMixin
from serving.store.transaction import NumberTransaction
from serving.store.writes import WritesMixin

#: What to do about a store that does not exist yet.
NOT_INITIALISED = (
    "create it with `contactgate store init` (or set CONTACTGATE_STORE_CREATE=1 to let the "
    "service create an empty store)"
)


class Store(
    WritesMixin,
    ReadsMixin,
    RegistriesMixin,
    PrivacyMixin,
    AuditLogMixin,
    MaintenanceMixin,
    ExportMixin,
):
    """The compliance store. Open with :meth:`open`; thread-safe (one engine, pooled).

    Every write is idempotent and committed before the method returns; a batch write
    rejects bad items individually and stores the rest.
    """

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        create: bool = True,
    ) -> Store:
        """Connect, check the keys, run pending migrations, return the store.

        ``create=False`` (the service, unless ``CONTACTGATE_STORE_CREATE`` allows it): a
        store that does not exist yet — no SQLite file, or a database without the store's
        tables — is :class:`StoreUnavailable` instead of a fresh empty store, which would
        answer "nothing known" about every number (``contactgate store init`` creates one).

        ``url``: a SQLAlchemy URL; default ``CONTACTGATE_DB_URL`` or
        ``sqlite:///data/contactgate.db``. ``environ`` (default ``os.environ``) supplies
        ``CONTACTGATE_HMAC_KEY`` and ``CONTACTGATE_ENCRYPTION_KEY``; a missing or malformed
        key raises :class:`serving.store.keys.KeyConfigError` naming the variable, before
        any connection is made.
        """
        crypto = NumberCrypto.from_env(environ)
        url = url or (environ or os.environ).get(DB_URL_ENV) or default_url()
        path = sqlite_path(make_url(url).database) if url.startswith("sqlite") else None
        if path is not None and not path.exists():
            if not create:
                raise StoreUnavailable(f"store {path} does not exist: {NOT_INITIALISED}")
            create_private_file(path)
        engine = create_store_engine(url)
        store = cls(engine, crypto)
        try:
            if not create and not store._initialised():
                raise StoreUnavailable(f"store {store.safe_url} has no tables: {NOT_INITIALISED}")
            store._migrate()
            store.guard.remember()
            store._read_store_id()
        except SQLAlchemyError as exc:
            store.close()
            raise StoreUnavailable(
                f"store {store.safe_url}: {exc.__class__.__name__}: {exc}"
            ) from exc
        except BaseException:
            store.close()
            raise
        return store

    def _initialised(self) -> bool:
        """Whether the database holds the store's tables (a schema version)."""
        with self._engine.connect() as conn:
            return inspect(conn).has_table("schema_version")

    @contextlib.contextmanager
    def number_lock(self, e164: str, wait_s: float | None = None) -> Iterator[NumberTransaction]:
        """One transaction that serialises every writer of this number::

            with store.number_lock("+13052134567") as tx:
                state = tx.state(at)
                if count_contacts(state) < 3:
                    tx.record_contact(event)

        SQLite: ``BEGIN IMMEDIATE`` (the database's single writer slot, waited for up to
        the busy timeout). PostgreSQL: ``pg_advisory_xact_lock`` on the number's hash. The
        state read inside is fresh (it sees every attempt committed before the lock was
        granted), so check-then-insert cannot exceed a cap. Commits on normal exit, rolls
        back on an exception. ``wait_s``: see :meth:`_write` (:class:`StoreBusy` when the
        lock is not granted in time).
        """
        e164_checked, err = e164_of(e164)
        if e164_checked is None:
            raise ValueError(err)
        h = self._crypto.number_hash(e164_checked)
        with self._write(wait_s) as conn:
            self._lock_numbers(conn, [h])
            yield NumberTransaction(self, conn, e164_checked, h)
