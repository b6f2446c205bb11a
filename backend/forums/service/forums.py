"""Opening forums, changing them, naming their moderators, and reading them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, select

from backend.auth.viewer import Anonymous, Viewer
from backend.forums import policies
from backend.forums.models import Forum, ForumModerator, ForumVisibility, Thread
from backend.forums.service.inputs import ForumDraft, ForumView
from backend.forums.service.loading import forum_for, forum_loads, forum_view
from backend.forums.service.readers import reader_of, readers_among
from backend.identity.models import Cluster, Organisation, OrganisationKind
from backend.kit.broadcast import Broadcaster, announce_access_change
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_text
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


async def create_forum(
    *, db: Database, viewer: Viewer, draft: ForumDraft, now: datetime
) -> ForumView:
    """See ``_create_forum``; a concurrent twin of the same request is answered like a retry."""
    return await once_more_on_clash(
        lambda: _create_forum(db=db, viewer=viewer, draft=draft, now=now)
    )


async def _create_forum(
    *, db: Database, viewer: Viewer, draft: ForumDraft, now: datetime
) -> ForumView:
    """A forum of the community the viewer acts for (its admins), or, for platform admins, of a
    cluster. The same client id twice gives the forum back."""
    problems = Problems()
    check_text(problems, "title", draft.title, min_length=3, max_length=200)
    check_text(
        problems, "description", draft.description, min_length=0, max_length=5000, multiline=True
    )
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        organisation_id = None if viewer.is_admin else viewer.organisation_id
        policies.create_forum(reader, organisation_id)
        if organisation_id is not None:
            organisation = await session.get(Organisation, organisation_id)
            assert organisation is not None
            if organisation.kind is not OrganisationKind.COMMUNITY:
                raise ServiceError.of(
                    ErrorCode.FORBIDDEN, "Forums belong to communities or to clusters"
                )
            if draft.cluster_id is not None and draft.cluster_id != organisation.cluster_id:
                problems.add("clusterId", "A community's forum is in the community's cluster")
            cluster_id = organisation.cluster_id
        else:
            if draft.cluster_id is None:
                problems.add("clusterId", "Name the cluster of a cluster forum")
            elif await session.get(Cluster, draft.cluster_id) is None:
                problems.add("clusterId", "No such cluster", ErrorCode.NOT_FOUND)
            if draft.visibility is ForumVisibility.MEMBERS:
                problems.add("visibility", "A cluster forum has no members: PUBLIC or CLUSTER")
            cluster_id = draft.cluster_id or uuid.UUID(int=0)
        # The same client id again is the same forum, if the viewer made it and may read it;
        # any other clash says nothing of what the id holds.
        if draft.id is not None and (existing := await session.get(Forum, draft.id)):
            if existing.created_by_id != viewer.user_id or not policies.can_read(reader, existing):
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id cannot be used; send a new one", "id"
                )
            return await forum_view(session, reader, existing.id)
        problems.raise_if_any()
        forum = Forum(
            cluster_id=cluster_id,
            organisation_id=organisation_id,
            title=draft.title.strip(),
            description=draft.description.strip(),
            visibility=draft.visibility,
            created_by_id=viewer.user_id,
            thread_count=0,
            last_activity_at=now,
            version=1,
            created_at=now,
            updated_at=now,
        )
        if draft.id is not None:
            forum.id = draft.id
        session.add(forum)
        await session.flush()
        return await forum_view(session, reader, forum.id)


async def update_forum(
    *,
    db: Database,
    viewer: Viewer,
    forum_id: uuid.UUID,
    title: str | None,
    description: str | None,
    visibility: ForumVisibility | None,
    expected_version: int | None,
    now: datetime,
) -> ForumView:
    """Moderators change a forum's title, description or visibility."""
    problems = Problems()
    if title is not None:
        check_text(problems, "title", title, min_length=3, max_length=200)
    if description is not None:
        check_text(
            problems, "description", description, min_length=0, max_length=5000, multiline=True
        )
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        forum = await forum_for(session, reader, forum_id)
        policies.manage(reader, forum)
        check_version("forum", expected_version, forum.version)
        if visibility is ForumVisibility.MEMBERS and forum.organisation_id is None:
            problems.add("visibility", "A cluster forum has no members: PUBLIC or CLUSTER")
        problems.raise_if_any()
        if title is not None:
            forum.title = title.strip()
        if description is not None:
            forum.description = description.strip()
        if visibility is not None and visibility is not forum.visibility:
            forum.visibility = visibility
            # who may read its threads changed: their followers' copies hear of each (those
            # who may no longer read one get its tombstone)
            threads = await session.scalars(select(Thread.id).where(Thread.forum_id == forum.id))
            for thread_id in threads.all():
                sync_log.note(
                    session,
                    ChangeType.FORUM_THREAD,
                    thread_id,
                    [sync_log.thread_followers(thread_id)],
                )
        forum.version += 1
        forum.updated_at = now
        await session.flush()
        return await forum_view(session, reader, forum.id)


async def add_moderator(
    *,
    db: Database,
    viewer: Viewer,
    forum_id: uuid.UUID,
    user_id: uuid.UUID,
    remove: bool,
    broadcaster: Broadcaster,
) -> ForumView:
    """See ``_add_moderator``; a concurrent twin of the same request is answered like a retry.
    Instances forget the person's cached reader (what they see of hidden posts changes)."""
    view = await once_more_on_clash(
        lambda: _add_moderator(
            db=db, viewer=viewer, forum_id=forum_id, user_id=user_id, remove=remove
        )
    )
    await announce_access_change(broadcaster, user_id)
    return view


async def _add_moderator(
    *, db: Database, viewer: Viewer, forum_id: uuid.UUID, user_id: uuid.UUID, remove: bool
) -> ForumView:
    """Name (or un-name) a moderator. Only people who can read the forum can moderate it."""
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        forum = await forum_for(session, reader, forum_id, "forumId")
        policies.manage(reader, forum)
        if remove:
            await session.execute(
                delete(ForumModerator).where(
                    ForumModerator.forum_id == forum.id, ForumModerator.user_id == user_id
                )
            )
        else:
            if not await readers_among(session, forum, {user_id}):
                raise ServiceError.of(
                    ErrorCode.VALIDATION, "This person cannot read the forum", "userId"
                )
            exists_already = await session.scalar(
                select(ForumModerator.id).where(
                    ForumModerator.forum_id == forum.id, ForumModerator.user_id == user_id
                )
            )
            if exists_already is None:
                session.add(ForumModerator(forum_id=forum.id, user_id=user_id))
        await session.flush()
        return await forum_view(session, reader, forum.id)


FORUMS = Sort(
    "forums:activity",
    (SortKey(Forum.last_activity_at, descending=True), SortKey(Forum.id, descending=True)),
)


async def get_forum(
    *, db: Database, viewer: Viewer | Anonymous, forum_id: uuid.UUID
) -> ForumView | None:
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        forum = await session.scalar(
            policies.readable_forums(reader).where(Forum.id == forum_id).options(*forum_loads())
        )
        if forum is None:
            return None
        return ForumView(forum, policies.moderates(reader, forum))


async def list_forums(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    cluster_id: uuid.UUID | None,
    organisation_id: uuid.UUID | None,
    page: PageRequest,
    with_total: bool,
) -> Page[ForumView]:
    """Forums the viewer may read, latest activity first."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        statement = policies.readable_forums(reader)
        if cluster_id is not None:
            statement = statement.where(Forum.cluster_id == cluster_id)
        if organisation_id is not None:
            statement = statement.where(Forum.organisation_id == organisation_id)
        result = await paginate(
            session,
            statement,
            sort=FORUMS,
            request=page,
            load=forum_loads(),
            with_total=with_total,
        )
    return result.map(lambda f: ForumView(f, policies.moderates(reader, f)))
