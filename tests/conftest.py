"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when EIC_TEST_DATABASE_URL is set),
the real ASGI app behind httpx, a GraphQL helper and an SQL statement counter.

Every test starts from empty tables; nothing depends on another test's data.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url

from backend.app import create_app
from backend.auth.security import Security
from backend.auth.viewer import Role
from backend.cli import migrate
from backend.identity import service as identity_service
from backend.identity.models import (
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    OrganisationSubtype,
    RefreshSession,
    User,
)
from backend.kit.clock import ManualClock
from backend.kit.db import Database, new_id, utcnow
from backend.kit.validation import Place
from backend.models import metadata
from backend.settings import Settings
from tests.kit import create_wood_cluster

TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789"
PASSWORD = "correct horse battery"
REFERENCE_TABLES = frozenset(
    {"units", "materials", "material_conversions", "impact_factors", "activities"}
)


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": database_url,
        "jwt_secret": TEST_JWT_SECRET,
        # argon2id still, with a small cost so that the suite stays fast.
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 1024,
        "argon2_parallelism": 1,
        "redis_url": None,
        "log_level": "WARNING",
        # The suite registers and searches a great deal from one address; the rate limits'
        # own tests (tests/security/test_rate_limits.py) set small ones.
        "rate_limit_registrations_per_address": "100000/minute",
        "rate_limit_reads_per_address": "100000/minute",
        "rate_limit_reads_per_account": "100000/minute",
        "rate_limit_exports_per_account": "100000/minute",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def scratch_postgres_database(admin_url: str, name: str) -> AsyncIterator[str]:
    """A new PostgreSQL database for the block, dropped afterwards.

    Each test session gets its own, so concurrent runs against one server never collide.
    """
    admin = Database(admin_url)
    try:
        async with admin.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            await autocommit.execute(text(f"CREATE DATABASE {name}"))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        async with admin.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    given = os.environ.get("EIC_TEST_DATABASE_URL")
    if not given:
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db')}/eic-test.db"
        return
    async with scratch_postgres_database(given, f"eic_test_{os.getpid()}") as url:
        yield url


@pytest.fixture(scope="session")
async def db(database_url: str) -> AsyncIterator[Database]:
    """The database at the latest migration, migrated the way `eic migrate` does it."""
    # Alembic's env.py runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(migrate, make_settings(database_url))
    database = Database(database_url)
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    if "db" not in request.fixturenames:
        return
    database: Database = request.getfixturevalue("db")
    # Reference data (units, the material catalogue) stays: `eic migrate` loaded it once.
    # DELETE, children first, on both engines: a test leaves a few rows, and PostgreSQL's
    # TRUNCATE of 34 tables (new files for each table and index) took 115 ms against 7 ms.
    tables = [t.name for t in reversed(metadata.sorted_tables) if t.name not in REFERENCE_TABLES]
    async with database.engine.begin() as connection:
        for table in tables:
            await connection.execute(text(f"DELETE FROM {table}"))  # noqa: S608
        await connection.execute(text("DELETE FROM materials WHERE NOT from_catalogue"))


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


# Where the test clock starts: a fixed moment, so responses with times are the same every run.
CLOCK_START = datetime(2027, 3, 1, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    """The app's clock in tests: stands still until a test moves it (no sleeps)."""
    return ManualClock(CLOCK_START)


@pytest.fixture
async def client(
    db: Database, settings: Settings, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield http


@dataclass
class GraphQL:
    """Posts operations to the app; ``token`` sets the bearer token for later calls."""

    http: httpx.AsyncClient
    token: str | None = None
    last_response: httpx.Response | None = field(default=None, repr=False)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        sent_headers = dict(headers or {})
        bearer = token or self.token
        if bearer:
            sent_headers["Authorization"] = f"Bearer {bearer}"
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables or {}}, headers=sent_headers
        )
        self.last_response = response
        body: dict[str, Any] = response.json()
        return without_cost(body)


def without_cost(body: Any) -> Any:
    """The body without ``extensions.cost``, which every estimated answer carries: the tests of
    other things compare whole bodies; tests/security/test_query_cost.py reads it from
    ``GraphQL.last_response``."""
    extensions = body.get("extensions") if isinstance(body, dict) else None
    if isinstance(extensions, dict) and "cost" in extensions:
        body = {**body, "extensions": {k: v for k, v in extensions.items() if k != "cost"}}
        if not body["extensions"]:
            del body["extensions"]
    return body


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQL:
    return GraphQL(client)


@dataclass
class StatementLog:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_statements(db: Database) -> Iterator[StatementLog]:
    """Records every SQL statement the app sends while the block runs (BEGIN/COMMIT excluded)."""
    log = StatementLog()

    def before_cursor_execute(*args: Any) -> None:
        statement = args[2]
        log.statements.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield log
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", before_cursor_execute)


@pytest.fixture
def sql_statements(db: Database) -> Any:
    """``with sql_statements() as log: ...`` then ``log.count``."""
    return lambda: count_statements(db)


@pytest.fixture
async def cluster_id(db: Database) -> str:
    """One cluster (Maniwa-like) to register organisations in."""
    return await create_wood_cluster(db)


REGISTER = """
mutation Register($input: AccountRegisterInput!) {
  accountRegister(input: $input) { user { id email displayName } errors { code message field } }
}
"""
SIGN_IN = """
mutation SignIn($input: TokenCreateInput!) {
  tokenCreate(input: $input) {
    accessToken refreshToken expiresAt refreshExpiresAt role organisationId
    errors { code message field }
  }
}
"""


def organisation_input(
    cluster_id: str, name: str = "Katsuyama Pellet Works", kind: str = "FIRM", **extra: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "kind": kind,
        "clusterId": cluster_id,
        "location": {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"},
        **extra,
    }


@dataclass
class Account:
    email: str
    user_id: str
    access_token: str
    refresh_token: str
    organisation_id: str | None


@pytest.fixture
def security(settings: Settings) -> Security:
    """The app's security services (passwords, tokens, throttle) for fixtures that sign in
    without the API."""
    return Security.from_settings(settings)


def new_organisation(
    cluster_id: str, name: str, kind: str, **extra: Any
) -> identity_service.NewOrganisation:
    """What accountRegister makes of :func:`organisation_input`."""
    given = organisation_input(cluster_id, name=name, kind=kind, **extra)
    location = given["location"]
    return identity_service.NewOrganisation(
        name=given["name"],
        kind=OrganisationKind(given["kind"]),
        subtype=OrganisationSubtype(given["subtype"]) if given.get("subtype") else None,
        cluster_id=cluster_id,
        location=Place(
            lat=location["lat"], lon=location["lon"], place_name=location.get("placeName", "")
        ),
        description=given.get("description", ""),
    )


@pytest.fixture
def register(db: Database, security: Security, clock: ManualClock) -> Any:
    """``await register(email, cluster_id, name=..., kind=...)`` -> a signed-in :class:`Account`.

    Goes through the identity service (the rules and rows of accountRegister and tokenCreate)
    without the HTTP round trips; tests of registering and signing in use the API itself."""

    async def _register(
        email: str,
        cluster_id: str | None = None,
        *,
        name: str = "Katsuyama Pellet Works",
        kind: str = "FIRM",
        invite_code: str | None = None,
        **organisation: Any,
    ) -> Account:
        if invite_code is None:
            assert cluster_id is not None
        user = await identity_service.register_account(
            db=db,
            security=security,
            email=email,
            password=PASSWORD,
            display_name=email.split("@")[0],
            organisation=None
            if invite_code is not None
            else new_organisation(cluster_id or "", name, kind, **organisation),
            invite_code=invite_code,
            now=clock.now(),
        )
        assert user is not None, f"{email} already has an account"
        pair = await identity_service.create_token(
            db=db,
            security=security,
            email=email,
            password=PASSWORD,
            organisation_id=None,
            client_address=None,
        )
        return Account(
            email=email,
            user_id=str(user.id),
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            organisation_id=str(pair.organisation_id) if pair.organisation_id else None,
        )

    return _register


@pytest.fixture
async def platform_admin_token(db: Database, security: Security) -> str:
    """An ADMIN token: a platform admin signed in without an organisation."""
    await identity_service.create_platform_admin(
        db=db,
        security=security,
        email="root@eic.example",
        password=PASSWORD,
        display_name="Platform Admin",
    )
    pair = await identity_service.create_token(
        db=db,
        security=security,
        email="root@eic.example",
        password=PASSWORD,
        organisation_id=None,
        client_address=None,
    )
    assert (pair.role, pair.organisation_id) == (Role.ADMIN, None)
    return pair.access_token


# ---------------------------------------------------------------------------------------------
# Many organisations at once (concurrency tests)


@dataclass(frozen=True)
class Person:
    user_id: str
    organisation_id: str
    token: str


async def seed_people(
    db: Database, settings: Settings, cluster_id: str, count: int, *, prefix: str = "p"
) -> list[Person]:
    """``count`` firms of the cluster, one person each, with an access token: many
    organisations without registering each through the (throttled) API."""
    tokens = Security.from_settings(settings).tokens
    now = utcnow()
    ids = [(new_id(), new_id()) for _ in range(count)]
    users = [
        {
            "id": user_id,
            "email": f"{prefix}-{index}@people.eic.example",
            "password_hash": "not-a-password-hash",
            "display_name": f"{prefix.title()} Person {index:03d}",
            "is_platform_admin": False,
            "is_active": True,
            "created_at": now,
        }
        for index, (user_id, _) in enumerate(ids)
    ]
    organisations = [
        {
            "id": organisation_id,
            "name": f"{prefix.title()} Firm {index:03d}",
            "kind": OrganisationKind.FIRM,
            "cluster_id": uuid.UUID(cluster_id),
            "lat": 35.07,
            "lon": 133.75,
            "place_name": "",
            "description": "",
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        for index, (_, organisation_id) in enumerate(ids)
    ]
    memberships = [
        {
            "id": new_id(),
            "user_id": user_id,
            "organisation_id": organisation_id,
            "role": MembershipRole.ADMIN,
            "created_at": now,
        }
        for user_id, organisation_id in ids
    ]
    # Each person signed in once: access tokens name the refresh session they came with.
    sessions = [
        {
            "id": new_id(),
            "family_id": new_id(),
            "user_id": user_id,
            "organisation_id": organisation_id,
            "token_hash": f"seeded-{user_id.hex}",
            "issued_at": now,
            "expires_at": now + tokens.refresh_ttl,
        }
        for user_id, organisation_id in ids
    ]
    async with db.write() as session:
        await session.execute(insert(User), users)
        await session.execute(insert(Organisation), organisations)
        await session.execute(insert(Membership), memberships)
        await session.execute(insert(RefreshSession), sessions)
    return [
        Person(
            user_id=str(user_id),
            organisation_id=str(organisation_id),
            token=tokens.issue_access(
                user_id=user_id,
                role=Role.FIRM,
                organisation_id=organisation_id,
                session_id=signed_in["id"],
                now=now,
            ).token,
        )
        for (user_id, organisation_id), signed_in in zip(ids, sessions, strict=True)
    ]


@pytest.fixture
async def empty_database_url(tmp_path: Path) -> AsyncIterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    given = os.environ.get("EIC_TEST_DATABASE_URL")
    if not given:
        yield f"sqlite+aiosqlite:///{tmp_path}/empty.db"
        return
    async with scratch_postgres_database(given, f"eic_empty_{os.getpid()}") as url:
        yield url


# The machine's shared Redis (one database; each test keeps to a key prefix of its own).
TEST_REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the test Redis."""
    client = Redis.from_url(TEST_REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis: Redis) -> AsyncIterator[str]:
    """A key prefix of this test's own in the shared Redis; its keys are deleted afterwards."""
    prefix = f"eic-test-{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)
