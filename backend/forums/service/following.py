"""Following threads: what is followed reaches the app's offline copy (the sync feed)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.forums import policies
from backend.forums.models import Thread, ThreadFollower
from backend.forums.service.inputs import ThreadView
from backend.forums.service.loading import followed_among, thread_for, thread_loads, thread_view
from backend.forums.service.readers import reader_of
from backend.kit.db import Database, insert_or_else
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


async def follow(
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
        thread = await thread_for(session, reader, thread_id)
        if following:
            await follow(session, thread.id, viewer.user_id, now)
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
        return await thread_view(session, reader, thread, thread.forum, following=following)


def followed_thread_ids(viewer: Viewer) -> Select[Any]:
    """The threads the viewer follows, as a subquery (the sync feed's scopes)."""
    return select(ThreadFollower.thread_id).where(ThreadFollower.user_id == viewer.user_id)


async def threads_for_sync(
    *, db: Database, viewer: Viewer, thread_ids: list[uuid.UUID]
) -> dict[uuid.UUID, ThreadView]:
    """Of these threads, those the viewer follows and may still read, with their views."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        followed = await followed_among(session, reader, thread_ids)
        if not followed:
            return {}
        threads = await session.scalars(
            policies.readable_threads(reader)
            .where(Thread.id.in_(followed))
            .options(*thread_loads())
        )
        return {
            thread.id: ThreadView(thread, policies.moderates(reader, thread.forum), True)
            for thread in threads
        }
