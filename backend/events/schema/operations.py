"""Event queries and mutations: thin resolvers over the events service."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from backend.auth.permissions import IsAuthenticated, IsInstitutionOrCommunity
from backend.events import service
from backend.events.models import EventStatus
from backend.events.schema.types import (
    CalendarFeedPayload,
    EventCards,
    EventCreateInput,
    EventFilter,
    EventParticipant,
    EventPayload,
    EventRegisterInput,
    EventType,
    EventUpdateInput,
    RegistrationPayload,
    RegistrationType,
)
from backend.events.service import ParticipantFilter
from backend.graphql.budgets import ReadBudget
from backend.graphql.errors import payload_mutation
from backend.graphql.pagination import After, Connection, First, total_count_selected
from backend.graphql.types import context_of, parse_id, signed_in
from backend.idempotency import SecretAnswer
from backend.kit.errors import ServiceError
from backend.kit.pagination import PageRequest

EventId = Annotated[strawberry.ID, strawberry.argument(description="The event's id.")]
RegistrationId = Annotated[strawberry.ID, strawberry.argument(description="The registration's id.")]
Reason = Annotated[
    str, strawberry.argument(description="Why, in a few words; shown to the people affected.")
]


def _event_payload(info: strawberry.Info, view: service.EventView) -> EventPayload:
    context = context_of(info)
    return EventPayload(event=EventType.of(view, context.viewer, context.clock.now()))


def _registration_payload(
    info: strawberry.Info, view: service.RegistrationView
) -> RegistrationPayload:
    context = context_of(info)
    return RegistrationPayload(
        registration=RegistrationType.with_event(view, context.viewer, context.clock.now())
    )


async def _on_event(
    info: strawberry.Info, action: Any, id: strawberry.ID, **extra: Any
) -> EventPayload:
    """An organiser's action on one event: the service call and its payload."""
    context = context_of(info)
    view = await action(
        db=context.db,
        viewer=signed_in(info),
        event_id=parse_id(id, "id"),
        now=context.clock.now(),
        **extra,
    )
    return _event_payload(info, view)


async def _on_registration(
    info: strawberry.Info, action: Any, id: strawberry.ID, **extra: Any
) -> RegistrationPayload:
    """An action on one registration: the service call and its payload."""
    context = context_of(info)
    view = await action(
        db=context.db,
        viewer=signed_in(info),
        registration_id=parse_id(id, "id"),
        now=context.clock.now(),
        **extra,
    )
    return _registration_payload(info, view)


def _events(info: strawberry.Info, page: Any) -> Connection[EventType]:
    context = context_of(info)
    now = context.clock.now()
    return Connection[EventType].of(page, lambda view: EventType.of(view, context.viewer, now))


@strawberry.type
class EventsQuery:
    @strawberry.field(
        description="Published events, soonest first (anyone, also without signing in). "
        "Without a time range: those that have not ended yet. Rate-limited (THROTTLED with "
        "`extensions.retryAfter`).",
        extensions=[ReadBudget()],
    )
    async def events(
        self,
        info: strawberry.Info,
        filter: Annotated[
            EventFilter | None, strawberry.argument(description="Narrow the list.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[EventType]:
        context = context_of(info)
        page = await service.search_events(
            db=context.db,
            viewer=context.viewer,
            filter=(filter or EventFilter()).to_service(),
            page=PageRequest.of(first, after),
            now=context.clock.now(),
            with_total=total_count_selected(info),
        )
        return Connection[EventType].of(page, EventCards(context.viewer, context.clock.now()).event)

    @strawberry.field(
        description="One event; null if there is none the viewer may see (drafts are their "
        "organisers')."
    )
    async def event(self, info: strawberry.Info, id: EventId) -> EventType | None:
        context = context_of(info)
        try:
            event_id = parse_id(id, "id")
        except ServiceError:
            return None
        view = await service.get_event(db=context.db, viewer=context.viewer, event_id=event_id)
        return EventType.of(view, context.viewer, context.clock.now()) if view else None

    @strawberry.field(
        description="Events of the organisation the viewer acts for, drafts included, latest "
        "start first.",
        permission_classes=[IsAuthenticated],
    )
    async def organised_events(
        self,
        info: strawberry.Info,
        status: Annotated[
            EventStatus | None, strawberry.argument(description="Only this status.")
        ] = None,
        first: First = None,
        after: After = None,
    ) -> Connection[EventType]:
        context = context_of(info)
        page = await service.organised_events(
            db=context.db,
            viewer=signed_in(info),
            status=status,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return _events(info, page)

    @strawberry.field(
        description="The viewer's registrations with their events, by the event's start.",
        permission_classes=[IsAuthenticated],
    )
    async def my_registrations(
        self,
        info: strawberry.Info,
        upcoming_only: Annotated[
            bool, strawberry.argument(description="Only events that have not ended.")
        ] = True,
        first: First = None,
        after: After = None,
    ) -> Connection[RegistrationType]:
        context = context_of(info)
        now = context.clock.now()
        viewer = signed_in(info)
        page = await service.my_registrations(
            db=context.db,
            viewer=viewer,
            upcoming_only=upcoming_only,
            page=PageRequest.of(first, after),
            now=now,
            with_total=total_count_selected(info),
        )
        return Connection[RegistrationType].of(
            page, lambda view: RegistrationType.with_event(view, viewer, now)
        )

    @strawberry.field(
        description="Who registered for an event, in arrival order (the waiting list's order); "
        "for its organisers and platform admins.",
        permission_classes=[IsAuthenticated],
    )
    async def event_participants(
        self,
        info: strawberry.Info,
        event_id: EventId,
        status: Annotated[
            ParticipantFilter, strawberry.argument(description="Which registrations.")
        ] = ParticipantFilter.ALL,
        first: First = None,
        after: After = None,
    ) -> Connection[EventParticipant]:
        context = context_of(info)
        page = await service.participants(
            db=context.db,
            viewer=signed_in(info),
            event_id=parse_id(event_id, "eventId"),
            which=status,
            page=PageRequest.of(first, after),
            with_total=total_count_selected(info),
        )
        return Connection[EventParticipant].of(page, EventParticipant.of)


@strawberry.type
class EventsMutation:
    @payload_mutation(
        description="Create an event of the organisation you act for, as a DRAFT. Institutions "
        "create any kind; communities create community meetings.",
        gates=(IsInstitutionOrCommunity,),
    )
    async def event_create(
        self,
        info: strawberry.Info,
        input: Annotated[EventCreateInput, strawberry.argument(description="The new event.")],
    ) -> EventPayload:
        context = context_of(info)
        view = await service.create_event(
            db=context.db, viewer=signed_in(info), draft=input.to_service(), now=context.clock.now()
        )
        return _event_payload(info, view)

    @payload_mutation(
        description="Change an event you organise. Registrants are told when its time or place "
        "moves, and their calendars update.",
        gates=(IsAuthenticated,),
    )
    async def event_update(
        self,
        info: strawberry.Info,
        input: Annotated[EventUpdateInput, strawberry.argument(description="The changes.")],
    ) -> EventPayload:
        context = context_of(info)
        view = await service.update_event(
            db=context.db,
            viewer=signed_in(info),
            event_id=parse_id(input.id, "id"),
            changes=input.to_service(),
            expected_version=input.expected_version,
            now=context.clock.now(),
        )
        return _event_payload(info, view)

    @payload_mutation(
        description="Publish a draft: it becomes searchable and open for registration. "
        "Publishing a published event again changes nothing.",
        gates=(IsAuthenticated,),
    )
    async def event_publish(self, info: strawberry.Info, id: EventId) -> EventPayload:
        return await _on_event(info, service.publish_event, id)

    @payload_mutation(
        description="Cancel an event (its organisers, or platform admins). It stays readable "
        "as CANCELLED; registrants are told.",
        gates=(IsAuthenticated,),
    )
    async def event_cancel(
        self, info: strawberry.Info, id: EventId, reason: Reason = ""
    ) -> EventPayload:
        return await _on_event(info, service.cancel_event, id, reason=reason)

    @payload_mutation(
        description="Register for an event: CONFIRMED while seats are free, WAITLISTED when "
        "full, PENDING_APPROVAL when the organisers approve. Registering again while "
        "registered returns the same registration.",
        gates=(IsAuthenticated,),
    )
    async def event_register(
        self,
        info: strawberry.Info,
        input: Annotated[EventRegisterInput, strawberry.argument(description="What to book.")],
    ) -> RegistrationPayload:
        context = context_of(info)
        view = await service.register(
            db=context.db,
            viewer=signed_in(info),
            event_id=parse_id(input.event_id, "eventId"),
            seats=input.seats,
            note=input.note,
            now=context.clock.now(),
        )
        return _registration_payload(info, view)

    @payload_mutation(
        description="Cancel your registration; freed seats go to the waiting list at once.",
        gates=(IsAuthenticated,),
    )
    async def event_registration_cancel(
        self, info: strawberry.Info, id: RegistrationId
    ) -> RegistrationPayload:
        return await _on_registration(info, service.cancel_registration, id)

    @payload_mutation(
        description="Approve a pending registration of an event you organise: confirmed if "
        "seats are free, else on the waiting list.",
        gates=(IsAuthenticated,),
    )
    async def event_registration_approve(
        self, info: strawberry.Info, id: RegistrationId
    ) -> RegistrationPayload:
        return await _on_registration(info, service.approve_registration, id)

    @payload_mutation(
        description="Decline a registration of an event you organise; its seats go to the "
        "waiting list.",
        gates=(IsAuthenticated,),
    )
    async def event_registration_reject(
        self, info: strawberry.Info, id: RegistrationId, reason: Reason = ""
    ) -> RegistrationPayload:
        return await _on_registration(info, service.reject_registration, id, reason=reason)

    @payload_mutation(
        description="Mark a confirmed participant present (or, with `attended: false`, undo "
        "it), from 3 hours before the start until a day after the end.",
        gates=(IsAuthenticated,),
    )
    async def event_check_in(
        self,
        info: strawberry.Info,
        id: RegistrationId,
        attended: Annotated[
            bool, strawberry.argument(description="False takes a mistaken check-in back.")
        ] = True,
    ) -> RegistrationPayload:
        return await _on_registration(info, service.check_in, id, attended=attended)

    @payload_mutation(
        description="Make a new secret address for your calendar feed (the events you "
        "registered for); the previous address stops working.",
        gates=(IsAuthenticated,),
        # A double tap must not leave the app showing an address the second rotation killed.
        secret_answer=SecretAnswer.SEALED,
    )
    async def calendar_feed_rotate(self, info: strawberry.Info) -> CalendarFeedPayload:
        context = context_of(info)
        token = await service.rotate_calendar_feed(
            db=context.db, viewer=signed_in(info), now=context.clock.now()
        )
        path = f"/calendar/feeds/{token}.ics"
        return CalendarFeedPayload(feed_url=context.absolute_url(path), feed_path=path)
