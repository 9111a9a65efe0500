"""Repeated ``event_id``s over a whole source, found on the cluster with the loaders' rule
(:func:`features.io.repeat_positions`): in source order, the first row of an id is kept, a
later row equal to it in every value is a replay (skipped, counted), a different one is
rejected naming the first row.

The events are shuffled by number, so two rows of one id under two *different* numbers never
meet there. A second, narrow shuffle — (event_id, order key, history key) of every event, by
event_id — puts every id's rows in one partition, where :func:`cross_number_repeats` finds
the rows whose number differs from their id's first row: conflicts whatever their other
values. Those few keys are handed to every number-partition, which rejects them and applies
the rule among its own rows (an id's first row and its repeats under the same number are all
there). Neither shuffle sends an id to the client.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.distributed.partition import KEY, ROW
from features.distributed.source import RowPlaces
from features.io import RowError, repeat_positions, repeats_message

#: The order key of the first row of a rejected row's event_id.
FIRST = "_first_row"
#: What a number-partition sends back of its rejected repeats, at most.
MESSAGES_PER_PARTITION = 20


def cross_number_repeats(part: pd.DataFrame) -> pd.DataFrame:
    """One partition of (event_id, order key, history key), shuffled by event_id → the rows
    whose history key differs from that of their id's first row (order key, first's key)."""
    part = part.sort_values(ROW, kind="stable")
    repeated = part["event_id"].duplicated(keep=False).to_numpy()
    if not repeated.any():
        return pd.DataFrame({ROW: pd.Series(dtype="int64"), FIRST: pd.Series(dtype="int64")})
    rows = part.iloc[np.flatnonzero(repeated)]
    first = rows.groupby("event_id", sort=False)[[ROW, KEY]].transform("first")
    other = (rows[KEY].to_numpy() != first[KEY].to_numpy()) & (
        rows[ROW].to_numpy() != first[ROW].to_numpy()
    )
    return pd.DataFrame(
        {ROW: rows[ROW].to_numpy()[other], FIRST: first[ROW].to_numpy()[other]}
    ).astype("int64")


def resolve_repeats(
    part: pd.DataFrame, cross: pd.DataFrame | None, places: RowPlaces
) -> tuple[pd.DataFrame, int, pd.DataFrame]:
    """A number-partition's events (in source order) → (the rows that load, the replays
    skipped, the rejects: file, row, field, value, error — one per rejected row)."""
    part = part.sort_values(ROW, kind="stable")
    keys = part[ROW].to_numpy(dtype=np.int64)
    first = np.full(len(part), -1, dtype=np.int64)
    if cross is not None and len(cross):
        hit = pd.Index(cross[ROW]).get_indexer(keys)
        first[hit >= 0] = cross[FIRST].to_numpy(dtype=np.int64)[hit[hit >= 0]]
    same = first < 0
    values = part.drop(columns=[ROW, KEY])
    replays, first_pos = repeat_positions(values, same)
    inner = first_pos >= 0
    first[inner] = keys[first_pos[inner]]
    rejected = first >= 0
    files, rows = places.of_keys(keys[rejected])
    ids = part["event_id"].to_numpy(dtype=object)[rejected]
    errors = [
        repeats_message(places.describe(int(f), relative_to=file))
        for f, file in zip(first[rejected], files, strict=True)
    ]
    rejects = pd.DataFrame(
        {"file": files, "row": rows, "field": "event_id", "value": ids, "error": errors},
        columns=["file", "row", "field", "value", "error"],
    )
    keep = ~(replays | rejected)
    return part.iloc[keep], int(replays.sum()), rejects


def reject_errors(rejects: pd.DataFrame) -> list[RowError]:
    """The first rejects of a partition as errors (their own file each)."""
    head = rejects.head(MESSAGES_PER_PARTITION)
    return [
        RowError(int(r.row), r.field, str(r.value), r.error, r.file)
        for r in head.itertuples(index=False)
    ]
