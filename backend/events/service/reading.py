"""Reading: one event, organisers' and people's lists, participants (the feed: feed.py)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql.base import ExecutableOption

from backend.auth.viewer import Anonymous, Viewer
from backend.events import policies
from backend.events.models import (
    Event,
    EventRegistration,
    EventStatus,
    RegistrationStatus,
)
from backend.events.service.inputs import (
    ACTIVE,
    EventView,
    ParticipantFilter,
    RegistrationView,
)
from backend.events.service.loading import (
    _load,
    _my_registrations,
    event_loads,
)
from backend.events.service.registering import (
    _waitlist_positions,
)
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate


async def get_event(
    *, db: Database, viewer: Viewer | Anonymous, event_id: uuid.UUID
) -> EventView | None:
    async with db.read() as session:
        event = await _load(session, event_id)
        if event is None or not policies.can_read(viewer, event):
            return None
        mine = await _my_registrations(session, viewer, [event.id])
        return EventView(event, mine.get(event.id))


def registered_event_ids(viewer: Viewer) -> Select[Any]:
    """The events the viewer holds a registration for, as a subquery (the sync feed's scopes)."""
    return select(EventRegistration.event_id).where(
        EventRegistration.user_id == viewer.user_id, EventRegistration.status.in_(ACTIVE)
    )


async def events_for_sync(
    *, db: Database, viewer: Viewer, event_ids: list[uuid.UUID]
) -> dict[uuid.UUID, EventView]:
    """Of these events, those the viewer organises or holds a registration for, and may read
    (the offline sync's upserts), with the viewer's registration."""
    async with db.read() as session:
        events = await session.scalars(
            select(Event).where(Event.id.in_(event_ids)).options(*event_loads())
        )
        mine = await _my_registrations(session, viewer, event_ids)
        return {
            event.id: EventView(event, mine.get(event.id))
            for event in events
            if policies.can_read(viewer, event)
            and (
                policies.organises(viewer, event)
                or (event.id in mine and mine[event.id].registration.status in ACTIVE)
            )
        }


ORGANISED = Sort(
    "events:organised",
    (
        SortKey(Event.starts_at, descending=True),
        SortKey(Event.id, descending=True),
    ),
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
    return result.with_items([EventView(e, mine.get(e.id)) for e in result.items])


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
    return result.with_items([RegistrationView(r, positions.get(r.id)) for r in result.items])


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
    return result.with_items([RegistrationView(r, positions.get(r.id)) for r in result.items])


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
