"""Benchmark: a read request on SQLite with a fresh connection per unit of work (NullPool, the
configuration before issue 16) and with the pool of open connections, side by side in one run.

The same app and the same small read (``{ units { code } }``, one query), sent through the real
ASGI app in rounds that alternate between the two databases, one at a time and then with
``--concurrency`` in flight; prints the percentiles of each and their ratio.

    .venv/bin/python scripts/bench_sqlite_pool.py [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import httpx
from benchkit import bench_database, latency_line, percentile
from sqlalchemy.pool import NullPool

from backend.app import create_app
from backend.kit import db as db_module
from backend.kit.db import Database

READ = "{ units { code } }"


def database_before(url: str) -> Database:
    """A Database as it was made before the pool: NullPool, a new connection per unit of work."""
    original = db_module.create_async_engine

    def with_null_pool(engine_url: str, **kwargs: Any) -> Any:
        kwargs.pop("pool_timeout", None)
        return original(engine_url, **kwargs, poolclass=NullPool)

    db_module.create_async_engine = with_null_pool  # type: ignore[assignment]
    try:
        return Database(url)
    finally:
        db_module.create_async_engine = original


async def one_round(http: httpx.AsyncClient, requests: int, concurrency: int) -> list[float]:
    times: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            started = time.perf_counter()
            response = await http.post("/graphql", json={"query": READ})
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200 or "errors" in response.json():
                raise SystemExit(f"read failed: {response.text}")

    await asyncio.gather(*(one() for _ in range(requests)))
    return times


async def run(url: str, settings: Any, requests: int, concurrency: int) -> None:
    databases = {"fresh connections (before)": database_before(url), "pool (now)": Database(url)}
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(settings, db=database)),
            base_url="http://eic.bench",
        )
        for name, database in databases.items()
    }
    for in_flight in (1, concurrency):
        results: dict[str, list[float]] = {name: [] for name in clients}
        for http in clients.values():  # warm-up
            await one_round(http, 20, in_flight)
        for _ in range(4):  # alternate, so that load on the machine hits both alike
            for name, http in clients.items():
                results[name] += await one_round(http, requests // 4, in_flight)
        print(f"\n{requests} reads, {in_flight} in flight:")
        for name, times in results.items():
            print(f"  {name:28} {latency_line(times)}")
        before, now = results.values()
        print(
            f"  ratio before/now: p50 {percentile(before, 50) / percentile(now, 50):.2f}x, "
            f"p99 {percentile(before, 99) / percentile(now, 99):.2f}x"
        )
    for http in clients.values():
        await http.aclose()
    for database in databases.values():
        await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with bench_database(None, keep=False) as (url, settings):
        asyncio.run(run(url, settings, args.requests, args.concurrency))


if __name__ == "__main__":
    main()
