"""What time it is, as the services see it.

Deadlines, registration windows and check-in times depend on "now". The app reads it from one
clock so that tests can move time forward instead of sleeping.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until told to move (tests, demos of deadlines)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = moment.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def local_day(moment: datetime, zone: str) -> date:
    """The calendar day ``moment`` falls on in the time zone ``zone`` (a cluster's)."""
    return moment.astimezone(ZoneInfo(zone)).date()


def local_midnight(day: date, zone: str) -> datetime:
    """The instant (in UTC) at which ``day`` begins in the time zone ``zone``: exact across
    daylight-saving changes."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def iso_or_none(value: datetime | None) -> str | None:
    """A moment as ISO 8601 text for a JSON document (a data export), or None."""
    return value.isoformat() if value is not None else None
