"""Live posts are never lost silently (issue 16, item 5), over real WebSockets against real
servers on loopback: a subscription confirms it is live before anything else, each post carries
its position so a missed one shows as a gap, a broadcaster outage (a private Redis stopped)
ends subscriptions with SERVICE_UNAVAILABLE, and losing access stops delivery at once, checked
per post against a cached reader rather than by reading memberships again."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from backend.kit.broadcast import InProcessBroadcaster, RedisBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import Account, count_statements
from tests.forums.kit import a_thread
from tests.forums.kit import post as post_elsewhere
from tests.forums.live_kit import (
    SUBSCRIBE,
    THREAD_POSTS,
    WAIT,
    graphql,
    live_server,
    post,
    receive,
    subscribed,
    two_instances,
    until_listening,
)
from tests.identity.kit import REMOVE, invite_code

JOIN = "mutation($c: String!) { organisationJoin(input: {inviteCode: $c}) { errors { code } } }"


def subscribed_event(sequence: int) -> dict[str, Any]:
    return {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {"threadPosts": {"kind": "SUBSCRIBED", "sequence": sequence, "post": None}}
        },
    }


def added_event(sequence: int, post_id: str, body: str) -> dict[str, Any]:
    return {
        "id": "1",
        "type": "next",
        "payload": {
            "data": {
                "threadPosts": {
                    "kind": "POST_ADDED",
                    "sequence": sequence,
                    "post": {"id": post_id, "body": body},
                }
            }
        },
    }


SUBSCRIBERS = 50


async def test_the_confirmation_comes_first_and_no_post_made_after_it_is_missed(
    gql: Any,
    register: Any,
    cluster_id: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    database_url: str,
) -> None:
    # Given two app instances on one database and one Redis, and a thread
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    received = []
    expected = []
    async with two_instances(settings, db, clock, database_url) as (first, second, _):
        for n in range(SUBSCRIBERS):
            # when, 50 times, a subscriber connects to the first (each time the process
            # subscribes to the thread in Redis anew) and, as soon as the subscription
            # confirms it is live, a post is made through the second
            async with subscribed(first, shg.access_token, thread_id, THREAD_POSTS) as ws:
                confirmation = await receive(ws)
                post_id = await post(second, shg.access_token, thread_id, f"Post {n}")
                received.append((confirmation, await receive(ws)))
                expected.append((subscribed_event(n), added_event(n + 1, post_id, f"Post {n}")))
    # then every subscriber was told it was live, with the thread's sequence, before anything
    # else, and received the post made right after: 0 missed
    assert received == expected


async def test_a_lost_post_shows_as_a_gap_in_the_sequence(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given a subscriber of a thread
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    broadcaster = InProcessBroadcaster()
    async with (
        live_server(settings, db, clock, broadcaster) as address,
        subscribed(address, shg.access_token, thread_id, THREAD_POSTS) as ws,
    ):
        assert await receive(ws) == subscribed_event(0)
        first = await post(address, shg.access_token, thread_id, "One")
        # when a post is made through another app instance whose broadcaster nobody here
        # listens to (its announcement is lost, as if Redis had dropped it), and then another
        lost = await post_elsewhere(gql, shg.access_token, thread_id, "Lost")
        third = await post(address, shg.access_token, thread_id, "Three")
        # then the subscriber receives the first and the third, numbered 1 and 3: the gap
        # tells the app to load what it missed
        assert [await receive(ws), await receive(ws)] == [
            added_event(1, first, "One"),
            added_event(3, third, "Three"),
        ]
    assert lost not in {first, third}


class PrivateRedis:
    """A Redis of the test's own on a free port, never the shared one: stopped and started
    again by the test, killed at the end."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port: int = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._folder = tempfile.TemporaryDirectory(prefix="eic-redis-")
        self._server: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._server = await asyncio.create_subprocess_exec(
            *("redis-server", "--port", str(self.port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--dir", self._folder.name),
            stdout=asyncio.subprocess.DEVNULL,
        )
        async with asyncio.timeout(WAIT):
            while True:
                with contextlib.suppress(OSError):
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.close()
                    return
                await asyncio.sleep(0.01)  # the server's start-up has no event to await

    async def stop(self) -> None:
        if self._server is not None:
            self._server.kill()
            await self._server.wait()
            self._server = None


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[PrivateRedis]:
    redis = PrivateRedis()
    await redis.start()
    try:
        yield redis
    finally:
        await redis.stop()
        redis._folder.cleanup()


async def closing_messages(ws: Any) -> list[dict[str, Any]]:
    """What the subscription says until it completes."""
    messages = [await receive(ws)]
    while messages[-1]["type"] == "next":
        messages.append(await receive(ws))
    return messages


UNAVAILABLE = {"code": "SERVICE_UNAVAILABLE", "field": None, "retryAfter": 2}
UNAVAILABLE_NEXT = {
    "id": "1",
    "type": "next",
    "payload": {
        "data": None,
        "errors": [
            {
                "message": "Live updates were interrupted; load the thread again and subscribe "
                "again",
                "locations": [{"line": 3, "column": 3}],
                "path": ["threadPosts"],
                "extensions": UNAVAILABLE,
            }
        ],
    },
}


@pytest.mark.slow
async def test_a_broadcaster_outage_ends_subscriptions_with_service_unavailable(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    async with private_redis() as redis:
        broadcaster = RedisBroadcaster(redis.url, f"eic-test-{uuid.uuid4().hex}:")
        try:
            async with live_server(settings, db, clock, broadcaster) as address:
                async with AsyncExitStack() as stack:
                    # Given three live subscriptions through the private Redis
                    sockets = [
                        await stack.enter_async_context(
                            subscribed(address, shg.access_token, thread_id, THREAD_POSTS)
                        )
                        for _ in range(3)
                    ]
                    for ws in sockets:
                        assert await receive(ws) == subscribed_event(0)
                    # when Redis stops
                    await redis.stop()
                    # then within a few seconds each is told SERVICE_UNAVAILABLE (reload and
                    # subscribe again), then completes: no silence
                    async with asyncio.timeout(5):
                        ended = [await closing_messages(ws) for ws in sockets]
                    assert ended == [[UNAVAILABLE_NEXT, {"id": "1", "type": "complete"}]] * 3

                # and while it is down, a post is still made, and a new subscription is
                # refused at once with SERVICE_UNAVAILABLE
                await post(address, shg.access_token, thread_id, "While Redis was away")
                async with subscribed(address, shg.access_token, thread_id, THREAD_POSTS) as ws:
                    refused = await closing_messages(ws)
                assert refused == [
                    {
                        "id": "1",
                        "type": "next",
                        "payload": {
                            "data": None,
                            "errors": [
                                {
                                    "message": "Live updates are unavailable at the moment; "
                                    "subscribe again later",
                                    "extensions": UNAVAILABLE,
                                }
                            ],
                        },
                    },
                    {"id": "1", "type": "complete"},
                ]

                # and once Redis is back, a new subscription counts the post made meanwhile
                # and receives the next
                await redis.start()
                async with subscribed(address, shg.access_token, thread_id, THREAD_POSTS) as ws:
                    assert await receive(ws) == subscribed_event(1)
                    after = await post(address, shg.access_token, thread_id, "Back")
                    assert await receive(ws) == added_event(2, after, "Back")
        finally:
            await broadcaster.close()


# What reading someone's access touches (the post itself comes with its author from users).
ACCESS_TABLES = ("memberships", "refresh_sessions", "forum_moderators")


async def test_losing_access_stops_delivery_at_once_without_reading_it_per_post(
    gql: Any,
    register: Any,
    cluster_id: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    database_url: str,
) -> None:
    # Given a sawmill's worker who also joined a community, signed in for the sawmill, with ten
    # subscriptions to a thread of the community's members-only forum on one app instance
    shg, thread_id = await a_thread(gql, register, cluster_id, "MEMBERS")
    worker: Account = await register("mill@example.org", cluster_id, name="Sawmill")
    joined = await gql(JOIN, {"c": await invite_code(gql, shg)}, token=worker.access_token)
    assert joined["data"]["organisationJoin"]["errors"] == [], joined
    broadcaster = InProcessBroadcaster()  # one process's broadcaster, shared by both instances
    posting_db = Database(database_url)
    try:
        async with AsyncExitStack() as stack:
            first = await stack.enter_async_context(live_server(settings, db, clock, broadcaster))
            second = await stack.enter_async_context(
                live_server(settings, posting_db, clock, broadcaster)
            )
            sockets = [
                await stack.enter_async_context(
                    subscribed(first, worker.access_token, thread_id, SUBSCRIBE)
                )
                for _ in range(10)
            ]
            await until_listening(broadcaster, thread_id, 10)
            # when 20 posts are made through the other instance
            with count_statements(db) as delivering:
                for n in range(20):
                    post_id = await post(second, shg.access_token, thread_id, f"Post {n}")
                    received = [await receive(ws) for ws in sockets]
                    assert {m["payload"]["data"]["postAdded"]["id"] for m in received} == {post_id}
            # then each reached all ten, and the instance read nothing of anyone's access for
            # them: each post was read once (with its position), access was checked in memory
            assert [s for s in delivering.statements if any(t in s for t in ACCESS_TABLES)] == []
            selects = [s for s in delivering.statements if s.lstrip().startswith("SELECT")]
            assert len(selects) == 20 * 6

            # and when the community removes the worker (through the other instance), the next
            # post reaches none of their subscriptions: each ends, without the post
            removed = await graphql(
                second,
                shg.access_token,
                REMOVE,
                {"organisationId": shg.organisation_id, "userId": worker.user_id},
            )
            assert removed["data"]["organisationMemberRemove"]["errors"] == [], removed
            await post(second, shg.access_token, thread_id, "Members only")
            assert [await receive(ws) for ws in sockets] == [{"id": "1", "type": "complete"}] * 10
    finally:
        await posting_db.dispose()


async def test_a_removed_members_connection_closes_at_once(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given a member watching a thread of their community's members-only forum (the connection's
    # periodic access check is 30 s away)
    shg, thread_id = await a_thread(gql, register, cluster_id, "MEMBERS")
    member = await register("member@example.org", invite_code=await invite_code(gql, shg))
    async with (
        live_server(settings, db, clock, InProcessBroadcaster()) as address,
        subscribed(address, member.access_token, thread_id, THREAD_POSTS) as ws,
    ):
        assert await receive(ws) == subscribed_event(0)
        # when the community removes them
        removed = await graphql(
            address,
            shg.access_token,
            REMOVE,
            {"organisationId": shg.organisation_id, "userId": member.user_id},
        )
        assert removed["data"]["organisationMemberRemove"]["errors"] == [], removed
        # then the server closes the connection at once (well within the 10 s a test waits)
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Access ended")


@pytest.mark.slow
async def test_a_quick_redis_restart_still_ends_subscriptions(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given a live subscription through a private Redis
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    async with private_redis() as redis:
        broadcaster = RedisBroadcaster(redis.url, f"eic-test-{uuid.uuid4().hex}:")
        try:
            async with (
                live_server(settings, db, clock, broadcaster) as address,
                subscribed(address, shg.access_token, thread_id, THREAD_POSTS) as ws,
            ):
                assert await receive(ws) == subscribed_event(0)
                # when Redis restarts at once (redis-py may re-make the connection by itself,
                # and whatever was published in between is gone)
                await redis.stop()
                await redis.start()
                # then the subscription is still told to reload and subscribe again
                async with asyncio.timeout(5):
                    assert await closing_messages(ws) == [
                        UNAVAILABLE_NEXT,
                        {"id": "1", "type": "complete"},
                    ]
        finally:
            await broadcaster.close()
