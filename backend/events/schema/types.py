"""GraphQL types, inputs and payloads of knowledge-transfer events."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import strawberry

from backend.auth.viewer import Anonymous, Viewer
from backend.events import models, policies, service
from backend.events.models import EventFormat, EventKind, EventStatus, RegistrationStatus
from backend.events.service import ParticipantFilter
from backend.graphql.types import (
    Location,
    LocationInput,
    Payload,
    given,
    parse_id,
    parse_optional_id,
)
from backend.identity.schema import ClusterType, OrganisationType
from backend.marketplace.schema.types import MaterialType, NearInput

strawberry.enum(
    EventKind,
    description="SEMINAR, WORKSHOP, FIELD_DEMONSTRATION (at a firm or a plant), or "
    "COMMUNITY_MEETING (the only kind communities may hold).",
)
strawberry.enum(EventFormat, description="Where people take part: IN_PERSON, ONLINE or HYBRID.")
strawberry.enum(
    EventStatus,
    description="DRAFT (only the organisers see it) -> PUBLISHED -> CANCELLED. Past events stay "
    "readable.",
)
strawberry.enum(
    RegistrationStatus,
    description="CONFIRMED (has seats), WAITLISTED (gets seats when some are freed, in arrival "
    "order), PENDING_APPROVAL (the organisers approve registrations), CANCELLED (by the person), "
    "REJECTED (declined by the organisers).",
)
strawberry.enum(
    ParticipantFilter,
    description="Which registrations to list: ALL, one status, or CHECKED_IN (present).",
)


@strawberry.type(
    name="EventTopic",
    description="What an event is about: a catalogue material, or a free tag.",
)
class EventTopicType:
    tag: str | None = strawberry.field(description="A free tag, lower-cased; null for materials.")
    material: MaterialType | None = strawberry.field(
        description="The catalogue material; null for free tags."
    )

    @classmethod
    def of(cls, topic: models.EventTopic) -> EventTopicType:
        return cls(
            tag=topic.tag,
            material=MaterialType.of(topic.material) if topic.material is not None else None,
        )


def _local(moment: datetime | None, zone: str) -> datetime | None:
    return None if moment is None else moment.astimezone(ZoneInfo(zone))


@strawberry.type(name="Event", description="A seminar, workshop, field demonstration or meeting.")
class EventType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    kind: EventKind = strawberry.field(description="What kind of event.")
    format: EventFormat = strawberry.field(description="In person, online or both.")
    status: EventStatus = strawberry.field(description="Where the event is in its life.")
    title: str = strawberry.field(description="Title.")
    description: str = strawberry.field(description="What it is about, who it is for.")
    language: str = strawberry.field(description="BCP 47 tag of the language it is held in.")
    topics: list[EventTopicType] = strawberry.field(
        description="Materials and tags, in the organiser's order."
    )
    starts_at: datetime = strawberry.field(
        description="Start, with the offset of the event's time zone."
    )
    ends_at: datetime = strawberry.field(description="End, with the offset of its time zone.")
    timezone: str = strawberry.field(description="IANA time zone of the event, e.g. Asia/Tokyo.")
    venue: Location | None = strawberry.field(description="Where it is held; null if online.")
    online_url: str | None = strawberry.field(
        description="Link to join online; null unless the viewer is a confirmed participant "
        "or an organiser."
    )
    capacity: int = strawberry.field(description="Seats in all.")
    confirmed_seats: int = strawberry.field(description="Seats held by confirmed participants.")
    remaining_seats: int = strawberry.field(description="Seats still free.")
    waitlist_count: int = strawberry.field(description="Registrations on the waiting list.")
    registration_opens_at: datetime | None = strawberry.field(
        description="When registration opens; null: as soon as the event is published."
    )
    registration_closes_at: datetime = strawberry.field(
        description="When registration closes (the start unless the organiser set a time)."
    )
    registration_open: bool = strawberry.field(
        description="Whether people can register now (published, within the window)."
    )
    requires_approval: bool = strawberry.field(
        description="Whether the organisers approve each registration."
    )
    is_past: bool = strawberry.field(description="Whether the event has ended.")
    cluster: ClusterType = strawberry.field(description="The cluster it is for.")
    organiser: OrganisationType = strawberry.field(description="The organising organisation.")
    my_registration: RegistrationType | None = strawberry.field(
        description="The viewer's registration, if any (also cancelled or declined ones)."
    )
    can_manage: bool = strawberry.field(
        description="Whether the viewer organises it (may edit, see participants, check in)."
    )
    distance_km: float | None = strawberry.field(
        description="Distance from `filter.near`, in km; null otherwise."
    )
    calendar_path: str = strawberry.field(
        description="Path of its iCalendar file on this server, e.g. "
        "`/calendar/events/<id>.ics` (for 'add to calendar')."
    )
    cancellation_reason: str = strawberry.field(description="Why it was cancelled, if it was.")
    version: int = strawberry.field(
        description="Bumped on every change; send it back as `expectedVersion` when updating."
    )
    created_at: datetime = strawberry.field(description="When it was created.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    published_at: datetime | None = strawberry.field(description="When it was published.")
    cancelled_at: datetime | None = strawberry.field(description="When it was cancelled.")

    @classmethod
    def of(cls, view: service.EventView, viewer: Viewer | Anonymous, now: datetime) -> EventType:
        event = view.event
        return cls._build(
            event,
            topics=[EventTopicType.of(t) for t in event.topics],
            cluster=ClusterType.of(event.cluster),
            organiser=OrganisationType.of(event.organisation),
            my_registration=view.my_registration,
            distance_km=view.distance_km,
            viewer=viewer,
            now=now,
        )

    @classmethod
    def _build(
        cls,
        event: Any,
        *,
        topics: list[EventTopicType],
        cluster: ClusterType,
        organiser: OrganisationType,
        my_registration: service.RegistrationView | None,
        distance_km: float | None,
        viewer: Viewer | Anonymous,
        now: datetime,
    ) -> EventType:
        """The event from an ORM event or a Core row of ``events`` (both read by column name),
        with its related objects built by the caller."""
        zone = event.timezone
        local = ZoneInfo(zone)
        mine = my_registration.registration if my_registration else None
        starts_at = event.starts_at
        opens_at = event.registration_opens_at
        event_id = str(event.id)
        return cls(
            id=strawberry.ID(event_id),
            kind=event.kind,
            format=event.format,
            status=event.status,
            title=event.title,
            description=event.description,
            language=event.language,
            topics=topics,
            starts_at=starts_at.astimezone(local),
            ends_at=event.ends_at.astimezone(local),
            timezone=zone,
            venue=(
                Location(lat=event.lat, lon=event.lon, place_name=event.place_name)
                if event.lat is not None and event.lon is not None
                else None
            ),
            online_url=(
                event.online_url if policies.sees_online_url(viewer, event, mine) else None
            ),
            capacity=event.capacity,
            confirmed_seats=event.seats_taken,
            remaining_seats=max(0, event.capacity - event.seats_taken),
            waitlist_count=event.waitlist_count,
            registration_opens_at=None if opens_at is None else opens_at.astimezone(local),
            registration_closes_at=_local(service.registration_window(event)[1], zone) or starts_at,
            registration_open=service.registration_open(event, now),
            requires_approval=event.requires_approval,
            is_past=event.ends_at <= now,
            cluster=cluster,
            organiser=organiser,
            my_registration=(
                RegistrationType.of(my_registration, view=None)
                if my_registration is not None
                else None
            ),
            can_manage=policies.organises(viewer, event),
            distance_km=None if distance_km is None else round(distance_km, 3),
            calendar_path=f"/calendar/events/{event_id}.ics",
            cancellation_reason=event.cancellation_reason,
            version=event.version,
            created_at=event.created_at,
            updated_at=event.updated_at,
            published_at=event.published_at,
            cancelled_at=event.cancelled_at,
        )


class EventCards:
    """Builds the feed's events from its cards (service.EventCard, Core rows) for one request:
    a cluster, organiser, material or topic that several cards show is built once and shared."""

    def __init__(self, viewer: Viewer | Anonymous, now: datetime) -> None:
        self.viewer = viewer
        self.now = now
        self._clusters: dict[Any, ClusterType] = {}
        self._organisers: dict[Any, OrganisationType] = {}
        self._materials: dict[str, MaterialType] = {}
        self._topics: dict[tuple[str | None, str | None], EventTopicType] = {}

    def event(self, card: service.EventCard) -> EventType:
        cluster = self._clusters.get(card.cluster.id)
        if cluster is None:
            cluster = self._clusters[card.cluster.id] = ClusterType.of(card.cluster)
        organiser = self._organisers.get(card.organiser.id)
        if organiser is None:
            organiser = self._organisers[card.organiser.id] = OrganisationType.of(card.organiser)
        return EventType._build(
            card.event,
            topics=[self._topic(tag, material) for tag, material in card.topics],
            cluster=cluster,
            organiser=organiser,
            my_registration=card.my_registration,
            distance_km=card.distance_km,
            viewer=self.viewer,
            now=self.now,
        )

    def _topic(self, tag: str | None, material: Any) -> EventTopicType:
        key = (tag, None if material is None else material.code)
        built = self._topics.get(key)
        if built is None:
            built = self._topics[key] = EventTopicType(
                tag=tag, material=None if material is None else self._material(material)
            )
        return built

    def _material(self, material: Any) -> MaterialType:
        built = self._materials.get(material.code)
        if built is None:
            built = self._materials[material.code] = MaterialType.of(material)
        return built


@strawberry.type(name="EventRegistration", description="A person's place at an event.")
class RegistrationType:
    id: strawberry.ID = strawberry.field(description="Opaque id.")
    status: RegistrationStatus = strawberry.field(description="Where the registration stands.")
    seats: int = strawberry.field(description="Seats asked for (an SHG may bring members).")
    waitlist_position: int | None = strawberry.field(
        description="Place on the waiting list, 1 for the next to get seats; null unless "
        "WAITLISTED."
    )
    note: str = strawberry.field(description="The registrant's note to the organisers.")
    created_at: datetime = strawberry.field(description="When the person registered.")
    confirmed_at: datetime | None = strawberry.field(description="When seats were confirmed.")
    cancelled_at: datetime | None = strawberry.field(description="When it was cancelled.")
    checked_in_at: datetime | None = strawberry.field(
        description="When the organisers marked the person present."
    )
    view: strawberry.Private[Any]

    @strawberry.field(
        description="The event (null where the event itself is the parent of this object)."
    )
    def event(self) -> EventType | None:
        return self.view

    @classmethod
    def of(
        cls, registration_view: service.RegistrationView, *, view: EventType | None
    ) -> RegistrationType:
        r = registration_view.registration
        return cls(
            id=strawberry.ID(str(r.id)),
            status=r.status,
            seats=r.seats,
            waitlist_position=registration_view.waitlist_position,
            note=r.note,
            created_at=r.created_at,
            confirmed_at=r.confirmed_at,
            cancelled_at=r.cancelled_at,
            checked_in_at=r.checked_in_at,
            view=view,
        )

    @classmethod
    def with_event(
        cls, registration_view: service.RegistrationView, viewer: Viewer | Anonymous, now: datetime
    ) -> RegistrationType:
        r = registration_view.registration
        # The event as the viewer sees it: their own registration, which is this one only when
        # they are the registrant (an organiser approving someone has none, or another).
        registrant = isinstance(viewer, Viewer) and r.user_id == viewer.user_id
        event = EventType.of(
            service.EventView(
                r.event, registration_view if registrant else registration_view.viewers_own
            ),
            viewer,
            now,
        )
        return cls.of(registration_view, view=event)


@strawberry.type(description="A person who registered, as the organisers see them.")
class EventParticipant:
    registration: RegistrationType = strawberry.field(description="Their registration.")
    user_id: strawberry.ID = strawberry.field(description="The person's user id.")
    display_name: str = strawberry.field(description="The person's name.")
    email: str = strawberry.field(description="Where the organisers can reach them.")
    organisation_name: str | None = strawberry.field(
        description="The organisation they registered for, if any."
    )
    organisation_id: strawberry.ID | None = strawberry.field(description="Id of that organisation.")

    @classmethod
    def of(cls, registration_view: service.RegistrationView) -> EventParticipant:
        r = registration_view.registration
        return cls(
            registration=RegistrationType.of(registration_view, view=None),
            user_id=strawberry.ID(str(r.user_id)),
            display_name=r.user.display_name,
            email=r.user.email,
            organisation_name=r.organisation.name if r.organisation else None,
            organisation_id=strawberry.ID(str(r.organisation_id)) if r.organisation_id else None,
        )


@strawberry.input(description="A new event. It starts as a DRAFT; publish it with eventPublish.")
class EventCreateInput:
    title: str = strawberry.field(description="3 to 200 characters.")
    kind: EventKind = strawberry.field(description="Communities may create community meetings.")
    format: EventFormat = strawberry.field(description="In person, online or hybrid.")
    capacity: int = strawberry.field(description="Seats in all, 1 to 100,000.")
    starts_at: datetime = strawberry.field(description="Start, with an offset.")
    ends_at: datetime = strawberry.field(description="End, with an offset; within 31 days.")
    timezone: str = strawberry.field(description="IANA time zone it is held in.")
    cluster_id: strawberry.ID = strawberry.field(description="The cluster it is for.")
    description: str = strawberry.field(default="", description="Up to 10,000 characters.")
    language: str = strawberry.field(default="en", description="BCP 47 tag such as ja or th.")
    location: LocationInput | None = strawberry.field(
        default=None, description="The venue; needed for in-person and hybrid events."
    )
    online_url: str | None = strawberry.field(
        default=None,
        description="https link to join; needed for online and hybrid events. Only confirmed "
        "participants see it.",
    )
    topics: list[str] = strawberry.field(
        default_factory=list,
        description="Up to 20 catalogue material codes (such as `rice-husk`) and free tags.",
    )
    registration_opens_at: datetime | None = strawberry.field(
        default=None, description="When registration opens; null: at publication."
    )
    registration_closes_at: datetime | None = strawberry.field(
        default=None, description="When registration closes; null: at the start."
    )
    requires_approval: bool = strawberry.field(
        default=False, description="Whether the organisers approve each registration."
    )
    id: strawberry.ID | None = strawberry.field(
        default=None, description="The app's own UUID, so a retried request creates nothing new."
    )

    def to_service(self) -> service.EventDraft:
        return service.EventDraft(
            id=parse_optional_id(self.id, "id"),
            kind=self.kind,
            format=self.format,
            title=self.title,
            description=self.description,
            language=self.language,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            timezone=self.timezone,
            capacity=self.capacity,
            cluster_id=parse_id(self.cluster_id, "clusterId"),
            location=self.location.to_service() if self.location else None,
            online_url=self.online_url,
            topics=self.topics,
            registration_opens_at=self.registration_opens_at,
            registration_closes_at=self.registration_closes_at,
            requires_approval=self.requires_approval,
        )


@strawberry.input(description="Changes to an event; omitted fields stay as they are.")
class EventUpdateInput:
    id: strawberry.ID = strawberry.field(description="The event.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the app last saw; a stale one is a CONFLICT."
    )
    title: str | None = strawberry.field(default=None, description="New title.")
    description: str | None = strawberry.field(default=None, description="New description.")
    kind: EventKind | None = strawberry.field(default=None, description="New kind.")
    format: EventFormat | None = strawberry.field(default=None, description="New format.")
    language: str | None = strawberry.field(default=None, description="New language.")
    starts_at: datetime | None = strawberry.field(default=None, description="New start.")
    ends_at: datetime | None = strawberry.field(default=None, description="New end.")
    timezone: str | None = strawberry.field(default=None, description="New time zone.")
    capacity: int | None = strawberry.field(
        default=None,
        description="New capacity: more promotes the waiting list; never below the seats "
        "already confirmed.",
    )
    location: LocationInput | None = strawberry.field(
        default=strawberry.UNSET, description="New venue; null removes it (online events)."
    )
    online_url: str | None = strawberry.field(
        default=strawberry.UNSET, description="New link; null removes it."
    )
    topics: list[str] | None = strawberry.field(
        default=None, description="The new topics, replacing the old ones."
    )
    registration_opens_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="New opening time; null: at publication."
    )
    registration_closes_at: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="New closing time; null: at the start."
    )
    requires_approval: bool | None = strawberry.field(
        default=None, description="Turn approval on or off."
    )

    def to_service(self) -> service.EventChanges:
        location = given(self.location)
        return service.EventChanges(
            title=self.title,
            description=self.description,
            kind=self.kind,
            format=self.format,
            language=self.language,
            starts_at=self.starts_at,
            ends_at=self.ends_at,
            timezone=self.timezone,
            capacity=self.capacity,
            location=location.to_service() if isinstance(location, LocationInput) else location,
            online_url=given(self.online_url),
            topics=self.topics,
            registration_opens_at=given(self.registration_opens_at),
            registration_closes_at=given(self.registration_closes_at),
            requires_approval=self.requires_approval,
        )


@strawberry.input(
    description="Narrow the events; every given condition must hold. Without a time range: "
    "events that have not ended yet."
)
class EventFilter:
    starts_after: datetime | None = strawberry.field(
        default=None, description="Starting at or after this time."
    )
    starts_before: datetime | None = strawberry.field(
        default=None, description="Starting before this time."
    )
    near: NearInput | None = strawberry.field(
        default=None, description="Venues within a radius; results carry `distanceKm`."
    )
    cluster_id: strawberry.ID | None = strawberry.field(default=None, description="Cluster.")
    topic: str | None = strawberry.field(
        default=None, description="A tag or a material code, exactly."
    )
    material_code: str | None = strawberry.field(
        default=None,
        description="About this material, anything below it or anything above it in the "
        "catalogue (a rice-husk firm finds the agricultural-waste workshops too).",
    )
    format: EventFormat | None = strawberry.field(default=None, description="Format.")
    kind: EventKind | None = strawberry.field(default=None, description="Kind.")
    language: str | None = strawberry.field(default=None, description="Held in this language.")
    organisation_id: strawberry.ID | None = strawberry.field(
        default=None, description="One organiser's events."
    )
    include_cancelled: bool = strawberry.field(
        default=False, description="Also list cancelled events."
    )

    def to_service(self) -> service.EventFilter:
        return service.EventFilter(
            starts_after=self.starts_after,
            starts_before=self.starts_before,
            near=(
                service.Near(self.near.lat, self.near.lon, self.near.radius_km)
                if self.near
                else None
            ),
            cluster_id=parse_optional_id(self.cluster_id, "filter.clusterId"),
            topic=self.topic,
            material_code=self.material_code,
            format=self.format,
            kind=self.kind,
            language=self.language,
            organisation_id=parse_optional_id(self.organisation_id, "filter.organisationId"),
            include_cancelled=self.include_cancelled,
        )


@strawberry.input(description="A registration for an event.")
class EventRegisterInput:
    event_id: strawberry.ID = strawberry.field(description="The event.")
    seats: int = strawberry.field(
        default=1, description="Seats, 1 to 100 (an SHG registering its members)."
    )
    note: str = strawberry.field(default="", description="A note to the organisers.")


@strawberry.type(description="The event after a mutation.")
class EventPayload(Payload):
    event: EventType | None = strawberry.field(
        default=None, description="The event; null when there are errors."
    )


@strawberry.type(description="The registration after a mutation.")
class RegistrationPayload(Payload):
    registration: RegistrationType | None = strawberry.field(
        default=None, description="The registration, with its event; null when there are errors."
    )


@strawberry.type(description="A new secret address of the viewer's calendar feed.")
class CalendarFeedPayload(Payload):
    feed_url: str | None = strawberry.field(
        default=None,
        description="The full address to subscribe to in a calendar app. It is shown only now; "
        "rotating again makes this one stop working.",
    )
    feed_path: str | None = strawberry.field(
        default=None, description="The same address without scheme and host."
    )
