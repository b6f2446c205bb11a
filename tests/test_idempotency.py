"""Safe retries with Idempotency-Key, through the real app, on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.engine import make_url

from backend import idempotency
from backend.idempotency import IdempotencyKey
from backend.jobs import run_due_jobs
from backend.kit.clock import ManualClock
from backend.kit.db import Database, utcnow
from backend.marketplace.models import Listing
from tests.conftest import seed_people
from tests.marketplace.trading_kit import listing_input

CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) { listing { id title } errors { code message field } }
}
"""


def listing(title: str = "Cedar shavings, dry") -> dict[str, Any]:
    return {"query": CREATE, "variables": {"input": listing_input(title=title)}}


async def send(
    client: httpx.AsyncClient, token: str, body: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post("/graphql", json=body, headers=headers)


async def listings(db: Database) -> int:
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(Listing)) or 0


async def test_a_retried_mutation_is_answered_from_the_first_and_done_once(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a firm that creates a listing with a key, and loses the answer
    firm = await register("firm@maniwa.example", cluster_id)
    first = await send(client, firm.access_token, listing(), "key-1")
    # when the app sends the same request with the same key
    again = await send(client, firm.access_token, listing(), "key-1")
    # then it gets the first answer, marked as replayed, and there is one listing
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert first.json()["data"]["listingCreate"]["errors"] == []
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert await listings(db) == 1


async def test_the_same_key_for_another_request_is_refused(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    firm = await register("firm@maniwa.example", cluster_id)
    await send(client, firm.access_token, listing(), "key-1")
    other = await send(client, firm.access_token, listing("Sawdust, dry"), "key-1")
    assert other.status_code == 422
    assert other.json() == {
        "errors": [
            {
                "message": "This Idempotency-Key was used for another request; use a new key "
                "per action",
                "extensions": {"code": "IDEMPOTENCY_KEY_REUSED"},
            }
        ]
    }
    assert await listings(db) == 1


async def test_twenty_copies_at_once_do_the_work_once(
    client: httpx.AsyncClient, db: Database, settings: Any, cluster_id: str
) -> None:
    # Given a firm, when 20 copies of one create arrive at once with one key
    (firm,) = await seed_people(db, settings, cluster_id, 1)
    answers = await asyncio.gather(
        *(send(client, firm.token, listing(), "burst-key") for _ in range(20))
    )
    # then all 20 carry the same listing, with no error, and one listing exists
    bodies = [a.json() for a in answers]
    assert {a.status_code for a in answers} == {200}
    ids = {b["data"]["listingCreate"]["listing"]["id"] for b in bodies}
    assert len(ids) == 1, bodies
    assert all(b["data"]["listingCreate"]["errors"] == [] for b in bodies)
    assert await listings(db) == 1
    replayed = sum(1 for a in answers if a.headers.get("idempotent-replayed") == "true")
    assert replayed == 19


async def test_a_request_that_changed_nothing_stores_nothing(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a create refused by validation (a title of one letter), sent with a key
    firm = await register("firm@maniwa.example", cluster_id)
    refused = await send(client, firm.access_token, listing("X"), "key-1")
    assert refused.json()["data"]["listingCreate"]["errors"][0]["field"] == "title"
    # then the key holds nothing: the corrected request with the same key runs
    fixed = await send(client, firm.access_token, listing("Cedar shavings"), "key-1")
    assert fixed.json()["data"]["listingCreate"]["errors"] == []
    assert "idempotent-replayed" not in fixed.headers
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 1


async def test_keys_are_per_person_and_expire_after_a_day(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    first = await register("first@maniwa.example", cluster_id)
    second = await register("second@maniwa.example", cluster_id, name="Second Firm")
    await send(client, first.access_token, listing(), "shared-key")
    # another person's same key is theirs
    theirs = await send(client, second.access_token, listing(), "shared-key")
    assert "idempotent-replayed" not in theirs.headers
    assert await listings(db) == 2
    # a day later the key is free again, and the due jobs forget the old ones
    clock.advance(timedelta(hours=24, seconds=1))
    later = await send(client, first.access_token, listing(), "shared-key")
    assert "idempotent-replayed" not in later.headers
    assert await listings(db) == 3
    report = await run_due_jobs(db, clock)
    assert report.idempotency_keys_forgotten == 1  # the second person's; the first's was renewed


async def test_a_key_needs_one_to_two_hundred_characters(
    client: httpx.AsyncClient, register: Any, cluster_id: str
) -> None:
    firm = await register("firm@maniwa.example", cluster_id)
    response = await send(client, firm.access_token, listing(), "k" * 201)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}


async def test_without_a_key_nothing_changes(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    firm = await register("firm@maniwa.example", cluster_id)
    for _ in range(2):
        await send(
            client, firm.access_token, listing(title=f"Shavings {uuid.uuid4().hex[:6]}"), None
        )
    assert await listings(db) == 2
    async with db.read() as session:
        assert await session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0


async def test_a_write_that_rolled_back_does_not_take_the_key_with_it(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a firm's listing, and a request of two mutations: an offer on that listing (refused
    # inside its transaction: it is the firm's own) and a new listing
    firm = await register("firm@maniwa.example", cluster_id)
    own = (await send(client, firm.access_token, listing(), None)).json()
    own_id = own["data"]["listingCreate"]["listing"]["id"]
    both = {
        "query": """
        mutation Both($listingId: ID!, $input: ListingCreateInput!) {
          a: offerCreate(input: {listingId: $listingId, quantity: "1", pricePerUnit: "1"}) {
            errors { code }
          }
          b: listingCreate(input: $input) { listing { id } errors { code } }
        }""",
        "variables": {"listingId": own_id, **listing("Sawdust")["variables"]},
    }
    first = await send(client, firm.access_token, both, "two-step")
    assert first.json()["data"]["a"] == {"errors": [{"code": "FORBIDDEN"}]}
    # when it is sent again with the same key
    again = await send(client, firm.access_token, both, "two-step")
    # then the second listing was made once: the key went with the listing's transaction
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await listings(db) == 2


async def test_the_same_request_spelt_differently_is_the_same_request(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    firm = await register("firm@maniwa.example", cluster_id)
    body = listing()
    await send(client, firm.access_token, body, "spelling")
    # the variables in another key order, the whole in other whitespace
    respelt = json.dumps(
        {**body, "variables": {"input": dict(reversed(body["variables"]["input"].items()))}},
        indent=4,
    )
    again = await client.post(
        "/graphql",
        content=respelt,
        headers={
            "Authorization": f"Bearer {firm.access_token}",
            "Idempotency-Key": "spelling",
            "Content-Type": "application/json",
        },
    )
    assert again.headers["idempotent-replayed"] == "true"
    assert await listings(db) == 1


async def _answer_forgotten(db: Database, key: str, holder: str | None, due: datetime) -> None:
    """As if the server had died between the work's commit and storing its answer."""
    async with db.write() as session:
        await session.execute(
            update(IdempotencyKey)
            .where(IdempotencyKey.key == key)
            .values(response_status=None, response_body=None, holder=holder, answer_due=due)
        )


def _held_by_nobody(db: Database) -> str:
    number = secrets.randbelow(2**40) + 1
    return f"pg:{number}" if db.dialect == "postgresql" else f"sqlite:{number}"


@pytest.mark.parametrize("holder", ["another process, gone", "this process, done", "unknown"])
async def test_work_done_whose_answer_was_lost_is_answered_so_at_once_and_not_done_again(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str, holder: str
) -> None:
    # Given a listing made with a key, whose answer was never stored: its process died (or this
    # one failed to store it, or the row is from before holders were kept)
    firm = await register("firm@maniwa.example", cluster_id)
    first = await send(client, firm.access_token, listing(), "crashed")
    assert first.json()["data"]["listingCreate"]["errors"] == []
    held_by = {
        "another process, gone": _held_by_nobody(db),
        "this process, done": idempotency._liveness(db).holder,
        "unknown": None,
    }[holder]
    await _answer_forgotten(db, "crashed", held_by, utcnow() + timedelta(seconds=30))
    # when the app sends it again with the same key
    started = time.monotonic()
    again = await send(client, firm.access_token, listing(), "crashed")
    # then it learns at once that the work was done and its answer lost, and nothing is done
    # again; so do later retries
    assert time.monotonic() - started < 5
    assert again.status_code == 200
    assert again.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_ANSWER_LOST"}
    assert again.headers["idempotent-replayed"] == "true"
    later = await send(client, firm.access_token, listing(), "crashed")
    assert later.json() == again.json()
    assert await listings(db) == 1


@contextlib.asynccontextmanager
async def _another_process_holding(db: Database) -> AsyncIterator[tuple[str, Callable[[], Any]]]:
    """A holder id that a live process (another connection, another OS process) holds, and a
    function that ends that process."""
    if db.dialect == "postgresql":
        number = secrets.randbelow(2**40) + 1
        connection = await db.engine.connect()
        await connection.execute(text("SELECT pg_advisory_lock(:n)"), {"n": number})
        await connection.commit()
        try:
            yield f"pg:{number}", connection.invalidate  # drops it, as a killed process would
        finally:
            await connection.close()
        return
    number = secrets.randbelow(2**40)
    path = f"{make_url(db.url).database}-holders"
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import fcntl, os, sys, time\n"
        f"fd = os.open({path!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        f"fcntl.lockf(fd, fcntl.LOCK_EX, 1, {number})\n"
        "print('held', flush=True)\n"
        "time.sleep(120)\n",
        stdout=asyncio.subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert await holder.stdout.readline() == b"held\n"

    async def kill() -> None:
        holder.kill()
        await holder.wait()

    try:
        yield f"sqlite:{number}", kill
    finally:
        if holder.returncode is None:
            await kill()


async def test_a_retry_waits_while_the_holder_lives_and_learns_at_once_when_it_dies(
    client: httpx.AsyncClient,
    db: Database,
    register: Any,
    cluster_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a listing made with a key whose answer is not stored yet, held by another process
    # that still lives (a slow request there)
    monkeypatch.setattr(idempotency, "WAIT_FOR_FIRST", timedelta(seconds=0.3))
    firm = await register("firm@maniwa.example", cluster_id)
    await send(client, firm.access_token, listing(), "slow")
    async with _another_process_holding(db) as (holder, kill):
        await _answer_forgotten(db, "slow", holder, utcnow() + timedelta(seconds=30))
        # a retry waits for its answer, and is told to try again
        waiting = await send(client, firm.access_token, listing(), "slow")
        assert waiting.status_code == 409
        assert waiting.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_IN_USE"}
        # when that process dies, the next retry learns at once that the work was done
        await kill()
        gone = await send(client, firm.access_token, listing(), "slow")
        assert gone.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_ANSWER_LOST"}
    # and a holder that lives but let the answer's time pass counts as having lost it
    async with _another_process_holding(db) as (holder, _kill):
        await send(client, firm.access_token, listing("Sawdust, dry"), "overdue")
        await _answer_forgotten(db, "overdue", holder, utcnow() - timedelta(seconds=1))
        overdue = await send(client, firm.access_token, listing("Sawdust, dry"), "overdue")
        assert overdue.json()["errors"][0]["extensions"] == {"code": "IDEMPOTENCY_KEY_ANSWER_LOST"}
    assert await listings(db) == 2
