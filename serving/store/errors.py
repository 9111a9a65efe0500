"""What the store raises, and the outcomes of its batch writes and registry imports."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


class StoreUnavailable(RuntimeError):
    """The database cannot be reached; callers fail closed (``SYSTEM_UNAVAILABLE``)."""


class StoreBusy(StoreUnavailable):
    """A write waited longer than its caller allows for the writer slot or a number lock
    (``authorize`` answers ``SYSTEM_UNAVAILABLE`` rather than keep a dialer waiting)."""


class AttemptIdConflict(ValueError):
    """An ``authorize`` attempt id that is already the id of another number's event (or of
    an event that is not a contact): never treated as a replay."""


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer version of contactgate."""


class ImportAborted(ValueError):
    """A registry import was refused before the swap; the previous snapshot stays in force.

    ``setting`` names the limit that refused it (``"max_reject_share"``), when one did, so a
    caller can name its own knob for it."""

    def __init__(self, message: str, setting: str | None = None) -> None:
        super().__init__(message)
        self.setting = setting


@dataclass
class WriteResult:
    """Outcome of a batch write: per-item rejects never abort the valid items."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    #: (index, event id): an id already stored with other content; not stored (events only)
    conflicts: list[tuple[int, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The API's response shape (docs/api.md, "Writes"); ``conflicts`` only when any."""
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [{"index": i, "error": e} for i, e in self.rejected],
        }
        if self.conflicts:
            out["conflicts"] = [{"index": i, "event_id": e} for i, e in self.conflicts]
        return out


@dataclass
class ImportResult:
    """Outcome of a registry import. ``rejected`` keeps the first rejects (index, value,
    error); ``rejected_count`` counts them all (a callback receives every one)."""

    registry: str
    snapshot_at: dt.datetime
    snapshot_id: int
    accepted: int = 0
    listed: int = 0  # distinct numbers listed in the snapshot now in force
    rejected_count: int = 0
    rejected: list[tuple[int, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "snapshot_at": self.snapshot_at.isoformat(),
            "accepted": self.accepted,
            "listed": self.listed,
            "rejected": [{"index": i, "error": e} for i, _, e in self.rejected],
            "rejected_count": self.rejected_count,
        }
