"""Pledging: taking part in a group, changing the quantity, withdrawing.

The pledged total is a counter on the group row. Every pledge change locks the group row
first, then moves the counter with a conditional UPDATE that a CHECK constraint backs, so the
total never passes the maximum, whatever arrives at once.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from backend.auth.viewer import Viewer
from backend.identity import service as identity_service
from backend.identity.models import Organisation
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError, not_found
from backend.kit.money import MAX_AMOUNT, check_amount, plain
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.purchasing import policies
from backend.purchasing.models import GroupStatus, Pledge, PledgeStatus, PurchaseGroup
from backend.purchasing.service.common import (
    attach_loads,
    build_views,
    effective_status,
    readable_group,
    viewer_cluster,
)
from backend.purchasing.service.inputs import SUBJECT, PledgeView
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


async def _locked_group(session: AsyncSession, group_id: uuid.UUID) -> PurchaseGroup | None:
    return await session.get(PurchaseGroup, group_id, with_for_update=True, populate_existing=True)


def _check_open(group: PurchaseGroup, now: datetime) -> None:
    status = effective_status(group, now)
    if status is GroupStatus.OPEN:
        return
    if group.deadline <= now and group.status is GroupStatus.OPEN:
        raise ServiceError.of(ErrorCode.DEADLINE_PASSED, "The deadline has passed")
    raise ServiceError.of(
        ErrorCode.DEADLINE_PASSED, f"The group is {status.value}; pledges are closed"
    )


async def _move_total(
    session: AsyncSession, group: PurchaseGroup, delta: Decimal, participants: int
) -> bool:
    """Add ``delta`` to the pledged total (and ``participants`` to the count) if the maximum
    allows it.

    The new total is computed here, in decimals, not by SQL: SQLite keeps NUMERIC as floating
    point, and `pledged + 0.1` there drifted (0.7 + 0.1 fell short of a 0.8 minimum, and the
    last withdrawal went below zero). The group row is locked by the caller; the UPDATE is
    still conditional on the total it read, and a CHECK constraint backs the maximum.
    """
    before = group.pledged_quantity
    total = before + delta
    if delta > 0 and group.max_quantity is not None and total > group.max_quantity:
        return False
    if total >= MAX_AMOUNT:
        raise ServiceError.of(
            ErrorCode.CAPACITY_REACHED, "The group's total cannot grow this large", "quantity"
        )
    row = (
        await session.execute(
            update(PurchaseGroup)
            .where(PurchaseGroup.id == group.id, PurchaseGroup.pledged_quantity == before)
            .values(
                pledged_quantity=max(total, Decimal(0)),
                participants_count=PurchaseGroup.participants_count + participants,
            )
            .returning(PurchaseGroup.participants_count)
            .execution_options(synchronize_session=False)
        )
    ).one_or_none()
    if row is None:  # cannot happen under the row lock; refuse rather than guess
        raise ServiceError.of(ErrorCode.CONFLICT, "The group changed meanwhile; try again")
    # the group's progress is news to everyone in it
    sync_log.note(
        session,
        ChangeType.PURCHASE_GROUP,
        group.id,
        [
            sync_log.group_participants(group.id),
            sync_log.organisation(group.organisation_id),
            sync_log.organisation(group.counterpart_organisation_id),
        ],
    )
    set_committed_value(group, "pledged_quantity", max(total, Decimal(0)))
    set_committed_value(group, "participants_count", row[0])
    return True


def _does_not_fit(group: PurchaseGroup, asked: Decimal) -> ServiceError:
    assert group.max_quantity is not None
    left = max(Decimal(0), group.max_quantity - group.pledged_quantity)
    return ServiceError.of(
        ErrorCode.CAPACITY_REACHED,
        f"Only {plain(left)} {group.unit_code} left of the maximum {plain(group.max_quantity)}; "
        f"{plain(asked)} does not fit",
        "quantity",
    )


async def _pledge_view(
    session: AsyncSession, viewer: Viewer, pledge: Pledge, group: PurchaseGroup, now: datetime
) -> PledgeView:
    """The answer of a change to ``pledge`` of the locked ``group`` (its total as the
    conditional UPDATE left it), built from the rows this unit of work holds rather than read
    back. A participant has one pledge per group: the viewer's own is this one, or asked."""
    assert pledge.group_id == group.id
    await attach_loads(session, group, [pledge])
    mine = {group.id: pledge} if pledge.participant_id == viewer.user_id else None
    [view] = await build_views(session, viewer, [group], now, mine=mine)
    return PledgeView(pledge, view)


async def pledge(
    *,
    db: Database,
    viewer: Viewer,
    group_id: uuid.UUID,
    quantity: Decimal,
    on_behalf_of: uuid.UUID | None,
    now: datetime,
) -> PledgeView:
    """Pledge ``quantity`` to an OPEN group, for oneself or (a community's admin) for a member.

    Pledging again while pledged with the same quantity returns the same pledge, so a retried
    request counts once; another quantity is a CONFLICT (change it with a pledge update)."""
    problems = Problems()
    check_amount(problems, "quantity", quantity, positive=True)
    problems.raise_if_any()
    async with db.write() as session:
        group = await readable_group(session, viewer, group_id, lock=True)
        if group is None:
            raise not_found("Purchase group", "groupId")
        participant_id = viewer.user_id
        if on_behalf_of is not None:
            community = (
                await session.get(Organisation, viewer.organisation_id)
                if viewer.organisation_id
                else None
            )
            facilitator = (
                await identity_service.membership_in(session, viewer.user_id, community.id)
                if community
                else None
            )
            policies.pledge_for(viewer, community, facilitator)
            assert community is not None
            if await identity_service.membership_in(session, on_behalf_of, community.id) is None:
                raise ServiceError.of(
                    ErrorCode.VALIDATION, "Not a member of your community", "onBehalfOf"
                )
            participant_id = on_behalf_of
        if not policies.eligible(viewer, group, await viewer_cluster(session, viewer)):
            raise ServiceError.of(
                ErrorCode.FORBIDDEN,
                {
                    "MEMBERS": "This group is for the organiser's members",
                    "CLUSTER": "This group is for organisations of its cluster",
                    "PUBLIC": "Act for an organisation to take part",
                }[group.visibility.value],
            )
        existing = await session.scalar(
            select(Pledge).where(
                Pledge.group_id == group.id, Pledge.participant_id == participant_id
            )
        )
        active = existing is not None and existing.status is PledgeStatus.ACTIVE
        if active and existing is not None and existing.quantity == quantity:
            return await _pledge_view(session, viewer, existing, group, now)  # a retried request
        _check_open(group, now)
        if active and existing is not None:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                f"Already pledged {plain(existing.quantity)}; change that pledge instead",
                "quantity",
            )
        if not await _move_total(session, group, quantity, 1):
            raise _does_not_fit(group, quantity)
        record = existing or Pledge(
            group_id=group.id, participant_id=participant_id, created_at=now
        )
        record.organisation_id = viewer.organisation_id
        record.acted_by_id = viewer.user_id
        record.quantity = quantity
        record.status = PledgeStatus.ACTIVE
        record.withdrawn_at = None
        record.updated_at = now
        if existing is None:
            session.add(record)
        await session.flush()
        if participant_id != viewer.user_id:
            await notifications.add(
                session,
                user_ids=[participant_id],
                text=texts.PLEDGE_MADE_FOR_YOU(
                    quantity=quantity, unit=group.unit_code, group=group.title
                ),
                subject_type=SUBJECT,
                subject_id=group.id,
                now=now,
            )
        return await _pledge_view(session, viewer, record, group, now)


async def _changeable(
    session: AsyncSession, viewer: Viewer, pledge_id: uuid.UUID, field: str
) -> tuple[Pledge, PurchaseGroup]:
    group_id = await session.scalar(select(Pledge.group_id).where(Pledge.id == pledge_id))
    if group_id is None:
        raise not_found("Pledge", field)
    group = await _locked_group(session, group_id)  # the group first, as every pledge change
    record = await session.get(Pledge, pledge_id, populate_existing=True)
    if group is None or record is None:
        raise not_found("Pledge", field)
    facilitator = None
    if record.participant_id != viewer.user_id and record.organisation_id is not None:
        facilitator = await identity_service.membership_in(
            session, viewer.user_id, record.organisation_id
        )
    if not policies.sees_pledge(viewer, group, record) and facilitator is None:
        raise not_found("Pledge", field)
    policies.change_pledge(viewer, record, facilitator)
    return record, group


async def update_pledge(
    *, db: Database, viewer: Viewer, pledge_id: uuid.UUID, quantity: Decimal, now: datetime
) -> PledgeView:
    """Change an active pledge's quantity while the group is open."""
    problems = Problems()
    check_amount(problems, "quantity", quantity, positive=True)
    problems.raise_if_any()
    async with db.write() as session:
        record, group = await _changeable(session, viewer, pledge_id, "pledgeId")
        if record.status is not PledgeStatus.ACTIVE:
            raise ServiceError.of(ErrorCode.CONFLICT, "The pledge was withdrawn; pledge again")
        if record.quantity == quantity:
            return await _pledge_view(session, viewer, record, group, now)
        _check_open(group, now)
        delta = quantity - record.quantity
        if not await _move_total(session, group, delta, 0):
            raise _does_not_fit(group, delta)
        record.quantity = quantity
        record.acted_by_id = viewer.user_id
        record.updated_at = now
        await session.flush()
        return await _pledge_view(session, viewer, record, group, now)


async def withdraw_pledge(
    *, db: Database, viewer: Viewer, pledge_id: uuid.UUID, now: datetime
) -> PledgeView:
    """Withdraw a pledge while the group is open; withdrawing again changes nothing."""
    async with db.write() as session:
        record, group = await _changeable(session, viewer, pledge_id, "id")
        if record.status is PledgeStatus.WITHDRAWN:
            return await _pledge_view(session, viewer, record, group, now)
        _check_open(group, now)
        await withdraw_locked(session, group, record, now)
        record.acted_by_id = viewer.user_id
        await session.flush()
        return await _pledge_view(session, viewer, record, group, now)


async def withdraw_locked(
    session: AsyncSession, group: PurchaseGroup, record: Pledge, now: datetime
) -> None:
    """Withdraw an active pledge of ``group`` (locked by the caller): the group's total and
    participant count shrink at once."""
    await _move_total(session, group, -record.quantity, -1)
    record.status = PledgeStatus.WITHDRAWN
    record.withdrawn_at = now
    record.updated_at = now
