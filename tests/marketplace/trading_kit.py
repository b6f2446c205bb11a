"""Shared steps of the trading tests: listings, offers and trades through the real API.

Each helper asserts that its step succeeded and returns the part of the response a test needs,
so a test reads as its story: ``listing = await publish(...)``, ``offer = await make_offer(...)``.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from backend.kit.db import Database
from backend.marketplace.models import Offer
from tests.conftest import CLOCK_START, GraphQL

LISTING_CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) {
    listing { id status quantity unit { code } currency version }
    errors { code message field }
  }
}
"""

LISTING = """
query Listing($id: ID!) { listing(id: $id) { id status quantity version } }
"""

OFFER_FIELDS = """
  id status quantity pricePerUnit currency totalPrice message expiresAt rounds version
  viewerCanAnswer viewerCanWithdraw declineReason
  awaiting { id } maker { id } owner { id } listing { id status }
  terms { round proposedBy { id } quantity pricePerUnit message }
"""

TRADE_FIELDS = """
  id status offerId listingId myRole quantity unit { code } pricePerUnit currency totalPrice
  deliveredQuantity deliveredBy { id } distanceKm
  supplier { id trustScore tradesCompleted reviewsCount ratingAverage }
  receiver { id trustScore tradesCompleted reviewsCount ratingAverage }
  history { status by { id } byPlatformAdmin note }
  reviews { rating comment reviewer { id } }
  impact { divertedKg co2eAvoidedKg disposalCostAvoided currency transportKm methodVersion
           baseline co2eKgPerTonne co2eSource disposalCostSource }
  viewerCanMarkInTransit viewerCanMarkDelivered viewerCanComplete viewerCanCancel
  viewerCanDispute viewerCanReview version
"""

OFFER_CREATE = f"""
mutation OfferCreate($input: OfferCreateInput!) {{
  offerCreate(input: $input) {{ offer {{ {OFFER_FIELDS} }} errors {{ code message field }} }}
}}
"""
OFFER_COUNTER = f"""
mutation OfferCounter($input: OfferCounterInput!) {{
  offerCounter(input: $input) {{ offer {{ {OFFER_FIELDS} }} errors {{ code message field }} }}
}}
"""
OFFER_ACCEPT = f"""
mutation OfferAccept($id: ID!) {{
  offerAccept(id: $id) {{
    offer {{ id status }} trade {{ {TRADE_FIELDS} }} errors {{ code message field }}
  }}
}}
"""
OFFER_DECLINE = f"""
mutation OfferDecline($id: ID!, $reason: String! = "") {{
  offerDecline(id: $id, reason: $reason) {{
    offer {{ {OFFER_FIELDS} }} errors {{ code message field }}
  }}
}}
"""
OFFER_WITHDRAW = f"""
mutation OfferWithdraw($id: ID!) {{
  offerWithdraw(id: $id) {{ offer {{ {OFFER_FIELDS} }} errors {{ code message field }} }}
}}
"""
OFFER = f"""
query Offer($id: ID!) {{ offer(id: $id) {{ {OFFER_FIELDS} }} }}
"""
OFFERS = f"""
query Offers($filter: OfferFilter, $first: Int, $after: String) {{
  offers(filter: $filter, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {OFFER_FIELDS} }} }}
  }}
}}
"""

TRADE_MUTATIONS = {
    name: f"""
mutation M($id: ID!{args}) {{
  {name}(id: $id{passed}) {{ trade {{ {TRADE_FIELDS} }} errors {{ code message field }} }}
}}
"""
    for name, args, passed in (
        ("tradeMarkInTransit", "", ""),
        (
            "tradeMarkDelivered",
            ", $deliveredQuantity: Decimal",
            ", deliveredQuantity: $deliveredQuantity",
        ),
        ("tradeComplete", "", ""),
        ("tradeCancel", ', $reason: String! = ""', ", reason: $reason"),
        ("tradeDispute", ', $reason: String! = "Short by half"', ", reason: $reason"),
    )
}
TRADE = f"""
query Trade($id: ID!) {{ trade(id: $id) {{ {TRADE_FIELDS} }} }}
"""
TRADES = f"""
query Trades($filter: TradeFilter, $first: Int, $after: String) {{
  trades(filter: $filter, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage endCursor }} edges {{ node {{ {TRADE_FIELDS} }} }}
  }}
}}
"""
MESSAGE_SEND = """
mutation Send($input: TradeMessageSendInput!) {
  tradeMessageSend(input: $input) {
    message { id body mine organisation { id } } errors { code message field }
  }
}
"""
MESSAGES = """
query Messages($tradeId: ID!, $first: Int, $after: String) {
  tradeMessages(tradeId: $tradeId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id body mine organisation { id } } }
  }
}
"""
REVIEW_CREATE = """
mutation Review($input: ReviewCreateInput!) {
  reviewCreate(input: $input) {
    review { id rating comment reviewer { id } tradeId } errors { code message field }
  }
}
"""
REVIEWS = """
query Reviews($organisationId: ID!) {
  organisationReviews(organisationId: $organisationId) {
    totalCount edges { node { rating comment reviewer { id } } }
  }
}
"""
MATCHES = """
query Matches($listingId: ID!, $first: Int, $after: String) {
  listingMatches(listingId: $listingId, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { score distanceKm relation reasons parts { name value weight reason }
                   listing { id title kind organisation { id } } } }
  }
}
"""
IMPACT = """
query Impact($clusterId: ID, $organisationId: ID, $from: DateTime, $to: DateTime) {
  impactSummary(clusterId: $clusterId, organisationId: $organisationId, from: $from, to: $to) {
    divertedKg co2eAvoidedKg disposalCostAvoided currency otherCurrencies { amount currency }
    tradesCompleted tradesWithoutMass transportKm methodVersions
    byMaterial { materialCode divertedKg co2eAvoidedKg tradesCompleted }
  }
}
"""
NOTIFICATIONS = """
query Inbox { notifications(first: 50) { edges { node { kind title subjectType subjectId } } } }
"""


def listing_input(**overrides: Any) -> dict[str, Any]:
    """An OFFER of 10 t of wood shavings in Maniwa, published at once, at 5000 JPY/t."""
    return {
        "kind": "OFFER",
        "category": "BY_PRODUCT",
        "title": "Cedar shavings, dry",
        "materialCode": "wood-shavings",
        "quantity": "10",
        "unit": "TNE",
        "pricePerUnit": "5000",
        "location": {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"},
        "publish": True,
        **overrides,
    }


async def publish(gql: GraphQL, token: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(LISTING_CREATE, {"input": listing_input(**overrides)}, token=token)
    payload = body["data"]["listingCreate"]
    assert payload["errors"] == [], body
    listing: dict[str, Any] = payload["listing"]
    return listing


async def make_offer(
    gql: GraphQL,
    token: str,
    listing_id: str,
    quantity: str = "4",
    price: str = "4500",
    **extra: Any,
) -> dict[str, Any]:
    body = await gql(
        OFFER_CREATE,
        {"input": {"listingId": listing_id, "quantity": quantity, "pricePerUnit": price, **extra}},
        token=token,
    )
    payload = body["data"]["offerCreate"]
    assert payload["errors"] == [], body
    offer: dict[str, Any] = payload["offer"]
    return offer


async def accept(gql: GraphQL, token: str, offer_id: str) -> dict[str, Any]:
    body = await gql(OFFER_ACCEPT, {"id": offer_id}, token=token)
    payload = body["data"]["offerAccept"]
    assert payload["errors"] == [], body
    trade: dict[str, Any] = payload["trade"]
    return trade


async def trade_step(
    gql: GraphQL, token: str, mutation: str, trade_id: str, **variables: Any
) -> dict[str, Any]:
    """Run one of TRADE_MUTATIONS and return its payload (trade and errors)."""
    body = await gql(TRADE_MUTATIONS[mutation], {"id": trade_id, **variables}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][mutation]
    return payload


async def agreed_trade(
    gql: GraphQL, supplier_token: str, taker_token: str, quantity: str = "4", **listing: Any
) -> dict[str, Any]:
    """The supplier lists, the taker offers ``quantity``, the supplier accepts: the trade."""
    published = await publish(gql, supplier_token, **listing)
    offer = await make_offer(gql, taker_token, published["id"], quantity=quantity)
    return await accept(gql, supplier_token, offer["id"])


async def completed_trade(
    gql: GraphQL, supplier_token: str, taker_token: str, quantity: str = "4", **listing: Any
) -> dict[str, Any]:
    """An agreed trade the supplier delivered and the taker completed."""
    trade = await agreed_trade(gql, supplier_token, taker_token, quantity, **listing)
    delivered = await trade_step(gql, supplier_token, "tradeMarkDelivered", trade["id"])
    assert delivered["errors"] == [], delivered
    completed = await trade_step(gql, taker_token, "tradeComplete", trade["id"])
    assert completed["errors"] == [], completed
    result: dict[str, Any] = completed["trade"]
    return result


async def expire_offer(db: Database, offer_id: str, when: datetime | None = None) -> None:
    """Move an offer's expiry before the app's clock (which starts at CLOCK_START)."""
    async with db.write() as session:
        await session.execute(
            update(Offer)
            .where(Offer.id == uuid.UUID(offer_id))
            .values(expires_at=when or CLOCK_START - timedelta(minutes=1))
        )
