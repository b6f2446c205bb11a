"""Timeouts: a frozen (SIGSTOP) PostgreSQL or Redis makes requests fail and /readyz answer 503
within seconds instead of hanging, and both recover once it runs again; /readyz also says when an
SQLite file is read-only or its disk full, while reads go on.

Each test talks to private servers (tests/reliability/pg_kit.py), never to the shared ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.cli import migrate
from backend.kit.db import Timeouts
from backend.settings import Settings
from tests.conftest import PASSWORD, make_settings
from tests.reliability.pg_kit import PrivatePostgres, PrivateRedis

UNITS = "{ units { code } }"
# What a test waits at most for an answer: a hang fails the test instead of stopping the suite.
PATIENCE = 30.0


def test_the_database_timeouts_default_to_the_settings() -> None:
    # the defaults of an engine made without settings (`eic migrate`, scripts) are the service's
    fields = Settings.model_fields
    assert Timeouts() == Timeouts(
        connect=fields["db_connect_timeout_seconds"].default,
        statement=fields["db_statement_timeout_seconds"].default,
        pool=fields["db_pool_timeout_seconds"].default,
    )


@contextlib.asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app as `eic serve` builds it from its settings (its own database engine)."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
            yield app, http
    finally:
        await app.state.security.close()
        await app.state.broadcaster.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(app.state.db.dispose(), PATIENCE)


async def timed(request: Any) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    async with asyncio.timeout(PATIENCE):
        response = await request
    return response, time.monotonic() - started


async def eventually_ready(http: httpx.AsyncClient) -> httpx.Response:
    """/readyz until it says 200 (a server just thawed answers its backlog first)."""
    deadline = time.monotonic() + PATIENCE
    while True:
        response = await http.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.2)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres().init().start()
    try:
        migrate(make_settings(server.url))
        yield server
    finally:
        server.destroy()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
async def test_a_frozen_postgresql_fails_requests_in_time_and_both_recover(
    private_postgres: PrivatePostgres,
) -> None:
    # given an app on a private PostgreSQL with short timeouts, which has answered a query
    settings = make_settings(
        private_postgres.url,
        db_connect_timeout_seconds=1,
        db_statement_timeout_seconds=2,
        db_pool_timeout_seconds=2,
        ready_timeout_seconds=2,
    )
    async with app_client(settings) as (_app, http):
        first = await http.post("/graphql", json={"query": UNITS})
        assert first.json()["data"]["units"]

        # when the server is frozen (SIGSTOP: it accepts connections and never answers)
        private_postgres.freeze()
        try:
            query, query_took = await timed(http.post("/graphql", json={"query": UNITS}))
            ready, ready_took = await timed(http.get("/readyz"))
        finally:
            private_postgres.thaw()

        # then the query gets an error, not a hang: the statement timeout (2 s), the client's
        # second more, and SQLAlchemy's close of the dead connection (2 s), with a margin
        assert query_took < 10
        assert query.status_code != 200 or query.json().get("errors")
        # and readiness says so within its 2 s (5 s with a margin), naming the database
        assert ready_took < 5
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "timeout"}

        # and once the server runs again, both recover
        assert (await eventually_ready(http)).json() == {"status": "ok", "database": "ok"}
        again, _ = await timed(http.post("/graphql", json={"query": UNITS}))
        assert again.json()["data"]["units"] == first.json()["data"]["units"]


@pytest.mark.slow
async def test_a_stopped_postgresql_fails_new_connections_within_the_connect_timeout(
    private_postgres: PrivatePostgres,
) -> None:
    # given an app on a private PostgreSQL that has not connected yet, and a frozen server
    settings = make_settings(private_postgres.url, db_connect_timeout_seconds=1)
    async with app_client(settings) as (_app, http):
        private_postgres.freeze()
        try:
            # when a request needs a connection
            query, took = await timed(http.post("/graphql", json={"query": UNITS}))
        finally:
            private_postgres.thaw()

        # then it fails after the connect timeout (1 s), not the driver's default of 60 s
        assert took < 5
        assert query.status_code != 200 or query.json().get("errors")


@pytest.mark.slow
async def test_readyz_names_a_frozen_redis(
    database_url: str, db: Any, private_redis: PrivateRedis
) -> None:
    # given an app whose EIC_REDIS_URL points at a private Redis
    settings = make_settings(database_url, redis_url=private_redis.url)
    async with app_client(settings) as (_app, http):
        assert (await http.get("/readyz")).json() == {
            "status": "ok",
            "database": "ok",
            "redis": "ok",
        }

        # when Redis is frozen
        private_redis.freeze()
        try:
            ready, took = await timed(http.get("/readyz"))
        finally:
            private_redis.thaw()

        # then readiness fails within 5 s and says it is Redis
        assert took < 5
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "ok", "redis": "timeout"}
        # and recovers when Redis runs again
        assert (await eventually_ready(http)).status_code == 200


@contextlib.contextmanager
def read_only(path: Path) -> Iterator[None]:
    """The file cannot be opened for writing: chmod for anybody but root, whom only the
    immutable attribute stops."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(path)], check=True)
    else:
        path.chmod(0o444)
    try:
        yield
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        else:
            path.chmod(0o644)


@pytest.mark.slow
async def test_a_read_only_sqlite_file_is_not_ready_and_reads_still_answer(
    tmp_path: Path,
) -> None:
    # given a migrated SQLite file that has become read-only
    database = tmp_path / "eic.db"
    settings = make_settings(f"sqlite+aiosqlite:///{database}")
    await asyncio.to_thread(migrate, settings)
    with read_only(database):
        async with app_client(settings) as (_app, http):
            # when a probe asks whether the service may take traffic
            ready, _ = await timed(http.get("/readyz"))
            # and an app reads
            query, _ = await timed(http.post("/graphql", json={"query": UNITS}))

            # then it may not, since no write could succeed, and the answer says why
            assert ready.status_code == 503
            assert ready.json() == {"status": "unavailable", "database": "read-only"}
            # but reads still answer
            assert "errors" not in query.json()
            assert query.json()["data"]["units"]


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 24 MB tmpfs of its own (root with CAP_SYS_ADMIN only)."""
    folder = Path(tempfile.mkdtemp(prefix="eic-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(folder)], capture_output=True
    )
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip("cannot mount a small tmpfs here (needs root with CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb", buffering=0) as out:
        with contextlib.suppress(OSError):  # ENOSPC: the disk is full
            while True:
                out.write(b"\0" * 65536)
        with contextlib.suppress(OSError):
            while True:
                out.write(b"\0" * 512)
    return filler


@pytest.mark.slow
async def test_a_full_disk_is_not_ready_and_reads_still_answer(small_disk: Path) -> None:
    # given an app on a migrated SQLite file that has answered a read
    settings = make_settings(f"sqlite+aiosqlite:///{small_disk / 'eic.db'}")
    await asyncio.to_thread(migrate, settings)
    async with app_client(settings) as (_app, http):
        first = await http.post("/graphql", json={"query": UNITS})
        assert first.json()["data"]["units"]

        # when the disk fills up
        filler = fill(small_disk)
        ready, _ = await timed(http.get("/readyz"))
        reads = [(await timed(http.post("/graphql", json={"query": UNITS})))[0] for _ in range(5)]

        # then every read still answers (the pool's open connections keep the -shm file)
        assert [read.json() for read in reads] == [first.json()] * 5
        # but the service is not ready, and says why
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "database": "disk full"}

        # and once there is room again it is ready
        filler.unlink()
        assert (await eventually_ready(http)).json() == {"status": "ok", "database": "ok"}


@pytest.mark.slow
async def test_a_frozen_redis_slows_sign_in_and_searches_by_its_timeout_only(
    database_url: str, db: Any, private_redis: PrivateRedis, register: Any, cluster_id: str
) -> None:
    # Given an app whose sign-in throttle and rate limits count in a private Redis
    await register("tanaka@pellets.example", cluster_id)
    settings = make_settings(database_url, redis_url=private_redis.url)
    sign_in = {
        "query": "mutation($e: String!, $p: String!) { tokenCreate(input: {email: $e, "
        "password: $p}) { accessToken errors { code } } }",
        "variables": {"e": "tanaka@pellets.example", "p": PASSWORD},
    }
    search = {"query": "{ listings(first: 1) { totalCount } }"}
    async with app_client(settings) as (_app, http):
        # when Redis is frozen (it accepts connections and never answers)
        private_redis.freeze()
        try:
            signed_in, sign_in_took = await timed(http.post("/graphql", json=sign_in))
            searched, search_took = await timed(http.post("/graphql", json=search))
        finally:
            private_redis.thaw()

    # then both answer, within about one Redis timeout (1 s): the throttle counts in memory and
    # the rate limit lets the read through, instead of hanging until TCP gives up
    assert signed_in.json()["data"]["tokenCreate"]["errors"] == []
    assert searched.json()["data"] == {"listings": {"totalCount": 0}}
    # (each waited 5 s before EIC_REDIS_TIMEOUT_SECONDS, default 1 s)
    assert sign_in_took < 3
    assert search_took < 3
