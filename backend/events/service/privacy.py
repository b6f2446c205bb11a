"""A person's registrations for an access request, and their release for an erasure request."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.events.models import CalendarFeed, Event, EventRegistration
from backend.events.service.inputs import ACTIVE
from backend.events.service.loading import _locked
from backend.events.service.registering import cancel_locked
from backend.kit.clock import iso_or_none


async def registrations_of(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncGenerator[dict[str, Any], None]:
    rows = await session.stream(
        select(EventRegistration, Event.title, Event.starts_at)
        .join(Event, Event.id == EventRegistration.event_id)
        .where(EventRegistration.user_id == user_id)
        .order_by(EventRegistration.created_at, EventRegistration.id)
        .execution_options(yield_per=500)
    )
    async for registration, title, starts_at in rows:
        yield {
            "id": str(registration.id),
            "eventId": str(registration.event_id),
            "eventTitle": title,
            "eventStartsAt": iso_or_none(starts_at),
            "organisationId": (
                str(registration.organisation_id) if registration.organisation_id else None
            ),
            "seats": registration.seats,
            "status": registration.status.value,
            "note": registration.note,
            "createdAt": iso_or_none(registration.created_at),
            "confirmedAt": iso_or_none(registration.confirmed_at),
            "cancelledAt": iso_or_none(registration.cancelled_at),
            "checkedInAt": iso_or_none(registration.checked_in_at),
        }


async def calendar_feed_of(session: AsyncSession, user_id: uuid.UUID) -> dict[str, Any] | None:
    feed = await session.scalar(select(CalendarFeed).where(CalendarFeed.user_id == user_id))
    if feed is None:
        return None
    return {"createdAt": iso_or_none(feed.created_at), "lastUsedAt": iso_or_none(feed.last_used_at)}


async def release_person(session: AsyncSession, user_id: uuid.UUID, now: datetime) -> int:
    """Cancel the person's places at events still to end (seats and waiting-list places go to
    the next in line at once), blank their notes, and end their calendar address. Past
    attendance stays as the organisers' record, under the anonymised account. Returns how many
    registrations were cancelled."""
    upcoming = (
        await session.execute(
            select(EventRegistration.id, EventRegistration.event_id)
            .join(Event, Event.id == EventRegistration.event_id)
            .where(
                EventRegistration.user_id == user_id,
                EventRegistration.status.in_(ACTIVE),
                Event.ends_at > now,
            )
            # events in id order: two deletions never lock each other's events in a circle
            .order_by(EventRegistration.event_id)
        )
    ).all()
    for registration_id, event_id in upcoming:
        event = await _locked(session, event_id)  # the event row before its registrations
        registration = await session.get(EventRegistration, registration_id, populate_existing=True)
        if event is None or registration is None or registration.status not in ACTIVE:
            continue
        await cancel_locked(session, event, registration, now)
    await session.execute(
        update(EventRegistration)
        .where(EventRegistration.user_id == user_id, EventRegistration.note != "")
        .values(note="")
    )
    await session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))
    return len(upcoming)
