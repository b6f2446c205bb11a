"""Benchmark: what metrics and the operation observer (JSON logs) add to a request.

The same app settings with observability off, with metrics on (the request middleware's
counters and histograms, and the operation observer extension), and with JSON logs only (the
observer, no metrics; logs at WARNING so no line is written and only the observer is measured),
sent the same requests one at a time through the real ASGI app, in rounds that alternate
between the apps so that load on the machine hits all alike. Two requests: ``GET /healthz``
(middleware only) and a small GraphQL read (``{ units { code } }``, one SQL query). Prints each
one's median and mean and the difference from "off". On a loaded machine the end-to-end
difference is lost in the noise, so the parts are also timed alone (best of 7 timeit runs):
the middleware's metrics update, the request's facts, and the observer extension (the same
schema executing ``{ __typename }`` with and without it).

    .venv/bin/python scripts/bench_observability.py [--requests 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
from benchkit import bench_database

from backend.app import create_app
from backend.kit.db import Database
from backend.settings import Settings

READ = {"query": "query Units { units { code } }"}
CONFIGURATIONS = {
    "off": {},
    "metrics": {"metrics_enabled": True},
    "json logs (observer)": {"log_format": "json"},
}


async def one_round(http: httpx.AsyncClient, requests: int, graphql: bool) -> list[float]:
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        if graphql:
            response = await http.post("/graphql", json=READ)
        else:
            response = await http.get("/healthz")
        times.append((time.perf_counter() - started) * 1e6)
        if response.status_code != 200:
            raise SystemExit(f"request failed: {response.text}")
    return times


async def run(url: str, settings: Settings, requests: int) -> None:
    database = Database(url)
    clients = {
        name: httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_app(settings.model_copy(update=overrides), db=database)
            ),
            base_url="http://eic.bench",
        )
        for name, overrides in CONFIGURATIONS.items()
    }
    for graphql, label in ((False, "GET /healthz"), (True, "POST /graphql { units { code } }")):
        results: dict[str, list[float]] = {name: [] for name in clients}
        for http in clients.values():  # warm-up
            await one_round(http, 50, graphql)
        rounds = 8
        for _ in range(rounds):
            for name, http in clients.items():
                results[name] += await one_round(http, requests // rounds, graphql)
        print(f"\n{label}: {requests} requests each, one at a time (microseconds)")
        base_median = statistics.median(results["off"])
        base_mean = statistics.fmean(results["off"])
        for name, times in results.items():
            median, mean = statistics.median(times), statistics.fmean(times)
            print(
                f"  {name:22} median {median:8.1f}  mean {mean:8.1f}  "
                f"vs off: median {median - base_median:+7.1f}  mean {mean - base_mean:+7.1f}"
            )
    for http in clients.values():
        await http.aclose()
    await database.dispose()


def parts(settings: Settings) -> None:
    import timeit

    from backend.graphql.extensions import SchemaOptions, build_extensions
    from backend.graphql.schema import Mutation, Query, Subscription
    from backend.metrics import Metrics
    from backend.observability import RequestFacts, request_facts_var

    def best(statement: object, number: int) -> float:
        runs = timeit.repeat(statement, number=number, repeat=7)  # type: ignore[arg-type]
        return min(runs) / number * 1e6

    database = Database(settings.database_url)
    metrics = Metrics(
        db=database,
        clock=None,  # type: ignore[arg-type]
        subscriptions=lambda: 0,
        routes=list,
        extra_paths=("/graphql",),
        query_timeout_seconds=1,
    )
    scope = {"type": "http", "method": "POST", "path": "/graphql"}
    facts = RequestFacts(operation="Units", label="Units", outcome="ok")
    print("\nparts alone (microseconds per request, best of 7)")
    update = best(lambda: metrics.request_ended(scope, 200, 0.004, facts), 20000)
    print(f"  metrics update (2 counters, 2 histograms)  {update:6.2f}")

    def facts_set() -> None:
        token = request_facts_var.set(RequestFacts())
        request_facts_var.reset(token)

    print(f"  request facts (made, set, reset)            {best(facts_set, 100000):6.2f}")

    import strawberry

    options = SchemaOptions.of(settings)
    with_observer = SchemaOptions.of(settings.model_copy(update={"log_format": "json"}))
    schemas = {
        name: strawberry.Schema(
            query=Query,
            mutation=Mutation,
            subscription=Subscription,
            extensions=build_extensions(chosen),
        )
        for name, chosen in (("without", options), ("with", with_observer))
    }

    async def execute_many(schema: strawberry.Schema, count: int) -> float:
        token = request_facts_var.set(RequestFacts())
        started = time.perf_counter()
        for _ in range(count):
            await schema.execute("query Typename { __typename }")
        request_facts_var.reset(token)
        return (time.perf_counter() - started) / count * 1e6

    async def compare() -> dict[str, float]:
        timings: dict[str, list[float]] = {name: [] for name in schemas}
        for schema in schemas.values():
            await execute_many(schema, 200)
        for _ in range(7):
            for name, schema in schemas.items():
                timings[name].append(await execute_many(schema, 2000))
        return {name: min(values) for name, values in timings.items()}

    found = asyncio.run(compare())
    print(
        f"  schema.execute without observer {found['without']:.1f}, with {found['with']:.1f}: "
        f"observer {found['with'] - found['without']:+.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    with bench_database(None, keep=False) as (url, settings):
        parts(settings)
        if args.requests:
            asyncio.run(run(url, settings, args.requests))


if __name__ == "__main__":
    main()
