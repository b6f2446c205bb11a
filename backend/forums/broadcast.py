"""Fan-out of "a post was added" to the subscriptions listening for it.

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
        """How many subscriptions listen on ``channel`` (across processes with Redis)."""
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

    async def close(self) -> None:
        self._queues.clear()


class RedisBroadcaster:
    """Redis pub/sub; channel names get a prefix so that deployments can share a Redis."""

    def __init__(self, url: str, prefix: str = "eic:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def publish(self, channel: str, message: str) -> None:
        await self._redis.publish(self._prefix + channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        # SUBSCRIBE is sent before the block starts; Redis counts the subscription once it has
        # read it (`subscribers` shows when). Apps load the thread's latest posts after
        # subscribing, so a post made in between is not lost to them.
        await pubsub.subscribe(self._prefix + channel)

        async def messages() -> AsyncIterator[str]:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield str(message["data"])

        try:
            yield messages()
        finally:
            with contextlib.suppress(Exception):  # the connection may already be gone
                await pubsub.unsubscribe()
            await pubsub.aclose()

    async def subscribers(self, channel: str) -> int:
        counts = await self._redis.pubsub_numsub(self._prefix + channel)
        return int(counts[0][1]) if counts else 0

    async def close(self) -> None:
        await self._redis.aclose()


def broadcaster_for(redis_url: str | None, prefix: str = "eic:") -> Broadcaster:
    if redis_url:
        return RedisBroadcaster(redis_url, prefix)
    return InProcessBroadcaster()
