"""Writing events, consent, preferences, DNC records and blocked periods.

Every write is idempotent and committed before the method returns; a batch write rejects
bad items individually (contract, number, erased person) and stores the rest. Numbers are
stored hashed and encrypted, consent evidence and reply texts encrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import bindparam, select

from features.schema import BlockedPeriod, Consent, DncEntry, Event, Preference
from serving.store import tables as t
from serving.store.base import StoreBase, e164_of
from serving.store.crypto import PURPOSE_EVIDENCE, PURPOSE_NUMBER, PURPOSE_TEXT
from serving.store.errors import WriteResult
from serving.store.sql import chunks, insert_ignore, now_us, to_us

ERASED = "number: erased on request (suppressed); not stored"
#: The stored columns of an event compared when its id comes again (besides the number and
#: the text, compared in clear).
EVENT_CONTENT = (
    "ts", "kind", "channel", "purpose", "subject", "campaign_id", "dial_mode", "outcome",
    "duration_s", "source", "p_complaint_true", "p_opt_out_true",
)  # fmt: skip


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "record"
    return f"{loc}: {err.get('msg', 'invalid')}"


def _coerce(items: Sequence[Any], model: type) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (index, record or None, error) for records given as models or mappings."""
    for i, item in enumerate(items):
        if isinstance(item, model):
            yield i, item, None
            continue
        try:
            yield i, model.model_validate(item), None
        except ValidationError as exc:
            yield i, None, _first_error(exc)
        except (TypeError, ValueError) as exc:
            yield i, None, str(exc)


class WritesMixin(StoreBase):
    """The append-only writes of the store's records."""

    def record_events(self, events: Sequence[Event | Mapping[str, Any]]) -> WriteResult:
        """Store events; idempotent on ``event_id`` (a replay counts as a duplicate, an
        event with a stored id but other content is a conflict, never stored).

        Rejected per item: a record that breaks the Event contract, an invalid number, and
        a number that was erased (an erased person's data is not taken in again; the
        tombstone keeps suppressing them). Numbers are stored hashed + encrypted, reply
        texts encrypted.
        """
        result = WriteResult()
        rows: list[dict[str, Any]] = []
        index_of: list[int] = []
        now = now_us()
        for i, ev, err in _coerce(events, Event):
            if ev is None:
                result.rejected.append((i, err or "invalid event"))
                continue
            e164, err = e164_of(ev.number)
            if e164 is None:
                result.rejected.append((i, err or "number: invalid"))
                continue
            rows.append(self._event_row(ev, e164, now))
            index_of.append(i)
        if rows:
            with self._write() as conn:
                hashes = [r["number_hash"] for r in rows]
                self._lock_numbers(conn, hashes)
                erased = self._tombstoned(conn, hashes)
                existing = self._stored_events(conn, [r["event_id"] for r in rows])
                fresh: list[dict[str, Any]] = []
                for i, row in zip(index_of, rows, strict=True):
                    if row["number_hash"] in erased:
                        result.rejected.append((i, ERASED))
                    elif row["event_id"] in existing:
                        if existing[row["event_id"]] == self._event_content(row):
                            result.duplicates += 1  # a replay: a no-op
                        else:
                            result.conflicts.append((i, row["event_id"]))
                    else:
                        existing[row["event_id"]] = self._event_content(row)
                        fresh.append(row)
                if fresh:
                    conn.execute(insert_ignore(self.dialect, t.events.name), fresh)
                result.accepted = len(fresh)
        result.rejected.sort()
        return result

    def _event_content(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        """What makes two events with one id the same event (a replay) or two (a conflict):
        every stored field but the encryption nonces and the time of recording."""
        text = self._crypto.decrypt_optional(row["text_enc"], PURPOSE_TEXT)
        return (bytes(row["number_hash"]), text) + tuple(row[c] for c in EVENT_CONTENT)

    def _stored_events(self, conn: Any, ids: list[str]) -> dict[str, tuple[Any, ...]]:
        """The content of the stored events among ``ids`` (event id → content)."""
        e = t.events
        stmt = select(e.c.event_id, e.c.number_hash, e.c.text_enc, *(e.c[c] for c in EVENT_CONTENT))
        found: dict[str, tuple[Any, ...]] = {}
        for chunk in chunks(list(set(ids))):
            for row in conn.execute(stmt.where(e.c.event_id.in_(list(chunk)))).mappings():
                found[row["event_id"]] = self._event_content(row)
        return found

    def _event_row(self, ev: Event, e164: str, now: int) -> dict[str, Any]:
        c = self._crypto
        return {
            "event_id": ev.event_id,
            "number_hash": c.number_hash(e164),
            "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
            "ts": to_us(ev.ts),
            "kind": ev.kind,
            "channel": ev.channel,
            "purpose": ev.purpose,
            "subject": ev.subject,
            "campaign_id": ev.campaign_id,
            "dial_mode": ev.dial_mode,
            "outcome": ev.outcome,
            "duration_s": ev.duration_s,
            "text_enc": c.encrypt_optional(ev.text, PURPOSE_TEXT),
            "source": ev.source,
            "p_complaint_true": ev.p_complaint_true,
            "p_opt_out_true": ev.p_opt_out_true,
            "recorded_at": now,
        }

    def _append_records(
        self,
        table: t.Table,  # type: ignore[name-defined]
        items: Sequence[Any],
        model: type,
        to_row: Callable[[Any, str | None, bytes | None], dict[str, Any]],
        *,
        numbered: bool = True,
        refuse_erased: bool = True,
    ) -> WriteResult:
        """Shared path of the append-only tables: validate, hash, dedupe by ``record_key``."""
        result = WriteResult()
        rows: list[tuple[int, dict[str, Any]]] = []
        now = now_us()
        for i, rec, err in _coerce(items, model):
            if rec is None:
                result.rejected.append((i, err or "invalid record"))
                continue
            e164 = h = None
            if numbered:
                e164, err = e164_of(rec.number)
                if e164 is None:
                    result.rejected.append((i, err or "number: invalid"))
                    continue
                h = self._crypto.number_hash(e164)
            row = to_row(rec, e164, h)
            payload = {k: v for k, v in rec.model_dump(mode="json").items() if k != "number"}
            payload["number_hash"] = h.hex() if h is not None else None
            row["record_key"] = self._crypto.record_key({"table": table.name, **payload})
            row["recorded_at"] = now
            rows.append((i, row))
        if not rows:
            result.rejected.sort()
            return result
        with self._write() as conn:
            hashes = [r["number_hash"] for _, r in rows if "number_hash" in r]
            self._lock_numbers(conn, hashes)
            erased = self._tombstoned(conn, hashes) if numbered else set()
            keys_stmt = select(table.c.record_key).where(
                table.c.record_key.in_(bindparam("k", expanding=True))
            )
            existing: set[bytes] = set()
            for chunk in chunks([r["record_key"] for _, r in rows]):
                existing.update(
                    bytes(k) for k in conn.execute(keys_stmt, {"k": list(chunk)}).scalars()
                )
            fresh = []
            for i, row in rows:
                if numbered and row["number_hash"] in erased:
                    if refuse_erased:
                        result.rejected.append((i, ERASED))
                        continue
                    row["number_enc"] = None  # keep the hash only
                if row["record_key"] in existing:
                    result.duplicates += 1
                    continue
                existing.add(row["record_key"])
                fresh.append(row)
            if fresh:
                conn.execute(insert_ignore(self.dialect, table.name), fresh)
            result.accepted = len(fresh)
        result.rejected.sort()
        return result

    def record_consent(self, records: Sequence[Consent | Mapping[str, Any]]) -> WriteResult:
        """Append consent grants (and revocations, as records with ``revoked_at``) to the
        ledger; evidence is encrypted. Replaying an identical record is a duplicate."""
        c = self._crypto

        def row(rec: Consent, e164: str | None, h: bytes | None) -> dict[str, Any]:
            assert e164 is not None
            return {
                "consent_id": rec.consent_id,
                "number_hash": h,
                "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
                "channel": rec.channel,
                "purpose": rec.purpose,
                "type": rec.type,
                "granted_at": to_us(rec.granted_at),
                "revoked_at": None if rec.revoked_at is None else to_us(rec.revoked_at),
                "evidence_enc": c.encrypt_optional(rec.evidence, PURPOSE_EVIDENCE),
                "confirmed_at": None if rec.confirmed_at is None else to_us(rec.confirmed_at),
                "outside_hours": rec.outside_hours,
            }

        return self._append_records(t.consent, records, Consent, row)

    def record_preferences(self, records: Sequence[Preference | Mapping[str, Any]]) -> WriteResult:
        """Append preference records; the latest ``updated_at`` at an instant applies."""
        c = self._crypto

        def row(rec: Preference, e164: str | None, h: bytes | None) -> dict[str, Any]:
            assert e164 is not None
            return {
                "number_hash": h,
                "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
                "max_per_week": rec.max_per_week,
                "urgent_only": rec.urgent_only,
                "quiet_start": rec.quiet_start,
                "quiet_end": rec.quiet_end,
                "channels": rec.channels,
                "updated_at": to_us(rec.updated_at),
            }

        return self._append_records(t.preferences, records, Preference, row)

    def _dnc(self, records: Sequence[DncEntry | Mapping[str, Any]], action: str) -> WriteResult:
        c = self._crypto
        fixed: list[Any] = []
        for item in records:
            if isinstance(item, DncEntry):
                fixed.append(item.model_copy(update={"action": action}))
            elif isinstance(item, Mapping):
                fixed.append({**item, "action": action})
            else:
                fixed.append(item)

        def row(rec: DncEntry, e164: str | None, h: bytes | None) -> dict[str, Any]:
            assert e164 is not None
            return {
                "number_hash": h,
                "number_enc": c.encrypt(e164, PURPOSE_NUMBER),
                "action": rec.action,
                "scope": rec.scope,
                "category": rec.category,
                "added_at": to_us(rec.added_at),
                "source": rec.source,
            }

        # An erased person may still be added to the DNC list: hash only, never refused.
        return self._append_records(t.dnc, fixed, DncEntry, row, refuse_erased=False)

    def dnc_add(self, records: Sequence[DncEntry | Mapping[str, Any]]) -> WriteResult:
        """Append internal-DNC additions (``action`` is forced to ``add``)."""
        return self._dnc(records, "add")

    def dnc_remove(self, records: Sequence[DncEntry | Mapping[str, Any]]) -> WriteResult:
        """Append internal-DNC removals (``action`` forced to ``remove``); nothing is deleted."""
        return self._dnc(records, "remove")

    def block_period(self, records: Sequence[BlockedPeriod | Mapping[str, Any]]) -> WriteResult:
        """Declare periods with no marketing in a region (state of emergency, ad-hoc holiday)."""

        def row(rec: BlockedPeriod, e164: str | None, h: bytes | None) -> dict[str, Any]:
            return {
                "region": rec.region,
                "start": to_us(rec.start),
                "end": to_us(rec.end),
                "reason": rec.reason,
            }

        return self._append_records(t.blocked_periods, records, BlockedPeriod, row, numbered=False)
