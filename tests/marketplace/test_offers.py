"""Offers through the API: validation, capacity, one open offer per maker, client ids, counters,
expiry, declines, the offers list and the notifications each step sends."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.marketplace.trading_kit import (
    NOTIFICATIONS,
    OFFER,
    OFFER_ACCEPT,
    OFFER_COUNTER,
    OFFER_CREATE,
    OFFER_DECLINE,
    OFFER_WITHDRAW,
    OFFERS,
    accept,
    expire_offer,
    make_offer,
    publish,
)

OFFER_PAGE = """
query Offers($filter: OfferFilter, $first: Int, $after: String) {
  offers(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id status } }
  }
}
"""


async def sawmill_and_pellets(register: Any, cluster_id: str) -> tuple[Account, Account]:
    """The sawmill lists; the pellet maker 12 km away makes offers."""
    sawmill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register(
        "pellets@maniwa.example",
        cluster_id,
        name="Katsuyama Pellet Works",
        location={"lat": 35.0, "lon": 133.72, "placeName": "Kuse"},
    )
    return sawmill, pellets


async def create(gql: GraphQL, token: str, listing_id: str, **terms: Any) -> dict[str, Any]:
    """offerCreate with 4 t at 4500 unless told otherwise; the payload, whatever it says."""
    body = await gql(
        OFFER_CREATE,
        {"input": {"listingId": listing_id, "quantity": "4", "pricePerUnit": "4500", **terms}},
        token=token,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["offerCreate"]
    return payload


async def counter(
    gql: GraphQL, token: str, offer_id: str, quantity: str, price: str, **extra: Any
) -> dict[str, Any]:
    body = await gql(
        OFFER_COUNTER,
        {"input": {"id": offer_id, "quantity": quantity, "pricePerUnit": price, **extra}},
        token=token,
    )
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["offerCounter"]
    return payload


async def mutate(gql: GraphQL, document: str, name: str, token: str, **variables: Any) -> Any:
    body = await gql(document, variables, token=token)
    assert "errors" not in body, body
    return body["data"][name]


def iso(value: str) -> datetime:
    return datetime.fromisoformat(value)


# ---------------------------------------------------------------------------------------------
# Validation


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        ("0", "Must be more than zero"),
        ("-2", "Must be more than zero"),
        ("1.00001", "Use at most 4 decimal places"),
        ("NaN", "Not a number"),
        ("Infinity", "Not a number"),
    ],
)
async def test_an_offer_quantity_that_is_not_a_positive_amount_is_refused(
    gql: GraphQL, register: Any, cluster_id: str, quantity: str, message: str
) -> None:
    # given an active listing of another organisation
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)

    # when the pellet maker offers that quantity
    payload = await create(gql, pellets.access_token, listing["id"], quantity=quantity)

    # then it is refused on the quantity field, and no offer exists
    assert payload == {
        "offer": None,
        "errors": [{"code": "VALIDATION", "message": message, "field": "quantity"}],
    }
    listed = await gql(OFFER_PAGE, {}, token=pellets.access_token)
    assert listed["data"]["offers"]["totalCount"] == 0


@pytest.mark.parametrize(
    ("expires_at", "message"),
    [
        (lambda now: (now - timedelta(minutes=5)).isoformat(), "Must be in the future"),
        (
            lambda now: (now + timedelta(days=1)).replace(tzinfo=None).isoformat(),
            "Give the time with its offset, such as 2027-01-31T09:00:00+09:00",
        ),
        (lambda now: (now + timedelta(days=91)).isoformat(), "Must be within 90 days"),
    ],
    ids=["past", "without-offset", "beyond-90-days"],
)
async def test_an_offer_expiry_in_the_past_without_offset_or_too_far_is_refused(
    gql: GraphQL, register: Any, cluster_id: str, expires_at: Any, message: str, clock: ManualClock
) -> None:
    # given an active listing of another organisation
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)

    # when the pellet maker offers with that expiry
    payload = await create(
        gql, pellets.access_token, listing["id"], expiresAt=expires_at(clock.now())
    )

    # then it is refused on the expiresAt field
    assert payload == {
        "offer": None,
        "errors": [{"code": "VALIDATION", "message": message, "field": "expiresAt"}],
    }


async def test_every_problem_of_an_offer_comes_back_at_once(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given an active listing of another organisation
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)

    # when one offer has a zero quantity, a price with 5 decimals, a message of 2001 characters
    # and an expiry in the past
    payload = await create(
        gql,
        pellets.access_token,
        listing["id"],
        quantity="0",
        pricePerUnit="4500.00001",
        message="x" * 2001,
        expiresAt=(clock.now() - timedelta(hours=1)).isoformat(),
    )

    # then all four problems come back together
    assert payload == {
        "offer": None,
        "errors": [
            {"code": "VALIDATION", "message": "Must be more than zero", "field": "quantity"},
            {
                "code": "VALIDATION",
                "message": "Use at most 4 decimal places",
                "field": "pricePerUnit",
            },
            {
                "code": "VALIDATION",
                "message": "Must have at most 2000 characters",
                "field": "message",
            },
            {"code": "VALIDATION", "message": "Must be in the future", "field": "expiresAt"},
        ],
    }


async def test_a_message_of_2000_characters_and_four_decimals_are_accepted(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an active listing of another organisation
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)

    # when the offer is at the limits: 2000 characters, four decimals, a zero price
    payload = await create(
        gql,
        pellets.access_token,
        listing["id"],
        quantity="2.1234",
        pricePerUnit="0",
        message="x" * 2000,
    )

    # then it is made as given
    assert payload["errors"] == [], payload
    offer = payload["offer"]
    assert (offer["quantity"], offer["pricePerUnit"], offer["totalPrice"]) == ("2.1234", "0", "0")
    assert len(offer["message"]) == 2000


# ---------------------------------------------------------------------------------------------
# Capacity and one open offer per maker


async def test_an_offer_above_what_is_left_of_the_listing_is_capacity_reached(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing of 10 t of which an accepted offer took 4
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    board = await register("board@maniwa.example", cluster_id, name="Maniwa Board Co")
    listing = await publish(gql, sawmill.access_token)
    first = await make_offer(gql, pellets.access_token, listing["id"], quantity="4")
    await accept(gql, sawmill.access_token, first["id"])

    # when another firm offers for 6.5 t
    payload = await create(gql, board.access_token, listing["id"], quantity="6.5")

    # then it does not fit, and the message says what is left
    assert payload == {
        "offer": None,
        "errors": [
            {
                "code": "CAPACITY_REACHED",
                "message": "Only 6 TNE of the listing are left; 6.5 does not fit",
                "field": "quantity",
            }
        ],
    }
    # and exactly what is left fits
    fits = await create(gql, board.access_token, listing["id"], quantity="6")
    assert (fits["errors"], fits["offer"]["status"]) == ([], "PENDING")


async def test_a_second_open_offer_on_one_listing_is_a_conflict_until_the_first_is_withdrawn(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an open offer of the pellet maker on the sawmill's listing
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    first = await make_offer(gql, pellets.access_token, listing["id"])

    # when the pellet maker makes a second one
    second = await create(gql, pellets.access_token, listing["id"], quantity="2")

    # then it is a conflict
    assert second == {
        "offer": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "You have an open offer on this listing: counter or withdraw it",
                "field": "listingId",
            }
        ],
    }

    # when the first is withdrawn, a new one is allowed
    withdrawn = await mutate(
        gql, OFFER_WITHDRAW, "offerWithdraw", pellets.access_token, id=first["id"]
    )
    assert (withdrawn["errors"], withdrawn["offer"]["status"]) == ([], "WITHDRAWN")
    assert withdrawn["offer"]["viewerCanWithdraw"] is False
    third = await create(gql, pellets.access_token, listing["id"], quantity="2")
    assert third["errors"] == [], third
    assert third["offer"]["id"] != first["id"]


# ---------------------------------------------------------------------------------------------
# Client ids, defaults


async def test_the_same_offer_sent_twice_with_its_id_is_made_once(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an offer the app sent with its own id
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer_id = str(uuid.uuid4())
    first = await create(gql, pellets.access_token, listing["id"], id=offer_id)
    assert (first["errors"], first["offer"]["id"]) == ([], offer_id)

    # when the app sends it again (it never saw the answer)
    again = await create(gql, pellets.access_token, listing["id"], id=offer_id)

    # then the same offer comes back, unchanged, and there is one offer
    assert again == first
    listed = await gql(OFFER_PAGE, {}, token=pellets.access_token)
    assert listed["data"]["offers"]["totalCount"] == 1


async def test_the_id_of_another_organisations_offer_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given the pellet maker's offer on the sawmill's listing
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    board = await register("board@maniwa.example", cluster_id, name="Maniwa Board Co")
    listing = await publish(gql, sawmill.access_token)
    theirs = await make_offer(gql, pellets.access_token, listing["id"])

    # when another firm sends an offer with that id
    payload = await create(gql, board.access_token, listing["id"], id=theirs["id"])

    # then it is a conflict, and the pellet maker's offer is untouched
    assert payload == {
        "offer": None,
        "errors": [
            {"code": "CONFLICT", "message": "This id belongs to another offer", "field": "id"}
        ],
    }
    still = await gql(OFFER, {"id": theirs["id"]}, token=pellets.access_token)
    assert still["data"]["offer"] == theirs


async def test_an_offer_lasts_seven_days_by_default_in_the_listings_currency(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a listing priced in euros in a yen cluster
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token, currency="EUR", pricePerUnit="40")
    assert listing["currency"] == "EUR"

    # when the pellet maker offers without an expiry
    before = clock.now()
    offer = await make_offer(gql, pellets.access_token, listing["id"], quantity="3", price="35")
    after = clock.now()

    # then it lapses 7 days after it was made, and is in euros
    expires_at = iso(offer["expiresAt"])
    assert before + timedelta(days=7) <= expires_at <= after + timedelta(days=7)
    assert (offer["currency"], offer["totalPrice"]) == ("EUR", "105")
    assert (offer["status"], offer["rounds"], offer["version"]) == ("PENDING", 1, 1)
    assert offer["awaiting"] == {"id": sawmill.organisation_id}
    assert [(t["round"], t["proposedBy"]["id"]) for t in offer["terms"]] == [
        (1, pellets.organisation_id)
    ]


async def test_an_explicit_expiry_with_an_offset_is_kept(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given an active listing of another organisation
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)

    # when the offer lapses in 3 days, given in Japan's time
    expires = (clock.now() + timedelta(days=3)).replace(microsecond=0)
    in_japan = expires.astimezone(timezone(timedelta(hours=9))).isoformat()
    offer = await make_offer(gql, pellets.access_token, listing["id"], expiresAt=in_japan)

    # then that moment is kept
    assert iso(offer["expiresAt"]) == expires


# ---------------------------------------------------------------------------------------------
# Counters


async def test_counters_take_turns_and_keep_the_history(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given the pellet maker's offer of 4 t at 4500
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"], message="For pellets")
    assert (offer["viewerCanAnswer"], offer["viewerCanWithdraw"]) == (False, True)

    # when the sawmill counters 4 t at 5200
    second = await counter(
        gql,
        sawmill.access_token,
        offer["id"],
        "4",
        "5200",
        message="Dry",
        expectedVersion=offer["version"],
    )

    # then it is the pellet maker's turn
    assert second["errors"] == [], second
    countered = second["offer"]
    assert (countered["status"], countered["rounds"], countered["version"]) == ("COUNTERED", 2, 2)
    assert countered["awaiting"] == {"id": pellets.organisation_id}
    assert (countered["viewerCanAnswer"], countered["viewerCanWithdraw"]) == (False, False)

    # when the pellet maker counters 5 t at 4800, and the sawmill once more 5 t at 5000
    third = await counter(gql, pellets.access_token, offer["id"], "5", "4800", expectedVersion=2)
    assert (third["errors"], third["offer"]["status"]) == ([], "PENDING")
    assert third["offer"]["awaiting"] == {"id": sawmill.organisation_id}
    fourth = await counter(
        gql, sawmill.access_token, offer["id"], "5", "5000", message="Final", expectedVersion=3
    )

    # then the status alternates and every round is kept, first first
    final = fourth["offer"]
    assert (fourth["errors"], final["status"], final["rounds"], final["version"]) == (
        [],
        "COUNTERED",
        4,
        4,
    )
    assert (final["quantity"], final["pricePerUnit"], final["totalPrice"], final["message"]) == (
        "5",
        "5000",
        "25000",
        "Final",
    )
    assert final["awaiting"] == {"id": pellets.organisation_id}
    assert final["terms"] == [
        {
            "round": 1,
            "proposedBy": {"id": pellets.organisation_id},
            "quantity": "4",
            "pricePerUnit": "4500",
            "message": "For pellets",
        },
        {
            "round": 2,
            "proposedBy": {"id": sawmill.organisation_id},
            "quantity": "4",
            "pricePerUnit": "5200",
            "message": "Dry",
        },
        {
            "round": 3,
            "proposedBy": {"id": pellets.organisation_id},
            "quantity": "5",
            "pricePerUnit": "4800",
            "message": "",
        },
        {
            "round": 4,
            "proposedBy": {"id": sawmill.organisation_id},
            "quantity": "5",
            "pricePerUnit": "5000",
            "message": "Final",
        },
    ]
    # and the pellet maker reads the same offer, now theirs to answer
    read = await gql(OFFER, {"id": offer["id"]}, token=pellets.access_token)
    assert read["data"]["offer"] == {**final, "viewerCanAnswer": True, "viewerCanWithdraw": True}


async def test_a_counter_on_a_stale_version_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an offer the sawmill countered (now version 2)
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    first = await counter(gql, sawmill.access_token, offer["id"], "4", "5200", expectedVersion=1)
    assert first["errors"] == [], first

    # when the pellet maker counters from version 1, which it saw before
    stale = await counter(gql, pellets.access_token, offer["id"], "4", "4900", expectedVersion=1)

    # then it is a conflict and the offer stays as the sawmill left it
    assert stale == {
        "offer": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "The offer was changed meanwhile (now version 2); reload it",
                "field": "expectedVersion",
            }
        ],
    }
    read = await gql(OFFER, {"id": offer["id"]}, token=sawmill.access_token)
    assert read["data"]["offer"] == first["offer"]


async def test_resending_the_same_counter_returns_the_offer_unchanged(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given the sawmill's counter, sent with the version it saw
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    first = await counter(
        gql, sawmill.access_token, offer["id"], "4", "5200", message="Dry", expectedVersion=1
    )
    assert first["errors"] == [], first

    # when the app sends the very same counter again (it lost the answer)
    again = await counter(
        gql, sawmill.access_token, offer["id"], "4", "5200", message="Dry", expectedVersion=1
    )

    # then the offer comes back as it was: no third round, the same version
    assert again == first
    assert (again["offer"]["rounds"], again["offer"]["version"]) == (2, 2)


async def test_a_counter_above_what_is_left_is_capacity_reached(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing of 10 t, 4 t of it taken by a trade, and another firm's open offer
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    board = await register("board@maniwa.example", cluster_id, name="Maniwa Board Co")
    listing = await publish(gql, sawmill.access_token)
    taken = await make_offer(gql, pellets.access_token, listing["id"], quantity="4")
    await accept(gql, sawmill.access_token, taken["id"])
    offer = await make_offer(gql, board.access_token, listing["id"], quantity="3")

    # when the sawmill counters with 7 t
    payload = await counter(gql, sawmill.access_token, offer["id"], "7", "5000")

    # then it does not fit, and the offer is unchanged
    assert payload == {
        "offer": None,
        "errors": [
            {
                "code": "CAPACITY_REACHED",
                "message": "Only 6 TNE of the listing are left; 7 does not fit",
                "field": "quantity",
            }
        ],
    }
    read = await gql(OFFER, {"id": offer["id"]}, token=board.access_token)
    assert (read["data"]["offer"]["quantity"], read["data"]["offer"]["version"]) == ("3", 1)


async def test_countering_out_of_turn_is_forbidden(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a PENDING offer: the sawmill's turn
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])

    # when the maker counters its own offer
    payload = await counter(gql, pellets.access_token, offer["id"], "4", "4000")

    # then it is the other party's turn
    assert payload == {
        "offer": None,
        "errors": [
            {
                "code": "FORBIDDEN",
                "message": "It is the other party's turn to answer",
                "field": None,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Expiry


async def test_an_expired_offer_reads_expired_and_can_no_longer_be_answered(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given an offer whose expiry has passed
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    await expire_offer(db, offer["id"])

    # then it reads as EXPIRED, with nobody to answer
    read = (await gql(OFFER, {"id": offer["id"]}, token=sawmill.access_token))["data"]["offer"]
    assert (read["status"], read["awaiting"], read["viewerCanAnswer"]) == ("EXPIRED", None, False)
    expired = await gql(OFFER_PAGE, {"filter": {"status": "EXPIRED"}}, token=sawmill.access_token)
    assert expired["data"]["offers"]["edges"] == [
        {"node": {"id": offer["id"], "status": "EXPIRED"}}
    ]
    pending = await gql(OFFER_PAGE, {"filter": {"status": "PENDING"}}, token=sawmill.access_token)
    assert pending["data"]["offers"]["totalCount"] == 0

    # when the sawmill accepts or counters it, or the pellet maker withdraws it
    accepted = await mutate(gql, OFFER_ACCEPT, "offerAccept", sawmill.access_token, id=offer["id"])
    countered = await counter(gql, sawmill.access_token, offer["id"], "4", "5000")
    withdrawn = await mutate(
        gql, OFFER_WITHDRAW, "offerWithdraw", pellets.access_token, id=offer["id"]
    )

    # then the deadline has passed for answers, and there is nothing left to withdraw
    deadline = [{"code": "DEADLINE_PASSED", "message": "The offer has expired", "field": "id"}]
    assert accepted == {"offer": None, "trade": None, "errors": deadline}
    assert countered == {"offer": None, "errors": deadline}
    assert withdrawn == {
        "offer": None,
        "errors": [{"code": "CONFLICT", "message": "The offer is EXPIRED", "field": "id"}],
    }
    # and the pellet maker may make a new offer on the listing
    fresh = await create(gql, pellets.access_token, listing["id"])
    assert (fresh["errors"], fresh["offer"]["status"]) == ([], "PENDING")


# ---------------------------------------------------------------------------------------------
# Declining


async def test_a_declined_offer_shows_its_reason_and_cannot_be_accepted(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a PENDING offer
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])

    # when the sawmill declines it with a reason
    declined = await mutate(
        gql,
        OFFER_DECLINE,
        "offerDecline",
        sawmill.access_token,
        id=offer["id"],
        reason="  Promised to a regular customer  ",
    )

    # then it is DECLINED with the reason, and nobody's turn
    assert declined["errors"] == [], declined
    shown = declined["offer"]
    assert (shown["status"], shown["declineReason"], shown["awaiting"], shown["version"]) == (
        "DECLINED",
        "Promised to a regular customer",
        None,
        2,
    )
    seen = await gql(OFFER, {"id": offer["id"]}, token=pellets.access_token)
    assert seen["data"]["offer"]["declineReason"] == "Promised to a regular customer"

    # when the sawmill accepts it after all
    accepted = await mutate(gql, OFFER_ACCEPT, "offerAccept", sawmill.access_token, id=offer["id"])

    # then it is a conflict
    assert accepted == {
        "offer": None,
        "trade": None,
        "errors": [{"code": "CONFLICT", "message": "The offer is DECLINED", "field": "id"}],
    }

    # when the same person declines it again (a retry)
    again = await mutate(
        gql,
        OFFER_DECLINE,
        "offerDecline",
        sawmill.access_token,
        id=offer["id"],
        reason="Promised to a regular customer",
    )

    # then it comes back unchanged
    assert again == declined


# ---------------------------------------------------------------------------------------------
# The list


async def test_offers_list_filters_orders_by_last_change_and_pages(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given the sawmill's three listings with offers of the pellet maker on each and of a board
    # maker on the first; and the sawmill's own offer on the pellet maker's listing
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    board = await register("board@maniwa.example", cluster_id, name="Maniwa Board Co")
    listings = [
        await publish(gql, sawmill.access_token, title=f"Cedar shavings lot {n}") for n in (1, 2, 3)
    ]
    # (a minute apart on the app's clock, which stands still unless moved)
    pellet_offers = []
    for listing in listings:
        clock.advance(timedelta(minutes=1))
        pellet_offers.append(await make_offer(gql, pellets.access_token, listing["id"]))
    clock.advance(timedelta(minutes=1))
    board_offer = await make_offer(gql, board.access_token, listings[0]["id"], quantity="2")
    bags = await publish(
        gql, pellets.access_token, title="Pellet bags, used", materialCode="wood-pellets"
    )
    clock.advance(timedelta(minutes=1))
    sawmill_offer = await make_offer(gql, sawmill.access_token, bags["id"], quantity="1")
    # and the sawmill countered the pellet maker's oldest offer last
    clock.advance(timedelta(minutes=1))
    countered = await counter(gql, sawmill.access_token, pellet_offers[0]["id"], "4", "5000")
    assert countered["errors"] == [], countered

    async def ids(token: str = sawmill.access_token, **filter: Any) -> list[str]:
        body = await gql(OFFER_PAGE, {"filter": filter}, token=token)
        page = body["data"]["offers"]
        assert page["totalCount"] == len(page["edges"]), body
        return [edge["node"]["id"] for edge in page["edges"]]

    # then the sawmill's offers come most recently changed first
    everything = [
        pellet_offers[0]["id"],
        sawmill_offer["id"],
        board_offer["id"],
        pellet_offers[2]["id"],
        pellet_offers[1]["id"],
    ]
    assert await ids() == everything
    # and the filters narrow them
    assert await ids(role="MADE") == [sawmill_offer["id"]]
    assert await ids(role="RECEIVED") == [i for i in everything if i != sawmill_offer["id"]]
    assert await ids(status="COUNTERED") == [pellet_offers[0]["id"]]
    assert await ids(listingId=listings[0]["id"]) == [pellet_offers[0]["id"], board_offer["id"]]
    assert await ids(awaitingMe=True) == [
        board_offer["id"],
        pellet_offers[2]["id"],
        pellet_offers[1]["id"],
    ]
    assert await ids(pellets.access_token, awaitingMe=True) == [
        pellet_offers[0]["id"],
        sawmill_offer["id"],
    ]
    assert await ids(board.access_token) == [board_offer["id"]]

    # and pages of two walk all five once, in order, each with the total
    seen: list[str] = []
    after = None
    pages = []
    for _ in range(3):
        body = await gql(OFFER_PAGE, {"first": 2, "after": after}, token=sawmill.access_token)
        page = body["data"]["offers"]
        pages.append((page["totalCount"], len(page["edges"]), page["pageInfo"]["hasNextPage"]))
        seen += [edge["node"]["id"] for edge in page["edges"]]
        after = page["pageInfo"]["endCursor"]
    assert pages == [(5, 2, True), (5, 2, True), (5, 1, False)]
    assert seen == everything


async def test_offers_list_with_full_fields_shows_the_offer_as_the_offer_query_does(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an offer
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])

    # when both parties list their offers
    for account in (sawmill, pellets):
        listed = await gql(OFFERS, {}, token=account.access_token)
        read = await gql(OFFER, {"id": offer["id"]}, token=account.access_token)
        # then the node is what the offer query returns
        assert listed["data"]["offers"]["edges"] == [{"node": read["data"]["offer"]}]


# ---------------------------------------------------------------------------------------------
# Notifications


async def kinds(gql: GraphQL, account: Account) -> list[tuple[str, str, str, str]]:
    body = await gql(NOTIFICATIONS, token=account.access_token)
    return [
        (n["node"]["kind"], n["node"]["title"], n["node"]["subjectType"], n["node"]["subjectId"])
        for n in body["data"]["notifications"]["edges"]
    ]


async def test_each_answer_tells_the_other_side(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given three listings of the sawmill
    sawmill, pellets = await sawmill_and_pellets(register, cluster_id)
    lots = [
        await publish(gql, sawmill.access_token, title=f"Cedar shavings lot {n}") for n in (1, 2, 3)
    ]

    # when the pellet maker offers on each; the sawmill counters the first, accepts the second
    # and declines the third
    made = [await make_offer(gql, pellets.access_token, lot["id"]) for lot in lots]
    countered = await counter(gql, sawmill.access_token, made[0]["id"], "4", "5000")
    assert countered["errors"] == [], countered
    await accept(gql, sawmill.access_token, made[1]["id"])
    declined = await mutate(
        gql, OFFER_DECLINE, "offerDecline", sawmill.access_token, id=made[2]["id"], reason="No"
    )
    assert declined["errors"] == [], declined

    # then the sawmill was told of each offer, newest first
    assert await kinds(gql, sawmill) == [
        ("OFFER_RECEIVED", "New offer on Cedar shavings lot 3", "OFFER", made[2]["id"]),
        ("OFFER_RECEIVED", "New offer on Cedar shavings lot 2", "OFFER", made[1]["id"]),
        ("OFFER_RECEIVED", "New offer on Cedar shavings lot 1", "OFFER", made[0]["id"]),
    ]
    # and the pellet maker of each answer
    assert await kinds(gql, pellets) == [
        ("OFFER_DECLINED", "Offer declined", "OFFER", made[2]["id"]),
        ("OFFER_ACCEPTED", "Offer accepted: Cedar shavings lot 2", "OFFER", made[1]["id"]),
        ("OFFER_COUNTERED", "Counter-offer on Cedar shavings lot 1", "OFFER", made[0]["id"]),
    ]

    # when the pellet maker counters back, the sawmill is told
    back = await counter(gql, pellets.access_token, made[0]["id"], "4", "4800")
    assert back["errors"] == [], back
    assert (await kinds(gql, sawmill))[0] == (
        "OFFER_COUNTERED",
        "Counter-offer on Cedar shavings lot 1",
        "OFFER",
        made[0]["id"],
    )
