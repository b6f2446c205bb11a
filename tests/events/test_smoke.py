"""The whole path of an event once: create, publish, register, wait, promote, calendar."""

from __future__ import annotations

from typing import Any

import icalendar

from backend.kit.clock import ManualClock
from tests.events.kit import event_input

CREATE = """
mutation Create($input: EventCreateInput!) {
  eventCreate(input: $input) {
    event {
      id status remainingSeats waitlistCount startsAt onlineUrl
      topics { tag material { code } }
    }
    errors { code message field }
  }
}
"""
PUBLISH = "mutation P($id: ID!) { eventPublish(id: $id) { event { status } errors { code } } }"
REGISTER = """
mutation R($input: EventRegisterInput!) {
  eventRegister(input: $input) {
    registration {
      id status seats waitlistPosition
      event { remainingSeats waitlistCount onlineUrl }
    }
    errors { code message field }
  }
}
"""
CANCEL = """
mutation C($id: ID!) {
  eventRegistrationCancel(id: $id) { registration { status } errors { code message } }
}
"""
MINE = "{ myRegistrations { edges { node { status waitlistPosition event { title } } } } }"


async def test_an_event_from_draft_to_promotion(
    gql: Any, register: Any, cluster_id: str, clock: ManualClock, client: Any
) -> None:
    university = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    first = await register("a@firm.example", cluster_id, name="Firm A")
    second = await register("b@firm.example", cluster_id, name="Firm B")

    created = await gql(
        CREATE, {"input": event_input(cluster_id, capacity=1)}, token=university.access_token
    )
    assert created["data"]["eventCreate"]["errors"] == [], created
    event = created["data"]["eventCreate"]["event"]
    assert event["startsAt"] == "2027-03-10T14:00:00+09:00"
    assert event["onlineUrl"] == "https://meet.example.org/boiler"
    assert event["topics"] == [
        {"tag": None, "material": {"code": "wood-shavings"}},
        {"tag": "boilers", "material": None},
    ]
    published = await gql(PUBLISH, {"id": event["id"]}, token=university.access_token)
    assert published["data"]["eventPublish"] == {"event": {"status": "PUBLISHED"}, "errors": []}

    one = await gql(REGISTER, {"input": {"eventId": event["id"]}}, token=first.access_token)
    two = await gql(REGISTER, {"input": {"eventId": event["id"]}}, token=second.access_token)
    assert one["data"]["eventRegister"]["registration"]["status"] == "CONFIRMED", one
    assert one["data"]["eventRegister"]["registration"]["event"]["onlineUrl"] == (
        "https://meet.example.org/boiler"
    )
    waiting = two["data"]["eventRegister"]["registration"]
    assert (waiting["status"], waiting["waitlistPosition"]) == ("WAITLISTED", 1), two
    assert waiting["event"] == {"remainingSeats": 0, "waitlistCount": 1, "onlineUrl": None}

    cancelled = await gql(
        CANCEL, {"id": one["data"]["eventRegister"]["registration"]["id"]}, token=first.access_token
    )
    assert cancelled["data"]["eventRegistrationCancel"] == {
        "registration": {"status": "CANCELLED"},
        "errors": [],
    }
    mine = await gql(MINE, token=second.access_token)
    assert mine["data"]["myRegistrations"]["edges"] == [
        {
            "node": {
                "status": "CONFIRMED",
                "waitlistPosition": None,
                "event": {"title": "Biomass boiler seminar"},
            }
        }
    ], mine
    inbox = await gql(
        "{ notifications { edges { node { kind title } } } }", token=second.access_token
    )
    assert inbox["data"]["notifications"]["edges"] == [
        {
            "node": {
                "kind": "EVENT_REGISTRATION_PROMOTED",
                "title": "You have a seat: Biomass boiler seminar",
            }
        }
    ]

    response = await client.get(f"/calendar/events/{event['id']}.ics")
    assert response.status_code == 200, response.text
    calendar = icalendar.Calendar.from_ical(response.content)
    [component] = calendar.walk("VEVENT")
    assert str(component["uid"]) == f"event-{event['id']}@eic"

    rotated = await gql(
        "mutation { calendarFeedRotate { feedPath errors { code } } }", token=second.access_token
    )
    path = rotated["data"]["calendarFeedRotate"]["feedPath"]
    feed = await client.get(path)
    assert feed.status_code == 200, feed.text
    [mine_in_feed] = icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
    assert str(mine_in_feed["url"]) == "https://meet.example.org/boiler"
    assert clock.now().year == 2027
