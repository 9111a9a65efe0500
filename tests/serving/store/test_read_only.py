"""A store that can be read but not written: the database itself refuses every write
(SQLite opened with ``mode=ro``; PostgreSQL with read-only transactions). Nothing is
acknowledged, the readiness probe says not ready, and what was stored stays readable."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from serving.store import Store, StoreUnavailable
from tests.support.store import AT, NY


def _opt_out(event_id: str) -> dict:
    return {"event_id": event_id, "number": NY, "ts": AT, "kind": "opt_out"}


def _read_only_url(url: str) -> str:
    """The same store, opened so that the database refuses writes."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite"):
        return f"sqlite:///file:{parsed.database}?mode=ro&uri=true"
    options = parsed.query.get("options", "")
    return parsed.update_query_dict(
        {"options": f"{options} -cdefault_transaction_read_only=on".strip()}
    ).render_as_string(hide_password=False)


@pytest.fixture
def read_only(store_url: str, store_env: dict[str, str]) -> Iterator[Store]:
    """A store holding one opt-out, reopened read-only."""
    writer = Store.open(store_url)
    try:
        assert writer.record_events([_opt_out("stored")]).accepted == 1
    finally:
        writer.close()
    opened = Store.open(_read_only_url(store_url), create=False)
    try:
        yield opened
    finally:
        opened.close()


#: A refused write raises (the service answers any store failure with its 503): the
#: database's own error, or StoreUnavailable when the store noticed it first.
REFUSED = (StoreUnavailable, SQLAlchemyError)


def test_a_read_only_store_acknowledges_no_write(read_only: Store) -> None:
    with pytest.raises(REFUSED, match="(?i)read.?only"):
        read_only.record_events([_opt_out("refused")])
    with pytest.raises(REFUSED, match="(?i)read.?only"):
        read_only.dnc_add([{"number": NY, "added_at": AT}])


def test_a_read_only_store_is_not_ready(read_only: Store) -> None:
    with pytest.raises(StoreUnavailable, match="cannot be written"):
        read_only.probe()


def test_what_was_stored_stays_readable(read_only: Store) -> None:
    state = read_only.load_states([NY], AT)[NY]
    assert [e.kind for e in state.history] == ["opt_out"]


def test_the_refused_write_left_nothing_behind(
    store_url: str, store_env: dict[str, str], read_only: Store
) -> None:
    with pytest.raises(REFUSED):
        read_only.record_events([_opt_out("refused")])
    writer = Store.open(store_url)
    try:
        result = writer.record_events([_opt_out("stored"), _opt_out("refused")])
    finally:
        writer.close()
    # "stored" is a duplicate of what was kept; "refused" is new: it was never written
    assert result.accepted == 1


def test_sqlite_read_only_url_points_at_the_same_file(tmp_path: Path) -> None:
    url = _read_only_url(f"sqlite:///{tmp_path / 'a.db'}")
    assert url == f"sqlite:///file:{tmp_path / 'a.db'}?mode=ro&uri=true"
