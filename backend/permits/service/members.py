"""The members a permit covers: spans of cover opened and closed with dates, so who was covered
on any day stays exact. Removing a member gives its allocations back to the pool at once."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.identity import service as identity
from backend.identity.models import Organisation
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, ServiceError, not_found
from backend.kit.money import plain
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.permits import policies
from backend.permits.models import Allocation, LedgerReason, PermitCondition, PermitMember
from backend.permits.service.common import (
    SUBJECT_CONDITION,
    MemberView,
    PermitView,
    cluster_today,
    move_allocation,
    organisations_by_id,
    permit_views,
    readable_permit,
)


async def add_member(
    *,
    db: Database,
    viewer: Viewer,
    permit_id: uuid.UUID,
    organisation_id: uuid.UUID,
    covered_from: date,
    now: datetime,
) -> tuple[MemberView, PermitView]:
    """Open a span of cover for an organisation of the permit's cluster, from a day within the
    permit's validity (and after its last span ended, if it had one). Two requests at once for
    one organisation: the one that loses the unique open span runs again and is answered that
    it is covered already (CONFLICT), not with an internal error."""
    return await once_more_on_clash(
        lambda: _add_member(
            db=db,
            viewer=viewer,
            permit_id=permit_id,
            organisation_id=organisation_id,
            covered_from=covered_from,
            now=now,
        )
    )


async def _add_member(
    *,
    db: Database,
    viewer: Viewer,
    permit_id: uuid.UUID,
    organisation_id: uuid.UUID,
    covered_from: date,
    now: datetime,
) -> tuple[MemberView, PermitView]:
    async with db.write() as session:
        permit, standing = await readable_permit(session, viewer, permit_id)
        policies.manage(standing)
        organisation = await session.get(Organisation, organisation_id)
        if organisation is None or organisation.cluster_id != permit.cluster_id:
            raise ServiceError.of(
                ErrorCode.VALIDATION,
                "Not an organisation of the permit's cluster",
                "organisationId",
            )
        if organisation.id == permit.authority_id:
            raise ServiceError.of(
                ErrorCode.VALIDATION, "The issuing authority is not covered", "organisationId"
            )
        if not permit.valid_from <= covered_from <= permit.valid_to:
            raise ServiceError.of(
                ErrorCode.VALIDATION,
                f"Must be within the permit's validity, {permit.valid_from} to {permit.valid_to}",
                "coveredFrom",
            )
        spans = list(
            (
                await session.scalars(
                    select(PermitMember).where(
                        PermitMember.permit_id == permit.id,
                        PermitMember.organisation_id == organisation.id,
                    )
                )
            ).all()
        )
        if any(s.covered_to is None for s in spans):
            raise ServiceError.of(
                ErrorCode.CONFLICT, "The organisation is covered already", "organisationId"
            )
        last_day = max((s.covered_to for s in spans if s.covered_to), default=None)
        if last_day is not None and covered_from <= last_day:
            raise ServiceError.of(
                ErrorCode.VALIDATION,
                f"Its last cover ended on {last_day}; a new one starts after it",
                "coveredFrom",
            )
        member = PermitMember(
            permit_id=permit.id,
            organisation_id=organisation.id,
            covered_from=covered_from,
            covered_to=None,
            added_by_id=viewer.user_id,
            created_at=now,
        )
        session.add(member)
        await session.flush()
        [view] = await permit_views(session, viewer, [permit])
        return await _member_view(session, member), view


async def remove_member(
    *,
    db: Database,
    viewer: Viewer,
    permit_id: uuid.UUID,
    organisation_id: uuid.UUID,
    covered_to: date | None,
    now: datetime,
) -> tuple[MemberView, PermitView]:
    """Close the organisation's open span on ``covered_to`` (today in the cluster's time zone
    when omitted); every allocation it holds goes back to the pool at once (MEMBER_REMOVED)."""
    async with db.write() as session:
        permit, standing = await readable_permit(session, viewer, permit_id)
        policies.manage(standing)
        # Every condition of the permit is locked first, in id order (the order every writer of
        # allocations takes them in). On PostgreSQL an allocation or transfer to this member that
        # checked its cover before this removal commits first, and the allocations read below
        # see it; without the locks it stayed with a member no longer covered.
        await session.execute(
            select(PermitCondition.id)
            .where(PermitCondition.permit_id == permit.id)
            .order_by(PermitCondition.id)
            .with_for_update()
        )
        member = await session.scalar(
            select(PermitMember)
            .where(
                PermitMember.permit_id == permit.id,
                PermitMember.organisation_id == organisation_id,
                PermitMember.covered_to.is_(None),
            )
            .with_for_update()
        )
        if member is None:
            raise not_found("Covered member", "organisationId")
        last_day = covered_to or await cluster_today(session, permit, now)
        if last_day < member.covered_from:
            raise ServiceError.of(
                ErrorCode.VALIDATION,
                f"Must not be before the cover started, {member.covered_from}",
                "coveredTo",
            )
        member.covered_to = min(last_day, permit.valid_to) if covered_to is None else last_day
        member.removed_by_id = viewer.user_id
        member.removed_at = now
        await _release_allocations(session, viewer, permit.id, organisation_id, now)
        await session.flush()
        [view] = await permit_views(session, viewer, [permit])
        return await _member_view(session, member), view


async def _member_view(session: AsyncSession, member: PermitMember) -> MemberView:
    """The span with its organisation (and the organisation's cluster, as the API shows it)."""
    organisations = await organisations_by_id(session, [member.organisation_id])
    return MemberView(member, organisations[member.organisation_id])


async def _release_allocations(
    session: AsyncSession,
    viewer: Viewer,
    permit_id: uuid.UUID,
    organisation_id: uuid.UUID,
    now: datetime,
) -> None:
    held = (
        await session.execute(
            select(PermitCondition.id, Allocation.amount)
            .join(Allocation, Allocation.condition_id == PermitCondition.id)
            .where(
                PermitCondition.permit_id == permit_id,
                Allocation.organisation_id == organisation_id,
                Allocation.amount > 0,
            )
            .order_by(PermitCondition.id)  # one lock order for everyone: no deadlock
        )
    ).all()
    released: list[str] = []
    for condition_id, _ in held:
        condition = await session.get(
            PermitCondition, condition_id, with_for_update=True, populate_existing=True
        )
        allocation = await session.scalar(
            select(Allocation)
            .where(
                Allocation.condition_id == condition_id,
                Allocation.organisation_id == organisation_id,
            )
            .execution_options(populate_existing=True)
        )
        if condition is None or allocation is None or allocation.amount <= Decimal(0):
            continue
        # a line per condition, in no language's words: "40 TNE: Sawdust to landfill"
        released.append(f"{plain(allocation.amount)} {condition.unit_code}: {condition.title}")
        move_allocation(
            session,
            condition=condition,
            allocation=allocation,
            organisation_id=organisation_id,
            change=-allocation.amount,
            reason=LedgerReason.MEMBER_REMOVED,
            viewer=viewer,
            now=now,
        )
        condition.updated_at = now
    if held:
        await session.flush()
        await notifications.add(
            session,
            user_ids=await identity.member_ids(session, organisation_id),
            text=texts.PERMIT_COVER_ENDED(released="; ".join(released)),
            subject_type=SUBJECT_CONDITION,
            subject_id=held[0][0],
            now=now,
        )
