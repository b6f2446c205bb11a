"""Organising: creating, changing, publishing and cancelling events."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.events import policies
from backend.events.models import (
    Event,
    EventRegistration,
    EventStatus,
    RegistrationStatus,
)
from backend.events.service.checks import (
    _check_schedule,
    _check_texts,
    _Schedule,
    _set_topics,
    normalise_topics,
)
from backend.events.service.inputs import (
    ACTIVE,
    SUBJECT,
    UNCHANGED,
    EventChanges,
    EventDraft,
    EventView,
)
from backend.events.service.loading import (
    _locked,
    _view,
)
from backend.events.service.registering import _promote
from backend.identity.models import Cluster, Organisation, OrganisationKind
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version, not_found
from backend.kit.validation import (
    Place,
    check_text,
)
from backend.notifications import service as notifications
from backend.notifications.service import texts


async def create_event(
    *, db: Database, viewer: Viewer, draft: EventDraft, now: datetime
) -> EventView:
    """See ``_create_event``; a concurrent twin with the same client id is answered as a retry."""
    return await once_more_on_clash(
        lambda: _create_event(db=db, viewer=viewer, draft=draft, now=now)
    )


async def _create_event(
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
        await _set_topics(session, event, topics, existing=[])
        session.add(event)
        await session.flush()
        return await _view(session, viewer, event.id)


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
            await session.refresh(event, ["topics"])
            await _set_topics(session, event, topics, existing=list(event.topics))
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
                texts.EVENT_CHANGED(event=event.title),
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
                texts.EVENT_CANCELLED(event=event.title, reason=event.cancellation_reason),
                now,
            )
        return await _view(session, viewer, event.id)


async def _tell_registrants(
    session: AsyncSession,
    event: Event,
    text: texts.Text,
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
        text=text,
        subject_type=SUBJECT,
        subject_id=event.id,
        now=now,
    )
