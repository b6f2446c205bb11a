"""Organisations and completed trades for the insights tests, written straight to the database
(what a year of the marketplace leaves behind), with each trade's impact ledger entry computed
by the marketplace's own ``impact.record``. Not a test module."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import update

from backend.identity.models import Organisation, OrganisationKind
from backend.kit.db import Database
from backend.marketplace.models import (
    Delivery,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Offer,
    OfferStatus,
    Recurrence,
    Trade,
    TradeStatus,
)
from backend.marketplace.service import impact


@dataclass
class TradeWorld:
    """Organisations of one cluster and the trades between them."""

    db: Database
    cluster_id: uuid.UUID
    created_at: datetime
    currency: str = "JPY"
    names: dict[str, uuid.UUID] = field(default_factory=dict)

    async def organisation(
        self,
        name: str,
        *,
        kind: OrganisationKind = OrganisationKind.FIRM,
        activity: str | None = None,
        named: bool = True,
        created_at: datetime | None = None,
        cluster_id: uuid.UUID | None = None,
    ) -> uuid.UUID:
        organisation = Organisation(
            name=name,
            kind=kind,
            cluster_id=cluster_id or self.cluster_id,
            lat=35.07,
            lon=133.75,
            activity_code=activity,
            named_in_insights=named,
            created_at=created_at or self.created_at,
            updated_at=created_at or self.created_at,
        )
        async with self.db.write() as session:
            session.add(organisation)
        self.names[name] = organisation.id
        return organisation.id

    async def listing(
        self,
        seller: str,
        *,
        material: str = "wood-shavings",
        quantity: str = "1000",
        unit: str = "KGM",
        published_at: datetime,
        kind: ListingKind = ListingKind.OFFER,
        status: ListingStatus = ListingStatus.ACTIVE,
    ) -> Listing:
        listing = Listing(
            organisation_id=self.names[seller],
            cluster_id=self.cluster_id,
            kind=kind,
            category=ListingCategory.BY_PRODUCT,
            status=status,
            title=f"{material} of {seller}",
            description="",
            language="en",
            material_code=material,
            quantity=Decimal(quantity),
            unit_code=unit,
            quantity_base=Decimal(quantity) * (1000 if unit == "TNE" else 1),
            recurrence=Recurrence.ONE_OFF,
            season_months=[],
            currency=self.currency,
            delivery=Delivery.EITHER,
            lat=35.07,
            lon=133.75,
            public_lat=35.07,
            public_lon=133.75,
            specs=[],
            photos=[],
            published_at=published_at,
            created_at=published_at,
            updated_at=published_at,
        )
        async with self.db.write() as session:
            session.add(listing)
        return listing

    async def trade(
        self,
        supplier: str,
        taker: str,
        *,
        at: datetime,
        kg: str = "1000",
        material: str = "wood-shavings",
        price: str = "10",
    ) -> uuid.UUID:
        """A completed trade of ``kg`` kilograms, completed ``at``, and its ledger entry."""
        listing = await self.listing(
            supplier, material=material, quantity=kg, published_at=at, status=ListingStatus.CLOSED
        )
        async with self.db.write() as session:
            offer = Offer(
                listing_id=listing.id,
                maker_id=self.names[taker],
                owner_id=self.names[supplier],
                status=OfferStatus.ACCEPTED,
                quantity=Decimal(kg),
                unit_code="KGM",
                price_per_unit=Decimal(price),
                currency=self.currency,
                expires_at=at,
                decided_at=at,
                created_at=at,
                updated_at=at,
            )
            session.add(offer)
            await session.flush()
            trade = Trade(
                offer_id=offer.id,
                listing_id=listing.id,
                cluster_id=self.cluster_id,
                supplier_id=self.names[supplier],
                receiver_id=self.names[taker],
                status=TradeStatus.COMPLETED,
                material_code=material,
                quantity=Decimal(kg),
                unit_code="KGM",
                price_per_unit=Decimal(price),
                currency=self.currency,
                delivered_quantity=Decimal(kg),
                created_at=at,
                updated_at=at,
                completed_at=at,
            )
            session.add(trade)
            await session.flush()
            await impact.record(session, trade, at)
            await session.execute(
                update(Organisation)
                .where(Organisation.id.in_([self.names[supplier], self.names[taker]]))
                .values(trades_completed=Organisation.trades_completed + 1)
            )
        return trade.id
