"""The insights cache: kept until a table it read is written, it expires, or it is pushed out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from backend.insights.cache import InsightsCache


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_a_kept_value_is_computed_again_only_after_a_write_to_a_table_it_read() -> None:
    # Given a value computed from impact_entries
    cache, compute = InsightsCache(), Counter()
    tables = frozenset({"impact_entries"})
    assert await cache.get_or_compute("k", tables, compute) == 1

    # when other tables are written, it is kept; when impact_entries is, it is computed again
    await cache.tables_written(frozenset({"forum_posts"}))
    assert await cache.get_or_compute("k", tables, compute) == 1
    await cache.tables_written(frozenset({"impact_entries", "trades"}))
    assert await cache.get_or_compute("k", tables, compute) == 2
    assert (cache.hits, cache.misses) == (1, 2)


async def test_a_schema_change_stales_everything() -> None:
    cache, compute = InsightsCache(), Counter()
    await cache.get_or_compute("k", frozenset({"trades"}), compute)
    await cache.tables_written(frozenset({"*"}))
    assert await cache.get_or_compute("k", frozenset({"trades"}), compute) == 2


async def test_a_kept_value_expires() -> None:
    # Given a cache on a clock that a test moves
    moment = [100.0]
    cache = InsightsCache(expires_seconds=300, clock=lambda: moment[0])
    compute = Counter()
    await cache.get_or_compute("k", frozenset({"trades"}), compute)

    # then it is kept for 300 s (another instance's writes show within that), not longer
    moment[0] = 399.0
    assert await cache.get_or_compute("k", frozenset({"trades"}), compute) == 1
    moment[0] = 400.0
    assert await cache.get_or_compute("k", frozenset({"trades"}), compute) == 2


async def test_the_oldest_values_go_first_beyond_the_entries_and_rows_bounds() -> None:
    cache = InsightsCache(max_entries=2, max_rows=10)
    tables = frozenset({"trades"})
    computed: list[str] = []

    def compute(value: str) -> Callable[[], Awaitable[str]]:
        async def run() -> str:
            computed.append(value)
            return value

        return run

    await cache.get_or_compute("a", tables, compute("a"), rows=lambda _: 4)
    await cache.get_or_compute("b", tables, compute("b"), rows=lambda _: 4)
    await cache.get_or_compute("a", tables, compute("a"))  # a is used: b is now the oldest
    await cache.get_or_compute("c", tables, compute("c"), rows=lambda _: 4)  # 12 rows: b goes
    await cache.get_or_compute("a", tables, compute("a"))
    await cache.get_or_compute("b", tables, compute("b"), rows=lambda _: 4)
    assert computed == ["a", "b", "c", "b"]
    # a value larger than the whole cache is never kept
    await cache.get_or_compute("huge", tables, compute("huge"), rows=lambda _: 11)
    await cache.get_or_compute("huge", tables, compute("huge"), rows=lambda _: 11)
    assert computed[-2:] == ["huge", "huge"]
