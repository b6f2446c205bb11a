"""Who acts for which organisation: what other domains ask of identity inside their own
transaction (they pass their session), so that each trust decision and each list of people to
tell reads the memberships as they are at that moment, and no other domain reads identity's
tables itself."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.identity.models import Membership, MembershipRole, Organisation, User
from backend.kit.prepared import Prepared


@dataclass(frozen=True, slots=True)
class Affiliation:
    """One organisation a person acts for, with their role there and its cluster."""

    organisation_id: uuid.UUID
    role: MembershipRole
    cluster_id: uuid.UUID


_memberships = Membership.__table__
# Built once (the same SQL as the ORM select it replaced): every forums request of a signed-in
# viewer sends it, and building a statement costs more than the driver's work for it.
_AFFILIATIONS = (
    select(_memberships.c.organisation_id, _memberships.c.role, Organisation.__table__.c.cluster_id)
    .join(Organisation.__table__, Organisation.__table__.c.id == _memberships.c.organisation_id)
    .where(_memberships.c.user_id == bindparam("user_id", type_=_memberships.c.user_id.type))
)
_PREPARED_AFFILIATIONS = Prepared(_AFFILIATIONS)


async def affiliations_of(session: AsyncSession, user_id: uuid.UUID) -> list[Affiliation]:
    """Every organisation the person acts for now: one statement."""
    rows = await session.execute(_AFFILIATIONS, {"user_id": user_id})
    return [Affiliation(*row) for row in rows.all()]


async def affiliations_on(connection: AsyncConnection, user_id: uuid.UUID) -> list[Affiliation]:
    """:func:`affiliations_of` on a connection (``Database.read_rows``), for reads that keep off
    the ORM session: the same statement, sent as prepared SQL."""
    rows = await _PREPARED_AFFILIATIONS.rows(connection, {"user_id": user_id})
    return [Affiliation(*row) for row in rows]


async def member_ids(session: AsyncSession, *organisation_ids: uuid.UUID) -> list[uuid.UUID]:
    """Everybody who acts for these organisations, in the order they joined: who is told about
    the organisations' trades, offers and mentions."""
    rows = await session.scalars(
        select(Membership.user_id)
        .where(Membership.organisation_id.in_(organisation_ids))
        .order_by(Membership.created_at, Membership.user_id)
    )
    return list(rows.all())


async def admin_ids(session: AsyncSession, *organisation_ids: uuid.UUID) -> list[uuid.UUID]:
    """The admins of these organisations, in the order they joined: who is told about what
    only an organisation's admins may act on (a permit transfer waiting for approval)."""
    rows = await session.scalars(
        select(Membership.user_id)
        .where(
            Membership.organisation_id.in_(organisation_ids),
            Membership.role == MembershipRole.ADMIN,
        )
        .order_by(Membership.created_at, Membership.user_id)
    )
    return list(rows.all())


async def members_among(
    session: AsyncSession,
    user_ids: Collection[uuid.UUID],
    *,
    organisation_id: uuid.UUID | None = None,
    cluster_id: uuid.UUID | None = None,
) -> set[uuid.UUID]:
    """Those of ``user_ids`` who act for ``organisation_id``, or for any organisation of
    ``cluster_id`` (give one of the two)."""
    if (organisation_id is None) == (cluster_id is None):
        raise ValueError("members_among needs an organisation or a cluster")
    statement = select(Membership.user_id).where(Membership.user_id.in_(user_ids))
    if cluster_id is not None:
        statement = statement.join(
            Organisation, Organisation.id == Membership.organisation_id
        ).where(Organisation.cluster_id == cluster_id)
    else:
        statement = statement.where(Membership.organisation_id == organisation_id)
    return set((await session.scalars(statement)).all())


async def existing_organisations(
    session: AsyncSession, organisation_ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Those of ``organisation_ids`` that exist."""
    rows = await session.scalars(
        select(Organisation.id).where(Organisation.id.in_(organisation_ids))
    )
    return set(rows.all())


async def existing_people(session: AsyncSession, user_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``user_ids`` who have an account."""
    return set((await session.scalars(select(User.id).where(User.id.in_(user_ids)))).all())
