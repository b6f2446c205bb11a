"""Knowledge-transfer events, their topics and the registrations of the people coming."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.catalogue.models import Material
from backend.identity.models import Cluster, Organisation, User
from backend.kit.db import Base, UTCDateTime, enum_column, new_id, utcnow
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


class EventKind(StrEnum):
    SEMINAR = "SEMINAR"
    WORKSHOP = "WORKSHOP"
    FIELD_DEMONSTRATION = "FIELD_DEMONSTRATION"
    COMMUNITY_MEETING = "COMMUNITY_MEETING"


class EventFormat(StrEnum):
    IN_PERSON = "IN_PERSON"
    ONLINE = "ONLINE"
    HYBRID = "HYBRID"


class EventStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    CANCELLED = "CANCELLED"


class RegistrationStatus(StrEnum):
    CONFIRMED = "CONFIRMED"
    WAITLISTED = "WAITLISTED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        # The seat counter is the capacity check: no transaction can commit an oversold event.
        CheckConstraint(
            "seats_taken >= 0 AND seats_taken <= capacity", name="seats_within_capacity"
        ),
        CheckConstraint("waitlist_count >= 0", name="waitlist_count_not_negative"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("lat IS NULL OR lat BETWEEN -90 AND 90", name="lat_range"),
        CheckConstraint("lon IS NULL OR lon BETWEEN -180 AND 180", name="lon_range"),
        # Search: published events of a time range, by start.
        Index("ix_events_status_starts_at", "status", "starts_at"),
        Index("ix_events_lat_lon", "lat", "lon"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    cluster_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("clusters.id", ondelete="RESTRICT"), index=True
    )
    organisation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    kind: Mapped[EventKind] = mapped_column(enum_column(EventKind, "event_kind"))
    format: Mapped[EventFormat] = mapped_column(enum_column(EventFormat, "event_format"))
    status: Mapped[EventStatus] = mapped_column(enum_column(EventStatus, "event_status"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(16))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    # The venue; null for online events.
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    lon: Mapped[float | None] = mapped_column(Float, nullable=True)
    place_name: Mapped[str] = mapped_column(String(200), default="")
    # Shown only to confirmed participants and the organisers.
    online_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    capacity: Mapped[int] = mapped_column(Integer)
    seats_taken: Mapped[int] = mapped_column(Integer, default=0)
    waitlist_count: Mapped[int] = mapped_column(Integer, default=0)
    registration_opens_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    registration_closes_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hands out waiting-list places in arrival order; bumped under the event's row lock.
    queue_counter: Mapped[int] = mapped_column(Integer, default=0)
    # iCalendar SEQUENCE: bumped on every change people's calendars should pick up.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # Offline edits send the version they saw.
    version: Mapped[int] = mapped_column(Integer, default=1)
    cancellation_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    cluster: Mapped[Cluster] = relationship(lazy="raise")
    organisation: Mapped[Organisation] = relationship(lazy="raise")
    topics: Mapped[list[EventTopic]] = relationship(
        lazy="raise", cascade="all, delete-orphan", order_by="EventTopic.position"
    )


class EventTopic(Base):
    """What an event is about: a catalogue material (how a firm with rice husk finds the gasifier
    workshop) or a free tag ("biogas", "water quality"). Exactly one of the two is set."""

    __tablename__ = "event_topics"
    __table_args__ = (
        UniqueConstraint("event_id", "material_code"),
        UniqueConstraint("event_id", "tag"),
        CheckConstraint("(material_code IS NULL) <> (tag IS NULL)", name="material_or_tag"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    material_code: Mapped[str | None] = mapped_column(
        ForeignKey("materials.code", ondelete="RESTRICT"), index=True, nullable=True
    )
    # Lower-cased, so that a search for "Biogas" finds "biogas".
    tag: Mapped[str | None] = mapped_column(String(40), index=True, nullable=True)
    # Keeps the order the organiser gave.
    position: Mapped[int] = mapped_column(Integer, default=0)

    material: Mapped[Material | None] = relationship(lazy="raise")


class EventRegistration(Base):
    """One person's place at an event (for one or more seats). Cancelled and rejected ones stay
    as history; registering again revives the same row."""

    __tablename__ = "event_registrations"
    __table_args__ = (
        UniqueConstraint("event_id", "user_id"),
        CheckConstraint("seats >= 1", name="seats_positive"),
        Index("ix_event_registrations_event_id_status_queue", "event_id", "status", "queue_number"),
        Index("ix_event_registrations_user_id", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The organisation the person acted for when registering (an SHG bringing its members).
    organisation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organisations.id", ondelete="SET NULL")
    )
    seats: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[RegistrationStatus] = mapped_column(
        enum_column(RegistrationStatus, "registration_status")
    )
    # Place in the event's arrival order; the waiting list is promoted in this order.
    queue_number: Mapped[int] = mapped_column(Integer)
    # Approval given: a waitlisted registration that was approved is confirmed when promoted.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    checked_in_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )

    event: Mapped[Event] = relationship(lazy="raise")
    user: Mapped[User] = relationship(lazy="raise", foreign_keys=[user_id])
    organisation: Mapped[Organisation | None] = relationship(lazy="raise")


class CalendarFeed(Base):
    """A person's secret calendar address. Only a hash is kept: the address is shown once, when
    it is made, and rotating it makes the old one stop working."""

    __tablename__ = "calendar_feeds"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# What the apps keep offline (backend/sync): the events people registered for (scope: the event)
# and their organisers' events; a registration is a change of its event for that person.
sync_log.track(
    Event,
    lambda row: [
        (
            ChangeType.EVENT,
            row.id,
            [sync_log.event_attendees(row.id), sync_log.organisation(row.organisation_id)],
        )
    ],
)
sync_log.track(
    EventRegistration,
    lambda row: [(ChangeType.EVENT, row.event_id, [sync_log.person(row.user_id)])],
)
