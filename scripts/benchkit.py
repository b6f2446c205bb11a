"""What the benchmark scripts share: a scratch database (SQLite in a temp folder, or a PostgreSQL
database created beside the one named and dropped afterwards), migrated, and percentiles."""

from __future__ import annotations

import asyncio
import base64
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.cli import migrate
from backend.identity.models import MembershipRole, OrganisationKind, OrganisationSubtype
from backend.kit.broadcast import Broadcaster, InProcessBroadcaster, RedisBroadcaster
from backend.kit.db import Database, new_id
from backend.settings import Settings


def cursor_from_the_start(head_cursor: str) -> str:
    """A sync cursor of the same person at sequence 0: as if their app had synced before the
    first change (cursors are urlsafe base64 of "sync1:sequence:position:audience")."""
    return cursor_at(head_cursor, 0)


def cursor_at(head_cursor: str, sequence: int) -> str:
    """A sync cursor of the same person at ``sequence`` of the change log."""
    raw = base64.urlsafe_b64decode(head_cursor + "=" * (-len(head_cursor) % 4)).decode()
    prefix, _, position, audience = raw.split(":")
    text = f"{prefix}:{sequence}:{position}:{audience}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency_line(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50):.1f} ms, p90 {percentile(values, 90):.1f} ms, "
        f"p99 {percentile(values, 99):.1f} ms, max {max(values):.1f} ms, "
        f"mean {statistics.fmean(values):.1f} ms"
    )


class Client:
    """Posts GraphQL documents to the app and times them."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(
        self, query: str, variables: dict[str, Any], token: str | None = None
    ) -> tuple[int, dict[str, Any] | None, float]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        started = time.perf_counter()
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        elapsed = (time.perf_counter() - started) * 1000
        try:
            body: dict[str, Any] | None = response.json()
        except ValueError:
            body = None
        return response.status_code, body, elapsed

    async def must(
        self, query: str, variables: dict[str, Any], token: str | None = None
    ) -> tuple[dict[str, Any], float]:
        """The data of a request that must succeed, and its time in ms; exits otherwise."""
        status, body, elapsed = await self.post(query, variables, token)
        if status != 200 or body is None or "errors" in body:
            raise SystemExit(f"request failed ({status}): {body}")
        data: dict[str, Any] = body["data"]
        return data, elapsed


async def scratch_postgres(url: str, name: str, create: bool) -> str:
    """Drop (and, with ``create``, recreate) database ``name`` on the server of ``url``."""
    admin = Database(url)
    try:
        async with admin.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            if create:
                await autocommit.execute(text(f"CREATE DATABASE {name}"))
    finally:
        await admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def bench_database(
    database_url: str | None, *, keep: bool, **settings: Any
) -> Iterator[tuple[str, Settings]]:
    """A migrated scratch database and test settings for it; removed afterwards unless
    ``keep``."""
    scratch_name = f"eic_bench_{os.getpid()}"
    postgres = bool(database_url and database_url.startswith("postgresql"))
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite+aiosqlite:///{folder}/bench.db"
        if postgres:
            assert database_url is not None
            url = asyncio.run(scratch_postgres(database_url, scratch_name, create=True))
        values: dict[str, Any] = {
            "environment": "test",
            "database_url": url,
            "log_level": "WARNING",
            "argon2_time_cost": 1,
            "argon2_memory_cost_kib": 1024,
            "argon2_parallelism": 1,
            **settings,
        }
        try:
            migrate(Settings(_env_file=None, **values))
            yield url, Settings(_env_file=None, **values)
        finally:
            if keep:
                print(f"kept: {url}")
            elif postgres:
                assert database_url is not None
                asyncio.run(scratch_postgres(database_url, scratch_name, create=False))


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """The app served by uvicorn on a free loopback port, in this event loop: its address."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def demo_token(address: str, key: str = "biomass-town") -> str:
    """An access token of a demo account, signed in through the served app."""
    async with httpx.AsyncClient(base_url=f"http://{address}") as http:
        response = await http.post(
            "/graphql",
            json={
                "query": "mutation($i: TokenCreateInput!) "
                "{ tokenCreate(input: $i) { accessToken } }",
                "variables": {"i": {"email": demo.demo_email(key), "password": demo.DEMO_PASSWORD}},
            },
        )
    token: str = response.json()["data"]["tokenCreate"]["accessToken"]
    return token


@dataclass(frozen=True)
class Instances:
    """Two served app instances: the addresses, the first one's database and both broadcasters."""

    first: str
    second: str
    db: Database
    first_broadcaster: Broadcaster
    second_broadcaster: Broadcaster


@asynccontextmanager
async def two_instances(
    settings: Settings, url: str, redis_url: str | None
) -> AsyncIterator[Instances]:
    """The demo data on ``url``, then two app instances with their own database connections
    sharing live posts through Redis (under a key prefix of their own); without ``redis_url``,
    one in-process instance serves as both."""
    db, second_db = Database(url), Database(url)
    await demo.seed_demo(db, Passwords(settings))
    prefix = f"eic-bench-{uuid.uuid4().hex}:"
    shared = InProcessBroadcaster()
    first_broadcaster: Broadcaster = RedisBroadcaster(redis_url, prefix) if redis_url else shared
    second_broadcaster: Broadcaster = RedisBroadcaster(redis_url, prefix) if redis_url else shared
    try:
        async with serve(create_app(settings, db=db, broadcaster=first_broadcaster)) as first:
            if redis_url:
                second_app = create_app(settings, db=second_db, broadcaster=second_broadcaster)
                async with serve(second_app) as second:
                    yield Instances(first, second, db, first_broadcaster, second_broadcaster)
            else:
                yield Instances(first, first, db, first_broadcaster, second_broadcaster)
    finally:
        await first_broadcaster.close()
        if redis_url:
            await second_broadcaster.close()
        await second_db.dispose()
        await db.dispose()


@dataclass
class FirmRows:
    """Rows of bench firms for bulk inserts: a micro-enterprise with one person, its admin."""

    password_hash: str
    now: datetime
    users: list[dict[str, Any]] = field(default_factory=list)
    organisations: list[dict[str, Any]] = field(default_factory=list)
    memberships: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        *,
        email: str,
        person: str,
        name: str,
        cluster_id: uuid.UUID,
        lat: float,
        lon: float,
        **organisation: Any,
    ) -> tuple[uuid.UUID, uuid.UUID]:
        """A firm and its person; their ids (user, organisation). ``organisation`` adds or
        replaces columns of the organisation's row (``activity_code``, ``kind``,
        ``created_at`` ...)."""
        user_id, organisation_id = new_id(), new_id()
        self.users.append(
            {
                "id": user_id,
                "email": email,
                "password_hash": self.password_hash,
                "display_name": person,
                "is_platform_admin": False,
                "is_active": True,
                "created_at": self.now,
            }
        )
        self.organisations.append(
            {
                "id": organisation_id,
                "name": name,
                "kind": OrganisationKind.FIRM,
                "subtype": OrganisationSubtype.MICRO_ENTERPRISE,
                "cluster_id": cluster_id,
                "lat": lat,
                "lon": lon,
                "place_name": "",
                "description": "",
                "created_at": self.now,
                "updated_at": self.now,
                "version": 1,
                **organisation,
            }
        )
        self.memberships.append(
            {
                "id": new_id(),
                "user_id": user_id,
                "organisation_id": organisation_id,
                "role": MembershipRole.ADMIN,
                "created_at": self.now,
            }
        )
        return user_id, organisation_id
