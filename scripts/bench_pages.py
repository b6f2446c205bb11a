"""Benchmark: the apps' hot pages, product against a hand-built reference with the same SQL.

1. Seeds a scratch database (SQLite in a temp folder, or a PostgreSQL database created beside the
   one named and dropped afterwards): the demo clusters, then in bulk 10,000 organisations (one
   person each), 100,000 listings, 50,000 forum posts in a few hundred threads with reactions,
   5,000 upcoming events with registrations (so remaining seats vary), and a change log of
   100,000 rows of which 5,000 are the viewer's. ``--scale 0.01`` multiplies every volume.
2. Pages, each the apps' own persisted operation (loaded by name from
   clients/operations/manifest.json, sent by its id as the apps send it), several variables each:
   MarketSearch (text + near + nearest, 20 cards with totalCount; anonymous, POST), ThreadDetail
   (a thread and its first posts with authors and reactions, signed in), EventsFeed (upcoming
   events, 20 with remaining seats, signed in), SyncChanges (a page of 100 changes, signed in)
   and MarketSearch again as an anonymous persisted GET, which the response cache serves after
   the first time (its row compares a cache hit with the hand-built page computing the answer).
3. Checks first, in this process, that for every page and every set of variables the reference
   (scripts/bench_pages_reference.py) answers the same ``data`` as the product and sends as many
   SQL statements; it stops and says which page differs. Statements that read differently (with
   the parameter markers left out) are listed; ``--strict-sql`` stops on them too. Then it
   checks the check: a reference answer changed in one value, and one statement more, must both
   be caught.
4. Serves the product (``eic serve``) and the reference, one uvicorn worker each, pinned to core 0;
   drives them from core 1 with wrk (a Lua script for bodies and headers) or, without wrk, a
   small Python HTTP/1.1 driver; rounds interleaved (product, reference, product ...) at 1 and 16
   connections. Prints per page: requests/s, server CPU per request (utime + stime of the
   worker from /proc, over the requests it served), p50, p99, p99/p50, and the ratios
   reference-CPU / product-CPU and product-rps / reference-rps.

    .venv/bin/python scripts/bench_pages.py                       # SQLite in a temp folder
    .venv/bin/python scripts/bench_pages.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_pages.py --scale 0.01 --rounds 1 --seconds 3
    .venv/bin/python scripts/bench_pages.py --short                # CI: tiny, one short round
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import zip_longest
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from bench_events import _event_rows
from bench_listings import WORDS, _listing_rows
from bench_pages_reference import PAGES as REFERENCE_PAGES
from bench_pages_reference import ReferenceApp, operation_ids
from bench_trades import _analyze
from benchkit import FirmRows, bench_database, cursor_at
from load_mixed import free_port, wait_ready
from sqlalchemy import event, insert, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.demo import ids as demo_ids
from backend.events.models import Event, EventRegistration, EventTopic, RegistrationStatus
from backend.forums.models import Post, PostReaction, Reaction, Thread, ThreadFollower
from backend.identity.models import (
    Membership,
    Organisation,
    User,
)
from backend.kit.db import Database, make_engine, new_id, utcnow
from backend.marketplace.models import Listing
from backend.settings import Settings
from backend.sync import log as sync_log
from backend.sync.models import Change, ChangeType, SyncLogState

ROOT = Path(__file__).resolve().parent.parent
VIEWER = "maniwa-lumber"  # the signed-in pages' viewer: a firm of the Maniwa wood cluster
VIEWER_FORUM = "biomass-town"  # its cluster's forum (CLUSTER visibility)
VARIANTS = 8  # sets of variables per page, cycled through by the driver
SERVER_CORE, DRIVER_CORE = 0, 1

# ---------------------------------------------------------------------------------------------
# 1. Seeding


@dataclass(frozen=True)
class Volumes:
    organisations: int
    listings: int
    threads: int
    posts: int
    events: int
    changes: int

    @classmethod
    def of(cls, scale: float) -> Volumes:
        def scaled(full: int, least: int) -> int:
            return max(least, round(full * scale))

        return cls(
            organisations=scaled(10_000, 8),
            listings=scaled(100_000, 200),
            threads=scaled(300, 8),
            posts=scaled(50_000, 8 * 31),
            events=scaled(5_000, 40),
            changes=scaled(100_000, 400),
        )


@dataclass
class World:
    """What the pages' variables are made of."""

    threads: list[str] = field(default_factory=list)  # readable by the viewer, 31+ posts
    log_start: int = 0  # the change log's last sequence before the bulk changes
    log_end: int = 0


async def _bulk(db: Database, model: Any, rows: list[dict[str, Any]], chunk: int = 2000) -> None:
    for start in range(0, len(rows), chunk):
        async with db.write() as session:
            await session.execute(insert(model), rows[start : start + chunk])


async def _seed_listings(db: Database, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """bench_listings' generator (demo traders, the clusters' words), in chunks."""
    viewer_org = demo.demo_id("organisation", VIEWER)
    mine: list[dict[str, Any]] = []
    for start in range(0, count, 2000):
        rows = _listing_rows(min(2000, count - start), rng)
        mine.extend(r for r in rows if r["organisation_id"] == viewer_org)
        async with db.write() as session:
            await session.execute(insert(Listing), rows)
    return mine


async def _seed_forums(
    db: Database, volumes: Volumes, people: dict[str, list[tuple[Any, Any]]], rng: random.Random
) -> list[str]:
    """Threads over the four demo forums (half in the viewer's), posts with reactions."""
    now = utcnow()
    viewer_user = demo.demo_id("user", VIEWER)
    communities = [VIEWER_FORUM, "bang-khla-coop", "thalli-shg", "my-hoa-hung-women"]
    slug_of = {org.key: cluster.slug for cluster in demo.CLUSTERS for org in cluster.organisations}
    threads, posts, reactions, followers = [], [], [], []
    measured: list[str] = []
    per_thread = volumes.posts // volumes.threads
    for index in range(volumes.threads):
        community = VIEWER_FORUM if index % 2 == 0 else communities[1 + index // 2 % 3]
        authors = people[slug_of[community]]
        thread_id = new_id()
        started = now - timedelta(days=rng.uniform(30, 365))
        author, organisation = rng.choice(authors)
        count = per_thread if index < volumes.threads - 1 else volumes.posts - per_thread * index
        moment = started
        for _ in range(count):
            moment += timedelta(minutes=rng.uniform(1, 600))
            post_author, post_org = rng.choice(authors)
            post_id = new_id()
            posts.append(
                {
                    "id": post_id,
                    "thread_id": thread_id,
                    "reply_to_id": None,
                    "author_id": post_author,
                    "author_organisation_id": post_org,
                    "body": " ".join(rng.choices(WORDS["maniwa-wood"][0], k=rng.randint(5, 40))),
                    "mentioned_organisation_ids": [],
                    "created_at": moment,
                    "hidden_reason": "",
                    "version": 1,
                }
            )
            reactors = rng.sample(authors, min(len(authors), rng.randint(0, 4)))
            if community == VIEWER_FORUM and rng.random() < 0.2:
                reactors.append((viewer_user, None))
            for user, _ in reactors:
                reactions.append(
                    {
                        "id": new_id(),
                        "post_id": post_id,
                        "user_id": user,
                        "reaction": rng.choice(list(Reaction)),
                        "created_at": moment,
                    }
                )
        threads.append(
            {
                "id": thread_id,
                "forum_id": demo_ids.forum_id(community),
                "author_id": author,
                "author_organisation_id": organisation,
                "title": f"Thread {index}: " + " ".join(rng.sample(WORDS["maniwa-wood"][0], 3)),
                "body": " ".join(rng.choices(WORDS["maniwa-wood"][0], k=30)),
                "language": "en",
                "tags": ["bench"],
                "tag_index": "|bench|",
                "pinned": False,
                "reply_count": count,
                "last_activity_at": moment,
                "created_at": started,
                "version": 1,
            }
        )
        if community == VIEWER_FORUM and count >= 31:
            measured.append(str(thread_id))
            if len(measured) % 2:
                followers.append(
                    {"thread_id": thread_id, "user_id": viewer_user, "created_at": now}
                )
    # (a user reacts with a given reaction once per post)
    seen: set[tuple[Any, Any, Any]] = set()
    unique = []
    for row in reactions:
        key = (row["post_id"], row["user_id"], row["reaction"])
        if key not in seen:
            seen.add(key)
            unique.append(row)
    await _bulk(db, Thread, threads)
    await _bulk(db, Post, posts)
    await _bulk(db, PostReaction, unique)
    await _bulk(db, ThreadFollower, followers)
    return measured[:VARIANTS]


async def _seed_events(db: Database, count: int, users: list[Any], rng: random.Random) -> None:
    """bench_events' generator, then registrations that add up to each event's seats taken."""
    now = utcnow()
    viewer_user = demo.demo_id("user", VIEWER)
    viewer_org = demo.demo_id("organisation", VIEWER)
    events, topics = _event_rows(count, rng, now)
    registrations = []
    # the viewer holds a seat at about one in four of the 60 soonest events (a person's own
    # registrations are a handful: each is a scope of their change feed)
    soonest = {id(row) for row in sorted(events, key=lambda row: row["starts_at"])[:60]}
    for row in events:
        taken, queue = row["seats_taken"], 0
        people = iter(rng.sample(users, min(len(users), 60)))
        seated = 0
        while seated < taken:
            person = next(people, None)
            if person is None:
                break
            seats = min(taken - seated, rng.randint(1, 10))
            queue += 1
            seated += seats
            registrations.append(_registration(row, person[0], person[1], seats, queue, now))
        if id(row) in soonest and seated < row["capacity"] and rng.random() < 0.25:
            queue += 1
            seated += 1
            registrations.append(_registration(row, viewer_user, viewer_org, 1, queue, now))
        row["seats_taken"] = seated
        row["queue_counter"] = queue
    await _bulk(db, Event, events, 1000)
    await _bulk(db, EventTopic, topics)
    await _bulk(db, EventRegistration, registrations)


def _registration(
    event: dict[str, Any], user: Any, organisation: Any, seats: int, queue: int, now: Any
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "event_id": event["id"],
        "user_id": user,
        "organisation_id": organisation,
        "seats": seats,
        "status": RegistrationStatus.CONFIRMED,
        "queue_number": queue,
        "note": "",
        "created_at": now,
        "updated_at": now,
        "confirmed_at": now,
    }


async def _seed_changes(
    db: Database, count: int, mine: list[dict[str, Any]], others: list[Any], rng: random.Random
) -> tuple[int, int]:
    """A change log of ``count`` rows after the demo's own: one in twenty is a listing of the
    viewer's organisation, the rest other firms' (as bench_sync fills it)."""
    async with db.read() as session:
        state = await session.get(SyncLogState, 1)
    base = state.last_sequence if state else 0
    viewer_scope = sync_log.organisation(demo.demo_id("organisation", VIEWER))
    listings = [row["id"] for row in mine]
    now = utcnow()
    rows = []
    for sequence in range(base + 1, base + count + 1):
        if listings and rng.random() < 0.05:
            scope, entity = viewer_scope, rng.choice(listings)
        else:
            scope, entity = sync_log.organisation(rng.choice(others)), new_id()
        rows.append(
            {
                "scope_id": scope,
                "sequence": sequence,
                "position": 0,
                "entity_type": ChangeType.LISTING,
                "entity_id": entity,
                "created_at": now,
            }
        )
    await _bulk(db, Change, rows, 5000)
    async with db.write() as session:
        await session.execute(
            update(SyncLogState).where(SyncLogState.id == 1).values(last_sequence=base + count)
        )
    return base, base + count


async def _seed_organisations(
    db: Database, settings: Settings, count: int, rng: random.Random
) -> dict[str, list[tuple[Any, Any]]]:
    """``count`` firms over the four clusters, one person (its admin) each: (user, organisation)
    ids by cluster slug."""
    rows = FirmRows(await Passwords(settings).hash("bench-password-0123"), utcnow())
    people: dict[str, list[tuple[Any, Any]]] = {c.slug: [] for c in demo.CLUSTERS}
    for index in range(count):
        cluster = demo.CLUSTERS[index % len(demo.CLUSTERS)]
        ids = rows.add(
            email=f"page-{index}@bench.eic.example",
            person=f"Bench person {index}",
            name=f"Bench Firm {index}",
            cluster_id=demo.demo_id("cluster", cluster.slug),
            lat=cluster.lat + rng.gauss(0, 0.1),
            lon=cluster.lon + rng.gauss(0, 0.1),
        )
        people[cluster.slug].append(ids)
    await _bulk(db, User, rows.users)
    await _bulk(db, Organisation, rows.organisations)
    await _bulk(db, Membership, rows.memberships)
    return people


async def seed(db: Database, settings: Settings, volumes: Volumes, rng: random.Random) -> World:
    await demo.seed_demo(db, Passwords(settings))
    clusters = list(demo.CLUSTERS)
    people = await _seed_organisations(db, settings, volumes.organisations, rng)
    firms = [person for cluster in clusters for person in people[cluster.slug]]
    for cluster in clusters:
        for org in cluster.organisations:
            people[cluster.slug].append(
                (demo.demo_id("user", org.key), demo.demo_id("organisation", org.key))
            )
    mine = await _seed_listings(db, volumes.listings, rng)
    world = World()
    world.threads = await _seed_forums(db, volumes, people, rng)
    await _seed_events(db, volumes.events, firms, rng)
    world.log_start, world.log_end = await _seed_changes(
        db, volumes.changes, mine, [organisation for _, organisation in firms], rng
    )
    await _analyze(
        db,
        "listings",
        "organisations",
        "users",
        "memberships",
        "forum_threads",
        "forum_posts",
        "forum_post_reactions",
        "forum_thread_followers",
        "events",
        "event_topics",
        "event_registrations",
        "sync_changes",
    )
    return world


# ---------------------------------------------------------------------------------------------
# 2. Pages


@dataclass(frozen=True)
class Page:
    label: str
    operation: str  # its name in clients/operations/manifest.json
    signed_in: bool
    get: bool
    variants: list[dict[str, Any]]


def pages(world: World, sync_head: str, rng: random.Random, variants: int) -> list[Page]:
    searches = []
    for _ in range(variants):
        cluster = rng.choice(demo.CLUSTERS)
        searches.append(
            {
                "filter": {
                    "search": rng.choice(WORDS[cluster.slug][0]),
                    "near": {
                        "lat": round(cluster.lat + rng.uniform(-0.1, 0.1), 4),
                        "lon": round(cluster.lon + rng.uniform(-0.1, 0.1), 4),
                        "radiusKm": 25,
                    },
                },
                "sort": "NEAREST",
                "first": 20,
            }
        )
    by_cluster: list[dict[str, Any]] = [
        {"filter": {"clusterId": str(demo.demo_id("cluster", c.slug))}} for c in demo.CLUSTERS
    ]
    feeds: list[dict[str, Any]] = [{"filter": {}}, *by_cluster][:variants]
    step = max(1, (world.log_end - world.log_start) // (variants + 1))
    syncs = [
        {"since": cursor_at(sync_head, world.log_start + k * step), "first": 100}
        for k in range(variants)
    ]
    return [
        Page("MarketSearch", "MarketSearch", False, False, searches),
        Page(
            "ThreadDetail",
            "ThreadDetail",
            True,
            False,
            [{"threadId": t} for t in world.threads[:variants]],
        ),
        Page("EventsFeed", "EventsFeed", True, False, feeds),
        Page("SyncChanges", "SyncChanges", True, False, syncs),
        Page("MarketSearch GET, cached", "MarketSearch", False, True, searches),
    ]


@dataclass(frozen=True)
class Wire:
    """One request as bytes on the wire (what wrk and the Python driver send)."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def wire(page: Page, sha: str, variables: dict[str, Any], token: str | None) -> Wire:
    headers = {"Authorization": f"Bearer {token}"} if page.signed_in and token else {}
    if page.get:
        query = urlencode(
            {
                "extensions": json.dumps(
                    {"persistedQuery": {"version": 1, "sha256Hash": sha}}, separators=(",", ":")
                ),
                "variables": json.dumps(variables, separators=(",", ":")),
            }
        )
        return Wire("GET", f"/graphql?{query}", headers, b"")
    headers["Content-Type"] = "application/json"
    body = json.dumps({"id": sha, "variables": variables}, separators=(",", ":")).encode()
    return Wire("POST", "/graphql", headers, body)


# ---------------------------------------------------------------------------------------------
# 3. The equality check


@contextmanager
def counting(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def listen(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listen)


_MARKER = re.compile(r"\$\d+(::[A-Z]+(?: [A-Z]+)*)?|\?")


def normalised(statement: str) -> str:
    return " ".join(_MARKER.sub("?", statement).split())


async def _send(http: httpx.AsyncClient, request: Wire) -> tuple[int, Any]:
    response = await http.request(
        request.method, request.path, headers=request.headers, content=request.body or None
    )
    try:
        return response.status_code, response.json()
    except ValueError:
        return response.status_code, response.text


async def check(
    db: Database,
    settings: Settings,
    page_list: list[Page],
    shas: dict[str, str],
    token: str,
    strict_sql: bool,
    tamper: Callable[[ReferenceApp], None] | None = None,
) -> dict[str, int]:
    """Product and reference, in this process: the same data, as many statements. Returns the
    statements per request of each page. ``tamper`` changes the reference (the self-test)."""
    reference_engine = make_engine(settings.database_url)
    product = create_app(settings, db=db)
    reference = ReferenceApp(settings, engine=reference_engine)
    if tamper is not None:
        tamper(reference)
    counts: dict[str, int] = {}
    drift: list[str] = []
    try:
        async with (
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=product), base_url="http://p"
            ) as product_http,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=reference), base_url="http://r"
            ) as reference_http,
        ):
            for page in page_list:
                for number, variables in enumerate(page.variants):
                    request = wire(page, shas[page.operation], variables, token)
                    answers = []
                    for http, engine in (
                        (product_http, db.engine),
                        (reference_http, reference_engine),
                    ):
                        await _send(http, request)  # warm: per-process caches fill up
                        with counting(engine) as statements:
                            status, body = await _send(http, request)
                        answers.append((status, body, list(statements)))
                    (p_status, p_body, p_sql), (r_status, r_body, r_sql) = answers
                    where = f"{page.label}, variables {number}: {json.dumps(variables)[:200]}"
                    if p_status != 200 or not isinstance(p_body, dict) or "errors" in p_body:
                        raise SystemExit(f"the product failed on {where}: {p_status} {p_body}")
                    if r_status != 200 or not isinstance(r_body, dict):
                        raise SystemExit(f"the reference failed on {where}: {r_status} {r_body}")
                    if p_body["data"] != r_body["data"]:
                        raise SystemExit(
                            f"MISMATCH: the reference's data differs from the product's on "
                            f"{where}\n{_first_difference(p_body['data'], r_body['data'])}"
                        )
                    if page.get:
                        # The second anonymous GET is the response cache's hit: no SQL at all
                        # (backend/graphql/response_cache.py), against the hand-built page's.
                        if p_sql:
                            raise SystemExit(
                                f"the product's repeated GET was not a cache hit on {where}: "
                                f"{len(p_sql)} statements"
                            )
                        counts.setdefault(page.label, 0)
                        continue
                    if len(p_sql) != len(r_sql):
                        raise SystemExit(
                            f"MISMATCH: {page.label} sends {len(p_sql)} statements in the product "
                            f"and {len(r_sql)} in the reference ({where})\n"
                            + _statement_diff(p_sql, r_sql)
                        )
                    # (as multisets: the root fields of a page run at the same time)
                    product_only = Counter(map(normalised, p_sql)) - Counter(map(normalised, r_sql))
                    reference_only = Counter(map(normalised, r_sql)) - Counter(
                        map(normalised, p_sql)
                    )
                    for p, r in zip_longest(
                        sorted(product_only.elements()), sorted(reference_only.elements())
                    ):
                        drift.append(
                            f"  {page.label}:\n    product:   {(p or '-')[:600]}\n"
                            f"    reference: {(r or '-')[:600]}"
                        )
                    counts.setdefault(page.label, len(p_sql))
                print(
                    f"equality check: {page.label}: data equal for {len(page.variants)} sets of "
                    + (
                        "variables, served from the response cache (no statement)"
                        if page.get
                        else f"variables, {counts[page.label]} statements per request in both"
                    )
                )
    finally:
        await reference_engine.dispose()
    if drift:
        print(f"SQL drift: {len(drift)} statements read differently (markers left out):")
        print("\n".join(dict.fromkeys(drift)))
        if strict_sql:
            raise SystemExit("stopping (--strict-sql): update scripts/bench_pages_reference.py")
    print("equality checks passed")
    return counts


async def show_sql(db: Database, settings: Settings, page_list: list[Page], token: str) -> None:
    """The product's statements (and parameters) for each page's first variables: what the
    reference's ``<page>_sql`` functions must send."""
    product = create_app(settings, db=db)
    shas = operation_ids()
    statements: list[tuple[str, Any]] = []

    def listen(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=product), base_url="http://p"
    ) as http:
        for page in page_list:
            request = wire(page, shas[page.operation], page.variants[0], token)
            await _send(http, request)
            event.listen(db.engine.sync_engine, "before_cursor_execute", listen)
            try:
                _, body = await _send(http, request)
            finally:
                event.remove(db.engine.sync_engine, "before_cursor_execute", listen)
            print(f"=== {page.label}: {len(statements)} statements; answer {str(body)[:3000]}")
            for statement, parameters in statements:
                print(f"--- {statement}\n    {parameters}")
            statements.clear()


async def self_test(
    db: Database, settings: Settings, page: Page, shas: dict[str, str], token: str
) -> None:
    """The check is checked: a reference whose answer differs in one value deep inside, and one
    that sends one statement more, must both be caught."""
    one = Page(page.label, page.operation, page.signed_in, page.get, page.variants[:1])

    def changed_answer(reference: ReferenceApp) -> None:
        sha = shas[page.operation]
        handler, signed_in = reference.handlers[sha]

        async def changed(request: Any, variables: dict[str, Any]) -> dict[str, Any]:
            data = await handler(request, variables)
            _change_one_value(data)
            return data

        reference.handlers[sha] = (changed, signed_in)

    def one_statement_more(reference: ReferenceApp) -> None:
        sha = shas[page.operation]
        handler, signed_in = reference.handlers[sha]

        async def more(request: Any, variables: dict[str, Any]) -> dict[str, Any]:
            async with request.engine.connect() as connection:
                await connection.exec_driver_sql("SELECT 1")
            return await handler(request, variables)

        reference.handlers[sha] = (more, signed_in)

    caught = []
    tampers = [("a value changed deep in the answer", changed_answer)]
    if not page.get:  # (a GET's statements are not compared: the product's is a cache hit)
        tampers.append(("one statement more", one_statement_more))
    for name, tamper in tampers:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                await check(db, settings, [one], shas, token, False, tamper)
        except SystemExit as stop:
            if "MISMATCH" in str(stop):
                caught.append(name)
                continue
            raise
        raise SystemExit(f"self-test failed: the check let {name} through")
    print(f"self-test: the check caught {' and '.join(caught)} ({page.label})")


def _change_one_value(data: Any) -> None:
    """Change the first string or number found depth-first, in place."""
    items = list(data.items()) if isinstance(data, dict) else list(enumerate(data))
    for key, value in items:
        if isinstance(value, dict | list) and value:
            _change_one_value(value)
            return
        if isinstance(value, str):
            data[key] = value + "x"
            return
        if isinstance(value, int | float) and not isinstance(value, bool):
            data[key] = value + 1
            return


def _first_difference(product: Any, reference: Any, path: str = "data") -> str:
    if isinstance(product, dict) and isinstance(reference, dict):
        for key in list(product) + [k for k in reference if k not in product]:
            if product.get(key, "<missing>") != reference.get(key, "<missing>"):
                return _first_difference(
                    product.get(key, "<missing>"), reference.get(key, "<missing>"), f"{path}.{key}"
                )
    if isinstance(product, list) and isinstance(reference, list):
        if len(product) != len(reference):
            return f"{path}: {len(product)} items in the product, {len(reference)} in the reference"
        for index, (p, r) in enumerate(zip(product, reference, strict=True)):
            if p != r:
                return _first_difference(p, r, f"{path}[{index}]")
    return f"{path}: product {json.dumps(product)[:300]} / reference {json.dumps(reference)[:300]}"


def _statement_diff(product: list[str], reference: list[str]) -> str:
    lines = ["product:"] + [f"  {normalised(s)[:160]}" for s in product]
    lines += ["reference:"] + [f"  {normalised(s)[:160]}" for s in reference]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# 4. Measuring


def _pinned(command: list[str], core: int) -> list[str]:
    if shutil.which("taskset") and (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core), *command]
    return command


def _server_env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
    env.update(
        EIC_ENVIRONMENT="test",
        EIC_DATABASE_URL=settings.database_url,
        EIC_LOG_LEVEL="WARNING",
        EIC_DUE_JOBS_INTERVAL_SECONDS="0",  # no job loop beside the requests being measured
        EIC_RATE_LIMIT_REGISTRATIONS_PER_ADDRESS="",
        EIC_RATE_LIMIT_READS_PER_ADDRESS="",
        EIC_RATE_LIMIT_READS_PER_ACCOUNT="",
        PYTHONPATH=str(ROOT / "scripts"),
    )
    return env


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Any  # its stderr, shown if it fails

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settled_cpu_seconds(self) -> float:
        """The CPU seconds once the process has gone quiet (what it was still serving is
        served)."""
        last = self.cpu_seconds()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.cpu_seconds()
            if now == last:
                break
            last = now
        return last

    def cpu_seconds(self) -> float:
        """utime + stime of the worker process, all its threads (aiosqlite's too)."""
        with open(f"/proc/{self.process.pid}/stat") as stat:
            fields = stat.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_servers(settings: Settings) -> list[Server]:
    env = _server_env(settings)
    servers = []
    for name, command in (
        ("product", [str(Path(sys.executable).parent / "eic"), "serve", "--host", "127.0.0.1"]),
        ("reference", [sys.executable, str(ROOT / "scripts" / "bench_pages_reference.py")]),
    ):
        port = free_port()
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed when the server is
        process = subprocess.Popen(  # noqa: S603 - our own commands
            _pinned([*command, "--port", str(port)], SERVER_CORE),
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=log,
        )
        servers.append(Server(name, process, port, log))
    return servers


@dataclass
class Run:
    requests: int  # answered within the round
    seconds: float
    cpu: float  # the server's CPU seconds, until it was idle again
    p50_ms: float
    p99_ms: float
    errors: int
    served: int  # the requests that CPU was spent on


LUA = """
local requests = {}
init = function(args)
%s
end
local i = 0
request = function()
  i = i %% #requests + 1
  return requests[i]
end
done = function(summary, latency, _)
  local e = summary.errors
  io.write(string.format("BENCH %%d %%d %%d %%d %%d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status))
end
"""


def _lua(requests: list[Wire]) -> str:
    def quoted(text: str) -> str:
        assert "]==]" not in text
        return f"[==[{text}]==]"

    lines = []
    for n, r in enumerate(requests, 1):
        headers = ", ".join(f"[ {quoted(k)} ] = {quoted(v)}" for k, v in r.headers.items())
        body = quoted(r.body.decode()) if r.body else "nil"
        lines.append(
            f"  requests[{n}] = wrk.format({quoted(r.method)}, {quoted(r.path)}, "
            f"{{{headers}}}, {body})"
        )
    return LUA % "\n".join(lines)


def drive_wrk(server: Server, requests: list[Wire], connections: int, seconds: float) -> Run:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_lua(requests))
    try:
        before = server.cpu_seconds()
        output = subprocess.run(  # noqa: S603 - our own command
            _pinned(
                [
                    "wrk",
                    "-t1",
                    f"-c{connections}",
                    f"-d{max(1, round(seconds))}s",
                    "--timeout",
                    "30s",
                    "-s",
                    script.name,
                    server.url,
                ],
                DRIVER_CORE,
            ),
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu = server.settled_cpu_seconds() - before
    finally:
        os.unlink(script.name)
    line = next((line for line in output.splitlines() if line.startswith("BENCH ")), None)
    if line is None:
        raise SystemExit(f"wrk printed no figures:\n{output}")
    count, duration_us, p50_us, p99_us, errors = (int(x) for x in line.split()[1:])
    # wrk stops with a request in flight on each connection: the server still serves them (it
    # learns that the client went only when it answers), so they cost CPU but were not counted
    return Run(
        count, duration_us / 1e6, cpu, p50_us / 1000, p99_us / 1000, errors, count + connections
    )


def _raw(request: Wire, port: int) -> bytes:
    headers = {"Host": f"127.0.0.1:{port}", **request.headers}
    if request.method == "POST":
        headers["Content-Length"] = str(len(request.body))
    head = f"{request.method} {request.path} HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    return head.encode("latin-1") + b"\r\n" + request.body


async def _response(reader: asyncio.StreamReader) -> int:
    status = int((await reader.readline()).split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value:
            chunked = True
    if not chunked:
        await reader.readexactly(length)
        return status
    while True:
        size = int((await reader.readline()).strip(), 16)
        await reader.readexactly(size + 2)
        if size == 0:
            return status


async def _python_driver(
    port: int, requests: list[Wire], connections: int, seconds: float
) -> tuple[int, float, list[float], int]:
    raws = [_raw(r, port) for r in requests]
    latencies: list[float] = []
    errors = 0
    started = time.perf_counter()
    deadline = started + seconds

    async def connection(offset: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        index = offset
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                writer.write(raws[index % len(raws)])
                index += 1
                if await _response(reader) != 200:
                    errors += 1
                latencies.append((time.perf_counter() - sent) * 1000)
        finally:
            writer.close()

    await asyncio.gather(*(connection(k) for k in range(connections)))
    return len(latencies), time.perf_counter() - started, latencies, errors


def drive_python(server: Server, requests: list[Wire], connections: int, seconds: float) -> Run:
    with _on_core(DRIVER_CORE):
        before = server.cpu_seconds()
        count, duration, latencies, errors = asyncio.run(
            _python_driver(server.port, requests, connections, seconds)
        )
        cpu = server.settled_cpu_seconds() - before
    # (every connection waits for its last answer: every request sent is counted)
    p50, p99 = _percentile(latencies, 50), _percentile(latencies, 99)
    return Run(count, duration, cpu, p50, p99, errors, count)


@contextmanager
def _on_core(core: int) -> Iterator[None]:
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) <= core:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {core})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def _percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Figures:
    runs: list[Run] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return _ratio(sum(r.requests for r in self.runs), sum(r.seconds for r in self.runs))

    @property
    def cpu_ms(self) -> float:
        return 1000 * sum(r.cpu for r in self.runs) / max(1, sum(r.served for r in self.runs))

    @property
    def p50(self) -> float:
        answered = [r.p50_ms for r in self.runs if r.requests]
        return statistics.median(answered) if answered else float("nan")

    @property
    def p99(self) -> float:
        answered = [r.p99_ms for r in self.runs if r.requests]
        return statistics.median(answered) if answered else float("nan")

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.runs)

    @property
    def errors(self) -> int:
        return sum(r.errors for r in self.runs)


def use_wrk(args: argparse.Namespace) -> bool:
    """wrk when it is installed, unless told otherwise or the rounds are under its one second."""
    return bool(shutil.which("wrk")) and not args.python_driver and args.seconds >= 1


def measure(
    servers: list[Server],
    page_list: list[Page],
    shas: dict[str, str],
    token: str,
    args: argparse.Namespace,
) -> dict[tuple[str, int], dict[str, Figures]]:
    drive = drive_wrk if use_wrk(args) else drive_python
    results: dict[tuple[str, int], dict[str, Figures]] = {}
    for page in page_list:
        requests = [wire(page, shas[page.operation], v, token) for v in page.variants]
        seconds = args.seconds
        if args.warmup > 0:  # warm-up, not counted; it tells how long a round needs to be
            slowest = min(
                _ratio(run.requests, run.seconds)
                for run in (drive(server, requests, 4, args.warmup) for server in servers)
            )
            # a slow page (a search over 100,000 listings on SQLite ...) gets rounds long
            # enough for about ROUND_ANSWERS answers of the slower server, within reason
            if slowest > 0:
                seconds = min(args.max_seconds, max(seconds, ROUND_ANSWERS / slowest))
            else:
                seconds = args.max_seconds
        for connections in args.connections:
            figures = {server.name: Figures() for server in servers}
            for _ in range(args.rounds):
                for server in servers:  # interleaved: product, reference, product ...
                    figures[server.name].runs.append(drive(server, requests, connections, seconds))
            results[(page.label, connections)] = figures
    return results


def print_table(
    dialect: str,
    results: dict[tuple[str, int], dict[str, Figures]],
    counts: dict[str, int],
    driver: str,
    load: tuple[float, float],
) -> None:
    print(
        f"\n{dialect}: product vs hand-built reference (one worker each on core 0, {driver}; "
        f"load average {load[0]:.2f} before measuring, {load[1]:.2f} after, "
        f"{os.cpu_count()} cores)"
    )
    head = (
        f"{'page':<25}{'conn':>5} {'stmts':>5} | {'rps':>7} {'cpu ms':>7} {'p50':>7} {'p99':>7} "
        f"{'p99/50':>6} | {'rps':>7} {'cpu ms':>7} {'p50':>7} {'p99':>7} {'p99/50':>6} | "
        f"{'ref/prod cpu':>12} {'prod/ref rps':>12}"
    )
    print(f"{'':<29}| {'product':<39}| {'reference':<39}|")
    print(head)
    print("-" * len(head))
    for (label, connections), figures in results.items():
        product, reference = figures["product"], figures["reference"]
        cells = []
        for f in (product, reference):
            cells.append(
                f"{f.rps:>7.0f} {f.cpu_ms:>7.2f} {f.p50:>7.1f} {f.p99:>7.1f} "
                f"{_ratio(f.p99, f.p50):>6.1f}"
            )
        notes = []
        if errors := product.errors + reference.errors:
            notes.append(f"{errors} errors")
        fewest = min(product.requests, reference.requests)
        if fewest < FEW:
            notes.append(f"only {fewest} requests answered: make the rounds longer")
        print(
            f"{label:<25}{connections:>5} {counts.get(label, 0):>5} | {cells[0]} | {cells[1]} | "
            f"{_ratio(reference.cpu_ms, product.cpu_ms):>12.2f} "
            f"{_ratio(product.rps, reference.rps):>12.2f}"
            + (f"  ({'; '.join(notes)})" if notes else "")
        )
    print("(cpu ms: server CPU per request; p50, p99 in ms; stmts: SQL statements per request)")


ROUND_ANSWERS = 40  # what a round should see at least, if --max-seconds allows
FEW = 20  # fewer answers than this in all rounds make a row's figures rough


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


# ---------------------------------------------------------------------------------------------


async def sign_in(settings: Settings, db: Database) -> tuple[str, str]:
    """The viewer's access token (a real sign-in: the access check finds its session) and the
    head cursor of its change feed."""
    shas = operation_ids()
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://bench"
    ) as http:
        response = await http.post(
            "/graphql",
            json={
                "query": "mutation($i: TokenCreateInput!) "
                "{ tokenCreate(input: $i) { accessToken } }",
                "variables": {
                    "i": {"email": demo.demo_email(VIEWER), "password": demo.DEMO_PASSWORD}
                },
            },
        )
        token: str = response.json()["data"]["tokenCreate"]["accessToken"]
        response = await http.post(
            "/graphql",
            json={"id": shas["SyncStart"], "variables": {}},
            headers={"Authorization": f"Bearer {token}"},
        )
        head: str = response.json()["data"]["changes"]["cursor"]
    return token, head


def run(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    volumes = Volumes.of(args.scale)
    if args.listings is not None:
        volumes = dataclasses.replace(volumes, listings=args.listings)
    with bench_database(
        args.database_url,
        keep=False,
        access_token_ttl_seconds=3600,
        rate_limit_reads_per_address="",
        rate_limit_reads_per_account="",
    ) as (url, settings):

        async def prepare() -> tuple[list[Page], str, dict[str, int]]:
            db = Database(url)
            try:
                if db.dialect == "postgresql":
                    await _commits_without_waiting(db)
                started = time.perf_counter()
                world = await seed(db, settings, volumes, rng)
                print(
                    f"{db.dialect}: seeded the demo, {volumes.organisations} organisations, "
                    f"{volumes.listings} listings, {volumes.threads} threads with "
                    f"{volumes.posts} posts, {volumes.events} events, {volumes.changes} changes "
                    f"in {time.perf_counter() - started:.1f} s",
                    flush=True,
                )
                token, head = await sign_in(settings, db)
                page_list = pages(world, head, rng, args.variants)
                if args.pages:
                    page_list = [p for p in page_list if p.label in args.pages]
                if args.show_sql:
                    await show_sql(db, settings, page_list, token)
                for page in [p for p in page_list if p.operation not in REFERENCE_PAGES]:
                    print(f"{page.label}: no reference endpoint yet, left out")
                    page_list.remove(page)
                counts = await check(
                    db, settings, page_list, operation_ids(), token, args.strict_sql
                )
                if page_list:
                    # a computed page if there is one: a cache hit sends no statement to count
                    tested = next((p for p in page_list if not p.get), page_list[0])
                    await self_test(db, settings, tested, operation_ids(), token)
                return page_list, token, counts
            finally:
                await db.dispose()

        # the servers start (and import) while the database is filled: they read it only when
        # the measuring starts
        servers = start_servers(settings)
        try:
            page_list, token, counts = asyncio.run(prepare())
            asyncio.run(wait_ready([s.url for s in servers[:1]]))
            asyncio.run(_wait_listening(servers[1]))
            driver = "wrk" if use_wrk(args) else "Python driver"
            load_before = os.getloadavg()[0]
            results = measure(servers, page_list, operation_ids(), token, args)
            load = (load_before, os.getloadavg()[0])
        except BaseException:
            for server in servers:
                server.log.seek(0)
                output = server.log.read().decode()[-3000:]
                if output.strip():
                    print(f"--- {server.name}'s output:\n{output}")
            raise
        finally:
            for server in servers:
                server.process.terminate()
            for server in servers:
                with suppress(subprocess.TimeoutExpired):
                    server.process.wait(timeout=10)
                server.log.close()
        dialect = "postgresql" if url.startswith("postgresql") else "sqlite"
        print_table(dialect, results, counts, driver, load)


async def _commits_without_waiting(db: Database) -> None:
    """The scratch database's commits stop waiting for the disk (synchronous_commit off, on
    this database only): the demo's thousand small transactions load twice as fast. The pages
    measured only read."""
    async with db.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        name = make_url(db.url).database
        await autocommit.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    await db.engine.dispose()  # connections made from now on take it


async def _wait_listening(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.1)
    raise SystemExit(f"{server.name} did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every volume")
    parser.add_argument(
        "--listings", type=int, help="this many listings whatever the scale (issue 17: 10,000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="per page and connection count")
    parser.add_argument(
        "--seconds", type=float, default=5, help="one round of one server, at least"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=30, help="the longest round (slow pages)"
    )
    parser.add_argument("--warmup", type=float, default=2, help="per page and server")
    parser.add_argument("--connections", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--pages", nargs="+", help="only these rows (labels)")
    parser.add_argument("--python-driver", action="store_true", help="even when wrk is there")
    parser.add_argument("--strict-sql", action="store_true", help="stop on SQL drift too")
    parser.add_argument("--show-sql", action="store_true", help="print the product's SQL")
    parser.add_argument("--short", action="store_true", help="CI: tiny volumes, one short round")
    parser.add_argument("--variants", type=int, default=VARIANTS, help="sets of variables a page")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    if args.short:
        args.scale, args.rounds, args.seconds, args.warmup, args.variants = 0.001, 1, 0.2, 0, 3
    run(args)


if __name__ == "__main__":
    main()
