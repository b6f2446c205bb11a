"""What happens to open offers when their listing changes, and the bounds on deliveries and
totals (found in review: offers answered on terms that were no longer listed)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from backend.auth.security import Security
from backend.identity import service as identity_service
from backend.identity.models import Membership, MembershipRole
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import GraphQL
from tests.marketplace.trading_kit import (
    IMPACT,
    NOTIFICATIONS,
    OFFER,
    OFFER_ACCEPT,
    OFFER_CREATE,
    TRADE,
    TRADES,
    accept,
    expire_offer,
    make_offer,
    publish,
    trade_step,
)

UPDATE = """
mutation Update($input: ListingUpdateInput!) {
  listingUpdate(input: $input) { listing { unit { code } currency } errors { code field } }
}
"""
CLOSE = """
mutation Close($id: ID!) { listingClose(id: $id) { listing { status } errors { code } } }
"""
HIDE = """
mutation Hide($input: ListingHideInput!) { listingHide(input: $input) { errors { code } } }
"""
REMAINING = """
query Remaining($id: ID!) {
  listing(id: $id) { status quantity quantityCommitted quantityRemaining }
}
"""


async def _parties(register: Any, cluster_id: str) -> tuple[Any, Any]:
    sawmill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id, name="Pellet Works")
    return sawmill, pellets


@pytest.mark.parametrize("change", ["unit", "currency", "close", "hide"])
async def test_open_offers_are_declined_when_their_listing_changes_its_terms_or_closes(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str, change: str
) -> None:
    # Given an open offer of 4 t at 4500 JPY on the sawmill's 10 t of shavings
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])

    # when the sawmill lists in kilograms or in euros instead, closes it, or moderators hide it
    if change == "unit":
        body = await gql(
            UPDATE,
            {"input": {"id": listing["id"], "unit": "KGM", "quantity": "10000"}},
            token=sawmill.access_token,
        )
        assert body["data"]["listingUpdate"]["errors"] == [], body
    elif change == "currency":
        body = await gql(
            UPDATE, {"input": {"id": listing["id"], "currency": "EUR"}}, token=sawmill.access_token
        )
        assert body["data"]["listingUpdate"]["errors"] == [], body
    elif change == "close":
        body = await gql(CLOSE, {"id": listing["id"]}, token=sawmill.access_token)
        assert body["data"]["listingClose"]["errors"] == [], body
    else:
        body = await gql(
            HIDE,
            {"input": {"id": listing["id"], "reason": "Duplicate"}},
            token=platform_admin_token,
        )
        assert body["data"]["listingHide"]["errors"] == [], body

    # then the offer is declined with the reason, and its maker is told
    reasons = {
        "unit": "The listing's material, unit or currency changed",
        "currency": "The listing's material, unit or currency changed",
        "close": "The listing was closed",
        "hide": "The listing was taken down by the moderators",
    }
    shown = (await gql(OFFER, {"id": offer["id"]}, token=pellets.access_token))["data"]["offer"]
    assert (shown["status"], shown["declineReason"], shown["viewerCanAnswer"]) == (
        "DECLINED",
        reasons[change],
        False,
    )
    inbox = await gql(NOTIFICATIONS, token=pellets.access_token)
    told = [
        (e["node"]["kind"], e["node"]["subjectId"])
        for e in inbox["data"]["notifications"]["edges"]
        if e["node"]["kind"] == "OFFER_DECLINED"
    ]
    assert told == [("OFFER_DECLINED", offer["id"])]
    # and it can no longer be accepted on terms that are not listed any more
    refused = await gql(OFFER_ACCEPT, {"id": offer["id"]}, token=sawmill.access_token)
    assert refused["data"]["offerAccept"]["errors"][0]["code"] == "CONFLICT", refused


async def test_a_listing_keeps_its_currency_once_offers_are_accepted(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a trade on 4 of the sawmill's 10 t
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    await accept(
        gql,
        sawmill.access_token,
        (await make_offer(gql, pellets.access_token, listing["id"]))["id"],
    )

    # when the sawmill prices it in euros, then that is refused: the trade is in yen
    body = await gql(
        UPDATE, {"input": {"id": listing["id"], "currency": "EUR"}}, token=sawmill.access_token
    )
    assert body["data"]["listingUpdate"] == {
        "listing": None,
        "errors": [{"code": "VALIDATION", "field": "currency"}],
    }
    # and the listing tells apps what is left
    remaining = await gql(REMAINING, {"id": listing["id"]}, token=pellets.access_token)
    assert remaining["data"]["listing"] == {
        "status": "ACTIVE",
        "quantity": "10",
        "quantityCommitted": "4",
        "quantityRemaining": "6",
    }


async def test_a_delivery_of_more_than_twice_the_agreed_quantity_is_refused(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given an agreed trade of 4 t
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    trade = await accept(
        gql,
        sawmill.access_token,
        (await make_offer(gql, pellets.access_token, listing["id"]))["id"],
    )

    # when 8.0001 t are reported delivered, then it is refused; 8 t are accepted
    too_much = await trade_step(
        gql, pellets.access_token, "tradeMarkDelivered", trade["id"], deliveredQuantity="8.0001"
    )
    assert too_much == {
        "trade": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "At most 8 TNE: more than twice the agreed quantity is another trade",
                "field": "deliveredQuantity",
            }
        ],
    }
    enough = await trade_step(
        gql, pellets.access_token, "tradeMarkDelivered", trade["id"], deliveredQuantity="8"
    )
    assert (enough["errors"], enough["trade"]["deliveredQuantity"]) == ([], "8")


async def test_totals_are_rounded_to_the_currencys_minor_unit(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a listing priced in yen (no minor unit) and an offer of 3.3333 t at 1.0001 JPY
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"], "3.3333", "1.0001")

    # then the total is what an invoice shows: 3 JPY, not 3.33363333
    assert offer["totalPrice"] == "3"
    trade = await accept(gql, sawmill.access_token, offer["id"])
    assert trade["totalPrice"] == "3"


async def test_expired_offers_are_left_alone_when_their_listing_closes(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    # Given an offer that lapsed a minute ago
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    await expire_offer(db, offer["id"])

    # when the sawmill closes the listing
    body = await gql(CLOSE, {"id": listing["id"]}, token=sawmill.access_token)
    assert body["data"]["listingClose"]["errors"] == [], body

    # then the offer still reads EXPIRED, and its maker hears nothing of it
    shown = (await gql(OFFER, {"id": offer["id"]}, token=pellets.access_token))["data"]["offer"]
    assert (shown["status"], shown["declineReason"]) == ("EXPIRED", "")
    inbox = await gql(NOTIFICATIONS, token=pellets.access_token)
    assert [e["node"]["kind"] for e in inbox["data"]["notifications"]["edges"]] == []


@pytest.mark.parametrize("expires_at", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
async def test_an_expiry_outside_the_calendar_is_a_validation_error(
    gql: GraphQL, register: Any, cluster_id: str, expires_at: str
) -> None:
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    body = await gql(
        OFFER_CREATE,
        {
            "input": {
                "listingId": listing["id"],
                "quantity": "1",
                "pricePerUnit": "1",
                "expiresAt": expires_at,
            }
        },
        token=pellets.access_token,
    )
    errors = body["data"]["offerCreate"]["errors"]
    assert [(e["code"], e["field"]) for e in errors] == [("VALIDATION", "expiresAt")], body


async def test_an_impact_period_outside_the_calendar_is_a_validation_error(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    sawmill, _ = await _parties(register, cluster_id)
    body = await gql(
        IMPACT,
        {"organisationId": sawmill.organisation_id, "from": "0001-01-01T00:00:00+05:00"},
        token=sawmill.access_token,
    )
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["message"]) for e in body["errors"]] == [
        ("VALIDATION", "Give a time between the years 1 and 9999 in UTC")
    ], body


async def test_platform_admins_find_disputed_trades_and_are_told_of_them(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # Given an agreed trade
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    trade = await accept(
        gql,
        sawmill.access_token,
        (await make_offer(gql, pellets.access_token, listing["id"]))["id"],
    )

    # when the pellet maker disputes it
    disputed = await trade_step(
        gql, pellets.access_token, "tradeDispute", trade["id"], reason="Half was wet"
    )
    assert disputed["errors"] == [], disputed

    # then platform admins are told, and find it among the disputed trades
    inbox = await gql(NOTIFICATIONS, token=platform_admin_token)
    assert [
        (e["node"]["kind"], e["node"]["subjectId"]) for e in inbox["data"]["notifications"]["edges"]
    ] == [("TRADE_DISPUTED", trade["id"])]
    found = await gql(TRADES, {"filter": {"status": "DISPUTED"}}, token=platform_admin_token)
    assert [e["node"]["id"] for e in found["data"]["trades"]["edges"]] == [trade["id"]]
    assert found["data"]["trades"]["edges"][0]["node"]["viewerCanComplete"] is True


async def test_one_person_in_both_organisations_cannot_confirm_their_own_delivery(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, settings: Settings
) -> None:
    # Given a trade, and a person of the pellet maker who is also a member of the sawmill
    sawmill, pellets = await _parties(register, cluster_id)
    listing = await publish(gql, sawmill.access_token)
    trade = await accept(
        gql,
        sawmill.access_token,
        (await make_offer(gql, pellets.access_token, listing["id"]))["id"],
    )
    async with db.write() as session:
        session.add(
            Membership(
                user_id=uuid.UUID(pellets.user_id),
                organisation_id=uuid.UUID(sawmill.organisation_id),
                role=MembershipRole.MEMBER,
            )
        )
    # (switching to the sawmill as the app does: a refresh for that organisation)
    for_sawmill = (
        await identity_service.refresh_token(
            db=db,
            security=Security.from_settings(settings),
            refresh_token=pellets.refresh_token,
            organisation_id=uuid.UUID(sawmill.organisation_id),
        )
    ).access_token

    # when they report the delivery for the pellet maker, then confirm it for the sawmill
    delivered = await trade_step(gql, pellets.access_token, "tradeMarkDelivered", trade["id"])
    assert delivered["errors"] == [], delivered
    # (the app offers them no Complete button for the sawmill either)
    shown = await gql(TRADE, {"id": trade["id"]}, token=for_sawmill)
    assert shown["data"]["trade"]["viewerCanComplete"] is False
    completed = await trade_step(gql, for_sawmill, "tradeComplete", trade["id"])

    # then that is refused: someone else confirms it
    assert completed == {
        "trade": None,
        "errors": [
            {
                "code": "FORBIDDEN",
                "message": "Someone else confirms the delivery you reported",
                "field": None,
            }
        ],
    }
    assert (await trade_step(gql, sawmill.access_token, "tradeComplete", trade["id"]))[
        "errors"
    ] == []
