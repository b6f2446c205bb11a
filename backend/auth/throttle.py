"""Login throttling: failed sign-ins counted per account and per client address.

Counters live in memory for a single process, or in Redis when ``EIC_REDIS_URL`` is set so that
every app instance sees the same counts. A fixed window per key keeps it to one round trip.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from backend.settings import Settings


@dataclass(frozen=True, slots=True)
class ThrottleKey:
    """A counter and the number of failures it allows within the window."""

    name: str
    limit: int


class CounterStore(Protocol):
    async def count(self, key: str) -> tuple[int, int]:
        """Attempts so far and seconds until the window ends (0 when there is none)."""
        ...

    async def add(self, key: str, window_seconds: int) -> tuple[int, int]:
        """Count one attempt; the count after it and the seconds left in its window."""
        ...

    async def release(self, key: str) -> None:
        """Take back one attempt (it succeeded), if the window still runs."""
        ...

    async def clear(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryCounters:
    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, float]] = {}

    async def count(self, key: str) -> tuple[int, int]:
        entry = self._counters.get(key)
        now = time.monotonic()
        if entry is None or entry[1] <= now:
            self._counters.pop(key, None)
            return 0, 0
        return entry[0], max(1, math.ceil(entry[1] - now))

    async def add(self, key: str, window_seconds: int) -> tuple[int, int]:
        # No await between read and write: atomic on the event loop.
        now = time.monotonic()
        count, ends = self._counters.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window_seconds
        self._counters[key] = (count + 1, ends)
        if len(self._counters) > 100_000:  # bound memory under a spray of addresses
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        return count + 1, max(1, math.ceil(ends - now))

    async def release(self, key: str) -> None:
        entry = self._counters.get(key)
        if entry is not None and entry[1] > time.monotonic():
            self._counters[key] = (max(entry[0] - 1, 0), entry[1])

    async def clear(self, key: str) -> None:
        self._counters.pop(key, None)

    async def close(self) -> None:
        self._counters.clear()


# DECR only while the window runs: a DECR on an expired key would create one without expiry.
_RELEASE = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end"


class RedisCounters:
    def __init__(self, redis: Redis, prefix: str = "eic:login-throttle:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def count(self, key: str) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self._prefix + key)
            pipe.ttl(self._prefix + key)
            raw, ttl = await pipe.execute()
        return (int(raw) if raw else 0), max(int(ttl), 0)

    async def add(self, key: str, window_seconds: int) -> tuple[int, int]:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._prefix + key)
            pipe.expire(self._prefix + key, window_seconds, nx=True)
            pipe.ttl(self._prefix + key)
            count, _, ttl = await pipe.execute()
        return int(count), max(int(ttl), 0)

    async def release(self, key: str) -> None:
        await self._redis.eval(_RELEASE, 1, self._prefix + key)

    async def clear(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def close(self) -> None:
        await self._redis.aclose()


class LoginThrottle:
    """Counts sign-in attempts before the password is checked.

    An attempt is counted first and given back only when it succeeds, so guesses sent all at
    once are limited as strictly as guesses sent one after another.
    """

    def __init__(self, settings: Settings, store: CounterStore) -> None:
        self._store = store
        self._window = settings.login_throttle_window_seconds
        self._per_account = settings.login_failures_per_account
        self._per_address = settings.login_failures_per_address

    def keys(self, *, email: str, client_address: str | None) -> list[ThrottleKey]:
        # Hashed so that Redis never holds email addresses in clear.
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        keys = [ThrottleKey(f"account:{account}", self._per_account)]
        if client_address:
            keys.append(ThrottleKey(f"address:{client_address}", self._per_address))
        return keys

    async def retry_after(self, keys: list[ThrottleKey]) -> int | None:
        """Seconds to wait if any counter is at its limit, else None (counts nothing)."""
        waits = []
        for key in keys:
            failures, remaining = await self._store.count(key.name)
            if failures >= key.limit:
                waits.append(remaining or self._window)
        return max(waits) if waits else None

    async def attempt(self, keys: list[ThrottleKey]) -> int | None:
        """Count an attempt on every counter; seconds to wait if it is over a limit, else None."""
        waits = []
        for key in keys:
            attempts, remaining = await self._store.add(key.name, self._window)
            if attempts > key.limit:
                waits.append(remaining or self._window)
        return max(waits) if waits else None

    async def record_success(self, keys: list[ThrottleKey]) -> None:
        # The account starts afresh; the address only gets its attempt back, so one office
        # where a whole SHG signs in is not throttled by its own successes.
        await self._store.clear(keys[0].name)
        for key in keys[1:]:
            await self._store.release(key.name)

    async def close(self) -> None:
        await self._store.close()


def make_counter_store(settings: Settings) -> CounterStore:
    if settings.redis_url:
        return RedisCounters(Redis.from_url(settings.redis_url))
    return MemoryCounters()
