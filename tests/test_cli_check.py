"""`eic check` (`eic doctor`), the production start-up refusal of `eic serve` and `eic migrate`,
and `eic migrate` creating its PostgreSQL database (issue 21, operators)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

from backend import cli
from backend.kit.db import Database
from backend.settings import get_settings
from tests.conftest import TEST_REDIS_URL, make_settings
from tests.process_kit import EIC, free_port

ON_POSTGRES = bool(os.environ.get("EIC_TEST_DATABASE_URL"))

POSTGRES = os.environ.get("EIC_TEST_DATABASE_URL")
NEEDS_POSTGRES = pytest.mark.skipif(
    not POSTGRES, reason="needs PostgreSQL: set EIC_TEST_DATABASE_URL (CI does)"
)
SECRET = "jwt-secret-that-must-never-be-printed-0123456789"
EXPO_TOKEN = "expo-token-that-must-never-be-printed"
REDIS_PASSWORD = "redis-password-never-printed"


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """The command's environment: none of the caller's EIC_ settings, fresh settings."""
    for name in list(os.environ):
        if name.startswith("EIC_"):
            monkeypatch.delenv(name)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def code_head() -> str:
    script = ScriptDirectory.from_config(cli.alembic_config("sqlite://"))
    (head,) = script.get_heads()
    return head


def checks_of(out: str) -> list[str]:
    return out.split("Checks:\n", 1)[1].splitlines()


async def eic(*arguments: str) -> int:
    # `eic` runs its own event loops (alembic's, the checks'): a thread of its own.
    return await asyncio.to_thread(cli.main, list(arguments))


async def test_check_on_a_migrated_database_with_redis_down_masks_every_secret(
    empty_database_url: str,
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a migrated database, secrets set, and Redis configured on a port nobody listens on
    await asyncio.to_thread(cli.migrate, make_settings(empty_database_url))
    closed = free_port()
    environment.setenv("EIC_DATABASE_URL", empty_database_url)
    environment.setenv("EIC_JWT_SECRET", SECRET)
    environment.setenv("EIC_PUSH_EXPO_ACCESS_TOKEN", EXPO_TOKEN)
    environment.setenv("EIC_REDIS_URL", f"redis://:{REDIS_PASSWORD}@127.0.0.1:{closed}/0")
    environment.setenv("EIC_REDIS_TIMEOUT_SECONDS", "0.5")

    # when the operator runs eic check
    status = await eic("check")
    out = capsys.readouterr().out

    # then it fails for Redis alone, saying where (without the password) and why
    database = re.escape(empty_database_url)
    masked_redis = re.escape(f"redis://:***@127.0.0.1:{closed}/0")
    patterns = [
        r"OK    settings: every EIC_ variable is a known setting",
        r"SKIP  production: EIC_ENVIRONMENT is development",
        rf"OK    database: {database} answers and takes writes",
        rf"OK    migrations: at the code's head {code_head()}",
        # pg_dump and pg_restore as new as the server (the machines that run this have them)
        r"OK    backup: .*/pg_dump \d+\.\S+, .*/pg_restore \d+\.\S+ for server \d+\.\S+"
        if ON_POSTGRES
        else r"OK    backup: SQLite's online backup API \(nothing to install\)",
        rf"FAIL  redis: {masked_redis}: .*(refused|111).*",
        r"SKIP  push: no provider configured .*",
    ]
    lines = checks_of(out)
    assert len(lines) == len(patterns), out
    for line, pattern in zip(lines, patterns, strict=True):
        assert re.fullmatch(pattern, line), (line, pattern)
    assert status == 1
    # and the configuration shows every setting, the secrets only as set, with their length
    assert f"  EIC_JWT_SECRET=(set, {len(SECRET)} bytes)\n" in out
    assert f"  EIC_PUSH_EXPO_ACCESS_TOKEN=(set, {len(EXPO_TOKEN)} bytes)\n" in out
    assert f"  EIC_REDIS_URL=redis://:***@127.0.0.1:{closed}/0\n" in out
    assert "  EIC_GRAPHQL_MAX_DEPTH=12  (default)\n" in out
    for secret in (SECRET, EXPO_TOKEN, REDIS_PASSWORD):
        assert secret not in out


async def test_check_passes_with_redis_up_and_doctor_is_its_other_name(
    empty_database_url: str,
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a migrated database and the test Redis
    await asyncio.to_thread(cli.migrate, make_settings(empty_database_url))
    environment.setenv("EIC_DATABASE_URL", empty_database_url)
    environment.setenv("EIC_REDIS_URL", TEST_REDIS_URL)

    # when eic doctor runs, then every check passes or is skipped, and the status is 0
    assert await eic("doctor") == 0
    lines = checks_of(capsys.readouterr().out)
    assert [line.split(":")[0] for line in lines] == [
        "OK    settings",
        "SKIP  production",
        "OK    database",
        "OK    migrations",
        "OK    backup",
        "OK    redis",
        "SKIP  push",
    ]
    assert lines[5] == f"OK    redis: {TEST_REDIS_URL} answers"


async def test_check_says_a_database_behind_the_code_must_be_migrated(
    empty_database_url: str,
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a database migrated to the revision before the code's head
    head = code_head()
    script = ScriptDirectory.from_config(cli.alembic_config(empty_database_url))
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    await asyncio.to_thread(command.upgrade, cli.alembic_config(empty_database_url), previous)
    environment.setenv("EIC_DATABASE_URL", empty_database_url)

    # when checked, then the migration line fails and says what to run
    assert await eic("check") == 1
    lines = checks_of(capsys.readouterr().out)
    assert lines[3] == (
        f"FAIL  migrations: behind: at {previous}, the code's head is {head}; run eic migrate"
    )


async def test_check_reports_an_unmigrated_database_and_a_revision_it_does_not_know(
    empty_database_url: str,
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    environment.setenv("EIC_DATABASE_URL", empty_database_url)
    # Given a database nobody migrated (on SQLite: the file exists, empty)
    database = Database(empty_database_url)
    async with database.engine.begin() as connection:
        await connection.execute(text("SELECT 1"))
    assert await eic("check") == 1
    assert checks_of(capsys.readouterr().out)[3] == (
        "FAIL  migrations: no migration applied yet: run eic migrate"
    )
    # and one a newer release migrated past anything this code knows
    async with database.engine.begin() as connection:
        await connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32))"))
        await connection.execute(text("INSERT INTO alembic_version VALUES ('f00dfeed0001')"))
    await database.dispose()
    assert await eic("check") == 1
    assert checks_of(capsys.readouterr().out)[3] == (
        "FAIL  migrations: at f00dfeed0001, which this code does not know (migrated by a newer "
        f"release?); the code's head is {code_head()}"
    )


async def test_check_leaves_no_sqlite_file_behind_where_there_is_none(
    tmp_path: Path, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.db"
    environment.setenv("EIC_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    assert await eic("check") == 1
    lines = checks_of(capsys.readouterr().out)
    assert lines[2:4] == [
        f"FAIL  database: {missing} does not exist: run eic migrate",
        "SKIP  migrations: no database",
    ]
    assert not missing.exists()


async def test_check_lists_production_problems_and_still_checks_the_rest(
    empty_database_url: str,
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given production with the development secret, a typo and half an APNs configuration
    await asyncio.to_thread(cli.migrate, make_settings(empty_database_url))
    environment.setenv("EIC_ENVIRONMENT", "production")
    environment.setenv("EIC_DATABASE_URL", empty_database_url)
    environment.setenv("EIC_PUBLIC_URL", "https://eic.example.org")
    environment.setenv("EIC_PUSH_APNS_KEY_FILE", "/etc/eic/AuthKey.p8")
    environment.setenv("EIC_PUSH_APNS_KEY_ID", "ABC123DEFG")
    environment.setenv("EIC_PUBLIC_URI", "https://eic.example.org")

    # when checked, then each problem is a line of its own and the database is still checked
    assert await eic("check") == 1
    out = capsys.readouterr().out
    lines = checks_of(out)
    sqlite = empty_database_url.startswith("sqlite")
    expected = [
        "FAIL  settings: EIC_PUBLIC_URI is not a setting of EIC (did you mean EIC_PUBLIC_URL?)",
        "FAIL  production: EIC_JWT_SECRET is the development secret; set a random secret of at "
        "least 32 bytes before running in production",
    ]
    if sqlite:
        expected.append(
            f"FAIL  production: EIC_DATABASE_URL is SQLite ({empty_database_url}) in production: "
            "set EIC_DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE, or "
            "EIC_ALLOW_SQLITE_IN_PRODUCTION=true for a one-server pilot"
        )
    assert lines[: len(expected)] == expected
    assert lines[len(expected)].startswith("OK    database: ")
    assert lines[-1] == (
        "FAIL  push: APNs is off because EIC_PUSH_APNS_TEAM_ID, EIC_PUSH_APNS_TOPIC is not set"
    )
    assert "  EIC_JWT_SECRET=(the public development secret)  (default)\n" in out


async def test_check_reports_a_push_key_file_that_cannot_be_read(
    empty_database_url: str,
    environment: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await asyncio.to_thread(cli.migrate, make_settings(empty_database_url))
    environment.setenv("EIC_DATABASE_URL", empty_database_url)
    not_a_key = tmp_path / "service-account.json"
    not_a_key.write_text('{"type": "authorized_user"}', encoding="utf-8")
    environment.setenv("EIC_PUSH_FCM_CREDENTIALS_FILE", str(not_a_key))
    assert await eic("check") == 1
    lines = checks_of(capsys.readouterr().out)
    assert lines[-1] == f"FAIL  push: {not_a_key} is not a Google service account key file"
    # and a path that is not there
    environment.setenv("EIC_PUSH_FCM_CREDENTIALS_FILE", str(tmp_path / "missing.json"))
    assert await eic("check") == 1
    line = checks_of(capsys.readouterr().out)[-1]
    assert line.startswith("FAIL  push: [Errno 2] No such file or directory"), line


def test_check_with_settings_that_do_not_load_says_why(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment.setenv("EIC_GRAPHQL_MAX_DEPTH", "1")
    assert cli.main(["check"]) == 1
    assert checks_of(capsys.readouterr().out) == [
        "FAIL  settings: EIC_GRAPHQL_MAX_DEPTH: Input should be greater than or equal to 2 "
        "(got '1')",
        "SKIP  others: the settings do not load",
    ]


@pytest.mark.parametrize("subcommand", ["serve", "migrate"])
def test_serve_and_migrate_refuse_production_on_the_default_sqlite_file(
    subcommand: str, tmp_path: Path
) -> None:
    # Given production where only the secret was set (the operator's report: ./eic.db quietly)
    env = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")} | {
        "EIC_ENVIRONMENT": "production",
        "EIC_JWT_SECRET": SECRET,
    }
    # when the real command starts
    done = subprocess.run(  # noqa: S603 - our own command
        [EIC, subcommand], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    # then it stops with status 2, one line per problem, no traceback, and no file made
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.splitlines() == [
        "eic: EIC_DATABASE_URL is SQLite (sqlite+aiosqlite:///./eic.db, the default) in "
        "production: set EIC_DATABASE_URL=postgresql+asyncpg://USER:PASSWORD@HOST:5432/DATABASE, "
        "or EIC_ALLOW_SQLITE_IN_PRODUCTION=true for a one-server pilot",
        "eic: EIC_PUBLIC_URL is not set: set it to the address apps and calendar programs reach "
        "this service at (such as https://eic.example.org); calendar feeds and report links are "
        "made from it",
    ]
    assert list(tmp_path.iterdir()) == []


def test_migrate_says_in_one_line_when_postgresql_cannot_be_reached(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    closed = free_port()
    environment.setenv("EIC_DATABASE_URL", f"postgresql+asyncpg://eic:pw@127.0.0.1:{closed}/eic")
    assert cli.main(["migrate"]) == 2
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"eic: Cannot connect to the database eic at 127.0.0.1:{closed} ([Errno 111] Connect call "
        f"failed ('127.0.0.1', {closed})): is the server running, and are EIC_DATABASE_URL's "
        "host, port, user and password right?"
    ]
    assert "pw" not in captured.err.replace("password", "")


@pytest.fixture
async def postgres_admin() -> AsyncIterator[Database]:
    assert POSTGRES
    admin = Database(POSTGRES)
    yield admin
    await admin.dispose()


async def sql(admin: Database, statement: str, **values: str) -> object:
    """``statement`` outside a transaction (CREATE and DROP DATABASE need that); its value."""
    async with admin.engine.connect() as connection:
        autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
        result = await autocommit.execute(text(statement), values)
        return result.scalar() if result.returns_rows else None


@NEEDS_POSTGRES
async def test_migrate_creates_the_postgresql_database_it_is_pointed_at(
    postgres_admin: Database, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a database name that does not exist yet (mixed case: it is quoted, kept as given)
    assert POSTGRES
    name = f"eic_New_{uuid.uuid4().hex[:12]}"
    url = make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    environment.setenv("EIC_DATABASE_URL", url)
    try:
        # when eic migrate runs, twice
        assert await eic("migrate") == 0
        first = capsys.readouterr().out
        assert await eic("migrate") == 0
        second = capsys.readouterr().out
        # then the first creates and migrates it, the second finds it
        server = f"{make_url(POSTGRES).host}:{make_url(POSTGRES).port}"
        assert first.splitlines() == [
            f"Created the database {name} on {server}.",
            "Database is at the latest migration.",
        ]
        assert second.splitlines() == ["Database is at the latest migration."]
        found = await sql(
            postgres_admin, "SELECT count(*) FROM pg_database WHERE datname = :name", name=name
        )
        assert found == 1
    finally:
        await sql(postgres_admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@NEEDS_POSTGRES
async def test_migrate_tells_a_role_without_createdb_what_to_run(
    postgres_admin: Database, environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a role that may log in but not create databases
    assert POSTGRES
    suffix = uuid.uuid4().hex[:12]
    role, name = f"eic_nocreate_{suffix}", f"eic_wanted_{suffix}"
    await sql(postgres_admin, f"CREATE ROLE {role} LOGIN NOCREATEDB")
    server = make_url(POSTGRES)
    url = server.set(username=role, password=None, database=name)
    environment.setenv("EIC_DATABASE_URL", url.render_as_string(hide_password=False))
    try:
        # when it runs eic migrate
        status = await eic("migrate")
        # then it stops with status 2 and the command to run, no traceback
        err = capsys.readouterr().err
        assert status == 2
        host, port = server.host, server.port
        assert err.splitlines() == [
            f"eic: The database {name} does not exist on {host}:{port} and the role {role} may "
            "not create databases.",
            f"eic: As a PostgreSQL superuser run: createdb -h {host} -p {port} -O {role} {name}  "
            f'(or in psql: CREATE DATABASE "{name}" OWNER "{role}";), then run eic migrate again.',
        ]
        found = await sql(
            postgres_admin, "SELECT count(*) FROM pg_database WHERE datname = :name", name=name
        )
        assert found == 0
    finally:
        await sql(postgres_admin, f"DROP ROLE IF EXISTS {role}")


@pytest.mark.parametrize(
    ("given", "printed"),
    [
        # a password SQLAlchemy and redis-py read whole, with characters a URL should escape
        (
            "postgresql+asyncpg://eic:pa/ss#w?rd@db:5432/eic",
            "postgresql+asyncpg://eic:***@db:5432/eic",
        ),
        ("redis://:se/cret@cache:6379/0", "redis://:***@cache:6379/0"),
        ("postgresql+asyncpg://eic:p@ss@db/eic", "postgresql+asyncpg://eic:***@db/eic"),
        # a password given as a query parameter, as asyncpg and libpq accept it
        (
            "postgresql+asyncpg://eic@db/eic?password=s3cret&ssl=require",
            "postgresql+asyncpg://eic@db/eic?password=***&ssl=require",
        ),
        (
            "https://exp.host/--/api/v2/push/send?a=b:c@d",
            "https://exp.host/--/api/v2/push/send?a=b:c@d",
        ),
        ("sqlite+aiosqlite:///./eic.db", "sqlite+aiosqlite:///./eic.db"),
    ],
)
def test_check_masks_a_password_whatever_characters_it_holds(given: str, printed: str) -> None:
    from backend.doctor import mask_url

    assert mask_url(given) == printed


async def test_check_masks_the_password_of_a_database_url_it_cannot_use(
    environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a PostgreSQL URL whose password holds a '/' (SQLAlchemy reads it whole) and a
    # server nobody listens on
    password = "never/printed#at?all"
    environment.setenv(
        "EIC_DATABASE_URL", f"postgresql+asyncpg://eic:{password}@127.0.0.1:{free_port()}/eic"
    )
    environment.setenv("EIC_DB_CONNECT_TIMEOUT_SECONDS", "1")
    # when the operator runs eic check, then the report never shows the password
    assert await eic("check") == 1
    out = capsys.readouterr().out
    assert "EIC_DATABASE_URL=postgresql+asyncpg://eic:***@127.0.0.1:" in out
    assert "never" not in out
    assert "printed" not in out


@pytest.mark.skipif(not ON_POSTGRES, reason="needs PostgreSQL: set EIC_TEST_DATABASE_URL (CI does)")
async def test_check_fails_when_no_pg_dump_could_back_the_database_up(
    empty_database_url: str,
    environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a migrated PostgreSQL database on a machine without the PostgreSQL client programs
    from backend import backup

    await asyncio.to_thread(cli.migrate, make_settings(empty_database_url))
    environment.setenv("EIC_DATABASE_URL", empty_database_url)
    environment.setenv("PATH", "")
    environment.setattr(backup, "PG_BIN_GLOB", "/nonexistent/postgresql/*/bin")

    # when the operator runs eic check, then it fails, naming what to install
    assert await eic("check") == 1
    [line] = [line for line in checks_of(capsys.readouterr().out) if "backup" in line]
    assert line.startswith("FAIL  backup: pg_dump is not installed (looked on PATH and in ")
    assert line.endswith("[TOOL_MISSING]")
