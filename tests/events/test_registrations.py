"""Registrations through the GraphQL API: seats, the waiting list and its order, retries,
approvals, rejections, the registration window, capacity changes, cancelled events and the
notifications each person receives.

Every test is given / when / then and compares whole payloads. Between requests the test clock
moves on by a second, so an inbox (newest first) lists notifications in the order things happened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.conftest import Account, GraphQL
from tests.events.kit import published_event
from tests.kit import AppCalls, begins

TITLE = "Biomass boiler seminar"
# The event starts 2027-03-10T14:00+09:00, that is 05:00 UTC; the test clock starts 2027-03-01.
STARTS_AT = "2027-03-10T14:00:00+09:00"
STARTS_AT_UTC = datetime(2027, 3, 10, 5, 0, tzinfo=UTC)

ERRORS = "errors { code message field }"
EVENT_COUNTS = "capacity confirmedSeats remainingSeats waitlistCount"
REGISTRATION = f"id status seats waitlistPosition event {{ {EVENT_COUNTS} }}"

CREATE = f"""
mutation Create($input: EventCreateInput!) {{
  eventCreate(input: $input) {{ event {{ id status }} {ERRORS} }}
}}
"""
PUBLISH = f"""
mutation Publish($id: ID!) {{ eventPublish(id: $id) {{ event {{ status }} {ERRORS} }} }}
"""
UPDATE = f"""
mutation Update($input: EventUpdateInput!) {{
  eventUpdate(input: $input) {{ event {{ {EVENT_COUNTS} }} {ERRORS} }}
}}
"""
CANCEL_EVENT = f"""
mutation CancelEvent($id: ID!, $reason: String!) {{
  eventCancel(id: $id, reason: $reason) {{
    event {{ status cancellationReason cancelledAt registrationOpen {EVENT_COUNTS} }}
    {ERRORS}
  }}
}}
"""
REGISTER = f"""
mutation Register($input: EventRegisterInput!) {{
  eventRegister(input: $input) {{ registration {{ {REGISTRATION} }} {ERRORS} }}
}}
"""
CANCEL = f"""
mutation Cancel($id: ID!) {{
  eventRegistrationCancel(id: $id) {{ registration {{ {REGISTRATION} }} {ERRORS} }}
}}
"""
APPROVE = f"""
mutation Approve($id: ID!) {{
  eventRegistrationApprove(id: $id) {{ registration {{ {REGISTRATION} }} {ERRORS} }}
}}
"""
REJECT = f"""
mutation Reject($id: ID!, $reason: String!) {{
  eventRegistrationReject(id: $id, reason: $reason) {{ registration {{ {REGISTRATION} }} {ERRORS} }}
}}
"""
EVENT = f"""
query One($id: ID!) {{
  event(id: $id) {{
    status registrationOpen registrationOpensAt registrationClosesAt {EVENT_COUNTS}
  }}
}}
"""
PARTICIPANTS = """
query Participants($id: ID!) {
  eventParticipants(eventId: $id, first: 100) {
    edges { node { displayName registration { status seats waitlistPosition } } }
  }
}
"""
MINE = "{ myRegistrations { edges { node { status seats waitlistPosition event { title } } } } }"
INBOX = "{ notifications { edges { node { kind title body } } } }"


class _AnyId:
    """Equal to any non-empty id (ids are made by the server)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other != ""

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "<any id>"


ANY_ID: Any = _AnyId()


def counts(capacity: int, confirmed: int, waiting: int) -> dict[str, int]:
    return {
        "capacity": capacity,
        "confirmedSeats": confirmed,
        "remainingSeats": capacity - confirmed,
        "waitlistCount": waiting,
    }


def registration(
    status: str,
    event: dict[str, int],
    *,
    seats: int = 1,
    position: int | None = None,
    id: str = ANY_ID,
) -> dict[str, Any]:
    """A successful registration payload."""
    return {
        "registration": {
            "id": id,
            "status": status,
            "seats": seats,
            "waitlistPosition": position,
            "event": event,
        },
        "errors": [],
    }


def failure(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"registration": None, "errors": [{"code": code, "message": message, "field": field}]}


def note(kind: str, title: str, body: str) -> dict[str, Any]:
    return {"node": {"kind": kind, "title": title, "body": body}}


PROMOTED = note(
    "EVENT_REGISTRATION_PROMOTED",
    f"You have a seat: {TITLE}",
    "A seat became free and your registration moved from the waiting list to confirmed.",
)
APPROVED = note(
    "EVENT_REGISTRATION_CONFIRMED",
    f"Approved: {TITLE}",
    "The organisers approved your registration.",
)
APPROVED_WAITING = note(
    "EVENT_REGISTRATION_CONFIRMED",
    f"Approved, on the waiting list: {TITLE}",
    "The organisers approved your registration; the event is full, so you are on the waiting "
    "list and will get a seat when one becomes free.",
)


def rejected(reason: str) -> dict[str, Any]:
    return note("EVENT_REGISTRATION_REJECTED", f"Not accepted: {TITLE}", reason)


def cancelled(reason: str) -> dict[str, Any]:
    return note("EVENT_CANCELLED", f"Cancelled: {TITLE}", reason)


def event_input(cluster_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": TITLE,
        "kind": "SEMINAR",
        "format": "IN_PERSON",
        "capacity": 1,
        "startsAt": STARTS_AT,
        "endsAt": "2027-03-10T16:00:00+09:00",
        "timezone": "Asia/Tokyo",
        "language": "ja",
        "location": {"lat": 35.07, "lon": 133.75, "placeName": "Maniwa City Hall"},
        "clusterId": cluster_id,
        **extra,
    }


@dataclass
class Desk:
    """The organiser's event and the requests people send about it."""

    gql: GraphQL
    clock: ManualClock
    organiser: Account
    cluster_id: str
    event_id: str = ""

    async def _send(self, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
        self.clock.advance(timedelta(seconds=1))
        body = await self.gql(query, variables, token=token)
        assert "errors" not in body, body
        data: dict[str, Any] = body["data"]
        return data

    async def create(self, *, publish: bool = True, **extra: Any) -> str:
        created = await self._send(
            CREATE, {"input": event_input(self.cluster_id, **extra)}, self.organiser.access_token
        )
        assert created["eventCreate"]["errors"] == [], created
        self.event_id = created["eventCreate"]["event"]["id"]
        if publish:
            published = await self._send(
                PUBLISH, {"id": self.event_id}, self.organiser.access_token
            )
            assert published["eventPublish"] == {"event": {"status": "PUBLISHED"}, "errors": []}
        return self.event_id

    async def register(self, person: Account, seats: int | None = None) -> dict[str, Any]:
        given: dict[str, Any] = {"eventId": self.event_id}
        if seats is not None:
            given["seats"] = seats
        data = await self._send(REGISTER, {"input": given}, person.access_token)
        payload: dict[str, Any] = data["eventRegister"]
        return payload

    async def registered(self, person: Account, seats: int | None = None) -> str:
        """Register and return the registration's id (the registration must succeed)."""
        payload = await self.register(person, seats)
        assert payload["errors"] == [], payload
        registration_id: str = payload["registration"]["id"]
        return registration_id

    async def cancel(self, person: Account, registration_id: str) -> dict[str, Any]:
        data = await self._send(CANCEL, {"id": registration_id}, person.access_token)
        payload: dict[str, Any] = data["eventRegistrationCancel"]
        return payload

    async def approve(self, registration_id: str) -> dict[str, Any]:
        data = await self._send(APPROVE, {"id": registration_id}, self.organiser.access_token)
        payload: dict[str, Any] = data["eventRegistrationApprove"]
        return payload

    async def reject(self, registration_id: str, reason: str) -> dict[str, Any]:
        data = await self._send(
            REJECT, {"id": registration_id, "reason": reason}, self.organiser.access_token
        )
        payload: dict[str, Any] = data["eventRegistrationReject"]
        return payload

    async def update(self, **changes: Any) -> dict[str, Any]:
        data = await self._send(
            UPDATE, {"input": {"id": self.event_id, **changes}}, self.organiser.access_token
        )
        payload: dict[str, Any] = data["eventUpdate"]
        return payload

    async def cancel_event(self, reason: str, token: str | None = None) -> dict[str, Any]:
        data = await self._send(
            CANCEL_EVENT,
            {"id": self.event_id, "reason": reason},
            token or self.organiser.access_token,
        )
        payload: dict[str, Any] = data["eventCancel"]
        return payload

    async def event(self) -> dict[str, Any]:
        body = await self.gql(EVENT, {"id": self.event_id}, token=self.organiser.access_token)
        event: dict[str, Any] = body["data"]["event"]
        return event

    async def counts(self) -> dict[str, int]:
        event = await self.event()
        return {key: event[key] for key in counts(0, 0, 0)}

    async def queue(self) -> list[tuple[str, str, int, int | None]]:
        """Every registration in arrival order: (name, status, seats, waitlist position)."""
        body = await self.gql(
            PARTICIPANTS, {"id": self.event_id}, token=self.organiser.access_token
        )
        assert "errors" not in body, body
        return [
            (
                edge["node"]["displayName"],
                edge["node"]["registration"]["status"],
                edge["node"]["registration"]["seats"],
                edge["node"]["registration"]["waitlistPosition"],
            )
            for edge in body["data"]["eventParticipants"]["edges"]
        ]

    async def inbox(self, person: Account) -> list[dict[str, Any]]:
        body = await self.gql(INBOX, token=person.access_token)
        edges: list[dict[str, Any]] = body["data"]["notifications"]["edges"]
        return edges


@pytest.fixture
async def desk(gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock) -> Desk:
    organiser = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    return Desk(gql, clock, organiser, cluster_id)


@pytest.fixture
def people(register: Any, cluster_id: str) -> Any:
    """``await people("a", "b")`` -> firm accounts whose display names are "a", "b"."""

    async def _people(*names: str) -> list[Account]:
        return [
            await register(f"{name}@firm.example", cluster_id, name=f"Firm {name.upper()}")
            for name in names
        ]

    return _people


# ---------------------------------------------------------------------------------------------
# Confirmed and waitlisted


async def test_registering_while_seats_are_free_confirms(desk: Desk, people: Any) -> None:
    # given a published event of 3 seats
    await desk.create(capacity=3)
    [a] = await people("a")
    # when a person registers without saying how many seats
    payload = await desk.register(a)
    # then they hold one confirmed seat, and nobody is told anything
    assert payload == registration("CONFIRMED", counts(3, 1, 0))
    assert await desk.queue() == [("a", "CONFIRMED", 1, None)]
    assert await desk.inbox(a) == []
    mine = await desk.gql(MINE, token=a.access_token)
    assert mine["data"]["myRegistrations"]["edges"] == [
        {
            "node": {
                "status": "CONFIRMED",
                "seats": 1,
                "waitlistPosition": None,
                "event": {"title": TITLE},
            }
        }
    ]


async def test_a_full_event_puts_people_on_the_waiting_list_in_arrival_order(
    desk: Desk, people: Any
) -> None:
    # given an event of 2 seats
    await desk.create(capacity=2)
    a, b, c, d, e = await people("a", "b", "c", "d", "e")
    # when five people register one after another
    payloads = [await desk.register(p) for p in (a, b, c, d, e)]
    # then the first two are confirmed and the others wait, numbered in the order they came
    assert payloads == [
        registration("CONFIRMED", counts(2, 1, 0)),
        registration("CONFIRMED", counts(2, 2, 0)),
        registration("WAITLISTED", counts(2, 2, 1), position=1),
        registration("WAITLISTED", counts(2, 2, 2), position=2),
        registration("WAITLISTED", counts(2, 2, 3), position=3),
    ]
    assert await desk.queue() == [
        ("a", "CONFIRMED", 1, None),
        ("b", "CONFIRMED", 1, None),
        ("c", "WAITLISTED", 1, 1),
        ("d", "WAITLISTED", 1, 2),
        ("e", "WAITLISTED", 1, 3),
    ]
    assert await desk.counts() == counts(2, 2, 3)
    mine = await desk.gql(MINE, token=d.access_token)
    assert mine["data"]["myRegistrations"]["edges"] == [
        {
            "node": {
                "status": "WAITLISTED",
                "seats": 1,
                "waitlistPosition": 2,
                "event": {"title": TITLE},
            }
        }
    ]
    # and waiting is not news: nobody has a notification
    for person in (a, b, c, d, e):
        assert await desk.inbox(person) == []


async def test_sending_register_again_returns_the_same_registration_and_counts_nothing_twice(
    desk: Desk, people: Any
) -> None:
    # given a confirmed person and a waitlisted one on an event of 1 seat
    await desk.create(capacity=1)
    a, b = await people("a", "b")
    first_a = await desk.register(a)
    first_b = await desk.register(b)
    # when both send the same request again (a retry after a lost response), twice
    again_a = [await desk.register(a), await desk.register(a, seats=1)]
    again_b = [await desk.register(b), await desk.register(b)]
    # then each gets their registration back, with the same id, and nothing more is counted
    id_a, id_b = first_a["registration"]["id"], first_b["registration"]["id"]
    assert id_a != id_b
    assert again_a == [registration("CONFIRMED", counts(1, 1, 1), id=id_a)] * 2
    assert again_b == [registration("WAITLISTED", counts(1, 1, 1), position=1, id=id_b)] * 2
    assert await desk.queue() == [("a", "CONFIRMED", 1, None), ("b", "WAITLISTED", 1, 1)]
    assert await desk.counts() == counts(1, 1, 1)
    # and the next person still comes after b
    [c] = await people("c")
    assert await desk.register(c) == registration("WAITLISTED", counts(1, 1, 2), position=2)


async def test_another_seat_count_while_registered_is_a_conflict_on_seats(
    desk: Desk, people: Any
) -> None:
    # given a person confirmed for 2 seats and one waiting for 1 seat, on an event of 2 seats
    await desk.create(capacity=2)
    a, b = await people("a", "b")
    id_a = await desk.registered(a, seats=2)
    await desk.registered(b)
    # when they ask for a different number of seats without cancelling
    for_a = await desk.register(a, seats=1)
    for_b = await desk.register(b, seats=2)
    # then both are refused, and their registrations stay as they were
    assert for_a == failure(
        "CONFLICT",
        "You are already registered for 2 seat(s); cancel that registration to register for a "
        "different number",
        "seats",
    )
    assert for_b == failure(
        "CONFLICT",
        "You are already registered for 1 seat(s); cancel that registration to register for a "
        "different number",
        "seats",
    )
    assert await desk.queue() == [("a", "CONFIRMED", 2, None), ("b", "WAITLISTED", 1, 1)]
    assert await desk.counts() == counts(2, 2, 1)
    assert await desk.register(a, seats=2) == registration(
        "CONFIRMED", counts(2, 2, 1), seats=2, id=id_a
    )


async def test_registering_again_after_cancelling_takes_a_new_place_at_the_end(
    desk: Desk, people: Any
) -> None:
    # given an event of 1 seat with a confirmed and two waiting
    await desk.create(capacity=1)
    a, b, c = await people("a", "b", "c")
    id_a = await desk.registered(a)
    id_b = await desk.registered(b)
    await desk.registered(c)
    # when b, first in line, cancels and registers again
    cancelled_b = await desk.cancel(b, id_b)
    back_b = await desk.register(b)
    # then b's registration (the same one, revived) is now behind c
    assert cancelled_b == registration("CANCELLED", counts(1, 1, 1), id=id_b)
    assert back_b == registration("WAITLISTED", counts(1, 1, 2), position=2, id=id_b)
    assert await desk.queue() == [
        ("a", "CONFIRMED", 1, None),
        ("c", "WAITLISTED", 1, 1),
        ("b", "WAITLISTED", 1, 2),
    ]
    # and when the seat is freed, c gets it, not b
    assert await desk.cancel(a, id_a) == registration("CANCELLED", counts(1, 1, 1), id=id_a)
    assert await desk.queue() == [
        ("a", "CANCELLED", 1, None),
        ("c", "CONFIRMED", 1, None),
        ("b", "WAITLISTED", 1, 1),
    ]
    # and a, who cancelled a confirmed seat, queues again behind b
    assert await desk.register(a) == registration(
        "WAITLISTED", counts(1, 1, 2), position=2, id=id_a
    )
    assert await desk.inbox(c) == [PROMOTED]
    assert await desk.inbox(b) == []
    assert await desk.inbox(a) == []


async def test_cancelling_a_confirmed_registration_promotes_the_waiting_list_in_order(
    desk: Desk, people: Any
) -> None:
    # given an event of 2 seats, both taken, and three people waiting
    await desk.create(capacity=2)
    a, b, c, d, e = await people("a", "b", "c", "d", "e")
    ids = {p.email[0]: await desk.registered(p) for p in (a, b, c, d, e)}
    # when a cancels
    first = await desk.cancel(a, ids["a"])
    # then c, the first waiting, gets the seat and d and e move up
    assert first == registration("CANCELLED", counts(2, 2, 2), id=ids["a"])
    assert await desk.queue() == [
        ("a", "CANCELLED", 1, None),
        ("b", "CONFIRMED", 1, None),
        ("c", "CONFIRMED", 1, None),
        ("d", "WAITLISTED", 1, 1),
        ("e", "WAITLISTED", 1, 2),
    ]
    # when b cancels too
    second = await desk.cancel(b, ids["b"])
    # then d is next
    assert second == registration("CANCELLED", counts(2, 2, 1), id=ids["b"])
    assert await desk.queue() == [
        ("a", "CANCELLED", 1, None),
        ("b", "CANCELLED", 1, None),
        ("c", "CONFIRMED", 1, None),
        ("d", "CONFIRMED", 1, None),
        ("e", "WAITLISTED", 1, 1),
    ]
    # and cancelling a place on the waiting list promotes nobody
    assert await desk.cancel(e, ids["e"]) == registration("CANCELLED", counts(2, 2, 0), id=ids["e"])
    # and cancelling twice changes nothing
    assert await desk.cancel(e, ids["e"]) == registration("CANCELLED", counts(2, 2, 0), id=ids["e"])
    assert [await desk.inbox(p) for p in (a, b, c, d, e)] == [[], [], [PROMOTED], [PROMOTED], []]


async def test_a_larger_group_keeps_its_place_while_smaller_ones_that_fit_go_ahead(
    desk: Desk, people: Any
) -> None:
    # given an event of 4 seats taken by two pairs, and waiting: c for 3 seats, d for 1, e for 2
    await desk.create(capacity=4)
    a, b, c, d, e = await people("a", "b", "c", "d", "e")
    id_a = await desk.registered(a, seats=2)
    id_b = await desk.registered(b, seats=2)
    for person, seats in ((c, 3), (d, 1), (e, 2)):
        await desk.registered(person, seats=seats)
    assert await desk.counts() == counts(4, 4, 3)
    # when a's pair cancels, freeing 2 seats
    await desk.cancel(a, id_a)
    # then c (3 seats) does not fit and keeps its place; d (1) fits and is confirmed; e (2) does
    # not fit in the 1 seat left
    assert await desk.queue() == [
        ("a", "CANCELLED", 2, None),
        ("b", "CONFIRMED", 2, None),
        ("c", "WAITLISTED", 3, 1),
        ("d", "CONFIRMED", 1, None),
        ("e", "WAITLISTED", 2, 2),
    ]
    assert await desk.counts() == counts(4, 3, 2)
    # when b's pair cancels, freeing 3 seats in all
    await desk.cancel(b, id_b)
    # then c, still first, gets its 3 seats before e
    assert await desk.queue() == [
        ("a", "CANCELLED", 2, None),
        ("b", "CANCELLED", 2, None),
        ("c", "CONFIRMED", 3, None),
        ("d", "CONFIRMED", 1, None),
        ("e", "WAITLISTED", 2, 1),
    ]
    assert await desk.counts() == counts(4, 4, 1)
    assert [await desk.inbox(p) for p in (a, b, c, d, e)] == [[], [], [PROMOTED], [PROMOTED], []]


async def test_every_smaller_registration_that_fits_is_promoted_past_a_larger_one(
    desk: Desk, people: Any
) -> None:
    """Found by this test: promotion used to fetch at most `free` candidates, so after skipping
    one that did not fit it never looked at a later one that did, and a seat stayed empty."""
    # given an event of 2 seats held by one pair, and waiting: b for 1 seat, c for 2, d for 1
    await desk.create(capacity=2)
    a, b, c, d = await people("a", "b", "c", "d")
    id_a = await desk.registered(a, seats=2)
    for person, seats in ((b, 1), (c, 2), (d, 1)):
        await desk.registered(person, seats=seats)
    # when the pair cancels, freeing 2 seats
    await desk.cancel(a, id_a)
    # then b takes one; c (2) no longer fits and keeps its place; d (1) takes the last seat
    assert await desk.queue() == [
        ("a", "CANCELLED", 2, None),
        ("b", "CONFIRMED", 1, None),
        ("c", "WAITLISTED", 2, 1),
        ("d", "CONFIRMED", 1, None),
    ]
    assert await desk.counts() == counts(2, 2, 1)


async def test_multi_seat_registrations_count_seats_not_people(desk: Desk, people: Any) -> None:
    # given an event of 10 seats
    await desk.create(capacity=10)
    a, b, c, d = await people("a", "b", "c", "d")
    # when a brings 4, b 5, c asks for 2 (one seat is left) and d for 1
    payloads = [
        await desk.register(a, seats=4),
        await desk.register(b, seats=5),
        await desk.register(c, seats=2),
        await desk.register(d, seats=1),
    ]
    # then the seats, not the people, are counted
    assert payloads == [
        registration("CONFIRMED", counts(10, 4, 0), seats=4),
        registration("CONFIRMED", counts(10, 9, 0), seats=5),
        registration("WAITLISTED", counts(10, 9, 1), seats=2, position=1),
        registration("CONFIRMED", counts(10, 10, 1), seats=1),
    ]
    # when a's 4 seats are freed
    await desk.cancel(a, payloads[0]["registration"]["id"])
    # then c's 2 are confirmed and 2 stay free
    assert await desk.queue() == [
        ("a", "CANCELLED", 4, None),
        ("b", "CONFIRMED", 5, None),
        ("c", "CONFIRMED", 2, None),
        ("d", "CONFIRMED", 1, None),
    ]
    assert await desk.counts() == counts(10, 8, 0)


async def test_more_seats_than_the_event_has_is_capacity_reached(desk: Desk, people: Any) -> None:
    # given an event of 5 seats
    await desk.create(capacity=5)
    [a] = await people("a")
    # when a person asks for 6
    payload = await desk.register(a, seats=6)
    # then they are told it can never fit, and nothing is booked
    assert payload == failure("CAPACITY_REACHED", "The event has 5 seats in all", "seats")
    assert await desk.queue() == []
    assert await desk.counts() == counts(5, 0, 0)
    # and all 5 seats can be booked
    assert await desk.register(a, seats=5) == registration("CONFIRMED", counts(5, 5, 0), seats=5)


@pytest.mark.parametrize("seats", [0, -1, 101])
async def test_seats_outside_1_to_100_is_a_validation_error(
    desk: Desk, people: Any, seats: int
) -> None:
    # given an event large enough for anything
    await desk.create(capacity=1000)
    [a] = await people("a")
    # when a person asks for an impossible number of seats
    payload = await desk.register(a, seats=seats)
    # then the input is refused and nothing is booked
    assert payload == failure("VALIDATION", "Must be between 1 and 100", "seats")
    assert await desk.queue() == []
    assert await desk.counts() == counts(1000, 0, 0)


# ---------------------------------------------------------------------------------------------
# Approvals and rejections


async def test_approval_confirms_then_waitlists_when_full_and_promotes_without_a_second_approval(
    desk: Desk, people: Any
) -> None:
    # given an event of 1 seat whose organisers approve each registration
    await desk.create(capacity=1, requiresApproval=True)
    a, b = await people("a", "b")
    # when two people register
    pending_a = await desk.register(a)
    pending_b = await desk.register(b)
    # then both wait for approval, holding no seat and no place in the waiting list
    assert pending_a == registration("PENDING_APPROVAL", counts(1, 0, 0))
    assert pending_b == registration("PENDING_APPROVAL", counts(1, 0, 0))
    id_a, id_b = pending_a["registration"]["id"], pending_b["registration"]["id"]
    assert await desk.queue() == [
        ("a", "PENDING_APPROVAL", 1, None),
        ("b", "PENDING_APPROVAL", 1, None),
    ]
    # and registering again while pending gives the same registration
    assert await desk.register(a) == registration("PENDING_APPROVAL", counts(1, 0, 0), id=id_a)

    # when the organiser approves a: the seat is free, so a is confirmed
    assert await desk.approve(id_a) == registration("CONFIRMED", counts(1, 1, 0), id=id_a)
    # and approving again (a retry) changes nothing
    assert await desk.approve(id_a) == registration("CONFIRMED", counts(1, 1, 0), id=id_a)
    # when the organiser approves b: the event is full, so b waits
    assert await desk.approve(id_b) == registration(
        "WAITLISTED", counts(1, 1, 1), position=1, id=id_b
    )
    # when a cancels
    await desk.cancel(a, id_a)
    # then b is confirmed without being approved again
    assert await desk.queue() == [("a", "CANCELLED", 1, None), ("b", "CONFIRMED", 1, None)]
    assert await desk.counts() == counts(1, 1, 0)
    assert await desk.inbox(a) == [APPROVED]
    assert await desk.inbox(b) == [PROMOTED, APPROVED_WAITING]
    assert await desk.inbox(desk.organiser) == []


async def test_only_pending_registrations_are_approved(desk: Desk, people: Any) -> None:
    # given an event without approvals and a confirmed registration
    await desk.create(capacity=1)
    [a] = await people("a")
    id_a = await desk.registered(a)
    # when the organiser approves it
    payload = await desk.approve(id_a)
    # then that is a conflict and nothing changes
    assert payload == failure("CONFLICT", "The registration is CONFIRMED, not pending")
    assert await desk.queue() == [("a", "CONFIRMED", 1, None)]
    assert await desk.inbox(a) == []


async def test_rejecting_a_confirmed_registration_frees_its_seats_and_promotes(
    desk: Desk, people: Any
) -> None:
    # given an event of 2 seats: a pair confirmed, then c and d waiting
    await desk.create(capacity=2)
    a, c, d = await people("a", "c", "d")
    id_a = await desk.registered(a, seats=2)
    id_c = await desk.registered(c)
    await desk.registered(d)
    # when the organiser declines the pair
    payload = await desk.reject(id_a, "Registered twice under another name")
    # then its seats go to c and d, and a is told why
    assert payload == registration("REJECTED", counts(2, 2, 0), seats=2, id=id_a)
    assert await desk.queue() == [
        ("a", "REJECTED", 2, None),
        ("c", "CONFIRMED", 1, None),
        ("d", "CONFIRMED", 1, None),
    ]
    assert await desk.inbox(a) == [rejected("Registered twice under another name")]
    assert await desk.inbox(c) == [PROMOTED]
    assert await desk.inbox(d) == [PROMOTED]
    # and rejecting again (a retry) changes nothing and tells nobody again
    assert await desk.reject(id_a, "Registered twice under another name") == payload
    assert await desk.inbox(a) == [rejected("Registered twice under another name")]
    # and a confirmed registration can be declined too
    assert await desk.reject(id_c, "") == registration("REJECTED", counts(2, 1, 0), id=id_c)
    assert await desk.inbox(c) == [rejected(""), PROMOTED]


async def test_rejecting_waitlisted_and_pending_registrations(desk: Desk, people: Any) -> None:
    # given an event of 1 seat with approvals: a confirmed, b approved and waiting, c pending
    await desk.create(capacity=1, requiresApproval=True)
    a, b, c = await people("a", "b", "c")
    ids = [await desk.registered(p) for p in (a, b, c)]
    await desk.approve(ids[0])
    await desk.approve(ids[1])
    # when the organiser declines b and c
    for_b = await desk.reject(ids[1], "Full")
    for_c = await desk.reject(ids[2], "Members only")
    # then b leaves the waiting list, c is declined, and a keeps the seat
    assert for_b == registration("REJECTED", counts(1, 1, 0), id=ids[1])
    assert for_c == registration("REJECTED", counts(1, 1, 0), id=ids[2])
    assert await desk.queue() == [
        ("a", "CONFIRMED", 1, None),
        ("b", "REJECTED", 1, None),
        ("c", "REJECTED", 1, None),
    ]
    assert await desk.inbox(a) == [APPROVED]
    assert await desk.inbox(b) == [rejected("Full"), APPROVED_WAITING]
    assert await desk.inbox(c) == [rejected("Members only")]


async def test_a_rejected_person_cannot_register_again(desk: Desk, people: Any) -> None:
    # given a person whose registration was declined
    await desk.create(capacity=3)
    [a] = await people("a")
    id_a = await desk.registered(a)
    await desk.reject(id_a, "Not this time")
    # when they register again, with the same or another seat count
    payloads = [await desk.register(a), await desk.register(a, seats=2)]
    # then they are refused and stay declined
    refused = failure("FORBIDDEN", "The organisers declined your registration for this event")
    assert payloads == [refused, refused]
    assert await desk.queue() == [("a", "REJECTED", 1, None)]
    assert await desk.counts() == counts(3, 0, 0)
    # and cancelling a declined registration is a conflict
    assert await desk.cancel(a, id_a) == failure("CONFLICT", "This registration was declined")


# ---------------------------------------------------------------------------------------------
# The registration window


async def test_registration_before_it_opens_is_closed(desk: Desk, people: Any) -> None:
    # given an event whose registration opens on 2027-03-05 at 09:00 in Tokyo
    await desk.create(capacity=5, registrationOpensAt="2027-03-05T09:00:00+09:00")
    [a] = await people("a")
    # when a person registers a second before that
    desk.clock.set(datetime(2027, 3, 5, 0, 0, tzinfo=UTC) - timedelta(seconds=1))
    early = await desk.gql(REGISTER, {"input": {"eventId": desk.event_id}}, token=a.access_token)
    # then registration is closed and says when it opens
    assert early["data"]["eventRegister"] == failure(
        "REGISTRATION_CLOSED", "Registration opens at 2027-03-05T00:00:00+00:00"
    )
    assert await desk.event() == {
        "status": "PUBLISHED",
        "registrationOpen": False,
        "registrationOpensAt": "2027-03-05T09:00:00+09:00",
        "registrationClosesAt": STARTS_AT,
        **counts(5, 0, 0),
    }
    # when the opening time comes
    desk.clock.set(datetime(2027, 3, 5, 0, 0, tzinfo=UTC))
    on_time = await desk.gql(REGISTER, {"input": {"eventId": desk.event_id}}, token=a.access_token)
    # then the same request goes through
    assert on_time["data"]["eventRegister"] == registration("CONFIRMED", counts(5, 1, 0))
    assert (await desk.event())["registrationOpen"] is True


async def test_registration_after_it_closes_is_closed(desk: Desk, people: Any) -> None:
    # given an event whose registration closes on 2027-03-08 at 18:00 in Tokyo
    await desk.create(capacity=5, registrationClosesAt="2027-03-08T18:00:00+09:00")
    a, b = await people("a", "b")
    closes = datetime(2027, 3, 8, 9, 0, tzinfo=UTC)
    # when a registers a second before, and b at the closing time
    desk.clock.set(closes - timedelta(seconds=1))
    in_time = await desk.gql(REGISTER, {"input": {"eventId": desk.event_id}}, token=a.access_token)
    desk.clock.set(closes)
    late = await desk.gql(REGISTER, {"input": {"eventId": desk.event_id}}, token=b.access_token)
    # then a is in and b is told registration has closed
    assert in_time["data"]["eventRegister"] == registration("CONFIRMED", counts(5, 1, 0))
    assert late["data"]["eventRegister"] == failure(
        "REGISTRATION_CLOSED", "Registration has closed"
    )
    assert await desk.event() == {
        "status": "PUBLISHED",
        "registrationOpen": False,
        "registrationOpensAt": None,
        "registrationClosesAt": "2027-03-08T18:00:00+09:00",
        **counts(5, 1, 0),
    }
    assert await desk.queue() == [("a", "CONFIRMED", 1, None)]


async def test_without_a_closing_time_registration_closes_at_the_start(
    desk: Desk, people: Any
) -> None:
    # given an event without a closing time
    await desk.create(capacity=5)
    a, b = await people("a", "b")
    # when a registers a second before the start and b at the start
    desk.clock.set(STARTS_AT_UTC - timedelta(seconds=1))
    in_time = await desk.gql(REGISTER, {"input": {"eventId": desk.event_id}}, token=a.access_token)
    desk.clock.set(STARTS_AT_UTC)
    late = await desk.gql(REGISTER, {"input": {"eventId": desk.event_id}}, token=b.access_token)
    # then a is in and b is too late
    assert in_time["data"]["eventRegister"] == registration("CONFIRMED", counts(5, 1, 0))
    assert late["data"]["eventRegister"] == failure(
        "REGISTRATION_CLOSED", "Registration has closed"
    )
    event = await desk.event()
    assert (event["registrationOpen"], event["registrationClosesAt"]) == (False, STARTS_AT)


async def test_a_draft_is_not_open_for_registration(desk: Desk, people: Any) -> None:
    # given an event that is still a draft
    await desk.create(capacity=5, publish=False)
    [a] = await people("a")
    # when an outsider registers, they cannot see it; when its organiser registers, it is closed
    outsider = await desk.register(a)
    organiser = await desk.register(desk.organiser)
    # then
    assert outsider == failure("NOT_FOUND", "Event not found", "eventId")
    assert organiser == failure("REGISTRATION_CLOSED", "This event is not published")
    assert await desk.queue() == []


# ---------------------------------------------------------------------------------------------
# Capacity changes


async def test_more_capacity_promotes_the_waiting_list(desk: Desk, people: Any) -> None:
    # given an event of 1 seat with a confirmed and three waiting
    await desk.create(capacity=1)
    a, b, c, d = await people("a", "b", "c", "d")
    for person in (a, b, c, d):
        await desk.registered(person)
    # when the organiser makes room for two more
    payload = await desk.update(capacity=3)
    # then b and c, first in line, are confirmed and d moves up
    assert payload == {"event": counts(3, 3, 1), "errors": []}
    assert await desk.queue() == [
        ("a", "CONFIRMED", 1, None),
        ("b", "CONFIRMED", 1, None),
        ("c", "CONFIRMED", 1, None),
        ("d", "WAITLISTED", 1, 1),
    ]
    assert [await desk.inbox(p) for p in (a, b, c, d)] == [[], [PROMOTED], [PROMOTED], []]


async def test_capacity_below_the_confirmed_seats_is_refused(desk: Desk, people: Any) -> None:
    # given an event of 5 seats with 3 confirmed (a pair and one) and one waiting
    await desk.create(capacity=5)
    a, b = await people("a", "b")
    await desk.registered(a, seats=2)
    await desk.registered(b)
    # when the organiser lowers the capacity to 2
    lowered = await desk.update(capacity=2)
    # then that is refused and nothing changes
    assert lowered == {
        "event": None,
        "errors": [
            {
                "code": "VALIDATION",
                "message": "3 seats are already confirmed; cancel or reject registrations before "
                "lowering the capacity below that",
                "field": "capacity",
            }
        ],
    }
    assert await desk.counts() == counts(5, 3, 0)
    # and lowering it to exactly the confirmed seats is fine: the event is then full
    assert await desk.update(capacity=3) == {"event": counts(3, 3, 0), "errors": []}
    [c] = await people("c")
    assert await desk.register(c) == registration("WAITLISTED", counts(3, 3, 1), position=1)


# ---------------------------------------------------------------------------------------------
# Cancelled events


async def test_cancelling_the_event_tells_active_registrants_and_closes_registration(
    desk: Desk, people: Any
) -> None:
    # given an event of 1 seat: a confirmed, b waiting, c cancelled, d declined
    await desk.create(capacity=1)
    a, b, c, d, e = await people("a", "b", "c", "d", "e")
    await desk.registered(a)
    await desk.registered(b)
    id_c = await desk.registered(c)
    id_d = await desk.registered(d)
    await desk.cancel(c, id_c)
    await desk.reject(id_d, "Duplicate")
    # when the organiser cancels the event
    cancelled_at = desk.clock.now() + timedelta(seconds=1)
    payload = await desk.cancel_event("The hall is flooded")
    # then it is cancelled, with its registrations kept
    assert payload == {
        "event": {
            "status": "CANCELLED",
            "cancellationReason": "The hall is flooded",
            "cancelledAt": cancelled_at.isoformat(),
            "registrationOpen": False,
            **counts(1, 1, 1),
        },
        "errors": [],
    }
    # and exactly those still registered (confirmed or waiting) are told
    assert [await desk.inbox(p) for p in (a, b, c, d, e)] == [
        [cancelled("The hall is flooded")],
        [cancelled("The hall is flooded")],
        [],
        [rejected("Duplicate")],
        [],
    ]
    # when someone registers afterwards
    late = await desk.register(e)
    # then registration is closed
    assert late == failure("REGISTRATION_CLOSED", "This event was cancelled")
    # when the organiser cancels it again (a retry)
    again = await desk.cancel_event("Another reason")
    # then nothing changes and nobody is told twice
    assert again == payload
    assert await desk.inbox(a) == [cancelled("The hall is flooded")]
    assert await desk.inbox(b) == [cancelled("The hall is flooded")]
    assert await desk.queue() == [
        ("a", "CONFIRMED", 1, None),
        ("b", "WAITLISTED", 1, 1),
        ("c", "CANCELLED", 1, None),
        ("d", "REJECTED", 1, None),
    ]


async def test_cancelling_an_event_with_approvals_tells_pending_registrants_too(
    desk: Desk, people: Any, platform_admin_token: str
) -> None:
    # given an event with approvals: a approved and confirmed, b pending
    await desk.create(capacity=3, requiresApproval=True)
    a, b = await people("a", "b")
    id_a = await desk.registered(a)
    await desk.registered(b)
    await desk.approve(id_a)
    # when a platform admin cancels it as a moderator
    payload = await desk.cancel_event("Spam", token=platform_admin_token)
    # then it is cancelled and both are told
    assert payload == {
        "event": {
            "status": "CANCELLED",
            "cancellationReason": "Spam",
            "cancelledAt": desk.clock.now().isoformat(),
            "registrationOpen": False,
            **counts(3, 1, 0),
        },
        "errors": [],
    }
    assert await desk.inbox(a) == [cancelled("Spam"), APPROVED]
    assert await desk.inbox(b) == [cancelled("Spam")]


# ---------------------------------------------------------------------------------------------
# Who hears what


async def test_each_person_receives_exactly_the_notifications_about_them(
    desk: Desk, people: Any
) -> None:
    # given an event of 2 seats: a and b confirmed, c, d and e waiting
    await desk.create(capacity=2)
    a, b, c, d, e = await people("a", "b", "c", "d", "e")
    ids = {p.email[0]: await desk.registered(p) for p in (a, b, c, d, e)}
    # when the organiser declines b (c moves in), a cancels (d moves in), the organiser adds two
    # seats (e moves in, one stays free) and then cancels the event
    await desk.reject(ids["b"], "Duplicate booking")
    await desk.cancel(a, ids["a"])
    assert await desk.update(capacity=4) == {"event": counts(4, 3, 0), "errors": []}
    await desk.cancel_event("Storm warning")
    # then each inbox, newest first, holds exactly what happened to that person
    assert [await desk.inbox(p) for p in (a, b, c, d, e)] == [
        [],
        [rejected("Duplicate booking")],
        [cancelled("Storm warning"), PROMOTED],
        [cancelled("Storm warning"), PROMOTED],
        [cancelled("Storm warning"), PROMOTED],
    ]
    assert await desk.inbox(desk.organiser) == []


# ---------------------------------------------------------------------------------------------
# What the apps' registration costs


async def test_the_apps_registration_costs_pinned_statements_and_answers_as_a_reload(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    """Statement count of the apps' own EventRegister (clients/operations/events.graphql), and
    its payload as the event screen and the "my events" tab show it right after: a payload
    built from the unit of work's rows must not differ from one read back."""
    begin = begins(db)
    lab = await register("lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION")
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    event_id = await published_event(gql, lab.access_token, cluster_id)
    app = AppCalls(gql, sql_statements)

    # when the sawmill registers two seats, and sends it again (a retry)
    seats = {"eventId": event_id, "seats": 2, "note": "Two of our boiler crew"}
    registered = await app.send("EventRegister", "EventRegister", mill.access_token, input=seats)
    again = await app.send("EventRegister again", "EventRegister", mill.access_token, input=seats)

    # then the answers are the registration and its event as the screens show them
    registration = registered["registration"]
    assert registration["event"] == await app.read("EventDetail", mill.access_token, id=event_id)
    mine = await app.read("MyRegistrations", mill.access_token, upcomingOnly=True)
    [listed] = [edge["node"] for edge in mine["edges"]]
    assert {**registration, "event": None} == {**listed, "event": None}
    assert registration["status"] == "CONFIRMED"
    assert again == registered

    # Each count includes the check that the sender's sign-in still stands (1, in a read
    # transaction of its own) and the offline sync log of the write. SQLite sends each
    # transaction's BEGIN as a statement of its own.
    access = 1 + begin
    assert app.counts == {
        # event locked, the sender's registration (none), the next number in the queue and
        # the seats (two conditional UPDATEs), insert; the organiser with its cluster (1, the
        # event's cluster is the same), the topics with their materials (1); sync log
        # (sequence, changes). The registration and the event (its counters as the UPDATEs
        # returned them) are not read back.
        "EventRegister": 9 + begin + access,
        # event locked, the sender's registration, organiser, topics
        "EventRegister again": 4 + begin + access,
    }, app.statements
