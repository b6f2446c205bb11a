"""Event search through GraphQL: `events(filter, first, after)`.

What is listed by default (published, not ended), the filters (time range, distance, cluster,
topic, material lineage, format, kind, language, organiser), the order (start, then id), keyset
pagination, the viewer's own registration on each event, invalid input, and the number of SQL
statements a page costs.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.kit.geo import great_circle_km
from backend.kit.validation import Place
from tests.conftest import Account, GraphQL

CREATE = """
mutation Create($input: EventCreateInput!) {
  eventCreate(input: $input) {
    event { id startsAt }
    errors { code message field }
  }
}
"""
PUBLISH = """
mutation Publish($id: ID!) {
  eventPublish(id: $id) { event { status } errors { code message } }
}
"""
CANCEL_EVENT = """
mutation Cancel($id: ID!) {
  eventCancel(id: $id, reason: "Rain") { event { status } errors { code message } }
}
"""
REGISTER = """
mutation Register($input: EventRegisterInput!) {
  eventRegister(input: $input) {
    registration { id status waitlistPosition }
    errors { code message field }
  }
}
"""
CANCEL_REGISTRATION = """
mutation CancelRegistration($id: ID!) {
  eventRegistrationCancel(id: $id) { registration { status } errors { code message } }
}
"""
TITLES = """
query Titles($filter: EventFilter, $first: Int) {
  events(filter: $filter, first: $first) {
    totalCount
    edges { node { title } }
  }
}
"""
PAGE = """
query Page($filter: EventFilter, $first: Int, $after: String) {
  events(filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { id title startsAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""
DISTANCES = """
query Distances($filter: EventFilter) {
  events(filter: $filter) { edges { node { title distanceKm } } }
}
"""

MANIWA = (35.07, 133.75)  # the wood cluster's centre, and its city hall
CHACHOENGSAO = (13.69, 101.07)


# ---------------------------------------------------------------------------------------------
# Helpers


def at(day: int, hour: int = 10, minute: int = 0) -> str:
    """A time in March 2027, in UTC."""
    return f"2027-03-{day:02d}T{hour:02d}:{minute:02d}:00+00:00"


def event_input(cluster_id: str, title: str, starts_at: str, **extra: Any) -> dict[str, Any]:
    start = datetime.fromisoformat(starts_at)
    hours = extra.pop("hours", 2)
    where = extra.pop("where", MANIWA)
    return {
        "title": title,
        "kind": "SEMINAR",
        "format": "IN_PERSON",
        "capacity": 20,
        "startsAt": start.isoformat(),
        "endsAt": (start + timedelta(hours=hours)).isoformat(),
        "timezone": "Asia/Tokyo",
        "language": "ja",
        "location": {"lat": where[0], "lon": where[1], "placeName": f"Venue of {title}"},
        "topics": [],
        "clusterId": cluster_id,
        **extra,
    }


async def make_event(
    gql: GraphQL,
    organiser: Account,
    cluster_id: str,
    title: str,
    starts_at: str = at(10),
    *,
    publish: bool = True,
    **extra: Any,
) -> str:
    """Creates (and by default publishes) an event; returns its id."""
    body = await gql(
        CREATE,
        {"input": event_input(cluster_id, title, starts_at, **extra)},
        token=organiser.access_token,
    )
    payload = body["data"]["eventCreate"]
    assert payload["errors"] == [], body
    event_id: str = payload["event"]["id"]
    if publish:
        published = await gql(PUBLISH, {"id": event_id}, token=organiser.access_token)
        assert published["data"]["eventPublish"]["errors"] == [], published
    return event_id


async def register_for(
    gql: GraphQL, person: Account, event_id: str, **extra: Any
) -> dict[str, Any]:
    body = await gql(REGISTER, {"input": {"eventId": event_id, **extra}}, token=person.access_token)
    payload = body["data"]["eventRegister"]
    assert payload["errors"] == [], body
    registration: dict[str, Any] = payload["registration"]
    return registration


async def titles_of(
    gql: GraphQL, filter: dict[str, Any] | None = None, token: str = ""
) -> list[str]:
    body = await gql(TITLES, {"filter": filter, "first": 100}, token=token)
    assert "errors" not in body, body
    edges = body["data"]["events"]["edges"]
    assert body["data"]["events"]["totalCount"] == len(edges), body
    return [edge["node"]["title"] for edge in edges]


def near(point: tuple[float, float], radius_km: float) -> dict[str, float]:
    return {"lat": point[0], "lon": point[1], "radiusKm": radius_km}


@dataclass
class Organisers:
    university: Account  # an institution of the wood cluster
    village: Account  # a community of the wood cluster
    rice_lab: Account  # an institution of the rice cluster
    wood_cluster: str
    rice_cluster: str


@pytest.fixture
async def organisers(register: Any, cluster_id: str, db: Database) -> Organisers:
    rice = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="test-rice",
            name="Test Rice Cluster",
            region="Chachoengsao",
            country="TH",
            sector=Sector.RICE,
            centre=Place(lat=CHACHOENGSAO[0], lon=CHACHOENGSAO[1]),
            currency="THB",
            languages=["th"],
            timezone="Asia/Bangkok",
        ),
    )
    return Organisers(
        university=await register(
            "lab@uni.example", cluster_id, name="Okayama Lab", kind="INSTITUTION"
        ),
        village=await register(
            "hall@village.example", cluster_id, name="Hokubo Village", kind="COMMUNITY"
        ),
        rice_lab=await register(
            "lab@rice.example",
            str(rice.id),
            name="Chachoengsao Rice Lab",
            kind="INSTITUTION",
            location={"lat": CHACHOENGSAO[0], "lon": CHACHOENGSAO[1], "placeName": "Lab"},
        ),
        wood_cluster=cluster_id,
        rice_cluster=str(rice.id),
    )


# ---------------------------------------------------------------------------------------------
# What is listed


async def test_by_default_published_events_that_have_not_ended_are_listed_by_start(
    gql: GraphQL, organisers: Organisers, clock: ManualClock
) -> None:
    o = organisers
    # given, on 1 March, published events at different times, a draft and a cancelled event
    await make_event(gql, o.university, o.wood_cluster, "Later", at(10))
    await make_event(gql, o.university, o.wood_cluster, "Soon", at(2, 10), hours=2)
    await make_event(gql, o.university, o.wood_cluster, "Middle", at(5))
    await make_event(gql, o.university, o.wood_cluster, "Draft", at(4), publish=False)
    cancelled = await make_event(gql, o.university, o.wood_cluster, "Cancelled", at(6))
    body = await gql(CANCEL_EVENT, {"id": cancelled}, token=o.university.access_token)
    assert body["data"]["eventCancel"]["errors"] == [], body

    # when anybody searches without a filter, then the published ones come, soonest first
    assert await titles_of(gql) == ["Soon", "Middle", "Later"]
    assert await titles_of(gql, {}) == ["Soon", "Middle", "Later"]
    # and the organisers do not see their draft in the public search either
    assert await titles_of(gql, token=o.university.access_token) == ["Soon", "Middle", "Later"]

    # when the first one is under way, then it is still listed
    clock.set(datetime.fromisoformat(at(2, 11)))
    assert await titles_of(gql) == ["Soon", "Middle", "Later"]

    # when it has ended, then it is not
    clock.set(datetime.fromisoformat(at(2, 12)))
    assert await titles_of(gql) == ["Middle", "Later"]

    # and cancelled events come on request, in their place
    assert await titles_of(gql, {"includeCancelled": True}) == ["Middle", "Cancelled", "Later"]
    # and past ones with a time range that covers them
    assert await titles_of(gql, {"startsAfter": at(1, 0)}) == ["Soon", "Middle", "Later"]


async def test_starts_after_is_inclusive_and_starts_before_exclusive(
    gql: GraphQL, organisers: Organisers
) -> None:
    o = organisers
    # given events starting on 3, 4 and 5 March at 09:00 UTC
    for day in (3, 4, 5):
        await make_event(gql, o.university, o.wood_cluster, f"Day {day}", at(day, 9))

    # then the range's start is included and its end is not
    assert await titles_of(gql, {"startsAfter": at(4, 9)}) == ["Day 4", "Day 5"]
    assert await titles_of(gql, {"startsBefore": at(4, 9)}) == ["Day 3"]
    assert await titles_of(gql, {"startsAfter": at(3, 9), "startsBefore": at(5, 9)}) == [
        "Day 3",
        "Day 4",
    ]
    # and the same moment with another offset is the same bound
    assert await titles_of(gql, {"startsAfter": "2027-03-04T18:00:00+09:00"}) == [
        "Day 4",
        "Day 5",
    ]
    assert await titles_of(gql, {"startsAfter": at(4, 9, 1)}) == ["Day 5"]
    assert await titles_of(gql, {"startsAfter": at(6), "startsBefore": at(7)}) == []


async def test_near_lists_venues_within_the_radius_with_their_distance(
    gql: GraphQL, organisers: Organisers
) -> None:
    o = organisers
    katsuyama = (35.16, 133.69)
    okayama = (34.66, 133.93)
    tokyo = (35.68, 139.77)
    # given venues at the city hall, ~11 km, ~48 km and ~550 km away, and an online event
    await make_event(gql, o.university, o.wood_cluster, "City hall", at(12), where=MANIWA)
    await make_event(gql, o.university, o.wood_cluster, "Katsuyama", at(11), where=katsuyama)
    await make_event(gql, o.university, o.wood_cluster, "Okayama", at(13), where=okayama)
    await make_event(gql, o.university, o.wood_cluster, "Tokyo", at(14), where=tokyo)
    await make_event(
        gql,
        o.university,
        o.wood_cluster,
        "Online",
        at(9),
        format="ONLINE",
        location=None,
        onlineUrl="https://meet.example.org/x",
    )
    assert 10 < great_circle_km(*MANIWA, *katsuyama) < 30
    assert 30 < great_circle_km(*MANIWA, *okayama) < 100
    assert great_circle_km(*MANIWA, *tokyo) > 500

    async def found(radius_km: float) -> list[tuple[str, float]]:
        body = await gql(DISTANCES, {"filter": {"near": near(MANIWA, radius_km)}})
        assert "errors" not in body, body
        return [
            (e["node"]["title"], e["node"]["distanceKm"]) for e in body["data"]["events"]["edges"]
        ]

    def distance(point: tuple[float, float]) -> float:
        return round(great_circle_km(*MANIWA, *point), 3)

    # when events near the city hall are searched, then those within the radius come, by start,
    # with their distance
    assert await found(30) == [("Katsuyama", distance(katsuyama)), ("City hall", 0.0)]
    assert await found(100) == [
        ("Katsuyama", distance(katsuyama)),
        ("City hall", 0.0),
        ("Okayama", distance(okayama)),
    ]
    # and the online event, which has no venue, never comes, whatever the radius
    titles = [title for title, _ in await found(500)]
    assert titles == ["Katsuyama", "City hall", "Okayama"]
    # and without `near` there is no distance
    body = await gql(DISTANCES, {"filter": None})
    assert [
        (e["node"]["title"], e["node"]["distanceKm"]) for e in body["data"]["events"]["edges"]
    ] == [
        ("Online", None),
        ("Katsuyama", None),
        ("City hall", None),
        ("Okayama", None),
        ("Tokyo", None),
    ]


async def test_filters_by_cluster_organiser_format_kind_and_language(
    gql: GraphQL, organisers: Organisers
) -> None:
    o = organisers
    # given events of two clusters, three organisers, of different kinds, formats and languages
    await make_event(
        gql,
        o.university,
        o.wood_cluster,
        "Wood seminar",
        at(3),
        format="HYBRID",
        onlineUrl="https://meet.example.org/wood",
    )
    await make_event(
        gql, o.university, o.wood_cluster, "Pellet workshop", at(4), kind="WORKSHOP", language="en"
    )
    await make_event(
        gql, o.village, o.wood_cluster, "Village meeting", at(5), kind="COMMUNITY_MEETING"
    )
    await make_event(
        gql,
        o.rice_lab,
        o.rice_cluster,
        "Gasifier demo",
        at(6),
        kind="FIELD_DEMONSTRATION",
        language="th",
        timezone="Asia/Bangkok",
        where=CHACHOENGSAO,
    )
    await make_event(
        gql,
        o.rice_lab,
        o.rice_cluster,
        "Biochar clinic",
        at(7),
        format="ONLINE",
        location=None,
        onlineUrl="https://meet.example.org/biochar",
        language="en",
        timezone="Asia/Bangkok",
    )

    # then each filter narrows the list, and given together they all hold
    assert await titles_of(gql, {"clusterId": o.wood_cluster}) == [
        "Wood seminar",
        "Pellet workshop",
        "Village meeting",
    ]
    assert await titles_of(gql, {"clusterId": o.rice_cluster}) == [
        "Gasifier demo",
        "Biochar clinic",
    ]
    assert await titles_of(gql, {"clusterId": str(uuid.uuid4())}) == []
    assert await titles_of(gql, {"organisationId": o.village.organisation_id}) == [
        "Village meeting"
    ]
    assert await titles_of(gql, {"organisationId": o.university.organisation_id}) == [
        "Wood seminar",
        "Pellet workshop",
    ]
    assert await titles_of(gql, {"format": "ONLINE"}) == ["Biochar clinic"]
    assert await titles_of(gql, {"format": "HYBRID"}) == ["Wood seminar"]
    assert await titles_of(gql, {"format": "IN_PERSON"}) == [
        "Pellet workshop",
        "Village meeting",
        "Gasifier demo",
    ]
    assert await titles_of(gql, {"kind": "SEMINAR"}) == ["Wood seminar", "Biochar clinic"]
    assert await titles_of(gql, {"kind": "COMMUNITY_MEETING"}) == ["Village meeting"]
    assert await titles_of(gql, {"kind": "FIELD_DEMONSTRATION"}) == ["Gasifier demo"]
    assert await titles_of(gql, {"language": "ja"}) == ["Wood seminar", "Village meeting"]
    assert await titles_of(gql, {"language": "en"}) == ["Pellet workshop", "Biochar clinic"]
    assert await titles_of(gql, {"language": "vi"}) == []
    assert await titles_of(
        gql, {"clusterId": o.wood_cluster, "language": "ja", "kind": "SEMINAR"}
    ) == ["Wood seminar"]
    assert await titles_of(gql, {"clusterId": o.rice_cluster, "format": "IN_PERSON"}) == [
        "Gasifier demo"
    ]


async def test_topic_is_a_tag_in_any_case_or_a_material_code_exactly(
    gql: GraphQL, organisers: Organisers
) -> None:
    o = organisers
    # given events with free tags and catalogue materials as topics
    await make_event(
        gql,
        o.university,
        o.wood_cluster,
        "Biogas basics",
        at(3),
        topics=["Biogas", "poultry-manure"],
    )
    await make_event(gql, o.university, o.wood_cluster, "Water", at(4), topics=["Water  Quality"])
    await make_event(
        gql, o.university, o.wood_cluster, "Gasifier", at(5), topics=["rice-husk", "Gasifiers"]
    )

    # then a tag is found whatever its case and spacing
    assert await titles_of(gql, {"topic": "biogas"}) == ["Biogas basics"]
    assert await titles_of(gql, {"topic": "BIOGAS"}) == ["Biogas basics"]
    assert await titles_of(gql, {"topic": "  water quality "}) == ["Water"]
    assert await titles_of(gql, {"topic": "Water Quality"}) == ["Water"]
    assert await titles_of(gql, {"topic": "gasifiers"}) == ["Gasifier"]
    # and a material topic by its code
    assert await titles_of(gql, {"topic": "poultry-manure"}) == ["Biogas basics"]
    assert await titles_of(gql, {"topic": "rice-husk"}) == ["Gasifier"]
    # and nothing but whole topics match
    assert await titles_of(gql, {"topic": "bio"}) == []
    assert await titles_of(gql, {"topic": "gasifier"}) == []
    assert await titles_of(gql, {"topic": "ewc-02"}) == []


async def test_material_code_finds_the_material_its_descendants_and_its_ancestors(
    gql: GraphQL, organisers: Organisers
) -> None:
    o = organisers
    # given the catalogue's lineage of rice husk
    lineage = []
    code: str | None = "rice-husk"
    while code is not None:
        lineage.append(code)
        body = await gql("query M($c: String!) { material(code: $c) { parentCode } }", {"c": code})
        code = body["data"]["material"]["parentCode"]
    assert lineage == ["rice-husk", "ewc-02-03-04", "ewc-02-03", "ewc-02"]
    body = await gql('{ material(code: "rice-bran") { parentCode } }')
    assert body["data"]["material"]["parentCode"] == "ewc-02-03-04"  # a sibling of rice husk
    body = await gql('{ material(code: "rice-husk-ash") { parentCode } }')
    assert body["data"]["material"]["parentCode"] == "ewc-10-01-01"  # elsewhere in the tree

    # and events about rice husk, its parent, the chapter, a sibling and unrelated materials
    await make_event(gql, o.rice_lab, o.rice_cluster, "Husk", at(3), topics=["rice-husk"])
    await make_event(gql, o.rice_lab, o.rice_cluster, "Parent", at(4), topics=["ewc-02-03-04"])
    await make_event(gql, o.rice_lab, o.rice_cluster, "Chapter", at(5), topics=["ewc-02"])
    await make_event(gql, o.rice_lab, o.rice_cluster, "Bran", at(6), topics=["rice-bran"])
    await make_event(gql, o.rice_lab, o.rice_cluster, "Ash", at(7), topics=["rice-husk-ash"])
    await make_event(gql, o.university, o.wood_cluster, "Shavings", at(8), topics=["wood-shavings"])
    await make_event(
        gql, o.university, o.wood_cluster, "Tagged", at(9), topics=["rice husk", "husk"]
    )

    # then rice husk finds itself and everything above it, not its sibling
    assert await titles_of(gql, {"materialCode": "rice-husk"}) == ["Husk", "Parent", "Chapter"]
    # and its parent finds itself, both children and the chapter above it
    assert await titles_of(gql, {"materialCode": "ewc-02-03-04"}) == [
        "Husk",
        "Parent",
        "Chapter",
        "Bran",
    ]
    # and the chapter finds everything below it
    assert await titles_of(gql, {"materialCode": "ewc-02"}) == ["Husk", "Parent", "Chapter", "Bran"]
    # and the sibling finds itself and the common ancestors only
    assert await titles_of(gql, {"materialCode": "rice-bran"}) == ["Parent", "Chapter", "Bran"]
    # and a code that merely starts like rice-husk is another material
    assert await titles_of(gql, {"materialCode": "rice-husk-ash"}) == ["Ash"]
    assert await titles_of(gql, {"materialCode": "wood-shavings"}) == ["Shavings"]
    assert await titles_of(gql, {"materialCode": "ewc-03"}) == ["Shavings"]
    assert await titles_of(gql, {"materialCode": "ewc-12"}) == []
    # and combined with another filter both hold
    assert await titles_of(gql, {"materialCode": "ewc-02", "startsAfter": at(5)}) == [
        "Chapter",
        "Bran",
    ]


# ---------------------------------------------------------------------------------------------
# Order and pages


async def test_pages_of_ten_walk_25_events_by_start_then_id_without_gaps_or_duplicates(
    gql: GraphQL, organisers: Organisers
) -> None:
    o = organisers
    # given 25 events, created in random order, several of them starting at the same time
    starts = [at(2 + i % 6, 9 + (i % 2)) for i in range(25)]
    random.Random(7).shuffle(starts)
    created: list[tuple[datetime, uuid.UUID, str]] = []
    for index, start in enumerate(starts):
        title = f"Event {index:02d}"
        event_id = await make_event(gql, o.university, o.wood_cluster, title, start)
        created.append((datetime.fromisoformat(start), uuid.UUID(event_id), title))
    expected = [title for _, _, title in sorted(created)]

    # when they are read in one page, then they come by start, then by id
    body = await gql(PAGE, {"first": 100})
    assert [edge["node"]["title"] for edge in body["data"]["events"]["edges"]] == expected

    # when they are read in pages of ten, each after the previous page's end cursor
    pages = []
    after = None
    while True:
        body = await gql(PAGE, {"first": 10, "after": after})
        assert "errors" not in body, body
        connection = body["data"]["events"]
        pages.append(connection)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert len(pages) < 5, "the pages do not end"

    # then three pages of 10, 10 and 5 cover every event once, by start then id
    assert [len(page["edges"]) for page in pages] == [10, 10, 5]
    assert [page["totalCount"] for page in pages] == [25, 25, 25]
    assert [page["pageInfo"]["hasNextPage"] for page in pages] == [True, True, False]
    assert [page["pageInfo"]["hasPreviousPage"] for page in pages] == [False, True, True]
    walked = [edge["node"]["title"] for page in pages for edge in page["edges"]]
    assert walked == expected
    assert len(set(walked)) == 25
    for page in pages:
        assert page["pageInfo"]["startCursor"] == page["edges"][0]["cursor"]
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
    # and the page after the last is empty
    body = await gql(PAGE, {"first": 10, "after": pages[-1]["pageInfo"]["endCursor"]})
    assert body["data"]["events"]["edges"] == []
    assert body["data"]["events"]["pageInfo"]["hasNextPage"] is False


async def test_a_cursor_stays_put_when_events_are_added_before_it(
    gql: GraphQL, organisers: Organisers
) -> None:
    o = organisers
    # given six events, and the first page of three
    for day in range(2, 8):
        await make_event(gql, o.university, o.wood_cluster, f"Day {day}", at(day))
    first = (await gql(PAGE, {"first": 3}))["data"]["events"]
    assert [e["node"]["title"] for e in first["edges"]] == ["Day 2", "Day 3", "Day 4"]

    # when an event is added before the cursor
    await make_event(gql, o.university, o.wood_cluster, "Day 2 too", at(2, 12))

    # then the next page continues where the first one ended
    second = (await gql(PAGE, {"first": 3, "after": first["pageInfo"]["endCursor"]}))["data"]
    assert [e["node"]["title"] for e in second["events"]["edges"]] == ["Day 5", "Day 6", "Day 7"]
    assert second["events"]["totalCount"] == 7


async def test_pagination_works_with_filters_and_near(gql: GraphQL, organisers: Organisers) -> None:
    o = organisers
    # given twelve events near the city hall and one far away
    for index in range(12):
        await make_event(gql, o.university, o.wood_cluster, f"Near {index:02d}", at(2 + index))
    await make_event(gql, o.rice_lab, o.rice_cluster, "Far", at(2), where=CHACHOENGSAO)

    # when they are read near the city hall in pages of five
    walked: list[str] = []
    after = None
    for _ in range(3):
        body = await gql(PAGE, {"filter": {"near": near(MANIWA, 5)}, "first": 5, "after": after})
        assert "errors" not in body, body
        connection = body["data"]["events"]
        assert connection["totalCount"] == 12
        walked += [edge["node"]["title"] for edge in connection["edges"]]
        after = connection["pageInfo"]["endCursor"]

    # then every near one comes once, in order, and the far one never
    assert walked == [f"Near {index:02d}" for index in range(12)]


# ---------------------------------------------------------------------------------------------
# The viewer's own view


VIEWS = """
query Views {
  events {
    edges {
      node {
        title capacity confirmedSeats remainingSeats waitlistCount onlineUrl
        myRegistration { status seats }
      }
    }
  }
}
"""


def views(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    assert "errors" not in body, body
    return [
        (
            e["node"]["title"],
            e["node"]["remainingSeats"],
            e["node"]["confirmedSeats"],
            e["node"]["waitlistCount"],
            e["node"]["onlineUrl"],
            e["node"]["myRegistration"],
        )
        for e in body["data"]["events"]["edges"]
    ]


async def test_each_event_carries_its_remaining_seats_and_the_viewer_s_registration(
    gql: GraphQL, organisers: Organisers, register: Any
) -> None:
    o = organisers
    p = await register("p@firm.example", o.wood_cluster, name="Firm P")
    q = await register("q@firm.example", o.wood_cluster, name="Firm Q")
    link = "https://meet.example.org/"

    async def event(title: str, day: int, capacity: int) -> str:
        return await make_event(
            gql,
            o.university,
            o.wood_cluster,
            title,
            at(day),
            capacity=capacity,
            format="HYBRID",
            onlineUrl=link + title.lower(),
        )

    # given an event P booked out (2 seats of 2), one where P waits behind Q, one P cancelled,
    # and one nobody registered for
    booked = await event("Booked", 3, 2)
    await register_for(gql, p, booked, seats=2)
    waiting = await event("Waiting", 4, 1)
    await register_for(gql, q, waiting)
    assert (await register_for(gql, p, waiting))["status"] == "WAITLISTED"
    withdrawn = await event("Withdrawn", 5, 5)
    registration = await register_for(gql, p, withdrawn)
    body = await gql(CANCEL_REGISTRATION, {"id": registration["id"]}, token=p.access_token)
    assert body["data"]["eventRegistrationCancel"]["errors"] == [], body
    await event("Empty", 6, 10)

    # when P searches, then each event has its seats and P's own registration, and the link
    # only where P is confirmed
    assert views(await gql(VIEWS, token=p.access_token)) == [
        ("Booked", 0, 2, 0, link + "booked", {"status": "CONFIRMED", "seats": 2}),
        ("Waiting", 0, 1, 1, None, {"status": "WAITLISTED", "seats": 1}),
        ("Withdrawn", 5, 0, 0, None, {"status": "CANCELLED", "seats": 1}),
        ("Empty", 10, 0, 0, None, None),
    ]
    # when Q searches, then Q's own registrations
    assert views(await gql(VIEWS, token=q.access_token)) == [
        ("Booked", 0, 2, 0, None, None),
        ("Waiting", 0, 1, 1, link + "waiting", {"status": "CONFIRMED", "seats": 1}),
        ("Withdrawn", 5, 0, 0, None, None),
        ("Empty", 10, 0, 0, None, None),
    ]
    # when somebody searches without signing in, then no registration and no link
    assert views(await gql(VIEWS, token="")) == [
        ("Booked", 0, 2, 0, None, None),
        ("Waiting", 0, 1, 1, None, None),
        ("Withdrawn", 5, 0, 0, None, None),
        ("Empty", 10, 0, 0, None, None),
    ]


POSITIONS = """
query Positions {
  events { edges { node { title myRegistration { status waitlistPosition } } } }
}
"""


async def test_my_registration_on_a_listed_event_gives_the_place_on_the_waiting_list(
    gql: GraphQL, organisers: Organisers, register: Any
) -> None:
    o = organisers
    first = await register("a@firm.example", o.wood_cluster, name="Firm A")
    second = await register("b@firm.example", o.wood_cluster, name="Firm B")
    third = await register("c@firm.example", o.wood_cluster, name="Firm C")
    # given an event with one seat, taken, and two people waiting for it
    event_id = await make_event(gql, o.university, o.wood_cluster, "Full", at(3), capacity=1)
    await register_for(gql, first, event_id)
    assert (await register_for(gql, second, event_id))["waitlistPosition"] == 1
    assert (await register_for(gql, third, event_id))["waitlistPosition"] == 2

    async def mine(person: Account) -> Any:
        body = await gql(POSITIONS, token=person.access_token)
        assert "errors" not in body, body
        [edge] = body["data"]["events"]["edges"]
        return edge["node"]["myRegistration"]

    # when each searches, then the confirmed one has no place and the waiting ones theirs
    # (`waitlistPosition`: "null unless WAITLISTED", as registering itself answered)
    assert await mine(first) == {"status": "CONFIRMED", "waitlistPosition": None}
    assert await mine(second) == {"status": "WAITLISTED", "waitlistPosition": 1}
    assert await mine(third) == {"status": "WAITLISTED", "waitlistPosition": 2}


# ---------------------------------------------------------------------------------------------
# Invalid input


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"filter": {"near": near(MANIWA, 0)}}, "VALIDATION", "filter.near.radiusKm"),
        ({"filter": {"near": near(MANIWA, -5)}}, "VALIDATION", "filter.near.radiusKm"),
        ({"filter": {"near": near(MANIWA, 500.5)}}, "VALIDATION", "filter.near.radiusKm"),
        ({"filter": {"near": near((91.0, 133.75), 10)}}, "VALIDATION", "filter.near.lat"),
        ({"filter": {"near": near((35.0, 181.0), 10)}}, "VALIDATION", "filter.near.lon"),
        ({"filter": {"materialCode": "Rice Husk"}}, "VALIDATION", "filter.materialCode"),
        ({"filter": {"materialCode": "rice_husk%"}}, "VALIDATION", "filter.materialCode"),
        ({"filter": {"materialCode": "ewc-99"}}, "VALIDATION", "filter.materialCode"),
        ({"filter": {"language": "Japanese"}}, "VALIDATION", "filter.language"),
        ({"filter": {"startsAfter": "2027-03-01T00:00:00"}}, "VALIDATION", "filter.startsAfter"),
        ({"filter": {"startsBefore": "2027-03-01T00:00:00"}}, "VALIDATION", "filter.startsBefore"),
        ({"filter": {"clusterId": "wood"}}, "VALIDATION", "filter.clusterId"),
        ({"filter": {"organisationId": "me"}}, "VALIDATION", "filter.organisationId"),
        ({"first": 0}, "VALIDATION", "first"),
        ({"first": 101}, "VALIDATION", "first"),
        ({"after": "not-a-cursor"}, "VALIDATION", "after"),
    ],
)
async def test_invalid_search_input_is_an_error_on_its_field(
    gql: GraphQL, organisers: Organisers, variables: dict[str, Any], code: str, field: str
) -> None:
    # given a published event
    await make_event(gql, organisers.university, organisers.wood_cluster, "Seminar", at(3))

    # when the search is given invalid input
    body = await gql(PAGE, variables)

    # then the query fails with one error naming the field
    assert body["data"] is None, body
    assert [e["extensions"] for e in body["errors"]] == [{"code": code, "field": field}]
    assert body["errors"][0]["path"] == ["events"]


async def test_a_radius_of_500_km_is_allowed(gql: GraphQL, organisers: Organisers) -> None:
    await make_event(gql, organisers.university, organisers.wood_cluster, "Seminar", at(3))
    assert await titles_of(gql, {"near": near(MANIWA, 500)}) == ["Seminar"]


async def test_a_cursor_of_another_list_is_refused(gql: GraphQL, organisers: Organisers) -> None:
    # given a cursor of another list of events (the organisers' own, latest first)
    o = organisers
    for day in (3, 4):
        await make_event(gql, o.university, o.wood_cluster, f"Day {day}", at(day))
    organised = await gql(
        "{ organisedEvents(first: 1) { pageInfo { endCursor } } }", token=o.university.access_token
    )
    cursor = organised["data"]["organisedEvents"]["pageInfo"]["endCursor"]

    # when it is given to the public search, then it is a validation error on `after`
    body = await gql(PAGE, {"first": 1, "after": cursor})
    assert body["data"] is None, body
    assert [e["extensions"] for e in body["errors"]] == [{"code": "VALIDATION", "field": "after"}]


# ---------------------------------------------------------------------------------------------
# Cost


RICH_PAGE = """
query Rich($first: Int) {
  events(first: $first) {
    edges {
      node {
        id title remainingSeats onlineUrl canManage
        organiser { id name kind cluster { id name } }
        cluster { id name }
        topics { tag material { code name parentCode localNames { language name } } }
        myRegistration { id status seats waitlistPosition }
      }
    }
  }
}
"""


async def test_a_page_costs_the_same_statements_for_1_and_20_events(
    gql: GraphQL, organisers: Organisers, register: Any, sql_statements: Any
) -> None:
    o = organisers
    person = await register("p@firm.example", o.wood_cluster, name="Firm P")
    other = await register("q@firm.example", o.wood_cluster, name="Firm Q")
    # given 21 events of three organisers in two clusters, with material and tag topics, most
    # of which the person registered for (some on a waiting list)
    materials = ["wood-shavings", "rice-husk", "sawdust", "bark"]
    organisers_of = [
        (o.university, o.wood_cluster, "SEMINAR"),
        (o.village, o.wood_cluster, "COMMUNITY_MEETING"),
        (o.rice_lab, o.rice_cluster, "WORKSHOP"),
    ]
    for index in range(21):
        organiser, cluster, kind = organisers_of[index % 3]
        event_id = await make_event(
            gql,
            organiser,
            cluster,
            f"Event {index:02d}",
            at(2 + index % 20, 9),
            kind=kind,
            capacity=1,
            topics=[materials[index % 4], f"tag {index % 5}", materials[(index + 1) % 4]],
        )
        if index % 4 == 0:
            await register_for(gql, other, event_id)
        if index % 3 != 2:
            await register_for(gql, person, event_id)

    async def statements(first: int) -> int:
        with sql_statements() as log:
            body = await gql(RICH_PAGE, {"first": first}, token=person.access_token)
        assert "errors" not in body, body
        assert len(body["data"]["events"]["edges"]) == first
        # (SQLite's explicit BEGINs left out: PostgreSQL's are not statements of their own)
        return sum(1 for statement in log.statements if not statement.startswith("BEGIN"))

    # when a page of 1 and a page of 20 are read with organisers, clusters, topics and the
    # person's registrations, then they cost the same number of statements: the access check,
    # the page, its topics, clusters, organisers, materials and organisers' clusters, the
    # person's registrations and their places on the waiting lists
    one, twenty = await statements(1), await statements(20)
    assert one == twenty == 9, (one, twenty)


async def test_a_search_from_year_one_is_a_validation_error(gql: Any) -> None:
    answer = await gql(
        "query($f: EventFilter) { events(filter: $f) { totalCount } }",
        {"f": {"startsAfter": "0001-01-01T00:00:00+05:00"}},
    )
    assert answer["errors"][0]["extensions"] == {
        "code": "VALIDATION",
        "field": "filter.startsAfter",
    }


EVERYTHING = """
fragment Everything on Event {
  id kind format status title description language startsAt endsAt timezone
  venue { lat lon placeName }
  onlineUrl capacity confirmedSeats remainingSeats waitlistCount registrationOpensAt
  registrationClosesAt registrationOpen requiresApproval isPast canManage distanceKm
  calendarPath cancellationReason version createdAt updatedAt publishedAt cancelledAt
  cluster { id slug name region country sector centre { lat lon } currency languages timezone
            description createdAt }
  organiser {
    id name kind subtype description location { lat lon placeName } createdAt updatedAt version
    trustScore tradesCompleted reviewsCount ratingAverage verified verifiedAt namedInInsights
    cluster { id slug name languages createdAt }
  }
  topics { tag material { code name parentCode ewcCode hsCode hazardous description
                          localNames { language name } displayName(language: "ja") } }
  myRegistration { id status seats waitlistPosition note createdAt confirmedAt cancelledAt
                   checkedInAt event { id } }
}
"""
EVERYTHING_LISTED = EVERYTHING + "query { events(first: 10) { edges { node { ...Everything } } } }"
EVERYTHING_OF_ONE = EVERYTHING + "query One($id: ID!) { event(id: $id) { ...Everything } }"


async def test_the_feed_shows_every_field_of_an_event_as_the_event_itself_does(
    gql: GraphQL, organisers: Organisers, register: Any
) -> None:
    # The feed reads Core rows (service/feed.py), one event the ORM: the two must not drift.
    o = organisers
    person = await register("p@firm.example", o.wood_cluster, name="Firm P")
    # given events of two organisers in two clusters, hybrid and online, with material and tag
    # topics, one the person is confirmed for (so sees its link)
    confirmed = await make_event(
        gql,
        o.university,
        o.wood_cluster,
        "Hybrid",
        at(3),
        format="HYBRID",
        onlineUrl="https://meet.example.org/hybrid",
        topics=["rice-husk", "Biogas", "wood-shavings"],
        registrationClosesAt=at(2),
        description="Boilers",
    )
    await register_for(gql, person, confirmed, seats=2, note="two of us")
    await make_event(
        gql,
        o.rice_lab,
        o.rice_cluster,
        "Online",
        at(4),
        format="ONLINE",
        location=None,
        onlineUrl="https://meet.example.org/online",
        topics=["sawdust"],
    )
    await make_event(gql, o.village, o.wood_cluster, "Meeting", at(5), kind="COMMUNITY_MEETING")

    for viewer in (person, o.university, None):
        token = viewer.access_token if viewer else ""
        # when the feed and each event are read by the same viewer
        feed = await gql(EVERYTHING_LISTED, token=token)
        assert "errors" not in feed, feed
        nodes = [edge["node"] for edge in feed["data"]["events"]["edges"]]
        assert [n["title"] for n in nodes] == ["Hybrid", "Online", "Meeting"]
        # then every field of every event is the same
        for node in nodes:
            one = await gql(EVERYTHING_OF_ONE, {"id": node["id"]}, token=token)
            assert one == {"data": {"event": node}}
