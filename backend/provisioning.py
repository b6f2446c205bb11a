"""What ``eic migrate`` does before the migrations: make sure the PostgreSQL database exists.

A new deployment usually has a server and a role but no database yet; ``eic migrate`` creates it
when the role may (CREATEDB), else it says exactly what to run. Either way the operator gets a
line to act on instead of a driver traceback, and an unreachable server is reported within the
connect timeout instead of the driver's own minute.
"""

from __future__ import annotations

import shlex
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from backend.settings import SettingsError

# PostgreSQL's error codes (SQLSTATE) that this module tells apart.
INVALID_CATALOG_NAME = "3D000"  # the database does not exist
INSUFFICIENT_PRIVILEGE = "42501"
DUPLICATE_DATABASE = "42P04"  # another `eic migrate` created it first
# The databases a role can usually connect to while its own does not exist yet.
MAINTENANCE_DATABASES = ("postgres", "template1")


class DatabaseSetupError(SettingsError):
    """The database of EIC_DATABASE_URL cannot be reached or made; the message says what to do.
    A SettingsError, so that every command prints it as a settings problem (status 2)."""


def sqlstate(error: BaseException) -> str | None:
    """PostgreSQL's code of the error the driver raised, if it is one of the server's."""
    original = getattr(error, "orig", None)
    code = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return str(code) if code else None


def server_of(url: URL) -> str:
    """``host:port`` of a URL, without the credentials, for messages."""
    return f"{url.host or 'localhost'}:{url.port or 5432}"


async def _run(url: URL, statement: str, *, connect_seconds: float) -> None:
    engine = create_async_engine(
        url,
        poolclass=NullPool,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": connect_seconds},
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def unreachable(url: URL, error: BaseException) -> DatabaseSetupError:
    reason = str(getattr(error, "orig", None) or error) or type(error).__name__
    return DatabaseSetupError(
        f"Cannot connect to the database {url.database} at {server_of(url)} ({reason}): is the "
        "server running, and are EIC_DATABASE_URL's host, port, user and password right?"
    )


async def ensure_database(database_url: str, *, connect_seconds: float) -> str | None:
    """Create the PostgreSQL database of ``database_url`` when it does not exist; what was done,
    in a sentence, or None when there was nothing to do (it exists, or SQLite, which creates
    its file itself). Raises :class:`DatabaseSetupError` with what to run when it cannot."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return None
    try:
        await _run(url, "SELECT 1", connect_seconds=connect_seconds)
        return None
    except DBAPIError as exc:
        if sqlstate(exc) != INVALID_CATALOG_NAME:
            raise unreachable(url, exc) from None
    except (OSError, TimeoutError) as exc:
        raise unreachable(url, exc) from None
    return await _create(url, connect_seconds=connect_seconds)


async def _create(url: URL, *, connect_seconds: float) -> str:
    name = url.database or ""
    # Always quoted: the name is then exactly the one the URL connects to (case and all), and
    # no name can break out of the statement.
    quoted = url.get_dialect()().identifier_preparer.quote_identifier(name)
    last: BaseException | None = None
    for maintenance in MAINTENANCE_DATABASES:
        try:
            await _run(
                url.set(database=maintenance),
                f"CREATE DATABASE {quoted}",
                connect_seconds=connect_seconds,
            )
            return f"Created the database {name} on {server_of(url)}."
        except DBAPIError as exc:
            code = sqlstate(exc)
            if code == DUPLICATE_DATABASE:
                return f"The database {name} was created meanwhile by another process."
            if code == INSUFFICIENT_PRIVILEGE:
                raise _may_not_create(url, quoted) from None
            last = exc
            if code != INVALID_CATALOG_NAME:
                break
        except (OSError, TimeoutError) as exc:
            raise unreachable(url, exc) from None
    assert last is not None
    reason = str(getattr(last, "orig", None) or last)
    raise DatabaseSetupError(
        f"The database {name} does not exist and could not be created ({reason}).\n"
        + _what_to_run(url, quoted)
    )


def _may_not_create(url: URL, quoted: str) -> DatabaseSetupError:
    return DatabaseSetupError(
        f"The database {url.database} does not exist on {server_of(url)} and "
        f"the role {url.username or '(default)'} may not create databases.\n"
        + _what_to_run(url, quoted)
    )


def _what_to_run(url: URL, quoted: str) -> str:
    role = url.username or "postgres"
    command: list[Any] = ["createdb"]
    if url.host:
        command += ["-h", url.host]
    if url.port:
        command += ["-p", str(url.port)]
    command += ["-O", role, url.database or ""]
    owner = url.get_dialect()().identifier_preparer.quote_identifier(role)
    return (
        f"As a PostgreSQL superuser run: {shlex.join(command)}  (or in psql: CREATE DATABASE "
        f"{quoted} OWNER {owner};), then run eic migrate again."
    )
