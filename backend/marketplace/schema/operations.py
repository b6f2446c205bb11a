"""Marketplace queries and mutations: thin resolvers over the marketplace service."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.auth.permissions import IsAdmin, IsAuthenticated, IsFirmOrCommunity
from backend.catalogue import service as catalogue_service
from backend.graphql.budgets import ReadBudget
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of, parse_id, parse_optional_id, signed_in
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest
from backend.marketplace import service
from backend.marketplace.models import ListingStatus
from backend.marketplace.schema.types import (
    ListingConnection,
    ListingCreateInput,
    ListingDeletePayload,
    ListingFilter,
    ListingHideInput,
    ListingPayload,
    ListingType,
    ListingTypes,
    ListingUpdateInput,
    MaterialCreateInput,
    MaterialCreatePayload,
    MaterialType,
    UnitType,
)
from backend.marketplace.service import ListingSort

ListingId = Annotated[strawberry.ID, strawberry.argument(description="The listing's id.")]


def _listing_payload(info: strawberry.Info, listing: Any) -> ListingPayload:
    context = context_of(info)
    return ListingPayload(listing=ListingType.of(listing, context.viewer, context.clock.now()))


def _filter(given: ListingFilter) -> service.ListingFilter:
    return service.ListingFilter(
        kind=given.kind,
        category=given.category,
        material_code=given.material_code,
        cluster_id=parse_optional_id(given.cluster_id, "filter.clusterId"),
        near=(
            service.Near(given.near.lat, given.near.lon, given.near.radius_km)
            if given.near
            else None
        ),
        search=given.search,
        price_min=given.price_min,
        price_max=given.price_max,
        status=given.status,
        organisation_id=parse_optional_id(given.organisation_id, "filter.organisationId"),
    )


def _connection(info: strawberry.Info, page: Any) -> ListingConnection:
    context = context_of(info)
    listings = ListingTypes(context.viewer, context.clock.now())
    return ListingConnection.of_hits(page, lambda hit: listings.of(hit, hit.distance_km))


@strawberry.type
class ListingsQuery:
    @strawberry.field(
        description="Search published listings (anyone, also without signing in). Active ones "
        "by default; expired ones disappear at their expiry. Rate-limited (THROTTLED with "
        "`extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def listings(
        self,
        info: strawberry.Info,
        filter: Annotated[
            ListingFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        sort: Annotated[
            ListingSort, strawberry.argument(description="Order of the results.")
        ] = ListingSort.NEWEST,
        first: First = None,
        after: After = None,
    ) -> ListingConnection:
        context = context_of(info)
        page = await service.search_listings(
            now=context_of(info).clock.now(),
            db=context.db,
            viewer=context.viewer,
            filter=_filter(filter or ListingFilter()),
            sort=sort,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
            count_cap=context.settings.search_count_cap,
        )
        return _connection(info, page)

    @strawberry.field(
        description="One listing; null if there is none the viewer may see (drafts and hidden "
        "listings are their organisation's own)."
    )
    async def listing(self, info: strawberry.Info, id: ListingId) -> ListingType | None:
        context = context_of(info)
        try:
            listing_id = parse_id(id, "id")
        except ServiceError:
            return None
        listing = await service.get_listing(
            db=context.db, viewer=context.viewer, listing_id=listing_id
        )
        return ListingType.of(listing, context.viewer, context.clock.now()) if listing else None

    @strawberry.field(
        description="The listings of the organisation the viewer acts for, drafts included, "
        "newest first.",
        permission_classes=[IsAuthenticated],
    )
    async def my_listings(
        self,
        info: strawberry.Info,
        status: Annotated[
            ListingStatus | None, strawberry.argument(description="Only this status.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> ListingConnection:
        page = await service.my_listings(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            status=status,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return _connection(info, page)

    @strawberry.field(
        description="Browse the material catalogue: the children of `parentCode` (the roots "
        "when omitted), or with `search` every material below it whose code, name in any "
        "language or EWC code contains the text. By name. Rate-limited (THROTTLED with "
        "`extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def materials(
        self,
        info: strawberry.Info,
        search: Annotated[
            str | None, strawberry.argument(description="Text to look for, any language.")
        ] = None,
        parent_code: Annotated[
            str | None, strawberry.argument(description="Browse below this material.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[MaterialType]:
        page = await catalogue_service.list_materials(
            db=context_of(info).db,
            search_for=search,
            parent_code=parent_code,
            page=PageRequest.of(first, after),
        )
        return Connection[MaterialType].of(page, MaterialType.of)

    @strawberry.field(description="One material by code; null if there is none.")
    async def material(
        self,
        info: strawberry.Info,
        code: Annotated[str, strawberry.argument(description="Its code.")],
    ) -> MaterialType | None:
        material = await catalogue_service.get_material(db=context_of(info).db, code=code)
        return MaterialType.of(material) if material else None

    @strawberry.field(description="Every unit of measure, by dimension and size.")
    async def units(self, info: strawberry.Info) -> list[UnitType]:
        return [UnitType.of(u) for u in await catalogue_service.list_units(db=context_of(info).db)]


@strawberry.type
class ListingsMutation:
    @payload_mutation(
        description="List a material the organisation you act for has or needs: a draft, or "
        "published at once with `publish: true`.",
        gates=(IsFirmOrCommunity,),
    )
    async def listing_create(
        self,
        info: strawberry.Info,
        input: Annotated[ListingCreateInput, strawberry.argument(description="The new listing.")],
    ) -> ListingPayload:
        listing = await service.create_listing(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            draft=input.to_service(),
            publish=input.publish,
        )
        return _listing_payload(info, listing)

    @payload_mutation(
        description="Change a listing of the organisation you act for (drafts, active and "
        "reserved ones).",
        gates=(IsAuthenticated,),
    )
    async def listing_update(
        self,
        info: strawberry.Info,
        input: Annotated[ListingUpdateInput, strawberry.argument(description="The changes.")],
    ) -> ListingPayload:
        listing = await service.update_listing(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            listing_id=parse_id(input.id, "id"),
            expected_version=input.expected_version,
            changes=input.to_service(),
        )
        return _listing_payload(info, listing)

    @payload_mutation(
        description="Publish a draft (or renew an expired listing): it becomes ACTIVE and "
        "searchable. Publishing an active listing again changes nothing.",
        gates=(IsAuthenticated,),
    )
    async def listing_publish(self, info: strawberry.Info, id: ListingId) -> ListingPayload:
        listing = await service.publish_listing(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            listing_id=parse_id(id, "id"),
        )
        return _listing_payload(info, listing)

    @payload_mutation(
        description="Close a published listing: it stays readable but is no longer offered.",
        gates=(IsAuthenticated,),
    )
    async def listing_close(self, info: strawberry.Info, id: ListingId) -> ListingPayload:
        listing = await service.close_listing(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            viewer=signed_in(info),
            listing_id=parse_id(id, "id"),
        )
        return _listing_payload(info, listing)

    @payload_mutation(description="Delete a draft.", gates=(IsAuthenticated,))
    async def listing_delete(self, info: strawberry.Info, id: ListingId) -> ListingDeletePayload:
        deleted = await service.delete_listing(
            db=context_of(info).db, viewer=signed_in(info), listing_id=parse_id(id, "id")
        )
        return ListingDeletePayload(deleted_id=strawberry.ID(str(deleted)))

    @payload_mutation(
        description="Hide a listing from everybody but its organisation.", gates=(IsAdmin,)
    )
    async def listing_hide(
        self,
        info: strawberry.Info,
        input: Annotated[ListingHideInput, strawberry.argument(description="What and why.")],
    ) -> ListingPayload:
        listing = await service.hide_listing(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            listing_id=parse_id(input.id, "id"),
            hidden=True,
            reason=input.reason,
        )
        return _listing_payload(info, listing)

    @payload_mutation(description="Show a hidden listing again.", gates=(IsAdmin,))
    async def listing_restore(self, info: strawberry.Info, id: ListingId) -> ListingPayload:
        listing = await service.hide_listing(
            now=context_of(info).clock.now(),
            db=context_of(info).db,
            listing_id=parse_id(id, "id"),
            hidden=False,
        )
        return _listing_payload(info, listing)

    @payload_mutation(description="Add a material to the catalogue.", gates=(IsAdmin,))
    async def material_create(
        self,
        info: strawberry.Info,
        input: Annotated[MaterialCreateInput, strawberry.argument(description="The material.")],
    ) -> MaterialCreatePayload:
        material = await catalogue_service.create_material(
            db=context_of(info).db,
            material=catalogue_service.NewMaterial(
                code=input.code,
                parent_code=input.parent_code,
                name=input.name,
                local_names={n.language: n.name for n in input.local_names},
                hs_code=input.hs_code,
                hazardous=input.hazardous,
                description=input.description,
            ),
        )
        return MaterialCreatePayload(material=MaterialType.of(material))


__all__ = ["ListingsMutation", "ListingsQuery"]
