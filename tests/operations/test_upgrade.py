"""Upgrades: the demo database of each earlier release (tests/operations/fixtures, made by
scripts/make_upgrade_fixture.py at the release) is loaded into a new database, `eic migrate` of
this code brings it to the head, its rows survive, and the service answers from it; the apps'
cursors from before the upgrade stay good."""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import subprocess
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from backend import backup
from backend.kit.db import Database
from backend.migrating import alembic_config
from backend.sync.service import WHOLE_COMMIT
from tests.conftest import REFERENCE_TABLES
from tests.operations.ops_kit import (
    another_database,
    app_over,
    eic,
    fingerprints,
    log_head,
    sign_in,
)
from tests.sync.sync_kit import changes_page, start

FIXTURES = Path(__file__).parent / "fixtures"
ON_POSTGRES = bool(os.environ.get("EIC_TEST_DATABASE_URL"))
SUFFIX = ".postgresql.sql.gz" if ON_POSTGRES else ".sqlite3.gz"
RELEASES = sorted(path.name.removesuffix(SUFFIX) for path in FIXTURES.glob(f"demo-*{SUFFIX}"))

ANSWERS = """
query Answers {
  me { user { email } organisation { name } role }
  clusters { totalCount }
  listings(first: 5) { totalCount edges { node { id title } } }
}
"""


def test_every_release_fixture_is_small_and_has_both_databases() -> None:
    assert RELEASES, "no upgrade fixture (scripts/make_upgrade_fixture.py)"
    for release in RELEASES:
        for suffix in (".postgresql.sql.gz", ".sqlite3.gz"):
            assert (FIXTURES / f"{release}{suffix}").stat().st_size < 1_000_000


def load(fixture: Path, database_url: str) -> None:
    """The release's demo database into the new database ``database_url``."""
    unpacked = gzip.decompress(fixture.read_bytes())
    if not ON_POSTGRES:
        Path(database_url.removeprefix("sqlite+aiosqlite:///")).write_bytes(unpacked)
        return
    # pg_dump's plain SQL is psql's language (COPY ... FROM stdin, \restrict)
    psql = backup.find_pg_tool("psql", "1")
    subprocess.run(  # noqa: S603 - psql found on disk
        [psql.path, "-q", "-w", "-v", "ON_ERROR_STOP=1", "-f", "-"],
        input=unpacked,
        env=backup._pg_environment(database_url),
        check=True,
        capture_output=True,
    )


async def revision(database_url: str) -> str:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            found = await connection.execute(text("SELECT version_num FROM alembic_version"))
            return str(found.scalar_one())
    finally:
        await database.dispose()


@pytest.mark.parametrize("release", RELEASES)
async def test_the_demo_database_of_an_earlier_release_migrates_to_head_and_answers(
    release: str, empty_database_url: str
) -> None:
    # Given the demo database of an earlier release
    await asyncio.to_thread(load, FIXTURES / f"{release}{SUFFIX}", empty_database_url)
    assert await revision(empty_database_url) == release.removeprefix("demo-")
    before = await fingerprints(empty_database_url)
    head_before = await log_head(empty_database_url)
    # when `eic migrate` of this code runs
    eic(empty_database_url, "migrate")
    # then the database is at this code's head
    heads = ScriptDirectory.from_config(alembic_config(empty_database_url)).get_heads()
    assert [await revision(empty_database_url)] == list(heads)
    # and every table of the release still has its rows (the reference data may have grown)
    after = await fingerprints(empty_database_url)
    counts = {table: after[table][0] for table in before}
    assert {t: n for t, n in counts.items() if t not in REFERENCE_TABLES} == {
        t: v[0] for t, v in before.items() if t not in REFERENCE_TABLES
    }
    assert all(counts[t] >= before[t][0] for t in REFERENCE_TABLES if t in before)
    assert before["listings"][0] >= 137
    async with app_over(empty_database_url) as gql:
        # and the service answers a demo firm from it
        token = await sign_in(gql, "katsuyama-pellets@demo.eic.example")
        body = await gql(ANSWERS, token=token)
        assert "errors" not in body, body
        assert body["data"]["me"] == {
            "user": {"email": "katsuyama-pellets@demo.eic.example"},
            "organisation": {"name": "Katsuyama Pellet Works"},
            "role": "FIRM",
        }
        assert body["data"]["clusters"] == {"totalCount": 4}
        assert len(body["data"]["listings"]["edges"]) == 5
        # and an app's cursor given by the release before the upgrade still syncs
        fresh = await start(gql, token)
        audience = base64.urlsafe_b64decode(fresh + "=" * (-len(fresh) % 4)).decode().split(":")[3]
        released = f"sync1:{head_before}:{WHOLE_COMMIT}:{audience}".encode()
        old_cursor = base64.urlsafe_b64encode(released).decode().rstrip("=")
        feed = await changes_page(gql, token, old_cursor)
        assert (feed["hasMore"], feed["items"]) == (False, [])


async def epoch(database_url: str) -> str:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            return str(
                (await connection.execute(text("SELECT epoch FROM sync_log_state"))).scalar_one()
            )
    finally:
        await database.dispose()


@pytest.mark.parametrize("release", RELEASES)
async def test_a_backup_of_an_earlier_release_is_restored_at_this_releases_schema(
    release: str, empty_database_url: str, tmp_path: Path
) -> None:
    # Given a backup that `eic backup` made of an earlier release's database
    await asyncio.to_thread(load, FIXTURES / f"{release}{SUFFIX}", empty_database_url)
    backup_file = tmp_path / "old.backup"
    eic(empty_database_url, "backup", str(backup_file))
    async with another_database(empty_database_url, tmp_path, "restored") as restored_url:
        # when this release's `eic restore` restores it
        done = eic(restored_url, "restore", str(backup_file))
        # then it is migrated to this release's head, and a new sync epoch started
        old_revision = release.removeprefix("demo-")
        assert f", then migrated it from {old_revision}. New sync epoch " in done.stdout
        heads = ScriptDirectory.from_config(alembic_config(restored_url)).get_heads()
        assert [await revision(restored_url)] == list(heads)
        assert len(await epoch(restored_url)) == 16
