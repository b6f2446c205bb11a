"""A person's pledges for an access request, and their withdrawal for an erasure request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.kit.clock import iso_or_none
from backend.purchasing.models import GroupStatus, Pledge, PledgeStatus, PurchaseGroup
from backend.purchasing.service.common import effective_status
from backend.purchasing.service.pledges import _locked_group, withdraw_locked
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


async def pledges_of(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncGenerator[dict[str, Any], None]:
    """Pledges for the person, and those they made for others as a facilitator."""
    rows = await session.stream(
        select(Pledge, PurchaseGroup.title, PurchaseGroup.unit_code)
        .join(PurchaseGroup, PurchaseGroup.id == Pledge.group_id)
        .where((Pledge.participant_id == user_id) | (Pledge.acted_by_id == user_id))
        .order_by(Pledge.created_at, Pledge.id)
        .execution_options(yield_per=500)
    )
    async for pledge, title, unit_code in rows:
        yield {
            "id": str(pledge.id),
            "groupId": str(pledge.group_id),
            "groupTitle": title,
            "forYou": pledge.participant_id == user_id,
            "madeByYou": pledge.acted_by_id == user_id,
            "organisationId": str(pledge.organisation_id) if pledge.organisation_id else None,
            "quantity": str(pledge.quantity),
            "unitCode": unit_code,
            "status": pledge.status.value,
            "createdAt": iso_or_none(pledge.created_at),
            "withdrawnAt": iso_or_none(pledge.withdrawn_at),
        }


async def withdraw_person(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    """Withdraw the person's pledges from groups still open (the totals shrink at once). Pledges
    of groups that closed are part of an order and stay, under the anonymised account; every
    group they pledged to is told, as its participant list shows their name. Returns how many
    pledges were withdrawn."""
    pledged = (
        await session.execute(
            select(Pledge.id, Pledge.group_id)
            .where(Pledge.participant_id == user_id)
            # groups in id order: two deletions never lock each other's groups in a circle
            .order_by(Pledge.group_id)
        )
    ).all()
    withdrawn = 0
    for pledge_id, group_id in pledged:
        group = await _locked_group(session, group_id)
        record = await session.get(Pledge, pledge_id, populate_existing=True)
        if group is None or record is None:
            continue
        if (
            record.status is PledgeStatus.ACTIVE
            and effective_status(group, now) is GroupStatus.OPEN
        ):
            await withdraw_locked(session, group, record, now)
            withdrawn += 1
        else:
            sync_log.note(
                session,
                ChangeType.PURCHASE_GROUP,
                group.id,
                [
                    sync_log.group_participants(group.id),
                    sync_log.organisation(group.organisation_id),
                ],
            )
    await session.flush()
    return withdrawn
