"""The audit log: decisions appended and exported with hashed numbers only, on SQLite and on a real PostgreSQL (see tests/conftest.py)."""

from __future__ import annotations

import datetime as dt

from serving.store import (
    Store,
)
from tests.support.store import AT, NY


def test_decisions_are_appended_and_exported_with_hashes_only(store: Store) -> None:
    rows = [
        {
            "number": NY,
            "decision": "withhold",
            "reasons": [{"code": "QUIET_HOURS", "jurisdiction": "US"}],
            "model_version": "3",
            "rules_version": "r1",
            "at": AT,
            "request_id": f"req-{i}",
            "recorded_at": AT + dt.timedelta(minutes=i),
            "risk": 0.25,
        }
        for i in range(5)
    ]
    rows.append(
        {
            "number": "garbage",
            "decision": "withhold",
            "reasons": [{"code": "INVALID_NUMBER"}],
            "at": AT,
            "recorded_at": AT,
        }
    )
    assert store.append_decisions(rows) == 6
    out = list(store.export_decisions(AT + dt.timedelta(minutes=1), AT + dt.timedelta(minutes=4)))
    assert [r["request_id"] for r in out] == ["req-1", "req-2", "req-3"]
    assert out[0]["reasons"][0]["code"] == "QUIET_HOURS" and out[0]["detail"] == {"risk": 0.25}
    assert out[0]["number_hash"] == store.number_hash(NY).hex()
    assert all(NY not in repr(r) and NY[2:] not in repr(r) for r in out)
    assert len(list(store.export_decisions(AT))) == 6
