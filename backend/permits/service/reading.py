"""Reading permits: one permit, the viewer's permits, a permit's members and conditions, a
condition's ledger and transfers. Nested lists take the standing their parent was read with (in
the same request), so a page costs its own statements only."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue.models import Material, Unit
from backend.kit.db import Database
from backend.kit.errors import forbidden
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.permits import policies
from backend.permits.models import (
    Allocation,
    AllocationEntry,
    AllocationTransfer,
    Permit,
    PermitCondition,
    PermitMember,
    TransferStatus,
)
from backend.permits.policies import Standing
from backend.permits.service.common import (
    ConditionView,
    EntryView,
    MemberView,
    PermitView,
    TransferView,
    organisations_by_id,
    permit_views,
)

NEWEST_PERMITS = Sort(
    "permits:newest",
    (SortKey(Permit.created_at, descending=True), SortKey(Permit.id, descending=True)),
)
MEMBER_ORDER = Sort(
    "permit-members:order", (SortKey(PermitMember.created_at), SortKey(PermitMember.id))
)
LEDGER_ORDER = Sort(
    "permit-ledger:newest",
    (
        SortKey(AllocationEntry.created_at, descending=True),
        SortKey(AllocationEntry.id, descending=True),
    ),
)
NEWEST_TRANSFERS = Sort(
    "permit-transfers:newest",
    (
        SortKey(AllocationTransfer.created_at, descending=True),
        SortKey(AllocationTransfer.id, descending=True),
    ),
)


async def get_permit(
    *, db: Database, viewer: Viewer | Anonymous, permit_id: uuid.UUID
) -> PermitView | None:
    async with db.read() as session:
        permit = await session.scalar(
            policies.readable_permits(viewer).where(Permit.id == permit_id)
        )
        if permit is None:
            return None
        [view] = await permit_views(session, viewer, [permit])
        return view


async def list_permits(
    *, db: Database, viewer: Viewer | Anonymous, page: PageRequest, with_total: bool
) -> Page[PermitView]:
    """The permits the viewer may read, newest first: at most five statements a page."""
    async with db.read() as session:
        result = await paginate(
            session,
            policies.readable_permits(viewer),
            sort=NEWEST_PERMITS,
            request=page,
            with_total=with_total,
        )
        views = await permit_views(session, viewer, list(result.items))
    return result.with_items(views)


async def list_members(
    *,
    db: Database,
    standing: Standing,
    current: bool | None,
    page: PageRequest,
    with_total: bool,
) -> Page[MemberView]:
    """Spans of cover in the order they were opened (re-adding opens a new span); ``current``
    True keeps the open ones, False the closed ones."""
    policies.read(standing)
    statement = select(PermitMember).where(PermitMember.permit_id == standing.permit_id)
    if current is not None:
        statement = statement.where(
            PermitMember.covered_to.is_(None) if current else PermitMember.covered_to.is_not(None)
        )
    async with db.read() as session:
        result = await paginate(
            session, statement, sort=MEMBER_ORDER, request=page, with_total=with_total
        )
        organisations = await organisations_by_id(
            session, [m.organisation_id for m in result.items]
        )
    return result.map(lambda m: MemberView(m, organisations[m.organisation_id]))


async def condition_views(
    session: AsyncSession, standing: Standing, conditions: list[PermitCondition]
) -> list[ConditionView]:
    """Views of conditions of one permit with the allocations the viewer may see (every
    member's for those who read everything, their own for a member): two statements."""
    if not conditions:
        return []
    statement = select(Allocation).where(Allocation.condition_id.in_([c.id for c in conditions]))
    if not standing.reads_all:
        statement = statement.where(Allocation.organisation_id == standing.organisation_id)
    allocations = list(
        (
            await session.scalars(
                statement.order_by(Allocation.condition_id, Allocation.organisation_id)
            )
        ).all()
    )
    organisations = await organisations_by_id(session, [a.organisation_id for a in allocations])
    units = {
        u.code: u
        for u in await session.scalars(
            select(Unit).where(Unit.code.in_({c.unit_code for c in conditions}))
        )
    }
    material_codes = {c.material_code for c in conditions if c.material_code}
    materials = (
        {
            m.code: m
            for m in await session.scalars(
                select(Material).where(Material.code.in_(material_codes))
            )
        }
        if material_codes
        else {}
    )
    return [
        ConditionView(
            condition,
            standing,
            units[condition.unit_code],
            materials.get(condition.material_code) if condition.material_code else None,
            [a for a in allocations if a.condition_id == condition.id],
            organisations,
        )
        for condition in conditions
    ]


async def list_conditions(*, db: Database, standing: Standing) -> list[ConditionView]:
    """A permit's conditions in the order they were added: three statements."""
    policies.read(standing)
    async with db.read() as session:
        conditions = list(
            (
                await session.scalars(
                    select(PermitCondition)
                    .where(PermitCondition.permit_id == standing.permit_id)
                    .order_by(PermitCondition.created_at, PermitCondition.id)
                )
            ).all()
        )
        return await condition_views(session, standing, conditions)


async def get_condition(
    *, db: Database, viewer: Viewer | Anonymous, condition_id: uuid.UUID
) -> tuple[ConditionView, PermitView] | None:
    async with db.read() as session:
        permit_id = await session.scalar(
            select(PermitCondition.permit_id).where(PermitCondition.id == condition_id)
        )
        if permit_id is None:
            return None
        permit = await session.scalar(
            policies.readable_permits(viewer).where(Permit.id == permit_id)
        )
        if permit is None:
            return None
        [permit_view] = await permit_views(session, viewer, [permit])
        condition = await session.get(PermitCondition, condition_id)
        assert condition is not None
        [view] = await condition_views(session, permit_view.standing, [condition])
        return view, permit_view


async def ledger(
    *,
    db: Database,
    standing: Standing,
    condition_id: uuid.UUID,
    organisation_id: uuid.UUID | None,
    page: PageRequest,
    with_total: bool,
) -> Page[EntryView]:
    """A condition's ledger, newest first: one member's (``organisation_id``), or everyone's for
    those who read everything; a member reads its own only."""
    policies.read(standing)
    if organisation_id is None and not standing.reads_all:
        organisation_id = standing.organisation_id
    if organisation_id is not None and not policies.read_member(standing, organisation_id):
        raise forbidden("A member reads its own ledger only")
    statement = select(AllocationEntry).where(AllocationEntry.condition_id == condition_id)
    if organisation_id is not None:
        statement = statement.where(AllocationEntry.organisation_id == organisation_id)
    async with db.read() as session:
        result = await paginate(
            session, statement, sort=LEDGER_ORDER, request=page, with_total=with_total
        )
        organisations = await organisations_by_id(
            session,
            [i for e in result.items for i in (e.organisation_id, e.acting_organisation_id)],
        )
    return result.map(lambda e: EntryView(e, organisations))


async def list_transfers(
    *,
    db: Database,
    standing: Standing,
    condition_id: uuid.UUID,
    status: TransferStatus | None,
    page: PageRequest,
    with_total: bool,
) -> Page[TransferView]:
    """A condition's transfers, newest first: all of them for those who read everything, a
    member's own (sent or received) for a member."""
    policies.read(standing)
    statement = select(AllocationTransfer).where(AllocationTransfer.condition_id == condition_id)
    if not standing.reads_all:
        statement = statement.where(
            or_(
                AllocationTransfer.from_organisation_id == standing.organisation_id,
                AllocationTransfer.to_organisation_id == standing.organisation_id,
            )
        )
    if status is not None:
        statement = statement.where(AllocationTransfer.status == status)
    async with db.read() as session:
        result = await paginate(
            session, statement, sort=NEWEST_TRANSFERS, request=page, with_total=with_total
        )
        organisations = await organisations_by_id(
            session,
            [i for t in result.items for i in (t.from_organisation_id, t.to_organisation_id)],
        )
    return result.map(lambda t: TransferView(t, organisations))
