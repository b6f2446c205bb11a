"""Shared steps of the operations tests: `eic` run as the operator runs it, a scratch second
database, a fingerprint of every table, and the app in process over a given database."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from backend.app import create_app
from backend.kit.clock import ManualClock
from backend.kit.db import Database, utcnow
from tests.conftest import GraphQL, make_settings, scratch_postgres_database
from tests.process_kit import EIC

DEMO_PASSWORD = "eic-demo-2026"
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  tokenCreate(input: {email: $email, password: $password}) {
    accessToken errors { code message field }
  }
}
"""


def eic(database_url: str, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``eic`` in a process of its own, with only ``database_url`` configured."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")} | {
        "EIC_DATABASE_URL": database_url,
        "EIC_ENVIRONMENT": "test",
    }
    done = subprocess.run(  # noqa: S603 - our own command
        [EIC, *arguments], env=environment, capture_output=True, text=True, timeout=600
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


@asynccontextmanager
async def another_database(
    empty_database_url: str, tmp_path: Path, name: str
) -> AsyncIterator[str]:
    """A second empty database beside ``empty_database_url`` (SQLite file or PostgreSQL
    database, dropped afterwards)."""
    if empty_database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path}/{name}.db"
        return
    given = os.environ["EIC_TEST_DATABASE_URL"]
    async with scratch_postgres_database(given, f"eic_{name}_{os.getpid()}") as url:
        yield url


def _fingerprints(connection: Connection) -> dict[str, tuple[int, str]]:
    found = {}
    for table in sorted(inspect(connection).get_table_names()):
        rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()  # noqa: S608
        # ordered by their text: the same rows give the same hash whatever order they come in
        ordered = sorted(repr(tuple(row)) for row in rows)
        found[table] = (len(rows), hashlib.sha256("\n".join(ordered).encode()).hexdigest())
    return found


async def fingerprints(database_url: str) -> dict[str, tuple[int, str]]:
    """(row count, hash of the ordered rows) of every table."""
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            return await connection.run_sync(_fingerprints)
    finally:
        await database.dispose()


@asynccontextmanager
async def app_over(database_url: str) -> AsyncIterator[GraphQL]:
    """The real ASGI app over this database, behind httpx (in process)."""
    database = Database(database_url)
    app = create_app(make_settings(database_url), db=database, clock=ManualClock(utcnow()))
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
            yield GraphQL(http)
    finally:
        await database.dispose()


async def sign_in(gql: GraphQL, email: str) -> str:
    body = await gql(SIGN_IN, {"email": email, "password": DEMO_PASSWORD})
    payload: dict[str, Any] = body["data"]["tokenCreate"]
    assert payload["errors"] == [], body
    token: str = payload["accessToken"]
    return token


async def log_head(database_url: str) -> int:
    """The last commit number of the sync log."""
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            found = await connection.execute(text("SELECT last_sequence FROM sync_log_state"))
            return int(found.scalar_one())
    finally:
        await database.dispose()
