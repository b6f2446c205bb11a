"""The demo's year of trades: each cluster's inter-firm network is the one the brief's Table 1
gives it, every completed trade has the ledger entry the marketplace would have written, the
isolated members and unmatched offers are there for the insights to point at, and loading
again creates nothing."""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from backend import cli
from backend.auth.viewer import Anonymous
from backend.catalogue.models import Activity, ActivityLevel
from backend.demo import CLUSTERS, demo_id, history, ids
from backend.identity.models import Cluster, Organisation, OrganisationKind
from backend.insights.network import NetworkType
from backend.kit.db import Database, utcnow
from backend.kit.pagination import PageRequest
from backend.marketplace import service as marketplace
from backend.marketplace.models import (
    ImpactEntry,
    Listing,
    ListingKind,
    ListingStatus,
    Offer,
    Trade,
    TradeStatus,
    TradeStep,
)
from backend.marketplace.service import impact
from backend.settings import Settings
from tests.demo.figures import cluster_figures

ANCHOR_TENANT = NetworkType.ANCHOR_TENANT_MUTUALISM
EQUALITY_ORIENTED = NetworkType.EQUALITY_ORIENTED_MUTUALISM
WEAK_COMPLETENESS = NetworkType.WEAK_COMPLETENESS

YEAR = timedelta(days=365)
# An OFFER listing with no offer this long after publication is "unmatched" (issue 18).
UNMATCHED_AFTER = timedelta(days=14)


async def _year_of_figures(db: Database) -> dict[str, Any]:
    return await cluster_figures(db, now=utcnow())


async def test_each_cluster_has_the_network_the_brief_gives_it(
    db: Database, settings: Settings
) -> None:
    # Given the demo, when the insights measure each cluster's network of the last year
    await cli._seed_demo(settings, if_empty=False)
    found = await _year_of_figures(db)
    # then (organisations, links, density, centralisation, bilateral share, multilateral
    # share, horizontal share, type) follow Table 1: Hosur's pairs give a sparse network of
    # one-partner firms (weak completeness); Maniwa's mills and processors each trade with
    # three or more, across activities (equality-oriented); Chachoengsao's links are mostly
    # between rice mills (horizontal); An Giang's fillet plant is at the centre of nearly
    # every link (anchor-tenant).
    assert {slug: f.row() for slug, f in found.items()} == {
        "hosur-silk": (16, 9, 0.075, 0.067, 0.875, 0.0, 0.222, WEAK_COMPLETENESS),
        "maniwa-wood": (14, 23, 0.253, 0.333, 0.143, 0.714, 0.043, EQUALITY_ORIENTED),
        "chachoengsao-rice": (10, 16, 0.356, 0.25, 0.0, 0.5, 0.688, EQUALITY_ORIENTED),
        "an-giang-fish": (12, 13, 0.197, 0.964, 0.583, 0.083, 0.231, ANCHOR_TENANT),
    }
    # and every pair traded again and again over the year
    assert {slug: f.repeat_share for slug, f in found.items()} == dict.fromkeys(found, 1.0)
    # and each cluster has an organisation whose loss would take a large share of its diverted
    # kg with it, and suppliers that send more than 80 % of their by-products to one taker
    assert {slug: (f.anchor, f.anchor_share > 0.4) for slug, f in found.items()} == {
        "hosur-silk": ("Mulberry Green Biomass", True),
        "maniwa-wood": ("Maniwa Lumber Mill", True),
        "chachoengsao-rice": ("Bang Pakong Rice Mill", True),
        "an-giang-fish": ("Long Xuyen Pangasius Processing", True),
    }
    assert found["an-giang-fish"].anchor_share > 0.9
    assert {slug: f.dependent_suppliers for slug, f in found.items()} == {
        "hosur-silk": (
            "A firm in preparation and spinning of textile fibres",  # Berigai: not named
            "Bagalur Cottage Reeling Unit",
            "Denkanikottai Mulberry Growers",
            "Hosur Silk Reelers",
            "Hosur Silk Twisting Mill",
            "Kamandoddi Cocoon Farm",
            "Kelamangalam Cocoon Farm",
            "Shoolagiri Silk Reelers",
        ),
        "maniwa-wood": ("Katsuyama Crates", "Katsuyama Pellet Works"),
        "chachoengsao-rice": (
            "A firm in manufacture of grain mill products",  # Sanam Chai Khet: not named
            "Bang Pakong Rice Mill",
            "Khlong Khuean Rice Flour Mill",
            "Phanom Sarakham Poultry Farm",
            "Plaeng Yao Rice Mill",
        ),
        "an-giang-fish": (
            "Binh Duc Filleting Workshop",
            "My Quy Filleting Workshop",
            "My Thanh Filleting Workshop",
        ),
    }


async def test_isolated_members_and_unmatched_offers_have_candidate_takers(
    db: Database, settings: Settings
) -> None:
    # Given the demo
    await cli._seed_demo(settings, if_empty=False)
    now = utcnow()
    key_of = {demo_id("organisation", o.key): o.key for c in CLUSTERS for o in c.organisations}
    async with db.read() as session:
        slug_of = dict((await session.execute(select(Cluster.id, Cluster.slug))).all())
        traded = set(
            (
                await session.scalars(
                    select(ImpactEntry.supplier_id).where(ImpactEntry.recorded_at > now - YEAR)
                )
            ).all()
        ) | set(
            (
                await session.scalars(
                    select(ImpactEntry.receiver_id).where(ImpactEntry.recorded_at > now - YEAR)
                )
            ).all()
        )
        members = (await session.execute(select(Organisation.id, Organisation.cluster_id))).all()
        # active OFFER listings published more than two weeks ago that nobody made an offer on
        unmatched = (
            await session.execute(
                select(Listing.id, Listing.cluster_id, Listing.title).where(
                    Listing.kind == ListingKind.OFFER,
                    Listing.status == ListingStatus.ACTIVE,
                    Listing.expires_at > now,
                    Listing.published_at < now - UNMATCHED_AFTER,
                    ~select(Offer.id).where(Offer.listing_id == Listing.id).exists(),
                )
            )
        ).all()
    # when the members without a completed trade in the year are listed
    isolated: dict[str, set[str]] = defaultdict(set)
    for organisation_id, cluster_id in members:
        if organisation_id not in traded:
            isolated[slug_of[cluster_id]].add(key_of[organisation_id])
    # then each cluster has isolated firms (and its community or institution, which trade
    # little or not at all)
    assert isolated == {
        "hosur-silk": {
            "hosur-weavers",
            "uddanapalli-cocoon-farm",
            "thalli-shg",
            "hosur-research-station",
        },
        "maniwa-wood": {
            "kuse-log-yard",
            "maniwa-furniture",
            "okayama-biomass-lab",
            "maniwa-city-environment",
        },
        "chachoengsao-rice": {
            "bang-khla-straw-bales",
            "khao-hin-son-piggery",
            "bang-khla-coop",
            "provincial-energy-office",
        },
        "an-giang-fish": {
            "cho-moi-fish-processing",
            "my-phuoc-seafood",
            "my-hoa-hung-women",
            "an-giang-university",
            "an-giang-environment",
        },
    }
    # and unmatched offers, each with a candidate taker found by the matching engine
    best: dict[str, list[tuple[str, str]]] = defaultdict(list)
    # (in Python's order of the titles: the databases' collations differ)
    for listing_id, cluster_id, title in sorted(unmatched, key=lambda row: row.title):
        page = await marketplace.listing_matches(
            now=now, db=db, viewer=Anonymous(), listing_id=listing_id, page=PageRequest.of(5, None)
        )
        takers = [m.listing.organisation.name for m in page.items]
        best[slug_of[cluster_id]].append((title, takers[0] if takers else "nobody"))
    assert best == {
        "hosur-silk": [
            ("Dried pupae, an extra lot", "Hosur Pupae Feed Mill"),
            ("Silk thread waste from the looms", "Krishnagiri Spun Silk Works"),
            ("மல்பெரி கிளைகள் - அறுவடைக்குப் பின்", "Mulberry Green Biomass"),
        ],
        "maniwa-wood": [
            ("おがくず 余剰分", "Katsuyama Pellet Works"),
            ("家具工房のヒノキかんなくず", "Katsuyama Pellet Works"),
            ("皮むき後のスギ樹皮", "Maniwa Biomass Power Station"),
        ],
        "chachoengsao-rice": [
            ("ฟางข้าวอัดก้อน", "Bang Nam Priao Biogas Pig Farm"),
            ("มูลสุกรสด", "Bang Nam Priao Biogas Pig Farm"),
            ("รำข้าว ส่วนเกิน", "Phanom Sarakham Poultry Farm"),
        ],
        "an-giang-fish": [
            ("Bùn thải cần xử lý", "Long Xuyen Industrial Wastewater Services"),
            ("Mỡ cá tra dư", "Mekong Biodiesel"),
            ("Đầu xương cá tra - xưởng Chợ Mới", "An Giang Feed Mill"),
        ],
    }


async def test_every_completed_trade_has_the_ledger_entry_the_marketplace_writes(
    db: Database, settings: Settings
) -> None:
    # Given the demo
    await cli._seed_demo(settings, if_empty=False)
    now = utcnow()
    compared = ("cluster_id", "supplier_id", "receiver_id", "material_code", "quantity")
    compared += ("unit_code", "diverted_kg", "co2e_avoided_kg", "disposal_cost_avoided")
    compared += ("currency", "transport_km", "method_version", "factor_material_code")
    compared += ("baseline", "co2e_kg_per_tonne", "co2e_source", "disposal_cost_per_tonne")
    compared += ("disposal_cost_source", "recorded_at")
    async with db.read() as session:
        trades = (
            await session.scalars(select(Trade).where(Trade.status == TradeStatus.COMPLETED))
        ).all()
        entries = {e.trade_id: e for e in (await session.scalars(select(ImpactEntry))).all()}
        entry_count = await session.scalar(select(func.count()).select_from(ImpactEntry))
        steps: dict[uuid.UUID, list[TradeStatus]] = defaultdict(list)
        for trade_id, status in await session.execute(
            select(TradeStep.trade_id, TradeStep.status).order_by(TradeStep.at, TradeStep.status)
        ):
            steps[trade_id].append(status)
        # when each trade's entry is computed again, as completing it computes it
        differences = []
        with session.no_autoflush:
            for trade in trades:
                assert trade.completed_at is not None
                expected = await impact.record(session, trade, trade.completed_at)
                session.expunge(expected)
                entry = entries[trade.id]
                differences += [
                    (trade.id, name, _plain(getattr(entry, name)), _plain(getattr(expected, name)))
                    for name in compared
                    if _plain(getattr(entry, name)) != _plain(getattr(expected, name))
                ]
        counters = dict(
            (await session.execute(select(Organisation.id, Organisation.trades_completed))).all()
        )
        lots = (
            await session.execute(
                select(Listing, func.sum(Trade.quantity), func.count(Trade.id))
                .join(Trade, Trade.listing_id == Listing.id)
                .where(Listing.id.in_(_lot_ids()))
                .group_by(Listing.id)
            )
        ).all()
    # then every completed trade has exactly its entry, equal to the marketplace's
    assert len(trades) == len(entries) == entry_count
    assert differences == []
    # and went AGREED -> IN_TRANSIT -> DELIVERED -> COMPLETED
    assert {tuple(steps[t.id]) for t in trades} == {
        (TradeStatus.AGREED, TradeStatus.IN_TRANSIT, TradeStatus.DELIVERED, TradeStatus.COMPLETED)
    }
    # and the trades of each cluster are spread over the year: every month has some, none
    # more than a sixth
    months: dict[uuid.UUID, Counter[tuple[int, int]]] = defaultdict(Counter)
    for trade in trades:
        assert trade.completed_at is not None
        assert now - YEAR < trade.completed_at <= now
        months[trade.cluster_id][(trade.completed_at.year, trade.completed_at.month)] += 1
    assert len(months) == 4
    for per_month in months.values():
        assert len(per_month) >= 12
        assert max(per_month.values()) <= sum(per_month.values()) / 6
    # and each organisation's trust record counts its completed trades
    counted: Counter[uuid.UUID] = Counter()
    for trade in trades:
        counted.update((trade.supplier_id, trade.receiver_id))
    assert {k: v for k, v in counters.items() if v} == dict(counted)
    # and each lot was taken whole by the trades on it
    assert len(lots) == len(_lot_ids())
    assert [lot.id for lot, taken, count in lots if not _taken_whole(lot, taken, count)] == []


def _taken_whole(lot: Listing, taken: Any, trades: int) -> bool:
    """A lot as the marketplace leaves it once offers took all of it: RESERVED, what was
    committed is what the trades took, one version for each acceptance."""
    quantity, committed = _plain(lot.quantity), _plain(lot.quantity_committed)
    return (
        lot.status is ListingStatus.RESERVED
        and quantity == committed == _plain(taken)
        and lot.version == 1 + trades
    )


def _lot_ids() -> set[uuid.UUID]:
    return {p.lot_id for h in history.HISTORIES for p in history.plan(h)}


def _plain(value: Any) -> Any:
    """A NUMERIC as a decimal of its 4 places (SQLite hands back floats)."""
    if isinstance(value, (float, Decimal)):
        return Decimal(str(value)).quantize(Decimal("0.0001"))
    return value


async def _counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Organisation, Listing, Offer, Trade, TradeStep, ImpactEntry)
        } | {
            "trades_completed": await session.scalar(
                select(func.sum(Organisation.trades_completed))
            )
            or 0
        }


async def test_loading_again_creates_nothing_and_gives_older_demo_organisations_activities(
    db: Database, settings: Settings
) -> None:
    # Given the demo, and three of its organisations as a demo loaded before activities left
    # them (no activity, named)
    await cli._seed_demo(settings, if_empty=False)
    before = await _counts(db)
    older = [demo_id("organisation", key) for key in ("kuse-sawmill", "husk-power", "thalli-shg")]
    async with db.write() as session:
        await session.execute(
            update(Organisation)
            .where(Organisation.id.in_(older))
            .values(activity_code=None, named_in_insights=True)
        )
    # when the demo is loaded again
    again = await cli._seed_demo(settings, if_empty=False)
    # then it creates nothing
    assert "(0 rows created)" in again
    assert await _counts(db) == before
    # and every demo organisation has an ISIC class, one firm per cluster not named in insights
    async with db.read() as session:
        rows = (
            await session.execute(
                select(
                    Cluster.slug,
                    Organisation.id,
                    Organisation.kind,
                    Organisation.named_in_insights,
                    Activity.level,
                )
                .join(Cluster, Cluster.id == Organisation.cluster_id)
                .outerjoin(Activity, Activity.code == Organisation.activity_code)
            )
        ).all()
    assert {level for *_, level in rows} == {ActivityLevel.CLASS}
    unnamed = {(slug, kind) for slug, _, kind, named, _ in rows if not named}
    assert unnamed == {
        (slug, OrganisationKind.FIRM)
        for slug in ("hosur-silk", "maniwa-wood", "chachoengsao-rice", "an-giang-fish")
    }
    assert len([r for r in rows if not r.named_in_insights]) == 4
    assert len(rows) == sum(len(c.organisations) for c in CLUSTERS)


async def test_a_flow_added_to_the_demo_joins_the_lots_already_there(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the demo, and a later version of it where the Hosur reelers also send silk waste
    # to the recyclers
    await cli._seed_demo(settings, if_empty=False)
    before = await _counts(db)
    added = history.Flow(
        "hosur-reelers", "hosur-silk-recyclers", "silk-waste", "100-150 KGM", "150", 12
    )
    hosur, *others = history.HISTORIES
    later = dataclasses.replace(hosur, flows=(*hosur.flows, added))
    new_lots = {p.lot_id for p in history.plan(later)} - {p.lot_id for p in history.plan(hosur)}
    monkeypatch.setattr(history, "HISTORIES", (later, *others))
    # when that version is loaded
    await cli._seed_demo(settings, if_empty=False)
    # then the new flow's twelve trades are there, with their entries and the parties' records
    after = await _counts(db)
    assert {k: after[k] - before[k] for k in after} == {
        "organisations": 0,
        # the reelers listed silk waste every month already: the new trades took part of them
        "listings": 0,
        "offers": 12,
        "trades": 12,
        "trade_steps": 48,
        "impact_entries": 12,
        "trades_completed": 24,
    }
    async with db.read() as session:
        lots = (
            await session.execute(
                select(Listing, func.sum(Trade.quantity), func.count(Trade.id))
                .join(Trade, Trade.listing_id == Listing.id)
                .where(Listing.organisation_id == ids.organisation_id("hosur-reelers"))
                .where(Listing.id.in_(_lot_ids()))
                .group_by(Listing.id)
            )
        ).all()
    # and those lots grew by what the new trades took
    assert new_lots == set()
    assert sum(count for *_, count in lots) == 24
    assert [lot.title for lot, taken, count in lots if not _taken_whole(lot, taken, count)] == []
