"""The training frame on a Dask cluster, partitioned by number.

* :func:`frame_dataset` — storage to storage: the workers read the events and consent
  (a Parquet file or folder, a CSV file, any fsspec URL), validate each partition with the
  loaders' own rules (:func:`features.io.check_records`), shuffle by number, run
  :func:`features.pointintime.build_training_frame` per partition and write the frame as a
  Parquet dataset, one file per partition. The client holds per-partition counts only.
* :func:`choose_partitions` — the number-partitions when not given: several per worker
  thread, enough events in each.
* :func:`build_training_frame_dask` — the same kernel on a frame already in memory, its
  result collected back (small data, tests).
* :func:`read_frame_dataset` — a frame written by either engine (a file or a dataset
  folder), as one pandas frame.
"""

from features.distributed.dataset import (
    DatasetSummary,
    frame_dataset,
    frame_files,
    read_frame_dataset,
)
from features.distributed.partition import build_training_frame_dask
from features.distributed.sizing import choose_partitions
from features.distributed.source import Source, resolve_source

__all__ = [
    "DatasetSummary",
    "Source",
    "build_training_frame_dask",
    "choose_partitions",
    "frame_dataset",
    "frame_files",
    "read_frame_dataset",
    "resolve_source",
]
