"""Members' periodic returns: filing (and amending) a version, the app's pre-filled form, and
the lists of returns and of one return's versions.

A return is never edited: each filing inserts the next version (``expectedVersion + 1``); a
stale ``expectedVersion``, or a filing that races another, is CONFLICT, and the unique
constraint on (condition, organisation, period, version) is what settles the race, so a burst
of concurrent amendments leaves consecutive versions with no gaps and no duplicates.

``sent_through_marketplace`` is never typed: when a version is filed the server reads, through
the marketplace's service, the kilograms of the member's completed trades as supplier of
materials under the condition's waste stream recorded in the period, in the condition's unit
(0 for parameters that are not a waste stream).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue import service as catalogue_service
from backend.catalogue.models import Dimension, Material, Unit
from backend.kit.clock import local_day
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.money import MAX_AMOUNT, check_amount
from backend.kit.pagination import Page, PageRequest, SortKey, paginate
from backend.kit.pagination import Sort as CursorSort
from backend.kit.validation import check_text
from backend.marketplace import service as marketplace
from backend.permits import policies
from backend.permits.models import WASTE_PARAMETERS, PermitCondition, PermitReturn
from backend.permits.service import periods
from backend.permits.service.compliance import (
    ConditionContext,
    condition_context,
    cover_spans,
    is_late,
    not_covered,
    organisation_names,
    warn_after_filing,
)
from backend.permits.service.periods import Period

FOUR_PLACES = Decimal("0.0001")
MAX_NOTE = 2000
FIGURES = ("generated", "treated_on_site", "sent_to_members", "sent_to_disposal")
FIELD_NAMES = {
    "generated": "generated",
    "treated_on_site": "treatedOnSite",
    "sent_to_members": "sentToMembers",
    "sent_to_disposal": "sentToDisposal",
}


@dataclass(frozen=True, slots=True)
class ReturnFiling:
    """What a member types for one version (in ``unit_code``, any mass unit)."""

    condition_id: uuid.UUID
    period_start: date
    generated: Decimal
    treated_on_site: Decimal
    sent_to_members: Decimal
    sent_to_disposal: Decimal
    unit_code: str
    note: str
    expected_version: int
    client_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ReturnView:
    """One version, with its period, whether the return was late (its first version filed
    after the due day) and the member's name."""

    row: PermitReturn
    condition: PermitCondition
    period: Period
    late: bool
    organisation_name: str


@dataclass(frozen=True, slots=True)
class ReturnDraft:
    """What the app's form starts from."""

    condition: PermitCondition
    period: Period
    organisation_id: uuid.UUID
    sent_through_marketplace: Decimal  # as a version filed now would record it
    latest: PermitReturn | None
    late_if_filed_now: bool


def _in_unit(value: Decimal, factor: Decimal, condition_unit: Unit) -> Decimal:
    """``value`` of a unit whose factor to the base unit is ``factor``, in the condition's unit,
    to the columns' 4 places (as the marketplace converts: through the base unit)."""
    return (value * factor / condition_unit.factor).quantize(FOUR_PLACES, ROUND_HALF_EVEN)


async def _mass_unit(session: AsyncSession, problems: Problems, code: str) -> Unit | None:
    unit = await catalogue_service.check_unit(session, problems, code, "unitCode")
    if unit is not None and unit.dimension is not Dimension.MASS:
        problems.add("unitCode", "Use a unit of mass (KGM, TNE ...)")
        return None
    return unit


async def _marketplace_figure(
    session: AsyncSession, context: ConditionContext, organisation_id: uuid.UUID, period: Period
) -> Decimal:
    condition = context.condition
    if condition.parameter not in WASTE_PARAMETERS or condition.material_code is None:
        return Decimal(0)
    material = await session.get(Material, condition.material_code)
    unit = await session.get(Unit, condition.unit_code)
    assert material is not None
    assert unit is not None
    kg = await marketplace.supplied_kg(
        session,
        supplier_id=organisation_id,
        material=material,
        starts_at=period.starts_at,
        ends_at=period.ends_at,
    )
    return _in_unit(kg, Decimal(1), unit)


async def _latest(
    session: AsyncSession, condition_id: uuid.UUID, organisation_id: uuid.UUID, start: date
) -> PermitReturn | None:
    row: PermitReturn | None = await session.scalar(
        select(PermitReturn)
        .where(
            PermitReturn.condition_id == condition_id,
            PermitReturn.organisation_id == organisation_id,
            PermitReturn.period_start == start,
        )
        .order_by(PermitReturn.version.desc())
        .limit(1)
    )
    return row


async def _first_filed(
    session: AsyncSession, condition_id: uuid.UUID, keys: list[tuple[uuid.UUID, date]]
) -> dict[tuple[uuid.UUID, date], datetime]:
    """When each (organisation, period) return's first version was filed: one statement."""
    if not keys:
        return {}
    rows = await session.execute(
        select(
            PermitReturn.organisation_id, PermitReturn.period_start, PermitReturn.filed_at
        ).where(
            PermitReturn.condition_id == condition_id,
            PermitReturn.version == 1,
            PermitReturn.organisation_id.in_({org for org, _ in keys}),
            PermitReturn.period_start.in_({start for _, start in keys}),
        )
    )
    return {(org, start): filed for org, start, filed in rows.all()}


async def _file_context(
    session: AsyncSession,
    viewer: Viewer,
    condition_id: uuid.UUID,
    period_start: date,
    now: datetime,
) -> tuple[ConditionContext, Period, uuid.UUID]:
    """permits:file_return for the viewer's organisation, a period that has started and in
    which it was covered."""
    context = await condition_context(session, viewer, condition_id)
    organisation_id = context.standing.organisation_id
    policies.file_return(context.standing, organisation_id or uuid.UUID(int=0))
    assert organisation_id is not None
    period = periods.named_period(
        context.permit, context.condition.frequency, period_start, context.timezone
    )
    if local_day(now, context.timezone) < period.start:
        raise ServiceError.of(
            ErrorCode.VALIDATION, "This period has not started yet", "periodStart"
        )
    if not await cover_spans(session, context.permit.id, period, organisation_id):
        raise not_covered()
    return context, period, organisation_id


def _check_filing(filing: ReturnFiling) -> Problems:
    problems = Problems()
    for name in FIGURES:
        value: Decimal = getattr(filing, name)
        check_amount(problems, FIELD_NAMES[name], value, positive=False)
        if value.is_finite() and value < 0:
            problems.add(FIELD_NAMES[name], "Must be zero or more")
    if filing.expected_version < 0:
        problems.add("expectedVersion", "0 for the first filing, else the latest version")
    check_text(problems, "note", filing.note, min_length=0, max_length=MAX_NOTE, multiline=True)
    return problems


async def file_return(
    *, db: Database, viewer: Viewer, filing: ReturnFiling, now: datetime
) -> ReturnView:
    """permits:file_return — file the next version of the viewer's organisation's return (see
    the module's docstring). With ``client_id`` a retried request answers the version it
    filed instead of filing again."""
    problems = _check_filing(filing)
    problems.raise_if_any()
    try:
        return await _file(db=db, viewer=viewer, filing=filing, now=now)
    except IntegrityError as exc:
        if filing.client_id is not None:
            # A twin of this request (the same client id) may have committed first: run once
            # more, and it is answered as a retry.
            try:
                return await _file(db=db, viewer=viewer, filing=filing, now=now)
            except IntegrityError:
                pass
        raise ServiceError.of(
            ErrorCode.CONFLICT,
            "Another version of this return was filed at the same time; read it and file again",
            "expectedVersion",
        ) from exc


async def _file(*, db: Database, viewer: Viewer, filing: ReturnFiling, now: datetime) -> ReturnView:
    problems = Problems()
    async with db.write() as session:
        context, period, organisation_id = await _file_context(
            session, viewer, filing.condition_id, filing.period_start, now
        )
        if filing.client_id is not None:
            earlier = await session.get(PermitReturn, filing.client_id)
            if earlier is not None:
                return await _retried(session, context, period, organisation_id, earlier)
        unit = await _mass_unit(session, problems, filing.unit_code)
        problems.raise_if_any()
        assert unit is not None
        condition_unit = await session.get(Unit, context.condition.unit_code)
        assert condition_unit is not None
        latest = await _latest(session, context.condition.id, organisation_id, period.start)
        current = latest.version if latest is not None else 0
        if filing.expected_version != current:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                f"The latest version of this return is {current}; file with that as "
                "expectedVersion",
                "expectedVersion",
            )
        figures = {
            name: _in_unit(getattr(filing, name), unit.factor, condition_unit) for name in FIGURES
        }
        # checked again once converted: 9E12 TNE is 9E18 g, past what the columns hold
        for name, value in figures.items():
            if value.copy_abs() >= MAX_AMOUNT:
                problems.add(
                    FIELD_NAMES[name],
                    f"Is too large in {condition_unit.code}, the condition's unit",
                )
        problems.raise_if_any()
        row = PermitReturn(
            id=filing.client_id or uuid.uuid4(),
            condition_id=context.condition.id,
            organisation_id=organisation_id,
            period_start=period.start,
            version=current + 1,
            sent_through_marketplace=await _marketplace_figure(
                session, context, organisation_id, period
            ),
            note=filing.note.strip(),
            filed_by_id=viewer.user_id,
            filed_at=now,
            **figures,
        )
        session.add(row)
        await session.flush()
        await warn_after_filing(
            session,
            context,
            period,
            organisation_id,
            latest.sent_to_disposal if latest is not None else Decimal(0),
            row.sent_to_disposal,
            now,
        )
        return await _view_of(session, context, period, row)


async def _view_of(
    session: AsyncSession, context: ConditionContext, period: Period, row: PermitReturn
) -> ReturnView:
    """The answer of a filing: the version, and whether the return's first version was late."""
    key = (row.organisation_id, period.start)
    first = row.filed_at if row.version == 1 else None
    if first is None:
        first = (await _first_filed(session, context.condition.id, [key])).get(key)
    names = await organisation_names(session, [row.organisation_id])
    return ReturnView(
        row,
        context.condition,
        period,
        is_late(period, first, context.timezone),
        names.get(row.organisation_id, ""),
    )


async def _retried(
    session: AsyncSession,
    context: ConditionContext,
    period: Period,
    organisation_id: uuid.UUID,
    earlier: PermitReturn,
) -> ReturnView:
    if (
        earlier.condition_id != context.condition.id
        or earlier.organisation_id != organisation_id
        or earlier.period_start != period.start
    ):
        raise ServiceError.of(ErrorCode.CONFLICT, "This client id names another return", "clientId")
    return await _view_of(session, context, period, earlier)


async def return_draft(
    *,
    db: Database,
    viewer: Viewer,
    condition_id: uuid.UUID,
    period_start: date,
    now: datetime,
) -> ReturnDraft:
    """The viewer's organisation's form for a period: the marketplace's figure as a filing now
    would record it, the latest version's figures, the due day and whether filing now is late."""
    async with db.read() as session:
        context, period, organisation_id = await _file_context(
            session, viewer, condition_id, period_start, now
        )
        latest = await _latest(session, context.condition.id, organisation_id, period.start)
        first = (
            await _first_filed(session, context.condition.id, [(organisation_id, period.start)])
            if latest is not None
            else {}
        )
        first_filed = first.get((organisation_id, period.start))
        return ReturnDraft(
            condition=context.condition,
            period=period,
            organisation_id=organisation_id,
            sent_through_marketplace=await _marketplace_figure(
                session, context, organisation_id, period
            ),
            latest=latest,
            late_if_filed_now=(
                is_late(period, first_filed, context.timezone)
                if first_filed is not None
                else periods.is_late(period, now, context.timezone)
            ),
        )


LATEST_FIRST = CursorSort(
    "permit_returns:period",
    (
        # a date is no JSON value: the cursor holds its ISO text
        SortKey(
            PermitReturn.period_start,
            descending=True,
            value_of=lambda row: row.period_start.isoformat(),
            python_type=date.fromisoformat,
        ),
        SortKey(PermitReturn.organisation_id),
        SortKey(PermitReturn.version, descending=True),
        SortKey(PermitReturn.id),
    ),
)


async def _views(
    session: AsyncSession, context: ConditionContext, page: Page[PermitReturn]
) -> Page[ReturnView]:
    rows = page.items
    first = await _first_filed(
        session, context.condition.id, [(r.organisation_id, r.period_start) for r in rows]
    )
    names = await organisation_names(session, {r.organisation_id for r in rows})
    views = []
    for row in rows:
        period = periods.period_of(
            context.permit, context.condition.frequency, row.period_start, context.timezone
        )
        views.append(
            ReturnView(
                row,
                context.condition,
                period,
                is_late(
                    period, first.get((row.organisation_id, row.period_start)), context.timezone
                ),
                names.get(row.organisation_id, ""),
            )
        )
    return page.with_items(views)


def _readable_organisation(
    context: ConditionContext, organisation_id: uuid.UUID | None
) -> uuid.UUID | None:
    """The organisation a list is limited to: the one asked for, or for a member who does not
    read all, its own (asking for another member's is an empty list, not an error)."""
    standing = context.standing
    if standing.reads_all:
        return organisation_id
    own = standing.organisation_id
    if organisation_id is not None and organisation_id != own:
        return uuid.UUID(int=0)
    return own


async def list_returns(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    condition_id: uuid.UUID,
    period_start: date | None,
    organisation_id: uuid.UUID | None,
    page: PageRequest,
    with_total: bool = True,
) -> Page[ReturnView]:
    """permits:read_member — the latest version of each return of the condition, the latest
    period first: every member's for those who read all, else the viewer's own."""
    async with db.read() as session:
        context = await condition_context(session, viewer, condition_id)
        newer = aliased(PermitReturn)
        statement = select(PermitReturn).where(
            PermitReturn.condition_id == context.condition.id,
            ~exists().where(
                and_(
                    newer.condition_id == PermitReturn.condition_id,
                    newer.organisation_id == PermitReturn.organisation_id,
                    newer.period_start == PermitReturn.period_start,
                    newer.version > PermitReturn.version,
                )
            ),
        )
        if period_start is not None:
            statement = statement.where(PermitReturn.period_start == period_start)
        only = _readable_organisation(context, organisation_id)
        if only is not None:
            statement = statement.where(PermitReturn.organisation_id == only)
        rows = await paginate(
            session, statement, sort=LATEST_FIRST, request=page, with_total=with_total
        )
        return await _views(session, context, rows)


async def return_versions(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    condition_id: uuid.UUID,
    period_start: date,
    organisation_id: uuid.UUID,
    page: PageRequest,
    with_total: bool = True,
) -> Page[ReturnView]:
    """permits:read_member — every version of one member's return, the latest first."""
    async with db.read() as session:
        context = await condition_context(session, viewer, condition_id)
        only = _readable_organisation(context, organisation_id)
        statement = select(PermitReturn).where(
            PermitReturn.condition_id == context.condition.id,
            PermitReturn.period_start == period_start,
            PermitReturn.organisation_id == only,
        )
        rows = await paginate(
            session, statement, sort=LATEST_FIRST, request=page, with_total=with_total
        )
        return await _views(session, context, rows)
