"""The whole path through the API: publish, match, offer, counter, accept, deliver, complete,
review, impact."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL
from tests.marketplace.trading_kit import (
    IMPACT,
    LISTING,
    MATCHES,
    MESSAGE_SEND,
    MESSAGES,
    NOTIFICATIONS,
    OFFER_COUNTER,
    REVIEW_CREATE,
    TRADE,
    accept,
    make_offer,
    publish,
    trade_step,
)


async def test_from_listing_to_impact(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # Given a sawmill with 10 t of shavings, and a pellet maker 12 km away that wants shavings
    sawmill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register(
        "pellets@maniwa.example",
        cluster_id,
        name="Katsuyama Pellet Works",
        location={"lat": 35.0, "lon": 133.72, "placeName": "Kuse"},
    )
    want = await publish(
        gql,
        pellets.access_token,
        kind="WANT",
        title="Shavings for pellets",
        quantity="8",
        pricePerUnit="6000",
        location={"lat": 35.0, "lon": 133.72, "placeName": "Kuse"},
    )
    have = await publish(gql, sawmill.access_token)

    # when the sawmill's listing is published, the pellet maker is told of the match
    inbox = await gql(NOTIFICATIONS, token=pellets.access_token)
    kinds = [e["node"]["kind"] for e in inbox["data"]["notifications"]["edges"]]
    assert kinds == ["LISTING_MATCH"], inbox

    # and the sawmill's matches show the want first, with its reasons
    matches = await gql(MATCHES, {"listingId": have["id"]}, token=sawmill.access_token)
    edges = matches["data"]["listingMatches"]["edges"]
    assert [e["node"]["listing"]["id"] for e in edges] == [want["id"]], matches
    match = edges[0]["node"]
    assert match["relation"] == "SAME"
    assert [p["name"] for p in match["parts"]] == [
        "material",
        "quantity",
        "distance",
        "availability",
        "price",
        "trust",
    ]
    assert "Same material: Wood shavings" in match["reasons"]
    assert "Within the buyer's price" in match["reasons"]
    assert 60 <= match["score"] <= 100

    # when the pellet maker offers 8 t at 4500, the sawmill counters 8 t at 5000
    offer = await make_offer(gql, pellets.access_token, have["id"], quantity="8", price="4500")
    assert (offer["status"], offer["awaiting"]["id"]) == ("PENDING", sawmill.organisation_id)
    countered = await gql(
        OFFER_COUNTER,
        {
            "input": {
                "id": offer["id"],
                "quantity": "8",
                "pricePerUnit": "5000",
                "message": "Dry and sieved",
                "expectedVersion": offer["version"],
            }
        },
        token=sawmill.access_token,
    )
    counter = countered["data"]["offerCounter"]["offer"]
    assert (counter["status"], counter["rounds"], counter["awaiting"]["id"]) == (
        "COUNTERED",
        2,
        pellets.organisation_id,
    )
    assert [(t["round"], t["pricePerUnit"]) for t in counter["terms"]] == [(1, "4500"), (2, "5000")]

    # and the pellet maker accepts: a trade of 8 t at 5000, the listing keeps 2 t
    trade = await accept(gql, pellets.access_token, offer["id"])
    assert (trade["status"], trade["quantity"], trade["pricePerUnit"], trade["totalPrice"]) == (
        "AGREED",
        "8",
        "5000",
        "40000",
    )
    assert (trade["supplier"]["id"], trade["receiver"]["id"]) == (
        sawmill.organisation_id,
        pellets.organisation_id,
    )
    assert trade["myRole"] == "RECEIVER"
    listing = await gql(LISTING, {"id": have["id"]}, token=sawmill.access_token)
    assert listing["data"]["listing"]["status"] == "ACTIVE"

    # they talk on the trade
    sent = await gql(
        MESSAGE_SEND,
        {"input": {"tradeId": trade["id"], "body": "Pickup Tuesday 9:00?"}},
        token=pellets.access_token,
    )
    assert sent["data"]["tradeMessageSend"]["errors"] == [], sent
    chat = await gql(MESSAGES, {"tradeId": trade["id"]}, token=sawmill.access_token)
    assert [
        (e["node"]["body"], e["node"]["mine"]) for e in chat["data"]["tradeMessages"]["edges"]
    ] == [("Pickup Tuesday 9:00?", False)]

    # the sawmill sends it, the pellet maker reports 7.5 t received, the sawmill confirms
    sent_off = await trade_step(gql, sawmill.access_token, "tradeMarkInTransit", trade["id"])
    assert sent_off["trade"]["status"] == "IN_TRANSIT", sent_off
    delivered = await trade_step(
        gql, pellets.access_token, "tradeMarkDelivered", trade["id"], deliveredQuantity="7.5"
    )
    assert delivered["trade"]["status"] == "DELIVERED", delivered
    assert delivered["trade"]["deliveredQuantity"] == "7.5"
    completed = await trade_step(gql, sawmill.access_token, "tradeComplete", trade["id"])
    done = completed["trade"]
    assert done["status"] == "COMPLETED", completed
    assert [(h["status"], h["by"]["id"]) for h in done["history"]] == [
        ("AGREED", pellets.organisation_id),
        ("IN_TRANSIT", sawmill.organisation_id),
        ("DELIVERED", pellets.organisation_id),
        ("COMPLETED", sawmill.organisation_id),
    ]
    # the ledger: 7500 kg of wood kept from a landfill, at 2322 kg CO2e and 25000 JPY per tonne
    impact = done["impact"]
    assert impact["divertedKg"] == "7500"
    assert impact["co2eAvoidedKg"] == "17415"
    assert impact["disposalCostAvoided"] == "187500"
    assert impact["currency"] == "JPY"
    assert impact["methodVersion"] == "eic-2026.1"
    assert impact["co2eKgPerTonne"] == "2322"
    assert "IPCC 2006" in impact["co2eSource"]
    assert "Illustrative" in impact["disposalCostSource"]
    assert 9 < impact["transportKm"] < 12

    # both review each other; trust moves
    for account, rating in ((pellets, 5), (sawmill, 4)):
        reviewed = await gql(
            REVIEW_CREATE,
            {"input": {"tradeId": trade["id"], "rating": rating, "comment": "Good partner"}},
            token=account.access_token,
        )
        assert reviewed["data"]["reviewCreate"]["errors"] == [], reviewed
    final = await gql(TRADE, {"id": trade["id"]}, token=sawmill.access_token)
    shown = final["data"]["trade"]
    assert shown["supplier"]["tradesCompleted"] == 1
    assert shown["supplier"]["reviewsCount"] == 1
    assert shown["supplier"]["ratingAverage"] == 5.0
    # (5 + 3 x 5) / 6 = 3.33 stars -> 0.583; 1 trade -> 1/6 experience: 70 % x 0.583 + 30 % x 0.167
    assert shown["supplier"]["trustScore"] == 46
    assert shown["receiver"]["trustScore"] == 43
    assert shown["viewerCanReview"] is False

    # and the impact summary of the pellet maker counts the trade
    summary = await gql(
        IMPACT, {"organisationId": pellets.organisation_id}, token=pellets.access_token
    )
    assert summary["data"]["impactSummary"] == {
        "divertedKg": "7500",
        "co2eAvoidedKg": "17415",
        "disposalCostAvoided": "187500",
        "currency": "JPY",
        "otherCurrencies": [],
        "tradesCompleted": 1,
        "tradesWithoutMass": 0,
        "transportKm": impact["transportKm"],
        "methodVersions": ["eic-2026.1"],
        "byMaterial": [
            {
                "materialCode": "wood-shavings",
                "divertedKg": "7500",
                "co2eAvoidedKg": "17415",
                "tradesCompleted": 1,
            }
        ],
    }
