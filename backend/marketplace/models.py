"""The material catalogue, units of measure and listings of what firms have and want."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, enum_column, new_id, utcnow
from backend.identity.models import Organisation

# Quantities and prices: 18 digits with 4 decimals covers 1 g in a 100,000 t lot and VND prices.
Quantity = Numeric(18, 4)
Money = Numeric(18, 4)


class Dimension(StrEnum):
    MASS = "MASS"
    VOLUME = "VOLUME"
    COUNT = "COUNT"
    ENERGY = "ENERGY"
    BAG = "BAG"  # bags and sacks differ in size: comparable only with each other


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


class Unit(Base):
    """A UN/ECE Recommendation 20 unit and its factor to its dimension's base unit."""

    __tablename__ = "units"
    __table_args__ = (CheckConstraint("factor > 0", name="factor_positive"),)

    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    name: Mapped[str] = mapped_column(String(60))
    symbol: Mapped[str] = mapped_column(String(12))
    dimension: Mapped[Dimension] = mapped_column(enum_column(Dimension, "dimension"))
    # base units: KGM for mass, LTR for volume, H87 for count, KWH for energy, BG for bags
    factor: Mapped[Decimal] = mapped_column(Numeric(24, 10))


class Material(Base):
    """A node of the catalogue. ``path`` lists the codes from the root, so that a material and
    all its descendants are one indexed prefix match (``path LIKE 'ewc-03/%'``)."""

    __tablename__ = "materials"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("materials.code", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(400), index=True)
    name: Mapped[str] = mapped_column(String(300))
    # {"ja": "おがくず", "th": "..."}: what people call it in the clusters' languages
    local_names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    ewc_code: Mapped[str | None] = mapped_column(String(8), index=True)
    hs_code: Mapped[str | None] = mapped_column(String(10))
    hazardous: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    # lower-cased code, names and EWC code: what catalogue search matches against
    search_text: Mapped[str] = mapped_column(Text, default="")
    # True for the reference data `eic migrate` loads; false for materials admins added
    from_catalogue: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Listing(Base):
    __tablename__ = "listings"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
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
