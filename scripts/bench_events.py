"""Benchmark: event registration under a burst, a cancellation wave, and the events feed.

1. Registration burst: an institution publishes an event with C seats (100 by default) and P people
   (1,000 by default) send ``eventRegister`` at the same moment through the real ASGI app, at most
   ``--concurrency`` requests in flight. Prints the wall time, registrations per second, latency
   percentiles and the outcome read back through GraphQL; "OVERSOLD" if more seats were confirmed
   than the event has.
2. Cancellation wave: 50 confirmed people cancel at once; each freed seat must go to the next
   person on the waiting list.
3. Feed: E published events (5,000 by default) with topics over the four demo clusters, then the
   feed query by cluster + material and by cluster + near (50 km), one at a time.

    .venv/bin/python scripts/bench_events.py                       # SQLite in a temp folder
    .venv/bin/python scripts/bench_events.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL it creates (and afterwards drops) a scratch database beside the one named.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from benchkit import Client, FirmRows, bench_database, latency_line
from sqlalchemy import func, insert, select, text

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.auth.security import Security
from backend.auth.viewer import Role
from backend.events.models import (
    Event,
    EventFormat,
    EventKind,
    EventRegistration,
    EventStatus,
    EventTopic,
    RegistrationStatus,
)
from backend.identity.models import (
    Membership,
    Organisation,
    OrganisationKind,
    User,
)
from backend.kit.db import Database, new_id, utcnow
from backend.settings import Settings

CREATE = """
mutation Create($input: EventCreateInput!) {
  eventCreate(input: $input) {
    event { id status capacity remainingSeats }
    errors { code message field }
  }
}
"""
PUBLISH = """
mutation Publish($id: ID!) {
  eventPublish(id: $id) { event { status } errors { code message field } }
}
"""
REGISTER = """
mutation Register($input: EventRegisterInput!) {
  eventRegister(input: $input) {
    registration { id status seats waitlistPosition event { remainingSeats waitlistCount } }
    errors { code message field }
  }
}
"""
CANCEL = """
mutation Cancel($id: ID!) {
  eventRegistrationCancel(id: $id) {
    registration { id status event { remainingSeats waitlistCount } }
    errors { code message field }
  }
}
"""
OUTCOME = """
query Outcome($id: ID!) {
  event(id: $id) { capacity confirmedSeats remainingSeats waitlistCount }
  confirmed: eventParticipants(eventId: $id, status: CONFIRMED, first: 1) { totalCount }
  waitlisted: eventParticipants(eventId: $id, status: WAITLISTED, first: 1) { totalCount }
  cancelled: eventParticipants(eventId: $id, status: CANCELLED, first: 1) { totalCount }
}
"""
FEED = """
query EventsFeed($filter: EventFilter) {
  events(filter: $filter, first: 20) {
    totalCount
    edges { node {
      id title startsAt remainingSeats organiser { name } topics { tag material { code } } }
    }
  }
}
"""

# The catalogue materials each demo cluster's events are about.
MATERIALS = {
    "hosur-silk": ["silk-waste", "silkworm-pupae", "mulberry-residue"],
    "maniwa-wood": ["wood-trimmings", "wood-shavings", "sawdust", "bark", "wood-pellets"],
    "chachoengsao-rice": [
        "rice-husk",
        "rice-straw",
        "rice-bran",
        "rice-husk-ash",
        "poultry-manure",
    ],
    "an-giang-fish": ["fish-fat", "fish-heads-bones", "fish-processing-sludge"],
}
TAGS = ["biogas", "boilers", "composting", "subsidies", "water quality", "joint purchasing"]
TITLE_WORDS = ["seminar on", "workshop:", "field day:", "meeting about", "training in", "clinic:"]
BURST_CLUSTER = "maniwa-wood"
CANCELLATIONS = 50


@dataclass
class Person:
    user_id: uuid.UUID
    token: str
    registration_id: str | None = None
    status: str | None = None


@dataclass
class Outcomes:
    """What the requests of one phase came back with."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    http: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


def _demo_org(cluster_slug: str, kind: OrganisationKind) -> demo.DemoOrganisation:
    cluster = next(c for c in demo.CLUSTERS if c.slug == cluster_slug)
    return next(o for o in cluster.organisations if o.kind is kind)


async def _seed_people(
    db: Database, settings: Settings, count: int, cluster_id: uuid.UUID
) -> list[Person]:
    """``count`` firms in the cluster, one person each, signed in with an access token."""
    password_hash = await Passwords(settings).hash("bench-password-0123")
    tokens = Security.from_settings(settings).tokens
    now = utcnow()
    rows = FirmRows(password_hash, now)
    ids = [
        rows.add(
            email=f"bench-{index}@bench.eic.example",
            person=f"Bench Person {index}",
            name=f"Bench Firm {index}",
            cluster_id=cluster_id,
            lat=35.07,
            lon=133.75,
        )
        for index in range(count)
    ]
    async with db.write() as session:
        await session.execute(insert(User), rows.users)
        await session.execute(insert(Organisation), rows.organisations)
        await session.execute(insert(Membership), rows.memberships)
    return [
        Person(
            user_id=user_id,
            token=tokens.issue_access(
                user_id=user_id, role=Role.FIRM, organisation_id=organisation_id, now=now
            ).token,
        )
        for user_id, organisation_id in ids
    ]


async def _create_event(client: Client, token: str, capacity: int) -> str:
    zone = ZoneInfo("Asia/Tokyo")
    starts = (
        (utcnow() + timedelta(days=30))
        .astimezone(zone)
        .replace(hour=14, minute=0, second=0, microsecond=0)
    )
    created, _ = await client.must(
        CREATE,
        {
            "input": {
                "title": "Biomass boiler seminar (burst)",
                "kind": "SEMINAR",
                "format": "IN_PERSON",
                "capacity": capacity,
                "startsAt": starts.isoformat(),
                "endsAt": (starts + timedelta(hours=2)).isoformat(),
                "timezone": "Asia/Tokyo",
                "language": "ja",
                "location": {"lat": 35.07, "lon": 133.75, "placeName": "Maniwa City Hall"},
                "topics": ["wood-shavings", "boilers"],
                "clusterId": str(demo.demo_id("cluster", BURST_CLUSTER)),
            }
        },
        token,
    )
    payload = created["eventCreate"]
    if payload["errors"]:
        raise SystemExit(f"eventCreate failed: {payload['errors']}")
    event_id: str = payload["event"]["id"]
    published, _ = await client.must(PUBLISH, {"id": event_id}, token)
    if published["eventPublish"]["errors"]:
        raise SystemExit(f"eventPublish failed: {published['eventPublish']['errors']}")
    return event_id


def _record(outcomes: Outcomes, status: int, body: dict[str, Any] | None, field_name: str) -> Any:
    """Count one response; returns the registration it carried, if any."""
    outcomes.http[status] += 1
    if body is None:
        outcomes.errors[f"HTTP {status}, not JSON"] += 1
        return None
    for error in body.get("errors") or []:
        outcomes.errors[f"GraphQL error: {error.get('message')}"] += 1
    payload = (body.get("data") or {}).get(field_name)
    if payload is None:
        if not body.get("errors"):
            outcomes.errors[f"HTTP {status}, no payload"] += 1
        return None
    for error in payload["errors"]:
        outcomes.errors[f"{error['code']}: {error['message']}"] += 1
    registration = payload["registration"]
    if registration is not None:
        outcomes.statuses[registration["status"]] += 1
    return registration


async def _read_outcome(client: Client, event_id: str, token: str) -> dict[str, int]:
    data, _ = await client.must(OUTCOME, {"id": event_id}, token)
    event = data["event"]
    return {
        "capacity": event["capacity"],
        "confirmedSeats": event["confirmedSeats"],
        "remainingSeats": event["remainingSeats"],
        "waitlistCount": event["waitlistCount"],
        "CONFIRMED": data["confirmed"]["totalCount"],
        "WAITLISTED": data["waitlisted"]["totalCount"],
        "CANCELLED": data["cancelled"]["totalCount"],
    }


async def _database_counts(db: Database, event_id: str) -> str:
    """The rows themselves, to cross-check the counters the API reports."""
    async with db.read() as session:
        event = await session.get(Event, uuid.UUID(event_id))
        assert event is not None
        rows = await session.execute(
            select(EventRegistration.status, func.count(), func.sum(EventRegistration.seats))
            .where(EventRegistration.event_id == event.id)
            .group_by(EventRegistration.status)
        )
        by_status = {status: (int(n), int(seats)) for status, n, seats in rows}
    confirmed = by_status.get(RegistrationStatus.CONFIRMED, (0, 0))
    waitlisted = by_status.get(RegistrationStatus.WAITLISTED, (0, 0))
    return (
        f"database rows: seats_taken {event.seats_taken}, waitlist_count {event.waitlist_count}, "
        f"queue_counter {event.queue_counter}; CONFIRMED rows {confirmed[0]} "
        f"({confirmed[1]} seats), WAITLISTED rows {waitlisted[0]}"
    )


def _print_outcome(label: str, outcome: dict[str, int]) -> None:
    print(
        f"  {label}: event(id) capacity {outcome['capacity']}, confirmedSeats "
        f"{outcome['confirmedSeats']}, remainingSeats {outcome['remainingSeats']}, "
        f"waitlistCount {outcome['waitlistCount']}; eventParticipants CONFIRMED "
        f"{outcome['CONFIRMED']}, WAITLISTED {outcome['WAITLISTED']}, "
        f"CANCELLED {outcome['CANCELLED']}"
    )
    if max(outcome["CONFIRMED"], outcome["confirmedSeats"]) > outcome["capacity"]:
        print(
            f"  !!! OVERSOLD !!! {max(outcome['CONFIRMED'], outcome['confirmedSeats'])} "
            f"seats confirmed for an event of {outcome['capacity']}"
        )


def _print_problems(outcomes: Outcomes) -> None:
    print(f"  HTTP statuses: {dict(sorted(outcomes.http.items()))}")
    if outcomes.errors:
        print("  errors in responses:")
        for message, count in outcomes.errors.most_common():
            print(f"    {count} x {message}")
    else:
        print("  errors in responses: none")


async def _burst(
    client: Client,
    db: Database,
    people: list[Person],
    event_id: str,
    organiser_token: str,
    concurrency: int,
) -> dict[str, int]:
    semaphore = asyncio.Semaphore(concurrency)
    outcomes = Outcomes()

    async def one(person: Person) -> None:
        async with semaphore:
            status, body, elapsed = await client.post(
                REGISTER, {"input": {"eventId": event_id}}, person.token
            )
        outcomes.latencies_ms.append(elapsed)
        registration = _record(outcomes, status, body, "eventRegister")
        if registration is not None:
            person.registration_id = registration["id"]
            person.status = registration["status"]

    started = time.perf_counter()
    await asyncio.gather(*(one(person) for person in people))
    wall = time.perf_counter() - started
    print(
        f"registration burst: {len(people)} people, concurrency {concurrency}: "
        f"wall {wall:.2f} s, {len(people) / wall:.0f} registrations/s"
    )
    print(f"  latency per request: {latency_line(outcomes.latencies_ms)}")
    print(f"  statuses in the responses: {dict(sorted(outcomes.statuses.items()))}")
    _print_problems(outcomes)
    outcome = await _read_outcome(client, event_id, organiser_token)
    _print_outcome("read back", outcome)
    print(f"  {await _database_counts(db, event_id)}")
    return outcome


async def _cancellation_wave(
    client: Client,
    db: Database,
    people: list[Person],
    event_id: str,
    organiser_token: str,
    concurrency: int,
    before: dict[str, int],
) -> None:
    confirmed = [p for p in people if p.status == "CONFIRMED" and p.registration_id][:CANCELLATIONS]
    semaphore = asyncio.Semaphore(concurrency)
    outcomes = Outcomes()

    async def one(person: Person) -> None:
        assert person.registration_id is not None
        async with semaphore:
            status, body, elapsed = await client.post(
                CANCEL, {"id": person.registration_id}, person.token
            )
        outcomes.latencies_ms.append(elapsed)
        _record(outcomes, status, body, "eventRegistrationCancel")

    started = time.perf_counter()
    await asyncio.gather(*(one(person) for person in confirmed))
    wall = time.perf_counter() - started
    print(f"cancellation wave: {len(confirmed)} confirmed people cancel: wall {wall:.2f} s")
    print(f"  latency per request: {latency_line(outcomes.latencies_ms)}")
    print(f"  statuses in the responses: {dict(sorted(outcomes.statuses.items()))}")
    _print_problems(outcomes)
    after = await _read_outcome(client, event_id, organiser_token)
    _print_outcome("read back", after)
    print(f"  {await _database_counts(db, event_id)}")
    expected = min(len(confirmed), before["waitlistCount"])
    promoted = before["waitlistCount"] - after["waitlistCount"]
    still_full = after["confirmedSeats"] == min(after["capacity"], before["confirmedSeats"])
    verdict = (
        "OK"
        if promoted == expected
        and still_full
        and after["CONFIRMED"] == after["confirmedSeats"]
        and after["WAITLISTED"] == after["waitlistCount"]
        else "MISMATCH"
    )
    print(
        f"  promoted: {promoted} (expected {expected}); waitlist {before['waitlistCount']} -> "
        f"{after['waitlistCount']}; confirmed seats {before['confirmedSeats']} -> "
        f"{after['confirmedSeats']} of {after['capacity']}: {verdict}"
    )


def _event_rows(
    count: int, rng: random.Random, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    organisers = [
        (cluster, org)
        for cluster in demo.CLUSTERS
        for org in cluster.organisations
        if org.kind in (OrganisationKind.INSTITUTION, OrganisationKind.COMMUNITY)
    ]
    events: list[dict[str, Any]] = []
    topics: list[dict[str, Any]] = []
    for _ in range(count):
        cluster, org = rng.choice(organisers)
        materials = MATERIALS[cluster.slug]
        kind = (
            EventKind.COMMUNITY_MEETING
            if org.kind is OrganisationKind.COMMUNITY
            else rng.choice(list(EventKind))
        )
        event_format = rng.choices(list(EventFormat), weights=[7, 1, 2])[0]
        online = event_format is not EventFormat.IN_PERSON
        located = event_format is not EventFormat.ONLINE
        lat = cluster.lat + rng.gauss(0, 0.15) if located else None
        lon = cluster.lon + rng.gauss(0, 0.15) if located else None
        starts = now + timedelta(days=rng.uniform(1, 365), minutes=rng.randrange(0, 600, 15))
        capacity = rng.randint(10, 300)
        taken = rng.randint(0, capacity)
        event_id = new_id()
        chosen = rng.sample(materials, rng.randint(1, min(3, len(materials))))
        title = f"{rng.choice(TITLE_WORDS)} {' and '.join(chosen)}".capitalize()
        published = now - timedelta(days=rng.uniform(0, 60))
        events.append(
            {
                "id": event_id,
                "cluster_id": demo.demo_id("cluster", cluster.slug),
                "organisation_id": demo.demo_id("organisation", org.key),
                "created_by_id": demo.demo_id("user", org.key),
                "kind": kind,
                "format": event_format,
                "status": EventStatus.PUBLISHED,
                "title": title,
                "description": f"{title}, for the {cluster.name}.",
                "language": rng.choice(cluster.languages),
                "starts_at": starts,
                "ends_at": starts + timedelta(hours=rng.choice([1, 2, 3, 4, 8])),
                "timezone": cluster.timezone,
                "lat": lat,
                "lon": lon,
                "place_name": org.place_name if located else "",
                "online_url": f"https://meet.example.org/{event_id.hex[:12]}" if online else None,
                "capacity": capacity,
                "seats_taken": taken,
                "waitlist_count": 0,
                "registration_opens_at": None,
                "registration_closes_at": None,
                "requires_approval": False,
                "queue_counter": taken,
                "sequence": 0,
                "version": 1,
                "cancellation_reason": "",
                "created_at": published,
                "updated_at": published,
                "published_at": published,
                "cancelled_at": None,
            }
        )
        entries: list[tuple[str | None, str | None]] = [(code, None) for code in chosen]
        if rng.random() < 0.5:
            entries.append((None, rng.choice(TAGS)))
        for position, (code, tag) in enumerate(entries):
            topics.append(
                {
                    "id": new_id(),
                    "event_id": event_id,
                    "material_code": code,
                    "tag": tag,
                    "position": position,
                }
            )
    return events, topics


async def _seed_events(db: Database, count: int, rng: random.Random) -> float:
    started = time.perf_counter()
    now = utcnow()
    chunk = 1000
    for start in range(0, count, chunk):
        events, topics = _event_rows(min(chunk, count - start), rng, now)
        async with db.write() as session:
            await session.execute(insert(Event), events)
            await session.execute(insert(EventTopic), topics)
    async with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            await connection.execute(text("ANALYZE events"))
            await connection.execute(text("ANALYZE event_topics"))
        else:
            await connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _feed_variables(kind: str, rng: random.Random) -> dict[str, Any]:
    cluster = rng.choice(demo.CLUSTERS)
    filter_: dict[str, Any] = {"clusterId": str(demo.demo_id("cluster", cluster.slug))}
    if kind == "material":
        filter_["materialCode"] = rng.choice(MATERIALS[cluster.slug])
    else:
        filter_["near"] = {
            "lat": cluster.lat + rng.uniform(-0.1, 0.1),
            "lon": cluster.lon + rng.uniform(-0.1, 0.1),
            "radiusKm": 50,
        }
    return {"filter": filter_}


async def _feed(client: Client, token: str, queries: int, rng: random.Random) -> None:
    for label, kind in (("cluster + material", "material"), ("cluster + near 50 km", "near")):
        timings: list[float] = []
        totals: list[int] = []
        for index in range(queries + 20):
            status, body, elapsed = await client.post(FEED, _feed_variables(kind, rng), token)
            if status != 200 or body is None or "errors" in body:
                raise SystemExit(f"feed query failed ({status}): {body}")
            if index >= 20:  # the first 20 warm caches and connections
                timings.append(elapsed)
                totals.append(body["data"]["events"]["totalCount"])
        print(
            f"feed, {label}, page of 20 with totalCount ({len(timings)} queries): "
            f"{latency_line(timings)}; matches per query: median "
            f"{statistics.median(totals):.0f}, max {max(totals)}"
        )


async def _run(db: Database, settings: Settings, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    started = time.perf_counter()
    await demo.seed_demo(db, Passwords(settings))
    burst_cluster = demo.demo_id("cluster", BURST_CLUSTER)
    people = await _seed_people(db, settings, args.people, burst_cluster)
    print(
        f"{db.dialect}: seeded the demo and {args.people} signed-in people in "
        f"{time.perf_counter() - started:.1f} s"
    )
    tokens = Security.from_settings(settings).tokens
    institution = _demo_org(BURST_CLUSTER, OrganisationKind.INSTITUTION)
    organiser_token = tokens.issue_access(
        user_id=demo.demo_id("user", institution.key),
        role=Role.INSTITUTION,
        organisation_id=demo.demo_id("organisation", institution.key),
        now=utcnow(),
    ).token

    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", timeout=httpx.Timeout(600)
    ) as http:
        client = Client(http)
        event_id = await _create_event(client, organiser_token, args.capacity)
        print(f"event {event_id} by {institution.name}: capacity {args.capacity}, published")
        before = await _burst(client, db, people, event_id, organiser_token, args.concurrency)
        await _cancellation_wave(
            client, db, people, event_id, organiser_token, args.concurrency, before
        )

        seconds = await _seed_events(db, args.events, rng)
        print(
            f"seeded {args.events} published events with topics in {seconds:.1f} s "
            f"({args.events / seconds:.0f}/s)"
        )
        await _feed(client, people[-1].token, args.queries, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--capacity", type=int, default=100, help="seats of the burst's event")
    parser.add_argument("--people", type=int, default=1000, help="people in the burst")
    parser.add_argument("--concurrency", type=int, default=50, help="requests in flight")
    parser.add_argument("--events", type=int, default=5000, help="events in the feed")
    parser.add_argument("--queries", type=int, default=200, help="feed queries per filter")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch PostgreSQL database to inspect"
    )
    args = parser.parse_args()

    with bench_database(
        args.database_url,
        keep=args.keep,
        # Tokens are issued once, before the phases: they must outlive a slow run.
        access_token_ttl_seconds=3600,
    ) as (url, settings):

        async def run() -> None:
            db = Database(url)
            try:
                await _run(db, settings, args)
            finally:
                await db.dispose()

        asyncio.run(run())


if __name__ == "__main__":
    main()
