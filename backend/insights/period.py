"""The period insights are computed over: calendar days in the cluster's own time zone, and the
months they cover (the monthly series)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from backend.kit.clock import local_day, local_midnight
from backend.kit.errors import Problems

# Ten years of months: every figure costs the same statements, but the monthly series and the
# month expression grow with the period.
MAX_MONTHS = 120
DEFAULT_MONTHS = 12


@dataclass(frozen=True, slots=True)
class Period:
    starts_on: date  # included
    ends_on: date  # included
    time_zone: str
    starts_at: datetime  # UTC, included
    ends_at: datetime  # UTC, excluded: midnight after ends_on
    months: tuple[date, ...]  # the first day of each month the period touches
    month_starts: tuple[datetime, ...]  # UTC: starts_at, then each later month's first midnight

    @property
    def whole_months(self) -> dict[int, date]:
        """The months the period holds from their first day to their last, by index (the
        first and the last month may be cut)."""
        last = len(self.months) - 1
        return {
            index: first
            for index, first in enumerate(self.months)
            if (index > 0 or self.starts_on == first)
            and (index < last or self.ends_on + timedelta(days=1) == _next_month(first))
        }

    @property
    def key(self) -> str:
        return f"{self.starts_on.isoformat()}/{self.ends_on.isoformat()}/{self.time_zone}"


def _next_month(day: date) -> date:
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1)


def period_of(
    *, starts_on: date | None, ends_on: date | None, time_zone: str, now: datetime
) -> Period:
    """The period from ``starts_on`` to ``ends_on`` (both included) in ``time_zone``. Missing
    ends: up to today, from the first day of the month eleven months before the end (twelve
    months in the series). VALIDATION errors name the argument (``from``, ``to``)."""
    today = local_day(now, time_zone)
    end = ends_on or today
    if starts_on is None:
        first = date(end.year, end.month, 1)
        for _ in range(DEFAULT_MONTHS - 1):
            first = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
        starts_on = first
    problems = Problems()
    if starts_on > end:
        problems.add("from", "The period must start on or before its last day (to)")
    elif (end.year - starts_on.year) * 12 + end.month - starts_on.month + 1 > MAX_MONTHS:
        problems.add("to", f"A period covers at most {MAX_MONTHS} months")
    problems.raise_if_any()
    months = [date(starts_on.year, starts_on.month, 1)]
    while _next_month(months[-1]) <= end:
        months.append(_next_month(months[-1]))
    starts_at = local_midnight(starts_on, time_zone)
    return Period(
        starts_on=starts_on,
        ends_on=end,
        time_zone=time_zone,
        starts_at=starts_at,
        ends_at=local_midnight(end + timedelta(days=1), time_zone),
        months=tuple(months),
        month_starts=(starts_at, *(local_midnight(month, time_zone) for month in months[1:])),
    )
