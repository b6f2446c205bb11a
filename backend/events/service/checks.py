"""Checks of event forms; each adds problems so an app gets all of them at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue.models import Material
from backend.events.models import (
    Event,
    EventFormat,
    EventKind,
    EventTopic,
)
from backend.events.service.inputs import (
    MAX_CAPACITY,
    MAX_DURATION,
    MAX_TOPICS,
)
from backend.kit.errors import Problems
from backend.kit.validation import (
    Place,
    check_language,
    check_place,
    check_text,
    check_time_zone,
    has_control_characters,
)

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _zone(problems: Problems, field_name: str, name: str) -> None:
    check_time_zone(problems, field_name, name)


def _aware(problems: Problems, field_name: str, value: datetime | None) -> bool:
    if value is not None and value.tzinfo is None:
        problems.add(field_name, "Give the time with its offset, such as 2026-12-10T14:00:00+09:00")
        return False
    # Years far away overflow time-zone arithmetic (year 1 at +01:00 is before year 1 UTC).
    if value is not None and not _in_range(value):
        problems.add(field_name, "Give a time between the years 2000 and 2100")
        return False
    return True


def _in_range(value: datetime) -> bool:
    if not 1999 <= value.year <= 2101:  # before converting: year 1 at +05:00 overflows
        return False
    return EARLIEST <= value.astimezone(UTC) <= LATEST


def _check_url(problems: Problems, field_name: str, url: str) -> None:
    if len(url) > 500:
        problems.add(field_name, "Must have at most 500 characters")
        return
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme != "https" or not parts.hostname:
        problems.add(field_name, "Must be an https:// address")
    elif any(c.isspace() for c in url) or has_control_characters(url, multiline=False):
        problems.add(field_name, "Must not contain spaces or control characters")


def normalise_topics(problems: Problems, topics: list[str]) -> list[str]:
    if len(topics) > MAX_TOPICS:
        problems.add("topics", f"At most {MAX_TOPICS} topics")
        return []
    seen: dict[str, None] = {}
    for index, topic in enumerate(topics):
        cleaned = " ".join(topic.split()).lower()
        if not 1 <= len(cleaned) <= 40 or has_control_characters(cleaned, multiline=False):
            problems.add(f"topics.{index}", "A topic has 1 to 40 characters, no control characters")
            continue
        seen.setdefault(cleaned, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class _Schedule:
    kind: EventKind
    format: EventFormat
    starts_at: datetime
    ends_at: datetime
    timezone: str
    capacity: int
    location: Place | None
    online_url: str | None
    registration_opens_at: datetime | None
    registration_closes_at: datetime | None


def _check_schedule(problems: Problems, s: _Schedule) -> None:
    times_ok = all(
        [
            _aware(problems, "startsAt", s.starts_at),
            _aware(problems, "endsAt", s.ends_at),
            _aware(problems, "registrationOpensAt", s.registration_opens_at),
            _aware(problems, "registrationClosesAt", s.registration_closes_at),
        ]
    )
    _zone(problems, "timezone", s.timezone)
    if times_ok:
        if s.ends_at <= s.starts_at:
            problems.add("endsAt", "Must be after the start")
        elif s.ends_at - s.starts_at > MAX_DURATION:
            problems.add("endsAt", "An event lasts at most 31 days")
        opens, closes = s.registration_opens_at, s.registration_closes_at
        if opens is not None and closes is not None and closes <= opens:
            problems.add("registrationClosesAt", "Must be after registration opens")
        if closes is not None and closes > s.ends_at:
            problems.add("registrationClosesAt", "Registration must close by the end of the event")
        if opens is not None and opens >= s.ends_at:
            problems.add("registrationOpensAt", "Registration must open before the event ends")
    if not 1 <= s.capacity <= MAX_CAPACITY:
        problems.add("capacity", f"Must be between 1 and {MAX_CAPACITY}")
    if s.format in (EventFormat.IN_PERSON, EventFormat.HYBRID):
        if s.location is None:
            problems.add("location", "In-person and hybrid events need a venue")
        else:
            check_place(problems, "location", s.location)
    elif s.location is not None:
        check_place(problems, "location", s.location)
    if s.format in (EventFormat.ONLINE, EventFormat.HYBRID) and not s.online_url:
        problems.add("onlineUrl", "Online and hybrid events need a link")
    if s.online_url:
        _check_url(problems, "onlineUrl", s.online_url)


def _check_texts(
    problems: Problems, title: str | None, description: str | None, language: str | None
) -> None:
    if title is not None:
        check_text(problems, "title", title, min_length=3, max_length=200)
    if description is not None:
        check_text(
            problems, "description", description, min_length=0, max_length=10_000, multiline=True
        )
    if language is not None:
        check_language(problems, "language", language)


async def _set_topics(
    session: AsyncSession, event: Event, topics: list[str], *, existing: list[EventTopic]
) -> None:
    """Topics that name a catalogue material become material topics; the rest free tags.

    Topics the event already has are kept as they are (only their position changes): the unit
    of work inserts before it deletes, so re-creating one would collide with its old row on the
    (event, topic) unique constraints.
    """
    known = set(
        (await session.scalars(select(Material.code).where(Material.code.in_(topics)))).all()
    )
    kept = {topic.material_code or topic.tag: topic for topic in existing}
    chosen = []
    for position, topic in enumerate(topics):
        row = kept.get(topic) or EventTopic(
            material_code=topic if topic in known else None,
            tag=None if topic in known else topic,
        )
        row.position = position
        chosen.append(row)
    event.topics = chosen
