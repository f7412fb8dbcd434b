"""The latency bench keeps its own full collections out of the window it times."""

from __future__ import annotations

import gc
from collections import Counter
from collections.abc import Callable

from bench.latency import no_full_collections


def _collections_during(work: Callable[[int], None]) -> Counter[int]:
    """How many collections of each generation ran while `work` ran.

    CPython runs a full collection only once the objects that survived younger ones since
    the last full collection exceed a quarter of those it kept then, so the load is sized
    to what this process already holds (the tests before this one, in one pytest process):
    a fixed load made a full collection due or not depending on the test order.
    """
    gc.collect()
    size = max(300_000, len(gc.get_objects()))
    seen: Counter[int] = Counter()

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen[info["generation"]] += 1

    gc.callbacks.append(count)
    try:
        work(size)
    finally:
        gc.callbacks.remove(count)
    return seen


def _allocate(n: int) -> None:
    # What the bench does while it times: keeps a record of each message (long-lived
    # objects, which is what makes a full collection due) and drops cyclic garbage.
    kept: list[object] = []
    for i in range(n):
        cycle: list[object] = [i]
        cycle.append(cycle)
        if i % 3 == 0:
            kept.append([i])


def test_the_load_makes_full_collections_due_by_default() -> None:
    assert _collections_during(_allocate)[2] > 0


def test_no_full_collection_inside_the_window_and_settings_restored_after() -> None:
    before = gc.get_threshold()
    with no_full_collections():
        assert gc.get_freeze_count() > 0  # what existed at the start is out of reach
        seen = _collections_during(_allocate)
        assert seen[2] == 0
        assert seen[0] > 0  # young collections still run: cyclic garbage stays bounded
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_heap_frozen_before_stays_frozen() -> None:
    gc.freeze()
    try:
        with no_full_collections():
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
