"""A person's rights over what the store holds: the subject access report (GDPR art. 15)
and erasure (art. 17), which leaves an HMAC tombstone so the person stays suppressed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update

from features.phone import normalize
from serving.store import tables as t
from serving.store.audit_log import decision_record
from serving.store.base import StoreBase, e164_of
from serving.store.crypto import PURPOSE_TEXT
from serving.store.reads import EVENT_FIELDS, consent_record
from serving.store.sql import from_us, insert_ignore, now_us, to_us


class PrivacyMixin(StoreBase):
    """Subject access and erasure."""

    def subject_report(self, e164: str) -> dict[str, Any]:
        """Everything held on a person (GDPR art. 15), decrypted for them: events, consent,
        preferences, DNC records, registry listings in force, decisions, erasure."""
        h = self.number_hash(e164)
        e164 = normalize(e164).e164 or e164
        with self._read() as conn:
            ev_rows = conn.execute(
                select(t.events).where(t.events.c.number_hash == h).order_by(t.events.c.ts)
            ).mappings()
            events = [
                {
                    **{k: row[k] for k in EVENT_FIELDS if k not in ("number", "text", "ts")},
                    "number": e164,
                    "ts": from_us(row["ts"]),
                    "text": self._crypto.decrypt_optional(row["text_enc"], PURPOSE_TEXT),
                }
                for row in ev_rows
            ]
            consent_rows = conn.execute(
                select(t.consent).where(t.consent.c.number_hash == h).order_by(t.consent.c.id)
            )
            consents = [consent_record(r, e164, self._crypto) for r in consent_rows.mappings()]
            pref_rows = conn.execute(
                select(t.preferences)
                .where(t.preferences.c.number_hash == h)
                .order_by(t.preferences.c.updated_at)
            ).mappings()
            prefs = [
                {
                    k: r[k]
                    for k in ("max_per_week", "urgent_only", "quiet_start", "quiet_end", "channels")
                }
                | {"updated_at": from_us(r["updated_at"])}
                for r in pref_rows
            ]
            dnc_rows = conn.execute(
                select(t.dnc).where(t.dnc.c.number_hash == h).order_by(t.dnc.c.added_at)
            ).mappings()
            dnc_list = [
                {k: r[k] for k in ("action", "scope", "category", "source")}
                | {"added_at": from_us(r["added_at"])}
                for r in dnc_rows
            ]
            registries = sorted(
                conn.execute(
                    select(t.registry_current.c.registry)
                    .join(
                        t.registry_listings,
                        t.registry_listings.c.snapshot_id == t.registry_current.c.snapshot_id,
                    )
                    .where(t.registry_listings.c.number_hash == h)
                ).scalars()
            )
            decision_rows = conn.execute(
                select(t.decisions).where(t.decisions.c.number_hash == h).order_by(t.decisions.c.id)
            ).mappings()
            decisions = [decision_record(r) for r in decision_rows]
            erased_at = conn.execute(
                select(t.tombstones.c.erased_at).where(t.tombstones.c.number_hash == h)
            ).scalar()
        return {
            "number": e164,
            "number_hash": h.hex(),
            "events": events,
            "consent": consents,
            "preferences": prefs,
            "dnc": dnc_list,
            "registry_listings": registries,
            "decisions": decisions,
            "erased_at": from_us(erased_at),
            "suppressed": erased_at is not None,
        }

    def erase_subject(self, e164: str, *, at: dt.datetime | None = None) -> dict[str, Any]:
        """Erase a person (GDPR art. 17): delete their events, consent records and
        preferences; keep DNC records as hashes only (the encrypted number is wiped) and
        the audit log (hashed); write an HMAC tombstone, so :meth:`load_states` reports
        ``suppressed=True`` and re-imported events, consent or lists never revive them.
        Idempotent. Returns what was erased and kept (counts, no personal data)."""
        e164_checked, err = e164_of(e164)
        if e164_checked is None:
            raise ValueError(err)
        h = self._crypto.number_hash(e164_checked)
        erased_at = to_us(at) if at is not None else now_us()
        with self._write() as conn:
            self._lock_numbers(conn, [h])
            n_events = conn.execute(delete(t.events).where(t.events.c.number_hash == h)).rowcount
            n_consent = conn.execute(delete(t.consent).where(t.consent.c.number_hash == h)).rowcount
            n_prefs = conn.execute(
                delete(t.preferences).where(t.preferences.c.number_hash == h)
            ).rowcount
            n_dnc = conn.execute(
                update(t.dnc).where(t.dnc.c.number_hash == h).values(number_enc=None)
            ).rowcount
            conn.execute(
                insert_ignore(self.dialect, t.tombstones.name),
                [{"number_hash": h, "erased_at": erased_at}],
            )
            stamp = conn.execute(
                select(t.tombstones.c.erased_at).where(t.tombstones.c.number_hash == h)
            ).scalar_one()
        return {
            "number_hash": h.hex(),
            "events_deleted": n_events,
            "consent_deleted": n_consent,
            "preferences_deleted": n_prefs,
            "dnc_kept_hash_only": n_dnc,
            "tombstone": True,
            "erased_at": from_us(stamp),
        }
