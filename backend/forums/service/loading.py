"""Loading forums, threads and posts with what their screens show, and readable or not."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backend.auth.viewer import Viewer
from backend.forums import policies
from backend.forums.models import Forum, Post, PostReaction, Reaction, Thread, ThreadFollower
from backend.forums.policies import Reader
from backend.forums.service.inputs import ForumView, PostView, ThreadView
from backend.identity.models import Organisation
from backend.kit.db import attach
from backend.kit.errors import ServiceError, not_found


async def forum_for(
    session: AsyncSession, reader: Reader, forum_id: uuid.UUID, field_name: str = "id"
) -> Forum:
    forum = await session.scalar(
        policies.readable_forums(reader)
        .where(Forum.id == forum_id)
        .options(selectinload(Forum.organisation))
    )
    if forum is None:
        raise not_found("Forum", field_name)
    return forum


async def reloaded(session: AsyncSession, model: Any, id_: uuid.UUID, loads: Any) -> Any:
    """A row written in this unit of work, read again with what its screen shows."""
    row = await session.scalar(
        select(model)
        .where(model.id == id_)
        .options(*loads)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def forum_view(session: AsyncSession, reader: Reader, forum_id: uuid.UUID) -> ForumView:
    forum = await reloaded(session, Forum, forum_id, forum_loads())
    return ForumView(forum, policies.moderates(reader, forum))


def forum_loads() -> tuple[Any, ...]:
    return (
        selectinload(Forum.organisation).selectinload(Organisation.cluster),
        selectinload(Forum.cluster),
    )


def thread_loads() -> tuple[Any, ...]:
    return (
        selectinload(Thread.forum).selectinload(Forum.organisation),
        selectinload(Thread.author),
        selectinload(Thread.author_organisation),
    )


async def thread_for(
    session: AsyncSession,
    reader: Reader,
    thread_id: uuid.UUID,
    field_name: str = "id",
    *,
    lock: bool = False,
) -> Thread:
    statement = (
        policies.readable_threads(reader)
        .where(Thread.id == thread_id)
        .options(selectinload(Thread.forum))
        .execution_options(populate_existing=True)
    )
    if lock:
        # OF threads: the forum is joined to be filtered on; only the thread is locked.
        statement = statement.with_for_update(of=Thread)
    thread = await session.scalar(statement)
    if thread is None:
        raise not_found("Thread", field_name)
    return thread


async def thread_view(
    session: AsyncSession,
    reader: Reader,
    thread: Thread,
    forum: Forum,
    *,
    following: bool | None = None,
) -> ThreadView:
    """A thread this unit of work read or wrote, in ``forum`` (read by ``forum_for`` or
    ``thread_for``), from the rows the session holds rather than read back: its author and
    the author's organisation one statement each, and whether the reader follows it when the
    caller does not know (``following``). What the answer shows: not the forum's community,
    which ``thread_loads`` gives lists."""
    set_committed_value(thread, "forum", forum)
    await _attach_authors(session, [thread])
    if following is None:
        following = thread.id in await followed_among(session, reader, [thread.id])
    return ThreadView(thread, policies.moderates(reader, forum), following)


async def _attach_authors(session: AsyncSession, rows: list[Any]) -> None:
    """Threads' or posts' authors and the organisations they wrote for."""
    await attach(session, [(row, "author") for row in rows])
    await attach(session, [(row, "author_organisation") for row in rows])


async def followed_among(
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


def post_loads() -> tuple[Any, ...]:
    return (selectinload(Post.author), selectinload(Post.author_organisation))


async def post_views(
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


async def post_view(
    session: AsyncSession, reader: Reader, post: Post, thread: Thread, *, new: bool = False
) -> PostView:
    """A post this unit of work read or wrote, in ``thread`` (read by ``thread_for``, with its
    forum), from the rows the session holds rather than read back: its author and the author's
    organisation one statement each, and its reactions, two statements unless the post is
    ``new`` (written in this unit of work: nobody could react to it yet)."""
    set_committed_value(post, "thread", thread)
    await _attach_authors(session, [post])
    if new:
        forum = thread.forum
        return PostView(
            post,
            {},
            frozenset(),
            policies.sees_hidden(reader, forum, post),
            policies.moderates(reader, forum),
        )
    return (await post_views(session, reader, thread.forum, [post]))[0]


async def readable_post(
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
        thread = await thread_for(session, reader, post.thread_id)
    except ServiceError:
        raise not_found("Post", field_name) from None
    return post, thread
