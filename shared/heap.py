"""The garbage collector's settings for a long-running service and for bulk work.

CPython's cyclic collector stops the whole process while it runs, and a full
collection walks every tracked object. Measured in the benchmark's latency phase
(publish → SMTP at 100 events/s): full collections of 65–95 ms every 6–9 s made the
tail (p99 560–650 ms); with the heap built at start-up frozen and generation 0
collected less often, p99 was 90–125 ms (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

# Young objects per collection of generation 0 (CPython's default: 700): a collection
# then takes ~5 ms, and fewer of them reach the older generations.
GENERATION_0 = 10_000
_DEFAULTS = gc.get_threshold()


def settle_heap() -> None:
    """Once a service has started: collect, then leave what start-up built (modules,
    engine, clients, settings: most of the heap) out of every later collection, and
    collect generation 0 less often. `restore_heap` undoes it."""
    gc.collect()
    gc.freeze()
    young, older, oldest = gc.get_threshold()
    gc.set_threshold(max(GENERATION_0, young), older, oldest)


def restore_heap() -> None:
    """The collector as CPython sets it: what start-up froze is collected as usual
    again (tests start and stop many services in one process)."""
    gc.unfreeze()
    gc.set_threshold(*_DEFAULTS)


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """For bulk work that allocates millions of short-lived objects (the CSV import):
    generation 0 collected less often for the duration."""
    before = gc.get_threshold()
    gc.set_threshold(max(GENERATION_0, before[0]), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)
