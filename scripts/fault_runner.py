"""Fault runner: N app processes (`eic serve` on loopback ports) on a private PostgreSQL and a
private Redis, a steady mixed load, and one fault after another: PostgreSQL stopped, frozen
(SIGSTOP) and crash-restarted, Redis stopped and frozen, an app process killed (SIGKILL).

For each scenario it prints what the clients saw (answers by code, the longest wait), how long
after the fault ended every answer was good again, and at the end the rows lost or duplicated:
each registration the clients were told succeeded (empty ``errors``) must be in the database
once. The private servers run in a temp folder on free ports; the shared ones are never touched.

    .venv/bin/python scripts/fault_runner.py [--apps 2] [--clients 8] [--fault-seconds 5]
                                             [--freeze-seconds 15] [--keep-logs]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from backend.kit.db import Database
from tests.reliability.pg_kit import PrivatePostgres, PrivateRedis, free_port

EIC = str(Path(sys.executable).parent / "eic")
READ = "{ units { code } }"
REGISTER = """mutation($input: AccountRegisterInput!) {
  accountRegister(input: $input) { errors { code } } }"""
HELD = "SELECT email, count(*) FROM users WHERE email LIKE '%@faults.example' GROUP BY email"
CLUSTERS = "{ clusters(first: 1) { edges { node { id } } } }"
# A client gives up after this long (the apps' own timeout is of this order).
CLIENT_TIMEOUT = 30.0


@dataclass
class Answer:
    at: float
    scenario: str
    took: float
    outcome: str  # "ok", a GraphQL error code, "HTTP 503", "timeout", "refused" ...


@dataclass
class World:
    postgres: PrivatePostgres
    redis: PrivateRedis
    folder: Path
    ports: list[int]
    apps: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)
    confirmed: dict[str, str] = field(default_factory=dict)  # email -> scenario
    scenario: str = "warm-up"

    def environment(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith("EIC_")},
            "EIC_ENVIRONMENT": "test",
            "EIC_DATABASE_URL": self.postgres.url,
            "EIC_REDIS_URL": self.redis.url,
            "EIC_LOG_LEVEL": "WARNING",
            "EIC_ARGON2_TIME_COST": "1",
            "EIC_ARGON2_MEMORY_COST_KIB": "1024",
            "EIC_ARGON2_PARALLELISM": "1",
            # Counted in Redis (so that its faults show), never reached.
            "EIC_RATE_LIMIT_REGISTRATIONS_PER_ADDRESS": "1000000/minute",
            "EIC_RATE_LIMIT_READS_PER_ADDRESS": "1000000/minute",
            "EIC_DUE_JOBS_INTERVAL_SECONDS": "0",
        }

    def start_app(self, port: int) -> None:
        log = (self.folder / f"app-{port}.log").open("ab")
        self.apps[port] = subprocess.Popen(
            [EIC, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=self.environment(),
            stdout=log,
            stderr=log,
        )

    async def wait_alive(self, port: int) -> None:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise SystemExit(f"app on port {port} did not start; see {self.folder}")


def outcome_of(response: httpx.Response) -> tuple[str, dict[str, Any] | None]:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code} (not JSON)", None
    errors = body.get("errors") if isinstance(body, dict) else None
    if errors:
        return str(errors[0].get("extensions", {}).get("code", "error")), None
    if response.status_code != 200:
        return f"HTTP {response.status_code}", None
    return "ok", body.get("data")


async def client(world: World, number: int, cluster_id: str, stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as http:
        sent = 0
        while not stop.is_set():
            port = random.choice(world.ports)
            write = random.random() < 0.3
            sent += 1
            email = f"c{number}-{sent}@faults.example"
            body: dict[str, Any] = {"query": READ}
            if write:
                organisation = {
                    "name": f"Org {email}",
                    "kind": "FIRM",
                    "clusterId": cluster_id,
                    "location": {"lat": 35.0, "lon": 133.0, "placeName": "Test"},
                }
                body = {
                    "query": REGISTER,
                    "variables": {
                        "input": {
                            "email": email,
                            "password": "correct horse battery",
                            "displayName": email,
                            "organisation": organisation,
                        }
                    },
                }
            scenario, started = world.scenario, time.monotonic()
            try:
                response = await http.post(f"http://127.0.0.1:{port}/graphql", json=body)
                outcome, data = outcome_of(response)
                if write and outcome == "ok" and data and not data["accountRegister"]["errors"]:
                    world.confirmed[email] = scenario
                elif write and outcome == "ok":
                    outcome = data["accountRegister"]["errors"][0]["code"] if data else "error"
            except httpx.TimeoutException:
                outcome = "timeout"
            except httpx.ConnectError:
                outcome = "refused"
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            world.answers.append(Answer(started, scenario, time.monotonic() - started, outcome))
            await asyncio.sleep(0.02)


def report(world: World, name: str, fault_ended: float) -> None:
    seen = [a for a in world.answers if a.scenario == name]
    codes = Counter(a.outcome for a in seen)
    bad_after = [a.at for a in seen if a.outcome != "ok" and a.at >= fault_ended]
    recovered = max(bad_after) - fault_ended if bad_after else 0.0
    print(
        f"{name:26} | {', '.join(f'{c} {n}' for c, n in codes.most_common())} "
        f"| max {max((a.took for a in seen), default=0):.1f} s | recovered {recovered:.1f} s"
    )


async def scenario(world: World, name: str, fault: Any, undo: Any, seconds: float) -> None:
    world.scenario = name
    await asyncio.sleep(2)
    await asyncio.to_thread(fault)
    await asyncio.sleep(seconds)
    await asyncio.to_thread(undo)
    ended = time.monotonic()
    # The clients keep going until every answer has been good for 3 s (at most a minute).
    while time.monotonic() - ended < 60:
        await asyncio.sleep(0.5)
        seen = [a for a in world.answers if a.scenario == name]
        last_bad = max((a.at for a in seen if a.outcome != "ok"), default=0.0)
        if time.monotonic() - max(last_bad, ended) > 3 + CLIENT_TIMEOUT * (last_bad > ended):
            break
    report(world, name, ended)


async def run(args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix="eic-faults-"))
    postgres, redis = PrivatePostgres(), PrivateRedis()
    world = World(postgres, redis, folder, [free_port() for _ in range(args.apps)])
    try:
        postgres.init().start()
        redis.start()
        env = world.environment()
        for command in (["migrate"], ["seed-demo", "--if-empty"]):
            await asyncio.to_thread(
                subprocess.run, [EIC, *command], env=env, check=True, capture_output=True
            )
        for port in world.ports:
            world.start_app(port)
        for port in world.ports:
            await world.wait_alive(port)
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                f"http://127.0.0.1:{world.ports[0]}/graphql", json={"query": CLUSTERS}
            )
            cluster_id = answer.json()["data"]["clusters"]["edges"][0]["node"]["id"]

        stop = asyncio.Event()
        clients = [
            asyncio.create_task(client(world, n, cluster_id, stop)) for n in range(args.clients)
        ]
        victim = world.ports[-1]

        def kill_app() -> None:
            world.apps[victim].kill()
            world.apps[victim].wait()

        def restart_app() -> None:
            world.start_app(victim)

        seconds = args.fault_seconds
        print("scenario                   | what clients saw | longest wait | time to recover")
        await scenario(world, "baseline", lambda: None, lambda: None, seconds)
        await scenario(world, "postgres stopped", postgres.stop, postgres.start, seconds)
        frozen = args.freeze_seconds
        await scenario(world, "postgres frozen (SIGSTOP)", postgres.freeze, postgres.thaw, frozen)
        await scenario(
            world,
            "postgres crash + restart",
            lambda: postgres.stop("immediate"),
            postgres.start,
            1,
        )
        await scenario(world, "redis stopped", redis.stop, redis.start, seconds)
        await scenario(world, "redis frozen (SIGSTOP)", redis.freeze, redis.thaw, frozen)
        await scenario(world, "app killed (SIGKILL)", kill_app, restart_app, seconds)
        stop.set()
        await asyncio.gather(*clients)

        database = Database(postgres.url)
        try:
            async with database.engine.connect() as connection:
                rows = (await connection.execute(text(HELD))).all()
        finally:
            await database.dispose()
        held: dict[str, int] = {str(email): int(count) for email, count in rows}
        lost = Counter(s for e, s in world.confirmed.items() if e not in held)
        duplicated = sum(1 for count in held.values() if count > 1)
        print(
            f"\nregistrations confirmed to clients: {len(world.confirmed)}, in the database: "
            f"{len(held)} (the rest answered with an error and may or may not have committed)"
        )
        print(f"lost (confirmed, not in the database): {sum(lost.values())} {dict(lost)}")
        print(f"duplicated: {duplicated}")
    finally:
        for process in world.apps.values():
            process.kill()
            process.wait()
        redis.stop()
        postgres.destroy()
        if args.keep_logs:
            print(f"app logs: {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=2)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--fault-seconds", type=float, default=5)
    # Longer than the default statement timeout (10 s), so that the timeouts show.
    parser.add_argument("--freeze-seconds", type=float, default=15)
    parser.add_argument("--keep-logs", action="store_true", help="keep the apps' logs")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
