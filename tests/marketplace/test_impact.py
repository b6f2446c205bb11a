"""The impact ledger through the API: the mass a completed trade kept from disposal, the CO2e and
disposal cost avoided by its material's factor (or its nearest ancestor's), the copies of the
factors each entry keeps, and the totals of impactSummary by scope and period."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, update

from backend.catalogue.factors import METHOD_VERSION
from backend.catalogue.models import ImpactFactor
from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.clock import ManualClock
from backend.kit.db import Database, utcnow
from backend.kit.validation import Place
from tests.conftest import GraphQL
from tests.identity.kit import verify
from tests.marketplace.trading_kit import IMPACT, accept, make_offer, publish, trade_step

MATERIAL_CREATE = """
mutation Create($input: MaterialCreateInput!) {
  materialCreate(input: $input) { material { code } errors { code message field } }
}
"""
TRADE_IMPACT = """
query Trade($id: ID!) {
  trade(id: $id) {
    id distanceKm
    impact { divertedKg co2eAvoidedKg disposalCostAvoided currency transportKm methodVersion
             baseline co2eKgPerTonne co2eSource disposalCostPerTonne disposalCostSource
             recordedAt }
  }
}
"""
KUSE = {"lat": 35.0, "lon": 133.72, "placeName": "Kuse"}
LANDFILL = "disposal in an unmanaged landfill or dump"
ILLUSTRATIVE = (
    "Illustrative value for the demo clusters, not a published figure: replace with the "
    "local tipping fee"
)
NO_IMPACT: dict[str, Any] = {
    "divertedKg": "0",
    "co2eAvoidedKg": "0",
    "disposalCostAvoided": "0",
    "currency": "JPY",
    "otherCurrencies": [],
    "tradesCompleted": 0,
    "tradesWithoutMass": 0,
    "transportKm": 0.0,
    "methodVersions": [],
    "byMaterial": [],
}


async def parties(register: Any, cluster_id: str) -> tuple[Any, Any]:
    """A sawmill in Katsuyama and a pellet maker in Kuse, about 10 km apart."""
    sawmill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register(
        "pellets@maniwa.example", cluster_id, name="Katsuyama Pellet Works", location=KUSE
    )
    return sawmill, pellets


async def traded(
    gql: GraphQL, supplier_token: str, taker_token: str, quantity: str, **listing: Any
) -> dict[str, Any]:
    """The supplier offers ``quantity`` (tonnes of shavings unless told otherwise), the taker
    takes all of it, the supplier delivers and the taker completes: the completed trade."""
    published = await publish(gql, supplier_token, quantity=quantity, **listing)
    offer = await make_offer(gql, taker_token, published["id"], quantity=quantity)
    trade = await accept(gql, supplier_token, offer["id"])
    delivered = await trade_step(gql, supplier_token, "tradeMarkDelivered", trade["id"])
    assert delivered["errors"] == [], delivered
    completed = await trade_step(gql, taker_token, "tradeComplete", trade["id"])
    assert completed["errors"] == [], completed
    result: dict[str, Any] = completed["trade"]
    assert result["status"] == "COMPLETED", result
    return result


async def trade_impact(gql: GraphQL, token: str, trade_id: str) -> dict[str, Any]:
    body = await gql(TRADE_IMPACT, {"id": trade_id}, token=token)
    assert "errors" not in body, body
    trade: dict[str, Any] = body["data"]["trade"]
    return trade


async def summary(gql: GraphQL, token: str, **variables: Any) -> dict[str, Any]:
    body = await gql(IMPACT, variables, token=token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["impactSummary"]
    return result


async def summary_errors(gql: GraphQL, token: str, **variables: Any) -> list[tuple[str, Any]]:
    body = await gql(IMPACT, variables, token=token)
    assert body["data"] is None, body
    return [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]]


# ---------------------------------------------------------------------------------------------
# Mass


async def test_a_trade_in_tonnes_is_counted_in_kilograms(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a sawmill and a pellet maker
    sawmill, pellets = await parties(register, cluster_id)

    # when 4 t of shavings change hands
    trade = await traded(gql, sawmill.access_token, pellets.access_token, "4")

    # then the ledger holds 4000 kg, 4 x 2322 kg CO2e and 4 x 25000 JPY, with the sources
    shown = await trade_impact(gql, sawmill.access_token, trade["id"])
    impact = shown["impact"]
    assert impact == {
        "divertedKg": "4000",
        "co2eAvoidedKg": "9288",
        "disposalCostAvoided": "100000",
        "currency": "JPY",
        "transportKm": shown["distanceKm"],
        "methodVersion": METHOD_VERSION,
        "baseline": LANDFILL,
        "co2eKgPerTonne": "2322",
        "co2eSource": impact["co2eSource"],
        "disposalCostPerTonne": "25000",
        "disposalCostSource": ILLUSTRATIVE,
        "recordedAt": impact["recordedAt"],
    }
    # the source states every parameter of the wood factor
    for parameter in ("DOC 0.43 (wood", "DOCf 0.5", "MCF 0.6", "F 0.5", "= 86.00 kg CH4", "27.0"):
        assert parameter in impact["co2eSource"], impact["co2eSource"]


async def test_the_transport_distance_is_the_trades(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a sawmill in Katsuyama and a pellet maker in Kuse
    sawmill, pellets = await parties(register, cluster_id)

    # when they complete a trade
    trade = await traded(gql, sawmill.access_token, pellets.access_token, "4")

    # then the ledger's transport distance is the trade's distance between them
    shown = await trade_impact(gql, pellets.access_token, trade["id"])
    assert 9 < shown["distanceKm"] < 12
    assert shown["impact"]["transportKm"] == shown["distanceKm"] == trade["distanceKm"]
    totals = await summary(gql, pellets.access_token, organisationId=pellets.organisation_id)
    assert totals["transportKm"] == shown["distanceKm"]


async def test_litres_of_fish_fat_are_weighed_by_its_density(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a fish processor and a biodiesel maker
    fishery, biodiesel = await parties(register, cluster_id)

    # when 100 litres of fish fat change hands
    trade = await traded(
        gql,
        fishery.access_token,
        biodiesel.access_token,
        "100",
        materialCode="fish-fat",
        unit="LTR",
    )

    # then 92 kg are counted (0.92 kg per litre), with the food-waste factor of 810 kg CO2e
    # per tonne and 600000 VND per tonne
    impact = (await trade_impact(gql, fishery.access_token, trade["id"]))["impact"]
    assert (impact["divertedKg"], impact["co2eAvoidedKg"], impact["co2eKgPerTonne"]) == (
        "92",
        "74.52",
        "810",
    )
    assert (impact["disposalCostAvoided"], impact["currency"]) == ("55200", "VND")


@pytest.mark.parametrize("unit", ["H87", "BG"])
async def test_a_trade_in_pieces_or_bags_has_no_mass(
    gql: GraphQL, register: Any, cluster_id: str, unit: str
) -> None:
    # Given a sawmill and a pellet maker
    sawmill, pellets = await parties(register, cluster_id)

    # when 4 pieces (or bags) of shavings change hands, and then 2 t
    counted = await traded(gql, sawmill.access_token, pellets.access_token, "4", unit=unit)
    await traded(gql, sawmill.access_token, pellets.access_token, "2")

    # then the first entry has no mass and so no CO2e nor disposal cost
    impact = (await trade_impact(gql, sawmill.access_token, counted["id"]))["impact"]
    assert (
        impact["divertedKg"],
        impact["co2eAvoidedKg"],
        impact["disposalCostAvoided"],
        impact["currency"],
    ) == (None, None, None, None)
    # and the totals count it apart
    totals = await summary(gql, sawmill.access_token, organisationId=sawmill.organisation_id)
    assert totals == {
        **NO_IMPACT,
        "divertedKg": "2000",
        "co2eAvoidedKg": "4644",
        "disposalCostAvoided": "50000",
        "tradesCompleted": 2,
        "tradesWithoutMass": 1,
        "transportKm": totals["transportKm"],
        "methodVersions": [METHOD_VERSION],
        "byMaterial": [
            {
                "materialCode": "wood-shavings",
                "divertedKg": "2000",
                "co2eAvoidedKg": "4644",
                "tradesCompleted": 2,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Factors


def landfill_co2e(doc: str) -> Decimal:
    """kg CO2e per tonne landfilled, IPCC 2006 Vol. 5: 1000 kg x DOC x DOCf 0.5 x MCF 0.6 x
    F 0.5 x 16/12 kg CH4, x GWP100 27 (AR6, non-fossil methane)."""
    methane = Decimal(1000) * Decimal(doc) * Decimal("0.5") * Decimal("0.6") * Decimal("0.5")
    return methane * 16 / 12 * 27


@pytest.mark.parametrize(
    ("material", "co2e_per_tonne", "recomputed", "cost_per_tonne", "currency"),
    [
        ("wood-shavings", "2322", landfill_co2e("0.43"), "25000", "JPY"),
        # open burning: 800 kg burnt x (2.7 g CH4 x 27 + 0.07 g N2O x 273) per kg = 73.608
        ("rice-husk", "73.6", Decimal("73.608"), "400", "THB"),
        ("rice-husk-ash", "0", Decimal(0), "600", "THB"),
        ("silk-waste", "1296", landfill_co2e("0.24"), "2000", "INR"),
    ],
)
async def test_co2e_is_the_tonnes_times_the_materials_factor(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    material: str,
    co2e_per_tonne: str,
    recomputed: Decimal,
    cost_per_tonne: str,
    currency: str,
) -> None:
    # Given a supplier and a receiver
    supplier, receiver = await parties(register, cluster_id)

    # when 2.5 t of the material change hands
    trade = await traded(
        gql, supplier.access_token, receiver.access_token, "2.5", materialCode=material
    )

    # then the factors are the IPCC figures (to 0.1 kg), and CO2e and the disposal cost are
    # 2.5 x the material's factors
    impact = (await trade_impact(gql, supplier.access_token, trade["id"]))["impact"]
    assert (impact["co2eKgPerTonne"], impact["disposalCostPerTonne"]) == (
        co2e_per_tonne,
        cost_per_tonne,
    )
    assert Decimal(co2e_per_tonne) == recomputed.quantize(Decimal("0.1"))
    assert Decimal(impact["co2eAvoidedKg"]) == Decimal("2.5") * Decimal(co2e_per_tonne)
    assert Decimal(impact["disposalCostAvoided"]) == Decimal("2.5") * Decimal(cost_per_tonne)
    assert (impact["divertedKg"], impact["currency"]) == ("2500", currency)


async def test_a_material_without_a_factor_uses_its_nearest_ancestors(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # Given a material a platform admin added under wood shavings
    created = await gql(
        MATERIAL_CREATE,
        {
            "input": {
                "code": "sugi-shavings",
                "parentCode": "wood-shavings",
                "name": "Cedar (sugi) shavings",
            }
        },
        token=platform_admin_token,
    )
    assert created["data"]["materialCreate"]["errors"] == [], created
    sawmill, pellets = await parties(register, cluster_id)

    # when 1 t each of shavings, sugi shavings, "waste bark and cork" (EWC 03 01 01, a factor
    # of its own) and "waste metal" (EWC 02 01 10: no factor, and none up its chapter) change
    # hands
    trades = {
        code: await traded(gql, sawmill.access_token, pellets.access_token, "1", materialCode=code)
        for code in ("wood-shavings", "sugi-shavings", "ewc-03-01-01", "ewc-02-01-10")
    }

    # then sugi shavings take the factors of wood shavings, the bark entry its own wood factor
    # (a CO2e factor, no disposal cost), and waste metal is mass only: a chapter-wide factor
    # would have credited it with landfill methane
    impacts = {
        code: (await trade_impact(gql, sawmill.access_token, trade["id"]))["impact"]
        for code, trade in trades.items()
    }
    shavings = impacts["wood-shavings"]
    assert impacts["sugi-shavings"] == {
        **shavings,
        "recordedAt": impacts["sugi-shavings"]["recordedAt"],
    }
    assert impacts["ewc-03-01-01"] == {
        "divertedKg": "1000",
        "co2eAvoidedKg": "2322",
        "disposalCostAvoided": None,
        "currency": None,
        "transportKm": shavings["transportKm"],
        "methodVersion": METHOD_VERSION,
        "baseline": LANDFILL,
        "co2eKgPerTonne": "2322",
        "co2eSource": shavings["co2eSource"],
        "disposalCostPerTonne": None,
        "disposalCostSource": "",
        "recordedAt": impacts["ewc-03-01-01"]["recordedAt"],
    }
    assert impacts["ewc-02-01-10"] == {
        "divertedKg": "1000",
        "co2eAvoidedKg": None,
        "disposalCostAvoided": None,
        "currency": None,
        "transportKm": shavings["transportKm"],
        "methodVersion": METHOD_VERSION,
        "baseline": "",
        "co2eKgPerTonne": None,
        "co2eSource": "",
        "disposalCostPerTonne": None,
        "disposalCostSource": "",
        "recordedAt": impacts["ewc-02-01-10"]["recordedAt"],
    }


async def test_a_material_without_a_co2e_factor_still_counts_its_mass(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a poultry farm and a biogas plant
    farm, biogas = await parties(register, cluster_id)

    # when 3 t of poultry manure change hands
    trade = await traded(
        gql, farm.access_token, biogas.access_token, "3", materialCode="poultry-manure"
    )

    # then the mass counts, but no CO2e nor disposal cost
    impact = (await trade_impact(gql, farm.access_token, trade["id"]))["impact"]
    assert {key: impact[key] for key in ("divertedKg", "co2eAvoidedKg", "co2eKgPerTonne")} == {
        "divertedKg": "3000",
        "co2eAvoidedKg": None,
        "co2eKgPerTonne": None,
    }
    assert impact["baseline"] == "land spreading without treatment"
    totals = await summary(gql, farm.access_token, organisationId=farm.organisation_id)
    assert totals == {
        **NO_IMPACT,
        "divertedKg": "3000",
        "tradesCompleted": 1,
        "transportKm": totals["transportKm"],
        "methodVersions": [METHOD_VERSION],
        "byMaterial": [
            {
                "materialCode": "poultry-manure",
                "divertedKg": "3000",
                "co2eAvoidedKg": "0",
                "tradesCompleted": 1,
            }
        ],
    }


@pytest.fixture
async def wood_shavings_factor(db: Database) -> AsyncIterator[Decimal]:
    """The CO2e factor of wood shavings, put back after the test changes it (reference data
    outlives each test)."""
    condition = (
        ImpactFactor.material_code == "wood-shavings",
        ImpactFactor.method_version == METHOD_VERSION,
    )
    async with db.read() as session:
        original = await session.scalar(select(ImpactFactor.co2e_kg_per_tonne).where(*condition))
    assert original is not None
    yield original
    async with db.write() as session:
        await session.execute(
            update(ImpactFactor).where(*condition).values(co2e_kg_per_tonne=original)
        )


async def test_entries_keep_the_factors_they_were_recorded_with(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, wood_shavings_factor: Decimal
) -> None:
    # Given a completed trade of 4 t of shavings
    sawmill, pellets = await parties(register, cluster_id)
    first = await traded(gql, sawmill.access_token, pellets.access_token, "4")
    before = await trade_impact(gql, sawmill.access_token, first["id"])

    # when the factor of wood shavings is changed
    assert wood_shavings_factor == Decimal(2322)
    async with db.write() as session:
        await session.execute(
            update(ImpactFactor)
            .where(ImpactFactor.material_code == "wood-shavings")
            .values(co2e_kg_per_tonne=Decimal(1))
        )

    # then the existing entry and the totals keep the old figure
    assert await trade_impact(gql, sawmill.access_token, first["id"]) == before
    assert before["impact"]["co2eAvoidedKg"] == "9288"
    totals = await summary(gql, sawmill.access_token, organisationId=sawmill.organisation_id)
    assert totals["co2eAvoidedKg"] == "9288"

    # and a new trade uses the new figure
    second = await traded(gql, sawmill.access_token, pellets.access_token, "4")
    impact = (await trade_impact(gql, sawmill.access_token, second["id"]))["impact"]
    assert (impact["co2eKgPerTonne"], impact["co2eAvoidedKg"]) == ("1", "4")
    totals = await summary(gql, sawmill.access_token, organisationId=sawmill.organisation_id)
    assert totals["co2eAvoidedKg"] == "9292"


# ---------------------------------------------------------------------------------------------
# Disposal costs and currencies


async def test_costs_in_another_currency_are_totalled_apart(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # Given, in the JPY cluster, a trade of 4 t of shavings (a JPY disposal cost) and one of
    # 100 litres of fish fat (a VND disposal cost)
    sawmill, pellets = await parties(register, cluster_id)
    await traded(gql, sawmill.access_token, pellets.access_token, "4")
    await traded(
        gql, sawmill.access_token, pellets.access_token, "100", materialCode="fish-fat", unit="LTR"
    )

    # when the platform admin reads the cluster's totals
    totals = await summary(gql, platform_admin_token, clusterId=cluster_id)

    # then the JPY costs are added up, and the VND cost is shown apart
    assert totals == {
        "divertedKg": "4092",
        "co2eAvoidedKg": "9362.52",
        "disposalCostAvoided": "100000",
        "currency": "JPY",
        "otherCurrencies": [{"amount": "55200", "currency": "VND"}],
        "tradesCompleted": 2,
        "tradesWithoutMass": 0,
        "transportKm": totals["transportKm"],
        "methodVersions": [METHOD_VERSION],
        "byMaterial": [
            {
                "materialCode": "wood-shavings",
                "divertedKg": "4000",
                "co2eAvoidedKg": "9288",
                "tradesCompleted": 1,
            },
            {
                "materialCode": "fish-fat",
                "divertedKg": "92",
                "co2eAvoidedKg": "74.52",
                "tradesCompleted": 1,
            },
        ],
    }


# ---------------------------------------------------------------------------------------------
# Scopes and periods


async def other_cluster(db: Database) -> str:
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="test-rice",
            name="Test Rice Cluster",
            region="Chachoengsao",
            country="TH",
            sector=Sector.RICE,
            centre=Place(lat=13.69, lon=101.07),
            currency="THB",
            languages=["th"],
            timezone="Asia/Bangkok",
        ),
    )
    return str(cluster.id)


async def test_cluster_totals_cover_the_clusters_trades_only(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, platform_admin_token: str
) -> None:
    # Given a trade of 4 t of shavings in the wood cluster and one of 2 t of rice husk in a
    # rice cluster, and a university of the wood cluster
    sawmill, pellets = await parties(register, cluster_id)
    university = await register(
        "lab@okayama-u.example", cluster_id, name="Okayama University", kind="INSTITUTION"
    )
    await verify(gql, platform_admin_token, university.organisation_id)
    rice_id = await other_cluster(db)
    rice_mill = await register("mill@rice.example", rice_id, name="Rice Mill")
    power = await register("power@rice.example", rice_id, name="Biomass Power")
    await traded(gql, sawmill.access_token, pellets.access_token, "4")
    await traded(gql, rice_mill.access_token, power.access_token, "2", materialCode="rice-husk")

    # when the platform admin and the university read each cluster's totals
    wood = await summary(gql, platform_admin_token, clusterId=cluster_id)
    rice = await summary(gql, university.access_token, clusterId=rice_id)

    # then each counts its own trade, in its own currency
    assert (wood["divertedKg"], wood["disposalCostAvoided"], wood["currency"]) == (
        "4000",
        "100000",
        "JPY",
    )
    assert wood == await summary(gql, university.access_token, clusterId=cluster_id)
    assert rice == {
        **NO_IMPACT,
        "divertedKg": "2000",
        "co2eAvoidedKg": "147.2",
        "disposalCostAvoided": "800",
        "currency": "THB",
        "tradesCompleted": 1,
        "transportKm": rice["transportKm"],
        "methodVersions": [METHOD_VERSION],
        "byMaterial": [
            {
                "materialCode": "rice-husk",
                "divertedKg": "2000",
                "co2eAvoidedKg": "147.2",
                "tradesCompleted": 1,
            }
        ],
    }
    # and the platform admin without a scope sees both
    everything = await summary(gql, platform_admin_token)
    assert (everything["divertedKg"], everything["tradesCompleted"]) == ("6000", 2)


async def test_an_organisation_counts_trades_it_supplied_and_received(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a sawmill that sells 4 t of shavings to a pellet maker, which sells 1 t of sawdust
    # on to a cat-litter maker
    sawmill, pellets = await parties(register, cluster_id)
    litter = await register("litter@maniwa.example", cluster_id, name="Cat Litter Co")
    await traded(gql, sawmill.access_token, pellets.access_token, "4")
    await traded(gql, pellets.access_token, litter.access_token, "1", materialCode="sawdust")

    # when each reads its organisation's totals
    totals = {
        account.email: await summary(
            gql, account.access_token, organisationId=account.organisation_id
        )
        for account in (sawmill, pellets, litter)
    }

    # then the pellet maker counts both trades, the others one each
    assert {email: (t["divertedKg"], t["tradesCompleted"]) for email, t in totals.items()} == {
        sawmill.email: ("4000", 1),
        pellets.email: ("5000", 2),
        litter.email: ("1000", 1),
    }
    assert [m["materialCode"] for m in totals[pellets.email]["byMaterial"]] == [
        "wood-shavings",
        "sawdust",
    ]


async def test_the_period_is_from_included_to_excluded(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # Given a trade completed now (the app's clock)
    sawmill, pellets = await parties(register, cluster_id)
    before = clock.now() - timedelta(minutes=1)
    trade = await traded(gql, sawmill.access_token, pellets.access_token, "4")
    after = clock.now() + timedelta(minutes=1)
    recorded = (await trade_impact(gql, sawmill.access_token, trade["id"]))["impact"]["recordedAt"]
    scope = {"organisationId": sawmill.organisation_id}

    async def diverted(**period: str) -> str:
        found = await summary(gql, sawmill.access_token, **scope, **period)
        kilograms: str = found["divertedKg"]
        return kilograms

    # when the totals are read over periods around it, then only those holding it count it
    assert await diverted(**{"from": before.isoformat(), "to": after.isoformat()}) == "4000"
    assert await diverted(**{"from": before.isoformat()}) == "4000"
    assert await diverted(to=after.isoformat()) == "4000"
    assert await diverted(**{"from": after.isoformat()}) == "0"
    assert await diverted(to=before.isoformat()) == "0"
    # the moment of completion is in a period starting then, and not in one ending then
    assert await diverted(**{"from": recorded}) == "4000"
    assert await diverted(to=recorded) == "0"
    # and times with another offset mean the same moments
    tokyo = timezone(timedelta(hours=9))
    assert await diverted(to=after.astimezone(tokyo).isoformat()) == "4000"
    assert await diverted(**{"from": after.astimezone(tokyo).isoformat()}) == "0"


async def test_summaries_that_cannot_be_answered_are_refused(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # Given a sawmill and a pellet maker
    sawmill, pellets = await parties(register, cluster_id)
    now = utcnow()
    own = {"organisationId": sawmill.organisation_id}

    # when the period ends before (or when) it starts, then it is refused
    for to in (now, now - timedelta(hours=1)):
        assert await summary_errors(
            gql, sawmill.access_token, **own, **{"from": now.isoformat(), "to": to.isoformat()}
        ) == [("VALIDATION", "to")]
    # times without an offset are refused
    naive = now.replace(tzinfo=None).isoformat()
    assert await summary_errors(gql, sawmill.access_token, **own, **{"from": naive}) == [
        ("VALIDATION", "from")
    ]
    # a firm must name its organisation
    assert await summary_errors(gql, sawmill.access_token) == [("VALIDATION", "clusterId")]
    # and may not read another organisation's or a cluster's totals
    assert await summary_errors(
        gql, sawmill.access_token, organisationId=pellets.organisation_id
    ) == [("FORBIDDEN", "organisationId")]
    assert await summary_errors(gql, sawmill.access_token, clusterId=cluster_id) == [
        ("FORBIDDEN", "organisationId")
    ]
    # an unknown cluster is not found
    unknown = "00000000-0000-4000-8000-000000000000"
    assert await summary_errors(gql, platform_admin_token, clusterId=unknown) == [
        ("NOT_FOUND", "clusterId")
    ]
    assert await summary_errors(gql, platform_admin_token, organisationId=unknown) == [
        ("NOT_FOUND", "organisationId")
    ]
    # and an organisation with nothing completed has zero totals in its cluster's currency
    assert await summary(gql, sawmill.access_token, **own) == NO_IMPACT


async def test_many_small_quantities_add_up_exactly(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given seven trades of 0.1 t of shavings
    sawmill, pellets = await parties(register, cluster_id)
    for _ in range(7):
        await traded(gql, sawmill.access_token, pellets.access_token, "0.1")

    # when the totals are read
    totals = await summary(gql, pellets.access_token, organisationId=pellets.organisation_id)

    # then the decimal sums are exact: 700 kg, 7 x 232.2 kg CO2e, 7 x 2500 JPY
    assert (
        totals["divertedKg"],
        totals["co2eAvoidedKg"],
        totals["disposalCostAvoided"],
        totals["tradesCompleted"],
    ) == ("700", "1625.4", "17500", 7)
    assert totals["byMaterial"] == [
        {
            "materialCode": "wood-shavings",
            "divertedKg": "700",
            "co2eAvoidedKg": "1625.4",
            "tradesCompleted": 7,
        }
    ]
