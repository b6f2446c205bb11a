"""Where the response cache (``backend/graphql/response_cache.py``) keeps its answers and the
table versions that say whether a kept answer still shows what the database holds.

Every committed write bumps a version per table it wrote (``Database.watch_writes``); an answer
is kept with the versions of the tables its statements read, taken before they ran, and is
served only while all of them are unchanged and it has not expired.

- :class:`MemoryResponseStore`: this process only, a least-recently-used map bounded by entries
  and bytes. Writes by another process (a second worker, ``eic run-due-jobs`` from cron) do not
  reach its versions: their effect is seen when the answers expire (at most the ``max-age`` the
  server sends).
- :class:`RedisResponseStore`: every instance on one Redis shares the answers and the versions.
  Redis away or slower than ``EIC_REDIS_TIMEOUT_SECONDS``: the request is answered without the
  cache (never failed), the outage is logged through the outage log, and Redis is left alone
  for :data:`REST_SECONDS`. A version bump that could not be sent is kept and sent before this
  process uses Redis again; until then other instances may serve answers of those tables, at
  most until they expire.
"""

from __future__ import annotations

import asyncio
import json
import struct
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from backend.kit.db import ALL_TABLES
from backend.kit.outages import REDIS, RETRY_AFTER_SECONDS, outage_log, unavailable

Versions = Mapping[str, int]
Headers = tuple[tuple[bytes, bytes], ...]

# After a failure, how long the Redis store answers "unavailable" without trying: a Redis that
# hangs costs one timeout per interval, not one per request.
REST_SECONDS = float(RETRY_AFTER_SECONDS)
KEY_PREFIX = "eic:cache:"


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One kept answer: its body as sent without compression and gzipped (when worth it), its
    headers (not the length nor the encoding), its strong ETag, and what it depends on."""

    body: bytes
    gzipped: bytes | None
    headers: Headers
    etag: bytes
    stored_at: float  # seconds on the app's clock
    expires_at: float
    versions: tuple[tuple[str, int], ...]  # (table, version) of every table it read
    budgets: tuple[str, ...]  # the rate-limit budgets its computation spent from

    @property
    def size(self) -> int:
        return (
            len(self.body)
            + len(self.gzipped or b"")
            + sum(len(k) + len(v) for k, v in self.headers)
        )

    def fresh(self, versions: Versions, now: float) -> bool:
        """Not expired, and no table it read was written since it was computed."""
        if now >= self.expires_at or now < self.stored_at:
            return False
        return all(versions.get(table, 0) == version for table, version in self.versions)


def versions_of(tables: set[str], snapshot: Versions) -> tuple[tuple[str, int], ...]:
    """The versions an answer that read ``tables`` is kept with: those of the snapshot taken
    before its statements ran, and always the version of "every table" (DDL bumps it)."""
    return tuple(sorted((table, snapshot.get(table, 0)) for table in tables | {ALL_TABLES}))


@dataclass(frozen=True, slots=True)
class Lookup:
    """What a lookup found (None: nothing fresh or nothing at all) and the versions it saw,
    which an answer computed after it is kept with."""

    answer: StoredAnswer | None
    versions: Versions


class ResponseStore(Protocol):
    async def lookup(self, key: str, now: float) -> Lookup | None:
        """The fresh answer kept under ``key`` if any, with the current versions; None when
        the store cannot be asked (answer without the cache)."""
        ...

    async def keep(self, key: str, answer: StoredAnswer, now: float) -> None: ...

    async def tables_written(self, tables: frozenset[str]) -> None: ...

    async def close(self) -> None: ...


class MemoryResponseStore:
    """The answers and versions of this process (no Redis)."""

    def __init__(self, *, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.versions: dict[str, int] = {}
        self._answers: OrderedDict[str, StoredAnswer] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._answers)

    def __contains__(self, key: object) -> bool:
        return key in self._answers

    @property
    def bytes(self) -> int:
        return self._bytes

    async def lookup(self, key: str, now: float) -> Lookup | None:
        answer = self._answers.get(key)
        if answer is not None:
            if answer.fresh(self.versions, now):
                self._answers.move_to_end(key)
            else:
                self._drop(key)
                answer = None
        return Lookup(answer, dict(self.versions))

    async def keep(self, key: str, answer: StoredAnswer, now: float) -> None:
        if answer.size > self.max_bytes or self.max_entries <= 0:
            return
        self._drop(key)
        self._answers[key] = answer
        self._bytes += answer.size
        while len(self._answers) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._answers)))

    async def tables_written(self, tables: frozenset[str]) -> None:
        for table in tables:
            self.versions[table] = self.versions.get(table, 0) + 1

    async def close(self) -> None:
        self._answers.clear()
        self._bytes = 0

    def _drop(self, key: str) -> None:
        answer = self._answers.pop(key, None)
        if answer is not None:
            self._bytes -= answer.size


class RedisResponseStore:
    """Answers as strings with an expiry (PX) under ``<prefix>answer:<key>``, the versions in
    one hash ``<prefix>tables``. A lookup is one round trip (the answer and the versions,
    pipelined); keeping an answer one more; a write's bump one."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        prefix: str = KEY_PREFIX,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # Our own pool, so that closing the app closes its connections.
        self._pool = ConnectionPool.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._redis = Redis(connection_pool=self._pool)
        self._timeout = timeout
        self._prefix = prefix
        self._versions_key = f"{prefix}tables"
        self._monotonic = monotonic
        self._resting_until = 0.0
        self._unsent: set[str] = set()  # bumps that did not reach Redis yet
        self._closed = False

    def _answer_key(self, key: str) -> str:
        return f"{self._prefix}answer:{key}"

    def _resting(self) -> bool:
        return self._closed or self._monotonic() < self._resting_until

    def _failed(self, exc: BaseException) -> None:
        self._resting_until = self._monotonic() + REST_SECONDS
        outage_log.failed(unavailable(exc) or REDIS, "response cache, not used", exc)

    async def lookup(self, key: str, now: float) -> Lookup | None:
        if self._resting():
            return None
        unsent = sorted(self._unsent)
        try:
            async with asyncio.timeout(self._timeout):
                pipe = self._redis.pipeline(transaction=False)
                for table in unsent:  # first, so that the versions read include them
                    pipe.hincrby(self._versions_key, table, 1)
                pipe.get(self._answer_key(key))
                pipe.hgetall(self._versions_key)
                *_, raw, stored_versions = await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return None
        self._unsent.difference_update(unsent)
        versions = {name.decode(): int(value) for name, value in stored_versions.items()}
        answer = _decode(raw) if raw else None
        if answer is not None and not answer.fresh(versions, now):
            answer = None
        return Lookup(answer, versions)

    async def keep(self, key: str, answer: StoredAnswer, now: float) -> None:
        ttl_ms = round((answer.expires_at - now) * 1000)
        if ttl_ms <= 0 or self._resting():
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.set(self._answer_key(key), _encode(answer), px=ttl_ms)
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)

    async def tables_written(self, tables: frozenset[str]) -> None:
        if self._closed:
            return
        self._unsent |= tables
        if self._resting():
            return
        unsent = sorted(self._unsent)
        try:
            async with asyncio.timeout(self._timeout):
                pipe = self._redis.pipeline(transaction=False)
                for table in unsent:
                    pipe.hincrby(self._versions_key, table, 1)
                await pipe.execute()
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return
        self._unsent.difference_update(unsent)

    async def close(self) -> None:
        self._closed = True
        await self._pool.aclose()


_LENGTH = struct.Struct("!I")


def _encode(answer: StoredAnswer) -> bytes:
    header = json.dumps(
        {
            "e": answer.etag.decode("latin-1"),
            "s": answer.stored_at,
            "x": answer.expires_at,
            "v": answer.versions,
            "b": answer.budgets,
            "h": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in answer.headers],
            "n": len(answer.body),
        },
        separators=(",", ":"),
    ).encode()
    return b"".join((_LENGTH.pack(len(header)), header, answer.body, answer.gzipped or b""))


def _decode(raw: bytes) -> StoredAnswer | None:
    """The answer, or None for something that is not one (a key of another version)."""
    try:
        (length,) = _LENGTH.unpack_from(raw)
        header = json.loads(raw[_LENGTH.size : _LENGTH.size + length])
        rest = raw[_LENGTH.size + length :]
        size = int(header["n"])
        return StoredAnswer(
            body=rest[:size],
            gzipped=rest[size:] or None,
            headers=tuple((k.encode("latin-1"), v.encode("latin-1")) for k, v in header["h"]),
            etag=header["e"].encode("latin-1"),
            stored_at=float(header["s"]),
            expires_at=float(header["x"]),
            versions=tuple((str(t), int(v)) for t, v in header["v"]),
            budgets=tuple(str(b) for b in header["b"]),
        )
    except (ValueError, KeyError, TypeError, struct.error):
        return None
