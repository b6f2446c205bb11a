"""Permit queries and mutations: thin resolvers over the permits service."""

from __future__ import annotations

from typing import Annotated

import strawberry

from backend.auth.permissions import IsAuthenticated
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of, parse_id, signed_in
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest
from backend.permits import service
from backend.permits.schema.types import (
    AllocationTransferType,
    AllocationType,
    PermitAllocationPayload,
    PermitAllocationSetInput,
    PermitAllocationTransferInput,
    PermitConditionAddInput,
    PermitConditionPayload,
    PermitConditionType,
    PermitConditionUpdateInput,
    PermitIssueInput,
    PermitMemberAddInput,
    PermitMemberPayload,
    PermitMemberRemoveInput,
    PermitMemberType,
    PermitPayload,
    PermitTransferDecideInput,
    PermitTransferPayload,
    PermitType,
    PermitUpdateInput,
)

PermitId = Annotated[strawberry.ID, strawberry.argument(description="The permit's id.")]
TransferId = Annotated[strawberry.ID, strawberry.argument(description="The transfer's id.")]


@strawberry.type
class PermitsQuery:
    @strawberry.field(
        description="The permits the viewer may read, newest first: those its organisation "
        "holds or is (or was) covered by, those it issued as a verified authority; all of them "
        "for platform admins.",
        permission_classes=[IsAuthenticated],
    )
    async def permits(
        self, info: strawberry.Info, first: First = None, after: After = None
    ) -> Connection[PermitType]:
        context = context_of(info)
        page = await service.list_permits(
            db=context.db,
            viewer=context.viewer,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[PermitType].of(page, PermitType.of)

    @strawberry.field(description="One permit; null if there is none the viewer may read.")
    async def permit(self, info: strawberry.Info, id: PermitId) -> PermitType | None:
        context = context_of(info)
        try:
            permit_id = parse_id(id, "id")
        except ServiceError:
            return None
        view = await service.get_permit(db=context.db, viewer=context.viewer, permit_id=permit_id)
        return PermitType.of(view) if view else None

    @strawberry.field(
        description="One condition of a permit, for its ledger and transfers screens (each "
        "pages one condition); null if there is none the viewer may read."
    )
    async def permit_condition(
        self,
        info: strawberry.Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The condition's id.")],
    ) -> PermitConditionType | None:
        context = context_of(info)
        try:
            condition_id = parse_id(id, "id")
        except ServiceError:
            return None
        found = await service.get_condition(
            db=context.db, viewer=context.viewer, condition_id=condition_id
        )
        return PermitConditionType.of(found[0]) if found else None


@strawberry.type
class PermitsMutation:
    @payload_mutation(
        description="Issue an umbrella permit to a cluster association (a community or an "
        "institution), as the verified government institution you act for.",
        gates=(IsAuthenticated,),
    )
    async def permit_issue(
        self,
        info: strawberry.Info,
        input: Annotated[PermitIssueInput, strawberry.argument(description="The permit.")],
    ) -> PermitPayload:
        context = context_of(info)
        view = await service.issue_permit(
            db=context.db, viewer=signed_in(info), draft=input.to_service(), now=context.clock.now()
        )
        return PermitPayload(permit=PermitType.of(view))

    @payload_mutation(
        description="Change a permit: its holder's admins the title, description, transfer "
        "rule and return due days; its authority the validity dates.",
        gates=(IsAuthenticated,),
    )
    async def permit_update(
        self,
        info: strawberry.Info,
        input: Annotated[PermitUpdateInput, strawberry.argument(description="Changes.")],
    ) -> PermitPayload:
        context = context_of(info)
        view = await service.update_permit(
            db=context.db,
            viewer=signed_in(info),
            permit_id=parse_id(input.id, "id"),
            changes=input.to_service(),
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return PermitPayload(permit=PermitType.of(view))

    @payload_mutation(
        description="Cover an organisation of the permit's cluster from a day within the "
        "permit's validity (the holder's admins). One already covered is a CONFLICT.",
        gates=(IsAuthenticated,),
    )
    async def permit_member_add(
        self,
        info: strawberry.Info,
        input: Annotated[PermitMemberAddInput, strawberry.argument(description="The member.")],
    ) -> PermitMemberPayload:
        context = context_of(info)
        member, permit = await service.add_member(
            db=context.db,
            viewer=signed_in(info),
            permit_id=parse_id(input.permit_id, "permitId"),
            organisation_id=parse_id(input.organisation_id, "organisationId"),
            covered_from=input.covered_from,
            now=context.clock.now(),
        )
        return PermitMemberPayload(member=PermitMemberType.of(member), permit=PermitType.of(permit))

    @payload_mutation(
        description="End a member's cover (the holder's admins): its allocations go back to "
        "the pool at once.",
        gates=(IsAuthenticated,),
    )
    async def permit_member_remove(
        self,
        info: strawberry.Info,
        input: Annotated[PermitMemberRemoveInput, strawberry.argument(description="The member.")],
    ) -> PermitMemberPayload:
        context = context_of(info)
        member, permit = await service.remove_member(
            db=context.db,
            viewer=signed_in(info),
            permit_id=parse_id(input.permit_id, "permitId"),
            organisation_id=parse_id(input.organisation_id, "organisationId"),
            covered_to=input.covered_to,
            now=context.clock.now(),
        )
        return PermitMemberPayload(member=PermitMemberType.of(member), permit=PermitType.of(permit))

    @payload_mutation(
        description="Add a condition, a cap per period on one parameter (the holder's admins).",
        gates=(IsAuthenticated,),
    )
    async def permit_condition_add(
        self,
        info: strawberry.Info,
        input: Annotated[
            PermitConditionAddInput, strawberry.argument(description="The condition.")
        ],
    ) -> PermitConditionPayload:
        context = context_of(info)
        view = await service.add_condition(
            db=context.db, viewer=signed_in(info), draft=input.to_service(), now=context.clock.now()
        )
        return PermitConditionPayload(condition=PermitConditionType.of(view))

    @payload_mutation(
        description="Change a condition's title or cap (the holder's admins); the cap never "
        "goes below what is allocated.",
        gates=(IsAuthenticated,),
    )
    async def permit_condition_update(
        self,
        info: strawberry.Info,
        input: Annotated[PermitConditionUpdateInput, strawberry.argument(description="Changes.")],
    ) -> PermitConditionPayload:
        context = context_of(info)
        view = await service.update_condition(
            db=context.db,
            viewer=signed_in(info),
            condition_id=parse_id(input.id, "id"),
            title=input.title,
            cap=input.cap,
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return PermitConditionPayload(condition=PermitConditionType.of(view))

    @payload_mutation(
        description="Set a covered member's allocation of a condition (the holder's admins). "
        "The allocations never add up to more than the cap: CAPACITY_REACHED says what is left.",
        gates=(IsAuthenticated,),
    )
    async def permit_allocation_set(
        self,
        info: strawberry.Info,
        input: Annotated[
            PermitAllocationSetInput, strawberry.argument(description="The allocation.")
        ],
    ) -> PermitAllocationPayload:
        context = context_of(info)
        allocation, view = await service.set_allocation(
            db=context.db,
            viewer=signed_in(info),
            condition_id=parse_id(input.condition_id, "conditionId"),
            organisation_id=parse_id(input.organisation_id, "organisationId"),
            amount=input.amount,
            now=context.clock.now(),
        )
        return PermitAllocationPayload(
            allocation=AllocationType.of(allocation, view.organisations),
            condition=PermitConditionType.of(view),
        )

    @payload_mutation(
        description="Transfer part of your organisation's allocation to another covered member "
        "(a member's admins): at once under a FREE permit, else PENDING until the holder "
        "decides. Sending the same id again is not done twice.",
        gates=(IsAuthenticated,),
    )
    async def permit_allocation_transfer(
        self,
        info: strawberry.Info,
        input: Annotated[
            PermitAllocationTransferInput, strawberry.argument(description="The transfer.")
        ],
    ) -> PermitTransferPayload:
        context = context_of(info)
        view = await service.request_transfer(
            db=context.db,
            viewer=signed_in(info),
            request=input.to_service(),
            now=context.clock.now(),
        )
        return PermitTransferPayload(transfer=AllocationTransferType.of(view))

    @payload_mutation(
        description="Approve or refuse a pending transfer (the holder's admins). Approval "
        "checks the sender still holds the amount (CAPACITY_REACHED otherwise).",
        gates=(IsAuthenticated,),
    )
    async def permit_transfer_decide(
        self,
        info: strawberry.Info,
        input: Annotated[
            PermitTransferDecideInput, strawberry.argument(description="The decision.")
        ],
    ) -> PermitTransferPayload:
        context = context_of(info)
        view = await service.decide_transfer(
            db=context.db,
            viewer=signed_in(info),
            transfer_id=parse_id(input.id, "id"),
            approve=input.approve,
            reason=input.reason,
            now=context.clock.now(),
        )
        return PermitTransferPayload(transfer=AllocationTransferType.of(view))

    @payload_mutation(
        description="Take back a pending transfer your organisation sent (its admins).",
        gates=(IsAuthenticated,),
    )
    async def permit_transfer_cancel(
        self, info: strawberry.Info, id: TransferId
    ) -> PermitTransferPayload:
        context = context_of(info)
        view = await service.cancel_transfer(
            db=context.db,
            viewer=signed_in(info),
            transfer_id=parse_id(id, "id"),
            now=context.clock.now(),
        )
        return PermitTransferPayload(transfer=AllocationTransferType.of(view))
