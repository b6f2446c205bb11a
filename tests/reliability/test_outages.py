"""Issue 16, items 1 and 3: an outage of the database or Redis gives apps one typed, retryable
answer (SERVICE_UNAVAILABLE with a retry-after, JSON with the request id), is logged once per
interval instead of once per request, and locks nobody out: only a checked wrong password counts
towards sign-in throttling, and without Redis sign-in counts in the process instead of failing.

The outages are real: a private PostgreSQL cluster and a private Redis (tests/reliability/kit.py)
are stopped; the shared servers are never touched."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.cli import migrate
from backend.kit.db import Database
from backend.kit.outages import outage_log, unavailable
from backend.settings import Settings
from tests.conftest import PASSWORD, make_settings, organisation_input
from tests.kit import create_wood_cluster
from tests.reliability.kit import PrivatePostgres, PrivateRedis, free_port
from tests.security.kit import REGISTER, SIGN_IN

EMAIL = "ito@outage.example"
HOME = "203.0.113.9"
CLUSTERS = "{ clusters { totalCount } }"


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def lines(self) -> list[tuple[str, str]]:
        return [(r.levelname, r.getMessage()) for r in self.records]

    def tracebacks(self) -> int:
        return sum(r.exc_info is not None for r in self.records)


# Where a failed request can leave lines: the outage log, the error masking, the request log and
# Strawberry's own error log. (Handlers on these children survive the app's logging set-up,
# which replaces those of "eic" and "strawberry".)
LOGGERS = ("eic.outage", "eic.graphql", "eic.request", "strawberry.execution")


@pytest.fixture
def logged() -> Iterator[Recorded]:
    """What the app logs, from a quiet outage log."""
    outage_log.reset()
    recorded = Recorded()
    for name in LOGGERS:
        logging.getLogger(name).addHandler(recorded)
    try:
        yield recorded
    finally:
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(recorded)
        outage_log.reset()


@pytest.fixture(scope="module")
async def postgres() -> AsyncIterator[PrivatePostgres]:
    server = PrivatePostgres().create()
    try:
        server.start()
        await asyncio.to_thread(migrate, make_settings(server.url()))
        yield server
    finally:
        server.remove()


async def new_cluster(db: Database) -> str:
    return await create_wood_cluster(db, slug=f"outage-{free_port()}", name="Outage Cluster")


class Caller:
    """Posts GraphQL to one app instance from one client address; keeps the last response."""

    def __init__(self, app: Any, address: str = HOME) -> None:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://eic.test")
        self.response: httpx.Response | None = None

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> dict[str, Any]:
        self.response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={k.replace("_", "-"): v for k, v in headers.items()},
        )
        body: dict[str, Any] = self.response.json()
        body.get("extensions", {}).pop("cost", None)
        if body.get("extensions") == {}:
            del body["extensions"]
        return body

    async def sign_in(self, password: str = PASSWORD) -> dict[str, Any]:
        return await self(SIGN_IN, {"input": {"email": EMAIL, "password": password}})

    async def register(self, cluster_id: str) -> dict[str, Any]:
        return await self(
            REGISTER,
            {
                "input": {
                    "email": EMAIL,
                    "password": PASSWORD,
                    "displayName": "Ito",
                    "organisation": organisation_input(cluster_id, name="Ito Pellets"),
                }
            },
        )


def unavailable_answer(caller: Caller, path: str) -> dict[str, Any]:
    assert caller.response is not None
    request_id = caller.response.headers["x-request-id"]
    return {
        "data": None,
        "errors": [
            {
                "message": "The service is unavailable for a moment (database); try again in 5 "
                f"seconds (request id {request_id})",
                "locations": [{"line": 3, "column": 3}],
                "path": [path],
                "extensions": {
                    "code": "SERVICE_UNAVAILABLE",
                    "retryAfter": 5,
                    "requestId": request_id,
                },
            }
        ],
    }


def settings_for(url: str, **overrides: Any) -> Settings:
    return make_settings(url, log_level="INFO", outage_log_interval_seconds=1, **overrides)


async def eventually(check: Any, seconds: float = 5.0) -> None:
    """Wait (polling) until ``check()`` holds, for at most ``seconds``."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "did not happen in time"
        await asyncio.sleep(0.05)


@pytest.mark.slow
async def test_a_database_outage_answers_service_unavailable_and_locks_nobody_out(
    postgres: PrivatePostgres, logged: Recorded
) -> None:
    # given an account on an app whose PostgreSQL is its own
    db = Database(postgres.url())
    app = create_app(settings_for(postgres.url()), db=db)
    caller = Caller(app)
    try:
        async with app.router.lifespan_context(app):
            cluster_id = await new_cluster(db)
            assert (await caller.register(cluster_id))["data"]["accountRegister"]["errors"] == []
            token = (await caller.sign_in())["data"]["tokenCreate"]["accessToken"]

            # when PostgreSQL stops, and the owner tries to sign in eight times meanwhile
            postgres.stop()
            during = []
            for _ in range(8):
                during.append((await caller.sign_in(), unavailable_answer(caller, "tokenCreate")))
            # and a signed-in app reads (its access is checked before GraphQL runs), and sends
            # a mutation with an Idempotency-Key (its key is looked up before GraphQL runs)
            read = await caller(CLUSTERS, authorization=f"Bearer {token}")
            read_response = caller.response
            keyed = await caller(
                SIGN_IN, {"input": {"email": EMAIL, "password": PASSWORD}}, idempotency_key="k-1"
            )
            keyed_response = caller.response
            # and the log has had time to summarise the outage
            await eventually(lambda: sum("still" in line for _, line in logged.lines()) == 2)

            # and then PostgreSQL is back, and the owner signs in once more
            postgres.start()
            after = await caller.sign_in()
    finally:
        await caller.http.aclose()
        await db.dispose()
        if not postgres.running():
            postgres.start()

    # then every sign-in during the outage was told to come back in 5 seconds
    assert [answer for answer, _ in during] == [expected for _, expected in during]
    # and the requests that failed before GraphQL ran were answered 503 with JSON, the
    # Retry-After header and the request id
    for body, response in ((read, read_response), (keyed, keyed_response)):
        assert response is not None
        request_id = response.headers["x-request-id"]
        assert (response.status_code, response.headers["retry-after"]) == (503, "5")
        assert response.headers["content-type"] == "application/json"
        assert body == {
            "errors": [
                {
                    "message": "The service is unavailable for a moment (database); try again "
                    f"in 5 seconds (request id {request_id})",
                    "extensions": {
                        "code": "SERVICE_UNAVAILABLE",
                        "retryAfter": 5,
                        "requestId": request_id,
                    },
                }
            ]
        }
    # and the owner was not throttled afterwards: the attempts checked no password
    assert after["data"]["tokenCreate"]["errors"] == []
    assert after["data"]["tokenCreate"]["accessToken"]
    # and the log holds one traceback per place that saw the outage (the schema, the outer
    # middleware) and a summary with the count, not ten tracebacks
    assert logged.tracebacks() == 2
    outages = [(level, line) for level, line in logged.lines() if level != "INFO"]
    assert [(level, line.split(":")[0]) for level, line in outages] == [
        ("ERROR", "database unavailable (graphql)"),
        ("ERROR", "database unavailable (requests)"),
        ("WARNING", "database still unavailable (graphql)"),
        ("WARNING", "database still unavailable (requests)"),
    ]
    assert "7 more failures in the last 1 s" in outages[2][1]


@pytest.mark.slow
async def test_sign_in_counts_in_process_while_redis_is_down(
    db: Database, database_url: str, cluster_id: str, logged: Recorded
) -> None:
    # given an app whose throttle counts in a Redis of its own, and an account
    redis = PrivateRedis()
    redis.start()
    app = create_app(settings_for(database_url, redis_url=redis.url), db=db)
    caller = Caller(app)
    try:
        async with app.router.lifespan_context(app):
            assert (await caller.register(cluster_id))["data"]["accountRegister"]["errors"] == []
            before = await caller.sign_in()

            # when Redis stops, and the owner signs in three times, and a guesser from another
            # address tries five wrong passwords
            redis.stop()
            owner = [await caller.sign_in() for _ in range(3)]
            guesser = Caller(app, "198.51.100.66")
            guesses = [await guesser.sign_in("wrong password") for _ in range(5)]
            await guesser.http.aclose()
    finally:
        await caller.http.aclose()
        redis.stop()

    # then every sign-in of the owner went through
    assert [p["data"]["tokenCreate"]["errors"] for p in [before, *owner]] == [[]] * 4
    # and the guesses were still counted, in the process: three checked, then a back-off
    codes = [p["data"]["tokenCreate"]["errors"][0]["code"] for p in guesses]
    assert codes == ["INVALID_CREDENTIALS"] * 3 + ["THROTTLED"] * 2
    # and the outage was logged once per place that saw it, not per sign-in (the response
    # cache's when the first sign-in's write could not bump its versions)
    assert [line.split(":")[0] for level, line in logged.lines() if level != "INFO"] == [
        "redis unavailable (sign-in throttle, counting in this process)",
        "redis unavailable (response cache, not used)",
    ]
    assert logged.tracebacks() == 2


def read_only(url: str) -> str:
    """The same SQLite file opened read-only (SQLITE_READONLY on every write), as a file or
    mount that became read-only does. (chmod would not do: the tests may run as root.)"""
    path = url.removeprefix("sqlite+aiosqlite:///")
    return f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"


async def test_a_read_only_sqlite_file_is_service_unavailable(
    tmp_path: Path, logged: Recorded
) -> None:
    # given a migrated SQLite file with a cluster
    url = f"sqlite+aiosqlite:///{tmp_path}/eic.db"
    await asyncio.to_thread(migrate, make_settings(url))
    writable = Database(url)
    cluster_id = await new_cluster(writable)
    await writable.dispose()

    # when it can be read but not written
    db = Database(read_only(url))
    app = create_app(settings_for(url), db=db)
    caller = Caller(app)
    try:
        async with app.router.lifespan_context(app):
            read = await caller(CLUSTERS)
            written = await caller.register(cluster_id)
    finally:
        await caller.http.aclose()
        await db.dispose()

    # then reads work and a write is told to come back later, not INTERNAL
    assert read == {"data": {"clusters": {"totalCount": 1}}}
    assert written == unavailable_answer(caller, "accountRegister")
    assert logged.tracebacks() == 1


def test_a_full_sqlite_file_is_an_outage_and_a_missing_table_is_not(tmp_path: Path) -> None:
    # given a SQLite file that may not grow (as on a full disk), and the real errors of a write
    # that needs a page and of a statement on a table that does not exist
    connection = sqlite3.connect(tmp_path / "full.db")
    connection.execute("CREATE TABLE t (x TEXT)")
    pages = connection.execute("PRAGMA page_count").fetchone()[0]
    connection.execute(f"PRAGMA max_page_count = {pages}")
    errors = []
    for statement in ("CREATE TABLE more (x TEXT)", "SELECT * FROM missing"):
        with pytest.raises(sqlite3.Error) as raised:
            connection.execute(statement)
        errors.append(raised.value)
    connection.close()

    # then the full file is an outage of the database (SERVICE_UNAVAILABLE) and the missing
    # table a bug (INTERNAL), though both are sqlite3.OperationalError
    assert [str(e) for e in errors] == ["database or disk is full", "no such table: missing"]
    assert [unavailable(e) for e in errors] == ["database", None]
