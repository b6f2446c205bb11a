"""``postAdded`` over real WebSockets (graphql-transport-ws) against real servers on loopback:
one process with the in-process broadcaster (who may subscribe, and a subscriber who loses access
mid-way), and two app instances sharing the database and a real Redis, where a post made through
one reaches a subscriber connected to the other."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from backend.forums import service
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.forums.kit import a_members_post, a_thread
from tests.forums.live_kit import (
    graphql,
    live_server,
    post,
    receive,
    subscribed,
    two_instances,
    until_listening,
)
from tests.identity.kit import REMOVE


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


async def test_a_subscriber_who_loses_access_stops_receiving(
    gql: Any, register: Any, cluster_id: str, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # Given a member subscribed to a MEMBERS thread
    shg, member, thread_id, _ = await a_members_post(gql, register, cluster_id)
    broadcaster = InProcessBroadcaster()
    async with (
        live_server(settings, db, clock, broadcaster) as address,
        subscribed(address, member.access_token, thread_id) as ws,
    ):
        await until_listening(broadcaster, thread_id)
        # when the community removes them (through the served app, which tells its instances)
        # and then posts
        removed = await graphql(
            address,
            shg.access_token,
            REMOVE,
            {"organisationId": shg.organisation_id, "userId": member.user_id},
        )
        assert removed["data"]["organisationMemberRemove"]["errors"] == []
        await post(address, shg.access_token, thread_id, "Members only")
        # then the post never reaches them: their sign-in for the community ended, so the
        # connection closes, saying why
        with pytest.raises(ConnectionClosed) as closed:
            await receive(ws)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Access ended")


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
    async with (
        two_instances(settings, db, clock, database_url) as (first, second, second_broadcaster),
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
