"""Trading requests arriving at the same moment: a listing is never promised twice, and retries
count once.

Requests go through the real ASGI app all at once (asyncio.gather). Organisations are inserted
straight into the database and given access tokens (registering dozens through the API is slow
and throttled).
"""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.identity.models import Organisation
from backend.kit.db import Database
from backend.marketplace.models import (
    ImpactEntry,
    Listing,
    Offer,
    OfferStatus,
    Review,
    Trade,
    TradeStatus,
    TradeStep,
)
from backend.settings import Settings
from tests.conftest import GraphQL, Person, seed_people
from tests.marketplace.trading_kit import (
    OFFER_CREATE,
    REVIEW_CREATE,
    completed_trade,
    make_offer,
    publish,
    trade_step,
)

# Lighter than the kit's documents: a burst of 30 answers does not need every trade field.
ACCEPT = """
mutation Accept($id: ID!) {
  offerAccept(id: $id) {
    offer { id status } trade { id status quantity } errors { code message field }
  }
}
"""
CANCEL = """
mutation Cancel($id: ID!) {
  tradeCancel(id: $id, reason: "Plans changed") {
    trade { id status quantity } errors { code message field }
  }
}
"""
COMPLETE = """
mutation Complete($id: ID!) {
  tradeComplete(id: $id) {
    trade { id status history { status by { id } } impact { divertedKg } }
    errors { code message field }
  }
}
"""
SOLD_OUT = "Nothing is left of the listing: all 10 TNE are taken by trades"
LEFT = re.compile(r"^Only (?P<left>\d+(\.\d+)?) TNE of the listing are left; (?P<asked>\S+) does")


def payload_of(body: dict[str, Any], name: str) -> dict[str, Any]:
    """The payload of one mutation, after checking the request itself did not fail (no
    top-level GraphQL error such as a database error leaking out)."""
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    return payload


async def accept_at_once(gql: GraphQL, token: str, offer_id: str) -> dict[str, Any]:
    return payload_of(await gql(ACCEPT, {"id": offer_id}, token=token), "offerAccept")


async def cancel_at_once(gql: GraphQL, token: str, trade_id: str) -> dict[str, Any]:
    return payload_of(await gql(CANCEL, {"id": trade_id}, token=token), "tradeCancel")


async def stored_listing(db: Database, listing_id: str) -> tuple[Decimal, str, Decimal, int]:
    """What the database holds: the listing's committed quantity and status, and the sum and
    number of its AGREED trades."""
    async with db.read() as session:
        listing = await session.get(Listing, uuid.UUID(listing_id))
        assert listing is not None
        agreed = (
            await session.execute(
                select(func.coalesce(func.sum(Trade.quantity), 0), func.count()).where(
                    Trade.listing_id == listing.id, Trade.status == TradeStatus.AGREED
                )
            )
        ).one()
        return listing.quantity_committed, listing.status.value, Decimal(agreed[0]), agreed[1]


async def count_rows(db: Database, model: Any, *conditions: Any) -> int:
    async with db.read() as session:
        counted = await session.scalar(select(func.count()).select_from(model).where(*conditions))
        assert counted is not None
        return counted


async def offers_from(
    gql: GraphQL, makers: list[Person], listing_id: str, quantities: list[str]
) -> list[dict[str, Any]]:
    """Each maker offers its quantity on the listing (all at once: they queue on its lock)."""
    return list(
        await asyncio.gather(
            *(
                make_offer(gql, maker.token, listing_id, quantity=quantity)
                for maker, quantity in zip(makers, quantities, strict=True)
            )
        )
    )


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    """Thirty offers on a 10 t listing, all accepted by its owner at the same moment."""

    listing_id: str
    accepted: list[tuple[dict[str, Any], dict[str, Any]]]  # (offer, offerAccept payload)
    refused: list[tuple[dict[str, Any], dict[str, Any]]]

    @property
    def taken(self) -> Decimal:
        return sum((Decimal(offer["quantity"]) for offer, _ in self.accepted), Decimal(0))


async def accept_thirty_at_once(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, quantities: list[str]
) -> Burst:
    # Given a listing of 10 t and 30 organisations, each with an open offer on it
    owner, *makers = await seed_people(db, settings, cluster_id, 31)
    listing = await publish(gql, owner.token)
    assert (listing["quantity"], listing["unit"]["code"]) == ("10", "TNE")
    offers = await offers_from(gql, makers, listing["id"], quantities)
    assert {o["status"] for o in offers} == {"PENDING"}

    # when the owner accepts all 30 at the same moment
    results = await asyncio.gather(*(accept_at_once(gql, owner.token, o["id"]) for o in offers))
    pairs = list(zip(offers, results, strict=True))
    return Burst(
        listing_id=listing["id"],
        accepted=[(o, r) for o, r in pairs if not r["errors"]],
        refused=[(o, r) for o, r in pairs if r["errors"]],
    )


# Ten offers of 1 t fill the listing whatever the order (if one were refused, nothing was left);
# offers of 2 and 3 t may leave 1 t that none of the others fits into.
@pytest.mark.parametrize(
    "quantities",
    [["1"] * 30, ["1", "2", "3"] * 10, ["3", "2"] * 15],
    ids=["thirty-of-1t", "ten-each-of-1-2-3t", "fifteen-each-of-2-3t"],
)
async def test_the_owner_accepts_thirty_offers_at_once_on_ten_tonnes(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str, quantities: list[str]
) -> None:
    burst = await accept_thirty_at_once(gql, db, settings, cluster_id, quantities)

    # then the accepted offers fit into the 10 t, each with a trade of its own
    left = Decimal(10) - burst.taken
    assert (left == 0) if "1" in quantities else (left in (0, 1))
    assert len(burst.accepted) + len(burst.refused) == 30
    for offer, result in burst.accepted:
        assert result["offer"] == {"id": offer["id"], "status": "ACCEPTED"}
        assert (result["trade"]["status"], result["trade"]["quantity"]) == (
            "AGREED",
            offer["quantity"],
        )
    assert len({r["trade"]["id"] for _, r in burst.accepted}) == len(burst.accepted)
    # and no refused offer would fit into what is left
    for offer, result in burst.refused:
        assert (result["offer"], result["trade"]) == (None, None)
        assert Decimal(offer["quantity"]) > left
        [error] = result["errors"]
        if error["message"] == SOLD_OUT:
            # refused once the listing was full
            assert (left, error["code"], error["field"]) == (0, "CAPACITY_REACHED", "quantity")
            continue
        assert (error["code"], error["field"]) == ("CAPACITY_REACHED", "quantity"), error
        told = LEFT.match(error["message"])
        assert told is not None, error["message"]
        assert told["asked"] == offer["quantity"]
        # what was left when it was refused: less than it asked, never less than is left now
        assert left <= Decimal(told["left"]) < Decimal(offer["quantity"]), error["message"]

    if quantities == ["1"] * 30:
        # a 1 t offer is refused only once nothing is left
        assert (len(burst.accepted), len(burst.refused)) == (10, 20)
        assert {e["message"] for _, r in burst.refused for e in r["errors"]} == {SOLD_OUT}

    # and the database agrees: committed = what the AGREED trades hold, one trade per acceptance
    status = "RESERVED" if left == 0 else "ACTIVE"
    assert await stored_listing(db, burst.listing_id) == (
        burst.taken,
        status,
        burst.taken,
        len(burst.accepted),
    )
    listing_uuid = uuid.UUID(burst.listing_id)
    assert await count_rows(db, Trade, Trade.listing_id == listing_uuid) == len(burst.accepted)
    assert await count_rows(db, TradeStep) == len(burst.accepted)
    # and the refused offers are still open, for the owner to decline or the makers to change
    async with db.read() as session:
        rows = await session.execute(
            select(Offer.id, Offer.status).where(Offer.listing_id == listing_uuid)
        )
        stored = {row[0]: row[1] for row in rows.all()}
    assert stored == {
        **{uuid.UUID(o["id"]): OfferStatus.ACCEPTED for o, _ in burst.accepted},
        **{uuid.UUID(o["id"]): OfferStatus.PENDING for o, _ in burst.refused},
    }


async def test_cancellations_and_acceptances_at_once_keep_the_committed_quantity_exact(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str
) -> None:
    # Given a RESERVED listing: 10 trades of 1 t on its 10 t, and 8 more offers of 1 t waiting
    owner, *makers = await seed_people(db, settings, cluster_id, 19)
    listing = await publish(gql, owner.token)
    offers = await offers_from(gql, makers, listing["id"], ["1"] * 18)
    first = await asyncio.gather(*(accept_at_once(gql, owner.token, o["id"]) for o in offers[:10]))
    assert [r["errors"] for r in first] == [[]] * 10
    trades = [r["trade"]["id"] for r in first]
    waiting = offers[10:]
    assert await stored_listing(db, listing["id"]) == (Decimal(10), "RESERVED", Decimal(10), 10)

    # when two trades are cancelled, each by both of its parties at the same moment
    cancels = await asyncio.gather(
        *(
            cancel_at_once(gql, person.token, trade_id)
            for trade_id, maker in zip(trades[:2], makers[:2], strict=True)
            for person in (owner, maker)
        )
    )

    # then both are CANCELLED (the second request of each reads as a retry), 2 t are released
    # once each, and the listing takes offers again
    assert [(c["errors"], c["trade"]["status"]) for c in cancels] == [([], "CANCELLED")] * 4
    assert await stored_listing(db, listing["id"]) == (Decimal(8), "ACTIVE", Decimal(8), 8)

    # when three more trades are cancelled (by the owner or the taker) while the owner accepts
    # the 8 waiting offers, all at the same moment
    cancelling = [(owner, trades[2]), (makers[3], trades[3]), (owner, trades[4])]
    results = await asyncio.gather(
        *(cancel_at_once(gql, person.token, trade_id) for person, trade_id in cancelling),
        *(accept_at_once(gql, owner.token, o["id"]) for o in waiting),
    )
    cancelled, answered = results[:3], results[3:]

    # then the cancellations all go through
    assert [(c["errors"], c["trade"]["status"]) for c in cancelled] == [([], "CANCELLED")] * 3
    # and the acceptances take at most the 2 t free plus the 3 t released; the rest do not fit
    accepted = [a for a in answered if not a["errors"]]
    assert 2 <= len(accepted) <= 5
    for answer in answered:
        if answer["errors"]:
            # nothing was left when it was refused
            assert answer["errors"] == [
                {"code": "CAPACITY_REACHED", "message": SOLD_OUT, "field": "quantity"}
            ], answer
        else:
            assert answer["trade"]["status"] == "AGREED"
    # and the committed quantity is what the AGREED trades hold, never more than the 10 t
    committed = Decimal(5 + len(accepted))
    status = "RESERVED" if committed == 10 else "ACTIVE"
    assert await stored_listing(db, listing["id"]) == (
        committed,
        status,
        committed,
        5 + len(accepted),
    )

    # when every AGREED trade is then cancelled at once
    async with db.read() as session:
        open_trades = (
            await session.scalars(
                select(Trade.id).where(
                    Trade.listing_id == uuid.UUID(listing["id"]),
                    Trade.status == TradeStatus.AGREED,
                )
            )
        ).all()
    last = await asyncio.gather(*(cancel_at_once(gql, owner.token, str(t)) for t in open_trades))

    # then the whole listing is free again
    assert [c["errors"] for c in last] == [[]] * len(open_trades)
    assert await stored_listing(db, listing["id"]) == (Decimal(0), "ACTIVE", Decimal(0), 0)
    assert await count_rows(
        db, TradeStep, TradeStep.status == TradeStatus.CANCELLED
    ) == 2 + 3 + len(open_trades)


async def test_twenty_identical_acceptances_start_one_trade(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str
) -> None:
    # Given an offer of 4 t on a listing of 10 t
    owner, maker = await seed_people(db, settings, cluster_id, 2)
    listing = await publish(gql, owner.token)
    offer = await make_offer(gql, maker.token, listing["id"], quantity="4")

    # when the owner's app sends the acceptance 20 times at once
    results = await asyncio.gather(
        *(accept_at_once(gql, owner.token, offer["id"]) for _ in range(20))
    )

    # then every request answers with the one trade, without errors
    assert [r["errors"] for r in results] == [[]] * 20, results
    trade_ids = {r["trade"]["id"] for r in results}
    assert len(trade_ids) == 1
    assert {
        (r["offer"]["status"], r["trade"]["status"], r["trade"]["quantity"]) for r in results
    } == {("ACCEPTED", "AGREED", "4")}
    # and the 4 t are committed once, by one trade with one step in its history
    assert await stored_listing(db, listing["id"]) == (Decimal(4), "ACTIVE", Decimal(4), 1)
    assert await count_rows(db, Trade) == 1
    assert await count_rows(db, TradeStep) == 1


# SQLite queues the writers of the process, so the twins run one after the other there.


async def test_twenty_identical_offers_with_one_client_id_make_one_offer(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str
) -> None:
    # Given a listing, and a maker whose app sends the same offer (one client id) 20 times at once
    owner, maker = await seed_people(db, settings, cluster_id, 2)
    listing = await publish(gql, owner.token)
    client_id = str(uuid.uuid4())
    sent = {"listingId": listing["id"], "quantity": "3", "pricePerUnit": "4800", "id": client_id}

    bodies = await asyncio.gather(
        *(gql(OFFER_CREATE, {"input": sent}, token=maker.token) for _ in range(20))
    )

    # then every request answers with that one offer, without errors
    results = [payload_of(body, "offerCreate") for body in bodies]
    assert [r["errors"] for r in results] == [[]] * 20, results
    assert {(r["offer"]["id"], r["offer"]["status"], r["offer"]["quantity"]) for r in results} == {
        (client_id, "PENDING", "3")
    }
    # and one offer with one round of terms is stored
    assert await count_rows(db, Offer) == 1
    async with db.read() as session:
        offer = await session.get(Offer, uuid.UUID(client_id))
        assert offer is not None
        assert (offer.rounds, offer.quantity, offer.maker_id) == (
            1,
            Decimal(3),
            uuid.UUID(maker.organisation_id),
        )


async def test_ten_identical_reviews_at_once_count_once(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str
) -> None:
    # Given a completed trade between a supplier and a taker
    supplier, taker = await seed_people(db, settings, cluster_id, 2)
    trade = await completed_trade(gql, supplier.token, taker.token)
    review = {"tradeId": trade["id"], "rating": 4, "comment": "On time, dry"}

    # when the taker's app sends the same review 10 times at once
    bodies = await asyncio.gather(
        *(gql(REVIEW_CREATE, {"input": review}, token=taker.token) for _ in range(10))
    )

    # then every request answers with the one review
    results = [payload_of(body, "reviewCreate") for body in bodies]
    assert [r["errors"] for r in results] == [[]] * 10, results
    assert len({r["review"]["id"] for r in results}) == 1
    assert {
        (r["review"]["rating"], r["review"]["comment"], r["review"]["reviewer"]["id"])
        for r in results
    } == {(4, "On time, dry", taker.organisation_id)}
    # and it is stored and counted once, for the supplier only
    assert await count_rows(db, Review) == 1
    async with db.read() as session:
        rows = await session.execute(
            select(Organisation.id, Organisation.reviews_count, Organisation.rating_total)
        )
        counted = {row[0]: (row[1], row[2]) for row in rows.all()}
    assert counted == {
        uuid.UUID(supplier.organisation_id): (1, 4),
        uuid.UUID(taker.organisation_id): (0, 0),
    }


async def test_ten_identical_completions_at_once_complete_once(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str
) -> None:
    # Given a trade of 4 t the supplier reported delivered
    supplier, taker = await seed_people(db, settings, cluster_id, 2)
    listing = await publish(gql, supplier.token)
    offer = await make_offer(gql, taker.token, listing["id"], quantity="4")
    accepted = await accept_at_once(gql, supplier.token, offer["id"])
    trade_id = accepted["trade"]["id"]
    delivered = await trade_step(gql, supplier.token, "tradeMarkDelivered", trade_id)
    assert delivered["errors"] == [], delivered

    # when the taker's app confirms it 10 times at once
    bodies = await asyncio.gather(
        *(gql(COMPLETE, {"id": trade_id}, token=taker.token) for _ in range(10))
    )

    # then every request answers with the completed trade and its one COMPLETED step
    results = [payload_of(body, "tradeComplete") for body in bodies]
    assert [r["errors"] for r in results] == [[]] * 10, results
    expected_history = [
        {"status": "AGREED", "by": {"id": supplier.organisation_id}},
        {"status": "DELIVERED", "by": {"id": supplier.organisation_id}},
        {"status": "COMPLETED", "by": {"id": taker.organisation_id}},
    ]
    for result in results:
        assert result["trade"] == {
            "id": trade_id,
            "status": "COMPLETED",
            "history": expected_history,
            "impact": {"divertedKg": "4000"},
        }
    # and the ledger and the parties' records count it once
    assert await count_rows(db, ImpactEntry) == 1
    assert await count_rows(db, TradeStep, TradeStep.status == TradeStatus.COMPLETED) == 1
    async with db.read() as session:
        completed = dict(
            (await session.execute(select(Organisation.id, Organisation.trades_completed))).all()
        )
    assert completed == {
        uuid.UUID(supplier.organisation_id): 1,
        uuid.UUID(taker.organisation_id): 1,
    }
