"""Transfers: a covered member passes part of its standing allocation of one condition to
another covered member (all periods from now on). Under a FREE permit it is done at once;
under HOLDER_APPROVAL it waits for an admin of the holder, and the sender's balance is checked
again when it is approved. Every change takes the condition's lock first, as allocations do."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.identity import service as identity
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, forbidden, not_found
from backend.kit.money import check_amount, plain
from backend.kit.validation import check_text
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.permits import policies
from backend.permits.models import (
    AllocationTransfer,
    LedgerReason,
    Permit,
    PermitCondition,
    TransferRule,
    TransferStatus,
)
from backend.permits.policies import Standing
from backend.permits.service.common import (
    SUBJECT_TRANSFER,
    TransferView,
    allocations_of,
    covered_now,
    move_allocation,
    organisations_by_id,
    readable_condition,
)
from backend.permits.service.inputs import TransferRequest
from backend.permits.service.reading import condition_views


async def _answer(
    session: AsyncSession,
    standing: Standing,
    transfer: AllocationTransfer,
    condition: PermitCondition,
) -> TransferView:
    [view] = await condition_views(session, standing, [condition])
    organisations = await organisations_by_id(
        session, [transfer.from_organisation_id, transfer.to_organisation_id]
    )
    return TransferView(transfer, organisations, view)


def _short(condition: PermitCondition, held: Decimal, amount: Decimal) -> ServiceError:
    return ServiceError.of(
        ErrorCode.CAPACITY_REACHED,
        f"The sender holds {plain(held)} {condition.unit_code}; {plain(amount)} does not fit",
        "amount",
    )


async def _carry_out(
    session: AsyncSession,
    viewer: Viewer,
    condition: PermitCondition,
    transfer: AllocationTransfer,
    now: datetime,
) -> None:
    """Move the amount (the condition is locked): two ledger entries linked to the transfer.
    CAPACITY_REACHED if the sender no longer holds it."""
    held = await allocations_of(
        session, condition.id, [transfer.from_organisation_id, transfer.to_organisation_id]
    )
    sender = held.get(transfer.from_organisation_id)
    balance = sender.amount if sender is not None else Decimal(0)
    if balance < transfer.amount:
        raise _short(condition, balance, transfer.amount)
    for organisation_id, change, reason in (
        (transfer.from_organisation_id, -transfer.amount, LedgerReason.TRANSFER_OUT),
        (transfer.to_organisation_id, transfer.amount, LedgerReason.TRANSFER_IN),
    ):
        move_allocation(
            session,
            condition=condition,
            allocation=held.get(organisation_id),
            organisation_id=organisation_id,
            change=change,
            reason=reason,
            viewer=viewer,
            now=now,
            transfer_id=transfer.id,
            note=transfer.note,
        )
    transfer.status = TransferStatus.DONE
    transfer.decided_at = now
    condition.updated_at = now


async def _tell_members(
    session: AsyncSession,
    transfer: AllocationTransfer,
    condition: PermitCondition,
    template: texts.Template,
    now: datetime,
) -> None:
    await notifications.add(
        session,
        user_ids=await identity.member_ids(
            session, transfer.from_organisation_id, transfer.to_organisation_id
        ),
        text=template(
            amount=transfer.amount,
            unit=condition.unit_code,
            condition=condition.title,
            note=transfer.note or transfer.decision_reason,
        ),
        subject_type=SUBJECT_TRANSFER,
        subject_id=transfer.id,
        now=now,
        dedupe=f"{SUBJECT_TRANSFER}:{transfer.id}:{transfer.status.value}",
    )


async def request_transfer(
    *, db: Database, viewer: Viewer, request: TransferRequest, now: datetime
) -> TransferView:
    """See ``_request``; a concurrent twin with the same client id is answered as a retry."""
    return await once_more_on_clash(
        lambda: _request(db=db, viewer=viewer, request=request, now=now)
    )


async def _request(
    *, db: Database, viewer: Viewer, request: TransferRequest, now: datetime
) -> TransferView:
    problems = Problems()
    check_amount(problems, "amount", request.amount, positive=True)
    check_text(problems, "note", request.note, min_length=0, max_length=2000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        condition, permit, standing = await readable_condition(
            session, viewer, request.condition_id, lock=True
        )
        policies.transfer(standing)
        sender_id = standing.organisation_id
        assert sender_id is not None
        if request.id is not None and (
            existing := await session.get(AllocationTransfer, request.id)
        ):
            if (existing.condition_id, existing.from_organisation_id) != (condition.id, sender_id):
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id belongs to another transfer", "id"
                )
            return await _answer(session, standing, existing, condition)  # a retried request
        if request.to_organisation_id == sender_id:
            raise ServiceError.of(
                ErrorCode.VALIDATION, "Transfer to another member", "toOrganisationId"
            )
        covered = await covered_now(session, permit.id, [sender_id, request.to_organisation_id])
        if sender_id not in covered:
            raise forbidden("Your organisation's cover by this permit has ended")
        if request.to_organisation_id not in covered:
            raise ServiceError.of(
                ErrorCode.VALIDATION, "Not a member the permit covers now", "toOrganisationId"
            )
        transfer = AllocationTransfer(
            condition_id=condition.id,
            from_organisation_id=sender_id,
            to_organisation_id=request.to_organisation_id,
            amount=request.amount,
            status=TransferStatus.PENDING,
            note=request.note.strip(),
            requested_by_id=viewer.user_id,
            decision_reason="",
            created_at=now,
        )
        if request.id is not None:
            transfer.id = request.id
        session.add(transfer)
        if permit.transfer_rule is TransferRule.FREE:
            await _carry_out(session, viewer, condition, transfer, now)
            await session.flush()
            await _tell_members(
                session,
                transfer,
                condition,
                texts.PERMIT_ALLOCATION_TRANSFERRED,
                now,
            )
        else:
            held = await allocations_of(session, condition.id, [sender_id])
            balance = held[sender_id].amount if sender_id in held else Decimal(0)
            if balance < transfer.amount:
                raise _short(condition, balance, transfer.amount)
            await session.flush()
            await notifications.add(
                session,
                user_ids=await identity.admin_ids(session, permit.holder_id),
                text=texts.PERMIT_TRANSFER_REQUESTED(
                    amount=transfer.amount,
                    unit=condition.unit_code,
                    condition=condition.title,
                    note=transfer.note,
                ),
                subject_type=SUBJECT_TRANSFER,
                subject_id=transfer.id,
                now=now,
                dedupe=f"{SUBJECT_TRANSFER}:{transfer.id}:REQUESTED",
            )
        await session.flush()
        return await _answer(session, standing, transfer, condition)


async def _pending(
    session: AsyncSession, viewer: Viewer, transfer_id: uuid.UUID
) -> tuple[AllocationTransfer, PermitCondition, Permit, Standing]:
    """The transfer with its condition locked (first, as every allocation change), as the
    viewer may see it: those who read everything, and its two members."""
    condition_id = await session.scalar(
        select(AllocationTransfer.condition_id).where(AllocationTransfer.id == transfer_id)
    )
    if condition_id is None:
        raise not_found("Transfer")
    try:
        condition, permit, standing = await readable_condition(
            session, viewer, condition_id, lock=True
        )
    except ServiceError as refused:
        raise not_found("Transfer") from refused
    transfer = await session.get(AllocationTransfer, transfer_id, populate_existing=True)
    assert transfer is not None
    if not (
        standing.reads_all
        or standing.organisation_id in (transfer.from_organisation_id, transfer.to_organisation_id)
    ):
        raise not_found("Transfer")
    return transfer, condition, permit, standing


async def decide_transfer(
    *,
    db: Database,
    viewer: Viewer,
    transfer_id: uuid.UUID,
    approve: bool,
    reason: str,
    now: datetime,
) -> TransferView:
    """The holder's admins approve or refuse a pending transfer. Approval checks the sender's
    balance then (CAPACITY_REACHED if it no longer has it) and that both are still covered
    (CONFLICT). The same decision again is a retry; another decision is a CONFLICT."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=2000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        transfer, condition, permit, standing = await _pending(session, viewer, transfer_id)
        policies.manage(standing)
        wanted = TransferStatus.DONE if approve else TransferStatus.REFUSED
        if transfer.status is wanted and transfer.decided_by_id == viewer.user_id:
            return await _answer(session, standing, transfer, condition)
        if transfer.status is not TransferStatus.PENDING:
            raise ServiceError.of(
                ErrorCode.CONFLICT, f"The transfer is {transfer.status.value} already"
            )
        transfer.decided_by_id = viewer.user_id
        transfer.decision_reason = reason.strip()
        if approve:
            covered = await covered_now(
                session, permit.id, [transfer.from_organisation_id, transfer.to_organisation_id]
            )
            if len(covered) < 2:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "One of the two is no longer covered by the permit"
                )
            await _carry_out(session, viewer, condition, transfer, now)
        else:
            transfer.status = TransferStatus.REFUSED
            transfer.decided_at = now
        await session.flush()
        await _tell_members(
            session,
            transfer,
            condition,
            texts.PERMIT_TRANSFER_APPROVED if approve else texts.PERMIT_TRANSFER_REFUSED,
            now,
        )
        return await _answer(session, standing, transfer, condition)


async def cancel_transfer(
    *, db: Database, viewer: Viewer, transfer_id: uuid.UUID, now: datetime
) -> TransferView:
    """The sender's admins take back a pending transfer; cancelling again changes nothing."""
    async with db.write() as session:
        transfer, condition, _permit, standing = await _pending(session, viewer, transfer_id)
        policies.transfer(standing)
        if standing.organisation_id != transfer.from_organisation_id:
            raise forbidden("Only the sending member takes a transfer back")
        if transfer.status is TransferStatus.CANCELLED:
            return await _answer(session, standing, transfer, condition)
        if transfer.status is not TransferStatus.PENDING:
            raise ServiceError.of(
                ErrorCode.CONFLICT, f"The transfer is {transfer.status.value} already"
            )
        transfer.status = TransferStatus.CANCELLED
        transfer.decided_at = now
        await session.flush()
        return await _answer(session, standing, transfer, condition)
