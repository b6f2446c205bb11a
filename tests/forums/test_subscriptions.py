"""``postAdded`` over real WebSockets (graphql-transport-ws) against real servers on loopback:
one process with the in-process broadcaster, and two app instances sharing the database and a
real Redis, where a post made through one reaches a subscriber connected to the other."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from backend.app import create_app
from backend.forums import service
from backend.kit.broadcast import Broadcaster, InProcessBroadcaster, RedisBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.forums.test_smoke import FORUM_CREATE, POST_CREATE, THREAD_CREATE

REDIS_URL = os.environ.get("EIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SUBSCRIBE = """
subscription Added($thread: ID!) {
  postAdded(threadId: $thread) { id body author { displayName } }
}
"""
WAIT = 10.0  # seconds before a test gives up waiting for something that should happen


@asynccontextmanager
async def live_server(
    settings: Settings, db: Database, clock: ManualClock, broadcaster: Broadcaster
) -> AsyncIterator[str]:
    """The app served by uvicorn on a free loopback port, in this event loop."""
    app = create_app(settings, db=db, clock=clock, broadcaster=broadcaster)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(WAIT):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def receive(ws: ClientConnection) -> dict[str, Any]:
    """The next protocol message that is not a keep-alive ping."""
    async with asyncio.timeout(WAIT):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            return message


@asynccontextmanager
async def subscribed(
    address: str, token: str | None, thread_id: str
) -> AsyncIterator[ClientConnection]:
    async with connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert await receive(ws) == {"type": "connection_ack"}
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIBE, "variables": {"thread": thread_id}},
                }
            )
        )
        yield ws


async def until_listening(broadcaster: Broadcaster, thread_id: str, count: int = 1) -> None:
    """Wait (by condition, not by time) until the subscriptions are registered."""
    channel = service.post_channel(uuid.UUID(thread_id))
    async with asyncio.timeout(WAIT):
        # Polling another process's state (Redis' subscriber count): there is no event to await.
        while await broadcaster.subscribers(channel) < count:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def a_thread(gql: Any, register: Any, cluster_id: str, visibility: str) -> tuple[Any, str]:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum = await gql(
        FORUM_CREATE,
        {"input": {"title": "Corner", "visibility": visibility}},
        token=shg.access_token,
    )
    thread = await gql(
        THREAD_CREATE,
        {
            "input": {
                "forumId": forum["data"]["forumCreate"]["forum"]["id"],
                "title": "Feed",
                "body": "?",
            }
        },
        token=shg.access_token,
    )
    return shg, thread["data"]["threadCreate"]["thread"]["id"]


async def post(address: str, token: str, thread_id: str, body: str) -> str:
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            "/graphql",
            json={
                "query": POST_CREATE,
                "variables": {"input": {"threadId": thread_id, "body": body}},
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    created = response.json()["data"]["postCreate"]
    assert created["errors"] == [], created
    post_id: str = created["post"]["id"]
    return post_id


async def test_a_reader_receives_posts_as_they_are_made(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given a member subscribed to a thread of a MEMBERS forum on a running server
    shg, thread_id = await a_thread(gql, register, cluster_id, "MEMBERS")
    broadcaster = InProcessBroadcaster()
    async with (
        live_server(settings, db, clock, broadcaster) as address,
        subscribed(address, shg.access_token, thread_id) as ws,
    ):
        await until_listening(broadcaster, thread_id)
        # when two posts are made
        first = await post(address, shg.access_token, thread_id, "Mill quotes 14,500")
        second = await post(address, shg.access_token, thread_id, "Boat on Friday")
        # then both arrive, in order, as the subscriber may see them
        assert [await receive(ws), await receive(ws)] == [
            {
                "id": "1",
                "type": "next",
                "payload": {
                    "data": {
                        "postAdded": {
                            "id": first,
                            "body": "Mill quotes 14,500",
                            "author": {"displayName": "shg"},
                        }
                    }
                },
            },
            {
                "id": "1",
                "type": "next",
                "payload": {
                    "data": {
                        "postAdded": {
                            "id": second,
                            "body": "Boat on Friday",
                            "author": {"displayName": "shg"},
                        }
                    }
                },
            },
        ]
    assert await broadcaster.subscribers(service.post_channel(uuid.UUID(thread_id))) == 0


async def test_only_a_reader_can_open_the_subscription(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given a thread of a MEMBERS forum
    _, thread_id = await a_thread(gql, register, cluster_id, "MEMBERS")
    outsider = await register("firm@example.org", cluster_id, name="Some Firm")
    broadcaster = InProcessBroadcaster()
    async with live_server(settings, db, clock, broadcaster) as address:
        # when an outsider and an anonymous client subscribe
        for token in (outsider.access_token, None):
            async with subscribed(address, token, thread_id) as ws:
                answer = await receive(ws)
            # then each gets NOT_FOUND, as if the thread did not exist, and no subscription
            assert (
                answer
                == {
                    "id": "1",
                    "type": "error",
                    "payload": [
                        {
                            "message": "Thread not found",
                            "locations": [{"line": 1, "column": 39}],
                            "path": ["postAdded"],
                            "extensions": {"code": "NOT_FOUND", "field": "threadId"},
                        }
                    ],
                }
                or answer["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
            ), answer
        assert await broadcaster.subscribers(service.post_channel(uuid.UUID(thread_id))) == 0


async def test_a_bad_token_closes_the_connection(
    db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given a running server, when a client's connection_init carries a forged token
    async with (
        live_server(settings, db, clock, InProcessBroadcaster()) as address,
        connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": "Bearer forged"}})
        )
        # then the server closes it with 4403 before anything else
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Forbidden")


async def test_two_app_instances_share_posts_through_redis(
    gql: Any,
    register: Any,
    cluster_id: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    database_url: str,
) -> None:
    # Given two app instances with their own database connections and Redis clients, on one
    # database and one Redis, and a member subscribed through the first
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    prefix = f"eic-test-{uuid.uuid4().hex}:"
    first_broadcaster = RedisBroadcaster(REDIS_URL, prefix)
    second_broadcaster = RedisBroadcaster(REDIS_URL, prefix)
    second_db = Database(database_url)
    try:
        async with (
            live_server(settings, db, clock, first_broadcaster) as first,
            live_server(settings, second_db, clock, second_broadcaster) as second,
            subscribed(first, shg.access_token, thread_id) as ws,
        ):
            await until_listening(second_broadcaster, thread_id)
            # when a post is made through the second instance
            post_id = await post(second, shg.access_token, thread_id, "From the other process")
            # then the subscriber on the first instance receives it
            assert await receive(ws) == {
                "id": "1",
                "type": "next",
                "payload": {
                    "data": {
                        "postAdded": {
                            "id": post_id,
                            "body": "From the other process",
                            "author": {"displayName": "shg"},
                        }
                    }
                },
            }
    finally:
        await second_db.dispose()
        with contextlib.suppress(Exception):
            await first_broadcaster.close()
        await second_broadcaster.close()
