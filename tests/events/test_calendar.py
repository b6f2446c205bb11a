"""Events as files: the public iCalendar file of an event, a person's secret calendar feed and the
organisers' participants CSV.

Every calendar is parsed with the real `icalendar` package, the way a calendar app would read it;
the CSV with the `csv` module, the way a spreadsheet would.
"""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import icalendar
import pytest

from backend.kit.clock import ManualClock
from tests.conftest import Account, GraphQL
from tests.events.kit import event_input

CREATE = """
mutation Create($input: EventCreateInput!) {
  eventCreate(input: $input) {
    event { id status }
    errors { code message field }
  }
}
"""
PUBLISH = """
mutation Publish($id: ID!) {
  eventPublish(id: $id) { event { status } errors { code message } }
}
"""
UPDATE = """
mutation Update($input: EventUpdateInput!) {
  eventUpdate(input: $input) { event { title status } errors { code message field } }
}
"""
CANCEL_EVENT = """
mutation Cancel($id: ID!, $reason: String!) {
  eventCancel(id: $id, reason: $reason) { event { status } errors { code message } }
}
"""
REGISTER = """
mutation Register($input: EventRegisterInput!) {
  eventRegister(input: $input) {
    registration { id status }
    errors { code message field }
  }
}
"""
CANCEL_REGISTRATION = """
mutation CancelRegistration($id: ID!) {
  eventRegistrationCancel(id: $id) { registration { status } errors { code message } }
}
"""
REJECT = """
mutation Reject($id: ID!) {
  eventRegistrationReject(id: $id) { registration { status } errors { code message } }
}
"""
CHECK_IN = """
mutation CheckIn($id: ID!) {
  eventCheckIn(id: $id) { registration { status checkedInAt } errors { code message } }
}
"""
ROTATE = "mutation { calendarFeedRotate { feedUrl feedPath errors { code message } } }"

TOKYO = ZoneInfo("Asia/Tokyo")
ONLINE_URL = "https://meet.example.org/boiler"  # the online link of kit.event_input
DESCRIPTION = "How a boiler burns planer shavings."
CSV_HEADER = [
    "position",
    "status",
    "seats",
    "name",
    "email",
    "organisation",
    "registered_at",
    "confirmed_at",
    "checked_in_at",
    "note",
]


# ---------------------------------------------------------------------------------------------
# Helpers


async def create_event(
    gql: GraphQL, organiser: Account, cluster_id: str, *, publish: bool = True, **extra: Any
) -> str:
    """Creates (and by default publishes) an event of ``organiser``; returns its id."""
    body = await gql(
        CREATE,
        {"input": event_input(cluster_id, **{"description": DESCRIPTION, **extra})},
        token=organiser.access_token,
    )
    payload = body["data"]["eventCreate"]
    assert payload["errors"] == [], body
    event_id: str = payload["event"]["id"]
    if publish:
        published = await gql(PUBLISH, {"id": event_id}, token=organiser.access_token)
        assert published["data"]["eventPublish"] == {
            "event": {"status": "PUBLISHED"},
            "errors": [],
        }, published
    return event_id


async def register_for(
    gql: GraphQL, person: Account, event_id: str, **extra: Any
) -> dict[str, Any]:
    """Registers ``person``; returns the registration (id, status)."""
    body = await gql(REGISTER, {"input": {"eventId": event_id, **extra}}, token=person.access_token)
    payload = body["data"]["eventRegister"]
    assert payload["errors"] == [], body
    registration: dict[str, Any] = payload["registration"]
    return registration


async def cancel_event(gql: GraphQL, organiser: Account, event_id: str, reason: str) -> None:
    body = await gql(CANCEL_EVENT, {"id": event_id, "reason": reason}, token=organiser.access_token)
    assert body["data"]["eventCancel"] == {"event": {"status": "CANCELLED"}, "errors": []}, body


async def calendar_of(client: Any, path: str) -> icalendar.Calendar:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/calendar"), response.headers
    return icalendar.Calendar.from_ical(response.content)


def the_event(calendar: icalendar.Calendar) -> Any:
    [component] = calendar.walk("VEVENT")
    return component


def by_uid(calendar: icalendar.Calendar) -> dict[str, Any]:
    return {str(component["uid"]): component for component in calendar.walk("VEVENT")}


def uid(event_id: str) -> str:
    return f"event-{event_id}@eic"


def assert_rfc5545_lines(raw: bytes) -> None:
    """Every line ends in CRLF, is at most 75 octets and is whole UTF-8 (no character split)."""
    assert raw.endswith(b"\r\n")
    lines = raw[: -len(b"\r\n")].split(b"\r\n")
    bare = [line for line in lines if b"\n" in line or b"\r" in line]
    assert bare == [], "line breaks other than CRLF"
    too_long = [line for line in lines if len(line) > 75]
    assert too_long == [], too_long
    for line in lines:
        line.decode("utf-8")  # a multi-octet character split by folding would not decode


@pytest.fixture
async def university(register: Any, cluster_id: str) -> Account:
    account: Account = await register(
        "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
    )
    return account


# ---------------------------------------------------------------------------------------------
# The public file of an event


async def test_event_file_is_an_rfc5545_calendar_with_one_event_in_its_own_time_zone(
    gql: GraphQL, client: Any, university: Account, cluster_id: str, clock: ManualClock
) -> None:
    # given a published hybrid event in Tokyo
    event_id = await create_event(gql, university, cluster_id)

    # when its calendar file is fetched, without signing in
    response = await client.get(f"/calendar/events/{event_id}.ics")

    # then it is an iCalendar file with one event
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert_rfc5545_lines(response.content)
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["version"]) == "2.0"
    assert str(calendar["prodid"]) == "-//EIC//Knowledge-transfer events//EN"
    event = the_event(calendar)
    assert str(event["uid"]) == uid(event_id)
    assert str(event["summary"]) == "Biomass boiler seminar"
    assert str(event["location"]) == "Maniwa City Hall"
    geo: Any = event["geo"]
    assert (geo.latitude, geo.longitude) == (35.07, 133.75)
    assert event["sequence"] == 0
    assert str(event["status"]) == "CONFIRMED"
    # with its local times and their time zone, which the file defines
    assert event["dtstart"].params["TZID"] == "Asia/Tokyo"
    assert event["dtend"].params["TZID"] == "Asia/Tokyo"
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert (start.replace(tzinfo=None), end.replace(tzinfo=None)) == (
        datetime(2027, 3, 10, 14, 0),
        datetime(2027, 3, 10, 16, 0),
    )
    assert start == datetime(2027, 3, 10, 14, 0, tzinfo=TOKYO)
    assert [str(zone["tzid"]) for zone in calendar.walk("VTIMEZONE")] == ["Asia/Tokyo"]
    # stamped with the app's clock, in UTC
    assert event.decoded("dtstamp") == clock.now()
    assert event.decoded("last-modified") == clock.now()
    assert b"DTSTAMP:20270301T000000Z" in response.content
    # and never the link to join, which is for confirmed participants
    assert "url" not in event
    assert ONLINE_URL.encode() not in response.content
    assert b"meet.example.org" not in response.content


@pytest.mark.parametrize(
    ("zone", "starts_at", "ends_at", "local_start", "local_end"),
    [
        # Bangkok, times sent in UTC
        ("Asia/Bangkok", "2027-03-12T02:30:00Z", "2027-03-12T05:00:00Z", "09:30", "12:00"),
        # Hosur, times sent with Tokyo's offset
        (
            "Asia/Kolkata",
            "2027-03-12T13:30:00+09:00",
            "2027-03-12T15:00:00+09:00",
            "10:00",
            "11:30",
        ),
        # An Giang
        (
            "Asia/Ho_Chi_Minh",
            "2027-03-12T08:00:00+07:00",
            "2027-03-12T10:00:00+07:00",
            "08:00",
            "10:00",
        ),
        # a zone with daylight saving time, on the summer side of the change
        ("Europe/Berlin", "2027-04-02T08:00:00Z", "2027-04-02T10:00:00Z", "10:00", "12:00"),
    ],
)
async def test_event_file_gives_local_times_of_the_event_time_zone_whatever_offset_was_sent(
    gql: GraphQL,
    client: Any,
    university: Account,
    cluster_id: str,
    zone: str,
    starts_at: str,
    ends_at: str,
    local_start: str,
    local_end: str,
) -> None:
    # given an event held in a zone, whose times were sent with another offset
    event_id = await create_event(
        gql, university, cluster_id, startsAt=starts_at, endsAt=ends_at, timezone=zone
    )

    # when its calendar file is read
    calendar = await calendar_of(client, f"/calendar/events/{event_id}.ics")

    # then its times are that zone's wall-clock times, tagged with the zone, which the file
    # defines
    event = the_event(calendar)
    assert event["dtstart"].params["TZID"] == zone
    assert event["dtend"].params["TZID"] == zone
    start, end = event.decoded("dtstart"), event.decoded("dtend")
    assert (start.strftime("%H:%M"), end.strftime("%H:%M")) == (local_start, local_end)
    assert start == datetime.fromisoformat(starts_at)
    assert end == datetime.fromisoformat(ends_at)
    assert (
        start.utcoffset()
        == datetime.fromisoformat(starts_at).astimezone(ZoneInfo(zone)).utcoffset()
    )
    assert [str(tz["tzid"]) for tz in calendar.walk("VTIMEZONE")] == [zone]


async def test_an_online_event_file_has_no_location_and_no_geo(
    gql: GraphQL, client: Any, university: Account, cluster_id: str
) -> None:
    # given a published online-only event
    event_id = await create_event(
        gql, university, cluster_id, format="ONLINE", location=None, title="Online biogas clinic"
    )

    # when its calendar file is read
    response = await client.get(f"/calendar/events/{event_id}.ics")

    # then it has neither a place nor coordinates, nor the link
    assert response.status_code == 200, response.text
    event = the_event(icalendar.Calendar.from_ical(response.content))
    assert "location" not in event
    assert "geo" not in event
    assert "url" not in event
    assert ONLINE_URL.encode() not in response.content


async def test_a_change_after_publication_bumps_the_sequence_and_keeps_the_uid(
    gql: GraphQL, client: Any, university: Account, cluster_id: str, clock: ManualClock
) -> None:
    # given a published event, at SEQUENCE 0
    event_id = await create_event(gql, university, cluster_id)
    before = the_event(await calendar_of(client, f"/calendar/events/{event_id}.ics"))
    assert before["sequence"] == 0

    # when the organisers move it by an hour and rename it, a day later
    clock.advance(timedelta(days=1))
    updated = await gql(
        UPDATE,
        {
            "input": {
                "id": event_id,
                "title": "Biomass boiler seminar (moved)",
                "startsAt": "2027-03-10T15:00:00+09:00",
                "endsAt": "2027-03-10T17:00:00+09:00",
            }
        },
        token=university.access_token,
    )
    assert updated["data"]["eventUpdate"]["errors"] == [], updated

    # then the same calendar entry (UID) carries SEQUENCE 1 and the new time and title
    after = the_event(await calendar_of(client, f"/calendar/events/{event_id}.ics"))
    assert str(after["uid"]) == str(before["uid"]) == uid(event_id)
    assert after["sequence"] == 1
    assert str(after["summary"]) == "Biomass boiler seminar (moved)"
    assert after.decoded("dtstart") == datetime(2027, 3, 10, 15, 0, tzinfo=TOKYO)
    assert after.decoded("dtend") == datetime(2027, 3, 10, 17, 0, tzinfo=TOKYO)
    assert str(after["status"]) == "CONFIRMED"
    assert after.decoded("last-modified") == clock.now()

    # when it is then cancelled
    await cancel_event(gql, university, event_id, "The boiler is under repair")

    # then the entry is CANCELLED with a higher SEQUENCE, still under the same UID
    cancelled = the_event(await calendar_of(client, f"/calendar/events/{event_id}.ics"))
    assert str(cancelled["uid"]) == uid(event_id)
    assert str(cancelled["status"]) == "CANCELLED"
    assert cancelled["sequence"] == 2
    assert str(cancelled["description"]).startswith("Cancelled: The boiler is under repair")


async def test_changes_to_a_draft_do_not_count_as_sequence(
    gql: GraphQL, client: Any, university: Account, cluster_id: str
) -> None:
    # given a draft changed twice before it is published
    event_id = await create_event(gql, university, cluster_id, publish=False)
    for title in ("Boiler seminar v2", "Boiler seminar v3"):
        body = await gql(
            UPDATE, {"input": {"id": event_id, "title": title}}, token=university.access_token
        )
        assert body["data"]["eventUpdate"]["errors"] == [], body
    published = await gql(PUBLISH, {"id": event_id}, token=university.access_token)
    assert published["data"]["eventPublish"]["errors"] == [], published

    # when its file is read, then nobody's calendar saw the drafts: SEQUENCE is 0
    event = the_event(await calendar_of(client, f"/calendar/events/{event_id}.ics"))
    assert event["sequence"] == 0
    assert str(event["summary"]) == "Boiler seminar v3"


async def test_drafts_and_unknown_events_have_no_calendar_file(
    gql: GraphQL, client: Any, university: Account, cluster_id: str
) -> None:
    # given a draft
    draft_id = await create_event(gql, university, cluster_id, publish=False)

    # when its file, that of an unknown id and that of a malformed id are fetched
    for path in (
        f"/calendar/events/{draft_id}.ics",
        f"/calendar/events/{uuid.uuid4()}.ics",
        "/calendar/events/not-an-id.ics",
    ):
        response = await client.get(path)

        # then each is 404 with the NOT_FOUND code, and no calendar
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"]["code"] == "NOT_FOUND"
        assert b"BEGIN:VCALENDAR" not in response.content

    # even with the organiser's own token (the file is public: drafts never are)
    response = await client.get(
        f"/calendar/events/{draft_id}.ics",
        headers={"Authorization": f"Bearer {university.access_token}"},
    )
    assert response.status_code == 404


async def test_text_in_any_script_is_escaped_folded_at_75_octets_and_round_trips(
    gql: GraphQL, client: Any, university: Account, cluster_id: str
) -> None:
    # given an event with a Japanese and Thai title and description full of commas and
    # semicolons, long enough to be folded several times
    title = "木質バイオマス; ボイラー, 勉強会 — สัมมนา; หม้อไอน้ำชีวมวล, ครั้งที่ ๒"
    description = (
        "真庭市の製材所で出る端材, かんなくず; おがくずをボイラー燃料にする方法を学びます。\n"
        "เรียนรู้วิธีใช้แกลบ, ขี้เลื่อย; และเศษไม้เป็นเชื้อเพลิงหม้อไอน้ำ ณ โรงเลื่อยในพื้นที่\n"
        "Bring: boots, gloves; a notebook. Path C:\\boiler\\notes stays as written."
    )
    place = "真庭市役所; 本館, 2F"
    event_id = await create_event(
        gql,
        university,
        cluster_id,
        title=title,
        description=description,
        location={"lat": 35.07, "lon": 133.75, "placeName": place},
    )

    # when its calendar file is fetched
    response = await client.get(f"/calendar/events/{event_id}.ics")
    assert response.status_code == 200, response.text
    raw = response.content

    # then every line ends in CRLF and none is longer than 75 octets
    assert_rfc5545_lines(raw)
    # and long lines were folded (a continuation line starts with one space)
    assert any(line.startswith(b" ") for line in raw.split(b"\r\n"))
    # and the separators in the text are escaped
    unfolded = raw.replace(b"\r\n ", b"")
    summary_line = next(line for line in unfolded.split(b"\r\n") if line.startswith(b"SUMMARY"))
    assert summary_line.decode() == "SUMMARY:" + title.replace(";", "\\;").replace(",", "\\,")

    # and a calendar app reads back exactly what was written
    event = the_event(icalendar.Calendar.from_ical(raw))
    assert str(event["summary"]) == title
    assert str(event["location"]) == place
    assert str(event["description"]) == f"{description}\n\nOrganised by Okayama Lab."
    assert str(icalendar.Calendar.from_ical(raw)["x-wr-calname"]) == title


# ---------------------------------------------------------------------------------------------
# The personal feed


async def test_feed_rotate_gives_a_secret_address_on_this_server(
    gql: GraphQL, client: Any, register: Any, cluster_id: str
) -> None:
    # given a signed-in person
    person = await register("p@firm.example", cluster_id, name="Firm P")

    # when they ask for a feed address
    body = await gql(ROTATE, token=person.access_token)

    # then they get a path under /calendar/feeds/ and the same path on the server's address
    payload = body["data"]["calendarFeedRotate"]
    assert payload["errors"] == [], body
    path = payload["feedPath"]
    assert path.startswith("/calendar/feeds/")
    assert path.endswith(".ics")
    assert len(path) > len("/calendar/feeds/.ics") + 16
    assert payload["feedUrl"] == f"http://eic.test{path}"
    # and an empty feed works at once
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/calendar; charset=utf-8"
    assert "private" in response.headers["cache-control"]
    calendar = icalendar.Calendar.from_ical(response.content)
    assert str(calendar["version"]) == "2.0"
    assert calendar.walk("VEVENT") == []


async def test_feed_rotate_needs_a_signed_in_person(gql: GraphQL) -> None:
    body = await gql(ROTATE, token="")
    payload = body["data"]["calendarFeedRotate"]
    assert payload["feedPath"] is None
    assert payload["feedUrl"] is None
    assert [e["code"] for e in payload["errors"]] == ["UNAUTHENTICATED"]


async def test_feed_lists_the_person_s_registrations_by_their_state(
    gql: GraphQL, client: Any, register: Any, university: Account, cluster_id: str
) -> None:
    person = await register("p@firm.example", cluster_id, name="Firm P")
    other = await register("q@firm.example", cluster_id, name="Firm Q")

    def url(name: str) -> str:
        return f"https://meet.example.org/{name}"

    async def event(name: str, **extra: Any) -> str:
        return await create_event(
            gql, university, cluster_id, title=f"Event {name}", onlineUrl=url(name), **extra
        )

    # given a confirmed registration of the person
    confirmed = await event("confirmed")
    await register_for(gql, person, confirmed)
    # and one on a waiting list (the only seat went to somebody else first)
    full = await event("full", capacity=1)
    await register_for(gql, other, full)
    assert (await register_for(gql, person, full))["status"] == "WAITLISTED"
    # and one waiting for the organisers' approval
    approval = await event("approval", requiresApproval=True)
    assert (await register_for(gql, person, approval))["status"] == "PENDING_APPROVAL"
    # and a confirmed one for an event that was then cancelled
    cancelled_event = await event("cancelled-event")
    await register_for(gql, person, cancelled_event)
    await cancel_event(gql, university, cancelled_event, "Snow")
    # and a registration they cancelled themselves
    withdrawn = await event("withdrawn")
    registration = await register_for(gql, person, withdrawn)
    body = await gql(CANCEL_REGISTRATION, {"id": registration["id"]}, token=person.access_token)
    assert body["data"]["eventRegistrationCancel"]["errors"] == [], body
    # and one the organisers declined
    declined = await event("declined")
    registration = await register_for(gql, person, declined)
    body = await gql(REJECT, {"id": registration["id"]}, token=university.access_token)
    assert body["data"]["eventRegistrationReject"]["errors"] == [], body
    # and an event only somebody else registered for
    not_mine = await event("not-mine")
    await register_for(gql, other, not_mine)

    # when the person's feed is read
    rotated = await gql(ROTATE, token=person.access_token)
    path = rotated["data"]["calendarFeedRotate"]["feedPath"]
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert_rfc5545_lines(response.content)
    calendar = icalendar.Calendar.from_ical(response.content)

    # then it lists the confirmed, waiting, pending and cancelled-event ones, soonest first
    events = by_uid(calendar)
    assert set(events) == {uid(confirmed), uid(full), uid(approval), uid(cancelled_event)}
    # the confirmed one with its link to join
    assert str(events[uid(confirmed)]["status"]) == "CONFIRMED"
    assert str(events[uid(confirmed)]["url"]) == url("confirmed")
    # the waiting and pending ones as tentative, without the link
    for waiting in (full, approval):
        assert str(events[uid(waiting)]["status"]) == "TENTATIVE"
        assert "url" not in events[uid(waiting)]
    # the cancelled event as cancelled, without the link
    assert str(events[uid(cancelled_event)]["status"]) == "CANCELLED"
    assert "url" not in events[uid(cancelled_event)]
    assert events[uid(cancelled_event)]["sequence"] == 1
    # and no link but the confirmed one's appears anywhere in the file
    for name in ("full", "approval", "cancelled-event", "withdrawn", "declined", "not-mine"):
        assert url(name).encode() not in response.content, name
    assert url("confirmed").encode() in response.content
    # with the zone of the events defined once
    assert [str(zone["tzid"]) for zone in calendar.walk("VTIMEZONE")] == ["Asia/Tokyo"]

    # and the other person's feed has their own events only
    rotated = await gql(ROTATE, token=other.access_token)
    theirs = by_uid(await calendar_of(client, rotated["data"]["calendarFeedRotate"]["feedPath"]))
    assert set(theirs) == {uid(full), uid(not_mine)}
    assert str(theirs[uid(full)]["url"]) == url("full")


async def test_feed_shows_a_promotion_from_the_waiting_list(
    gql: GraphQL, client: Any, register: Any, university: Account, cluster_id: str
) -> None:
    # given a person waiting for the only seat, with a feed
    first = await register("a@firm.example", cluster_id, name="Firm A")
    second = await register("b@firm.example", cluster_id, name="Firm B")
    event_id = await create_event(gql, university, cluster_id, capacity=1)
    seat = await register_for(gql, first, event_id)
    await register_for(gql, second, event_id)
    rotated = await gql(ROTATE, token=second.access_token)
    path = rotated["data"]["calendarFeedRotate"]["feedPath"]
    waiting = the_event(await calendar_of(client, path))
    assert (str(waiting["status"]), "url" in waiting) == ("TENTATIVE", False)

    # when the seat is freed
    body = await gql(CANCEL_REGISTRATION, {"id": seat["id"]}, token=first.access_token)
    assert body["data"]["eventRegistrationCancel"]["errors"] == [], body

    # then the same address now shows the event confirmed, with its link
    promoted = the_event(await calendar_of(client, path))
    assert str(promoted["status"]) == "CONFIRMED"
    assert str(promoted["url"]) == ONLINE_URL


async def test_rotating_the_feed_retires_the_old_address(
    gql: GraphQL, client: Any, register: Any, university: Account, cluster_id: str
) -> None:
    # given a person with a feed that works
    person = await register("p@firm.example", cluster_id, name="Firm P")
    event_id = await create_event(gql, university, cluster_id)
    await register_for(gql, person, event_id)
    old = (await gql(ROTATE, token=person.access_token))["data"]["calendarFeedRotate"]["feedPath"]
    assert set(by_uid(await calendar_of(client, old))) == {uid(event_id)}

    # when they rotate it
    new = (await gql(ROTATE, token=person.access_token))["data"]["calendarFeedRotate"]["feedPath"]

    # then the new address works and the old one is gone
    assert new != old
    assert set(by_uid(await calendar_of(client, new))) == {uid(event_id)}
    response = await client.get(old)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "token",
    [
        secrets.token_urlsafe(24),
        "short",
        "x" * 101,
        "%27%20OR%201%3D1",
    ],
    # named, so that every test process collects the same ids for the random one
    ids=["random", "short", "too-long", "quoted-sql"],
)
async def test_unknown_feed_tokens_are_not_found(client: Any, db: Any, token: str) -> None:
    response = await client.get(f"/calendar/feeds/{token}.ics")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "NOT_FOUND"


# ---------------------------------------------------------------------------------------------
# Participants CSV


async def test_participants_csv_lists_every_registration_in_arrival_order(
    gql: GraphQL,
    client: Any,
    register: Any,
    university: Account,
    cluster_id: str,
    clock: ManualClock,
) -> None:
    # given an event with one seat, taken by the first person, who will check in, a second one
    # on the waiting list, and a third who registered and then cancelled
    event_id = await create_event(gql, university, cluster_id, capacity=1)
    first = await register("ayumi@firm.example", cluster_id, name="Firm A")
    second = await register("boon@firm.example", cluster_id, name="Firm B")
    third = await register("chai@firm.example", cluster_id, name="Firm C")
    clock.set(datetime.fromisoformat("2027-03-02T09:00:00+00:00"))
    seat = await register_for(gql, first, event_id, note="Two of us, vegetarian")
    clock.set(datetime.fromisoformat("2027-03-02T10:00:00+00:00"))
    await register_for(gql, second, event_id, seats=1, note="")
    clock.set(datetime.fromisoformat("2027-03-02T11:00:00+00:00"))
    gone = await register_for(gql, third, event_id, note="May come late, sorry")
    body = await gql(CANCEL_REGISTRATION, {"id": gone["id"]}, token=third.access_token)
    assert body["data"]["eventRegistrationCancel"]["errors"] == [], body
    clock.set(datetime.fromisoformat("2027-03-10T04:45:00+00:00"))  # 13:45 in Tokyo
    body = await gql(CHECK_IN, {"id": seat["id"]}, token=university.access_token)
    assert body["data"]["eventCheckIn"]["errors"] == [], body

    # when the organiser exports the participants
    response = await client.get(
        f"/exports/events/{event_id}/participants.csv",
        headers={"Authorization": f"Bearer {university.access_token}"},
    )

    # then it is a CSV file with the header and one row per registration, in arrival order
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "no-store" in response.headers["cache-control"]
    assert f"participants-{event_id}.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert rows == [
        CSV_HEADER,
        [
            "1",
            "CONFIRMED",
            "1",
            "ayumi",
            "ayumi@firm.example",
            "Firm A",
            "2027-03-02T09:00:00+00:00",
            "2027-03-02T09:00:00+00:00",
            "2027-03-10T04:45:00+00:00",
            "Two of us, vegetarian",
        ],
        [
            "2",
            "WAITLISTED",
            "1",
            "boon",
            "boon@firm.example",
            "Firm B",
            "2027-03-02T10:00:00+00:00",
            "",
            "",
            "",
        ],
        [
            "3",
            "CANCELLED",
            "1",
            "chai",
            "chai@firm.example",
            "Firm C",
            "2027-03-02T11:00:00+00:00",
            "",
            "",
            "May come late, sorry",
        ],
    ]
    assert response.text.endswith("\r\n")


async def test_participants_csv_defuses_formulas_in_notes(
    gql: GraphQL, client: Any, register: Any, university: Account, cluster_id: str
) -> None:
    # given registrations whose notes would run as spreadsheet formulas
    event_id = await create_event(gql, university, cluster_id)
    notes = {
        "f1@firm.example": '=HYPERLINK("https://evil.example","Click")',
        "f2@firm.example": "+1 for lunch",
        "f3@firm.example": "-2 seats maybe",
        "f4@firm.example": "@SUM(A1:A9)",
        "f5@firm.example": "Plain note, with = inside",
    }
    for index, (email, note) in enumerate(notes.items()):
        person = await register(email, cluster_id, name=f"Firm {index}")
        await register_for(gql, person, event_id, note=note)
    # and an organisation whose name starts like one
    person = await register("f6@firm.example", cluster_id, name="@Risk Partners")
    await register_for(gql, person, event_id, note="Fine")

    # when they are exported
    response = await client.get(
        f"/exports/events/{event_id}/participants.csv",
        headers={"Authorization": f"Bearer {university.access_token}"},
    )

    # then a note starting like a formula is written with a leading apostrophe, others as given
    assert response.status_code == 200, response.text
    header, *rows = list(csv.reader(io.StringIO(response.text, newline="")))
    assert header == CSV_HEADER
    assert [(row[4], row[9]) for row in rows] == [
        ("f1@firm.example", '\'=HYPERLINK("https://evil.example","Click")'),
        ("f2@firm.example", "'+1 for lunch"),
        ("f3@firm.example", "'-2 seats maybe"),
        ("f4@firm.example", "'@SUM(A1:A9)"),
        ("f5@firm.example", "Plain note, with = inside"),
        ("f6@firm.example", "Fine"),
    ]
    assert rows[-1][5] == "'@Risk Partners"
    assert [row[5] for row in rows[:-1]] == [f"Firm {index}" for index in range(5)]


async def test_participants_csv_is_for_the_organisers(
    gql: GraphQL,
    client: Any,
    register: Any,
    university: Account,
    cluster_id: str,
    platform_admin_token: str,
) -> None:
    # given a published event with a registration, and a draft
    event_id = await create_event(gql, university, cluster_id)
    person = await register("p@firm.example", cluster_id, name="Firm P")
    await register_for(gql, person, event_id)
    draft_id = await create_event(gql, university, cluster_id, publish=False)

    async def export(event: str, token: str | None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return await client.get(f"/exports/events/{event}/participants.csv", headers=headers)

    # then without a token it is 401
    anonymous = await export(event_id, None)
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "UNAUTHENTICATED")
    # and for a participant it is 403
    participant = await export(event_id, person.access_token)
    assert (participant.status_code, participant.json()["error"]["code"]) == (403, "FORBIDDEN")
    # and for unknown or malformed ids it is 404
    for unknown in (str(uuid.uuid4()), "nope"):
        missing = await export(unknown, university.access_token)
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "NOT_FOUND")
    # and a platform admin (a moderator) may read it
    admin = await export(event_id, platform_admin_token)
    assert admin.status_code == 200, admin.text
    assert len(list(csv.reader(io.StringIO(admin.text, newline="")))) == 2
    # and the organisers' draft exports with the header only
    draft = await export(draft_id, university.access_token)
    assert draft.status_code == 200, draft.text
    assert list(csv.reader(io.StringIO(draft.text, newline=""))) == [CSV_HEADER]
