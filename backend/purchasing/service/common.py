"""What the purchasing service's parts share: the status as of now, loading, the viewer's
cluster, and recording a deadline's outcome exactly once."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from backend.auth.viewer import Anonymous, Viewer
from backend.identity.models import Organisation
from backend.kit.db import attach
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.purchasing import policies
from backend.purchasing.models import GroupStatus, Pledge, PledgeStatus, PurchaseGroup
from backend.purchasing.service.inputs import SUBJECT, GroupView
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

SETTLED = (GroupStatus.CONFIRMED, GroupStatus.ORDERED, GroupStatus.DELIVERED)


def effective_status(group: PurchaseGroup, now: datetime) -> GroupStatus:
    """The status as of ``now``: an OPEN group past its deadline is CONFIRMED (minimum reached)
    or FAILED at once, whether or not the due-job runner has recorded it yet."""
    if group.status is GroupStatus.OPEN and group.deadline <= now:
        return (
            GroupStatus.CONFIRMED
            if group.pledged_quantity >= group.min_quantity
            else GroupStatus.FAILED
        )
    return group.status


def effective_status_sql(now: datetime) -> Any:
    """:func:`effective_status` as SQL, for filters."""
    return case(
        (
            (PurchaseGroup.status == GroupStatus.OPEN) & (PurchaseGroup.deadline <= now),
            case(
                (
                    PurchaseGroup.pledged_quantity >= PurchaseGroup.min_quantity,
                    GroupStatus.CONFIRMED.value,
                ),
                else_=GroupStatus.FAILED.value,
            ),
        ),
        else_=PurchaseGroup.status,
    )


def group_loads() -> tuple[Any, ...]:
    return (
        selectinload(PurchaseGroup.organisation).selectinload(Organisation.cluster),
        selectinload(PurchaseGroup.counterpart).selectinload(Organisation.cluster),
        selectinload(PurchaseGroup.cluster),
        selectinload(PurchaseGroup.material),
        selectinload(PurchaseGroup.unit),
    )


def pledge_loads() -> tuple[Any, ...]:
    return (
        selectinload(Pledge.participant),
        selectinload(Pledge.acted_by),
        selectinload(Pledge.organisation),
    )


async def load_group(session: AsyncSession, group_id: uuid.UUID) -> PurchaseGroup | None:
    group: PurchaseGroup | None = await session.scalar(
        select(PurchaseGroup)
        .where(PurchaseGroup.id == group_id)
        .options(*group_loads())
        .execution_options(populate_existing=True)
    )
    return group


async def attach_loads(
    session: AsyncSession, group: PurchaseGroup, pledges: list[Pledge] | None = None
) -> None:
    """A group of the caller's unit of work, and pledges of it, with what ``group_loads`` and
    ``pledge_loads`` give them, from the rows the session holds rather than read back: the
    organiser, the supplier and the pledges' organisations with their clusters (one
    statement), the group's cluster (usually the organiser's: none), material and unit (one
    each), the pledges' participants and who acted (one)."""
    pledges = pledges or []
    await attach(
        session,
        [
            (group, "organisation"),
            (group, "counterpart"),
            *((pledge, "organisation") for pledge in pledges),
        ],
        joinedload(Organisation.cluster),
    )
    organisations = [group.organisation, group.counterpart, *(p.organisation for p in pledges)]
    await attach(session, [(o, "cluster") for o in organisations if o is not None])
    await attach(session, [(group, "cluster")])
    await attach(session, [(group, "material")])
    await attach(session, [(group, "unit")])
    await attach(session, [(p, name) for p in pledges for name in ("participant", "acted_by")])


VIEWER_CLUSTERS = "eic.purchasing.viewer_clusters"


async def viewer_cluster(session: AsyncSession, viewer: Viewer | Anonymous) -> uuid.UUID | None:
    """The cluster of the organisation the viewer acts for: asked once per unit of work (an
    organisation does not change clusters within one)."""
    if not isinstance(viewer, Viewer) or viewer.organisation_id is None:
        return None
    known: dict[uuid.UUID, uuid.UUID | None] = session.info.setdefault(VIEWER_CLUSTERS, {})
    if viewer.organisation_id not in known:
        known[viewer.organisation_id] = await session.scalar(
            select(Organisation.cluster_id).where(Organisation.id == viewer.organisation_id)
        )
    return known[viewer.organisation_id]


async def active_pledges(
    session: AsyncSession, group_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[Pledge]]:
    """Active pledges of these groups, in pledge order, with their people: one statement (plus
    the loads) whatever the number of groups."""
    by_group: dict[uuid.UUID, list[Pledge]] = {group_id: [] for group_id in group_ids}
    if not group_ids:
        return by_group
    rows = await session.scalars(
        select(Pledge)
        .where(Pledge.group_id.in_(group_ids), Pledge.status == PledgeStatus.ACTIVE)
        .options(*pledge_loads())
        .order_by(Pledge.created_at, Pledge.id)
    )
    for pledge in rows:
        by_group[pledge.group_id].append(pledge)
    return by_group


OUTCOME_MESSAGES = {
    GroupStatus.CONFIRMED: texts.PURCHASE_GROUP_CONFIRMED,
    GroupStatus.FAILED: texts.PURCHASE_GROUP_FAILED,
}


async def tell_participants(
    session: AsyncSession, group: PurchaseGroup, text: texts.Text, now: datetime
) -> None:
    participant_ids = (
        await session.scalars(
            select(Pledge.participant_id)
            .where(Pledge.group_id == group.id, Pledge.status == PledgeStatus.ACTIVE)
            .order_by(Pledge.created_at, Pledge.id)
        )
    ).all()
    await notifications.add(
        session,
        user_ids=participant_ids,
        text=text,
        subject_type=SUBJECT,
        subject_id=group.id,
        now=now,
        dedupe=f"{SUBJECT}:{group.id}:{text.template.kind.value}",
    )


async def record_outcome(session: AsyncSession, group_id: uuid.UUID, now: datetime) -> bool:
    """Record the outcome of an OPEN group whose deadline has passed, and tell its participants.

    One conditional UPDATE decides: of two runners (or a runner and a request) only the one
    whose UPDATE changed the row notifies, so nobody is told twice.
    """
    outcome = await session.scalar(
        update(PurchaseGroup)
        .where(
            PurchaseGroup.id == group_id,
            PurchaseGroup.status == GroupStatus.OPEN,
            PurchaseGroup.deadline <= now,
        )
        .values(
            status=case(
                (
                    PurchaseGroup.pledged_quantity >= PurchaseGroup.min_quantity,
                    GroupStatus.CONFIRMED.value,
                ),
                else_=GroupStatus.FAILED.value,
            ),
            closed_at=PurchaseGroup.deadline,
            updated_at=now,
            version=PurchaseGroup.version + 1,
        )
        .returning(PurchaseGroup.status)
        .execution_options(synchronize_session=False)
    )
    if outcome is None:
        return False
    group = await load_group(session, group_id)
    assert group is not None
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
    told = OUTCOME_MESSAGES[GroupStatus(outcome)]
    await tell_participants(session, group, told(group=group.title), now)
    return True


async def _viewers_pledges(
    session: AsyncSession, viewer: Viewer | Anonymous, group_ids: list[uuid.UUID]
) -> dict[uuid.UUID, Pledge]:
    """The viewer's own pledges (as the participant) in these groups, withdrawn ones too."""
    if not isinstance(viewer, Viewer) or not group_ids:
        return {}
    rows = await session.scalars(
        select(Pledge)
        .where(Pledge.group_id.in_(group_ids), Pledge.participant_id == viewer.user_id)
        .options(*pledge_loads())
    )
    return {pledge.group_id: pledge for pledge in rows}


async def readable_group(
    session: AsyncSession,
    viewer: Viewer | Anonymous,
    group_id: uuid.UUID,
    *,
    loads: bool = False,
    lock: bool = False,
) -> PurchaseGroup | None:
    """The group if the viewer may read it (:func:`policies.readable_groups`), else None: the
    callers answer NOT_FOUND either way. ``lock`` takes it FOR UPDATE, as every change does."""
    statement = policies.readable_groups(viewer).where(PurchaseGroup.id == group_id)
    if loads:
        statement = statement.options(*group_loads())
    if lock:
        statement = statement.with_for_update()
    group: PurchaseGroup | None = await session.scalar(
        statement.execution_options(populate_existing=True)
    )
    return group


async def build_views(
    session: AsyncSession,
    viewer: Viewer | Anonymous,
    groups: list[PurchaseGroup],
    now: datetime,
    *,
    mine: dict[uuid.UUID, Pledge] | None = None,
) -> list[GroupView]:
    """Views of loaded groups, in a fixed number of statements whatever their number. ``mine``:
    the viewer's own pledges by group, when the caller holds them all (with their people)."""
    ids = [group.id for group in groups]
    if mine is None:
        mine = await _viewers_pledges(session, viewer, ids)
    settled = [g.id for g in groups if effective_status(g, now) in SETTLED]
    pledges = await active_pledges(session, settled)
    cluster_id = await viewer_cluster(session, viewer)
    return [
        GroupView(
            group=group,
            status=effective_status(group, now),
            my_pledge=mine.get(group.id),
            pledges=pledges.get(group.id, []),
            viewer_may_join=policies.eligible(viewer, group, cluster_id),
        )
        for group in groups
    ]
