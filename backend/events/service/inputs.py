"""What the events service takes and gives: drafts, changes, filters and views."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from backend.events.models import (
    Event,
    EventFormat,
    EventKind,
    EventRegistration,
    RegistrationStatus,
)
from backend.kit.validation import (
    UNCHANGED,
    Place,
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
    my_registration: RegistrationView | None = None
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class EventCard:
    """An event of the feed as one viewer sees it, from Core rows (service/feed.py): the
    event's row, its cluster's, its organiser (an ``OrganiserRow``, with that organisation's
    cluster), its topics in order as (tag, material row) pairs, the viewer's registration and,
    in a near-search, the distance."""

    event: Any
    cluster: Any
    organiser: Any
    topics: list[tuple[str | None, Any]]
    my_registration: RegistrationView | None = None
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class RegistrationView:
    registration: EventRegistration
    # 1 for the first on the waiting list; None unless waitlisted.
    waitlist_position: int | None = None
    # The viewer's own registration for the same event, when the viewer is not the registrant
    # (an organiser approving someone): what the event's `myRegistration` shows them.
    viewers_own: RegistrationView | None = None


class ParticipantFilter(StrEnum):
    ALL = "ALL"
    CONFIRMED = "CONFIRMED"
    WAITLISTED = "WAITLISTED"
    PENDING_APPROVAL = "PENDING_APPROVAL"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    CHECKED_IN = "CHECKED_IN"
