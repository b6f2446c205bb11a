"""Registering: seats, the waiting list, approvals and check-in.

Seats are counted on the event row (``seats_taken``). Every change to a registration's seats
first locks the event row, then takes seats with a conditional UPDATE that a CHECK constraint
backs: no interleaving of requests can confirm more seats than the capacity.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from backend.auth.viewer import Viewer
from backend.events import policies
from backend.events.models import (
    Event,
    EventRegistration,
    EventStatus,
    RegistrationStatus,
)
from backend.events.service.inputs import (
    ACTIVE,
    CHECK_IN_CLOSES_AFTER,
    CHECK_IN_OPENS_BEFORE,
    MAX_SEATS_PER_REGISTRATION,
    SUBJECT,
    RegistrationView,
)
from backend.events.service.loading import (
    _locked,
    _my_registrations,
    _waitlist_positions,
    attach_loads,
)
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError, not_found
from backend.kit.validation import (
    check_text,
)
from backend.notifications import service as notifications
from backend.notifications.service import texts
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


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
    _seats_changed(session, event)
    return True


def _set_committed(event: Event, **values: int) -> None:
    """Record counters the database just computed, without marking the event dirty."""
    for name, value in values.items():
        set_committed_value(event, name, value)


def _seats_changed(session: AsyncSession, event: Event) -> None:
    # the organiser's copy shows the seat counts; attendees' copies are not sent every change
    # of them (an event of 500 would send each attendee 500 updates)
    sync_log.note(
        session, ChangeType.EVENT, event.id, [sync_log.organisation(event.organisation_id)]
    )


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
    _seats_changed(session, event)


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
            return await _registration_view(session, existing, event, viewer)
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
        return await _registration_view(session, registration, event, viewer)


async def _registration_view(
    session: AsyncSession, registration: EventRegistration, event: Event, viewer: Viewer
) -> RegistrationView:
    """The answer of a change to ``registration`` of the locked ``event``, built from the rows
    this unit of work holds (the event's counters as its UPDATEs returned them) rather than
    read back."""
    assert registration.event_id == event.id
    positions = await _waitlist_positions(session, [registration])
    set_committed_value(registration, "event", await attach_loads(session, event))
    viewers_own = None
    if registration.user_id != viewer.user_id:
        viewers_own = (await _my_registrations(session, viewer, [event.id])).get(event.id)
    return RegistrationView(registration, positions.get(registration.id), viewers_own)


async def _promote(session: AsyncSession, event: Event, now: datetime) -> list[EventRegistration]:
    """Fill free seats from the waiting list in arrival order. A registration for more seats
    than are free keeps its place while later, smaller ones that fit go ahead, so seats do not
    stay empty behind a large group."""
    if event.status is not EventStatus.PUBLISHED or event.ends_at <= now:
        return []
    free = event.capacity - event.seats_taken
    if free <= 0:
        return []
    promoted: list[EventRegistration] = []
    # The next registration that fits, one at a time: each takes at least a seat, so this runs
    # at most `free` times, and nothing that fits is passed over behind one that does not.
    while free > 0:
        registration = await session.scalar(
            select(EventRegistration)
            .where(
                EventRegistration.event_id == event.id,
                EventRegistration.status == RegistrationStatus.WAITLISTED,
                EventRegistration.seats <= free,
            )
            .order_by(EventRegistration.queue_number)
            .limit(1)
        )
        if registration is None or not await _take_seats(session, event, registration.seats):
            break
        free -= registration.seats
        registration.status = RegistrationStatus.CONFIRMED
        registration.confirmed_at = now
        registration.updated_at = now
        await session.flush()  # the next query must not see it waiting any more
        promoted.append(registration)
    if promoted:
        await _adjust(session, event, waitlist=-len(promoted))
        await notifications.add(
            session,
            user_ids=[r.user_id for r in promoted],
            text=texts.EVENT_REGISTRATION_PROMOTED(event=event.title),
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
            return await _registration_view(session, registration, event, viewer)
        if registration.status is RegistrationStatus.REJECTED:
            raise ServiceError.of(ErrorCode.CONFLICT, "This registration was declined")
        if event.ends_at <= now:
            raise ServiceError.of(ErrorCode.CONFLICT, "The event is over")
        await cancel_locked(session, event, registration, now)
        return await _registration_view(session, registration, event, viewer)


async def cancel_locked(
    session: AsyncSession, event: Event, registration: EventRegistration, now: datetime
) -> None:
    """Cancel an active registration of ``event`` (locked by the caller): its seats or its
    waiting-list place go to the next in line at once."""
    await _release(session, event, registration)
    registration.status = RegistrationStatus.CANCELLED
    registration.cancelled_at = now
    registration.updated_at = now
    await session.flush()
    await _promote(session, event, now)


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
            # a retried approval
            return await _registration_view(session, registration, event, viewer)
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
            text=(
                texts.EVENT_REGISTRATION_CONFIRMED
                if confirmed
                else texts.EVENT_REGISTRATION_CONFIRMED_WAITLISTED
            )(event=event.title),
            subject_type=SUBJECT,
            subject_id=event.id,
            now=now,
        )
        await session.flush()
        return await _registration_view(session, registration, event, viewer)


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
            return await _registration_view(session, registration, event, viewer)
        if registration.status is RegistrationStatus.CANCELLED:
            raise ServiceError.of(ErrorCode.CONFLICT, "The registration was cancelled")
        await _release(session, event, registration)
        registration.status = RegistrationStatus.REJECTED
        registration.updated_at = now
        await session.flush()
        await notifications.add(
            session,
            user_ids=[registration.user_id],
            text=texts.EVENT_REGISTRATION_REJECTED(event=event.title, reason=reason.strip()),
            subject_type=SUBJECT,
            subject_id=event.id,
            now=now,
        )
        await _promote(session, event, now)
        return await _registration_view(session, registration, event, viewer)


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
        return await _registration_view(session, registration, event, viewer)
