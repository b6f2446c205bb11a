"""What a unit of work sends to PostgreSQL besides its own statements: reads send neither BEGIN
nor ROLLBACK, and a pooled connection is pinged only after it rested (backend.kit.db)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError

from backend.kit import db as db_module
from backend.kit.db import Database


@pytest.fixture
async def postgres(database_url: str) -> AsyncIterator[Database]:
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite has no round trips to a server")
    database = Database(database_url)
    yield database
    await database.dispose()


def _log_simple_queries(database: Database) -> list[str]:
    """What asyncpg sends outside prepared statements (BEGIN, COMMIT, ROLLBACK, the ping's ';')
    on every connection the pool opens."""
    sent: list[str] = []

    @event.listens_for(database.engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(
            lambda record: sent.append(record.query.strip().rstrip(";").upper() or "<ping>")
        )

    return sent


async def test_reads_send_no_begin_and_no_rollback_and_writes_do(postgres: Database) -> None:
    sent = _log_simple_queries(postgres)
    for _ in range(3):
        async with postgres.read() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
            assert (await session.execute(text("SELECT 2"))).scalar_one() == 2
    assert sent == []

    async with postgres.write() as session:
        await session.execute(text("SELECT 3"))
    assert [q.split()[0] for q in sent] == ["BEGIN", "COMMIT"]


async def _backend_pid(database: Database) -> int:
    async with database.read() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(database_url: str, pid: int) -> None:
    other = Database(database_url)
    try:
        async with other.read() as session:
            await session.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        await other.dispose()


async def test_a_connection_in_steady_use_is_not_pinged(postgres: Database) -> None:
    sent = _log_simple_queries(postgres)
    pids = {await _backend_pid(postgres) for _ in range(5)}
    assert len(pids) == 1  # one pooled connection, used five times
    assert "<ping>" not in sent


async def test_a_rested_connection_whose_server_session_ended_is_replaced_silently(
    postgres: Database, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a pooled connection whose session the server ended (a restart, an idle timeout)
    first = await _backend_pid(postgres)
    await _terminate(database_url, first)
    # when it is handed out after resting
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)
    sent = _log_simple_queries(postgres)
    # then the ping finds it dead and the read runs on a new connection
    second = await _backend_pid(postgres)
    assert second != first
    assert "<ping>" not in sent  # the new connection needed no ping


async def test_without_the_ping_a_dead_connection_fails_once_and_the_pool_renews(
    postgres: Database, database_url: str
) -> None:
    # the other side of the trade-off: a connection used within PING_AFTER_IDLE_SECONDS is
    # trusted, so one unit of work meets the dead session (the app answers it
    # SERVICE_UNAVAILABLE, retryable); the pool then replaces its connections
    first = await _backend_pid(postgres)
    await _terminate(database_url, first)
    with pytest.raises(DBAPIError) as failure:
        await _backend_pid(postgres)
    assert failure.value.connection_invalidated
    assert await _backend_pid(postgres) != first
