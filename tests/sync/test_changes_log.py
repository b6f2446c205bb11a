"""The change log under the feed: commit numbers in commit order under concurrent writers, what
the cursor accepts and refuses, pruning, the `types` and `first` arguments, statement counts, and
writes that fail."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from backend.jobs import run_due_jobs
from backend.kit.clock import ManualClock
from backend.kit.db import Database, before_commit, utcnow
from backend.kit.errors import ErrorCode, ServiceError
from backend.marketplace.models import Listing
from backend.settings import Settings
from backend.sync import log as sync_log
from backend.sync import service as sync_service
from backend.sync.log import note, organisation
from backend.sync.models import Change, ChangeType, SyncLogState
from backend.sync.service import RETENTION, WHOLE_COMMIT
from tests.conftest import GraphQL, seed_people
from tests.marketplace.trading_kit import OFFER_FIELDS, make_offer, publish
from tests.sync.sync_kit import CHANGES, brief, changes_page, start, sync

PAGE_WITH_DETAIL = f"""
query Page($since: String!) {{
  changes(since: $since) {{
    cursor hasMore
    items {{
      type id action
      listing {{
        id status title version quantity quantityCommitted quantityRemaining currency
        material {{ code name }} unit {{ code }} viewerCanManage
        organisation {{ id name trustScore cluster {{ name }} }}
      }}
      offer {{ {OFFER_FIELDS} }}
      notification {{ id kind title subjectType subjectId readAt }}
    }}
  }}
}}
"""


def cursor_text(sequence: int, position: int, audience: str) -> str:
    raw = f"sync1:{sequence}:{position}:{audience}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_parts(cursor: str) -> tuple[int, int, str]:
    prefix, sequence, position, audience = (
        base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")
    )
    assert prefix == "sync1"
    return int(sequence), int(position), audience


def refusal(body: dict[str, Any]) -> list[tuple[str, str | None]]:
    """The (code, field) of each error of a refused `changes` call, which answers no data."""
    assert body.get("data") is None, body
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]]


async def ask(gql: GraphQL, token: str, since: str, **variables: Any) -> dict[str, Any]:
    return await gql(CHANGES, {"since": since, **variables}, token=token)


async def sequences_of(db: Database, change_type: ChangeType) -> dict[str, set[int]]:
    """The commit numbers each thing of a kind was changed in, by its id."""
    async with db.read() as session:
        rows = await session.execute(
            select(Change.entity_id, Change.sequence).where(Change.entity_type == change_type)
        )
        found: dict[str, set[int]] = {}
        for entity_id, sequence in rows:
            found.setdefault(str(entity_id), set()).add(sequence)
        return found


async def log_state(db: Database) -> tuple[int, int]:
    """(last commit number given out, pruned through); (0, 0) before the first."""
    async with db.read() as session:
        state = await session.get(SyncLogState, 1)
        return (state.last_sequence, state.pruned_through) if state else (0, 0)


async def change_rows(db: Database) -> list[tuple[Any, ...]]:
    async with db.read() as session:
        rows = await session.execute(
            select(Change.sequence, Change.position, Change.scope_id, Change.entity_id)
        )
        return sorted(tuple(row) for row in rows)


def far_past_retention(clock: ManualClock) -> None:
    """Move the app's clock so that every change written so far (stamped with the system time)
    is older than the retention window."""
    clock.set(utcnow() + RETENTION + timedelta(days=1))


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``condition`` (bounded: 10 s) until it holds."""
    for _ in range(1000):
        if await condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


# ---------------------------------------------------------------------------------------------
# Commit numbers follow commit order


async def test_concurrent_writers_each_get_their_own_commit_number_and_reach_their_feed(
    gql: GraphQL, db: Database, settings: Settings, cluster_id: str
) -> None:
    # Given twenty firms, each synced
    people = await seed_people(db, settings, cluster_id, 20)
    cursors = [await start(gql, person.token) for person in people]
    # when all of them publish a listing at the same moment
    async with asyncio.TaskGroup() as group:
        writers = [
            group.create_task(publish(gql, person.token, title=f"Lot {n}"))
            for n, person in enumerate(people)
        ]
    ids = [writer.result()["id"] for writer in writers]
    # then each commit has a number of its own, and the numbers run without a gap
    numbers = await sequences_of(db, ChangeType.LISTING)
    assert set(numbers) == set(ids)
    assert all(len(sequences) == 1 for sequences in numbers.values()), numbers
    taken = sorted(sequence for sequences in numbers.values() for sequence in sequences)
    assert taken == list(range(taken[0], taken[0] + 20))
    assert (await log_state(db))[0] == taken[-1]
    # and each firm's app gets its own listing, exactly once
    for person, since, listing_id in zip(people, cursors, ids, strict=True):
        items, _ = await sync(gql, person.token, since)
        assert brief(items) == [("LISTING", listing_id, "UPSERT")]


async def test_a_reader_polling_while_twenty_writers_commit_misses_nothing(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a synced firm
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    waves = [asyncio.Event() for _ in range(4)]
    writing = True
    polls = 0
    seen: Counter[str] = Counter()

    async def read_along() -> str:
        nonlocal polls
        cursor = since
        while writing:
            feed = await changes_page(gql, mill.access_token, cursor, first=3)
            seen.update(item["id"] for item in feed["items"])
            cursor = feed["cursor"]
            if polls < len(waves):
                waves[polls].set()  # the next wave of writers starts while it reads on
            polls += 1
        return cursor

    async def write(n: int) -> dict[str, Any]:
        await waves[n % len(waves)].wait()
        return await publish(gql, mill.access_token, title=f"Lot {n}")

    async def write_all() -> list[dict[str, Any]]:
        nonlocal writing
        try:
            async with asyncio.TaskGroup() as group:
                writers = [group.create_task(write(n)) for n in range(20)]
        finally:
            writing = False
        return [writer.result() for writer in writers]

    # when its app keeps polling while twenty listings are published, in four waves of five
    # concurrent writers that each start once the app has polled once more
    async with asyncio.TaskGroup() as group:
        reader = group.create_task(read_along())
        writing_all = group.create_task(write_all())
    listings, cursor = writing_all.result(), reader.result()
    # and reads the rest once the writers are done
    rest, _ = await sync(gql, mill.access_token, cursor)
    seen.update(item["id"] for item in rest)
    # then it saw every listing, and none twice (each was changed once)
    assert polls > len(waves)
    assert seen == Counter(listing["id"] for listing in listings)


async def test_a_numbered_transaction_not_yet_committed_holds_back_the_next_number(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    if db.dialect != "postgresql":
        pytest.skip("SQLite has one writer at a time: there is no second writer to hold back")
    # Given a synced firm
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    scope = organisation(uuid.UUID(mill.organisation_id))
    since = await start(gql, mill.access_token)
    first_id, second_id = uuid.uuid4(), uuid.uuid4()
    numbered, release = asyncio.Event(), asyncio.Event()
    pids: dict[str, int] = {}

    async def hold(_session: Any) -> None:
        numbered.set()
        await release.wait()

    async def first() -> None:
        async with db.write() as session:
            pids["first"] = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            note(session, ChangeType.LISTING, first_id, [scope])
            before_commit(session, hold)  # runs after the log took the commit number

    async def second() -> None:
        async with db.write() as session:
            pids["second"] = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            note(session, ChangeType.LISTING, second_id, [scope])

    async def second_waits_for_first() -> bool:
        if "second" not in pids:
            return False
        async with db.read() as session:
            blocked = await session.execute(
                text(
                    "SELECT :first = ANY(pg_blocking_pids(pid)), query FROM pg_stat_activity "
                    "WHERE pid = :second"
                ),
                {"first": pids["first"], "second": pids["second"]},
            )
            row = blocked.one_or_none()
        return row is not None and bool(row[0]) and "sync_log_state" in row[1]

    # when one transaction has taken its commit number but not yet committed
    holder = asyncio.create_task(first())
    follower: asyncio.Task[None] | None = None
    try:
        await asyncio.wait_for(numbered.wait(), timeout=10)
        # then a reader meanwhile is not moved past that number
        during = await changes_page(gql, mill.access_token, since)
        assert (during["items"], during["cursor"]) == ([], since)
        # and a second writer waits at its commit number step for the first to commit
        follower = asyncio.create_task(second())
        await until(second_waits_for_first, "the second writer waits for the first's lock")
        assert not follower.done()
        assert not holder.done()
    finally:
        release.set()
        await holder
        if follower is not None:
            await follower
    # and once both committed, the first has the lower number, the second the next one
    numbers = await sequences_of(db, ChangeType.LISTING)
    assert set(numbers) == {str(first_id), str(second_id)}
    (first_number,), (second_number,) = numbers[str(first_id)], numbers[str(second_id)]
    assert second_number == first_number + 1
    # and the reader's cursor from during the hold gets both, in commit order (tombstones:
    # nothing was stored under those ids)
    items, _ = await sync(gql, mill.access_token, during["cursor"])
    assert brief(items) == [
        ("LISTING", str(first_id), "TOMBSTONE"),
        ("LISTING", str(second_id), "TOMBSTONE"),
    ]


async def test_a_reader_during_a_numbered_but_uncommitted_write_does_not_skip_it(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a synced firm
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    listing = await publish(gql, mill.access_token)
    numbered, release = asyncio.Event(), asyncio.Event()

    async def hold(_session: Any) -> None:
        numbered.set()
        await release.wait()

    async def retitle() -> None:
        async with db.write() as session:
            row = await session.get(Listing, uuid.UUID(listing["id"]))
            assert row is not None
            row.title = "Retitled"
            await session.flush()  # the flush listener notes the change
            before_commit(session, hold)

    # when a write has taken its commit number and waits before committing
    writer = asyncio.create_task(retitle())
    try:
        await asyncio.wait_for(numbered.wait(), timeout=10)
        # then an app syncing meanwhile gets what was committed, and a cursor before the write
        during, cursor = await sync(gql, mill.access_token, since)
        assert brief(during) == [("LISTING", listing["id"], "UPSERT")]
        assert during[0]["listing"]["title"] == "Cedar shavings, dry"
    finally:
        release.set()
        await writer
    # and once it committed, that cursor gets the change
    after, _ = await sync(gql, mill.access_token, cursor)
    assert [(i["id"], i["listing"]["title"]) for i in after] == [(listing["id"], "Retitled")]


# ---------------------------------------------------------------------------------------------
# Cursors


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a cursor!",
        base64.urlsafe_b64encode(b"sync1:1:1").decode(),  # a part missing
        base64.urlsafe_b64encode(b"sync2:1:0:x").decode(),  # another version's
        base64.urlsafe_b64encode(b"sync1:one:0:x").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe:1:0:x").decode(),
        cursor_text(-1, 0, "x"),
        cursor_text(0, -1, "x"),
        cursor_text(0, WHOLE_COMMIT + 1, "x"),
    ],
)
async def test_a_cursor_that_is_no_cursor_is_refused(
    gql: GraphQL, register: Any, cluster_id: str, garbage: str
) -> None:
    # Given a signed-in firm
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    # when its app sends something that is not a cursor `changes` gave
    body = await ask(gql, mill.access_token, garbage)
    # then it is refused as invalid
    assert refusal(body) == [("VALIDATION", "since")]


async def test_a_cursor_of_another_account_asks_for_a_resync(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given two firms, one of them synced
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    mills_cursor = await start(gql, mill.access_token)
    # when the other firm's app syncs with that cursor
    body = await ask(gql, pellets.access_token, mills_cursor)
    # then it is told to load its copy again
    assert refusal(body) == [("RESYNC_REQUIRED", "since")]
    # while the cursor still serves its own firm
    assert "errors" not in await ask(gql, mill.access_token, mills_cursor)


async def test_a_cursor_beyond_the_head_of_the_log_asks_for_a_resync(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    # Given a synced firm that published a listing
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    await publish(gql, mill.access_token)
    head, _ = await log_state(db)
    _, _, audience = cursor_parts(since)
    # when its app sends a cursor of its own audience at the head, and one past it
    at_head = await ask(gql, mill.access_token, cursor_text(head, WHOLE_COMMIT, audience))
    beyond = await ask(gql, mill.access_token, cursor_text(head + 1, 0, audience))
    huge = await ask(gql, mill.access_token, cursor_text(2**70, 0, audience))
    # then the one at the head answers nothing new; the ones past it (as after restoring the
    # database from a backup) ask the app to load its copy again
    assert at_head["data"]["changes"] == {
        "cursor": cursor_text(head, WHOLE_COMMIT, audience),
        "hasMore": False,
        "items": [],
    }
    assert refusal(beyond) == [("RESYNC_REQUIRED", "since")]
    assert refusal(huge) == [("RESYNC_REQUIRED", "since")]


async def test_after_a_prune_an_old_cursor_resyncs_and_a_new_one_gets_new_changes(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, clock: ManualClock
) -> None:
    # Given a firm synced before it published a listing
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    old = await start(gql, mill.access_token)
    await publish(gql, mill.access_token, title="Old lot")
    rows = len(await change_rows(db))
    # when that change is more than 30 days old and the due jobs run
    far_past_retention(clock)
    report = await run_due_jobs(db, clock)
    # then the log forgot it
    assert report.sync_changes_forgotten == rows > 0
    assert await change_rows(db) == []
    head, pruned = await log_state(db)
    assert pruned == head
    # and the old cursor is told to resync
    assert refusal(await ask(gql, mill.access_token, old)) == [("RESYNC_REQUIRED", "since")]
    # while a cursor taken after the prune gets what changes next, and only that
    fresh = await start(gql, mill.access_token)
    new = await publish(gql, mill.access_token, title="New lot")
    items, _ = await sync(gql, mill.access_token, fresh)
    assert [(i["id"], i["listing"]["title"]) for i in items] == [(new["id"], "New lot")]


async def test_a_quiet_app_keeps_up_with_the_head_and_needs_no_resync_after_a_prune(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, clock: ManualClock
) -> None:
    # Given a quiet firm synced before another firm published two listings
    quiet = await register("quiet@maniwa.example", cluster_id, name="Quiet Firm")
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    before = await start(gql, quiet.access_token)
    await publish(gql, mill.access_token, title="Lot 1")
    await publish(gql, mill.access_token, title="Lot 2")
    head, _ = await log_state(db)
    # when the quiet app syncs, it gets nothing but a cursor moved to the head
    feed = await changes_page(gql, quiet.access_token, before)
    assert (feed["items"], feed["hasMore"]) == ([], False)
    assert feed["cursor"] != before
    assert cursor_parts(feed["cursor"])[:2] == (head, WHOLE_COMMIT)
    # and the changes it moved past are pruned
    far_past_retention(clock)
    assert (await run_due_jobs(db, clock)).sync_changes_forgotten > 0
    # then its cursor still works (nothing new), and only the one from before needs a resync
    again = await changes_page(gql, quiet.access_token, feed["cursor"])
    assert again == {"cursor": feed["cursor"], "hasMore": False, "items": []}
    assert refusal(await ask(gql, quiet.access_token, before)) == [("RESYNC_REQUIRED", "since")]


async def test_a_prune_with_nothing_old_enough_forgets_nothing(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, clock: ManualClock
) -> None:
    # Given a synced firm with a listing published just now
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    listing = await publish(gql, mill.access_token)
    rows = await change_rows(db)
    # when the due jobs run 29 days later
    clock.set(utcnow() + RETENTION - timedelta(days=1))
    report = await run_due_jobs(db, clock)
    # then nothing is forgotten and the cursor still gets the listing
    assert report.sync_changes_forgotten == 0
    assert await change_rows(db) == rows
    items, _ = await sync(gql, mill.access_token, since)
    assert brief(items) == [("LISTING", listing["id"], "UPSERT")]


# ---------------------------------------------------------------------------------------------
# `types` and `first`


async def test_types_names_the_kinds_that_come(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a synced mill that got an offer on its listing (and a notification of it)
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    since = await start(gql, mill.access_token)
    listing = await publish(gql, mill.access_token)
    offer = await make_offer(gql, pellets.access_token, listing["id"])
    # when its app asks for one kind, two kinds, or all
    offers, _ = await sync(gql, mill.access_token, since, types=["OFFER"])
    listings, _ = await sync(gql, mill.access_token, since, types=["LISTING"])
    both, _ = await sync(gql, mill.access_token, since, types=["OFFER", "LISTING"])
    events, _ = await sync(gql, mill.access_token, since, types=["EVENT"])
    everything, _ = await sync(gql, mill.access_token, since)
    # then only the named kinds come
    assert brief(offers) == [("OFFER", offer["id"], "UPSERT")]
    assert brief(listings) == [("LISTING", listing["id"], "UPSERT")]
    assert brief(both) == [
        ("LISTING", listing["id"], "UPSERT"),
        ("OFFER", offer["id"], "UPSERT"),
    ]
    assert events == []
    assert [t for t, _, _ in brief(everything)] == ["LISTING", "OFFER", "NOTIFICATION"]


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"types": []}, "types"),
        ({"first": 0}, "first"),
        ({"first": -1}, "first"),
        ({"first": 501}, "first"),
    ],
)
async def test_no_types_or_a_page_size_out_of_range_is_refused(
    gql: GraphQL, register: Any, cluster_id: str, variables: dict[str, Any], field: str
) -> None:
    # Given a synced firm
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    # when its app asks with an empty `types` or a page size out of 1..500
    body = await ask(gql, mill.access_token, since, **variables)
    # then it is refused
    assert refusal(body) == [("VALIDATION", field)]


async def test_the_page_size_limits_hold_at_their_edges(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a synced firm with two listings
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    ids = [(await publish(gql, mill.access_token, title=f"Lot {n}"))["id"] for n in range(2)]
    # when its app asks for one, then one more, and for 500
    one = await changes_page(gql, mill.access_token, since, first=1)
    next_one = await changes_page(gql, mill.access_token, one["cursor"], first=1)
    most = await changes_page(gql, mill.access_token, since, first=500)
    # then it gets one and more to come, then the other, and both at once with no more
    assert ([i["id"] for i in one["items"]], one["hasMore"]) == (ids[:1], True)
    assert ([i["id"] for i in next_one["items"]], next_one["hasMore"]) == (ids[1:], False)
    assert ([i["id"] for i in most["items"]], most["hasMore"]) == (ids, False)
    assert next_one["cursor"] == most["cursor"]


# ---------------------------------------------------------------------------------------------
# Statements


async def test_a_page_of_sixty_things_costs_the_statements_of_a_page_of_two(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    # Given a mill with one listing and one offer on it since its last sync
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id)
    since = await start(gql, mill.access_token)
    listing = await publish(gql, mill.access_token)
    await make_offer(gql, pellets.access_token, listing["id"])
    with sql_statements() as small_log:
        small = await gql(PAGE_WITH_DETAIL, {"since": since}, token=mill.access_token)
    assert "errors" not in small, small
    # and then 30 more listings with an offer on each
    since = small["data"]["changes"]["cursor"]
    for n in range(30):
        more = await publish(gql, mill.access_token, title=f"Lot {n}")
        await make_offer(gql, pellets.access_token, more["id"])
    # when its app reads them all in one page, with what each kind's detail screen shows
    with sql_statements() as large_log:
        large = await gql(PAGE_WITH_DETAIL, {"since": since}, token=mill.access_token)
    assert "errors" not in large, large
    # then both pages are whole and cost the same number of statements
    kinds = [
        Counter(item["type"] for item in body["data"]["changes"]["items"])
        for body in (small, large)
    ]
    assert kinds == [
        {"LISTING": 1, "OFFER": 1, "NOTIFICATION": 1},
        {"LISTING": 30, "OFFER": 30, "NOTIFICATION": 30},
    ]
    fields = {"LISTING": "listing", "OFFER": "offer", "NOTIFICATION": "notification"}
    assert all(
        item["action"] == "UPSERT" and item[fields[item["type"]]] is not None
        for item in large["data"]["changes"]["items"]
    )
    assert large_log.count == small_log.count, (small_log.statements, large_log.statements)
    # pinned: the log (state, scopes, changes, state again), each kind's loads (listings: the
    # rows, sellers, materials, units) and the access check; SQLite's BEGINs count too
    assert large_log.count == (24 if db.dialect == "sqlite" else 19), large_log.statements


# ---------------------------------------------------------------------------------------------
# Writes that fail


async def test_a_write_that_fails_records_no_change_and_takes_no_commit_number(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    # Given a synced firm with a listing
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    listing = await publish(gql, mill.access_token)
    since = await start(gql, mill.access_token)
    rows, state = await change_rows(db), await log_state(db)
    listing_id = uuid.UUID(listing["id"])

    async def refuse(_session: Any) -> None:
        raise ServiceError.of(ErrorCode.CONFLICT, "Refused at the last step")

    async def fail_midway() -> None:
        async with db.write() as session:
            row = await session.get(Listing, listing_id)
            assert row is not None
            row.title = "Never committed"
            await session.flush()  # the flush listener notes the change
            raise ServiceError.of(ErrorCode.CONFLICT, "Refused midway")

    async def fail_when_numbered() -> None:
        async with db.write() as session:
            scope = organisation(uuid.UUID(mill.organisation_id))
            note(session, ChangeType.LISTING, listing_id, [scope])
            before_commit(session, refuse)  # runs after the log took its commit number

    # when a write fails after flushing a change to the listing
    with pytest.raises(ServiceError, match="Refused midway"):
        await fail_midway()
    # and another fails after the log took its commit number and wrote its rows
    with pytest.raises(ServiceError, match="Refused at the last step"):
        await fail_when_numbered()
    # then no change was recorded, no number taken, and the app has nothing new
    assert (await change_rows(db), await log_state(db)) == (rows, state)
    feed = await changes_page(gql, mill.access_token, since)
    assert feed == {"cursor": since, "hasMore": False, "items": []}
    # and the next write that commits takes the next number
    async with db.write() as session:
        row = await session.get(Listing, listing_id)
        assert row is not None
        row.title = "Committed"
    assert await log_state(db) == (state[0] + 1, state[1])
    items, _ = await sync(gql, mill.access_token, since)
    assert [(i["id"], i["listing"]["title"]) for i in items] == [(listing["id"], "Committed")]


async def test_a_prune_committed_while_the_feed_reads_asks_for_a_resync(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    db: Database,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a firm whose cursor is older than a listing it published, and a clock past the
    # retention window
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    listing = await publish(gql, mill.access_token)
    clock.set(utcnow() + sync_service.RETENTION + timedelta(days=1))
    scopes = sync_service._scopes

    async def prune_then_scopes(session: Any, viewer: Any) -> Any:
        assert await sync_service.prune(db=db, now=clock.now()) > 0
        return await scopes(session, viewer)

    # when the due jobs prune the log between the feed's reading of the log's state and of the
    # changes
    monkeypatch.setattr(sync_service, "_scopes", prune_then_scopes)
    body = await ask(gql, mill.access_token, since)
    # then the app is told to resync (PostgreSQL: each statement reads what is committed), or
    # gets the change from the snapshot the feed began with (SQLite: one snapshot per read
    # transaction), never an empty page and the head
    if "errors" in body:
        assert refusal(body) == [("RESYNC_REQUIRED", "since")]
        assert db.dialect == "postgresql"
    else:
        assert brief(body["data"]["changes"]["items"]) == [("LISTING", listing["id"], "UPSERT")]


async def test_a_long_log_is_pruned_a_step_of_commits_at_a_time(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    db: Database,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given five commits of changes, all past the retention window, and steps of two commits
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    for n in range(5):
        await publish(gql, mill.access_token, title=f"Lot {n}")
    head, _ = await log_state(db)
    rows = len(await change_rows(db))
    monkeypatch.setattr(sync_service, "PRUNE_STEP", 2)
    steps: list[int] = []
    write = db.write

    def counted_write() -> Any:
        steps.append(1)
        return write()

    monkeypatch.setattr(db, "write", counted_write)
    # when they are pruned
    removed = await sync_service.prune(db=db, now=utcnow() + RETENTION + timedelta(days=1))
    # then every row went, in one transaction per step, and the log says so
    assert removed == rows
    assert len(steps) == -(-head // 2)
    assert await change_rows(db) == []
    assert await log_state(db) == (head, head)


async def test_a_commit_of_many_changes_is_written_whole_and_read_in_pages(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    # Given a synced firm, and one transaction changing more things of its organisation than
    # the size above which PostgreSQL writes them by COPY
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    since = await start(gql, mill.access_token)
    count = sync_log.COPY_ABOVE + 100
    changed = [uuid.uuid4() for _ in range(count)]
    scope = organisation(uuid.UUID(mill.organisation_id))
    async with db.write() as session:
        for entity_id in changed:
            note(session, ChangeType.LISTING, entity_id, [scope])
    # then they are one commit, each at its own position
    async with db.read() as session:
        rows = (
            await session.execute(
                select(Change.sequence, Change.position, Change.entity_id).order_by(Change.position)
            )
        ).all()
    assert len({row.sequence for row in rows}) == 1
    assert [row.position for row in rows] == list(range(count))
    assert [row.entity_id for row in rows] == changed
    # and the app reads them all, in that order, a page of 500 and the rest
    first = await changes_page(gql, mill.access_token, since, first=500)
    rest, _ = await sync(gql, mill.access_token, first["cursor"])
    assert first["hasMore"] is True
    assert [item["id"] for item in first["items"] + rest] == [str(e) for e in changed]
