"""Posts as they are added: the channel they are announced on, the subscriptions' events (a
confirmation with the thread's sequence, then each post with its position), one load of each
added post per process and one cached reader per viewer per process."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from backend.auth.viewer import Anonymous, Viewer
from backend.forums import policies
from backend.forums.models import Post, Thread
from backend.forums.policies import Reader
from backend.forums.service.inputs import PostView
from backend.forums.service.loading import post_loads, thread_for
from backend.forums.service.readers import reader_of
from backend.kit.broadcast import EVERYONE, Broadcaster, BroadcastInterruptedError
from backend.kit.db import Database
from backend.kit.errors import unavailable

log = logging.getLogger("eic.forums")


def post_channel(thread_id: uuid.UUID) -> str:
    return f"forum-thread:{thread_id}:posts"


# A cached reader is read again after this long even without an announced change: the backstop
# for an announcement lost while Redis was away (changes are announced, not polled).
READER_CACHE_SECONDS = 300.0


class LiveReaders:
    """Each signed-in viewer's reader (their memberships), read once per process and kept until
    their access changes: every live post is checked against it in memory, however many posts
    and subscriptions, instead of reading memberships per subscription. The identity and forums
    services announce each change (``kit.broadcast.announce_access_change``) and the app's
    follower of those announcements calls :func:`forget_readers` on every instance."""

    def __init__(self, db: Database) -> None:
        self._db = weakref.ref(db)
        self._readers: dict[Viewer, tuple[float, asyncio.Future[Reader]]] = {}
        # Counts the changes announced: a reader read before one is not kept after it.
        self.generation = 0

    async def get(self, viewer: Viewer | Anonymous) -> Reader:
        if not isinstance(viewer, Viewer):
            return Reader(viewer, read_at=time.monotonic())  # no memberships to read
        cached = self._readers.get(viewer)
        if cached is None or time.monotonic() - cached[0] > READER_CACHE_SECONDS:
            cached = (time.monotonic(), asyncio.ensure_future(self._load(viewer)))
            self._readers[viewer] = cached
        load = cached[1]
        try:
            return await asyncio.shield(load)
        except Exception:
            if self._readers.get(viewer) is cached:  # the next post tries again
                del self._readers[viewer]
            raise

    def keep(self, reader: Reader, generation: int) -> None:
        """A reader just read for a new subscription, kept unless a change was announced since
        ``generation`` (it may have been read before that change)."""
        if isinstance(reader.viewer, Viewer) and generation == self.generation:
            done: asyncio.Future[Reader] = asyncio.get_running_loop().create_future()
            done.set_result(reader)
            self._readers[reader.viewer] = (time.monotonic(), done)

    def forget(self, user: str) -> None:
        """Drop the readers of ``user`` (a user id as text), or of everyone for ``"*"``: an
        announced change. A read under way is dropped too, so it cannot put back what it read
        before the change."""
        self.generation += 1
        if user == EVERYONE:
            self._readers.clear()
            return
        for viewer in [v for v in self._readers if str(v.user_id) == user]:
            del self._readers[viewer]

    async def _load(self, viewer: Viewer) -> Reader:
        db = self._db()
        if db is None:  # the app that owned the database is gone
            return Reader(viewer, read_at=time.monotonic())
        async with db.read() as session:
            return await reader_of(session, viewer)


_readers: weakref.WeakKeyDictionary[Database, LiveReaders] = weakref.WeakKeyDictionary()


def live_readers(db: Database) -> LiveReaders:
    readers = _readers.get(db)
    if readers is None:
        readers = _readers[db] = LiveReaders(db)
    return readers


def forget_readers(user: str) -> None:
    """An access change was announced: every database's cache of this process forgets it."""
    for readers in list(_readers.values()):
        readers.forget(user)


async def subscriber(*, db: Database, viewer: Viewer | Anonymous, thread_id: uuid.UUID) -> Reader:
    """The reader behind a new subscription: NOT_FOUND unless they may read the thread. Their
    memberships are read afresh and kept for the process's other subscriptions."""
    readers = live_readers(db)
    generation = readers.generation
    async with db.read() as session:
        reader = await reader_of(session, viewer)
        await thread_for(session, reader, thread_id, "threadId")
    readers.keep(reader, generation)
    return reader


async def thread_sequence(*, db: Database, thread_id: uuid.UUID) -> int:
    """How many posts the thread has (deleted and hidden ones count: their rows stay): the
    sequence a subscription starts from."""
    async with db.read() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(Post).where(Post.thread_id == thread_id)
            )
            or 0
        )


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """What a subscription tells its app: first that it is live (``view`` None) with the thread's
    sequence then, then each post added with its position in the thread (1 for the first post,
    in the order of the thread's pages). A position more than one past the last seen means
    posts were missed: the app loads them."""

    sequence: int
    view: PostView | None = None


async def live_posts(
    *,
    db: Database,
    broadcaster: Broadcaster,
    viewer: Viewer | Anonymous,
    thread_id: uuid.UUID,
    confirm: bool = True,
) -> AsyncIterator[LiveEvent]:
    """A thread's live posts for one subscriber. Raises NOT_FOUND (before anything) unless they
    may read the thread, and SERVICE_UNAVAILABLE when the broadcaster cannot register the
    subscription or loses events; ends when they may no longer read the thread. Access is
    checked per post against the process's cached reader (no statement per post). Without
    ``confirm`` (the deprecated postAdded) the first event is left out."""
    await subscriber(db=db, viewer=viewer, thread_id=thread_id)
    readers = live_readers(db)
    live = False
    try:
        async with broadcaster.subscribe(post_channel(thread_id)) as messages:
            live = True
            if confirm:  # registered: a post committed after this count is delivered
                yield LiveEvent(await thread_sequence(db=db, thread_id=thread_id))
            async for message in messages:
                try:
                    added = await added_post(db=db, post_id=uuid.UUID(message))
                    reader = await readers.get(viewer)
                except Exception:  # one bad message must not end everyone's subscription
                    log.exception("delivering a post to a subscription failed")
                    continue
                if added is None:
                    continue
                view = live_view(reader, added.post)
                if view is None:
                    return  # they may no longer read the thread
                yield LiveEvent(added.position, view)
    except BroadcastInterruptedError as exc:
        raise unavailable(
            "Live updates were interrupted; load the thread again and subscribe again"
            if live
            else "Live updates are unavailable at the moment; subscribe again later",
            RESUBSCRIBE_AFTER_SECONDS,
        ) from exc


# What SERVICE_UNAVAILABLE's retryAfter tells an app whose live updates were interrupted.
RESUBSCRIBE_AFTER_SECONDS = 2


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


@dataclass(frozen=True, slots=True)
class AddedPost:
    """A just-added post and its position in its thread (1 for the first post)."""

    post: Post
    position: int


class AddedPosts:
    """Loads each added post once per process, however many of the process's subscriptions
    receive it (200 subscribers of a thread cost one read, not 200)."""

    def __init__(self, db: Database, size: int = 512) -> None:
        # Weakly: the registry of caches (``added_post``) is keyed by the database, and a strong
        # reference back from its value would keep both alive for ever.
        self._db = weakref.ref(db)
        self._size = size
        self._loads: OrderedDict[uuid.UUID, asyncio.Task[AddedPost | None]] = OrderedDict()

    async def get(self, post_id: uuid.UUID) -> AddedPost | None:
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

    async def _load(self, post_id: uuid.UUID) -> AddedPost | None:
        db = self._db()
        if db is None:  # the app that owned the database is gone: nobody left to deliver to
            return None
        async with db.read() as session:
            post: Post | None = await session.scalar(
                select(Post)
                .where(Post.id == post_id)
                .options(*post_loads(), selectinload(Post.thread).selectinload(Thread.forum))
            )
            if post is None:
                return None
            # Its place in the thread's order (created_at, id), read from the posts themselves
            # rather than from a counter on the thread row, so that posting takes no lock for it.
            position = await session.scalar(
                select(func.count())
                .select_from(Post)
                .where(
                    Post.thread_id == post.thread_id,
                    or_(
                        Post.created_at < post.created_at,
                        and_(Post.created_at == post.created_at, Post.id <= post.id),
                    ),
                )
            )
        return AddedPost(post, int(position or 0))


# One cache per database, so one per process in a deployment (an app has one database). It is
# kept here, not on the GraphQL context, so that the context and the app know nothing of forums.
# Weak keys: a database that is dropped takes its cache with it.
_caches: weakref.WeakKeyDictionary[Database, AddedPosts] = weakref.WeakKeyDictionary()


async def added_post(*, db: Database, post_id: uuid.UUID) -> AddedPost | None:
    """A post just announced on its thread's channel, with what a subscriber shows of it; read
    once per process, however many subscriptions receive it."""
    cache = _caches.get(db)
    if cache is None:
        cache = _caches[db] = AddedPosts(db)
    return await cache.get(post_id)
