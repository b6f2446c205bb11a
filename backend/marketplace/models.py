"""Listings of what firms have and want, the offers and trades they lead to, reviews and the
impact ledger. Materials and units are the catalogue's (``backend.catalogue.models``)."""

from __future__ import annotations

import uuid
from collections import namedtuple
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Bundle, Mapped, mapped_column, relationship

from backend.catalogue.models import Material, Unit
from backend.identity.models import Organisation
from backend.kit.db import Base, UTCDateTime, enum_column, held_row, new_id, utcnow
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

# Quantities and prices: 18 digits with 4 decimals covers 1 g in a 100,000 t lot and VND prices.
Quantity = Numeric(18, 4)
Money = Numeric(18, 4)


class ListingKind(StrEnum):
    OFFER = "OFFER"
    WANT = "WANT"


class ListingCategory(StrEnum):
    BY_PRODUCT = "BY_PRODUCT"
    ECO_PRODUCT = "ECO_PRODUCT"


class ListingStatus(StrEnum):
    DRAFT = "DRAFT"
    ACTIVE = "ACTIVE"
    RESERVED = "RESERVED"
    CLOSED = "CLOSED"
    EXPIRED = "EXPIRED"


class Recurrence(StrEnum):
    ONE_OFF = "ONE_OFF"
    WEEKLY = "WEEKLY"
    MONTHLY = "MONTHLY"
    SEASONAL = "SEASONAL"


class Delivery(StrEnum):
    PICKUP = "PICKUP"
    DELIVERY = "DELIVERY"
    EITHER = "EITHER"


class Listing(Base):
    __tablename__ = "listings"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # Accepted offers commit quantity; it can never exceed what is listed (issue 4).
        CheckConstraint(
            "quantity_committed >= 0 AND quantity_committed <= quantity", name="committed_in_range"
        ),
        CheckConstraint("lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon BETWEEN -180 AND 180", name="lon_range"),
        # what search filters on first: visible listings by expiry, then the bounding box
        Index("ix_listings_status_expires_at", "status", "expires_at"),
        Index("ix_listings_public_lat_public_lon", "public_lat", "public_lon"),
        Index("ix_listings_cluster_id_created_at", "cluster_id", "created_at"),
        Index("ix_listings_organisation_id_created_at", "organisation_id", "created_at"),
    )

    # May come from the app (an offline create); then retrying the same create is harmless.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    cluster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clusters.id", ondelete="RESTRICT"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[ListingKind] = mapped_column(enum_column(ListingKind, "listing_kind"))
    category: Mapped[ListingCategory] = mapped_column(
        enum_column(ListingCategory, "listing_category")
    )
    status: Mapped[ListingStatus] = mapped_column(enum_column(ListingStatus, "listing_status"))
    title: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16))
    material_code: Mapped[str] = mapped_column(
        ForeignKey("materials.code", ondelete="RESTRICT"), index=True
    )
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    # quantity in the dimension's base unit (2 TNE and 2000 KGM are both 2000)
    quantity_base: Mapped[Decimal] = mapped_column(Numeric(28, 10))
    # what accepted offers have taken (in ``unit_code``); RESERVED when it reaches quantity
    quantity_committed: Mapped[Decimal] = mapped_column(
        Quantity, default=Decimal(0), server_default="0"
    )
    recurrence: Mapped[Recurrence] = mapped_column(enum_column(Recurrence, "recurrence"))
    season_months: Mapped[list[int]] = mapped_column(JSON, default=list)
    available_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    available_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    price_per_unit: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    delivery: Mapped[Delivery] = mapped_column(enum_column(Delivery, "delivery"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    place_name: Mapped[str] = mapped_column(String(200), default="")
    location_approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    # What everyone but the owner sees and what search and distances use: the exact point, or
    # the point rounded to about 1 km, so a distance cannot be used to triangulate the yard.
    public_lat: Mapped[float] = mapped_column(Float)
    public_lon: Mapped[float] = mapped_column(Float)
    specs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    organisation: Mapped[Organisation] = relationship(lazy="raise")
    material: Mapped[Material] = relationship(lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")


# The columns of ``listings`` in the entity's order: selected, they read as ``select(Listing)``
# reads (the same SQL). Read-only pages (search, sync) read them as ``ListingRow``s: an entity
# cost about three times its row (docs/performance.md).
LISTING_COLUMNS = tuple(Listing.__table__.c)


class ListingRow(namedtuple("ListingRow", [column.key for column in LISTING_COLUMNS])):  # type: ignore[misc]
    """A listing as read for a page that only writes it out: its columns by the entity's
    attribute names (which are the column names), so it reads as a ``Listing`` reads."""

    __slots__ = ()
    # One read of one listing is itself: pages are made unique (``paginate``), and a tuple
    # holding the JSON columns' lists cannot be hashed by value.
    __eq__ = object.__eq__
    __hash__ = object.__hash__


class _ListingRows(Bundle[Any]):
    def create_row_processor(
        self, query: Any, procs: Sequence[Callable[[Any], Any]], labels: Sequence[str]
    ) -> Callable[[Any], Any]:
        make = ListingRow._make

        def listing_row(row: Any) -> ListingRow:
            return make([value_of(row) for value_of in procs])

        return listing_row


# Select this for ``ListingRow``s: ``select(LISTING_ROW)`` sends what ``select(Listing)`` sends.
LISTING_ROW = _ListingRows("listing", *LISTING_COLUMNS)


# ---------------------------------------------------------------------------------------------
# Offers, trades, messages, reviews and the impact ledger


class OfferStatus(StrEnum):
    PENDING = "PENDING"  # waiting for the listing's organisation
    COUNTERED = "COUNTERED"  # the listing's organisation proposed other terms; the maker answers
    ACCEPTED = "ACCEPTED"
    DECLINED = "DECLINED"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"


OPEN_OFFER = (OfferStatus.PENDING, OfferStatus.COUNTERED)


class Offer(Base):
    """One negotiation on a listing: the current terms on this row, every proposal in
    ``offer_terms``. Its id stays the same through counters, so an app keeps one screen."""

    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("maker_id <> owner_id", name="not_own_listing"),
        Index("ix_offers_listing_id_status", "listing_id", "status"),
        Index("ix_offers_maker_id_updated_at", "maker_id", "updated_at"),
        Index("ix_offers_owner_id_updated_at", "owner_id", "updated_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"))
    # the organisation that made the offer, and the listing's organisation
    maker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    status: Mapped[OfferStatus] = mapped_column(enum_column(OfferStatus, "offer_status"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    price_per_unit: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    message: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rounds: Mapped[int] = mapped_column(Integer, default=1)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    decline_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    listing: Mapped[Listing] = relationship(lazy="raise")
    maker: Mapped[Organisation] = relationship(foreign_keys=[maker_id], lazy="raise")
    owner: Mapped[Organisation] = relationship(foreign_keys=[owner_id], lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")
    terms: Mapped[list[OfferTerms]] = relationship(
        lazy="raise", order_by="OfferTerms.round", cascade="all, delete-orphan"
    )


class OfferTerms(Base):
    """One proposal of a negotiation: the first offer, then each counter."""

    __tablename__ = "offer_terms"
    __table_args__ = (UniqueConstraint("offer_id", "round"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    offer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("offers.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    proposed_by_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    proposed_by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    price_per_unit: Mapped[Decimal] = mapped_column(Money)
    message: Mapped[str] = mapped_column(Text, default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TradeStatus(StrEnum):
    AGREED = "AGREED"
    IN_TRANSIT = "IN_TRANSIT"
    DELIVERED = "DELIVERED"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    DISPUTED = "DISPUTED"


OPEN_TRADE = (TradeStatus.AGREED, TradeStatus.IN_TRANSIT, TradeStatus.DELIVERED)


class Trade(Base):
    """An accepted offer: the supplier hands the material to the receiver."""

    __tablename__ = "trades"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("delivered_quantity IS NULL OR delivered_quantity >= 0", name="delivered"),
        CheckConstraint("supplier_id <> receiver_id", name="two_parties"),
        Index("ix_trades_supplier_id_created_at", "supplier_id", "created_at"),
        Index("ix_trades_receiver_id_created_at", "receiver_id", "created_at"),
        Index("ix_trades_listing_id", "listing_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    offer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("offers.id", ondelete="RESTRICT"), unique=True
    )
    listing_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("listings.id", ondelete="RESTRICT"))
    cluster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clusters.id", ondelete="RESTRICT"))
    supplier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    receiver_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    status: Mapped[TradeStatus] = mapped_column(enum_column(TradeStatus, "trade_status"))
    material_code: Mapped[str] = mapped_column(ForeignKey("materials.code", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    price_per_unit: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    delivered_quantity: Mapped[Decimal | None] = mapped_column(Quantity)
    # who said it was delivered: the other party completes (two parties confirm the figures)
    delivered_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    # great-circle km between the supplier's and the receiver's points, at agreement
    distance_km: Mapped[float | None] = mapped_column(Float)
    status_before_dispute: Mapped[TradeStatus | None] = mapped_column(
        enum_column(TradeStatus, "trade_status_before_dispute"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    listing: Mapped[Listing] = relationship(lazy="raise")
    supplier: Mapped[Organisation] = relationship(foreign_keys=[supplier_id], lazy="raise")
    receiver: Mapped[Organisation] = relationship(foreign_keys=[receiver_id], lazy="raise")
    material: Mapped[Material] = relationship(lazy="raise")
    unit: Mapped[Unit] = relationship(lazy="raise")
    history: Mapped[list[TradeStep]] = relationship(
        lazy="raise", order_by="TradeStep.at", cascade="all, delete-orphan"
    )


class TradeStep(Base):
    """One change of a trade's status: what, who and when."""

    __tablename__ = "trade_steps"
    __table_args__ = (Index("ix_trade_steps_trade_id_at", "trade_id", "at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    trade_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trades.id", ondelete="CASCADE"))
    status: Mapped[TradeStatus] = mapped_column(enum_column(TradeStatus, "trade_status"))
    by_organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    by_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    note: Mapped[str] = mapped_column(String(1000), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TradeMessage(Base):
    __tablename__ = "trade_messages"
    __table_args__ = (Index("ix_trade_messages_trade_id_created_at", "trade_id", "created_at"),)

    # May come from the app, so a resent message is stored once.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    trade_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trades.id", ondelete="CASCADE"))
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship(lazy="raise")


class Review(Base):
    __tablename__ = "reviews"
    __table_args__ = (
        UniqueConstraint("trade_id", "reviewer_id"),
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating_range"),
        CheckConstraint("reviewer_id <> reviewee_id", name="not_self"),
        Index("ix_reviews_reviewee_id_created_at", "reviewee_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    trade_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("trades.id", ondelete="CASCADE"))
    reviewer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    reviewee_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE")
    )
    author_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    rating: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    reviewer: Mapped[Organisation] = relationship(foreign_keys=[reviewer_id], lazy="raise")


class ImpactEntry(Base):
    """What one completed trade achieved, with the factors and method it was computed with."""

    __tablename__ = "impact_entries"
    __table_args__ = (
        Index("ix_impact_entries_cluster_id_recorded_at", "cluster_id", "recorded_at"),
        Index("ix_impact_entries_supplier_id_recorded_at", "supplier_id", "recorded_at"),
        Index("ix_impact_entries_receiver_id_recorded_at", "receiver_id", "recorded_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    trade_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("trades.id", ondelete="RESTRICT"), unique=True
    )
    cluster_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("clusters.id", ondelete="RESTRICT"))
    supplier_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    receiver_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT")
    )
    material_code: Mapped[str] = mapped_column(ForeignKey("materials.code", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code", ondelete="RESTRICT"))
    # null when the unit has no mass and the material no density (pieces, bags, kWh)
    diverted_kg: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    co2e_avoided_kg: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    disposal_cost_avoided: Mapped[Decimal | None] = mapped_column(Numeric(20, 4))
    currency: Mapped[str | None] = mapped_column(String(3))
    transport_km: Mapped[float | None] = mapped_column(Float)
    # what the supplier was paid: delivered quantity x agreed price, exact (18,4 x 18,4), in the
    # trade's currency (insights' monthly outcomes read the ledger alone)
    paid: Mapped[Decimal] = mapped_column(Numeric(36, 8))
    trade_currency: Mapped[str] = mapped_column(String(3))
    # the factors as they were: copies, not references, so history stays as it was computed
    method_version: Mapped[str] = mapped_column(String(32))
    factor_material_code: Mapped[str | None] = mapped_column(String(64))
    baseline: Mapped[str] = mapped_column(String(200), default="")
    co2e_kg_per_tonne: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    co2e_source: Mapped[str] = mapped_column(Text, default="")
    disposal_cost_per_tonne: Mapped[Decimal | None] = mapped_column(Numeric(18, 4))
    disposal_cost_source: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MonthParty(Base):
    """An organisation that supplied or took in at least one completed trade in a calendar month
    of its cluster's time zone: one row however many trades. Written with the ledger entry;
    cluster insights count a month's organisations here instead of in every entry of the month
    (the distinct count over 400,000 supplier and taker ids was the costliest statement of a
    year of insights, scripts/bench_insights.py). A cluster's time zone is set when it is
    created and never changes, so a month's rows stay right."""

    __tablename__ = "impact_month_parties"

    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="RESTRICT"), primary_key=True
    )
    month: Mapped[date] = mapped_column(Date, primary_key=True)  # its first day
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="RESTRICT"), primary_key=True
    )


# ---------------------------------------------------------------------------------------------
# What the apps keep offline (backend/sync): the change a row is part of, and who hears of it.
# A listing's changes also reach the organisations with offers on it; a trade's messages and
# reviews reach both parties (the wideners below).

sync_log.track(
    Listing,
    lambda row: [(ChangeType.LISTING, row.id, [sync_log.organisation(row.organisation_id)])],
)
sync_log.track(
    Offer,
    lambda row: [
        (
            ChangeType.OFFER,
            row.id,
            [sync_log.organisation(row.maker_id), sync_log.organisation(row.owner_id)],
        ),
        # the listing an organisation made an offer on is in its copy from then on
        (ChangeType.LISTING, row.listing_id, [sync_log.organisation(row.maker_id)]),
    ],
)
sync_log.track(
    Trade,
    lambda row: [
        (
            ChangeType.TRADE,
            row.id,
            [sync_log.organisation(row.supplier_id), sync_log.organisation(row.receiver_id)],
        )
    ],
)
sync_log.track(TradeMessage, lambda row: [(ChangeType.TRADE, row.trade_id, [])])
sync_log.track(Review, lambda row: [(ChangeType.TRADE, row.trade_id, [])])


async def _listing_audience(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    audience: dict[uuid.UUID, set[uuid.UUID]] = {}
    rows = await session.execute(
        select(Offer.listing_id, Offer.maker_id).where(Offer.listing_id.in_(ids)).distinct()
    )
    for listing_id, maker_id in rows:
        scope = sync_log.organisation(maker_id)
        assert scope is not None
        audience.setdefault(listing_id, set()).add(scope)
    return audience


async def _trade_parties(
    session: AsyncSession, ids: list[uuid.UUID]
) -> dict[uuid.UUID, set[uuid.UUID]]:
    # A trade's parties never change: the trades the session holds (a step, an acceptance)
    # answer without a statement.
    parties: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID]] = []
    missing: list[uuid.UUID] = []
    for trade_id in ids:
        trade = held_row(session, Trade, trade_id)
        if trade is None:
            missing.append(trade_id)
        else:
            parties.append((trade_id, trade.supplier_id, trade.receiver_id))
    if missing:
        rows = await session.execute(
            select(Trade.id, Trade.supplier_id, Trade.receiver_id).where(Trade.id.in_(missing))
        )
        parties.extend((row[0], row[1], row[2]) for row in rows)
    return {
        trade_id: {
            scope
            for scope in (sync_log.organisation(supplier), sync_log.organisation(receiver))
            if scope is not None
        }
        for trade_id, supplier, receiver in parties
    }


sync_log.widen(ChangeType.LISTING, _listing_audience)
sync_log.widen(ChangeType.TRADE, _trade_parties)
