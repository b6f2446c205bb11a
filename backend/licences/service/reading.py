"""Reading licences: one licence, the list (the holder's own, an authority's or an admin's
verification queue), and the views a screen shows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.auth.viewer import Anonymous, Viewer
from backend.catalogue.models import Material
from backend.identity.models import Organisation
from backend.kit.clock import local_day
from backend.kit.db import Database
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.licences import policies
from backend.licences.models import LicenceCoverage, WasteLicence
from backend.licences.service.inputs import LicenceFilter, LicenceView, status_on

# Soonest to end first: what an authority checks first and a holder renews first.
BY_VALID_TO = Sort(
    "waste-licences:valid-to",
    (
        # the cursor keeps the day as ISO text (the kit's cursors know times, not dates)
        SortKey(
            WasteLicence.valid_to,
            value_of=lambda licence: licence.valid_to.isoformat(),
            python_type=date.fromisoformat,
        ),
        SortKey(WasteLicence.id),
    ),
)


async def readable_licence(
    session: AsyncSession,
    viewer: Viewer | Anonymous,
    licence_id: uuid.UUID,
    *,
    lock: bool = False,
) -> WasteLicence | None:
    """The licence if the viewer may read it (locked for a write with ``lock``)."""
    statement = policies.readable_licences(viewer).where(WasteLicence.id == licence_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def build_views(
    session: AsyncSession, licences: Sequence[WasteLicence], now: datetime
) -> list[LicenceView]:
    """Views of ``licences``: two statements whatever their number (covered materials; holders
    and authorities with their clusters)."""
    if not licences:
        return []
    ids = [licence.id for licence in licences]
    covered: dict[uuid.UUID, list[Material]] = {licence_id: [] for licence_id in ids}
    for licence_id, material in (
        await session.execute(
            select(LicenceCoverage.licence_id, Material)
            .join(Material, Material.code == LicenceCoverage.material_code)
            .where(LicenceCoverage.licence_id.in_(ids))
            .order_by(Material.path)
        )
    ).all():
        covered[licence_id].append(material)
    organisation_ids = {licence.organisation_id for licence in licences} | {
        licence.authority_id for licence in licences if licence.authority_id is not None
    }
    organisations = {
        organisation.id: organisation
        for organisation in (
            await session.scalars(
                select(Organisation)
                .options(joinedload(Organisation.cluster))
                .where(Organisation.id.in_(organisation_ids))
                .execution_options(populate_existing=True)
            )
        ).all()
    }
    views = []
    for licence in licences:
        holder = organisations[licence.organisation_id]
        views.append(
            LicenceView(
                licence=licence,
                holder=holder,
                authority=(
                    None if licence.authority_id is None else organisations[licence.authority_id]
                ),
                materials=covered[licence.id],
                status=status_on(licence, local_day(now, holder.cluster.timezone)),
            )
        )
    return views


async def get_licence(
    *, db: Database, viewer: Viewer | Anonymous, licence_id: uuid.UUID, now: datetime
) -> LicenceView | None:
    """The licence, or None when there is none the viewer may read."""
    async with db.read() as session:
        licence = await readable_licence(session, viewer, licence_id)
        if licence is None:
            return None
        return (await build_views(session, [licence], now))[0]


async def list_licences(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    filter: LicenceFilter,
    page: PageRequest,
    now: datetime,
    with_total: bool,
) -> Page[LicenceView]:
    """The licences the viewer may read, soonest to end first. ``verified: false`` is a
    verifier's queue: an authority sees the licences naming it, a platform admin all."""
    statement = policies.readable_licences(viewer)
    if filter.verified is not None:
        statement = statement.where(
            WasteLicence.verified_at.is_not(None)
            if filter.verified
            else WasteLicence.verified_at.is_(None)
        )
    if filter.holder_id is not None:
        statement = statement.where(WasteLicence.organisation_id == filter.holder_id)
    if filter.authority_id is not None:
        statement = statement.where(WasteLicence.authority_id == filter.authority_id)
    async with db.read() as session:
        result = await paginate(
            session, statement, sort=BY_VALID_TO, request=page, with_total=with_total
        )
        views = await build_views(session, result.items, now)
    return result.with_items(views)
