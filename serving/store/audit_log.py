"""The audit log: one row per decision (hashed number, decision, reasons, versions),
appended on its own or inside the number lock of the attempt it allowed, and exported as
a stream."""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import orjson
from sqlalchemy import insert, select

from serving.store import tables as t
from serving.store.base import StoreBase, e164_of
from serving.store.sql import from_us, insert_ignore, insert_rows, now_us, to_us

_AUDIT_JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
#: The keys of a decision row given to :meth:`AuditLogMixin.append_decisions` that have a
#: column; any other key goes into ``detail``.
_DECISION_KEYS = frozenset(
    {"number", "number_hash", "decision", "reasons", "model_version", "rules_version", "at",
     "request_id", "recorded_at", "audit_key"}
)  # fmt: skip


def _audit_json(value: Any) -> str:
    """An audit-log JSON column: compact, keys sorted, datetimes ISO-8601, anything else
    unusual as its ``str`` (orjson: ~7x faster than the standard library on these rows,
    and a screen writes two per contact)."""
    return orjson.dumps(value, default=str, option=_AUDIT_JSON_OPTIONS).decode()


@functools.cache
def audit_insert() -> Any:
    return insert(t.decisions)


def decision_record(row: Mapping[str, Any]) -> dict[str, Any]:
    """A decisions row as exported (hashed number in hex, JSON columns parsed)."""
    return {
        "id": row["id"],
        "request_id": row["request_id"],
        "number_hash": bytes(row["number_hash"]).hex(),
        "decision": row["decision"],
        "reasons": json.loads(row["reasons"]),
        "model_version": row["model_version"],
        "rules_version": row["rules_version"],
        "at": from_us(row["at"]),
        "recorded_at": from_us(row["recorded_at"]),
        "detail": json.loads(row["detail"]) if row["detail"] else {},
    }


class AuditLogMixin(StoreBase):
    """Appending to and exporting the audit log."""

    def append_decisions(
        self, rows: Sequence[Mapping[str, Any]], wait_s: float | None = None
    ) -> int:
        """Append decisions to the audit log; returns how many were written (``wait_s``:
        see :meth:`_write`).

        Each row: ``number`` (as given; hashed after normalisation, or the raw text hashed
        when it is not a number) or ``number_hash`` (bytes), ``decision``, ``reasons``
        (list of reason dicts), ``model_version``, ``rules_version``, ``at`` (the instant
        decided on), ``request_id``; optional ``recorded_at`` (default now, the decision
        time export filters on), ``audit_key`` (a writer that may write a row twice — a
        retried batch partition — gives each row its own key: a row whose key is stored
        already is skipped, ``ON CONFLICT DO NOTHING``). Any other keys go into ``detail``
        (JSON).
        """
        out = self._decision_rows(rows)
        if out:
            keyed = "audit_key" in out[0]
            with self._write(wait_s) as conn:
                stmt = insert_ignore(self.dialect, t.decisions.name) if keyed else audit_insert()
                insert_rows(conn, stmt, out)
        return len(out)

    def _decision_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        known = _DECISION_KEYS
        now = now_us()
        keyed = any(row.get("audit_key") is not None for row in rows)
        out = []
        for row in rows:
            h = row.get("number_hash")
            if h is None:
                raw = str(row.get("number") or "")
                e164, _ = e164_of(raw)
                h = self._crypto.number_hash(e164 if e164 is not None else raw)
            at = row.get("at")
            recorded = row.get("recorded_at")
            extra = {k: v for k, v in row.items() if k not in known}
            out.append(
                {
                    "request_id": row.get("request_id"),
                    "number_hash": bytes(h),
                    "decision": str(row["decision"]),
                    "reasons": _audit_json(row.get("reasons") or []),
                    "model_version": row.get("model_version"),
                    "rules_version": row.get("rules_version"),
                    "at": to_us(at) if isinstance(at, dt.datetime) else now,
                    "detail": _audit_json(extra) if extra else None,
                    "recorded_at": to_us(recorded) if isinstance(recorded, dt.datetime) else now,
                }
            )
            if keyed:
                out[-1]["audit_key"] = row.get("audit_key")
        return out

    def export_decisions(
        self, since: dt.datetime, until: dt.datetime | None = None
    ) -> Iterator[dict[str, Any]]:
        """Decisions recorded in ``[since, until)`` in order, streamed; hashed numbers only."""
        d = t.decisions
        stmt = select(d).where(d.c.recorded_at >= to_us(since))
        if until is not None:
            stmt = stmt.where(d.c.recorded_at < to_us(until))
        stmt = stmt.order_by(d.c.recorded_at, d.c.id)
        with self._engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=1000).execute(stmt)
            for row in result.mappings():
                yield decision_record(row)
