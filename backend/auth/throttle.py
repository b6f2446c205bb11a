"""Sign-in throttling that slows attackers down without locking the owner out (OWASP).

Failures are counted per (account, address) pair. After a few free ones, each further attempt
from the pair must wait for a gate that doubles with every attempt (30 s, 60 s, 120 s ... up to
a maximum), so guessing from one address soon costs hours, while the owner signing in from
another address is not slowed at all. Two loose ceilings stay against sprays: failures per
account (many addresses guessing one password each) and per address (one address guessing
across many accounts, as credential stuffing does). A pair that has signed in successfully
before and has not failed since passes both ceilings: the owner at their usual office gets in
while a distributed attack keeps the account's ceiling reached.

Counters live in memory for a single process, or in Redis when ``EIC_REDIS_URL`` is set so that
every app instance sees the same counts. If Redis cannot be reached, each instance counts in its
own memory until Redis answers again (logged once per interval): every guess is still counted,
by the instance that checked it, and an outage of Redis does not stop everybody signing in.

Only a checked wrong password stays counted: an attempt is given back when it is refused, when it
succeeds, and when it fails before the password could be checked (the database away), so that an
outage never turns the owner's retries into a back-off.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from redis.asyncio import Redis

from backend.auth.addresses import limited_unit
from backend.kit.outages import REDIS, RETRY_AFTER_SECONDS, outage_log, unavailable
from backend.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SignInKeys:
    """The counters one sign-in attempt touches."""

    account: str  # failures of the account from anywhere (the account ceiling)
    address: str | None  # failures from the address for any account (the address ceiling)
    pair: str  # failures of the account from this address
    gate: str  # set while the pair must wait before its next attempt
    known: str  # set while the pair is trusted by an earlier successful sign-in


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

    async def claim(self, key: str, seconds: int) -> int:
        """Set ``key`` for ``seconds`` unless it is set: 0 when this call set it, else the
        seconds the existing one has left."""
        ...

    async def mark(self, key: str, seconds: int) -> None:
        """Set ``key`` (its count reads 1) for ``seconds``, whether it was set or not."""
        ...

    async def close(self) -> None: ...


class MemoryCounters:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        # ``now`` is injectable so that tests step the back-off without sleeping.
        self._now = now
        self._counters: dict[str, tuple[int, float]] = {}

    async def count(self, key: str) -> tuple[int, int]:
        entry = self._counters.get(key)
        now = self._now()
        if entry is None or entry[1] <= now:
            self._counters.pop(key, None)
            return 0, 0
        return entry[0], max(1, math.ceil(entry[1] - now))

    async def add(self, key: str, window_seconds: int) -> tuple[int, int]:
        # No await between read and write: atomic on the event loop.
        now = self._now()
        count, ends = self._counters.get(key, (0, 0.0))
        if ends <= now:
            count, ends = 0, now + window_seconds
        self._counters[key] = (count + 1, ends)
        if len(self._counters) > 100_000:  # bound memory under a spray of addresses
            self._counters = {k: v for k, v in self._counters.items() if v[1] > now}
        return count + 1, max(1, math.ceil(ends - now))

    async def release(self, key: str) -> None:
        entry = self._counters.get(key)
        if entry is not None and entry[1] > self._now():
            self._counters[key] = (max(entry[0] - 1, 0), entry[1])

    async def clear(self, key: str) -> None:
        self._counters.pop(key, None)

    async def claim(self, key: str, seconds: int) -> int:
        count, remaining = await self.count(key)
        if count:
            return remaining
        self._counters[key] = (1, self._now() + seconds)
        return 0

    async def mark(self, key: str, seconds: int) -> None:
        self._counters[key] = (1, self._now() + seconds)

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

    async def claim(self, key: str, seconds: int) -> int:
        if await self._redis.set(self._prefix + key, 1, ex=seconds, nx=True):
            return 0
        return max(int(await self._redis.ttl(self._prefix + key)), 1)

    async def mark(self, key: str, seconds: int) -> None:
        await self._redis.set(self._prefix + key, 1, ex=seconds)

    async def close(self) -> None:
        await self._redis.aclose()


class FallbackCounters:
    """Redis's counters, or this process's while Redis cannot be reached.

    After a failure Redis is left alone for a few seconds (then tried again), so that one sign-in
    does not mix the two stores and a down Redis costs no connection attempt per request. Counts
    made in memory stay in memory: while Redis is away each instance allows its own free
    failures, and the counts start afresh in Redis when it is back (the price of not refusing
    every sign-in)."""

    def __init__(
        self,
        primary: CounterStore,
        fallback: CounterStore | None = None,
        *,
        retry_seconds: float = RETRY_AFTER_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._fallback = fallback or MemoryCounters()
        self._retry_seconds = retry_seconds
        self._now = now
        self._down_until = 0.0

    async def _use(self, operation: Callable[[CounterStore], Awaitable[T]]) -> T:
        if self._now() >= self._down_until:
            try:
                return await operation(self._primary)
            except Exception as exc:
                if unavailable(exc) is None:
                    raise
                outage_log.failed(REDIS, "sign-in throttle, counting in this process", exc)
                self._down_until = self._now() + self._retry_seconds
        return await operation(self._fallback)

    async def count(self, key: str) -> tuple[int, int]:
        return await self._use(lambda store: store.count(key))

    async def add(self, key: str, window_seconds: int) -> tuple[int, int]:
        return await self._use(lambda store: store.add(key, window_seconds))

    async def release(self, key: str) -> None:
        await self._use(lambda store: store.release(key))

    async def clear(self, key: str) -> None:
        await self._use(lambda store: store.clear(key))

    async def claim(self, key: str, seconds: int) -> int:
        return await self._use(lambda store: store.claim(key, seconds))

    async def mark(self, key: str, seconds: int) -> None:
        await self._use(lambda store: store.mark(key, seconds))

    async def close(self) -> None:
        await self._primary.close()
        await self._fallback.close()


@dataclass
class Attempt:
    """One counted sign-in attempt: what it counted, so that it can be given back."""

    keys: SignInKeys
    wait: int | None = None  # seconds to wait when the attempt may not be made now
    counted: list[str] = field(default_factory=list)
    gate: bool = False  # this attempt set the pair's gate


class LoginThrottle:
    """Counts sign-in attempts before the password is checked.

    An attempt is counted first and given back when it is refused, succeeds, or fails before the
    password was checked, so guesses sent all at once are limited as strictly as guesses sent one
    after another, and only a checked wrong password stays counted.
    """

    def __init__(self, settings: Settings, store: CounterStore) -> None:
        self._store = store
        self._free = settings.login_free_failures_per_pair
        self._base = settings.login_backoff_base_seconds
        self._max = settings.login_backoff_max_seconds
        self._pair_window = settings.login_pair_window_seconds
        self._window = settings.login_throttle_window_seconds
        self._per_account = settings.login_failures_per_account
        self._per_address = settings.login_failures_per_address
        self._known_for = settings.login_known_pair_seconds

    def keys(self, *, email: str, client_address: str | None) -> SignInKeys:
        client_address = limited_unit(client_address)  # an IPv6 /64 is one client
        # Hashed so that Redis never holds email addresses in clear.
        account = hashlib.sha256(email.encode()).hexdigest()[:32]
        pair = f"{account}:{client_address or '-'}"
        return SignInKeys(
            account=f"account:{account}",
            address=f"address:{client_address}" if client_address else None,
            pair=f"pair:{pair}",
            gate=f"gate:{pair}",
            known=f"known:{pair}",
        )

    def backoff(self, attempt: int) -> int:
        """The wait after the pair's ``attempt``-th attempt (counting from 1) fails."""
        if attempt < self._free:
            return 0
        # Capped before doubling too, so that a long run of failures never makes a huge 2**n.
        doublings = min(attempt - self._free, 32)
        return min(self._base * 2**doublings, self._max)

    async def attempt(self, keys: SignInKeys) -> int | None:
        """Count an attempt; seconds to wait if it may not be made now, else None."""
        return (await self.begin(keys)).wait

    async def begin(self, keys: SignInKeys) -> Attempt:
        """Count an attempt; its ``wait`` is set (and nothing stays counted) if it may not be
        made now. An attempt that goes ahead ends as a :meth:`record_success`, stays counted
        (a checked wrong password), or is handed to :meth:`give_back`."""
        store = self._store
        pair_failures, _ = await store.count(keys.pair)
        trusted = pair_failures == 0 and (await store.count(keys.known))[0] > 0
        counted = [keys.account]
        gate = False
        waits = []
        failures, remaining = await store.add(keys.account, self._window)
        if failures > self._per_account and not trusted:
            waits.append(remaining or self._window)
        if keys.address is not None:
            counted.append(keys.address)
            failures, remaining = await store.add(keys.address, self._window)
            if failures > self._per_address and not trusted:
                waits.append(remaining or self._window)
        if not waits:
            counted.append(keys.pair)
            attempt, _ = await store.add(keys.pair, self._pair_window)
            wait = self.backoff(attempt)
            # The attempt that may fail into a back-off sets the gate before the password is
            # checked, so attempts sent at once cannot all pass an open gate.
            if wait:
                left = await store.claim(keys.gate, wait)
                if left:
                    waits.append(left)
                else:
                    gate = True
        if not waits:
            return Attempt(keys, None, counted, gate)
        for key in counted:  # a refused attempt checks no password: it is no failure
            await store.release(key)
        return Attempt(keys, max(waits))

    async def give_back(self, attempt: Attempt) -> None:
        """The attempt checked no password (the database could not be read): it is no failure,
        and the gate it set is lifted, so the owner's retry after an outage goes ahead."""
        for key in attempt.counted:
            await self._store.release(key)
        if attempt.gate:
            await self._store.clear(attempt.keys.gate)

    async def record_success(self, keys: SignInKeys) -> None:
        # The pair starts afresh and becomes known; the ceilings only get this attempt back,
        # so an owner's success does not wipe out the count of a spray going on.
        await self._store.clear(keys.pair)
        await self._store.clear(keys.gate)
        await self._store.mark(keys.known, self._known_for)
        await self._store.release(keys.account)
        if keys.address is not None:
            await self._store.release(keys.address)

    async def close(self) -> None:
        await self._store.close()


def make_counter_store(settings: Settings) -> CounterStore:
    if settings.redis_url:
        redis = Redis.from_url(
            settings.redis_url,
            socket_connect_timeout=settings.redis_timeout_seconds,
            socket_timeout=settings.redis_timeout_seconds,
        )
        return FallbackCounters(RedisCounters(redis))
    return MemoryCounters()
