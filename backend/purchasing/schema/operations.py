"""Purchasing queries and mutations: thin resolvers over the purchasing service."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.auth.permissions import IsAuthenticated, IsFirmOrCommunity
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of, parse_id, signed_in
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest
from backend.purchasing import service
from backend.purchasing.schema.types import (
    PledgePayload,
    PledgeType,
    PurchaseGroupCreateInput,
    PurchaseGroupFilter,
    PurchaseGroupPayload,
    PurchaseGroupPledgeInput,
    PurchaseGroupPledgeUpdateInput,
    PurchaseGroupType,
    PurchaseGroupUpdateInput,
)

GroupId = Annotated[strawberry.ID, strawberry.argument(description="The group's id.")]
PledgeId = Annotated[strawberry.ID, strawberry.argument(description="The pledge's id.")]
IncludeWithdrawn = Annotated[bool, strawberry.argument(description="Also list withdrawn pledges.")]


def _group_payload(info: strawberry.Info, view: service.GroupView) -> PurchaseGroupPayload:
    context = context_of(info)
    return PurchaseGroupPayload(
        purchase_group=PurchaseGroupType.of(view, context.viewer, context.clock.now())
    )


def _pledge_payload(info: strawberry.Info, view: service.PledgeView) -> PledgePayload:
    return PledgePayload(pledge=_pledge(info, view))


def _pledge(info: strawberry.Info, view: service.PledgeView) -> PledgeType:
    context = context_of(info)
    group = PurchaseGroupType.of(view.group, context.viewer, context.clock.now())
    return PledgeType.of(view.pledge, group)


@strawberry.type
class PurchasingQuery:
    @strawberry.field(
        description="Purchasing groups the viewer may see, soonest deadline first. PUBLIC groups "
        "are listed without signing in too."
    )
    async def purchase_groups(
        self,
        info: strawberry.Info,
        filter: Annotated[
            PurchaseGroupFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[PurchaseGroupType]:
        context = context_of(info)
        now = context.clock.now()
        page = await service.list_groups(
            db=context.db,
            viewer=context.viewer,
            filter=(filter or PurchaseGroupFilter()).to_service(),
            page=PageRequest.of(first, after),
            now=now,
            with_total=total_count_selected(info),
        )
        return Connection[PurchaseGroupType].of(
            page, lambda view: PurchaseGroupType.of(view, context.viewer, now)
        )

    @strawberry.field(
        description="One group with its settlement; null if there is none the viewer may see."
    )
    async def purchase_group(self, info: strawberry.Info, id: GroupId) -> PurchaseGroupType | None:
        context = context_of(info)
        try:
            group_id = parse_id(id, "id")
        except ServiceError:
            return None
        now = context.clock.now()
        view = await service.get_group(
            db=context.db, viewer=context.viewer, group_id=group_id, now=now
        )
        return PurchaseGroupType.of(view, context.viewer, now) if view else None

    @strawberry.field(
        description="The viewer's pledges, and those they made for members, latest change "
        "first, each with its group.",
        permission_classes=[IsAuthenticated],
    )
    async def my_pledges(
        self,
        info: strawberry.Info,
        include_withdrawn: IncludeWithdrawn = False,
        first: First = None,
        after: After = None,
    ) -> Connection[PledgeType]:
        context = context_of(info)
        page = await service.my_pledges(
            db=context.db,
            viewer=signed_in(info),
            include_withdrawn=include_withdrawn,
            page=PageRequest.of(first, after),
            now=context.clock.now(),
            with_total=total_count_selected(info),
        )
        return Connection[PledgeType].of(page, lambda view: _pledge(info, view))

    @strawberry.field(
        description="Everyone's pledges of a group, in pledge order: for its organiser and "
        "platform admins.",
        permission_classes=[IsAuthenticated],
    )
    async def purchase_group_pledges(
        self,
        info: strawberry.Info,
        group_id: GroupId,
        include_withdrawn: IncludeWithdrawn = False,
        first: First = None,
        after: After = None,
    ) -> Connection[PledgeType]:
        context = context_of(info)
        page = await service.group_pledges(
            db=context.db,
            viewer=signed_in(info),
            group_id=parse_id(group_id, "groupId"),
            include_withdrawn=include_withdrawn,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[PledgeType].of(page, PledgeType.of)


@strawberry.type
class PurchasingMutation:
    @payload_mutation(
        description="Start a purchasing group for the organisation you act for; it is OPEN "
        "for pledges at once.",
        gates=(IsFirmOrCommunity,),
    )
    async def purchase_group_create(
        self,
        info: strawberry.Info,
        input: Annotated[
            PurchaseGroupCreateInput, strawberry.argument(description="The new group.")
        ],
    ) -> PurchaseGroupPayload:
        context = context_of(info)
        view = await service.create_group(
            db=context.db, viewer=signed_in(info), draft=input.to_service(), now=context.clock.now()
        )
        return _group_payload(info, view)

    @payload_mutation(
        description="Change an open group you organise: anything before the first pledge; "
        "after it the title, the description, a later deadline and a higher maximum.",
        gates=(IsAuthenticated,),
    )
    async def purchase_group_update(
        self,
        info: strawberry.Info,
        input: Annotated[PurchaseGroupUpdateInput, strawberry.argument(description="Changes.")],
    ) -> PurchaseGroupPayload:
        context = context_of(info)
        view = await service.update_group(
            db=context.db,
            viewer=signed_in(info),
            group_id=parse_id(input.id, "id"),
            changes=input.to_service(),
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return _group_payload(info, view)

    @payload_mutation(
        description="Pledge a quantity (for yourself, or as a community admin for a member). "
        "A pledge that does not fit under the maximum gets CAPACITY_REACHED saying how much is "
        "left. Pledging the same again returns the same pledge.",
        gates=(IsAuthenticated,),
    )
    async def purchase_group_pledge(
        self,
        info: strawberry.Info,
        input: Annotated[PurchaseGroupPledgeInput, strawberry.argument(description="Pledge.")],
    ) -> PledgePayload:
        context = context_of(info)
        view = await service.pledge(
            db=context.db,
            viewer=signed_in(info),
            group_id=input.group(),
            quantity=input.quantity,
            on_behalf_of=input.member(),
            now=context.clock.now(),
        )
        return _pledge_payload(info, view)

    @payload_mutation(
        description="Change the quantity of a pledge while the group is open.",
        gates=(IsAuthenticated,),
    )
    async def purchase_group_pledge_update(
        self,
        info: strawberry.Info,
        input: Annotated[
            PurchaseGroupPledgeUpdateInput, strawberry.argument(description="New quantity.")
        ],
    ) -> PledgePayload:
        context = context_of(info)
        view = await service.update_pledge(
            db=context.db,
            viewer=signed_in(info),
            pledge_id=parse_id(input.pledge_id, "pledgeId"),
            quantity=input.quantity,
            now=context.clock.now(),
        )
        return _pledge_payload(info, view)

    @payload_mutation(
        description="Withdraw a pledge while the group is open.", gates=(IsAuthenticated,)
    )
    async def purchase_group_pledge_withdraw(
        self, info: strawberry.Info, id: PledgeId
    ) -> PledgePayload:
        context = context_of(info)
        view = await service.withdraw_pledge(
            db=context.db,
            viewer=signed_in(info),
            pledge_id=parse_id(id, "id"),
            now=context.clock.now(),
        )
        return _pledge_payload(info, view)

    @payload_mutation(
        description="Close an open group before its deadline, once the minimum is reached: it "
        "becomes CONFIRMED and participants are told.",
        gates=(IsAuthenticated,),
    )
    async def purchase_group_close(
        self, info: strawberry.Info, id: GroupId
    ) -> PurchaseGroupPayload:
        return await _group_action(info, service.close_group, id)

    @payload_mutation(
        description="Cancel an open group before its deadline; participants are told.",
        gates=(IsAuthenticated,),
    )
    async def purchase_group_cancel(
        self,
        info: strawberry.Info,
        id: GroupId,
        reason: Annotated[str, strawberry.argument(description="Why, for the participants.")] = "",
    ) -> PurchaseGroupPayload:
        return await _group_action(info, service.cancel_group, id, reason=reason)

    @payload_mutation(
        description="Record that the confirmed group's order was placed (sale agreed, for SELL).",
        gates=(IsAuthenticated,),
    )
    async def purchase_group_mark_ordered(
        self, info: strawberry.Info, id: GroupId
    ) -> PurchaseGroupPayload:
        return await _group_action(info, service.mark_ordered, id)

    @payload_mutation(
        description="Record that the ordered goods were delivered (or the lot collected).",
        gates=(IsAuthenticated,),
    )
    async def purchase_group_mark_delivered(
        self, info: strawberry.Info, id: GroupId
    ) -> PurchaseGroupPayload:
        return await _group_action(info, service.mark_delivered, id)


async def _group_action(
    info: strawberry.Info, action: Any, id: strawberry.ID, **extra: Any
) -> PurchaseGroupPayload:
    """An organiser's action on one group: the service call and its payload."""
    context = context_of(info)
    view = await action(
        db=context.db,
        viewer=signed_in(info),
        group_id=parse_id(id, "id"),
        now=context.clock.now(),
        **extra,
    )
    return _group_payload(info, view)
