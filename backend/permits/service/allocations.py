"""Allocations: the holder shares each cap out among the covered members. The sum never passes
the cap: every change locks the condition's row first (FOR UPDATE; SQLite's write transactions
are BEGIN IMMEDIATE), moves ``allocated`` in the same transaction, and the CHECK
``allocated_within_cap`` refuses any commit that would pass it."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from backend.auth.viewer import Viewer
from backend.identity import service as identity
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.money import check_amount, plain
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.permits import policies
from backend.permits.models import Allocation, LedgerReason
from backend.permits.service.common import (
    SUBJECT_CONDITION,
    ConditionView,
    allocations_of,
    covered_now,
    move_allocation,
    readable_condition,
)
from backend.permits.service.reading import condition_views


async def set_allocation(
    *,
    db: Database,
    viewer: Viewer,
    condition_id: uuid.UUID,
    organisation_id: uuid.UUID,
    amount: Decimal,
    now: datetime,
) -> tuple[Allocation, ConditionView]:
    """Set a currently covered member's allocation (per period, in the condition's unit). A
    raise that does not fit is CAPACITY_REACHED saying what is left; setting the same amount
    again changes nothing (a retry)."""
    problems = Problems()
    check_amount(problems, "amount", amount, positive=False)
    if amount.is_finite() and amount < 0:
        problems.add("amount", "Must not be negative")
    problems.raise_if_any()
    async with db.write() as session:
        condition, permit, standing = await readable_condition(
            session, viewer, condition_id, lock=True
        )
        policies.manage(standing)
        if organisation_id not in await covered_now(session, permit.id, [organisation_id]):
            raise ServiceError.of(
                ErrorCode.VALIDATION, "Not a member the permit covers now", "organisationId"
            )
        allocation = (await allocations_of(session, condition.id, [organisation_id])).get(
            organisation_id
        )
        before = allocation.amount if allocation is not None else Decimal(0)
        change = amount - before
        if change > condition.cap - condition.allocated:
            left = condition.cap - condition.allocated
            raise ServiceError.of(
                ErrorCode.CAPACITY_REACHED,
                f"Only {plain(left)} {condition.unit_code} of the cap {plain(condition.cap)} is "
                f"unallocated; raising this member by {plain(change)} does not fit",
                "amount",
            )
        if allocation is None or change != 0:
            allocation = move_allocation(
                session,
                condition=condition,
                allocation=allocation,
                organisation_id=organisation_id,
                change=change,
                reason=LedgerReason.ALLOCATED,
                viewer=viewer,
                now=now,
            )
            condition.updated_at = now
            await session.flush()
            await notifications.add(
                session,
                user_ids=await identity.member_ids(session, organisation_id),
                text=texts.PERMIT_ALLOCATION_CHANGED(
                    condition=condition.title, amount=amount, unit=condition.unit_code
                ),
                subject_type=SUBJECT_CONDITION,
                subject_id=condition.id,
                now=now,
            )
        [view] = await condition_views(session, standing, [condition])
        return allocation, view
