"""Input checks every domain shares; each adds a :class:`Problem` rather than raising, so an app
gets all of a form's mistakes from one request."""

from __future__ import annotations

import functools
import re
import unicodedata
import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from backend.kit.errors import Problems

LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


@dataclass(frozen=True, slots=True)
class Place:
    """A point and the name people use for it."""

    lat: float
    lon: float
    place_name: str = ""


def has_control_characters(value: str, *, multiline: bool) -> bool:
    # PostgreSQL text cannot hold NUL at all, and no name should carry invisible controls.
    allowed = "\n\r\t" if multiline else ""
    return any(unicodedata.category(c)[0] == "C" and c not in allowed for c in value)


def check_text(
    problems: Problems,
    field: str,
    value: str,
    *,
    min_length: int,
    max_length: int,
    multiline: bool = False,
) -> None:
    length = len(value.strip())
    if length < min_length:
        problems.add(field, f"Must have at least {min_length} characters")
    elif length > max_length:
        problems.add(field, f"Must have at most {max_length} characters")
    elif has_control_characters(value, multiline=multiline):
        problems.add(field, "Must not contain control characters")


def check_place(problems: Problems, field: str, place: Place) -> None:
    if not -90 <= place.lat <= 90:
        problems.add(f"{field}.lat", "Latitude must be between -90 and 90")
    if not -180 <= place.lon <= 180:
        problems.add(f"{field}.lon", "Longitude must be between -180 and 180")
    check_text(problems, f"{field}.placeName", place.place_name, min_length=0, max_length=200)


def check_language(problems: Problems, field: str, tag: str) -> None:
    if not LANGUAGE_TAG.fullmatch(tag) or len(tag) > 16:
        problems.add(field, "Use a BCP 47 language tag such as en, ja or vi")


def parse_uuid(problems: Problems, field: str, value: str) -> uuid.UUID:
    """The id, or a problem (and a placeholder that matches nothing) if it is not one."""
    try:
        return uuid.UUID(value)
    except ValueError:
        problems.add(field, "Not a valid id")
        return uuid.UUID(int=0)


@functools.cache
def time_zones() -> frozenset[str]:
    """IANA zone names, without the aliases calendar programs do not know (posix/, right/,
    localtime, Factory ...)."""
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if not name.startswith(("posix/", "right/"))
        and name not in {"localtime", "posixrules", "Factory"}
    )


def check_time_zone(problems: Problems, field: str, name: str) -> bool:
    if name not in time_zones():
        problems.add(field, "Use an IANA time zone such as Asia/Tokyo")
        return False
    return True


def check_utc(problems: Problems, field: str, value: datetime | None) -> datetime | None:
    """The time in UTC, or a problem: it must carry its offset, and exist in UTC (year 1 at
    +05:00 and year 9999 at -05:00 do not)."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        problems.add(field, "Give the time with its offset, such as 2027-01-31T09:00:00+09:00")
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        problems.add(field, "Give a time between the years 1 and 9999 in UTC")
        return None


# A field an update leaves as it is (the app did not send it), as opposed to None (clear it).
# One object for every domain, so the GraphQL layer can translate Strawberry's UNSET once.
UNCHANGED: Any = object()
