"""Fan-out of events on named channels to the subscriptions listening for them: forums' "a post
was added", and "someone's access changed" (:data:`ACCESS_CHANNEL`), which tells every app
instance to forget what it cached of that person's access.

With ``EIC_REDIS_URL`` the events go through Redis pub/sub, so that a client connected to one
server process receives posts made through another; without it an in-process broadcaster
serves a single process. Messages are ids only: each subscriber loads the post with its own
viewer, so what it sees follows the same rules as a query.

Nothing is lost silently: a subscription is live (Redis confirmed it) when ``subscribe``'s block
is entered, and when the Redis connection drops or is re-made (messages may have been missed in
between) every subscription of the process raises :class:`BroadcastInterruptedError`, so that its
client is told to reload and subscribe again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("eic.broadcast")

# A subscriber this far behind loses the oldest events rather than slowing everyone down (its
# client sees the gap in the events' sequence numbers).
QUEUE_SIZE = 256
# How long a new subscription waits for Redis to confirm it before it is refused as unavailable.
CONFIRM_SECONDS = 5.0


class BroadcastInterruptedError(Exception):
    """The broadcaster cannot register a subscription, or events of a registered one may have
    been lost (its connection dropped or was re-made): the subscriber reloads and subscribes
    again."""


# Put in a subscription's queue when it is interrupted: its iterator raises on reaching it.
_INTERRUPTED = object()
_Queue = asyncio.Queue[object]


def _put(queue: _Queue, message: object) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)


async def _messages(queue: _Queue) -> AsyncIterator[str]:
    while True:
        message = await queue.get()
        if message is _INTERRUPTED:
            raise BroadcastInterruptedError("live events were interrupted")
        yield str(message)


class Broadcaster(Protocol):
    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> Any:
        """``async with broadcaster.subscribe(channel) as messages: async for m in messages``;
        the subscription is live when the block is entered. Raises
        :class:`BroadcastInterruptedError` when it cannot be registered, and the iterator raises it
        when events may have been lost."""
        ...

    async def subscribers(self, channel: str) -> int:
        """How many listen on ``channel``: subscriptions in process, processes with Redis."""
        ...

    def local_subscribers(self, channel: str) -> int:
        """How many subscriptions of this process listen on ``channel``."""
        ...

    async def close(self) -> None: ...


class InProcessBroadcaster:
    def __init__(self) -> None:
        self._queues: dict[str, set[_Queue]] = {}

    async def publish(self, channel: str, message: str) -> None:
        for queue in list(self._queues.get(channel, ())):
            _put(queue, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        queue: _Queue = asyncio.Queue(QUEUE_SIZE)
        self._queues.setdefault(channel, set()).add(queue)
        try:
            yield _messages(queue)
        finally:
            listeners = self._queues.get(channel)
            if listeners is not None:
                listeners.discard(queue)
                if not listeners:
                    del self._queues[channel]

    async def subscribers(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    def local_subscribers(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    async def close(self) -> None:
        self._queues.clear()


@dataclass(eq=False)
class _Channel:
    """A Redis channel this process listens on: its local subscriptions, and whether Redis has
    confirmed the SUBSCRIBE (only then can no message published after it be missed)."""

    listeners: set[_Queue] = field(default_factory=set)
    confirmed: asyncio.Event = field(default_factory=asyncio.Event)
    interrupted: bool = False

    def interrupt(self) -> None:
        self.interrupted = True
        self.confirmed.set()  # wakes subscriptions still waiting to be confirmed
        for queue in self.listeners:
            _put(queue, _INTERRUPTED)


class RedisBroadcaster:
    """Redis pub/sub, one connection per process: the process subscribes to a channel in Redis
    once, whatever the number of its local subscriptions, and fans messages out to them. Channel
    names get a prefix so that deployments can share a Redis.

    A subscription is handed out once Redis has confirmed the channel's SUBSCRIBE. When the
    pub/sub connection fails, every subscription of the process is interrupted and the next
    subscription opens a new connection; a confirmation arriving again for a channel already
    confirmed means redis-py re-made the connection by itself (messages in between are lost),
    and interrupts that channel's subscriptions too."""

    def __init__(
        self, url: str, prefix: str = "eic:", confirm_seconds: float = CONFIRM_SECONDS
    ) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._confirm_seconds = confirm_seconds
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._channels: dict[str, _Channel] = {}
        # UNSUBSCRIBEs sent whose answer has not come yet, per Redis channel: a confirmation
        # read before that answer belongs to the subscription that ended, not to a new one.
        self._leaving: dict[str, int] = {}
        self._listening = asyncio.Event()
        self._changes = asyncio.Lock()

    async def publish(self, channel: str, message: str) -> None:
        await self._redis.publish(self._prefix + channel, message)

    async def _read(self, pubsub: Any) -> None:
        while True:
            await self._listening.wait()
            try:
                message = await pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning(
                    "The Redis pub/sub connection failed; interrupting live subscriptions",
                    exc_info=True,
                )
                await self._interrupt_all(pubsub)
                return
            if message:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        redis_channel = str(message.get("channel"))
        channel = self._channels.get(redis_channel[len(self._prefix) :])
        if kind == "unsubscribe":
            left = self._leaving.get(redis_channel, 0) - 1
            if left > 0:
                self._leaving[redis_channel] = left
            else:
                self._leaving.pop(redis_channel, None)
        elif kind == "subscribe" and channel is not None:
            if self._leaving.get(redis_channel):
                return  # the answer to a SUBSCRIBE made before the last UNSUBSCRIBE
            if channel.confirmed.is_set():
                log.warning("Redis pub/sub reconnected by itself; interrupting %s", redis_channel)
                self._forget(redis_channel[len(self._prefix) :], channel)
            else:
                channel.confirmed.set()
        elif kind == "message" and channel is not None:
            for queue in list(channel.listeners):
                _put(queue, str(message["data"]))

    def _forget(self, name: str, channel: _Channel) -> None:
        """Interrupt a channel's subscriptions and stop counting them (their ``finally`` then
        leaves the Redis channel through the usual path, or finds the connection gone)."""
        channel.interrupt()
        if self._channels.get(name) is channel:
            del self._channels[name]
            self._leaving[self._prefix + name] = self._leaving.get(self._prefix + name, 0) + 1
            with contextlib.suppress(Exception):
                task = asyncio.ensure_future(self._pubsub.unsubscribe(self._prefix + name))
                _background.add(task)
                task.add_done_callback(_background.discard)

    async def _interrupt_all(self, pubsub: Any) -> None:
        async with self._changes:
            if self._pubsub is pubsub:
                for channel in self._channels.values():
                    channel.interrupt()
                self._channels.clear()
                self._leaving.clear()
                self._listening.clear()
                self._pubsub = None
        with contextlib.suppress(Exception):
            await pubsub.aclose()

    @asynccontextmanager
    async def subscribe(self, name: str) -> AsyncIterator[AsyncIterator[str]]:
        queue: _Queue = asyncio.Queue(QUEUE_SIZE)
        async with self._changes:
            channel = self._channels.get(name)
            if channel is None:
                # Known, with its listener, before the SUBSCRIBE goes out: a reader already
                # listening to other channels may read Redis's confirmation (and the first
                # messages) while the subscribe call is still awaiting (under uvloop, which
                # `eic serve` runs on, often). Registered after, the confirmation was dropped
                # and the subscription refused as unavailable 5 s later.
                channel = self._channels[name] = _Channel()
                channel.listeners.add(queue)
                try:
                    if self._pubsub is None:
                        self._pubsub = self._redis.pubsub()
                        self._reader = asyncio.create_task(self._read(self._pubsub))
                    await self._pubsub.subscribe(self._prefix + name)
                except Exception as exc:
                    if self._channels.get(name) is channel:
                        del self._channels[name]
                    log.warning("Could not subscribe to Redis: %s", exc)
                    raise BroadcastInterruptedError("Redis is unavailable") from exc
                self._listening.set()
            else:
                channel.listeners.add(queue)
        try:
            try:
                async with asyncio.timeout(self._confirm_seconds):
                    await channel.confirmed.wait()
            except TimeoutError as exc:
                raise BroadcastInterruptedError("Redis did not confirm the subscription") from exc
            if channel.interrupted:
                raise BroadcastInterruptedError("Redis is unavailable")
            yield _messages(queue)
        finally:
            async with self._changes:
                channel.listeners.discard(queue)
                if not channel.listeners and self._channels.get(name) is channel:
                    del self._channels[name]
                    redis_channel = self._prefix + name
                    self._leaving[redis_channel] = self._leaving.get(redis_channel, 0) + 1
                    with contextlib.suppress(Exception):  # the connection may be gone
                        await self._pubsub.unsubscribe(redis_channel)
                    if not self._channels:
                        self._listening.clear()

    async def subscribers(self, channel: str) -> int:
        """Processes subscribed to ``channel`` in Redis (each counts once)."""
        counts = await self._redis.pubsub_numsub(self._prefix + channel)
        return int(counts[0][1]) if counts else 0

    def local_subscribers(self, channel: str) -> int:
        found = self._channels.get(channel)
        return len(found.listeners) if found is not None else 0

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()


# Unsubscribes sent from a synchronous path, kept referenced until they finish.
_background: set[asyncio.Future[Any]] = set()


def broadcaster_for(redis_url: str | None, prefix: str = "eic:") -> Broadcaster:
    if redis_url:
        return RedisBroadcaster(redis_url, prefix)
    return InProcessBroadcaster()


ACCESS_CHANNEL = "access-changed"
# The message on ACCESS_CHANNEL for "anybody's access may have changed".
EVERYONE = "*"


async def announce_access_change(broadcaster: Broadcaster, user_id: uuid.UUID | None) -> None:
    """After a committed change of what someone may read or do (removed from an organisation,
    joined one, signed out, disabled, named moderator), tell every app instance: each forgets
    what it cached of that person's access and checks their open connections again at once.
    ``None`` means anybody. Best effort: if Redis is away, the instances' periodic re-check
    (and their live subscriptions being closed by the same outage) covers it."""
    try:
        await broadcaster.publish(ACCESS_CHANNEL, str(user_id) if user_id else EVERYONE)
    except Exception:
        log.warning("Could not announce an access change", exc_info=True)


async def follow_access_changes(
    broadcaster: Broadcaster, on_change: Callable[[str], None], retry_seconds: float = 1.0
) -> None:
    """Call ``on_change`` with the user id (text) or :data:`EVERYONE` of each access change
    announced, for as long as the app runs. While the feed is down, changes are missed: so
    ``on_change(EVERYONE)`` is called when it is lost and each time it is live again (not on
    every failed attempt in between, which would re-check every connection each second)."""
    was_live = False
    while True:
        try:
            async with broadcaster.subscribe(ACCESS_CHANNEL) as changes:
                was_live = True
                on_change(EVERYONE)
                async for user in changes:
                    on_change(user)
        except BroadcastInterruptedError:
            if was_live:
                log.warning("The feed of access changes was interrupted; subscribing again")
                on_change(EVERYONE)
            was_live = False
        except Exception:  # a bug in on_change must not end the feed
            log.exception("Following access changes failed")
        await asyncio.sleep(retry_seconds)
