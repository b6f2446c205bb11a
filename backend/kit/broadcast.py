"""Fan-out of events on named channels to the subscriptions listening for them (today: forums'
"a post was added").

With ``EIC_REDIS_URL`` the events go through Redis pub/sub, so that a client connected to one
server process receives posts made through another; without it an in-process broadcaster
serves a single process. Messages are ids only: each subscriber loads the post with its own
viewer, so what it sees follows the same rules as a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Protocol

log = logging.getLogger("eic.broadcast")

# A subscriber this far behind loses the oldest events rather than slowing everyone down.
QUEUE_SIZE = 256


class Broadcaster(Protocol):
    async def publish(self, channel: str, message: str) -> None: ...

    def subscribe(self, channel: str) -> Any:
        """``async with broadcaster.subscribe(channel) as messages: async for m in messages``;
        the subscription is live when the block is entered."""
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
        self._queues: dict[str, set[asyncio.Queue[str]]] = {}

    async def publish(self, channel: str, message: str) -> None:
        for queue in list(self._queues.get(channel, ())):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        self._queues.setdefault(channel, set()).add(queue)

        async def messages() -> AsyncIterator[str]:
            while True:
                yield await queue.get()

        try:
            yield messages()
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


class RedisBroadcaster:
    """Redis pub/sub, one connection per process: the process subscribes to a channel in Redis
    once, whatever the number of its local subscriptions, and fans messages out to them. Channel
    names get a prefix so that deployments can share a Redis."""

    def __init__(self, url: str, prefix: str = "eic:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, decode_responses=True)
        self._prefix = prefix
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._queues: dict[str, set[asyncio.Queue[str]]] = {}
        self._listening = asyncio.Event()
        self._changes = asyncio.Lock()

    async def publish(self, channel: str, message: str) -> None:
        await self._redis.publish(self._prefix + channel, message)

    async def _read(self) -> None:
        while True:
            await self._listening.wait()
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=1.0
                )
            except asyncio.CancelledError:
                raise
            except Exception:  # a dropped connection: redis-py reconnects and resubscribes
                log.exception("reading Redis pub/sub failed; retrying")
                await asyncio.sleep(1)
                continue
            if message and message.get("type") == "message":
                channel = str(message["channel"])[len(self._prefix) :]
                for queue in list(self._queues.get(channel, ())):
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait(str(message["data"]))

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        queue: asyncio.Queue[str] = asyncio.Queue(QUEUE_SIZE)
        async with self._changes:
            listeners = self._queues.setdefault(channel, set())
            if not listeners:
                if self._pubsub is None:
                    self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                # SUBSCRIBE is sent before the block starts; Redis counts it once it has read
                # it (`subscribers` shows when). Apps load the thread's latest posts after
                # subscribing, so a post made in between is not lost to them.
                await self._pubsub.subscribe(self._prefix + channel)
                self._listening.set()
                if self._reader is None or self._reader.done():
                    self._reader = asyncio.create_task(self._read())
            listeners.add(queue)

        async def messages() -> AsyncIterator[str]:
            while True:
                yield await queue.get()

        try:
            yield messages()
        finally:
            async with self._changes:
                listeners.discard(queue)
                if not listeners:
                    self._queues.pop(channel, None)
                    with contextlib.suppress(Exception):  # the connection may be gone
                        await self._pubsub.unsubscribe(self._prefix + channel)
                    if not self._queues:
                        self._listening.clear()

    async def subscribers(self, channel: str) -> int:
        """Processes subscribed to ``channel`` in Redis (each counts once)."""
        counts = await self._redis.pubsub_numsub(self._prefix + channel)
        return int(counts[0][1]) if counts else 0

    def local_subscribers(self, channel: str) -> int:
        return len(self._queues.get(channel, ()))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self._redis.aclose()


def broadcaster_for(redis_url: str | None, prefix: str = "eic:") -> Broadcaster:
    if redis_url:
        return RedisBroadcaster(redis_url, prefix)
    return InProcessBroadcaster()
