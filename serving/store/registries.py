"""Registry snapshots (national do-not-call lists): streamed imports with an atomic swap,
deltas, the counts of the snapshots in force, and the snapshots kept over time.

A full snapshot goes into a new snapshot id that no reader sees until one final
transaction makes it the snapshot in force; listings are deleted in bounded transactions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from features.phone import e164_batch, normalize
from serving.store import tables as t
from serving.store.base import StoreBase
from serving.store.errors import ImportAborted, ImportResult
from serving.store.sql import chunks, from_us, insert_ignore, insert_tuples, now_us, to_us

REGISTRY_BATCH = 50_000
#: How far a registry snapshot's instant may lie ahead of this machine's clock.
MAX_SNAPSHOT_CLOCK_SKEW = dt.timedelta(minutes=10)


def normalize_batch(
    raws: Sequence[str], default_region: str | None
) -> list[tuple[str | None, str | None]]:
    """(E.164, None) or (None, reason) per raw number, as :func:`normalize` decides.

    Validity and E.164 come from :func:`features.phone.e164_batch` (the same
    checks, without time zones and line type); the reason of each reject from the
    uncached ``normalize`` (5 M one-off numbers must not fill its per-number cache).
    """
    return _with_reasons(raws, e164_batch(raws, default_region), default_region)


def _with_reasons(
    raws: Sequence[str], e164s: Sequence[str | None], default_region: str | None
) -> list[tuple[str | None, str | None]]:
    uncached = getattr(normalize, "__wrapped__", normalize)
    return [
        (e164, None)
        if e164 is not None
        else (None, uncached(raw, default_region).invalid_reason or "invalid")
        for raw, e164 in zip(raws, e164s, strict=True)
    ]


def _normalized_batches(
    numbers: Iterable[str], batch_size: int, default_region: str | None, workers: int
) -> Iterator[tuple[list[tuple[int, str]], list[tuple[str | None, str | None]]]]:
    """Yield (batch of (index, raw), normalised results) in input order, reading ahead at
    most ``2 × workers`` batches when a process pool normalises them."""

    def batches() -> Iterator[list[tuple[int, str]]]:
        batch: list[tuple[int, str]] = []
        for index, raw in enumerate(numbers):
            batch.append((index, raw))
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    if workers <= 1:
        for batch in batches():
            yield batch, normalize_batch([raw for _, raw in batch], default_region)
        return
    # Workers run the light e164_batch (phonenumbers only); reasons are added here.
    import multiprocessing
    from collections import deque
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the parent has threads (progress bar, pool) and open connections.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: deque = deque()
        for batch in batches():
            raws = [raw for _, raw in batch]
            pending.append((batch, pool.submit(e164_batch, raws, default_region)))
            if len(pending) >= 2 * workers:
                done, future = pending.popleft()
                yield done, _with_reasons([raw for _, raw in done], future.result(), default_region)
        while pending:
            done, future = pending.popleft()
            yield done, _with_reasons([raw for _, raw in done], future.result(), default_region)


def _listed(conn: Connection, snapshot_id: int) -> int:
    """How many numbers a snapshot lists."""
    listings = t.registry_listings
    stmt = select(func.count()).select_from(listings).where(listings.c.snapshot_id == snapshot_id)
    return int(conn.execute(stmt).scalar_one())


class RegistriesMixin(StoreBase):
    """Registry snapshot imports and counts."""

    def import_registry(
        self,
        registry: str,
        snapshot_at: dt.datetime,
        numbers: Iterable[str],
        replace: bool = True,
        *,
        default_region: str | None = None,
        batch_size: int = REGISTRY_BATCH,
        on_reject: Callable[[int, str, str], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        max_reject_share: float | None = None,
        keep_rejects: int = 1000,
        workers: int = 1,
        allow_shrink: bool = False,
        allow_empty: bool = False,
    ) -> ImportResult:
        """Load a registry snapshot, streaming ``numbers`` in batches (bounded memory).

        ``replace=True`` (a full snapshot): the numbers go into a new snapshot that no
        reader sees until one final transaction makes it the snapshot in force; any failure
        before that (an exception from ``numbers``, too many rejects, an empty file) leaves
        the previous snapshot in force and removes the partial one.
        ``replace=False`` (a delta): the numbers are added to the snapshot in force in one
        transaction, and its ``snapshot_at`` moves forward to ``snapshot_at`` when later.

        ``default_region`` lets national formats parse (e.g. ``"US"`` for 10-digit US
        numbers). ``on_reject(index, value, error)`` receives every reject (0-based index in
        ``numbers``); ``on_progress(n)`` the count of numbers read so far. With
        ``max_reject_share`` (e.g. 0.01) an import whose rejects exceed that share is
        refused (:class:`ImportAborted`): a wrong file must not replace a good snapshot.
        ``workers`` > 1 normalises batches in that many processes while this one hashes and
        writes (at most ``2 × workers`` batches in flight, so memory stays bounded).
        A full snapshot listing fewer than half the numbers of the one in force is refused
        (:class:`ImportAborted`) unless ``allow_shrink``: a truncated file must not lift the
        registry's protection from most of its numbers.
        A full snapshot with no number at all is refused (an accidental empty replacement)
        unless ``allow_empty``: then it is recorded as checked with nothing listed. A file
        whose lines are all invalid is refused either way.
        """
        from features.schema import REGISTRIES

        if registry not in REGISTRIES:
            raise ValueError(
                f"registry {registry!r} is unknown; choose from {', '.join(REGISTRIES)}"
            )
        snap_us = to_us(snapshot_at)
        if snapshot_at > dt.datetime.now(dt.UTC) + MAX_SNAPSHOT_CLOCK_SKEW:
            # a snapshot from the future would keep REGISTRY_STALE from ever firing
            raise ImportAborted(
                f"snapshot_at: {snapshot_at.isoformat()} is in the future; the previous "
                "snapshot stays in force"
            )
        with self._read() as conn:
            current = conn.execute(
                select(t.registry_current.c.snapshot_id).where(
                    t.registry_current.c.registry == registry
                )
            ).scalar()
            current_at = (
                None
                if current is None
                else conn.execute(
                    select(t.registry_snapshots.c.snapshot_at).where(
                        t.registry_snapshots.c.snapshot_id == current
                    )
                ).scalar()
            )
        if replace and current_at is not None and snap_us < current_at:
            raise ImportAborted(
                f"snapshot_at: {snapshot_at.isoformat()} is older than the {registry} snapshot "
                f"in force ({from_us(current_at).isoformat()}); the newer one stays in force"
            )
        if not replace and current is not None:
            return self._import_delta(
                registry, snapshot_at, int(current), numbers, default_region, on_reject
            )

        with self._write() as conn:
            snapshot_id = int(
                conn.execute(
                    insert(t.registry_snapshots)
                    .values(
                        registry=registry,
                        snapshot_at=snap_us,
                        imported_at=now_us(),
                        status="loading",
                        listed=0,
                    )
                    .returning(t.registry_snapshots.c.snapshot_id)
                ).scalar_one()
            )
        result = ImportResult(registry, snapshot_at, snapshot_id)
        try:
            read = 0
            for batch, normalized in _normalized_batches(
                numbers, batch_size, default_region, workers
            ):
                self._load_listing_batch(
                    snapshot_id, batch, normalized, result, on_reject, keep_rejects
                )
                read += len(batch)
                if on_progress:
                    on_progress(read)
            if result.accepted == 0 and not (allow_empty and read == 0):
                hint = "" if read else " (a genuinely empty list needs allow_empty)"
                raise ImportAborted(
                    f"numbers: {registry}: no valid number in the import ({result.rejected_count} rejected)"
                    f"{hint}; the snapshot in force is unchanged"
                )
            if max_reject_share is not None and result.rejected_count > max_reject_share * read:
                raise ImportAborted(
                    f"numbers: {registry}: {result.rejected_count:,} of {read:,} numbers rejected, more than "
                    f"{max_reject_share:.1%}; the snapshot in force is unchanged",
                    setting="max_reject_share",
                )
            with self._write() as conn:
                listed = _listed(conn, snapshot_id)
                conn.execute(
                    update(t.registry_snapshots)
                    .where(t.registry_snapshots.c.snapshot_id == snapshot_id)
                    .values(status="active", listed=listed)
                )
                previous = conn.execute(
                    select(t.registry_current.c.snapshot_id).where(
                        t.registry_current.c.registry == registry
                    )
                ).scalar()
                before = None if previous is None else _listed(conn, int(previous))
                emptied = allow_empty and listed == 0  # asked for in so many words
                if before and listed * 2 < before and not (allow_shrink or emptied):
                    raise ImportAborted(
                        f"numbers: the new {registry} snapshot lists {listed:,} numbers, fewer "
                        f"than half of the {before:,} in force; if that is right, import it "
                        "again allowing the shrink (allow_shrink); the snapshot in force is "
                        "unchanged",
                        setting="allow_shrink",
                    )
                if previous is None:
                    conn.execute(
                        insert(t.registry_current).values(
                            registry=registry, snapshot_id=snapshot_id
                        )
                    )
                else:
                    conn.execute(
                        update(t.registry_current)
                        .where(t.registry_current.c.registry == registry)
                        .values(snapshot_id=snapshot_id)
                    )
                    conn.execute(
                        update(t.registry_snapshots)
                        .where(t.registry_snapshots.c.snapshot_id == previous)
                        .values(status="retired")
                    )
            result.listed = listed
        except BaseException:
            self._drop_snapshot_listings(snapshot_id, status="failed")
            raise
        if previous is not None:
            self._drop_snapshot_listings(int(previous), status="retired")
        return result

    def _load_listing_batch(
        self,
        snapshot_id: int,
        batch: list[tuple[int, str]],
        normalized: list[tuple[str | None, str | None]],
        result: ImportResult,
        on_reject: Callable[[int, str, str], None] | None,
        keep_rejects: int,
    ) -> None:
        hashes: set[bytes] = set()
        for (index, raw), (e164, reason) in zip(batch, normalized, strict=True):
            if e164 is None:
                result.rejected_count += 1
                if len(result.rejected) < keep_rejects:
                    result.rejected.append((index, raw, f"number: {reason}"))
                if on_reject:
                    on_reject(index, raw, f"number: {reason}")
                continue
            hashes.add(self._crypto.number_hash(e164))
        result.accepted += sum(1 for e164, _ in normalized if e164 is not None)
        if not hashes:
            return
        stmt = insert_ignore(self.dialect, t.registry_listings.name)
        with self._write() as conn:
            if self.dialect == "sqlite":
                keys = ("snapshot_id", "number_hash")
                insert_tuples(conn, stmt, keys, [(snapshot_id, h) for h in hashes])
            else:
                conn.execute(stmt, [{"snapshot_id": snapshot_id, "number_hash": h} for h in hashes])

    def _import_delta(
        self,
        registry: str,
        snapshot_at: dt.datetime,
        current: int,
        numbers: Iterable[str],
        default_region: str | None,
        on_reject: Callable[[int, str, str], None] | None,
    ) -> ImportResult:
        result = ImportResult(registry, snapshot_at, current)
        raws = list(numbers)
        hashes: set[bytes] = set()
        for index, (raw, (e164, reason)) in enumerate(
            zip(raws, normalize_batch(raws, default_region), strict=True)
        ):
            if e164 is None:
                result.rejected_count += 1
                result.rejected.append((index, raw, f"number: {reason}"))
                if on_reject:
                    on_reject(index, raw, f"number: {reason}")
            else:
                result.accepted += 1
                hashes.add(self._crypto.number_hash(e164))
        with self._write() as conn:
            if hashes:
                conn.execute(
                    insert_ignore(self.dialect, t.registry_listings.name),
                    [{"snapshot_id": current, "number_hash": h} for h in hashes],
                )
            listed = _listed(conn, current)
            snaps = t.registry_snapshots
            conn.execute(
                update(snaps)
                .where(snaps.c.snapshot_id == current)
                .values(
                    listed=listed, snapshot_at=func.max(snaps.c.snapshot_at, to_us(snapshot_at))
                )
                if self.dialect == "sqlite"
                else update(snaps)
                .where(snaps.c.snapshot_id == current)
                .values(
                    listed=listed,
                    snapshot_at=func.greatest(snaps.c.snapshot_at, to_us(snapshot_at)),
                )
            )
        result.listed = listed
        return result

    def _drop_snapshot_listings(self, snapshot_id: int, *, status: str) -> None:
        """Delete a snapshot's listings in bounded transactions (never one huge lock)."""
        listings = t.registry_listings
        victims = (
            select(listings.c.number_hash)
            .where(listings.c.snapshot_id == snapshot_id)
            .limit(REGISTRY_BATCH)
            .scalar_subquery()
        )
        stmt = delete(listings).where(
            listings.c.snapshot_id == snapshot_id, listings.c.number_hash.in_(victims)
        )
        while True:
            with self._write() as conn:
                deleted = conn.execute(stmt).rowcount
            if not deleted:
                break
        with self._write() as conn:
            conn.execute(
                update(t.registry_snapshots)
                .where(t.registry_snapshots.c.snapshot_id == snapshot_id)
                .values(status=status)
            )

    def registry_history(
        self, numbers: Sequence[str]
    ) -> list[tuple[str, dt.datetime, frozenset[str] | None]]:
        """Every snapshot the store keeps, oldest first: ``(registry, snapshot_at, listed)``
        with ``listed`` the E.164 numbers among ``numbers`` that it lists. Snapshots that
        failed or are still loading are left out. The store keeps the listings of the
        snapshot in force only (a replaced snapshot's listings are deleted), so ``listed``
        is None for a replaced one: who it listed is no longer known."""
        snaps = t.registry_snapshots
        with self._read() as conn:
            kept = conn.execute(
                select(snaps.c.snapshot_id, snaps.c.registry, snaps.c.snapshot_at)
                .where(snaps.c.status.in_(("active", "retired")))
                .order_by(snaps.c.snapshot_at, snaps.c.snapshot_id)
            ).all()
            current = {
                int(sid) for (sid,) in conn.execute(select(t.registry_current.c.snapshot_id))
            }
            by_hash = {self._crypto.number_hash(n): n for n in dict.fromkeys(numbers)}
            listed: dict[int, set[str]] = {sid: set() for sid in current}
            listings = t.registry_listings
            stmt = select(listings.c.snapshot_id, listings.c.number_hash).where(
                listings.c.snapshot_id.in_(bindparam("ids", expanding=True)),
                listings.c.number_hash.in_(bindparam("h", expanding=True)),
            )
            if current:
                for chunk in chunks(list(by_hash)):
                    for sid, h in conn.execute(stmt, {"ids": sorted(current), "h": chunk}):
                        listed[int(sid)].add(by_hash[bytes(h)])
        return [
            (registry, from_us(at), frozenset(listed[sid]) if sid in listed else None)
            for sid, registry, at in kept
        ]

    def registry_counts(self) -> dict[str, int]:
        """Distinct numbers listed per registry in the snapshot in force."""
        snaps = t.registry_snapshots
        with self._read() as conn:
            found = conn.execute(
                select(t.registry_current.c.registry, snaps.c.listed).join(
                    snaps, snaps.c.snapshot_id == t.registry_current.c.snapshot_id
                )
            ).all()
        return {registry: int(listed) for registry, listed in found}
