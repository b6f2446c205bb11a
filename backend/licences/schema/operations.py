"""Waste licence queries and mutations: thin resolvers over the licences service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of, parse_id, signed_in
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest
from backend.licences import service
from backend.licences.schema.types import (
    WasteLicenceCreateInput,
    WasteLicenceDeletePayload,
    WasteLicenceFilter,
    WasteLicencePayload,
    WasteLicenceType,
    WasteLicenceUnverifyInput,
    WasteLicenceUpdateInput,
    WasteLicenceVerifyInput,
)

LicenceId = Annotated[strawberry.ID, strawberry.argument(description="The licence's id.")]


def _payload(view: service.LicenceView) -> WasteLicencePayload:
    return WasteLicencePayload(waste_licence=WasteLicenceType.of(view))


@strawberry.type
class LicencesQuery:
    @strawberry.field(
        description="Waste licences the viewer may read, soonest to end first: those of the "
        "organisation acted for, those naming it as issuing authority (a verified "
        "institution), every one for platform admins. `filter: {verified: false}` is a "
        "verifier's queue.",
        permission_classes=[IsAuthenticated],
    )
    async def waste_licences(
        self,
        info: strawberry.Info,
        filter: Annotated[
            WasteLicenceFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[WasteLicenceType]:
        context = context_of(info)
        page = await service.list_licences(
            db=context.db,
            viewer=signed_in(info),
            filter=(filter or WasteLicenceFilter()).to_service(),
            page=PageRequest.of(first, after),
            now=context.clock.now(),
            with_total=total_count_selected(info),
        )
        return Connection[WasteLicenceType].of(page, WasteLicenceType.of)

    @strawberry.field(
        description="One licence; null if there is none the viewer may read.",
        permission_classes=[IsAuthenticated],
    )
    async def waste_licence(self, info: strawberry.Info, id: LicenceId) -> WasteLicenceType | None:
        context = context_of(info)
        try:
            licence_id = parse_id(id, "id")
        except ServiceError:
            return None
        view = await service.get_licence(
            db=context.db, viewer=signed_in(info), licence_id=licence_id, now=context.clock.now()
        )
        return None if view is None else WasteLicenceType.of(view)


@strawberry.type
class LicencesMutation:
    @payload_mutation(
        description="Record a waste licence of the organisation you act for (its admins). It "
        "counts for hazardous waste once verified by the issuing authority or a platform admin.",
        gates=(IsAuthenticated,),
    )
    async def waste_licence_create(
        self,
        info: strawberry.Info,
        input: Annotated[
            WasteLicenceCreateInput, strawberry.argument(description="The new licence.")
        ],
    ) -> WasteLicencePayload:
        context = context_of(info)
        view = await service.create_licence(
            db=context.db, viewer=signed_in(info), draft=input.to_service(), now=context.clock.now()
        )
        return _payload(view)

    @payload_mutation(
        description="Change a licence of the organisation you act for (its admins). Changing "
        "its terms withdraws the verification.",
        gates=(IsAuthenticated,),
    )
    async def waste_licence_update(
        self,
        info: strawberry.Info,
        input: Annotated[WasteLicenceUpdateInput, strawberry.argument(description="Changes.")],
    ) -> WasteLicencePayload:
        context = context_of(info)
        view = await service.update_licence(
            db=context.db,
            viewer=signed_in(info),
            licence_id=parse_id(input.id, "id"),
            changes=input.to_service(),
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return _payload(view)

    @payload_mutation(
        description="Delete a licence of the organisation you act for (its admins).",
        gates=(IsAuthenticated,),
    )
    async def waste_licence_delete(
        self, info: strawberry.Info, id: LicenceId
    ) -> WasteLicenceDeletePayload:
        deleted = await service.delete_licence(
            db=context_of(info).db, viewer=signed_in(info), licence_id=parse_id(id, "id")
        )
        return WasteLicenceDeletePayload(deleted_id=strawberry.ID(str(deleted)))

    @payload_mutation(
        description="Verify a licence: a platform admin, or the issuing authority's verified "
        "institution account acting for it. Its holder is told. Verifying again changes nothing.",
        gates=(IsAuthenticated,),
    )
    async def waste_licence_verify(
        self,
        info: strawberry.Info,
        input: Annotated[WasteLicenceVerifyInput, strawberry.argument(description="Which.")],
    ) -> WasteLicencePayload:
        context = context_of(info)
        view = await service.verify_licence(
            db=context.db,
            viewer=signed_in(info),
            licence_id=parse_id(input.id, "id"),
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return _payload(view)

    @payload_mutation(
        description="Withdraw a licence's verification, saying why (who may verify it may "
        "withdraw it). Its holder is told.",
        gates=(IsAuthenticated,),
    )
    async def waste_licence_unverify(
        self,
        info: strawberry.Info,
        input: Annotated[
            WasteLicenceUnverifyInput, strawberry.argument(description="Which, and why.")
        ],
    ) -> WasteLicencePayload:
        context = context_of(info)
        view = await service.unverify_licence(
            db=context.db,
            viewer=signed_in(info),
            licence_id=parse_id(input.id, "id"),
            reason=input.reason,
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return _payload(view)
