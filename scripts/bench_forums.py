"""Benchmark: live posts fanned out to many WebSocket subscribers, in one process and across two
app instances through Redis, and the thread page query.

Two uvicorn servers on loopback share one scratch database (and, with ``--redis-url``, one
Redis). S subscribers (200 by default) connect over graphql-transport-ws to the first server and
subscribe to one demo thread; P posts (20) are made one at a time through the second server (the
first, without Redis). For every delivery it records the time from sending ``postCreate`` to
the subscriber receiving the post, and prints percentiles. Then it times the thread screen's
query (a page of 30 posts with authors and reaction counts).

    .venv/bin/python scripts/bench_forums.py --redis-url redis://127.0.0.1:6379/0
    .venv/bin/python scripts/bench_forums.py                # in-process broadcaster, one server
    .venv/bin/python scripts/bench_forums.py --redis-url redis://127.0.0.1:6379/0 \
        --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx
from benchkit import bench_database, demo_token, percentile, two_instances
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from backend import demo
from backend.settings import Settings

THREAD_KEY = "biomass-town:冬の樹皮・チップの需給について"
SUBSCRIBE = "subscription($t: ID!) { postAdded(threadId: $t) { id body } }"
POST = """
mutation($input: PostCreateInput!) { postCreate(input: $input) { post { id } errors { code } } }
"""
PAGE = """
query($t: ID!) {
  posts(threadId: $t, first: 30) {
    edges {
      node { id body author { displayName organisationName } reactions { reaction count mine } }
    }
  }
}
"""


async def _subscriber(address: str, token: str, thread_id: str) -> ClientConnection:
    ws = await connect(
        f"ws://{address}/graphql", subprotocols=[Subprotocol("graphql-transport-ws")]
    )
    await ws.send(
        json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    )
    assert json.loads(await ws.recv())["type"] == "connection_ack"
    await ws.send(
        json.dumps(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": SUBSCRIBE, "variables": {"t": thread_id}},
            }
        )
    )
    return ws


async def _next_post(ws: ClientConnection) -> str:
    while True:
        message = json.loads(await ws.recv())
        if message["type"] == "next":
            post_id: str = message["payload"]["data"]["postAdded"]["id"]
            return post_id
        if message["type"] == "ping":
            await ws.send(json.dumps({"type": "pong"}))


async def _run(url: str, settings: Settings, args: argparse.Namespace) -> None:
    thread_id = str(demo.demo_id("thread", THREAD_KEY))
    async with two_instances(settings, url, args.redis_url) as instances:
        first, second = instances.first, instances.second
        token = await demo_token(first)
        subscribers = [await _subscriber(first, token, thread_id) for _ in range(args.subscribers)]
        channel = f"forum-thread:{thread_id}:posts"
        while (  # noqa: ASYNC110 - polling state that has no event to await
            instances.first_broadcaster.local_subscribers(channel) < args.subscribers
            or await instances.second_broadcaster.subscribers(channel) < 1
        ):
            await asyncio.sleep(0.01)
        delivery: list[float] = []
        async with httpx.AsyncClient(base_url=f"http://{second}") as http:
            for n in range(args.posts):
                waiting = [asyncio.create_task(_next_post(ws)) for ws in subscribers]
                started = time.perf_counter()
                response = await http.post(
                    "/graphql",
                    json={
                        "query": POST,
                        "variables": {"input": {"threadId": thread_id, "body": f"Post {n}"}},
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
                post_id = response.json()["data"]["postCreate"]["post"]["id"]
                for task in asyncio.as_completed(waiting):
                    assert await task == post_id
                    delivery.append((time.perf_counter() - started) * 1000)
            page: list[float] = []
            for _ in range(args.pages):
                started = time.perf_counter()
                await http.post(
                    "/graphql",
                    json={"query": PAGE, "variables": {"t": thread_id}},
                    headers={"Authorization": f"Bearer {token}"},
                )
                page.append((time.perf_counter() - started) * 1000)
        for ws in subscribers:
            await ws.close()
        dialect = instances.db.dialect
    mode = "two instances through Redis" if args.redis_url else "one process, in-process"
    print(
        f"{dialect}, {mode}: {args.posts} posts x {args.subscribers} subscribers = "
        f"{len(delivery)} deliveries; from sending postCreate to receipt: "
        f"p50 {percentile(delivery, 50):.1f} ms, p90 {percentile(delivery, 90):.1f} ms, "
        f"p99 {percentile(delivery, 99):.1f} ms, max {max(delivery):.1f} ms"
    )
    print(
        f"thread page of 30 posts over HTTP ({args.pages} requests): "
        f"p50 {percentile(page, 50):.1f} ms, p99 {percentile(page, 99):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--redis-url", default=None)
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--posts", type=int, default=20)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    with bench_database(args.database_url, keep=args.keep) as (url, settings):
        asyncio.run(_run(url, settings, args))


if __name__ == "__main__":
    main()
