"""The garbage collector of a serving process.

CPython's collector runs a young collection every 700 new container objects and, now and then,
a full one over every object of the process. A search page allocates tens of thousands of
objects, so a request paid ~50 young collections, and the full ones walked everything the
process built at start-up (the schema, the models, SQLAlchemy's caches) and stalled whichever
request was running: the p99/p50 ratio of one connection at a time was 5 to 8 from these pauses
(scripts/bench_pages.py).

After start-up the process moves what it has built into the permanent generation
(``gc.freeze``), which collections never walk, and collects young objects every 50,000
allocations instead of 700. Requests create few reference cycles (most of what they allocate is
freed by reference counting), so the heap does not grow from collecting less often.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
OLDER_THRESHOLDS = (20, 20)


def settle_after_start_up() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
