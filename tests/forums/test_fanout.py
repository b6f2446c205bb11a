"""Fan-out in one process: many subscriptions share one Redis subscription and one read of
each added post."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack
from typing import Any

from backend.forums import service
from backend.kit.broadcast import RedisBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.forums.kit import a_thread
from tests.forums.live_kit import (
    REDIS_URL,
    live_server,
    post,
    receive,
    subscribed,
)

SUBSCRIBERS = 30


async def test_many_subscriptions_of_a_process_share_one_redis_subscription(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given 30 subscriptions to one thread on one app instance backed by Redis
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    broadcaster = RedisBroadcaster(REDIS_URL, f"eic-test-{uuid.uuid4().hex}:")
    channel = service.post_channel(uuid.UUID(thread_id))
    try:
        async with AsyncExitStack() as stack:
            address = await stack.enter_async_context(live_server(settings, db, clock, broadcaster))
            sockets = [
                await stack.enter_async_context(subscribed(address, shg.access_token, thread_id))
                for _ in range(SUBSCRIBERS)
            ]
            async with asyncio.timeout(10):
                while broadcaster.local_subscribers(channel) < SUBSCRIBERS:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
            # then Redis sees one subscriber: the process
            assert await broadcaster.subscribers(channel) == 1
            # and when a post is made, every subscription receives it
            post_id = await post(address, shg.access_token, thread_id, "Hello all")
            received = [await receive(ws) for ws in sockets]
            assert {m["payload"]["data"]["postAdded"]["id"] for m in received} == {post_id}
            assert len(received) == SUBSCRIBERS
        # and once they have all gone, the process leaves the Redis channel
        assert broadcaster.local_subscribers(channel) == 0
        assert await broadcaster.subscribers(channel) == 0
    finally:
        await broadcaster.close()


async def test_an_added_post_is_read_once_for_all_subscribers(
    gql: Any, register: Any, cluster_id: str, db: Database, sql_statements: Any
) -> None:
    # Given a post
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    created = await gql(
        "mutation($i: PostCreateInput!) { postCreate(input: $i) { post { id } } }",
        {"i": {"threadId": thread_id, "body": "Once"}},
        token=shg.access_token,
    )
    post_id = uuid.UUID(created["data"]["postCreate"]["post"]["id"])
    added = service.AddedPosts(db)
    # when 50 subscriptions ask for it at once, and again
    with sql_statements() as log:
        posts = await asyncio.gather(*(added.get(post_id) for _ in range(50)))
        again = await added.get(post_id)
    # then it is read once (the post with its author, organisation, thread and forum, and its
    # position in the thread)
    assert {(p.post.id, p.position) for p in posts if p is not None} == {(post_id, 1)}
    assert again is posts[0]
    selects = [s for s in log.statements if s.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 6, log.statements
