"""Profile the hot pages in one process: the product app and the hand-built reference called
straight through ASGI (no HTTP server, no client library), CPU per request of each and their
ratio, and optionally a cProfile summary of the product by library.

This is the quick inner loop for issue 17's read-path work; ``bench_pages.py`` gives the figures
that count (real servers, wrk, interleaved rounds). Seeds like bench_pages (``--scale``) into a
scratch database, or reuses one kept by ``--keep`` / given by ``--reuse``:

    .venv/bin/python scripts/profile_pages.py --scale 0.1 --keep /tmp/pages.db
    .venv/bin/python scripts/profile_pages.py --reuse /tmp/pages.db --requests 300
    .venv/bin/python scripts/profile_pages.py --reuse /tmp/pages.db --pages ThreadDetail --profile
    .venv/bin/py-spy record -o /tmp/p.svg -- .venv/bin/python scripts/profile_pages.py --reuse ...
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import pstats
import random
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench_pages import Page, Volumes, Wire, World, pages, seed, sign_in, wire
from bench_pages_reference import ReferenceApp, operation_ids
from benchkit import bench_database

from backend.app import create_app
from backend.graphql import execution
from backend.kit import heap
from backend.kit.db import Database, make_engine
from backend.settings import Settings


async def call(app: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    """One request through the ASGI app; the response body."""
    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", b"bench"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return b"".join(chunks)


async def drive(app: Any, requests: list[Any], count: int) -> float:
    """CPU seconds per request over ``count`` requests (all threads of this process)."""
    for request in requests:  # warm
        await call(app, request.method, request.path, request.headers, request.body)
    started = time.process_time()
    for number in range(count):
        request = requests[number % len(requests)]
        answer = await call(app, request.method, request.path, request.headers, request.body)
        if number == 0 and b'"errors"' in answer[:20]:
            raise SystemExit(f"error answer: {answer[:500]!r}")
    return (time.process_time() - started) / count


async def ab_plan(product: Any, page: Page, requests: list[Any], args: argparse.Namespace) -> None:
    """CPU per request of the product with compiled execution plans (backend/graphql/plan.py)
    and with graphql-core's generic executor, in alternating rounds; the answers must match."""
    plans = execution._operation_plans
    planned = plans.of

    def generic(executor: Any) -> None:
        return None

    answers = {}
    for mode in ("plan", "generic"):
        plans.of = planned if mode == "plan" else generic  # type: ignore[method-assign]
        answers[mode] = [await call(product, r.method, r.path, r.headers, r.body) for r in requests]
    if answers["plan"] != answers["generic"]:
        raise SystemExit(f"{page.label}: the plan's answers differ from the generic executor's")
    figures: dict[str, list[float]] = {"plan": [], "generic": []}
    for _ in range(args.rounds):
        for mode in ("plan", "generic"):
            plans.of = planned if mode == "plan" else generic  # type: ignore[method-assign]
            figures[mode].append(await drive(product, requests, args.requests))
    plans.of = planned  # type: ignore[method-assign]
    p, g = min(figures["plan"]) * 1000, min(figures["generic"]) * 1000
    print(f"{page.label:26} plan {p:7.2f} ms  generic {g:7.2f} ms  plan/generic {p / g:5.2f}")


def by_library(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time per top-level package (the file's place under site-packages or the repo)."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        if "site-packages/" in filename:
            key = filename.split("site-packages/")[1].split("/")[0]
        elif "/backend/" in filename:
            parts = filename.split("/backend/")[1].split("/")
            key = "backend/" + parts[0]
        elif filename.startswith("~") or filename.startswith("<"):
            key = "builtins"
        else:
            key = "stdlib:" + Path(filename).stem
        totals[key] += tottime
    return sorted(totals.items(), key=lambda kv: -kv[1])


async def measure(
    settings: Settings, page_list: list[Page], token: str, args: argparse.Namespace
) -> None:
    db = Database(settings.database_url)
    product = create_app(settings, db=db)
    reference = ReferenceApp(settings, engine=make_engine(settings.database_url))
    shas = operation_ids()
    async with product.router.lifespan_context(product):
        heap.settle_after_start_up()
        if args.typename:
            await typename(product, token, args)
        for page in page_list:
            requests = [wire(page, shas[page.operation], v, token) for v in page.variants]
            figures: dict[str, list[float]] = {"product": [], "reference": []}
            if args.ab_plan:  # the compiled plans on and off, alternating, in this one process
                await ab_plan(product, page, requests, args)
            elif args.product_only:  # for a sampling profiler: nothing but the product's pages
                for _ in range(args.rounds):
                    figures["product"].append(await drive(product, requests, args.requests))
                p = min(figures["product"]) * 1000
                print(f"{page.label:26} product {p:7.2f} ms", flush=True)
            else:
                for _ in range(args.rounds):
                    figures["product"].append(await drive(product, requests, args.requests))
                    figures["reference"].append(await drive(reference, requests, args.requests))
                p = min(figures["product"]) * 1000
                r = min(figures["reference"]) * 1000
                print(
                    f"{page.label:26} product {p:7.2f} ms  reference {r:6.2f} ms  "
                    f"ref/prod {r / p:5.2f}",
                    flush=True,
                )
            if args.profile:
                profiler = cProfile.Profile()
                profiler.enable()
                await drive(product, requests, args.requests)
                profiler.disable()
                stats = pstats.Stats(profiler)
                total = sum(t for _, t in by_library(stats))
                print(f"  own time by library ({total * 1000 / args.requests:.2f} ms/request):")
                for key, seconds in by_library(stats)[:18]:
                    print(f"    {key:40} {seconds * 1000 / args.requests:6.2f} ms")
                if args.top:
                    stats.sort_stats("tottime").print_stats(args.top)
    await db.dispose()


# The smallest document, to see what every request pays before and around its page: the
# middlewares, the context (for a signed-in one the token and the access check's statement),
# Strawberry's HTTP view. The product alone: the reference has no such page.
TYPENAME = json.dumps({"query": "{ __typename }"}).encode()


async def typename(product: Any, token: str, args: argparse.Namespace) -> None:
    json_headers = {"Content-Type": "application/json"}
    for label, headers in (
        ("{ __typename } anonymous", json_headers),
        ("{ __typename } signed in", {**json_headers, "Authorization": f"Bearer {token}"}),
    ):
        requests = [Wire("POST", "/graphql", headers, TYPENAME)]
        figures = [await drive(product, requests, args.requests) for _ in range(args.rounds)]
        print(f"{label:26} product {min(figures) * 1000:7.2f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument(
        "--keep", help="keep the seeded database (SQLite: copied here) and its facts in KEEP.json"
    )
    parser.add_argument("--reuse", help="a database kept by --keep (its path)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", nargs="+")
    parser.add_argument("--profile", action="store_true", help="cProfile the product by library")
    parser.add_argument("--product-only", action="store_true", help="no reference rounds")
    parser.add_argument(
        "--ab-plan", action="store_true", help="compiled plans on and off, alternating"
    )
    parser.add_argument(
        "--typename", action="store_true", help="also `{ __typename }`, anonymous and signed in"
    )
    parser.add_argument("--top", type=int, default=0, help="with --profile: the top functions")
    args = parser.parse_args()
    gc.collect()
    rng = random.Random(2026)
    extra = {
        "access_token_ttl_seconds": 3600,
        "rate_limit_reads_per_address": "",
        "rate_limit_reads_per_account": "",
    }
    if args.reuse:
        state = json.loads(Path(args.reuse + ".json").read_text())
        url = state.get("url") or f"sqlite+aiosqlite:///{args.reuse}"
        settings = Settings(
            _env_file=None,
            environment="test",
            database_url=url,
            log_level="WARNING",
            **extra,
        )
        world = World(**state["world"])
        page_list = pages(world, state["head"], rng, 8)
        token = asyncio.run(_token(settings))
    else:
        postgres = bool(args.database_url and args.database_url.startswith("postgresql"))
        keep_postgres = postgres and bool(args.keep)
        with bench_database(args.database_url, keep=keep_postgres, **extra) as (url, settings):

            async def prepare() -> tuple[World, str, str]:
                db = Database(url)
                try:
                    world = await seed(db, settings, Volumes.of(args.scale), rng)
                    token, head = await sign_in(settings, db)
                    return world, token, head
                finally:
                    await db.dispose()

            world, token, head = asyncio.run(prepare())
            if args.keep:
                facts: dict[str, Any] = {"world": world.__dict__, "head": head}
                if postgres:  # the scratch database stays where it is
                    facts["url"] = url
                else:
                    shutil.copy(url.split("///", 1)[1], args.keep)
                Path(args.keep + ".json").write_text(json.dumps(facts, default=str))
                print(f"kept {args.keep}")
            page_list = pages(world, head, rng, 8)
            _run(settings, page_list, token, args)
            return
    _run(settings, page_list, token, args)


async def _token(settings: Settings) -> str:
    db = Database(settings.database_url)
    try:
        token, _ = await sign_in(settings, db)
        return token
    finally:
        await db.dispose()


def _run(settings: Settings, page_list: list[Page], token: str, args: argparse.Namespace) -> None:
    if args.pages:
        page_list = [p for p in page_list if p.label in args.pages]
    page_list = [p for p in page_list if not p.get]
    asyncio.run(measure(settings, page_list, token, args))


if __name__ == "__main__":
    sys.exit(main())
