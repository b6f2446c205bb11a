"""Outages of the database and of Redis as clients and the log see them (issue 16, items 1 and 3).

Runs a real `eic serve` on a private PostgreSQL cluster (and a private Redis for the second
scenario), both on free ports of their own: the shared servers are never touched.

1. Database outage: PostgreSQL is stopped for ``--outage`` seconds while one client keeps
   signing in with the correct password, sending a keyed mutation and reading the clusters.
   Printed: what each kind of request got (HTTP status, content type, error code), the log
   written meanwhile (bytes, tracebacks), then after PostgreSQL is back how long until the
   owner's correct password signs in again and what the first answer after the outage was.
2. Redis outage: Redis (the sign-in throttle's counters) is stopped and the owner signs in
   ``--sign-ins`` times: what they got, and the log.

    .venv/bin/python scripts/fault_outages.py [--outage 6] [--sign-ins 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the private servers of tests/reliability/kit.py

from backend.cli import migrate  # noqa: E402
from backend.kit.db import Database  # noqa: E402
from backend.settings import Settings  # noqa: E402
from tests.kit import create_wood_cluster  # noqa: E402
from tests.reliability.kit import PrivatePostgres, PrivateRedis, free_port  # noqa: E402

EMAIL = "owner@outage.example"
PASSWORD = "correct horse battery"  # noqa: S105
SIGN_IN = (
    "mutation($input: TokenCreateInput!) { tokenCreate(input: $input) "
    "{ accessToken errors { code retryAfter } } }"
)
REGISTER = (
    "mutation($input: AccountRegisterInput!) { accountRegister(input: $input) { errors { code } } }"
)
CLUSTERS = "{ clusters { totalCount } }"


class Server:
    """`eic serve` on a free port; its log goes to a file."""

    def __init__(self, directory: Path, **environment: str) -> None:
        self.port = free_port()
        self.log = directory / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
        env |= {"EIC_ENVIRONMENT": "test", "EIC_DUE_JOBS_INTERVAL_SECONDS": "0", **environment}
        self.process = subprocess.Popen(  # noqa: S603
            [str(Path(sys.executable).parent / "eic"), "serve", "--port", str(self.port)],
            env=env,
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(400):
                try:
                    if (await http.get(self.url + "/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        raise RuntimeError("eic serve did not start")

    def log_size(self) -> tuple[int, int, int]:
        """Bytes, ERROR lines and tracebacks (a chained exception prints one per link)."""
        text = self.log.read_bytes()
        errors = sum(b" ERROR " in line for line in text.splitlines())
        return len(text), errors, text.count(b"Traceback (most recent call last)")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def outcome(response: httpx.Response) -> str:
    kind = response.headers.get("content-type", "").split(";")[0]
    code = "-"
    if kind == "application/json":
        body = response.json()
        errors = body.get("errors") or []
        for payload in (body.get("data") or {}).values():
            if isinstance(payload, dict) and not errors:
                errors = payload.get("errors") or []
        if not errors:
            code = "OK"
        else:
            code = errors[0].get("code") or (errors[0].get("extensions") or {}).get("code", "-")
    return f"{response.status_code} {kind} {code}"


async def post(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **headers: str
) -> httpx.Response:
    try:
        return await http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={k.replace("_", "-"): v for k, v in headers.items()},
        )
    except httpx.TransportError as exc:  # counted as what the client saw
        return httpx.Response(0, headers={"content-type": type(exc).__name__})


def sign_in_input() -> dict[str, Any]:
    return {"input": {"email": EMAIL, "password": PASSWORD}}


async def prepare(postgres: PrivatePostgres) -> str:
    settings = Settings(_env_file=None, database_url=postgres.url())  # type: ignore[call-arg]
    await asyncio.to_thread(migrate, settings)
    db = Database(postgres.url())
    try:
        cluster_id = await create_wood_cluster(db, slug="outage", name="Outage Cluster")
    finally:
        await db.dispose()
    return cluster_id


async def database_outage(postgres: PrivatePostgres, directory: Path, seconds: float) -> None:
    cluster_id = await prepare(postgres)
    server = Server(directory, EIC_DATABASE_URL=postgres.url())
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            registered = await post(
                http,
                REGISTER,
                {
                    "input": {
                        "email": EMAIL,
                        "password": PASSWORD,
                        "displayName": "Owner",
                        "organisation": {
                            "name": "Owner Pellets",
                            "kind": "FIRM",
                            "clusterId": cluster_id,
                            "location": {"lat": 35.07, "lon": 133.75},
                        },
                    }
                },
            )
            print(f"registered: {outcome(registered)}")
            before = server.log_size()

            postgres.stop()
            seen: dict[str, Counter[str]] = {
                "sign-in": Counter(),
                "keyed": Counter(),
                "read": Counter(),
            }
            deadline = time.monotonic() + seconds
            n = 0
            while time.monotonic() < deadline:
                n += 1
                seen["sign-in"][outcome(await post(http, SIGN_IN, sign_in_input()))] += 1
                keyed = await post(http, SIGN_IN, sign_in_input(), idempotency_key=f"key-{n}")
                seen["keyed"][outcome(keyed)] += 1
                seen["read"][outcome(await post(http, CLUSTERS))] += 1
            during = server.log_size()
            postgres.start()
            back = time.monotonic()
            first = None
            while time.monotonic() - back < 60:
                answer = outcome(await post(http, SIGN_IN, sign_in_input()))
                if "SERVICE_UNAVAILABLE" not in answer and "INTERNAL" not in answer:
                    first = answer
                    break
                await asyncio.sleep(0.2)
            recovered = time.monotonic() - back
    finally:
        server.stop()

    print(f"\nDatabase (PostgreSQL) stopped for {seconds:g} s, {n} rounds of requests:")
    print(f"{'request':<10} {'answers (status, content type, code: count)'}")
    for kind, counts in seen.items():
        print(f"{kind:<10} " + "; ".join(f"{a}: {c}" for a, c in counts.most_common()))
    print(log_line(before, during))
    print(
        f"after PostgreSQL is back: the owner's correct password answers {first} "
        f"after {recovered:.1f} s"
    )


async def redis_outage(postgres: PrivatePostgres, directory: Path, sign_ins: int) -> None:
    redis = PrivateRedis()
    redis.start()
    server = Server(directory, EIC_DATABASE_URL=postgres.url(), EIC_REDIS_URL=redis.url)
    try:
        await server.ready()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            first = outcome(await post(http, SIGN_IN, sign_in_input()))
            before = server.log_size()
            redis.stop()
            seen: Counter[str] = Counter()
            for _ in range(sign_ins):
                seen[outcome(await post(http, SIGN_IN, sign_in_input()))] += 1
            during = server.log_size()
    finally:
        server.stop()
        redis.stop()
    print(f"\nRedis stopped, {sign_ins} sign-ins with the correct password (before: {first}):")
    print("sign-in    " + "; ".join(f"{a}: {c}" for a, c in seen.most_common()))
    print(log_line(before, during))


def log_line(before: tuple[int, int, int], during: tuple[int, int, int]) -> str:
    size, errors, tracebacks = (b - a for a, b in zip(before, during, strict=True))
    return (
        f"log during the outage: {size:,} bytes, {errors} ERROR lines, "
        f"{tracebacks} 'Traceback' headers"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=6.0, help="seconds PostgreSQL is down")
    parser.add_argument("--sign-ins", type=int, default=20, help="sign-ins while Redis is down")
    args = parser.parse_args()
    postgres = PrivatePostgres().create()
    try:
        postgres.start()
        with tempfile.TemporaryDirectory(prefix="eic-fault-") as directory:
            await database_outage(postgres, Path(directory), args.outage)
            await redis_outage(postgres, Path(directory), args.sign_ins)
    finally:
        postgres.remove()


if __name__ == "__main__":
    asyncio.run(main())
