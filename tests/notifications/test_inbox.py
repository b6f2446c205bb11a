"""The notifications inbox through GraphQL: `notifications(unreadOnly, first, after)`,
`notificationsUnreadCount` and `notificationsMarkRead(input: {ids})`.

Notifications are made the way the app makes them: by event actions (approval, promotion from the
waiting list, a moved event, a cancelled event, a declined registration).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from tests.conftest import Account, GraphQL
from tests.kit import iso

CREATE = """
mutation Create($input: EventCreateInput!) {
  eventCreate(input: $input) { event { id } errors { code message field } }
}
"""
PUBLISH = """
mutation Publish($id: ID!) {
  eventPublish(id: $id) { event { status } errors { code message } }
}
"""
UPDATE = """
mutation Update($input: EventUpdateInput!) {
  eventUpdate(input: $input) { event { startsAt } errors { code message field } }
}
"""
CANCEL_EVENT = """
mutation Cancel($id: ID!, $reason: String!) {
  eventCancel(id: $id, reason: $reason) { event { status } errors { code message } }
}
"""
REGISTER = """
mutation Register($input: EventRegisterInput!) {
  eventRegister(input: $input) { registration { id status } errors { code message field } }
}
"""
CANCEL_REGISTRATION = """
mutation CancelRegistration($id: ID!) {
  eventRegistrationCancel(id: $id) { registration { status } errors { code message } }
}
"""
APPROVE = """
mutation Approve($id: ID!) {
  eventRegistrationApprove(id: $id) { registration { status } errors { code message } }
}
"""
REJECT = """
mutation Reject($id: ID!, $reason: String!) {
  eventRegistrationReject(id: $id, reason: $reason) {
    registration { status } errors { code message }
  }
}
"""
INBOX = """
query Inbox($unreadOnly: Boolean! = false, $first: Int, $after: String) {
  notifications(unreadOnly: $unreadOnly, first: $first, after: $after) {
    totalCount
    edges { cursor node { id kind title body subjectType subjectId createdAt readAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
UNREAD = "{ notificationsUnreadCount }"
MARK = """
mutation Mark($ids: [ID!]) {
  notificationsMarkRead(input: {ids: $ids}) { unreadCount errors { code message field } }
}
"""

START = datetime.fromisoformat("2027-03-01T00:00:00+00:00")


# ---------------------------------------------------------------------------------------------
# Helpers


def event_input(cluster_id: str, title: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": title,
        "kind": "SEMINAR",
        "format": "IN_PERSON",
        "capacity": 10,
        "startsAt": "2027-03-20T14:00:00+09:00",
        "endsAt": "2027-03-20T16:00:00+09:00",
        "timezone": "Asia/Tokyo",
        "language": "ja",
        "location": {"lat": 35.07, "lon": 133.75, "placeName": "Maniwa City Hall"},
        "clusterId": cluster_id,
        **extra,
    }


async def make_event(
    gql: GraphQL, organiser: Account, cluster_id: str, title: str, **extra: Any
) -> str:
    body = await gql(
        CREATE, {"input": event_input(cluster_id, title, **extra)}, token=organiser.access_token
    )
    assert body["data"]["eventCreate"]["errors"] == [], body
    event_id: str = body["data"]["eventCreate"]["event"]["id"]
    published = await gql(PUBLISH, {"id": event_id}, token=organiser.access_token)
    assert published["data"]["eventPublish"]["errors"] == [], published
    return event_id


async def register_for(gql: GraphQL, person: Account, event_id: str) -> dict[str, Any]:
    body = await gql(REGISTER, {"input": {"eventId": event_id}}, token=person.access_token)
    assert body["data"]["eventRegister"]["errors"] == [], body
    registration: dict[str, Any] = body["data"]["eventRegister"]["registration"]
    return registration


async def ok(gql: GraphQL, query: str, variables: dict[str, Any], token: str) -> None:
    """Runs a mutation that must succeed."""
    body = await gql(query, variables, token=token)
    [payload] = body["data"].values()
    assert payload["errors"] == [], body


async def inbox(gql: GraphQL, person: Account, **variables: Any) -> dict[str, Any]:
    body = await gql(INBOX, variables, token=person.access_token)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["notifications"]
    return connection


def nodes(connection: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in connection["edges"]]


async def unread(gql: GraphQL, person: Account) -> int:
    body = await gql(UNREAD, token=person.access_token)
    assert "errors" not in body, body
    count: int = body["data"]["notificationsUnreadCount"]
    return count


async def mark(gql: GraphQL, person: Account, ids: list[str] | None) -> dict[str, Any]:
    body = await gql(MARK, {"ids": ids}, token=person.access_token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["notificationsMarkRead"]
    return payload


@dataclass
class Story:
    """One person told five things, an hour apart, oldest first, and a bystander told one."""

    person: Account
    bystander: Account
    organiser: Account
    events: dict[str, str]
    times: list[datetime]


@pytest.fixture
async def story(gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock) -> Story:
    organiser = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    person = await register("p@firm.example", cluster_id, name="Firm P")
    bystander = await register("q@firm.example", cluster_id, name="Firm Q")
    token = organiser.access_token
    events = {
        "approved": await make_event(gql, organiser, cluster_id, "Approved", requiresApproval=True),
        "full": await make_event(gql, organiser, cluster_id, "Full", capacity=1),
        "moved": await make_event(gql, organiser, cluster_id, "Moved"),
        "cancelled": await make_event(gql, organiser, cluster_id, "Cancelled"),
        "declined": await make_event(gql, organiser, cluster_id, "Declined", requiresApproval=True),
    }
    pending = await register_for(gql, person, events["approved"])
    seat = await register_for(gql, bystander, events["full"])
    assert (await register_for(gql, person, events["full"]))["status"] == "WAITLISTED"
    await register_for(gql, person, events["moved"])
    await register_for(gql, person, events["cancelled"])
    declined = await register_for(gql, person, events["declined"])

    times = []
    # 1: the organisers approve the person's registration
    clock.set(START + timedelta(hours=1))
    times.append(clock.now())
    await ok(gql, APPROVE, {"id": pending["id"]}, token)
    # 2: the only seat is freed and the person is promoted from the waiting list
    clock.set(START + timedelta(hours=2))
    times.append(clock.now())
    await ok(gql, CANCEL_REGISTRATION, {"id": seat["id"]}, bystander.access_token)
    # 3: an event moves by a day
    clock.set(START + timedelta(hours=3))
    times.append(clock.now())
    await ok(
        gql,
        UPDATE,
        {
            "input": {
                "id": events["moved"],
                "startsAt": "2027-03-21T14:00:00+09:00",
                "endsAt": "2027-03-21T16:00:00+09:00",
            }
        },
        token,
    )
    # 4: an event is cancelled
    clock.set(START + timedelta(hours=4))
    times.append(clock.now())
    await ok(gql, CANCEL_EVENT, {"id": events["cancelled"], "reason": "The hall is flooded"}, token)
    # 5: a registration is declined
    clock.set(START + timedelta(hours=5))
    times.append(clock.now())
    await ok(gql, REJECT, {"id": declined["id"], "reason": "Members only"}, token)
    # and the bystander is told something of their own
    bystanders_event = await make_event(gql, organiser, cluster_id, "Bystander's")
    await register_for(gql, bystander, bystanders_event)
    await ok(gql, CANCEL_EVENT, {"id": bystanders_event, "reason": "Sorry"}, token)
    clock.set(START + timedelta(hours=6))
    return Story(person, bystander, organiser, events, times)


# ---------------------------------------------------------------------------------------------
# Listing


async def test_the_inbox_lists_what_event_actions_told_the_person_newest_first(
    gql: GraphQL, story: Story
) -> None:
    # when the person reads their inbox
    connection = await inbox(gql, story.person)

    # then the five notifications come, newest first, unread, each about its event
    e, t = story.events, story.times
    assert connection["totalCount"] == 5
    assert [
        {key: value for key, value in node.items() if key != "id"} for node in nodes(connection)
    ] == [
        {
            "kind": "EVENT_REGISTRATION_REJECTED",
            "title": "Not accepted: Declined",
            "body": "Members only",
            "subjectType": "EVENT",
            "subjectId": e["declined"],
            "createdAt": iso(t[4]),
            "readAt": None,
        },
        {
            "kind": "EVENT_CANCELLED",
            "title": "Cancelled: Cancelled",
            "body": "The hall is flooded",
            "subjectType": "EVENT",
            "subjectId": e["cancelled"],
            "createdAt": iso(t[3]),
            "readAt": None,
        },
        {
            "kind": "EVENT_CHANGED",
            "title": "Changed: Moved",
            "body": "The time or the place of an event you registered for has changed.",
            "subjectType": "EVENT",
            "subjectId": e["moved"],
            "createdAt": iso(t[2]),
            "readAt": None,
        },
        {
            "kind": "EVENT_REGISTRATION_PROMOTED",
            "title": "You have a seat: Full",
            "body": "A seat became free and your registration moved from the waiting list to "
            "confirmed.",
            "subjectType": "EVENT",
            "subjectId": e["full"],
            "createdAt": iso(t[1]),
            "readAt": None,
        },
        {
            "kind": "EVENT_REGISTRATION_CONFIRMED",
            "title": "Approved: Approved",
            "body": "The organisers approved your registration.",
            "subjectType": "EVENT",
            "subjectId": e["approved"],
            "createdAt": iso(t[0]),
            "readAt": None,
        },
    ]
    assert connection["pageInfo"]["hasNextPage"] is False
    assert connection["pageInfo"]["hasPreviousPage"] is False
    assert await unread(gql, story.person) == 5

    # and the bystander sees only their own
    theirs = nodes(await inbox(gql, story.bystander))
    assert [(n["kind"], n["title"]) for n in theirs] == [
        ("EVENT_CANCELLED", "Cancelled: Bystander's")
    ]
    assert await unread(gql, story.bystander) == 1
    # and the organiser, who was told nothing, has an empty inbox
    assert (await inbox(gql, story.organiser))["edges"] == []
    assert await unread(gql, story.organiser) == 0


async def test_a_cancelled_event_tells_everyone_still_registered_and_nobody_else(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    organiser = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    confirmed = await register("a@firm.example", cluster_id, name="Firm A")
    waiting = await register("b@firm.example", cluster_id, name="Firm B")
    withdrawn = await register("c@firm.example", cluster_id, name="Firm C")
    unrelated = await register("d@firm.example", cluster_id, name="Firm D")
    # given an event with a confirmed person, one waiting, and one who cancelled
    event_id = await make_event(gql, organiser, cluster_id, "Kiln workshop", capacity=1)
    await register_for(gql, confirmed, event_id)
    assert (await register_for(gql, waiting, event_id))["status"] == "WAITLISTED"
    registration = await register_for(gql, withdrawn, event_id)
    await ok(gql, CANCEL_REGISTRATION, {"id": registration["id"]}, withdrawn.access_token)

    # when the event is cancelled
    await ok(gql, CANCEL_EVENT, {"id": event_id, "reason": "Kiln broken"}, organiser.access_token)

    # then the confirmed and the waiting person are told, once each
    for person in (confirmed, waiting):
        assert [
            (n["kind"], n["body"], n["subjectId"]) for n in nodes(await inbox(gql, person))
        ] == [("EVENT_CANCELLED", "Kiln broken", event_id)], person.email
        assert await unread(gql, person) == 1
    # and nobody else
    for person in (withdrawn, unrelated, organiser):
        assert (await inbox(gql, person))["totalCount"] == 0, person.email

    # and cancelling it again tells nobody a second time
    await ok(gql, CANCEL_EVENT, {"id": event_id, "reason": "Kiln broken"}, organiser.access_token)
    assert await unread(gql, confirmed) == 1


# ---------------------------------------------------------------------------------------------
# Reading


async def test_marking_some_read_by_id_counts_down_and_unread_only_hides_them(
    gql: GraphQL, story: Story, clock: ManualClock
) -> None:
    everything = nodes(await inbox(gql, story.person))
    ids = [n["id"] for n in everything]

    # when the person marks the newest and the third read
    marked_at = clock.now()
    payload = await mark(gql, story.person, [ids[0], ids[2]])

    # then 3 are still unread, by the mutation's answer and by the count
    assert payload == {"unreadCount": 3, "errors": []}
    assert await unread(gql, story.person) == 3
    # and the inbox shows those two as read at that moment, the others unread
    after = nodes(await inbox(gql, story.person))
    assert [n["id"] for n in after] == ids
    assert [n["readAt"] for n in after] == [iso(marked_at), None, iso(marked_at), None, None]
    # and the unread-only list has the other three, newest first
    unread_only = await inbox(gql, story.person, unreadOnly=True)
    assert [n["id"] for n in nodes(unread_only)] == [ids[1], ids[3], ids[4]]
    assert unread_only["totalCount"] == 3

    # when the same ones are marked again later, then nothing changes: not even when they were read
    clock.advance(timedelta(hours=1))
    assert await mark(gql, story.person, [ids[0], ids[2]]) == {"unreadCount": 3, "errors": []}
    assert [n["readAt"] for n in nodes(await inbox(gql, story.person))] == [
        iso(marked_at),
        None,
        iso(marked_at),
        None,
        None,
    ]
    # and an empty list marks nothing
    assert await mark(gql, story.person, []) == {"unreadCount": 3, "errors": []}
    # and unknown ids are ignored
    unknown = [str(uuid.uuid4()) for _ in range(3)]
    assert await mark(gql, story.person, unknown) == {"unreadCount": 3, "errors": []}


async def test_marking_all_read_with_null_ids(
    gql: GraphQL, story: Story, clock: ManualClock
) -> None:
    # given one notification already read
    first_read = clock.now()
    newest = nodes(await inbox(gql, story.person))[0]["id"]
    assert (await mark(gql, story.person, [newest]))["unreadCount"] == 4

    # when everything is marked read later
    clock.advance(timedelta(minutes=30))
    payload = await mark(gql, story.person, None)

    # then none is unread, and the earlier one keeps its time
    assert payload == {"unreadCount": 0, "errors": []}
    assert await unread(gql, story.person) == 0
    assert (await inbox(gql, story.person, unreadOnly=True))["edges"] == []
    assert [n["readAt"] for n in nodes(await inbox(gql, story.person))] == [iso(first_read)] + [
        iso(clock.now())
    ] * 4
    # and the bystander's are untouched
    assert await unread(gql, story.bystander) == 1
    # and marking all again is harmless
    assert await mark(gql, story.person, None) == {"unreadCount": 0, "errors": []}


async def test_marking_somebody_else_s_notification_does_nothing(
    gql: GraphQL, story: Story
) -> None:
    # given the bystander's notification
    [theirs] = nodes(await inbox(gql, story.bystander))

    # when the person marks it read, with one of their own
    own = nodes(await inbox(gql, story.person))[0]["id"]
    payload = await mark(gql, story.person, [theirs["id"], own])

    # then only their own is marked: the bystander's stays unread
    assert payload == {"unreadCount": 4, "errors": []}
    assert await unread(gql, story.bystander) == 1
    assert [n["readAt"] for n in nodes(await inbox(gql, story.bystander))] == [None]

    # and marking "all" marks the person's own only
    assert (await mark(gql, story.person, None))["unreadCount"] == 0
    assert await unread(gql, story.bystander) == 1


async def test_at_most_100_ids_at_once(gql: GraphQL, story: Story) -> None:
    own = nodes(await inbox(gql, story.person))[0]["id"]

    # when 101 ids are sent, then it is a validation error on `ids` and nothing is marked
    too_many = [own] + [str(uuid.uuid4()) for _ in range(100)]
    payload = await mark(gql, story.person, too_many)
    assert payload["unreadCount"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "ids")]
    assert await unread(gql, story.person) == 5

    # when 100 are sent, then they are marked
    payload = await mark(gql, story.person, too_many[:100])
    assert payload == {"unreadCount": 4, "errors": []}


async def test_a_malformed_id_is_a_validation_error_on_its_position(
    gql: GraphQL, story: Story
) -> None:
    own = nodes(await inbox(gql, story.person))[0]["id"]
    payload = await mark(gql, story.person, [own, "not-an-id"])
    assert payload["unreadCount"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "ids.1")]
    assert await unread(gql, story.person) == 5


async def test_the_inbox_is_for_signed_in_people(gql: GraphQL, story: Story) -> None:
    # when somebody without a token reads an inbox or the count, then UNAUTHENTICATED
    for query in (INBOX, UNREAD):
        body = await gql(query, token="")
        assert body["data"] is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    # and marking is a payload error
    body = await gql(MARK, {"ids": None}, token="")
    payload = body["data"]["notificationsMarkRead"]
    assert payload["unreadCount"] is None
    assert [e["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]
    # and a forged token is no better
    body = await gql(UNREAD, token="not.a.token")
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    # and nothing was marked
    assert await unread(gql, story.person) == 5


# ---------------------------------------------------------------------------------------------
# Pages


async def test_pages_walk_the_inbox_newest_first_without_gaps_or_duplicates(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    organiser = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    person = await register("p@firm.example", cluster_id, name="Firm P")
    # given 23 notifications: an event moved 23 times, several moves in the same minute
    event_id = await make_event(gql, organiser, cluster_id, "Moving target")
    await register_for(gql, person, event_id)
    for move in range(23):
        if move % 3 == 0:
            clock.advance(timedelta(minutes=1))
        start = datetime.fromisoformat("2027-03-20T05:00:00+00:00") + timedelta(hours=move + 1)
        await ok(
            gql,
            UPDATE,
            {
                "input": {
                    "id": event_id,
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(hours=1)).isoformat(),
                }
            },
            organiser.access_token,
        )
    everything = await inbox(gql, person, first=100)
    assert everything["totalCount"] == 23
    expected = [n["id"] for n in nodes(everything)]
    # newest first, and among those made at the same moment, by id (the larger first)
    assert nodes(everything) == sorted(
        nodes(everything),
        key=lambda n: (datetime.fromisoformat(n["createdAt"]), uuid.UUID(n["id"])),
        reverse=True,
    )
    assert len({n["createdAt"] for n in nodes(everything)}) == 8

    # when it is read in pages of ten
    pages = []
    after = None
    while True:
        connection = await inbox(gql, person, first=10, after=after)
        pages.append(connection)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert len(pages) < 5, "the pages do not end"

    # then the pages hold 10, 10 and 3, each notification once, in the same order
    assert [len(page["edges"]) for page in pages] == [10, 10, 3]
    assert [page["totalCount"] for page in pages] == [23, 23, 23]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    walked = [node["id"] for page in pages for node in nodes(page)]
    assert walked == expected
    assert len(set(walked)) == 23


async def test_unread_only_pages_skip_what_was_read(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    organiser = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    person = await register("p@firm.example", cluster_id, name="Firm P")
    # given 12 notifications, every third one read
    event_id = await make_event(gql, organiser, cluster_id, "Moving target")
    await register_for(gql, person, event_id)
    for move in range(12):
        clock.advance(timedelta(minutes=1))
        start = datetime.fromisoformat("2027-03-20T05:00:00+00:00") + timedelta(hours=move + 1)
        await ok(
            gql,
            UPDATE,
            {
                "input": {
                    "id": event_id,
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(hours=1)).isoformat(),
                }
            },
            organiser.access_token,
        )
    ids = [n["id"] for n in nodes(await inbox(gql, person, first=100))]
    assert (await mark(gql, person, ids[::3]))["unreadCount"] == 8
    expected = [i for index, i in enumerate(ids) if index % 3 != 0]

    # when the unread ones are read in pages of three
    walked: list[str] = []
    after = None
    for _ in range(3):
        connection = await inbox(gql, person, unreadOnly=True, first=3, after=after)
        assert connection["totalCount"] == 8
        walked += [node["id"] for node in nodes(connection)]
        after = connection["pageInfo"]["endCursor"]

    # then they are the 8 unread ones, in order
    assert walked == expected
    assert connection["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize(
    ("variables", "field"),
    [({"first": 0}, "first"), ({"first": 101}, "first"), ({"after": "nonsense"}, "after")],
)
async def test_invalid_page_arguments_are_validation_errors(
    gql: GraphQL, story: Story, variables: dict[str, Any], field: str
) -> None:
    body = await gql(INBOX, variables, token=story.person.access_token)
    assert body["data"] is None, body
    assert [e["extensions"] for e in body["errors"]] == [{"code": "VALIDATION", "field": field}]
