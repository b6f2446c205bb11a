"""Benchmark: a year of cluster insights of a large cluster, cold, warm and after a trade, against a
hand-built reference that sends the same SQL.

1. Seeds a scratch database (SQLite in a temp folder, or a PostgreSQL database created beside the
   one named and dropped afterwards) with Core bulk inserts: one wood and biomass cluster of
   10,000 organisations (ISIC classes of a Maniwa-like cluster, 3 % not named in insights, 1 %
   institutions, 15 % joined during the year) and 200,000 COMPLETED trades of 2025 between them,
   with the listings, accepted offers and impact ledger entries they need. The network is
   heavy-tailed (suppliers and takers drawn with Pareto weights: a few power plants and pellet
   makers take from thousands), 40,000 supplier-taker-material relationships share the trades
   (most trade once, some hundreds of times), six catalogue materials in tonnes, kilograms and
   bags. The ledger's figures are computed in bulk with the arithmetic of
   ``backend.marketplace.service.impact.record`` (checked against ``record`` itself on sampled
   trades). A second cluster 100 times smaller gives the statement count at another size.
   ``--scale`` multiplies the volumes.
2. Measures ``backend.insights.service.cluster_insights`` for 2025, as a platform admin (NAMED)
   and anonymously (PUBLIC): cold (the insights cache cleared before each call), warm (kept),
   and after a trade completed through the marketplace's service (listing, offer, acceptance,
   delivery, completion: the call after each step tells whether it was cold; then a trade in the
   other cluster). Per call: wall time
   and the process's CPU time (``time.process_time``: aiosqlite's thread included, PostgreSQL's
   server not), SQL statements (a ``before_cursor_execute`` listener, SQLite's BEGINs included).
3. The reference (in this run, interleaved with the product): the product's own statements,
   captured once, sent through the raw driver connection (asyncpg / aiosqlite), and the same
   figures computed with plain Python loops over the rows (no networkx, no dataclass views).
   It stops unless the reference's figures equal the product's. Prints product/reference
   ratios, each statement's time alone through the driver, and the parts of a cold call (the
   product's own functions) one by one.
4. ``--explain``: each statement's plan (PostgreSQL: EXPLAIN (ANALYZE, BUFFERS)).
   ``--try-index``: adds a covering index of the ledger (and of trades' prices) in the scratch
   database and measures again. ``--try-sql``: alternatives measured beside the product (the
   statements at once, Core rows, the links summed before networkx, parties by month from the
   ledger's entries, work_mem), each checked to answer what the product's answers.
   ``--profile``: py-spy over cold calls, when it is installed (``.venv/bin/pip install
   py-spy``), summarised. Nothing here changes ``backend/``.

    .venv/bin/python scripts/bench_insights.py                       # SQLite in a temp folder
    .venv/bin/python scripts/bench_insights.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
    .venv/bin/python scripts/bench_insights.py --database-url ... --explain --try-index --try-sql
    .venv/bin/python scripts/bench_insights.py --scale 0.1                # a quick look
    .venv/bin/python scripts/bench_insights.py --short                    # CI: tiny
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import math
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Collection, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import networkx as nx
from bench_pages import _commits_without_waiting
from benchkit import FirmRows, bench_database
from sqlalchemy import case, event, func, insert, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncEngine

from backend.auth.passwords import Passwords
from backend.auth.viewer import Anonymous, Role, Viewer
from backend.catalogue import reference as catalogue_reference
from backend.catalogue import service as catalogue_service
from backend.catalogue.models import Dimension, ImpactFactor, Material, Unit
from backend.identity import service as identity_service
from backend.identity.models import (
    Cluster,
    Membership,
    Organisation,
    OrganisationKind,
    OrganisationSubtype,
    Sector,
    User,
)
from backend.insights import network as network_module
from backend.insights import service as insights
from backend.insights.cache import cache_for
from backend.insights.network import (
    ANCHOR_CENTRALISATION,
    COMPLETE_DENSITY,
    CONNECTED_SHARE,
    DEPENDENCE_SHARE,
    SMALLEST_NETWORK,
)
from backend.insights.period import Period, period_of
from backend.insights.policies import SMALLEST_CELL, Audience
from backend.insights.service import core as insights_core
from backend.kit.collector import cyclic_collector_paused
from backend.kit.db import Database, make_engine, new_id
from backend.kit.geo import approximate, great_circle_km
from backend.kit.validation import Place
from backend.marketplace import service as marketplace
from backend.marketplace.models import (
    Delivery,
    ImpactEntry,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    MonthParty,
    Offer,
    OfferStatus,
    Recurrence,
    Trade,
    TradeStatus,
)
from backend.marketplace.service import impact

ROOT = Path(__file__).resolve().parent.parent
YEAR = 2025
TIME_ZONE = "Asia/Tokyo"
ZONE = ZoneInfo(TIME_ZONE)
YEAR_STARTS_AT = datetime(YEAR, 1, 1, tzinfo=ZONE).astimezone(UTC)
YEAR_ENDS_AT = datetime(YEAR + 1, 1, 1, tzinfo=ZONE).astimezone(UTC)
# The app clock while measuring: twelve days after the year (unmatched offers count from it).
NOW = datetime(YEAR + 1, 1, 12, 3, 0, tzinfo=UTC)
# When the trade completed through the service path happens: inside the year, so it counts.
SERVICE_TRADE_AT = datetime(YEAR, 12, 20, 3, 0, tzinfo=UTC)
CENTRE = (35.07, 133.75)  # Maniwa
CURRENCY = "JPY"
LINK_SHARE = 0.2  # relationships (supplier, taker, material) per trade
SMALL_SCALE = 0.01  # the second cluster's size, relative to the first
CHUNK = 5000  # rows per INSERT


# ---------------------------------------------------------------------------------------------
# 1. Seeding


@dataclass(frozen=True)
class Activity:
    """An ISIC Rev. 4 class of the cluster (None: not given), how common it is, and the
    by-products it gives and takes (material -> weight)."""

    code: str | None
    share: float
    outputs: dict[str, float]
    inputs: dict[str, float]


# A Maniwa-like wood and biomass cluster: sawmills and carpenters give sawdust, shavings and
# trimmings; pellet makers, panel makers and poultry farms (bedding) take them; power plants,
# hotels with pellet boilers and composting plants take bark, trimmings, pellets and manure.
ACTIVITIES: tuple[Activity, ...] = (
    Activity("0220", 0.08, {"wood-trimmings": 3, "bark": 2}, {}),
    Activity("1610", 0.28, {"sawdust": 4, "wood-shavings": 3, "bark": 2, "wood-trimmings": 1}, {}),
    Activity("1622", 0.14, {"wood-shavings": 3, "sawdust": 2, "wood-trimmings": 1}, {}),
    Activity("1621", 0.04, {"sawdust": 1}, {"wood-shavings": 2, "sawdust": 2, "wood-trimmings": 1}),
    Activity(
        "1629", 0.07, {"wood-pellets": 1}, {"sawdust": 3, "wood-shavings": 3, "wood-trimmings": 1}
    ),
    Activity("3510", 0.015, {}, {"bark": 2, "wood-trimmings": 2, "wood-pellets": 2}),
    Activity("0146", 0.12, {"poultry-manure": 1}, {"wood-shavings": 2, "sawdust": 1}),
    Activity("3821", 0.035, {}, {"poultry-manure": 2, "bark": 1, "sawdust": 0.5}),
    Activity("5510", 0.06, {}, {"wood-pellets": 1}),
    Activity(None, 0.02, {"sawdust": 1}, {"sawdust": 1}),
)
NO_TRADE = Activity(None, 0, {}, {})
MATERIALS = sorted({m for a in ACTIVITIES for m in (*a.outputs, *a.inputs)})
# JPY per tonne, about (bark: the supplier pays a gate fee; manure is given away).
PRICE_PER_TONNE = {
    "sawdust": 3000,
    "wood-shavings": 4000,
    "wood-trimmings": 2000,
    "bark": -500,
    "wood-pellets": 30000,
    "poultry-manure": 0,
}
PRICE_PER_BAG = Decimal(600)
# Pareto shapes of how much an organisation gives and takes: smaller is a heavier tail.
SUPPLY_SHAPE, DEMAND_SHAPE, REPEAT_SHAPE = 1.3, 1.15, 1.5


@dataclass(frozen=True)
class Volumes:
    organisations: int
    trades: int

    @classmethod
    def of(cls, scale: float) -> Volumes:
        return cls(max(12, round(10_000 * scale)), max(60, round(200_000 * scale)))


@dataclass(frozen=True)
class Member:
    id: uuid.UUID
    user_id: uuid.UUID
    kind: OrganisationKind
    activity: Activity
    lat: float
    lon: float
    created_at: datetime
    supply: float
    demand: float


@dataclass
class Seeded:
    cluster_id: uuid.UUID
    slug: str
    members: list[Member]
    relationships: int
    trades: int
    unmatched: int
    kg: Decimal  # diverted in the year, as the ledger has it
    seconds: float


@dataclass(frozen=True)
class Ledger:
    """What ``impact.record`` reads for a trade, read once: units and the materials' factors."""

    units: dict[str, Unit]
    factors: dict[str, ImpactFactor | None]

    def entry(self, trade: dict[str, Any]) -> dict[str, Any]:
        """The ledger row of a completed trade: ``impact.record``'s arithmetic, in bulk."""
        unit = self.units[trade["unit_code"]]
        factor = self.factors[trade["material_code"]]
        quantity: Decimal = trade["delivered_quantity"]
        kilograms: Decimal | None = None
        if unit.dimension is Dimension.MASS:
            kilograms = quantity * unit.factor
        elif unit.dimension is Dimension.VOLUME and factor is not None and factor.kg_per_litre:
            kilograms = quantity * unit.factor * factor.kg_per_litre
        tonnes = kilograms / impact.KG_PER_TONNE if kilograms is not None else None
        co2e = cost = None
        currency = None
        if factor is not None and tonnes is not None:
            if factor.co2e_kg_per_tonne is not None:
                co2e = (tonnes * factor.co2e_kg_per_tonne).quantize(impact.FOUR_PLACES)
            if factor.disposal_cost_per_tonne is not None:
                cost = (tonnes * factor.disposal_cost_per_tonne).quantize(impact.FOUR_PLACES)
                currency = factor.disposal_cost_currency
        return {
            "id": new_id(),
            "trade_id": trade["id"],
            "cluster_id": trade["cluster_id"],
            "supplier_id": trade["supplier_id"],
            "receiver_id": trade["receiver_id"],
            "material_code": trade["material_code"],
            "quantity": quantity,
            "unit_code": trade["unit_code"],
            "diverted_kg": (
                kilograms.quantize(impact.FOUR_PLACES) if kilograms is not None else None
            ),
            "co2e_avoided_kg": co2e,
            "disposal_cost_avoided": cost,
            "currency": currency,
            "transport_km": trade["distance_km"],
            "paid": quantity * trade["price_per_unit"],
            "trade_currency": trade["currency"],
            "method_version": catalogue_service.METHOD_VERSION,
            "factor_material_code": factor.material_code if factor else None,
            "baseline": factor.baseline if factor else "",
            "co2e_kg_per_tonne": factor.co2e_kg_per_tonne if factor else None,
            "co2e_source": factor.co2e_source if factor else "",
            "disposal_cost_per_tonne": factor.disposal_cost_per_tonne if factor else None,
            "disposal_cost_source": factor.disposal_cost_source if factor else "",
            "recorded_at": trade["completed_at"],
        }


async def _ledger(db: Database) -> Ledger:
    async with db.read() as session:
        units: dict[str, Unit] = {}
        for code in ("KGM", "TNE", "BG"):
            unit = await session.get(Unit, code)
            if unit is None:
                raise SystemExit(f"unit {code} is not in the catalogue (eic migrate loads it)")
            units[code] = unit
        factors: dict[str, ImpactFactor | None] = {}
        for code in MATERIALS:
            material = await session.get(Material, code)
            if material is None:
                raise SystemExit(f"material {code} is not in the catalogue (eic migrate loads it)")
            factors[code] = await catalogue_service.impact_factor(session, material)
    return Ledger(units, factors)


ENTRY_FIELDS = (
    "quantity",
    "unit_code",
    "diverted_kg",
    "co2e_avoided_kg",
    "disposal_cost_avoided",
    "currency",
    "transport_km",
    "paid",
    "trade_currency",
    "method_version",
    "factor_material_code",
    "baseline",
    "co2e_kg_per_tonne",
    "co2e_source",
    "disposal_cost_per_tonne",
    "disposal_cost_source",
    "recorded_at",
)


async def _check_ledger(db: Database, ledger: Ledger, samples: list[dict[str, Any]]) -> None:
    """The bulk arithmetic against ``impact.record`` itself, on sampled trades (in a session
    that is rolled back: nothing is written)."""
    async with db.read() as session:
        with session.no_autoflush:
            for row in samples:
                trade = Trade(**row)
                entry = await impact.record(session, trade, row["completed_at"])
                session.expunge(entry)
                mine = ledger.entry(row)
                for name in ENTRY_FIELDS:
                    if getattr(entry, name) != mine[name]:
                        raise SystemExit(
                            f"MISMATCH: the bulk ledger's {name} is {mine[name]!r}, "
                            f"impact.record's {getattr(entry, name)!r} ({row['material_code']}, "
                            f"{row['delivered_quantity']} {row['unit_code']})"
                        )
    print(
        f"ledger check: the bulk entries equal impact.record's on {len(samples)} sampled trades "
        f"({', '.join(sorted({s['material_code'] for s in samples}))}; "
        f"{', '.join(sorted({s['unit_code'] for s in samples}))})"
    )


async def _insert(db: Database, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Core bulk inserts, one transaction (nothing here goes through ``Database.write``: the
    insights cache is made after the seeding)."""
    table = model.__table__
    async with db.engine.begin() as connection:
        for start in range(0, len(rows), CHUNK):
            await connection.execute(insert(table), list(rows[start : start + CHUNK]))


def _uniform_instant(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    return lo + (hi - lo) * rng.random()


def _members(
    rows: FirmRows, cluster_id: uuid.UUID, slug: str, count: int, rng: random.Random
) -> list[Member]:
    members = []
    shares = [a.share for a in ACTIVITIES]
    founded = YEAR_STARTS_AT - timedelta(days=3 * 365)
    for index in range(count):
        roll = rng.random()
        activity = rng.choices(ACTIVITIES, weights=shares)[0]
        if roll < 0.01:
            kind, activity = OrganisationKind.INSTITUTION, NO_TRADE
            subtype = rng.choice(
                [
                    OrganisationSubtype.UNIVERSITY,
                    OrganisationSubtype.LOCAL_GOVERNMENT,
                    OrganisationSubtype.RESEARCH_INSTITUTE,
                ]
            )
        elif roll < 0.04:
            kind = OrganisationKind.COMMUNITY
            subtype = rng.choice([OrganisationSubtype.COOPERATIVE, OrganisationSubtype.NPO])
        else:
            kind = OrganisationKind.FIRM
            subtype = rng.choices(
                [
                    OrganisationSubtype.MICRO_ENTERPRISE,
                    OrganisationSubtype.SMALL_ENTERPRISE,
                    OrganisationSubtype.MEDIUM_ENTERPRISE,
                    OrganisationSubtype.LARGE_ENTERPRISE,
                ],
                weights=[60, 30, 8, 2],
            )[0]
        if rng.random() < 0.85:
            created = _uniform_instant(rng, founded, YEAR_STARTS_AT)
        else:  # joined during the year
            created = _uniform_instant(rng, YEAR_STARTS_AT, YEAR_ENDS_AT - timedelta(days=40))
        lat, lon = CENTRE[0] + rng.gauss(0, 0.08), CENTRE[1] + rng.gauss(0, 0.1)
        user_id, organisation_id = rows.add(
            email=f"{slug}-{index}@bench.eic.example",
            person=f"Bench person {index}",
            name=f"{slug.title()} {activity.code or 'org'} {index:05d}",
            cluster_id=cluster_id,
            lat=lat,
            lon=lon,
            kind=kind,
            subtype=subtype,
            activity_code=activity.code,
            named_in_insights=rng.random() >= 0.03,
            created_at=created,
            updated_at=created,
        )
        members.append(
            Member(
                organisation_id,
                user_id,
                kind,
                activity,
                lat,
                lon,
                created,
                rng.paretovariate(SUPPLY_SHAPE) if activity.outputs else 0.0,
                rng.paretovariate(DEMAND_SHAPE) if activity.inputs else 0.0,
            )
        )
    return members


def _relationships(
    members: list[Member], count: int, rng: random.Random
) -> list[tuple[Member, Member, str]]:
    """``count`` distinct (supplier, taker, material): a taker drawn by how much it takes, one
    of its inputs, a supplier of that material drawn by how much it gives."""
    takers = [m for m in members if m.demand > 0]
    taker_weights = list(itertools.accumulate(m.demand for m in takers))
    suppliers: dict[str, tuple[list[Member], list[float]]] = {}
    for material in MATERIALS:
        giving = [m for m in members if material in m.activity.outputs]
        suppliers[material] = (
            giving,
            list(itertools.accumulate(m.supply * m.activity.outputs[material] for m in giving)),
        )
    found: dict[tuple[uuid.UUID, uuid.UUID, str], tuple[Member, Member, str]] = {}
    attempts = 0
    while len(found) < count and attempts < count * 50:
        attempts += 1
        taker = rng.choices(takers, cum_weights=taker_weights)[0]
        inputs = list(taker.activity.inputs)
        material = rng.choices(inputs, weights=[taker.activity.inputs[i] for i in inputs])[0]
        giving, weights = suppliers[material]
        if not giving:
            continue
        supplier = rng.choices(giving, cum_weights=weights)[0]
        if supplier.id != taker.id:
            found.setdefault((supplier.id, taker.id, material), (supplier, taker, material))
    return list(found.values())


def _quantity(material: str, rng: random.Random) -> tuple[str, Decimal, Decimal]:
    """Unit, quantity and price per unit of one trade."""
    per_tonne = Decimal(round(PRICE_PER_TONNE[material] * rng.uniform(0.7, 1.3)))
    if material == "wood-pellets" and rng.random() < 0.15:  # bags: no mass to vouch for
        return "BG", Decimal(rng.randint(10, 200)), PRICE_PER_BAG
    tonnes = min(60.0, max(0.05, rng.lognormvariate(0.3, 0.9)))
    if tonnes < 0.5:
        return "KGM", Decimal(round(tonnes * 1000)), (per_tonne / 1000).quantize(Decimal("0.01"))
    return "TNE", Decimal(f"{tonnes:.3f}"), per_tonne


@dataclass(frozen=True)
class TradeSpec:
    supplier: Member
    taker: Member
    material: str
    unit: str
    quantity: Decimal
    price: Decimal
    at: datetime


def _listing_row(
    cluster_id: uuid.UUID,
    owner: Member,
    material: str,
    unit: str,
    status: ListingStatus,
    published_at: datetime,
    rng: random.Random,
    *,
    recurrence: Recurrence = Recurrence.WEEKLY,
    quantity: Decimal = Decimal(100_000),
    factor: Decimal = Decimal(1),
) -> dict[str, Any]:
    lat, lon = owner.lat, owner.lon
    return {
        "id": new_id(),
        "organisation_id": owner.id,
        "cluster_id": cluster_id,
        "created_by_id": owner.user_id,
        "kind": ListingKind.OFFER,
        "category": (
            ListingCategory.ECO_PRODUCT
            if material == "wood-pellets"
            else ListingCategory.BY_PRODUCT
        ),
        "status": status,
        "title": f"{material.replace('-', ' ').capitalize()}, {recurrence.value.lower()}",
        "description": "",
        "language": "ja",
        "material_code": material,
        "quantity": quantity,
        "unit_code": unit,
        "quantity_base": quantity * factor,
        "quantity_committed": Decimal(0),
        "recurrence": recurrence,
        "season_months": [],
        "price_per_unit": Decimal(PRICE_PER_TONNE[material]),
        "currency": CURRENCY,
        "delivery": Delivery.EITHER,
        "lat": lat,
        "lon": lon,
        "place_name": "",
        "location_approximate": False,
        "public_lat": approximate(lat),
        "public_lon": approximate(lon),
        "specs": [],
        "photos": [],
        "expires_at": None if rng.random() < 0.7 else NOW + timedelta(days=rng.uniform(5, 90)),
        "published_at": published_at,
        "closed_at": published_at + timedelta(days=300) if status is ListingStatus.CLOSED else None,
        "created_at": published_at,
        "updated_at": published_at,
        "version": 1,
    }


async def seed_cluster(
    db: Database,
    password_hash: str,
    slug: str,
    volumes: Volumes,
    ledger: Ledger,
    rng: random.Random,
    check_ledger: bool,
) -> Seeded:
    started = time.perf_counter()
    cluster_id = new_id()
    await _insert(
        db,
        Cluster,
        [
            {
                "id": cluster_id,
                "slug": slug,
                "name": f"{slug.replace('-', ' ').title()} (benchmark)",
                "region": "Okayama",
                "country": "JP",
                "sector": Sector.WOOD,
                "centre_lat": CENTRE[0],
                "centre_lon": CENTRE[1],
                "currency": CURRENCY,
                "languages": ["ja", "en"],
                "timezone": TIME_ZONE,
                "description": "",
                "created_at": YEAR_STARTS_AT - timedelta(days=4 * 365),
            }
        ],
    )
    rows = FirmRows(password_hash, YEAR_STARTS_AT - timedelta(days=4 * 365))
    members = _members(rows, cluster_id, slug, volumes.organisations, rng)
    await _insert(db, User, rows.users)
    await _insert(db, Organisation, rows.organisations)
    await _insert(db, Membership, rows.memberships)

    relationships = _relationships(
        members, max(1, min(volumes.trades, round(volumes.trades * LINK_SHARE))), rng
    )
    # every relationship trades once; the other trades go to relationships drawn by a
    # heavy-tailed intensity (repeat partnerships: most once, some hundreds of times)
    counts = Counter(range(len(relationships)))
    intensity = [rng.paretovariate(REPEAT_SHAPE) for _ in relationships]
    counts.update(
        rng.choices(range(len(relationships)), weights=intensity, k=volumes.trades - len(counts))
    )
    specs: list[TradeSpec] = []
    for index, times in counts.items():
        supplier, taker, material = relationships[index]
        first = max(YEAR_STARTS_AT, supplier.created_at, taker.created_at) + timedelta(days=1)
        for _ in range(times):
            unit, quantity, price = _quantity(material, rng)
            specs.append(
                TradeSpec(
                    supplier,
                    taker,
                    material,
                    unit,
                    quantity,
                    price,
                    _uniform_instant(rng, first, YEAR_ENDS_AT),
                )
            )
    specs.sort(key=lambda s: s.at)

    # one standing (weekly) OFFER listing per supplier, material and unit, which the trades
    # came from; and unmatched offers: ACTIVE, published weeks ago, no offer at all
    listings: dict[tuple[uuid.UUID, str, str], dict[str, Any]] = {}
    for spec in specs:
        key = (spec.supplier.id, spec.material, spec.unit)
        if key not in listings:
            status = ListingStatus.ACTIVE if rng.random() < 0.6 else ListingStatus.CLOSED
            published = max(spec.supplier.created_at, spec.at - timedelta(days=30))
            listings[key] = _listing_row(
                cluster_id,
                spec.supplier,
                spec.material,
                spec.unit,
                status,
                published,
                rng,
                factor=ledger.units[spec.unit].factor,
            )
    givers = [m for m in members if m.activity.outputs]
    unmatched = rng.sample(givers, min(len(givers), max(3, len(givers) // 30)))
    extra = []
    for owner in unmatched:
        material = rng.choice(list(owner.activity.outputs))
        published = max(
            owner.created_at + timedelta(days=1), NOW - timedelta(days=rng.uniform(3, 200))
        )
        extra.append(
            _listing_row(
                cluster_id,
                owner,
                material,
                "TNE",
                ListingStatus.ACTIVE,
                published,
                rng,
                recurrence=Recurrence.ONE_OFF,
                quantity=Decimal(rng.randint(1, 40)),
                factor=ledger.units["TNE"].factor,
            )
        )
    await _insert(db, Listing, [*listings.values(), *extra])

    total_kg = Decimal(0)
    samples: list[dict[str, Any]] = []
    sampled: set[tuple[str, str]] = set()
    # what impact.record writes beside each entry: the parties of each month, once
    month_parties: set[tuple[uuid.UUID, date, uuid.UUID]] = set()
    for start in range(0, len(specs), 20_000):
        offers, trades, entries = [], [], []
        for spec in specs[start : start + 20_000]:
            listing = listings[(spec.supplier.id, spec.material, spec.unit)]
            offer_id, trade_id = new_id(), new_id()
            at = spec.at
            offers.append(
                {
                    "id": offer_id,
                    "listing_id": listing["id"],
                    "maker_id": spec.taker.id,
                    "owner_id": spec.supplier.id,
                    "created_by_id": spec.taker.user_id,
                    "status": OfferStatus.ACCEPTED,
                    "quantity": spec.quantity,
                    "unit_code": spec.unit,
                    "price_per_unit": spec.price,
                    "currency": CURRENCY,
                    "message": "",
                    "expires_at": at + timedelta(days=4),
                    "rounds": 1,
                    "decided_at": at - timedelta(days=2),
                    "decided_by_id": spec.supplier.user_id,
                    "decline_reason": "",
                    "created_at": at - timedelta(days=3),
                    "updated_at": at - timedelta(days=2),
                    "version": 2,
                }
            )
            trade = {
                "id": trade_id,
                "offer_id": offer_id,
                "listing_id": listing["id"],
                "cluster_id": cluster_id,
                "supplier_id": spec.supplier.id,
                "receiver_id": spec.taker.id,
                "status": TradeStatus.COMPLETED,
                "material_code": spec.material,
                "quantity": spec.quantity,
                "unit_code": spec.unit,
                "price_per_unit": spec.price,
                "currency": CURRENCY,
                "delivered_quantity": spec.quantity,
                "delivered_by_id": spec.supplier.id,
                "distance_km": round(
                    great_circle_km(
                        spec.supplier.lat, spec.supplier.lon, spec.taker.lat, spec.taker.lon
                    ),
                    3,
                ),
                "status_before_dispute": None,
                "created_at": at - timedelta(days=2),
                "updated_at": at,
                "completed_at": at,
                "version": 4,
            }
            trades.append(trade)
            entry = ledger.entry(trade)
            entries.append(entry)
            month = at.astimezone(ZONE).date().replace(day=1)
            month_parties.add((cluster_id, month, spec.supplier.id))
            month_parties.add((cluster_id, month, spec.taker.id))
            if entry["diverted_kg"] is not None:
                total_kg += entry["diverted_kg"]
            kind = (spec.material, spec.unit)
            if check_ledger and (kind not in sampled or rng.random() < 0.0002):
                sampled.add(kind)  # each material and unit once, and a few more
                samples.append(trade)
        await _insert(db, Offer, offers)
        await _insert(db, Trade, trades)
        await _insert(db, ImpactEntry, entries)
    await _insert(
        db,
        MonthParty,
        [{"cluster_id": c, "month": m, "organisation_id": o} for c, m, o in sorted(month_parties)],
    )
    if check_ledger:
        await _check_ledger(db, ledger, samples)
    return Seeded(
        cluster_id,
        slug,
        members,
        len(relationships),
        len(specs),
        len(extra),
        total_kg,
        time.perf_counter() - started,
    )


TABLES = (
    "clusters",
    "users",
    "organisations",
    "memberships",
    "listings",
    "offers",
    "trades",
    "impact_entries",
    "impact_month_parties",
)


async def _settle(db: Database) -> None:
    """Statistics for the planner and, on PostgreSQL, the visibility map (index-only scans):
    what autovacuum does after a load like this one."""
    async with db.engine.connect() as connection:
        if db.dialect == "postgresql":
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for table in TABLES:
                await autocommit.execute(text(f"VACUUM ANALYZE {table}"))
        else:
            await connection.execute(text("ANALYZE"))
            await connection.commit()


# ---------------------------------------------------------------------------------------------
# 2. Calling the product, counting its statements


@contextmanager
def capturing(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    """Every statement the engine sends while the block runs, with its driver parameters."""
    statements: list[tuple[str, Any]] = []

    def listen(_c: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", listen)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", listen)


CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


def _reads_ledger(statements: Sequence[tuple[str, Any]]) -> int:
    return sum(1 for sql, _ in statements if "impact_entries" in sql)


ADMIN = Viewer(
    user_id=uuid.UUID(int=1),
    role=Role.ADMIN,
    organisation_id=None,
    token_id="bench",  # noqa: S106 - not a secret: the bench calls the service directly
)
VIEWERS: dict[Audience, Viewer | Anonymous] = {
    Audience.NAMED: ADMIN,
    Audience.PUBLIC: Anonymous(),
}


async def product_call(
    db: Database, cluster_id: uuid.UUID, audience: Audience
) -> insights.ClusterInsights:
    return await insights.cluster_insights(
        db=db,
        viewer=VIEWERS[audience],
        cluster_id=cluster_id,
        starts_on=date(YEAR, 1, 1),
        ends_on=date(YEAR, 12, 31),
        now=NOW,
    )


@dataclass
class Timing:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)

    def add(self, wall: float, cpu: float, statements: int) -> None:
        self.wall_ms.append(wall)
        self.cpu_ms.append(cpu)
        self.statements.append(statements)

    @property
    def p50(self) -> float:
        return statistics.median(self.wall_ms)

    @property
    def cpu_p50(self) -> float:
        return statistics.median(self.cpu_ms)


async def timed(call: Callable[[], Awaitable[Any]]) -> tuple[Any, float, float]:
    """The call's result, wall ms and this process's CPU ms."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = await call()
    return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


# ---------------------------------------------------------------------------------------------
# 3. The hand-built reference


def _label(sql: str) -> str:
    """Which of the product's statements this is (the reference reads each by position)."""
    s = " ".join(sql.split()).lower()
    if "from clusters" in s:
        return "cluster"
    if "from impact_entries" in s and "group by impact_entries.supplier_id" in s:
        return "pairs"
    if "impact_month_parties" in s or ("impact_entries" in s and " union " in s):
        return "parties_by_month" if "count(" in s else "parties_named"
    if "impact_entries" in s and "case when" in s:
        return "months"
    if "from materials" in s:
        return "materials"
    if "from organisations" in s:
        return "roster" if "organisations.cluster_id =" in s else "roster_elsewhere"
    if "from listings" in s and "group by listings.material_code" in s:
        return "unmatched"
    if "from listings" in s and "count(distinct" in s and "group by" not in s:
        return "unmatched_organisations"
    raise SystemExit(
        f"the reference does not know this statement of the product: {s[:300]}\n"
        "(cluster_insights changed: update scripts/bench_insights.py's reference)"
    )


Plan = list[tuple[str, str, Any]]  # (label, SQL, driver parameters), in the product's order
# Statements the product sends only when the figures call for them.
CONDITIONAL = {
    "parties_named": "sent only when a month has fewer than three organisations",
    "unmatched_organisations": "sent only to the public when a material has fewer than three",
    "roster_elsewhere": "sent only when partners from other clusters traded",
}
WARM_LABELS = ("cluster", "unmatched", "unmatched_organisations")
FOUR_PLACES = Decimal("0.0001")
CURRENCY_COLUMN = [c.name for c in Cluster.__table__.columns].index("currency")
PATH_COLUMN = [c.name for c in Material.__table__.columns].index("path")
TITLES = {spec.code: spec.title for spec in catalogue_reference.activities()}


def plan_of(statements: Sequence[tuple[str, Any]]) -> Plan:
    return [(_label(sql), sql, params) for sql, params in statements if not CONTROL.match(sql)]


def _dec(value: Any) -> Decimal:
    if value is None:
        return Decimal(0)
    return Decimal(str(value)).quantize(FOUR_PLACES)


def _instant(value: Any) -> datetime:
    """A driver's timestamp: aware from asyncpg, a naive UTC string from SQLite."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def _label_of(row: Any) -> tuple[Any, str]:
    """(id or None, label) of a roster row (id, name, kind, subtype, cluster, activity, named,
    created_at)."""
    if row is None:
        return None, "An organisation"
    if row[6]:
        return row[0], row[1]
    title = TITLES.get(row[5]) if row[5] else None
    kind = str(row[2]).lower()
    return None, f"A {kind} in {title.lower()}" if title else f"A {kind} (activity not given)"


class Reference:
    """The cluster's insights by hand: the product's statements through the raw driver, the
    figures with loops over the rows. What it keeps between calls is the same as the product's
    cache keeps (the figures of the year); a warm call sends the same statements as the
    product's and builds the audience's view again, as the product does."""

    def __init__(self, engine: AsyncEngine, plans: dict[Audience, Plan], period: Period) -> None:
        self.engine = engine
        self.plans = plans
        self.period = period
        self.postgres = engine.dialect.name == "postgresql"
        self.kept: dict[str, Any] | None = None
        self.statements = 0

    async def _fetch(self, driver: Any, sql: str, params: Any) -> list[Any]:
        self.statements += 1
        if self.postgres:
            return list(await driver.fetch(sql, *params))
        cursor = await driver.execute(sql, params)
        rows = await cursor.fetchall()
        await cursor.close()
        return list(rows)

    async def _run(self, labels: Sequence[str] | None, audience: Audience) -> dict[str, list[Any]]:
        results: dict[str, list[Any]] = {}
        async with self.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            if not self.postgres:  # the product's reads are BEGIN ... ROLLBACK on SQLite
                self.statements += 1
                await driver.execute("BEGIN")
            for label, sql, params in self.plans[audience]:
                if labels is None or label in labels:
                    results[label] = await self._fetch(driver, sql, params)
            if not self.postgres:
                await driver.rollback()
        return results

    async def cold(self, audience: Audience) -> dict[str, Any]:
        # the collector paused, as the product's cold computation has it (backend/kit/collector.py)
        with cyclic_collector_paused():
            results = await self._run(None, audience)
            self.kept = self._core(results)
            return self._view(self.kept, audience, results)

    async def warm(self, audience: Audience) -> dict[str, Any]:
        assert self.kept is not None
        results = await self._run(WARM_LABELS, audience)
        return self._view(self.kept, audience, results)

    def _core(self, results: dict[str, list[Any]]) -> dict[str, Any]:
        period = self.period
        flows = [
            (supplier, receiver, material, _dec(kg), _dec(co2e), int(trades))
            for supplier, receiver, material, kg, co2e, trades in results["pairs"]
        ]
        months = [
            (
                int(row[0]),
                row[1],
                _dec(row[2]),
                _dec(row[3]),
                _dec(row[4]),
                row[5],
                _dec(row[6]),
                row[7],
                int(row[8]),
            )
            for row in results["months"]
        ]
        organisations_by_month = {int(m): int(n) for m, n in results["parties_by_month"]}
        few: dict[int, set[Any]] = {}
        for month, organisation in results.get("parties_named", []):
            few.setdefault(int(month), set()).add(organisation)
        eco_products = {
            row[0]
            for row in results.get("materials", [])
            if row[PATH_COLUMN].startswith(catalogue_reference.ECO_PRODUCTS)
        }
        members = results["roster"]
        roster = {row[0]: row for row in members}
        for row in results.get("roster_elsewhere", []):
            roster[row[0]] = row
        activity = {key: row[5] for key, row in roster.items()}

        # the network: links as unordered pairs, degrees, kilograms per node
        links: dict[tuple[Any, Any], list[Any]] = {}
        supplied: dict[Any, dict[Any, Decimal]] = {}
        degree: dict[Any, int] = {}
        node_kg: dict[Any, Decimal] = {}
        total = Decimal(0)
        for supplier, receiver, _material, kg, _co2e, trades in flows:
            if supplier == receiver:
                continue
            total += kg
            link = links.get((supplier, receiver)) or links.get((receiver, supplier))
            if link is None:
                links[(supplier, receiver)] = [kg, trades]
                degree[supplier] = degree.get(supplier, 0) + 1
                degree[receiver] = degree.get(receiver, 0) + 1
            else:
                link[0] += kg
                link[1] += trades
            node_kg[supplier] = node_kg.get(supplier, Decimal(0)) + kg
            node_kg[receiver] = node_kg.get(receiver, Decimal(0)) + kg
            if _material not in eco_products:  # eco-products make links, not dependence
                takers = supplied.setdefault(supplier, {})
                takers[receiver] = takers.get(receiver, Decimal(0)) + kg
        n, count = len(degree), len(links)
        density = count / (n * (n - 1)) * 2 if n > 1 and count else 0.0
        centralisation = 0.0
        if n > 2:
            highest = max(degree.values())
            centralisation = sum(highest - d for d in degree.values()) / ((n - 1) * (n - 2))
        # connected components by union-find
        parent = {node: node for node in degree}

        def root(node: Any) -> Any:
            while parent[node] != node:
                parent[node] = parent[parent[node]]
                node = parent[node]
            return node

        horizontal = vertical = unknown = repeat = 0
        for (a, b), (_kg, trades) in links.items():
            ra, rb = root(a), root(b)
            if ra != rb:
                parent[ra] = rb
            first, second = activity.get(a), activity.get(b)
            if first is None or second is None:
                unknown += 1
            elif first == second:
                horizontal += 1
            else:
                vertical += 1
            if trades >= 2:
                repeat += 1
        sizes = Counter(root(node) for node in degree)
        connected = max(sizes.values(), default=0) / n if n else 0.0
        if n < SMALLEST_NETWORK:
            kind = "TOO_SMALL"
        elif centralisation >= ANCHOR_CENTRALISATION:
            kind = "ANCHOR_TENANT_MUTUALISM"
        elif density < COMPLETE_DENSITY or connected < CONNECTED_SHARE:
            kind = "WEAK_COMPLETENESS"
        else:
            kind = "EQUALITY_ORIENTED_MUTUALISM"
        figures = {
            "organisations": n,
            "links": count,
            "density": density,
            "centralisation": centralisation,
            "bilateral_share": sum(1 for d in degree.values() if d == 1) / n if n else 0.0,
            "multilateral_share": sum(1 for d in degree.values() if d >= 3) / n if n else 0.0,
            "horizontal_links": horizontal,
            "vertical_links": vertical,
            "links_of_unknown_activity": unknown,
            "repeat_links": repeat,
            "largest_component_share": connected,
            "type": kind,
        }
        anchors = sorted(
            (
                (node, kg, float(kg / total) if total else 0.0, degree[node])
                for node, kg in node_kg.items()
            ),
            key=lambda a: (-a[1], str(a[0])),
        )
        dependences = []
        for supplier, takers in supplied.items():
            supplied_kg = sum(takers.values(), Decimal(0))
            if supplied_kg <= 0:
                continue
            taker, kg = max(takers.items(), key=lambda item: (item[1], str(item[0])))
            share = kg / supplied_kg
            if share > DEPENDENCE_SHARE:
                dependences.append((supplier, taker, float(share), supplied_kg, len(takers)))
        dependences.sort(key=lambda d: (-d[3], str(d[0])))

        parties = {f[0] for f in flows} | {f[1] for f in flows}
        ends_at = period.ends_at
        isolated = [
            row
            for row in members
            if row[2] != "INSTITUTION" and _instant(row[7]) < ends_at and row[0] not in parties
        ]
        return {
            "currency": results["cluster"][0][CURRENCY_COLUMN],
            "flows": flows,
            "months": months,
            "organisations_by_month": organisations_by_month,
            "few": few,
            "members": members,
            "roster": roster,
            "activity": activity,
            "figures": figures,
            "total_kg": total,
            "anchors": anchors,
            "dependences": dependences,
            "parties": parties,
            "isolated": isolated,
        }

    def _view(
        self, core: dict[str, Any], audience: Audience, results: dict[str, list[Any]]
    ) -> dict[str, Any]:
        public = audience is Audience.PUBLIC
        period = self.period
        roster = core["roster"]
        figures = core["figures"]
        shown = None if public and figures["organisations"] < SMALLEST_CELL else figures

        # members now, at the start, by kind
        ends_at, starts_at = period.ends_at, period.starts_at
        now = [row for row in core["members"] if _instant(row[7]) < ends_at]
        kinds = Counter(str(row[2]) for row in now)
        at_start = sum(1 for row in now if _instant(row[7]) < starts_at)
        members = {
            "total": len(now),
            "firms": kinds["FIRM"],
            "communities": kinds["COMMUNITY"],
            "institutions": kinds["INSTITUTION"],
            "at_start": at_start,
            "joined": len(now) - at_start,
        }

        # flows between activities
        activity = core["activity"]
        bands: dict[tuple[Any, str, Any], list[Any]] = {}
        for supplier, receiver, material, kg, co2e, trades in core["flows"]:
            key = (activity.get(supplier), material, activity.get(receiver))
            band = bands.get(key)
            if band is None:
                band = bands[key] = [Decimal(0), Decimal(0), 0, set()]
            band[0] += kg
            band[1] += co2e
            band[2] += trades
            band[3].add(supplier)
            band[3].add(receiver)
        shown_bands = []
        hidden = [Decimal(0), Decimal(0), 0, set()]
        for key, band in bands.items():
            if public and len(band[3]) < SMALLEST_CELL:
                hidden[0] += band[0]
                hidden[1] += band[1]
                hidden[2] += band[2]
                hidden[3] |= band[3]
                continue
            shown_bands.append((key[0], key[1], key[2], band[0], band[1], band[2], len(band[3])))
        shown_bands.sort(key=lambda b: (-b[3], b[1] or "", b[0] or ""))
        if hidden[3] and shown_bands and len(hidden[3]) < SMALLEST_CELL:
            # complementary suppression: the smallest band shown is hidden with them
            smallest = min(shown_bands, key=lambda b: (b[3], b[5]))
            shown_bands.remove(smallest)
            band = bands[(smallest[0], smallest[1], smallest[2])]
            hidden[0] += band[0]
            hidden[1] += band[1]
            hidden[2] += band[2]
            hidden[3] |= band[3]
        if hidden[3] and len(hidden[3]) >= SMALLEST_CELL:
            shown_bands.append((None, None, None, hidden[0], hidden[1], hidden[2], len(hidden[3])))

        # months and totals
        currency = core["currency"]

        def outcome(rows: list[Any], organisations: int, suppressed: bool) -> dict[str, Any]:
            disposal: dict[str, Decimal] = {}
            paid: dict[str, Decimal] = {}
            for row in rows:
                if row[5]:
                    disposal[row[5]] = disposal.get(row[5], Decimal(0)) + row[4]
                paid[row[7]] = paid.get(row[7], Decimal(0)) + row[6]
            if suppressed:
                return {"kg": Decimal(0), "co2e": Decimal(0), "trades": 0, "suppressed": True}

            def money(amounts: dict[str, Decimal]) -> list[tuple[Decimal, str]]:
                return [
                    (amounts.get(c, Decimal(0)), c)
                    for c in sorted(amounts, key=lambda c: (c != currency, c))
                    if amounts[c] != 0 or c == currency
                ]

            return {
                "kg": sum((row[2] for row in rows), Decimal(0)),
                "co2e": sum((row[3] for row in rows), Decimal(0)),
                "disposal": money(disposal),
                "paid": money(paid),
                "trades": sum(row[8] for row in rows),
                "organisations": organisations,
                "methods": sorted({row[1] for row in rows}),
                "suppressed": False,
            }

        by_month: dict[int, list[Any]] = {}
        for row in core["months"]:
            by_month.setdefault(row[0], []).append(row)
        counts = core["organisations_by_month"]
        hidden_months: set[int] = set()
        if public:  # one or two organisations, and complementary suppression
            hidden_months = {m for m, n in counts.items() if 0 < n < SMALLEST_CELL}
            together: set[Any] = set()
            for m in hidden_months:
                together |= core["few"].get(m, set())
            if hidden_months and len(together) < SMALLEST_CELL:
                shown_months = [m for m, n in counts.items() if n >= SMALLEST_CELL]
                if shown_months:
                    hidden_months.add(min(shown_months, key=lambda m: (counts[m], m)))
        months = [
            (month, outcome(by_month.get(i, []), counts.get(i, 0), i in hidden_months))
            for i, month in enumerate(period.months)
        ]
        parties = len(core["parties"])
        totals = outcome(core["months"], parties, public and parties < SMALLEST_CELL)

        # unmatched offers by material
        unmatched = sorted(
            (
                (code, int(count), int(organisations), _dec(kg), int(without))
                for code, count, organisations, kg, without in results["unmatched"]
            ),
            key=lambda u: (-u[3], -u[1], u[0]),
        )
        hidden_organisations = 0
        if "unmatched_organisations" in results:
            hidden_organisations = int(results["unmatched_organisations"][0][0] or 0)
        unmatched_rows = []
        hidden_rows = []
        for row in unmatched:
            if public and row[2] < SMALLEST_CELL:
                hidden_rows.append(row)
            else:
                unmatched_rows.append(row)
        if hidden_rows and hidden_organisations >= SMALLEST_CELL:
            unmatched_rows.append(
                (
                    None,
                    sum(r[1] for r in hidden_rows),
                    hidden_organisations,
                    sum((r[3] for r in hidden_rows), Decimal(0)),
                    sum(r[4] for r in hidden_rows),
                )
            )

        anchors: list[tuple[Any, ...]] = []
        dependences: list[tuple[Any, ...]] = []
        if not public:
            anchors = [
                (*_label_of(roster.get(node)), kg, share, partners)
                for node, kg, share, partners in core["anchors"][: insights.LISTED_ORGANISATIONS]
            ]
            dependences = [
                (_label_of(roster.get(s)), _label_of(roster.get(t)), share, kg, takers)
                for s, t, share, kg, takers in core["dependences"][: insights.LISTED_ORGANISATIONS]
            ]
        return {
            "network": shown,
            "total_kg": core["total_kg"],
            "members": members,
            "flows": shown_bands,
            "months": months,
            "totals": totals,
            "unmatched": unmatched_rows,
            "anchors": anchors,
            "dependences": dependences,
            "isolated": len(core["isolated"]),
            "dependent_suppliers": len(core["dependences"]) if shown else None,
        }


def _figures_of_product(result: insights.ClusterInsights) -> dict[str, Any]:
    network = result._core.network
    return {
        "organisations": network.figures.organisations,
        "links": network.figures.links,
        "density": network.figures.density,
        "centralisation": network.figures.centralisation,
        "bilateral share": network.figures.bilateral_share,
        "multilateral share": network.figures.multilateral_share,
        "horizontal links": network.figures.horizontal_links,
        "vertical links": network.figures.vertical_links,
        "repeat links": network.figures.repeat_links,
        "largest component share": network.figures.largest_component_share,
        "type": network.figures.type.value,
        "network total kg": network.total_kg,
        "total kg": result.totals.kg,
        "total co2e kg": result.totals.co2e_kg,
        "trades": result.totals.trades,
        "members": result.members.total,
        "joined": result.members.joined,
        "isolated": result.isolated_members,
        "dependent suppliers": result.dependent_suppliers,
        "activity flows": [(f.supplier_activity, f.material_code, f.kg) for f in result.flows],
        "months kg": [m.outcomes.kg for m in result.months],
        "disposal cost avoided": [
            (m.amount, m.currency) for m in result.totals.disposal_cost_avoided
        ],
        "paid to suppliers": [(m.amount, m.currency) for m in result.totals.paid_to_suppliers],
        "unmatched": [(u.material_code, u.listings, u.kg) for u in result.unmatched_by_material],
        "anchors": [
            (a.organisation.id, a.organisation.label, a.kg, a.partners) for a in result.anchors
        ],
        "dependences": [
            (d.supplier.label, d.taker.label, d.supplied_kg) for d in result.dependences
        ],
    }


def _figures_of_reference(view: dict[str, Any]) -> dict[str, Any]:
    figures = view["network"] or {}
    totals = view["totals"]

    def uid(value: Any) -> uuid.UUID | None:
        return None if value is None else uuid.UUID(str(value))

    return {
        "organisations": figures.get("organisations"),
        "links": figures.get("links"),
        "density": figures.get("density"),
        "centralisation": figures.get("centralisation"),
        "bilateral share": figures.get("bilateral_share"),
        "multilateral share": figures.get("multilateral_share"),
        "horizontal links": figures.get("horizontal_links"),
        "vertical links": figures.get("vertical_links"),
        "repeat links": figures.get("repeat_links"),
        "largest component share": figures.get("largest_component_share"),
        "type": figures.get("type"),
        "network total kg": view["total_kg"],
        "total kg": totals["kg"],
        "total co2e kg": totals["co2e"],
        "trades": totals["trades"],
        "members": view["members"]["total"],
        "joined": view["members"]["joined"],
        "isolated": view["isolated"],
        "dependent suppliers": view["dependent_suppliers"],
        "activity flows": [(b[0], b[1], b[3]) for b in view["flows"]],
        "months kg": [m[1]["kg"] for m in view["months"]],
        "disposal cost avoided": totals.get("disposal", []),
        "paid to suppliers": totals.get("paid", []),
        "unmatched": [(u[0], u[1], u[3]) for u in view["unmatched"]],
        "anchors": [(uid(a[0]), a[1], a[2], a[4]) for a in view["anchors"]],
        "dependences": [(d[0][1], d[1][1], d[3]) for d in view["dependences"]],
    }


FLOATS = {
    "density",
    "centralisation",
    "bilateral share",
    "multilateral share",
    "largest component share",
}


def check_equal(
    product: insights.ClusterInsights, view: dict[str, Any], audience: Audience
) -> None:
    """Stops unless the reference's figures are the product's (floats to 1e-9: a sum of the
    same terms in another order)."""
    mine, theirs = _figures_of_product(product), _figures_of_reference(view)
    if audience is Audience.PUBLIC and product.network is None:
        for name in [*FLOATS, "organisations", "links", "type"]:
            mine.pop(name), theirs.pop(name)
    differences = []
    for name, value in mine.items():
        other = theirs[name]
        if name in FLOATS:
            same = abs(value - other) <= 1e-9 * max(1.0, abs(value))
        else:
            same = value == other
        if not same:
            differences.append(
                f"  {name}: product {str(value)[:300]} / reference {str(other)[:300]}"
            )
    if differences:
        raise SystemExit(
            f"MISMATCH: the reference's figures differ from the product's ({audience.value}):\n"
            + "\n".join(differences)
        )


# ---------------------------------------------------------------------------------------------
# 4. Measuring


@dataclass
class Row:
    audience: Audience
    state: str
    product: Timing
    reference: Timing


async def measure(
    db: Database,
    reference: Reference,
    cluster_id: uuid.UUID,
    audience: Audience,
    cold_rounds: int,
    warm_rounds: int,
) -> list[Row]:
    cache = cache_for(db)
    cold = Row(audience, "cold", Timing(), Timing())
    for _ in range(cold_rounds):  # interleaved: product, reference, product ...
        cache.clear()
        with capturing(db.engine) as statements:
            _, wall, cpu = await timed(lambda: product_call(db, cluster_id, audience))
        cold.product.add(wall, cpu, len(statements))
        before = reference.statements
        _, wall, cpu = await timed(lambda: reference.cold(audience))
        cold.reference.add(wall, cpu, reference.statements - before)
    warm = Row(audience, "warm", Timing(), Timing())
    await product_call(db, cluster_id, audience)  # kept
    for _ in range(warm_rounds):
        with capturing(db.engine) as statements:
            _, wall, cpu = await timed(lambda: product_call(db, cluster_id, audience))
        if _reads_ledger(statements):
            raise SystemExit("a warm call read impact_entries: the cache did not keep the core")
        warm.product.add(wall, cpu, len(statements))
        before = reference.statements
        _, wall, cpu = await timed(lambda: reference.warm(audience))
        warm.reference.add(wall, cpu, reference.statements - before)
    return [cold, warm]


def _ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def print_table(dialect: str, heading: str, rows: list[Row]) -> None:
    print(f"\n{dialect}: {heading}")
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores)")
    head = (
        f"{'view':<7}{'call':<18}{'stmts':>5} | {'p50 ms':>9} {'min ms':>9} {'cpu ms':>9} | "
        f"{'p50 ms':>9} {'min ms':>9} {'cpu ms':>9} | {'prod/ref p50':>12} {'cpu':>6}"
    )
    print(f"{'':<30} | {'product':<29} | {'reference':<29} |")
    print(head)
    print("-" * len(head))
    for row in rows:
        p, r = row.product, row.reference
        call = f"{row.state} ({len(p.wall_ms)} rounds)"
        print(
            f"{row.audience.value:<7}{call:<18}{max(p.statements):>5} | {p.p50:>9.2f} "
            f"{min(p.wall_ms):>9.2f} {p.cpu_p50:>9.2f} | {r.p50:>9.2f} {min(r.wall_ms):>9.2f} "
            f"{r.cpu_p50:>9.2f} | {_ratio(p.p50, r.p50):>12.2f} "
            f"{_ratio(p.cpu_p50, r.cpu_p50):>6.2f}"
        )
    print(
        "(stmts: SQL statements per product call, SQLite's BEGINs included; cpu: this process's "
        "CPU per call, p50)"
    )


@dataclass(frozen=True)
class Alone:
    label: str
    wall_ms: float
    cpu_ms: float  # this process's: the driver decoding the rows
    rows: int


async def sql_alone(
    engine: AsyncEngine, plan: Plan, rounds: int, settings: Sequence[str] = ()
) -> list[Alone]:
    """Each statement of the plan through the raw driver, after ``settings`` (PostgreSQL SETs,
    reset afterwards): p50 wall and CPU ms, and rows."""
    postgres = engine.dialect.name == "postgresql"
    timings: list[Alone] = []
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        for setting in settings:
            await driver.execute(setting)
        for label, sql, params in plan:
            walls, cpus, count = [], [], 0
            for _ in range(rounds):
                cpu, started = time.process_time(), time.perf_counter()
                if postgres:
                    rows = await driver.fetch(sql, *params)
                else:
                    cursor = await driver.execute(sql, params)
                    rows = await cursor.fetchall()
                    await cursor.close()
                walls.append((time.perf_counter() - started) * 1000)
                cpus.append((time.process_time() - cpu) * 1000)
                count = len(rows)
            timings.append(Alone(label, statistics.median(walls), statistics.median(cpus), count))
        if settings:
            await driver.execute("RESET ALL")
        if not postgres:
            await driver.rollback()
    return timings


def print_sql_alone(what: str, timings: list[Alone], product_cold_ms: float | None) -> None:
    total = sum(t.wall_ms for t in timings)
    parts = ", ".join(
        f"{t.label} {t.wall_ms:.1f}/{t.cpu_ms:.1f} ms ({t.rows:,} rows)" for t in timings
    )
    share = ""
    if product_cold_ms:
        share = (
            f" of the product's cold p50 {product_cold_ms:.1f} ms "
            f"({_ratio(total, product_cold_ms) * 100:.0f} %)"
        )
    print(f"SQL alone ({what}; wall/cpu p50): {parts}; together {total:.1f} ms{share}")


async def concurrently(engine: AsyncEngine, plan: Plan, rounds: int) -> float:
    """The cold call's statements sent at once, each on its own connection (opened once,
    before timing): p50 wall ms."""
    postgres = engine.dialect.name == "postgresql"

    async def one(driver: Any, sql: str, params: Any) -> None:
        if postgres:
            await driver.fetch(sql, *params)
        else:
            cursor = await driver.execute(sql, params)
            await cursor.fetchall()
            await cursor.close()
            await driver.rollback()

    samples = []
    async with AsyncExitStack() as stack:
        drivers = []
        for _ in plan:
            connection = await stack.enter_async_context(engine.connect())
            drivers.append((await connection.get_raw_connection()).driver_connection)
        for _ in range(rounds):
            started = time.perf_counter()
            await asyncio.gather(
                *(
                    one(driver, sql, params)
                    for driver, (_, sql, params) in zip(drivers, plan, strict=True)
                )
            )
            samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def explain(engine: AsyncEngine, plan: Plan) -> None:
    postgres = engine.dialect.name == "postgresql"
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        for label, sql, params in plan:
            if postgres:
                lines = [
                    r[0] for r in await driver.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *params)
                ]
            else:
                cursor = await driver.execute("EXPLAIN QUERY PLAN " + sql, params)
                lines = [str(r[3]) for r in await cursor.fetchall()]
                await cursor.close()
            print(f"--- plan of {label}:")
            for line in lines:
                print(f"    {line}")
        if not postgres:
            await driver.rollback()


INDEXES = {
    "postgresql": [
        "CREATE INDEX bench_impact_entries_covering ON impact_entries (cluster_id, recorded_at) "
        "INCLUDE (supplier_id, receiver_id, material_code, diverted_kg, co2e_avoided_kg, "
        "method_version, disposal_cost_avoided, currency, quantity, trade_id)",
        "CREATE INDEX bench_trades_prices ON trades (id) INCLUDE (price_per_unit, currency)",
    ],
    "sqlite": [
        "CREATE INDEX bench_impact_entries_covering ON impact_entries (cluster_id, recorded_at, "
        "supplier_id, receiver_id, material_code, diverted_kg, co2e_avoided_kg, method_version, "
        "disposal_cost_avoided, currency, quantity, trade_id)",
        "CREATE INDEX bench_trades_prices ON trades (id, price_per_unit, currency)",
    ],
}


async def try_indexes(db: Database) -> list[str]:
    """The covering indexes, made outside ``Database.write`` (DDL there marks every table
    written); then the statistics and the visibility map again."""
    statements = INDEXES[db.dialect]
    async with db.engine.connect() as connection:
        for statement in statements:
            await connection.execute(text(statement))
        await connection.commit()
    await _settle(db)
    return statements


# ---------------------------------------------------------------------------------------------
# Where a cold call's time goes, and alternatives measured beside it (--try-sql)


@dataclass
class Stage:
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall_ms.append(wall)
        self.cpu_ms.append(cpu)

    def line(self) -> str:
        return f"{statistics.median(self.wall_ms):8.1f} {statistics.median(self.cpu_ms):8.1f}"

    def pair(self) -> str:
        return f"{statistics.median(self.wall_ms):.1f}/{statistics.median(self.cpu_ms):.1f}"


def _timed_sync(call: Callable[[], Any]) -> tuple[Any, float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    result = call()
    return result, (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000


async def stages(db: Database, cluster_id: uuid.UUID, period: Period, rounds: int) -> None:
    """The product's parts of a cold call one by one (its own functions, called as
    ``_compute_core`` and ``_view`` call them)."""
    cluster = await identity_service.get_cluster(db=db, cluster_id=cluster_id)
    assert cluster is not None
    parts: dict[str, Stage] = defaultdict(Stage)
    for _ in range(rounds):
        with cyclic_collector_paused():  # as in the product's cold computation
            await _stage_round(db, cluster, cluster_id, period, parts)
    print(f"\nthe parts of a cold call, one by one (p50 of {rounds}):")
    print(f"  {'part':<44} {'wall ms':>8} {'cpu ms':>8}")
    for name, stage in parts.items():
        print(f"  {name:<44} {stage.line()}")


async def _stage_round(
    db: Database, cluster: Cluster, cluster_id: uuid.UUID, period: Period, parts: dict[str, Stage]
) -> None:
    flows, wall, cpu = await timed(
        lambda: marketplace.pair_flows(
            db=db, cluster_id=cluster_id, starts_at=period.starts_at, ends_at=period.ends_at
        )
    )
    parts["pair_flows (SQL, rows, PairFlow)"].add(wall, cpu)
    _, wall, cpu = await timed(
        lambda: marketplace.monthly_outcomes(
            db=db,
            cluster_id=cluster_id,
            month_starts=period.month_starts,
            ends_at=period.ends_at,
            whole_months=period.whole_months,
        )
    )
    parts["monthly_outcomes (2 statements)"].add(wall, cpu)
    members, wall, cpu = await timed(
        lambda: identity_service.cluster_roster(db=db, cluster_id=cluster_id)
    )
    parts["cluster_roster"].add(wall, cpu)
    activities = {m.id: m.activity_code for m in members}
    eco = await _eco_products(db, flows)
    _, wall, cpu = _timed_sync(lambda f=flows, a=activities, e=eco: network_module.analyse(f, a, e))
    parts["analyse"].add(wall, cpu)
    core = await insights_core._compute_core(db, cluster, period)
    for audience in (Audience.NAMED, Audience.PUBLIC):
        _, wall, cpu = _timed_sync(
            lambda audience=audience, core=core: insights_core._view(
                core, audience, insights.DEFAULT_UNMATCHED_DAYS, []
            )
        )
        parts[f"_view {audience.value} (once per kept core)"].add(wall, cpu)
    _, wall, cpu = await timed(
        lambda: marketplace.unmatched_by_material(
            db=db,
            cluster_id=cluster_id,
            published_before=NOW - timedelta(days=insights.DEFAULT_UNMATCHED_DAYS),
            now=NOW,
        )
    )
    parts["unmatched_by_material (kept a minute)"].add(wall, cpu)


def analyse_summed(
    flows: Sequence[marketplace.PairFlow],
    activities: dict[uuid.UUID, str | None],
    eco_products: Collection[str] = (),
) -> network_module.Network:
    """``network.analyse`` with networkx still, but the links summed in a dict first and the
    graph built with one ``add_edges_from`` (no ``has_edge`` and edge look-up per flow), and
    the degrees read once: a change to network.py, measured here."""
    links: dict[tuple[uuid.UUID, uuid.UUID], list[Any]] = {}
    supplied: dict[uuid.UUID, dict[uuid.UUID, Decimal]] = {}
    total = Decimal(0)
    for flow in flows:
        a, b = flow.supplier_id, flow.receiver_id
        if a == b:
            continue
        total += flow.kg
        link = links.get((a, b)) or links.get((b, a))
        if link is None:
            links[(a, b)] = [flow.kg, flow.trades]
        else:
            link[0] += flow.kg
            link[1] += flow.trades
        if flow.material_code not in eco_products:
            takers = supplied.setdefault(a, {})
            takers[b] = takers.get(b, Decimal(0)) + flow.kg
    graph = nx.Graph()
    graph.add_edges_from((a, b, {"kg": kg, "trades": n}) for (a, b), (kg, n) in links.items())
    n = graph.number_of_nodes()
    count = graph.number_of_edges()
    density = nx.density(graph) if n > 1 else 0.0
    degrees = dict(graph.degree())
    centralisation = 0.0
    if n > 2:
        centrality = nx.degree_centrality(graph)
        highest = max(centrality.values())
        centralisation = sum(highest - value for value in centrality.values()) / (n - 2)
    largest = max((len(c) for c in nx.connected_components(graph)), default=0)
    connected = largest / n if n else 0.0
    horizontal = vertical = unknown = repeat = 0
    for (a, b), (_kg, trades) in links.items():
        first, second = activities.get(a), activities.get(b)
        if first is None or second is None:
            unknown += 1
        elif first == second:
            horizontal += 1
        else:
            vertical += 1
        repeat += trades >= 2
    figures = network_module.NetworkFigures(
        organisations=n,
        links=count,
        density=density,
        centralisation=centralisation,
        bilateral_share=sum(1 for d in degrees.values() if d == 1) / n if n else 0.0,
        multilateral_share=sum(1 for d in degrees.values() if d >= 3) / n if n else 0.0,
        horizontal_links=horizontal,
        vertical_links=vertical,
        links_of_unknown_activity=unknown,
        repeat_links=repeat,
        largest_component_share=connected,
        type=network_module.network_type(n, density, centralisation, connected),
    )
    anchors = [
        network_module.AnchorShare(node, kg, float(kg / total) if total else 0.0, degrees[node])
        for node, kg in graph.degree(weight="kg")
    ]
    anchors.sort(key=lambda a: (-a.kg, str(a.organisation_id)))
    dependences = []
    for supplier, takers in supplied.items():
        supplied_kg = sum(takers.values(), Decimal(0))
        if supplied_kg <= 0:
            continue
        taker, kg = max(takers.items(), key=lambda item: (item[1], str(item[0])))
        share = kg / supplied_kg
        if share > DEPENDENCE_SHARE:
            dependences.append(
                network_module.Dependence(supplier, taker, float(share), supplied_kg, len(takers))
            )
    dependences.sort(key=lambda d: (-d.supplied_kg, str(d.supplier_id)))
    return network_module.Network(figures, anchors, dependences, total)


async def _eco_products(db: Database, flows: Sequence[marketplace.PairFlow]) -> set[str]:
    """The flows' materials that are eco-products, as ``_compute_core`` finds them."""
    materials = await catalogue_service.materials_by_code(
        db=db, codes={flow.material_code for flow in flows}
    )
    return {
        code
        for code, material in materials.items()
        if material.path.startswith(catalogue_reference.ECO_PRODUCTS)
    }


def _pair_statement(cluster_id: uuid.UUID, period: Period) -> Any:
    """pair_flows' statement, as flows.py builds it."""
    return (
        select(
            ImpactEntry.supplier_id,
            ImpactEntry.receiver_id,
            ImpactEntry.material_code,
            func.sum(ImpactEntry.diverted_kg),
            func.sum(ImpactEntry.co2e_avoided_kg),
            func.count(),
        )
        .where(
            ImpactEntry.cluster_id == cluster_id,
            ImpactEntry.recorded_at >= period.starts_at,
            ImpactEntry.recorded_at < period.ends_at,
        )
        .group_by(ImpactEntry.supplier_id, ImpactEntry.receiver_id, ImpactEntry.material_code)
    )


def _decimal4(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value)).quantize(FOUR_PLACES)


async def _pair_flows_core(db: Database, cluster_id: uuid.UUID, period: Period) -> list[Any]:
    """pair_flows with Core rows (a connection's ``execute``, no ORM loading)."""
    async with db.engine.connect() as connection:
        rows = (await connection.execute(_pair_statement(cluster_id, period))).all()
    return [
        marketplace.PairFlow(s, r, m, _decimal4(kg), _decimal4(co2e), int(n))
        for s, r, m, kg, co2e, n in rows
    ]


def _month_case(column: Any, boundaries: Sequence[datetime]) -> Any:
    """flows._month_of over ``column``."""
    whens = [(column < start, index - 1) for index, start in enumerate(boundaries)]
    return case(*whens[1:], else_=len(boundaries) - 1)


def _parties_from_ledger(cluster_id: uuid.UUID, period: Period) -> Any:
    """The distinct organisations per month from the ledger's entries (the product reads the
    whole months from impact_month_parties): UNION ALL, then count(DISTINCT)."""
    t = ImpactEntry.__table__.c
    conditions = (
        t.cluster_id == cluster_id,
        t.recorded_at >= period.month_starts[0],
        t.recorded_at < period.ends_at,
    )
    month = _month_case(t.recorded_at, period.month_starts)
    both = union_all(
        select(month.label("month"), t.supplier_id.label("organisation_id")).where(*conditions),
        select(month.label("month"), t.receiver_id.label("organisation_id")).where(*conditions),
    ).subquery()
    return select(both.c.month, func.count(func.distinct(both.c.organisation_id))).group_by(
        both.c.month
    )


def _same_rows(ours: Sequence[Any], theirs: Sequence[Any]) -> bool:
    """Rows of two statements alike: in the order of their first and text columns, numbers
    equal to 1e-9 (SQLite sums floats in row order, and answers an integer for a sum of
    integral values)."""

    def key(row: Any) -> tuple[str, ...]:
        return (str(row[0]), *(str(v) for v in row[1:] if v is None or isinstance(v, str)))

    if len(ours) != len(theirs):
        return False
    for mine, other in zip(sorted(ours, key=key), sorted(theirs, key=key), strict=True):
        for a, b in zip(mine, other, strict=True):
            numbers = isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal)
            if numbers:
                if not math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-6):
                    return False
            elif str(a) != str(b):
                return False
    return True


async def _core_rows(db: Database, statement: Any, rounds: int) -> tuple[list[Any], float]:
    samples, rows = [], []
    for _ in range(rounds + 1):  # the first compiles the statement: not counted
        async with db.engine.connect() as connection:
            started = time.perf_counter()
            rows = list((await connection.execute(statement)).all())
            samples.append((time.perf_counter() - started) * 1000)
    return rows, statistics.median(samples[1:])


async def try_sql(
    db: Database,
    engine: AsyncEngine,
    plan: Plan,
    cluster_id: uuid.UUID,
    period: Period,
    rounds: int,
) -> None:
    """Changes the lead could make, each measured beside what the product does now."""
    print(f"\nalternatives, measured beside the product (p50 of {rounds}):")
    original = {t.label: t.wall_ms for t in await sql_alone(engine, plan, rounds)}
    print(
        f"  the statements at once, each on its own connection: "
        f"{await concurrently(engine, plan, rounds):.1f} ms against "
        f"{sum(original.values()):.1f} ms one after the other"
    )
    raw_rows = await _raw_rows(engine, plan)

    # 1. Core rows instead of ORM-loaded rows for pair_flows
    orm, core = Stage(), Stage()
    product_flows: list[Any] = []
    core_flows: list[Any] = await _pair_flows_core(db, cluster_id, period)  # compiles it
    for _ in range(rounds):
        product_flows, wall, cpu = await timed(
            lambda: marketplace.pair_flows(
                db=db, cluster_id=cluster_id, starts_at=period.starts_at, ends_at=period.ends_at
            )
        )
        orm.add(wall, cpu)
        core_flows, wall, cpu = await timed(lambda: _pair_flows_core(db, cluster_id, period))
        core.add(wall, cpu)
    same = sorted(map(repr, product_flows)) == sorted(map(repr, core_flows))
    print(
        f"  pair_flows as Core rows (connection.execute, no ORM loading): wall/cpu "
        f"{core.pair()} ms against {orm.pair()} ms now"
        + ("; the same PairFlows" if same else "; DIFFERENT PairFlows")
    )

    # 2. the network with networkx, links summed first
    members = await identity_service.cluster_roster(db=db, cluster_id=cluster_id)
    activities = {m.id: m.activity_code for m in members}
    eco = await _eco_products(db, product_flows)
    now_stage, summed_stage = Stage(), Stage()
    mine = theirs = None
    for _ in range(rounds):
        theirs, wall, cpu = _timed_sync(
            lambda: network_module.analyse(product_flows, activities, eco)
        )
        now_stage.add(wall, cpu)
        mine, wall, cpu = _timed_sync(lambda: analyse_summed(product_flows, activities, eco))
        summed_stage.add(wall, cpu)
    same = mine == theirs
    print(
        f"  analyse with the links summed in a dict first (networkx add_edges_from, degrees "
        f"once): wall/cpu {summed_stage.pair()} ms against {now_stage.pair()} "
        "ms now" + ("; the same Network" if same else "; a DIFFERENT Network")
    )

    # 3. parties by month from the ledger's entries
    rows, ms = await _core_rows(db, _parties_from_ledger(cluster_id, period), rounds)
    same = _same_rows(rows, raw_rows["parties_by_month"])
    print(
        f"  parties_by_month from the ledger's entries (UNION ALL, count(DISTINCT)): "
        f"{ms:.1f} ms against {original['parties_by_month']:.1f} ms now"
        + ("; the same rows" if same else "; DIFFERENT rows")
    )

    if db.dialect == "postgresql":
        await _try_work_mem(engine, plan, rounds, original)


async def _raw_rows(engine: AsyncEngine, plan: Plan) -> dict[str, list[Any]]:
    postgres = engine.dialect.name == "postgresql"
    found: dict[str, list[Any]] = {}
    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        for label, sql, params in plan:
            if postgres:
                found[label] = list(await driver.fetch(sql, *params))
            else:
                cursor = await driver.execute(sql, params)
                found[label] = list(await cursor.fetchall())
                await cursor.close()
        if not postgres:
            await driver.rollback()
    return found


async def _try_work_mem(
    engine: AsyncEngine, plan: Plan, rounds: int, original: dict[str, float]
) -> None:
    """The statements again with more memory for sorts and hashes (PostgreSQL's default
    work_mem, 4MB, made the pairs, months and parties sorts spill to disk)."""
    timings = await sql_alone(engine, plan, rounds, [f"SET work_mem = '{WORK_MEM}'"])
    print(
        f"  the product's statements with work_mem = '{WORK_MEM}' (SET on the connection): "
        + ", ".join(f"{t.label} {t.wall_ms:.1f} ms (now {original[t.label]:.1f})" for t in timings)
    )


WORK_MEM = "64MB"


# ---------------------------------------------------------------------------------------------
# Invalidation: a trade through the marketplace's service


async def trade_through_service(
    db: Database,
    seeded: Seeded,
    at: datetime,
    quantity: Decimal,
    after: Callable[[str], Awaitable[Any]] | None = None,
) -> None:
    """A sawmill's sawdust to a pellet maker of ``seeded``'s cluster, every step through the
    marketplace's service (listing, offer, acceptance, delivery, completion); ``after`` is
    awaited after each step with the step's name."""
    firms = [
        m
        for m in seeded.members
        if m.kind is OrganisationKind.FIRM and m.created_at < at - timedelta(days=1)
    ]
    supplier = next((m for m in firms if "sawdust" in m.activity.outputs), None)
    taker = next((m for m in firms if "sawdust" in m.activity.inputs and m is not supplier), None)
    if supplier is None or taker is None:
        raise LookupError(f"no firm giving and no other firm taking sawdust in {seeded.slug}")
    seller = Viewer(supplier.user_id, Role.FIRM, supplier.id, "bench")
    buyer = Viewer(taker.user_id, Role.FIRM, taker.id, "bench")

    async def step(name: str) -> None:
        if after is not None:
            await after(name)

    listing = await marketplace.create_listing(
        now=at,
        db=db,
        viewer=seller,
        draft=marketplace.ListingDraft(
            kind=ListingKind.OFFER,
            category=ListingCategory.BY_PRODUCT,
            title="Cedar sawdust, dry",
            material_code="sawdust",
            quantity=quantity * 2,
            unit_code="TNE",
            location=Place(supplier.lat, supplier.lon, "Maniwa"),
            price_per_unit=Decimal(3000),
        ),
        publish=True,
    )
    await step("listingCreate (published)")
    offer = await marketplace.create_offer(
        now=at + timedelta(minutes=10),
        db=db,
        viewer=buyer,
        listing_id=listing.id,
        terms=marketplace.Terms(quantity=quantity, price_per_unit=Decimal(3000)),
    )
    await step("offerCreate")
    accepted = await marketplace.accept_offer(
        now=at + timedelta(minutes=20), db=db, viewer=seller, offer_id=offer.id
    )
    trade_id = accepted.trade.trade.id
    await step("offerAccept (an AGREED trade)")
    await marketplace.mark_delivered(
        now=at + timedelta(hours=3),
        db=db,
        viewer=seller,
        trade_id=trade_id,
        delivered_quantity=None,
    )
    await step("tradeMarkDelivered")
    await marketplace.complete_trade(
        now=at + timedelta(hours=4), db=db, viewer=buyer, trade_id=trade_id
    )
    await step("tradeComplete (its impact entry written)")


async def invalidation(db: Database, large: Seeded, small: Seeded) -> None:
    """The NAMED call of the large cluster after each step of a trade through the service, and
    whether it was cold (read impact_entries); then after a trade in the other cluster."""
    cluster_id = large.cluster_id
    kg_before = (await product_call(db, cluster_id, Audience.NAMED)).totals.kg
    quantity = Decimal(4)
    latest: list[insights.ClusterInsights] = []

    async def after(step: str) -> None:
        with capturing(db.engine) as statements:
            result, wall, _ = await timed(lambda: product_call(db, cluster_id, Audience.NAMED))
        latest.append(result)
        reads = _reads_ledger(statements)
        print(
            f"  after {step}: the next NAMED call sent {len(statements)} statements, "
            + (
                f"{reads} reading impact_entries: cold again ({wall:.1f} ms)"
                if reads
                else f"none reading impact_entries: still warm ({wall:.1f} ms)"
            )
        )

    print("invalidation (a trade through the marketplace's service, the year's last weeks):")
    await trade_through_service(db, large, SERVICE_TRADE_AT, quantity, after)
    grown = latest[-1].totals.kg - kg_before
    print(
        f"  the completed trade shows: total diverted {kg_before:,.4f} kg -> "
        f"{latest[-1].totals.kg:,.4f} kg (+{grown:,.4f} kg, {quantity} t)"
    )
    if grown != quantity * 1000:
        raise SystemExit(f"MISMATCH: the completed trade added {grown} kg, not {quantity * 1000}")
    await after("nothing (the same call again)")
    try:
        await trade_through_service(db, small, SERVICE_TRADE_AT, Decimal(1))
    except LookupError as missing:
        print(f"  (no trade in the other cluster: {missing})")
    else:
        await after(f"a trade completed in the other cluster ({small.slug})")


# ---------------------------------------------------------------------------------------------
# py-spy


def _py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


def _frame_name(frame: str) -> str:
    match = FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", str(ROOT) + "/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{match['function']} ({path})"


def summarise_profile(path: str, top: int = 15) -> None:
    own: Counter[str] = Counter()
    within: Counter[str] = Counter()
    total = 0
    with open(path) as samples:
        for line in samples:
            stack, _, count_text = line.rstrip("\n").rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = [_frame_name(f) for f in stack.split(";") if f]
            if not frames:
                continue
            total += count
            own[frames[-1]] += count
            for name in set(frames):
                within[name] += count
    if not total:
        print("py-spy: no samples")
        return
    print(f"py-spy: {total} samples; where the time is spent (self):")
    for name, count in own.most_common(top):
        print(f"  {count / total * 100:5.1f} %  {name}")
    print("py-spy: the product's functions and the libraries' entry points (inclusive):")
    shown = [
        (name, count)
        for name, count in within.most_common()
        if name.split(" (", 1)[-1].startswith("backend/")
        or any(
            key in name
            for key in (
                "networkx/",
                "sqlalchemy/engine/result",
                "sqlalchemy/engine/cursor",
                "asyncpg/",
                "aiosqlite/",
            )
        )
    ]
    for name, count in shown[: top + 10]:
        print(f"  {count / total * 100:5.1f} %  {name}")


async def profile(db: Database, cluster_id: uuid.UUID, rounds: int) -> None:
    spy = _py_spy()
    if spy is None:
        print("py-spy: not installed (.venv/bin/pip install py-spy), no profile")
        return
    output = tempfile.mktemp(suffix=".txt", prefix="bench-insights-profile-")  # noqa: S306
    command = [
        spy,
        "record",
        "--pid",
        str(os.getpid()),
        "--rate",
        "250",
        "--format",
        "raw",
        "--nonblocking",
        "--output",
        output,
    ]
    recorder = subprocess.Popen(  # noqa: S603, ASYNC220 - py-spy from the venv or PATH
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    await asyncio.sleep(1.5)  # it attaches
    cache = cache_for(db)
    for _ in range(rounds):
        cache.clear()
        await product_call(db, cluster_id, Audience.NAMED)
    recorder.send_signal(signal.SIGINT)
    try:
        _, errors = recorder.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        recorder.kill()
        print("py-spy: did not stop, no profile")
        return
    if not Path(output).exists():  # noqa: ASYNC240 - once, after the calls measured
        print(f"py-spy: no profile written ({errors.decode(errors='replace')[-500:]})")
        return
    print(f"\npy-spy over {rounds} cold NAMED calls (raw profile: {output})")
    summarise_profile(output)


# ---------------------------------------------------------------------------------------------


async def _seed(db: Database, settings: Any, args: argparse.Namespace) -> tuple[Seeded, Seeded]:
    rng = random.Random(args.seed)
    if db.dialect == "postgresql":
        await _commits_without_waiting(db)
    password_hash = await Passwords(settings).hash("bench-password-0123")
    ledger = await _ledger(db)
    large = await seed_cluster(
        db, password_hash, "bench-wood", Volumes.of(args.scale), ledger, rng, True
    )
    small = await seed_cluster(
        db,
        password_hash,
        "bench-wood-small",
        Volumes.of(args.scale * SMALL_SCALE),
        ledger,
        rng,
        False,
    )
    started = time.perf_counter()
    await _settle(db)
    settled = time.perf_counter() - started
    for seeded in (large, small):
        print(
            f"{db.dialect}: seeded {seeded.slug}: {len(seeded.members):,} organisations, "
            f"{seeded.trades:,} completed trades of {YEAR} over {seeded.relationships:,} "
            f"supplier-taker-material relationships, {seeded.unmatched} unmatched offers, "
            f"{seeded.kg:,.0f} kg diverted, in {seeded.seconds:.1f} s",
            flush=True,
        )
    print(
        f"{db.dialect}: {'VACUUM ANALYZE' if db.dialect == 'postgresql' else 'ANALYZE'} "
        f"in {settled:.1f} s"
    )
    return large, small


async def run(url: str, settings: Any, args: argparse.Namespace) -> None:
    db = Database(url)
    reference_engine = make_engine(url)
    try:
        large, small = await _seed(db, settings, args)
        cluster_id = large.cluster_id
        cache = cache_for(db)
        period = period_of(
            starts_on=date(YEAR, 1, 1), ends_on=date(YEAR, 12, 31), time_zone=TIME_ZONE, now=NOW
        )

        # The product's statements, captured cold, make the reference's plan; its figures
        # must equal the product's before anything is timed.
        plans: dict[Audience, Plan] = {}
        first: dict[Audience, insights.ClusterInsights] = {}
        for audience in (Audience.NAMED, Audience.PUBLIC):
            cache.clear()
            with capturing(db.engine) as statements:
                first[audience] = await product_call(db, cluster_id, audience)
            plans[audience] = plan_of(statements)
        reference = Reference(reference_engine, plans, period)
        for audience in (Audience.NAMED, Audience.PUBLIC):
            check_equal(first[audience], await reference.cold(audience), audience)
            cache.clear()
            await product_call(db, cluster_id, audience)
            check_equal(
                await product_call(db, cluster_id, audience),
                await reference.warm(audience),
                audience,
            )
        figures = first[Audience.NAMED]._core.network.figures
        print(
            f"equality check: the reference's figures equal the product's, cold and warm, NAMED "
            f"and PUBLIC: {figures.organisations:,} organisations in the network, "
            f"{figures.links:,} links, density {figures.density:.6f}, centralisation "
            f"{figures.centralisation:.4f}, {first[Audience.NAMED].totals.kg:,.4f} kg, "
            f"type {figures.type.value}"
        )

        rows: list[Row] = []
        for audience in (Audience.NAMED, Audience.PUBLIC):
            rows += await measure(
                db, reference, cluster_id, audience, args.rounds, args.warm_rounds
            )
        print_table(
            db.dialect,
            f"cluster_insights for {YEAR}, a cluster of {len(large.members):,} organisations and "
            f"{large.trades:,} trades",
            rows,
        )
        named_cold = rows[0].product.p50
        print_sql_alone(
            "the NAMED cold call's statements through the raw driver, one after the other",
            await sql_alone(reference_engine, plans[Audience.NAMED], args.sql_rounds),
            named_cold,
        )

        # the statement count at another size (statements the product sends only for some data
        # are told apart: they depend on the figures, not on the cluster's size)
        counts, conditional = {}, {}
        for seeded in (large, small):
            cache.clear()
            with capturing(db.engine) as statements:
                await product_call(db, seeded.cluster_id, Audience.NAMED)
            counts[seeded.slug] = len(statements)
            conditional[seeded.slug] = [
                label for label, _, _ in plan_of(statements) if label in CONDITIONAL
            ]
        bounded = {slug: counts[slug] - len(conditional[slug]) for slug in counts}
        same = len(set(bounded.values())) == 1
        told = "the same"
        if same and len(set(counts.values())) > 1:
            extra = sorted({label for labels in conditional.values() for label in labels})
            told += " but for " + ", ".join(f"{label} ({CONDITIONAL[label]})" for label in extra)
        print(
            f"statements per cold NAMED call: {counts[large.slug]} for {len(large.members):,} "
            f"organisations and {large.trades:,} trades, {counts[small.slug]} for "
            f"{len(small.members):,} organisations and {small.trades:,} trades: "
            + (told if same else "DIFFERENT")
        )
        if not same:
            raise SystemExit("the statement count grows with the cluster")

        await stages(db, cluster_id, period, args.stage_rounds)
        if args.explain:
            await explain(reference_engine, plans[Audience.NAMED])
        if args.profile:
            await profile(db, cluster_id, args.profile_rounds)

        if args.try_index:
            made = await try_indexes(db)
            print("\ntried in the scratch database:\n  " + ";\n  ".join(made))
            after = await measure(
                db, reference, cluster_id, Audience.NAMED, args.rounds, min(args.warm_rounds, 20)
            )
            after += await measure(
                db, reference, cluster_id, Audience.PUBLIC, args.rounds, min(args.warm_rounds, 20)
            )
            print_table(db.dialect, "with those indexes", after)
            print(
                f"NAMED cold p50: {named_cold:.1f} ms before, {after[0].product.p50:.1f} ms with "
                f"the indexes; PUBLIC: {rows[2].product.p50:.1f} ms before, "
                f"{after[2].product.p50:.1f} ms with them"
            )
            print_sql_alone(
                "with the indexes",
                await sql_alone(reference_engine, plans[Audience.NAMED], args.sql_rounds),
                after[0].product.p50,
            )
            if db.dialect == "postgresql":
                # the cluster holds nearly all the ledger here, so the planner rightly scans the
                # table; in a ledger of many clusters the index is what it would read
                print_sql_alone(
                    "with the indexes and SET enable_seqscan = off: the index-only plans",
                    await sql_alone(
                        reference_engine,
                        plans[Audience.NAMED],
                        args.sql_rounds,
                        ["SET enable_seqscan = off"],
                    ),
                    None,
                )
            if args.explain:
                await explain(reference_engine, plans[Audience.NAMED])

        if args.try_sql:  # after the indexes: it rewrites every ledger row
            await try_sql(
                db, reference_engine, plans[Audience.NAMED], cluster_id, period, args.sql_rounds
            )

        # last: it adds a trade (the figures above are of the seeded year)
        await invalidation(db, large, small)
    finally:
        await reference_engine.dispose()
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the volumes")
    parser.add_argument("--rounds", type=int, default=7, help="cold calls per view")
    parser.add_argument("--warm-rounds", type=int, default=200, help="warm calls per view")
    parser.add_argument("--sql-rounds", type=int, default=5, help="per statement, SQL alone")
    parser.add_argument("--explain", action="store_true", help="print each statement's plan")
    parser.add_argument(
        "--try-index", action="store_true", help="add covering indexes and measure again"
    )
    parser.add_argument(
        "--try-sql",
        action="store_true",
        help="measure alternative statements and Python beside the product's",
    )
    parser.add_argument("--stage-rounds", type=int, default=5, help="the parts of a cold call")
    parser.add_argument("--profile", action="store_true", help="py-spy over cold calls")
    parser.add_argument("--profile-rounds", type=int, default=10)
    parser.add_argument("--short", action="store_true", help="CI: tiny volumes, few rounds")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--keep", action="store_true", help="keep the scratch PostgreSQL database to inspect"
    )
    args = parser.parse_args()
    if args.short:
        args.scale, args.rounds, args.warm_rounds, args.sql_rounds = 0.002, 2, 5, 1
        args.stage_rounds = 1
    with bench_database(args.database_url, keep=args.keep) as (url, settings):
        asyncio.run(run(url, settings, args))


if __name__ == "__main__":
    main()
