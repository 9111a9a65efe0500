"""Scale-out of the training frame on Dask: the same kernel, per partition of numbers.

Why this works without a home-made distribution layer: every feature and label of a
contact depends only on the history of ITS number. So the events are shuffled by number
(hash of the normalised history key — E.164, or the raw text of an invalid number — so two
spellings of one number land together) and :func:`features.pointintime.build_training_frame`
runs unchanged on each partition. The rows are then put back in the events' original row
order, which makes the output identical to the in-process engine (tested on a
``dask.distributed.LocalCluster``).

Consent is small next to the events (at most a few grants per number): every partition
receives the whole consent frame once (one graph key) and keeps the numbers it knows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.pointintime import build_training_frame, number_table

if TYPE_CHECKING:
    from distributed import Client

_ROW = "_row"
_KEY = "_history_key"


def _with_history_key(part: pd.DataFrame) -> pd.DataFrame:
    """Add the history key each event is grouped by (normalising each distinct number once)."""
    table = number_table(part["number"], part) if len(part) else None
    keys = (
        np.asarray(table.keys, dtype=object)[table.key_code]
        if table is not None
        else np.array([], dtype=object)
    )
    return part.assign(**{_KEY: pd.Series(keys, index=part.index, dtype="str")})


def _partition_frame(
    part: pd.DataFrame, consent: pd.DataFrame | None, horizon: str
) -> pd.DataFrame:
    """The training frame of one partition, carrying the original row positions."""
    part = part.sort_values(_ROW, kind="stable")
    events = part.drop(columns=[_KEY]).reset_index(drop=True)
    frame = build_training_frame(events.drop(columns=[_ROW]), consent, horizon)
    contact_rows = np.flatnonzero((events["kind"] == "contact").to_numpy(dtype=bool))
    return frame.assign(**{_ROW: events[_ROW].to_numpy()[contact_rows]})


def build_training_frame_dask(
    events: pd.DataFrame,
    consent: pd.DataFrame | None = None,
    horizon: str = "7D",
    npartitions: int = 8,
    scheduler: str | None = None,
    client: Client | None = None,
) -> pd.DataFrame:
    """:func:`features.pointintime.build_training_frame` on Dask, partitioned by number.

    ``client`` — an existing ``distributed.Client``; else ``scheduler`` — the address of a
    running scheduler; else a local cluster of 2 worker processes is started for the call.
    The result equals the in-process engine's, row for row (same order, same dtypes).
    """
    import dask
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    if npartitions < 1:
        raise ValueError(f"npartitions must be at least 1, not {npartitions}")
    own_cluster = None
    if client is None:
        if scheduler:
            client = Client(scheduler)
        else:
            own_cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
            client = Client(own_cluster)
    try:
        indexed = events.reset_index(drop=True).assign(**{_ROW: np.arange(len(events))})
        source = dd.from_pandas(indexed, npartitions=npartitions, sort=False)
        meta_in = _with_history_key(indexed.iloc[:0])
        keyed = source.map_partitions(_with_history_key, meta=meta_in)
        by_number = keyed.shuffle(on=_KEY, npartitions=npartitions)
        consent_once = dask.delayed(consent, name="consent", pure=True)
        meta_out = _partition_frame(meta_in, consent, horizon)
        parts = by_number.map_partitions(
            _partition_frame, consent_once, horizon, meta=meta_out, align_dataframes=False
        )
        result = client.compute(parts, sync=True)
    finally:
        if own_cluster is not None or scheduler:
            client.close()
        if own_cluster is not None:
            own_cluster.close()
    ordered = result.sort_values(_ROW, kind="stable").drop(columns=[_ROW])
    return ordered.reset_index(drop=True)
