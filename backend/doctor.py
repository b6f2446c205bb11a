"""``eic check`` (``eic doctor``): the effective configuration, secrets masked, then one line per
check (OK, FAIL or SKIP, with the reason): the settings, production's start-up checks, the
database, its migration, Redis and the push providers.

It reports instead of refusing: every problem is listed, so that an operator fixes them in one
round, and a broken part never stops the checks of the others.
"""

from __future__ import annotations

import asyncio
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import make_url

from backend.settings import (
    DEVELOPMENT_JWT_SECRET,
    Environment,
    Settings,
    SettingsAsGiven,
    is_secret_setting,
    production_problems,
    unknown_variables,
    validation_problems,
)


class State(StrEnum):
    OK = "OK"
    FAIL = "FAIL"
    SKIP = "SKIP"


@dataclass(frozen=True)
class Check:
    name: str
    state: State
    reason: str

    def line(self) -> str:
        return f"{self.state.value:<4}  {self.name}: {self.reason}"


# Query parameters that carry a secret (asyncpg and libpq take ?password=, some Redis clients too).
_SECRET_PARAMETER = re.compile(
    r"(?P<name>(?:^|[&;])[^=&;#]*(?:password|passwd|secret|token)[^=&;#]*=)[^&;#]*", re.IGNORECASE
)


def mask_url(value: str) -> str:
    """``value`` with the password of a URL in it replaced by ***.

    Not read with ``urlsplit``: SQLAlchemy takes a password with an unescaped '/', '?' or '#'
    whole, where ``urlsplit`` ends the address at that character, finds no password, and the URL
    was printed as it is, password and all. Everything between the user's ':' and the last '@'
    is masked: too much rather than a part of a password."""
    scheme, separator, rest = value.partition("://")
    if not separator:
        return value
    userinfo, at, host = rest.rpartition("@")
    user, colon, _ = userinfo.partition(":")
    # a user name never holds '/', '?' or '#': an '@' after those is in a path or query
    if at and colon and not any(mark in user for mark in "/?#"):
        rest = f"{user}:***@{host}"
    address, question, query = rest.partition("?")
    return f"{scheme}://{address}{question}" + _SECRET_PARAMETER.sub(r"\g<name>***", query)


def shown(name: str, value: Any) -> str:
    """How ``eic check`` prints a setting: secrets as whether they are set and their length."""
    if value is None:
        return "(not set)"
    if name == "jwt_secret" and value == DEVELOPMENT_JWT_SECRET:
        return "(the public development secret)"
    if is_secret_setting(name):
        return f"(set, {len(str(value).encode())} bytes)" if value else "(set, empty)"
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, list):
        return ",".join(str(item) for item in value) or "(empty)"
    if isinstance(value, str):
        return mask_url(value) if value else '""'
    return str(value)


def configuration(settings: Settings) -> list[str]:
    """Every setting, as its variable, with where it came from: set, or the default."""
    given = settings.model_fields_set
    lines = []
    for name in type(settings).model_fields:
        origin = "" if name in given else "  (default)"
        lines.append(f"  EIC_{name.upper()}={shown(name, getattr(settings, name))}{origin}")
    return lines


def production_checks(settings: Settings) -> list[Check]:
    if settings.environment is not Environment.PRODUCTION:
        return [Check("production", State.SKIP, f"EIC_ENVIRONMENT is {settings.environment.value}")]
    problems = production_problems(settings)
    if not problems:
        return [Check("production", State.OK, "the start-up checks pass")]
    return [Check("production", State.FAIL, problem) for problem in problems]


async def database_checks(settings: Settings) -> list[Check]:
    """Whether the database answers, then whether it is at the code's migration head."""
    from backend.kit.db import Database, NotWritableError, Timeouts

    url = make_url(settings.database_url)
    where = mask_url(settings.database_url)
    path = url.database
    # Connecting would create an empty SQLite file: a check must leave no trace.
    if (
        url.get_backend_name() == "sqlite"
        and path
        and path != ":memory:"
        and not await asyncio.to_thread(Path(path).exists)
    ):
        return [
            Check("database", State.FAIL, f"{path} does not exist: run eic migrate"),
            Check("migrations", State.SKIP, "no database"),
        ]
    timeout = settings.db_connect_timeout_seconds
    database = Database(
        settings.database_url,
        timeouts=Timeouts(connect=timeout, statement=timeout, pool=timeout),
    )
    try:
        try:
            async with asyncio.timeout(timeout + 1):
                await database.probe()
        except NotWritableError as exc:
            return [
                Check("database", State.FAIL, f"{where} answers but {exc.reason}"),
                Check("migrations", State.SKIP, "the database takes no writes"),
            ]
        except Exception as exc:  # any failure to reach it is the finding
            return [
                Check("database", State.FAIL, f"{where}: {_reason(exc)}"),
                Check("migrations", State.SKIP, "no database"),
            ]
        database_line = Check("database", State.OK, f"{where} answers and takes writes")
        return [
            database_line,
            await _migration_check(database, settings),
            await _backup_check(database),
        ]
    finally:
        await database.dispose()


async def _backup_check(database: Any) -> Check:
    """Whether `eic backup` and `eic restore` would find what they need: on PostgreSQL, pg_dump
    and pg_restore at least as new as the server (a backup fails at 02:30, not now, otherwise)."""
    from sqlalchemy import text

    from backend import backup

    if database.dialect != "postgresql":
        return Check("backup", State.OK, "SQLite's online backup API (nothing to install)")
    async with database.engine.connect() as connection:
        version = str(await connection.scalar(text("SHOW server_version"))).split()[0]
    try:
        tools = [
            await asyncio.to_thread(backup.find_pg_tool, name, version)
            for name in ("pg_dump", "pg_restore")
        ]
    except backup.BackupError as exc:
        return Check("backup", State.FAIL, f"{exc.message} [{exc.problem}]")
    found = ", ".join(f"{tool.path} {tool.version}" for tool in tools)
    return Check("backup", State.OK, f"{found} for server {version}")


def _reason(error: BaseException) -> str:
    from backend.provisioning import INVALID_CATALOG_NAME, sqlstate

    if sqlstate(error) == INVALID_CATALOG_NAME:
        return "the database does not exist: run eic migrate (it creates it when the role may)"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return str(getattr(error, "orig", None) or error) or type(error).__name__


async def _migration_check(database: Any, settings: Settings) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from backend.migrating import alembic_config

    script = ScriptDirectory.from_config(alembic_config(settings.database_url))
    heads = set(script.get_heads())
    async with database.engine.connect() as connection:
        current = set(
            await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_heads()
            )
        )
    head = ", ".join(sorted(heads))
    if current == heads:
        return Check("migrations", State.OK, f"at the code's head {head}")
    if not current:
        return Check("migrations", State.FAIL, "no migration applied yet: run eic migrate")
    at = ", ".join(sorted(current))
    known = all(_known(script, revision) for revision in current)
    if not known:
        return Check(
            "migrations",
            State.FAIL,
            f"at {at}, which this code does not know (migrated by a newer release?); "
            f"the code's head is {head}",
        )
    return Check(
        "migrations", State.FAIL, f"behind: at {at}, the code's head is {head}; run eic migrate"
    )


def _known(script: Any, revision: str) -> bool:
    from alembic.util import CommandError

    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False


async def redis_check(settings: Settings) -> Check:
    if not settings.redis_url:
        return Check(
            "redis",
            State.SKIP,
            "EIC_REDIS_URL is not set (throttles, limits and caches are kept in each process)",
        )
    from backend.readiness import redis_answers

    where = mask_url(settings.redis_url)
    timeout = settings.redis_timeout_seconds
    try:
        async with asyncio.timeout(timeout + 1):
            await redis_answers(settings.redis_url, timeout)
    except Exception as exc:  # any failure to reach it is the finding
        return Check("redis", State.FAIL, f"{where}: {_reason(exc)}")
    return Check("redis", State.OK, f"{where} answers")


def push_check(settings: Settings) -> Check:
    """The providers that are on, their key files read and used to sign once, as at start-up;
    a provider half configured (some APNs settings only) is a mistake worth a FAIL."""
    from backend.notifications import push

    apns = {
        "EIC_PUSH_APNS_KEY_FILE": settings.push_apns_key_file,
        "EIC_PUSH_APNS_KEY_ID": settings.push_apns_key_id,
        "EIC_PUSH_APNS_TEAM_ID": settings.push_apns_team_id,
        "EIC_PUSH_APNS_TOPIC": settings.push_apns_topic,
    }
    missing = [name for name, value in apns.items() if not value]
    if 0 < len(missing) < len(apns):
        return Check("push", State.FAIL, f"APNs is off because {', '.join(missing)} is not set")
    try:
        config = push.PushConfig.from_settings(settings)
    except (OSError, ValueError) as exc:
        return Check("push", State.FAIL, str(exc))
    if not config.sends_anything:
        return Check(
            "push",
            State.SKIP,
            "no provider configured (EIC_PUSH_URL, EIC_PUSH_FCM_CREDENTIALS_FILE, "
            "EIC_PUSH_APNS_*): pushes wait in the outbox",
        )
    providers = []
    if config.expo_url:
        providers.append(f"Expo at {mask_url(config.expo_url)}")
    if config.fcm is not None:
        providers.append(f"FCM for project {config.fcm.project_id}")
    if config.apns is not None:
        providers.append(f"APNs key {config.apns.key_id} of team {config.apns.team_id}")
    return Check("push", State.OK, "; ".join(providers) + " (key files sign)")


async def _run_checks(settings: Settings) -> list[Check]:
    database, redis = await asyncio.gather(database_checks(settings), redis_check(settings))
    return [*production_checks(settings), *database, redis, push_check(settings)]


def run() -> tuple[list[str], int]:
    """The report's lines and the exit status: 0 when nothing failed, else 1. The settings are
    read as ``get_settings`` reads them (the environment and .env)."""
    lines: list[str] = []
    checks = [Check("settings", State.FAIL, problem) for problem in unknown_variables(os.environ)]
    try:
        settings: Settings = SettingsAsGiven()
    except ValidationError as exc:
        checks += [Check("settings", State.FAIL, problem) for problem in validation_problems(exc)]
        checks.append(Check("others", State.SKIP, "the settings do not load"))
    else:
        lines += ["Configuration (secrets masked):", *configuration(settings), ""]
        if not checks:
            checks.append(Check("settings", State.OK, "every EIC_ variable is a known setting"))
        checks += asyncio.run(_run_checks(settings))
    lines += ["Checks:", *(check.line() for check in checks)]
    failed = any(check.state is State.FAIL for check in checks)
    return lines, 1 if failed else 0
