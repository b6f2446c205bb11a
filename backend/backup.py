"""Backup and restore of the whole database: ``eic backup FILE`` and ``eic restore FILE``.

SQLite: SQLite's online backup API (``sqlite3.Connection.backup``) copies every page in one step
inside one read transaction, so a running service (WAL: its writers go on meanwhile) is copied as
of one commit. The copy is written beside the target under a temporary name and renamed when
complete, so a half-written file never looks like a backup.

PostgreSQL: ``pg_dump -Fc`` (custom format) and ``pg_restore --no-owner``, run as subprocesses
with the URL's host, port, user and database in ``PG*`` variables (the password in
``PGPASSWORD``, never on a command line where ``ps`` shows it). pg_dump refuses a server of a
newer major version than itself; we look for one new enough first and name the problem
exactly.

A restore puts the offline sync log back in time: phones may have synced past the backup, or
hold things the backup never saw (their own writes, loaded copies). Restore therefore starts a
new *sync epoch* (``backend.sync.service.start_epoch``): every cursor given out before it is
answered RESYNC_REQUIRED, and the apps load their copies again (docs/backup.md).
"""

from __future__ import annotations

import asyncio
import fcntl
import glob
import os
import re
import sqlite3
import struct
import subprocess
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from backend.kit.db import Database

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
# Where Debian and Ubuntu install each PostgreSQL major's programs (several may sit side by side).
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class BackupProblem(StrEnum):
    TOOL_MISSING = "TOOL_MISSING"
    TOOL_TOO_OLD = "TOOL_TOO_OLD"
    NOT_FOUND = "NOT_FOUND"
    WRONG_FORMAT = "WRONG_FORMAT"
    NOT_EMPTY = "NOT_EMPTY"
    IN_USE = "IN_USE"
    SCHEMA_NEWER = "SCHEMA_NEWER"
    FAILED = "FAILED"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; ``message`` says what to do."""

    def __init__(self, problem: BackupProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem
        self.message = message


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    size: int
    dialect: str


@dataclass(frozen=True, slots=True)
class RestoreReport:
    path: Path
    dialect: str
    revision_restored: str | None
    migrated: bool
    epoch: str
    # accounts deleted in the database the backup replaced, deleted again in the restored one
    erased_again: int = 0


def _dialect(database_url: str) -> str:
    name = make_url(database_url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise BackupError(BackupProblem.FAILED, f"Backups of {name} databases are not supported")
    return name


# ---------------------------------------------------------------------------------------------
# Backup


def backup(database_url: str, path: Path) -> BackupReport:
    """Copy the database at ``database_url`` into ``path`` (replaced if it exists)."""
    path = path.resolve()
    if not path.parent.is_dir():
        raise BackupError(BackupProblem.NOT_FOUND, f"No such directory: {path.parent}")
    dialect = _dialect(database_url)
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    # A backup holds password hashes and everyone's personal data: made 0600 before a byte is
    # written, whatever the operator's umask (sqlite3 and pg_dump would create it 0644 under
    # the usual 022, and keep the mode of a file that exists). O_EXCL: never someone else's file.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        if dialect == "sqlite":
            _sqlite_backup(_sqlite_path(database_url), partial)
        else:
            asyncio.run(_pg_backup(database_url, partial))
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return BackupReport(path, path.stat().st_size, dialect)


def _sqlite_path(database_url: str) -> Path:
    database = make_url(database_url).database
    if not database or database == ":memory:":
        raise BackupError(BackupProblem.FAILED, "An in-memory SQLite database has no file to copy")
    return Path(database).resolve()


def _sqlite_backup(source_path: Path, target: Path) -> None:
    if not source_path.is_file():
        raise BackupError(BackupProblem.NOT_FOUND, f"No SQLite database at {source_path}")
    # read-only: the backup must never be what creates or changes the service's database
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(target)
    try:
        # pages=-1 (the default): every page in one step, inside one read transaction, so the
        # copy is of one commit however busy the writers are (stepwise copies restart whenever
        # another connection writes).
        source.backup(copy)
        # one self-contained file: no -wal beside it to lose when it is moved
        copy.execute("PRAGMA journal_mode=DELETE")
        (verdict,) = copy.execute("PRAGMA quick_check").fetchone()
        if verdict != "ok":
            raise BackupError(BackupProblem.FAILED, f"The copy fails SQLite's check: {verdict}")
    finally:
        copy.close()
        source.close()
    with open(target, "rb") as written:
        os.fsync(written.fileno())


@dataclass(frozen=True, slots=True)
class PgTool:
    path: str
    version: str  # as the tool prints it: "15.20"
    major: int


def _pg_environment(database_url: str) -> dict[str, str]:
    """libpq's variables for the URL: the password travels in the environment, not in argv."""
    url: URL = make_url(database_url)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    # Where the service connects, as its driver reads the URL: also a ?host= query (a socket
    # directory, or several host:port for a fail-over pair). Read from url.host alone, such a URL
    # sent pg_dump and pg_restore --clean to libpq's default server instead of the service's.
    _, connect = url.get_dialect()().create_connect_args(url)
    hosts, ports = connect.get("host", url.host), connect.get("port", url.port)
    values = {
        "PGHOST": _libpq_list(hosts),
        "PGPORT": _libpq_list(ports),
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    environment.update({name: value for name, value in values.items() if value})
    ssl = url.query.get("ssl") or url.query.get("sslmode")
    if isinstance(ssl, str):
        environment["PGSSLMODE"] = {"true": "require"}.get(ssl, ssl)
    return environment


def _libpq_list(value: object) -> str | None:
    """libpq's form of one or several hosts or ports: comma-separated."""
    if value is None or value == "":
        return None
    if isinstance(value, list | tuple):
        return ",".join("" if item is None else str(item) for item in value) or None
    return str(value)


def _tool_version(path: str) -> tuple[str, int] | None:
    try:
        printed = subprocess.run(  # noqa: S603 - a PostgreSQL program found on disk
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?", printed)
    if not found:
        return None
    return found.group(0).split()[-1], int(found.group(1))


def default_pg_directories() -> list[str]:
    """PATH first, then the newest of Debian's side-by-side installations."""
    debian = sorted(
        glob.glob(PG_BIN_GLOB),
        key=lambda d: int(m.group(1)) if (m := re.search(r"/(\d+)/bin$", d)) else 0,
        reverse=True,
    )
    return [*os.environ.get("PATH", "").split(os.pathsep), *debian]


def find_pg_tool(
    name: str, server_version: str, *, directories: Sequence[str] | None = None
) -> PgTool:
    """The first ``name`` (pg_dump, pg_restore) of at least the server's major version."""
    server_major = int(server_version.split(".")[0])
    seen: list[PgTool] = []
    for directory in default_pg_directories() if directories is None else directories:
        candidate = os.path.join(directory, name)
        if not directory or not os.access(candidate, os.X_OK) or os.path.isdir(candidate):
            continue
        version = _tool_version(candidate)
        if version is None:
            continue
        tool = PgTool(candidate, *version)
        if tool.major >= server_major:
            return tool
        seen.append(tool)
    if not seen:
        raise BackupError(
            BackupProblem.TOOL_MISSING,
            f"{name} is not installed (looked on PATH and in {PG_BIN_GLOB}): install the "
            f"PostgreSQL {server_major} client programs (Debian: apt-get install "
            f"postgresql-client-{server_major}, or postgresql-client)",
        )
    found = ", ".join(f"{tool.path} is {tool.version}" for tool in seen)
    raise BackupError(
        BackupProblem.TOOL_TOO_OLD,
        f"{name} must be of PostgreSQL {server_major} or newer, the server's version is "
        f"{server_version}, and {found}: install postgresql-client-{server_major} "
        f"(or newer) and put its bin directory on PATH",
    )


async def _server_version(database_url: str) -> str:
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            return str((await connection.execute(text("SHOW server_version"))).scalar_one())
    finally:
        await database.dispose()


async def _run_pg_tool(tool: PgTool, arguments: list[str], database_url: str) -> bytes:
    """Run a PostgreSQL program; its standard output."""
    process = await asyncio.create_subprocess_exec(
        tool.path,
        *arguments,
        env=_pg_environment(database_url),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    printed, errors = await process.communicate()
    if process.returncode != 0:
        said = errors.decode(errors="replace").strip()
        name = os.path.basename(tool.path)
        raise BackupError(
            BackupProblem.FAILED,
            f"{name} {tool.version} failed (exit {process.returncode}): {said}",
        )
    return printed


async def _pg_backup(database_url: str, target: Path) -> None:
    tool = find_pg_tool("pg_dump", (await _server_version(database_url)).split()[0])
    # -w: never prompt (cron has no terminal); a missing password is an error
    await _run_pg_tool(tool, ["-Fc", "-w", "--file", str(target)], database_url)


# ---------------------------------------------------------------------------------------------
# Restore


def restore(
    database_url: str,
    path: Path,
    *,
    force: bool,
    migrate: Callable[[], None],
    head_revisions: Sequence[str],
    known_revisions: Sequence[str],
) -> RestoreReport:
    """Replace the database at ``database_url`` with the backup at ``path``, bring it to this
    release's schema (``migrate``) when it is of an older one, and start a new sync epoch.

    Refuses a non-empty database unless ``force``, and a database another process has open
    (a running ``eic serve``) in every case.
    """
    path = path.resolve()
    dialect = _dialect(database_url)
    if not path.is_file():
        raise BackupError(BackupProblem.NOT_FOUND, f"No backup at {path}")
    with open(path, "rb") as backup_file:
        head = backup_file.read(len(SQLITE_MAGIC))
    expected = SQLITE_MAGIC if dialect == "sqlite" else PG_CUSTOM_MAGIC
    if not head.startswith(expected):
        made_by = (
            "an SQLite database"
            if head.startswith(SQLITE_MAGIC)
            else "a pg_dump custom-format archive"
            if head.startswith(PG_CUSTOM_MAGIC)
            else "neither an SQLite database nor a pg_dump custom-format archive"
        )
        raise BackupError(
            BackupProblem.WRONG_FORMAT,
            f"{path} is {made_by}; a {dialect} database restores only from "
            f"{'an SQLite file' if dialect == 'sqlite' else 'pg_dump -Fc'} made by `eic backup`",
        )
    # Erasures outlive a restore: a backup from before someone's account was deleted would bring
    # them back (docs/privacy.md). The database being replaced still knows who was deleted.
    deleted: list[uuid.UUID]
    revision: str | None
    if dialect == "sqlite":
        revision = _sqlite_backup_revision(path)
        _check_known(revision, known_revisions)
        deleted = _sqlite_accounts_deleted(_sqlite_path(database_url))
        _sqlite_restore(path, _sqlite_path(database_url), force=force)
    else:
        revision, deleted = asyncio.run(
            _pg_restore(database_url, path, force=force, known_revisions=known_revisions)
        )
    migrated = revision not in head_revisions
    if migrated:
        migrate()
    epoch = asyncio.run(_start_epoch(database_url))
    erased = asyncio.run(_erase_again(database_url, deleted)) if deleted else 0
    return RestoreReport(path, dialect, revision, migrated, epoch, erased)


DELETED_ACCOUNTS = "SELECT id FROM users WHERE deleted_at IS NOT NULL ORDER BY deleted_at, id"


def _sqlite_accounts_deleted(target: Path) -> list[uuid.UUID]:
    """The accounts deleted in the database about to be replaced; none when it is new, empty
    or of a release before account deletion."""
    if not target.exists():
        return []
    # read-only and closed again: nothing of ours holds the file during the restore
    connection = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
    try:
        rows = connection.execute(DELETED_ACCOUNTS).fetchall()
    except sqlite3.OperationalError:  # no such table or column
        return []
    finally:
        connection.close()
    return [uuid.UUID(str(row[0])) for row in rows]


async def _erase_again(database_url: str, user_ids: list[uuid.UUID]) -> int:
    from backend.kit.clock import SystemClock
    from backend.privacy import service as privacy

    database = Database(database_url)
    try:
        erased = await privacy.erase_again(db=database, user_ids=user_ids, now=SystemClock().now())
        return len(erased)
    finally:
        await database.dispose()


def _check_known(revision: str | None, known_revisions: Sequence[str]) -> None:
    """Refuse, before anything is changed, a backup of a schema newer than this code."""
    if revision is not None and revision not in known_revisions:
        raise BackupError(
            BackupProblem.SCHEMA_NEWER,
            f"The backup is at migration {revision}, which this release does not know: it was "
            "made by a newer release. Restore it with that release's `eic restore` (and serve "
            "that release); nothing was changed",
        )


def _sqlite_backup_revision(path: Path) -> str | None:
    backup_file = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = backup_file.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.DatabaseError:  # never migrated
        return None
    finally:
        backup_file.close()
    return str(rows[0][0]) if rows else None


def _held_by_another_process(path: Path) -> bool:
    """Whether some other process holds a POSIX record lock anywhere in ``path``.

    SQLite in WAL mode keeps a shared lock in the -shm file for as long as a connection is open,
    and our idempotency liveness keeps one in the -holders file (backend/idempotency.py): a
    serving process holds at least one. F_GETLK only asks; it takes nothing (taking a lock, and
    closing the descriptor afterwards, could drop locks SQLite holds in this process).
    """
    if not path.exists():
        return False
    flock = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid
    fd = os.open(path, os.O_RDONLY)
    try:
        query = struct.pack(flock, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        answer = fcntl.fcntl(fd, fcntl.F_GETLK, query)
    finally:
        os.close(fd)
    return bool(struct.unpack(flock, answer)[0] != fcntl.F_UNLCK)


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    rows = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return sorted(name for (name,) in rows)


def _not_empty(tables: list[str]) -> BackupError:
    shown = ", ".join(tables[:5]) + (" ..." if len(tables) > 5 else "")
    return BackupError(
        BackupProblem.NOT_EMPTY,
        f"The database is not empty ({len(tables)} tables: {shown}): restoring replaces all "
        "of it; pass --force to do so",
    )


def _in_use(what: str) -> BackupError:
    return BackupError(
        BackupProblem.IN_USE,
        f"{what}: stop every `eic serve` and worker using it first (a restore under a running "
        "service would mix its writes with the backup's), then restore, then start them again",
    )


def _sqlite_restore(backup_path: Path, target: Path, *, force: bool) -> None:
    if not target.parent.is_dir():
        raise BackupError(BackupProblem.NOT_FOUND, f"No such directory: {target.parent}")
    for companion in ("-shm", "-holders"):
        if _held_by_another_process(Path(f"{target}{companion}")):
            raise _in_use(f"Another process has {target} open")
    if target.exists():
        check = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        try:
            tables = _sqlite_tables(check)
        finally:
            check.close()
        if tables and not force:
            raise _not_empty(tables)
    source = sqlite3.connect(f"file:{backup_path}?mode=ro", uri=True)
    destination = sqlite3.connect(target, timeout=30)
    try:
        # The backup API writes the destination in one write transaction: an interrupted
        # restore leaves the database as it was, and a WAL destination stays consistent.
        source.backup(destination)
        destination.execute("PRAGMA journal_mode=WAL")  # as the service opens it
    finally:
        destination.close()
        source.close()


async def _pg_restore(
    database_url: str, backup_path: Path, *, force: bool, known_revisions: Sequence[str]
) -> tuple[str | None, list[uuid.UUID]]:
    """Restore with pg_restore; returns the backup's migration, and the accounts deleted in the
    database it replaced."""
    database = Database(database_url)
    try:
        async with database.engine.connect() as connection:
            server_version = str(
                (await connection.execute(text("SHOW server_version"))).scalar_one()
            )
            others = (
                await connection.execute(
                    text(
                        "SELECT coalesce(nullif(application_name, ''), 'unnamed'), count(*)"
                        " FROM pg_stat_activity WHERE datname = current_database()"
                        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                        # (an autovacuum worker on the database is no user of it)
                        " GROUP BY 1 ORDER BY 1"
                    )
                )
            ).all()
            tables = sorted(
                (
                    await connection.execute(
                        text(
                            "SELECT table_name FROM information_schema.tables"
                            " WHERE table_schema = 'public'"
                        )
                    )
                )
                .scalars()
                .all()
            )
            # the accounts deleted in the database about to be replaced (see restore)
            deleted: list[uuid.UUID] = []
            has_deletions = await connection.scalar(
                text(
                    "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                    "'public' AND table_name = 'users' AND column_name = 'deleted_at'"
                )
            )
            if has_deletions:
                rows = await connection.execute(text(DELETED_ACCOUNTS))
                deleted = [uuid.UUID(str(row[0])) for row in rows]
    finally:
        await database.dispose()
    if others:
        sessions = ", ".join(f"{count} of {name}" for name, count in others)
        raise _in_use(f"Other sessions are connected to the database ({sessions})")
    if tables and not force:
        raise _not_empty(tables)
    tool = find_pg_tool("pg_restore", server_version.split()[0])
    # the archive's alembic_version rows, as SQL text (no --dbname: pg_restore reads the file only)
    listed = await _run_pg_tool(
        tool, ["--data-only", "--table=alembic_version", "--file=-", str(backup_path)], database_url
    )
    lines = listed.decode().splitlines()
    copy = [i for i, line in enumerate(lines) if line.startswith("COPY public.alembic_version ")]
    revision = lines[copy[0] + 1] if copy and lines[copy[0] + 1] != "\\." else None
    _check_known(revision, known_revisions)
    arguments = ["--no-owner", "-w", "--exit-on-error", "--single-transaction"]
    if force:
        # drop what the backup holds before creating it again (what is not in it stays)
        arguments += ["--clean", "--if-exists"]
    url = make_url(database_url)
    await _run_pg_tool(
        tool, [*arguments, "--dbname", str(url.database), str(backup_path)], database_url
    )
    return revision, deleted


async def _start_epoch(database_url: str) -> str:
    from backend.sync import service as sync_service

    database = Database(database_url)
    try:
        return await sync_service.start_epoch(db=database)
    finally:
        await database.dispose()
