"""What a provider's sender owes the outbox: one outcome per push, in the pushes' order.

The outbox (outbox.py) records outcomes the same way whichever provider gave them, so leases,
retries, backoff, MAYBE_SENT and the removal of dead tokens mean the same for every provider.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import httpx

from backend.notifications.models import PushProvider
from backend.notifications.push.message import Push

log = logging.getLogger("eic.push")

# Failures to connect say the request never left; those past that point leave its fate unknown.
NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# The longest wait before a message is tried again, whatever a provider's Retry-After asks:
# a longer one would outlive most pushes' lifetime (the inbox has them anyway).
MAX_DELAY = timedelta(hours=1)


class Result(StrEnum):
    SENT = "SENT"  # the provider took it
    INVALID_TOKEN = "INVALID_TOKEN"  # noqa: S105 - the token is no longer valid: the device goes
    RETRY = "RETRY"  # not taken: again after the backoff, up to MAX_ATTEMPTS
    GIVE_UP = "GIVE_UP"  # refused for itself: no retry mends it (FAILED at once)
    UNKNOWN = "UNKNOWN"  # went out, no usable answer came: MAYBE_SENT, never sent again


@dataclass(frozen=True, slots=True)
class Outcome:
    result: Result
    reason: str = ""
    ticket: str | None = None  # the provider's id of a sent message
    retry_after: timedelta | None = None  # the provider asked to wait at least this long
    # The server's configuration is at fault (credentials, URL), not the message: logged as an
    # error, and the provider's other pushes of this pass are not tried.
    configuration: bool = False
    # The provider is out (overloaded, down): the pushes not tried yet wait too.
    halts: bool = False
    # False when no request was made for this push (the provider was out, or misconfigured, or
    # the pass had no time left): it waits without using up one of its attempts.
    tried: bool = True


class Sender(Protocol):
    """Sends pushes to one provider."""

    provider: PushProvider

    async def send(
        self, pushes: Sequence[Push], *, timeout_seconds: float, deadline: float
    ) -> list[Outcome]:
        """One outcome per push. No request starts after ``deadline`` (a ``time.monotonic()``);
        a push left unsent for it is RETRY."""
        ...


def unknown_status(status: int) -> bool:
    """5xx but 503 say the provider failed while it may have been taking the request (or a
    gateway gave up waiting for it: 502, 504); 503, like 429 and the other 4xx, says it did not
    take it."""
    return status >= 500 and status != 503


async def post(
    http: httpx.AsyncClient, url: str, *, timeout_seconds: float, **request: Any
) -> httpx.Response | Outcome:
    """POST, waiting at most ``timeout_seconds``; the response, or what became of a request
    that got none: RETRY if it never left, UNKNOWN if it may have arrived."""
    try:
        async with asyncio.timeout(timeout_seconds):
            return await http.post(url, **request)
    except NOT_SENT_ERRORS as exc:
        return Outcome(Result.RETRY, f"{type(exc).__name__}: {exc}"[:500], halts=True)
    except httpx.HTTPError as exc:
        what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Outcome(Result.UNKNOWN, what[:500])
    except TimeoutError:
        return Outcome(Result.UNKNOWN, f"no answer within {timeout_seconds:g} s")


def retry_after(response: httpx.Response, now: float | None = None) -> timedelta | None:
    """The Retry-After header (seconds, or an HTTP date) as a wait, if there is one; at most
    ``MAX_DELAY`` (a huge number of seconds must neither overflow nor postpone for ever)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return min(MAX_DELAY, timedelta(seconds=min(int(value), MAX_DELAY.total_seconds())))
    try:
        when = email.utils.parsedate_to_datetime(value)
        wall = datetime.fromtimestamp(time.time() if now is None else now, UTC)
        wait = when - wall
    except (TypeError, ValueError, OverflowError):
        return None
    return min(MAX_DELAY, max(timedelta(0), wait))


NOT_STARTED = "not sent: no time left in this pass"


async def one_at_a_time(
    pushes: Sequence[Push],
    send_one: Callable[[Push], Awaitable[Outcome]],
    *,
    deadline: float,
    concurrency: int,
) -> list[Outcome]:
    """Each push in a request of its own, ``concurrency`` at once (APNs and FCM HTTP v1 take
    one message per request). Once an answer says the provider is out or misconfigured, the
    pushes not started wait for a later pass with that answer's reason; so do those that would
    start after ``deadline``. Neither uses up an attempt. A push whose sending raises (a key
    that cannot sign, a bug) is RETRY blaming the configuration, and stops the rest likewise,
    while the pushes already answered keep their outcomes."""
    gate = asyncio.Semaphore(concurrency)
    stop: list[Outcome] = []

    async def one(push: Push) -> Outcome:
        async with gate:
            if stop:
                first = stop[0]
                return Outcome(
                    Result.RETRY,
                    first.reason,
                    retry_after=first.retry_after,
                    configuration=first.configuration,
                    tried=False,
                )
            if time.monotonic() > deadline:
                return Outcome(Result.RETRY, NOT_STARTED, tried=False)
            try:
                outcome = await send_one(push)
            except Exception as exc:  # one push's failure must not lose the others' outcomes
                outcome = raised(exc)
            if outcome.halts or outcome.configuration:
                stop.append(outcome)
            return outcome

    return list(await asyncio.gather(*(one(push) for push in pushes)))


def raised(exc: Exception) -> Outcome:
    """What a sender's exception makes of a push: no answer says it went out, and whatever
    raised (most often a key that cannot sign) is the server's to mend, so it waits, blaming
    the configuration."""
    log.error("push: sending raised %s", type(exc).__name__, exc_info=exc)
    return Outcome(Result.RETRY, f"{type(exc).__name__}: {exc}"[:500], configuration=True)
