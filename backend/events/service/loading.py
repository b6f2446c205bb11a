"""Loading events with what their screens show, and locking them for seat changes."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backend.auth.viewer import Anonymous, Viewer
from backend.events.models import Event, EventRegistration, EventTopic, RegistrationStatus
from backend.events.service.inputs import EventView, RegistrationView
from backend.identity.models import Organisation
from backend.kit.db import attach


def event_loads() -> tuple[Any, ...]:
    """Loader options for an event's organiser, cluster and topics (usable on their own and
    chained under a registration's ``event``)."""
    return (
        selectinload(Event.organisation).selectinload(Organisation.cluster),
        selectinload(Event.cluster),
        selectinload(Event.topics).selectinload(EventTopic.material),
    )


async def attach_loads(session: AsyncSession, event: Event) -> Event:
    """An event of the caller's unit of work with what ``event_loads`` gives it, from the rows
    the session holds rather than read back: the organiser with its cluster (one statement),
    the event's cluster (usually the organiser's: none), the topics with their materials (one
    statement, in the order ``Event.topics`` keeps)."""
    await attach(session, [(event, "organisation")], joinedload(Organisation.cluster))
    await attach(session, [(event.organisation, "cluster")])
    await attach(session, [(event, "cluster")])
    topics = await session.scalars(
        select(EventTopic)
        .where(EventTopic.event_id.in_([event.id]))
        .order_by(EventTopic.position)
        .options(joinedload(EventTopic.material))
    )
    set_committed_value(event, "topics", list(topics))
    return event


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
) -> dict[uuid.UUID, RegistrationView]:
    """The viewer's registrations for these events, with waiting-list places: at most two
    statements whatever the number of events."""
    if not isinstance(viewer, Viewer) or not event_ids:
        return {}
    rows = list(
        await session.scalars(
            select(EventRegistration).where(
                EventRegistration.user_id == viewer.user_id,
                EventRegistration.event_id.in_(event_ids),
            )
        )
    )
    positions = await _waitlist_positions(session, rows)
    return {r.event_id: RegistrationView(r, positions.get(r.id)) for r in rows}


# Each waitlisted registration's place in its queue (the registrations' ids: ``ids``), built once:
# the ORM reads run it on their session, the feed as a Prepared statement on its connection.
_ahead = aliased(EventRegistration)
# (typed as Prepared takes it: a select of any columns)
WAITLIST_POSITIONS = cast(
    "Select[Any]",
    select(EventRegistration.id, func.count(_ahead.id))
    .join(
        _ahead,
        and_(
            _ahead.event_id == EventRegistration.event_id,
            _ahead.status == RegistrationStatus.WAITLISTED,
            _ahead.queue_number <= EventRegistration.queue_number,
        ),
    )
    .where(EventRegistration.id.in_(bindparam("ids", expanding=True)))
    .group_by(EventRegistration.id),
)


def waitlisted(registrations: Iterable[Any]) -> list[uuid.UUID]:
    """The ids of the waitlisted ones of these registrations (entities or rows)."""
    return [r.id for r in registrations if r.status is RegistrationStatus.WAITLISTED]


async def _waitlist_positions(
    session: AsyncSession, registrations: list[EventRegistration]
) -> dict[uuid.UUID, int]:
    """Each waitlisted registration's place in its queue, in one statement."""
    waiting = waitlisted(registrations)
    if not waiting:
        return {}
    rows = await session.execute(WAITLIST_POSITIONS, {"ids": waiting})
    return {row[0]: int(row[1]) for row in rows}
