"""How many number-partitions the dask engine cuts the events into, when not told.

Two forces: several partitions per worker thread, so that the last tasks are short and the
threads finish together (400,000 numbers × 180 days on two single-thread workers: 8
partitions gave 1.50× one worker's throughput, 16 gave 1.78×); and enough numbers in each
partition for the vectorised normalisation (below 20,000 distinct numbers the kernel
normalises them one by one, cached, several times slower per number). The events of a
partition must also fit a worker thread's share of its memory while the frame is built.
"""

from __future__ import annotations

import math

#: Partitions per worker thread of the cluster.
PARTITIONS_PER_THREAD = 8
#: Fewest events per partition: ~25,000 numbers at the ~10 events a number of six months
#: (the shuffle by number is not perfectly even: a margin over 20,000).
MIN_EVENTS_PER_PARTITION = 250_000
#: A worker's memory per event of the partition it builds (the frame, the shuffle's copy,
#: the kernel's arrays; measured ~3 KB with the interpreter), with room to spare.
BYTES_PER_EVENT = 4_000


def choose_partitions(events: int, threads: int, memory_per_thread: int | None = None) -> int:
    """``min(8 × threads, events ÷ 250,000)``, at least 1, raised so that a partition's
    events fit ``memory_per_thread`` bytes at 4 KB each (when the workers have a limit)."""
    wanted = max(
        1, min(PARTITIONS_PER_THREAD * max(threads, 1), events // MIN_EVENTS_PER_PARTITION)
    )
    if memory_per_thread:
        fit = max(1, memory_per_thread // BYTES_PER_EVENT)
        wanted = max(wanted, math.ceil(events / fit))
    return wanted


def cluster_threads(client) -> tuple[int, int | None]:
    """(the worker threads of the cluster, the smallest memory limit per thread of a worker,
    None when the workers have none)."""
    workers = client.scheduler_info(n_workers=-1)["workers"].values()
    threads = sum(int(w.get("nthreads", 1)) for w in workers)
    limits = [
        int(w["memory_limit"]) // max(int(w.get("nthreads", 1)), 1)
        for w in workers
        if w.get("memory_limit")
    ]
    return threads, (min(limits) if limits else None)
