"""Migrations build the schema the models describe, from an empty database, on both backends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from backend.kit.db import Database
from backend.migrating import alembic_config
from backend.models import include_name, metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "include_name": include_name}
    )
    return list(compare_metadata(context, metadata))


def _all_tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names())


def _tables(connection: Connection) -> set[str]:
    """Tables the models describe (the hand-made full-text tables left out)."""
    return {name for name in inspect(connection).get_table_names() if include_name(name, "", None)}


async def test_upgrade_from_empty_matches_the_models_and_downgrade_removes_everything(
    empty_database_url: str,
) -> None:
    # Given an empty database, when `alembic upgrade head` runs (as `eic migrate` does it)
    config = alembic_config(empty_database_url)
    await asyncio.to_thread(command.upgrade, config, "head")
    database = Database(empty_database_url)
    try:
        # then autogenerate finds nothing between the models and the migrated schema
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
            assert await connection.run_sync(_tables) == {
                *metadata.tables.keys(),
                "alembic_version",
            }
        # and downgrading to base leaves only Alembic's own table.
        await asyncio.to_thread(command.downgrade, config, "base")
        async with database.engine.connect() as connection:
            assert await connection.run_sync(_all_tables) == {"alembic_version"}
    finally:
        await database.dispose()


async def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/pragmas.db")
    try:
        async with database.engine.connect() as connection:
            pragmas = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "foreign_keys", "busy_timeout")
            ]
        assert pragmas == ["wal", 1, 30000]
    finally:
        await database.dispose()
