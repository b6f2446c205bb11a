"""Trades through the API: the committed quantity of a listing, the lifecycle and its history,
the trades list, messages, and reviews with the trust they build."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.kit import AppCalls, begins
from tests.marketplace.trading_kit import (
    LISTING,
    MESSAGE_SEND,
    MESSAGES,
    NOTIFICATIONS,
    OFFER,
    OFFER_ACCEPT,
    OFFER_CREATE,
    REVIEW_CREATE,
    REVIEWS,
    TRADE,
    TRADES,
    accept,
    agreed_trade,
    completed_trade,
    make_offer,
    publish,
    trade_step,
)

LISTING_UPDATE = """
mutation Update($input: ListingUpdateInput!) {
  listingUpdate(input: $input) {
    listing { id status quantity unit { code } version } errors { code message field }
  }
}
"""
TRADE_PAGE = """
query Trades($filter: TradeFilter, $first: Int, $after: String) {
  trades(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status myRole } }
  }
}
"""
ORGANISATION = """
query Organisation($id: ID!) {
  organisation(id: $id) { id tradesCompleted reviewsCount ratingAverage trustScore }
}
"""


async def sawmill_and_pellets(register: Any, cluster_id: str) -> tuple[Account, Account]:
    """The sawmill supplies shavings; the pellet maker 12 km away takes them."""
    sawmill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register(
        "pellets@maniwa.example",
        cluster_id,
        name="Katsuyama Pellet Works",
        location={"lat": 35.0, "lon": 133.72, "placeName": "Kuse"},
    )
    return sawmill, pellets


async def listing_status(gql: GraphQL, token: str, listing_id: str) -> str:
    body = await gql(LISTING, {"id": listing_id}, token=token)
    status: str = body["data"]["listing"]["status"]
    return status


async def offer_create(gql: GraphQL, token: str, listing_id: str, quantity: str) -> Any:
    body = await gql(
        OFFER_CREATE,
        {"input": {"listingId": listing_id, "quantity": quantity, "pricePerUnit": "4500"}},
        token=token,
    )
    assert "errors" not in body, body
    return body["data"]["offerCreate"]


async def offer_accept(gql: GraphQL, token: str, offer_id: str) -> Any:
    body = await gql(OFFER_ACCEPT, {"id": offer_id}, token=token)
    assert "errors" not in body, body
    return body["data"]["offerAccept"]


def steps(trade: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(h["status"], h["by"]["id"] if h["by"] else None, h["note"]) for h in trade["history"]]


# ---------------------------------------------------------------------------------------------
# The listing's committed quantity


async def test_accepted_offers_commit_quantity_until_the_listing_is_reserved(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing of 10 t and offers of 4, 6 and 7 t from three firms
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    board = await register("board@maniwa.example", cluster_id, name="Maniwa Board Co")
    boiler = await register("boiler@maniwa.example", cluster_id, name="Onsen Boiler")
    late = await register("late@maniwa.example", cluster_id, name="Late Comer Ltd")
    listing = await publish(gql, sawmill.access_token)
    four = await make_offer(gql, pellets.access_token, listing["id"], quantity="4")
    six = await make_offer(gql, board.access_token, listing["id"], quantity="6")
    seven = await make_offer(gql, boiler.access_token, listing["id"], quantity="7")

    # when the sawmill accepts the 4 t: the listing stays active with 6 t left
    await accept(gql, sawmill.access_token, four["id"])
    assert await listing_status(gql, sawmill.access_token, listing["id"]) == "ACTIVE"

    # and then the 7 t: it does not fit, and the offer stays open
    too_much = await offer_accept(gql, sawmill.access_token, seven["id"])
    assert too_much == {
        "offer": None,
        "trade": None,
        "errors": [
            {
                "code": "CAPACITY_REACHED",
                "message": "Only 6 TNE of the listing are left; 7 does not fit",
                "field": "quantity",
            }
        ],
    }
    still = (await gql(OFFER, {"id": seven["id"]}, token=sawmill.access_token))["data"]["offer"]
    assert (still["status"], still["version"], still["viewerCanAnswer"]) == ("PENDING", 1, True)

    # and then the 6 t: nothing is left, the listing is RESERVED
    trade = await accept(gql, sawmill.access_token, six["id"])
    assert await listing_status(gql, sawmill.access_token, listing["id"]) == "RESERVED"

    # then a reserved listing takes no new offer, and no acceptance
    reserved = [
        {
            "code": "CAPACITY_REACHED",
            "message": "Nothing is left of the listing: all 10 TNE are taken by trades",
            "field": "quantity",
        }
    ]
    assert await offer_create(gql, late.access_token, listing["id"], "1") == {
        "offer": None,
        "errors": reserved,
    }
    assert await offer_accept(gql, sawmill.access_token, seven["id"]) == {
        "offer": None,
        "trade": None,
        "errors": reserved,
    }

    # when the 6 t trade is cancelled, with a reason
    cancelled = await trade_step(
        gql, board.access_token, "tradeCancel", trade["id"], reason="  Our dryer broke down  "
    )

    # then the reason is in its history and the 6 t are back on an active listing
    assert cancelled["errors"] == [], cancelled
    assert cancelled["trade"]["status"] == "CANCELLED"
    assert steps(cancelled["trade"]) == [
        ("AGREED", sawmill.organisation_id, ""),
        ("CANCELLED", board.organisation_id, "Our dryer broke down"),
    ]
    assert await listing_status(gql, sawmill.access_token, listing["id"]) == "ACTIVE"
    fits = await offer_create(gql, late.access_token, listing["id"], "6")
    assert (fits["errors"], fits["offer"]["status"]) == ([], "PENDING")


async def test_a_listing_with_accepted_offers_keeps_its_material_unit_and_committed_quantity(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing of 10 t, all of it taken by a trade
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token, quantity="10")
    listing_id = trade["listingId"]
    assert await listing_status(gql, sawmill.access_token, listing_id) == "RESERVED"

    async def update(**changes: Any) -> Any:
        body = await gql(
            LISTING_UPDATE, {"input": {"id": listing_id, **changes}}, token=sawmill.access_token
        )
        assert "errors" not in body, body
        return body["data"]["listingUpdate"]

    # when the sawmill changes its unit, or lowers it below the 10 t taken
    refused = await update(unit="KGM", quantity="8")
    lower = await update(quantity="9.9999")

    # then both changes are refused on their fields
    assert refused == {
        "listing": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "Offers were accepted in this unit; list anew",
                "field": "unit",
            },
            {
                "code": "VALIDATION",
                "message": "Accepted offers have taken 10; it cannot be less",
                "field": "quantity",
            },
        ],
    }
    assert lower == {"listing": None, "errors": refused["errors"][1:]}
    assert await listing_status(gql, sawmill.access_token, listing_id) == "RESERVED"

    # when it raises the quantity to 12 t
    raised = await update(quantity="12")

    # then the listing is active again, with 2 t to offer on
    assert raised["errors"] == [], raised
    assert (raised["listing"]["status"], raised["listing"]["quantity"]) == ("ACTIVE", "12")
    board = await register("board@maniwa.example", cluster_id, name="Maniwa Board Co")
    assert (await offer_create(gql, board.access_token, listing_id, "2"))["errors"] == []


async def test_a_listing_with_accepted_offers_keeps_its_material(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing of wood shavings, 4 t of it taken by a trade
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token, quantity="4")

    # when the sawmill changes its material to sawdust
    body = await gql(
        LISTING_UPDATE,
        {"input": {"id": trade["listingId"], "materialCode": "sawdust"}},
        token=sawmill.access_token,
    )

    # then the change is refused on the field
    assert body["data"]["listingUpdate"] == {
        "listing": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "Offers were accepted on this material; list anew",
                "field": "materialCode",
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Lifecycle


async def test_a_trade_goes_from_agreed_to_delivered_and_completed_and_retries_change_nothing(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an agreed trade of 4 t
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token, quantity="4")
    assert (trade["status"], trade["deliveredQuantity"], trade["deliveredBy"]) == (
        "AGREED",
        None,
        None,
    )

    # when the sawmill reports the delivery at once, without saying how much
    delivered = await trade_step(gql, sawmill.access_token, "tradeMarkDelivered", trade["id"])

    # then it is DELIVERED (no IN_TRANSIT needed) with the agreed quantity
    assert delivered["errors"] == [], delivered
    shown = delivered["trade"]
    assert (shown["status"], shown["deliveredQuantity"], shown["deliveredBy"]) == (
        "DELIVERED",
        "4",
        {"id": sawmill.organisation_id},
    )
    assert (shown["viewerCanComplete"], shown["viewerCanMarkDelivered"]) == (False, False)

    # when the sawmill reports it again, the same: a retry changes nothing
    again = await trade_step(gql, sawmill.access_token, "tradeMarkDelivered", trade["id"])
    assert again == delivered

    # when the pellet maker reports the delivery too: it was already reported
    other = await trade_step(gql, pellets.access_token, "tradeMarkDelivered", trade["id"])
    assert other == {
        "trade": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "Already reported delivered; complete it, or dispute the quantity",
                "field": None,
            }
        ],
    }

    # when the pellet maker completes it, twice
    completed = await trade_step(gql, pellets.access_token, "tradeComplete", trade["id"])
    twice = await trade_step(gql, pellets.access_token, "tradeComplete", trade["id"])

    # then it is COMPLETED once, and the second answer is the same trade
    assert completed["errors"] == [], completed
    done = completed["trade"]
    assert twice == completed
    assert (done["status"], done["version"], done["supplier"]["tradesCompleted"]) == (
        "COMPLETED",
        3,
        1,
    )
    assert steps(done) == [
        ("AGREED", sawmill.organisation_id, ""),
        ("DELIVERED", sawmill.organisation_id, "4 TNE delivered"),
        ("COMPLETED", pellets.organisation_id, ""),
    ]
    assert {h["byPlatformAdmin"] for h in done["history"]} == {False}

    # and a completed trade can no longer be disputed
    disputed = await trade_step(gql, sawmill.access_token, "tradeDispute", trade["id"])
    assert disputed == {
        "trade": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "The trade is COMPLETED: it cannot be disputed",
                "field": None,
            }
        ],
    }


async def test_the_delivered_quantity_may_exceed_the_agreed_one_but_not_be_zero(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an agreed trade of 6 t, on its way
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token, quantity="6")
    sent = await trade_step(gql, sawmill.access_token, "tradeMarkInTransit", trade["id"])
    assert sent["trade"]["status"] == "IN_TRANSIT", sent

    # when the pellet maker reports 0 t received
    zero = await trade_step(
        gql, pellets.access_token, "tradeMarkDelivered", trade["id"], deliveredQuantity="0"
    )

    # then it is refused on the field
    assert zero == {
        "trade": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "Must be more than zero",
                "field": "deliveredQuantity",
            }
        ],
    }

    # when it reports 7.5 t, more than agreed
    more = await trade_step(
        gql, pellets.access_token, "tradeMarkDelivered", trade["id"], deliveredQuantity="7.5"
    )

    # then that is what changed hands, and the history says so
    assert more["errors"] == [], more
    assert (more["trade"]["deliveredQuantity"], more["trade"]["quantity"]) == ("7.5", "6")
    assert steps(more["trade"]) == [
        ("AGREED", sawmill.organisation_id, ""),
        ("IN_TRANSIT", sawmill.organisation_id, ""),
        ("DELIVERED", pellets.organisation_id, "7.5 TNE delivered"),
    ]
    # and the sawmill, not the pellet maker, confirms it
    assert more["trade"]["viewerCanComplete"] is False
    confirmed = await trade_step(gql, sawmill.access_token, "tradeComplete", trade["id"])
    assert (confirmed["errors"], confirmed["trade"]["deliveredQuantity"]) == ([], "7.5")


async def test_an_agreed_trade_cannot_be_completed(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an agreed trade
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token)

    # when either party completes it before any delivery
    for account in (sawmill, pellets):
        payload = await trade_step(gql, account.access_token, "tradeComplete", trade["id"])
        # then it is a conflict
        assert payload == {
            "trade": None,
            "errors": [
                {
                    "code": "CONFLICT",
                    "message": "The trade is AGREED: it cannot be completed before it is delivered",
                    "field": None,
                }
            ],
        }
    unchanged = await gql(TRADE, {"id": trade["id"]}, token=pellets.access_token)
    assert (unchanged["data"]["trade"]["status"], unchanged["data"]["trade"]["version"]) == (
        "AGREED",
        1,
    )


async def test_a_dispute_needs_a_reason_of_three_characters(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a delivered trade
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token)
    delivered = await trade_step(gql, sawmill.access_token, "tradeMarkDelivered", trade["id"])
    assert delivered["errors"] == [], delivered

    # when the pellet maker disputes it with "  no " (two characters once trimmed)
    short = await trade_step(gql, pellets.access_token, "tradeDispute", trade["id"], reason="  no ")

    # then it is refused on the reason
    assert short == {
        "trade": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "Must have at least 3 characters",
                "field": "reason",
            }
        ],
    }

    # when it gives a reason
    disputed = await trade_step(
        gql, pellets.access_token, "tradeDispute", trade["id"], reason="Wet, not dry"
    )

    # then it is DISPUTED, with the reason in the history
    assert disputed["errors"] == [], disputed
    assert disputed["trade"]["status"] == "DISPUTED"
    assert steps(disputed["trade"])[-1] == ("DISPUTED", pellets.organisation_id, "Wet, not dry")
    assert (disputed["trade"]["viewerCanComplete"], disputed["trade"]["viewerCanCancel"]) == (
        False,
        False,
    )


# ---------------------------------------------------------------------------------------------
# The list


async def test_trades_list_filters_by_role_and_status_newest_first_and_pages(
    gql: GraphQL, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    # given one completed trade the sawmill supplied
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    first = await completed_trade(gql, sawmill.access_token, pellets.access_token)
    with sql_statements() as one_log:
        one = await gql(TRADES, {"first": 10}, token=sawmill.access_token)
    assert one["data"]["trades"]["totalCount"] == 1, one

    # and four more: two it supplied (one cancelled), two it received (one delivered)
    second = await agreed_trade(gql, sawmill.access_token, pellets.access_token)
    third = await agreed_trade(gql, sawmill.access_token, pellets.access_token)
    cancelled = await trade_step(gql, pellets.access_token, "tradeCancel", third["id"])
    assert cancelled["errors"] == [], cancelled
    fourth = await agreed_trade(gql, pellets.access_token, sawmill.access_token)
    fifth = await agreed_trade(gql, pellets.access_token, sawmill.access_token)
    delivered = await trade_step(gql, pellets.access_token, "tradeMarkDelivered", fifth["id"])
    assert delivered["errors"] == [], delivered

    # when the sawmill reads its trades, with everything a trade card shows
    with sql_statements() as five_log:
        five = await gql(TRADES, {"first": 10}, token=sawmill.access_token)

    # then a page of five costs the statements a page of one did
    assert five["data"]["trades"]["totalCount"] == 5, five
    assert five_log.count == one_log.count

    # and the trades come newest first, with the sawmill's side of each
    async def listed(token: str = sawmill.access_token, **filter: Any) -> list[tuple[str, ...]]:
        body = await gql(TRADE_PAGE, {"filter": filter}, token=token)
        page = body["data"]["trades"]
        assert page["totalCount"] == len(page["edges"]), body
        return [(e["node"]["id"], e["node"]["status"], e["node"]["myRole"]) for e in page["edges"]]

    everything = [
        (fifth["id"], "DELIVERED", "RECEIVER"),
        (fourth["id"], "AGREED", "RECEIVER"),
        (third["id"], "CANCELLED", "SUPPLIER"),
        (second["id"], "AGREED", "SUPPLIER"),
        (first["id"], "COMPLETED", "SUPPLIER"),
    ]
    assert await listed() == everything
    assert [e["node"]["id"] for e in five["data"]["trades"]["edges"]] == [t[0] for t in everything]
    assert await listed(role="SUPPLIER") == everything[2:]
    assert await listed(role="RECEIVER") == everything[:2]
    assert await listed(status="AGREED") == [everything[1], everything[3]]
    assert await listed(status="AGREED", role="SUPPLIER") == [everything[3]]
    assert await listed(status="DISPUTED") == []
    # and the pellet maker sees the same trades from its side
    flipped = {"SUPPLIER": "RECEIVER", "RECEIVER": "SUPPLIER"}
    assert await listed(pellets.access_token) == [(i, s, flipped[r]) for i, s, r in everything]

    # and pages of two walk all five once, each with the total
    seen: list[str] = []
    pages = []
    after = None
    for _ in range(3):
        body = await gql(TRADE_PAGE, {"first": 2, "after": after}, token=sawmill.access_token)
        page = body["data"]["trades"]
        pages.append((page["totalCount"], len(page["edges"]), page["pageInfo"]["hasNextPage"]))
        seen += [e["node"]["id"] for e in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    assert pages == [(5, 2, True), (5, 2, True), (5, 1, False)]
    assert seen == [t[0] for t in everything]


# ---------------------------------------------------------------------------------------------
# Messages


async def send(gql: GraphQL, account: Account, trade_id: str, body: str, **extra: Any) -> Any:
    answer = await gql(
        MESSAGE_SEND,
        {"input": {"tradeId": trade_id, "body": body, **extra}},
        token=account.access_token,
    )
    assert "errors" not in answer, answer
    return answer["data"]["tradeMessageSend"]


async def test_trade_messages_read_oldest_first_and_a_resend_is_stored_once(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given an agreed trade
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token)

    # when the parties write three messages a minute apart, and the app resends the first
    client_id = str(uuid.uuid4())
    first = await send(gql, pellets, trade["id"], "Pickup Tuesday 9:00?", id=client_id)
    clock.advance(timedelta(minutes=1))
    await send(gql, sawmill, trade["id"], "Tuesday is fine")
    clock.advance(timedelta(minutes=1))
    await send(gql, pellets, trade["id"], "See you then")
    resent = await send(gql, pellets, trade["id"], "Pickup Tuesday 9:00?", id=client_id)

    # then the resend answers with the first message, stored once
    assert first["errors"] == [], first
    assert first["message"]["id"] == client_id
    assert resent == first

    # and the pellet maker reads them oldest first, in pages, its own marked as mine
    page_one = await gql(MESSAGES, {"tradeId": trade["id"], "first": 2}, token=pellets.access_token)
    one = page_one["data"]["tradeMessages"]
    page_two = await gql(
        MESSAGES,
        {"tradeId": trade["id"], "first": 2, "after": one["pageInfo"]["endCursor"]},
        token=pellets.access_token,
    )
    two = page_two["data"]["tradeMessages"]
    assert (one["totalCount"], one["pageInfo"]["hasNextPage"]) == (3, True)
    assert (two["totalCount"], two["pageInfo"]["hasNextPage"]) == (3, False)
    assert [
        (e["node"]["body"], e["node"]["mine"], e["node"]["organisation"]["id"])
        for e in one["edges"] + two["edges"]
    ] == [
        ("Pickup Tuesday 9:00?", True, pellets.organisation_id),
        ("Tuesday is fine", False, sawmill.organisation_id),
        ("See you then", True, pellets.organisation_id),
    ]
    # and the sawmill sees the other side of "mine"
    theirs = await gql(MESSAGES, {"tradeId": trade["id"]}, token=sawmill.access_token)
    assert [e["node"]["mine"] for e in theirs["data"]["tradeMessages"]["edges"]] == [
        False,
        True,
        False,
    ]

    # and each side was told of the other's messages, once each
    async def told(account: Account) -> list[tuple[str, str]]:
        body = await gql(NOTIFICATIONS, token=account.access_token)
        return [
            (n["node"]["subjectType"], n["node"]["subjectId"])
            for n in body["data"]["notifications"]["edges"]
            if n["node"]["kind"] == "TRADE_MESSAGE"
        ]

    assert await told(sawmill) == [("TRADE", trade["id"]), ("TRADE", trade["id"])]
    assert await told(pellets) == [("TRADE", trade["id"])]


async def test_a_message_must_have_1_to_4000_characters(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an agreed trade
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    trade = await agreed_trade(gql, sawmill.access_token, pellets.access_token)

    # when the pellet maker sends blanks, and 4001 characters
    empty = await send(gql, pellets, trade["id"], "  \n ")
    too_long = await send(gql, pellets, trade["id"], "x" * 4001)
    longest = await send(gql, pellets, trade["id"], "x" * 4000)

    # then both are refused on the body, and 4000 characters are fine
    assert empty == {
        "message": None,
        "errors": [
            {"code": "VALIDATION", "message": "Must have at least 1 characters", "field": "body"}
        ],
    }
    assert too_long == {
        "message": None,
        "errors": [
            {"code": "VALIDATION", "message": "Must have at most 4000 characters", "field": "body"}
        ],
    }
    assert longest["errors"] == [], longest
    chat = await gql(MESSAGES, {"tradeId": trade["id"]}, token=sawmill.access_token)
    assert chat["data"]["tradeMessages"]["totalCount"] == 1


# ---------------------------------------------------------------------------------------------
# Reviews


async def review(gql: GraphQL, account: Account, trade_id: str, rating: int, comment: str) -> Any:
    body = await gql(
        REVIEW_CREATE,
        {"input": {"tradeId": trade_id, "rating": rating, "comment": comment}},
        token=account.access_token,
    )
    assert "errors" not in body, body
    return body["data"]["reviewCreate"]


async def test_reviews_need_one_to_five_stars_and_move_rating_and_trust(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given two completed trades the sawmill supplied to the pellet maker
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    older = await completed_trade(gql, sawmill.access_token, pellets.access_token)
    newer = await completed_trade(gql, sawmill.access_token, pellets.access_token)

    async def organisation(account: Account) -> Any:
        body = await gql(ORGANISATION, {"id": account.organisation_id}, token=sawmill.access_token)
        return body["data"]["organisation"]

    # then, unreviewed, both have 2 trades: 70 % x 0.5 (3 stars) + 30 % x 2/7 = 43.6
    assert await organisation(sawmill) == {
        "id": sawmill.organisation_id,
        "tradesCompleted": 2,
        "reviewsCount": 0,
        "ratingAverage": None,
        "trustScore": 44,
    }

    # when the pellet maker gives 0 or 6 stars
    for stars in (0, 6):
        refused = await review(gql, pellets, older["id"], stars, "Out of range")
        # then it is refused on the rating
        assert refused == {
            "review": None,
            "errors": [{"code": "VALIDATION", "message": "Give 1 to 5 stars", "field": "rating"}],
        }

    # when it rates the older trade 5 stars
    five = await review(gql, pellets, older["id"], 5, "Dry and on time")
    assert five["errors"] == [], five
    # then (5 + 3 x 5) / 6 = 3.33 stars -> 0.583: 70 % x 0.583 + 30 % x 2/7 = 49.4
    assert await organisation(sawmill) == {
        "id": sawmill.organisation_id,
        "tradesCompleted": 2,
        "reviewsCount": 1,
        "ratingAverage": 5.0,
        "trustScore": 49,
    }

    # when it rates the newer trade 2 stars
    two = await review(gql, pellets, newer["id"], 2, "Late")
    assert two["errors"] == [], two
    # then (7 + 3 x 5) / 7 = 3.14 stars -> 0.536: 70 % x 0.536 + 30 % x 2/7 = 46.1
    assert await organisation(sawmill) == {
        "id": sawmill.organisation_id,
        "tradesCompleted": 2,
        "reviewsCount": 2,
        "ratingAverage": 3.5,
        "trustScore": 46,
    }
    # and the pellet maker, reviewed by nobody, is unchanged
    assert await organisation(pellets) == {
        "id": pellets.organisation_id,
        "tradesCompleted": 2,
        "reviewsCount": 0,
        "ratingAverage": None,
        "trustScore": 44,
    }
    # and the trade shows the review, and no second one is offered
    shown = (await gql(TRADE, {"id": newer["id"]}, token=pellets.access_token))["data"]["trade"]
    assert shown["reviews"] == [
        {"rating": 2, "comment": "Late", "reviewer": {"id": pellets.organisation_id}}
    ]
    assert shown["viewerCanReview"] is False
    assert shown["supplier"] == {
        "id": sawmill.organisation_id,
        "trustScore": 46,
        "tradesCompleted": 2,
        "reviewsCount": 2,
        "ratingAverage": 3.5,
    }

    # and the sawmill's reviews list them newest first, with the total
    received = await gql(
        REVIEWS, {"organisationId": sawmill.organisation_id}, token=pellets.access_token
    )
    assert received["data"]["organisationReviews"] == {
        "totalCount": 2,
        "edges": [
            {
                "node": {
                    "rating": 2,
                    "comment": "Late",
                    "reviewer": {"id": pellets.organisation_id},
                }
            },
            {
                "node": {
                    "rating": 5,
                    "comment": "Dry and on time",
                    "reviewer": {"id": pellets.organisation_id},
                }
            },
        ],
    }
    nothing = await gql(
        REVIEWS, {"organisationId": pellets.organisation_id}, token=sawmill.access_token
    )
    assert nothing["data"]["organisationReviews"] == {"totalCount": 0, "edges": []}


# ---------------------------------------------------------------------------------------------
# What the apps' trading mutations cost


async def test_the_apps_trading_mutations_cost_pinned_statements_and_answer_as_a_reload(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    """Statement counts of the apps' own documents (clients/operations/trading.graphql), and
    each payload as the screen query shows the object right after: a payload built from the
    unit of work's rows must not differ from one read back."""
    begin = begins(db)
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    app = AppCalls(gql, sql_statements)

    # when the pellet maker makes an offer and the sawmill accepts it, then sends again
    offer_input = {"listingId": listing["id"], "quantity": "4", "pricePerUnit": "4500"}
    made = await app.send("OfferCreate", "OfferCreate", pellets.access_token, input=offer_input)
    offer = made["offer"]
    assert offer == await app.read("OfferScreen", pellets.access_token, id=offer["id"])
    accepted = await app.send("OfferAccept", "OfferAccept", sawmill.access_token, id=offer["id"])
    again = await app.send("OfferAccept again", "OfferAccept", sawmill.access_token, id=offer["id"])
    trade = accepted["trade"]

    # then the acceptance shows the offer and the trade as reading them does, and a retry
    # answers as the first request did
    assert accepted["offer"] == {"id": offer["id"], "status": "ACCEPTED", "version": 2}
    assert trade == await app.read("TradeScreen", sawmill.access_token, id=trade["id"])
    assert trade["status"] == "AGREED"
    assert again == accepted

    # and so does a counter-offer, on a second listing
    second = await publish(gql, sawmill.access_token, title="Cedar bark, dry")
    proposed = await make_offer(gql, pellets.access_token, second["id"], quantity="3")
    counter = {"id": proposed["id"], "quantity": "3", "pricePerUnit": "4800", "message": "Dry"}
    countered = await app.send("OfferCounter", "OfferCounter", sawmill.access_token, input=counter)
    assert countered["offer"] == await app.read(
        "OfferScreen", sawmill.access_token, id=proposed["id"]
    )
    assert [t["pricePerUnit"] for t in countered["offer"]["terms"]] == ["4500", "4800"]

    # and so do the trade's steps
    for label, account, extra in (
        ("TradeMarkInTransit", sawmill, {}),
        ("TradeMarkDelivered", sawmill, {"deliveredQuantity": "4"}),
        ("TradeComplete", pellets, {}),
    ):
        moved = await app.send(label, label, account.access_token, id=trade["id"], **extra)
        screen = await app.read("TradeScreen", account.access_token, id=trade["id"])
        assert moved["trade"] == screen, label
    assert moved["trade"]["status"] == "COMPLETED"

    # Each count includes the check that the sender's sign-in still stands (1 in a read
    # transaction of its own, before the resolver runs), the notification (members,
    # preferences, devices, insert) and the offline sync log (sequence, changes; a listing's
    # change also looks up who made offers on it) of the write. SQLite sends each transaction's
    # BEGIN as a statement of its own. Nothing is read back: each answer is built from the rows
    # of the unit of work, and what they lack is loaded one statement per relation.
    access = 1 + begin
    assert app.counts == {
        # listing locked, open-offer check, offer and terms inserted, notification (5: the
        # material's names in every language for its text), both parties with their clusters
        # (1), the listing's material and unit (2), sync log (3)
        "OfferCreate": 15 + begin + access,
        # offer read, listing and offer locked (2), listing's committed quantity (conditional
        # UPDATE), offer updated, both parties with their clusters (1), the listing's material
        # and unit (2), the offer's terms (1), trade and first step inserted (2), notification
        # (4), sync log (3; the trade's parties are in the session)
        "OfferAccept": 18 + begin + access,
        # offer read, listing and offer locked (2), the trade, its parties (1), material, unit,
        # history, reviews, the offer's terms (the listing, parties and unit are in the session)
        "OfferAccept again": 10 + begin + access,
        # offer read, listing and offer locked (2), offer updated, terms inserted, notification
        # (5, with the material's names), both parties (1), the listing's material and unit (2),
        # the offer's terms (1), sync log (3)
        "OfferCounter": 17 + begin + access,
        # trade locked, updated, step inserted, notification (5 with the material's names; 4
        # for a delivery, whose text names none), the trade's listing, parties (1), material,
        # unit and history (5: reviews come once a trade is completed), sync log (2)
        "TradeMarkInTransit": 15 + begin + access,
        "TradeMarkDelivered": 14 + begin + access,
        # trade locked, who reported the delivery, trade updated, step inserted, the parties'
        # trade counts, the trade's listing, parties, material and unit (4, before the impact
        # entry, which then finds material and unit in the session), the impact factor, the
        # entry and the month's parties (3), notification (5, with the material's names),
        # history (1), sync log (2)
        "TradeComplete": 20 + begin + access,
    }
