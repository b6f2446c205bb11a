"""Issue 21: several instances of one deployment. Two real ``eic serve`` processes on one database
and one Redis, both running the due-job loop and a push worker (as every instance does): each
purchase group's outcome is recorded once, each person is told once, and the push provider
receives each message once; a live subscription on one instance hears a post made through the
other."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from websockets.asyncio.client import connect

from backend.kit.broadcast import RedisBroadcaster
from backend.kit.db import Database, utcnow
from backend.notifications.models import Notification, NotificationKind, PushMessage, PushStatus
from backend.purchasing.models import GroupStatus, PurchaseGroup
from tests.conftest import TEST_REDIS_URL, GraphQL, Person, make_settings, seed_people
from tests.deploy.kit import GRAPHQL_WS, a_community, eventually, two_instances
from tests.forums.kit import open_forum, start_thread
from tests.forums.live_kit import SUBSCRIBE, receive, until_listening
from tests.kit import create_wood_cluster
from tests.notifications.push_fakes import expo_server
from tests.purchasing.test_due_jobs import CREATE, PLEDGE

EXPO_TOKEN = "expo-access-token-of-the-test"  # the fake's, nothing else's
GROUPS = 40
PER_GROUP = 3
REGISTER_DEVICE = """
mutation Register($input: DeviceRegisterInput!) {
  deviceRegister(input: $input) { device { id } errors { code field } }
}
"""
OUTCOMES = (NotificationKind.PURCHASE_GROUP_CONFIRMED, NotificationKind.PURCHASE_GROUP_FAILED)


async def ok(gql: GraphQL, name: str, query: str, variables: dict[str, Any], token: str) -> Any:
    """A mutation that must succeed: its payload."""
    body = await gql(query, variables, token=token)
    assert "errors" not in body, body
    payload = body["data"][name]
    assert payload["errors"] == [], body
    return payload


@pytest.mark.slow
async def test_due_jobs_and_pushes_are_done_once_with_two_instances_running_them(
    tmp_path: Path, empty_database_url: str
) -> None:
    async with (
        expo_server(EXPO_TOKEN) as (expo, push_url),
        two_instances(
            tmp_path,
            empty_database_url,
            EIC_PUSH_URL=push_url,
            EIC_PUSH_EXPO_ACCESS_TOKEN=EXPO_TOKEN,
            # Both instances look often, so that they compete for the same work.
            EIC_PUSH_INTERVAL_SECONDS="0.2",
            EIC_DUE_JOBS_INTERVAL_SECONDS="0.2",
        ) as instances,
    ):
        db = Database(empty_database_url)
        try:
            await _due_jobs_and_pushes_once(db, empty_database_url, instances.urls, expo)

            # and each instance's log names the groups it closed: together, every group once
            def closed() -> list[int]:
                return [
                    sum(
                        int(line.split("due jobs: ")[1].split()[0])
                        for line in instances.log_text(index).splitlines()
                        if "due jobs: " in line
                    )
                    for index in (0, 1)
                ]

            async def all_logged() -> bool:
                # a job logs once its round is over, which may be after the groups' commit
                # and the pushes this test waited for
                return sum(closed()) >= GROUPS

            await eventually(all_logged, "every closed group in an instance's log")
            assert sum(closed()) == GROUPS, closed()
        finally:
            await db.dispose()


async def _due_jobs_and_pushes_once(
    db: Database, database_url: str, urls: tuple[str, str], expo: Any
) -> None:
    # Given people of a cluster, each with a phone registered through one instance or the other
    cluster_id = await create_wood_cluster(db)
    settings = make_settings(database_url)
    organiser, *people = await seed_people(db, settings, cluster_id, 1 + GROUPS * PER_GROUP)
    async with (
        httpx.AsyncClient(base_url=urls[0], timeout=30) as first,
        httpx.AsyncClient(base_url=urls[1], timeout=30) as second,
    ):
        through = (GraphQL(first), GraphQL(second))
        for index, person in enumerate(people):
            await ok(
                through[index % 2],
                "deviceRegister",
                REGISTER_DEVICE,
                {
                    "input": {
                        "token": f"ExponentPushToken[{uuid.uuid4().hex}]",
                        "platform": "ANDROID",
                        "locale": "ja",
                    }
                },
                person.token,
            )
        # and purchase groups with three pledges each: the even ones reach their minimum
        members: dict[str, list[Person]] = {}
        for number in range(GROUPS):
            gql = through[number % 2]
            group = await ok(
                gql,
                "purchaseGroupCreate",
                CREATE,
                {
                    "input": {
                        "title": f"Rice husk, lot {number}",
                        "itemName": "Rice husk, dry, loose",
                        "unit": "TNE",
                        "direction": "BUY",
                        "minQuantity": "10",
                        "priceTiers": [{"minQuantity": "1", "pricePerUnit": "30"}],
                        "currency": "THB",
                        "deadline": (utcnow() + timedelta(days=1)).isoformat(),
                        "visibility": "CLUSTER",
                    }
                },
                organiser.token,
            )
            group_id = group["purchaseGroup"]["id"]
            members[group_id] = people[number * PER_GROUP : (number + 1) * PER_GROUP]
            for person in members[group_id]:
                quantity = "4" if number % 2 == 0 else "2"
                pledge_input = {"groupId": group_id, "quantity": quantity}
                await ok(gql, "purchaseGroupPledge", PLEDGE, {"input": pledge_input}, person.token)

    # when every deadline passes at once, under both instances' due-job loops and push workers
    async with db.write() as session:
        await session.execute(
            update(PurchaseGroup).values(deadline=utcnow() - timedelta(seconds=1))
        )

    async def all_done() -> bool:
        async with db.read() as session:
            still_open = await session.scalar(
                select(func.count())
                .select_from(PurchaseGroup)
                .where(PurchaseGroup.status == GroupStatus.OPEN)
            )
            waiting = await session.scalar(
                select(func.count())
                .select_from(PushMessage)
                .where(PushMessage.status.in_((PushStatus.PENDING, PushStatus.SENDING)))
            )
        return still_open == 0 and waiting == 0

    await eventually(all_done, "every group recorded and every push sent")

    # then each group has its outcome, and each of its people was told it once
    async with db.read() as session:
        statuses = dict(
            (await session.execute(select(PurchaseGroup.id, PurchaseGroup.status))).all()
        )
        told = Counter(
            (str(user_id), str(subject_id), kind)
            for user_id, subject_id, kind in (
                await session.execute(
                    select(Notification.user_id, Notification.subject_id, Notification.kind).where(
                        Notification.kind.in_(OUTCOMES)
                    )
                )
            ).all()
        )
        messages = dict((await session.execute(select(PushMessage.id, PushMessage.status))).all())
    expected_told: Counter[tuple[str, str, NotificationKind]] = Counter()
    for number, (group_id, group_people) in enumerate(members.items()):
        outcome = GroupStatus.CONFIRMED if number % 2 == 0 else GroupStatus.FAILED
        assert statuses[uuid.UUID(group_id)] == outcome
        for person in group_people:
            expected_told[(person.user_id, group_id, OUTCOMES[number % 2])] = 1
    assert told == expected_told

    # and the provider received every push message once, each recorded SENT
    received = Counter(message["data"]["messageId"] for message in expo.received)
    assert set(received.values()) == {1}, [m for m, n in received.items() if n > 1]
    assert set(received) == {str(message_id) for message_id in messages}
    assert set(messages.values()) == {PushStatus.SENT}
    outcome_pushes = [m for m in expo.received if m["data"]["kind"] in {k.value for k in OUTCOMES}]
    assert len(outcome_pushes) == GROUPS * PER_GROUP


@pytest.mark.slow
async def test_a_subscriber_of_one_instance_hears_a_post_made_through_the_other(
    tmp_path: Path, empty_database_url: str
) -> None:
    async with two_instances(tmp_path, empty_database_url) as instances:
        db = Database(empty_database_url)
        broadcaster = RedisBroadcaster(TEST_REDIS_URL, "eic:")  # the instances' prefix
        try:
            # Given a thread, and someone subscribed to it on the first instance
            cluster_id = await create_wood_cluster(db)
            author = await a_community(db, empty_database_url, cluster_id)
            async with httpx.AsyncClient(base_url=instances.urls[1], timeout=30) as second:
                gql = GraphQL(second, token=author.token)
                forum_id = await open_forum(gql, author.token)
                thread_id = await start_thread(gql, author.token, forum_id)
                address = instances.urls[0].removeprefix("http://")
                async with connect(f"ws://{address}/graphql", subprotocols=GRAPHQL_WS) as ws:
                    init = {"authorization": f"Bearer {author.token}"}
                    await ws.send(json.dumps({"type": "connection_init", "payload": init}))
                    assert await receive(ws) == {"type": "connection_ack"}
                    subscribe = {"query": SUBSCRIBE, "variables": {"thread": thread_id}}
                    await ws.send(
                        json.dumps({"id": "1", "type": "subscribe", "payload": subscribe})
                    )
                    await until_listening(broadcaster, thread_id)

                    # when a post is made through the second instance
                    body = await gql(
                        "mutation P($input: PostCreateInput!) { postCreate(input: $input) "
                        "{ post { id } errors { code } } }",
                        {"input": {"threadId": thread_id, "body": "Husk ash for sale"}},
                    )
                    post_id = body["data"]["postCreate"]["post"]["id"]

                    # then the subscriber on the first hears it
                    assert await asyncio.wait_for(receive(ws), 30) == {
                        "id": "1",
                        "type": "next",
                        "payload": {
                            "data": {
                                "postAdded": {
                                    "id": post_id,
                                    "body": "Husk ash for sale",
                                    "author": {"displayName": "Community Person 000"},
                                }
                            }
                        },
                    }
        finally:
            await broadcaster.close()
            await db.dispose()
