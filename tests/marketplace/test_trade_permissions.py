"""Who may do what in trading, one rule per test, through the API: offers (making, reading,
whose turn, withdrawing), trades (reading, each step, disputes), messages, reviews, the impact
summary and listing matches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.db import Database
from backend.kit.validation import Place
from backend.marketplace.models import Listing
from tests.conftest import CLOCK_START, Account, GraphQL
from tests.identity.kit import verify
from tests.marketplace.trading_kit import (
    IMPACT,
    LISTING,
    MATCHES,
    MESSAGE_SEND,
    MESSAGES,
    OFFER,
    OFFER_ACCEPT,
    OFFER_COUNTER,
    OFFER_CREATE,
    OFFER_DECLINE,
    OFFER_WITHDRAW,
    OFFERS,
    REVIEW_CREATE,
    REVIEWS,
    TRADE,
    TRADE_MUTATIONS,
    TRADES,
    accept,
    agreed_trade,
    completed_trade,
    make_offer,
    publish,
    trade_step,
)

CLOSE = """
mutation Close($id: ID!) { listingClose(id: $id) { listing { status } errors { code } } }
"""
HIDE = """
mutation Hide($input: ListingHideInput!) {
  listingHide(input: $input) { listing { hidden } errors { code } }
}
"""

OFFER_ANSWERS = {
    "offerAccept": OFFER_ACCEPT,
    "offerDecline": OFFER_DECLINE,
    "offerCounter": OFFER_COUNTER,
    "offerWithdraw": OFFER_WITHDRAW,
}

OTHER_PARTYS_TURN = {
    "code": "FORBIDDEN",
    "message": "It is the other party's turn to answer",
    "field": None,
}
OFFER_NOT_FOUND = {"code": "NOT_FOUND", "message": "Offer not found", "field": "id"}
TRADE_NOT_FOUND = {"code": "NOT_FOUND", "message": "Trade not found", "field": "id"}
SETTLED_BY_ADMINS = {
    "code": "FORBIDDEN",
    "message": "A disputed trade is settled by the platform admins",
    "field": None,
}


@dataclass
class Parties:
    owner: Account  # Maniwa Sawmill: lists the material
    maker: Account  # Katsuyama Pellet Works: makes the offers
    third: Account  # Hiruzen Charcoal: a firm with no part in it


@pytest.fixture
async def parties(register: Any, cluster_id: str) -> Parties:
    return Parties(
        owner=await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill"),
        maker=await register(
            "pellets@maniwa.example",
            cluster_id,
            name="Katsuyama Pellet Works",
            location={"lat": 35.0, "lon": 133.72, "placeName": "Kuse"},
        ),
        third=await register("coal@hiruzen.example", cluster_id, name="Hiruzen Charcoal"),
    )


async def mutation_errors(
    gql: GraphQL, document: str, name: str, variables: dict[str, Any], token: str
) -> list[dict[str, Any]]:
    """The ``errors`` of a mutation's payload (the request itself must not fail)."""
    body = await gql(document, variables, token=token)
    assert "errors" not in body, body
    errors: list[dict[str, Any]] = body["data"][name]["errors"]
    return errors


async def offer_errors(gql: GraphQL, name: str, offer_id: str, token: str) -> list[dict[str, Any]]:
    """Answer (or withdraw) an offer; a counter proposes 4 t at 4800."""
    variables: dict[str, Any] = {"id": offer_id}
    if name == "offerCounter":
        variables = {"input": {"id": offer_id, "quantity": "4", "pricePerUnit": "4800"}}
    return await mutation_errors(gql, OFFER_ANSWERS[name], name, variables, token)


def query_failure(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The (code, message) of each GraphQL error of a failed query."""
    assert body["data"] is None, body
    return [(e["extensions"]["code"], e["message"]) for e in body["errors"]]


async def read_offer(gql: GraphQL, offer_id: str, token: str) -> dict[str, Any] | None:
    body = await gql(OFFER, {"id": offer_id}, token=token)
    assert "errors" not in body, body
    offer: dict[str, Any] | None = body["data"]["offer"]
    return offer


async def read_trade(gql: GraphQL, trade_id: str, token: str) -> dict[str, Any] | None:
    body = await gql(TRADE, {"id": trade_id}, token=token)
    assert "errors" not in body, body
    trade: dict[str, Any] | None = body["data"]["trade"]
    return trade


async def listing_status(gql: GraphQL, listing_id: str, token: str) -> str:
    body = await gql(LISTING, {"id": listing_id}, token=token)
    status: str = body["data"]["listing"]["status"]
    return status


# ---------------------------------------------------------------------------------------------
# Making an offer


async def test_offers_are_made_by_signed_in_firms_and_communities_only(
    gql: GraphQL, register: Any, cluster_id: str, parties: Parties
) -> None:
    # given the sawmill's active listing, a university and a women's group
    listing = await publish(gql, parties.owner.access_token)
    university = await register(
        "lab@okayama-u.example", cluster_id, name="Okayama University", kind="INSTITUTION"
    )
    group = await register(
        "women@shg.example", cluster_id, name="Hiruzen Women's Group", kind="COMMUNITY"
    )
    offer_input = {"input": {"listingId": listing["id"], "quantity": "2", "pricePerUnit": "4000"}}

    # when nobody signed in offers, then it is refused
    assert await mutation_errors(gql, OFFER_CREATE, "offerCreate", offer_input, token="") == [
        {"code": "UNAUTHENTICATED", "message": "Sign in to do this", "field": None}
    ]
    # when the university offers, then institutions are not traders
    assert await mutation_errors(
        gql, OFFER_CREATE, "offerCreate", offer_input, token=university.access_token
    ) == [{"code": "FORBIDDEN", "message": "Only firms and communities may do this", "field": None}]
    # when the women's group offers, then its offer waits for the sawmill
    offer = await make_offer(gql, group.access_token, listing["id"], quantity="2", price="4000")
    assert (offer["status"], offer["maker"]["id"], offer["awaiting"]["id"]) == (
        "PENDING",
        group.organisation_id,
        parties.owner.organisation_id,
    )
    # and neither refused attempt left an offer behind
    received = await gql(OFFERS, {"filter": {"role": "RECEIVED"}}, token=parties.owner.access_token)
    assert [e["node"]["id"] for e in received["data"]["offers"]["edges"]] == [offer["id"]]


async def test_nobody_offers_on_their_own_listing(gql: GraphQL, parties: Parties) -> None:
    # given the sawmill's active listing
    listing = await publish(gql, parties.owner.access_token)

    # when the sawmill offers on it, then it is refused on listingId
    errors = await mutation_errors(
        gql,
        OFFER_CREATE,
        "offerCreate",
        {"input": {"listingId": listing["id"], "quantity": "2", "pricePerUnit": "4000"}},
        token=parties.owner.access_token,
    )
    assert errors == [
        {
            "code": "FORBIDDEN",
            "message": "You cannot make an offer on your own listing",
            "field": "listingId",
        }
    ]


@pytest.mark.parametrize("state", ["draft", "hidden"])
async def test_a_listing_others_may_not_read_takes_no_offers(
    gql: GraphQL, parties: Parties, platform_admin_token: str, state: str
) -> None:
    # given a draft of the sawmill, or a listing a platform admin hid
    listing = await publish(gql, parties.owner.access_token, publish=state != "draft")
    if state == "hidden":
        hiding = await gql(
            HIDE, {"input": {"id": listing["id"], "reason": "Spam"}}, token=platform_admin_token
        )
        assert hiding["data"]["listingHide"] == {"listing": {"hidden": True}, "errors": []}

    # when the pellet maker offers on it, then the listing does not exist for it
    errors = await mutation_errors(
        gql,
        OFFER_CREATE,
        "offerCreate",
        {"input": {"listingId": listing["id"], "quantity": "2", "pricePerUnit": "4000"}},
        token=parties.maker.access_token,
    )
    assert errors == [{"code": "NOT_FOUND", "message": "Listing not found", "field": "listingId"}]


@pytest.mark.parametrize("state", ["CLOSED", "RESERVED", "EXPIRED"])
async def test_a_listing_that_is_not_active_takes_no_offers(
    gql: GraphQL, db: Database, parties: Parties, state: str
) -> None:
    # given the sawmill's 10 t listing, closed, all taken by another firm, or past its expiry
    listing = await publish(gql, parties.owner.access_token)
    if state == "CLOSED":
        closing = await gql(CLOSE, {"id": listing["id"]}, token=parties.owner.access_token)
        assert closing["data"]["listingClose"] == {"listing": {"status": "CLOSED"}, "errors": []}
    elif state == "RESERVED":
        everything = await make_offer(gql, parties.third.access_token, listing["id"], "10")
        await accept(gql, parties.owner.access_token, everything["id"])
        assert await listing_status(gql, listing["id"], parties.maker.access_token) == "RESERVED"
    else:
        async with db.write() as session:
            await session.execute(
                update(Listing)
                .where(Listing.id == uuid.UUID(listing["id"]))
                .values(expires_at=CLOCK_START - timedelta(minutes=1))
            )

    # when the pellet maker offers 2 t, then the listing takes no offers now
    errors = await mutation_errors(
        gql,
        OFFER_CREATE,
        "offerCreate",
        {"input": {"listingId": listing["id"], "quantity": "2", "pricePerUnit": "4000"}},
        token=parties.maker.access_token,
    )
    if state == "RESERVED":  # sold out: the answer an app gives to any offer that does not fit
        assert errors == [
            {
                "code": "CAPACITY_REACHED",
                "message": "Nothing is left of the listing: all 10 TNE are taken by trades",
                "field": "quantity",
            }
        ]
    else:
        assert errors == [
            {
                "code": "CONFLICT",
                "message": f"The listing is {state}: it takes no offers now",
                "field": "listingId",
            }
        ]


# ---------------------------------------------------------------------------------------------
# Reading offers


async def test_only_the_two_organisations_read_an_offer(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given the pellet maker's offer on the sawmill's listing
    listing = await publish(gql, parties.owner.access_token)
    offer = await make_offer(gql, parties.maker.access_token, listing["id"])

    # when the maker and the owner read it, then both see the same offer
    for party in (parties.maker, parties.owner):
        seen = await read_offer(gql, offer["id"], party.access_token)
        assert seen is not None
        assert (seen["id"], seen["maker"]["id"], seen["owner"]["id"]) == (
            offer["id"],
            parties.maker.organisation_id,
            parties.owner.organisation_id,
        )
    # when a third firm or a platform admin reads it, then there is no such offer for them
    assert await read_offer(gql, offer["id"], parties.third.access_token) is None
    assert await read_offer(gql, offer["id"], platform_admin_token) is None

    # and the lists: the maker's made, the owner's received, nothing for the third firm
    made = await gql(OFFERS, {"filter": {"role": "MADE"}}, token=parties.maker.access_token)
    assert [e["node"]["id"] for e in made["data"]["offers"]["edges"]] == [offer["id"]]
    received = await gql(OFFERS, {"filter": {"role": "RECEIVED"}}, token=parties.owner.access_token)
    assert [e["node"]["id"] for e in received["data"]["offers"]["edges"]] == [offer["id"]]
    for role in (None, "MADE", "RECEIVED"):
        others = await gql(OFFERS, {"filter": {"role": role}}, token=parties.third.access_token)
        assert others["data"]["offers"]["totalCount"] == 0, others
        assert others["data"]["offers"]["edges"] == []
    # and a platform admin, who acts for no organisation, has no offers to list
    listed = await gql(OFFERS, {}, token=platform_admin_token)
    assert query_failure(listed) == [("FORBIDDEN", "Act for an organisation to have offers")]


# ---------------------------------------------------------------------------------------------
# Whose turn


async def test_a_pending_offer_is_answered_by_the_listing_owner_only(
    gql: GraphQL, parties: Parties
) -> None:
    # given the pellet maker's pending offer on the sawmill's listing
    listing = await publish(gql, parties.owner.access_token)
    offer = await make_offer(gql, parties.maker.access_token, listing["id"])
    maker_view = await read_offer(gql, offer["id"], parties.maker.access_token)
    owner_view = await read_offer(gql, offer["id"], parties.owner.access_token)
    assert maker_view is not None
    assert owner_view is not None
    assert (maker_view["viewerCanAnswer"], owner_view["viewerCanAnswer"]) == (False, True)

    # when the maker accepts, declines or counters its own offer, then it is not its turn
    for name in ("offerAccept", "offerDecline", "offerCounter"):
        errors = await offer_errors(gql, name, offer["id"], parties.maker.access_token)
        assert errors == [OTHER_PARTYS_TURN], name
    assert await read_offer(gql, offer["id"], parties.maker.access_token) == maker_view

    # when the owner declines, then it is declined
    declined = await gql(
        OFFER_DECLINE, {"id": offer["id"], "reason": "Sold"}, token=parties.owner.access_token
    )
    payload = declined["data"]["offerDecline"]
    assert (payload["errors"], payload["offer"]["status"]) == ([], "DECLINED")


async def test_a_countered_offer_is_answered_by_the_maker_only(
    gql: GraphQL, parties: Parties
) -> None:
    # given the sawmill countered the pellet maker's offer
    listing = await publish(gql, parties.owner.access_token)
    offer = await make_offer(gql, parties.maker.access_token, listing["id"])
    assert await offer_errors(gql, "offerCounter", offer["id"], parties.owner.access_token) == []
    countered = await read_offer(gql, offer["id"], parties.owner.access_token)
    assert countered is not None
    assert (countered["status"], countered["awaiting"]["id"], countered["viewerCanAnswer"]) == (
        "COUNTERED",
        parties.maker.organisation_id,
        False,
    )

    # when the sawmill accepts, declines or counters again (with other terms), then it waits
    for name, variables in (
        ("offerAccept", {"id": offer["id"]}),
        ("offerDecline", {"id": offer["id"]}),
        ("offerCounter", {"input": {"id": offer["id"], "quantity": "3", "pricePerUnit": "4900"}}),
    ):
        errors = await mutation_errors(
            gql, OFFER_ANSWERS[name], name, variables, token=parties.owner.access_token
        )
        assert errors == [OTHER_PARTYS_TURN], name
    assert await read_offer(gql, offer["id"], parties.owner.access_token) == countered

    # when the pellet maker accepts the counter, then a trade starts
    trade = await accept(gql, parties.maker.access_token, offer["id"])
    assert (trade["status"], trade["pricePerUnit"]) == ("AGREED", "4800")


async def test_a_third_organisation_cannot_touch_an_offer(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given the pellet maker's pending offer, and the same offer countered by the sawmill
    listing = await publish(gql, parties.owner.access_token)
    pending = await make_offer(gql, parties.maker.access_token, listing["id"])
    other = await publish(gql, parties.owner.access_token, title="Cypress shavings")
    countered = await make_offer(gql, parties.maker.access_token, other["id"])
    assert (
        await offer_errors(gql, "offerCounter", countered["id"], parties.owner.access_token) == []
    )

    # when a third firm or a platform admin answers or withdraws either, then no such offer
    for offer in (pending, countered):
        before = await read_offer(gql, offer["id"], parties.maker.access_token)
        for token in (parties.third.access_token, platform_admin_token):
            for name in OFFER_ANSWERS:
                assert await offer_errors(gql, name, offer["id"], token) == [OFFER_NOT_FOUND], name
        # and the offer is as it was
        assert await read_offer(gql, offer["id"], parties.maker.access_token) == before


async def test_only_the_maker_withdraws_an_offer(gql: GraphQL, parties: Parties) -> None:
    # given the pellet maker's pending offer on the sawmill's listing
    listing = await publish(gql, parties.owner.access_token)
    offer = await make_offer(gql, parties.maker.access_token, listing["id"])
    owner_view = await read_offer(gql, offer["id"], parties.owner.access_token)
    assert owner_view is not None
    assert (offer["viewerCanWithdraw"], owner_view["viewerCanWithdraw"]) == (True, False)

    # when the sawmill withdraws it, then only the maker may
    assert await offer_errors(gql, "offerWithdraw", offer["id"], parties.owner.access_token) == [
        {"code": "FORBIDDEN", "message": "Only the maker withdraws an offer", "field": None}
    ]
    assert await read_offer(gql, offer["id"], parties.owner.access_token) == owner_view

    # when the pellet maker withdraws it, then it is withdrawn
    withdrawn = await gql(OFFER_WITHDRAW, {"id": offer["id"]}, token=parties.maker.access_token)
    payload = withdrawn["data"]["offerWithdraw"]
    assert (payload["errors"], payload["offer"]["status"]) == ([], "WITHDRAWN")


# ---------------------------------------------------------------------------------------------
# Trades


async def test_a_third_organisation_neither_reads_nor_moves_a_trade(
    gql: GraphQL, parties: Parties
) -> None:
    # given an agreed trade between the sawmill and the pellet maker
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)

    # when a third firm reads it or lists its trades, then it is not there
    assert await read_trade(gql, trade["id"], parties.third.access_token) is None
    listed = await gql(TRADES, {}, token=parties.third.access_token)
    assert listed["data"]["trades"]["totalCount"] == 0, listed
    assert listed["data"]["trades"]["edges"] == []

    # when it tries every step, then there is no such trade
    for name in TRADE_MUTATIONS:
        payload = await trade_step(gql, parties.third.access_token, name, trade["id"])
        assert payload == {"trade": None, "errors": [TRADE_NOT_FOUND]}, name
    # and the trade is as it was
    assert await read_trade(gql, trade["id"], parties.owner.access_token) == trade


async def test_a_platform_admin_reads_a_trade_but_does_not_move_it(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given an agreed trade between the sawmill and the pellet maker
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)

    # when a platform admin reads it, then it sees the trade, on neither side and with no steps
    seen = await read_trade(gql, trade["id"], platform_admin_token)
    assert seen is not None
    assert (seen["id"], seen["status"], seen["myRole"]) == (trade["id"], "AGREED", None)
    assert [
        seen[name]
        for name in (
            "viewerCanMarkInTransit",
            "viewerCanMarkDelivered",
            "viewerCanComplete",
            "viewerCanCancel",
            "viewerCanDispute",
            "viewerCanReview",
        )
    ] == [False] * 6

    # when it marks the trade in transit or delivered, cancels or disputes it, then it may not
    for name, message in (
        ("tradeMarkInTransit", "Only the supplier sends the material"),
        ("tradeMarkDelivered", "Only the two parties report a delivery"),
        ("tradeCancel", "Only the parties cancel a trade"),
        ("tradeDispute", "Only the parties dispute a trade"),
    ):
        payload = await trade_step(gql, platform_admin_token, name, trade["id"])
        assert payload == {
            "trade": None,
            "errors": [{"code": "FORBIDDEN", "message": message, "field": None}],
        }, name
    # and the trade is as it was
    assert await read_trade(gql, trade["id"], parties.owner.access_token) == trade
    # and it lists every trade (to find the disputed ones), with no side of its own
    listed = await gql(TRADES, {}, token=platform_admin_token)
    nodes = [e["node"] for e in listed["data"]["trades"]["edges"]]
    assert [(n["id"], n["myRole"]) for n in nodes] == [(trade["id"], None)]


async def test_only_the_supplier_marks_a_trade_in_transit(gql: GraphQL, parties: Parties) -> None:
    # given an agreed trade: the sawmill supplies, the pellet maker receives
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)
    assert (trade["myRole"], trade["viewerCanMarkInTransit"]) == ("SUPPLIER", True)
    receiver_view = await read_trade(gql, trade["id"], parties.maker.access_token)
    assert receiver_view is not None
    assert (receiver_view["myRole"], receiver_view["viewerCanMarkInTransit"]) == (
        "RECEIVER",
        False,
    )

    # when the receiver marks it in transit, then only the supplier sends the material
    refused = await trade_step(gql, parties.maker.access_token, "tradeMarkInTransit", trade["id"])
    assert refused == {
        "trade": None,
        "errors": [
            {"code": "FORBIDDEN", "message": "Only the supplier sends the material", "field": None}
        ],
    }
    # when the supplier does, then it is on its way
    sent = await trade_step(gql, parties.owner.access_token, "tradeMarkInTransit", trade["id"])
    assert (sent["errors"], sent["trade"]["status"]) == ([], "IN_TRANSIT")


async def test_on_a_want_listing_the_maker_of_the_offer_supplies(
    gql: GraphQL, parties: Parties
) -> None:
    # given the sawmill wants 8 t of shavings and the pellet maker offers to supply 4 t
    want = await publish(gql, parties.owner.access_token, kind="WANT", quantity="8")
    offer = await make_offer(gql, parties.maker.access_token, want["id"])

    # when the sawmill accepts, then the maker supplies and the listing's owner receives
    trade = await accept(gql, parties.owner.access_token, offer["id"])
    assert (trade["supplier"]["id"], trade["receiver"]["id"], trade["myRole"]) == (
        parties.maker.organisation_id,
        parties.owner.organisation_id,
        "RECEIVER",
    )
    maker_view = await read_trade(gql, trade["id"], parties.maker.access_token)
    assert maker_view is not None
    assert (maker_view["myRole"], maker_view["viewerCanMarkInTransit"]) == ("SUPPLIER", True)

    # and only the pellet maker sends it
    refused = await trade_step(gql, parties.owner.access_token, "tradeMarkInTransit", trade["id"])
    assert [e["code"] for e in refused["errors"]] == ["FORBIDDEN"], refused
    sent = await trade_step(gql, parties.maker.access_token, "tradeMarkInTransit", trade["id"])
    assert (sent["errors"], sent["trade"]["status"]) == ([], "IN_TRANSIT")


@pytest.mark.parametrize("reporter", ["supplier", "receiver"])
async def test_the_party_that_reported_the_delivery_does_not_complete_the_trade(
    gql: GraphQL, parties: Parties, reporter: str
) -> None:
    # given an agreed trade, reported delivered by one of the parties
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)
    reporting, confirming = (
        (parties.owner, parties.maker) if reporter == "supplier" else (parties.maker, parties.owner)
    )
    delivered = await trade_step(gql, reporting.access_token, "tradeMarkDelivered", trade["id"])
    assert delivered["trade"]["deliveredBy"] == {"id": reporting.organisation_id}, delivered
    assert delivered["trade"]["viewerCanComplete"] is False

    # when the reporting party completes it, then the other party has to confirm
    refused = await trade_step(gql, reporting.access_token, "tradeComplete", trade["id"])
    assert refused == {
        "trade": None,
        "errors": [
            {
                "code": "FORBIDDEN",
                "message": "The other party confirms the delivery you reported",
                "field": None,
            }
        ],
    }
    # when the other party completes it, then it is completed
    completed = await trade_step(gql, confirming.access_token, "tradeComplete", trade["id"])
    assert (completed["errors"], completed["trade"]["status"]) == ([], "COMPLETED")
    assert completed["trade"]["history"][-1]["by"] == {"id": confirming.organisation_id}


@pytest.mark.parametrize("canceller", ["supplier", "receiver"])
async def test_either_party_cancels_an_agreed_trade_but_not_once_in_transit(
    gql: GraphQL, parties: Parties, canceller: str
) -> None:
    party = parties.owner if canceller == "supplier" else parties.maker
    # given an agreed trade of all of the sawmill's 10 t: the listing is reserved
    trade = await agreed_trade(
        gql, parties.owner.access_token, parties.maker.access_token, quantity="10"
    )
    assert await listing_status(gql, trade["listingId"], party.access_token) == "RESERVED"

    # when one party cancels it, then it is cancelled and the listing takes offers again
    cancelled = await trade_step(
        gql, party.access_token, "tradeCancel", trade["id"], reason="Truck broke down"
    )
    assert (cancelled["errors"], cancelled["trade"]["status"]) == ([], "CANCELLED")
    assert await listing_status(gql, trade["listingId"], party.access_token) == "ACTIVE"

    # given another trade that is on its way
    moving = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)
    sent = await trade_step(gql, parties.owner.access_token, "tradeMarkInTransit", moving["id"])
    assert sent["errors"] == [], sent
    # when the same party cancels it, then it has to dispute it instead
    refused = await trade_step(gql, party.access_token, "tradeCancel", moving["id"])
    assert refused == {
        "trade": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "The trade is IN_TRANSIT: it cannot be cancelled once the material "
                "moves; dispute it instead",
                "field": None,
            }
        ],
    }


@pytest.mark.parametrize("disputer", ["supplier", "receiver"])
async def test_either_party_disputes_a_trade(gql: GraphQL, parties: Parties, disputer: str) -> None:
    # given an agreed trade between the sawmill (supplier) and the pellet maker
    party = parties.owner if disputer == "supplier" else parties.maker
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)

    # when one party disputes it, then it is disputed, by that party
    disputed = await trade_step(
        gql, party.access_token, "tradeDispute", trade["id"], reason="Wet, not dry"
    )
    assert (disputed["errors"], disputed["trade"]["status"]) == ([], "DISPUTED")
    assert disputed["trade"]["history"][-1] == {
        "status": "DISPUTED",
        "by": {"id": party.organisation_id},
        "byPlatformAdmin": False,
        "note": "Wet, not dry",
    }


async def test_a_platform_admin_settles_a_dispute_by_completing_the_trade(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given the pellet maker disputed a trade the sawmill reported delivered
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)
    delivered = await trade_step(gql, parties.owner.access_token, "tradeMarkDelivered", trade["id"])
    assert delivered["errors"] == [], delivered
    disputed = await trade_step(gql, parties.maker.access_token, "tradeDispute", trade["id"])
    assert disputed["trade"]["status"] == "DISPUTED", disputed

    # when either party completes or cancels it, then the platform admins settle it
    for party in (parties.owner, parties.maker):
        for name in ("tradeComplete", "tradeCancel"):
            payload = await trade_step(gql, party.access_token, name, trade["id"])
            assert payload == {"trade": None, "errors": [SETTLED_BY_ADMINS]}, name
    seen = await read_trade(gql, trade["id"], platform_admin_token)
    assert seen is not None
    assert (seen["viewerCanComplete"], seen["viewerCanCancel"]) == (True, True)

    # when a platform admin completes it, then it is completed, by the platform
    completed = await trade_step(gql, platform_admin_token, "tradeComplete", trade["id"])
    assert (completed["errors"], completed["trade"]["status"]) == ([], "COMPLETED")
    assert completed["trade"]["history"][-1] == {
        "status": "COMPLETED",
        "by": None,
        "byPlatformAdmin": True,
        "note": "",
    }
    assert completed["trade"]["impact"]["divertedKg"] == "4000"


async def test_a_platform_admin_settles_a_dispute_by_cancelling_the_trade(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given a disputed trade of all of the sawmill's 10 t: the listing is reserved
    trade = await agreed_trade(
        gql, parties.owner.access_token, parties.maker.access_token, quantity="10"
    )
    disputed = await trade_step(gql, parties.owner.access_token, "tradeDispute", trade["id"])
    assert disputed["trade"]["status"] == "DISPUTED", disputed
    assert await listing_status(gql, trade["listingId"], parties.owner.access_token) == "RESERVED"

    # when a platform admin cancels it, then it is cancelled, by the platform
    cancelled = await trade_step(
        gql, platform_admin_token, "tradeCancel", trade["id"], reason="Not as described"
    )
    assert (cancelled["errors"], cancelled["trade"]["status"]) == ([], "CANCELLED")
    assert cancelled["trade"]["history"][-1] == {
        "status": "CANCELLED",
        "by": None,
        "byPlatformAdmin": True,
        "note": "Not as described",
    }
    # and the 10 t are back on the listing: a third firm may take all of them
    assert await listing_status(gql, trade["listingId"], parties.owner.access_token) == "ACTIVE"
    again = await make_offer(gql, parties.third.access_token, trade["listingId"], quantity="10")
    retaken = await accept(gql, parties.owner.access_token, again["id"])
    assert (retaken["status"], retaken["quantity"]) == ("AGREED", "10")


# ---------------------------------------------------------------------------------------------
# Messages


async def test_only_the_two_parties_talk_on_a_trade(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given an agreed trade with a message from the pellet maker
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)
    sent = await gql(
        MESSAGE_SEND,
        {"input": {"tradeId": trade["id"], "body": "Pickup Tuesday?"}},
        token=parties.maker.access_token,
    )
    assert sent["data"]["tradeMessageSend"]["errors"] == [], sent

    # when a third firm or a platform admin writes or reads, then there is no such trade
    for token in (parties.third.access_token, platform_admin_token):
        errors = await mutation_errors(
            gql,
            MESSAGE_SEND,
            "tradeMessageSend",
            {"input": {"tradeId": trade["id"], "body": "Hello"}},
            token=token,
        )
        assert errors == [{"code": "NOT_FOUND", "message": "Trade not found", "field": "tradeId"}]
        read = await gql(MESSAGES, {"tradeId": trade["id"]}, token=token)
        assert query_failure(read) == [("NOT_FOUND", "Trade not found")]

    # when the sawmill reads and answers, then the two talk, and only they
    chat = await gql(MESSAGES, {"tradeId": trade["id"]}, token=parties.owner.access_token)
    assert [
        (e["node"]["body"], e["node"]["organisation"]["id"])
        for e in chat["data"]["tradeMessages"]["edges"]
    ] == [("Pickup Tuesday?", parties.maker.organisation_id)]
    answered = await gql(
        MESSAGE_SEND,
        {"input": {"tradeId": trade["id"], "body": "Yes, 9:00"}},
        token=parties.owner.access_token,
    )
    assert answered["data"]["tradeMessageSend"]["errors"] == [], answered
    chat = await gql(MESSAGES, {"tradeId": trade["id"]}, token=parties.maker.access_token)
    assert [
        (e["node"]["body"], e["node"]["mine"]) for e in chat["data"]["tradeMessages"]["edges"]
    ] == [("Pickup Tuesday?", True), ("Yes, 9:00", False)]


# ---------------------------------------------------------------------------------------------
# Reviews


async def review(
    gql: GraphQL, trade_id: str, token: str, rating: int = 5, comment: str = "Dry and on time"
) -> dict[str, Any]:
    body = await gql(
        REVIEW_CREATE,
        {"input": {"tradeId": trade_id, "rating": rating, "comment": comment}},
        token=token,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["reviewCreate"]
    return payload


async def test_a_trade_is_reviewed_once_by_each_party_when_completed(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given an agreed trade
    trade = await agreed_trade(gql, parties.owner.access_token, parties.maker.access_token)

    # when the pellet maker reviews it before it is completed, then it has to wait
    assert await review(gql, trade["id"], parties.maker.access_token) == {
        "review": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "Review a trade once it is completed",
                "field": "tradeId",
            }
        ],
    }

    # given it is delivered and completed
    delivered = await trade_step(gql, parties.owner.access_token, "tradeMarkDelivered", trade["id"])
    assert delivered["errors"] == [], delivered
    completed = await trade_step(gql, parties.maker.access_token, "tradeComplete", trade["id"])
    assert completed["errors"] == [], completed

    # when a third firm reviews it, then there is no such trade; a platform admin is no party
    assert await review(gql, trade["id"], parties.third.access_token) == {
        "review": None,
        "errors": [{"code": "NOT_FOUND", "message": "Trade not found", "field": "tradeId"}],
    }
    assert await review(gql, trade["id"], platform_admin_token) == {
        "review": None,
        "errors": [
            {
                "code": "FORBIDDEN",
                "message": "Only the parties review each other",
                "field": "tradeId",
            }
        ],
    }

    # when the pellet maker reviews it, then the sawmill is rated
    first = await review(gql, trade["id"], parties.maker.access_token)
    assert first["errors"] == [], first
    assert first["review"]["reviewer"] == {"id": parties.maker.organisation_id}
    # when it sends the same review again, then it is the same review
    assert await review(gql, trade["id"], parties.maker.access_token) == first
    # when it sends a different one, then it has reviewed this trade already
    assert await review(gql, trade["id"], parties.maker.access_token, rating=1) == {
        "review": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "Your organisation has reviewed this trade",
                "field": "tradeId",
            }
        ],
    }
    # when the sawmill reviews the pellet maker, then that is its own one review
    other = await review(gql, trade["id"], parties.owner.access_token, rating=4)
    assert other["errors"] == [], other
    assert other["review"]["id"] != first["review"]["id"]

    # and each organisation received exactly one review
    for reviewee, rating in ((parties.owner, 5), (parties.maker, 4)):
        received = await gql(
            REVIEWS, {"organisationId": reviewee.organisation_id}, token=parties.third.access_token
        )
        assert received["data"]["organisationReviews"]["totalCount"] == 1, received
        assert received["data"]["organisationReviews"]["edges"][0]["node"]["rating"] == rating


# ---------------------------------------------------------------------------------------------
# Impact summary


async def test_who_reads_which_impact_summary(
    gql: GraphQL,
    db: Database,
    register: Any,
    cluster_id: str,
    parties: Parties,
    platform_admin_token: str,
) -> None:
    # given a completed trade of 4 t of shavings between the sawmill and the pellet maker,
    # a university in the cluster, and another cluster
    await completed_trade(gql, parties.owner.access_token, parties.maker.access_token)
    university = await register(
        "lab@okayama-u.example", cluster_id, name="Okayama University", kind="INSTITUTION"
    )
    await verify(gql, platform_admin_token, university.organisation_id)
    rice = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="test-rice",
            name="Test Rice Cluster",
            region="Okayama",
            country="JP",
            sector=Sector.RICE,
            centre=Place(lat=34.66, lon=133.93),
            currency="JPY",
            languages=["ja"],
            timezone="Asia/Tokyo",
        ),
    )

    async def counted(variables: dict[str, Any], token: str) -> int:
        body = await gql(IMPACT, variables, token=token)
        assert "errors" not in body, body
        trades: int = body["data"]["impactSummary"]["tradesCompleted"]
        return trades

    async def refused(variables: dict[str, Any], token: str) -> list[tuple[str, str]]:
        return query_failure(await gql(IMPACT, variables, token=token))

    own = "Firms and communities see their own organisation's impact: pass its organisationId"
    # when nobody signed in asks, then they have to sign in
    assert await refused({"clusterId": cluster_id}, "") == [
        ("UNAUTHENTICATED", "Sign in to do this")
    ]
    # when the pellet maker asks for its own organisation, then it gets its totals
    assert (
        await counted({"organisationId": parties.maker.organisation_id}, parties.maker.access_token)
        == 1
    )
    # when it asks for another organisation or only a cluster, then it may not
    for variables in (
        {"organisationId": parties.owner.organisation_id},
        {"organisationId": parties.third.organisation_id},
        {"clusterId": cluster_id},
    ):
        assert await refused(variables, parties.maker.access_token) == [("FORBIDDEN", own)]

    # when the university or a platform admin asks for any cluster or organisation, they see it
    for token in (university.access_token, platform_admin_token):
        assert await counted({"clusterId": cluster_id}, token) == 1
        assert await counted({"clusterId": str(rice.id)}, token) == 0
        assert await counted({"organisationId": parties.owner.organisation_id}, token) == 1
        assert await counted({"organisationId": parties.third.organisation_id}, token) == 0


# ---------------------------------------------------------------------------------------------
# Matches


async def test_anybody_reads_the_matches_of_a_published_listing(
    gql: GraphQL, parties: Parties
) -> None:
    # given the pellet maker wants shavings and the sawmill has some
    want = await publish(
        gql,
        parties.maker.access_token,
        kind="WANT",
        title="Shavings for pellets",
        quantity="8",
        pricePerUnit="6000",
    )
    have = await publish(gql, parties.owner.access_token)

    # when nobody signed in, or a third firm, reads the sawmill's matches, then the want is there
    for token in ("", parties.third.access_token):
        matches = await gql(MATCHES, {"listingId": have["id"]}, token=token)
        assert "errors" not in matches, matches
        assert [e["node"]["listing"]["id"] for e in matches["data"]["listingMatches"]["edges"]] == [
            want["id"]
        ]


async def test_the_matches_of_a_draft_are_its_owners_business(
    gql: GraphQL, parties: Parties, platform_admin_token: str
) -> None:
    # given the pellet maker's published want and the sawmill's draft of shavings
    want = await publish(
        gql, parties.maker.access_token, kind="WANT", title="Shavings for pellets", quantity="8"
    )
    draft = await publish(gql, parties.owner.access_token, publish=False)

    # when anybody else reads the draft's matches, then there is no such listing
    for token in ("", parties.maker.access_token, parties.third.access_token, platform_admin_token):
        body = await gql(MATCHES, {"listingId": draft["id"]}, token=token)
        assert query_failure(body) == [("NOT_FOUND", "Listing not found")]
    # when the sawmill reads them, then it sees the want
    mine = await gql(MATCHES, {"listingId": draft["id"]}, token=parties.owner.access_token)
    assert "errors" not in mine, mine
    assert [e["node"]["listing"]["id"] for e in mine["data"]["listingMatches"]["edges"]] == [
        want["id"]
    ]
    # and the draft is nobody's match: the pellet maker's want is matched by nothing
    theirs = await gql(MATCHES, {"listingId": want["id"]}, token=parties.maker.access_token)
    assert theirs["data"]["listingMatches"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
