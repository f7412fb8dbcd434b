"""The cyclic garbage collector's settings for a batch worker process."""

from __future__ import annotations

import gc

#: The workers' collector thresholds (young collections every 20,000 allocations, not 700);
#: the bench's ceiling runs with the same (bench/ceiling.py).
GC_THRESHOLD = (20_000, 20, 20)


def tune_gc() -> None:
    """Make the cyclic garbage collector cheap for a batch worker; call once the app is built.

    A batch of 500 charges allocates a few hundred thousand short-lived objects, and each
    full collection walked every object alive since start-up (modules, models, rule
    tables): about a third of the formatter's CPU (docs/PERFORMANCE.md). Start-up objects
    are frozen out of collection for good, and young collections run every 20,000
    allocations instead of 700. Memory stays bounded: the benchmark's RSS figure checks it.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLD)
