"""The TypeScript client (clients/typescript): its generated types stay in step with the schema
and the operations, and it works end to end against a live server with the demo.

Both need Node (20 or newer) and the client's npm packages: the first test to need them runs
``npm ci`` (the npm registry is reachable from CI, which starts from a clean clone)."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import shutil
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.auth.security import Security
from backend.auth.viewer import Role
from backend.forums.models import Post
from backend.identity.models import Membership, User
from backend.kit.db import Database, utcnow
from backend.marketplace.models import Listing
from tests.conftest import TEST_JWT_SECRET, make_settings, scratch_postgres_database
from tests.process_kit import EIC, eic_serving, load_demo, scratch_environment

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
NPM = shutil.which("npm")
NODE = shutil.which("node")
GENERATED = ("graphql.ts", "operations.ts")
FIRM = "katsuyama-pellets@demo.eic.example"
OTHER_FIRM = "maniwa-lumber@demo.eic.example"
# A member of its own NPO and of Katsuyama Pellet Works (README, "Demo accounts").
MEMBER = "biomass-town@demo.eic.example"
DEMO_PASSWORD = "eic-demo-2026"
LISTING_TITLE = "Cedar shavings from the TypeScript client"
POST_BODY = "Dry cedar shavings available from next week."

# Skipped on a machine without Node; CI (CI=true) has it, and fails instead of skipping.
pytestmark = pytest.mark.skipif(
    (NPM is None or NODE is None) and not os.environ.get("CI"),
    reason="Node 20+ and npm are needed (Debian: apt-get install nodejs npm)",
)


def npm(*arguments: str, environment: dict[str, str] | None = None) -> str:
    assert NPM is not None, "npm is not installed"
    done = subprocess.run(  # noqa: S603 - npm, with our own arguments
        [NPM, *arguments],
        cwd=CLIENT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"npm {' '.join(arguments)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def turn() -> Iterator[None]:
    """Test processes running at once take turns at npm in clients/typescript."""
    with (CLIENT / ".npm-ci.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(scope="module")
def node_modules() -> None:
    """The client's npm packages, as the committed package-lock.json has them: ``npm ci`` when
    they are missing or older than the lock."""
    with turn():
        installed = CLIENT / "node_modules" / ".package-lock.json"
        wanted = CLIENT / "package-lock.json"
        if not installed.exists() or installed.stat().st_mtime < wanted.stat().st_mtime:
            npm("ci", "--no-audit", "--no-fund")


@pytest.fixture(scope="module")
def compiled(node_modules: None) -> None:
    """The client and its end-to-end scripts compiled by tsc into clients/typescript/dist
    (strict: a type error fails here)."""
    with turn():
        npm("run", "build")


def test_the_committed_types_match_the_schema_and_operations(
    node_modules: None, tmp_path: Path
) -> None:
    # Given the generated files in clients/typescript/src/generated, when they are generated
    # again from schema/schema.graphql and clients/operations into a temporary directory
    npm("run", "codegen", environment={**os.environ, "EIC_CODEGEN_OUT": str(tmp_path)})
    # then they are the same, byte for byte
    for name in GENERATED:
        committed = (CLIENT / "src" / "generated" / name).read_text(encoding="utf-8")
        assert (tmp_path / name).read_text(encoding="utf-8") == committed, (
            f"clients/typescript/src/generated/{name} is stale: run `make typescript` and commit it"
        )


def test_every_operation_has_its_manifest_id() -> None:
    # The generated constants carry the ids the server knows, one per operation.
    manifest: dict[str, str] = json.loads(
        (ROOT / "clients" / "operations" / "manifest.json").read_text(encoding="utf-8")
    )
    generated = (CLIENT / "src" / "generated" / "operations.ts").read_text(encoding="utf-8")
    ids = [line.split("id: '")[1][:64] for line in generated.splitlines() if "id: '" in line]
    assert sorted(ids) == sorted(manifest)


@dataclass(frozen=True)
class DemoServer:
    base: str
    database_url: str


@asynccontextmanager
async def scratch_database(directory: Path) -> AsyncIterator[str]:
    """A new database: PostgreSQL when EIC_TEST_DATABASE_URL names a server, else SQLite."""
    given = os.environ.get("EIC_TEST_DATABASE_URL")
    if not given:
        yield scratch_environment(directory)[1]
        return
    name = f"eic_ts_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    async with scratch_postgres_database(given, name) as url:
        yield url


@pytest.fixture(scope="module")
async def demo_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[DemoServer]:
    """``eic serve`` over a new database with the demo, running the apps' operations only."""
    directory = tmp_path_factory.mktemp("typescript-e2e")
    async with scratch_database(directory) as database_url:
        environment = scratch_environment(directory)[0] | {
            "EIC_DATABASE_URL": database_url,
            "EIC_JWT_SECRET": TEST_JWT_SECRET,
            "EIC_TRUSTED_OPERATIONS_ONLY": "true",
        }
        await asyncio.to_thread(load_demo, environment, directory)
        with eic_serving(environment, directory) as base:
            yield DemoServer(base, database_url)


async def expired_access_token(database_url: str, email: str) -> str:
    """An access token of the account that expired an hour ago, signed as the server signs."""
    db = Database(database_url)
    try:
        async with db.read() as session:
            user = await session.scalar(select(User).where(User.email == email))
            assert user is not None
            membership = await session.scalar(
                select(Membership).where(Membership.user_id == user.id)
            )
            assert membership is not None
    finally:
        await db.dispose()
    security = Security.from_settings(make_settings(database_url))
    return security.tokens.issue_access(
        user_id=user.id,
        role=Role.FIRM,
        organisation_id=membership.organisation_id,
        session_id=uuid.uuid4(),  # expired first: its session is never looked up
        now=utcnow() - timedelta(hours=1),
    ).token


async def count(database_url: str, statement: Any) -> int:
    db = Database(database_url)
    try:
        async with db.read() as session:
            return int(await session.scalar(statement) or 0)
    finally:
        await db.dispose()


async def test_the_client_end_to_end_against_the_demo(
    compiled: None, demo_server: DemoServer
) -> None:
    # Given the compiled client, and a server with the demo that runs nothing but the
    # manifest's operations
    expired = await expired_access_token(demo_server.database_url, FIRM)
    # when the script signs in as a demo firm and goes through the app's calls
    assert NODE is not None, "node is not installed"
    done = await asyncio.to_thread(
        subprocess.run,
        [NODE, str(CLIENT / "dist" / "e2e" / "demo.js")],
        env={
            **os.environ,
            "EIC_URL": demo_server.base,
            "EIC_EMAIL": FIRM,
            "EIC_OTHER_EMAIL": OTHER_FIRM,
            "EIC_MEMBER_EMAIL": MEMBER,
            "EIC_PASSWORD": DEMO_PASSWORD,
            "EIC_EXPIRED_TOKEN": expired,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    print(done.stderr)  # the table of requests and bytes per call
    outcome = json.loads(done.stdout)
    calls = {call["call"]: call for call in outcome.pop("calls")}
    listing_id = outcome["listing"]["id"]
    # then every call worked, by id, in trusted-only mode
    assert outcome == {
        "role": "FIRM",
        "organisation": "Katsuyama Pellet Works",
        "marketCount": outcome["marketCount"],
        "subscribed": "SUBSCRIBED",
        "postErrors": [],
        "event": {"kind": "POST_ADDED", "samePost": True},
        # the lost answer's retry carried the same key and got the first answer replayed
        # switching organisation while subscribed: reconnected and subscribed again as it
        "switched": {"to": "Katsuyama Pellet Works", "resubscribed": "SUBSCRIBED"},
        "listing": {
            "id": listing_id,
            "errors": [],
            "keys": 2,
            "sameKey": True,
            "replayed": [False, True],
        },
        "refreshed": True,
        "myListingsAfterExpiry": outcome["myListingsAfterExpiry"],
        # every listing once, page after page
        "pagedListings": {
            "count": outcome["myListingsAfterExpiry"],
            "distinct": outcome["myListingsAfterExpiry"],
        },
        "sync": outcome["sync"],
        "resync": ["RESYNC_REQUIRED"],
        # the session revoked elsewhere: the socket closed, the refresh refused, the
        # subscription ended with the refusal
        "revoked": {"error": ["TOKEN_INVALID"]},
    }
    assert outcome["marketCount"] >= 1
    assert outcome["myListingsAfterExpiry"] > 20  # the demo firm's, and the new one: two pages
    assert f"LISTING:UPSERT:{listing_id}" in outcome["sync"]
    # and each call cost the requests the client promises
    requests = {name: call["operations"] for name, call in calls.items()}
    assert requests["signIn"] == ["SignIn:200"]
    assert requests["query Me"] == ["Me:200"]
    assert requests["mutation ListingSave (answer lost, retried)"] == [
        "ListingSave:lost",
        "ListingSave:200",
    ]
    assert requests["refresh x2 at once (shared)"] == ["RefreshSession:200"]
    assert requests["query MyListings, token expired (refresh, retry)"] == [
        "MyListings:200",
        "RefreshSession:200",
        "MyListings:200",
    ]
    assert requests["query Me, token about to expire (refresh first)"] == [
        "RefreshSession:200",
        "Me:200",
    ]
    assert requests["sync (one page)"] == ["SyncChanges:200"]
    assert requests["refresh(organisationId) while subscribed"] == [
        "RefreshSession:200",
        "ws:connection>",
        "ws:connection<",
        "ws:ThreadPosts>",
        "ws:ThreadPosts<",
    ]
    assert requests["subscription, session revoked elsewhere"] == ["RefreshSession:200"]
    pages = -(-outcome["myListingsAfterExpiry"] // 20)
    assert requests["pages MyListings (every page of 20)"] == ["MyListings:200"] * pages
    # and the work was done once
    database_url = demo_server.database_url
    listings = select(func.count()).select_from(Listing).where(Listing.title == LISTING_TITLE)
    assert await count(database_url, listings) == 1
    posts = select(func.count()).select_from(Post).where(Post.body == POST_BODY)
    assert await count(database_url, posts) == 1


@dataclass(frozen=True)
class Outage:
    up: str
    down: str


@pytest.fixture(scope="module")
def outage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    """Two ``eic serve``: one over a new, migrated SQLite database, and one over a SQLite file
    that cannot be opened (its directory does not exist), whose database is away."""
    directory = tmp_path_factory.mktemp("typescript-outage")
    environment = scratch_environment(directory)[0] | {"EIC_TRUSTED_OPERATIONS_ONLY": "true"}
    subprocess.run(  # noqa: S603 - our own command
        [EIC, "migrate"], env=environment, cwd=directory, check=True, capture_output=True
    )
    broken = environment | {"EIC_DATABASE_URL": f"sqlite+aiosqlite:///{directory}/gone/eic.db"}
    with eic_serving(environment, directory) as up, eic_serving(broken, directory) as down:
        yield Outage(up, down)


async def test_the_client_waits_out_an_outage_and_gives_up_after_its_retries(
    compiled: None, outage: Outage
) -> None:
    # Given the compiled client, a server whose database is away and one that works
    # when the script's requests go to the broken server first, then to the working one
    assert NODE is not None, "node is not installed"
    done = await asyncio.to_thread(
        subprocess.run,
        [NODE, str(CLIENT / "dist" / "e2e" / "outage.js")],
        env={**os.environ, "EIC_URL": outage.up, "EIC_DOWN_URL": outage.down},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # then a query answered SERVICE_UNAVAILABLE (in GraphQL, HTTP 200) twice was sent again
    # after the 5 seconds the server asked for, each time, until answered; a keyed mutation
    # refused with HTTP 503 once likewise; and a server down for good was asked 5 times in all
    assert json.loads(done.stdout) == {
        "query": {"answers": ["Clusters:200"] * 3, "waits": [5, 5]},
        "clusters": 0,
        "mutation": {"answers": ["SignIn:503", "SignIn:200"], "waits": [5]},
        "signInErrors": ["INVALID_CREDENTIALS"],
        "gaveUp": {
            "codes": ["SERVICE_UNAVAILABLE"],
            "answers": ["Clusters:200"] * 5,
            "waits": [5, 5, 5, 5],
        },
    }
