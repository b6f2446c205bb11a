"""Benchmark: text + proximity search of listings over GraphQL, on a large market.

Seeds the demo clusters and N listings (100,000 by default) spread over the four clusters, then
sends the market-search query the apps send (words in the title or description, within a radius
of a point, nearest first, a page of 20 with seller, material and unit) through the real ASGI app,
one at a time, and prints latency percentiles.

    .venv/bin/python scripts/bench_listings.py                       # SQLite in a temp folder
    .venv/bin/python scripts/bench_listings.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL it creates (and afterwards drops) a scratch database beside the one named.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from benchkit import bench_database, percentile
from sqlalchemy import insert, text

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.kit.db import Database, new_id, utcnow
from backend.kit.geo import approximate
from backend.marketplace.models import (
    Delivery,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Recurrence,
)
from backend.settings import Settings

WORDS = {
    "hosur-silk": (
        ["silk", "waste", "noil", "pupae", "dried", "mulberry", "prunings", "cocoon", "yarn"],
        ["silk-waste", "silkworm-pupae", "mulberry-residue", "spun-silk"],
    ),
    "maniwa-wood": (
        ["cedar", "cypress", "shavings", "sawdust", "bark", "dry", "offcuts", "pellets", "chips"],
        ["wood-shavings", "sawdust", "bark", "wood-trimmings", "wood-pellets", "cat-sand"],
    ),
    "chachoengsao-rice": (
        ["rice", "husk", "ash", "bran", "straw", "fresh", "bales", "manure", "oil"],
        ["rice-husk", "rice-bran", "rice-straw", "rice-husk-ash", "poultry-manure"],
    ),
    "an-giang-fish": (
        ["fish", "fat", "heads", "bones", "sludge", "pangasius", "feed", "biodiesel", "daily"],
        ["fish-fat", "fish-heads-bones", "fish-processing-sludge", "fish-feed", "biodiesel"],
    ),
}
FILLER = ["bulk", "weekly", "clean", "baled", "available", "lot", "good", "quality", "pickup"]

# The apps' first page (MarketSearch, with the total) and the next ones (MarketSearchMore).
QUERIES = {
    "first page, with totalCount": "totalCount totalCountIsAtLeast",
    "next pages, without totalCount": "pageInfo { hasNextPage }",
}
QUERY = """
query MarketSearch($filter: ListingFilter, $sort: ListingSort, $first: Int) {
  listings(filter: $filter, sort: $sort, first: $first) {
    TOTAL
    edges { node {
      id title quantity unit { code } pricePerUnit currency distanceKm
      material { code name } organisation { id name }
    } }
  }
}
"""


def _listing_rows(count: int, rng: random.Random) -> list[dict[str, Any]]:
    now = utcnow()
    traders = [
        (cluster, org)
        for cluster in demo.CLUSTERS
        for org in cluster.organisations
        if org.kind.value != "INSTITUTION"
    ]
    rows = []
    for _ in range(count):
        cluster, org = rng.choice(traders)
        words, materials = WORDS[cluster.slug]
        title = " ".join(rng.sample(words, 3) + rng.sample(FILLER, 1)).capitalize()
        lat = cluster.lat + rng.gauss(0, 0.15)
        lon = cluster.lon + rng.gauss(0, 0.15)
        quantity = Decimal(rng.randint(1, 5000))
        roll = rng.random()
        status = (
            ListingStatus.ACTIVE
            if roll < 0.8
            else ListingStatus.CLOSED
            if roll < 0.9
            else ListingStatus.DRAFT
        )
        created = now - timedelta(days=rng.uniform(0, 365))
        rows.append(
            {
                "id": new_id(),
                "organisation_id": demo.demo_id("organisation", org.key),
                "cluster_id": demo.demo_id("cluster", cluster.slug),
                "created_by_id": demo.demo_id("user", org.key),
                "kind": rng.choice(list(ListingKind)),
                "category": rng.choice(list(ListingCategory)),
                "status": status,
                "title": title,
                "description": " ".join(rng.sample(words + FILLER, 8)),
                "language": "en",
                "material_code": rng.choice(materials),
                "quantity": quantity,
                "unit_code": "KGM",
                "quantity_base": quantity,
                "recurrence": Recurrence.ONE_OFF,
                "season_months": [],
                "price_per_unit": Decimal(rng.randint(-50, 5000)),
                "currency": cluster.currency,
                "delivery": Delivery.EITHER,
                "lat": lat,
                "lon": lon,
                "place_name": "",
                "location_approximate": False,
                "public_lat": approximate(lat),
                "public_lon": approximate(lon),
                "specs": [],
                "photos": [],
                "expires_at": now + timedelta(days=rng.uniform(-30, 120)),
                "published_at": created if status is not ListingStatus.DRAFT else None,
                "created_at": created,
                "updated_at": created,
                "version": 1,
            }
        )
    return rows


async def _seed(db: Database, settings: Settings, count: int, rng: random.Random) -> float:
    await demo.seed_demo(db, Passwords(settings))
    started = time.perf_counter()
    chunk = 2000
    for start in range(0, count, chunk):
        rows = _listing_rows(min(chunk, count - start), rng)
        async with db.write() as session:
            await session.execute(insert(Listing), rows)
    if db.dialect == "postgresql":
        async with db.engine.begin() as connection:
            await connection.execute(text("ANALYZE listings"))
    else:
        async with db.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _variables(rng: random.Random) -> dict[str, Any]:
    cluster = rng.choice(demo.CLUSTERS)
    words, _ = WORDS[cluster.slug]
    return {
        "filter": {
            "search": rng.choice(words),
            "near": {
                "lat": cluster.lat + rng.uniform(-0.1, 0.1),
                "lon": cluster.lon + rng.uniform(-0.1, 0.1),
                "radiusKm": 25,
            },
        },
        "sort": "NEAREST",
        "first": 20,
    }


async def _measure(db: Database, settings: Settings, queries: int, rng: random.Random) -> None:
    for label, total in QUERIES.items():
        await _measure_one(db, settings, queries, rng, label, QUERY.replace("TOTAL", total))


async def _measure_one(
    db: Database, settings: Settings, queries: int, rng: random.Random, label: str, query: str
) -> None:
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    timings: list[float] = []
    totals: list[int] = []
    capped = 0
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        for index in range(queries + 20):
            body = {"query": query, "variables": _variables(rng)}
            started = time.perf_counter()
            response = await client.post("/graphql", json=body)
            elapsed = time.perf_counter() - started
            payload = response.json()
            if "errors" in payload:
                raise SystemExit(f"query failed: {payload['errors']}")
            if index >= 20:  # the first 20 warm caches and connections
                timings.append(elapsed * 1000)
                listings = payload["data"]["listings"]
                totals.append(listings.get("totalCount", -1))
                capped += bool(listings.get("totalCountIsAtLeast"))
    timings.sort()

    matches = (
        f"; totalCount: median {statistics.median(totals):.0f}, "
        f"{capped} of {len(totals)} at the cap (EIC_SEARCH_COUNT_CAP)"
        if totals[0] >= 0
        else ""
    )
    print(
        f"text + proximity search, nearest first, page of 20, {label} ({len(timings)} queries): "
        f"p50 {percentile(timings, 50):.1f} ms, p90 {percentile(timings, 90):.1f} ms, "
        f"p99 {percentile(timings, 99):.1f} ms, "
        f"mean {statistics.fmean(timings):.1f} ms{matches}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--listings", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch PostgreSQL database to inspect"
    )
    args = parser.parse_args()

    rng = random.Random(args.seed)
    # Anonymous searches are rate-limited per address; the benchmark searches far more than a
    # person does.
    with bench_database(args.database_url, keep=args.keep, rate_limit_reads_per_address="") as (
        url,
        settings,
    ):

        async def run() -> None:
            db = Database(url)
            try:
                seconds = await _seed(db, settings, args.listings, rng)
                print(
                    f"{db.dialect}: seeded {args.listings} listings in {seconds:.1f} s "
                    f"({args.listings / seconds:.0f}/s)"
                )
                await _measure(db, settings, args.queries, rng)
            finally:
                await db.dispose()

        asyncio.run(run())


if __name__ == "__main__":
    main()
