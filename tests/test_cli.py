"""The `eic` command's demo loading, schema export and admin creation."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend import cli, demo
from backend.auth.viewer import Role, Viewer
from backend.demo import trades as demo_trades
from backend.events.models import Event, EventRegistration
from backend.forums.models import Forum, Post, Thread
from backend.identity.models import Cluster, Membership, Organisation, User
from backend.kit.db import Database
from backend.marketplace import service as marketplace_service
from backend.marketplace.models import ImpactEntry, Listing, Offer, Review, Trade
from backend.purchasing.models import Pledge, PurchaseGroup
from backend.settings import Settings
from tests.conftest import SIGN_IN, GraphQL

ROOT = Path(__file__).resolve().parent.parent


async def _counts(db: Database) -> dict[str, int]:
    async with db.read() as session:
        return {
            model.__tablename__: await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (
                Cluster,
                Organisation,
                User,
                Membership,
                Listing,
                Event,
                EventRegistration,
                PurchaseGroup,
                Pledge,
                Forum,
                Thread,
                Post,
                Offer,
                Trade,
                ImpactEntry,
                Review,
            )
        }


async def test_seed_demo_loads_the_four_clusters_once(db: Database, settings: Settings) -> None:
    # Given an empty database, when the demo is seeded twice
    first = await cli._seed_demo(settings, if_empty=False)
    after_first = await _counts(db)
    second = await cli._seed_demo(settings, if_empty=False)
    # then the second run creates nothing
    # 213 identity rows, 137 listings (30 templates x 4 and 17 standing ones), 9 events,
    # 5 purchasing groups, 4 forums, the trade history's 387 lots and 431 trades, 10 offers,
    # and issue 19's 58: 2 permits, 11 members, 3 conditions, 16 allocations, a transfer, 23
    # return versions, a waste licence and the hazardous sludge's listing
    assert "1254 rows created" in first
    assert "0 rows created" in second
    assert (
        await _counts(db)
        == after_first
        == {
            "clusters": 4,
            "organisations": 69,
            "users": 70,
            "memberships": 70,
            "listings": 525,
            "events": 9,
            "event_registrations": 13,
            "purchase_groups": 5,
            "pledges": 12,
            "forums": 4,
            "forum_threads": 6,
            "forum_posts": 6,
            "offers": 441,
            "trades": 439,
            "impact_entries": 438,
            "reviews": 10,
        }
    )
    # and --if-empty leaves a database with clusters alone.
    assert "not loaded" in await cli._seed_demo(settings, if_empty=True)
    async with db.read() as session:
        names = (await session.scalars(select(Cluster.name).order_by(Cluster.name))).all()
    assert names == [
        "An Giang Fish Cluster",
        "Chachoengsao Rice Cluster",
        "Hosur Sericulture Cluster",
        "Maniwa Wood Biomass Cluster",
    ]


async def test_demo_accounts_sign_in_with_the_published_password(
    gql: GraphQL, settings: Settings
) -> None:
    # Given the demo data, when a demo firm and the demo admin sign in
    await cli._seed_demo(settings, if_empty=True)
    firm = await gql(
        SIGN_IN,
        {"input": {"email": demo.demo_email("maniwa-lumber"), "password": demo.DEMO_PASSWORD}},
    )
    admin = await gql(
        SIGN_IN,
        {"input": {"email": demo.demo_email("admin"), "password": demo.DEMO_PASSWORD}},
    )
    # then they get tokens for their roles.
    assert firm["data"]["tokenCreate"]["errors"] == []
    assert firm["data"]["tokenCreate"]["role"] == "FIRM"
    assert firm["data"]["tokenCreate"]["organisationId"] == str(
        demo.demo_id("organisation", "maniwa-lumber")
    )
    assert admin["data"]["tokenCreate"]["role"] == "ADMIN"


def test_the_docs_list_every_demo_account_and_the_password() -> None:
    # docs/demo.md lists them all; the README a few of each cluster, and the password
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listing = (ROOT / "docs" / "demo.md").read_text(encoding="utf-8")
    expected = {demo.demo_email(demo.ADMIN_KEY)} | {
        demo.demo_email(o.key) for c in demo.CLUSTERS for o in c.organisations
    }
    assert set(re.findall(r"`([a-z0-9-]+@demo\.eic\.example)`", listing)) == expected
    in_readme = set(re.findall(r"`([a-z0-9-]+@demo\.eic\.example)`", readme))
    assert demo.demo_email(demo.ADMIN_KEY) in in_readme
    assert in_readme <= expected
    assert demo.DEMO_PASSWORD in readme
    assert demo.DEMO_PASSWORD in listing


def test_export_schema_prints_the_committed_sdl(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["export-schema"]) == 0
    assert capsys.readouterr().out == (ROOT / "schema" / "schema.graphql").read_text("utf-8")


async def test_create_admin_creates_then_promotes(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the CLI pointed at the test database
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setenv("EIC_ADMIN_PASSWORD", "a long admin password")
    # when an admin is created twice with the same email, then both succeed and one user exists
    for _ in range(2):
        code = await asyncio.to_thread(
            cli.main, ["create-admin", "--email", "Root@Cluster.example"]
        )
        assert code == 0
    async with db.read() as session:
        users = (await session.scalars(select(User))).all()
    assert [(u.email, u.is_platform_admin) for u in users] == [("root@cluster.example", True)]


async def test_create_admin_refuses_a_short_password(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    monkeypatch.setenv("EIC_ADMIN_PASSWORD", "short")
    code = await asyncio.to_thread(cli.main, ["create-admin", "--email", "root@cluster.example"])
    assert code == 2
    assert "error (password): Use at least 10 characters" in capsys.readouterr().err


async def test_every_demo_cluster_has_a_non_empty_impact_summary(
    db: Database, settings: Settings
) -> None:
    # Given the demo, when each cluster's impact is summed up as a platform admin would
    await cli._seed_demo(settings, if_empty=False)
    admin = Viewer(user_id=uuid.uuid4(), role=Role.ADMIN, organisation_id=None, token_id="t")
    async with db.read() as session:
        clusters = (await session.execute(select(Cluster.slug, Cluster.id))).all()
    totals = {}
    for slug, cluster_id in clusters:
        summary = await marketplace_service.summarise_impact(
            db=db, viewer=admin, cluster_id=cluster_id, organisation_id=None, since=None, until=None
        )
        totals[slug] = (summary.trades_completed, summary.diverted_kg > 0, summary.currency)
    # then every cluster shows its year of completed trades (backend/demo/history.py) and the
    # scenarios' with mass diverted, in its own currency
    assert totals == {
        "hosur-silk": (81, True, "INR"),
        "maniwa-wood": (141, True, "JPY"),
        "chachoengsao-rice": (107, True, "THB"),
        "an-giang-fish": (109, True, "VND"),
    }


async def test_a_demo_scenario_interrupted_half_way_is_finished_by_the_next_run(
    db: Database, settings: Settings
) -> None:
    # Given the demo, and a further scenario a run left AGREED (it stopped after the acceptance)
    await cli._seed_demo(settings, if_empty=False)
    scenario = demo_trades.DemoTrade(
        "resumed-rice-straw",
        "husk-power",
        "bang-khla-coop",
        "ฟางข้าวหลังเก็บเกี่ยว",
        "5",
        "400",
        demo_trades.AGREED,
    )
    members = {
        key: (demo.demo_id("user", key), demo.demo_id("organisation", key), role)
        for key, role in (("husk-power", Role.FIRM), ("bang-khla-coop", Role.COMMUNITY))
    }

    def acting(key: str) -> Viewer:
        user_id, organisation_id, role = members[key]
        return Viewer(user_id=user_id, role=role, organisation_id=organisation_id, token_id="t")

    made = await demo_trades._play(db, scenario, acting("husk-power"), acting("bang-khla-coop"))
    # when the next run plays it to the end
    again = await demo_trades._play(
        db,
        dataclasses.replace(scenario, until=demo_trades.COMPLETED),
        acting("husk-power"),
        acting("bang-khla-coop"),
    )
    # then the same offer's trade is completed, with its ledger entry, and no second offer
    async with db.read() as session:
        offer_id = demo.demo_id("offer", scenario.key)
        statuses = (
            await session.execute(
                select(Offer.status, Trade.status, ImpactEntry.diverted_kg)
                .join(Trade, Trade.offer_id == Offer.id)
                .join(ImpactEntry, ImpactEntry.trade_id == Trade.id)
                .where(Offer.id == offer_id)
            )
        ).all()
    assert (made, again) == (1, 0)
    assert [(o.value, t.value, kg) for o, t, kg in statuses] == [("ACCEPTED", "COMPLETED", 5000)]
