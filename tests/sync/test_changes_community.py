"""The offline sync feed over the community: forum threads people follow, events they registered
for or organise, and purchasing groups they pledged to, organise or supply."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Account, GraphQL
from tests.events.kit import (
    CANCEL_REGISTRATION,
    REJECT,
    create_event,
    publish,
    published_event,
    register_for,
)
from tests.events.kit import UPDATE as EVENT_UPDATE
from tests.forums.kit import FORUM_UPDATE, join, open_forum, post, start_thread
from tests.marketplace.trading_kit import LISTING_CREATE, listing_input, make_offer
from tests.marketplace.trading_kit import publish as publish_listing
from tests.purchasing.kit import PLEDGE_UPDATE, PLEDGE_WITHDRAW, create, pledge
from tests.purchasing.kit import UPDATE as GROUP_UPDATE
from tests.sync.sync_kit import brief, changes_page, start, sync

THREAD_FOLLOW = """
mutation Follow($id: ID!, $following: Boolean! = true) {
  threadFollow(id: $id, following: $following) {
    thread { id viewerFollows }
    errors { code message field }
  }
}
"""
# The fields sync_kit.CHANGES asks of each kind, read with the kind's own query.
THREAD = "query T($id: ID!) { thread(id: $id) { id title replyCount viewerFollows version } }"
EVENT_CANCEL = """
mutation Cancel($id: ID!, $reason: String! = "") {
  eventCancel(id: $id, reason: $reason) { event { id status } errors { code message field } }
}
"""
KINDS = ("listing", "offer", "trade", "purchaseGroup", "thread", "event", "notification")


def upsert(change_type: str, node: dict[str, Any]) -> dict[str, Any]:
    """A whole UPSERT item: the field of its kind holds ``node``, the others are null."""
    field = {
        "FORUM_THREAD": "thread",
        "EVENT": "event",
        "PURCHASE_GROUP": "purchaseGroup",
    }[change_type]
    return {
        "type": change_type,
        "id": node["id"],
        "action": "UPSERT",
        **{kind: node if kind == field else None for kind in KINDS},
    }


def tombstone(change_type: str, entity_id: str) -> dict[str, Any]:
    return {
        "type": change_type,
        "id": entity_id,
        "action": "TOMBSTONE",
        **dict.fromkeys(KINDS),
    }


def thread_node(
    thread_id: str, reply_count: int, *, follows: bool = True, title: str = "Feed prices"
) -> dict[str, Any]:
    return {
        "id": thread_id,
        "title": title,
        "replyCount": reply_count,
        "viewerFollows": follows,
        "version": 1,
    }


async def read_thread(gql: GraphQL, token: str, thread_id: str) -> dict[str, Any] | None:
    body = await gql(THREAD, {"id": thread_id}, token=token)
    assert "errors" not in body, body
    thread: dict[str, Any] | None = body["data"]["thread"]
    return thread


async def follow(
    gql: GraphQL, token: str, thread_id: str, following: bool = True
) -> dict[str, Any]:
    body = await gql(THREAD_FOLLOW, {"id": thread_id, "following": following}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["threadFollow"]
    return payload


# ---------------------------------------------------------------------------------------------
# Forum threads


@pytest.fixture
async def shg(register: Any, cluster_id: str) -> Account:
    """A community (self-help group) of the cluster: it opens forums and organises groups."""
    account: Account = await register(
        "shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY"
    )
    return account


async def test_the_starter_follows_a_thread_and_gets_others_posts_as_upserts(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a cluster forum and a farm, synced, that starts a thread in it
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    neighbour = await register("neighbour@example.org", cluster_id, name="Farm B")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    since = await start(gql, farm.access_token)
    thread_id = await start_thread(gql, farm.access_token, forum_id)
    # then it follows the thread, and its app gets it at once
    assert await read_thread(gql, farm.access_token, thread_id) == thread_node(thread_id, 0)
    items, since = await sync(gql, farm.access_token, since, types=["FORUM_THREAD"])
    assert items == [upsert("FORUM_THREAD", thread_node(thread_id, 0))]
    # when a neighbour posts twice
    await post(gql, neighbour.access_token, thread_id, "Mill quotes 14,500")
    await post(gql, neighbour.access_token, thread_id, "Co-op quotes 13,900")
    # then the starter's app gets the thread once, as its own query answers it now
    items, since = await sync(gql, farm.access_token, since, types=["FORUM_THREAD"])
    assert items == [upsert("FORUM_THREAD", thread_node(thread_id, 2))]
    assert items[0]["thread"] == await read_thread(gql, farm.access_token, thread_id)
    # and nothing more until the next change
    assert await sync(gql, farm.access_token, since, types=["FORUM_THREAD"]) == ([], since)


async def test_following_brings_later_posts_and_unfollowing_one_tombstone(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a thread a farm started, and a reader of the forum who has not followed it, synced
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    reader = await register("reader@example.org", cluster_id, name="Farm C")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, farm.access_token, forum_id)
    await post(gql, farm.access_token, thread_id, "Anyone?")
    since = await start(gql, reader.access_token)
    assert await read_thread(gql, reader.access_token, thread_id) == thread_node(
        thread_id, 1, follows=False
    )
    # when the reader follows it
    assert await follow(gql, reader.access_token, thread_id) == {
        "thread": {"id": thread_id, "viewerFollows": True},
        "errors": [],
    }
    # then their app gets the thread (following is a change for them)
    items, since = await sync(gql, reader.access_token, since)
    assert items == [upsert("FORUM_THREAD", thread_node(thread_id, 1))]
    # and later posts reach it, the reply count growing
    await post(gql, farm.access_token, thread_id, "Mill quotes 14,500")
    items, since = await sync(gql, reader.access_token, since)
    assert items == [upsert("FORUM_THREAD", thread_node(thread_id, 2))]

    # when the reader stops following
    assert await follow(gql, reader.access_token, thread_id, following=False) == {
        "thread": {"id": thread_id, "viewerFollows": False},
        "errors": [],
    }
    # then their app is told once to drop the thread
    items, since = await sync(gql, reader.access_token, since)
    assert items == [tombstone("FORUM_THREAD", thread_id)]
    # and neither stopping again nor later posts reach it
    await follow(gql, reader.access_token, thread_id, following=False)
    await post(gql, farm.access_token, thread_id, "Co-op quotes 13,900")
    feed = await changes_page(gql, reader.access_token, since)
    assert (feed["items"], feed["hasMore"]) == ([], False)
    # while the starter still gets them
    assert await read_thread(gql, farm.access_token, thread_id) == thread_node(thread_id, 3)


async def test_replying_follows_the_thread(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a thread a farm started, and a neighbour synced before replying
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    neighbour = await register("neighbour@example.org", cluster_id, name="Farm B")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, farm.access_token, forum_id)
    since = await start(gql, neighbour.access_token)
    # when the neighbour replies
    await post(gql, neighbour.access_token, thread_id, "Mill quotes 14,500")
    # then they follow it and their app gets it
    assert await read_thread(gql, neighbour.access_token, thread_id) == thread_node(thread_id, 1)
    items, since = await sync(gql, neighbour.access_token, since, types=["FORUM_THREAD"])
    assert items == [upsert("FORUM_THREAD", thread_node(thread_id, 1))]
    # and the starter's answer reaches them too
    await post(gql, farm.access_token, thread_id, "Thanks")
    items, since = await sync(gql, neighbour.access_token, since, types=["FORUM_THREAD"])
    assert items == [upsert("FORUM_THREAD", thread_node(thread_id, 2))]


async def test_an_outsider_cannot_follow_a_members_thread_and_never_hears_of_it(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given the community's members-only forum with a thread a member started, and a firm of
    # the cluster outside the community, synced
    member = await join(gql, register, shg, "member@example.org")
    outsider = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "MEMBERS")
    outsider_since = await start(gql, outsider.access_token)
    member_since = await start(gql, member.access_token)
    thread_id = await start_thread(gql, member.access_token, forum_id)
    # when the outsider tries to follow it
    body = await gql(THREAD_FOLLOW, {"id": thread_id}, token=outsider.access_token)
    # then it is not found, as if it did not exist
    assert body == {
        "data": {
            "threadFollow": {
                "thread": None,
                "errors": [{"code": "NOT_FOUND", "message": "Thread not found", "field": "id"}],
            }
        }
    }
    # and when the community's admin posts, only the member's app hears of it
    await post(gql, shg.access_token, thread_id, "Meeting on Friday")
    feed = await changes_page(gql, outsider.access_token, outsider_since)
    assert (feed["items"], feed["hasMore"]) == ([], False)
    items, _ = await sync(gql, member.access_token, member_since, types=["FORUM_THREAD"])
    assert items == [upsert("FORUM_THREAD", thread_node(thread_id, 1))]


async def test_a_follower_who_may_no_longer_read_the_forum_gets_a_tombstone(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a firm of the cluster following a thread of the community's cluster forum, synced
    firm = await register("firm@example.org", cluster_id, name="Some Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    thread_id = await start_thread(gql, shg.access_token, forum_id)
    await follow(gql, firm.access_token, thread_id)
    since = await start(gql, firm.access_token)
    # when the community makes the forum members-only
    narrowed = await gql(
        FORUM_UPDATE, {"input": {"id": forum_id, "visibility": "MEMBERS"}}, token=shg.access_token
    )
    assert narrowed["data"]["forumUpdate"]["errors"] == [], narrowed
    # then the firm's app is told to drop the thread at once
    items, since = await sync(gql, firm.access_token, since)
    assert items == [tombstone("FORUM_THREAD", thread_id)]
    assert await read_thread(gql, firm.access_token, thread_id) is None
    # and learns nothing of it when the members post in it
    await post(gql, shg.access_token, thread_id, "Members only from now on")
    items, _ = await sync(gql, firm.access_token, since)
    assert items == [tombstone("FORUM_THREAD", thread_id)]


async def test_a_thread_made_with_someone_elses_id_hears_nothing_of_them(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a firm that starts threads whose (app-chosen) ids are another organisation's id and
    # another person's id, and follows them
    intruder = await register("intruder@example.org", cluster_id, name="Intruder")
    victim = await register("victim@example.org", cluster_id, name="Victim Firm")
    forum_id = await open_forum(gql, shg.access_token, "CLUSTER")
    assert victim.organisation_id is not None
    for borrowed in (victim.organisation_id, victim.user_id):
        await start_thread(gql, intruder.access_token, forum_id, id=borrowed)
    since = await start(gql, intruder.access_token)
    # when the victim makes a draft and a listing, and gets an offer on it
    await gql(LISTING_CREATE, {"input": listing_input(publish=False)}, token=victim.access_token)
    listing = await publish_listing(gql, victim.access_token)
    await make_offer(gql, shg.access_token, listing["id"])
    # then the intruder's app hears nothing of any of it
    items, _ = await sync(gql, intruder.access_token, since)
    assert items == []


# ---------------------------------------------------------------------------------------------
# Events


@pytest.fixture
async def lab(register: Any, cluster_id: str) -> Account:
    """An institution that organises events."""
    account: Account = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    return account


def event_node(
    event_id: str,
    registration: str | None,
    *,
    status: str = "PUBLISHED",
    title: str = "Biomass boiler seminar",
) -> dict[str, Any]:
    return {
        "id": event_id,
        "title": title,
        "status": status,
        "myRegistration": None if registration is None else {"status": registration},
    }


async def test_registering_gives_the_registrant_the_event_with_their_registration(
    gql: GraphQL, register: Any, cluster_id: str, lab: Account
) -> None:
    # Given a published event and a farm, synced
    event_id = await published_event(gql, lab.access_token, cluster_id)
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    since = await start(gql, farm.access_token)
    # when the farm registers
    registration = await register_for(gql, farm.access_token, event_id)
    assert registration["status"] == "CONFIRMED"
    # then its app gets the event with the farm's registration
    items, _ = await sync(gql, farm.access_token, since)
    assert items == [upsert("EVENT", event_node(event_id, "CONFIRMED"))]


async def test_the_organisers_changes_reach_registrants_and_nobody_else(
    gql: GraphQL, register: Any, cluster_id: str, lab: Account
) -> None:
    # Given a published event with a registered farm, and a farm that did not register, synced
    event_id = await published_event(gql, lab.access_token, cluster_id)
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    other = await register("other@example.org", cluster_id, name="Farm B")
    await register_for(gql, farm.access_token, event_id)
    farm_since = await start(gql, farm.access_token)
    other_since = await start(gql, other.access_token)
    # when the organiser renames it
    renamed = await gql(
        EVENT_UPDATE,
        {"input": {"id": event_id, "title": "Wood-chip boiler seminar"}},
        token=lab.access_token,
    )
    assert renamed["data"]["eventUpdate"]["errors"] == [], renamed
    # then the registrant's app gets the new title
    items, farm_since = await sync(gql, farm.access_token, farm_since)
    assert items == [
        upsert("EVENT", event_node(event_id, "CONFIRMED", title="Wood-chip boiler seminar"))
    ]
    # when the organiser cancels it
    cancelled = await gql(EVENT_CANCEL, {"id": event_id, "reason": "Flood"}, token=lab.access_token)
    assert cancelled["data"]["eventCancel"] == {
        "event": {"id": event_id, "status": "CANCELLED"},
        "errors": [],
    }
    # then the registrant's app gets the cancelled event (the registration stays) with the
    # notice about it
    items, _ = await sync(gql, farm.access_token, farm_since)
    assert brief(items) == [
        ("EVENT", event_id, "UPSERT"),
        ("NOTIFICATION", items[1]["id"], "UPSERT"),
    ]
    assert items[0] == upsert(
        "EVENT",
        event_node(event_id, "CONFIRMED", status="CANCELLED", title="Wood-chip boiler seminar"),
    )
    assert items[1]["notification"]["kind"] == "EVENT_CANCELLED"
    # and the farm that did not register gets nothing, but a cursor that moved on
    feed = await changes_page(gql, other.access_token, other_since)
    assert (feed["items"], feed["hasMore"]) == ([], False)
    assert feed["cursor"] != other_since


async def test_cancelling_ones_registration_is_a_tombstone_for_that_person(
    gql: GraphQL, register: Any, cluster_id: str, lab: Account
) -> None:
    # Given a published event two farms registered for, synced
    event_id = await published_event(gql, lab.access_token, cluster_id)
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    other = await register("other@example.org", cluster_id, name="Farm B")
    registration = await register_for(gql, farm.access_token, event_id)
    await register_for(gql, other.access_token, event_id)
    farm_since = await start(gql, farm.access_token)
    # when the first farm cancels its registration
    body = await gql(CANCEL_REGISTRATION, {"id": registration["id"]}, token=farm.access_token)
    assert body["data"]["eventRegistrationCancel"]["errors"] == [], body
    assert body["data"]["eventRegistrationCancel"]["registration"]["status"] == "CANCELLED"
    # then its app is told to drop the event
    items, farm_since = await sync(gql, farm.access_token, farm_since)
    assert items == [tombstone("EVENT", event_id)]
    # and a later change of the event no longer reaches it, while it reaches the other farm
    other_since = await start(gql, other.access_token)
    renamed = await gql(
        EVENT_UPDATE,
        {"input": {"id": event_id, "title": "Wood-chip boiler seminar"}},
        token=lab.access_token,
    )
    assert renamed["data"]["eventUpdate"]["errors"] == [], renamed
    feed = await changes_page(gql, farm.access_token, farm_since)
    assert (feed["items"], feed["hasMore"]) == ([], False)
    items, _ = await sync(gql, other.access_token, other_since)
    assert items == [
        upsert("EVENT", event_node(event_id, "CONFIRMED", title="Wood-chip boiler seminar"))
    ]
    # when the first farm registers again, the event is back in its app
    await register_for(gql, farm.access_token, event_id)
    items, _ = await sync(gql, farm.access_token, farm_since)
    assert items == [
        upsert("EVENT", event_node(event_id, "CONFIRMED", title="Wood-chip boiler seminar"))
    ]


async def test_a_pending_registration_keeps_the_event_until_it_is_declined(
    gql: GraphQL, register: Any, cluster_id: str, lab: Account
) -> None:
    # Given an event whose organiser approves registrations, and a farm, synced
    event_id = await published_event(gql, lab.access_token, cluster_id, requiresApproval=True)
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    since = await start(gql, farm.access_token)
    # when the farm registers
    registration = await register_for(gql, farm.access_token, event_id)
    assert registration["status"] == "PENDING_APPROVAL"
    # then its app gets the event with the pending registration
    items, since = await sync(gql, farm.access_token, since, types=["EVENT"])
    assert items == [upsert("EVENT", event_node(event_id, "PENDING_APPROVAL"))]
    # when the organiser declines it
    body = await gql(REJECT, {"id": registration["id"], "reason": "Full"}, token=lab.access_token)
    assert body["data"]["eventRegistrationReject"]["errors"] == [], body
    # then the farm's app is told to drop the event
    items, _ = await sync(gql, farm.access_token, since, types=["EVENT"])
    assert items == [tombstone("EVENT", event_id)]


async def test_the_organising_organisation_gets_its_events_from_draft_on(
    gql: GraphQL, register: Any, cluster_id: str, lab: Account
) -> None:
    # Given the lab, a colleague of the lab and an unrelated farm, synced
    colleague = await join(gql, register, lab, "colleague@uni.example")
    farm = await register("farm@example.org", cluster_id, name="Farm A")
    cursors = {who.email: await start(gql, who.access_token) for who in (lab, colleague, farm)}
    # when the lab drafts an event
    draft = await create_event(gql, lab.access_token, cluster_id)
    # then the lab's people get the draft
    for who in (lab, colleague):
        items, cursors[who.email] = await sync(gql, who.access_token, cursors[who.email])
        assert items == [upsert("EVENT", event_node(draft["id"], None, status="DRAFT"))]
    # and, when it is published, the published event
    await publish(gql, lab.access_token, draft["id"])
    for who in (lab, colleague):
        items, _ = await sync(gql, who.access_token, cursors[who.email])
        assert items == [upsert("EVENT", event_node(draft["id"], None))]
    # while the farm gets nothing of either
    feed = await changes_page(gql, farm.access_token, cursors[farm.email])
    assert (feed["items"], feed["hasMore"]) == ([], False)


# ---------------------------------------------------------------------------------------------
# Purchasing groups


def group_node(group_id: str, pledged: str, *, version: int = 1) -> dict[str, Any]:
    return {"id": group_id, "status": "OPEN", "pledgedQuantity": pledged, "version": version}


async def test_pledges_reach_the_participants_and_the_organiser(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given the community's group and three farms of the cluster, synced
    group = await create(gql, shg)
    farm_a = await register("a@firm.example", cluster_id, name="Farm A")
    farm_b = await register("b@firm.example", cluster_id, name="Farm B")
    farm_c = await register("c@firm.example", cluster_id, name="Farm C")
    cursors = {
        who.email: await start(gql, who.access_token) for who in (shg, farm_a, farm_b, farm_c)
    }
    # when farm A pledges
    await pledge(gql, farm_a, group["id"], "40")
    # then its app gets the group with the pledge counted
    items, cursors[farm_a.email] = await sync(gql, farm_a.access_token, cursors[farm_a.email])
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "40"))]
    # when farm B pledges after it
    await pledge(gql, farm_b, group["id"], "30")
    # then farm A's app gets the group's progress, and so do farm B's and the organiser's
    for who in (farm_a, farm_b, shg):
        items, _ = await sync(gql, who.access_token, cursors[who.email])
        assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "70"))], who.email
    # while farm C, which may read the group but has no part in it, gets nothing
    feed = await changes_page(gql, farm_c.access_token, cursors[farm_c.email])
    assert (feed["items"], feed["hasMore"]) == ([], False)


async def test_withdrawing_is_a_tombstone_for_the_withdrawer_and_progress_for_the_rest(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given the community's group with two farms' pledges, synced
    group = await create(gql, shg)
    farm_a = await register("a@firm.example", cluster_id, name="Farm A")
    farm_b = await register("b@firm.example", cluster_id, name="Farm B")
    pledged = await pledge(gql, farm_a, group["id"], "40")
    await pledge(gql, farm_b, group["id"], "30")
    cursors = {who.email: await start(gql, who.access_token) for who in (shg, farm_a, farm_b)}
    # when farm A withdraws
    body = await gql(PLEDGE_WITHDRAW, {"id": pledged["id"]}, token=farm_a.access_token)
    assert body["data"]["purchaseGroupPledgeWithdraw"]["errors"] == [], body
    # then farm A's app is told to drop the group
    items, farm_a_since = await sync(gql, farm_a.access_token, cursors[farm_a.email])
    assert items == [tombstone("PURCHASE_GROUP", group["id"])]
    # and farm B's and the organiser's apps get the smaller total
    for who in (farm_b, shg):
        items, cursors[who.email] = await sync(gql, who.access_token, cursors[who.email])
        assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "30"))], who.email
    # and a later pledge no longer reaches farm A
    farm_c = await register("c@firm.example", cluster_id, name="Farm C")
    await pledge(gql, farm_c, group["id"], "10")
    feed = await changes_page(gql, farm_a.access_token, farm_a_since)
    assert (feed["items"], feed["hasMore"]) == ([], False)
    items, _ = await sync(gql, farm_b.access_token, cursors[farm_b.email])
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "40"))]


async def test_an_organiser_who_withdraws_keeps_the_group(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a member of the community who pledged to the community's own group, synced
    member = await join(gql, register, shg, "member@example.org")
    group = await create(gql, shg)
    pledged = await pledge(gql, member, group["id"], "25")
    since = await start(gql, member.access_token)
    # when they withdraw
    body = await gql(PLEDGE_WITHDRAW, {"id": pledged["id"]}, token=member.access_token)
    assert body["data"]["purchaseGroupPledgeWithdraw"]["errors"] == [], body
    # then their app keeps the group (their organisation organises it), with the new total
    items, _ = await sync(gql, member.access_token, since)
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "0"))]


async def test_a_pledge_made_for_a_member_reaches_the_member_and_the_facilitator(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given the Women's Union's group, and another community whose admin pledges for a member
    fishers = await register("admin@fishers.example", cluster_id, name="Fishers", kind="COMMUNITY")
    member = await join(gql, register, fishers, "member@fishers.example")
    group = await create(gql, shg)
    cursors = {who.email: await start(gql, who.access_token) for who in (fishers, member)}
    # when the admin pledges on the member's behalf
    pledged = await pledge(gql, fishers, group["id"], "15", onBehalfOf=member.user_id)
    # then both the member's app (with the notice) and the admin's app get the group
    items, cursors[member.email] = await sync(gql, member.access_token, cursors[member.email])
    assert brief(items) == [
        ("PURCHASE_GROUP", group["id"], "UPSERT"),
        ("NOTIFICATION", items[1]["id"], "UPSERT"),
    ]
    assert items[0] == upsert("PURCHASE_GROUP", group_node(group["id"], "15"))
    assert items[1]["notification"]["kind"] == "PLEDGE_MADE_FOR_YOU"
    items, cursors[fishers.email] = await sync(gql, fishers.access_token, cursors[fishers.email])
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "15"))]
    # when the admin withdraws it again
    body = await gql(PLEDGE_WITHDRAW, {"id": pledged["id"]}, token=fishers.access_token)
    assert body["data"]["purchaseGroupPledgeWithdraw"]["errors"] == [], body
    # then both apps are told to drop the group
    for who in (member, fishers):
        items, _ = await sync(gql, who.access_token, cursors[who.email])
        assert items == [tombstone("PURCHASE_GROUP", group["id"])], who.email


async def test_a_facilitator_whose_pledge_the_member_takes_over_gets_a_tombstone(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a pledge a community's admin made for a member, both synced after it
    fishers = await register("admin@fishers.example", cluster_id, name="Fishers", kind="COMMUNITY")
    member = await join(gql, register, fishers, "member@fishers.example")
    group = await create(gql, shg)
    pledged = await pledge(gql, fishers, group["id"], "15", onBehalfOf=member.user_id)
    fishers_since = await start(gql, fishers.access_token)
    member_since = await start(gql, member.access_token)
    # when the member changes the quantity themselves (they are now who acted on it)
    body = await gql(
        PLEDGE_UPDATE,
        {"input": {"pledgeId": pledged["id"], "quantity": "20"}},
        token=member.access_token,
    )
    assert body["data"]["purchaseGroupPledgeUpdate"]["errors"] == [], body
    assert body["data"]["purchaseGroupPledgeUpdate"]["pledge"]["actedBy"] == {
        "userId": member.user_id,
        "displayName": "member",
    }
    # then the member's app gets the new total
    items, _ = await sync(gql, member.access_token, member_since)
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "20"))]
    # and the admin's app, whose person no longer holds a pledge in the group (the feed's own
    # rule: participant or acted_by of an active pledge), is told to drop it
    items, _ = await sync(gql, fishers.access_token, fishers_since)
    assert items == [tombstone("PURCHASE_GROUP", group["id"])]


async def test_the_supplier_gets_its_groups_progress(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given a supplier firm, the community's group naming it as the counterpart, and a farm
    supplier = await register("feed@mill.example", cluster_id, name="Feed Mill")
    farm = await register("a@firm.example", cluster_id, name="Farm A")
    since = await start(gql, supplier.access_token)
    group = await create(gql, shg, counterpartOrganisationId=supplier.organisation_id)
    # then the supplier's app gets the group it supplies
    items, since = await sync(gql, supplier.access_token, since)
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "0"))]
    # when the farm pledges
    await pledge(gql, farm, group["id"], "40")
    # then the supplier's app gets the group's progress
    items, _ = await sync(gql, supplier.access_token, since)
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "40"))]


async def test_a_replaced_supplier_gets_a_tombstone(
    gql: GraphQL, register: Any, cluster_id: str, shg: Account
) -> None:
    # Given the community's group naming a supplier, which synced after getting it
    supplier = await register("feed@mill.example", cluster_id, name="Feed Mill")
    other = await register("feed@coop.example", cluster_id, name="Feed Co-op")
    group = await create(gql, shg, counterpartOrganisationId=supplier.organisation_id)
    since = await start(gql, supplier.access_token)
    other_since = await start(gql, other.access_token)
    # when the community names another supplier
    body = await gql(
        GROUP_UPDATE,
        {"input": {"id": group["id"], "counterpartOrganisationId": other.organisation_id}},
        token=shg.access_token,
    )
    assert body["data"]["purchaseGroupUpdate"]["errors"] == [], body
    # then the new supplier's app gets the group
    items, _ = await sync(gql, other.access_token, other_since)
    assert items == [upsert("PURCHASE_GROUP", group_node(group["id"], "0", version=2))]
    # and the old supplier's app is told to drop it
    items, _ = await sync(gql, supplier.access_token, since)
    assert items == [tombstone("PURCHASE_GROUP", group["id"])]
