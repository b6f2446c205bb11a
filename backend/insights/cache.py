"""A process's computed insights, kept until a write changes what they were computed from.

The expensive part of a cluster's insights (the network, the flows and the monthly series of a
year of trades) changes only when a trade completes or an organisation changes, so it is kept
per cluster and period with the versions of the tables it read, as the response cache does
(``Database.watch_writes`` tells of every committed write of this process). Writes by another
process (a second instance, ``eic run-due-jobs``) do not reach these versions; kept insights
expire after ``EXPIRES_SECONDS`` so that another instance's trade shows within that time.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from backend.kit.db import ALL_TABLES, Database

T = TypeVar("T")

EXPIRES_SECONDS = 300.0
MAX_ENTRIES = 64
# What the kept values may hold in all, in rows (a cluster of 10,000 organisations and 100,000
# trading pairs is about 110,000): a few large clusters, or many small ones.
MAX_ROWS = 1_000_000


@dataclass(frozen=True, slots=True)
class _Kept(Generic[T]):
    value: T
    versions: tuple[tuple[str, int], ...]
    expires_at: float
    rows: int


class InsightsCache:
    """Computed values by key, each valid while the tables it names are unwritten."""

    def __init__(
        self,
        *,
        max_entries: int = MAX_ENTRIES,
        max_rows: int = MAX_ROWS,
        expires_seconds: float = EXPIRES_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.max_entries = max_entries
        self.max_rows = max_rows
        self.expires_seconds = expires_seconds
        self._rows = 0
        self._clock = clock
        self.versions: dict[str, int] = {}
        self._kept: OrderedDict[str, _Kept[object]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    async def tables_written(self, tables: frozenset[str]) -> None:
        for table in tables:
            self.versions[table] = self.versions.get(table, 0) + 1

    async def get_or_compute(
        self,
        key: str,
        tables: frozenset[str],
        compute: Callable[[], Awaitable[T]],
        rows: Callable[[T], int] = lambda value: 1,
    ) -> T:
        """The value kept under ``key`` while none of ``tables`` was written and it has not
        expired, else ``compute()``'s, kept; ``rows`` says how big a value is (the bound)."""
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None:
            if now < kept.expires_at and all(
                self.versions.get(table, 0) == version for table, version in kept.versions
            ):
                self._kept.move_to_end(key)
                self.hits += 1
                return kept.value  # type: ignore[return-value]
            self._drop(key)
        self.misses += 1
        # The versions before the reads: a write committed while computing makes this stale.
        versions = tuple(sorted((t, self.versions.get(t, 0)) for t in tables | {ALL_TABLES}))
        value = await compute()
        size = rows(value)
        if size > self.max_rows:
            return value  # larger than the whole cache: computed every time
        self._drop(key)  # a concurrent request may have kept one meanwhile
        self._kept[key] = _Kept(value, versions, now + self.expires_seconds, size)
        self._rows += size
        while len(self._kept) > self.max_entries or self._rows > self.max_rows:
            self._drop(next(iter(self._kept)))
        return value

    def _drop(self, key: str) -> None:
        kept = self._kept.pop(key, None)
        if kept is not None:
            self._rows -= kept.rows

    def clear(self) -> None:
        self._kept.clear()
        self._rows = 0


_caches: weakref.WeakKeyDictionary[Database, InsightsCache] = weakref.WeakKeyDictionary()


def cache_for(db: Database) -> InsightsCache:
    """The cache of ``db``'s insights, listening to its writes from its first use."""
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = InsightsCache()
        db.watch_writes(cache)
    return cache
