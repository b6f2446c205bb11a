"""Access ends when trust ends (issue 15, item 4): after signing out, after removal from the
organisation and after the account is disabled, the next request with the old access token is
answered as if it carried no token, in every domain, for reads and writes, over HTTP, over
WebSockets and on the file exports."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from backend.graphql import router
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Base, Database
from backend.settings import Settings
from tests.conftest import Account, GraphQL
from tests.events.kit import event_input
from tests.forums.kit import join, open_forum
from tests.forums.live_kit import live_server, receive, subscribed
from tests.identity.kit import REMOVE, invite_code, sign_in
from tests.marketplace.trading_kit import listing_input
from tests.purchasing.kit import group_input

# What a signed-in member reads in each domain, and a public read (the forum list) that a
# token which no longer counts must answer as for anyone.
READS = {
    "identity": "{ me { role organisation { id } } }",
    "marketplace": "{ myListings { totalCount } offers { totalCount } trades { totalCount } }",
    "marketplace impact": "{ impactSummary { tradesCompleted } }",
    "purchasing": "{ myPledges { totalCount } }",
    "forums": "{ forums { totalCount } }",
    "events": "{ myRegistrations { totalCount } organisedEvents { totalCount } }",
    "notifications": "{ notificationsUnreadCount }",
    "sync": "{ changes { hasMore } }",
}

ERRORS = "errors { code message }"


def meeting(cluster_id: str) -> dict[str, Any]:
    return event_input(cluster_id, kind="COMMUNITY_MEETING", format="IN_PERSON", onlineUrl=None)


def answer(body: dict[str, Any]) -> dict[str, Any]:
    """What an app acts on: the data, and each error's path and code (the messages of an ended
    sign-in say more than "sign in", on purpose)."""
    return {
        "data": body.get("data"),
        "errors": [(e.get("path"), e["extensions"]["code"]) for e in body.get("errors", [])],
    }


def writes(organisation_id: str, forum_id: str, cluster_id: str) -> dict[str, tuple[str, Any]]:
    """One change per domain that the member could make while they belonged."""
    return {
        "identity": (
            "mutation($i: OrganisationUpdateInput!) "
            f"{{ organisationUpdate(input: $i) {{ {ERRORS} }} }}",
            {"id": organisation_id, "description": "Taken over"},
        ),
        "marketplace": (
            f"mutation($i: ListingCreateInput!) {{ listingCreate(input: $i) {{ {ERRORS} }} }}",
            listing_input(),
        ),
        "purchasing": (
            "mutation($i: PurchaseGroupCreateInput!) "
            f"{{ purchaseGroupCreate(input: $i) {{ {ERRORS} }} }}",
            group_input(),
        ),
        "forums": (
            f"mutation($i: ThreadCreateInput!) {{ threadCreate(input: $i) {{ {ERRORS} }} }}",
            {"forumId": forum_id, "title": "Still here", "body": "Am I?"},
        ),
        "events": (
            f"mutation($i: EventCreateInput!) {{ eventCreate(input: $i) {{ {ERRORS} }} }}",
            meeting(cluster_id),
        ),
        "notifications": (
            f"mutation($i: DeviceRegisterInput!) {{ deviceRegister(input: $i) {{ {ERRORS} }} }}",
            {"token": "ExponentPushToken[stillhere]", "platform": "ANDROID"},
        ),
    }


@dataclass
class Community:
    admin: Account
    member: Account
    forum_id: str


@pytest.fixture
async def community(gql: GraphQL, register: Any, cluster_id: str) -> Community:
    """A self-help group with a members-only forum, and a member who joined with an invite and
    is signed in for it."""
    admin = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    forum_id = await open_forum(gql, admin.access_token, "MEMBERS", title="Our corner")
    member = await join(gql, register, admin, "member@example.org", role="ADMIN")
    return Community(admin=admin, member=member, forum_id=forum_id)


async def end_access(how: str, gql: GraphQL, community: Community, admin_token: str) -> None:
    member = community.member
    if how == "signed out":
        body = await gql(
            "mutation($t: String!) { tokenRevoke(input: {refreshToken: $t}) { revoked } }",
            {"t": member.refresh_token},
            token="",
        )
        assert body["data"]["tokenRevoke"]["revoked"] is True, body
    elif how == "removed":
        body = await gql(
            REMOVE,
            {"organisationId": community.admin.organisation_id, "userId": member.user_id},
            token=community.admin.access_token,
        )
        assert body["data"]["organisationMemberRemove"]["errors"] == [], body
    else:
        body = await gql(
            "mutation($i: AccountDisableInput!) { accountDisable(input: $i) { active errors "
            "{ code } } }",
            {"i": {"userId": member.user_id, "reason": "Selling fake certificates"}},
            token=admin_token,
        )
        assert body["data"]["accountDisable"] == {"active": False, "errors": []}, body


async def row_counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            table.name: await session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


ENDINGS = ["signed out", "removed", "disabled"]


@pytest.mark.parametrize("how", ENDINGS)
async def test_reads_answer_as_for_no_token_once_access_ends(
    gql: GraphQL, community: Community, platform_admin_token: str, how: str
) -> None:
    token = community.member.access_token
    anonymous = {domain: answer(await gql(query, token="")) for domain, query in READS.items()}
    # Given a member whose token reads more than anybody can, in every domain
    before = {domain: answer(await gql(query, token=token)) for domain, query in READS.items()}
    assert [d for d in READS if before[d] == anonymous[d]] == []

    # when their access ends
    await end_access(how, gql, community, platform_admin_token)

    # then the very next request with the same token is answered as for no token at all
    after = {domain: answer(await gql(query, token=token)) for domain, query in READS.items()}
    assert {d: after[d] for d in READS if after[d] != anonymous[d]} == {}


@pytest.mark.parametrize("how", ENDINGS)
async def test_writes_are_refused_and_change_nothing_once_access_ends(
    gql: GraphQL,
    db: Database,
    community: Community,
    platform_admin_token: str,
    cluster_id: str,
    how: str,
) -> None:
    # Given a member whose access ended
    await end_access(how, gql, community, platform_admin_token)
    counts = await row_counts(db)
    changes = writes(community.admin.organisation_id or "", community.forum_id, cluster_id)

    # when they try a change in every domain with their old token
    answers = {}
    for domain, (mutation, given) in changes.items():
        body = await gql(mutation, {"i": given}, token=community.member.access_token)
        (payload,) = body["data"].values()
        answers[domain] = [error["code"] for error in payload["errors"]]

    # then each is refused as unauthenticated, with a message that says why, and nothing
    # was written anywhere
    assert answers == {domain: ["UNAUTHENTICATED"] for domain in changes}
    assert "no longer gives access" in payload["errors"][0]["message"]
    assert await row_counts(db) == counts


async def test_a_disabled_account_cannot_sign_in_or_refresh(
    gql: GraphQL, community: Community, platform_admin_token: str
) -> None:
    await end_access("disabled", gql, community, platform_admin_token)
    refreshed = await gql(
        "mutation($t: String!) { tokenRefresh(input: {refreshToken: $t}) { errors { code } } }",
        {"t": community.member.refresh_token},
        token="",
    )
    assert refreshed["data"]["tokenRefresh"]["errors"] == [{"code": "TOKEN_INVALID"}]


async def test_a_removed_member_still_acts_for_their_other_organisation(
    gql: GraphQL, register: Any, cluster_id: str, community: Community
) -> None:
    # Given the member also belongs to a sawmill, and is signed in for it too
    sawmill = await register("mill@example.org", cluster_id, name="Sawmill")
    joined = await gql(
        "mutation($c: String!) { organisationJoin(input: {inviteCode: $c}) { errors { code } } }",
        {"c": await invite_code(gql, sawmill)},
        token=community.member.access_token,
    )
    assert joined["data"]["organisationJoin"]["errors"] == [], joined
    for_sawmill = await sign_in(gql, community.member.email, sawmill.organisation_id)

    # when the group removes them
    await end_access("removed", gql, community, "")

    # then their sign-in for the sawmill still acts for the sawmill, and the group's is over
    me = "{ me { organisation { id } } }"
    assert await gql(me, token=for_sawmill) == {
        "data": {"me": {"organisation": {"id": sawmill.organisation_id}}}
    }
    assert await gql(me, token=community.member.access_token) == {"data": {"me": None}}


async def test_the_participants_export_refuses_an_ended_token(
    gql: GraphQL, community: Community, platform_admin_token: str, cluster_id: str
) -> None:
    # Given an event the member organises for the group
    created = await gql(
        "mutation($i: EventCreateInput!) { eventCreate(input: $i) { event { id } errors "
        "{ code } } }",
        {
            "i": event_input(
                cluster_id, kind="COMMUNITY_MEETING", format="IN_PERSON", onlineUrl=None
            )
        },
        token=community.member.access_token,
    )
    event_id = created["data"]["eventCreate"]["event"]["id"]
    path = f"/exports/events/{event_id}/participants.csv"
    auth = {"Authorization": f"Bearer {community.member.access_token}"}
    assert (await gql.http.get(path, headers=auth)).status_code == 200
    # when the member signs out, then the export is refused
    await end_access("signed out", gql, community, platform_admin_token)
    refused = await gql.http.get(path, headers=auth)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "UNAUTHENTICATED"


async def until_closed(ws: Any) -> None:
    async with asyncio.timeout(10):
        while True:
            await receive(ws)


async def test_a_websocket_closes_when_access_ends_and_an_ended_token_cannot_connect(
    db: Database,
    settings: Settings,
    clock: ManualClock,
    gql: GraphQL,
    community: Community,
    platform_admin_token: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # (the watch asks every few milliseconds instead of every 30 s)
    monkeypatch.setattr(router, "ACCESS_RECHECK_SECONDS", 0.02)
    thread = await gql(
        "mutation($i: ThreadCreateInput!) { threadCreate(input: $i) { thread { id } } }",
        {"i": {"forumId": community.forum_id, "title": "Feed", "body": "?"}},
        token=community.admin.access_token,
    )
    thread_id = thread["data"]["threadCreate"]["thread"]["id"]
    token = community.member.access_token
    async with live_server(settings, db, clock, InProcessBroadcaster()) as address:
        # Given the member watching a thread of the members-only forum
        async with subscribed(address, token, thread_id) as ws:
            # when they are removed from the group
            await end_access("removed", gql, community, platform_admin_token)
            # then the server closes the connection, saying why
            with pytest.raises(ConnectionClosed) as closed:
                await until_closed(ws)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (4403, "Access ended")

        # and a new connection with the same token is refused before anything else
        async with connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            init = {"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}
            await ws.send(json.dumps(init))
            with pytest.raises(ConnectionClosed) as refused:
                await receive(ws)
        assert refused.value.rcvd is not None
        assert refused.value.rcvd.code == 4403


async def test_a_disabled_accounts_calendar_feed_answers_as_unknown(
    gql: GraphQL, community: Community, platform_admin_token: str
) -> None:
    # Given the member's personal calendar feed, which calendar apps poll without a token
    rotated = await gql(
        "mutation { calendarFeedRotate { feedPath errors { code } } }",
        token=community.member.access_token,
    )
    path = rotated["data"]["calendarFeedRotate"]["feedPath"]
    assert (await gql.http.get(path)).status_code == 200
    # when the account is disabled, then its feed address no longer answers
    await end_access("disabled", gql, community, platform_admin_token)
    assert (await gql.http.get(path)).status_code == 404
