"""The training frame on Dask: the same kernel, per partition of numbers.

Why this works without a home-made distribution layer: every feature and label of a
contact depends only on the history of ITS number. So the events are shuffled by number
(hash of the normalised history key — E.164, or the raw text of an invalid number — so two
spellings of one number land together) and :func:`features.pointintime.build_training_frame`
runs unchanged on each partition. Within a partition the events keep their order in the
source (an order key carried through the shuffle), so ties in time resolve as in the
in-process engine and the rows are identical to its rows.

Consent is small next to the events (at most a few grants per number): every partition
receives the whole consent frame once (one graph key) and keeps the numbers it knows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from distributed import Client

#: The events' order in their source, carried through the shuffle.
ROW = "_row"
#: The history key each event is shuffled on.
KEY = "_history_key"


def with_history_key(part: pd.DataFrame) -> pd.DataFrame:
    """Add the history key each event is grouped by (normalising each distinct number once)."""
    from features.pointintime import number_table

    table = number_table(part["number"], part) if len(part) else None
    keys = (
        np.asarray(table.keys, dtype=object)[table.key_code]
        if table is not None
        else np.array([], dtype=object)
    )
    return part.assign(**{KEY: pd.Series(keys, index=part.index, dtype="str")})


def partition_frame(part: pd.DataFrame, consent: pd.DataFrame | None, horizon: str) -> pd.DataFrame:
    """The training frame of one partition, carrying the events' order key."""
    from features.pointintime import build_training_frame

    part = part.sort_values(ROW, kind="stable")
    events = part.drop(columns=[KEY]).reset_index(drop=True)
    if consent is not None and ROW in consent.columns:  # checked on the cluster: E.164
        # only this partition's numbers (the others' would be normalised again, for nothing)
        mine = consent["number"].isin(events["number"].unique())
        consent = consent.loc[mine].drop(columns=[ROW]).reset_index(drop=True)
    frame = build_training_frame(events.drop(columns=[ROW]), consent, horizon)
    contact_rows = np.flatnonzero((events["kind"] == "contact").to_numpy(dtype=bool))
    return frame.assign(**{ROW: events[ROW].to_numpy()[contact_rows]})


@contextlib.contextmanager
def connected(scheduler: str | None = None, client: Client | None = None) -> Iterator[Client]:
    """``client`` as it is; else a client of the scheduler at ``scheduler``; else a local
    cluster of 2 single-thread worker processes, closed on the way out."""
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if scheduler:
        with Client(scheduler) as own:
            yield own
        return
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as own,
    ):
        yield own


def build_training_frame_dask(
    events: pd.DataFrame,
    consent: pd.DataFrame | None = None,
    horizon: str = "7D",
    npartitions: int = 8,
    scheduler: str | None = None,
    client: Client | None = None,
) -> pd.DataFrame:
    """:func:`features.pointintime.build_training_frame` on Dask from a frame in memory,
    collected back: equal to the in-process engine's result row for row (same order, same
    dtypes). For data larger than one machine use :func:`features.distributed.frame_dataset`.

    ``client`` — an existing ``distributed.Client``; else ``scheduler`` — the address of a
    running scheduler; else a local cluster of 2 worker processes is started for the call.
    """
    import dask
    import dask.dataframe as dd

    if npartitions < 1:
        raise ValueError(f"npartitions must be at least 1, not {npartitions}")
    with connected(scheduler, client) as running:
        indexed = events.reset_index(drop=True).assign(**{ROW: np.arange(len(events))})
        source = dd.from_pandas(indexed, npartitions=npartitions, sort=False)
        meta_in = with_history_key(indexed.iloc[:0])
        keyed = source.map_partitions(with_history_key, meta=meta_in)
        by_number = keyed.shuffle(on=KEY, npartitions=npartitions)
        consent_once = dask.delayed(consent, name="consent", pure=True)
        meta_out = partition_frame(meta_in, consent, horizon)
        parts = by_number.map_partitions(
            partition_frame, consent_once, horizon, meta=meta_out, align_dataframes=False
        )
        result = running.compute(parts, sync=True)
    ordered = result.sort_values(ROW, kind="stable").drop(columns=[ROW])
    return ordered.reset_index(drop=True)
