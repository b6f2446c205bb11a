"""Load: a mixed read/write load from the apps' own operations against N app instances.

Starts N ``eic serve`` processes on loopback ports over one database (a scratch SQLite file, or
a scratch PostgreSQL database beside the one named; with ``--redis-url`` they share it as they
would in production), loads the demo clusters, signs C clients in as the demo firms and
communities, and for T seconds each client sends, one after another, a random operation of the
mix below to the instances in turn. Printed: throughput, and per operation the count, the share
that failed (by error code) and p50/p95/p99 latency.

    .venv/bin/python scripts/load_mixed.py                                   # 2 instances, SQLite
    .venv/bin/python scripts/load_mixed.py --instances 3 --clients 32 --seconds 60 \\
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test --redis-url redis://127.0.0.1:6379/0

The rate limits are switched off for the instances (one address sends everything); the cost and
document limits stay on. The mix, by weight: the market search (40), a listing (15), the events
feed (10), a thread with its posts (10), my listings (5), saving a draft listing (10), posting
in a thread (10).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from benchkit import bench_database, percentile

from backend import demo
from backend.auth.passwords import Passwords
from backend.graphql.operations import load_manifest
from backend.kit.db import Database
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
MIX = {
    "MarketSearch": 40,
    "ListingView": 15,
    "EventsFeed": 10,
    "ThreadDetail": 10,
    "MyListings": 5,
    "ListingSave": 10,
    "PostCreate": 10,
}


def operation(name: str) -> str:
    heads = (f"mutation {name}(", f"query {name}(", f"mutation {name} ", f"query {name} ")
    (found,) = [d for d in load_manifest().values() if d.startswith(heads)]
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_instances(settings: Settings, count: int, redis_url: str | None) -> list[Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
    env.update(
        EIC_ENVIRONMENT="test",
        EIC_DATABASE_URL=settings.database_url,
        EIC_LOG_LEVEL="WARNING",
        EIC_DUE_JOBS_INTERVAL_SECONDS="0",
        EIC_RATE_LIMIT_REGISTRATIONS_PER_ADDRESS="",
        EIC_RATE_LIMIT_READS_PER_ADDRESS="",
        EIC_RATE_LIMIT_READS_PER_ACCOUNT="",
    )
    if redis_url:
        env["EIC_REDIS_URL"] = redis_url
    processes = []
    for _ in range(count):
        port = free_port()
        process = subprocess.Popen(  # noqa: S603 - our own command, arguments of our own
            [str(Path(sys.executable).parent / "eic"), "serve", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,  # uvicorn's start-up lines; failures show as unready
        )
        processes.append((process, f"http://127.0.0.1:{port}"))
    return processes


async def wait_ready(urls: list[str]) -> None:
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + 120  # a loaded machine starts slowly
        for url in urls:
            while True:
                try:
                    if (await http.get(f"{url}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"{url} did not become ready")
                await asyncio.sleep(0.1)


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def outcome(response: httpx.Response, name: str) -> str | None:
    """None for success, else the code the app would act on."""
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    body = response.json()
    if body.get("errors"):
        return str(body["errors"][0].get("extensions", {}).get("code", "NO_CODE"))
    data = body.get("data") or {}
    for value in data.values():
        if isinstance(value, dict) and value.get("errors"):
            return str(value["errors"][0]["code"])
    return None


@dataclass
class World:
    urls: list[str]
    tokens: list[str]
    listing_ids: list[str]
    thread_ids: list[str]


def variables_for(name: str, world: World, rng: random.Random) -> dict[str, Any]:
    if name == "MarketSearch":
        return {"first": 20}
    if name == "ListingView":
        return {"id": rng.choice(world.listing_ids)}
    if name == "EventsFeed":
        return {}
    if name == "ThreadDetail":
        return {"threadId": rng.choice(world.thread_ids)}
    if name == "MyListings":
        return {}
    if name == "ListingSave":
        return {
            "input": {
                "kind": "OFFER",
                "category": "BY_PRODUCT",
                "title": "Load test shavings",
                "materialCode": "wood-shavings",
                "quantity": "1",
                "unit": "TNE",
                "location": {"lat": 35.07, "lon": 133.75},
            }
        }
    return {"input": {"threadId": rng.choice(world.thread_ids), "body": "Load test post"}}


async def client_loop(
    index: int, world: World, documents: dict[str, str], until: float, results: Results
) -> None:
    rng = random.Random(index)
    names, weights = list(MIX), list(MIX.values())
    token = world.tokens[index % len(world.tokens)]
    async with httpx.AsyncClient(timeout=60) as http:
        turn = index
        while time.monotonic() < until:
            name = rng.choices(names, weights)[0]
            url = world.urls[turn % len(world.urls)]
            turn += 1
            started = time.perf_counter()
            try:
                response = await http.post(
                    f"{url}/graphql",
                    json={"query": documents[name], "variables": variables_for(name, world, rng)},
                    headers={"Authorization": f"Bearer {token}"},
                )
                problem = outcome(response, name)
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            results.latencies[name].append((time.perf_counter() - started) * 1000)
            if problem is not None:
                results.failures[name][problem] += 1


async def prepare(urls: list[str], clients: int) -> World:
    async with httpx.AsyncClient(timeout=60) as http:
        keys = [o.key for c in demo.CLUSTERS for o in c.organisations]
        tokens = []
        for key in keys:
            body = (
                await http.post(
                    f"{urls[0]}/graphql",
                    json={
                        "query": operation("SignIn"),
                        "variables": {
                            "email": demo.demo_email(key),
                            "password": demo.DEMO_PASSWORD,
                        },
                    },
                )
            ).json()
            payload = body["data"]["tokenCreate"]
            if not payload["errors"] and payload["role"] in ("FIRM", "COMMUNITY"):
                tokens.append(payload["accessToken"])
        search = await http.post(
            f"{urls[0]}/graphql",
            json={"query": operation("MarketSearch"), "variables": {"first": 100}},
        )
        listing_ids = [e["node"]["id"] for e in search.json()["data"]["listings"]["edges"]]
        auth = {"Authorization": f"Bearer {tokens[0]}"}
        forums = await http.post(
            f"{urls[0]}/graphql",
            json={"query": "{ forums(first: 50) { edges { node { id } } } }"},
            headers=auth,
        )
        thread_ids = []
        for edge in forums.json()["data"]["forums"]["edges"]:
            threads = await http.post(
                f"{urls[0]}/graphql",
                json={
                    "query": "query($f: ID!) { threads(forumId: $f, first: 50) "
                    "{ edges { node { id locked } } } }",
                    "variables": {"f": edge["node"]["id"]},
                },
                headers=auth,
            )
            thread_ids += [
                e["node"]["id"]
                for e in threads.json()["data"]["threads"]["edges"]
                if not e["node"]["locked"]
            ]
    if not (tokens and listing_ids and thread_ids):
        raise SystemExit("the demo data did not load as expected")
    return World(urls=urls, tokens=tokens[:clients], listing_ids=listing_ids, thread_ids=thread_ids)


async def run(settings: Settings, args: argparse.Namespace) -> None:
    db = Database(settings.database_url)
    await demo.seed_demo(db, Passwords(settings))
    await db.dispose()
    instances = start_instances(settings, args.instances, args.redis_url)
    try:
        urls = [url for _, url in instances]
        await wait_ready(urls)
        world = await prepare(urls, args.clients)
        documents = {name: operation(name) for name in MIX}
        results = Results()
        started = time.monotonic()
        until = started + args.seconds
        await asyncio.gather(
            *(client_loop(i, world, documents, until, results) for i in range(args.clients))
        )
        elapsed = time.monotonic() - started
    finally:
        for process, _ in instances:
            process.send_signal(signal.SIGTERM)
        for process, _ in instances:
            process.wait(timeout=30)
    total = sum(len(v) for v in results.latencies.values())
    failed = sum(sum(c.values()) for c in results.failures.values())
    print(
        f"{args.instances} instances, {args.clients} clients, {elapsed:.0f} s: {total} requests, "
        f"{total / elapsed:.0f}/s, {100 * failed / max(total, 1):.2f} % failed"
    )
    print(f"{'operation':<14} {'n':>6} {'failed':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name in MIX:
        times = results.latencies.get(name) or [0.0]
        failures = results.failures.get(name, Counter())
        share = 100 * sum(failures.values()) / max(len(results.latencies.get(name, [])), 1)
        print(
            f"{name:<14} {len(results.latencies.get(name, [])):>6} {share:>6.2f}% "
            f"{percentile(times, 50):>8.1f} {percentile(times, 95):>8.1f} "
            f"{percentile(times, 99):>8.1f}"
        )
        for code, count in failures.most_common():
            print(f"{'':<14}   {count} x {code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with bench_database(args.database_url, keep=False) as (_, settings):
        asyncio.run(run(settings, args))


if __name__ == "__main__":
    main()
