"""Organising a group: starting it, changing it, closing it early, cancelling it, and marking the
order placed and delivered; and the due-job runner's part, recording deadlines."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.catalogue import service as catalogue_service
from backend.identity.models import Cluster, Organisation
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version, not_found
from backend.kit.money import check_amount, check_currency, plain
from backend.kit.validation import check_text
from backend.notifications.service import texts
from backend.purchasing import policies
from backend.purchasing.models import GroupStatus, Pledge, PurchaseGroup
from backend.purchasing.service.common import (
    build_views,
    load_group,
    readable_group,
    record_outcome,
    tell_participants,
)
from backend.purchasing.service.inputs import (
    MAX_GROUP_LIFETIME_DAYS,
    MAX_TIERS,
    UNCHANGED,
    GroupChanges,
    GroupDraft,
    GroupView,
)
from backend.purchasing.service.settlement import PriceTier

log = logging.getLogger("eic.jobs")
DUE_BATCH = 200


# ---------------------------------------------------------------------------------------------
# Checks


def _check_terms(
    problems: Problems,
    *,
    min_quantity: Decimal,
    max_quantity: Decimal | None,
    tiers: list[PriceTier],
    shared_costs: Decimal,
) -> None:
    # Comparisons only between numbers: NaN or Infinity already has its own problem.
    def finite(*values: Decimal) -> bool:
        return all(value.is_finite() for value in values)

    check_amount(problems, "minQuantity", min_quantity, positive=True)
    if max_quantity is not None:
        check_amount(problems, "maxQuantity", max_quantity, positive=True)
        if finite(min_quantity, max_quantity) and max_quantity < min_quantity:
            problems.add("maxQuantity", "Must not be below the minimum")
    check_amount(problems, "sharedCosts", shared_costs, positive=False)
    if finite(shared_costs) and shared_costs < 0:
        problems.add("sharedCosts", "Must not be negative")
    if not 1 <= len(tiers) <= MAX_TIERS:
        problems.add("priceTiers", f"Give 1 to {MAX_TIERS} price tiers")
        return
    for index, tier in enumerate(tiers):
        check_amount(problems, f"priceTiers.{index}.minQuantity", tier.min_quantity, positive=False)
        if finite(tier.min_quantity) and tier.min_quantity < 0:
            problems.add(f"priceTiers.{index}.minQuantity", "Must not be negative")
        check_amount(
            problems, f"priceTiers.{index}.pricePerUnit", tier.price_per_unit, positive=True
        )
    minimums = [tier.min_quantity for tier in tiers]
    if not finite(min_quantity, *minimums):
        return
    if minimums != sorted(set(minimums)):
        problems.add("priceTiers", "List the tiers from the smallest quantity up, each larger")
    elif minimums[0] > min_quantity:
        # Otherwise a group could be confirmed without a price.
        problems.add("priceTiers", "The first tier must start at or below the minimum total")


def _check_deadline(problems: Problems, deadline: datetime, now: datetime) -> None:
    if deadline.tzinfo is None:
        problems.add("deadline", "Give the time with its offset, such as 2026-12-10T18:00:00+07:00")
    elif deadline <= now:
        problems.add("deadline", "Must be in the future")
    elif deadline - now > timedelta(days=MAX_GROUP_LIFETIME_DAYS):
        problems.add("deadline", f"Must be within {MAX_GROUP_LIFETIME_DAYS} days")


def _check_texts(
    problems: Problems, title: str | None, description: str | None, item_name: str | None
) -> None:
    if title is not None:
        check_text(problems, "title", title, min_length=3, max_length=200)
    if description is not None:
        check_text(
            problems, "description", description, min_length=0, max_length=10_000, multiline=True
        )
    if item_name is not None:
        check_text(problems, "itemName", item_name, min_length=2, max_length=200)


async def _check_references(
    session: AsyncSession,
    problems: Problems,
    *,
    material_code: str | None,
    unit_code: str | None,
    counterpart_id: uuid.UUID | None,
) -> str | None:
    """Checks the catalogue and directory look-ups; returns the unit's code as stored."""
    unit = None
    if material_code is not None:
        material = await catalogue_service.check_material(
            session, problems, material_code, "materialCode"
        )
        # A group's participants and counterpart receive goods with no licence check: hazardous
        # waste changes hands only through offers, where the receiver's licence is checked.
        if material is not None and material.hazardous:
            problems.add(
                "materialCode",
                "Hazardous waste is not traded in purchasing groups: list it on the market, "
                "where its receiver's waste licence is checked",
                ErrorCode.LICENCE_REQUIRED,
            )
    if unit_code is not None:
        unit = await catalogue_service.check_unit(session, problems, unit_code, "unit")
    if counterpart_id is not None and await session.get(Organisation, counterpart_id) is None:
        problems.add("counterpartOrganisationId", "No such organisation", ErrorCode.NOT_FOUND)
    return None if unit is None else unit.code


# ---------------------------------------------------------------------------------------------
# Organising


async def create_group(
    *, db: Database, viewer: Viewer, draft: GroupDraft, now: datetime
) -> GroupView:
    """See ``_create_group``; a concurrent twin with the same client id is answered as a retry."""
    return await once_more_on_clash(
        lambda: _create_group(db=db, viewer=viewer, draft=draft, now=now)
    )


async def _create_group(
    *, db: Database, viewer: Viewer, draft: GroupDraft, now: datetime
) -> GroupView:
    """An OPEN group of the organisation the viewer acts for. The same client id twice gives it
    back."""
    policies.create(viewer)
    problems = Problems()
    _check_texts(problems, draft.title, draft.description, draft.item_name)
    _check_terms(
        problems,
        min_quantity=draft.min_quantity,
        max_quantity=draft.max_quantity,
        tiers=draft.price_tiers,
        shared_costs=draft.shared_costs,
    )
    _check_deadline(problems, draft.deadline, now)
    if draft.currency is not None:
        check_currency(problems, "currency", draft.currency)
    async with db.write() as session:
        if draft.id is not None and (existing := await session.get(PurchaseGroup, draft.id)):
            return await _same_group_again(session, viewer, existing, now)
        organisation = await session.get(Organisation, viewer.organisation_id)
        if organisation is None:
            raise ServiceError.of(ErrorCode.FORBIDDEN, "Your organisation no longer exists")
        cluster = await session.get(Cluster, organisation.cluster_id)
        assert cluster is not None
        unit_code = await _check_references(
            session,
            problems,
            material_code=draft.material_code,
            unit_code=draft.unit_code,
            counterpart_id=draft.counterpart_organisation_id,
        )
        problems.raise_if_any()
        group = PurchaseGroup(
            organisation_id=organisation.id,
            cluster_id=organisation.cluster_id,
            created_by_id=viewer.user_id,
            counterpart_organisation_id=draft.counterpart_organisation_id,
            title=draft.title.strip(),
            description=draft.description.strip(),
            item_name=draft.item_name.strip(),
            material_code=draft.material_code,
            unit_code=unit_code,
            direction=draft.direction,
            min_quantity=draft.min_quantity,
            max_quantity=draft.max_quantity,
            price_tiers=[tier.stored() for tier in draft.price_tiers],
            currency=draft.currency or cluster.currency,
            shared_costs=draft.shared_costs,
            cost_split=draft.cost_split,
            deadline=draft.deadline,
            visibility=draft.visibility,
            status=GroupStatus.OPEN,
            pledged_quantity=Decimal(0),
            participants_count=0,
            version=1,
            created_at=now,
            updated_at=now,
        )
        if draft.id is not None:
            group.id = draft.id
        session.add(group)
        await session.flush()
        return await _view(session, viewer, group.id, now)


async def _same_group_again(
    session: AsyncSession, viewer: Viewer, existing: PurchaseGroup, now: datetime
) -> GroupView:
    if existing.organisation_id != viewer.organisation_id:
        raise ServiceError.of(ErrorCode.CONFLICT, "This id belongs to another group", "id")
    return await _view(session, viewer, existing.id, now)


async def _view(
    session: AsyncSession, viewer: Viewer, group_id: uuid.UUID, now: datetime
) -> GroupView:
    group = await load_group(session, group_id)
    assert group is not None
    return (await build_views(session, viewer, [group], now))[0]


async def _managed(
    session: AsyncSession, viewer: Viewer, group_id: uuid.UUID, now: datetime
) -> PurchaseGroup:
    """The group, locked, with a passed deadline's outcome recorded first."""
    # Whether it exists is not the business of people who cannot see it.
    group = await readable_group(session, viewer, group_id, lock=True)
    if group is None:
        raise not_found("Purchase group")
    policies.manage(viewer, group)
    if group.status is GroupStatus.OPEN and group.deadline <= now:
        await record_outcome(session, group.id, now)
        await session.refresh(group)
    return group


SAFE_AFTER_PLEDGES = ("title", "description")


async def update_group(
    *,
    db: Database,
    viewer: Viewer,
    group_id: uuid.UUID,
    changes: GroupChanges,
    expected_version: int | None,
    now: datetime,
) -> GroupView:
    """Change an OPEN group. Before the first pledge anything may change; after it only the
    title, the description, a later deadline and a higher (or no) maximum, so nobody's pledge
    is bound by terms they did not see."""
    problems = Problems()
    _check_texts(problems, changes.title, changes.description, changes.item_name)
    if changes.currency is not None:
        check_currency(problems, "currency", changes.currency)
    if changes.deadline is not None:
        _check_deadline(problems, changes.deadline, now)
    problems.raise_if_any()
    async with db.write() as session:
        group = await _managed(session, viewer, group_id, now)
        check_version("group", expected_version, group.version)
        if group.status is not GroupStatus.OPEN:
            raise ServiceError.of(
                ErrorCode.CONFLICT, f"The group is {group.status.value}; it can no longer change"
            )
        pledged = await _has_pledges(session, group)
        if pledged:
            _check_safe_changes(problems, group, changes)
            problems.raise_if_any()
        tiers = (
            changes.price_tiers
            if changes.price_tiers is not None
            else [PriceTier.of(t) for t in group.price_tiers]
        )
        min_quantity = group.min_quantity if changes.min_quantity is None else changes.min_quantity
        max_quantity = (
            group.max_quantity if changes.max_quantity is UNCHANGED else changes.max_quantity
        )
        shared_costs = group.shared_costs if changes.shared_costs is None else changes.shared_costs
        _check_terms(
            problems,
            min_quantity=min_quantity,
            max_quantity=max_quantity,
            tiers=tiers,
            shared_costs=shared_costs,
        )
        if (
            max_quantity is not None
            and max_quantity.is_finite()
            and max_quantity < group.pledged_quantity
        ):
            problems.add(
                "maxQuantity",
                f"{plain(group.pledged_quantity)} is already pledged; the maximum cannot go "
                "below it",
            )
        unit_code = await _check_references(
            session,
            problems,
            material_code=None if changes.material_code is UNCHANGED else changes.material_code,
            unit_code=changes.unit_code,
            counterpart_id=(
                None
                if changes.counterpart_organisation_id is UNCHANGED
                else changes.counterpart_organisation_id
            ),
        )
        problems.raise_if_any()
        if changes.title is not None:
            group.title = changes.title.strip()
        if changes.description is not None:
            group.description = changes.description.strip()
        if changes.item_name is not None:
            group.item_name = changes.item_name.strip()
        if changes.material_code is not UNCHANGED:
            group.material_code = changes.material_code
        if unit_code is not None:
            group.unit_code = unit_code
        if changes.direction is not None:
            group.direction = changes.direction
        if changes.currency is not None:
            group.currency = changes.currency
        if changes.cost_split is not None:
            group.cost_split = changes.cost_split
        if changes.deadline is not None:
            group.deadline = changes.deadline
        if changes.visibility is not None:
            group.visibility = changes.visibility
        if changes.counterpart_organisation_id is not UNCHANGED:
            group.counterpart_organisation_id = changes.counterpart_organisation_id
        group.min_quantity = min_quantity
        group.max_quantity = max_quantity
        group.shared_costs = shared_costs
        group.price_tiers = [tier.stored() for tier in tiers]
        group.version += 1
        group.updated_at = now
        await session.flush()
        return await _view(session, viewer, group.id, now)


async def _has_pledges(session: AsyncSession, group: PurchaseGroup) -> bool:
    return (
        await session.scalar(select(Pledge.id).where(Pledge.group_id == group.id).limit(1))
    ) is not None


def _check_safe_changes(problems: Problems, group: PurchaseGroup, changes: GroupChanges) -> None:
    unsafe = {
        "itemName": changes.item_name is not None,
        "materialCode": changes.material_code is not UNCHANGED,
        "unit": changes.unit_code is not None,
        "direction": changes.direction is not None,
        "minQuantity": changes.min_quantity is not None,
        "priceTiers": changes.price_tiers is not None,
        "currency": changes.currency is not None,
        "sharedCosts": changes.shared_costs is not None,
        "costSplit": changes.cost_split is not None,
        "visibility": changes.visibility is not None,
        "counterpartOrganisationId": changes.counterpart_organisation_id is not UNCHANGED,
    }
    for field_name, changed in unsafe.items():
        if changed:
            problems.add(field_name, "Cannot change once somebody has pledged")
    if changes.deadline is not None and changes.deadline < group.deadline:
        problems.add("deadline", "Once somebody has pledged the deadline may only move later")
    if (
        changes.max_quantity is not UNCHANGED
        and changes.max_quantity is not None
        and group.max_quantity is not None
        and changes.max_quantity.is_finite()
        and changes.max_quantity < group.max_quantity
    ):
        problems.add("maxQuantity", "Once somebody has pledged the maximum may only go up")


async def close_group(
    *, db: Database, viewer: Viewer, group_id: uuid.UUID, now: datetime
) -> GroupView:
    """Confirm before the deadline: allowed once the minimum is reached."""
    async with db.write() as session:
        group = await _managed(session, viewer, group_id, now)
        if group.status is GroupStatus.CONFIRMED:
            return await _view(session, viewer, group.id, now)  # a retried close
        if group.status is not GroupStatus.OPEN:
            raise ServiceError.of(ErrorCode.CONFLICT, f"The group is {group.status.value}")
        if group.pledged_quantity < group.min_quantity:
            raise ServiceError.of(
                ErrorCode.VALIDATION,
                f"The minimum is not reached yet: "
                f"{plain(group.min_quantity - group.pledged_quantity)} more is needed",
            )
        group.status = GroupStatus.CONFIRMED
        group.closed_at = now
        await _changed(session, group, now, texts.PURCHASE_GROUP_CONFIRMED(group=group.title))
        return await _view(session, viewer, group.id, now)


async def cancel_group(
    *, db: Database, viewer: Viewer, group_id: uuid.UUID, reason: str, now: datetime
) -> GroupView:
    """Cancel an OPEN group before its deadline; participants are told."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        group = await _managed(session, viewer, group_id, now)
        if group.status is GroupStatus.CANCELLED:
            return await _view(session, viewer, group.id, now)
        if group.status is not GroupStatus.OPEN:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                f"The group is {group.status.value}; only open groups can be cancelled",
            )
        group.status = GroupStatus.CANCELLED
        group.cancelled_at = now
        group.cancellation_reason = reason.strip()
        await _changed(
            session,
            group,
            now,
            texts.PURCHASE_GROUP_CANCELLED(group=group.title, reason=reason.strip()),
        )
        return await _view(session, viewer, group.id, now)


async def mark_ordered(
    *, db: Database, viewer: Viewer, group_id: uuid.UUID, now: datetime
) -> GroupView:
    return await _advance(db, viewer, group_id, now, GroupStatus.CONFIRMED, GroupStatus.ORDERED)


async def mark_delivered(
    *, db: Database, viewer: Viewer, group_id: uuid.UUID, now: datetime
) -> GroupView:
    return await _advance(db, viewer, group_id, now, GroupStatus.ORDERED, GroupStatus.DELIVERED)


_ADVANCE_NOTICE = {
    GroupStatus.ORDERED: texts.PURCHASE_GROUP_ORDERED,
    GroupStatus.DELIVERED: texts.PURCHASE_GROUP_DELIVERED,
}


async def _advance(
    db: Database,
    viewer: Viewer,
    group_id: uuid.UUID,
    now: datetime,
    before: GroupStatus,
    after: GroupStatus,
) -> GroupView:
    async with db.write() as session:
        group = await _managed(session, viewer, group_id, now)
        if group.status is after:
            return await _view(session, viewer, group.id, now)  # a retried request
        if group.status is not before:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                f"The group is {group.status.value}; it must be {before.value} first",
            )
        group.status = after
        if after is GroupStatus.ORDERED:
            group.ordered_at = now
        else:
            group.delivered_at = now
        await _changed(session, group, now, _ADVANCE_NOTICE[after](group=group.title))
        return await _view(session, viewer, group.id, now)


async def _changed(
    session: AsyncSession,
    group: PurchaseGroup,
    now: datetime,
    text: texts.Text,
) -> None:
    group.version += 1
    group.updated_at = now
    await session.flush()
    await tell_participants(session, group, text, now)


# ---------------------------------------------------------------------------------------------
# Due jobs


async def oldest_overdue_deadline(*, db: Database, now: datetime) -> datetime | None:
    """The deadline of the OPEN group whose outcome has waited longest for the due-job runner
    (None when none waits): the metrics' due-job lag. One statement on the status-deadline
    index."""
    async with db.read() as session:
        oldest: datetime | None = await session.scalar(
            select(func.min(PurchaseGroup.deadline)).where(
                PurchaseGroup.status == GroupStatus.OPEN, PurchaseGroup.deadline <= now
            )
        )
    return oldest


async def record_due_outcomes(*, db: Database, now: datetime) -> int:
    """Record the outcome of every OPEN group whose deadline has passed and tell participants.

    Safe to run twice and on several processes at once: each group's outcome is recorded by one
    conditional UPDATE, and only the runner whose UPDATE changed the row notifies.
    """
    recorded = 0
    failed: set[uuid.UUID] = set()
    while True:
        async with db.read() as session:
            statement = (
                select(PurchaseGroup.id)
                .where(PurchaseGroup.status == GroupStatus.OPEN, PurchaseGroup.deadline <= now)
                .order_by(PurchaseGroup.deadline, PurchaseGroup.id)
                .limit(DUE_BATCH)
            )
            if failed:  # one broken group must not hold back the others, run after run
                statement = statement.where(PurchaseGroup.id.not_in(failed))
            due = (await session.scalars(statement)).all()
        if not due:
            return recorded
        for group_id in due:
            # One transaction per group: a slow batch never holds every group's lock.
            try:
                async with db.write() as session:
                    if await record_outcome(session, group_id, now):
                        recorded += 1
            except Exception:
                log.exception("recording the outcome of purchase group %s failed", group_id)
                failed.add(group_id)
        if len(due) < DUE_BATCH:
            return recorded
