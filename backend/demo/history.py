"""Demo trade history: twelve months of completed trades in every cluster, ending at the load,
whose pattern is the inter-firm network the brief's Table 1 gives the cluster (DOMAIN.md):

- Hosur (silk), extensive bilateral links: pairs of firms, each trading with one partner again
  and again (a reeler's pupae to one oil press, a spinner's waste yarn to one spinner).
- Maniwa (wood), multilateral cooperation along the supply chain: sawmills each supply three or
  more processors (pellets, cat sand, ethanol, power, wood concrete), and the processors take
  from several mills.
- Chachoengsao (rice), horizontal links: rice mills trade husk, bran and broken rice among
  themselves; a few flows go to the husk power plant and the biogas pig farm.
- An Giang (fish), extensive subcontracting: the export fillet plant at the centre, its contract
  farms, filleting workshops, fat, feed and sludge takers each trading with it.

Each ``Flow`` is a supplier sending a material to a receiver a number of times in the year. The
trades are spread over the months and vary in size and price around the flow's figures, the same
on every machine (a random generator seeded with the trade's key). Firms of the clusters that
appear in no flow are the isolated members the insights point at.

A trade is written the way the marketplace would have left it, without going through its
services: listing, offer, acceptance and three steps through them cost about 100 statements and
60 ms of CPU per trade on SQLite (some 25 s for this history); in bulk the whole history takes
about 550 statements and 0.7 s. What is written: the supplier's lot of the month (a listing, all
of it taken), the receiver's offer on it, accepted by the supplier; the trade with its four
steps, AGREED to COMPLETED, delivered by the supplier and confirmed by the receiver; both
parties' ``trades_completed`` counters; and the impact ledger entry, written by the
marketplace's own ``impact.record`` at the completion's moment. No notifications: a year of them
would bury the demo accounts' inboxes. Trades have stable ids (``ids.history_trade_id``); those
already there are left alone, so loading twice creates nothing.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue.models import Material, Unit
from backend.catalogue.reference import ECO_PRODUCTS
from backend.demo import ids
from backend.identity.models import Organisation
from backend.kit.db import Database
from backend.kit.geo import great_circle_km
from backend.kit.money import plain
from backend.marketplace.models import (
    Delivery,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Offer,
    OfferStatus,
    OfferTerms,
    Recurrence,
    Trade,
    TradeStatus,
    TradeStep,
)
from backend.marketplace.service import impact

# The history's span, back from the load: the newest trade completes a few days before it.
YEAR = 360
NEWEST_DAYS_AGO = 4
# Lots are counted back from the load in blocks of this many days (the month a lot is of).
LOT_DAYS = 31
# What the marketplace gives a listing and an offer that nobody set otherwise.
LISTING_LIFETIME = timedelta(days=90)
OFFER_LIFETIME = timedelta(days=7)
# A trade's steps after the offer was made: accepted, sent, delivered, confirmed.
ACCEPTED_AFTER = timedelta(hours=5)
SENT_AFTER = timedelta(hours=20)
DELIVERED_AFTER = timedelta(hours=26)
COMPLETED_AFTER = timedelta(hours=31)


@dataclass(frozen=True)
class Flow:
    supplier: str
    receiver: str
    material: str
    quantity: str  # of a trade: "low-high unit" ("250-420 KGM"), anywhere in between
    price: str  # per unit in the cluster's currency, varied by a few per cent per trade
    trades: int  # in the twelve months
    # the lots' name when the material's local name does not say it (broken rice is filed
    # under "materials unsuitable for consumption or processing")
    name: str = ""

    @property
    def unit(self) -> str:
        return self.quantity.split()[1]

    @property
    def bounds(self) -> tuple[Decimal, Decimal]:
        low, high = self.quantity.split()[0].split("-")
        return Decimal(low), Decimal(high)


# A lot is named in the cluster's language: the material, then the month.
LOT_NAMES = {
    "en": "{material}, lot of {month:%B %Y}",
    "ja": "{material} {month:%Y}年{month.month}月分",
    "th": "{material} ล็อตเดือน {month.month}/{month.year}",
    "vi": "{material} lô tháng {month.month}/{month.year}",
}


@dataclass(frozen=True)
class ClusterHistory:
    slug: str
    language: str  # of the lots' titles
    price_step: str  # prices are rounded to this (whole rupees, tens of yen ...)
    flows: tuple[Flow, ...]


HOSUR: tuple[Flow, ...] = (
    # pairs: each firm trades with one partner
    Flow("hosur-reelers", "krishnagiri-spun-silk", "silk-waste", "250-420 KGM", "175", 12),
    Flow("bagalur-reeling", "hosur-pupae-oil", "silkworm-pupae", "150-300 KGM", "58", 10),
    Flow("denkanikottai-mulberry", "mulberry-biomass", "mulberry-residue", "3-7 TNE", "800", 9),
    Flow("kelamangalam-cocoon-farm", "hosur-vermicompost", "mulberry-residue", "1-3 TNE", "300", 8),
    Flow("kamandoddi-cocoon-farm", "hosur-silk-recyclers", "silk-waste", "100-200 KGM", "120", 6),
    Flow("hosur-twisting", "denkanikottai-spinners", "silk-waste", "120-250 KGM", "160", 10),
    Flow("berigai-reelers", "hosur-pupae-feed", "silkworm-pupae", "200-350 KGM", "52", 11),
    Flow("shoolagiri-reelers", "rayakottai-fish-farm", "silkworm-pupae", "80-150 KGM", "40", 8),
    # the briquette maker heats one reeling unit's basins: a chain of three
    Flow("mulberry-biomass", "bagalur-reeling", "biomass-briquettes", "1-2 TNE", "5500", 6),
)
MANIWA: tuple[Flow, ...] = (
    # sawmills to several processors each
    Flow("maniwa-lumber", "katsuyama-pellets", "wood-shavings", "6-10 TNE", "3000", 8),
    Flow("maniwa-lumber", "mikamo-cat-sand", "sawdust", "4-8 TNE", "2000", 6),
    Flow("maniwa-lumber", "maniwa-bioethanol", "sawdust", "8-14 TNE", "1800", 8),
    Flow("maniwa-lumber", "maniwa-biomass-power", "bark", "15-25 TNE", "500", 10),
    Flow("maniwa-lumber", "maniwa-wood-concrete", "wood-trimmings", "2-4 TNE", "1000", 5),
    Flow("ochiai-sawmill", "katsuyama-pellets", "wood-shavings", "4-7 TNE", "2800", 7),
    Flow("ochiai-sawmill", "maniwa-biomass-power", "bark", "8-14 TNE", "500", 8),
    Flow("ochiai-sawmill", "maniwa-bioethanol", "wood-trimmings", "3-6 TNE", "1500", 6),
    Flow("ochiai-sawmill", "mikamo-cat-sand", "wood-shavings", "2-4 TNE", "2500", 5),
    Flow("kuse-sawmill", "maniwa-biomass-power", "bark", "6-12 TNE", "400", 7),
    Flow("kuse-sawmill", "katsuyama-pellets", "sawdust", "3-6 TNE", "1900", 6),
    Flow("kuse-sawmill", "maniwa-wood-concrete", "wood-trimmings", "1.5-3 TNE", "800", 4),
    Flow("yubara-timber", "maniwa-biomass-power", "wood-trimmings", "4-8 TNE", "0", 6),
    Flow("yubara-timber", "mikamo-cat-sand", "sawdust", "2-4 TNE", "2000", 5),
    Flow("yubara-timber", "yubara-greenhouse", "bark", "3-6 TNE", "0", 4),
    # box and joinery makers' offcuts; the crate maker's all go to the power station
    Flow("hokubo-boxes", "biomass-town", "wood-trimmings", "2-3 TNE", "-500", 6),
    Flow("hokubo-boxes", "maniwa-wood-concrete", "wood-trimmings", "1-2 TNE", "-300", 4),
    Flow("hokubo-boxes", "katsuyama-pellets", "wood-trimmings", "1-2 TNE", "500", 3),
    Flow("katsuyama-crates", "maniwa-biomass-power", "wood-trimmings", "1.5-3 TNE", "-500", 10),
    Flow("maniwa-precut", "katsuyama-pellets", "wood-shavings", "2-4 TNE", "2700", 6),
    Flow("maniwa-precut", "maniwa-bioethanol", "sawdust", "2-4 TNE", "1800", 5),
    # eco-products on down the chain, and pellet fines to the cat sand maker
    Flow("katsuyama-pellets", "yubara-greenhouse", "wood-pellets", "2-4 TNE", "32000", 5),
    Flow("katsuyama-pellets", "mikamo-cat-sand", "sawdust", "1-2 TNE", "1500", 4),
)
CHACHOENGSAO: tuple[Flow, ...] = (
    # mill to mill: husk to the parboilers' boilers, broken rice to the flour mill,
    # bran to the mill with a stabiliser
    Flow("ban-pho-mill", "bang-pakong-mill", "rice-husk", "15-25 TNE", "550", 8),
    Flow("bang-nam-priao-mill", "bang-pakong-mill", "rice-husk", "10-20 TNE", "550", 7),
    Flow("sanam-chai-khet-mill", "bang-pakong-mill", "rice-husk", "20-30 TNE", "520", 10),
    Flow("sanam-chai-khet-mill", "ratchasan-mill", "rice-husk", "3-5 TNE", "550", 2),
    Flow("bang-nam-priao-mill", "ratchasan-mill", "rice-husk", "8-12 TNE", "560", 5),
    Flow(
        "bang-pakong-mill", "khlong-khuean-mill", "ewc-02-03-04", "5-10 TNE", "9500", 8, "ปลายข้าว"
    ),
    Flow("ban-pho-mill", "khlong-khuean-mill", "ewc-02-03-04", "4-8 TNE", "9500", 6, "ปลายข้าว"),
    Flow("plaeng-yao-mill", "khlong-khuean-mill", "ewc-02-03-04", "3-6 TNE", "9000", 6, "ปลายข้าว"),
    Flow("ratchasan-mill", "khlong-khuean-mill", "ewc-02-03-04", "3-5 TNE", "9200", 5, "ปลายข้าว"),
    Flow("plaeng-yao-mill", "ban-pho-mill", "rice-bran", "2-4 TNE", "7200", 6),
    Flow("ratchasan-mill", "plaeng-yao-mill", "rice-husk", "2-3 TNE", "550", 4),
    # the few flows out of the mills: husk to power, bran and manure to the farms
    Flow("bang-pakong-mill", "husk-power", "rice-husk", "25-40 TNE", "600", 8),
    Flow("plaeng-yao-mill", "husk-power", "rice-husk", "20-30 TNE", "600", 8),
    Flow("ban-pho-mill", "phanom-poultry", "rice-bran", "2-4 TNE", "7500", 8),
    Flow("phanom-poultry", "bang-nam-priao-pig-farm", "poultry-manure", "8-12 TNE", "100", 10),
    Flow("khlong-khuean-mill", "bang-nam-priao-pig-farm", "rice-bran", "2-3 TNE", "7000", 5),
)
AN_GIANG: tuple[Flow, ...] = (
    # the fillet plant's by-products, each to its taker
    Flow("long-xuyen-pangasius", "mekong-biodiesel", "fish-fat", "8-14 TNE", "8800000", 12),
    Flow("long-xuyen-pangasius", "an-giang-fish-oil", "fish-fat", "4000-8000 LTR", "8000", 6),
    Flow("long-xuyen-pangasius", "an-giang-feed", "fish-heads-bones", "15-25 TNE", "3500000", 12),
    Flow(
        "long-xuyen-pangasius",
        "long-xuyen-wastewater",
        "fish-processing-sludge",
        "20-40 MTQ",
        "-200000",
        12,
    ),
    # its contract farms on its feed
    Flow("long-xuyen-pangasius", "my-thoi-fish-farm", "fish-feed", "5-10 TNE", "12000000", 6),
    Flow("long-xuyen-pangasius", "cho-moi-fish-farm", "fish-feed", "4-8 TNE", "12000000", 6),
    Flow("long-xuyen-pangasius", "phu-tan-fish-farm", "fish-feed", "3-6 TNE", "12000000", 6),
    Flow("long-xuyen-pangasius", "chau-thanh-fish-farm", "fish-feed", "5-9 TNE", "12000000", 6),
    # its filleting workshops return heads, bones and fat
    Flow("my-quy-filleting", "long-xuyen-pangasius", "fish-heads-bones", "2-5 TNE", "3000000", 8),
    Flow("my-quy-filleting", "long-xuyen-pangasius", "fish-fat", "0.5-1.5 TNE", "8500000", 6),
    Flow("binh-duc-filleting", "long-xuyen-pangasius", "fish-heads-bones", "2-4 TNE", "3000000", 8),
    Flow(
        "my-thanh-filleting", "long-xuyen-pangasius", "fish-heads-bones", "1.5-3 TNE", "3000000", 8
    ),
    # biodiesel back for the plant's boilers (by the litre: no mass in the ledger)
    Flow("mekong-biodiesel", "long-xuyen-pangasius", "biodiesel", "2000-4000 LTR", "21000", 4),
    # the few links that bypass it
    Flow("an-giang-feed", "my-thoi-fish-farm", "fish-feed", "3-5 TNE", "12500000", 4),
    Flow("my-quy-filleting", "mekong-biodiesel", "fish-fat", "0.5-1 TNE", "8600000", 3),
)

HISTORIES: tuple[ClusterHistory, ...] = (
    ClusterHistory("hosur-silk", "en", "1", HOSUR),
    ClusterHistory("maniwa-wood", "ja", "10", MANIWA),
    ClusterHistory("chachoengsao-rice", "th", "10", CHACHOENGSAO),
    ClusterHistory("an-giang-fish", "vi", "1000", AN_GIANG),
)

# Quantities are rounded to what a weighbridge or a tank reading gives.
QUANTITY_STEPS = {"KGM": Decimal(5), "TNE": Decimal("0.1"), "MTQ": Decimal(1), "LTR": Decimal(50)}


@dataclass(frozen=True)
class PlannedTrade:
    key: str  # supplier>receiver:material:n
    flow: Flow
    days_ago: int  # the offer was made this many days before the load
    lot: int
    quantity: Decimal
    delivered: Decimal
    price: Decimal

    @property
    def lot_id(self) -> uuid.UUID:
        return ids.lot_id(self.flow.supplier, self.flow.material, self.lot)


def _round(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).quantize(Decimal(1), rounding=ROUND_HALF_UP) * step


def plan(history: ClusterHistory) -> list[PlannedTrade]:
    """The cluster's trades, the same on every machine and every load."""
    planned = []
    price_step = Decimal(history.price_step)
    for flow in history.flows:
        step = QUANTITY_STEPS[flow.unit]
        (low, high), price = flow.bounds, Decimal(flow.price)
        for n in range(flow.trades):
            key = f"{flow.supplier}>{flow.receiver}:{flow.material}:{n}"
            # seeded with the key (a str seed is hashed with SHA-512: no PYTHONHASHSEED)
            rng = random.Random(key)  # noqa: S311 - demo figures, not secrets
            # evenly over the year, a few days either way
            slot = YEAR - NEWEST_DAYS_AGO
            days_ago = NEWEST_DAYS_AGO + round((n + 0.5) * slot / flow.trades)
            days_ago = min(YEAR, max(NEWEST_DAYS_AGO, days_ago + rng.randint(-6, 6)))
            quantity = max(step, _round(low + (high - low) * Decimal(rng.random()), step))
            delivered = quantity
            if rng.random() < 0.25:  # a wetter load, a fuller truck
                delivered = max(
                    step, _round(quantity * Decimal(rng.choice(("0.96", "1.03"))), step)
                )
            factor = Decimal(1) + Decimal(rng.randint(-4, 4)) / 100
            planned.append(
                PlannedTrade(
                    key=key,
                    flow=flow,
                    days_ago=days_ago,
                    lot=days_ago // LOT_DAYS,
                    quantity=quantity,
                    delivered=delivered,
                    price=_round(price * factor, price_step),
                )
            )
    return planned


async def seed_history(
    db: Database,
    *,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, float, float]],
    clusters: dict[str, tuple[uuid.UUID, str]],
    now: datetime,
) -> int:
    """``organisations``: demo key -> (user id, organisation id, lat, lon); ``clusters``: slug ->
    (cluster id, currency). Returns the lots and trades it created."""
    created = 0
    for history in HISTORIES:
        cluster_id, currency = clusters[history.slug]
        # one transaction per cluster: a cluster's history is there whole or not at all
        async with db.write() as session:
            created += await _seed_cluster(
                session, history, organisations, cluster_id, currency, now
            )
    return created


async def _seed_cluster(
    session: AsyncSession,
    history: ClusterHistory,
    organisations: dict[str, tuple[uuid.UUID, uuid.UUID, float, float]],
    cluster_id: uuid.UUID,
    currency: str,
    now: datetime,
) -> int:
    planned = plan(history)
    have = set(
        (
            await session.scalars(
                select(Trade.id).where(Trade.id.in_([ids.history_trade_id(p.key) for p in planned]))
            )
        ).all()
    )
    missing = [p for p in planned if ids.history_trade_id(p.key) not in have]
    if not missing:
        return 0
    units = {
        u.code: u for u in await session.scalars(select(Unit).where(Unit.code.in_(QUANTITY_STEPS)))
    }
    materials = {
        m.code: m
        for m in await session.scalars(
            select(Material).where(Material.code.in_({p.flow.material for p in missing}))
        )
    }

    # The lots: a supplier's listing of a material for the month, taken whole by the offers
    # accepted on it. A lot that is there already (a trade added to the demo since) grows.
    by_lot: dict[uuid.UUID, list[PlannedTrade]] = defaultdict(list)
    for planned_trade in missing:
        by_lot[planned_trade.lot_id].append(planned_trade)
    existing = {
        lot.id: lot
        for lot in await session.scalars(select(Listing).where(Listing.id.in_(list(by_lot))))
    }
    made = 0
    for lot_id, trades in by_lot.items():
        taken = sum((t.quantity for t in trades), Decimal(0))
        last_accepted = now - timedelta(days=min(t.days_ago for t in trades)) + ACCEPTED_AFTER
        lot = existing.get(lot_id)
        if lot is not None:
            lot.quantity += taken
            lot.quantity_base = lot.quantity * units[lot.unit_code].factor
            lot.quantity_committed += taken
            lot.version += len(trades)
            lot.updated_at = max(lot.updated_at, last_accepted)
            continue
        first = max(trades, key=lambda t: t.days_ago)
        flow = first.flow
        supplier_user, supplier_id, lat, lon = organisations[flow.supplier]
        published = now - timedelta(days=first.days_ago + 1)
        material = materials[flow.material]
        name = flow.name or material.local_names.get(history.language, material.name)
        session.add(
            Listing(
                id=lot_id,
                organisation_id=supplier_id,
                cluster_id=cluster_id,
                created_by_id=supplier_user,
                kind=ListingKind.OFFER,
                category=(
                    ListingCategory.ECO_PRODUCT
                    if material.path.startswith(ECO_PRODUCTS)
                    else ListingCategory.BY_PRODUCT
                ),
                # all of it committed by accepted offers, as the marketplace leaves a lot
                status=ListingStatus.RESERVED,
                title=LOT_NAMES[history.language].format(material=name, month=published),
                description="",
                language=history.language,
                material_code=flow.material,
                quantity=taken,
                unit_code=flow.unit,
                quantity_base=taken * units[flow.unit].factor,
                quantity_committed=taken,
                recurrence=Recurrence.ONE_OFF,
                season_months=[],
                price_per_unit=first.price,
                currency=currency,
                delivery=Delivery.EITHER,
                lat=lat,
                lon=lon,
                place_name="",
                location_approximate=False,
                public_lat=lat,
                public_lon=lon,
                specs=[],
                photos=[],
                expires_at=published + LISTING_LIFETIME,
                published_at=published,
                created_at=published,
                # each acceptance committed part of it (common.move_committed)
                updated_at=last_accepted,
                version=1 + len(trades),
            )
        )
        made += 1
    await session.flush()

    offers: list[Offer] = []
    rows: list[Trade] = []
    # proposals and steps are nobody's synced rows: inserted in bulk, without ORM objects
    terms: list[dict[str, Any]] = []
    steps: list[dict[str, Any]] = []
    counted: Counter[uuid.UUID] = Counter()
    for planned_trade in missing:
        flow = planned_trade.flow
        supplier_user, supplier_id, lat, lon = organisations[flow.supplier]
        receiver_user, receiver_id, receiver_lat, receiver_lon = organisations[flow.receiver]
        offered = now - timedelta(days=planned_trade.days_ago)
        accepted = offered + ACCEPTED_AFTER
        completed = offered + COMPLETED_AFTER
        offer = Offer(
            id=ids.history_offer_id(planned_trade.key),
            listing_id=planned_trade.lot_id,
            maker_id=receiver_id,
            owner_id=supplier_id,
            created_by_id=receiver_user,
            status=OfferStatus.ACCEPTED,
            quantity=planned_trade.quantity,
            unit_code=flow.unit,
            price_per_unit=planned_trade.price,
            currency=currency,
            message="",
            expires_at=offered + OFFER_LIFETIME,
            rounds=1,
            decided_at=accepted,
            decided_by_id=supplier_user,
            created_at=offered,
            updated_at=accepted,
            version=2,
        )
        terms.append(
            {
                "offer_id": offer.id,
                "round": 1,
                "proposed_by_id": receiver_id,
                "proposed_by_user_id": receiver_user,
                "quantity": planned_trade.quantity,
                "price_per_unit": planned_trade.price,
                "message": "",
                "expires_at": offer.expires_at,
                "created_at": offered,
            }
        )
        offers.append(offer)
        trade_id = ids.history_trade_id(planned_trade.key)
        rows.append(
            Trade(
                id=trade_id,
                offer_id=offer.id,
                listing_id=planned_trade.lot_id,
                cluster_id=cluster_id,
                supplier_id=supplier_id,
                receiver_id=receiver_id,
                status=TradeStatus.COMPLETED,
                material_code=flow.material,
                quantity=planned_trade.quantity,
                unit_code=flow.unit,
                price_per_unit=planned_trade.price,
                currency=currency,
                delivered_quantity=planned_trade.delivered,
                delivered_by_id=supplier_id,
                # as offers.accept_offer measures it: the lot's point to the maker's
                distance_km=round(great_circle_km(lat, lon, receiver_lat, receiver_lon), 3),
                created_at=accepted,
                updated_at=completed,
                completed_at=completed,
                # one for the agreement and one for each of the three steps after it
                version=4,
            )
        )
        delivered_note = f"{plain(planned_trade.delivered)} {flow.unit} delivered"
        for status, by, user, after, note in (
            (TradeStatus.AGREED, supplier_id, supplier_user, ACCEPTED_AFTER, ""),
            (TradeStatus.IN_TRANSIT, supplier_id, supplier_user, SENT_AFTER, ""),
            (TradeStatus.DELIVERED, supplier_id, supplier_user, DELIVERED_AFTER, delivered_note),
            (TradeStatus.COMPLETED, receiver_id, receiver_user, COMPLETED_AFTER, ""),
        ):
            steps.append(
                {
                    "trade_id": trade_id,
                    "status": status,
                    "by_organisation_id": by,
                    "by_user_id": user,
                    "note": note,
                    "at": offered + after,
                }
            )
        counted.update((supplier_id, receiver_id))
    session.add_all(offers)
    await session.flush()
    await session.execute(insert(OfferTerms), terms)
    session.add_all(rows)
    await session.flush()
    await session.execute(insert(TradeStep), steps)
    # The entries are flushed together at the end: each record() reads the material's factor,
    # which would flush the entries written so far one at a time (as 436 flushes).
    with session.no_autoflush:
        for trade in rows:
            assert trade.completed_at is not None
            # the marketplace's own computation, dated as the trade's completion
            await impact.record(session, trade, trade.completed_at)
    # the parties' records, as trades.complete_trade keeps them (their trust scores read them)
    for organisation_id, completed_trades in counted.items():
        await session.execute(
            update(Organisation)
            .where(Organisation.id == organisation_id)
            .values(trades_completed=Organisation.trades_completed + completed_trades)
            .execution_options(synchronize_session=False)
        )
    await session.flush()
    return made + len(rows)
