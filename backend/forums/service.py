"""Forums: forums of communities and clusters, threads, posts with replies, reactions,
moderation, notifications of replies and mentions, and the "post added" events.

Every public function is keyword-only and owns its unit of work. What a viewer may see is
decided by :func:`reader_of` (their memberships) and ``policies``; lists filter in SQL with the
same rules, so nothing of a MEMBERS forum reaches anyone else, counts included.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from backend.auth.viewer import Anonymous, Viewer
from backend.forums import policies
from backend.forums.broadcast import Broadcaster
from backend.forums.models import (
    Forum,
    ForumModerator,
    ForumVisibility,
    Post,
    PostReaction,
    PostReport,
    Reaction,
    ReportStatus,
    Thread,
    ThreadFollower,
)
from backend.forums.policies import Reader
from backend.identity.models import (
    Cluster,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    User,
)
from backend.kit.db import Database, insert_or_else, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_language, check_text, has_control_characters
from backend.notifications import service as notifications
from backend.notifications.models import NotificationKind
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

log = logging.getLogger("eic.forums")

MAX_TAGS = 10
MAX_MENTIONS = 10
SUBJECT = "FORUM_THREAD"


def post_channel(thread_id: uuid.UUID) -> str:
    return f"forum-thread:{thread_id}:posts"


# ---------------------------------------------------------------------------------------------
# Inputs and views


@dataclass(frozen=True, slots=True)
class ForumDraft:
    title: str
    visibility: ForumVisibility
    cluster_id: uuid.UUID | None = None
    description: str = ""
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ThreadDraft:
    forum_id: uuid.UUID
    title: str
    body: str
    language: str = "en"
    tags: list[str] = field(default_factory=list)
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class PostDraft:
    thread_id: uuid.UUID
    body: str
    reply_to_id: uuid.UUID | None = None
    mentioned_organisation_ids: list[uuid.UUID] = field(default_factory=list)
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class ForumView:
    forum: Forum
    moderates: bool


@dataclass(frozen=True, slots=True)
class ThreadView:
    thread: Thread
    moderates: bool
    # whether the viewer follows it (it is then in their app's offline copy)
    following: bool = False


@dataclass(frozen=True, slots=True)
class ReportView:
    report: PostReport
    # Whether the viewer may see what the reported post says: moderators, or anyone while the
    # post is neither hidden nor deleted (a report must not undo hiding or deleting).
    sees_post: bool


@dataclass(frozen=True, slots=True)
class PostView:
    post: Post
    # reaction -> count, and the viewer's own reactions
    reactions: dict[Reaction, int]
    mine: frozenset[Reaction]
    sees_hidden: bool
    moderates: bool


# ---------------------------------------------------------------------------------------------
# Who is reading


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


def _readable(reader: Reader) -> Any:
    """forums:read as SQL on ``Forum``."""
    if reader.is_platform_admin:
        return true()
    conditions = [Forum.visibility == ForumVisibility.PUBLIC]
    if reader.clusters:
        conditions.append(
            and_(Forum.visibility == ForumVisibility.CLUSTER, Forum.cluster_id.in_(reader.clusters))
        )
    if reader.member_of:
        conditions.append(
            and_(
                Forum.visibility == ForumVisibility.MEMBERS,
                Forum.organisation_id.in_(reader.member_of),
            )
        )
    return or_(*conditions)


async def _readers_among(
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


# ---------------------------------------------------------------------------------------------
# Checks


def _check_tags(problems: Problems, tags: list[str]) -> list[str]:
    if len(tags) > MAX_TAGS:
        problems.add("tags", f"At most {MAX_TAGS} tags")
        return []
    cleaned: dict[str, None] = {}
    for index, tag in enumerate(tags):
        value = " ".join(tag.split()).lower()
        if (
            not 1 <= len(value) <= 40
            or "|" in value
            or has_control_characters(value, multiline=False)
        ):
            problems.add(f"tags.{index}", "A tag has 1 to 40 characters, without |")
        else:
            cleaned.setdefault(value, None)
    return list(cleaned)


def _check_body(problems: Problems, body: str) -> None:
    check_text(problems, "body", body, min_length=1, max_length=20_000, multiline=True)


# ---------------------------------------------------------------------------------------------
# Forums


async def _forum_for(
    session: AsyncSession, reader: Reader, forum_id: uuid.UUID, field_name: str = "id"
) -> Forum:
    forum = await session.get(Forum, forum_id, options=[selectinload(Forum.organisation)])
    if forum is None or not policies.can_read(reader, forum):
        raise not_found("Forum", field_name)
    return forum


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
            return await _forum_view(session, reader, existing.id)
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
        return await _forum_view(session, reader, forum.id)


async def _reloaded(session: AsyncSession, model: Any, id_: uuid.UUID, loads: Any) -> Any:
    """A row written in this unit of work, read again with what its screen shows."""
    row = await session.scalar(
        select(model)
        .where(model.id == id_)
        .options(*loads)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def _forum_view(session: AsyncSession, reader: Reader, forum_id: uuid.UUID) -> ForumView:
    forum = await _reloaded(session, Forum, forum_id, _forum_loads())
    return ForumView(forum, policies.moderates(reader, forum))


def _forum_loads() -> tuple[Any, ...]:
    return (
        selectinload(Forum.organisation).selectinload(Organisation.cluster),
        selectinload(Forum.cluster),
    )


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
        forum = await _forum_for(session, reader, forum_id)
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
        return await _forum_view(session, reader, forum.id)


async def add_moderator(
    *, db: Database, viewer: Viewer, forum_id: uuid.UUID, user_id: uuid.UUID, remove: bool
) -> ForumView:
    """See ``_add_moderator``; a concurrent twin of the same request is answered like a retry."""
    return await once_more_on_clash(
        lambda: _add_moderator(
            db=db, viewer=viewer, forum_id=forum_id, user_id=user_id, remove=remove
        )
    )


async def _add_moderator(
    *, db: Database, viewer: Viewer, forum_id: uuid.UUID, user_id: uuid.UUID, remove: bool
) -> ForumView:
    """Name (or un-name) a moderator. Only people who can read the forum can moderate it."""
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        forum = await _forum_for(session, reader, forum_id, "forumId")
        policies.manage(reader, forum)
        if remove:
            await session.execute(
                delete(ForumModerator).where(
                    ForumModerator.forum_id == forum.id, ForumModerator.user_id == user_id
                )
            )
        else:
            if not await _readers_among(session, forum, {user_id}):
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
        return await _forum_view(session, reader, forum.id)


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
            select(Forum).where(Forum.id == forum_id).options(*_forum_loads())
        )
        if forum is None or not policies.can_read(reader, forum):
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
        statement = select(Forum).where(_readable(reader))
        if cluster_id is not None:
            statement = statement.where(Forum.cluster_id == cluster_id)
        if organisation_id is not None:
            statement = statement.where(Forum.organisation_id == organisation_id)
        result = await paginate(
            session,
            statement,
            sort=FORUMS,
            request=page,
            load=_forum_loads(),
            with_total=with_total,
        )
    return _mapped(result, lambda f: ForumView(f, policies.moderates(reader, f)))


def _mapped(result: Page[Any], to: Any) -> Page[Any]:
    return Page(
        items=[to(item) for item in result.items],
        cursors=result.cursors,
        has_next_page=result.has_next_page,
        has_previous_page=result.has_previous_page,
        total_count=result.total_count,
    )


# ---------------------------------------------------------------------------------------------
# Threads


def _thread_loads() -> tuple[Any, ...]:
    return (
        selectinload(Thread.forum).selectinload(Forum.organisation),
        selectinload(Thread.author),
        selectinload(Thread.author_organisation),
    )


async def _thread_for(
    session: AsyncSession,
    reader: Reader,
    thread_id: uuid.UUID,
    field_name: str = "id",
    *,
    lock: bool = False,
) -> Thread:
    thread = await session.get(
        Thread,
        thread_id,
        options=[selectinload(Thread.forum)],
        with_for_update=lock,
        populate_existing=True,
    )
    if thread is None or not policies.can_read(reader, thread.forum):
        raise not_found("Thread", field_name)
    return thread


async def create_thread(
    *, db: Database, viewer: Viewer, draft: ThreadDraft, now: datetime
) -> ThreadView:
    """See ``_create_thread``; a concurrent twin of the same request is answered like a retry."""
    return await once_more_on_clash(
        lambda: _create_thread(db=db, viewer=viewer, draft=draft, now=now)
    )


async def _create_thread(
    *, db: Database, viewer: Viewer, draft: ThreadDraft, now: datetime
) -> ThreadView:
    problems = Problems()
    check_text(problems, "title", draft.title, min_length=3, max_length=200)
    _check_body(problems, draft.body)
    check_language(problems, "language", draft.language)
    tags = _check_tags(problems, draft.tags)
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        forum = await _forum_for(session, reader, draft.forum_id, "forumId")
        policies.write(reader, forum)
        if draft.id is not None and (existing := await session.get(Thread, draft.id)):
            if existing.author_id != viewer.user_id or existing.forum_id != forum.id:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id cannot be used; send a new one", "id"
                )
            return await _thread_view(session, reader, existing.id)
        problems.raise_if_any()
        thread = Thread(
            forum_id=forum.id,
            author_id=viewer.user_id,
            author_organisation_id=viewer.organisation_id,
            title=draft.title.strip(),
            body=draft.body.strip(),
            language=draft.language,
            tags=tags,
            tag_index="|" + "|".join(tags) + "|" if tags else "",
            pinned=False,
            reply_count=0,
            last_activity_at=now,
            created_at=now,
            version=1,
        )
        if draft.id is not None:
            thread.id = draft.id
        session.add(thread)
        await session.execute(
            update(Forum)
            .where(Forum.id == forum.id)
            .values(thread_count=Forum.thread_count + 1, last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        await _follow(session, thread.id, viewer.user_id, now)  # you follow what you start
        return await _thread_view(session, reader, thread.id)


async def _thread_view(session: AsyncSession, reader: Reader, thread_id: uuid.UUID) -> ThreadView:
    thread = await _reloaded(session, Thread, thread_id, _thread_loads())
    following = await _followed_among(session, reader, [thread.id])
    return ThreadView(thread, policies.moderates(reader, thread.forum), thread.id in following)


async def _followed_among(
    session: AsyncSession, reader: Reader, thread_ids: list[uuid.UUID]
) -> set[uuid.UUID]:
    if not isinstance(reader.viewer, Viewer) or not thread_ids:
        return set()
    followed = await session.scalars(
        select(ThreadFollower.thread_id).where(
            ThreadFollower.user_id == reader.viewer.user_id,
            ThreadFollower.thread_id.in_(thread_ids),
        )
    )
    return set(followed.all())


async def _follow(
    session: AsyncSession, thread_id: uuid.UUID, user_id: uuid.UUID, now: datetime
) -> None:
    """Follow, if not yet (a retried post or a twin request finds the row there)."""
    added = await session.scalar(
        insert_or_else(session, ThreadFollower)
        .values(thread_id=thread_id, user_id=user_id, created_at=now)
        .on_conflict_do_nothing()
        .returning(ThreadFollower.thread_id)
    )
    if added is not None:  # a plain INSERT: the flush listener does not see it
        sync_log.note(session, ChangeType.FORUM_THREAD, thread_id, [sync_log.person(user_id)])


async def follow_thread(
    *, db: Database, viewer: Viewer, thread_id: uuid.UUID, following: bool, now: datetime
) -> ThreadView:
    """Follow a thread one may read (its changes then reach the app's offline copy), or stop
    following it. Either is idempotent."""
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        thread = await _thread_for(session, reader, thread_id)
        if following:
            await _follow(session, thread.id, viewer.user_id, now)
        else:
            stopped = await session.scalar(
                delete(ThreadFollower)
                .where(
                    ThreadFollower.thread_id == thread.id,
                    ThreadFollower.user_id == viewer.user_id,
                )
                .returning(ThreadFollower.thread_id)
            )
            if stopped is not None:
                sync_log.note(
                    session, ChangeType.FORUM_THREAD, thread.id, [sync_log.person(viewer.user_id)]
                )
        return await _thread_view(session, reader, thread.id)


def followed_thread_ids(viewer: Viewer) -> Select[Any]:
    """The threads the viewer follows, as a subquery (the sync feed's scopes)."""
    return select(ThreadFollower.thread_id).where(ThreadFollower.user_id == viewer.user_id)


async def threads_for_sync(
    *, db: Database, viewer: Viewer, thread_ids: list[uuid.UUID]
) -> dict[uuid.UUID, ThreadView]:
    """Of these threads, those the viewer follows and may still read, with their views."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        followed = await _followed_among(session, reader, thread_ids)
        if not followed:
            return {}
        threads = await session.scalars(
            select(Thread).where(Thread.id.in_(followed)).options(*_thread_loads())
        )
        return {
            thread.id: ThreadView(thread, policies.moderates(reader, thread.forum), True)
            for thread in threads
            if policies.can_read(reader, thread.forum)
        }


async def set_thread_flag(
    *,
    db: Database,
    viewer: Viewer,
    thread_id: uuid.UUID,
    locked: bool | None = None,
    pinned: bool | None = None,
    now: datetime,
) -> ThreadView:
    """Moderators lock (no new posts) or pin (first in the forum) a thread, or undo it."""
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        thread = await _thread_for(session, reader, thread_id, lock=True)
        policies.moderate(reader, thread.forum)
        if locked is not None:
            thread.locked_at = (thread.locked_at or now) if locked else None
        if pinned is not None:
            thread.pinned = pinned
        thread.version += 1
        await session.flush()
        return await _thread_view(session, reader, thread.id)


async def get_thread(
    *, db: Database, viewer: Viewer | Anonymous, thread_id: uuid.UUID
) -> ThreadView | None:
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        thread = await session.scalar(
            select(Thread).where(Thread.id == thread_id).options(*_thread_loads())
        )
        if thread is None or not policies.can_read(reader, thread.forum):
            return None
        following = await _followed_among(session, reader, [thread.id])
        return ThreadView(thread, policies.moderates(reader, thread.forum), bool(following))


THREADS = Sort(
    "threads:pinned-activity",
    (
        SortKey(Thread.pinned, descending=True),
        SortKey(Thread.last_activity_at, descending=True),
        SortKey(Thread.id, descending=True),
    ),
)


async def list_threads(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    forum_id: uuid.UUID,
    tag: str | None,
    page: PageRequest,
    with_total: bool,
) -> Page[ThreadView]:
    """A forum's threads, pinned first, then by latest activity."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        forum = await _forum_for(session, reader, forum_id, "forumId")
        statement = select(Thread).where(Thread.forum_id == forum.id)
        if tag is not None:
            if not 1 <= len(tag) <= 100 or has_control_characters(tag, multiline=False):
                raise ServiceError.of(ErrorCode.VALIDATION, "Not a tag", "tag")
            needle = "|" + " ".join(tag.split()).lower() + "|"
            statement = statement.where(Thread.tag_index.contains(needle, autoescape=True))
        result = await paginate(
            session,
            statement,
            sort=THREADS,
            request=page,
            load=_thread_loads(),
            with_total=with_total,
        )
        following = await _followed_among(session, reader, [t.id for t in result.items])
    moderates = policies.moderates(reader, forum)
    return _mapped(result, lambda t: ThreadView(t, moderates, t.id in following))


# ---------------------------------------------------------------------------------------------
# Posts


def _post_loads() -> tuple[Any, ...]:
    return (selectinload(Post.author), selectinload(Post.author_organisation))


async def _post_views(
    session: AsyncSession, reader: Reader, forum: Forum, posts: list[Post]
) -> list[PostView]:
    """Views of posts with reaction counts and the viewer's own reactions: two statements
    whatever the number of posts."""
    ids = [post.id for post in posts]
    counts: dict[uuid.UUID, dict[Reaction, int]] = {post_id: {} for post_id in ids}
    mine: dict[uuid.UUID, set[Reaction]] = {post_id: set() for post_id in ids}
    if ids:
        rows = await session.execute(
            select(PostReaction.post_id, PostReaction.reaction, func.count())
            .where(PostReaction.post_id.in_(ids))
            .group_by(PostReaction.post_id, PostReaction.reaction)
        )
        for post_id, reaction, count in rows:
            counts[post_id][reaction] = int(count)
        viewer = reader.signed_in
        if viewer is not None:
            own = await session.execute(
                select(PostReaction.post_id, PostReaction.reaction).where(
                    PostReaction.post_id.in_(ids), PostReaction.user_id == viewer.user_id
                )
            )
            for post_id, reaction in own:
                mine[post_id].add(reaction)
    moderates = policies.moderates(reader, forum)
    return [
        PostView(
            post,
            counts[post.id],
            frozenset(mine[post.id]),
            policies.sees_hidden(reader, forum, post),
            moderates,
        )
        for post in posts
    ]


async def _post_view(session: AsyncSession, reader: Reader, post_id: uuid.UUID) -> PostView:
    loads = (*_post_loads(), selectinload(Post.thread).selectinload(Thread.forum))
    post = await _reloaded(session, Post, post_id, loads)
    return (await _post_views(session, reader, post.thread.forum, [post]))[0]


async def create_post(
    *,
    db: Database,
    viewer: Viewer,
    draft: PostDraft,
    broadcaster: Broadcaster,
    now: datetime,
) -> PostView:
    """See ``_create_post``; a concurrent twin of the same request is answered like a retry."""
    return await once_more_on_clash(
        lambda: _create_post(db=db, viewer=viewer, draft=draft, broadcaster=broadcaster, now=now)
    )


async def _create_post(
    *,
    db: Database,
    viewer: Viewer,
    draft: PostDraft,
    broadcaster: Broadcaster,
    now: datetime,
) -> PostView:
    """Reply in a thread (to the thread, or to a post of it). Refused in locked threads. The
    thread's author and the author replied to are told, so are the members of mentioned
    organisations who can read the forum; subscriptions get the post once it is committed."""
    problems = Problems()
    _check_body(problems, draft.body)
    if len(draft.mentioned_organisation_ids) > MAX_MENTIONS:
        problems.add("mentionedOrganisationIds", f"At most {MAX_MENTIONS} mentions")
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        thread = await _thread_for(session, reader, draft.thread_id, "threadId", lock=True)
        policies.write(reader, thread.forum)
        if draft.id is not None and (existing := await session.get(Post, draft.id)):
            if existing.author_id != viewer.user_id or existing.thread_id != thread.id:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id cannot be used; send a new one", "id"
                )
            return await _post_view(session, reader, existing.id)
        if thread.locked_at is not None:
            raise ServiceError.of(
                ErrorCode.THREAD_LOCKED, "This thread is locked; no new posts", "threadId"
            )
        reply_to = None
        if draft.reply_to_id is not None:
            reply_to = await session.get(Post, draft.reply_to_id)
            if reply_to is None or reply_to.thread_id != thread.id:
                raise ServiceError.of(
                    ErrorCode.VALIDATION, "Reply to a post of the same thread", "replyToId"
                )
        mentioned = list(dict.fromkeys(draft.mentioned_organisation_ids))
        if mentioned:
            found = set(
                (
                    await session.scalars(
                        select(Organisation.id).where(Organisation.id.in_(mentioned))
                    )
                ).all()
            )
            for index, organisation_id in enumerate(mentioned):
                if organisation_id not in found:
                    problems.add(
                        f"mentionedOrganisationIds.{index}",
                        "No such organisation",
                        ErrorCode.NOT_FOUND,
                    )
            problems.raise_if_any()
        post = Post(
            thread_id=thread.id,
            reply_to_id=reply_to.id if reply_to else None,
            author_id=viewer.user_id,
            author_organisation_id=viewer.organisation_id,
            body=draft.body.strip(),
            mentioned_organisation_ids=[str(m) for m in mentioned],
            created_at=now,
            version=1,
        )
        if draft.id is not None:
            post.id = draft.id
        session.add(post)
        thread.reply_count += 1
        thread.last_activity_at = now
        await session.execute(
            update(Forum)
            .where(Forum.id == thread.forum_id)
            .values(last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        await _follow(session, thread.id, viewer.user_id, now)  # and what you reply in
        await _notify(session, thread, post, reply_to, mentioned, viewer, now)
        view = await _post_view(session, reader, post.id)
    # After the commit: a subscriber that loads the post finds it. The post is saved either
    # way; live delivery is best effort (apps reload the thread when they reconnect).
    try:
        await broadcaster.publish(post_channel(thread.id), str(post.id))
    except Exception:  # Redis unreachable: the answer must still say the post was made
        log.exception("publishing post %s failed", post.id)
    return view


async def _notify(
    session: AsyncSession,
    thread: Thread,
    post: Post,
    reply_to: Post | None,
    mentioned: list[uuid.UUID],
    viewer: Viewer,
    now: datetime,
) -> None:
    forum = thread.forum
    repliers = {uid for uid in (thread.author_id, reply_to.author_id if reply_to else None) if uid}
    repliers.discard(viewer.user_id)
    told = await _readers_among(session, forum, repliers)
    await notifications.add(
        session,
        user_ids=told,
        kind=NotificationKind.FORUM_REPLY,
        title=f"New reply: {thread.title}",
        body=post.body[:200],
        subject_type=SUBJECT,
        subject_id=thread.id,
        details={"postId": str(post.id)},
        now=now,
    )
    if not mentioned:
        return
    members = set(
        (
            await session.scalars(
                select(Membership.user_id).where(Membership.organisation_id.in_(mentioned))
            )
        ).all()
    )
    members.discard(viewer.user_id)
    await notifications.add(
        session,
        user_ids=[uid for uid in await _readers_among(session, forum, members) if uid not in told],
        kind=NotificationKind.FORUM_MENTION,
        title=f"Your organisation was mentioned: {thread.title}",
        body=post.body[:200],
        subject_type=SUBJECT,
        subject_id=thread.id,
        details={"postId": str(post.id)},
        now=now,
    )


async def _own_post(
    session: AsyncSession, reader: Reader, post_id: uuid.UUID
) -> tuple[Post, Thread]:
    post, thread = await _readable_post(session, reader, post_id, lock=True)
    policies.author(reader, post.author_id)
    return post, thread


async def edit_post(
    *,
    db: Database,
    viewer: Viewer,
    post_id: uuid.UUID,
    body: str,
    expected_version: int | None,
    now: datetime,
) -> PostView:
    """Authors edit their posts; the time of the last edit is kept."""
    problems = Problems()
    _check_body(problems, body)
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        post, thread = await _own_post(session, reader, post_id)
        check_version("post", expected_version, post.version)
        if post.deleted_at is not None:
            raise ServiceError.of(ErrorCode.CONFLICT, "The post was deleted")
        if thread.locked_at is not None:
            raise ServiceError.of(ErrorCode.THREAD_LOCKED, "This thread is locked; no edits")
        if post.hidden_at is not None:
            raise ServiceError.of(
                ErrorCode.CONFLICT, "A moderator hid this post; it cannot be edited now"
            )
        post.body = body.strip()
        post.edited_at = now
        post.version += 1
        await session.flush()
        return await _post_view(session, reader, post.id)


async def delete_post(
    *, db: Database, viewer: Viewer, post_id: uuid.UUID, now: datetime
) -> PostView:
    """Authors delete their posts: the post shows as deleted, replies to it stay."""
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        post, thread = await _own_post(session, reader, post_id)
        if post.deleted_at is None:
            post.deleted_at = now
            post.version += 1
            await session.execute(
                update(Thread)
                .where(Thread.id == thread.id)
                .values(reply_count=Thread.reply_count - 1)
                .execution_options(synchronize_session=False)
            )
            sync_log.note(
                session, ChangeType.FORUM_THREAD, thread.id, [sync_log.thread_followers(thread.id)]
            )
        await session.flush()
        return await _post_view(session, reader, post.id)


async def _readable_post(
    session: AsyncSession,
    reader: Reader,
    post_id: uuid.UUID,
    field_name: str = "id",
    *,
    lock: bool = False,
) -> tuple[Post, Thread]:
    # FOR NO KEY UPDATE: a reply being inserted (its foreign key takes a KEY SHARE lock on this
    # post) does not wait for us, so a reply and a delete of its parent cannot deadlock.
    post = await session.get(
        Post,
        post_id,
        with_for_update={"key_share": True} if lock else False,
        populate_existing=True,
    )
    if post is None:
        raise not_found("Post", field_name)
    try:
        thread = await _thread_for(session, reader, post.thread_id)
    except ServiceError:
        raise not_found("Post", field_name) from None
    return post, thread


async def react(
    *,
    db: Database,
    viewer: Viewer,
    post_id: uuid.UUID,
    reaction: Reaction,
    active: bool,
    now: datetime,
) -> PostView:
    """Add (or take back) one's reaction; doing it twice changes nothing."""
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        post, thread = await _readable_post(session, reader, post_id, "postId")
        policies.write(reader, thread.forum)
        if post.deleted_at is not None:
            raise ServiceError.of(ErrorCode.CONFLICT, "The post was deleted")
        condition = and_(
            PostReaction.post_id == post.id,
            PostReaction.user_id == viewer.user_id,
            PostReaction.reaction == reaction,
        )
        existing = await session.scalar(select(PostReaction.id).where(condition))
        if active and existing is None:
            try:
                async with session.begin_nested():
                    session.add(
                        PostReaction(
                            post_id=post.id,
                            user_id=viewer.user_id,
                            reaction=reaction,
                            created_at=now,
                        )
                    )
            except IntegrityError:
                pass  # the same reaction from a concurrent retry: already there
        elif not active and existing is not None:
            await session.execute(delete(PostReaction).where(condition))
        return await _post_view(session, reader, post.id)


POSTS = Sort("posts:chronological", (SortKey(Post.created_at), SortKey(Post.id)))


async def list_posts(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    thread_id: uuid.UUID,
    page: PageRequest,
    with_total: bool,
) -> Page[PostView]:
    """A thread's posts, oldest first, with authors and reaction counts: the same statements
    for a page of 1 and of 100."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        thread = await _thread_for(session, reader, thread_id, "threadId")
        result = await paginate(
            session,
            select(Post).where(Post.thread_id == thread.id),
            sort=POSTS,
            request=page,
            load=_post_loads(),
            with_total=with_total,
        )
        views = await _post_views(session, reader, thread.forum, result.items)
    return Page(
        items=views,
        cursors=result.cursors,
        has_next_page=result.has_next_page,
        has_previous_page=result.has_previous_page,
        total_count=result.total_count,
    )


async def get_post(
    *, db: Database, viewer: Viewer | Anonymous, post_id: uuid.UUID
) -> PostView | None:
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        try:
            post, thread = await _readable_post(session, reader, post_id)
        except ServiceError:
            return None
        await session.refresh(post, ["author", "author_organisation"])
        return (await _post_views(session, reader, thread.forum, [post]))[0]


async def subscriber(*, db: Database, viewer: Viewer | Anonymous, thread_id: uuid.UUID) -> Reader:
    """The reader behind a new subscription: NOT_FOUND unless they may read the thread. Their
    memberships are read once, here; the subscription lasts until the app reconnects."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        await _thread_for(session, reader, thread_id, "threadId")
        return reader


# How long a subscription trusts the memberships it read: losing access takes effect within it.
READER_REFRESH_SECONDS = 10.0


async def still_reading(*, db: Database, reader: Reader, thread_id: uuid.UUID) -> Reader:
    """The subscriber's reader, read again once it is older than READER_REFRESH_SECONDS;
    NOT_FOUND when they may no longer read the thread."""
    if time.monotonic() - reader.read_at < READER_REFRESH_SECONDS:
        return reader
    return await subscriber(db=db, viewer=reader.viewer, thread_id=thread_id)


def live_view(reader: Reader, post: Post) -> PostView | None:
    """A just-added post as a subscriber sees it (None if they may not)."""
    forum = post.thread.forum
    if not policies.can_read(reader, forum):
        return None
    return PostView(
        post,
        {},  # nobody has reacted to a post that was just added
        frozenset(),
        policies.sees_hidden(reader, forum, post),
        policies.moderates(reader, forum),
    )


class AddedPosts:
    """Loads each added post once per process, however many of the process's subscriptions
    receive it (200 subscribers of a thread cost one read, not 200)."""

    def __init__(self, db: Database, size: int = 512) -> None:
        self._db = db
        self._size = size
        self._loads: OrderedDict[uuid.UUID, asyncio.Task[Post | None]] = OrderedDict()

    async def get(self, post_id: uuid.UUID) -> Post | None:
        load = self._loads.get(post_id)
        if load is None:
            load = asyncio.ensure_future(self._load(post_id))
            self._loads[post_id] = load
            while len(self._loads) > self._size:
                self._loads.popitem(last=False)
        try:
            return await asyncio.shield(load)
        except Exception:
            if self._loads.get(post_id) is load:  # the next subscriber tries again
                del self._loads[post_id]
            raise

    async def _load(self, post_id: uuid.UUID) -> Post | None:
        async with self._db.read() as session:
            post: Post | None = await session.scalar(
                select(Post)
                .where(Post.id == post_id)
                .options(*_post_loads(), selectinload(Post.thread).selectinload(Thread.forum))
            )
        return post


# ---------------------------------------------------------------------------------------------
# Moderation


async def report_post(
    *, db: Database, viewer: Viewer, post_id: uuid.UUID, reason: str, now: datetime
) -> ReportView:
    """See ``_report_post``; a concurrent twin of the same request is answered like a retry."""
    return await once_more_on_clash(
        lambda: _report_post(db=db, viewer=viewer, post_id=post_id, reason=reason, now=now)
    )


async def _report_post(
    *, db: Database, viewer: Viewer, post_id: uuid.UUID, reason: str, now: datetime
) -> ReportView:
    """Any reader reports a post with a reason; reporting it again returns the same report."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=3, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        post, thread = await _readable_post(session, reader, post_id, "postId")
        existing = await session.scalar(
            select(PostReport).where(
                PostReport.post_id == post.id, PostReport.reporter_id == viewer.user_id
            )
        )
        if existing is not None:
            if existing.status is ReportStatus.RESOLVED:
                # A new concern about a post already looked at: open the report again.
                existing.status = ReportStatus.OPEN
                existing.reason = reason.strip()
                existing.created_at = now
                existing.resolved_at = None
                existing.resolved_by_id = None
                existing.resolution = ""
            report = existing
        else:
            report = PostReport(
                forum_id=thread.forum_id,
                post_id=post.id,
                reporter_id=viewer.user_id,
                reason=reason.strip(),
                status=ReportStatus.OPEN,
                created_at=now,
            )
            session.add(report)
        await session.flush()
        reported = await _report(session, report.id)
        return ReportView(
            reported,
            policies.moderates(reader, thread.forum)
            or (post.hidden_at is None and post.deleted_at is None),
        )


async def _report(session: AsyncSession, report_id: uuid.UUID) -> PostReport:
    report: PostReport = await _reloaded(session, PostReport, report_id, _report_loads())
    return report


def _report_loads() -> tuple[Any, ...]:
    return (
        selectinload(PostReport.post).options(*_post_loads()),
        selectinload(PostReport.reporter),
    )


async def set_post_hidden(
    *,
    db: Database,
    viewer: Viewer,
    post_id: uuid.UUID,
    hidden: bool,
    reason: str,
    now: datetime,
) -> PostView:
    """Moderators hide a post (readers see that it was hidden, not what it said) or restore it."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        post, thread = await _readable_post(session, reader, post_id, lock=True)
        policies.moderate(reader, thread.forum)
        if hidden and post.hidden_at is None:
            post.hidden_at = now
            post.hidden_by_id = viewer.user_id
            post.hidden_reason = reason.strip()
        elif not hidden:
            post.hidden_at = None
            post.hidden_by_id = None
            post.hidden_reason = ""
        post.version += 1
        await session.flush()
        return await _post_view(session, reader, post.id)


REPORTS = Sort("reports:oldest", (SortKey(PostReport.created_at), SortKey(PostReport.id)))


async def list_reports(
    *,
    db: Database,
    viewer: Viewer,
    forum_id: uuid.UUID,
    status: ReportStatus | None,
    page: PageRequest,
    with_total: bool,
) -> Page[ReportView]:
    """The forum's report queue, oldest first: for its moderators."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        forum = await _forum_for(session, reader, forum_id, "forumId")
        policies.moderate(reader, forum)
        statement = select(PostReport).where(PostReport.forum_id == forum.id)
        if status is not None:
            statement = statement.where(PostReport.status == status)
        result = await paginate(
            session,
            statement,
            sort=REPORTS,
            request=page,
            load=_report_loads(),
            with_total=with_total,
        )
    return _mapped(result, lambda report: ReportView(report, True))


async def resolve_report(
    *, db: Database, viewer: Viewer, report_id: uuid.UUID, resolution: str, now: datetime
) -> ReportView:
    problems = Problems()
    check_text(problems, "resolution", resolution, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        report = await session.get(PostReport, report_id, with_for_update=True)
        if report is None:
            raise not_found("Report")
        forum = await session.get(Forum, report.forum_id)
        assert forum is not None
        if not policies.can_read(reader, forum) or not policies.moderates(reader, forum):
            # The reporter knows the report exists; others learn nothing of it.
            raise not_found("Report")
        if report.status is ReportStatus.OPEN:
            report.status = ReportStatus.RESOLVED
            report.resolved_at = now
            report.resolved_by_id = viewer.user_id
            report.resolution = resolution.strip()
        await session.flush()
        return ReportView(await _report(session, report.id), True)
