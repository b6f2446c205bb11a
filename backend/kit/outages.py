"""Which failures mean "a service we depend on is away" (the database, Redis, the disk), and a log
that reports such an outage once per interval instead of once per request.

Everything that answers a client (the GraphQL error masking, the outer HTTP middleware) and
everything that degrades instead of failing (sign-in throttling, rate limits) asks
:func:`unavailable` the same question, so an outage gets one answer everywhere: the typed,
retryable ``SERVICE_UNAVAILABLE`` with a retry-after, never the masked ``INTERNAL`` of a bug.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import logging
import socket
import sqlite3
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from redis import exceptions as redis_errors
from sqlalchemy import exc as sa_errors

# What clients are told to wait before trying again: a database restart or a failover takes
# seconds; the apps back off further themselves when the retry fails too.
RETRY_AFTER_SECONDS = 5
# How often an outage that goes on is summarised in the log (EIC_OUTAGE_LOG_INTERVAL_SECONDS).
LOG_INTERVAL_SECONDS = 30.0

DATABASE = "database"
REDIS = "redis"
STORAGE = "storage"  # the disk or a network path whose owner could not be told

# SQLite's primary result codes that say the file or the machine is the trouble, not the SQL:
# BUSY, LOCKED (another writer past the busy timeout), NOMEM, READONLY (a read-only file or
# mount), IOERR, FULL (disk full), CANTOPEN, PROTOCOL. "no such table" (SQLITE_ERROR) is a bug.
_SQLITE_UNAVAILABLE = frozenset({5, 6, 7, 8, 10, 13, 14, 15})
# PostgreSQL SQLSTATEs (and classes) of the same kind: connection exceptions (08), insufficient
# resources (53: disk full, out of memory, too many connections), a server shutting down or
# starting (57P01-57P03), a statement cancelled by its timeout (57014), a read-only transaction
# (25006: a replica after a failover) and I/O errors (58).
_PG_CLASSES = ("08", "53", "58")
_PG_STATES = frozenset({"57P01", "57P02", "57P03", "57014", "25006"})
# OS errors of an unreachable peer or a full or read-only disk; others (a missing file) are bugs.
_OS_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EROFS,
        errno.EIO,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTUNREACH,
        errno.EHOSTDOWN,
    }
)
_REDIS_UNAVAILABLE = (
    redis_errors.ConnectionError,  # BusyLoadingError too
    redis_errors.TimeoutError,
    redis_errors.ReadOnlyError,
    redis_errors.MasterDownError,
)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception and those it wraps: causes, contexts, and the wrapped originals of the
    libraries between us and the driver (SQLAlchemy's ``orig``, limits' ``storage_error``,
    GraphQL's ``original_error``)."""
    seen: set[int] = set()
    pending = [exc]
    while pending and len(seen) < 20:
        link = pending.pop(0)
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        for name in ("orig", "storage_error", "original_error", "__cause__", "__context__"):
            inner = getattr(link, name, None)
            if isinstance(inner, BaseException):
                pending.append(inner)


def _origin(exc: BaseException) -> str:
    """Which service a bare OS error came from, by the code it was raised in."""
    for link in _chain(exc):
        for frame, _ in traceback.walk_tb(link.__traceback__):
            module = frame.f_globals.get("__name__", "")
            if module.startswith(("sqlalchemy", "asyncpg", "aiosqlite", "backend.kit.db")):
                return DATABASE
            if module.startswith(("redis", "limits")):
                return REDIS
    return STORAGE


def unavailable(exc: BaseException) -> str | None:
    """``database``, ``redis`` or ``storage`` when ``exc`` means that service is away (down,
    unreachable, full, read-only, timing out), so the same request can succeed later; None for
    anything else (a bug, bad input), which must stay a masked INTERNAL error."""
    for link in _chain(exc):
        if isinstance(link, sqlite3.Error):
            code = getattr(link, "sqlite_errorcode", None)
            if code is not None and code & 0xFF in _SQLITE_UNAVAILABLE:
                return DATABASE
            if code is not None:
                return None  # SQLite said what it was: SQL, a constraint, a missing table
        state = getattr(link, "sqlstate", None)
        if isinstance(state, str) and (state in _PG_STATES or state[:2] in _PG_CLASSES):
            return DATABASE
        if isinstance(link, sa_errors.DBAPIError) and link.connection_invalidated:
            return DATABASE
        if isinstance(
            link,
            sa_errors.TimeoutError | sa_errors.DisconnectionError | sa_errors.InterfaceError,
        ):
            return DATABASE
        if isinstance(link, _REDIS_UNAVAILABLE):
            return REDIS
        if isinstance(link, ConnectionError | TimeoutError | socket.gaierror) or (
            isinstance(link, OSError) and link.errno in _OS_ERRNOS
        ):
            return _origin(exc)
    return None


@dataclass
class _Episode:
    """One outage of one service as seen from one place, while it lasts."""

    started: float
    failures: int = 0  # since the last line about it
    last: str = ""
    flush: asyncio.TimerHandle | None = field(default=None, repr=False)


class OutageLog:
    """Logs the first failure of an outage with its traceback, then one line per interval with
    how many more failed, instead of a traceback per request (587 failed requests in 30 s
    wrote 8 MB of log before). An interval without failures ends the outage: the next failure
    logs a traceback again."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = LOG_INTERVAL_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.interval = interval
        self._now = now
        self._episodes: dict[tuple[str, str], _Episode] = {}

    def failed(self, service: str, where: str, exc: BaseException) -> None:
        """Note one failure of ``service`` seen from ``where`` (such as "requests" or
        "sign-in throttle")."""
        key = (service, where)
        now = self._now()
        episode = self._episodes.get(key)
        if episode is not None and now - episode.started >= self.interval and not episode.flush:
            self._summarise(key)  # no event loop to call us back: summarise on the next failure
            episode = self._episodes.get(key)
        if episode is None:
            self._episodes[key] = _Episode(started=now, flush=self._schedule(key))
            self.logger.error(
                "%s unavailable (%s): %s; further failures are summarised every %g s",
                service,
                where,
                _describe(exc),
                self.interval,
                exc_info=exc,
            )
            return
        episode.failures += 1
        episode.last = _describe(exc)

    def _schedule(self, key: tuple[str, str]) -> asyncio.TimerHandle | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        # In a context of its own: the summary is about no single request (its request id "-").
        return loop.call_later(self.interval, self._summarise, key, context=contextvars.Context())

    def _summarise(self, key: tuple[str, str]) -> None:
        episode = self._episodes.get(key)
        if episode is None:
            return
        if episode.failures == 0:
            del self._episodes[key]  # a quiet interval: this outage is over
            return
        service, where = key
        self.logger.warning(
            "%s still unavailable (%s): %d more failures in the last %g s (last: %s)",
            service,
            where,
            episode.failures,
            self.interval,
            episode.last,
        )
        episode.failures = 0
        episode.started = self._now()
        if episode.flush is not None:
            episode.flush = self._schedule(key)

    def reset(self) -> None:
        """Forget every outage (tests start from a quiet log)."""
        for episode in self._episodes.values():
            if episode.flush is not None:
                episode.flush.cancel()
        self._episodes.clear()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


# One per process: the GraphQL masking, the HTTP middleware and the Redis fallbacks report here;
# an outage logs one traceback per place that sees it (its answer to clients differs), not one
# per request.
outage_log = OutageLog(logging.getLogger("eic.outage"))
