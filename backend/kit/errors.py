"""Expected failures that services raise and the API turns into typed errors.

Services know nothing of GraphQL; they raise :class:`ServiceError` with one or more
:class:`Problem` entries. Mutation payloads carry them as ``errors { code message field }`` and
queries as GraphQL errors whose ``extensions.code`` is the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    CONFLICT = "CONFLICT"
    CAPACITY_REACHED = "CAPACITY_REACHED"
    REGISTRATION_CLOSED = "REGISTRATION_CLOSED"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    THREAD_LOCKED = "THREAD_LOCKED"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    THROTTLED = "THROTTLED"
    TOKEN_INVALID = "TOKEN_INVALID"
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    TOKEN_REUSED = "TOKEN_REUSED"
    INVITE_INVALID = "INVITE_INVALID"
    # an offline copy that cannot be brought up to date by changes: load it again
    RESYNC_REQUIRED = "RESYNC_REQUIRED"
    # a part the server needs (the database, Redis) does not answer: try again after retryAfter
    SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
    # a hazardous waste offered to, or taken by, an organisation without a verified waste
    # licence covering its EWC code on that day
    LICENCE_REQUIRED = "LICENCE_REQUIRED"
    # a device whose push provider (FCM, APNs) this server has no credentials for
    PUSH_PROVIDER_DISABLED = "PUSH_PROVIDER_DISABLED"


@dataclass(frozen=True, slots=True)
class Problem:
    code: ErrorCode
    message: str
    field: str | None = None
    # Seconds until trying again can succeed; set on THROTTLED and SERVICE_UNAVAILABLE.
    retry_after: int | None = None


class ServiceError(Exception):
    """One or more expected problems; nothing of the unit of work was committed."""

    def __init__(self, *problems: Problem) -> None:
        if not problems:
            raise ValueError("ServiceError needs at least one problem")
        self.problems = list(problems)
        super().__init__("; ".join(p.message for p in problems))

    @property
    def code(self) -> ErrorCode:
        return self.problems[0].code

    @classmethod
    def of(cls, code: ErrorCode, message: str, field: str | None = None) -> ServiceError:
        return cls(Problem(code, message, field))


def throttled(message: str, retry_after: int) -> ServiceError:
    """Over a rate limit or sign-in back-off: the apps read ``retry_after`` (seconds)."""
    return ServiceError(Problem(ErrorCode.THROTTLED, message, None, max(1, retry_after)))


def unavailable(message: str, retry_after: int) -> ServiceError:
    """A part the server depends on is away: the apps try again after ``retry_after`` seconds."""
    return ServiceError(Problem(ErrorCode.SERVICE_UNAVAILABLE, message, None, max(1, retry_after)))


def not_found(what: str, field: str | None = "id") -> ServiceError:
    return ServiceError.of(ErrorCode.NOT_FOUND, f"{what} not found", field)


def forbidden(message: str) -> ServiceError:
    return ServiceError.of(ErrorCode.FORBIDDEN, message)


def check_version(what: str, expected: int | None, current: int) -> None:
    """Offline edits carry the version they saw: a stale one is a CONFLICT, never an overwrite."""
    if expected is not None and expected != current:
        raise ServiceError.of(
            ErrorCode.CONFLICT,
            f"The {what} was changed meanwhile (now version {current}); reload it and apply "
            "your edit again",
            "expectedVersion",
        )


class Problems:
    """Collects validation problems so an app gets all of them from one request."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str, message: str, code: ErrorCode = ErrorCode.VALIDATION) -> None:
        self.items.append(Problem(code, message, field))

    def raise_if_any(self) -> None:
        if self.items:
            raise ServiceError(*self.items)
