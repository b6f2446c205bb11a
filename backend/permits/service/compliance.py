"""Compliance of a permit condition in one reporting period, and the warnings a filed return
sets off.

The figure a cap limits is ``sent_to_disposal``: the consolidated total of a period is the sum
of the members' latest versions; a member's own figure is held against its allocation as it
stood at the period's end (the ledger's last ``balance_after`` before the period ended, 0 if
none). A share below 80 % is OK, from 80 % a WARNING, from 100 % OVER.

Warnings are PERMIT_USE_WARNING notifications, each sent once (a ``dedupe`` per condition,
period, organisation and level): when a filed version takes a member to 80 % / 100 % of its
allocation, to the member's people and the holder's admins; when the consolidated total
reaches 80 % / 100 % of the cap, to the holder's admins and the people of every member covered
in the period (the cap is shared: each of them may have to cut its own disposal).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Viewer
from backend.identity import service as identity
from backend.identity.models import Cluster, Organisation
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError, not_found
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.permits import policies
from backend.permits.models import (
    AllocationEntry,
    LedgerReason,
    Permit,
    PermitCondition,
    PermitMember,
    PermitReturn,
)
from backend.permits.policies import Standing
from backend.permits.service import periods
from backend.permits.service.periods import Period

WARNING_SHARE = Decimal("0.8")
LEVELS = (80, 100)
SUBJECT = "PERMIT_CONDITION"


class UseStatus(StrEnum):
    OK = "OK"  # below 80 %
    WARNING = "WARNING"  # from 80 %
    OVER = "OVER"  # from 100 %


def level_of(figure: Decimal, limit: Decimal) -> int:
    """0, 80 or 100: the warning level ``figure`` reaches against ``limit`` (a limit of 0 is
    reached by anything above 0)."""
    if limit <= 0:
        return 100 if figure > 0 else 0
    if figure >= limit:
        return 100
    return 80 if figure >= limit * WARNING_SHARE else 0


def status_of(figure: Decimal, limit: Decimal) -> UseStatus:
    return {0: UseStatus.OK, 80: UseStatus.WARNING, 100: UseStatus.OVER}[level_of(figure, limit)]


def share_of(figure: Decimal, limit: Decimal) -> Decimal | None:
    """``figure / limit`` to 4 places; None when the limit is 0."""
    if limit <= 0:
        return None
    return (figure / limit).quantize(Decimal("0.0001"))


# ---------------------------------------------------------------------------------------------
# Loading a condition and what a period holds


@dataclass(frozen=True, slots=True)
class ConditionContext:
    """A condition, its permit, the viewer's standing towards it and the cluster's time zone."""

    condition: PermitCondition
    permit: Permit
    standing: Standing
    timezone: str


async def permit_context(
    session: AsyncSession, viewer: Viewer | Anonymous, permit_id: uuid.UUID, field: str
) -> tuple[Permit, Standing, str]:
    """A permit the viewer may read, their standing and the cluster's time zone; NOT_FOUND on
    ``field`` otherwise."""
    permit = await session.get(Permit, permit_id)
    if permit is None:
        raise not_found("Permit", field)
    standing = await policies.standing_of(session, viewer, permit)
    if not standing.reads:
        raise not_found("Permit", field)
    cluster = await session.get(Cluster, permit.cluster_id)
    assert cluster is not None
    return permit, standing, cluster.timezone


async def condition_context(
    session: AsyncSession, viewer: Viewer | Anonymous, condition_id: uuid.UUID
) -> ConditionContext:
    """The condition and its permit if the viewer may read the permit; NOT_FOUND on
    ``conditionId`` otherwise."""
    condition = await session.get(PermitCondition, condition_id)
    if condition is None:
        raise not_found("Permit condition", "conditionId")
    permit, standing, timezone = await permit_context(
        session, viewer, condition.permit_id, "conditionId"
    )
    return ConditionContext(condition, permit, standing, timezone)


def covers(period: Period) -> ColumnElement[bool]:
    """A cover span that shares a day with the period."""
    return and_(
        PermitMember.covered_from <= period.end,
        or_(PermitMember.covered_to.is_(None), PermitMember.covered_to >= period.start),
    )


async def cover_spans(
    session: AsyncSession,
    permit_id: uuid.UUID,
    period: Period,
    organisation_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, list[PermitMember]]:
    """The spans of cover sharing a day with the period, by organisation (first span first)."""
    statement = (
        select(PermitMember)
        .where(PermitMember.permit_id == permit_id, covers(period))
        .order_by(PermitMember.covered_from, PermitMember.id)
    )
    if organisation_id is not None:
        statement = statement.where(PermitMember.organisation_id == organisation_id)
    spans: dict[uuid.UUID, list[PermitMember]] = {}
    for span in (await session.scalars(statement)).all():
        spans.setdefault(span.organisation_id, []).append(span)
    return spans


@dataclass(frozen=True, slots=True)
class Latest:
    """A member's latest version of a return, and when its first version was filed."""

    row: PermitReturn
    first_filed_at: datetime


async def latest_returns(
    session: AsyncSession,
    condition_ids: Collection[uuid.UUID],
    period_starts: Collection[date],
    organisation_id: uuid.UUID | None = None,
) -> dict[tuple[uuid.UUID, date, uuid.UUID], Latest]:
    """The latest version of each member's return, by (condition, period start, organisation):
    one statement."""
    where: list[ColumnElement[bool]] = [
        PermitReturn.condition_id.in_(list(condition_ids)),
        PermitReturn.period_start.in_(list(period_starts)),
    ]
    if organisation_id is not None:
        where.append(PermitReturn.organisation_id == organisation_id)
    versions = (
        select(
            PermitReturn.condition_id,
            PermitReturn.period_start,
            PermitReturn.organisation_id,
            func.max(PermitReturn.version).label("version"),
            func.min(PermitReturn.filed_at).label("first_filed_at"),
        )
        .where(*where)
        .group_by(
            PermitReturn.condition_id, PermitReturn.period_start, PermitReturn.organisation_id
        )
        .subquery()
    )
    rows = await session.execute(
        select(PermitReturn, versions.c.first_filed_at).join(
            versions,
            and_(
                PermitReturn.condition_id == versions.c.condition_id,
                PermitReturn.period_start == versions.c.period_start,
                PermitReturn.organisation_id == versions.c.organisation_id,
                PermitReturn.version == versions.c.version,
            ),
        )
    )
    found: dict[tuple[uuid.UUID, date, uuid.UUID], Latest] = {}
    for row, first in rows.all():
        if first.tzinfo is None:  # SQLite answers an aggregate without the column's type
            first = datetime.fromisoformat(str(first)).replace(tzinfo=row.filed_at.tzinfo)
        found[(row.condition_id, row.period_start, row.organisation_id)] = Latest(row, first)
    return found


async def allocations_at(
    session: AsyncSession,
    condition_id: uuid.UUID,
    ends_at: datetime,
    organisation_id: uuid.UUID | None = None,
) -> dict[uuid.UUID, Decimal]:
    """Each member's allocation as it stood at ``ends_at``: the balance after its last ledger
    entry before then (one statement; members without an entry are absent, that is 0).

    Releases at the end of a member's cover (MEMBER_REMOVED) do not count: a member removed
    during a period is measured against what it held while covered, not against the 0 its
    release left (which showed its covered weeks as OVER). A member that transferred its
    allocation away is measured against what it kept: that was its choice."""
    ranked = select(
        AllocationEntry.organisation_id,
        AllocationEntry.balance_after,
        func.row_number()
        .over(
            partition_by=AllocationEntry.organisation_id,
            order_by=(AllocationEntry.created_at.desc(), AllocationEntry.id.desc()),
        )
        .label("rank"),
    ).where(
        AllocationEntry.condition_id == condition_id,
        AllocationEntry.created_at < ends_at,
        AllocationEntry.reason != LedgerReason.MEMBER_REMOVED,
    )
    if organisation_id is not None:
        ranked = ranked.where(AllocationEntry.organisation_id == organisation_id)
    last = ranked.subquery()
    rows = await session.execute(
        select(last.c.organisation_id, last.c.balance_after).where(last.c.rank == 1)
    )
    return {org: Decimal(str(balance)) for org, balance in rows.all()}


async def organisation_names(
    session: AsyncSession, organisation_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, str]:
    if not organisation_ids:
        return {}
    rows = await session.execute(
        select(Organisation.id, Organisation.name).where(
            Organisation.id.in_(list(organisation_ids))
        )
    )
    return {row[0]: row[1] for row in rows.all()}


# ---------------------------------------------------------------------------------------------
# Compliance of one condition in one period


@dataclass(frozen=True, slots=True)
class MemberUse:
    """One member's figure of a period against its allocation."""

    organisation_id: uuid.UUID
    organisation_name: str
    spans: list[PermitMember]  # its cover sharing a day with the period (none: filed anyway)
    latest: PermitReturn | None
    first_filed_at: datetime | None
    allocation: Decimal
    late: bool
    missing: bool

    @property
    def figure(self) -> Decimal:
        return self.latest.sent_to_disposal if self.latest is not None else Decimal(0)

    @property
    def share(self) -> Decimal | None:
        return share_of(self.figure, self.allocation)

    @property
    def status(self) -> UseStatus:
        return status_of(self.figure, self.allocation)


@dataclass(frozen=True, slots=True)
class ConditionCompliance:
    condition: PermitCondition
    permit: Permit
    period: Period
    total: Decimal  # the latest versions' sent_to_disposal, all members
    returns_filed: int
    members: list[MemberUse]  # all of them for those who read all, else the viewer's own

    @property
    def share(self) -> Decimal | None:
        return share_of(self.total, self.condition.cap)

    @property
    def status(self) -> UseStatus:
        return status_of(self.total, self.condition.cap)


def is_late(period: Period, first_filed_at: datetime | None, timezone: str) -> bool:
    return first_filed_at is not None and periods.is_late(period, first_filed_at, timezone)


async def compliance_in(
    session: AsyncSession,
    context: ConditionContext,
    period: Period,
    now: datetime,
    *,
    everyone: bool,
) -> ConditionCompliance:
    """The condition's compliance in the period: five statements, whatever the members."""
    condition, standing = context.condition, context.standing
    spans = await cover_spans(session, context.permit.id, period)
    latest = await latest_returns(session, [condition.id], [period.start])
    allocations = await allocations_at(session, condition.id, period.ends_at)
    by_member = {org: found for (_, _, org), found in latest.items()}
    total = sum((found.row.sent_to_disposal for found in by_member.values()), Decimal(0))
    shown = list(dict.fromkeys([*spans, *by_member]))
    if not everyone:
        shown = [org for org in shown if org == standing.organisation_id]
    names = await organisation_names(session, shown)
    overdue = periods.is_overdue(period, now, context.timezone)
    members = []
    for org in shown:
        found = by_member.get(org)
        members.append(
            MemberUse(
                organisation_id=org,
                organisation_name=names.get(org, ""),
                spans=spans.get(org, []),
                latest=found.row if found else None,
                first_filed_at=found.first_filed_at if found else None,
                allocation=allocations.get(org, Decimal(0)),
                late=is_late(period, found.first_filed_at if found else None, context.timezone),
                missing=found is None and overdue and org in spans,
            )
        )
    members.sort(key=lambda m: (m.organisation_name.casefold(), str(m.organisation_id)))
    return ConditionCompliance(
        condition=condition,
        permit=context.permit,
        period=period,
        total=total,
        returns_filed=len(by_member),
        members=members,
    )


async def condition_compliance(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    condition_id: uuid.UUID,
    period_start: date,
    now: datetime,
) -> ConditionCompliance:
    """permits:read — the consolidated total against the cap, and every member's figure
    against its allocation for those who read all (holder, authority, platform admins); a
    member sees the total and its own row only."""
    async with db.read() as session:
        context = await condition_context(session, viewer, condition_id)
        period = periods.named_period(
            context.permit, context.condition.frequency, period_start, context.timezone
        )
        return await compliance_in(
            session, context, period, now, everyone=context.standing.reads_all
        )


# ---------------------------------------------------------------------------------------------
# Warnings


async def _tell_once(
    session: AsyncSession,
    *,
    people: list[uuid.UUID],
    text: texts.Text,
    condition: PermitCondition,
    details: dict[str, str],
    dedupe: str,
    now: datetime,
) -> None:
    """Notify unless this happening was told before (a member going under and over again):
    the dedupe key's unique index refuses the repeat inside a savepoint, so the filing
    itself stands."""
    try:
        async with session.begin_nested():
            await notifications.add(
                session,
                user_ids=people,
                text=text,
                subject_type=SUBJECT,
                subject_id=condition.id,
                details=details,
                dedupe=dedupe,
                now=now,
            )
            await session.flush()
    except IntegrityError:
        pass


def _crossed(before: int, after: int) -> list[int]:
    return [level for level in LEVELS if before < level <= after]


async def warn_after_filing(
    session: AsyncSession,
    context: ConditionContext,
    period: Period,
    organisation_id: uuid.UUID,
    previous: Decimal,
    figure: Decimal,
    now: datetime,
) -> None:
    """The warnings a version taking the member's figure from ``previous`` to ``figure`` sets
    off (see the module's docstring)."""
    condition = context.condition
    unit = condition.unit_code
    allocation = (await allocations_at(session, condition.id, period.ends_at, organisation_id)).get(
        organisation_id, Decimal(0)
    )
    member_levels = _crossed(level_of(previous, allocation), level_of(figure, allocation))
    latest = await latest_returns(session, [condition.id], [period.start])
    total = sum((found.row.sent_to_disposal for found in latest.values()), Decimal(0))
    before = total - figure + previous
    cap_levels = _crossed(level_of(before, condition.cap), level_of(total, condition.cap))
    if not member_levels and not cap_levels:
        return
    holder_admins = await identity.admin_ids(session, context.permit.holder_id)
    base = {
        "permitId": str(context.permit.id),
        "conditionId": str(condition.id),
        "periodStart": period.start.isoformat(),
    }
    key = f"PERMIT_USE:{condition.id}:{period.start.isoformat()}"
    if member_levels:
        names = await organisation_names(session, [organisation_id])
        people = [*await identity.member_ids(session, organisation_id), *holder_admins]
        for level in member_levels:
            await _tell_once(
                session,
                people=people,
                text=texts.PERMIT_USE_WARNING_MEMBER(
                    organisation=names.get(organisation_id, "?"),
                    level=level,
                    condition=condition.title,
                    figure=figure,
                    unit=unit,
                    period_start=period.start,
                    allocation=allocation,
                ),
                condition=condition,
                details={**base, "organisationId": str(organisation_id), "level": str(level)},
                dedupe=f"{key}:{organisation_id}:{level}",
                now=now,
            )
    if cap_levels:
        covered = await cover_spans(session, context.permit.id, period)
        people = [*holder_admins, *await identity.member_ids(session, *covered)]
        for level in cap_levels:
            await _tell_once(
                session,
                people=people,
                text=texts.PERMIT_USE_WARNING_CAP(
                    level=level,
                    condition=condition.title,
                    total=total,
                    unit=unit,
                    period_start=period.start,
                    cap=condition.cap,
                ),
                condition=condition,
                details={**base, "level": str(level)},
                dedupe=f"{key}:CAP:{level}",
                now=now,
            )


def not_covered() -> ServiceError:
    return ServiceError.of(
        ErrorCode.VALIDATION, "Your organisation was not covered in this period", "periodStart"
    )
