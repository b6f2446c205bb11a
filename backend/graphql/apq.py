"""Where automatic persisted queries (Apollo's "register on miss") are kept.

A client sends an operation by its SHA-256 only; on ``PERSISTED_QUERY_NOT_FOUND`` it sends the
text with the hash once, the server keeps the text under the hash (``persisted.py`` checks the
hash and the schema's limits first), and later calls send the hash only. Only when the server
is not trusted-only: there, nothing but the committed manifests runs.

Bounded both ways: each entry expires (``EIC_APQ_TTL_SECONDS``), and the store holds at most
``EIC_APQ_MAX_ENTRIES`` documents and ``EIC_APQ_MAX_BYTES`` of them, none larger than
``EIC_APQ_MAX_DOCUMENT_BYTES``; the first to expire goes first when a bound is reached.

- :class:`MemoryQueryStore`: this process only, least recently used first.
- :class:`RedisQueryStore`: shared by every instance on one Redis. Each document is a string with
  its own expiry (PX); an index (a sorted set by expiry), the sizes and their total keep the
  bounds, all changed in one script. Redis away or slow: a lookup misses (the client sends the
  text, which runs) and a registration is dropped, logged through the outage log; Redis is left
  alone for :data:`REST_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

from redis.asyncio import ConnectionPool, Redis
from redis.exceptions import RedisError

from backend.kit.outages import REDIS, RETRY_AFTER_SECONDS, outage_log, unavailable
from backend.settings import Settings

KEY_PREFIX = "eic:apq:"
REST_SECONDS = float(RETRY_AFTER_SECONDS)


class QueryStore(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, document: str) -> None: ...

    async def close(self) -> None: ...


class MemoryQueryStore:
    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int,
        max_bytes: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._monotonic = monotonic
        # Kept as UTF-8: CPython keeps a text with one character outside the BMP at 4 bytes a
        # character, so a bound counted in UTF-8 bytes over str held up to 4 times as much.
        self._documents: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._documents)

    async def get(self, sha256: str) -> str | None:
        kept = self._documents.get(sha256)
        if kept is None:
            return None
        document, expires_at = kept
        if self._monotonic() >= expires_at:
            self._drop(sha256)
            return None
        self._documents.move_to_end(sha256)
        return document.decode("utf-8")

    async def put(self, sha256: str, document: str) -> None:
        encoded = document.encode("utf-8")
        self._drop(sha256)
        if len(encoded) > self.max_bytes or self.max_entries <= 0:
            return
        self._documents[sha256] = (encoded, self._monotonic() + self.ttl_seconds)
        self.bytes += len(encoded)
        while len(self._documents) > self.max_entries or self.bytes > self.max_bytes:
            self._drop(next(iter(self._documents)))

    async def close(self) -> None:
        self._documents.clear()
        self.bytes = 0

    def _drop(self, sha256: str) -> None:
        kept = self._documents.pop(sha256, None)
        if kept is not None:
            self.bytes -= len(kept[0])


# KEYS: the index (sorted set: hash by expiry in ms), the sizes (hash), their total (string).
# ARGV: the documents' key prefix, the hash, the document, now (ms), ttl (ms), max entries,
# max bytes. Drops what expired, keeps the document, then drops the soonest to expire until
# both bounds hold. One script: two instances registering at once cannot overshoot a bound.
_REGISTER = """
local index, sizes, total = KEYS[1], KEYS[2], KEYS[3]
local prefix, sha, document = ARGV[1], ARGV[2], ARGV[3]
local now, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
local max_entries, max_bytes = tonumber(ARGV[6]), tonumber(ARGV[7])
local function drop(member)
  local size = tonumber(redis.call('HGET', sizes, member) or '0')
  redis.call('DEL', prefix .. member)
  redis.call('HDEL', sizes, member)
  redis.call('ZREM', index, member)
  if size > 0 then redis.call('DECRBY', total, size) end
end
for _, member in ipairs(redis.call('ZRANGEBYSCORE', index, '-inf', now)) do drop(member) end
drop(sha)
if max_entries <= 0 or #document > max_bytes then return 0 end
redis.call('SET', prefix .. sha, document, 'PX', ttl)
redis.call('ZADD', index, now + ttl, sha)
redis.call('HSET', sizes, sha, #document)
redis.call('INCRBY', total, #document)
while redis.call('ZCARD', index) > max_entries
    or tonumber(redis.call('GET', total) or '0') > max_bytes do
  local oldest = redis.call('ZRANGE', index, 0, 0)[1]
  if not oldest then  -- a total that drifted (keys deleted by hand): nothing is left to count
    redis.call('SET', total, 0)
    break
  end
  drop(oldest)
end
return 1
"""


class RedisQueryStore:
    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        ttl_seconds: float,
        max_entries: int,
        max_bytes: int,
        prefix: str = KEY_PREFIX,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ) -> None:
        # Our own pool, so that closing the app closes its connections.
        self._pool = ConnectionPool.from_url(
            url, socket_connect_timeout=timeout, socket_timeout=timeout
        )
        self._redis = Redis(connection_pool=self._pool)
        self._register = self._redis.register_script(_REGISTER)
        self._timeout = timeout
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.prefix = prefix
        self.index_key = f"{prefix}index"
        self._keys = [self.index_key, f"{prefix}sizes", f"{prefix}bytes"]
        self._monotonic = monotonic
        self._now = now
        self._resting_until = 0.0
        self._closed = False

    def document_key(self, sha256: str) -> str:
        return f"{self.prefix}query:{sha256}"

    def _resting(self) -> bool:
        return self._closed or self._monotonic() < self._resting_until

    def _failed(self, exc: BaseException) -> None:
        self._resting_until = self._monotonic() + REST_SECONDS
        outage_log.failed(unavailable(exc) or REDIS, "persisted queries, not used", exc)

    async def get(self, sha256: str) -> str | None:
        if self._resting():
            return None
        try:
            async with asyncio.timeout(self._timeout):
                raw = await self._redis.get(self.document_key(sha256))
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)
            return None
        if raw is None:
            return None
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

    async def put(self, sha256: str, document: str) -> None:
        if self._resting():
            return
        try:
            async with asyncio.timeout(self._timeout):
                await self._register(
                    keys=self._keys,
                    args=[
                        f"{self.prefix}query:",
                        sha256,
                        document.encode("utf-8"),
                        round(self._now() * 1000),
                        max(1, round(self.ttl_seconds * 1000)),
                        self.max_entries,
                        self.max_bytes,
                    ],
                )
        except (RedisError, OSError, TimeoutError) as exc:
            self._failed(exc)

    async def close(self) -> None:
        self._closed = True
        await self._pool.aclose()


def query_store_for(settings: Settings) -> QueryStore | None:
    """No store on a trusted-only server or with EIC_APQ_ENABLED=false; else Redis or memory."""
    if settings.trusted_operations_only or not settings.apq_enabled:
        return None
    if settings.redis_url:
        return RedisQueryStore(
            settings.redis_url,
            timeout=settings.redis_timeout_seconds,
            ttl_seconds=settings.apq_ttl_seconds,
            max_entries=settings.apq_max_entries,
            max_bytes=settings.apq_max_bytes,
        )
    return MemoryQueryStore(
        ttl_seconds=settings.apq_ttl_seconds,
        max_entries=settings.apq_max_entries,
        max_bytes=settings.apq_max_bytes,
    )
