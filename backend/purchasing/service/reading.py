"""Reading groups: one group, the list with its filters, a person's pledges, the organiser's
list of pledges."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, false, or_, select

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import service as catalogue_service
from backend.catalogue.models import Material
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.purchasing import policies
from backend.purchasing.models import Pledge, PledgeStatus, PurchaseGroup
from backend.purchasing.service.common import (
    build_views,
    effective_status_sql,
    group_loads,
    pledge_loads,
    readable_group,
)
from backend.purchasing.service.inputs import GroupFilter, GroupView, PledgeView

BY_DEADLINE = Sort(
    "purchase-groups:deadline",
    (SortKey(PurchaseGroup.deadline), SortKey(PurchaseGroup.id)),
)
NEWEST_PLEDGES = Sort(
    "pledges:newest",
    (SortKey(Pledge.updated_at, descending=True), SortKey(Pledge.id, descending=True)),
)
PLEDGE_ORDER = Sort("pledges:order", (SortKey(Pledge.created_at), SortKey(Pledge.id)))


async def get_group(
    *, db: Database, viewer: Viewer | Anonymous, group_id: uuid.UUID, now: datetime
) -> GroupView | None:
    async with db.read() as session:
        group = await readable_group(session, viewer, group_id, loads=True)
        if group is None:
            return None
        return (await build_views(session, viewer, [group], now))[0]


def pledged_group_ids(viewer: Viewer) -> Select[Any]:
    """The groups the viewer holds a pledge in (as participant or for a member), as a subquery
    (the sync feed's scopes)."""
    return select(Pledge.group_id).where(
        policies.their_pledge(viewer), Pledge.status == PledgeStatus.ACTIVE
    )


async def groups_for_sync(
    *, db: Database, viewer: Viewer, group_ids: list[uuid.UUID], now: datetime
) -> dict[uuid.UUID, GroupView]:
    """Of these groups, those the viewer may read and organises, supplies or holds a pledge in
    (the offline sync's upserts)."""
    async with db.read() as session:
        theirs: list[Any] = [PurchaseGroup.id.in_(pledged_group_ids(viewer))]
        if viewer.organisation_id is not None:
            theirs.append(PurchaseGroup.organisation_id == viewer.organisation_id)
            theirs.append(PurchaseGroup.counterpart_organisation_id == viewer.organisation_id)
        statement = policies.readable_groups(viewer).where(
            PurchaseGroup.id.in_(group_ids), or_(*theirs)
        )
        groups = list(await session.scalars(statement.options(*group_loads())))
        return {view.group.id: view for view in await build_views(session, viewer, groups, now)}


async def list_groups(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    filter: GroupFilter,
    page: PageRequest,
    now: datetime,
    with_total: bool,
) -> Page[GroupView]:
    """Groups the viewer may see, soonest deadline first."""
    if filter.material_code is not None and not catalogue_service.is_material_code(
        filter.material_code
    ):
        raise ServiceError.of(ErrorCode.VALIDATION, "Not a material code", "filter.materialCode")
    async with db.read() as session:
        statement = policies.readable_groups(viewer)
        if filter.cluster_id is not None:
            statement = statement.where(PurchaseGroup.cluster_id == filter.cluster_id)
        if filter.organisation_id is not None:
            statement = statement.where(PurchaseGroup.organisation_id == filter.organisation_id)
        if filter.direction is not None:
            statement = statement.where(PurchaseGroup.direction == filter.direction)
        if filter.status is not None:
            statement = statement.where(effective_status_sql(now) == filter.status.value)
        if filter.participating:
            statement = statement.where(
                policies.pledged_to(viewer) if isinstance(viewer, Viewer) else false()
            )
        if filter.material_code is not None:
            material = await catalogue_service.find_material(
                session, code=filter.material_code, field_name="filter.materialCode"
            )
            subtree = select(Material.code).where(catalogue_service.subtree(material))
            statement = statement.where(PurchaseGroup.material_code.in_(subtree))
        result = await paginate(
            session,
            statement,
            sort=BY_DEADLINE,
            request=page,
            load=group_loads(),
            with_total=with_total,
        )
        views = await build_views(session, viewer, result.items, now)
    return result.with_items(views)


async def my_pledges(
    *,
    db: Database,
    viewer: Viewer,
    include_withdrawn: bool,
    page: PageRequest,
    now: datetime,
    with_total: bool,
) -> Page[PledgeView]:
    """The viewer's pledges and those they made for members, latest change first."""
    statement = select(Pledge).where(policies.their_pledge(viewer))
    if not include_withdrawn:
        statement = statement.where(Pledge.status == PledgeStatus.ACTIVE)
    async with db.read() as session:
        result = await paginate(
            session,
            statement,
            sort=NEWEST_PLEDGES,
            request=page,
            load=(*pledge_loads(),),
            with_total=with_total,
        )
        group_ids = list(dict.fromkeys(p.group_id for p in result.items))
        groups = (
            await session.scalars(
                select(PurchaseGroup).where(PurchaseGroup.id.in_(group_ids)).options(*group_loads())
            )
        ).all()
        views = {v.group.id: v for v in await build_views(session, viewer, list(groups), now)}
    return result.with_items([PledgeView(p, views[p.group_id]) for p in result.items])


async def group_pledges(
    *,
    db: Database,
    viewer: Viewer,
    group_id: uuid.UUID,
    include_withdrawn: bool,
    page: PageRequest,
    with_total: bool,
) -> Page[Any]:
    """Everyone's pledges of a group, in pledge order: for the organiser and platform admins."""
    async with db.read() as session:
        group = await readable_group(session, viewer, group_id)
        if group is None:
            raise not_found("Purchase group", "groupId")
        policies.read_pledges(viewer, group)
        statement = select(Pledge).where(Pledge.group_id == group_id)
        if not include_withdrawn:
            statement = statement.where(Pledge.status == PledgeStatus.ACTIVE)
        return await paginate(
            session,
            statement,
            sort=PLEDGE_ORDER,
            request=page,
            load=pledge_loads(),
            with_total=with_total,
        )
