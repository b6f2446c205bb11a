"""Posts as they are added: the channel they are announced on, the readers behind
subscriptions, and one load of each added post per process."""

from __future__ import annotations

import asyncio
import time
import uuid
import weakref
from collections import OrderedDict

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from backend.auth.viewer import Anonymous, Viewer
from backend.forums import policies
from backend.forums.models import Post, Thread
from backend.forums.policies import Reader
from backend.forums.service.inputs import PostView
from backend.forums.service.loading import post_loads, thread_for
from backend.forums.service.readers import reader_of
from backend.kit.db import Database


def post_channel(thread_id: uuid.UUID) -> str:
    return f"forum-thread:{thread_id}:posts"


async def subscriber(*, db: Database, viewer: Viewer | Anonymous, thread_id: uuid.UUID) -> Reader:
    """The reader behind a new subscription: NOT_FOUND unless they may read the thread. Their
    memberships are read once, here; the subscription lasts until the app reconnects."""
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        await thread_for(session, reader, thread_id, "threadId")
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
        # Weakly: the registry of caches (``added_post``) is keyed by the database, and a strong
        # reference back from its value would keep both alive for ever.
        self._db = weakref.ref(db)
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
        db = self._db()
        if db is None:  # the app that owned the database is gone: nobody left to deliver to
            return None
        async with db.read() as session:
            post: Post | None = await session.scalar(
                select(Post)
                .where(Post.id == post_id)
                .options(*post_loads(), selectinload(Post.thread).selectinload(Thread.forum))
            )
        return post


# One cache per database, so one per process in a deployment (an app has one database). It is
# kept here, not on the GraphQL context, so that the context and the app know nothing of forums.
# Weak keys: a database that is dropped takes its cache with it.
_caches: weakref.WeakKeyDictionary[Database, AddedPosts] = weakref.WeakKeyDictionary()


async def added_post(*, db: Database, post_id: uuid.UUID) -> Post | None:
    """A post just announced on its thread's channel, with what a subscriber shows of it; read
    once per process, however many subscriptions receive it."""
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = AddedPosts(db)
    return await cache.get(post_id)
