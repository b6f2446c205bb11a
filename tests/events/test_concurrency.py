"""Registrations under real concurrency: many requests gathered at once through the ASGI app, so
the SQLite write lock (BEGIN IMMEDIATE) or PostgreSQL's row lock on the event is all that keeps
seats, the waiting list and its order right. No mocks.

Run on SQLite by default and on PostgreSQL with EIC_TEST_DATABASE_URL.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest

from tests.conftest import Account, GraphQL

ERRORS = "errors { code message field }"
EVENT_COUNTS = "capacity confirmedSeats remainingSeats waitlistCount"
REGISTRATION = f"id status seats waitlistPosition event {{ {EVENT_COUNTS} }}"
CREATE = f"""
mutation Create($input: EventCreateInput!) {{
  eventCreate(input: $input) {{ event {{ id }} {ERRORS} }}
}}
"""
PUBLISH = f"mutation P($id: ID!) {{ eventPublish(id: $id) {{ event {{ status }} {ERRORS} }} }}"
UPDATE = f"""
mutation Update($input: EventUpdateInput!) {{
  eventUpdate(input: $input) {{ event {{ {EVENT_COUNTS} }} {ERRORS} }}
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
EVENT = f"query One($id: ID!) {{ event(id: $id) {{ {EVENT_COUNTS} }} }}"
PARTICIPANTS = """
query Participants($id: ID!, $status: ParticipantFilter!) {
  eventParticipants(eventId: $id, status: $status, first: 100) {
    edges { node { displayName registration { id status seats waitlistPosition } } }
  }
}
"""
INBOX = "{ notifications { edges { node { kind title } } } }"
TITLE = "Pellet stove workshop"
PROMOTED = {"node": {"kind": "EVENT_REGISTRATION_PROMOTED", "title": f"You have a seat: {TITLE}"}}


def counts(capacity: int, confirmed: int, waiting: int) -> dict[str, int]:
    return {
        "capacity": capacity,
        "confirmedSeats": confirmed,
        "remainingSeats": capacity - confirmed,
        "waitlistCount": waiting,
    }


async def crowd(register: Any, cluster_id: str, size: int, prefix: str = "p") -> list[Account]:
    """``size`` firm accounts named p00, p01, ... Made ten at a time through the API: the login
    throttle counts at most 30 sign-ins in flight from one address."""
    accounts: list[Account] = []
    for start in range(0, size, 10):
        accounts += await asyncio.gather(
            *(
                register(f"{prefix}{i:02d}@firm.example", cluster_id, name=f"Firm {prefix}{i:02d}")
                for i in range(start, min(size, start + 10))
            )
        )
    return accounts


async def published_event(gql: GraphQL, organiser: Account, cluster_id: str, capacity: int) -> str:
    created = await gql(
        CREATE,
        {
            "input": {
                "title": TITLE,
                "kind": "WORKSHOP",
                "format": "ONLINE",
                "capacity": capacity,
                "startsAt": "2027-03-10T14:00:00+09:00",
                "endsAt": "2027-03-10T16:00:00+09:00",
                "timezone": "Asia/Tokyo",
                "onlineUrl": "https://meet.example.org/stoves",
                "clusterId": cluster_id,
            }
        },
        token=organiser.access_token,
    )
    assert created["data"]["eventCreate"]["errors"] == [], created
    event_id: str = created["data"]["eventCreate"]["event"]["id"]
    published = await gql(PUBLISH, {"id": event_id}, token=organiser.access_token)
    assert published["data"]["eventPublish"] == {"event": {"status": "PUBLISHED"}, "errors": []}
    return event_id


@pytest.fixture
async def organiser(register: Any, cluster_id: str) -> Account:
    account: Account = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    return account


def payload_of(body: dict[str, Any], name: str) -> dict[str, Any]:
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][name]
    assert payload["errors"] == [], payload
    return payload


async def register_all(
    gql: GraphQL, event_id: str, people: list[Account], seats: list[int] | None = None
) -> list[dict[str, Any]]:
    """Everyone registers at once; their registrations, in the order of ``people``."""
    bodies = await asyncio.gather(
        *(
            gql(
                REGISTER,
                {"input": {"eventId": event_id, "seats": 1 if seats is None else seats[i]}},
                token=person.access_token,
            )
            for i, person in enumerate(people)
        )
    )
    return [payload_of(body, "eventRegister")["registration"] for body in bodies]


async def cancel_all(
    gql: GraphQL, cancellations: list[tuple[Account, str]]
) -> list[dict[str, Any]]:
    bodies = await asyncio.gather(
        *(gql(CANCEL, {"id": rid}, token=person.access_token) for person, rid in cancellations)
    )
    return [payload_of(body, "eventRegistrationCancel")["registration"] for body in bodies]


async def event_counts(gql: GraphQL, organiser: Account, event_id: str) -> dict[str, int]:
    body = await gql(EVENT, {"id": event_id}, token=organiser.access_token)
    event: dict[str, int] = body["data"]["event"]
    return event


async def queue(
    gql: GraphQL, organiser: Account, event_id: str, status: str = "ALL"
) -> list[dict[str, Any]]:
    """Registrations in arrival order: name, id, status, seats and waitlist position."""
    body = await gql(PARTICIPANTS, {"id": event_id, "status": status}, token=organiser.access_token)
    assert "errors" not in body, body
    return [
        {"name": edge["node"]["displayName"], **edge["node"]["registration"]}
        for edge in body["data"]["eventParticipants"]["edges"]
    ]


async def assert_consistent(
    gql: GraphQL, organiser: Account, event_id: str, capacity: int
) -> dict[str, Any]:
    """The event's counters agree with its registrations, no seat is sold twice, and the waiting
    list is numbered 1..n in arrival order. Returns the counters and the queue."""
    everyone = await queue(gql, organiser, event_id)
    confirmed = await queue(gql, organiser, event_id, "CONFIRMED")
    waiting = [r for r in everyone if r["status"] == "WAITLISTED"]
    seats = sum(r["seats"] for r in confirmed)
    assert confirmed == [r for r in everyone if r["status"] == "CONFIRMED"]
    assert seats <= capacity, f"{seats} seats confirmed for an event of {capacity}"
    assert await event_counts(gql, organiser, event_id) == counts(capacity, seats, len(waiting))
    assert [r["waitlistPosition"] for r in waiting] == list(range(1, len(waiting) + 1))
    assert all(r["waitlistPosition"] is None for r in everyone if r["status"] != "WAITLISTED")
    return {"seats": seats, "queue": everyone, "waiting": waiting}


async def test_fifty_people_registering_at_once_for_ten_seats_then_cancelling_one_by_one(
    gql: GraphQL, register: Any, cluster_id: str, organiser: Account
) -> None:
    # given a published event of 10 seats and 50 people
    people = await crowd(register, cluster_id, 50)
    by_name = {p.email.split("@")[0]: p for p in people}
    event_id = await published_event(gql, organiser, cluster_id, capacity=10)

    # when all 50 register at the same moment
    registrations = await register_all(gql, event_id, people)

    # then exactly 10 are confirmed and 40 wait, each with a registration of their own
    assert Counter(r["status"] for r in registrations) == {"CONFIRMED": 10, "WAITLISTED": 40}
    assert len({r["id"] for r in registrations}) == 50
    confirmed = [r for r in registrations if r["status"] == "CONFIRMED"]
    waiting = [r for r in registrations if r["status"] == "WAITLISTED"]
    # each request saw the event exactly as the previous ones had left it: one at a time
    assert sorted(r["event"]["confirmedSeats"] for r in confirmed) == list(range(1, 11))
    assert all(r["event"]["waitlistCount"] == 0 for r in confirmed)
    assert sorted(r["waitlistPosition"] for r in waiting) == list(range(1, 41))
    assert all(
        r["event"] == counts(10, 10, r["waitlistPosition"]) and r["seats"] == 1 for r in waiting
    )
    assert all(r["waitlistPosition"] is None for r in confirmed)
    assert await event_counts(gql, organiser, event_id) == counts(10, 10, 40)
    # and the organiser's list, in arrival order, is the 10 confirmed, then positions 1 to 40
    state = await assert_consistent(gql, organiser, event_id, capacity=10)
    listed = state["queue"]
    assert [r["status"] for r in listed] == ["CONFIRMED"] * 10 + ["WAITLISTED"] * 40
    assert [r["waitlistPosition"] for r in listed[10:]] == list(range(1, 41))
    # and each person's own answer agrees with that list
    answered = {r["id"]: r for r in registrations}
    assert all(
        answered[r["id"]]["status"] == r["status"]
        and answered[r["id"]]["waitlistPosition"] == r["waitlistPosition"]
        for r in listed
    )

    # when the confirmed cancel one at a time
    promoted: list[str] = []
    for step, leaving in enumerate(listed[:10]):
        before = await queue(gql, organiser, event_id)
        [head] = [r for r in before if r["waitlistPosition"] == 1]
        [cancelled] = await cancel_all(gql, [(by_name[leaving["name"]], leaving["id"])])
        # then exactly the one at position 1 gets the seat, the others move up by one
        assert cancelled == {
            "id": leaving["id"],
            "status": "CANCELLED",
            "seats": 1,
            "waitlistPosition": None,
            "event": counts(10, 10, 39 - step),
        }
        after = await queue(gql, organiser, event_id)
        expected = []
        for r in before:
            if r["id"] == leaving["id"]:
                expected.append({**r, "status": "CANCELLED"})
            elif r["id"] == head["id"]:
                expected.append({**r, "status": "CONFIRMED", "waitlistPosition": None})
            elif r["status"] == "WAITLISTED":
                expected.append({**r, "waitlistPosition": r["waitlistPosition"] - 1})
            else:
                expected.append(r)
        assert after == expected, f"step {step}"
        await assert_consistent(gql, organiser, event_id, capacity=10)
        promoted.append(head["name"])

    # then the first ten who waited, in their order, have seats, and only they were told
    assert promoted == [r["name"] for r in listed[10:20]]
    assert await event_counts(gql, organiser, event_id) == counts(10, 10, 30)
    inboxes = await asyncio.gather(*(gql(INBOX, token=p.access_token) for p in people))
    told = {
        person.email.split("@")[0]: inbox["data"]["notifications"]["edges"]
        for person, inbox in zip(people, inboxes, strict=True)
    }
    assert told == {name: [PROMOTED] if name in promoted else [] for name in by_name}


@pytest.mark.parametrize("full", [False, True], ids=["seats-free", "event-full"])
async def test_twenty_identical_retries_at_once_make_one_registration(
    gql: GraphQL, register: Any, cluster_id: str, organiser: Account, full: bool
) -> None:
    # given an event of 3 seats (or of 1 seat someone already holds) and a person
    first, person = await crowd(register, cluster_id, 2)
    event_id = await published_event(gql, organiser, cluster_id, capacity=1 if full else 3)
    if full:
        await register_all(gql, event_id, [first])
    # when the person's app sends the same registration 20 times at once (a flaky connection)
    registrations = await register_all(gql, event_id, [person] * 20)
    # then all 20 answers are the same one registration, holding one seat or one waiting place
    expected = (
        {"status": "WAITLISTED", "seats": 1, "waitlistPosition": 1, "event": counts(1, 1, 1)}
        if full
        else {"status": "CONFIRMED", "seats": 1, "waitlistPosition": None, "event": counts(3, 1, 0)}
    )
    [the_id] = {r["id"] for r in registrations}
    assert registrations == [{"id": the_id, **expected}] * 20
    assert await event_counts(gql, organiser, event_id) == expected["event"]
    listed = await queue(gql, organiser, event_id)
    assert [r for r in listed if r["name"] == "p01"] == [
        {
            "name": "p01",
            "id": the_id,
            "status": expected["status"],
            "seats": 1,
            "waitlistPosition": expected["waitlistPosition"],
        }
    ]
    assert len(listed) == (2 if full else 1)


async def test_cancellations_at_once_promote_the_head_of_the_queue_and_never_oversell(
    gql: GraphQL, register: Any, cluster_id: str, organiser: Account
) -> None:
    # given an event of 10 seats, full, with 20 waiting
    people = await crowd(register, cluster_id, 30)
    by_name = {p.email.split("@")[0]: p for p in people}
    event_id = await published_event(gql, organiser, cluster_id, capacity=10)
    await register_all(gql, event_id, people)
    listed = (await assert_consistent(gql, organiser, event_id, capacity=10))["queue"]
    holders, waiting = listed[:10], listed[10:]
    # when six confirmed and three waiting (positions 2, 5 and 9) cancel at the same moment
    leaving = [*holders[:6], waiting[1], waiting[4], waiting[8]]
    answers = await cancel_all(gql, [(by_name[r["name"]], r["id"]) for r in leaving])
    # then all nine are cancelled
    assert [(a["id"], a["status"]) for a in answers] == [(r["id"], "CANCELLED") for r in leaving]
    # and the six freed seats went to the first six still waiting, in their order
    state = await assert_consistent(gql, organiser, event_id, capacity=10)
    assert state["seats"] == 10
    still_waiting = [r for r in waiting if r not in leaving]
    now_confirmed = {r["id"] for r in state["queue"] if r["status"] == "CONFIRMED"}
    assert now_confirmed == {r["id"] for r in holders[6:] + still_waiting[:6]}
    assert [r["id"] for r in state["waiting"]] == [r["id"] for r in still_waiting[6:]]
    assert await event_counts(gql, organiser, event_id) == counts(10, 10, 11)


async def test_a_storm_of_registrations_cancellations_and_a_capacity_change_stays_consistent(
    gql: GraphQL, register: Any, cluster_id: str, organiser: Account
) -> None:
    # given an event of 10 seats where 30 people hold or wait for 1 to 3 seats each
    people = await crowd(register, cluster_id, 30)
    newcomers = await crowd(register, cluster_id, 15, prefix="n")
    by_name = {p.email.split("@")[0]: p for p in people + newcomers}
    event_id = await published_event(gql, organiser, cluster_id, capacity=10)
    draw = random.Random(20270301)
    await register_all(gql, event_id, people, [draw.choice([1, 2, 3]) for _ in people])
    listed = (await assert_consistent(gql, organiser, event_id, capacity=10))["queue"]
    # when, all at once, everyone confirmed and every third waiting cancels, 15 newcomers
    # register and the organiser adds 5 seats
    holders = [r for r in listed if r["status"] == "CONFIRMED"]
    leaving = holders + [r for r in listed if r["status"] == "WAITLISTED"][::3]
    requests = [
        *(gql(CANCEL, {"id": r["id"]}, token=by_name[r["name"]].access_token) for r in leaving),
        *(
            gql(
                REGISTER,
                {"input": {"eventId": event_id, "seats": draw.choice([1, 2, 3])}},
                token=p.access_token,
            )
            for p in newcomers
        ),
        gql(UPDATE, {"input": {"id": event_id, "capacity": 15}}, token=organiser.access_token),
    ]
    draw.shuffle(requests)
    bodies = await asyncio.gather(*requests)
    # then every request went through
    for body in bodies:
        assert "errors" not in body, body
        [payload] = body["data"].values()
        assert payload["errors"] == [], payload
    # and the counters agree with the registrations, no more than 15 seats are confirmed, and
    # the waiting list is numbered 1..n in arrival order
    state = await assert_consistent(gql, organiser, event_id, capacity=15)
    assert Counter(
        r["status"] for r in state["queue"] if r["id"] in {x["id"] for x in leaving}
    ) == {"CANCELLED": len(leaving)}
    assert len(state["queue"]) == 45
