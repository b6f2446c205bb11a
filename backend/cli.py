"""The ``eic`` command: serve, migrate, seed-demo, run-due-jobs, export-schema, operations build,
create-admin, check (doctor), export-person, delete-person, backup, restore."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from pathlib import Path

from alembic import command

from backend.migrating import alembic_config
from backend.settings import Settings, SettingsError, check_listen_address, get_settings


def migrate(settings: Settings) -> None:
    """Upgrade the schema, then load the reference data (units, material catalogue)."""
    command.upgrade(alembic_config(settings.database_url), "head")
    asyncio.run(_sync_reference_data(settings))


async def _sync_reference_data(settings: Settings) -> None:
    from backend.catalogue.reference import sync_reference_data
    from backend.kit.db import Database

    db = Database(settings.database_url)
    try:
        await sync_reference_data(db)
    finally:
        await db.dispose()


async def _seed_demo(settings: Settings, *, if_empty: bool) -> str:
    from backend import demo
    from backend.auth.passwords import Passwords
    from backend.kit.db import Database

    db = Database(settings.database_url)
    try:
        if if_empty and not await demo.is_empty(db):
            return "The database already has clusters; demo data not loaded."
        report = await demo.seed_demo(db, Passwords(settings))
    finally:
        await db.dispose()
    return (
        f"Demo data: {report.clusters} clusters, {report.organisations} organisations, "
        f"{report.users} accounts ({report.created} rows created). "
        f"Password of every demo account: {demo.DEMO_PASSWORD}"
    )


async def _create_admin(settings: Settings, email: str, password: str, display_name: str) -> str:
    from backend.auth.security import Security
    from backend.identity import service
    from backend.kit.db import Database

    db = Database(settings.database_url)
    try:
        user = await service.create_platform_admin(
            db=db,
            security=Security.from_settings(settings),
            email=email,
            password=password,
            display_name=display_name,
        )
    finally:
        await db.dispose()
    return f"Platform admin {user.email} is ready."


async def _deliver_push(settings: Settings) -> str:
    from backend.kit.db import Database, utcnow
    from backend.notifications.push import (
        PushConfig,
        ReceiptsReport,
        Senders,
        check_receipts,
        deliver_due,
        http_client,
        worker_name,
    )

    config = PushConfig.from_settings(settings)
    if not config.sends_anything:
        return (
            "No push provider is configured (EIC_PUSH_URL, EIC_PUSH_FCM_CREDENTIALS_FILE or "
            "the EIC_PUSH_APNS_* settings): nothing to deliver to."
        )
    db = Database(settings.database_url)
    try:
        timeout = settings.push_timeout_seconds
        async with http_client(timeout) as http, Senders(config, http) as senders:
            worker = worker_name()
            report = await deliver_due(
                db=db,
                http=http,
                senders=senders,
                now=utcnow(),
                worker=worker,
                timeout_seconds=timeout,
            )
            receipts = ReceiptsReport(0, 0, 0)
            if config.expo_receipts_url:
                receipts = await check_receipts(
                    db=db,
                    http=http,
                    url=config.expo_receipts_url,
                    now=utcnow(),
                    worker=worker,
                    timeout_seconds=timeout,
                    access_token=config.expo_access_token,
                )
    finally:
        await db.dispose()
    return (
        f"Push: {report.sent} sent, {report.retried} to retry, {report.failed} failed, "
        f"{report.maybe_sent} maybe sent (outcome unknown, not sent again), "
        f"{report.devices_removed} devices removed; receipts: {receipts.checked} read, "
        f"{receipts.failed} failed, {receipts.devices_removed} devices removed."
    )


async def _run_due_jobs(settings: Settings) -> str:
    from backend.jobs import run_due_jobs
    from backend.kit.clock import SystemClock
    from backend.kit.db import Database

    db = Database(settings.database_url)
    try:
        report = await run_due_jobs(db, SystemClock())
    finally:
        await db.dispose()
    return f"Due jobs done: {report.purchase_groups_closed} purchase groups closed."


async def _export_person(settings: Settings, email: str, output: Path | None) -> str:
    from backend.kit.db import Database, utcnow
    from backend.privacy import service as privacy

    db = Database(settings.database_url)
    try:
        user_id = await privacy.find_person(db=db, email=email)
        if output is None:
            rows = await privacy.write_export(db=db, user_id=user_id, now=utcnow(), out=sys.stdout)
            return ""
        # Written beside the target and renamed: a failed export leaves no half file behind.
        partial = output.with_name(output.name + ".partial")
        with partial.open("w", encoding="utf-8") as out:
            rows = await privacy.write_export(db=db, user_id=user_id, now=utcnow(), out=out)
        partial.replace(output)
    finally:
        await db.dispose()
    return f"Exported {rows} rows of {email}'s data to {output}."


async def _delete_person(settings: Settings, email: str, reason: str) -> str:
    from backend.kit.broadcast import broadcaster_for
    from backend.kit.db import Database, utcnow
    from backend.privacy import service as privacy

    db = Database(settings.database_url)
    broadcaster = broadcaster_for(settings.redis_url)
    try:
        user_id = await privacy.find_person(db=db, email=email)
        deletion = await privacy.delete_person(
            db=db,
            user_id=user_id,
            now=utcnow(),
            actor_id=None,
            actor_name="operator (eic delete-person)",
            reason=reason,
            broadcaster=broadcaster,
        )
    finally:
        await broadcaster.close()
        await db.dispose()
    return (
        f"Deleted {email} (account {deletion.user_id}): {deletion.registrations_cancelled} event "
        f"places and {deletion.pledges_withdrawn} pledges given up, "
        f"{deletion.notifications_deleted} notifications and {deletion.devices_deleted} "
        "devices erased; every sign-in has ended."
    )


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from backend.observability import configure_logging

    settings = get_settings()
    check_listen_address(args.host, settings)
    if settings.metrics_enabled and args.workers > 1:
        # Workers share the port: each scrape would read whichever worker answered.
        raise SettingsError(
            "EIC_METRICS_ENABLED with --workers above 1 would report one worker's figures at a "
            "time: run one worker per instance (scraped each on its own), or turn metrics off"
        )
    logging_options: dict[str, object] = {}
    if settings.log_format == "json":
        # uvicorn's own lines as JSON too, from the first one (before the app is loaded)
        configure_logging(settings.log_level, "json")
        logging_options["log_config"] = None
    uvicorn.run(
        "backend.app:app_from_environment",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        reload=args.reload,
        proxy_headers=settings.trust_forwarded_for,
        # uvicorn's own default (5 s) is shorter than the idle timeout of the proxies and client
        # pools in front of us: they would reuse a connection just as we close it.
        timeout_keep_alive=settings.keep_alive_seconds,
        log_level="info",
        access_log=False,  # our own request log line carries the request id
        **logging_options,  # type: ignore[arg-type]
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eic", description="EIC: GraphQL backend for eco-industrial clusters."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve GraphQL over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--reload", action="store_true", help="restart on code changes (dev)")

    sub.add_parser(
        "migrate",
        help="upgrade the database to the latest schema (on PostgreSQL, creating the database "
        "first when it does not exist and the role may)",
    )

    seed = sub.add_parser("seed-demo", help="load the four prototype clusters (idempotent)")
    seed.add_argument(
        "--if-empty", action="store_true", help="only when the database has no clusters yet"
    )

    sub.add_parser(
        "run-due-jobs",
        help="record what is due (purchase group deadlines) and notify; safe to run anywhere, "
        "any number of times",
    )

    export = sub.add_parser("export-schema", help="print the GraphQL SDL")
    export.add_argument("--output", type=Path, help="write to this file instead of stdout")

    sub.add_parser(
        "deliver-push",
        help="send the push messages that are due through Expo, FCM and APNs (one pass; `eic "
        "serve` runs a worker when a provider is configured)",
    )

    operations = sub.add_parser("operations", help="the apps' trusted operations")
    operations_sub = operations.add_subparsers(dest="operations_command", required=True)
    operations_sub.add_parser(
        "build",
        help="validate clients/operations/*.graphql and write clients/operations/manifest.json "
        "and persisted-query-manifest.json (Apollo's format)",
    )

    admin = sub.add_parser("create-admin", help="create or promote a platform admin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--display-name", default="Platform admin")
    admin.add_argument(
        "--password-env",
        default="EIC_ADMIN_PASSWORD",
        help="environment variable holding the password (prompted for when unset)",
    )
    sub.add_parser(
        "check",
        aliases=["doctor"],
        help="print the effective configuration (secrets masked) and check the database, its "
        "migration, Redis, the push providers and production's start-up checks; status 1 when "
        "any check fails",
    )

    # --- privacy requests (docs/privacy.md) ---------------------------------------------------
    export_person = sub.add_parser(
        "export-person", help="write a person's own data as JSON (an access request)"
    )
    export_person.add_argument("email", help="the account's email address")
    export_person.add_argument("--output", type=Path, help="write to this file, not stdout")
    delete_person = sub.add_parser(
        "delete-person",
        help="anonymise a person's account and erase what is only theirs (an erasure request)",
    )
    delete_person.add_argument("email", help="the account's email address")
    delete_person.add_argument(
        "--reason",
        default="Erasure request handled by the operator",
        help="kept in the audit record of the deletion (a ticket number, say)",
    )
    _add_backup_commands(sub)
    return parser


# --- eic backup / eic restore (backend/backup.py; docs/backup.md) ---------------------------


def _add_backup_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = sub.add_parser(
        "backup",
        help="copy the database into FILE, consistently while the service runs (SQLite: online "
        "backup API; PostgreSQL: pg_dump -Fc)",
    )
    backup.add_argument("file", type=Path)
    restore = sub.add_parser(
        "restore",
        help="replace the database with a backup made by `eic backup` (stop the service first); "
        "phones must then load their offline copies again (RESYNC_REQUIRED)",
    )
    restore.add_argument("file", type=Path)
    restore.add_argument(
        "--force", action="store_true", help="replace a database that is not empty"
    )


def _backup_command(args: argparse.Namespace, settings: Settings) -> int:
    from alembic.script import ScriptDirectory

    from backend import backup

    try:
        if args.command == "backup":
            made = backup.backup(settings.database_url, args.file)
            print(
                f"Backup of the {made.dialect} database written to {made.path} ({made.size} bytes)."
            )
            return 0
        scripts = ScriptDirectory.from_config(alembic_config(settings.database_url))
        restored = backup.restore(
            settings.database_url,
            args.file,
            force=args.force,
            migrate=lambda: migrate(settings),
            head_revisions=list(scripts.get_heads()),
            known_revisions=[script.revision for script in scripts.walk_revisions()],
        )
    except backup.BackupError as exc:
        print(f"eic: {exc.message} [{exc.problem}]", file=sys.stderr)
        return 1
    print(
        f"Restored {restored.path} into the {restored.dialect} database"
        + (f", then migrated it from {restored.revision_restored}" if restored.migrated else "")
        + f". New sync epoch {restored.epoch}: the apps' cursors from before now answer "
        "RESYNC_REQUIRED, and they load their offline copies again."
        + (
            f" {restored.erased_again} account(s) deleted since the backup was taken were "
            "deleted again."
            if restored.erased_again
            else ""
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    from backend.kit.errors import ServiceError

    try:
        return _run(_parser().parse_args(argv))
    except SettingsError as exc:
        for line in str(exc).splitlines():
            print(f"eic: {line}", file=sys.stderr)
        return 2
    except ServiceError as exc:
        for problem in exc.problems:
            where = f" ({problem.field})" if problem.field else ""
            print(f"error{where}: {problem.message}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.command == "export-schema":
        from backend.graphql.schema import export_sdl

        sdl = export_sdl()
        if args.output:
            args.output.write_text(sdl, encoding="utf-8")
        else:
            sys.stdout.write(sdl)
        return 0

    if args.command == "operations":
        from backend.graphql.operations import (
            APOLLO_MANIFEST,
            MANIFEST,
            OperationsError,
            build_manifest,
        )
        from backend.graphql.schema import build_schema

        try:
            built = build_manifest(build_schema(Settings(_env_file=None))._schema)
        except OperationsError as exc:
            print(f"The apps' operations do not build:\n{exc}", file=sys.stderr)
            return 1
        # The Python client ships a copy as package data (an installed client has no repository).
        sdk_copy = MANIFEST.parents[1] / "python" / "eic_client" / "manifest.json"
        if sdk_copy.parent.is_dir():
            sdk_copy.write_bytes(MANIFEST.read_bytes())
        print(f"{len(built)} operations written to {MANIFEST} and {APOLLO_MANIFEST}")
        return 0

    if args.command in ("check", "doctor"):
        from backend import doctor

        lines, status = doctor.run()
        print("\n".join(lines))
        return status

    settings = get_settings()
    if args.command in ("backup", "restore"):
        return _backup_command(args, settings)
    if args.command == "serve":
        _serve(args)
    elif args.command == "migrate":
        from backend.provisioning import ensure_database

        created = asyncio.run(
            ensure_database(
                settings.database_url, connect_seconds=settings.db_connect_timeout_seconds
            )
        )
        if created:
            print(created)
        migrate(settings)
        print("Database is at the latest migration.")
    elif args.command == "seed-demo":
        print(asyncio.run(_seed_demo(settings, if_empty=args.if_empty)))
    elif args.command == "deliver-push":
        print(asyncio.run(_deliver_push(settings)))
    elif args.command == "run-due-jobs":
        print(asyncio.run(_run_due_jobs(settings)))
    elif args.command == "create-admin":
        password = os.environ.get(args.password_env) or getpass.getpass("Password: ")
        print(asyncio.run(_create_admin(settings, args.email, password, args.display_name)))
    elif args.command == "export-person":
        message = asyncio.run(_export_person(settings, args.email, args.output))
        if message:
            print(message, file=sys.stderr)
    elif args.command == "delete-person":
        print(asyncio.run(_delete_person(settings, args.email, args.reason)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
