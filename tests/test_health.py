"""Health endpoints: liveness without the database, readiness with it, a request id on each."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from backend.app import create_app
from backend.kit.db import Database
from backend.settings import Settings

REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port that refuses connections: bound (so nobody else takes it), not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield held.getsockname()[1]


@pytest.fixture(params=["sqlite", "postgresql"])
def unreachable_url(request: pytest.FixtureRequest) -> str:
    """A database that cannot be reached: a file in a missing directory, or a closed port."""
    if request.param == "sqlite":
        assert not Path("/nonexistent-dir").exists()
        return "sqlite+aiosqlite:////nonexistent-dir/eic.db"
    port = request.getfixturevalue("closed_port")
    return f"postgresql+asyncpg://eic@127.0.0.1:{port}/eic"


@pytest.fixture
async def unreachable_db(unreachable_url: str) -> AsyncIterator[Database]:
    database = Database(unreachable_url)
    yield database
    await database.dispose()


@pytest.fixture
async def unready_client(
    unreachable_db: Database, settings: Settings
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, db=unreachable_db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield http


async def test_healthz_says_the_process_is_alive(client: httpx.AsyncClient) -> None:
    # given a running app
    # when a probe asks whether it is alive
    response = await client.get("/healthz")

    # then it is
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_healthz_does_not_need_the_database(unready_client: httpx.AsyncClient) -> None:
    # given an app whose database cannot be reached
    # when a probe asks whether it is alive
    response = await unready_client.get("/healthz")

    # then it still is: restarting the process would not bring the database back
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_says_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    # given an app with a working database
    # when a probe asks whether it may send traffic
    response = await client.get("/readyz")

    # then it may
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_readyz_is_503_when_the_database_is_unreachable(
    unready_client: httpx.AsyncClient,
) -> None:
    # given an app whose database cannot be reached
    # when a probe asks whether it may send traffic
    response = await unready_client.get("/readyz")

    # then it may not, and the answer names the database without leaking the error
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/readyz", 200),
        ("POST", "/graphql", 200),
        ("GET", "/no-such-page", 404),
        ("DELETE", "/graphql", 405),
    ],
)
async def test_every_response_has_a_request_id(
    client: httpx.AsyncClient, method: str, path: str, status: int
) -> None:
    # given a request without an id of its own
    # when it is answered, whatever the answer
    response = await client.request(
        method, path, json={"query": "{ __typename }"} if method == "POST" else None
    )

    # then the response carries a fresh request id
    assert response.status_code == status
    assert REQUEST_ID.match(response.headers["x-request-id"])


async def test_request_ids_differ_between_requests(client: httpx.AsyncClient) -> None:
    # given two requests without ids of their own
    # when both are answered
    first = await client.get("/healthz")
    second = await client.get("/healthz")

    # then each has its own id, so log lines of one request can be told from the other's
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_an_unready_response_has_a_request_id(unready_client: httpx.AsyncClient) -> None:
    # given an app whose database cannot be reached
    # when readiness is refused
    response = await unready_client.get("/readyz")

    # then that response carries a request id too
    assert response.status_code == 503
    assert REQUEST_ID.match(response.headers["x-request-id"])
