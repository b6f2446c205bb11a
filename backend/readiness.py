"""What /readyz checks: the database answers and takes writes, and Redis answers when the service
uses it, each within a time limit, so that a stopped server makes the probe fail in seconds
instead of hanging it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from redis.asyncio import Redis
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from backend.kit.db import Database, NotWritableError


async def redis_answers(url: str, seconds: float) -> None:
    # A connection of its own: it tests what a new connection of the service would meet, and
    # nothing the probe leaves behind can hold up the connections that serve requests.
    client = Redis.from_url(url, socket_connect_timeout=seconds, socket_timeout=seconds)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def _state(check: Awaitable[None], seconds: float) -> str:
    """ "ok", or what went wrong, in words an operator reads (the error itself stays out of an
    unauthenticated answer)."""
    try:
        async with asyncio.timeout(seconds):
            await check
    except NotWritableError as exc:
        return exc.reason
    except (TimeoutError, PoolTimeoutError):
        return "timeout"
    except Exception:  # any other failure to reach it
        return "unreachable"
    return "ok"


async def readiness(
    database: Database, *, redis_url: str | None, seconds: float
) -> tuple[bool, dict[str, str]]:
    """Whether the service may take traffic, and the body that says what each dependency did;
    the checks run side by side, so the answer comes within ``seconds``."""
    checks: dict[str, Awaitable[None]] = {"database": database.probe()}
    if redis_url:
        checks["redis"] = redis_answers(redis_url, seconds)
    states = await asyncio.gather(*(_state(check, seconds) for check in checks.values()))
    body = dict(zip(checks, states, strict=True))
    ready = all(state == "ok" for state in states)
    return ready, {"status": "ok" if ready else "unavailable", **body}
