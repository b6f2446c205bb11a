"""Who is reading: the viewer with the memberships that decide what they may read."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Viewer
from backend.forums.models import Forum, ForumModerator, ForumVisibility
from backend.forums.policies import Reader
from backend.identity.models import Membership, MembershipRole, Organisation, User


async def reader_of(session: AsyncSession, viewer: Viewer | Anonymous) -> Reader:
    """The viewer with their memberships: one statement (two with named moderations)."""
    if not isinstance(viewer, Viewer):
        return Reader(viewer, read_at=time.monotonic())
    rows = (
        await session.execute(
            select(Membership.organisation_id, Membership.role, Organisation.cluster_id)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .where(Membership.user_id == viewer.user_id)
        )
    ).all()
    moderated = (
        await session.scalars(
            select(ForumModerator.forum_id).where(ForumModerator.user_id == viewer.user_id)
        )
    ).all()
    return Reader(
        viewer,
        read_at=time.monotonic(),
        member_of=frozenset(row[0] for row in rows),
        admin_of=frozenset(row[0] for row in rows if row[1] is MembershipRole.ADMIN),
        clusters=frozenset(row[2] for row in rows),
        moderates=frozenset(moderated),
    )


async def readers_among(
    session: AsyncSession, forum: Forum, user_ids: set[uuid.UUID]
) -> list[uuid.UUID]:
    """Those of ``user_ids`` who may read ``forum`` (so that a notification never carries a
    MEMBERS forum's words to someone outside it)."""
    if not user_ids:
        return []
    if forum.visibility is ForumVisibility.PUBLIC:  # anyone, if they exist
        existing = await session.scalars(select(User.id).where(User.id.in_(user_ids)))
        return sorted(set(existing.all()))
    statement = select(Membership.user_id).where(Membership.user_id.in_(user_ids))
    if forum.visibility is ForumVisibility.CLUSTER:
        statement = statement.join(
            Organisation, Organisation.id == Membership.organisation_id
        ).where(Organisation.cluster_id == forum.cluster_id)
    else:
        statement = statement.where(Membership.organisation_id == forum.organisation_id)
    return sorted(set((await session.scalars(statement)).all()))
