"""Demo trades: in every cluster a few offers carried through the marketplace's own services to
completed trades with reviews (so each cluster's impact summary shows something), plus trades
and offers still under way, so every trading screen has something in each state.

Offers have fixed ids, and each scenario goes on from the state it finds, so loading twice creates
nothing and a run that was interrupted is completed by the next.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from backend.auth.viewer import Role, Viewer
from backend.demo import ids
from backend.kit.db import Database, utcnow
from backend.marketplace import service as marketplace
from backend.marketplace.models import Offer, Trade, TradeStatus

DEMO_OFFER_LIFETIME = timedelta(days=90)

# How far a scenario goes.
PENDING, COUNTERED, AGREED, IN_TRANSIT, COMPLETED = (
    "PENDING",
    "COUNTERED",
    "AGREED",
    "IN_TRANSIT",
    "COMPLETED",
)


@dataclass(frozen=True)
class DemoTrade:
    key: str
    maker: str  # the organisation making the offer
    owner: str  # the listing's organisation
    listing_title: str  # the listing (its first copy in backend.demo.listings)
    quantity: str
    price: str
    until: str
    message: str = ""
    counter_price: str | None = None  # the owner counters at this price first
    delivered: str | None = None  # delivered quantity, when it differs
    ratings: tuple[tuple[int, str], tuple[int, str]] | None = None  # (by maker, by owner)


SCENARIOS: tuple[DemoTrade, ...] = (
    # Hosur: the spinner takes the reelers' silk waste; pupae under negotiation
    DemoTrade(
        "hosur-silk-waste",
        "krishnagiri-spun-silk",
        "hosur-reelers",
        "Silk waste from multi-end reeling",
        "300",
        "170",
        COMPLETED,
        "We can collect on Friday.",
        delivered="285",
        ratings=((5, "Clean, well baled waste."), (4, "Paid on time.")),
    ),
    DemoTrade(
        "hosur-pupae",
        "krishnagiri-spun-silk",
        "hosur-reelers",
        "பட்டுப்புழு கூட்டுப்புழு - உலர்ந்தது",
        "100",
        "55",
        COUNTERED,
        "For a feed trial.",
        counter_price="60",
    ),
    # Maniwa: pellets from shavings and sawdust, trimmings for the biomass town
    DemoTrade(
        "maniwa-shavings",
        "katsuyama-pellets",
        "maniwa-lumber",
        "スギのかんなくず（乾燥）",
        "8",
        "3000",
        COMPLETED,
        "全量引き取ります。",
        ratings=((5, "乾燥状態が良い。"), (5, "迅速な引き取り。")),
    ),
    DemoTrade(
        "maniwa-sawdust",
        "katsuyama-pellets",
        "maniwa-lumber",
        "おがくず 大量にあります",
        "5",
        "1800",
        COMPLETED,
        counter_price="2000",
        delivered="4.8",
    ),
    DemoTrade(
        "maniwa-trimmings",
        "biomass-town",
        "hokubo-boxes",
        "梱包箱の端材",
        "3",
        "-500",
        COMPLETED,
        "For the community boiler.",
        ratings=((4, "Some nails left in."), (5, "Took everything.")),
    ),
    # Chachoengsao: husk to the power plant, a second lot on its way
    DemoTrade(
        "chachoengsao-husk",
        "husk-power",
        "bang-pakong-mill",
        "แกลบจากโรงสี ปริมาณมาก",
        "30",
        "600",
        COMPLETED,
        delivered="29.5",
        ratings=((5, "Dry husk, as agreed."), (5, "Good partner.")),
    ),
    DemoTrade(
        "chachoengsao-straw",
        "husk-power",
        "bang-khla-coop",
        "ฟางข้าวหลังเก็บเกี่ยว",
        "20",
        "400",
        IN_TRANSIT,
    ),
    # An Giang: fish fat to biodiesel, heads and bones to feed, a women's group asking for feed
    DemoTrade(
        "an-giang-fat",
        "mekong-biodiesel",
        "long-xuyen-pangasius",
        "Mỡ cá tra từ nhà máy phi lê",
        "12",
        "8800000",
        COMPLETED,
        ratings=((5, "Mỡ sạch."), (4, "Thanh toán đúng hạn.")),
    ),
    DemoTrade(
        "an-giang-bones",
        "an-giang-feed",
        "long-xuyen-pangasius",
        "Đầu và xương cá tra",
        "10",
        "3500000",
        COMPLETED,
    ),
    DemoTrade(
        "an-giang-feed",
        "my-hoa-hung-women",
        "an-giang-feed",
        "Thức ăn cá từ phụ phẩm",
        "40",
        "300000",
        PENDING,
        "Cho 12 hộ nuôi cá của nhóm.",
    ),
)


async def seed_trades(
    db: Database, *, organisations: dict[str, tuple[uuid.UUID, uuid.UUID, Role]]
) -> int:
    """``organisations``: demo key -> (user id, organisation id, role). Returns offers made."""

    def acting(key: str) -> Viewer:
        user_id, organisation_id, role = organisations[key]
        return Viewer(
            user_id=user_id,
            role=role,
            organisation_id=organisation_id,
            token_id="demo-seed",  # noqa: S106 - not a secret: the seeder acts without a token
        )

    created = 0
    for scenario in SCENARIOS:
        created += await _play(db, scenario, acting(scenario.maker), acting(scenario.owner))
    return created


async def _play(db: Database, scenario: DemoTrade, maker: Viewer, owner: Viewer) -> int:
    """Carry one scenario as far as it goes, from wherever an earlier (perhaps interrupted)
    run left it; returns 1 if it made the offer."""
    offer_id = ids.offer_id(scenario.key)
    made = 0
    async with db.read() as session:
        offer = await session.get(Offer, offer_id)
        trade_id = await session.scalar(select(Trade.id).where(Trade.offer_id == offer_id))
    if offer is None:
        listing_id = ids.listing_id(scenario.owner, scenario.listing_title, 0)
        # The seeder runs outside the app and its clock: each step happens at the wall clock's
        # now, one reading per step, so an offer's expiry is measured from the same instant.
        now = utcnow()
        offer = await marketplace.create_offer(
            now=now,
            db=db,
            viewer=maker,
            listing_id=listing_id,
            offer_id=offer_id,
            terms=marketplace.Terms(
                Decimal(scenario.quantity),
                Decimal(scenario.price),
                scenario.message,
                # open demo offers stay open for the screens a good while
                now + DEMO_OFFER_LIFETIME,
            ),
        )
        made = 1
    if scenario.counter_price is not None and offer.rounds == 1:
        now = utcnow()
        offer = await marketplace.counter_offer(
            now=now,
            db=db,
            viewer=owner,
            offer_id=offer.id,
            terms=marketplace.Terms(
                offer.quantity,
                Decimal(scenario.counter_price),
                expires_at=now + DEMO_OFFER_LIFETIME,
            ),
        )
    if scenario.until in (PENDING, COUNTERED):
        return made
    answering = maker if scenario.counter_price is not None else owner
    if trade_id is None:
        trade_id = (
            await marketplace.accept_offer(now=utcnow(), db=db, viewer=answering, offer_id=offer.id)
        ).trade.trade.id
    view = await marketplace.get_trade(db=db, viewer=owner, trade_id=trade_id)
    assert view is not None
    trade = view.trade
    supplier = owner if trade.supplier_id == owner.organisation_id else maker
    receiver = maker if supplier is owner else owner
    if scenario.until == AGREED:
        return made
    if trade.status is TradeStatus.AGREED:
        trade = (
            await marketplace.mark_in_transit(
                now=utcnow(), db=db, viewer=supplier, trade_id=trade_id
            )
        ).trade
    if scenario.until == IN_TRANSIT:
        return made
    if trade.status is TradeStatus.IN_TRANSIT:
        delivered = Decimal(scenario.delivered) if scenario.delivered else None
        trade = (
            await marketplace.mark_delivered(
                now=utcnow(),
                db=db,
                viewer=supplier,
                trade_id=trade_id,
                delivered_quantity=delivered,
            )
        ).trade
    if trade.status is TradeStatus.DELIVERED:
        await marketplace.complete_trade(now=utcnow(), db=db, viewer=receiver, trade_id=trade_id)
    if scenario.ratings is not None:
        for viewer, (rating, comment) in zip((maker, owner), scenario.ratings, strict=True):
            # the same review again is answered as a retry
            await marketplace.create_review(
                now=utcnow(),
                db=db,
                viewer=viewer,
                trade_id=trade_id,
                rating=rating,
                comment=comment,
            )
    return made
