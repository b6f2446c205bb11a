"""GraphQL types, inputs and payloads of the marketplace."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import models as catalogue_models
from backend.catalogue.models import Dimension
from backend.graphql.pagination import Connection
from backend.graphql.types import Location, LocationInput, Payload, given, parse_optional_id
from backend.identity.schema import OrganisationType
from backend.kit.money import plain_number
from backend.kit.pagination import Page
from backend.marketplace import models, policies, service
from backend.marketplace.models import (
    Delivery,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Recurrence,
)
from backend.marketplace.service import ListingSort

strawberry.enum(Dimension, description="What a unit measures; units of one dimension convert.")
strawberry.enum(ListingKind, description="OFFER: we have it. WANT: we need it.")
strawberry.enum(
    ListingCategory,
    description="BY_PRODUCT: waste, residue or by-product. ECO_PRODUCT: made from recovered "
    "material or with lower impact (pellets, rice bran oil, cat sand ...).",
)
strawberry.enum(
    ListingStatus,
    description="DRAFT (only its organisation sees it) -> ACTIVE -> RESERVED while its quantity "
    "is committed -> CLOSED; EXPIRED once past `expiresAt`.",
)
strawberry.enum(Recurrence, description="How often the material comes.")
strawberry.enum(Delivery, description="How the material changes hands.")
strawberry.enum(
    ListingSort,
    description="NEWEST first; NEAREST first (needs `filter.near`); by price, lowest or highest "
    "first (listings without a price last).",
)


@strawberry.type(name="Unit", description="A UN/ECE Recommendation 20 unit of measure.")
class UnitType:
    code: str = strawberry.field(description="The Rec 20 code, such as KGM, TNE, LTR or H87.")
    name: str = strawberry.field(description="English name.")
    symbol: str = strawberry.field(description="Short symbol, such as kg.")
    dimension: Dimension = strawberry.field(description="What it measures.")
    factor: Decimal = strawberry.field(
        description="How many of the dimension's base unit (KGM, LTR, H87, KWH, BG) one is."
    )

    @classmethod
    def of(cls, unit: catalogue_models.Unit) -> UnitType:
        return cls(
            code=unit.code,
            name=unit.name,
            symbol=unit.symbol,
            dimension=unit.dimension,
            factor=plain_number(unit.factor),
        )


@strawberry.type(description="A name in one language.")
class LocalName:
    language: str = strawberry.field(description="BCP 47 language tag.")
    name: str = strawberry.field(description="The name in that language.")


@strawberry.type(
    name="Material",
    description="A node of the material catalogue: EWC chapters and entries, the clusters' own "
    "materials under them, and eco-products.",
)
class MaterialType:
    code: str = strawberry.field(description="Stable code, such as `wood-shavings` or `ewc-03`.")
    name: str = strawberry.field(description="English name (EWC title for EWC entries).")
    local_names: list[LocalName] = strawberry.field(description="Names in the clusters' languages.")
    parent_code: str | None = strawberry.field(description="Parent in the catalogue.")
    ewc_code: str | None = strawberry.field(
        description="European Waste Catalogue code such as `03 01 05`, where one applies."
    )
    hs_code: str | None = strawberry.field(description="Harmonized System code, where known.")
    hazardous: bool = strawberry.field(description="Hazardous waste under the EWC.")
    description: str = strawberry.field(description="Notes on the material.")

    @strawberry.field(description="The name in `language`, or the English name if none.")
    def display_name(
        self,
        language: Annotated[str, strawberry.argument(description="BCP 47 language tag.")],
    ) -> str:
        return next((n.name for n in self.local_names if n.language == language), self.name)

    @classmethod
    def of(cls, material: catalogue_models.Material) -> MaterialType:
        return cls(
            code=material.code,
            name=material.name,
            local_names=[LocalName(language=k, name=v) for k, v in material.local_names.items()],
            parent_code=material.parent_code,
            ewc_code=material.ewc_code,
            hs_code=material.hs_code,
            hazardous=material.hazardous,
            description=material.description,
        )


@strawberry.type(description="A quality note, such as moisture: 12 %.")
class Spec:
    key: str = strawberry.field(description="What is measured or stated.")
    value: str = strawberry.field(description="Its value, with its unit.")


@strawberry.type(
    name="Listing", description="Material an organisation has (OFFER) or needs (WANT)."
)
class ListingType:
    id: strawberry.ID = strawberry.field(
        description="Opaque id (the app's own UUID if it gave one)."
    )
    kind: ListingKind = strawberry.field(description="OFFER or WANT.")
    category: ListingCategory = strawberry.field(description="By-product or eco-product.")
    status: ListingStatus = strawberry.field(description="Where it is in its lifecycle.")
    title: str = strawberry.field(description="Short title.")
    description: str = strawberry.field(description="Details.")
    language: str = strawberry.field(description="Language title and description are in.")
    material: MaterialType = strawberry.field(description="What material it is.")
    quantity: Decimal = strawberry.field(description="How much, in `unit`.")
    unit: UnitType = strawberry.field(description="Unit of `quantity` and of the price.")
    quantity_in_base_unit: Decimal = strawberry.field(
        description="The quantity in the base unit of its dimension (kg, l, pieces, kWh)."
    )
    quantity_committed: Decimal = strawberry.field(
        description="How much of `quantity` accepted offers have taken (trades not cancelled)."
    )
    quantity_remaining: Decimal = strawberry.field(
        description="What is still available for offers: `quantity` - `quantityCommitted`."
    )
    recurrence: Recurrence = strawberry.field(description="How often it comes.")
    season_months: list[int] = strawberry.field(description="Months (1-12) of a SEASONAL one.")
    available_from: datetime | None = strawberry.field(description="Available from.")
    available_until: datetime | None = strawberry.field(description="Available until.")
    price_per_unit: Decimal | None = strawberry.field(
        description="Price per unit; zero is free, negative means the holder pays the taker."
    )
    currency: str = strawberry.field(description="ISO 4217 currency of the price.")
    delivery: Delivery = strawberry.field(description="Pickup, delivery or either.")
    location: Location = strawberry.field(
        description="Where it is: exact for its organisation, rounded to about 1 km for others "
        "when `locationApproximate`."
    )
    location_approximate: bool = strawberry.field(
        description="Whether others see only an approximate location."
    )
    specs: list[Spec] = strawberry.field(description="Quality notes.")
    photos: list[str] = strawberry.field(description="Photo addresses (https).")
    expires_at: datetime | None = strawberry.field(description="When it stops being shown.")
    published_at: datetime | None = strawberry.field(description="When it was published.")
    closed_at: datetime | None = strawberry.field(description="When it was closed.")
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it was last changed.")
    version: int = strawberry.field(
        description="Bumped on every change; send it as `expectedVersion` when updating."
    )
    organisation: OrganisationType = strawberry.field(description="Who lists it.")
    hidden: bool = strawberry.field(
        description="Hidden by a platform admin; only its organisation and admins see it."
    )
    viewer_can_manage: bool = strawberry.field(
        description="Whether the signed-in viewer may edit, publish, close or delete it."
    )
    distance_km: float | None = strawberry.field(
        description="Distance from `filter.near`, in km; null without it."
    )

    @classmethod
    def of(
        cls,
        listing: models.Listing,
        viewer: Viewer | Anonymous,
        now: datetime,
        distance_km: float | None = None,
    ) -> ListingType:
        return cls.of_parts(
            listing,
            OrganisationType.of(listing.organisation),
            MaterialType.of(listing.material),
            UnitType.of(listing.unit),
            viewer,
            now,
            distance_km,
        )

    @classmethod
    def of_parts(
        cls,
        listing: Any,
        organisation: OrganisationType,
        material: MaterialType,
        unit: UnitType,
        viewer: Viewer | Anonymous,
        now: datetime,
        distance_km: float | None = None,
    ) -> ListingType:
        """``listing``: a ``Listing``, or a row of its columns (``service.ListingRecord``);
        its seller, material and unit already made (a page makes each once)."""
        exact = policies.sees_exact_location(viewer, listing)
        quantity = listing.quantity
        committed = listing.quantity_committed
        price = listing.price_per_unit
        return cls(
            id=strawberry.ID(str(listing.id)),
            kind=listing.kind,
            category=listing.category,
            status=service.effective_status(listing, now),
            title=listing.title,
            description=listing.description,
            language=listing.language,
            material=material,
            quantity=plain_number(quantity),
            unit=unit,
            quantity_in_base_unit=plain_number(listing.quantity_base),
            quantity_committed=plain_number(committed),
            quantity_remaining=plain_number(max(Decimal(0), quantity - committed)),
            recurrence=listing.recurrence,
            season_months=list(listing.season_months),
            available_from=listing.available_from,
            available_until=listing.available_until,
            price_per_unit=plain_number(price) if price is not None else None,
            currency=listing.currency,
            delivery=listing.delivery,
            location=Location(
                lat=listing.lat if exact else listing.public_lat,
                lon=listing.lon if exact else listing.public_lon,
                # a street or yard name would give away what the rounding hides
                place_name=listing.place_name if exact else "",
            ),
            location_approximate=listing.location_approximate,
            specs=[Spec(key=s["key"], value=s["value"]) for s in listing.specs],
            photos=list(listing.photos),
            expires_at=listing.expires_at,
            published_at=listing.published_at,
            closed_at=listing.closed_at,
            created_at=listing.created_at,
            updated_at=listing.updated_at,
            version=listing.version,
            organisation=organisation,
            hidden=listing.hidden_at is not None,
            viewer_can_manage=policies.is_owner(viewer, listing),
            distance_km=round(distance_km, 3) if distance_km is not None else None,
        )


class ListingTypes:
    """The GraphQL objects of a page of listing records (``service.ListingRecord``): each
    seller, material and unit becomes its object once, however many listings share it (a sync
    page of one organisation's 100 listings made its organisation 100 times)."""

    def __init__(self, viewer: Viewer | Anonymous, now: datetime) -> None:
        self.viewer = viewer
        self.now = now
        self._organisations: dict[Any, OrganisationType] = {}
        self._materials: dict[str, MaterialType] = {}
        self._units: dict[str, UnitType] = {}

    def of(self, record: service.ListingRecord, distance_km: float | None = None) -> ListingType:
        seller, material, unit = record.organisation, record.material, record.unit
        organisation_type = self._organisations.get(seller.id)
        if organisation_type is None:
            organisation_type = self._organisations[seller.id] = OrganisationType.of(seller)
        material_type = self._materials.get(material.code)
        if material_type is None:
            material_type = self._materials[material.code] = MaterialType.of(material)
        unit_type = self._units.get(unit.code)
        if unit_type is None:
            unit_type = self._units[unit.code] = UnitType.of(unit)
        return ListingType.of_parts(
            record.listing,
            organisation_type,
            material_type,
            unit_type,
            self.viewer,
            self.now,
            distance_km,
        )


# ---------------------------------------------------------------------------------------------
# Inputs


@strawberry.input(description="A quality note.")
class SpecInput:
    key: str = strawberry.field(description="What is stated, such as `moisture`.")
    value: str = strawberry.field(description="Its value, such as `12 %`.")

    def to_service(self) -> service.Spec:
        return service.Spec(key=self.key, value=self.value)


@strawberry.input(description="A new listing. Omitted fields take the defaults shown.")
class ListingCreateInput:
    kind: ListingKind = strawberry.field(description="OFFER or WANT.")
    category: ListingCategory = strawberry.field(description="By-product or eco-product.")
    title: str = strawberry.field(description="3 to 160 characters.")
    material_code: str = strawberry.field(description="A code of the material catalogue.")
    quantity: Decimal = strawberry.field(description="More than zero, at most 4 decimals.")
    unit: str = strawberry.field(description="UN/ECE Rec 20 unit code, such as KGM or TNE.")
    location: LocationInput = strawberry.field(description="Where the material is.")
    id: strawberry.ID | None = strawberry.field(
        default=None,
        description="The app's own UUID for the listing: sending the same create again (a retry "
        "after a lost answer) returns the listing made the first time.",
    )
    description: str = strawberry.field(default="", description="Details, up to 5000 characters.")
    language: str = strawberry.field(default="en", description="BCP 47 tag of the text.")
    price_per_unit: Decimal | None = strawberry.field(
        default=None, description="Price per unit; may be zero or negative."
    )
    currency: str | None = strawberry.field(
        default=None, description="ISO 4217 code; the cluster's currency when omitted."
    )
    recurrence: Recurrence = strawberry.field(
        default=Recurrence.ONE_OFF, description="How often it comes."
    )
    season_months: list[int] = strawberry.field(
        default_factory=list, description="Months 1-12, for SEASONAL only."
    )
    available_from: datetime | None = strawberry.field(default=None, description="From when.")
    available_until: datetime | None = strawberry.field(default=None, description="Until when.")
    delivery: Delivery = strawberry.field(default=Delivery.EITHER, description="How it moves.")
    location_approximate: bool = strawberry.field(
        default=False, description="Show others only a location rounded to about 1 km."
    )
    specs: list[SpecInput] = strawberry.field(default_factory=list, description="Up to 20.")
    photos: list[str] = strawberry.field(
        default_factory=list, description="Up to 10 https addresses."
    )
    expires_at: datetime | None = strawberry.field(
        default=None, description="When to stop showing it; 90 days after publishing if omitted."
    )
    publish: bool = strawberry.field(
        default=False, description="Publish at once instead of keeping a draft."
    )

    def to_service(self) -> service.ListingDraft:
        return service.ListingDraft(
            id=parse_optional_id(self.id, "id"),
            kind=self.kind,
            category=self.category,
            title=self.title,
            description=self.description,
            language=self.language,
            material_code=self.material_code,
            quantity=self.quantity,
            unit_code=self.unit,
            price_per_unit=self.price_per_unit,
            currency=self.currency,
            recurrence=self.recurrence,
            season_months=list(self.season_months),
            available_from=self.available_from,
            available_until=self.available_until,
            delivery=self.delivery,
            location=self.location.to_service(),
            location_approximate=self.location_approximate,
            specs=[s.to_service() for s in self.specs],
            photos=list(self.photos),
            expires_at=self.expires_at,
        )


@strawberry.input(
    description="Changes to a listing. Omitted fields stay; `pricePerUnit`, `availableFrom`, "
    "`availableUntil` and `expiresAt` may be set to null to clear them."
)
class ListingUpdateInput:
    id: strawberry.ID = strawberry.field(description="The listing.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw; CONFLICT if it changed since."
    )
    title: str | None = strawberry.field(default=None, description="New title.")
    description: str | None = strawberry.field(default=None, description="New description.")
    language: str | None = strawberry.field(default=None, description="New language tag.")
    material_code: str | None = strawberry.field(default=None, description="New material.")
    quantity: Decimal | None = strawberry.field(default=None, description="New quantity.")
    unit: str | None = strawberry.field(default=None, description="New unit code.")
    price_per_unit: Decimal | None = strawberry.field(
        default=strawberry.UNSET, description="New price; null clears it."
    )
    currency: str | None = strawberry.field(default=None, description="New currency.")
    recurrence: Recurrence | None = strawberry.field(default=None, description="New recurrence.")
    season_months: list[int] | None = strawberry.field(default=None, description="New months.")
    available_from: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="New start; null clears it."
    )
    available_until: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="New end; null clears it."
    )
    delivery: Delivery | None = strawberry.field(default=None, description="New delivery.")
    location: LocationInput | None = strawberry.field(default=None, description="New location.")
    location_approximate: bool | None = strawberry.field(
        default=None, description="Show others only an approximate location."
    )
    specs: list[SpecInput] | None = strawberry.field(
        default=None, description="Replaces all notes."
    )
    photos: list[str] | None = strawberry.field(default=None, description="Replaces all photos.")
    expires_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="New expiry; null means 90 days after publishing."
    )

    def to_service(self) -> service.ListingChanges:
        return service.ListingChanges(
            title=self.title,
            description=self.description,
            language=self.language,
            material_code=self.material_code,
            quantity=self.quantity,
            unit_code=self.unit,
            price_per_unit=given(self.price_per_unit),
            currency=self.currency,
            recurrence=self.recurrence,
            season_months=self.season_months,
            available_from=given(self.available_from),
            available_until=given(self.available_until),
            delivery=self.delivery,
            location=self.location.to_service() if self.location else None,
            location_approximate=self.location_approximate,
            specs=[s.to_service() for s in self.specs] if self.specs is not None else None,
            photos=self.photos,
            expires_at=given(self.expires_at),
        )


@strawberry.input(description="A point and a radius.")
class NearInput:
    lat: float = strawberry.field(description="Latitude in degrees.")
    lon: float = strawberry.field(description="Longitude in degrees.")
    radius_km: float = strawberry.field(description="Radius in km, at most 500.")


@strawberry.input(description="Narrow the listings; every given condition must hold.")
class ListingFilter:
    kind: ListingKind | None = strawberry.field(default=None, description="OFFER or WANT.")
    category: ListingCategory | None = strawberry.field(default=None, description="Category.")
    material_code: str | None = strawberry.field(
        default=None, description="This material or anything below it in the catalogue."
    )
    cluster_id: strawberry.ID | None = strawberry.field(default=None, description="Cluster.")
    near: NearInput | None = strawberry.field(
        default=None, description="Within a radius; results carry `distanceKm`."
    )
    search: str | None = strawberry.field(
        default=None, description="Words in the title or description (prefixes match)."
    )
    price_min: Decimal | None = strawberry.field(default=None, description="Lowest price.")
    price_max: Decimal | None = strawberry.field(default=None, description="Highest price.")
    status: ListingStatus | None = strawberry.field(
        default=ListingStatus.ACTIVE,
        description="ACTIVE when omitted; null for every status the viewer may see.",
    )
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="One organisation's listings."
    )


@strawberry.input(description="A name in one language.")
class LocalNameInput:
    language: str = strawberry.field(description="BCP 47 language tag.")
    name: str = strawberry.field(description="The name.")


@strawberry.input(description="A new material (platform admins).")
class MaterialCreateInput:
    code: str = strawberry.field(description="Stable code: lower-case letters, digits, hyphens.")
    parent_code: str = strawberry.field(description="The existing material it belongs under.")
    name: str = strawberry.field(description="English name.")
    local_names: list[LocalNameInput] = strawberry.field(
        default_factory=list, description="Names in other languages."
    )
    hs_code: str | None = strawberry.field(default=None, description="HS code, such as 4401.31.")
    hazardous: bool | None = strawberry.field(
        default=None, description="Hazardous; the parent's flag when omitted."
    )
    description: str = strawberry.field(default="", description="Notes.")


@strawberry.input(description="Hide a listing from everybody but its organisation.")
class ListingHideInput:
    id: strawberry.ID = strawberry.field(description="The listing.")
    reason: str = strawberry.field(description="Why, for the organisation (3-500 characters).")


@strawberry.type(
    name="ListingConnection",
    description="A page of listings (a Relay connection), with how many match.",
)
class ListingConnection(Connection[ListingType]):
    total_count: int = strawberry.field(
        description="How many listings match. `listings` counts up to a cap (1,000 unless the "
        "service is set otherwise): when more match, the cap, and `totalCountIsAtLeast` is "
        "true. Costs a second search: leave it out of queries that do not show it."
    )
    total_count_is_at_least: bool = strawberry.field(
        default=False,
        description="True when more listings match than were counted: show `totalCount` as "
        '"at least N" ("1,000+").',
    )

    @classmethod
    def of_hits(cls, page: Page[Any], node: Callable[[Any], ListingType]) -> ListingConnection:
        plain = Connection[ListingType].of(page, node)
        return cls(
            edges=plain.edges,
            page_info=plain.page_info,
            total_count=plain.total_count,
            total_count_is_at_least=page.total_is_at_least,
        )


# ---------------------------------------------------------------------------------------------
# Payloads


@strawberry.type(description="Result of a listing mutation.")
class ListingPayload(Payload):
    listing: ListingType | None = strawberry.field(
        default=None, description="The listing as it is now."
    )


@strawberry.type(description="Result of `listingDelete`.")
class ListingDeletePayload(Payload):
    deleted_id: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the deleted draft."
    )


@strawberry.type(description="Result of `materialCreate`.")
class MaterialCreatePayload(Payload):
    material: MaterialType | None = strawberry.field(default=None, description="The material.")
