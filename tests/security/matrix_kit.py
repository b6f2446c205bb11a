"""The machinery of the authorization matrix (tests/security/test_authorization_matrix.py): the
eight kinds of viewer, the objects the rows act on, how an answer is classified, and the rows'
shape. The table itself lives in the test module. Not a test module.

Viewers (built once per test, :func:`build_world`):

- ``anonymous``: no token;
- ``firm``: an admin of firm A, the "home" organisation of most rows' objects (listings,
  offers, trades, purchasing groups, posts);
- ``community``: an admin of community C, which owns the forums;
- ``unverified`` / ``verified``: admins of two institutions; the unverified one holds the
  events (an unverified institution keeps what it may do for its own organisation);
- ``admin``: a platform admin;
- ``other``: an admin of firm B of the same cluster, acting on A's objects;
- ``removed``: someone who joined A as an admin, signed in, and was then removed from A through
  ``organisationMemberRemove``; their requests carry the access token from before the removal.

A partner firm P, which is no viewer, is the other party of A's offers and trades.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from backend.forums import service as forums_service
from backend.kit.broadcast import Broadcaster
from tests.conftest import PASSWORD, SIGN_IN, Account, GraphQL
from tests.events import kit as events
from tests.forums import kit as forums
from tests.forums.live_kit import WAIT, receive
from tests.identity.kit import REMOVE, invite_code, verify
from tests.marketplace import trading_kit as trading
from tests.purchasing import kit as purchasing

# The answers a cell may expect. A payload mutation's first error code is used as it is
# (CONFLICT, CAPACITY_REACHED ...); these are the common ones.
OK = "OK"
EMPTY = "EMPTY"  # a connection the viewer may read, with nothing in it for them (totalCount 0)
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
NOT_FOUND = "NOT_FOUND"  # a NOT_FOUND error, or null where the schema hides what one may not see

VIEWERS = (
    "anonymous",
    "firm",
    "community",
    "unverified",
    "verified",
    "admin",
    "other",
    "removed",
)

Variables = dict[str, Any]


def expect(
    anonymous: str = UNAUTHENTICATED, default: str = FORBIDDEN, **cells: str
) -> dict[str, str]:
    """One row's expected answers: ``default`` for every signed-in viewer not named, and the
    removed member as anonymous (their old token is no token at all) unless the row says
    otherwise."""
    unknown = set(cells) - set(VIEWERS)
    assert not unknown, f"no such viewer: {sorted(unknown)}"
    expected = dict.fromkeys(VIEWERS, default)
    expected["anonymous"] = anonymous
    expected["removed"] = anonymous
    expected.update(cells)
    return expected


def public(**cells: str) -> dict[str, str]:
    """Anyone may, signed in or not."""
    return expect(anonymous=OK, default=OK, **cells)


def signed_in(**cells: str) -> dict[str, str]:
    """Anyone signed in may."""
    return expect(default=OK, **cells)


@dataclass(frozen=True)
class Row:
    """One operation of the schema (``operation`` is its root field, with ``:variant`` when an
    operation has more than one row), the document sent, the variables (made from the world;
    made again after a viewer's success when ``consumes``) and the answer per viewer."""

    operation: str
    document: str
    expected: dict[str, str]
    variables: Callable[[World], Awaitable[Variables]] | None = None
    consumes: bool = True

    @property
    def field(self) -> str:
        return self.operation.split(":")[0]


def classify(body: dict[str, Any], field: str) -> str:
    """The answer in the matrix's words: the first GraphQL error's code, else the payload's
    first error code, else NOT_FOUND for a null answer, EMPTY for a connection without items,
    else OK."""
    if body.get("errors"):
        code: str = body["errors"][0].get("extensions", {}).get("code", "NO_CODE")
        return code
    data = (body.get("data") or {}).get(field)
    if data is None:
        return NOT_FOUND
    if isinstance(data, dict):
        if data.get("errors"):
            payload_code: str = data["errors"][0]["code"]
            return payload_code
        if data.get("totalCount") == 0:
            return EMPTY
    if isinstance(data, list) and not data:
        return EMPTY
    return OK


async def subscription_answer(
    address: str,
    broadcaster: Broadcaster,
    document: str,
    variables: Variables,
    token: str | None,
    thread_id: str,
) -> str:
    """A ``postAdded`` or ``threadPosts`` subscription over graphql-transport-ws, classified:
    UNAUTHENTICATED when the server closes the connection with 4403 (a token that is not
    valid), the code of an ``error`` message, or OK once the server listens for the thread on
    the subscriber's behalf (or confirms it does). The connection is closed, and its listener
    gone, before this returns."""
    channel = forums_service.post_channel(uuid.UUID(thread_id))
    async with connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        payload = {"authorization": f"Bearer {token}"} if token else {}
        await ws.send(json.dumps({"type": "connection_init", "payload": payload}))
        try:
            acknowledged = await receive(ws)
        except ConnectionClosed as closed:
            code = closed.rcvd.code if closed.rcvd else None
            return UNAUTHENTICATED if code == 4403 else f"CLOSED_{code}"
        assert acknowledged == {"type": "connection_ack"}, acknowledged
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": document, "variables": variables},
                }
            )
        )
        answered = asyncio.ensure_future(receive(ws))
        listening = asyncio.ensure_future(_until_subscribers(broadcaster, channel, 1))
        done, _ = await asyncio.wait(
            {answered, listening}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
        )
        for task in (answered, listening):
            if task not in done:
                task.cancel()
        assert done, "the subscription was neither refused nor registered"
        if answered in done:
            message = answered.result()
            # a refusal is an ``error`` message, or a ``next`` one carrying the errors
            errors = message["payload"] if message["type"] == "error" else []
            if message["type"] == "next":
                errors = message["payload"].get("errors") or []
            if errors:
                return str(errors[0].get("extensions", {}).get("code", "NO_CODE"))
            if not _subscribed(message):  # threadPosts confirms first: that is OK
                return f"MESSAGE_{message['type']}"
    await _until_subscribers(broadcaster, channel, 0)
    return OK


def _subscribed(message: dict[str, Any]) -> bool:
    """Whether ``message`` is threadPosts' confirmation that the subscription is live."""
    data = (message.get("payload") or {}).get("data") or {}
    event = data.get("threadPosts") if isinstance(data, dict) else None
    return message["type"] == "next" and isinstance(event, dict) and event["kind"] == "SUBSCRIBED"


async def _until_subscribers(broadcaster: Broadcaster, channel: str, count: int) -> None:
    """Wait (by condition, not by time) until the channel has ``count`` listeners."""
    async with asyncio.timeout(WAIT):
        while await broadcaster.subscribers(channel) != count:  # noqa: ASYNC110 - no event
            await asyncio.sleep(0.01)


async def verify_institution(client: GraphQL, admin_token: str, organisation_id: str) -> None:
    """A platform admin verifies an institution (``organisationVerify``)."""
    await verify(client, admin_token, organisation_id)


def payload(body: dict[str, Any], name: str) -> dict[str, Any]:
    """A mutation's payload that must have succeeded (a step of building the world)."""
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"][name]
    assert data["errors"] == [], body
    return data


@dataclass
class World:
    """The viewers' tokens and the factories of the objects the rows act on."""

    gql: GraphQL
    cluster_id: str
    tokens: dict[str, str | None]
    firm: Account
    community: Account
    unverified: Account
    verified: Account
    other: Account
    partner: Account
    removed: Account
    admin_token: str
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    shared: dict[str, str] = field(default_factory=dict)

    def unique(self, prefix: str = "x") -> str:
        return f"{prefix}{next(self.counter)}"

    async def run(self, document: str, variables: Variables, token: str | None) -> dict[str, Any]:
        return await self.gql(document, variables, token=token or "")

    async def step(self, document: str, variables: Variables, token: str, name: str) -> Any:
        return payload(await self.run(document, variables, token), name)

    # --- identity ---------------------------------------------------------------------------

    async def refresh_token(self) -> str:
        """A new refresh token of the partner's (each works once)."""
        body = await self.run(
            SIGN_IN, {"input": {"email": self.partner.email, "password": PASSWORD}}, None
        )
        token: str = payload(body, "tokenCreate")["refreshToken"]
        return token

    async def invite(self, admin: Account, role: str = "MEMBER") -> str:
        return await invite_code(self.gql, admin, role)

    # --- marketplace --------------------------------------------------------------------------

    async def listing(self, token: str | None = None, **overrides: Any) -> str:
        """A listing of A (published unless ``publish=False``)."""
        listing = await trading.publish(self.gql, token or self.firm.access_token, **overrides)
        listing_id: str = listing["id"]
        return listing_id

    async def draft(self) -> str:
        return await self.listing(publish=False)

    async def hidden_listing(self) -> str:
        listing_id = await self.listing()
        await self.step(
            """mutation($input: ListingHideInput!) {
                 listingHide(input: $input) { errors { code } } }""",
            {"input": {"id": listing_id, "reason": "Spam"}},
            self.admin_token,
            "listingHide",
        )
        return listing_id

    async def offer_to_a(self) -> str:
        """An offer of the partner's on a listing of A: A's turn to answer."""
        offer = await trading.make_offer(self.gql, self.partner.access_token, await self.listing())
        offer_id: str = offer["id"]
        return offer_id

    async def offer_by_a(self) -> str:
        """An offer of A's on a WANT listing of the partner's: A made it."""
        wanted = await self.listing(self.partner.access_token, kind="WANT", pricePerUnit="4000")
        offer = await trading.make_offer(self.gql, self.firm.access_token, wanted)
        offer_id: str = offer["id"]
        return offer_id

    async def trade(self) -> str:
        """An AGREED trade: A supplies, the partner receives."""
        trade = await trading.agreed_trade(
            self.gql, self.firm.access_token, self.partner.access_token
        )
        trade_id: str = trade["id"]
        return trade_id

    async def delivered_trade(self) -> str:
        """A trade the partner reported delivered: A confirms it."""
        trade_id = await self.trade()
        step = await trading.trade_step(
            self.gql, self.partner.access_token, "tradeMarkDelivered", trade_id
        )
        assert step["errors"] == [], step
        return trade_id

    async def completed_trade(self) -> str:
        """A COMPLETED trade that neither party reviewed yet."""
        trade = await trading.completed_trade(
            self.gql, self.firm.access_token, self.partner.access_token
        )
        trade_id: str = trade["id"]
        return trade_id

    # --- purchasing ---------------------------------------------------------------------------

    async def group(self, **extra: Any) -> str:
        """An OPEN purchasing group A organises (CLUSTER: every viewer of the cluster reads it)."""
        group = await purchasing.create(self.gql, self.firm, **extra)
        group_id: str = group["id"]
        return group_id

    async def pledge(self, group_id: str | None = None, quantity: str = "10") -> str:
        """A pledge of A's admin (the firm viewer) in a group of A's."""
        made = await purchasing.pledge(
            self.gql, self.firm, group_id or await self.group(), quantity
        )
        pledge_id: str = made["id"]
        return pledge_id

    async def full_group(self) -> str:
        """An OPEN group whose minimum is pledged: it may be closed."""
        group_id = await self.group()
        await self.pledge(group_id, "100")
        return group_id

    async def confirmed_group(self) -> str:
        group_id = await self.full_group()
        await self.step(
            purchasing.CLOSE, {"id": group_id}, self.firm.access_token, "purchaseGroupClose"
        )
        return group_id

    async def ordered_group(self) -> str:
        group_id = await self.confirmed_group()
        await self.step(
            purchasing.MARK_ORDERED,
            {"id": group_id},
            self.firm.access_token,
            "purchaseGroupMarkOrdered",
        )
        return group_id

    # --- forums -------------------------------------------------------------------------------

    async def thread(self) -> str:
        """A thread A's admin started in C's CLUSTER forum."""
        return await forums.start_thread(self.gql, self.firm.access_token, self.shared["forum"])

    async def post(self) -> str:
        """A post of A's admin in C's CLUSTER forum."""
        return await forums.post(
            self.gql, self.firm.access_token, self.shared["thread"], "Call 555"
        )

    async def hidden_post(self) -> str:
        post_id = await self.post()
        await self.step(
            """mutation($id: ID!) { postHide(id: $id) { errors { code } } }""",
            {"id": post_id},
            self.community.access_token,
            "postHide",
        )
        return post_id

    async def report(self) -> str:
        """An open report of the partner's about a post of A's."""
        post_id = await self.post()
        data = await self.step(
            """mutation($input: PostReportInput!) {
                 postReport(input: $input) { report { id } errors { code } } }""",
            {"input": {"postId": post_id, "reason": "Spam"}},
            self.partner.access_token,
            "postReport",
        )
        report_id: str = data["report"]["id"]
        return report_id

    # --- events -------------------------------------------------------------------------------

    async def event(self, publish: bool = True, **extra: Any) -> str:
        """An event of the unverified institution (published unless ``publish=False``)."""
        token = self.unverified.access_token
        created = await events.create_event(self.gql, token, self.cluster_id, **extra)
        event_id: str = created["id"]
        if publish:
            await events.publish(self.gql, token, event_id)
        return event_id

    async def registration(self, **extra: Any) -> str:
        """The firm viewer's registration for an event of the unverified institution."""
        event_id = await self.event(**extra)
        made = await events.register_for(self.gql, self.firm.access_token, event_id)
        registration_id: str = made["id"]
        return registration_id

    async def pending_registration(self) -> str:
        return await self.registration(requiresApproval=True)

    async def registration_to_check_in(self) -> str:
        """A confirmed registration for an event starting two hours after the test clock's
        start: inside the check-in window."""
        return await self.registration(
            startsAt="2027-03-01T11:00:00+09:00", endsAt="2027-03-01T13:00:00+09:00"
        )


async def build_world(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> World:
    """The viewers, the partner, and the objects many rows read (in ``World.shared``)."""
    firm = await register("firm@a.example", cluster_id, name="A Sawmill", kind="FIRM")
    community = await register(
        "shg@c.example", cluster_id, name="C Women's Union", kind="COMMUNITY"
    )
    unverified = await register(
        "desk@unverified.example", cluster_id, name="Unverified College", kind="INSTITUTION"
    )
    verified = await register(
        "desk@verified.example",
        cluster_id,
        name="Verified Environment Office",
        kind="INSTITUTION",
        # a public authority: waste licences may name only one as their issuer
        subtype="LOCAL_GOVERNMENT",
    )
    other = await register("firm@b.example", cluster_id, name="B Pellets", kind="FIRM")
    partner = await register("firm@p.example", cluster_id, name="P Boilers", kind="FIRM")
    await verify_institution(gql, platform_admin_token, str(verified.organisation_id))

    removed: Account = await register(
        "gone@a.example", invite_code=await invite_code(gql, firm, "ADMIN")
    )
    assert removed.organisation_id == firm.organisation_id
    body = await gql(
        REMOVE,
        {"organisationId": firm.organisation_id, "userId": removed.user_id},
        token=firm.access_token,
    )
    payload(body, "organisationMemberRemove")

    world = World(
        gql=gql,
        cluster_id=cluster_id,
        tokens={
            "anonymous": None,
            "firm": firm.access_token,
            "community": community.access_token,
            "unverified": unverified.access_token,
            "verified": verified.access_token,
            "admin": platform_admin_token,
            "other": other.access_token,
            "removed": removed.access_token,
        },
        firm=firm,
        community=community,
        unverified=unverified,
        verified=verified,
        other=other,
        partner=partner,
        removed=removed,
        admin_token=platform_admin_token,
    )
    shared = world.shared
    # Marketplace: a published listing and a draft of A's, an offer to A, a completed trade
    # (reviewed by the partner, with a message) and an agreed one.
    shared["listing"] = await world.listing()
    shared["draft"] = await world.draft()
    shared["hidden_listing"] = await world.hidden_listing()
    await world.listing(world.partner.access_token, kind="WANT", pricePerUnit="4000")
    shared["offer"] = await world.offer_to_a()
    shared["trade"] = await world.trade()
    shared["completed_trade"] = await world.completed_trade()
    await world.step(
        trading.REVIEW_CREATE,
        {"input": {"tradeId": shared["completed_trade"], "rating": 5, "comment": "Dry"}},
        partner.access_token,
        "reviewCreate",
    )
    await world.step(
        trading.MESSAGE_SEND,
        {"input": {"tradeId": shared["trade"], "body": "Tuesday?"}},
        partner.access_token,
        "tradeMessageSend",
    )
    # Purchasing: a MEMBERS group of A's with the firm viewer's pledge.
    shared["members_group"] = await world.group(visibility="MEMBERS")
    await world.pledge(shared["members_group"])
    # Forums: C's CLUSTER forum with a thread, and its MEMBERS forum with a thread and a post.
    shared["forum"] = await forums.open_forum(gql, community.access_token, "CLUSTER")
    shared["thread"] = await forums.start_thread(gql, community.access_token, shared["forum"])
    shared["members_forum"] = await forums.open_forum(
        gql, community.access_token, "MEMBERS", title="Members only"
    )
    shared["members_thread"] = await forums.start_thread(
        gql, community.access_token, shared["members_forum"]
    )
    await forums.post(gql, community.access_token, shared["members_thread"], "Hello")
    await world.report()
    # Events: a draft and a published event of the unverified institution, the firm viewer
    # registered for the published one.
    shared["draft_event"] = await world.event(publish=False)
    shared["event"] = await world.event()
    await events.register_for(gql, firm.access_token, shared["event"])
    return world
