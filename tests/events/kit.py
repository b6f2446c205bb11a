"""Event operations and helpers for the event tests and the tests of other domains (sync):
the default event, creating, publishing, registering, reading and listing. Not a test
module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.conftest import GraphQL

EVENT_FIELDS = """
  id kind format status title description language
  topics { tag material { code name } }
  startsAt endsAt timezone
  venue { lat lon placeName }
  onlineUrl capacity confirmedSeats remainingSeats waitlistCount
  registrationOpensAt registrationClosesAt registrationOpen requiresApproval isPast
  cluster { id slug }
  organiser { id name kind }
  myRegistration { id status }
  canManage distanceKm calendarPath cancellationReason version
  createdAt updatedAt publishedAt cancelledAt
"""
ERRORS = "errors { code message field }"
CREATE = f"""
mutation Create($input: EventCreateInput!) {{
  eventCreate(input: $input) {{ event {{ {EVENT_FIELDS} }} {ERRORS} }}
}}
"""
UPDATE = f"""
mutation Update($input: EventUpdateInput!) {{
  eventUpdate(input: $input) {{ event {{ {EVENT_FIELDS} }} {ERRORS} }}
}}
"""
PUBLISH = f"""
mutation Publish($id: ID!) {{ eventPublish(id: $id) {{ event {{ {EVENT_FIELDS} }} {ERRORS} }} }}
"""
CANCEL_EVENT = f"""
mutation Cancel($id: ID!, $reason: String! = "") {{
  eventCancel(id: $id, reason: $reason) {{ event {{ {EVENT_FIELDS} }} {ERRORS} }}
}}
"""
EVENT = f"query One($id: ID!) {{ event(id: $id) {{ {EVENT_FIELDS} }} }}"
EVENT_TITLES = """
query List($filter: EventFilter) { events(filter: $filter) { edges { node { id status } } } }
"""
ORGANISED = """
query Organised($status: EventStatus) {
  organisedEvents(status: $status) { edges { node { id title status } } totalCount }
}
"""
REGISTRATION_FIELDS = """
  id status seats waitlistPosition note createdAt confirmedAt cancelledAt checkedInAt
"""
REGISTER = f"""
mutation Register($input: EventRegisterInput!) {{
  eventRegister(input: $input) {{ registration {{ {REGISTRATION_FIELDS} }} {ERRORS} }}
}}
"""
CHECK_IN = f"""
mutation CheckIn($id: ID!, $attended: Boolean! = true) {{
  eventCheckIn(id: $id, attended: $attended) {{
    registration {{ {REGISTRATION_FIELDS} }} {ERRORS}
  }}
}}
"""
APPROVE = f"""
mutation Approve($id: ID!) {{
  eventRegistrationApprove(id: $id) {{ registration {{ {REGISTRATION_FIELDS} }} {ERRORS} }}
}}
"""
REJECT = f"""
mutation Reject($id: ID!, $reason: String! = "") {{
  eventRegistrationReject(id: $id, reason: $reason) {{
    registration {{ {REGISTRATION_FIELDS} }} {ERRORS}
  }}
}}
"""
CANCEL_REGISTRATION = f"""
mutation CancelRegistration($id: ID!) {{
  eventRegistrationCancel(id: $id) {{ registration {{ {REGISTRATION_FIELDS} }} {ERRORS} }}
}}
"""
PARTICIPANTS = """
query Participants($eventId: ID!, $status: ParticipantFilter! = ALL) {
  eventParticipants(eventId: $eventId, status: $status) {
    edges { node { displayName registration { status checkedInAt } } }
  }
}
"""
NOTIFICATIONS = "{ notifications { edges { node { kind title body subjectType subjectId } } } }"

# The default event: 10 March 2027, 14:00-16:00 in Tokyo (05:00-07:00 UTC).
STARTS = datetime(2027, 3, 10, 5, 0, tzinfo=UTC)
ENDS = datetime(2027, 3, 10, 7, 0, tzinfo=UTC)


def event_input(cluster_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Biomass boiler seminar",
        "kind": "SEMINAR",
        "format": "HYBRID",
        "capacity": 30,
        "startsAt": "2027-03-10T14:00:00+09:00",
        "endsAt": "2027-03-10T16:00:00+09:00",
        "timezone": "Asia/Tokyo",
        "language": "ja",
        "location": {"lat": 35.07, "lon": 133.75, "placeName": "Maniwa City Hall"},
        "onlineUrl": "https://meet.example.org/boiler",
        "topics": ["wood-shavings", "Boilers"],
        "clusterId": cluster_id,
        **extra,
    }


async def create_event(gql: GraphQL, token: str, cluster_id: str, **extra: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": event_input(cluster_id, **extra)}, token=token)
    payload = body["data"]["eventCreate"]
    assert payload["errors"] == [], body
    event: dict[str, Any] = payload["event"]
    return event


async def publish(gql: GraphQL, token: str, event_id: str) -> dict[str, Any]:
    body = await gql(PUBLISH, {"id": event_id}, token=token)
    assert body["data"]["eventPublish"]["errors"] == [], body
    event: dict[str, Any] = body["data"]["eventPublish"]["event"]
    return event


async def published_event(gql: GraphQL, token: str, cluster_id: str, **extra: Any) -> str:
    event = await create_event(gql, token, cluster_id, **extra)
    await publish(gql, token, event["id"])
    event_id: str = event["id"]
    return event_id


async def register_for(gql: GraphQL, token: str, event_id: str, **extra: Any) -> dict[str, Any]:
    body = await gql(REGISTER, {"input": {"eventId": event_id, **extra}}, token=token)
    assert body["data"]["eventRegister"]["errors"] == [], body
    registration: dict[str, Any] = body["data"]["eventRegister"]["registration"]
    return registration


async def read_event(gql: GraphQL, event_id: str, token: str = "") -> dict[str, Any] | None:
    body = await gql(EVENT, {"id": event_id}, token=token)
    assert "errors" not in body, body
    event: dict[str, Any] | None = body["data"]["event"]
    return event


async def listed_ids(gql: GraphQL, token: str = "", **filter_: Any) -> list[tuple[str, str]]:
    body = await gql(EVENT_TITLES, {"filter": filter_ or None}, token=token)
    assert "errors" not in body, body
    return [(e["node"]["id"], e["node"]["status"]) for e in body["data"]["events"]["edges"]]


async def organised(gql: GraphQL, token: str, status: str | None = None) -> dict[str, Any]:
    body = await gql(ORGANISED, {"status": status}, token=token)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["organisedEvents"]
    return connection


def failed(errors: list[dict[str, Any]], key: str = "event") -> dict[str, Any]:
    return {key: None, "errors": errors}
