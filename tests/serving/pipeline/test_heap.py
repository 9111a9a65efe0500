"""The collector settings of long-running work (serving.pipeline.resources): the service's
frozen heap, and the batch's full passes between chunks only, restored afterwards."""

from __future__ import annotations

import gc

import pytest

from serving.pipeline import ChunkedCollection, settle_heap
from serving.pipeline.resources import YOUNG_COLLECTION_EVERY


@pytest.fixture
def restored_collector():
    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    yield
    gc.set_threshold(*before)
    if not frozen:
        gc.unfreeze()


def test_settle_heap_freezes_what_is_loaded_and_collects_young_objects_less_often(
    restored_collector,
):
    kept = [object() for _ in range(10)]
    gc.unfreeze()
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert gc.get_threshold()[0] >= YOUNG_COLLECTION_EVERY
    # frozen objects are still freed by reference counting, and new cycles still collected
    cycle: list = []
    cycle.append(cycle)
    del cycle
    assert gc.collect() >= 1
    assert len(kept) == 10


def test_chunked_collection_defers_full_passes_and_restores_everything(restored_collector):
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    heap = ChunkedCollection()
    try:
        assert gc.get_threshold() == (700, 10, 1 << 30)  # no automatic full pass
        assert gc.get_freeze_count() > 0
        cycle: list = []
        cycle.append(cycle)
        del cycle
        heap.after_chunk()  # a full pass: the chunk's cycles go
        assert gc.garbage == []
    finally:
        heap.close()
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_chunked_collection_keeps_a_heap_frozen_before_it(restored_collector):
    gc.unfreeze()
    settle_heap()
    thresholds = gc.get_threshold()
    heap = ChunkedCollection()
    heap.close()
    assert gc.get_freeze_count() > 0  # the service's own freeze is not undone
    assert gc.get_threshold() == thresholds
