"""Who came to a cluster's events, by the kind of organisation they came for, and who held the
events (cluster insights, issue 18: social capital and knowledge; knowledge transfer is the
institutions' events)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from backend.events.models import Event, EventRegistration, EventStatus, RegistrationStatus
from backend.identity.models import Organisation, OrganisationKind
from backend.kit.db import Database


@dataclass(frozen=True, slots=True)
class AttendanceByKind:
    """The confirmed registrations of the period's events made for one kind of organisation.

    Confirmed, checked in or not: waitlisted, pending, cancelled and declined ones are out. A
    person who came for organisations of two kinds counts in both rows.
    """

    kind: OrganisationKind | None  # of the registration's organisation; None: registered for none
    registrations: int
    seats: int
    organisations: int  # distinct organisations among them (0 in the None row)
    people: int  # distinct people
    events: int  # distinct events they registered for


@dataclass(frozen=True, slots=True)
class EventsHeld:
    """The period's events, and how many each kind of organising organisation held (every kind
    present, zero included)."""

    total: int
    by_kind: dict[OrganisationKind, int]


def _held(cluster_id: uuid.UUID, starts_at: datetime, ends_at: datetime) -> tuple[Any, ...]:
    """The cluster's events that were held or are to be: published (drafts never were, cancelled
    ones will not be), starting in [starts_at, ends_at)."""
    return (
        Event.cluster_id == cluster_id,
        Event.status == EventStatus.PUBLISHED,
        Event.starts_at >= starts_at,
        Event.starts_at < ends_at,
    )


_KIND_ORDER = {kind: index for index, kind in enumerate(OrganisationKind)}


async def attendance_by_organisation_kind(
    *, db: Database, cluster_id: uuid.UUID, starts_at: datetime, ends_at: datetime
) -> list[AttendanceByKind]:
    """Confirmed registrations for the cluster's events starting in [starts_at, ends_at), one
    row per kind of the organisation registered for (FIRM, COMMUNITY, INSTITUTION, then None);
    kinds without registrations have no row. One statement whatever the number of events."""
    statement = (
        select(
            Organisation.kind,
            func.count(),
            func.sum(EventRegistration.seats),
            func.count(func.distinct(EventRegistration.organisation_id)),
            func.count(func.distinct(EventRegistration.user_id)),
            func.count(func.distinct(EventRegistration.event_id)),
        )
        .select_from(EventRegistration)
        .join(Event, Event.id == EventRegistration.event_id)
        .outerjoin(Organisation, Organisation.id == EventRegistration.organisation_id)
        .where(
            *_held(cluster_id, starts_at, ends_at),
            EventRegistration.status == RegistrationStatus.CONFIRMED,
        )
        .group_by(Organisation.kind)
    )
    async with db.read() as session:
        rows = (await session.execute(statement)).all()
    return sorted(
        (
            AttendanceByKind(
                kind=kind,
                registrations=registrations,
                seats=int(seats),
                organisations=organisations,
                people=people,
                events=events,
            )
            for kind, registrations, seats, organisations, people, events in rows
        ),
        key=lambda row: len(_KIND_ORDER) if row.kind is None else _KIND_ORDER[row.kind],
    )


async def events_held(
    *, db: Database, cluster_id: uuid.UUID, starts_at: datetime, ends_at: datetime
) -> EventsHeld:
    """The cluster's events starting in [starts_at, ends_at), by the kind of the organisation
    that holds them. One statement."""
    statement = (
        select(Organisation.kind, func.count())
        .select_from(Event)
        .join(Organisation, Organisation.id == Event.organisation_id)
        .where(*_held(cluster_id, starts_at, ends_at))
        .group_by(Organisation.kind)
    )
    async with db.read() as session:
        counted = dict((await session.execute(statement)).all())
    by_kind = {kind: counted.get(kind, 0) for kind in OrganisationKind}
    return EventsHeld(total=sum(by_kind.values()), by_kind=by_kind)
