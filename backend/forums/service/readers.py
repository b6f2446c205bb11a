"""Who is reading: the viewer with the memberships that decide what they may read."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from backend.auth.viewer import Anonymous, Viewer
from backend.forums.models import Forum, ForumModerator, ForumVisibility
from backend.forums.policies import Reader
from backend.identity import service as identity_service
from backend.identity.models import MembershipRole
from backend.kit.prepared import Prepared

# Built once: every forum request of a signed-in viewer sends it.
_MODERATED = select(ForumModerator.__table__.c.forum_id).where(
    ForumModerator.__table__.c.user_id == bindparam("user_id")
)
_PREPARED_MODERATED = Prepared(_MODERATED)


async def reader_of(session: AsyncSession, viewer: Viewer | Anonymous) -> Reader:
    """The viewer with their memberships: one statement (two with named moderations)."""
    if not isinstance(viewer, Viewer):
        return Reader(viewer, read_at=time.monotonic())
    affiliations = await identity_service.affiliations_of(session, viewer.user_id)
    moderated = (await session.scalars(_MODERATED, {"user_id": viewer.user_id})).all()
    return _reader(viewer, affiliations, moderated)


async def reader_on(connection: AsyncConnection, viewer: Viewer | Anonymous) -> Reader:
    """:func:`reader_of` on a connection (``Database.read_rows``): the same statements, sent as
    prepared SQL, for the read-only screens that keep off the ORM session."""
    if not isinstance(viewer, Viewer):
        return Reader(viewer, read_at=time.monotonic())
    affiliations = await identity_service.affiliations_on(connection, viewer.user_id)
    moderated = await _PREPARED_MODERATED.rows(connection, {"user_id": viewer.user_id})
    return _reader(viewer, affiliations, [row.forum_id for row in moderated])


def _reader(
    viewer: Viewer, affiliations: list[identity_service.Affiliation], moderated: Iterable[uuid.UUID]
) -> Reader:
    return Reader(
        viewer,
        read_at=time.monotonic(),
        member_of=frozenset(a.organisation_id for a in affiliations),
        admin_of=frozenset(
            a.organisation_id for a in affiliations if a.role is MembershipRole.ADMIN
        ),
        clusters=frozenset(a.cluster_id for a in affiliations),
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
        return sorted(await identity_service.existing_people(session, user_ids))
    if forum.visibility is ForumVisibility.CLUSTER:
        readers = await identity_service.members_among(
            session, user_ids, cluster_id=forum.cluster_id
        )
    else:
        readers = await identity_service.members_among(
            session, user_ids, organisation_id=forum.organisation_id
        )
    return sorted(readers)
