"""Knowledge-transfer events: from draft to published (or cancelled), registrations with a
waiting list and approvals, check-in, search and calendar feeds.

Every public function is keyword-only, owns its unit of work and takes ``now`` from the app's
clock, so deadlines are testable without sleeping.

Seats are counted on the event row (``seats_taken``). Every change to a registration's seats
first locks the event row, then takes seats with a conditional UPDATE that a CHECK constraint
backs: no interleaving of requests can confirm more seats than the capacity.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from backend.auth.viewer import Anonymous, Viewer
from backend.db import Database
from backend.errors import ErrorCode, Problems, ServiceError, check_version, not_found
from backend.events import policies
from backend.events.models import (
    CalendarFeed,
    Event,
    EventFormat,
    EventKind,
    EventRegistration,
    EventStatus,
    EventTopic,
    RegistrationStatus,
)
from backend.geo import within_radius
from backend.identity.models import Cluster, Organisation, OrganisationKind, User
from backend.marketplace import service as marketplace_service
from backend.marketplace.models import Material
from backend.notifications import service as notifications
from backend.notifications.models import NotificationKind
from backend.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.validation import (
    Place,
    check_language,
    check_place,
    check_text,
    has_control_characters,
)

MAX_CAPACITY = 100_000
MAX_SEATS_PER_REGISTRATION = 100
MAX_TOPICS = 20
MAX_DURATION = timedelta(days=31)
MAX_RADIUS_KM = 500.0
# Check-in opens a while before the start (people arrive early) and stays open for a day after
# the end, so an organiser can complete attendance from a paper list.
CHECK_IN_OPENS_BEFORE = timedelta(hours=3)
CHECK_IN_CLOSES_AFTER = timedelta(days=1)
ACTIVE = (
    RegistrationStatus.CONFIRMED,
    RegistrationStatus.WAITLISTED,
    RegistrationStatus.PENDING_APPROVAL,
)
SUBJECT = "EVENT"
FEED_TOKEN_BYTES = 24


# ---------------------------------------------------------------------------------------------
# Inputs


UNCHANGED: Any = object()


@dataclass(frozen=True, slots=True)
class EventDraft:
    """What an organiser sends to create an event; ``id`` may be the app's own UUID."""

    kind: EventKind
    format: EventFormat
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    capacity: int
    cluster_id: uuid.UUID
    language: str = "en"
    description: str = ""
    location: Place | None = None
    online_url: str | None = None
    topics: list[str] = field(default_factory=list)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    requires_approval: bool = False
    id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class EventChanges:
    """Fields left unset stay as they are; the optional ones may be set to None."""

    title: str | None = None
    description: str | None = None
    kind: EventKind | None = None
    format: EventFormat | None = None
    language: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    timezone: str | None = None
    capacity: int | None = None
    location: Place | None = UNCHANGED
    online_url: str | None = UNCHANGED
    topics: list[str] | None = None
    registration_opens_at: datetime | None = UNCHANGED
    registration_closes_at: datetime | None = UNCHANGED
    requires_approval: bool | None = None


@dataclass(frozen=True, slots=True)
class Near:
    lat: float
    lon: float
    radius_km: float


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Published (and, if asked, cancelled) events. Without a time range: upcoming ones, that is
    not yet ended."""

    starts_after: datetime | None = None
    starts_before: datetime | None = None
    near: Near | None = None
    cluster_id: uuid.UUID | None = None
    topic: str | None = None
    material_code: str | None = None
    format: EventFormat | None = None
    kind: EventKind | None = None
    language: str | None = None
    organisation_id: uuid.UUID | None = None
    include_cancelled: bool = False


@dataclass(frozen=True, slots=True)
class EventView:
    """An event as one viewer sees it: with their own registration and, in a near-search, the
    distance."""

    event: Event
    my_registration: EventRegistration | None = None
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class RegistrationView:
    registration: EventRegistration
    # 1 for the first on the waiting list; None unless waitlisted.
    waitlist_position: int | None = None


@dataclass(frozen=True, slots=True)
class Participant:
    registration: EventRegistration
    user: User
    organisation: Organisation | None


class ParticipantFilter(StrEnum):
    ALL = "ALL"
    CONFIRMED = "CONFIRMED"
    WAITLISTED = "WAITLISTED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    CHECKED_IN = "CHECKED_IN"


# ---------------------------------------------------------------------------------------------
# Checks


def _zone(problems: Problems, field_name: str, name: str) -> ZoneInfo | None:
    try:
        if not name or len(name) > 64:
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.add(field_name, "Use an IANA time zone such as Asia/Tokyo")
        return None


def _aware(problems: Problems, field_name: str, value: datetime | None) -> bool:
    if value is not None and value.tzinfo is None:
        problems.add(field_name, "Give the time with its offset, such as 2026-12-10T14:00:00+09:00")
        return False
    return True


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


async def _set_topics(session: AsyncSession, event: Event, topics: list[str]) -> None:
    """Topics that name a catalogue material become material topics; the rest free tags."""
    known = set(
        (await session.scalars(select(Material.code).where(Material.code.in_(topics)))).all()
    )
    event.topics = [
        EventTopic(
            material_code=topic if topic in known else None,
            tag=None if topic in known else topic,
            position=position,
        )
        for position, topic in enumerate(topics)
    ]


# ---------------------------------------------------------------------------------------------
# Loading


def event_loads() -> tuple[Any, ...]:
    """Loader options for an event's organiser, cluster and topics (usable on their own and
    chained under a registration's ``event``)."""
    return (
        selectinload(Event.organisation).selectinload(Organisation.cluster),
        selectinload(Event.cluster),
        selectinload(Event.topics).selectinload(EventTopic.material),
    )


async def _load(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    return await session.scalar(
        select(Event)
        .where(Event.id == event_id)
        .options(*event_loads())
        .execution_options(populate_existing=True)
    )


async def _locked(session: AsyncSession, event_id: uuid.UUID) -> Event | None:
    """The event with its row locked until the transaction ends (SQLite: the write transaction
    already holds the database's write lock)."""
    return await session.get(Event, event_id, with_for_update=True, populate_existing=True)


async def _view(
    session: AsyncSession, viewer: Viewer | Anonymous, event_id: uuid.UUID
) -> EventView:
    event = await _load(session, event_id)
    assert event is not None
    mine = await _my_registrations(session, viewer, [event_id])
    return EventView(event, mine.get(event_id))


async def _my_registrations(
    session: AsyncSession, viewer: Viewer | Anonymous, event_ids: list[uuid.UUID]
) -> dict[uuid.UUID, EventRegistration]:
    if not isinstance(viewer, Viewer) or not event_ids:
        return {}
    rows = await session.scalars(
        select(EventRegistration).where(
            EventRegistration.user_id == viewer.user_id, EventRegistration.event_id.in_(event_ids)
        )
    )
    return {r.event_id: r for r in rows}


# ---------------------------------------------------------------------------------------------
# Organising


async def create_event(
    *, db: Database, viewer: Viewer, draft: EventDraft, now: datetime
) -> EventView:
    """A DRAFT event of the viewer's organisation. The same client id twice gives it back."""
    policies.create(viewer, draft.kind)
    if viewer.organisation_id is None:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "Act for an organisation to create events")
    problems = Problems()
    _check_texts(problems, draft.title, draft.description, draft.language)
    _check_schedule(
        problems,
        _Schedule(
            draft.kind,
            draft.format,
            draft.starts_at,
            draft.ends_at,
            draft.timezone,
            draft.capacity,
            draft.location,
            draft.online_url,
            draft.registration_opens_at,
            draft.registration_closes_at,
        ),
    )
    topics = normalise_topics(problems, draft.topics)
    try:
        async with db.write() as session:
            if draft.id is not None and (existing := await session.get(Event, draft.id)):
                return await _same_event_again(session, viewer, existing)
            organisation = await session.get(Organisation, viewer.organisation_id)
            if organisation is None:
                raise ServiceError.of(ErrorCode.FORBIDDEN, "Your organisation no longer exists")
            cluster = await session.get(Cluster, draft.cluster_id)
            if cluster is None:
                problems.add("clusterId", "No such cluster", ErrorCode.NOT_FOUND)
            elif (
                organisation.kind is OrganisationKind.COMMUNITY
                and cluster.id != organisation.cluster_id
            ):
                problems.add("clusterId", "Communities hold meetings in their own cluster")
            problems.raise_if_any()
            event = Event(
                cluster_id=draft.cluster_id,
                organisation_id=organisation.id,
                created_by_id=viewer.user_id,
                kind=draft.kind,
                format=draft.format,
                status=EventStatus.DRAFT,
                title=draft.title.strip(),
                description=draft.description.strip(),
                language=draft.language,
                starts_at=draft.starts_at,
                ends_at=draft.ends_at,
                timezone=draft.timezone,
                capacity=draft.capacity,
                seats_taken=0,
                waitlist_count=0,
                queue_counter=0,
                sequence=0,
                version=1,
                online_url=draft.online_url or None,
                registration_opens_at=draft.registration_opens_at,
                registration_closes_at=draft.registration_closes_at,
                requires_approval=draft.requires_approval,
                created_at=now,
                updated_at=now,
            )
            if draft.id is not None:
                event.id = draft.id
            _set_venue(event, draft.location)
            await _set_topics(session, event, topics)
            session.add(event)
            await session.flush()
            return await _view(session, viewer, event.id)
    except IntegrityError:
        if draft.id is None:
            raise
        async with db.read() as session:  # the same client id, created concurrently
            existing = await session.get(Event, draft.id)
            if existing is None:
                raise
            return await _same_event_again(session, viewer, existing)


async def _same_event_again(session: AsyncSession, viewer: Viewer, existing: Event) -> EventView:
    if existing.organisation_id != viewer.organisation_id:
        raise ServiceError.of(ErrorCode.CONFLICT, "This id belongs to another event", "id")
    return await _view(session, viewer, existing.id)


def _set_venue(event: Event, place: Place | None) -> None:
    if place is None:
        event.lat = event.lon = None
        event.place_name = ""
    else:
        event.lat, event.lon, event.place_name = place.lat, place.lon, place.place_name.strip()


async def _managed(session: AsyncSession, viewer: Viewer, event_id: uuid.UUID) -> Event:
    event = await _locked(session, event_id)
    if event is None or not policies.can_read(viewer, event):
        raise not_found("Event")
    policies.manage(viewer, event)
    return event


async def update_event(
    *,
    db: Database,
    viewer: Viewer,
    event_id: uuid.UUID,
    changes: EventChanges,
    expected_version: int | None,
    now: datetime,
) -> EventView:
    """Change an event. Once published, people's calendars pick up the change (SEQUENCE) and
    registrants are told when the time or the venue moves. More capacity promotes the waiting
    list; less than the seats already confirmed is refused."""
    problems = Problems()
    _check_texts(problems, changes.title, changes.description, changes.language)
    topics = None if changes.topics is None else normalise_topics(problems, changes.topics)
    async with db.write() as session:
        event = await _managed(session, viewer, event_id)
        check_version("event", expected_version, event.version)
        if event.status is EventStatus.CANCELLED:
            raise ServiceError.of(ErrorCode.CONFLICT, "A cancelled event cannot be changed")
        if event.ends_at <= now and event.status is EventStatus.PUBLISHED:
            raise ServiceError.of(ErrorCode.CONFLICT, "A past event cannot be changed")
        kind = changes.kind or event.kind
        if changes.kind is not None:
            policies.create(viewer, kind)
        schedule = _Schedule(
            kind,
            changes.format or event.format,
            changes.starts_at or event.starts_at,
            changes.ends_at or event.ends_at,
            changes.timezone or event.timezone,
            event.capacity if changes.capacity is None else changes.capacity,
            (
                (
                    None
                    if event.lat is None
                    else Place(event.lat, event.lon or 0.0, event.place_name)
                )
                if changes.location is UNCHANGED
                else changes.location
            ),
            event.online_url if changes.online_url is UNCHANGED else (changes.online_url or None),
            (
                event.registration_opens_at
                if changes.registration_opens_at is UNCHANGED
                else changes.registration_opens_at
            ),
            (
                event.registration_closes_at
                if changes.registration_closes_at is UNCHANGED
                else changes.registration_closes_at
            ),
        )
        _check_schedule(problems, schedule)
        if schedule.capacity < event.seats_taken:
            problems.add(
                "capacity",
                f"{event.seats_taken} seats are already confirmed; cancel or reject registrations "
                "before lowering the capacity below that",
            )
        if (
            event.status is EventStatus.PUBLISHED
            and changes.requires_approval is False
            and event.requires_approval
        ):
            pending = await session.scalar(
                select(func.count())
                .select_from(EventRegistration)
                .where(
                    EventRegistration.event_id == event.id,
                    EventRegistration.status == RegistrationStatus.PENDING_APPROVAL,
                )
            )
            if pending:
                problems.add(
                    "requiresApproval",
                    f"{pending} registrations wait for approval; approve or reject them first",
                )
        problems.raise_if_any()
        moved = (
            schedule.starts_at != event.starts_at
            or schedule.ends_at != event.ends_at
            or schedule.timezone != event.timezone
            or schedule.format != event.format
            or schedule.location
            != (None if event.lat is None else Place(event.lat, event.lon or 0.0, event.place_name))
        )
        event.kind = kind
        event.format = schedule.format
        event.starts_at, event.ends_at, event.timezone = (
            schedule.starts_at,
            schedule.ends_at,
            schedule.timezone,
        )
        event.online_url = schedule.online_url
        event.registration_opens_at = schedule.registration_opens_at
        event.registration_closes_at = schedule.registration_closes_at
        _set_venue(event, schedule.location)
        if changes.title is not None:
            event.title = changes.title.strip()
        if changes.description is not None:
            event.description = changes.description.strip()
        if changes.language is not None:
            event.language = changes.language
        if changes.requires_approval is not None:
            event.requires_approval = changes.requires_approval
        if topics is not None:
            await session.refresh(event, ["topics"])  # loaded so the old ones are replaced
            await _set_topics(session, event, topics)
        grew = schedule.capacity > event.capacity
        event.capacity = schedule.capacity
        event.version += 1
        event.updated_at = now
        if event.status is EventStatus.PUBLISHED:
            event.sequence += 1
        await session.flush()
        if grew and event.status is EventStatus.PUBLISHED:
            await _promote(session, event, now)
        if moved and event.status is EventStatus.PUBLISHED:
            await _tell_registrants(
                session,
                event,
                NotificationKind.EVENT_CHANGED,
                f"Changed: {event.title}",
                "The time or the place of an event you registered for has changed.",
                now,
            )
        return await _view(session, viewer, event.id)


async def publish_event(
    *, db: Database, viewer: Viewer, event_id: uuid.UUID, now: datetime
) -> EventView:
    async with db.write() as session:
        event = await _managed(session, viewer, event_id)
        if event.status is EventStatus.PUBLISHED:
            return await _view(session, viewer, event.id)  # a retried request
        if event.status is not EventStatus.DRAFT:
            raise ServiceError.of(ErrorCode.CONFLICT, "Only a draft can be published")
        if event.starts_at <= now:
            raise ServiceError.of(
                ErrorCode.VALIDATION, "The event has already started; move its start", "startsAt"
            )
        event.status = EventStatus.PUBLISHED
        event.published_at = now
        event.updated_at = now
        event.version += 1
        await session.flush()
        return await _view(session, viewer, event.id)


async def cancel_event(
    *, db: Database, viewer: Viewer, event_id: uuid.UUID, reason: str, now: datetime
) -> EventView:
    """Cancel a draft or published event. Registrations stay (the calendars show the event as
    cancelled); everyone still registered is told."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        event = await _locked(session, event_id)
        if event is None or not policies.can_read(viewer, event):
            raise not_found("Event")
        policies.cancel(viewer, event)
        if event.status is EventStatus.CANCELLED:
            return await _view(session, viewer, event.id)
        was_published = event.status is EventStatus.PUBLISHED
        event.status = EventStatus.CANCELLED
        event.cancelled_at = now
        event.cancellation_reason = reason.strip()
        event.updated_at = now
        event.version += 1
        event.sequence += 1
        await session.flush()
        if was_published:
            await _tell_registrants(
                session,
                event,
                NotificationKind.EVENT_CANCELLED,
                f"Cancelled: {event.title}",
                event.cancellation_reason,
                now,
            )
        return await _view(session, viewer, event.id)


async def _tell_registrants(
    session: AsyncSession,
    event: Event,
    kind: NotificationKind,
    title: str,
    body: str,
    now: datetime,
) -> None:
    user_ids = (
        await session.scalars(
            select(EventRegistration.user_id)
            .where(EventRegistration.event_id == event.id, EventRegistration.status.in_(ACTIVE))
            .order_by(EventRegistration.queue_number)
        )
    ).all()
    await notifications.add(
        session,
        user_ids=user_ids,
        kind=kind,
        title=title,
        body=body,
        subject_type=SUBJECT,
        subject_id=event.id,
        now=now,
    )


# ---------------------------------------------------------------------------------------------
# Registering


def registration_window(event: Event) -> tuple[datetime | None, datetime]:
    """When people may register: from the opening time (or publication) until the closing time
    or, without one, the start."""
    return event.registration_opens_at, event.registration_closes_at or event.starts_at


def registration_open(event: Event, now: datetime) -> bool:
    opens, closes = registration_window(event)
    return (
        event.status is EventStatus.PUBLISHED and (opens is None or opens <= now) and now < closes
    )


def _check_open(event: Event, now: datetime) -> None:
    if event.status is not EventStatus.PUBLISHED:
        raise ServiceError.of(
            ErrorCode.REGISTRATION_CLOSED,
            "This event was cancelled"
            if event.status is EventStatus.CANCELLED
            else "This event is not published",
        )
    opens, closes = registration_window(event)
    if opens is not None and now < opens:
        raise ServiceError.of(
            ErrorCode.REGISTRATION_CLOSED, f"Registration opens at {opens.isoformat()}"
        )
    if now >= closes:
        raise ServiceError.of(ErrorCode.REGISTRATION_CLOSED, "Registration has closed")


async def _take_seats(session: AsyncSession, event: Event, seats: int) -> bool:
    """Take seats if they are free: one conditional UPDATE, so the check and the change are one
    step whatever else runs."""
    taken = await session.scalar(
        update(Event)
        .where(Event.id == event.id, Event.seats_taken + seats <= Event.capacity)
        .values(seats_taken=Event.seats_taken + seats)
        .returning(Event.seats_taken)
        .execution_options(synchronize_session=False)
    )
    if taken is None:
        return False
    _set_committed(event, seats_taken=taken)
    return True


def _set_committed(event: Event, **values: int) -> None:
    """Record counters the database just computed, without marking the event dirty."""
    for name, value in values.items():
        set_committed_value(event, name, value)


async def _adjust(
    session: AsyncSession, event: Event, *, seats: int = 0, waitlist: int = 0
) -> None:
    counts = (
        await session.execute(
            update(Event)
            .where(Event.id == event.id)
            .values(
                seats_taken=Event.seats_taken + seats,
                waitlist_count=Event.waitlist_count + waitlist,
            )
            .returning(Event.seats_taken, Event.waitlist_count)
            .execution_options(synchronize_session=False)
        )
    ).one()
    _set_committed(event, seats_taken=counts[0], waitlist_count=counts[1])


async def _next_in_queue(session: AsyncSession, event: Event) -> int:
    number = await session.scalar(
        update(Event)
        .where(Event.id == event.id)
        .values(queue_counter=Event.queue_counter + 1)
        .returning(Event.queue_counter)
        .execution_options(synchronize_session=False)
    )
    assert number is not None
    _set_committed(event, queue_counter=number)
    return number


async def _seat_or_queue(
    session: AsyncSession, event: Event, registration: EventRegistration, now: datetime
) -> None:
    """Confirm the registration if its seats are free, else put it on the waiting list."""
    if await _take_seats(session, event, registration.seats):
        registration.status = RegistrationStatus.CONFIRMED
        registration.confirmed_at = now
    else:
        registration.status = RegistrationStatus.WAITLISTED
        await _adjust(session, event, waitlist=1)


async def register(
    *,
    db: Database,
    viewer: Viewer,
    event_id: uuid.UUID,
    seats: int,
    note: str,
    now: datetime,
) -> RegistrationView:
    """Register the viewer: CONFIRMED while seats are free, WAITLISTED when full, or
    PENDING_APPROVAL when the organiser approves registrations. Registering again while
    registered returns the same registration (a retried request does nothing twice)."""
    problems = Problems()
    if not 1 <= seats <= MAX_SEATS_PER_REGISTRATION:
        problems.add("seats", f"Must be between 1 and {MAX_SEATS_PER_REGISTRATION}")
    check_text(problems, "note", note, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        event = await _locked(session, event_id)
        if event is None or not policies.can_read(viewer, event):
            raise not_found("Event", "eventId")
        existing = await session.scalar(
            select(EventRegistration).where(
                EventRegistration.event_id == event.id,
                EventRegistration.user_id == viewer.user_id,
            )
        )
        if existing is not None and existing.status in ACTIVE:
            if existing.seats != seats:
                raise ServiceError.of(
                    ErrorCode.CONFLICT,
                    f"You are already registered for {existing.seats} seat(s); cancel that "
                    "registration to register for a different number",
                    "seats",
                )
            return await _registration_view(session, existing)
        if existing is not None and existing.status is RegistrationStatus.REJECTED:
            raise ServiceError.of(
                ErrorCode.FORBIDDEN, "The organisers declined your registration for this event"
            )
        _check_open(event, now)
        if seats > event.capacity:
            raise ServiceError.of(
                ErrorCode.CAPACITY_REACHED,
                f"The event has {event.capacity} seats in all",
                "seats",
            )
        registration = existing or EventRegistration(
            event_id=event.id, user_id=viewer.user_id, created_at=now
        )
        registration.organisation_id = viewer.organisation_id
        registration.seats = seats
        registration.note = note.strip()
        registration.queue_number = await _next_in_queue(session, event)
        registration.updated_at = now
        registration.cancelled_at = None
        registration.confirmed_at = None
        registration.approved_at = None
        registration.checked_in_at = None
        registration.checked_in_by_id = None
        if event.requires_approval:
            registration.status = RegistrationStatus.PENDING_APPROVAL
        else:
            await _seat_or_queue(session, event, registration, now)
        if existing is None:
            session.add(registration)
        await session.flush()
        return await _registration_view(session, registration)


async def _registration_view(
    session: AsyncSession, registration: EventRegistration
) -> RegistrationView:
    positions = await _waitlist_positions(session, [registration])
    loaded = await session.scalar(
        select(EventRegistration)
        .where(EventRegistration.id == registration.id)
        .options(selectinload(EventRegistration.event).options(*event_loads()))
        .execution_options(populate_existing=True)
    )
    assert loaded is not None
    return RegistrationView(loaded, positions.get(loaded.id))


async def _waitlist_positions(
    session: AsyncSession, registrations: list[EventRegistration]
) -> dict[uuid.UUID, int]:
    """Each waitlisted registration's place in its queue, in one statement."""
    waiting = [r.id for r in registrations if r.status is RegistrationStatus.WAITLISTED]
    if not waiting:
        return {}
    ahead = aliased(EventRegistration)
    rows = await session.execute(
        select(EventRegistration.id, func.count(ahead.id))
        .join(
            ahead,
            and_(
                ahead.event_id == EventRegistration.event_id,
                ahead.status == RegistrationStatus.WAITLISTED,
                ahead.queue_number <= EventRegistration.queue_number,
            ),
        )
        .where(EventRegistration.id.in_(waiting))
        .group_by(EventRegistration.id)
    )
    return {row[0]: int(row[1]) for row in rows}


async def _promote(session: AsyncSession, event: Event, now: datetime) -> list[EventRegistration]:
    """Fill free seats from the waiting list in arrival order. A registration for more seats
    than are free keeps its place while later, smaller ones that fit go ahead, so seats do not
    stay empty behind a large group."""
    if event.status is not EventStatus.PUBLISHED or event.ends_at <= now:
        return []
    free = event.capacity - event.seats_taken
    if free <= 0:
        return []
    candidates = (
        await session.scalars(
            select(EventRegistration)
            .where(
                EventRegistration.event_id == event.id,
                EventRegistration.status == RegistrationStatus.WAITLISTED,
                EventRegistration.seats <= free,
            )
            .order_by(EventRegistration.queue_number)
            .limit(free)
        )
    ).all()
    promoted: list[EventRegistration] = []
    for registration in candidates:
        if registration.seats > free:
            continue
        if not await _take_seats(session, event, registration.seats):
            break
        free -= registration.seats
        registration.status = RegistrationStatus.CONFIRMED
        registration.confirmed_at = now
        registration.updated_at = now
        promoted.append(registration)
        if free == 0:
            break
    if promoted:
        await _adjust(session, event, waitlist=-len(promoted))
        await notifications.add(
            session,
            user_ids=[r.user_id for r in promoted],
            kind=NotificationKind.EVENT_REGISTRATION_PROMOTED,
            title=f"You have a seat: {event.title}",
            body="A seat became free and your registration moved from the waiting list to "
            "confirmed.",
            subject_type=SUBJECT,
            subject_id=event.id,
            now=now,
        )
    return promoted


async def _release(session: AsyncSession, event: Event, registration: EventRegistration) -> None:
    """Give back what a registration holds: its seats or its place on the waiting list."""
    if registration.status is RegistrationStatus.CONFIRMED:
        await _adjust(session, event, seats=-registration.seats)
    elif registration.status is RegistrationStatus.WAITLISTED:
        await _adjust(session, event, waitlist=-1)


async def _registration_of_event(
    session: AsyncSession, registration_id: uuid.UUID
) -> tuple[EventRegistration, Event]:
    """The registration and its event, the event row locked first (every seat change locks the
    event before its registrations, so two requests never wait on each other in a circle)."""
    event_id = await session.scalar(
        select(EventRegistration.event_id).where(EventRegistration.id == registration_id)
    )
    if event_id is None:
        raise not_found("Registration")
    event = await _locked(session, event_id)
    registration = await session.get(EventRegistration, registration_id, populate_existing=True)
    if event is None or registration is None:
        raise not_found("Registration")
    return registration, event


async def cancel_registration(
    *, db: Database, viewer: Viewer, registration_id: uuid.UUID, now: datetime
) -> RegistrationView:
    """The registrant cancels; freed seats go to the waiting list at once."""
    async with db.write() as session:
        registration, event = await _registration_of_event(session, registration_id)
        if registration.user_id != viewer.user_id and not policies.organises(viewer, event):
            raise not_found("Registration")
        policies.cancel_registration(viewer, registration)
        if registration.status is RegistrationStatus.CANCELLED:
            return await _registration_view(session, registration)
        if registration.status is RegistrationStatus.REJECTED:
            raise ServiceError.of(ErrorCode.CONFLICT, "This registration was declined")
        if event.ends_at <= now:
            raise ServiceError.of(ErrorCode.CONFLICT, "The event is over")
        await _release(session, event, registration)
        registration.status = RegistrationStatus.CANCELLED
        registration.cancelled_at = now
        registration.updated_at = now
        await session.flush()
        await _promote(session, event, now)
        return await _registration_view(session, registration)


async def _organised_registration(
    session: AsyncSession, viewer: Viewer, registration_id: uuid.UUID
) -> tuple[EventRegistration, Event]:
    registration, event = await _registration_of_event(session, registration_id)
    if not (policies.organises(viewer, event) or registration.user_id == viewer.user_id):
        raise not_found("Registration")
    policies.manage(viewer, event)
    return registration, event


async def approve_registration(
    *, db: Database, viewer: Viewer, registration_id: uuid.UUID, now: datetime
) -> RegistrationView:
    """Approve a pending registration: confirmed if its seats are free, else waitlisted (and
    confirmed without another approval when promoted)."""
    async with db.write() as session:
        registration, event = await _organised_registration(session, viewer, registration_id)
        if registration.approved_at is not None and registration.status in ACTIVE:
            return await _registration_view(session, registration)  # a retried approval
        if registration.status is not RegistrationStatus.PENDING_APPROVAL:
            raise ServiceError.of(
                ErrorCode.CONFLICT, f"The registration is {registration.status.value}, not pending"
            )
        if event.status is not EventStatus.PUBLISHED or event.ends_at <= now:
            raise ServiceError.of(ErrorCode.CONFLICT, "The event is cancelled or over")
        registration.approved_at = now
        registration.updated_at = now
        await _seat_or_queue(session, event, registration, now)
        confirmed = registration.status is RegistrationStatus.CONFIRMED
        await notifications.add(
            session,
            user_ids=[registration.user_id],
            kind=NotificationKind.EVENT_REGISTRATION_CONFIRMED,
            title=(
                f"Approved: {event.title}"
                if confirmed
                else f"Approved, on the waiting list: {event.title}"
            ),
            body=(
                "The organisers approved your registration."
                if confirmed
                else "The organisers approved your registration; the event is full, so you are "
                "on the waiting list and will get a seat when one becomes free."
            ),
            subject_type=SUBJECT,
            subject_id=event.id,
            now=now,
        )
        await session.flush()
        return await _registration_view(session, registration)


async def reject_registration(
    *, db: Database, viewer: Viewer, registration_id: uuid.UUID, reason: str, now: datetime
) -> RegistrationView:
    """Decline a registration (pending, waitlisted or confirmed); freed seats are promoted."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=0, max_length=1000, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        registration, event = await _organised_registration(session, viewer, registration_id)
        if registration.status is RegistrationStatus.REJECTED:
            return await _registration_view(session, registration)
        if registration.status is RegistrationStatus.CANCELLED:
            raise ServiceError.of(ErrorCode.CONFLICT, "The registration was cancelled")
        await _release(session, event, registration)
        registration.status = RegistrationStatus.REJECTED
        registration.updated_at = now
        await session.flush()
        await notifications.add(
            session,
            user_ids=[registration.user_id],
            kind=NotificationKind.EVENT_REGISTRATION_REJECTED,
            title=f"Not accepted: {event.title}",
            body=reason.strip(),
            subject_type=SUBJECT,
            subject_id=event.id,
            now=now,
        )
        await _promote(session, event, now)
        return await _registration_view(session, registration)


async def check_in(
    *,
    db: Database,
    viewer: Viewer,
    registration_id: uuid.UUID,
    attended: bool,
    now: datetime,
) -> RegistrationView:
    """Mark (or, with ``attended=False``, unmark) a confirmed participant as present."""
    async with db.write() as session:
        registration, event = await _organised_registration(session, viewer, registration_id)
        if registration.status is not RegistrationStatus.CONFIRMED:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                f"Only confirmed participants check in; this one is {registration.status.value}",
            )
        if event.status is not EventStatus.PUBLISHED:
            raise ServiceError.of(ErrorCode.CONFLICT, "The event is not taking place")
        if not (
            event.starts_at - CHECK_IN_OPENS_BEFORE <= now <= event.ends_at + CHECK_IN_CLOSES_AFTER
        ):
            raise ServiceError.of(
                ErrorCode.VALIDATION,
                "Check-in opens 3 hours before the start and closes a day after the end",
            )
        if attended and registration.checked_in_at is None:
            registration.checked_in_at = now
            registration.checked_in_by_id = viewer.user_id
        elif not attended:
            registration.checked_in_at = None
            registration.checked_in_by_id = None
        registration.updated_at = now
        await session.flush()
        return await _registration_view(session, registration)


# ---------------------------------------------------------------------------------------------
# Reading


async def get_event(
    *, db: Database, viewer: Viewer | Anonymous, event_id: uuid.UUID
) -> EventView | None:
    async with db.read() as session:
        event = await _load(session, event_id)
        if event is None or not policies.can_read(viewer, event):
            return None
        mine = await _my_registrations(session, viewer, [event.id])
        return EventView(event, mine.get(event.id))


UPCOMING = Sort(
    "events:starts",
    (
        SortKey(Event.starts_at, value_of=lambda item: _event_of(item).starts_at),
        SortKey(Event.id, value_of=lambda item: _event_of(item).id),
    ),
)
ORGANISED = Sort(
    "events:organised",
    (
        SortKey(Event.starts_at, descending=True),
        SortKey(Event.id, descending=True),
    ),
)


def _event_of(item: Any) -> Event:
    return item if isinstance(item, Event) else item.Event


async def _material_condition(session: AsyncSession, code: str) -> Any:
    """Events about this material, anything below it, or anything above it in the catalogue
    (a workshop on agricultural wastes is for the rice-husk firm too)."""
    material = await session.get(Material, code)
    if material is None:
        raise ServiceError.of(ErrorCode.NOT_FOUND, "No such material", "filter.materialCode")
    lineage = material.path.split("/")
    below = select(Material.code).where(Material.path.like(material.path + "/%"))
    return exists().where(
        EventTopic.event_id == Event.id,
        or_(EventTopic.material_code.in_(lineage), EventTopic.material_code.in_(below)),
    )


async def search_events(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    filter: EventFilter,
    page: PageRequest,
    now: datetime,
    with_total: bool,
) -> Page[EventView]:
    problems = Problems()
    _aware(problems, "filter.startsAfter", filter.starts_after)
    _aware(problems, "filter.startsBefore", filter.starts_before)
    near = filter.near
    if near is not None:
        check_place(problems, "filter.near", Place(near.lat, near.lon))
        if not 0 < near.radius_km <= MAX_RADIUS_KM:
            problems.add("filter.near.radiusKm", f"Must be more than 0 and at most {MAX_RADIUS_KM}")
    if filter.language is not None:
        check_language(problems, "filter.language", filter.language)
    if filter.material_code is not None and not marketplace_service.is_material_code(
        filter.material_code
    ):
        problems.add("filter.materialCode", "Not a material code")
    problems.raise_if_any()

    statuses = [EventStatus.PUBLISHED]
    if filter.include_cancelled:
        statuses.append(EventStatus.CANCELLED)
    columns: list[Any] = [Event]
    if near is not None:
        columns.append(func.eic_distance_km(near.lat, near.lon, Event.lat, Event.lon).label("d"))
    statement = select(*columns).where(Event.status.in_(statuses))
    if filter.starts_after is None and filter.starts_before is None:
        statement = statement.where(Event.ends_at > now)  # upcoming, and under way
    if filter.starts_after is not None:
        statement = statement.where(Event.starts_at >= filter.starts_after)
    if filter.starts_before is not None:
        statement = statement.where(Event.starts_at < filter.starts_before)
    if near is not None:
        statement = statement.where(
            Event.lat.is_not(None),
            within_radius(Event.lat, Event.lon, near.lat, near.lon, near.radius_km),
        )
    if filter.cluster_id is not None:
        statement = statement.where(Event.cluster_id == filter.cluster_id)
    if filter.organisation_id is not None:
        statement = statement.where(Event.organisation_id == filter.organisation_id)
    if filter.format is not None:
        statement = statement.where(Event.format == filter.format)
    if filter.kind is not None:
        statement = statement.where(Event.kind == filter.kind)
    if filter.language is not None:
        statement = statement.where(Event.language == filter.language)
    if filter.topic is not None:
        topic = " ".join(filter.topic.split()).lower()
        statement = statement.where(
            exists().where(
                EventTopic.event_id == Event.id,
                or_(EventTopic.tag == topic, EventTopic.material_code == topic),
            )
        )
    async with db.read() as session:
        if filter.material_code is not None:
            statement = statement.where(await _material_condition(session, filter.material_code))
        result = await paginate(
            session,
            statement,
            sort=UPCOMING,
            request=page,
            load=event_loads(),
            with_total=with_total,
        )
        events = [_event_of(item) for item in result.items]
        mine = await _my_registrations(session, viewer, [e.id for e in events])
    views = [
        EventView(
            _event_of(item),
            mine.get(_event_of(item).id),
            None if near is None else float(item.d),
        )
        for item in result.items
    ]
    return Page(
        items=views,
        cursors=result.cursors,
        has_next_page=result.has_next_page,
        has_previous_page=result.has_previous_page,
        total_count=result.total_count,
    )


async def organised_events(
    *,
    db: Database,
    viewer: Viewer,
    status: EventStatus | None,
    page: PageRequest,
    with_total: bool,
) -> Page[EventView]:
    """The events of the viewer's organisation, drafts included, latest start first."""
    if viewer.organisation_id is None:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "Act for an organisation to see its events")
    statement = select(Event).where(Event.organisation_id == viewer.organisation_id)
    if status is not None:
        statement = statement.where(Event.status == status)
    async with db.read() as session:
        result = await paginate(
            session,
            statement,
            sort=ORGANISED,
            request=page,
            load=event_loads(),
            with_total=with_total,
        )
        mine = await _my_registrations(session, viewer, [e.id for e in result.items])
    return Page(
        items=[EventView(e, mine.get(e.id)) for e in result.items],
        cursors=result.cursors,
        has_next_page=result.has_next_page,
        has_previous_page=result.has_previous_page,
        total_count=result.total_count,
    )


MY_REGISTRATIONS = Sort(
    "registrations:mine",
    (
        SortKey(Event.starts_at, value_of=lambda r: r.event.starts_at),
        SortKey(EventRegistration.id, value_of=lambda r: r.id),
    ),
)


async def my_registrations(
    *,
    db: Database,
    viewer: Viewer,
    upcoming_only: bool,
    page: PageRequest,
    now: datetime,
    with_total: bool,
) -> Page[RegistrationView]:
    """The viewer's registrations (cancelled and declined ones too), by the event's start."""
    statement = (
        select(EventRegistration)
        .join(Event, Event.id == EventRegistration.event_id)
        .where(EventRegistration.user_id == viewer.user_id)
    )
    if upcoming_only:
        statement = statement.where(Event.ends_at > now)
    async with db.read() as session:
        result = await paginate(
            session,
            statement,
            sort=MY_REGISTRATIONS,
            request=page,
            load=(selectinload(EventRegistration.event).options(*event_loads()),),
            with_total=with_total,
        )
        positions = await _waitlist_positions(session, result.items)
    return Page(
        items=[RegistrationView(r, positions.get(r.id)) for r in result.items],
        cursors=result.cursors,
        has_next_page=result.has_next_page,
        has_previous_page=result.has_previous_page,
        total_count=result.total_count,
    )


PARTICIPANTS = Sort(
    "registrations:queue",
    (
        SortKey(EventRegistration.queue_number),
        SortKey(EventRegistration.id),
    ),
)


def _participants_statement(event_id: uuid.UUID, which: ParticipantFilter) -> Any:
    statement = select(EventRegistration).where(EventRegistration.event_id == event_id)
    if which is ParticipantFilter.CHECKED_IN:
        statement = statement.where(EventRegistration.checked_in_at.is_not(None))
    elif which is not ParticipantFilter.ALL:
        statement = statement.where(EventRegistration.status == RegistrationStatus(which.value))
    return statement


def _participant_loads() -> tuple[ExecutableOption, ...]:
    return (
        selectinload(EventRegistration.user),
        selectinload(EventRegistration.organisation),
    )


async def _readable_participants_event(
    session: AsyncSession, viewer: Viewer, event_id: uuid.UUID
) -> Event:
    event = await session.get(Event, event_id)
    if event is None or not policies.can_read(viewer, event):
        raise not_found("Event", "eventId")
    policies.read_participants(viewer, event)
    return event


async def participants(
    *,
    db: Database,
    viewer: Viewer,
    event_id: uuid.UUID,
    which: ParticipantFilter,
    page: PageRequest,
    with_total: bool,
) -> Page[RegistrationView]:
    """Who registered, in arrival order (the waiting list's order), for the organisers."""
    async with db.read() as session:
        await _readable_participants_event(session, viewer, event_id)
        result = await paginate(
            session,
            _participants_statement(event_id, which),
            sort=PARTICIPANTS,
            request=page,
            load=_participant_loads(),
            with_total=with_total,
        )
        positions = await _waitlist_positions(session, result.items)
    return Page(
        items=[RegistrationView(r, positions.get(r.id)) for r in result.items],
        cursors=result.cursors,
        has_next_page=result.has_next_page,
        has_previous_page=result.has_previous_page,
        total_count=result.total_count,
    )


async def all_participants(
    *, db: Database, viewer: Viewer, event_id: uuid.UUID
) -> tuple[Event, list[EventRegistration]]:
    """Every registration of an event, for the organisers' export."""
    async with db.read() as session:
        event = await _readable_participants_event(session, viewer, event_id)
        registrations = (
            await session.scalars(
                _participants_statement(event_id, ParticipantFilter.ALL)
                .options(*_participant_loads())
                .order_by(EventRegistration.queue_number)
            )
        ).all()
    return event, list(registrations)


# ---------------------------------------------------------------------------------------------
# Calendars


def _feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_calendar_feed(*, db: Database, viewer: Viewer, now: datetime) -> str:
    """A new secret token for the viewer's calendar feed; the previous one stops working."""
    token = secrets.token_urlsafe(FEED_TOKEN_BYTES)
    async with db.write() as session:
        feed = await session.scalar(
            select(CalendarFeed).where(CalendarFeed.user_id == viewer.user_id).with_for_update()
        )
        if feed is None:
            session.add(
                CalendarFeed(user_id=viewer.user_id, token_hash=_feed_hash(token), created_at=now)
            )
        else:
            feed.token_hash = _feed_hash(token)
            feed.created_at = now
            feed.last_used_at = None
    return token


async def calendar_event(*, db: Database, event_id: uuid.UUID) -> Event | None:
    """A published or cancelled event for its public calendar file."""
    async with db.read() as session:
        event = await _load(session, event_id)
    if event is None or event.status is EventStatus.DRAFT:
        return None
    return event


async def calendar_feed(
    *, db: Database, token: str, now: datetime
) -> list[EventRegistration] | None:
    """The registrations behind a personal feed (None for an unknown token): confirmed, waiting
    and pending ones, with their events, cancelled events included so calendars show them as
    cancelled."""
    if not 16 <= len(token) <= 100:
        return None
    async with db.write() as session:
        feed = await session.scalar(
            select(CalendarFeed).where(CalendarFeed.token_hash == _feed_hash(token))
        )
        if feed is None:
            return None
        # Once an hour is enough to tell a person whether their feed is in use.
        if feed.last_used_at is None or now - feed.last_used_at > timedelta(hours=1):
            feed.last_used_at = now
        registrations = (
            await session.scalars(
                select(EventRegistration)
                .join(Event, Event.id == EventRegistration.event_id)
                .where(
                    EventRegistration.user_id == feed.user_id,
                    EventRegistration.status.in_(ACTIVE),
                    Event.status != EventStatus.DRAFT,
                    # A year of history is what calendar apps keep showing anyway.
                    Event.ends_at > now - timedelta(days=366),
                )
                .options(selectinload(EventRegistration.event).options(*event_loads()))
                .order_by(Event.starts_at, EventRegistration.id)
            )
        ).all()
    return list(registrations)
