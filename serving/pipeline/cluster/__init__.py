"""Batch screening on a Dask cluster (``contactgate screen FILE --engine dask``).

The local two passes of :mod:`serving.pipeline.batch`, with the work of each pass spread over
partitions of the file, and the rank and budget over the whole file spread over risk ranges:

1. the client plans partitions from the file's metadata only (Parquet row groups, CSV byte
   ranges ending at a newline; :mod:`.plan`) and submits one task per partition. A worker
   reads its partition itself (every column as text), screens it chunk by chunk with
   :func:`~serving.pipeline.batch.screen_chunk` — the local command's code — against the
   shared store with the model and rules it loaded once per process (:mod:`.workers`),
   writes the decisions to ``RUN_DIR/pass1-NNNNN.parquet`` and its allowed rows sorted by
   risk to ``RUN_DIR/allowed-NNNNN.npy``, and returns counts and a fixed-size sample;
2. the client numbers the rows (partition row counts, in file order) and cuts the allowed
   rows' risk order into buckets from the samples; bucket tasks sort their range, and the
   budget walks the buckets in order, one task each, handed only the running totals
   (:mod:`.budget`);
3. one task per partition reads its ranks and ``BUDGET_EXHAUSTED`` withholds from the
   buckets' files, fills them into its decisions, appends them to the audit log and writes
   ``RUN_DIR/final-NNNNN.parquet``; the client streams those files, in order, into the
   output (:mod:`.client`).

A worker that dies loses its tasks; the scheduler runs them again elsewhere. Every file is
written under a temporary name and renamed, and every audit row carries the key run id +
file row (the store skips a key it holds), so a task run twice leaves one set of files and
one audit row per contact. The client holds a few numbers and a sample of
:data:`~.budget.SAMPLE_SIZE` keys per partition, a few numbers per bucket, and one
partition's decisions while it writes a single output file — nothing per allowed row.
"""

from serving.pipeline.cluster.budget import DEFAULT_BUCKET_ROWS, SAMPLE_SIZE
from serving.pipeline.cluster.client import (
    champion_version,
    connect,
    is_dataset,
    publish_dataset,
    refuse_sqlite_across_machines,
    result_bytes,
    screen_file_on_cluster,
    worker_spec,
)
from serving.pipeline.cluster.plan import (
    DEFAULT_PARTITION_ROWS,
    Partition,
    plan_partitions,
    read_partition,
)
from serving.pipeline.cluster.workers import (
    ClusterRefused,
    RunSpec,
    WorkerSpec,
    finish_partition,
    release_worker_resources,
    screen_partition,
    worker_screener,
)

__all__ = [
    "DEFAULT_BUCKET_ROWS",
    "DEFAULT_PARTITION_ROWS",
    "SAMPLE_SIZE",
    "ClusterRefused",
    "Partition",
    "RunSpec",
    "WorkerSpec",
    "champion_version",
    "connect",
    "finish_partition",
    "is_dataset",
    "plan_partitions",
    "publish_dataset",
    "read_partition",
    "refuse_sqlite_across_machines",
    "release_worker_resources",
    "result_bytes",
    "screen_file_on_cluster",
    "screen_partition",
    "worker_screener",
    "worker_spec",
]
