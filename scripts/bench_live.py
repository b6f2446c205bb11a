"""Benchmark: live posts to many subscribers of one thread, as an app sees them: how many
subscribers miss a post made as soon as they count as subscribed, how long each delivery takes,
and how many database statements the delivery costs.

Two uvicorn servers on loopback share one scratch database and, with ``--redis-url``, one Redis
(otherwise one server with the in-process broadcaster). S subscribers connect over
graphql-transport-ws to the first server; posts are made through the second, one every
``--interval`` seconds, so that the run outlasts the 10 s after which the old code re-read
every subscriber's memberships.

- ``--protocol confirmed`` (the default) subscribes with ``threadPosts`` and counts a subscriber
  as subscribed once its SUBSCRIBED event has arrived: the first post is made right after the
  last confirmation.
- ``--protocol old`` subscribes with ``postAdded`` (no confirmation): the first post is made
  ``--settle`` seconds after the last subscribe message was sent, as the apps did.

For each post it prints nothing; at the end: subscribers that missed the first post, deliveries
missed in all, delivery latency percentiles (from sending ``postCreate`` to receipt) and SELECT
statements run while the posts were delivered (per post). Run it before and after a change:

    .venv/bin/python scripts/bench_live.py --redis-url redis://127.0.0.1:6379/0 --subscribers 200
    .venv/bin/python scripts/bench_live.py --redis-url redis://127.0.0.1:6379/0 --subscribers 1000
    .venv/bin/python scripts/bench_live.py --protocol old ...   # the code before issue 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from typing import Any

import httpx
from benchkit import bench_database, demo_token, percentile, two_instances
from sqlalchemy import event
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from backend import demo
from backend.settings import Settings

THREAD_KEY = "biomass-town:冬の樹皮・チップの需給について"
DOCUMENTS = {
    "old": "subscription($t: ID!) { postAdded(threadId: $t) { id } }",
    "confirmed": "subscription($t: ID!) "
    "{ threadPosts(threadId: $t) { kind sequence post { id } } }",
}
POST = """
mutation($input: PostCreateInput!) { postCreate(input: $input) { post { id } errors { code } } }
"""
MISSED_AFTER = 20.0  # seconds without a post counts as missing it


async def _message(ws: ClientConnection) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = json.loads(await ws.recv())
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))
            continue
        return message


async def _subscriber(address: str, token: str, thread_id: str, protocol: str) -> ClientConnection:
    ws = await connect(
        f"ws://{address}/graphql",
        subprotocols=[Subprotocol("graphql-transport-ws")],
        open_timeout=120,  # 1,000 at once on one loop shared with both servers
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert (await _message(ws))["type"] == "connection_ack"
    subscribe = {"query": DOCUMENTS[protocol], "variables": {"t": thread_id}}
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
    return ws


async def _confirmed(ws: ClientConnection) -> None:
    message = await _message(ws)
    assert message["payload"]["data"]["threadPosts"]["kind"] == "SUBSCRIBED", message


async def _next_post(ws: ClientConnection, protocol: str, expected: asyncio.Future[str]) -> bool:
    """Whether the post came within MISSED_AFTER seconds (an earlier post arriving late is
    skipped)."""
    try:
        async with asyncio.timeout(MISSED_AFTER):
            while True:
                message = await _message(ws)
                data = message["payload"]["data"]
                post = data["postAdded"] if protocol == "old" else data["threadPosts"]["post"]
                if post["id"] == await asyncio.shield(expected):
                    return True
    except (TimeoutError, ConnectionClosed):
        return False


async def _run(url: str, settings: Settings, args: argparse.Namespace) -> None:
    thread_id = str(demo.demo_id("thread", THREAD_KEY))
    selects = 0

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal selects
        if statement.lstrip().upper().startswith("SELECT"):
            selects += 1

    missed_first = 0
    missed = 0
    failed_posts = 0
    delivery: list[float] = []
    post_selects = 0
    async with two_instances(settings, url, args.redis_url) as instances:
        first, second, db = instances.first, instances.second, instances.db
        token = await demo_token(first)
        started = time.perf_counter()
        subscribers = list(
            await asyncio.gather(
                *(
                    _subscriber(first, token, thread_id, args.protocol)
                    for _ in range(args.subscribers)
                )
            )
        )
        if args.protocol == "confirmed":
            await asyncio.gather(*(_confirmed(ws) for ws in subscribers))
        else:
            await asyncio.sleep(args.settle)
        subscribed_in = time.perf_counter() - started
        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        for n in range(args.posts):
            expected: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            waiting = [
                asyncio.create_task(_next_post(ws, args.protocol, expected)) for ws in subscribers
            ]
            sent = time.perf_counter()
            try:
                # A connection per post: uvicorn closes idle keep-alive connections after 5 s.
                async with httpx.AsyncClient(base_url=f"http://{second}", timeout=60) as http:
                    response = await http.post(
                        "/graphql",
                        json={
                            "query": POST,
                            "variables": {"input": {"threadId": thread_id, "body": f"Post {n}"}},
                        },
                        headers={"Authorization": f"Bearer {token}"},
                    )
                expected.set_result(response.json()["data"]["postCreate"]["post"]["id"])
            except (httpx.HTTPError, KeyError, TypeError):
                failed_posts += 1  # the subscribers then wait for a post that never comes
                expected.set_result("")
            for task in asyncio.as_completed(waiting):
                if await task:
                    delivery.append((time.perf_counter() - sent) * 1000)
                else:
                    missed += 1
                    missed_first += n == 0
            if n + 1 < args.posts:
                await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - sent)))
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
        post_selects = selects
        await asyncio.gather(*(ws.close() for ws in subscribers))
        dialect = db.dialect
    mode = "two instances through Redis" if args.redis_url else "one process, in-process"
    print(
        f"{dialect}, {mode}, protocol {args.protocol}: {args.subscribers} subscribers "
        f"(subscribed in {subscribed_in:.1f} s), {args.posts} posts every {args.interval} s"
    )
    print(
        f"  missed the first post: {missed_first} of {args.subscribers}; "
        f"missed in all: {missed} of {args.subscribers * args.posts}; "
        f"postCreate failed: {failed_posts} of {args.posts}"
    )
    if delivery:
        print(
            f"  delivery: p50 {percentile(delivery, 50):.0f} ms, p90 "
            f"{percentile(delivery, 90):.0f} ms, p99 {percentile(delivery, 99):.0f} ms, "
            f"max {max(delivery):.0f} ms"
        )
    print(
        f"  SELECTs on the subscribers' instance while delivering: {post_selects} "
        f"({post_selects / args.posts:.1f} per post)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--posts", type=int, default=15)
    parser.add_argument("--interval", type=float, default=1.0)
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--protocol", choices=["confirmed", "old"], default="confirmed")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    with bench_database(args.database_url, keep=args.keep) as (url, settings):
        asyncio.run(_run(url, settings, args))


if __name__ == "__main__":
    main()
