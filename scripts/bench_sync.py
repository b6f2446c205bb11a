"""Benchmark: the offline sync feed and what the change log costs writers, through the real app.

1. Log: C change rows (200,000 by default) of 200 other firms, with R rows (300) of one reader
   firm's listings spread among them, inserted in bulk, as if months of a busy cluster.
2. Feed: the reader walks its R changes from the start of the log, 100 at a time (pages timed),
   then asks 200 times with a cursor at the head ("nothing new": what most calls are).
3. Writers: W ``listingCreate(publish: true)`` one at a time, then W at once (``--concurrency``
   in flight, W firms), each run twice: with the change log, and with it switched off in this
   process (tracking emptied): what the log costs a write, and whether the commit-number row
   (locked until each commit) serialises a burst.
4. Fan-out (PostgreSQL): one transaction notifies F people (``--fanout``, 10,000), as cancelling
   a large event does, so it writes F change rows while it holds the commit-number row; a small
   write started the moment it took its number shows how long others wait for it.

    .venv/bin/python scripts/bench_sync.py                       # SQLite in a temp folder
    .venv/bin/python scripts/bench_sync.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from bench_trades import _analyze, _cluster, _listing_rows, _seed_firms
from benchkit import Client, bench_database, cursor_from_the_start, latency_line
from sqlalchemy import func, insert, select, update

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.kit.db import Database, before_commit, new_id, utcnow
from backend.marketplace.models import Listing
from backend.notifications import service as notifications
from backend.notifications.models import NotificationKind
from backend.settings import Settings
from backend.sync import log as sync_log
from backend.sync.models import Change, ChangeType, SyncLogState

START = "query { changes { cursor } }"
CHANGES = """
query Changes($since: String!, $first: Int) {
  changes(since: $since, first: $first) {
    cursor hasMore items { type id action listing { id title status version } }
  }
}
"""
CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) { listing { id } errors { code message } }
}
"""


def listing_input(n: int) -> dict[str, Any]:
    return {
        "kind": "OFFER",
        "category": "BY_PRODUCT",
        "title": f"Cedar shavings lot {n}",
        "materialCode": "wood-shavings",
        "quantity": "10",
        "unit": "TNE",
        "pricePerUnit": "5000",
        "location": {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"},
        "publish": True,
    }


@contextmanager
def change_log_off() -> Iterator[None]:
    """This process writes no change rows while the block runs (for the comparison only)."""
    tracked, wideners = dict(sync_log._tracked), dict(sync_log._wideners)
    note = sync_log.note
    sync_log._tracked.clear()
    sync_log._wideners.clear()
    sync_log.note = lambda *args, **kwargs: None  # type: ignore[assignment]
    try:
        yield
    finally:
        sync_log._tracked.update(tracked)
        sync_log._wideners.update(wideners)
        sync_log.note = note  # type: ignore[assignment]


async def _fill_log(
    db: Database, reader: Any, others: list[Any], rows: int, mine: int, rng: random.Random
) -> None:
    now = utcnow()
    rows_of_reader = _listing_rows(mine, rng, [reader], set(), now)
    listing_ids = [row["id"] for row in rows_of_reader]
    async with db.write() as session:
        await session.execute(insert(Listing), rows_of_reader)
    async with db.read() as session:
        state = await session.get(SyncLogState, 1)
    base = state.last_sequence if state else 0  # the demo's own commits come first
    mine_at = set(rng.sample(range(rows), mine))
    batch: list[dict[str, Any]] = []
    next_mine = iter(listing_ids)
    async with db.write() as session:
        for sequence in range(1, rows + 1):
            if sequence - 1 in mine_at:
                scope, entity = sync_log.organisation(reader.organisation_id), next(next_mine)
            else:
                scope, entity = sync_log.organisation(rng.choice(others).organisation_id), new_id()
            batch.append(
                {
                    "scope_id": scope,
                    "sequence": base + sequence,
                    "position": 0,
                    "entity_type": ChangeType.LISTING,
                    "entity_id": entity,
                    "created_at": now,
                }
            )
            if len(batch) == 5000:
                await session.execute(insert(Change), batch)
                batch = []
        if batch:
            await session.execute(insert(Change), batch)
        await session.execute(
            update(SyncLogState).where(SyncLogState.id == 1).values(last_sequence=base + rows)
        )
    await _analyze(db, "sync_changes", "listings")


async def _feed(client: Client, token: str, mine: int) -> None:
    since = cursor_from_the_start((await client.must(START, {}, token))[0]["changes"]["cursor"])
    pages, seen = [], 0
    while True:
        data, elapsed = await client.must(CHANGES, {"since": since, "first": 100}, token)
        feed = data["changes"]
        pages.append(elapsed)
        seen += len(feed["items"])
        since = feed["cursor"]
        if not feed["hasMore"]:
            break
    print(
        f"feed from the start of the log: {seen} changes (expected {mine}) in {len(pages)} "
        f"pages of 100: {', '.join(f'{p:.1f}' for p in pages)} ms"
    )
    quiet = []
    for _ in range(200):
        data, elapsed = await client.must(CHANGES, {"since": since, "first": 100}, token)
        assert data["changes"]["items"] == []
        quiet.append(elapsed)
    print(f"feed at the head (nothing new) x {len(quiet)}: {latency_line(quiet)}")


async def _writers(client: Client, firms: list[Any], writes: int, concurrency: int) -> None:
    for label, off in (("with the change log", False), ("change log off", True)):
        with change_log_off() if off else _nothing():
            one = []
            for n in range(writes):
                data, elapsed = await client.must(
                    CREATE, {"input": listing_input(n)}, firms[n % len(firms)].token
                )
                assert data["listingCreate"]["errors"] == [], data
                one.append(elapsed)
            gate = asyncio.Semaphore(concurrency)

            async def create(n: int, gate: asyncio.Semaphore = gate) -> float:
                async with gate:
                    data, elapsed = await client.must(
                        CREATE, {"input": listing_input(n)}, firms[n % len(firms)].token
                    )
                    assert data["listingCreate"]["errors"] == [], data
                    return elapsed

            started = time.perf_counter()
            burst = await asyncio.gather(*(create(n) for n in range(writes)))
            wall = time.perf_counter() - started
        print(f"listingCreate one at a time x {writes}, {label}: {latency_line(one)}")
        print(
            f"listingCreate burst x {writes} ({concurrency} in flight), {label}: "
            f"{wall:.2f} s, {writes / wall:.0f}/s; {latency_line(list(burst))}"
        )


async def _fanout(
    db: Database, settings: Settings, people: int, organisation_id: Any, rng: random.Random
) -> None:
    audience = await _seed_firms(db, settings, [_cluster("maniwa-wood")] * people, "fan", rng)
    numbered = asyncio.Event()
    times: dict[str, float] = {}

    async def held(_session: Any) -> None:
        times["numbered"] = time.perf_counter()
        numbered.set()

    async def big() -> None:
        started = time.perf_counter()
        async with db.write() as session:
            # first in line of the commit step: the change log's numbering comes after it
            before_commit(session, held)
            await notifications.add(
                session,
                user_ids=[firm.user_id for firm in audience],
                kind=NotificationKind.EVENT_CANCELLED,
                title="Cancelled: pellet workshop",
                subject_type="EVENT",
                subject_id=new_id(),
                now=utcnow(),
            )
        times["big"] = time.perf_counter() - started
        times["committed"] = time.perf_counter()

    async def small() -> None:
        await numbered.wait()
        started = time.perf_counter()
        scope = sync_log.organisation(organisation_id)
        async with db.write() as session:
            sync_log.note(session, ChangeType.LISTING, new_id(), [scope])
        times["small"] = time.perf_counter() - started

    await asyncio.gather(big(), small())
    commit_step = (times["committed"] - times["numbered"]) * 1000
    print(
        f"fan-out: one transaction notifying {people} people took {times['big'] * 1000:.0f} ms, "
        f"{commit_step:.0f} ms of it in its commit step (numbering, {people} change rows, "
        f"commit); a one-row write started as that step began waited {times['small'] * 1000:.0f} ms"
    )


@contextmanager
def _nothing() -> Iterator[None]:
    yield


async def _run(db: Database, settings: Settings, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    await demo.seed_demo(db, Passwords(settings))
    maniwa = _cluster("maniwa-wood")
    reader, *others = await _seed_firms(db, settings, [maniwa] * 201, "sync", rng)
    started = time.perf_counter()
    await _fill_log(db, reader, others, args.rows, args.mine, rng)
    async with db.read() as session:
        total = await session.scalar(select(func.count()).select_from(Change))
    print(
        f"{db.dialect}: change log of {total} rows ({args.mine} the reader's) inserted in "
        f"{time.perf_counter() - started:.1f} s"
    )
    app = create_app(settings, db=db)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://bench",
        timeout=httpx.Timeout(600),
    ) as http:
        client = Client(http)
        await _feed(client, reader.token, args.mine)
        await _writers(client, others, args.writes, args.concurrency)
    if db.dialect == "postgresql" and args.fanout:
        await _fanout(db, settings, args.fanout, others[0].organisation_id, rng)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rows", type=int, default=200_000, help="change rows in the log")
    parser.add_argument("--mine", type=int, default=300, help="of them, the reader's")
    parser.add_argument("--writes", type=int, default=200, help="listingCreate per phase")
    parser.add_argument("--concurrency", type=int, default=50, help="creates in flight")
    parser.add_argument("--fanout", type=int, default=10_000, help="people told at once")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    with bench_database(args.database_url, keep=False, access_token_ttl_seconds=3600) as (
        url,
        settings,
    ):

        async def run() -> None:
            db = Database(url)
            try:
                await _run(db, settings, args)
            finally:
                await db.dispose()

        asyncio.run(run())


if __name__ == "__main__":
    main()
