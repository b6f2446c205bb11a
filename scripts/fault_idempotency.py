"""Fault run: SIGKILL the server during a burst of keyed writes, restart it, retry what was lost.

One app process (uvicorn, as `eic serve` runs it) on a loopback port over a file SQLite database
(or a scratch PostgreSQL database). A firm sends R ``listingCreate`` requests at once, each with
its own ``Idempotency-Key``; once K of them are answered the server is killed with SIGKILL. It is
started again on the same database, and every request whose answer was lost is sent again with
the same key and body (a few at a time, as phones coming back would). Then the database is read:
each key must have made exactly one listing.

    .venv/bin/python scripts/fault_idempotency.py                  # SQLite in a temp folder
    .venv/bin/python scripts/fault_idempotency.py --requests 400 --kill-after 100
    .venv/bin/python scripts/fault_idempotency.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL it creates (and afterwards drops) a scratch database beside the one named.
``tests/reliability/test_idempotency_crash.py`` runs the same scenario, smaller, in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, select

from backend.auth.security import Security
from backend.auth.viewer import Role
from backend.identity import service as identity_service
from backend.identity.models import (
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    RefreshSession,
    Sector,
    User,
)
from backend.kit.db import Database, new_id, utcnow
from backend.kit.validation import Place
from backend.marketplace.models import Listing
from backend.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
JWT_SECRET = "fault-run-secret-that-is-long-enough-for-hs256-0123"  # noqa: S105
CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) { listing { id title } errors { code message field } }
}
"""
# An answer within this is "at once" (a generous bound: a retry takes some 10-50 ms).
AT_ONCE_SECONDS = 1.0


@dataclass
class Figures:
    """What clients saw and what the database holds afterwards."""

    requests: int = 0
    answered_first_time: int = 0
    answers_lost: int = 0
    retried: int = 0
    answered_within: int = 0  # retries with an outcome within ``at_once``
    at_once: float = AT_ONCE_SECONDS
    rows_duplicated: int = 0
    rows_lost: int = 0
    # how the retries were answered: REPLAYED (the first answer), RAN (done now, the first
    # attempt had not committed), ANSWER_LOST (done before, answer gone), or the error code
    retry_answers: Counter[str] = field(default_factory=Counter)
    retry_seconds: list[float] = field(default_factory=list)
    # an answer names another listing than the one its key made
    wrong_answers: int = 0
    # requests with no outcome at the end (neither first time nor on retry)
    unanswered: int = 0
    restart_seconds: float = 0.0

    def table(self) -> str:
        rows = [
            ("requests", self.requests),
            ("answered first time", self.answered_first_time),
            ("answers lost (server killed)", self.answers_lost),
            ("retried with the same key", self.retried),
            (f"answered within {self.at_once:g} s", self.answered_within),
            ("rows duplicated", self.rows_duplicated),
            ("rows lost", self.rows_lost),
            ("answers naming a wrong listing", self.wrong_answers),
            ("requests without an outcome", self.unanswered),
        ]
        lines = [f"{name:<32}{value:>8}" for name, value in rows]
        answers = ", ".join(f"{k} {v}" for k, v in sorted(self.retry_answers.items())) or "-"
        lines.append(f"{'retry answers':<32}{answers:>8}")
        if self.retry_seconds:
            ordered = sorted(self.retry_seconds)
            median, slowest = ordered[len(ordered) // 2], ordered[-1]
            timing = f"{median:.2f} / {slowest:.2f} s"
            lines.append(f"{'retry time, median / slowest':<32}{timing:>8}")
        lines.append(f"{'server restart (not counted)':<32}{self.restart_seconds:>7.2f}s")
        return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """``uvicorn backend.app:app_from_environment`` in a process of its own."""

    def __init__(self, database_url: str, log: Path) -> None:
        self.database_url = database_url
        self.log = log
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.port = free_port()
        # Only our own EIC_ variables: the server refuses unknown ones (EIC_TEST_DATABASE_URL).
        env = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
        env.update(
            EIC_ENVIRONMENT="test",
            EIC_DATABASE_URL=self.database_url,
            EIC_JWT_SECRET=JWT_SECRET,
            EIC_LOG_LEVEL="WARNING",
            EIC_DUE_JOBS_INTERVAL_SECONDS="0",
        )
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603, ASYNC220 - our own command line
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "backend.app:app_from_environment",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient(base_url=self.address, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server stopped:\n{self.log_tail()}")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the server did not start within 60 s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


async def seed_firm(db: Database, settings: Settings, tag: str) -> str:
    """A cluster and a firm with one person; returns the person's access token."""
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug=f"fault-{tag}",
            name=f"Fault Cluster {tag}",
            region="Okayama",
            country="JP",
            sector=Sector.WOOD,
            centre=Place(lat=35.07, lon=133.75),
            currency="JPY",
            languages=["ja"],
            timezone="Asia/Tokyo",
        ),
    )
    now = utcnow()
    user_id, organisation_id, session_id = new_id(), new_id(), new_id()
    tokens = Security.from_settings(settings).tokens
    async with db.write() as session:
        await session.execute(
            insert(User),
            [
                {
                    "id": user_id,
                    "email": f"fault-{tag}@people.eic.example",
                    "password_hash": "not-a-password-hash",
                    "display_name": "Fault Person",
                    "is_platform_admin": False,
                    "is_active": True,
                    "created_at": now,
                }
            ],
        )
        await session.execute(
            insert(Organisation),
            [
                {
                    "id": organisation_id,
                    "name": f"Fault Firm {tag}",
                    "kind": OrganisationKind.FIRM,
                    "cluster_id": cluster.id,
                    "lat": 35.07,
                    "lon": 133.75,
                    "place_name": "",
                    "description": "",
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
            ],
        )
        await session.execute(
            insert(Membership),
            [
                {
                    "id": new_id(),
                    "user_id": user_id,
                    "organisation_id": organisation_id,
                    "role": MembershipRole.ADMIN,
                    "created_at": now,
                }
            ],
        )
        await session.execute(
            insert(RefreshSession),
            [
                {
                    "id": session_id,
                    "family_id": new_id(),
                    "user_id": user_id,
                    "organisation_id": organisation_id,
                    "token_hash": f"fault-{session_id.hex}",
                    "issued_at": now,
                    "expires_at": now + tokens.refresh_ttl,
                }
            ],
        )
    return tokens.issue_access(
        user_id=user_id,
        role=Role.FIRM,
        organisation_id=organisation_id,
        session_id=session_id,
        now=now,
    ).token


def request_body(title: str) -> dict[str, Any]:
    return {
        "query": CREATE,
        "variables": {
            "input": {
                "kind": "OFFER",
                "category": "BY_PRODUCT",
                "title": title,
                "materialCode": "wood-shavings",
                "quantity": "10",
                "unit": "TNE",
                "pricePerUnit": "5000",
                "location": {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"},
                "publish": True,
            }
        },
    }


def outcome(response: httpx.Response) -> tuple[str, str | None]:
    """How a retry was answered, and the listing id it names."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} {response.headers.get('content-type')}", None
    payload = (body.get("data") or {}).get("listingCreate")
    if payload and payload.get("listing"):
        replayed = response.headers.get("idempotent-replayed") == "true"
        return ("REPLAYED" if replayed else "RAN"), payload["listing"]["id"]
    codes = [(e.get("extensions") or {}).get("code") for e in body.get("errors") or []]
    if codes == ["IDEMPOTENCY_KEY_ANSWER_LOST"]:
        return "ANSWER_LOST", None
    return f"HTTP {response.status_code} {','.join(map(str, codes)) or body}", None


@contextlib.asynccontextmanager
async def running(server: Server) -> AsyncIterator[Server]:
    try:
        await server.start()
        yield server
    finally:
        server.stop()


async def crash_scenario(
    database_url: str,
    *,
    requests: int,
    kill_after: int,
    retry_timeout: float = 10.0,
    retry_concurrency: int = 4,
    at_once_seconds: float = AT_ONCE_SECONDS,
    log_folder: Path | None = None,
) -> Figures:
    """Run the scenario on a migrated database; returns the figures."""
    tag = uuid.uuid4().hex[:8]
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        environment="test",
        database_url=database_url,
        jwt_secret=JWT_SECRET,
    )
    db = Database(database_url)
    figures = Figures(requests=requests, at_once=at_once_seconds)
    folder = tempfile.TemporaryDirectory()
    log = (log_folder or Path(folder.name)) / f"fault-idempotency-{tag}.log"
    try:
        token = await seed_firm(db, settings, tag)
        titles = [f"Crash {tag} {i:04d}" for i in range(requests)]
        keys = [f"crash-{tag}-{i}" for i in range(requests)]
        headers = [{"Authorization": f"Bearer {token}", "Idempotency-Key": k} for k in keys]
        first: dict[int, str | None] = {}  # request -> listing id of its first answer

        server = Server(database_url, log)
        async with running(server):
            limits = httpx.Limits(max_connections=requests + 1, max_keepalive_connections=0)
            async with httpx.AsyncClient(
                base_url=server.address, timeout=60, limits=limits
            ) as http:

                async def send(i: int) -> None:
                    try:
                        response = await http.post(
                            "/graphql", json=request_body(titles[i]), headers=headers[i]
                        )
                    except httpx.TransportError:
                        return
                    first[i] = outcome(response)[1]
                    if len(first) == kill_after:
                        # Killed right here, not from another task: on a fast machine the
                        # rest of the burst was answered before such a task got its turn.
                        server.kill()

                await asyncio.gather(*(send(i) for i in range(requests)))
        figures.answered_first_time = len(first)
        lost = [i for i in range(requests) if i not in first]
        figures.answers_lost = figures.retried = len(lost)

        retried: dict[int, str | None] = {}
        server = Server(database_url, log)
        restarting = time.monotonic()
        async with (
            running(server),
            httpx.AsyncClient(base_url=server.address, timeout=retry_timeout) as http,
        ):
            figures.restart_seconds = time.monotonic() - restarting
            gate = asyncio.Semaphore(retry_concurrency)

            async def retry(i: int) -> None:
                async with gate:
                    started = time.monotonic()
                    try:
                        response = await http.post(
                            "/graphql", json=request_body(titles[i]), headers=headers[i]
                        )
                    except httpx.TimeoutException:
                        figures.retry_answers[f"no answer in {retry_timeout:g} s"] += 1
                        return
                    elapsed = time.monotonic() - started
                    figures.retry_seconds.append(elapsed)
                    kind, listing_id = outcome(response)
                    figures.retry_answers[kind] += 1
                    if kind in {"REPLAYED", "RAN", "ANSWER_LOST"}:
                        retried[i] = listing_id
                        if elapsed <= at_once_seconds:
                            figures.answered_within += 1

            await asyncio.gather(*(retry(i) for i in lost))

        async with db.read() as session:
            made: dict[str, list[str]] = {}
            rows = await session.execute(
                select(Listing.title, Listing.id).where(Listing.title.in_(titles))
            )
            for title, listing_id in rows:
                made.setdefault(title, []).append(str(listing_id))

        for i, title in enumerate(titles):
            ids = made.get(title, [])
            figures.rows_duplicated += max(0, len(ids) - 1)
            named = first.get(i) if i in first else retried.get(i)
            done = named is not None or i in retried  # ANSWER_LOST names no listing
            if not done:
                figures.unanswered += 1
            elif not ids:  # an answer said it was done, the database has nothing
                figures.rows_lost += 1
            elif named is not None and named not in ids:
                figures.wrong_answers += 1
    finally:
        await db.dispose()
        folder.cleanup()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server to make a scratch database on")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--kill-after", type=int, help="answers before the kill (default: a quarter)"
    )
    parser.add_argument(
        "--retry-timeout", type=float, default=40.0, help="seconds a retry waits for its answer"
    )
    parser.add_argument(
        "--retry-concurrency", type=int, default=4, help="retries in flight at once"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "scripts"))
    from benchkit import bench_database

    kill_after = args.kill_after or max(1, args.requests // 4)
    with bench_database(args.database_url, keep=False) as (url, _settings):
        backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
        print(f"{backend}: {args.requests} keyed listingCreate at once, SIGKILL after {kill_after}")
        figures = asyncio.run(
            crash_scenario(
                url,
                requests=args.requests,
                kill_after=kill_after,
                retry_timeout=args.retry_timeout,
                retry_concurrency=args.retry_concurrency,
            )
        )
    print(figures.table())


if __name__ == "__main__":
    main()
