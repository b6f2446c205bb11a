"""Benchmark: match-making, an acceptance burst, publishing with match notifications and the
impact summary, through the real ASGI app.

1. Market: L ACTIVE listings (20,000 by default) over the four demo clusters, owned by O firms
   (400 by default, a quarter in each cluster): each cluster's own materials, OFFER or WANT 60/40,
   quantities in tonnes, the cluster's currency, within about 30 km of the cluster's centre;
   inserted in bulk. Prints how long that took.
2. listingMatches: a page of 20 matches (with totalCount) for 200 random listings, one at a time
   (after 20 unmeasured warm-up requests); prints latency percentiles and the mean totalCount (at
   most 500 candidates are scored per request: ``service.matching.MAX_CANDIDATES``).
3. Acceptance burst: one firm lists 100 t through ``listingCreate``; F other firms (500 by
   default) each make an offer of 1 t (the offers service); then the owner sends ``offerAccept``
   for all of them at once, at most ``--concurrency`` in flight. Prints the wall time, accepts per
   second, latency percentiles, the outcomes by error code, and the listing's committed quantity
   and trades read back from the database: "OVERCOMMITTED" if more than 100 t or 100 trades.
4. Publishing: 50 ``listingCreate(publish: true)`` of a WANT of wood shavings in Maniwa (many
   matching OFFERs: each publication scores them and notifies up to 20 organisations) against 50
   of an OFFER of natural cosmetics (no counterpart anywhere); latency percentiles of each and the
   LISTING_MATCH notifications written.
5. impactSummary: E impact-ledger entries (10,000 by default) in Maniwa, with the accepted offers
   and completed trades they belong to, inserted in bulk; then 50 ``impactSummary(clusterId)`` of
   a platform admin (after 5 unmeasured warm-up requests).

    .venv/bin/python scripts/bench_trades.py                       # SQLite in a temp folder
    .venv/bin/python scripts/bench_trades.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL it creates (and afterwards drops) a scratch database beside the one named.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from benchkit import Client, FirmRows, bench_database, latency_line
from sqlalchemy import func, insert, select, text

from backend import demo
from backend.app import create_app
from backend.auth.passwords import Passwords
from backend.auth.security import Security
from backend.auth.viewer import Role, Viewer
from backend.catalogue.factors import METHOD_VERSION
from backend.catalogue.models import ImpactFactor, Material
from backend.identity.models import (
    Membership,
    Organisation,
    User,
)
from backend.kit.db import Database, new_id, utcnow
from backend.marketplace import service as marketplace
from backend.marketplace.models import (
    Delivery,
    ImpactEntry,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Offer,
    OfferStatus,
    Recurrence,
    Trade,
    TradeStatus,
)
from backend.marketplace.service.matching import MAX_CANDIDATES
from backend.notifications.models import Notification, NotificationKind
from backend.settings import Settings

# The catalogue materials each demo cluster's listings are about.
MATERIALS = {
    "hosur-silk": ["silk-waste", "silkworm-pupae", "mulberry-residue"],
    "maniwa-wood": ["wood-trimmings", "wood-shavings", "sawdust", "bark", "wood-pellets"],
    "chachoengsao-rice": [
        "rice-husk",
        "rice-straw",
        "rice-bran",
        "rice-husk-ash",
        "poultry-manure",
    ],
    "an-giang-fish": ["fish-fat", "fish-heads-bones", "fish-processing-sludge"],
}
# A plausible price per tonne in each cluster's currency (up to).
PRICE_PER_TONNE = {"INR": 8_000, "JPY": 20_000, "THB": 3_000, "VND": 3_000_000}
ADJECTIVES = ["dry", "fresh", "clean", "baled", "bulk", "sorted", "weekly", "seasonal"]
RADIUS_KM = 30.0
KM_PER_DEGREE = 111.32
BURST_CLUSTER = "maniwa-wood"
BURST_QUANTITY = 100
MATCH_QUERIES = 200
MATCH_WARMUP = 20
PUBLISHES = 50
IMPACT_QUERIES = 50
IMPACT_WARMUP = 5

MATCHES = """
query Matches($listingId: ID!) {
  listingMatches(listingId: $listingId, first: 20) {
    totalCount edges { node { score listing { id title } } }
  }
}
"""
LISTING_CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) {
    listing { id status quantity unit { code } currency }
    errors { code message field }
  }
}
"""
OFFER_ACCEPT = """
mutation Accept($id: ID!) {
  offerAccept(id: $id) {
    offer { id status }
    trade { id status quantity }
    errors { code message field }
  }
}
"""
IMPACT = """
query Impact($clusterId: ID) {
  impactSummary(clusterId: $clusterId) {
    divertedKg co2eAvoidedKg disposalCostAvoided currency tradesCompleted transportKm
    methodVersions byMaterial { materialCode divertedKg tradesCompleted }
  }
}
"""


@dataclass(frozen=True)
class Firm:
    user_id: uuid.UUID
    organisation_id: uuid.UUID
    cluster: demo.DemoCluster
    token: str

    @property
    def viewer(self) -> Viewer:
        return Viewer(
            user_id=self.user_id,
            role=Role.FIRM,
            organisation_id=self.organisation_id,
            token_id="bench",  # noqa: S106 - not a secret: the bench calls the service directly
        )


@dataclass
class Outcomes:
    """What the requests of one phase came back with."""

    latencies_ms: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)
    http: Counter[int] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)


def _cluster(slug: str) -> demo.DemoCluster:
    return next(c for c in demo.CLUSTERS if c.slug == slug)


def _near(cluster: demo.DemoCluster, rng: random.Random, radius_km: float) -> tuple[float, float]:
    """A point uniformly within ``radius_km`` of the cluster's centre."""
    distance = radius_km * math.sqrt(rng.random())
    bearing = rng.uniform(0, 2 * math.pi)
    lat = cluster.lat + distance * math.cos(bearing) / KM_PER_DEGREE
    lon = cluster.lon + distance * math.sin(bearing) / (
        KM_PER_DEGREE * math.cos(math.radians(cluster.lat))
    )
    return lat, lon


async def _seed_firms(
    db: Database,
    settings: Settings,
    clusters: list[demo.DemoCluster],
    label: str,
    rng: random.Random,
) -> list[Firm]:
    """One firm per entry of ``clusters``, one person each, signed in with an access token."""
    password_hash = await Passwords(settings).hash("bench-password-0123")
    tokens = Security.from_settings(settings).tokens
    now = utcnow()
    rows = FirmRows(password_hash, now)
    firms = []
    for index, cluster in enumerate(clusters):
        lat, lon = _near(cluster, rng, RADIUS_KM)
        user_id, organisation_id = rows.add(
            email=f"{label}-{index}@bench.eic.example",
            person=f"Bench {label} {index}",
            name=f"Bench {label.capitalize()} Firm {index}",
            cluster_id=demo.demo_id("cluster", cluster.slug),
            lat=lat,
            lon=lon,
        )
        token = tokens.issue_access(
            user_id=user_id, role=Role.FIRM, organisation_id=organisation_id, now=now
        ).token
        firms.append(Firm(user_id, organisation_id, cluster, token))
    chunk = 1000
    async with db.write() as session:
        for start in range(0, len(rows.users), chunk):
            await session.execute(insert(User), rows.users[start : start + chunk])
            await session.execute(insert(Organisation), rows.organisations[start : start + chunk])
            await session.execute(insert(Membership), rows.memberships[start : start + chunk])
    return firms


async def _analyze(db: Database, *tables: str) -> None:
    async with db.engine.begin() as connection:
        if db.dialect == "postgresql":
            for table in tables:
                await connection.execute(text(f"ANALYZE {table}"))
        else:
            await connection.execute(text("ANALYZE"))


# ---------------------------------------------------------------------------------------------
# 1. Market


def _listing_rows(
    count: int,
    rng: random.Random,
    firms: list[Firm],
    eco: set[str],
    now: datetime,
) -> list[dict[str, Any]]:
    rows = []
    for _ in range(count):
        firm = rng.choice(firms)
        cluster = firm.cluster
        material = rng.choice(MATERIALS[cluster.slug])
        kind = ListingKind.OFFER if rng.random() < 0.6 else ListingKind.WANT
        quantity = Decimal(rng.randint(1, 2000)) / 4  # 0.25 t to 500 t
        price = (
            Decimal(0)
            if rng.random() < 0.1
            else Decimal(rng.randint(1, PRICE_PER_TONNE[cluster.currency]))
        )
        lat, lon = _near(cluster, rng, RADIUS_KM)
        published = now - timedelta(days=rng.uniform(0, 30))
        name = material.replace("-", " ")
        title = f"{rng.choice(ADJECTIVES).capitalize()} {name}, {quantity.normalize():f} t"
        verb = "available" if kind is ListingKind.OFFER else "wanted"
        rows.append(
            {
                "id": new_id(),
                "organisation_id": firm.organisation_id,
                "cluster_id": demo.demo_id("cluster", cluster.slug),
                "created_by_id": firm.user_id,
                "kind": kind,
                "category": (
                    ListingCategory.ECO_PRODUCT if material in eco else ListingCategory.BY_PRODUCT
                ),
                "status": ListingStatus.ACTIVE,
                "title": title,
                "description": f"{title}: {verb} in the {cluster.name}.",
                "language": rng.choice(cluster.languages),
                "material_code": material,
                "quantity": quantity,
                "unit_code": "TNE",
                "quantity_base": quantity * 1000,
                "quantity_committed": Decimal(0),
                "recurrence": Recurrence.ONE_OFF,
                "season_months": [],
                "available_from": None,
                "available_until": None,
                "price_per_unit": price,
                "currency": cluster.currency,
                "delivery": Delivery.EITHER,
                "lat": lat,
                "lon": lon,
                "place_name": "",
                "location_approximate": False,
                "public_lat": lat,
                "public_lon": lon,
                "specs": [],
                "photos": [],
                "expires_at": now + timedelta(days=60),
                "published_at": published,
                "closed_at": None,
                "hidden_at": None,
                "hidden_reason": None,
                "created_at": published,
                "updated_at": published,
                "version": 1,
            }
        )
    return rows


async def _seed_market(
    db: Database, firms: list[Firm], count: int, rng: random.Random
) -> tuple[list[uuid.UUID], float]:
    async with db.read() as session:
        eco = set(
            (
                await session.scalars(
                    select(Material.code).where(Material.path.like("eco-products/%"))
                )
            ).all()
        )
    started = time.perf_counter()
    now = utcnow()
    ids: list[uuid.UUID] = []
    chunk = 2000
    for start in range(0, count, chunk):
        rows = _listing_rows(min(chunk, count - start), rng, firms, eco, now)
        ids.extend(row["id"] for row in rows)
        async with db.write() as session:
            await session.execute(insert(Listing), rows)
    await _analyze(db, "listings", "organisations")
    return ids, time.perf_counter() - started


# ---------------------------------------------------------------------------------------------
# 2. listingMatches


async def _listing_matches(
    client: Client, token: str, listing_ids: list[uuid.UUID], rng: random.Random
) -> None:
    chosen = rng.sample(listing_ids, MATCH_WARMUP + MATCH_QUERIES)
    timings: list[float] = []
    totals: list[int] = []
    for index, listing_id in enumerate(chosen):
        data, elapsed = await client.must(MATCHES, {"listingId": str(listing_id)}, token)
        if index >= MATCH_WARMUP:
            timings.append(elapsed)
            totals.append(data["listingMatches"]["totalCount"])
    print(
        f"listingMatches, first 20 with totalCount ({len(timings)} random listings, one at a "
        f"time): {latency_line(timings)}"
    )
    print(
        f"  totalCount: mean {statistics.fmean(totals):.1f}, median "
        f"{statistics.median(totals):.0f}, min {min(totals)}, max {max(totals)} "
        f"(capped at MAX_CANDIDATES = {MAX_CANDIDATES}); at the cap: "
        f"{sum(1 for t in totals if t >= MAX_CANDIDATES)} of {len(totals)}"
    )


# ---------------------------------------------------------------------------------------------
# 3. Acceptance burst


def _listing_input(
    kind: str, material: str, title: str, quantity: str, price: str, lat: float, lon: float
) -> dict[str, Any]:
    return {
        "kind": kind,
        "category": "ECO_PRODUCT" if material == "natural-cosmetics" else "BY_PRODUCT",
        "title": title,
        "materialCode": material,
        "quantity": quantity,
        "unit": "TNE",
        "pricePerUnit": price,
        "language": "ja",
        "location": {"lat": lat, "lon": lon, "placeName": "Maniwa"},
        "publish": True,
    }


async def _publish(client: Client, token: str, listing: dict[str, Any]) -> tuple[str, float]:
    data, elapsed = await client.must(LISTING_CREATE, {"input": listing}, token)
    payload = data["listingCreate"]
    if payload["errors"]:
        raise SystemExit(f"listingCreate failed: {payload['errors']}")
    listing_id: str = payload["listing"]["id"]
    return listing_id, elapsed


def _record(outcomes: Outcomes, status: int, body: dict[str, Any] | None, name: str) -> None:
    outcomes.http[status] += 1
    if body is None:
        outcomes.codes[f"HTTP {status}, not JSON"] += 1
        return
    for error in body.get("errors") or []:
        outcomes.codes["GraphQL error"] += 1
        outcomes.messages[f"GraphQL error: {error.get('message')}"] += 1
    payload = (body.get("data") or {}).get(name)
    if payload is None:
        if not body.get("errors"):
            outcomes.codes[f"HTTP {status}, no payload"] += 1
        return
    if payload["errors"]:
        for error in payload["errors"]:
            outcomes.codes[error["code"]] += 1
            outcomes.messages[f"{error['code']}: {error['message']}"] += 1
    elif payload.get("trade") is not None:
        outcomes.codes["accepted"] += 1
    else:
        outcomes.codes["no errors and no trade"] += 1


async def _acceptance_burst(
    client: Client,
    db: Database,
    owner: Firm,
    makers: list[Firm],
    concurrency: int,
) -> None:
    lat, lon = _near(owner.cluster, random.Random(1), 5)
    listing_id, _ = await _publish(
        client,
        owner.token,
        _listing_input(
            "OFFER",
            "wood-shavings",
            "Cedar shavings for the acceptance burst",
            str(BURST_QUANTITY),
            "3000",
            lat,
            lon,
        ),
    )
    started = time.perf_counter()
    offer_ids = []
    for maker in makers:
        offer = await marketplace.create_offer(
            db=db,
            viewer=maker.viewer,
            now=utcnow(),
            listing_id=uuid.UUID(listing_id),
            terms=marketplace.Terms(quantity=Decimal(1), price_per_unit=Decimal(2800)),
        )
        offer_ids.append(str(offer.id))
    print(
        f"acceptance burst: listing {listing_id} of {BURST_QUANTITY} t published; "
        f"{len(offer_ids)} offers of 1 t made through the offers service in "
        f"{time.perf_counter() - started:.1f} s"
    )

    semaphore = asyncio.Semaphore(concurrency)
    outcomes = Outcomes()

    async def one(offer_id: str) -> None:
        async with semaphore:
            status, body, elapsed = await client.post(OFFER_ACCEPT, {"id": offer_id}, owner.token)
        outcomes.latencies_ms.append(elapsed)
        _record(outcomes, status, body, "offerAccept")

    started = time.perf_counter()
    await asyncio.gather(*(one(offer_id) for offer_id in offer_ids))
    wall = time.perf_counter() - started
    print(
        f"  offerAccept x {len(offer_ids)}, concurrency {concurrency}: wall {wall:.2f} s, "
        f"{len(offer_ids) / wall:.0f} accepts/s"
    )
    print(f"  latency per request: {latency_line(outcomes.latencies_ms)}")
    print(f"  outcomes: {dict(outcomes.codes.most_common())}")
    print(f"  HTTP statuses: {dict(sorted(outcomes.http.items()))}")
    for message, count in outcomes.messages.most_common(5):
        print(f"    {count} x {message}")

    async with db.read() as session:
        listing = await session.get(Listing, uuid.UUID(listing_id))
        assert listing is not None
        trades = await session.scalar(
            select(func.count()).select_from(Trade).where(Trade.listing_id == listing.id)
        )
        accepted = await session.scalar(
            select(func.count())
            .select_from(Offer)
            .where(Offer.listing_id == listing.id, Offer.status == OfferStatus.ACCEPTED)
        )
    committed = Decimal(str(listing.quantity_committed))
    expected = min(len(offer_ids), BURST_QUANTITY)
    print(
        f"  read back: listings.quantity_committed {committed.normalize():f} of "
        f"{Decimal(str(listing.quantity)).normalize():f} t, status {listing.status.value}, "
        f"trades {trades}, ACCEPTED offers {accepted}"
    )
    if committed > BURST_QUANTITY or (trades or 0) > BURST_QUANTITY:
        print(
            f"  !!! OVERCOMMITTED !!! {committed} t committed and {trades} trades "
            f"for a listing of {BURST_QUANTITY} t"
        )
    elif committed == expected and trades == expected == outcomes.codes["accepted"] == accepted:
        print(f"  OK: {expected} t committed, one trade per accepted offer")
    else:
        print(
            f"  MISMATCH: expected {expected} accepted offers, trades and t committed; "
            f"got {outcomes.codes['accepted']} accepted responses"
        )


# ---------------------------------------------------------------------------------------------
# 4. Publishing with match notifications


async def _count_match_notifications(db: Database) -> int:
    async with db.read() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == NotificationKind.LISTING_MATCH)
        )
    return int(count or 0)


async def _publishing(client: Client, db: Database, publisher: Firm, rng: random.Random) -> None:
    cases = (
        ("WANT of wood-shavings (many matching OFFERs)", "WANT", "wood-shavings"),
        ("OFFER of natural-cosmetics (no counterpart)", "OFFER", "natural-cosmetics"),
    )
    for label, kind, material in cases:
        before = await _count_match_notifications(db)
        timings = []
        for index in range(PUBLISHES):
            lat, lon = _near(publisher.cluster, rng, 10)
            title = f"{material.replace('-', ' ').capitalize()} {kind.lower()} {index}"
            _, elapsed = await _publish(
                client,
                publisher.token,
                _listing_input(kind, material, title, str(rng.randint(5, 200)), "0", lat, lon),
            )
            timings.append(elapsed)
        written = await _count_match_notifications(db) - before
        print(
            f"listingCreate(publish: true) x {PUBLISHES}, {label}: {latency_line(timings)}; "
            f"LISTING_MATCH notifications written: {written} "
            f"({written / PUBLISHES:.1f} per publication)"
        )


# ---------------------------------------------------------------------------------------------
# 5. impactSummary


async def _seed_impact(db: Database, firms: list[Firm], count: int, rng: random.Random) -> float:
    """``count`` accepted offers, completed trades and their ledger entries in Maniwa."""
    cluster = _cluster(BURST_CLUSTER)
    cluster_id = demo.demo_id("cluster", cluster.slug)
    maniwa = [f for f in firms if f.cluster.slug == BURST_CLUSTER]
    async with db.read() as session:
        listings = (
            await session.execute(
                select(Listing.id, Listing.organisation_id, Listing.material_code)
                .where(
                    Listing.organisation_id.in_([f.organisation_id for f in maniwa]),
                    Listing.kind == ListingKind.OFFER,
                )
                .limit(5000)
            )
        ).all()
        factors = {
            f.material_code: f
            for f in (
                await session.scalars(
                    select(ImpactFactor).where(ImpactFactor.method_version == METHOD_VERSION)
                )
            ).all()
        }
    if not listings:
        raise SystemExit("no Maniwa OFFER listings to hang the ledger's trades on")
    started = time.perf_counter()
    now = utcnow()
    chunk = 2000
    for start in range(0, count, chunk):
        offer_rows, trade_rows, entry_rows = [], [], []
        for _ in range(min(chunk, count - start)):
            listing_id, supplier_id, material = rng.choice(listings)
            receiver = rng.choice(maniwa)
            while receiver.organisation_id == supplier_id:
                receiver = rng.choice(maniwa)
            quantity = Decimal(rng.randint(1, 200)) / 4
            price = Decimal(rng.randint(0, 5000))
            at = now - timedelta(days=rng.uniform(0, 365))
            offer_id, trade_id = new_id(), new_id()
            offer_rows.append(
                {
                    "id": offer_id,
                    "listing_id": listing_id,
                    "maker_id": receiver.organisation_id,
                    "owner_id": supplier_id,
                    "created_by_id": receiver.user_id,
                    "status": OfferStatus.ACCEPTED,
                    "quantity": quantity,
                    "unit_code": "TNE",
                    "price_per_unit": price,
                    "currency": cluster.currency,
                    "message": "",
                    "expires_at": at + timedelta(days=7),
                    "rounds": 1,
                    "decided_at": at,
                    "decided_by_id": None,
                    "decline_reason": "",
                    "created_at": at - timedelta(days=1),
                    "updated_at": at,
                    "version": 2,
                }
            )
            distance = rng.uniform(0.5, 60)
            trade_rows.append(
                {
                    "id": trade_id,
                    "offer_id": offer_id,
                    "listing_id": listing_id,
                    "cluster_id": cluster_id,
                    "supplier_id": supplier_id,
                    "receiver_id": receiver.organisation_id,
                    "status": TradeStatus.COMPLETED,
                    "material_code": material,
                    "quantity": quantity,
                    "unit_code": "TNE",
                    "price_per_unit": price,
                    "currency": cluster.currency,
                    "delivered_quantity": quantity,
                    "delivered_by_id": supplier_id,
                    "distance_km": distance,
                    "status_before_dispute": None,
                    "created_at": at,
                    "updated_at": at,
                    "completed_at": at,
                    "version": 4,
                }
            )
            factor = factors.get(material)
            co2e_per_t = factor.co2e_kg_per_tonne if factor else None
            cost_per_t = factor.disposal_cost_per_tonne if factor else None
            entry_rows.append(
                {
                    "id": new_id(),
                    "trade_id": trade_id,
                    "cluster_id": cluster_id,
                    "supplier_id": supplier_id,
                    "receiver_id": receiver.organisation_id,
                    "material_code": material,
                    "quantity": quantity,
                    "unit_code": "TNE",
                    "diverted_kg": quantity * 1000,
                    "co2e_avoided_kg": quantity * co2e_per_t if co2e_per_t is not None else None,
                    "disposal_cost_avoided": (
                        quantity * cost_per_t if cost_per_t is not None else None
                    ),
                    "currency": factor.disposal_cost_currency if factor else None,
                    "transport_km": distance,
                    "method_version": METHOD_VERSION,
                    "factor_material_code": factor.material_code if factor else None,
                    "baseline": factor.baseline if factor else "",
                    "co2e_kg_per_tonne": co2e_per_t,
                    "co2e_source": factor.co2e_source if factor else "",
                    "disposal_cost_per_tonne": cost_per_t,
                    "disposal_cost_source": factor.disposal_cost_source if factor else "",
                    "recorded_at": at,
                }
            )
        async with db.write() as session:
            await session.execute(insert(Offer), offer_rows)
            await session.execute(insert(Trade), trade_rows)
            await session.execute(insert(ImpactEntry), entry_rows)
    await _analyze(db, "offers", "trades", "impact_entries")
    return time.perf_counter() - started


async def _impact_summary(client: Client, admin_token: str) -> None:
    cluster_id = str(demo.demo_id("cluster", BURST_CLUSTER))
    timings = []
    summary: dict[str, Any] = {}
    for index in range(IMPACT_WARMUP + IMPACT_QUERIES):
        data, elapsed = await client.must(IMPACT, {"clusterId": cluster_id}, admin_token)
        summary = data["impactSummary"]
        if index >= IMPACT_WARMUP:
            timings.append(elapsed)
    print(
        f"impactSummary(clusterId: Maniwa) as a platform admin x {len(timings)}: "
        f"{latency_line(timings)}"
    )
    print(
        f"  answer: tradesCompleted {summary['tradesCompleted']}, divertedKg "
        f"{summary['divertedKg']}, co2eAvoidedKg {summary['co2eAvoidedKg']}, "
        f"disposalCostAvoided {summary['disposalCostAvoided']} {summary['currency']}, "
        f"{len(summary['byMaterial'])} materials, methods {summary['methodVersions']}"
    )


# ---------------------------------------------------------------------------------------------


async def _run(db: Database, settings: Settings, args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    started = time.perf_counter()
    await demo.seed_demo(db, Passwords(settings))
    market_clusters = [demo.CLUSTERS[i % len(demo.CLUSTERS)] for i in range(args.organisations)]
    market = await _seed_firms(db, settings, market_clusters, "market", rng)
    burst_cluster = _cluster(BURST_CLUSTER)
    owner, *makers = await _seed_firms(
        db, settings, [burst_cluster] * (args.offers + 1), "burst", rng
    )
    print(
        f"{db.dialect}: seeded the demo, {args.organisations} market firms and "
        f"{args.offers + 1} burst firms in {time.perf_counter() - started:.1f} s"
    )

    listing_ids, seconds = await _seed_market(db, market, args.listings, rng)
    print(
        f"market: {args.listings} ACTIVE listings of {args.organisations} firms over "
        f"{len(demo.CLUSTERS)} clusters inserted in {seconds:.1f} s "
        f"({args.listings / seconds:.0f}/s, ANALYZE included)"
    )

    tokens = Security.from_settings(settings).tokens
    admin_token = tokens.issue_access(
        user_id=demo.demo_id("user", demo.ADMIN_KEY),
        role=Role.ADMIN,
        organisation_id=None,
        now=utcnow(),
    ).token

    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://bench", timeout=httpx.Timeout(600)
    ) as http:
        client = Client(http)
        await _listing_matches(client, market[0].token, listing_ids, rng)
        await _acceptance_burst(client, db, owner, makers, args.concurrency)
        await _publishing(client, db, owner, rng)
        seconds = await _seed_impact(db, market, args.entries, rng)
        print(
            f"impact ledger: {args.entries} entries (with their offers and completed trades) "
            f"in Maniwa inserted in {seconds:.1f} s"
        )
        await _impact_summary(client, admin_token)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--listings", type=int, default=20_000, help="listings in the market")
    parser.add_argument("--organisations", type=int, default=400, help="firms owning them")
    parser.add_argument("--offers", type=int, default=500, help="offers in the acceptance burst")
    parser.add_argument("--concurrency", type=int, default=50, help="accepts in flight")
    parser.add_argument("--entries", type=int, default=10_000, help="impact ledger entries")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch PostgreSQL database to inspect"
    )
    args = parser.parse_args()

    with bench_database(
        args.database_url,
        keep=args.keep,
        # Tokens are issued once, before the phases: they must outlive a slow run.
        access_token_ttl_seconds=3600,
    ) as (url, settings):

        async def run() -> None:
            db = Database(url)
            try:
                await _run(db, settings, args)
            finally:
                await db.dispose()

        asyncio.run(run())


if __name__ == "__main__":
    main()
