"""Calendar feeds: the secret addresses and what they list."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from backend.auth.viewer import Viewer
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
from backend.identity.models import User
from backend.kit.db import Database


def _feed_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_calendar_feed(*, db: Database, viewer: Viewer, now: datetime) -> str:
    """A new secret token for the viewer's calendar feed; the previous one stops working."""
    token = secrets.token_urlsafe(FEED_TOKEN_BYTES)
    try:
        await _store_feed(db, viewer, _feed_hash(token), now)
    except IntegrityError:  # a double tap made the first feed at the same moment: replace it
        await _store_feed(db, viewer, _feed_hash(token), now)
    return token


async def _store_feed(db: Database, viewer: Viewer, token_hash: str, now: datetime) -> None:
    async with db.write() as session:
        feed = await session.scalar(
            select(CalendarFeed).where(CalendarFeed.user_id == viewer.user_id).with_for_update()
        )
        if feed is None:
            session.add(CalendarFeed(user_id=viewer.user_id, token_hash=token_hash, created_at=now))
        else:
            feed.token_hash = token_hash
            feed.created_at = now
            feed.last_used_at = None


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
    # Calendar apps poll: reading takes no write lock. The feed's "last used" time is written at
    # most once an hour, in a transaction of its own.
    async with db.read() as session:
        # A disabled account's feed answers as an unknown one: its address is a credential too.
        feed = await session.scalar(
            select(CalendarFeed)
            .join(User, User.id == CalendarFeed.user_id)
            .where(CalendarFeed.token_hash == _feed_hash(token), User.is_active.is_(True))
        )
        if feed is None:
            return None
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
    if feed.last_used_at is None or now - feed.last_used_at > timedelta(hours=1):
        async with db.write() as session:
            await session.execute(
                update(CalendarFeed).where(CalendarFeed.id == feed.id).values(last_used_at=now)
            )
    return list(registrations)
