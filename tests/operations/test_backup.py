"""`eic backup` and `eic restore` on the demo database (SQLite, or PostgreSQL when
EIC_TEST_DATABASE_URL is set): every row comes back, the apps' cursors from before the restore are
sent to load their copies again, a busy SQLite database is copied as of one commit, and what
cannot be done is refused with the problem named."""

from __future__ import annotations

import asyncio
import base64
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend import backup
from backend.kit.db import Database
from backend.sync.service import RETENTION
from tests.conftest import GraphQL
from tests.marketplace.trading_kit import publish
from tests.operations.ops_kit import (
    another_database,
    app_over,
    eic,
    fingerprints,
    log_head,
    sign_in,
)
from tests.process_kit import eic_serving, scratch_environment
from tests.sync.sync_kit import CHANGES, brief, start, sync

FIRM = "katsuyama-pellets@demo.eic.example"
ON_POSTGRES = bool(os.environ.get("EIC_TEST_DATABASE_URL"))
assert RETENTION.days == 30  # the resync message below names it


def resync_refusal(body: dict[str, Any]) -> list[tuple[str, str]]:
    assert body.get("data") is None, body
    return [(e["extensions"]["code"], e["message"]) for e in body["errors"]]


RESTORED = (
    "RESYNC_REQUIRED",
    "The server's data was restored from a backup since this cursor: drop the offline copy, "
    "load it again, and sync from the cursor of a `changes` call without `since` made before "
    "loading",
)


def cursor_sequence(cursor: str) -> int:
    """The commit number a sync cursor has read to."""
    return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":")[1])


async def changes(gql: GraphQL, token: str, since: str) -> dict[str, Any]:
    return await gql(CHANGES, {"since": since}, token=token)


async def test_a_restore_brings_back_every_row_and_sends_the_apps_to_load_again(
    empty_database_url: str, tmp_path: Path
) -> None:
    # Given the demo database, and a firm's app that synced before the backup
    eic(empty_database_url, "migrate")
    eic(empty_database_url, "seed-demo")
    async with app_over(empty_database_url) as gql:
        token = await sign_in(gql, FIRM)
        before_backup = await start(gql, token)
        first = await publish(gql, token, title="Sawdust, before the backup")
        items, before_backup = await sync(gql, token, before_backup)
        assert brief(items) == [("LISTING", first["id"], "UPSERT")]
    # when the operator takes a backup
    backup_file = tmp_path / "eic.backup"
    made = eic(empty_database_url, "backup", str(backup_file))
    assert made.stdout.startswith(f"Backup of the {'postgresql' if ON_POSTGRES else 'sqlite'} ")
    at_backup = await fingerprints(empty_database_url)
    # and the service goes on: the app syncs past the backup
    async with app_over(empty_database_url) as gql:
        second = await publish(gql, token, title="Bark, after the backup")
        items, after_backup = await sync(gql, token, before_backup)
        assert brief(items) == [("LISTING", second["id"], "UPSERT")]

    async with another_database(empty_database_url, tmp_path, "restored") as restored_url:
        # and restores it into a fresh database
        done = eic(restored_url, "restore", str(backup_file))
        assert "New sync epoch" in done.stdout
        # then every table has the same rows as when the backup was taken
        restored = await fingerprints(restored_url)
        assert restored.keys() == at_backup.keys()
        assert {t: v for t, v in restored.items() if t != "sync_log_state"} == {
            t: v for t, v in at_backup.items() if t != "sync_log_state"
        }
        assert at_backup["listings"][0] > 100  # the demo's 137 and the first one
        # (the log state differs in its epoch only: the restore started a new one)
        async with app_over(restored_url) as gql:
            # and, once the service has written past the position of the app's cursor from
            # after the backup (where that cursor would otherwise be taken as good and skip
            # these writes), that cursor is answered RESYNC_REQUIRED
            fresh = await start(gql, token)
            published = [await publish(gql, token, title="Bark again, after the restore")]
            while await log_head(restored_url) <= cursor_sequence(after_backup):
                assert len(published) < 10
                published.append(await publish(gql, token, title="More bark"))
            assert resync_refusal(await changes(gql, token, after_backup)) == [RESTORED]
            # as is its cursor from before: its copy may hold what the backup never saw
            assert resync_refusal(await changes(gql, token, before_backup)) == [RESTORED]
            # while a new first sync made after the restore hears of the new changes
            items, _ = await sync(gql, token, fresh)
            assert brief(items) == [("LISTING", made["id"], "UPSERT") for made in published]
            # and the listing made after the backup is gone
            assert second["id"] not in {i["id"] for i in items}

    # When the operator restores over the database in use before (not empty)
    refused = eic(empty_database_url, "restore", str(backup_file), check=False)
    # then it is refused unless forced
    assert refused.returncode == 1
    assert refused.stderr.startswith("eic: The database is not empty (")
    assert refused.stderr.rstrip().endswith("pass --force to do so [NOT_EMPTY]")
    eic(empty_database_url, "restore", "--force", str(backup_file))
    again = await fingerprints(empty_database_url)
    assert {t: v for t, v in again.items() if t != "sync_log_state"} == {
        t: v for t, v in at_backup.items() if t != "sync_log_state"
    }
    async with app_over(empty_database_url) as gql:
        assert resync_refusal(await changes(gql, token, after_backup)) == [RESTORED]


WRITER = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
connection.execute("PRAGMA journal_mode=WAL")
connection.execute("CREATE TABLE IF NOT EXISTS probe (batch INTEGER, n INTEGER)")
batch = 0
while True:
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO probe VALUES (?, ?)", [(batch, n) for n in range(50)])
    connection.execute("COMMIT")
    batch += 1
"""


def probe_batches(path: Path) -> dict[int, int]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute("SELECT batch, count(*) FROM probe GROUP BY batch").fetchall()
    finally:
        connection.close()
    return dict(rows)


def test_an_sqlite_backup_taken_while_a_writer_writes_holds_whole_transactions(
    tmp_path: Path,
) -> None:
    # Given an SQLite database in WAL mode that another process writes to all the time, 50 rows
    # a transaction
    source = tmp_path / "busy.db"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(source)])  # noqa: S603
    try:
        deadline = time.monotonic() + 30
        while not (source.exists() and len(_batches_or_none(source)) >= 5):
            assert time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.05)
        # when it is backed up meanwhile
        copied = backup.backup(f"sqlite+aiosqlite:///{source}", tmp_path / "busy.backup")
        time.sleep(0.2)  # not synchronisation: only to let the writer show it went on
        written_after = probe_batches(source)
    finally:
        writer.terminate()
        writer.wait(timeout=30)
    # then the copy holds whole transactions only, numbered without a gap, and checks clean
    batches = probe_batches(copied.path)
    assert set(batches.values()) == {50}
    assert sorted(batches) == list(range(len(batches)))
    connection = sqlite3.connect(copied.path)
    try:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # a single file: rollback journal mode, nothing to lose in a -wal beside it
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    finally:
        connection.close()
    # and the writer was writing before and after it
    assert len(written_after) > len(batches) >= 5


def _batches_or_none(path: Path) -> dict[int, int]:
    try:
        return probe_batches(path)
    except sqlite3.OperationalError:  # the writer has not made the table yet
        return {}


@pytest.mark.skipif(ON_POSTGRES, reason="SQLite's running-service check (PostgreSQL: below)")
def test_restore_refuses_an_sqlite_database_a_running_service_has_open(tmp_path: Path) -> None:
    # Given `eic serve` over a migrated database, which has answered a request
    environment, database_url = scratch_environment(tmp_path)
    eic(database_url, "migrate")
    backup_file = tmp_path / "eic.backup"
    eic(database_url, "backup", str(backup_file))
    with eic_serving(environment, tmp_path) as address:
        assert httpx.get(f"{address}/readyz", timeout=30).status_code == 200
        # when the operator restores into it, even with --force
        refused = eic(database_url, "restore", "--force", str(backup_file), check=False)
    # then the restore is refused, and says what to do
    assert refused.returncode == 1
    assert refused.stderr == (
        f"eic: Another process has {tmp_path / 'eic.db'} open: stop every `eic serve` and "
        "worker using it first (a restore under a running service would mix its writes with "
        "the backup's), then restore, then start them again [IN_USE]\n"
    )
    # and once the service has stopped, the restore goes ahead
    eic(database_url, "restore", "--force", str(backup_file))


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL's sessions")
async def test_restore_refuses_a_postgresql_database_other_sessions_use(
    empty_database_url: str, tmp_path: Path
) -> None:
    eic(empty_database_url, "migrate")
    backup_file = tmp_path / "eic.backup"
    eic(empty_database_url, "backup", str(backup_file))
    async with app_over(empty_database_url) as gql:
        # a pooled connection stays open after the query, as in a serving process
        body = await gql("{ clusters { totalCount } }")
        assert body["data"] == {"clusters": {"totalCount": 0}}
        refused = eic(empty_database_url, "restore", "--force", str(backup_file), check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "eic: Other sessions are connected to the database (1 of unnamed): stop every "
    )
    assert refused.stderr.endswith("[IN_USE]\n")


async def test_a_backup_of_the_other_kind_or_no_backup_is_refused(
    empty_database_url: str, tmp_path: Path
) -> None:
    eic(empty_database_url, "migrate")
    kind = "postgresql" if ON_POSTGRES else "sqlite"
    other = tmp_path / "other.backup"
    other.write_bytes(b"SQLite format 3\x00" if ON_POSTGRES else b"PGDMP\x01\x0e")
    junk = tmp_path / "junk.backup"
    junk.write_bytes(b"hello")
    wrong = eic(empty_database_url, "restore", "--force", str(other), check=False)
    made_by = "an SQLite database" if ON_POSTGRES else "a pg_dump custom-format archive"
    needed = "pg_dump -Fc" if ON_POSTGRES else "an SQLite file"
    assert (wrong.returncode, wrong.stderr) == (
        1,
        f"eic: {other} is {made_by}; a {kind} database restores only from {needed} made by "
        "`eic backup` [WRONG_FORMAT]\n",
    )
    unknown = eic(empty_database_url, "restore", str(junk), check=False)
    assert "is neither an SQLite database nor a pg_dump custom-format archive" in unknown.stderr
    missing = eic(empty_database_url, "restore", str(tmp_path / "nowhere"), check=False)
    assert (missing.returncode, missing.stderr) == (
        1,
        f"eic: No backup at {tmp_path / 'nowhere'} [NOT_FOUND]\n",
    )


def test_a_pg_dump_older_than_the_server_or_none_is_named(tmp_path: Path) -> None:
    # Given the PostgreSQL client programs of this machine (CI installs them with the server)
    found = backup.find_pg_tool("pg_dump", "1.0")
    directory = os.path.dirname(found.path)
    # when the server is of a newer major version than every pg_dump
    with pytest.raises(backup.BackupError) as too_old:
        backup.find_pg_tool("pg_dump", "99.1", directories=[directory])
    # then the problem names both versions and the way out
    assert too_old.value.problem is backup.BackupProblem.TOOL_TOO_OLD
    assert too_old.value.message == (
        f"pg_dump must be of PostgreSQL 99 or newer, the server's version is 99.1, and "
        f"{found.path} is {found.version}: install postgresql-client-99 (or newer) and put its "
        "bin directory on PATH"
    )
    # and with none at all, that it is missing
    with pytest.raises(backup.BackupError) as missing:
        backup.find_pg_tool("pg_dump", "15.4", directories=[str(tmp_path)])
    assert missing.value.problem is backup.BackupProblem.TOOL_MISSING
    assert missing.value.message.startswith(
        "pg_dump is not installed (looked on PATH and in /usr/lib/postgresql/*/bin)"
    )


async def test_a_backup_of_a_newer_release_is_refused_after_restoring(
    empty_database_url: str, tmp_path: Path
) -> None:
    # Given a backup of a database at a migration this code does not know
    eic(empty_database_url, "migrate")
    database = Database(empty_database_url)
    try:
        async with database.engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = 'f00dfeed0001'")
            )
    finally:
        await database.dispose()
    backup_file = tmp_path / "newer.backup"
    eic(empty_database_url, "backup", str(backup_file))
    async with another_database(empty_database_url, tmp_path, "older") as older_url:
        # when this release restores it
        refused = eic(older_url, "restore", str(backup_file), check=False)
        left = await fingerprints(older_url)
    # then it says which release must do it
    assert (refused.returncode, refused.stderr) == (
        1,
        "eic: The backup is at migration f00dfeed0001, which this release does not know: it "
        "was made by a newer release. Restore it with that release's `eic restore` (and serve "
        "that release); nothing was changed [SCHEMA_NEWER]\n",
    )
    # and nothing was restored
    assert left == {}


def test_the_password_reaches_pg_dump_in_its_environment_only() -> None:
    url = "postgresql+asyncpg://eic:s3cr%40t@db.example:6543/eic_prod?ssl=require"
    environment = backup._pg_environment(url)
    assert {k: v for k, v in environment.items() if k.startswith("PG")} == {
        "PGHOST": "db.example",
        "PGPORT": "6543",
        "PGUSER": "eic",
        "PGPASSWORD": "s3cr@t",
        "PGDATABASE": "eic_prod",
        "PGSSLMODE": "require",
    }


async def test_a_backup_is_readable_by_its_owner_only_whatever_the_umask(
    empty_database_url: str, tmp_path: Path
) -> None:
    # Given a migrated database and an operator whose umask lets everyone read new files
    eic(empty_database_url, "migrate")
    backup_file = tmp_path / "eic.backup"
    given = os.umask(0o022)
    try:
        # when the backup is written (in process: the umask is this process's; a thread, as
        # pg_dump's is run in an event loop of its own)
        await asyncio.to_thread(backup.backup, empty_database_url, backup_file)
    finally:
        os.umask(given)
    # then it holds password hashes for its owner's eyes only: no group or other bits
    assert oct(backup_file.stat().st_mode & 0o777) == oct(0o600)
    # and no partial copy is left beside it
    assert sorted(name for name in os.listdir(tmp_path) if "backup" in name) == ["eic.backup"]


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        # a socket directory given as asyncpg takes it: the service connects there
        ("postgresql+asyncpg://eic:pw@/eic?host=/srv/pg/socket", "/srv/pg/socket", None),
        # a fail-over pair
        ("postgresql+asyncpg://eic:pw@/eic?host=db1:5433&host=db2:5434", "db1,db2", "5433,5434"),
        ("postgresql+asyncpg://eic:pw@db.example:6543/eic", "db.example", "6543"),
    ],
)
def test_pg_dump_and_pg_restore_reach_the_server_the_service_uses(
    url: str, host: str, port: str | None
) -> None:
    environment = backup._pg_environment(url)
    assert (environment.get("PGHOST"), environment.get("PGPORT")) == (host, port)
    assert environment["PGDATABASE"] == "eic"


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set EIC_TEST_DATABASE_URL")
async def test_a_backup_over_a_socket_directory_given_in_the_url(
    empty_database_url: str, tmp_path: Path
) -> None:
    # Given the test server's socket reached through a directory only the URL names
    server = make_url(empty_database_url)
    sockets = tmp_path / "sockets"
    sockets.mkdir()
    (sockets / f".s.PGSQL.{server.port or 5432}").symlink_to(
        f"/var/run/postgresql/.s.PGSQL.{server.port or 5432}"
    )
    over_socket = server.set(host="", query={"host": str(sockets)}).render_as_string(
        hide_password=False
    )
    eic(over_socket, "migrate")
    # when it is backed up, then pg_dump connects where the service does
    made = eic(over_socket, "backup", str(tmp_path / "socket.backup"))
    assert made.returncode == 0
    assert (tmp_path / "socket.backup").stat().st_size > 0


async def _account(database_url: str, user_id: str) -> tuple[str, bool, bool]:
    """(email, active, deleted) of an account, read straight from the database."""
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            row = (
                await connection.execute(
                    text("SELECT email, is_active, deleted_at FROM users WHERE id = :id"),
                    {"id": user_id if ON_POSTGRES else user_id.replace("-", "")},
                )
            ).one()
    finally:
        await database.dispose()
    return str(row[0]), bool(row[1]), row[2] is not None


# the only member of a demo firm: nothing keeps them from deleting their account
ALONE = "hosur-reelers@demo.eic.example"


async def test_an_account_deleted_after_the_backup_is_deleted_again_by_the_restore(
    empty_database_url: str, tmp_path: Path
) -> None:
    # Given the demo database, backed up while a firm's only person still had an account
    eic(empty_database_url, "migrate")
    eic(empty_database_url, "seed-demo")
    async with app_over(empty_database_url) as gql:
        token = await sign_in(gql, ALONE)
        me = await gql("{ me { user { id } } }", token=token)
    user_id = me["data"]["me"]["user"]["id"]
    backup_file = tmp_path / "eic.backup"
    eic(empty_database_url, "backup", str(backup_file))
    # and an erasure request handled after the backup
    eic(empty_database_url, "delete-person", ALONE)
    assert (await _account(empty_database_url, user_id))[1:] == (False, True)

    # when the operator restores that backup over the database
    done = eic(empty_database_url, "restore", "--force", str(backup_file))

    # then the person the backup still holds is deleted again, and says so
    assert "1 account(s) deleted since the backup was taken were deleted again." in done.stdout
    email, active, deleted = await _account(empty_database_url, user_id)
    assert (active, deleted) == (False, True)
    assert email.endswith("@deleted.invalid")
    async with app_over(empty_database_url) as gql:
        answer = await gql(
            "mutation($i: TokenCreateInput!) { tokenCreate(input: $i) { errors { code } } }",
            {"i": {"email": ALONE, "password": "eic-demo-2026"}},
        )
    assert answer["data"]["tokenCreate"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    # while a restore into a new database (nothing replaced) has no one to delete again
    async with another_database(empty_database_url, tmp_path, "fresh") as fresh_url:
        into_fresh = eic(fresh_url, "restore", str(backup_file))
        assert "deleted again" not in into_fresh.stdout
        assert (await _account(fresh_url, user_id))[1:] == (True, False)
