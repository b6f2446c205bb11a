"""The life of an event: create (and its validation), update, publish, cancel, the past,
check-in, and the organisers' own list. Every call goes through the API; times come from the
test clock (2027-03-01T00:00Z unless a test moves it)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from tests.conftest import GraphQL
from tests.events.kit import (
    APPROVE,
    CANCEL_EVENT,
    CHECK_IN,
    CREATE,
    ENDS,
    NOTIFICATIONS,
    PARTICIPANTS,
    PUBLISH,
    STARTS,
    UPDATE,
    create_event,
    event_input,
    failed,
    listed_ids,
    organised,
    publish,
    published_event,
    read_event,
    register_for,
)
from tests.identity.kit import invite_code
from tests.kit import iso, problem

# ---------------------------------------------------------------------------------------------
# Create


async def test_create_returns_a_draft_with_every_field_as_given(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")

    form = event_input(
        cluster_id,
        title="  Biomass boiler seminar  ",
        description="  Running a wood-chip boiler.\nWho: plant managers.  ",
        capacity=40,
        # Given in UTC; it comes back in Tokyo time.
        startsAt="2027-03-10T05:00:00Z",
        endsAt="2027-03-10T07:00:00+00:00",
        registrationOpensAt="2027-03-02T00:00:00+00:00",
        registrationClosesAt="2027-03-09T12:00:00+09:00",
        requiresApproval=True,
        topics=["wood-shavings", "Boilers", "  Wood   Gas ", "boilers"],
    )
    body = await gql(CREATE, {"input": form}, token=lab.access_token)
    payload = body["data"]["eventCreate"]
    assert payload["errors"] == [], body
    event_id = payload["event"]["id"]
    expected = {
        "id": event_id,
        "kind": "SEMINAR",
        "format": "HYBRID",
        "status": "DRAFT",
        "title": "Biomass boiler seminar",
        "description": "Running a wood-chip boiler.\nWho: plant managers.",
        "language": "ja",
        "topics": [
            {"tag": None, "material": {"code": "wood-shavings", "name": "Wood shavings"}},
            {"tag": "boilers", "material": None},
            {"tag": "wood gas", "material": None},
        ],
        "startsAt": "2027-03-10T14:00:00+09:00",
        "endsAt": "2027-03-10T16:00:00+09:00",
        "timezone": "Asia/Tokyo",
        "venue": {"lat": 35.07, "lon": 133.75, "placeName": "Maniwa City Hall"},
        "onlineUrl": "https://meet.example.org/boiler",
        "capacity": 40,
        "confirmedSeats": 0,
        "remainingSeats": 40,
        "waitlistCount": 0,
        "registrationOpensAt": "2027-03-02T09:00:00+09:00",
        "registrationClosesAt": "2027-03-09T12:00:00+09:00",
        "registrationOpen": False,
        "requiresApproval": True,
        "isPast": False,
        "cluster": {"id": cluster_id, "slug": "test-wood"},
        "organiser": {"id": lab.organisation_id, "name": "Okayama Lab", "kind": "INSTITUTION"},
        "myRegistration": None,
        "canManage": True,
        "distanceKm": None,
        "calendarPath": f"/calendar/events/{event_id}.ics",
        "cancellationReason": "",
        "version": 1,
        "createdAt": "2027-03-01T00:00:00+00:00",
        "updatedAt": "2027-03-01T00:00:00+00:00",
        "publishedAt": None,
        "cancelledAt": None,
    }
    assert payload == {"event": expected, "errors": []}
    # Read back, it is the same.
    assert await read_event(gql, event_id, lab.access_token) == expected


async def test_an_online_event_has_no_venue_and_the_closing_time_defaults_to_the_start(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    event = await create_event(
        gql,
        lab.access_token,
        cluster_id,
        format="ONLINE",
        location=None,
        timezone="Asia/Kolkata",
        topics=[],
        capacity=1,
    )
    assert {
        k: event[k]
        for k in (
            "format",
            "venue",
            "topics",
            "startsAt",
            "endsAt",
            "timezone",
            "registrationOpensAt",
            "registrationClosesAt",
            "remainingSeats",
        )
    } == {
        "format": "ONLINE",
        "venue": None,
        "topics": [],
        "startsAt": "2027-03-10T10:30:00+05:30",
        "endsAt": "2027-03-10T12:30:00+05:30",
        "timezone": "Asia/Kolkata",
        "registrationOpensAt": None,
        "registrationClosesAt": "2027-03-10T10:30:00+05:30",
        "remainingSeats": 1,
    }


async def test_a_bad_form_reports_all_its_problems_at_once(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")

    in_person = event_input(
        str(uuid.uuid4()),  # no such cluster
        title=" x ",
        format="IN_PERSON",
        location=None,
        onlineUrl="http://meet.example.org/boiler",
        startsAt="2027-03-10T16:00:00+09:00",
        endsAt="2027-03-10T14:00:00+09:00",
        timezone="Mars/Olympus_Mons",
        capacity=0,
        topics=[f"topic {n}" for n in range(21)],
    )
    body = await gql(CREATE, {"input": in_person}, token=lab.access_token)
    assert body["data"]["eventCreate"] == failed(
        [
            problem("VALIDATION", "Must have at least 3 characters", "title"),
            problem("VALIDATION", "Use an IANA time zone such as Asia/Tokyo", "timezone"),
            problem("VALIDATION", "Must be after the start", "endsAt"),
            problem("VALIDATION", "Must be between 1 and 100000", "capacity"),
            problem("VALIDATION", "In-person and hybrid events need a venue", "location"),
            problem("VALIDATION", "Must be an https:// address", "onlineUrl"),
            problem("VALIDATION", "At most 20 topics", "topics"),
            problem("NOT_FOUND", "No such cluster", "clusterId"),
        ]
    )

    online = event_input(
        cluster_id,
        format="ONLINE",
        location=None,
        onlineUrl=None,
        startsAt="2027-03-10T14:00:00",
        endsAt="2027-03-10T16:00:00",
        registrationClosesAt="2027-03-09T12:00:00",
    )
    body = await gql(CREATE, {"input": online}, token=lab.access_token)
    naive = "Give the time with its offset, such as 2026-12-10T14:00:00+09:00"
    assert body["data"]["eventCreate"] == failed(
        [
            problem("VALIDATION", naive, "startsAt"),
            problem("VALIDATION", naive, "endsAt"),
            problem("VALIDATION", naive, "registrationClosesAt"),
            problem("VALIDATION", "Online and hybrid events need a link", "onlineUrl"),
        ]
    )

    hybrid = event_input(cluster_id, location=None, onlineUrl="")
    body = await gql(CREATE, {"input": hybrid}, token=lab.access_token)
    assert body["data"]["eventCreate"] == failed(
        [
            problem("VALIDATION", "In-person and hybrid events need a venue", "location"),
            problem("VALIDATION", "Online and hybrid events need a link", "onlineUrl"),
        ]
    )

    # Nothing was created.
    assert await organised(gql, lab.access_token) == {"edges": [], "totalCount": 0}


async def test_the_same_client_id_twice_gives_the_same_event(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    other = await register("cc@uni.example", cluster_id, name="Chugoku College", kind="INSTITUTION")
    client_id = str(uuid.uuid4())

    first = await gql(
        CREATE, {"input": event_input(cluster_id, id=client_id)}, token=lab.access_token
    )
    again = await gql(
        CREATE, {"input": event_input(cluster_id, id=client_id)}, token=lab.access_token
    )
    assert first["data"]["eventCreate"]["errors"] == [], first
    assert first["data"]["eventCreate"]["event"]["id"] == client_id
    assert again == first
    assert await organised(gql, lab.access_token) == {
        "edges": [
            {"node": {"id": client_id, "title": "Biomass boiler seminar", "status": "DRAFT"}}
        ],
        "totalCount": 1,
    }

    taken = await gql(
        CREATE, {"input": event_input(cluster_id, id=client_id)}, token=other.access_token
    )
    assert taken["data"]["eventCreate"] == failed(
        [problem("CONFLICT", "This id belongs to another event", "id")]
    )
    assert await organised(gql, other.access_token) == {"edges": [], "totalCount": 0}


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"startsAt": "9999-12-31T10:00:00+00:00", "endsAt": "9999-12-31T12:00:00+00:00"},
            "startsAt",
            "Give a time between the years 2000 and 2100",
        ),
        ({"timezone": "Asia"}, "timezone", "Use an IANA time zone such as Asia/Tokyo"),
        ({"timezone": "posix/Asia/Tokyo"}, "timezone", "Use an IANA time zone such as Asia/Tokyo"),
        ({"timezone": "localtime"}, "timezone", "Use an IANA time zone such as Asia/Tokyo"),
    ],
)
async def test_times_and_zones_calendars_cannot_use_are_refused(
    gql: Any, register: Any, cluster_id: str, changes: dict[str, str], field: str, message: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Lab", kind="INSTITUTION")
    created = await gql(
        CREATE, {"input": event_input(cluster_id, **changes)}, token=lab.access_token
    )
    errors = created["data"]["eventCreate"]["errors"]
    assert {"code": "VALIDATION", "message": message, "field": field} in errors, created
    assert created["data"]["eventCreate"]["event"] is None


# ---------------------------------------------------------------------------------------------
# Update


async def test_update_bumps_the_version_and_a_stale_version_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    created = await create_event(gql, lab.access_token, cluster_id)
    assert created["version"] == 1

    clock.advance(timedelta(hours=1))
    body = await gql(
        UPDATE,
        {
            "input": {
                "id": created["id"],
                "expectedVersion": 1,
                "title": "Wood-chip boiler seminar",
                "capacity": 25,
                "topics": ["sawdust"],
            }
        },
        token=lab.access_token,
    )
    updated = {
        **created,
        "title": "Wood-chip boiler seminar",
        "capacity": 25,
        "remainingSeats": 25,
        "topics": [{"tag": None, "material": {"code": "sawdust", "name": "Sawdust"}}],
        "version": 2,
        "updatedAt": "2027-03-01T01:00:00+00:00",
    }
    assert body["data"]["eventUpdate"] == {"event": updated, "errors": []}

    stale = await gql(
        UPDATE,
        {"input": {"id": created["id"], "expectedVersion": 1, "title": "Lost edit"}},
        token=lab.access_token,
    )
    assert stale["data"]["eventUpdate"] == failed(
        [
            problem(
                "CONFLICT",
                "The event was changed meanwhile (now version 2); reload it and apply your edit "
                "again",
                "expectedVersion",
            )
        ]
    )
    assert await read_event(gql, created["id"], lab.access_token) == updated

    # Without expectedVersion the change simply applies.
    body = await gql(
        UPDATE,
        {"input": {"id": created["id"], "endsAt": "2027-03-10T17:00:00+09:00"}},
        token=lab.access_token,
    )
    assert body["data"]["eventUpdate"] == {
        "event": {**updated, "endsAt": "2027-03-10T17:00:00+09:00", "version": 3},
        "errors": [],
    }


async def test_update_checks_the_changed_schedule(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    created = await create_event(gql, lab.access_token, cluster_id)
    body = await gql(
        UPDATE,
        {
            "input": {
                "id": created["id"],
                "startsAt": "2027-03-10T18:00:00+09:00",
                "timezone": "Asia/Nowhere",
                "capacity": 0,
                "onlineUrl": None,
            }
        },
        token=lab.access_token,
    )
    assert body["data"]["eventUpdate"] == failed(
        [
            problem("VALIDATION", "Use an IANA time zone such as Asia/Tokyo", "timezone"),
            problem("VALIDATION", "Must be after the start", "endsAt"),
            problem("VALIDATION", "Must be between 1 and 100000", "capacity"),
            problem("VALIDATION", "Online and hybrid events need a link", "onlineUrl"),
        ]
    )
    assert await read_event(gql, created["id"], lab.access_token) == created


# ---------------------------------------------------------------------------------------------
# Publish


async def test_publishing_a_draft_whose_start_has_passed_is_refused(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    created = await create_event(gql, lab.access_token, cluster_id)

    clock.set(STARTS)
    body = await gql(PUBLISH, {"id": created["id"]}, token=lab.access_token)
    assert body["data"]["eventPublish"] == failed(
        [problem("VALIDATION", "The event has already started; move its start", "startsAt")]
    )
    assert (await read_event(gql, created["id"], lab.access_token) or {})["status"] == "DRAFT"

    # Moved a day later, it publishes.
    moved = await gql(
        UPDATE,
        {
            "input": {
                "id": created["id"],
                "startsAt": "2027-03-11T14:00:00+09:00",
                "endsAt": "2027-03-11T16:00:00+09:00",
            }
        },
        token=lab.access_token,
    )
    assert moved["data"]["eventUpdate"]["errors"] == [], moved
    event = await publish(gql, lab.access_token, created["id"])
    assert {k: event[k] for k in ("status", "publishedAt", "version", "registrationOpen")} == {
        "status": "PUBLISHED",
        "publishedAt": iso(STARTS),
        "version": 3,
        "registrationOpen": True,
    }


async def test_publishing_twice_is_idempotent(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    created = await create_event(gql, lab.access_token, cluster_id)

    first = await publish(gql, lab.access_token, created["id"])
    assert first == {
        **created,
        "status": "PUBLISHED",
        "registrationOpen": True,
        "version": 2,
        "publishedAt": "2027-03-01T00:00:00+00:00",
    }
    clock.advance(timedelta(hours=2))
    second = await gql(PUBLISH, {"id": created["id"]}, token=lab.access_token)
    assert second["data"]["eventPublish"] == {"event": first, "errors": []}
    assert await listed_ids(gql) == [(created["id"], "PUBLISHED")]


# ---------------------------------------------------------------------------------------------
# Cancel and the past


async def test_a_cancelled_event_cannot_be_changed_and_stays_readable(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    firm = await register("a@firm.example", cluster_id, name="Firm A")
    event_id = await published_event(gql, lab.access_token, cluster_id)
    await register_for(gql, firm.access_token, event_id)

    clock.advance(timedelta(days=1))
    body = await gql(
        CANCEL_EVENT, {"id": event_id, "reason": "  Heavy snow  "}, token=lab.access_token
    )
    payload = body["data"]["eventCancel"]
    assert payload["errors"] == [], body
    cancelled = payload["event"]
    assert {
        k: cancelled[k]
        for k in ("status", "cancellationReason", "cancelledAt", "updatedAt", "version")
    } == {
        "status": "CANCELLED",
        "cancellationReason": "Heavy snow",
        "cancelledAt": "2027-03-02T00:00:00+00:00",
        "updatedAt": "2027-03-02T00:00:00+00:00",
        "version": 3,
    }
    assert cancelled["registrationOpen"] is False

    changed = await gql(
        UPDATE, {"input": {"id": event_id, "title": "Back on"}}, token=lab.access_token
    )
    assert changed["data"]["eventUpdate"] == failed(
        [problem("CONFLICT", "A cancelled event cannot be changed")]
    )
    republished = await gql(PUBLISH, {"id": event_id}, token=lab.access_token)
    assert republished["data"]["eventPublish"] == failed(
        [problem("CONFLICT", "Only a draft can be published")]
    )
    again = await gql(CANCEL_EVENT, {"id": event_id, "reason": "twice"}, token=lab.access_token)
    assert again["data"]["eventCancel"] == {"event": cancelled, "errors": []}

    # Anyone still reads it, as cancelled; it is listed only when asked for.
    public = await read_event(gql, event_id)
    assert public == {**cancelled, "canManage": False, "onlineUrl": None}
    assert await listed_ids(gql) == []
    assert await listed_ids(gql, includeCancelled=True) == [(event_id, "CANCELLED")]

    inbox = await gql(NOTIFICATIONS, token=firm.access_token)
    assert inbox["data"]["notifications"]["edges"] == [
        {
            "node": {
                "kind": "EVENT_CANCELLED",
                "title": "Cancelled: Biomass boiler seminar",
                "body": "Heavy snow",
                "subjectType": "EVENT",
                "subjectId": event_id,
            }
        }
    ]


async def test_past_events_stay_readable(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    event_id = await published_event(gql, lab.access_token, cluster_id)

    clock.set(ENDS - timedelta(seconds=1))
    assert (await read_event(gql, event_id) or {})["isPast"] is False
    assert await listed_ids(gql) == [(event_id, "PUBLISHED")]

    clock.set(ENDS + timedelta(days=30))
    past = await read_event(gql, event_id)
    assert past is not None
    assert {k: past[k] for k in ("status", "isPast", "registrationOpen", "title")} == {
        "status": "PUBLISHED",
        "isPast": True,
        "registrationOpen": False,
        "title": "Biomass boiler seminar",
    }
    # Not upcoming any more, but found by its date.
    assert await listed_ids(gql) == []
    assert await listed_ids(gql, startsAfter="2027-03-01T00:00:00Z") == [(event_id, "PUBLISHED")]
    changed = await gql(
        UPDATE, {"input": {"id": event_id, "title": "Late"}}, token=lab.access_token
    )
    assert changed["data"]["eventUpdate"] == failed(
        [problem("CONFLICT", "A past event cannot be changed")]
    )


# ---------------------------------------------------------------------------------------------
# Check-in


async def test_check_in_is_for_confirmed_participants_within_its_window(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    first = await register("a@firm.example", cluster_id, name="Firm A")
    second = await register("b@firm.example", cluster_id, name="Firm B")
    event_id = await published_event(gql, lab.access_token, cluster_id, capacity=1)
    confirmed = await register_for(gql, first.access_token, event_id)
    waiting = await register_for(gql, second.access_token, event_id)
    assert (confirmed["status"], waiting["status"]) == ("CONFIRMED", "WAITLISTED")

    async def check_in(registration_id: str, attended: bool = True) -> dict[str, Any]:
        body = await gql(
            CHECK_IN, {"id": registration_id, "attended": attended}, token=lab.access_token
        )
        payload: dict[str, Any] = body["data"]["eventCheckIn"]
        return payload

    closed = failed(
        [
            problem(
                "VALIDATION",
                "Check-in opens 3 hours before the start and closes a day after the end",
            )
        ],
        "registration",
    )
    clock.set(STARTS - timedelta(hours=3, seconds=1))
    assert await check_in(confirmed["id"]) == closed

    opens = STARTS - timedelta(hours=3)
    clock.set(opens)
    assert await check_in(confirmed["id"]) == {
        "registration": {**confirmed, "checkedInAt": iso(opens)},
        "errors": [],
    }
    assert await check_in(waiting["id"]) == failed(
        [problem("CONFLICT", "Only confirmed participants check in; this one is WAITLISTED")],
        "registration",
    )
    # Checking in again keeps the first time.
    clock.advance(timedelta(minutes=30))
    assert (await check_in(confirmed["id"]))["registration"]["checkedInAt"] == iso(opens)
    present = await gql(
        PARTICIPANTS, {"eventId": event_id, "status": "CHECKED_IN"}, token=lab.access_token
    )
    assert present["data"]["eventParticipants"]["edges"] == [
        {
            "node": {
                "displayName": "a",
                "registration": {"status": "CONFIRMED", "checkedInAt": iso(opens)},
            }
        }
    ]

    # attended: false takes it back.
    assert await check_in(confirmed["id"], attended=False) == {
        "registration": {**confirmed, "checkedInAt": None},
        "errors": [],
    }
    present = await gql(
        PARTICIPANTS, {"eventId": event_id, "status": "CHECKED_IN"}, token=lab.access_token
    )
    assert present["data"]["eventParticipants"]["edges"] == []

    # Until a day after the end (from a paper list), not later.
    last = ENDS + timedelta(days=1)
    clock.set(last)
    assert (await check_in(confirmed["id"]))["registration"]["checkedInAt"] == iso(last)
    clock.set(last + timedelta(seconds=1))
    assert await check_in(confirmed["id"], attended=False) == closed
    assert await check_in(confirmed["id"]) == closed


async def test_pending_and_cancelled_registrations_do_not_check_in(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    first = await register("a@firm.example", cluster_id, name="Firm A")
    second = await register("b@firm.example", cluster_id, name="Firm B")
    event_id = await published_event(gql, lab.access_token, cluster_id, requiresApproval=True)
    pending = await register_for(gql, first.access_token, event_id)
    other = await register_for(gql, second.access_token, event_id)
    approved = await gql(APPROVE, {"id": other["id"]}, token=lab.access_token)
    assert approved["data"]["eventRegistrationApprove"]["registration"]["status"] == "CONFIRMED"

    clock.set(STARTS)
    body = await gql(CHECK_IN, {"id": pending["id"]}, token=lab.access_token)
    assert body["data"]["eventCheckIn"] == failed(
        [problem("CONFLICT", "Only confirmed participants check in; this one is PENDING_APPROVAL")],
        "registration",
    )
    # Once the event is cancelled nobody checks in.
    clock.set(STARTS - timedelta(hours=1))
    cancelled = await gql(CANCEL_EVENT, {"id": event_id}, token=lab.access_token)
    assert cancelled["data"]["eventCancel"]["errors"] == []
    body = await gql(CHECK_IN, {"id": other["id"]}, token=lab.access_token)
    assert body["data"]["eventCheckIn"] == failed(
        [problem("CONFLICT", "The event is not taking place")], "registration"
    )


# ---------------------------------------------------------------------------------------------
# The organisers' list


async def test_organised_events_lists_the_drafts_of_the_viewers_organisation(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    colleague = await register(
        "colleague@uni.example",
        invite_code=await invite_code(gql, lab),
    )
    other = await register("cc@uni.example", cluster_id, name="Chugoku College", kind="INSTITUTION")
    draft = await create_event(gql, lab.access_token, cluster_id, title="Draft seminar")
    live = await create_event(
        gql,
        colleague.access_token,
        cluster_id,
        title="Live workshop",
        kind="WORKSHOP",
        startsAt="2027-04-10T14:00:00+09:00",
        endsAt="2027-04-10T16:00:00+09:00",
    )
    await publish(gql, lab.access_token, live["id"])
    await create_event(gql, other.access_token, cluster_id, title="Someone else's draft")

    everything = {
        "edges": [
            {"node": {"id": live["id"], "title": "Live workshop", "status": "PUBLISHED"}},
            {"node": {"id": draft["id"], "title": "Draft seminar", "status": "DRAFT"}},
        ],
        "totalCount": 2,
    }
    assert colleague.organisation_id == lab.organisation_id
    assert await organised(gql, lab.access_token) == everything
    assert await organised(gql, colleague.access_token) == everything
    assert await organised(gql, lab.access_token, "DRAFT") == {
        "edges": [{"node": {"id": draft["id"], "title": "Draft seminar", "status": "DRAFT"}}],
        "totalCount": 1,
    }
    assert (await organised(gql, other.access_token))["totalCount"] == 1
    # The public list has the published one only.
    assert await listed_ids(gql) == [(live["id"], "PUBLISHED")]
