"""Knowledge-transfer events: from draft to published (or cancelled), registrations with a
waiting list and approvals, check-in, search and calendar feeds.

Every public function is keyword-only, owns its unit of work and takes ``now`` from the app's
clock, so deadlines are testable without sleeping. The package is split by what people do:
organising events, registering for them, reading them, calendar feeds, and who came (the
cluster's insights).
"""

from backend.events.service.attendance import (
    AttendanceByKind,
    EventsHeld,
    attendance_by_organisation_kind,
    events_held,
)
from backend.events.service.calendars import calendar_event, calendar_feed, rotate_calendar_feed
from backend.events.service.feed import search_events
from backend.events.service.inputs import (
    UNCHANGED,
    EventCard,
    EventChanges,
    EventDraft,
    EventFilter,
    EventView,
    Near,
    ParticipantFilter,
    RegistrationView,
)
from backend.events.service.organising import (
    cancel_event,
    create_event,
    publish_event,
    update_event,
)
from backend.events.service.reading import (
    all_participants,
    events_for_sync,
    get_event,
    my_registrations,
    organised_events,
    participants,
    registered_event_ids,
)
from backend.events.service.registering import (
    approve_registration,
    cancel_registration,
    check_in,
    register,
    registration_open,
    registration_window,
    reject_registration,
)

__all__ = [
    "UNCHANGED",
    "AttendanceByKind",
    "EventCard",
    "EventChanges",
    "EventDraft",
    "EventFilter",
    "EventView",
    "EventsHeld",
    "Near",
    "ParticipantFilter",
    "RegistrationView",
    "all_participants",
    "approve_registration",
    "attendance_by_organisation_kind",
    "calendar_event",
    "calendar_feed",
    "cancel_event",
    "cancel_registration",
    "check_in",
    "create_event",
    "events_for_sync",
    "events_held",
    "get_event",
    "my_registrations",
    "organised_events",
    "participants",
    "publish_event",
    "register",
    "registered_event_ids",
    "registration_open",
    "registration_window",
    "reject_registration",
    "rotate_calendar_feed",
    "search_events",
    "update_event",
]
