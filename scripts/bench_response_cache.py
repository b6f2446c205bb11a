"""Benchmark: the response cache of public persisted GETs, against computing the page and
against a hand-built endpoint that sends the same SQL.

Seeds the demo clusters and N listings (10,000 by default), then serves, each by one uvicorn
worker pinned to one core (``taskset``), and drives each in turn with ``wrk`` pinned to the
other core, rounds interleaved, the apps' ``MarketSearch`` (a page of 20 cards with the total,
nearest first, a word and a radius) as an anonymous persisted GET:

- ``cache off``: EIC_RESPONSE_CACHE_ENABLED=false, every request computed (ETag still made);
- ``miss``: the cache on but nothing kept (EIC_RESPONSE_CACHE_MAX_ENTRY_BYTES=0): every request
  is looked up, computed with its tables tracked, compressed for keeping, and not kept;
- ``hit, memory`` and ``hit, Redis`` (a private redis-server on the driver's core): answered
  from the cache;
- ``hand-built``: a bare ASGI endpoint on the same engine set-up that sends the statements the
  product sent for this page (captured once, with their parameters) and writes the rows as JSON
  (orjson when installed, else json).

Prints requests/s and CPU per request (the server process's user + system time over the
requests wrk counted) per mode, the median of the rounds, and the ratios.

    .venv/bin/python scripts/bench_response_cache.py                 # SQLite in a temp folder
    .venv/bin/python scripts/bench_response_cache.py --database-url \\
        postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_response_cache.py --short         # checks that it works

Needs ``wrk`` and ``taskset`` (and ``redis-server`` unless ``--no-redis``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pickle
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from benchkit import bench_database
from sqlalchemy import event

from backend.app import create_app
from backend.graphql.operations import load_manifest
from backend.kit.db import Database, make_engine
from backend.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
TASKSET = shutil.which("taskset") or "/usr/bin/taskset"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
HERE = Path(__file__).resolve()
MANIWA = (35.07, 133.75)
VARIABLES = {
    "filter": {"search": "cedar", "near": {"lat": MANIWA[0], "lon": MANIWA[1], "radiusKm": 25}},
    "sort": "NEAREST",
    "first": 20,
}


def market_search_path() -> str:
    sha = next(s for s, d in load_manifest().items() if d.startswith("query MarketSearch("))
    extensions = json.dumps({"persistedQuery": {"version": 1, "sha256Hash": sha}})
    return "/graphql?" + urlencode({"extensions": extensions, "variables": json.dumps(VARIABLES)})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ---------------------------------------------------------------------------------------------
# Seeding, and the statements of one computed page


async def seed(url: str, settings: Settings, listings: int) -> None:
    import bench_listings  # the same market as scripts/bench_listings.py

    db = Database(url)
    try:
        await bench_listings._seed(db, settings, listings, random.Random(2026))
    finally:
        await db.dispose()


async def capture_statements(url: str, settings: Settings, path: str) -> tuple[list[Any], bytes]:
    """The statements (with their driver parameters) the product sends for the page, and its
    answer."""
    db = Database(url)
    statements: list[tuple[str, Any]] = []

    def record(_c: Any, _cur: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK")):
            statements.append((statement, parameters))

    try:
        app = create_app(settings, db=db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
            await http.get(path)  # warm: what the first request loads once
            event.listen(db.engine.sync_engine, "before_cursor_execute", record)
            response = await http.get(path)
            event.remove(db.engine.sync_engine, "before_cursor_execute", record)
    finally:
        await db.dispose()
    answer = response.json()
    if response.status_code != 200 or "errors" in answer:
        raise SystemExit(f"MarketSearch failed: {response.status_code} {response.text[:500]}")
    return statements, response.content


# ---------------------------------------------------------------------------------------------
# The hand-built endpoint (run as a server process of its own)


def hand_built_server(url: str, statements_file: str, port: int) -> None:
    import uvicorn

    try:
        import orjson

        def dumps(value: Any) -> bytes:
            return orjson.dumps(value, default=str)

    except ImportError:

        def dumps(value: Any) -> bytes:
            return json.dumps(value, default=str, separators=(",", ":")).encode()

    with open(statements_file, "rb") as file:
        statements = pickle.load(file)  # noqa: S301 - written by this script's parent
    engine = make_engine(url)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()  # startup
            await send({"type": "lifespan.startup.complete"})
            await receive()  # shutdown
            await engine.dispose()
            await send({"type": "lifespan.shutdown.complete"})
            return
        pages = []
        async with engine.connect() as connection:
            for statement, parameters in statements:
                result = await connection.exec_driver_sql(statement, parameters)
                pages.append([dict(row._mapping) for row in result])
        body = dumps({"data": pages})
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------------------------------------
# Serving and driving


@dataclass
class Server:
    label: str
    port: int
    process: subprocess.Popen[bytes]
    rates: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def product_environment(url: str, **values: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EIC_")}
    environment.update(
        {
            "EIC_ENVIRONMENT": "test",
            "EIC_DATABASE_URL": url,
            "EIC_LOG_LEVEL": "WARNING",
            "EIC_DUE_JOBS_INTERVAL_SECONDS": "0",
            # one address sends everything: the budgets would refuse the benchmark
            "EIC_RATE_LIMIT_READS_PER_ADDRESS": "",
            **{f"EIC_{k.upper()}": v for k, v in values.items()},
        }
    )
    return environment


def start(label: str, core: int, command: list[str], environment: dict[str, str]) -> Server:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own command lines
        [TASKSET, "-c", str(core), *[c.replace("{port}", str(port)) for c in command]],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return Server(label, port, process)


def wait_until_answering(server: Server, path: str) -> None:
    deadline = time.monotonic() + 180  # (a busy machine starts them slowly)
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            error = server.process.stderr.read().decode() if server.process.stderr else ""
            raise SystemExit(f"{server.label} stopped: {error[-2000:]}")
        try:
            response = httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=60)
        except httpx.HTTPError:
            time.sleep(0.2)
            continue
        if response.status_code == 200:
            return
        server.process.terminate()
        error = server.process.stderr.read().decode() if server.process.stderr else ""
        raise SystemExit(f"{server.label} answered {response.status_code}: {error[-2000:]}")
    raise SystemExit(f"{server.label} did not answer")


def drive(server: Server, path: str, core: int, seconds: float, connections: int) -> None:
    before = server.cpu_seconds()
    output = subprocess.run(  # noqa: S603 - our own command line
        [
            TASKSET,
            "-c",
            str(core),
            WRK,
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            f"http://127.0.0.1:{server.port}{path}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    used = server.cpu_seconds() - before
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if errors or requests == 0:
        raise SystemExit(f"{server.label}: failed requests\n{output}")
    server.rates.append(requests / seconds)
    server.cpu_ms.append(used * 1000 / requests)


@contextlib.contextmanager
def private_redis(core: int) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [
            TASKSET,
            "-c",
            str(core),
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait()


def main() -> None:
    if "--hand-built-server" in sys.argv:
        _, _, url, statements_file, port = sys.argv
        hand_built_server(url, statements_file, int(port))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--driver-core", type=int, default=1)
    parser.add_argument("--no-redis", action="store_true")
    parser.add_argument("--short", action="store_true", help="100 listings, 1 s, one round")
    args = parser.parse_args()
    if args.short:
        args.listings, args.seconds, args.rounds = 100, 1, 1
    for program in ("wrk", "taskset", *(() if args.no_redis else ("redis-server",))):
        if shutil.which(program) is None:
            raise SystemExit(f"{program} is needed (apt-get install wrk / util-linux / redis)")

    path = market_search_path()
    with (
        bench_database(args.database_url, keep=False) as (url, settings),
        tempfile.TemporaryDirectory() as folder,
    ):
        asyncio.run(seed(url, settings, args.listings))
        # (computed every time: the statements of the second request are those of a miss)
        quiet = settings.model_copy(
            update={"rate_limit_reads_per_address": "", "response_cache_enabled": False}
        )
        statements, answer = asyncio.run(capture_statements(url, quiet, path))
        statements_file = Path(folder) / "statements.pickle"
        statements_file.write_bytes(pickle.dumps(statements))
        total = json.loads(answer)["data"]["listings"]["totalCount"]
        print(
            f"{'sqlite' if url.startswith('sqlite') else 'postgresql'}: {args.listings} listings; "
            f"MarketSearch (page of 20 of {total}): {len(statements)} statements, "
            f"{len(answer)} bytes"
        )
        uvicorn = [
            str(ROOT / ".venv/bin/uvicorn"),
            "backend.app:app_from_environment",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            "{port}",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
        core = args.server_core
        with contextlib.ExitStack() as stack:
            redis_url = (
                None if args.no_redis else stack.enter_context(private_redis(args.driver_core))
            )
            servers = [
                start(
                    "hand-built",
                    core,
                    [
                        sys.executable,
                        str(HERE),
                        "--hand-built-server",
                        url,
                        str(statements_file),
                        "{port}",
                    ],
                    product_environment(url),
                ),
                start(
                    "cache off",
                    core,
                    uvicorn,
                    product_environment(url, response_cache_enabled="false"),
                ),
                start(
                    "miss",
                    core,
                    uvicorn,
                    product_environment(url, response_cache_max_entry_bytes="0"),
                ),
                start("hit, memory", core, uvicorn, product_environment(url)),
            ]
            if redis_url:
                servers.append(
                    start(
                        "hit, Redis", core, uvicorn, product_environment(url, redis_url=redis_url)
                    )
                )
            try:
                for server in servers:
                    wait_until_answering(server, path)
                for server in servers:  # warm-up
                    drive(server, path, args.driver_core, min(2, args.seconds), args.connections)
                    server.rates.clear()
                    server.cpu_ms.clear()
                for _ in range(args.rounds):
                    for server in servers:
                        drive(server, path, args.driver_core, args.seconds, args.connections)
            finally:
                for server in servers:
                    server.process.send_signal(signal.SIGTERM)
                for server in servers:
                    server.process.wait(timeout=30)
        report(servers, args)


def report(servers: list[Server], args: argparse.Namespace) -> None:
    print(
        f"one uvicorn worker on core {args.server_core}, wrk -t1 -c{args.connections} on core "
        f"{args.driver_core}, {args.rounds} interleaved rounds of {args.seconds:g} s; medians"
    )
    by_label = {s.label: s for s in servers}
    hand_built = statistics.median(by_label["hand-built"].rates)
    computed = statistics.median(by_label["cache off"].rates)
    print(f"{'':14} {'requests/s':>11} {'CPU ms/req':>11} {'x hand-built':>13} {'x cache off':>12}")
    for server in servers:
        rate = statistics.median(server.rates)
        cpu = statistics.median(server.cpu_ms)
        print(
            f"{server.label:14} {rate:11.0f} {cpu:11.3f} {rate / hand_built:13.2f} "
            f"{rate / computed:12.2f}"
        )
    print(
        "rounds (requests/s): "
        + "; ".join(f"{s.label} {', '.join(f'{r:.0f}' for r in s.rates)}" for s in servers)
    )


if __name__ == "__main__":
    main()
