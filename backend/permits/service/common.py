"""What the permit services share: the views they give, loading a permit or a condition with
the viewer's standing, the organisations a page names, the cluster's today, and the one way an
allocation changes (with its ledger entry)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue.models import Material, Unit
from backend.identity.models import Cluster, Organisation
from backend.kit.clock import local_day
from backend.kit.errors import ServiceError, not_found
from backend.permits import policies
from backend.permits.models import (
    Allocation,
    AllocationEntry,
    AllocationTransfer,
    LedgerReason,
    Permit,
    PermitCondition,
    PermitMember,
)
from backend.permits.policies import Standing

SUBJECT_CONDITION = "PERMIT_CONDITION"
SUBJECT_TRANSFER = "PERMIT_TRANSFER"
# the smallest step between two ledger entries of one member (see :func:`move_allocation`)
TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class PermitView:
    """A permit as one viewer sees it: their standing, and the organisations it names (each
    with its cluster loaded)."""

    permit: Permit
    standing: Standing
    organisations: dict[uuid.UUID, Organisation]

    @property
    def holder(self) -> Organisation:
        return self.organisations[self.permit.holder_id]

    @property
    def authority(self) -> Organisation:
        return self.organisations[self.permit.authority_id]


@dataclass(frozen=True, slots=True)
class MemberView:
    member: PermitMember
    organisation: Organisation


@dataclass(frozen=True, slots=True)
class ConditionView:
    """A condition with what the viewer may see of its allocations: every member's for those
    who read everything, their own for a member."""

    condition: PermitCondition
    standing: Standing
    unit: Unit
    material: Material | None = None
    allocations: list[Allocation] = field(default_factory=list)
    organisations: dict[uuid.UUID, Organisation] = field(default_factory=dict)

    @property
    def viewer_allocation(self) -> Allocation | None:
        mine = self.standing.organisation_id
        return next((a for a in self.allocations if a.organisation_id == mine), None)


@dataclass(frozen=True, slots=True)
class TransferView:
    """A transfer with its two organisations, and (after a mutation) its condition."""

    transfer: AllocationTransfer
    organisations: dict[uuid.UUID, Organisation]
    condition: ConditionView | None = None


@dataclass(frozen=True, slots=True)
class EntryView:
    entry: AllocationEntry
    organisations: dict[uuid.UUID, Organisation]


async def organisations_by_id(
    session: AsyncSession, ids: Collection[uuid.UUID | None]
) -> dict[uuid.UUID, Organisation]:
    """The organisations of ``ids`` with their clusters: one statement."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.scalars(
        select(Organisation)
        .where(Organisation.id.in_(wanted))
        .options(joinedload(Organisation.cluster))
    )
    return {o.id: o for o in rows.unique().all()}


async def permit_views(
    session: AsyncSession, viewer: Viewer | Anonymous, permits: list[Permit]
) -> list[PermitView]:
    """Views of these permits: at most three statements whatever their number."""
    standings = await policies.standings_of(session, viewer, permits)
    organisations = await organisations_by_id(
        session, [i for p in permits for i in (p.holder_id, p.authority_id)]
    )
    return [PermitView(p, standings[p.id], organisations) for p in permits]


async def readable_permit(
    session: AsyncSession,
    viewer: Viewer | Anonymous,
    permit_id: uuid.UUID,
    *,
    field_name: str = "permitId",
) -> tuple[Permit, Standing]:
    """The permit if the viewer may read it (NOT_FOUND otherwise), with their standing."""
    permit = await session.scalar(policies.readable_permits(viewer).where(Permit.id == permit_id))
    if permit is None:
        raise not_found("Permit", field_name)
    standing = await policies.standing_of(session, viewer, permit)
    policies.read(standing)
    return permit, standing


async def readable_condition(
    session: AsyncSession,
    viewer: Viewer | Anonymous,
    condition_id: uuid.UUID,
    *,
    lock: bool = False,
    field_name: str = "conditionId",
) -> tuple[PermitCondition, Permit, Standing]:
    """The condition (locked with ``lock``: every change of its allocations, and of its
    transfers, takes this lock first) with its permit and the viewer's standing; NOT_FOUND
    for those who may not read the permit."""
    permit_id = await session.scalar(
        select(PermitCondition.permit_id).where(PermitCondition.id == condition_id)
    )
    if permit_id is None:
        raise not_found("Permit condition", field_name)
    try:
        permit, standing = await readable_permit(session, viewer, permit_id)
    except ServiceError as refused:
        raise not_found("Permit condition", field_name) from refused
    condition = await session.get(
        PermitCondition, condition_id, with_for_update=lock, populate_existing=lock
    )
    if condition is None:
        raise not_found("Permit condition", field_name)
    return condition, permit, standing


async def cluster_today(session: AsyncSession, permit: Permit, now: datetime) -> date:
    """Today in the permit's cluster's time zone."""
    zone = await session.scalar(select(Cluster.timezone).where(Cluster.id == permit.cluster_id))
    return local_day(now, zone or "UTC")


async def covered_now(
    session: AsyncSession, permit_id: uuid.UUID, organisation_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``organisation_ids`` with an open span of cover (not removed)."""
    rows = await session.scalars(
        select(PermitMember.organisation_id).where(
            PermitMember.permit_id == permit_id,
            PermitMember.organisation_id.in_(list(organisation_ids)),
            PermitMember.covered_to.is_(None),
        )
    )
    return set(rows.all())


async def allocations_of(
    session: AsyncSession, condition_id: uuid.UUID, organisation_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, Allocation]:
    rows = await session.scalars(
        select(Allocation)
        .where(
            Allocation.condition_id == condition_id,
            Allocation.organisation_id.in_(list(organisation_ids)),
        )
        .execution_options(populate_existing=True)
    )
    return {a.organisation_id: a for a in rows.all()}


def move_allocation(
    session: AsyncSession,
    *,
    condition: PermitCondition,
    allocation: Allocation | None,
    organisation_id: uuid.UUID,
    change: Decimal,
    reason: LedgerReason,
    viewer: Viewer,
    now: datetime,
    transfer_id: uuid.UUID | None = None,
    note: str = "",
) -> Allocation:
    """Change one member's allocation of the LOCKED ``condition`` by ``change``, keep the
    condition's ``allocated`` in step, and append the ledger entry.

    The entry's time is ``now``, or a microsecond after the member's previous entry when that
    is not earlier (requests running at once share a clock reading; under the condition's lock
    this keeps each member's ledger in commit order, so it replays by time)."""
    before = allocation.amount if allocation is not None else Decimal(0)
    at = now
    if allocation is not None and allocation.updated_at >= now:
        at = allocation.updated_at + TICK
    if allocation is None:
        allocation = Allocation(
            condition_id=condition.id,
            organisation_id=organisation_id,
            amount=before + change,
            version=1,
            updated_at=at,
        )
        session.add(allocation)
    else:
        allocation.amount = before + change
        allocation.version += 1
        allocation.updated_at = at
    condition.allocated = condition.allocated + change
    session.add(
        AllocationEntry(
            condition_id=condition.id,
            organisation_id=organisation_id,
            reason=reason,
            change=change,
            balance_after=allocation.amount,
            transfer_id=transfer_id,
            acted_by_id=viewer.user_id,
            acting_organisation_id=viewer.organisation_id,
            note=note,
            created_at=at,
        )
    )
    return allocation
