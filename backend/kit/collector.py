"""Pausing Python's cyclic garbage collector while a service builds a large result that has no
reference cycles.

A cold year of insights of a large cluster reads some 50,000 rows and makes a few hundred
thousand small objects (rows, tuples, decimals), and each batch of new objects starts a
collection (every 50,000 in a serving process, ``heap``; every 700 in a plain script), the older
generations walked now and then. scripts/bench_insights.py's process (not settled by ``heap``):
1,230 ms of CPU per cold call with the collector, 558 ms paused; a process settled as the server
is: 575-606 ms against 509-549. Rows, tuples and decimals hold no cycles, so reference counting
frees them all the same; what a pause delays is only the freeing of cycles other code makes
meanwhile, until the pause ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Pauses may overlap (two clusters computed at once in one event loop): the collector is
# enabled again when the last one ends, and only if it was enabled when the first began.
_pauses = 0
_was_enabled = False


@contextmanager
def cyclic_collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (for the event loop's thread: overlapping pauses of
    coroutines are counted; threads must not use it)."""
    global _pauses, _was_enabled
    if _pauses == 0:
        _was_enabled = gc.isenabled()
        gc.disable()
    _pauses += 1
    try:
        yield
    finally:
        _pauses -= 1
        if _pauses == 0 and _was_enabled:
            gc.enable()
