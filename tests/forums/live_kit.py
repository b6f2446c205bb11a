"""The app on a real loopback server, for tests of ``postAdded`` over WebSockets
(graphql-transport-ws): serving, subscribing, receiving, and posting over HTTP. Not a test
module."""

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
import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from backend.app import create_app
from backend.forums import service
from backend.kit.broadcast import Broadcaster, RedisBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.forums.kit import POST_CREATE

REDIS_URL = os.environ.get("EIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
SUBSCRIBE = """
subscription Added($thread: ID!) {
  postAdded(threadId: $thread) { id body author { displayName } }
}
"""
# The subscription that confirms it is live and numbers the posts (issue 16).
THREAD_POSTS = """
subscription Live($thread: ID!) {
  threadPosts(threadId: $thread) { kind sequence post { id body } }
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


@asynccontextmanager
async def two_instances(
    settings: Settings, db: Database, clock: ManualClock, database_url: str
) -> AsyncIterator[tuple[str, str, RedisBroadcaster]]:
    """Two served app instances with their own database connections and Redis clients, on one
    database and one Redis (under a key prefix of this call's own): their addresses, and the
    second one's broadcaster."""
    prefix = f"eic-test-{uuid.uuid4().hex}:"
    first_broadcaster = RedisBroadcaster(REDIS_URL, prefix)
    second_broadcaster = RedisBroadcaster(REDIS_URL, prefix)
    second_db = Database(database_url)
    try:
        async with (
            live_server(settings, db, clock, first_broadcaster) as first,
            live_server(settings, second_db, clock, second_broadcaster) as second,
        ):
            yield first, second, second_broadcaster
    finally:
        await second_db.dispose()
        with contextlib.suppress(Exception):  # (already closed with its server, or not)
            await first_broadcaster.close()
        await second_broadcaster.close()


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
    address: str, token: str | None, thread_id: str, query: str = SUBSCRIBE
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
                    "payload": {"query": query, "variables": {"thread": thread_id}},
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


async def graphql(
    address: str, token: str, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A request to the served app (so that what it announces goes through its broadcaster)."""
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    return body
