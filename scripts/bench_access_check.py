"""Benchmark: what checking that a sign-in still stands costs each signed-in request.

Every signed-in request first asks the database whether its sign-in, account and membership
still stand (backend/identity/service/access.py). This runs the same signed-in requests through
two apps on one database in the same run, alternating: EIC as it is, and a reference app whose
check is replaced by one that believes the token (what EIC did before). Printed: latency of each
and the ratio, for a cheap read (``me``, where the check is the largest share) and a screen read
(the marketplace's listing feed, 20 cards).

    .venv/bin/python scripts/bench_access_check.py                     # SQLite in a temp folder
    .venv/bin/python scripts/bench_access_check.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import statistics

import httpx
from benchkit import Client, bench_database, latency_line

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.auth.viewer import Anonymous, Viewer
from backend.kit.db import Database
from backend.settings import Settings

SIGN_IN = """
mutation($input: TokenCreateInput!) { tokenCreate(input: $input) { accessToken errors { code } } }
"""
ME = "{ me { role organisation { id name } } }"
FEED = """
{ listings(first: 20) { edges { node { id title quantity unit { code } organisation { name } } } } }
"""


async def believe(viewer: Viewer) -> Viewer | Anonymous:
    """The reference: the token is believed until it expires, as before issue 15."""
    return viewer


async def run(settings: Settings, requests: int) -> None:
    db = Database(settings.database_url)
    await demo.seed_demo(db, Passwords(settings))
    checked = create_app(settings, db=db)
    reference = create_app(settings, db=db)
    reference.state.access_check = believe
    transports = {
        "checked": httpx.ASGITransport(app=checked),
        "reference": httpx.ASGITransport(app=reference),
    }
    async with (
        httpx.AsyncClient(transport=transports["checked"], base_url="http://eic") as a,
        httpx.AsyncClient(transport=transports["reference"], base_url="http://eic") as b,
    ):
        clients = {"checked": Client(a), "reference": Client(b)}
        data, _ = await clients["checked"].must(
            SIGN_IN,
            {
                "input": {
                    "email": demo.demo_email("maniwa-sawmill"),
                    "password": demo.DEMO_PASSWORD,
                }
            },
        )
        token = data["tokenCreate"]["accessToken"]
        for label, query in (("me", ME), ("listing feed (20 cards)", FEED)):
            times: dict[str, list[float]] = {"checked": [], "reference": []}
            for _ in range(20):  # warm both apps: schema, caches, connections
                for client in clients.values():
                    await client.must(query, {}, token)
            for _ in range(requests):
                for name, client in clients.items():  # alternating: the machine's noise is shared
                    _, elapsed = await client.must(query, {}, token)
                    times[name].append(elapsed)
            print(f"{label}, {requests} requests each:")
            for name in ("reference", "checked"):
                print(f"  {name:>9}: {latency_line(times[name])}")
            ratio = statistics.median(times["checked"]) / statistics.median(times["reference"])
            extra = statistics.median(times["checked"]) - statistics.median(times["reference"])
            print(f"  checked / reference (median): {ratio:.2f}, {extra:+.2f} ms per request")
    await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with bench_database(args.database_url, keep=False) as (_, settings):
        asyncio.run(run(settings, args.requests))


if __name__ == "__main__":
    main()
