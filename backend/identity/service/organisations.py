"""Organisations: the directory, one organisation, and changes by its admins."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.auth.viewer import Viewer
from backend.catalogue import service as catalogue
from backend.identity import policies
from backend.identity.models import Membership, Organisation, OrganisationKind, OrganisationSubtype
from backend.identity.service.checks import _check_subtype, _like_pattern
from backend.kit.db import Database
from backend.kit.errors import Problems, check_version, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import UNCHANGED, Place, check_place, check_text


@dataclass(frozen=True, slots=True)
class OrganisationChanges:
    """Fields left as None stay as they are; ``activity_code`` stays when UNCHANGED and None
    clears it."""

    name: str | None = None
    subtype: OrganisationSubtype | None = None
    description: str | None = None
    location: Place | None = None
    activity_code: str | None = UNCHANGED
    named_in_insights: bool | None = None


@dataclass(frozen=True, slots=True)
class OrganisationFilter:
    cluster_id: uuid.UUID | None = None
    kind: OrganisationKind | None = None
    subtype: OrganisationSubtype | None = None
    search: str | None = None
    verified: bool | None = None


ORGANISATIONS_BY_NAME = Sort(
    "organisations:name", (SortKey(Organisation.name), SortKey(Organisation.id))
)


async def membership_in(
    session: AsyncSession, user_id: uuid.UUID, organisation_id: uuid.UUID
) -> Membership | None:
    """A person's membership of an organisation, read in the caller's unit of work (other
    domains check "is this person a member" inside their own transactions)."""
    membership: Membership | None = await session.scalar(
        select(Membership).where(
            Membership.organisation_id == organisation_id, Membership.user_id == user_id
        )
    )
    return membership


async def _organisation_with_membership(
    session: AsyncSession, viewer: Viewer, organisation_id: uuid.UUID, *, lock: bool = False
) -> tuple[Organisation, Membership | None]:
    # With ``lock``, held for the rest of the unit of work: changes to one organisation (edits
    # with one expectedVersion, admins removing each other) queue up instead of racing.
    organisation = await session.get(Organisation, organisation_id, with_for_update=lock)
    if organisation is None:
        raise not_found("Organisation", "organisationId")
    return organisation, await membership_in(session, viewer.user_id, organisation_id)


async def update_organisation(
    *,
    db: Database,
    viewer: Viewer,
    organisation_id: uuid.UUID,
    changes: OrganisationChanges,
    expected_version: int | None,
    now: datetime,
) -> Organisation:
    problems = Problems()
    if changes.name is not None:
        check_text(problems, "name", changes.name, min_length=2, max_length=200)
    if changes.description is not None:
        check_text(
            problems,
            "description",
            changes.description,
            min_length=0,
            max_length=4000,
            multiline=True,
        )
    if changes.location is not None:
        check_place(problems, "location", changes.location)
    problems.raise_if_any()
    async with db.write() as session:
        organisation, membership = await _organisation_with_membership(
            session, viewer, organisation_id, lock=True
        )
        policies.organisation_update(viewer, organisation, membership)
        check_version("organisation", expected_version, organisation.version)
        if changes.subtype is not None:
            _check_subtype(problems, "subtype", organisation.kind, changes.subtype)
        if changes.activity_code is not UNCHANGED and changes.activity_code is not None:
            await catalogue.check_activity_class(
                session, problems, changes.activity_code, "activityCode"
            )
        problems.raise_if_any()
        if changes.subtype is not None:
            organisation.subtype = changes.subtype
        if changes.activity_code is not UNCHANGED:
            organisation.activity_code = changes.activity_code
        if changes.named_in_insights is not None:
            organisation.named_in_insights = changes.named_in_insights
        if changes.name is not None:
            organisation.name = changes.name.strip()
        if changes.description is not None:
            organisation.description = changes.description.strip()
        if changes.location is not None:
            organisation.lat = changes.location.lat
            organisation.lon = changes.location.lon
            organisation.place_name = changes.location.place_name.strip()
        organisation.version += 1
        organisation.updated_at = now
        await session.flush()
        await session.refresh(organisation, ["cluster"])
    return organisation


async def privacy_readable(
    *, db: Database, viewer: Viewer, organisation_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of the organisations whose privacy choices the viewer may read
    (:func:`policies.organisation_privacy_read`). At most one statement, whatever the number of
    organisations; none for platform admins or for only the organisation acted for (the
    request's access check has just found that membership)."""
    asked = set(organisation_ids)
    member_of = {o for o in asked if o == viewer.organisation_id}
    others = set() if viewer.is_admin else asked - member_of
    if others:
        async with db.read() as session:
            member_of |= set(
                await session.scalars(
                    select(Membership.organisation_id).where(
                        Membership.user_id == viewer.user_id,
                        Membership.organisation_id.in_(others),
                    )
                )
            )
    return {o for o in asked if policies.organisation_privacy_read(viewer, o, member_of)}


async def get_organisation(*, db: Database, organisation_id: uuid.UUID) -> Organisation | None:
    async with db.read() as session:
        return await session.scalar(
            select(Organisation)
            .options(joinedload(Organisation.cluster))
            .where(Organisation.id == organisation_id)
        )


async def list_organisations(
    *, db: Database, filter: OrganisationFilter, page: PageRequest
) -> Page[Organisation]:
    statement = select(Organisation)
    if filter.cluster_id is not None:
        statement = statement.where(Organisation.cluster_id == filter.cluster_id)
    if filter.kind is not None:
        statement = statement.where(Organisation.kind == filter.kind)
    if filter.subtype is not None:
        statement = statement.where(Organisation.subtype == filter.subtype)
    if filter.verified is not None:
        statement = statement.where(
            Organisation.verified_at.is_not(None)
            if filter.verified
            else Organisation.verified_at.is_(None)
        )
    if filter.search:
        statement = statement.where(
            func.lower(Organisation.name).like(_like_pattern(filter.search), escape="\\")
        )
    async with db.read() as session:
        return await paginate(
            session,
            statement,
            sort=ORGANISATIONS_BY_NAME,
            request=page,
            load=(joinedload(Organisation.cluster),),
        )
