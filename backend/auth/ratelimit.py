"""Rate limits on what is costly to answer: registrations per address, expensive reads per
address (anonymous) or per account (signed in).

Counted with the `limits` package's sliding window counters: in Redis when ``EIC_REDIS_URL`` is
set, so every app instance spends from the same budgets, else in the process's memory. A limit
that Redis cannot count is not enforced (fail open, with a warning): these limits keep the
service affordable, and refusing every search while Redis restarts would be the bigger outage.
The outage is logged once per interval (``backend/kit/outages.py``), not once per request.
Sign-in throttling is stricter and lives in ``backend/auth/throttle.py``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from enum import StrEnum

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from backend.kit.errors import throttled
from backend.kit.outages import REDIS, outage_log, unavailable
from backend.settings import Settings

KEY_PREFIX = "eic:rate"


class Budget(StrEnum):
    """What a request spends from; the value names its counters."""

    REGISTRATIONS = "registrations"
    READS_BY_ADDRESS = "reads-by-address"
    READS_BY_ACCOUNT = "reads-by-account"
    EXPORTS_BY_ACCOUNT = "exports-by-account"


_MESSAGES = {
    Budget.REGISTRATIONS: "Too many registrations from this address",
    Budget.READS_BY_ADDRESS: "Too many searches from this address; sign in for a larger budget",
    Budget.READS_BY_ACCOUNT: "Too many searches from this account",
    Budget.EXPORTS_BY_ACCOUNT: "Too many data exports from this account",
}
# Budgets counted per signed-in account, never per address.
PER_ACCOUNT = frozenset({Budget.READS_BY_ACCOUNT, Budget.EXPORTS_BY_ACCOUNT})


class RateLimits:
    """The budgets of one app instance; ``spend`` raises THROTTLED with a retry-after."""

    def __init__(
        self,
        settings: Settings,
        storage: Storage,
        *,
        close: Callable[[], object] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._limits: dict[Budget, list[RateLimitItem]] = {
            Budget.REGISTRATIONS: _items(settings.rate_limit_registrations_per_address),
            Budget.READS_BY_ADDRESS: _items(settings.rate_limit_reads_per_address),
            Budget.READS_BY_ACCOUNT: _items(settings.rate_limit_reads_per_account),
            Budget.EXPORTS_BY_ACCOUNT: _items(settings.rate_limit_exports_per_account),
        }
        self._close = close
        self._now = now

    def limited(self, budget: Budget) -> bool:
        """Whether ``budget`` has any limit (an empty setting turns it off)."""
        return bool(self._limits[budget])

    async def spend(self, budget: Budget, who: str | None) -> None:
        """Count one request of ``who`` (an address or an account id) against the budget.

        The limits of a budget ("10/hour;50/day") are counted in turn; the first one used up
        refuses. A request whose address is unknown (no client) is not counted.
        """
        items = self._limits[budget]
        if not items or who is None:
            return
        try:
            for item in items:
                if not await self._limiter.hit(item, budget.value, who):
                    reset, _ = await self._limiter.get_window_stats(item, budget.value, who)
                    wait = math.ceil(reset - self._now())
                    wait = max(wait, 1)
                    raise throttled(f"{_MESSAGES[budget]}; try again in {wait} seconds", wait)
        except (StorageError, RedisError, OSError) as exc:
            outage_log.failed(unavailable(exc) or REDIS, "rate limits, not counted", exc)

    async def close(self) -> None:
        if self._close is not None:
            result = self._close()
            if hasattr(result, "__await__"):
                await result


def _items(notation: str) -> list[RateLimitItem]:
    return parse_many(notation) if notation else []


def make_rate_limits(settings: Settings) -> RateLimits:
    if settings.redis_url:
        # Our own pool, so that closing the app closes its connections.
        pool = ConnectionPool.from_url(
            settings.redis_url,
            socket_connect_timeout=settings.redis_timeout_seconds,
            socket_timeout=settings.redis_timeout_seconds,
        )
        storage: Storage = RedisStorage(
            "async+" + settings.redis_url,
            implementation="redispy",
            wrap_exceptions=True,
            # So that the keys say whose they are beside other users of the same Redis.
            key_prefix=KEY_PREFIX,
            connection_pool=pool,  # type: ignore[arg-type]
        )
        return RateLimits(settings, storage, close=pool.aclose)
    return RateLimits(settings, MemoryStorage())
