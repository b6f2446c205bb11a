"""What the apps send to the listing services, and what searches answer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from backend.kit.validation import UNCHANGED, Place
from backend.marketplace.models import (
    Delivery,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Recurrence,
)


@dataclass(frozen=True, slots=True)
class Spec:
    key: str
    value: str


@dataclass(frozen=True, slots=True)
class ListingDraft:
    """What an app sends to create a listing; ``id`` may be the app's own UUID."""

    kind: ListingKind
    category: ListingCategory
    title: str
    material_code: str
    quantity: Decimal
    unit_code: str
    location: Place
    language: str = "en"
    description: str = ""
    price_per_unit: Decimal | None = None
    currency: str | None = None
    recurrence: Recurrence = Recurrence.ONE_OFF
    season_months: list[int] = field(default_factory=list)
    available_from: datetime | None = None
    available_until: datetime | None = None
    delivery: Delivery = Delivery.EITHER
    location_approximate: bool = False
    specs: list[Spec] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ListingChanges:
    """Fields left unset stay as they are; ``price_per_unit`` and the dates may be set to None."""

    title: str | None = None
    description: str | None = None
    language: str | None = None
    material_code: str | None = None
    quantity: Decimal | None = None
    unit_code: str | None = None
    price_per_unit: Decimal | None = UNCHANGED
    currency: str | None = None
    recurrence: Recurrence | None = None
    season_months: list[int] | None = None
    available_from: datetime | None = UNCHANGED
    available_until: datetime | None = UNCHANGED
    delivery: Delivery | None = None
    location: Place | None = None
    location_approximate: bool | None = None
    specs: list[Spec] | None = None
    photos: list[str] | None = None
    expires_at: datetime | None = UNCHANGED


class ListingSort(StrEnum):
    NEWEST = "NEWEST"
    NEAREST = "NEAREST"
    PRICE_ASC = "PRICE_ASC"
    PRICE_DESC = "PRICE_DESC"


@dataclass(frozen=True, slots=True)
class Near:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class ListingFilter:
    kind: ListingKind | None = None
    category: ListingCategory | None = None
    material_code: str | None = None
    cluster_id: uuid.UUID | None = None
    near: Near | None = None
    search: str | None = None
    price_min: Decimal | None = None
    price_max: Decimal | None = None
    status: ListingStatus | None = ListingStatus.ACTIVE
    organisation_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ListingRecord:
    """A listing read for a page, with what it carries to the API. ``listing`` is a
    ``ListingRow`` (its columns, read by the same names as a ``Listing``: a read-only page reads
    rows, a mapped entity cost about three times the row, docs/performance.md); the material
    and unit are rows of their columns, read as a ``Material`` and a ``Unit``; the seller a row
    read as an ``Organisation`` with its cluster (``service.common.SellerRow``). A few of each
    per page, shared by its listings."""

    listing: Any  # a ListingRow, or a row of the same columns (and more)
    organisation: Any  # a SellerRow
    material: Any
    unit: Any


@dataclass(frozen=True, slots=True)
class ListingHit(ListingRecord):
    distance_km: float | None = None
