"""The authorization matrix (issue 15): every query, mutation and subscription of the schema,
asked by each of eight kinds of viewer (tests/security/matrix_kit.py), with the answer it
should get.

The rows are read against the built schema: a root field without a row, or a row naming a
field that is gone, fails :func:`test_every_root_field_has_a_row`. Each answer is classified
(:func:`matrix_kit.classify`) as OK, EMPTY, NOT_FOUND or an error code, and every cell that
differs from its row is reported at once.

``KNOWN_DEFECTS`` lists cells whose answer today is not what it should be: the test holds them
to today's answer, so a fix fails here until its cell is removed from the list. ``SKIP_REASON``
lists rows the matrix does not run, and where they are tested instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from graphql import build_schema as parse_sdl

from backend.graphql.schema import build_schema
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import PASSWORD, SIGN_IN, GraphQL, organisation_input
from tests.events import kit as events
from tests.forums import kit as forums
from tests.forums.live_kit import SUBSCRIBE, THREAD_POSTS, live_server
from tests.marketplace.trading_kit import listing_input
from tests.purchasing.kit import group_input
from tests.security.matrix_kit import (
    EMPTY,
    FORBIDDEN,
    NOT_FOUND,
    OK,
    UNAUTHENTICATED,
    VIEWERS,
    Row,
    Variables,
    World,
    build_world,
    classify,
    expect,
    payload,
    public,
    signed_in,
    subscription_answer,
)

Factory = Callable[[World], Awaitable[Variables]]


def query(field: str, selection: str, arguments: str = "") -> str:
    """``query Q($a: T) { field(a: $a) { selection } }`` from ``arguments`` as
    ``"$a: T, $b: U"``."""
    declared = f"({arguments})" if arguments else ""
    passed = ", ".join(f"{a.split(':')[0][1:]}: {a.split(':')[0]}" for a in arguments.split(", "))
    return f"query Q{declared} {{ {field}{f'({passed})' if arguments else ''} {selection} }}"


def mutation(field: str, selection: str, arguments: str = "$input: {}Input!") -> str:
    """A payload mutation's document: ``selection`` and the payload's ``errors { code }``."""
    arguments = arguments.replace("{}", field[0].upper() + field[1:])
    declared = f"({arguments})" if arguments else ""
    passed = ", ".join(f"{a.split(':')[0][1:]}: {a.split(':')[0]}" for a in arguments.split(", "))
    call = f"{field}({passed})" if arguments else field
    return f"mutation M{declared} {{ {call} {{ {selection} errors {{ code }} }} }}"


def by_id(maker: Callable[[World], Awaitable[str]], name: str = "id", **more: Any) -> Factory:
    """Variables ``{name: <a new object's id>, **more}``."""

    async def make(world: World) -> Variables:
        return {name: await maker(world), **more}

    return make


def shared(key: str, name: str = "id", **more: Any) -> Factory:
    """Variables ``{name: <the id of a shared object>, **more}``."""

    async def make(world: World) -> Variables:
        return {name: world.shared[key], **more}

    return make


def given(build: Callable[[World], Variables]) -> Factory:
    async def make(world: World) -> Variables:
        return build(world)

    return make


def made(build: Callable[[World], Awaitable[Variables]]) -> Factory:
    return build


async def _register_input(world: World) -> Variables:
    email = f"{world.unique('new')}@register.example"
    organisation = organisation_input(world.cluster_id, name=f"New Firm {email}")
    return {
        "input": {
            "email": email,
            "password": PASSWORD,
            "displayName": "New",
            "organisation": organisation,
        }
    }


async def _join_input(world: World) -> Variables:
    # An invite to the partner's organisation, not A: joining A would change later rows.
    return {"input": {"inviteCode": await world.invite(world.partner)}}


async def _new_member(world: World) -> str:
    """The user id of a new member of firm A (registered with an invite, then signed in: the
    registration's answer does not say what it made)."""
    email = f"{world.unique('member')}@a.example"
    body = await world.run(
        """mutation($input: AccountRegisterInput!) {
             accountRegister(input: $input) { errors { code } } }""",
        {
            "input": {
                "email": email,
                "password": PASSWORD,
                "displayName": "Member",
                "inviteCode": await world.invite(world.firm),
            }
        },
        None,
    )
    assert body["data"]["accountRegister"]["errors"] == [], body
    signed_in = await world.run(SIGN_IN, {"input": {"email": email, "password": PASSWORD}}, None)
    token = payload(signed_in, "tokenCreate")["accessToken"]
    me = await world.run("{ me { user { id } } }", {}, token)
    user_id: str = me["data"]["me"]["user"]["id"]
    return user_id


async def _member_to_remove(world: World) -> Variables:
    user_id = await _new_member(world)
    return {"input": {"organisationId": world.firm.organisation_id, "userId": user_id}}


async def _account_to_disable(world: World) -> Variables:
    return {"input": {"userId": await _new_member(world), "reason": "Fake listings"}}


async def _account_to_enable(world: World) -> Variables:
    # an active account: enabling it changes nothing, and only platform admins may ask
    return {"input": {"userId": await _new_member(world)}}


async def _cluster_input(world: World) -> Variables:
    slug = world.unique("cluster-")
    return {
        "input": {
            "slug": slug,
            "name": f"Cluster {slug}",
            "region": "Okayama",
            "country": "JP",
            "sector": "WOOD",
            "centre": {"lat": 35.0, "lon": 133.0},
            "currency": "JPY",
            "languages": ["ja"],
            "timezone": "Asia/Tokyo",
        }
    }


async def _material_input(world: World) -> Variables:
    return {
        "input": {
            "code": world.unique("test-material-"),
            "parentCode": "wood-shavings",
            "name": "Test material",
        }
    }


async def _offer_input(world: World) -> Variables:
    listing_id = await world.listing()
    return {"input": {"listingId": listing_id, "quantity": "1", "pricePerUnit": "4500"}}


async def _counter_input(world: World) -> Variables:
    offer_id = await world.offer_to_a()
    return {"input": {"id": offer_id, "quantity": "3", "pricePerUnit": "4800"}}


async def _review_input(world: World) -> Variables:
    return {"input": {"tradeId": await world.completed_trade(), "rating": 4}}


async def _pledge_update_input(world: World) -> Variables:
    return {"input": {"pledgeId": await world.pledge(), "quantity": "20"}}


async def _device_input(world: World) -> Variables:
    token = f"ExponentPushToken[{world.unique('device')}]"
    return {"input": {"token": token, "platform": "ANDROID"}}


# --- waste licences ---------------------------------------------------------------------------

LICENCE_CREATE = """mutation($input: WasteLicenceCreateInput!) {
  wasteLicenceCreate(input: $input) { wasteLicence { id } errors { code } } }"""


def _licence_fields(world: World) -> Variables:
    return {
        "issuerName": "Okayama Prefecture",
        "number": world.unique("OK-"),
        "materialCodes": ["ewc-19-08-11"],
        "operations": ["TREATMENT"],
        "validFrom": "2027-01-01",
        "validTo": "2027-12-31",
    }


async def _licence(world: World, verified: bool = False) -> str:
    """A licence of A's naming the verified institution as its authority."""
    data = await world.step(
        LICENCE_CREATE,
        {"input": {**_licence_fields(world), "authorityId": world.verified.organisation_id}},
        world.firm.access_token,
        "wasteLicenceCreate",
    )
    licence_id: str = data["wasteLicence"]["id"]
    if verified:
        await world.step(
            """mutation($input: WasteLicenceVerifyInput!) {
                 wasteLicenceVerify(input: $input) { errors { code } } }""",
            {"input": {"id": licence_id}},
            world.admin_token,
            "wasteLicenceVerify",
        )
    return licence_id


async def _licences_filter(world: World) -> Variables:
    await _licence(world)
    return {"filter": {}}


async def _licence_create_input(world: World) -> Variables:
    return {"input": _licence_fields(world)}


async def _licence_update_input(world: World) -> Variables:
    return {"input": {"id": await _licence(world), "note": "Renewal filed"}}


async def _licence_verify_input(world: World) -> Variables:
    return {"input": {"id": await _licence(world)}}


async def _licence_unverify_input(world: World) -> Variables:
    return {"input": {"id": await _licence(world, verified=True), "reason": "Suspended"}}


# ---------------------------------------------------------------------------------------------
# The table. Each row: the operation, its document, its variables, and the answer per viewer.

IMPACT_FIELDS = "{ tradesCompleted }"

ROWS: list[Row] = [
    # --- identity ---------------------------------------------------------------------------
    Row(
        "me",
        query("me", "{ role }"),
        # null without a valid token
        expect(anonymous=NOT_FOUND, default=OK),
    ),
    Row("clusters", query("clusters", "{ totalCount }"), public()),
    Row(
        "cluster",
        query("cluster", "{ id }", "$id: ID!"),
        public(),
        given(lambda w: {"id": w.cluster_id}),
    ),
    Row(
        "organisation",
        query("organisation", "{ id }", "$id: ID!"),
        public(),
        given(lambda w: {"id": w.firm.organisation_id}),
    ),
    Row(
        "organisationMembers",
        query("organisationMembers", "{ totalCount }", "$organisationId: ID!"),
        expect(firm=OK, admin=OK),
        given(lambda w: {"organisationId": w.firm.organisation_id}),
    ),
    Row("organisations", query("organisations", "{ totalCount }"), public()),
    Row(
        "accountRegister",
        mutation("accountRegister", "user { id }"),
        public(),
        made(_register_input),
    ),
    Row(
        "tokenCreate",
        mutation("tokenCreate", "accessToken"),
        public(),
        given(lambda w: {"input": {"email": w.partner.email, "password": PASSWORD}}),
        consumes=False,
    ),
    Row(
        "tokenRefresh",
        mutation("tokenRefresh", "accessToken"),
        public(),
        made(lambda w: _refresh_input(w)),
    ),
    Row(
        "tokenRevoke",
        mutation("tokenRevoke", "revoked"),
        public(),
        made(lambda w: _refresh_input(w)),
    ),
    Row(
        "organisationInviteCreate",
        mutation("organisationInviteCreate", "invite { id }"),
        expect(firm=OK, admin=OK),
        given(lambda w: {"input": {"organisationId": w.firm.organisation_id}}),
        consumes=False,
    ),
    Row(
        "organisationUpdate",
        mutation("organisationUpdate", "organisation { id }"),
        expect(firm=OK, admin=OK),
        given(lambda w: {"input": {"id": w.firm.organisation_id, "description": "Sawdust"}}),
        consumes=False,
    ),
    Row(
        "organisationMemberRemove",
        mutation("organisationMemberRemove", "removedUserId"),
        expect(firm=OK, admin=OK),
        made(_member_to_remove),
    ),
    Row(
        "clusterCreate",
        mutation("clusterCreate", "cluster { id }"),
        expect(admin=OK),
        made(_cluster_input),
    ),
    # --- identity: platform admins' trust decisions ------------------------------------------
    Row(
        "organisationVerify",
        mutation("organisationVerify", "organisation { id }"),
        expect(admin=OK),
        # the partner firm: verifying it changes no viewer's rights in later rows
        given(lambda w: {"input": {"organisationId": w.partner.organisation_id}}),
        consumes=False,
    ),
    Row(
        "organisationUnverify",
        mutation("organisationUnverify", "organisation { id }"),
        expect(admin=OK),
        given(
            lambda w: {"input": {"organisationId": w.partner.organisation_id, "reason": "Moved"}}
        ),
        consumes=False,
    ),
    Row(
        "accountDisable",
        mutation("accountDisable", "active"),
        expect(admin=OK),
        made(_account_to_disable),
    ),
    Row(
        "accountEnable",
        mutation("accountEnable", "active"),
        expect(admin=OK),
        made(_account_to_enable),
        consumes=False,
    ),
    Row("auditRecords", query("auditRecords", "{ totalCount }"), expect(admin=OK)),
    # --- privacy: the person's own data and account ----------------------------------------
    Row("myDataExport", query("myDataExport", "{ complete }"), signed_in()),
    Row(
        "accountDelete",
        mutation("accountDelete", "deleted"),
        # a wrong password: every signed-in viewer reaches the check, and nobody is deleted
        # (deletion itself: tests/privacy/test_privacy.py)
        expect(default="INVALID_CREDENTIALS"),
        given(lambda w: {"input": {"password": "not the password of anyone"}}),
        consumes=False,
    ),
    # --- marketplace: listings and the catalogue ------------------------------------------
    Row("listings", query("listings", "{ totalCount }"), public()),
    Row(
        "listing",
        query("listing", "{ id }", "$id: ID!"),
        # a draft: its organisation's only (platform admins moderate published listings)
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, firm=OK),
        shared("draft"),
    ),
    Row(
        "myListings",
        query("myListings", "{ totalCount }"),
        # platform admins act for no organisation
        expect(default=EMPTY, firm=OK, admin=FORBIDDEN),
    ),
    Row("materials", query("materials", "{ totalCount }"), public()),
    Row(
        "material",
        query("material", "{ code }", "$code: String!"),
        public(),
        given(lambda w: {"code": "wood-shavings"}),
    ),
    Row("units", query("units", "{ code }"), public()),
    # the ISIC Rev. 4 activity picker: reference data, as the catalogue
    Row("activities", query("activities", "{ totalCount }"), public()),
    Row(
        "listingMatches",
        query("listingMatches", "{ totalCount }", "$listingId: ID!"),
        public(),
        shared("listing", "listingId"),
    ),
    Row(
        "listingMatches:draft",
        query("listingMatches", "{ totalCount }", "$listingId: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, firm=OK),
        shared("draft", "listingId"),
    ),
    Row(
        "listing:hidden",
        query("listing", "{ id }", "$id: ID!"),
        # hidden by a platform admin: its organisation and the moderators still read it
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, firm=OK, admin=OK),
        shared("hidden_listing"),
    ),
    Row(
        "listingCreate",
        mutation("listingCreate", "listing { id }"),
        expect(firm=OK, community=OK, other=OK),
        given(lambda w: {"input": listing_input(publish=False)}),
        consumes=False,
    ),
    Row(
        "listingUpdate",
        mutation("listingUpdate", "listing { id }"),
        expect(firm=OK),
        made(lambda w: _listing_update_input(w)),
        consumes=False,
    ),
    Row(
        "listingPublish",
        mutation("listingPublish", "listing { id }", "$id: ID!"),
        # a draft: nobody else may know it exists
        expect(default=NOT_FOUND, firm=OK),
        by_id(lambda w: w.draft()),
    ),
    Row(
        "listingClose",
        mutation("listingClose", "listing { id }", "$id: ID!"),
        expect(firm=OK),
        by_id(lambda w: w.listing()),
    ),
    Row(
        "listingDelete",
        mutation("listingDelete", "deletedId", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK),
        by_id(lambda w: w.draft()),
    ),
    Row(
        "listingHide",
        mutation("listingHide", "listing { id }"),
        expect(admin=OK),
        made(lambda w: _hide_input(w)),
    ),
    Row(
        "listingRestore",
        mutation("listingRestore", "listing { id }", "$id: ID!"),
        expect(admin=OK),
        by_id(lambda w: w.hidden_listing()),
    ),
    Row(
        "materialCreate",
        mutation("materialCreate", "material { code }"),
        expect(admin=OK),
        made(_material_input),
    ),
    # --- marketplace: offers, trades, reviews, impact --------------------------------------
    Row(
        "offers",
        query("offers", "{ totalCount }"),
        expect(default=EMPTY, firm=OK, admin=FORBIDDEN),
    ),
    Row(
        "offer",
        query("offer", "{ id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK),
        shared("offer"),
    ),
    Row(
        "trades",
        query("trades", "{ totalCount }"),
        expect(default=EMPTY, firm=OK, admin=OK),
    ),
    Row(
        "trade",
        query("trade", "{ id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK, admin=OK),
        shared("trade"),
    ),
    Row(
        "tradeMessages",
        query("tradeMessages", "{ totalCount }", "$tradeId: ID!"),
        # the two parties only, not even platform admins
        expect(default=NOT_FOUND, firm=OK),
        shared("trade", "tradeId"),
    ),
    Row(
        "organisationReviews",
        query("organisationReviews", "{ totalCount }", "$organisationId: ID!"),
        signed_in(),
        given(lambda w: {"organisationId": w.firm.organisation_id}),
    ),
    Row(
        "impactSummary",
        query("impactSummary", IMPACT_FIELDS, "$organisationId: ID"),
        # A's impact: A itself, platform admins and verified institutions (an unverified one
        # gets what a firm gets: Organisation.verified is being built for issue 15)
        expect(firm=OK, admin=OK, verified=OK),
        given(lambda w: {"organisationId": w.firm.organisation_id}),
    ),
    Row(
        "impactSummary:cluster",
        query("impactSummary", IMPACT_FIELDS, "$clusterId: ID"),
        expect(admin=OK, verified=OK),
        given(lambda w: {"clusterId": w.cluster_id}),
    ),
    Row(
        "clusterInsights",
        # aggregates for everyone; who sees names is tests/insights/test_cluster_insights.py's
        query("clusterInsights", "{ audience network { organisations } }", "$clusterId: ID!"),
        public(),
        given(lambda w: {"clusterId": w.cluster_id}),
    ),
    Row(
        "clusterComparison",
        query("clusterComparison", "{ insights { clusterId audience } }"),
        public(),
    ),
    Row(
        "offerCreate",
        mutation("offerCreate", "offer { id }"),
        # on A's listing: the others who trade; A does not answer its own listing
        expect(community=OK, other=OK),
        made(_offer_input),
        consumes=False,
    ),
    Row(
        "offerCreate:draft",
        mutation("offerCreate", "offer { id }"),
        # on a draft of A's: nobody else may know it exists
        # (the role gate answers first: institutions and platform admins do not trade)
        expect(
            default=NOT_FOUND,
            firm=FORBIDDEN,
            unverified=FORBIDDEN,
            verified=FORBIDDEN,
            admin=FORBIDDEN,
        ),
        given(
            lambda w: {
                "input": {"listingId": w.shared["draft"], "quantity": "1", "pricePerUnit": "1"}
            }
        ),
        consumes=False,
    ),
    Row(
        "offerCounter",
        mutation("offerCounter", "offer { id }"),
        expect(default=NOT_FOUND, firm=OK),
        made(_counter_input),
    ),
    Row(
        "offerAccept",
        mutation("offerAccept", "offer { id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK),
        by_id(lambda w: w.offer_to_a()),
    ),
    Row(
        "offerDecline",
        mutation("offerDecline", "offer { id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK),
        by_id(lambda w: w.offer_to_a()),
    ),
    Row(
        "offerWithdraw",
        mutation("offerWithdraw", "offer { id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK),
        by_id(lambda w: w.offer_by_a()),
    ),
    Row(
        "tradeMarkInTransit",
        mutation("tradeMarkInTransit", "trade { id }", "$id: ID!"),
        # platform admins read trades but only settle disputes
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        by_id(lambda w: w.trade()),
    ),
    Row(
        "tradeMarkDelivered",
        mutation("tradeMarkDelivered", "trade { id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        by_id(lambda w: w.trade()),
    ),
    Row(
        "tradeComplete",
        mutation("tradeComplete", "trade { id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        by_id(lambda w: w.delivered_trade()),
    ),
    Row(
        "tradeCancel",
        mutation("tradeCancel", "trade { id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        by_id(lambda w: w.trade()),
    ),
    Row(
        "tradeDispute",
        mutation("tradeDispute", "trade { id }", "$id: ID!, $reason: String!"),
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        by_id(lambda w: w.trade(), reason="Short by half"),
    ),
    Row(
        "tradeMessageSend",
        mutation("tradeMessageSend", "message { id }"),
        expect(default=NOT_FOUND, firm=OK),
        given(lambda w: {"input": {"tradeId": w.shared["trade"], "body": "Friday?"}}),
        consumes=False,
    ),
    Row(
        "reviewCreate",
        mutation("reviewCreate", "review { id }"),
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        made(_review_input),
    ),
    # --- purchasing ---------------------------------------------------------------------------
    Row(
        "purchaseGroups",
        query("purchaseGroups", "{ totalCount }"),
        # the only group is a MEMBERS group of A's
        expect(anonymous=EMPTY, default=EMPTY, firm=OK, admin=OK),
    ),
    Row(
        "purchaseGroup",
        query("purchaseGroup", "{ id }", "$id: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, firm=OK, admin=OK),
        shared("members_group"),
    ),
    Row(
        "myPledges",
        query("myPledges", "{ totalCount }"),
        expect(default=EMPTY, firm=OK),
    ),
    Row(
        "purchaseGroupPledges",
        query("purchaseGroupPledges", "{ totalCount }", "$groupId: ID!"),
        expect(default=NOT_FOUND, firm=OK, admin=OK),
        shared("members_group", "groupId"),
    ),
    Row(
        "purchaseGroupCreate",
        mutation("purchaseGroupCreate", "purchaseGroup { id }"),
        expect(firm=OK, community=OK, other=OK),
        given(lambda w: {"input": group_input()}),
        consumes=False,
    ),
    Row(
        "purchaseGroupUpdate",
        mutation("purchaseGroupUpdate", "purchaseGroup { id }"),
        expect(firm=OK),
        made(lambda w: _group_update_input(w)),
        consumes=False,
    ),
    Row(
        "purchaseGroupPledge",
        mutation("purchaseGroupPledge", "pledge { id }"),
        # anyone acting for an organisation of the cluster; platform admins take no part
        expect(default=OK, admin=FORBIDDEN),
        made(lambda w: _pledge_input(w)),
        consumes=False,
    ),
    Row(
        "purchaseGroupPledge:members",
        mutation("purchaseGroupPledge", "pledge { id }"),
        # a MEMBERS group of A's: nobody else may know it exists; platform admins read it
        # but take no part
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        made(lambda w: _pledge_input(w, visibility="MEMBERS")),
        consumes=False,
    ),
    Row(
        "purchaseGroupPledgeUpdate",
        mutation("purchaseGroupPledgeUpdate", "pledge { id }"),
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        made(_pledge_update_input),
        consumes=False,
    ),
    Row(
        "purchaseGroupPledgeWithdraw",
        mutation("purchaseGroupPledgeWithdraw", "pledge { id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK, admin=FORBIDDEN),
        by_id(lambda w: w.pledge()),
    ),
    Row(
        "purchaseGroupClose",
        mutation("purchaseGroupClose", "purchaseGroup { id }", "$id: ID!"),
        expect(firm=OK),
        by_id(lambda w: w.full_group()),
    ),
    Row(
        "purchaseGroupCancel",
        mutation("purchaseGroupCancel", "purchaseGroup { id }", "$id: ID!"),
        expect(firm=OK),
        by_id(lambda w: w.group()),
    ),
    Row(
        "purchaseGroupMarkOrdered",
        mutation("purchaseGroupMarkOrdered", "purchaseGroup { id }", "$id: ID!"),
        expect(firm=OK),
        by_id(lambda w: w.confirmed_group()),
    ),
    Row(
        "purchaseGroupMarkDelivered",
        mutation("purchaseGroupMarkDelivered", "purchaseGroup { id }", "$id: ID!"),
        expect(firm=OK),
        by_id(lambda w: w.ordered_group()),
    ),
    # --- forums (C's forums; A's admin posts in the CLUSTER one) ---------------------------
    Row(
        "forums",
        query("forums", "{ totalCount }"),
        # C's CLUSTER and MEMBERS forums; no PUBLIC one
        expect(anonymous=EMPTY, default=OK),
    ),
    Row(
        "forum",
        query("forum", "{ id }", "$id: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, community=OK, admin=OK),
        shared("members_forum"),
    ),
    Row(
        "threads",
        query("threads", "{ totalCount }", "$forumId: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, community=OK, admin=OK),
        shared("members_forum", "forumId"),
    ),
    Row(
        "thread",
        query("thread", "{ id }", "$id: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, community=OK, admin=OK),
        shared("members_thread"),
    ),
    Row(
        "posts",
        query("posts", "{ totalCount }", "$threadId: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, community=OK, admin=OK),
        shared("members_thread", "threadId"),
    ),
    Row(
        "reports",
        query("reports", "{ totalCount }", "$forumId: ID!"),
        expect(community=OK, admin=OK),
        shared("forum", "forumId"),
    ),
    Row(
        "forumCreate",
        mutation("forumCreate", "forum { id }"),
        # a community's admins for their community; platform admins for the named cluster
        expect(community=OK, admin=OK),
        given(
            lambda w: {
                "input": {"title": "New forum", "visibility": "CLUSTER", "clusterId": w.cluster_id}
            }
        ),
        consumes=False,
    ),
    Row(
        "forumUpdate",
        mutation("forumUpdate", "forum { id }"),
        expect(community=OK, admin=OK),
        given(lambda w: {"input": {"id": w.shared["forum"], "description": "About feed"}}),
        consumes=False,
    ),
    Row(
        "forumModeratorSet",
        mutation("forumModeratorSet", "forum { id }", "$forumId: ID!, $userId: ID!"),
        expect(community=OK, admin=OK),
        given(lambda w: {"forumId": w.shared["forum"], "userId": w.partner.user_id}),
        consumes=False,
    ),
    Row(
        "threadCreate",
        mutation("threadCreate", "thread { id }"),
        signed_in(),
        given(lambda w: {"input": {"forumId": w.shared["forum"], "title": "Prices", "body": "?"}}),
        consumes=False,
    ),
    Row(
        "threadCreate:members",
        mutation("threadCreate", "thread { id }"),
        expect(default=NOT_FOUND, community=OK, admin=OK),
        given(
            lambda w: {
                "input": {"forumId": w.shared["members_forum"], "title": "Prices", "body": "?"}
            }
        ),
        consumes=False,
    ),
    Row(
        "threadLock",
        mutation("threadLock", "thread { id }", "$id: ID!"),
        # moderators, not the thread's author
        expect(community=OK, admin=OK),
        by_id(lambda w: w.thread()),
    ),
    Row(
        "threadFollow",
        mutation("threadFollow", "thread { id }", "$id: ID!"),
        signed_in(),
        shared("thread"),
        consumes=False,
    ),
    Row(
        "threadPin",
        mutation("threadPin", "thread { id }", "$id: ID!"),
        expect(community=OK, admin=OK),
        by_id(lambda w: w.thread()),
    ),
    Row(
        "postCreate",
        mutation("postCreate", "post { id }"),
        signed_in(),
        given(lambda w: {"input": {"threadId": w.shared["thread"], "body": "Me too"}}),
        consumes=False,
    ),
    Row(
        "postCreate:members",
        mutation("postCreate", "post { id }"),
        expect(default=NOT_FOUND, community=OK, admin=OK),
        given(lambda w: {"input": {"threadId": w.shared["members_thread"], "body": "Me too"}}),
        consumes=False,
    ),
    Row(
        "postEdit",
        mutation("postEdit", "post { id }"),
        # the author only
        expect(firm=OK),
        made(lambda w: _post_edit_input(w)),
        consumes=False,
    ),
    Row(
        "postDelete",
        mutation("postDelete", "post { id }", "$id: ID!"),
        expect(firm=OK),
        by_id(lambda w: w.post()),
    ),
    Row(
        "postReact",
        mutation("postReact", "post { id }"),
        signed_in(),
        made(lambda w: _react_input(w)),
        consumes=False,
    ),
    Row(
        "postReport",
        mutation("postReport", "report { id }"),
        signed_in(),
        made(lambda w: _report_input(w)),
        consumes=False,
    ),
    Row(
        "postHide",
        mutation("postHide", "post { id }", "$id: ID!"),
        expect(community=OK, admin=OK),
        by_id(lambda w: w.post()),
    ),
    Row(
        "postRestore",
        mutation("postRestore", "post { id }", "$id: ID!"),
        expect(community=OK, admin=OK),
        by_id(lambda w: w.hidden_post()),
    ),
    Row(
        "reportResolve",
        mutation("reportResolve", "report { id }", "$id: ID!"),
        # a report is the moderators' business: hidden from everybody else
        expect(default=NOT_FOUND, community=OK, admin=OK),
        by_id(lambda w: w.report()),
    ),
    # --- events (the unverified institution's) ------------------------------------------------
    Row("events", query("events", "{ totalCount }"), public()),
    Row(
        "event",
        query("event", "{ id }", "$id: ID!"),
        # a draft: its organisers' and platform admins'
        expect(anonymous=NOT_FOUND, default=NOT_FOUND, unverified=OK, admin=OK),
        shared("draft_event"),
    ),
    Row(
        "eventRegister:draft",
        mutation("eventRegister", "registration { id }"),
        # a draft: nobody but its organisers and platform admins may know it exists
        expect(default=NOT_FOUND, unverified="REGISTRATION_CLOSED", admin="REGISTRATION_CLOSED"),
        given(lambda w: {"input": {"eventId": w.shared["draft_event"]}}),
        consumes=False,
    ),
    Row(
        "eventParticipants:draft",
        query("eventParticipants", "{ totalCount }", "$eventId: ID!"),
        expect(default=NOT_FOUND, unverified=EMPTY, admin=EMPTY),
        shared("draft_event", "eventId"),
    ),
    Row(
        "organisedEvents",
        query("organisedEvents", "{ totalCount }"),
        expect(default=EMPTY, unverified=OK, admin=FORBIDDEN),
    ),
    Row(
        "myRegistrations",
        query("myRegistrations", "{ totalCount }"),
        expect(default=EMPTY, firm=OK),
    ),
    Row(
        "eventParticipants",
        query("eventParticipants", "{ totalCount }", "$eventId: ID!"),
        expect(unverified=OK, admin=OK),
        shared("event", "eventId"),
    ),
    Row(
        "eventCreate",
        mutation("eventCreate", "event { id }"),
        # a seminar: institutions only (communities hold community meetings)
        expect(unverified=OK, verified=OK),
        given(lambda w: {"input": events.event_input(w.cluster_id)}),
        consumes=False,
    ),
    Row(
        "eventUpdate",
        mutation("eventUpdate", "event { id }"),
        expect(unverified=OK),
        made(lambda w: _event_update_input(w)),
        consumes=False,
    ),
    Row(
        "eventPublish",
        mutation("eventPublish", "event { id }", "$id: ID!"),
        # a draft: hidden from everybody but its organisers and platform admins
        expect(default=NOT_FOUND, unverified=OK, admin=FORBIDDEN),
        by_id(lambda w: w.event(publish=False)),
    ),
    Row(
        "eventCancel",
        mutation("eventCancel", "event { id }", "$id: ID!"),
        expect(unverified=OK, admin=OK),
        by_id(lambda w: w.event()),
    ),
    Row(
        "eventRegister",
        mutation("eventRegister", "registration { id }"),
        signed_in(),
        made(lambda w: _event_register_input(w)),
        consumes=False,
    ),
    Row(
        "eventRegistrationCancel",
        mutation("eventRegistrationCancel", "registration { id }", "$id: ID!"),
        # people cancel their own registrations; the organisers (who see them) are refused,
        # anybody else is not told that the registration exists
        expect(default=NOT_FOUND, firm=OK, unverified=FORBIDDEN),
        by_id(lambda w: w.registration()),
    ),
    Row(
        "eventRegistrationApprove",
        mutation("eventRegistrationApprove", "registration { id }", "$id: ID!"),
        # the organisers; the registrant is refused; anybody else is not told it exists
        expect(default=NOT_FOUND, unverified=OK, firm=FORBIDDEN),
        by_id(lambda w: w.pending_registration()),
    ),
    Row(
        "eventRegistrationReject",
        mutation("eventRegistrationReject", "registration { id }", "$id: ID!"),
        expect(default=NOT_FOUND, unverified=OK, firm=FORBIDDEN),
        by_id(lambda w: w.pending_registration()),
    ),
    Row(
        "eventCheckIn",
        mutation("eventCheckIn", "registration { id }", "$id: ID!"),
        expect(default=NOT_FOUND, unverified=OK, firm=FORBIDDEN),
        by_id(lambda w: w.registration_to_check_in()),
        consumes=False,
    ),
    Row("calendarFeedRotate", mutation("calendarFeedRotate", "feedPath", ""), signed_in()),
    # --- notifications and sync ---------------------------------------------------------------
    Row("notificationPreferences", query("notificationPreferences", "{ kind }"), signed_in()),
    Row(
        "notifications",
        query("notifications", "{ pageInfo { hasNextPage } }"),
        signed_in(),
    ),
    Row("notificationsUnreadCount", query("notificationsUnreadCount", ""), signed_in()),
    Row(
        "deviceRegister",
        mutation("deviceRegister", "device { id }"),
        signed_in(),
        made(_device_input),
    ),
    Row(
        "deviceUnregister",
        mutation("deviceUnregister", "removed", "$token: String!"),
        signed_in(),
        given(lambda w: {"token": "ExponentPushToken[nobody]"}),
        consumes=False,
    ),
    Row(
        "notificationPreferenceSet",
        mutation("notificationPreferenceSet", "preference { enabled }"),
        signed_in(),
        given(lambda w: {"input": {"kind": "EVENT_CHANGED", "channel": "PUSH", "enabled": False}}),
        consumes=False,
    ),
    Row(
        "notificationsMarkRead",
        mutation("notificationsMarkRead", "unreadCount"),
        signed_in(),
        given(lambda w: {"input": {}}),
        consumes=False,
    ),
    Row("changes", query("changes", "{ hasMore }"), signed_in()),
    # --- the subscription, over WebSocket (graphql-transport-ws) on a live server -------------
    Row(
        "postAdded",
        SUBSCRIBE,
        # C's MEMBERS thread: its readers; a token that is not valid (the removed member's)
        # closes the connection with 4403 (README, "Live posts")
        expect(
            anonymous=NOT_FOUND,
            default=NOT_FOUND,
            community=OK,
            admin=OK,
            removed=UNAUTHENTICATED,
        ),
        shared("members_thread", "thread"),
    ),
    Row(
        "threadPosts",
        THREAD_POSTS,
        # the same rule as postAdded: the first message of a reader is the SUBSCRIBED event
        expect(
            anonymous=NOT_FOUND,
            default=NOT_FOUND,
            community=OK,
            admin=OK,
            removed=UNAUTHENTICATED,
        ),
        shared("members_thread", "thread"),
    ),
    # --- umbrella permits: permits, members, conditions, allocations, transfers ---------------
    # The matrix's world holds no permit: its viewers see none and find none. Who may do what
    # to a permit (holder, members, authority ...) is tested in tests/permits/test_authorization.py.
    Row(
        "permits",
        query("permits", "{ totalCount }"),
        expect(default=EMPTY),
    ),
    Row(
        "permit",
        query("permit", "{ id }", "$id: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND),
        given(lambda w: {"id": "0b7a5a8e-4b3c-4c1e-9f7e-5a1d2c3b4a59"}),
    ),
    Row(
        "permitCondition",
        query("permitCondition", "{ id }", "$id: ID!"),
        expect(anonymous=NOT_FOUND, default=NOT_FOUND),
        given(lambda w: {"id": "0b7a5a8e-4b3c-4c1e-9f7e-5a1d2c3b4a5a"}),
    ),
    # --- waste licences (issue 19): a licence of A's naming the verified institution as its
    # issuing authority; the unverified institution is no authority; a platform admin verifies
    # but, acting for no organisation, records none ------------------------------------------
    Row(
        "wasteLicences",
        query("wasteLicences", "{ totalCount }", "$filter: WasteLicenceFilter"),
        expect(default=EMPTY, firm=OK, verified=OK, admin=OK, anonymous=UNAUTHENTICATED),
        made(_licences_filter),
    ),
    Row(
        "wasteLicence",
        query("wasteLicence", "{ id }", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK, verified=OK, admin=OK),
        by_id(_licence),
    ),
    Row(
        "wasteLicenceCreate",
        mutation("wasteLicenceCreate", "wasteLicence { id }"),
        signed_in(admin=FORBIDDEN),
        made(_licence_create_input),
    ),
    Row(
        "wasteLicenceUpdate",
        mutation("wasteLicenceUpdate", "wasteLicence { id }"),
        expect(default=NOT_FOUND, firm=OK, verified=FORBIDDEN, admin=FORBIDDEN),
        made(_licence_update_input),
    ),
    Row(
        "wasteLicenceDelete",
        mutation("wasteLicenceDelete", "deletedId", "$id: ID!"),
        expect(default=NOT_FOUND, firm=OK, verified=FORBIDDEN, admin=FORBIDDEN),
        by_id(_licence),
    ),
    Row(
        "wasteLicenceVerify",
        mutation("wasteLicenceVerify", "wasteLicence { id }"),
        expect(default=NOT_FOUND, firm=FORBIDDEN, verified=OK, admin=OK),
        made(_licence_verify_input),
    ),
    Row(
        "wasteLicenceUnverify",
        mutation("wasteLicenceUnverify", "wasteLicence { id }"),
        expect(default=NOT_FOUND, firm=FORBIDDEN, verified=OK, admin=OK),
        made(_licence_unverify_input),
    ),
    # Last: joining an organisation changes the viewer's memberships.
    Row(
        "organisationJoin",
        mutation("organisationJoin", "membership { role }"),
        signed_in(),
        made(_join_input),
    ),
]


async def _refresh_input(world: World) -> Variables:
    return {"input": {"refreshToken": await world.refresh_token()}}


async def _listing_update_input(world: World) -> Variables:
    return {"input": {"id": await world.listing(), "title": "Cedar shavings, very dry"}}


async def _event_update_input(world: World) -> Variables:
    return {"input": {"id": await world.event(), "description": "Bring boots"}}


async def _event_register_input(world: World) -> Variables:
    return {"input": {"eventId": await world.event()}}


async def _hide_input(world: World) -> Variables:
    return {"input": {"id": await world.listing(), "reason": "Spam"}}


async def _group_update_input(world: World) -> Variables:
    return {"input": {"id": await world.group(), "description": "Sacks of 20 kg"}}


async def _pledge_input(world: World, **group: Any) -> Variables:
    return {"input": {"groupId": await world.group(**group), "quantity": "5"}}


async def _post_edit_input(world: World) -> Variables:
    return {"input": {"id": await world.post(), "body": "Call 556"}}


async def _react_input(world: World) -> Variables:
    return {"input": {"postId": await world.post(), "reaction": "THANKS"}}


async def _report_input(world: World) -> Variables:
    # a post of the partner's: nobody reports their own
    post_id = await forums.post(
        world.gql, world.partner.access_token, world.shared["thread"], "Buy now"
    )
    return {"input": {"postId": post_id, "reason": "Spam"}}


# Rows the matrix does not run, with where their permissions are tested instead.
SKIP_REASON: dict[str, str] = {
    # umbrella permits: the matrix's world has no permit; every operation of this part, for
    # ten kinds of viewer (holder, members, authority, verified or not ...), is in
    # tests/permits/test_authorization.py
    **dict.fromkeys(
        [
            "permitIssue",
            "permitUpdate",
            "permitMemberAdd",
            "permitMemberRemove",
            "permitConditionAdd",
            "permitConditionUpdate",
            "permitAllocationSet",
            "permitAllocationTransfer",
            "permitTransferDecide",
            "permitTransferCancel",
        ],
        "tests/permits/test_authorization.py",
    ),
    # --- umbrella permits: returns, compliance, the report (issue 19, the returns part) -----
    # The matrix's world has no permit yet (permits are made through the permits API of the
    # other part of issue 19); every viewer kind of the matrix and the permit's own (the member
    # plain and admin, another covered member, the holder's admin, the issuing authority
    # verified and not, another authority) is asked in the module below.
    "permitReturnDraft": "tests/permits/test_returns_authorization.py",
    "permitReturnFile": "tests/permits/test_returns_authorization.py",
    "permitReturns": "tests/permits/test_returns_authorization.py",
    "permitReturnVersions": "tests/permits/test_returns_authorization.py",
    "permitConditionCompliance": "tests/permits/test_returns_authorization.py",
    "permitReport": "tests/permits/test_returns_authorization.py",
    "permitReportLink": "tests/permits/test_returns_authorization.py",
}

# Cells whose answer today differs from what it should be: (operation, viewer) -> (today's
# answer, why it is wrong). The test holds these cells to today's answer; whoever fixes one
# removes it from here.
KNOWN_DEFECTS: dict[tuple[str, str], tuple[str, str]] = {}


def root_fields() -> set[str]:
    """The root fields of Query, Mutation and Subscription of the schema the app builds."""
    built = parse_sdl(build_schema(Settings()).as_str())
    fields: set[str] = set()
    for root in (built.query_type, built.mutation_type, built.subscription_type):
        assert root is not None
        fields.update(root.fields)
    return fields


def test_every_root_field_has_a_row() -> None:
    fields = root_fields()
    rows = {row.field for row in ROWS} | set(SKIP_REASON)
    missing = sorted(fields - rows)
    stale = sorted(rows - fields)
    assert not missing, f"root fields without a row in the authorization matrix: {missing}"
    assert not stale, f"rows naming fields the schema no longer has: {stale}"
    operations = [row.operation for row in ROWS]
    assert len(operations) == len(set(operations)), "an operation has two rows of one name"
    for row in ROWS:
        assert set(row.expected) == set(VIEWERS), row.operation
    for operation, viewer in KNOWN_DEFECTS:
        assert operation in operations, operation
        assert viewer in VIEWERS, viewer


async def test_each_viewer_gets_the_answer_of_the_matrix(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    platform_admin_token: str,
    db: Database,
    settings: Settings,
    clock: ManualClock,
) -> None:
    world = await build_world(gql, register, cluster_id, platform_admin_token)
    mismatches: list[str] = []
    for row in ROWS:
        if row.document.lstrip().startswith("subscription"):
            mismatches.extend(await _subscription_cells(row, world, db, settings, clock))
            continue
        is_mutation = row.document.lstrip().startswith("mutation")
        variables = await row.variables(world) if row.variables else {}
        # Successes last, so that a success using up the row's object comes after the refusals.
        for viewer in sorted(VIEWERS, key=lambda v: row.expected[v] == OK):
            body = await world.run(row.document, variables, world.tokens[viewer])
            actual = classify(body, row.field)
            mismatches.extend(_judge(row, viewer, actual, body))
            if is_mutation and row.consumes and actual == OK and row.variables:
                variables = await row.variables(world)
    assert not mismatches, "\n".join(
        [f"{len(mismatches)} cells of the authorization matrix differ:", *mismatches]
    )


async def _subscription_cells(
    row: Row, world: World, db: Database, settings: Settings, clock: ManualClock
) -> list[str]:
    assert row.variables is not None
    variables = await row.variables(world)
    broadcaster = InProcessBroadcaster()
    mismatches: list[str] = []
    async with live_server(settings, db, clock, broadcaster) as address:
        for viewer in VIEWERS:
            actual = await subscription_answer(
                address,
                broadcaster,
                row.document,
                variables,
                world.tokens[viewer],
                variables["thread"],
            )
            mismatches.extend(_judge(row, viewer, actual, {}))
    return mismatches


def _judge(row: Row, viewer: str, actual: str, body: dict[str, Any]) -> list[str]:
    expected = row.expected[viewer]
    cell = f"{row.operation} × {viewer}"  # noqa: RUF001 - the matrix's own sign
    known = KNOWN_DEFECTS.get((row.operation, viewer))
    if known is not None:
        today, why = known
        if actual == today:
            return []
        return [
            f"{cell}: known defect ({why}) answered {today}, now {actual} (expected "
            f"{expected}): move the cell out of KNOWN_DEFECTS"
        ]
    if actual == expected:
        return []
    detail = ""
    if actual not in (OK, EMPTY, NOT_FOUND, FORBIDDEN, UNAUTHENTICATED):
        detail = f" ({str(body)[:300]})"
    return [f"{cell}: expected {expected}, got {actual}{detail}"]
