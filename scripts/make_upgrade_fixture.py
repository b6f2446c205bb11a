"""Make the upgrade fixtures of a release: its demo database, on SQLite and on PostgreSQL.

Run at a release, from a checkout of exactly the released code (docs/backup.md, "Releases"):

    .venv/bin/python scripts/make_upgrade_fixture.py
    .venv/bin/python scripts/make_upgrade_fixture.py --postgres-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

It runs `eic migrate` and `eic seed-demo` (the release's own commands) into a new SQLite file and
a new PostgreSQL database, and writes, named after the release's migration head:

    tests/operations/fixtures/demo-<head>.sqlite3.gz        the SQLite file, gzipped
    tests/operations/fixtures/demo-<head>.postgresql.sql.gz plain SQL from pg_dump --no-owner
                                                            --no-privileges, gzipped

tests/operations/test_upgrade.py loads every fixture it finds there, runs `eic migrate` of the
code under test, and checks that the rows survived and the service answers. Both files are
written with a fixed gzip time, so making them again from the same code changes nothing but
what the demo itself dates by the clock.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic.script import ScriptDirectory
from benchkit import scratch_postgres

from backend.backup import _pg_environment, _server_version, find_pg_tool
from backend.migrating import alembic_config

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "operations" / "fixtures"
EIC = str(Path(sys.executable).parent / "eic")
SCRATCH_DATABASE = "eic_upgrade_fixture"


def eic(database_url: str, *arguments: str) -> None:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")} | {
        "EIC_DATABASE_URL": database_url,
        "EIC_ENVIRONMENT": "test",
    }
    subprocess.run([EIC, *arguments], env=environment, check=True, capture_output=True)  # noqa: S603


def gzip_to(source: bytes, target: Path) -> None:
    with (
        open(target, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as packed,
    ):
        packed.write(source)
    print(f"{target.relative_to(Path.cwd())}: {target.stat().st_size} bytes")


def make_sqlite(head: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/demo.db"
        eic(url, "migrate")
        eic(url, "seed-demo")
        # `eic backup`: one self-contained file (no -wal), as of one commit
        eic(url, "backup", f"{scratch}/copy.db")
        copy = sqlite3.connect(f"{scratch}/copy.db")
        copy.execute("VACUUM")  # the smallest file for the repository
        copy.close()
        gzip_to(Path(f"{scratch}/copy.db").read_bytes(), FIXTURES / f"demo-{head}.sqlite3.gz")


def make_postgresql(head: str, admin_url: str) -> None:
    url = asyncio.run(scratch_postgres(admin_url, SCRATCH_DATABASE, create=True))
    try:
        eic(url, "migrate")
        eic(url, "seed-demo")
        tool = find_pg_tool("pg_dump", asyncio.run(_server_version(url)).split()[0])
        dump = subprocess.run(  # noqa: S603 - pg_dump found on disk
            [tool.path, "--no-owner", "--no-privileges", "-w"],
            env=_pg_environment(url),
            check=True,
            capture_output=True,
        ).stdout
        gzip_to(dump, FIXTURES / f"demo-{head}.postgresql.sql.gz")
    finally:
        asyncio.run(scratch_postgres(admin_url, SCRATCH_DATABASE, create=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres",
        help="a server where a scratch database may be created and dropped",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    if len(heads) != 1:
        raise SystemExit(f"The migrations have {len(heads)} heads ({heads}): merge them first")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    make_sqlite(heads[0])
    if not args.skip_postgres:
        make_postgresql(heads[0], args.postgres_url)


if __name__ == "__main__":
    main()
