"""Reporting periods of a permit condition.

A period is a calendar month, quarter (January, April, July, October) or year in the cluster's
time zone, named by its first day. A return for it is due ``permit.return_due_days`` days after
its last day, and late from the day after. Only periods that share at least one day with the
permit's validity exist: the first and last may be cut by it for the cap, never for their name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from backend.kit.clock import local_day, local_midnight
from backend.kit.errors import ErrorCode, ServiceError
from backend.permits.models import Frequency, Permit

MONTHS = {Frequency.MONTHLY: 1, Frequency.QUARTERLY: 3, Frequency.YEARLY: 12}


@dataclass(frozen=True, slots=True)
class Period:
    """One reporting period: its first and last day, the day its return is due, and the UTC
    instants it spans in the cluster's time zone (``starts_at`` included, ``ends_at`` not)."""

    start: date
    end: date
    due: date
    starts_at: datetime
    ends_at: datetime

    def overlaps(self, first: date, last: date | None) -> bool:
        """Whether the days ``first``..``last`` (open-ended when ``last`` is None) share a day
        with the period."""
        return first <= self.end and (last is None or last >= self.start)


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def starts_a_period(frequency: Frequency, day: date) -> bool:
    return day.day == 1 and (day.month - 1) % MONTHS[frequency] == 0


def containing(frequency: Frequency, day: date) -> date:
    """The first day of the period (of this frequency) that holds ``day``."""
    step = MONTHS[frequency]
    return date(day.year, (day.month - 1) // step * step + 1, 1)


def period_of(permit: Permit, frequency: Frequency, start: date, timezone: str) -> Period:
    """The period of a condition named by ``start`` (whatever the permit's validity)."""
    following = _add_months(start, MONTHS[frequency])
    end = following - timedelta(days=1)
    return Period(
        start=start,
        end=end,
        due=end + timedelta(days=permit.return_due_days),
        starts_at=local_midnight(start, timezone),
        ends_at=local_midnight(following, timezone),
    )


def named_period(
    permit: Permit, frequency: Frequency, start: date, timezone: str, field: str = "periodStart"
) -> Period:
    """The period that ``start`` names, or VALIDATION on ``field``: a day that does not start
    one, or a period that shares no day with the permit's validity."""
    if not starts_a_period(frequency, start):
        raise ServiceError.of(
            ErrorCode.VALIDATION,
            f"A {frequency.value.lower()} period starts on the first day of "
            + {
                Frequency.MONTHLY: "a month",
                Frequency.QUARTERLY: "January, April, July or October",
                Frequency.YEARLY: "January",
            }[frequency],
            field,
        )
    period = period_of(permit, frequency, start, timezone)
    if not period.overlaps(permit.valid_from, permit.valid_to):
        raise ServiceError.of(
            ErrorCode.VALIDATION,
            f"The permit is valid from {permit.valid_from} to {permit.valid_to}; this period "
            "lies outside it",
            field,
        )
    return period


def is_late(period: Period, filed_at: datetime, timezone: str) -> bool:
    """Filed after the due day (in the cluster's time zone)."""
    return local_day(filed_at, timezone) > period.due


def is_overdue(period: Period, now: datetime, timezone: str) -> bool:
    """The due day has passed: a return still missing now is MISSING."""
    return local_day(now, timezone) > period.due
