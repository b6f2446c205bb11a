"""The response cache of public persisted GETs (backend/graphql/response_cache.py), ETags and 304.

Through the real app on the real database (SQLite, PostgreSQL), and real Redis (the shared one
under a key prefix of each test's own; a private one for the outage)."""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import delete

from backend.app import create_app
from backend.graphql.operations import load_manifest
from backend.graphql.response_cache import cache_key, matches
from backend.identity.models import Organisation
from backend.kit.clock import ManualClock
from backend.kit.db import ALL_TABLES, Database, tracking_reads
from backend.kit.outages import outage_log
from backend.kit.response_store import (
    REST_SECONDS,
    MemoryResponseStore,
    RedisResponseStore,
    StoredAnswer,
)
from backend.marketplace.models import Listing
from backend.settings import Settings
from tests.conftest import Account, make_settings, without_cost
from tests.reliability.kit import PrivateRedis

REDIS_URL = os.environ.get("EIC_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _operation(name: str) -> str:
    """The manifest hash of the apps' operation ``name``."""
    for sha, document in load_manifest().items():
        if document.startswith((f"query {name}(", f"query {name} ", f"mutation {name}(")):
            return sha
    raise AssertionError(f"no operation {name} in the manifest")


MARKET_SEARCH = _operation("MarketSearch")
LISTING_EDIT = _operation("ListingEdit")
NEAR_MANIWA = {"near": {"lat": 35.07, "lon": 133.75, "radiusKm": 50}}


def persisted(sha: str, variables: dict[str, Any] | None = None) -> dict[str, str]:
    """The query parameters of a persisted GET, as Apollo's clients send them."""
    params = {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha}})}
    if variables is not None:
        params["variables"] = json.dumps(variables)
    return params


def search(variables: dict[str, Any] | None = None) -> dict[str, str]:
    return persisted(MARKET_SEARCH, {"filter": NEAR_MANIWA, "first": 20, **(variables or {})})


def titles(response: httpx.Response) -> list[str]:
    return [e["node"]["title"] for e in response.json()["data"]["listings"]["edges"]]


@asynccontextmanager
async def serving(
    settings: Settings, db: Database, clock: ManualClock, **options: Any
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db=db, clock=clock, **options)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield http


CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) { listing { id } errors { code message } }
}
"""


async def create_listing(http: httpx.AsyncClient, account: Account, title: str) -> str:
    response = await http.post(
        "/graphql",
        json={
            "query": CREATE,
            "variables": {
                "input": {
                    "kind": "OFFER",
                    "category": "BY_PRODUCT",
                    "title": title,
                    "materialCode": "wood-shavings",
                    "quantity": "1",
                    "unit": "TNE",
                    "location": {"lat": 35.09, "lon": 133.69, "placeName": "Yard"},
                    "publish": True,
                }
            },
        },
        headers={"Authorization": f"Bearer {account.access_token}"},
    )
    payload = response.json()["data"]["listingCreate"]
    assert payload["errors"] == [], payload
    listing_id: str = payload["listing"]["id"]
    return listing_id


async def edit_title(http: httpx.AsyncClient, account: Account, listing: str, title: str) -> None:
    """listingUpdate, by the apps' own persisted ListingEdit."""
    response = await http.post(
        "/graphql",
        json={"id": LISTING_EDIT, "variables": {"input": {"id": listing, "title": title}}},
        headers={"Authorization": f"Bearer {account.access_token}"},
    )
    assert response.json()["data"]["listingUpdate"]["errors"] == [], response.json()


@pytest.fixture
async def seller(register: Any, cluster_id: str) -> Account:
    account: Account = await register("seller@maniwa.example", cluster_id)
    return account


# ---------------------------------------------------------------------------------------------
# Hits, misses, who may hit


async def test_a_second_anonymous_get_is_a_hit_with_the_same_answer_and_no_sql(
    client: httpx.AsyncClient, seller: Account, sql_statements: Any
) -> None:
    await create_listing(client, seller, "Cedar shavings")
    # Given an anonymous MarketSearch by GET, computed once
    with sql_statements() as computing:
        first = await client.get("/graphql", params=search())
    # when it is asked again
    with sql_statements() as answering:
        second = await client.get("/graphql", params=search())
    # then the second comes from the cache: the same bytes and ETag, no SQL
    assert (first.status_code, first.headers["x-cache"]) == (200, "MISS")
    assert (second.status_code, second.headers["x-cache"]) == (200, "HIT")
    assert titles(first) == ["Cedar shavings"]
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert computing.count > 0
    assert answering.count == 0
    # and both say how long proxies may keep it; the hit how old it is (the clock stood still)
    for response in (first, second):
        assert response.headers["cache-control"] == "public, max-age=60"
        assert response.headers["vary"] == "Authorization, Accept-Encoding"
    assert second.headers["age"] == "0"


async def test_other_variables_or_another_operation_are_other_entries(
    client: httpx.AsyncClient, seller: Account
) -> None:
    await create_listing(client, seller, "Cedar shavings")
    await client.get("/graphql", params=search({"first": 20}))
    # The same variables in another order and spacing are the same entry ...
    same = persisted(MARKET_SEARCH, {"first": 20, "filter": NEAR_MANIWA})
    same["variables"] = same["variables"].replace(", ", ",   ")
    assert (await client.get("/graphql", params=same)).headers["x-cache"] == "HIT"
    # ... other values are not
    other = await client.get("/graphql", params=search({"first": 5}))
    assert other.headers["x-cache"] == "MISS"
    assert titles(other) == ["Cedar shavings"]
    named = await client.get("/graphql", params={**search(), "operationName": "MarketSearch"})
    assert named.headers["x-cache"] == "MISS"


async def test_signed_in_requests_neither_read_nor_fill_the_cache(
    client: httpx.AsyncClient, seller: Account, register: Any, cluster_id: str
) -> None:
    await create_listing(client, seller, "Cedar shavings")
    buyer = await register("buyer@maniwa.example", cluster_id, name="Buyer Works")
    signed_in = {"Authorization": f"Bearer {buyer.access_token}"}
    # Given a search by a signed-in person first
    mine = await client.get("/graphql", params=search(), headers=signed_in)
    # then it was not kept: the anonymous one after it is computed
    anonymous = await client.get("/graphql", params=search())
    # and once kept, a signed-in request still does not get it
    again = await client.get("/graphql", params=search(), headers=signed_in)
    assert [r.headers["x-cache"] for r in (mine, anonymous, again)] == ["BYPASS", "MISS", "BYPASS"]
    assert mine.headers["cache-control"] == again.headers["cache-control"] == "private, no-store"
    # even a header that is not a valid token keeps the request out
    bad = await client.get("/graphql", params=search(), headers={"Authorization": "Bearer x"})
    assert bad.headers["x-cache"] == "BYPASS"


async def test_only_persisted_queries_are_kept_not_documents_sent_as_text(
    client: httpx.AsyncClient,
) -> None:
    params = {"query": "{ units { code } }"}
    answers = [await client.get("/graphql", params=params) for _ in range(2)]
    assert [r.headers["x-cache"] for r in answers] == ["BYPASS", "BYPASS"]
    assert answers[0].content == answers[1].content


async def test_answers_with_errors_are_not_kept_nor_kept_by_proxies(
    client: httpx.AsyncClient,
) -> None:
    # A sort that does not exist: a validation error, by GET
    params = search({"sort": "NO_SUCH_SORT"})
    answers = [await client.get("/graphql", params=params) for _ in range(2)]
    assert [r.headers["x-cache"] for r in answers] == ["MISS", "MISS"]
    assert "errors" in answers[1].json()
    assert answers[1].headers["cache-control"] == "no-store"


async def test_a_mutation_by_get_is_still_refused(client: httpx.AsyncClient) -> None:
    params = persisted(LISTING_EDIT, {"input": {"id": str(uuid.uuid4()), "title": "x"}})
    for _ in range(2):
        response = await client.get("/graphql", params=params)
        assert (response.status_code, response.text) == (
            400,
            "mutations are not allowed when using GET",
        )
        assert "x-cache" not in response.headers


# ---------------------------------------------------------------------------------------------
# Invalidation


async def test_a_write_through_graphql_makes_the_page_computed_again_at_once(
    client: httpx.AsyncClient, seller: Account
) -> None:
    listing = await create_listing(client, seller, "Cedar shavings")
    await client.get("/graphql", params=search())
    assert (await client.get("/graphql", params=search())).headers["x-cache"] == "HIT"
    # When a listing is created (listingCreate)
    await create_listing(client, seller, "Oak bark")
    created = await client.get("/graphql", params=search())
    # then the next search is computed again and shows it
    assert created.headers["x-cache"] == "MISS"
    assert sorted(titles(created)) == ["Cedar shavings", "Oak bark"]
    assert (await client.get("/graphql", params=search())).headers["x-cache"] == "HIT"
    # and when one is renamed (listingUpdate), likewise
    await edit_title(client, seller, listing, "Hinoki shavings")
    edited = await client.get("/graphql", params=search())
    assert edited.headers["x-cache"] == "MISS"
    assert sorted(titles(edited)) == ["Hinoki shavings", "Oak bark"]


async def test_a_write_of_a_table_the_page_does_not_read_keeps_it(
    client: httpx.AsyncClient, db: Database, seller: Account
) -> None:
    await create_listing(client, seller, "Cedar shavings")
    await client.get("/graphql", params=search())
    # a write of a table no search reads: notifications' devices
    registered = await client.post(
        "/graphql",
        json={
            "query": "mutation($input: DeviceRegisterInput!) { deviceRegister(input: $input) "
            "{ errors { code } } }",
            "variables": {"input": {"token": "ExponentPushToken[abc]", "platform": "IOS"}},
        },
        headers={"Authorization": f"Bearer {seller.access_token}"},
    )
    assert without_cost(registered.json()) == {"data": {"deviceRegister": {"errors": []}}}
    assert (await client.get("/graphql", params=search())).headers["x-cache"] == "HIT"


async def test_an_answer_expires_with_its_max_age(
    client: httpx.AsyncClient, clock: ManualClock, seller: Account
) -> None:
    await create_listing(client, seller, "Cedar shavings")
    await client.get("/graphql", params=search())
    clock.advance(timedelta(seconds=59))
    kept = await client.get("/graphql", params=search())
    clock.advance(timedelta(seconds=1))
    expired = await client.get("/graphql", params=search())
    assert (kept.headers["x-cache"], kept.headers["age"]) == ("HIT", "59")
    assert expired.headers["x-cache"] == "MISS"


async def test_reads_and_writes_name_their_tables_and_deletes_reach_their_cascades(
    db: Database,
) -> None:
    # Reads: the tables the statements named
    with tracking_reads() as read:
        async with db.read() as session:
            await session.get(Listing, uuid.uuid4())
    assert read.tables == {"listings"}
    assert not read.unknown

    # Writes: told after the commit, with what a delete may change through foreign keys
    class Watcher:
        def __init__(self) -> None:
            self.told: list[frozenset[str]] = []

        async def tables_written(self, tables: frozenset[str]) -> None:
            self.told.append(tables)

    watcher = Watcher()
    db.watch_writes(watcher)
    async with db.write() as session:
        await session.get(Listing, uuid.uuid4())  # a read in a write changes nothing
    async with db.write() as session:  # a delete (of no row: the statement is what counts)
        await session.execute(delete(Organisation).where(Organisation.id == uuid.uuid4()))

    async def rolled_back() -> None:
        async with db.write() as session:
            await session.execute(delete(Listing))
            raise RuntimeError("rolled back")

    with pytest.raises(RuntimeError):  # a rolled-back write tells nothing
        await rolled_back()
    assert len(watcher.told) == 1
    (told,) = watcher.told
    # organisations, and what its foreign keys cascade to (listings ON DELETE CASCADE,
    # memberships too); not the clusters it points at
    assert {"organisations", "listings", "memberships", "offers"} <= told
    assert not told & {"clusters", "users", ALL_TABLES}


# ---------------------------------------------------------------------------------------------
# ETag and 304


async def test_if_none_match_answers_304_without_a_body_for_hits_and_computed_answers(
    client: httpx.AsyncClient, seller: Account, register: Any, cluster_id: str
) -> None:
    await create_listing(client, seller, "Cedar shavings")
    first = await client.get("/graphql", params=search())
    etag = first.headers["etag"]
    assert etag[0] == etag[-1] == '"'
    # a hit
    hit = await client.get("/graphql", params=search(), headers={"If-None-Match": etag})
    assert (hit.status_code, hit.content, hit.headers["x-cache"]) == (304, b"", "HIT")
    assert hit.headers["etag"] == etag
    assert hit.headers["cache-control"] == "public, max-age=60"
    # a computed one (signed in: never kept)
    buyer = await register("buyer@maniwa.example", cluster_id, name="Buyer Works")
    signed_in = {"Authorization": f"Bearer {buyer.access_token}"}
    mine = await client.get("/graphql", params=search(), headers=signed_in)
    again = await client.get(
        "/graphql",
        params=search(),
        headers={**signed_in, "If-None-Match": f'W/"other", {mine.headers["etag"]}'},
    )
    assert (again.status_code, again.content, again.headers["x-cache"]) == (304, b"", "BYPASS")
    # an ETag of another body is answered in full
    stale = await client.get("/graphql", params=search(), headers={"If-None-Match": '"old"'})
    assert (stale.status_code, stale.content) == (200, first.content)


async def test_the_gzipped_answer_has_its_own_etag_and_the_same_bytes_every_time(
    client: httpx.AsyncClient, seller: Account
) -> None:
    for n in range(8):  # over compress_min_bytes
        await create_listing(client, seller, f"Cedar shavings, lot {n}")
    zipped = {"Accept-Encoding": "gzip"}
    computed = await client.get("/graphql", params=search(), headers=zipped)
    kept = await client.get("/graphql", params=search(), headers=zipped)
    plain = await client.get("/graphql", params=search(), headers={"Accept-Encoding": "identity"})
    assert [r.headers["x-cache"] for r in (computed, kept, plain)] == ["MISS", "HIT", "HIT"]
    assert computed.headers["content-encoding"] == kept.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert computed.headers["etag"] == kept.headers["etag"] != plain.headers["etag"]
    assert computed.content == kept.content == plain.content  # (httpx undid the gzip)
    # the ETag of the gzipped form brings a 304 to a client that accepts gzip
    not_modified = await client.get(
        "/graphql", params=search(), headers={**zipped, "If-None-Match": kept.headers["etag"]}
    )
    assert not_modified.status_code == 304
    raw = await client.get("/graphql", params=search(), headers=zipped)
    assert int(raw.headers["content-length"]) < len(raw.content)
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content


def test_the_key_and_the_etag_comparison() -> None:
    def key(params: dict[str, str]) -> str | None:
        return cache_key(urlencode(params).encode(), "schema")

    by_apollo = key(persisted("abc", {"a": 1, "b": [1, 2]}))
    assert by_apollo == key(persisted("abc", {"b": [1, 2], "a": 1}))
    assert by_apollo == key({"id": "abc", "variables": '{"b":[1,2],"a":1}'})
    assert by_apollo != key(persisted("abc", {"a": 2, "b": [1, 2]}))
    assert by_apollo != cache_key(urlencode(persisted("abc", {"a": 1, "b": [1, 2]})).encode(), "x")
    assert key(persisted("abc")) == key(persisted("abc", {}))
    # Apollo Client 4's extensions.clientLibrary changes nothing in the answer
    apollo_4 = {
        "persistedQuery": {"version": 1, "sha256Hash": "abc"},
        "clientLibrary": {"name": "@apollo/client", "version": "4.0.0"},
    }
    assert key({"extensions": json.dumps(apollo_4), "variables": '{"a":1,"b":[1,2]}'}) == by_apollo
    # not kept: a document as text, variables that are not an object, unknown parameters
    for refused in (
        {"query": "{ units { code } }"},
        {**persisted("abc"), "query": "{ units { code } }"},
        {**persisted("abc"), "variables": "[1]"},
        {**persisted("abc"), "variables": "{"},
        {**persisted("abc"), "debug": "1"},
        {"extensions": json.dumps({"persistedQuery": {"sha256Hash": "abc"}, "other": 1})},
        {"extensions": "{"},
    ):
        assert key(refused) is None, refused
    assert matches(b'"a", W/"b"', b'"b"')
    assert matches(b"*", b'"b"')
    assert not matches(b'"a"', b'"b"')


# ---------------------------------------------------------------------------------------------
# Rate limits


async def test_hits_spend_from_the_anonymous_read_budget_like_computed_answers(
    db: Database, database_url: str, clock: ManualClock, seller: Account
) -> None:
    settings = make_settings(
        database_url, rate_limit_reads_per_address="2/minute", trust_forwarded_for=True
    )
    async with serving(settings, db, clock) as http:
        await create_listing(http, seller, "Cedar shavings")
        # Given two searches from one address, computed then kept
        answers = [await http.get("/graphql", params=search()) for _ in range(3)]
        # then the third is over the budget although it is kept: the app answers THROTTLED
        assert [r.headers["x-cache"] for r in answers] == ["MISS", "HIT", "BYPASS"]
        throttled = answers[2].json()
        assert throttled["errors"][0]["extensions"]["code"] == "THROTTLED"
        assert answers[2].headers["cache-control"] == "no-store"
        # and it was not kept in place of the good answer, which another address still gets
        other = await http.get(
            "/graphql", params=search(), headers={"X-Forwarded-For": "198.51.100.7"}
        )
        assert (other.headers["x-cache"], other.content) == ("HIT", answers[0].content)


# ---------------------------------------------------------------------------------------------
# Settings


async def test_turned_off_nothing_is_kept_but_etags_and_304_stay(
    db: Database, database_url: str, clock: ManualClock, seller: Account
) -> None:
    settings = make_settings(database_url, response_cache_enabled=False)
    async with serving(settings, db, clock) as http:
        await create_listing(http, seller, "Cedar shavings")
        answers = [await http.get("/graphql", params=search()) for _ in range(2)]
        assert [r.headers["x-cache"] for r in answers] == ["BYPASS", "BYPASS"]
        again = await http.get(
            "/graphql", params=search(), headers={"If-None-Match": answers[1].headers["etag"]}
        )
        assert again.status_code == 304


def answer(size: int, at: float = 0.0, versions: tuple[tuple[str, int], ...] = ()) -> StoredAnswer:
    return StoredAnswer(
        body=b"x" * size,
        gzipped=None,
        headers=(),
        etag=b'"e"',
        stored_at=at,
        expires_at=at + 60,
        versions=versions,
        budgets=(),
    )


async def test_the_memory_store_keeps_at_most_its_entries_and_bytes_least_recent_out() -> None:
    store = MemoryResponseStore(max_entries=3, max_bytes=1000)
    for key in "abc":
        await store.keep(key, answer(100), 0)
    assert (await store.lookup("a", 1)).answer is not None  # type: ignore[union-attr]
    await store.keep("d", answer(100), 0)  # b, least recently used, goes
    assert [k for k in "abcd" if (await store.lookup(k, 1)).answer] == ["a", "c", "d"]  # type: ignore[union-attr]
    await store.keep("e", answer(750), 0)  # over the bytes: the oldest go until it fits
    assert [k for k in "acde" if k in store] == ["c", "d", "e"]
    assert store.bytes == 950
    await store.keep("huge", answer(1001), 0)  # larger than everything: not kept
    assert (await store.lookup("huge", 1)).answer is None  # type: ignore[union-attr]
    # an entry of a table that was written since is not served
    await store.keep("v", answer(10, versions=(("listings", 0),)), 0)
    await store.tables_written(frozenset({"listings"}))
    assert (await store.lookup("v", 1)).answer is None  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------
# Redis: two instances, and Redis away


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = f"eic-test-{uuid.uuid4().hex}:cache:"
    yield prefix
    redis = Redis.from_url(REDIS_URL)
    keys = [key async for key in redis.scan_iter(f"{prefix}*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


async def test_two_instances_on_one_redis_share_answers_and_invalidation(
    db: Database,
    database_url: str,
    settings: Settings,
    clock: ManualClock,
    seller: Account,
    redis_prefix: str,
) -> None:
    second_db = Database(database_url)
    first_store = RedisResponseStore(REDIS_URL, timeout=1, prefix=redis_prefix)
    second_store = RedisResponseStore(REDIS_URL, timeout=1, prefix=redis_prefix)
    try:
        async with (
            serving(settings, db, clock, response_store=first_store) as first,
            serving(settings, second_db, clock, response_store=second_store) as second,
        ):
            listing = await create_listing(first, seller, "Cedar shavings")
            # Given a search computed by the first instance
            computed = await first.get("/graphql", params=search())
            # then the second answers it from Redis
            shared = await second.get("/graphql", params=search())
            assert (computed.headers["x-cache"], shared.headers["x-cache"]) == ("MISS", "HIT")
            assert shared.content == computed.content
            # and when the second instance renames the listing, the first computes it again
            await edit_title(second, seller, listing, "Hinoki shavings")
            after = await first.get("/graphql", params=search())
            assert after.headers["x-cache"] == "MISS"
            assert titles(after) == ["Hinoki shavings"]
            assert (await second.get("/graphql", params=search())).headers["x-cache"] == "HIT"
    finally:
        await first_store.close()
        await second_store.close()
        await second_db.dispose()


async def test_with_redis_stopped_answers_are_computed_and_correct(
    db: Database, database_url: str, clock: ManualClock, seller: Account
) -> None:
    outage_log.reset()
    redis = PrivateRedis()
    redis.start()
    settings = make_settings(database_url, redis_url=redis.url, redis_timeout_seconds=0.5)
    try:
        async with serving(settings, db, clock) as http:
            listing = await create_listing(http, seller, "Cedar shavings")
            await http.get("/graphql", params=search())
            assert (await http.get("/graphql", params=search())).headers["x-cache"] == "HIT"
            # When Redis stops
            redis.stop()
            during = [await http.get("/graphql", params=search()) for _ in range(2)]
            # then the answers are computed (not failed), and a write is seen at once
            await edit_title(http, seller, listing, "Hinoki shavings")
            edited = await http.get("/graphql", params=search())
    finally:
        redis.stop()
        outage_log.reset()
    assert [r.status_code for r in (*during, edited)] == [200] * 3
    assert [r.headers["x-cache"] for r in (*during, edited)] == ["BYPASS"] * 3
    assert titles(during[1]) == ["Cedar shavings"]
    assert titles(edited) == ["Hinoki shavings"]


@asynccontextmanager
async def silent_server(received: bytearray) -> AsyncIterator[str]:
    """A TCP server that takes connections and never answers: a Redis that hangs (partitioned,
    swapping), as the client sees it. Its URL; what it was sent goes into ``received``."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        while chunk := await reader.read(65536):  # until the client goes away
            received.extend(chunk)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage().split(":")[0])


async def test_a_redis_that_does_not_answer_is_left_alone_and_answers_are_computed(
    db: Database, database_url: str, clock: ManualClock, seller: Account
) -> None:
    outage_log.reset()
    logged = Recorded()
    logging.getLogger("eic.outage").addHandler(logged)
    sent = bytearray()
    try:
        async with silent_server(sent) as redis_url:
            settings = make_settings(
                database_url,
                redis_url=redis_url,
                redis_timeout_seconds=0.2,
                rate_limit_reads_per_address="",  # (they would wait on it too)
            )
            async with serving(settings, db, clock) as http:
                # Given a write (its bump waits for Redis, in vain) and then searches
                await create_listing(http, seller, "Cedar shavings")
                answers = [await http.get("/graphql", params=search()) for _ in range(3)]
    finally:
        logging.getLogger("eic.outage").removeHandler(logged)
        outage_log.reset()
    # then every search is computed and right
    assert [(r.status_code, r.headers["x-cache"]) for r in answers] == [(200, "BYPASS")] * 3
    assert titles(answers[2]) == ["Cedar shavings"]
    # and the cache gave up on Redis once (the bump), then left it alone instead of waiting
    # for it on every request: one connection was tried (each starts with HELLO), not four
    assert logged.lines.count("redis unavailable (response cache, not used)") == 1
    assert sent.count(b"HELLO") == 1


async def test_a_bump_that_did_not_reach_redis_is_sent_before_the_next_lookup() -> None:
    outage_log.reset()
    redis = PrivateRedis()
    redis.start()
    moment = [0.0]
    store = RedisResponseStore(redis.url, timeout=0.5, monotonic=lambda: moment[0])
    try:
        await store.keep("k", answer(10, versions=(("listings", 0),)), 0)
        assert (await store.lookup("k", 1)).answer is not None  # type: ignore[union-attr]
        # Redis away during a write's bump: it is kept, and Redis left alone for a while
        redis.stop()
        await store.tables_written(frozenset({"listings"}))
        redis.start()
        assert await store.lookup("k", 1) is None  # resting
        await store.keep("k", answer(10, versions=(("listings", 0),)), 0)  # not sent either
        # once the rest is over, the first lookup sends the bump first
        moment[0] += REST_SECONDS
        found = await store.lookup("k", 1)
        assert found is not None
        assert (found.answer, dict(found.versions)) == (None, {"listings": 1})
    finally:
        await store.close()
        redis.stop()
        outage_log.reset()


def test_answers_survive_the_round_trip_through_redis_bytes() -> None:
    from backend.kit.response_store import _decode, _encode

    kept = StoredAnswer(
        body=b'{"data":{}}',
        gzipped=gzip.compress(b'{"data":{}}', mtime=0),
        headers=((b"content-type", b"application/json"), (b"cache-control", b"public")),
        etag=b'"abc"',
        stored_at=12.5,
        expires_at=72.5,
        versions=(("*", 0), ("listings", 3)),
        budgets=("reads-by-address",),
    )
    assert _decode(_encode(kept)) == kept
    assert _decode(b"not an answer") is None
