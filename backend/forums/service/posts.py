"""Posting in threads: replies, edits, deletions, reactions, and the notifications they cause."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy import and_, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.forums import policies
from backend.forums.models import Forum, Post, PostReaction, Reaction, Thread
from backend.forums.policies import Reader
from backend.forums.service.checks import check_body
from backend.forums.service.following import follow
from backend.forums.service.inputs import PostDraft, PostView
from backend.forums.service.live import post_channel
from backend.forums.service.loading import (
    post_view,
    readable_post,
    thread_for,
)
from backend.forums.service.readers import reader_of, readers_among
from backend.identity import service as identity_service
from backend.kit.broadcast import Broadcaster
from backend.kit.db import Database, later_of, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.sync import log as sync_log
from backend.sync.models import ChangeType

log = logging.getLogger("eic.forums")

MAX_MENTIONS = 10
SUBJECT = "FORUM_THREAD"


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
    check_body(problems, draft.body)
    if len(draft.mentioned_organisation_ids) > MAX_MENTIONS:
        problems.add("mentionedOrganisationIds", f"At most {MAX_MENTIONS} mentions")
    problems.raise_if_any()
    async with db.write() as session:
        reader = await reader_of(session, viewer)
        # Not locked: _count_post updates the thread as the unit of work's last statement.
        thread = await thread_for(session, reader, draft.thread_id, "threadId")
        policies.write(reader, thread.forum)
        if draft.id is not None and (existing := await session.get(Post, draft.id)):
            if existing.author_id != viewer.user_id or existing.thread_id != thread.id:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id cannot be used; send a new one", "id"
                )
            return await post_view(session, reader, existing, thread)
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
            found = await identity_service.existing_organisations(session, mentioned)
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
        await session.flush()
        await follow(session, thread.id, viewer.user_id, now)  # and what you reply in
        await _notify(session, thread, post, reply_to, mentioned, viewer, now)
        view = await post_view(session, reader, post, thread, new=True)
        await _count_post(session, thread, now)  # last: see there
    # After the commit: a subscriber that loads the post finds it. The post is saved either
    # way; live delivery is best effort (apps reload the thread when they reconnect).
    try:
        await broadcaster.publish(post_channel(thread.id), str(post.id))
    except Exception:  # Redis unreachable: the answer must still say the post was made
        log.exception("publishing post %s failed", post.id)
    return view


async def _count_post(session: AsyncSession, thread: Thread, now: datetime) -> None:
    """Count a new post in its thread and move the thread's and the forum's last activity.

    The unit of work's last statements, on purpose: an UPDATE holds its row until the commit,
    and every post of a thread (of a forum) updates the same row. Locked first, each post held
    the thread through all its other statements and a busy thread's posts queued one behind
    the other (scripts/bench_busy_thread.py); updated last, the rows are held for these two
    statements and the change log's. The count is an increment and the times only move
    forward, so both stay exact whatever order concurrent posts commit in. A moderator may
    have locked the thread since it was read: the UPDATE checks again (on PostgreSQL it re-reads
    a row it had to wait for), and the post is refused with everything it wrote."""
    counted = await session.scalar(
        update(Thread)
        .where(Thread.id == thread.id, Thread.locked_at.is_(None))
        .values(
            reply_count=Thread.reply_count + 1,
            last_activity_at=later_of(Thread.last_activity_at, now),
        )
        .returning(Thread.id)
        .execution_options(synchronize_session=False)
    )
    if counted is None:
        raise ServiceError.of(
            ErrorCode.THREAD_LOCKED, "This thread is locked; no new posts", "threadId"
        )
    await session.execute(
        update(Forum)
        .where(Forum.id == thread.forum_id)
        .values(last_activity_at=later_of(Forum.last_activity_at, now))
        .execution_options(synchronize_session=False)
    )


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
    told = await readers_among(session, forum, repliers)
    await notifications.add(
        session,
        user_ids=told,
        text=texts.FORUM_REPLY(thread=thread.title, post=post.body[:200]),
        subject_type=SUBJECT,
        subject_id=thread.id,
        details={"postId": str(post.id)},
        now=now,
    )
    if not mentioned:
        return
    members = set(await identity_service.member_ids(session, *mentioned))
    members.discard(viewer.user_id)
    await notifications.add(
        session,
        user_ids=[uid for uid in await readers_among(session, forum, members) if uid not in told],
        text=texts.FORUM_MENTION(thread=thread.title, post=post.body[:200]),
        subject_type=SUBJECT,
        subject_id=thread.id,
        details={"postId": str(post.id)},
        now=now,
    )


async def _own_post(
    session: AsyncSession, reader: Reader, post_id: uuid.UUID
) -> tuple[Post, Thread]:
    post, thread = await readable_post(session, reader, post_id, lock=True)
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
    check_body(problems, body)
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
        return await post_view(session, reader, post, thread)


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
        return await post_view(session, reader, post, thread)


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
        post, thread = await readable_post(session, reader, post_id, "postId")
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
        return await post_view(session, reader, post, thread)
