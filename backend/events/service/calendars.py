"""Calendar feeds: the secret addresses and what they list."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from backend.auth.viewer import Viewer
from backend.db import Database
from backend.events import policies
from backend.events.models import (
    CalendarFeed,
    Event,
    EventRegistration,
)
from backend.events.service.inputs import (
    ACTIVE,
    FEED_TOKEN_BYTES,
)
from backend.events.service.loading import (
    _load,
    event_loads,
)


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
    if event is None or not policies.is_public(event):
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
                    Event.published_at.is_not(None),
                    # A year of history is what calendar apps keep showing anyway.
                    Event.ends_at > now - timedelta(days=366),
                )
                .options(selectinload(EventRegistration.event).options(*event_loads()))
                .order_by(Event.starts_at, EventRegistration.id)
            )
        ).all()
    return list(registrations)
