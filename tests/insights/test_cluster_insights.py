"""clusterInsights and clusterComparison through the API: the figures of a network built by
hand, who sees names, small-cell suppression, periods, and what it costs in statements."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from backend.identity.models import OrganisationKind
from backend.insights.cache import cache_for
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.marketplace.models import ListingKind
from tests.conftest import GraphQL, StatementLog, count_statements
from tests.forums import kit as forums
from tests.identity.kit import second_cluster, verify
from tests.insights.builders import TradeWorld
from tests.kit import app_operation
from tests.marketplace.trading_kit import completed_trade, make_offer, publish

CLUSTER_INSIGHTS = app_operation("ClusterInsights")
UNMATCHED = app_operation("InsightsUnmatchedOffers")
ISOLATED = app_operation("InsightsIsolatedMembers")
COMPARISON = app_operation("ClusterComparison")
UNVERIFY = """
mutation Unverify($input: OrganisationUnverifyInput!) {
  organisationUnverify(input: $input) { errors { code } }
}
"""

# The clock stands at 2027-03-01 00:00 UTC (09:00 in Tokyo): the default period is April 2026
# to March 2027.
JUNE = datetime(2026, 6, 10, 3, 0, tzinfo=UTC)
NAMES = ["Hub Pellets", "Mill A", "Mill B", "Cat Sand Works", "Rice Farm", "Quiet Firm"]


def at(month: int, day: int = 10, year: int = 2026) -> datetime:
    return datetime(year, month, day, 3, 0, tzinfo=UTC)


async def star_and_pair(db: Database, cluster_id: str, created_at: datetime) -> TradeWorld:
    """A pellet maker taking from two mills and supplying a cat-sand maker (a star), and a
    pair apart: a rice farm supplying a firm that opted out of being named; one member firm
    never traded, and a university (institutions are never "isolated")."""
    world = TradeWorld(db, uuid.UUID(cluster_id), created_at)
    await world.organisation("Hub Pellets", activity="1629")
    await world.organisation("Mill A", activity="1610")
    await world.organisation("Mill B", activity="1610")
    await world.organisation("Cat Sand Works", activity="1629")
    await world.organisation("Rice Farm", activity="0112")
    await world.organisation("Hidden Buyer", named=False)
    await world.organisation("Quiet Firm", activity="1610")
    await world.organisation("Okayama University", kind=OrganisationKind.INSTITUTION)
    await world.trade("Mill A", "Hub Pellets", at=at(6), kg="2000")
    await world.trade("Mill A", "Hub Pellets", at=at(7), kg="2000")
    await world.trade("Mill B", "Hub Pellets", at=at(6, 15), kg="1000")
    await world.trade("Hub Pellets", "Cat Sand Works", at=at(8), kg="500")
    await world.trade("Rice Farm", "Hidden Buyer", at=at(9), kg="300")
    return world


def named(world: TradeWorld, name: str, activity: tuple[str, str] | None) -> dict[str, Any]:
    return {
        "id": str(world.names[name]),
        "name": name,
        "label": name,
        "kind": "FIRM",
        "activity": {"code": activity[0], "title": activity[1]} if activity else None,
    }


PELLETS = (
    "1629",
    "Manufacture of other products of wood; manufacture of articles of cork, straw and "
    "plaiting materials",
)
SAWMILL = ("1610", "Sawmilling and planing of wood")
RICE = ("0112", "Growing of rice")
HIDDEN = {
    "id": None,
    "name": None,
    "label": "A firm (activity not given)",
    "kind": "FIRM",
    "activity": None,
}


async def insights(gql: GraphQL, cluster_id: str, token: str | None = None, **more: Any) -> Any:
    body = await gql(CLUSTER_INSIGHTS, {"clusterId": cluster_id, **more}, token=token or "")
    assert "errors" not in body, body
    return body["data"]["clusterInsights"]


@pytest.fixture
def created_at() -> datetime:
    return datetime(2026, 1, 5, tzinfo=UTC)


async def test_the_network_of_a_star_and_a_pair_as_a_platform_admin_sees_it(
    db: Database, gql: GraphQL, cluster_id: str, platform_admin_token: str, created_at: datetime
) -> None:
    # Given a star of four and a pair apart, over the default twelve months
    world = await star_and_pair(db, cluster_id, created_at)

    # when a platform admin reads the cluster's insights
    answer = await insights(gql, cluster_id, platform_admin_token)

    # then the network's figures are those of the definitions, worked by hand: six
    # organisations, four links (A-Hub twice), the hub with three partners
    assert answer["audience"] == "NAMED"
    assert (answer["from"], answer["to"], answer["timeZone"]) == (
        "2026-04-01",
        "2027-03-01",
        "Asia/Tokyo",
    )
    assert answer["members"] == {
        "total": 8,
        "firms": 7,
        "communities": 0,
        "institutions": 1,
        "atStart": 8,
        "joined": 0,
        "growth": 0.0,
    }
    assert answer["network"] == {
        "organisations": 6,
        "links": 4,
        "density": pytest.approx(8 / 30),
        "centralisation": pytest.approx(0.5),  # (3-1) x 5 / (5 x 4)
        "bilateralShare": pytest.approx(5 / 6),
        "multilateralShare": pytest.approx(1 / 6),
        "horizontalLinks": 1,  # hub - cat sand (1629 both)
        "verticalLinks": 2,  # the mills to the hub
        "linksOfUnknownActivity": 1,  # the pair: the hidden buyer gave no activity
        "repeatLinks": 1,
        "largestComponentShare": pytest.approx(4 / 6),
        "type": "ANCHOR_TENANT_MUTUALISM",
    }
    # the hub carries 5,500 of the 5,800 kg; the opted-out firm has no name nor id
    anchors = [(a["organisation"]["label"], a["kg"], a["partners"]) for a in answer["anchors"]]
    assert anchors[:4] == [
        ("Hub Pellets", "5500", 3),
        ("Mill A", "4000", 1),
        ("Mill B", "1000", 1),
        ("Cat Sand Works", "500", 1),
    ]
    # (the pair's two ends carry as much: they come in the order of their ids)
    assert sorted(anchors[4:]) == [
        ("A firm (activity not given)", "300", 1),
        ("Rice Farm", "300", 1),
    ]
    assert answer["anchors"][0]["share"] == pytest.approx(5500 / 5800)
    assert answer["anchors"][0]["organisation"] == named(world, "Hub Pellets", PELLETS)
    # every supplier sent all it supplied to one taker
    assert answer["dependentSuppliers"] == 4
    assert answer["dependences"] == [
        {
            "supplier": named(world, "Mill A", SAWMILL),
            "taker": named(world, "Hub Pellets", PELLETS),
            "share": 1.0,
            "suppliedKg": "4000",
            "takers": 1,
        },
        {
            "supplier": named(world, "Mill B", SAWMILL),
            "taker": named(world, "Hub Pellets", PELLETS),
            "share": 1.0,
            "suppliedKg": "1000",
            "takers": 1,
        },
        {
            "supplier": named(world, "Hub Pellets", PELLETS),
            "taker": named(world, "Cat Sand Works", PELLETS),
            "share": 1.0,
            "suppliedKg": "500",
            "takers": 1,
        },
        {
            "supplier": named(world, "Rice Farm", RICE),
            "taker": HIDDEN,
            "share": 1.0,
            "suppliedKg": "300",
            "takers": 1,
        },
    ]
    # the firm that never traded is isolated; the university is not counted
    assert answer["isolatedCount"] == 1
    assert answer["isolatedMembers"] == {
        "totalCount": 1,
        "pageInfo": {
            "hasNextPage": False,
            "endCursor": answer["isolatedMembers"]["pageInfo"]["endCursor"],
        },
        "edges": [{"node": named(world, "Quiet Firm", SAWMILL)}],
    }
    # three bands: the mills to the pellet makers (5,000 kg), pellets to cat sand, the pair
    bands = [
        (
            f["supplierActivity"] and f["supplierActivity"]["code"],
            f["material"]["code"],
            f["takerActivity"] and f["takerActivity"]["code"],
            f["kg"],
            f["trades"],
            f["organisations"],
            f["other"],
        )
        for f in answer["flows"]
    ]
    assert bands == [
        ("1610", "wood-shavings", "1629", "5000", 3, 3, False),
        ("1629", "wood-shavings", "1629", "500", 1, 2, False),
        ("0112", "wood-shavings", None, "300", 1, 2, False),
    ]
    # twelve months, April to March; June holds two trades, July to September one each
    assert [m["month"] for m in answer["months"]] == [
        f"{2026 + (m > 12)}-{(m - 1) % 12 + 1:02d}-01" for m in range(4, 16)
    ]
    kilograms = {m["month"]: m["outcomes"]["divertedKg"] for m in answer["months"]}
    assert kilograms["2026-06-01"] == "3000"
    assert kilograms["2026-07-01"] == "2000"
    assert kilograms["2026-04-01"] == "0"
    totals = answer["totals"]
    assert (totals["divertedKg"], totals["trades"], totals["organisations"]) == ("5800", 5, 6)
    # delivered quantity x agreed price (10 JPY/kg)
    assert totals["paidToSuppliers"] == [{"amount": "58000", "currency": "JPY"}]
    assert totals["suppressed"] is False
    assert totals["methodVersions"] != []


async def test_the_public_sees_aggregates_without_names_and_no_small_cells(
    db: Database, gql: GraphQL, cluster_id: str, platform_admin_token: str, created_at: datetime
) -> None:
    # Given the star and the pair
    await star_and_pair(db, cluster_id, created_at)
    everything = await insights(gql, cluster_id, platform_admin_token)

    # when someone without a token reads the insights
    answer = await insights(gql, cluster_id)

    # then the network's figures are there (six organisations), but no list of organisations
    assert answer["audience"] == "PUBLIC"
    assert answer["network"] == everything["network"]
    assert (answer["anchors"], answer["dependences"], answer["isolatedMembers"]) == (None,) * 3
    assert answer["dependentSuppliers"] == 4
    assert answer["isolatedCount"] == 1
    # the band of three organisations is shown; the two bands of two are merged into one of
    # four organisations, with no material and no activities
    assert [(f["kg"], f["organisations"], f["other"], f["material"]) for f in answer["flows"]] == [
        ("5000", 3, False, everything["flows"][0]["material"]),
        ("800", 4, True, None),
    ]
    # June (three organisations) is shown; July, August and September (two each, five
    # together) are not; months without trades are zeros (they reveal nobody)
    months = {m["month"]: m["outcomes"] for m in answer["months"]}
    assert months["2026-06-01"]["divertedKg"] == "3000"
    for month in ("2026-07-01", "2026-08-01", "2026-09-01"):
        assert months[month] == {
            "divertedKg": None,
            "co2eAvoidedKg": None,
            "disposalCostAvoided": [],
            "paidToSuppliers": [],
            "trades": None,
            "organisations": None,
            "methodVersions": [],
            "suppressed": True,
        }
    assert months["2026-04-01"] == {
        "divertedKg": "0",
        "co2eAvoidedKg": "0",
        "disposalCostAvoided": [],
        "paidToSuppliers": [],
        "trades": 0,
        "organisations": 0,
        "methodVersions": [],
        "suppressed": False,
    }
    assert answer["totals"] == everything["totals"]
    # and no organisation's name or id is anywhere in the answer
    text = json.dumps(answer)
    for name in [*NAMES, "Hidden Buyer", "Okayama University"]:
        assert name not in text
    assert '"id"' not in text


async def test_what_the_totals_minus_the_cells_shown_would_give_away_is_suppressed_too(
    db: Database, gql: GraphQL, cluster_id: str, created_at: datetime
) -> None:
    # Given three mills selling shavings to a pellet maker in June (four organisations), and
    # one mill selling bark to a power plant in July (two)
    world = TradeWorld(db, uuid.UUID(cluster_id), created_at)
    await world.organisation("Hub Pellets", activity="1629")
    await world.organisation("Power Plant", activity="3510")
    for mill in ("Mill A", "Mill B", "Mill C"):
        await world.organisation(mill, activity="1610")
        await world.trade(mill, "Hub Pellets", at=at(6), kg="1000")
    await world.trade("Mill A", "Power Plant", at=at(7), kg="700", material="bark")

    # when the public reads the insights
    answer = await insights(gql, cluster_id)

    # then the totals are shown (five organisations), so June is hidden with July: the totals
    # minus June would be July's two organisations' trade
    assert answer["totals"]["divertedKg"] == "3700"
    months = {m["month"]: m["outcomes"] for m in answer["months"]}
    assert (months["2026-06-01"]["suppressed"], months["2026-07-01"]["suppressed"]) == (True, True)
    # and likewise the bands: the shavings band joins the bark band in "other"
    assert [(f["kg"], f["organisations"], f["other"]) for f in answer["flows"]] == [
        ("3700", 5, True)
    ]


async def test_a_network_of_two_shows_no_figures_to_the_public(
    db: Database, gql: GraphQL, cluster_id: str, platform_admin_token: str, created_at: datetime
) -> None:
    # Given one pair that traded
    world = TradeWorld(db, uuid.UUID(cluster_id), created_at)
    await world.organisation("Mill A", activity="1610")
    await world.organisation("Hub Pellets", activity="1629")
    await world.trade("Mill A", "Hub Pellets", at=at(6))

    # when the public and an admin read the insights
    public = await insights(gql, cluster_id)
    admin = await insights(gql, cluster_id, platform_admin_token)

    # then the public gets no network, no band and suppressed totals; the admin gets them
    assert (public["network"], public["flows"], public["totals"]["suppressed"]) == (None, [], True)
    assert public["totals"]["divertedKg"] is None
    assert admin["network"]["type"] == "TOO_SMALL"
    assert admin["totals"]["divertedKg"] == "1000"


async def test_who_sees_names_follows_role_verification_and_cluster_on_every_request(
    db: Database,
    gql: GraphQL,
    cluster_id: str,
    register: Any,
    platform_admin_token: str,
    created_at: datetime,
) -> None:
    # Given the star and the pair, a firm and a university of the cluster, and a verified
    # university of another cluster
    await star_and_pair(db, cluster_id, created_at)
    firm = await register("firm@insights.example", cluster_id, name="Some Firm")
    university = await register(
        "uni@insights.example", cluster_id, name="Maniwa University", kind="INSTITUTION"
    )
    elsewhere = await register(
        "uni@elsewhere.example",
        await second_cluster(db),
        name="Rice Institute",
        kind="INSTITUTION",
    )
    await verify(gql, platform_admin_token, elsewhere.organisation_id)

    async def audience(token: str | None) -> str:
        answer = await insights(gql, cluster_id, token)
        assert (answer["anchors"] is None) == (answer["audience"] == "PUBLIC")
        return str(answer["audience"])

    # then anonymous, a firm, an unverified university and another cluster's verified
    # institution see aggregates; a platform admin sees names
    assert await audience(None) == "PUBLIC"
    assert await audience(firm.access_token) == "PUBLIC"
    assert await audience(university.access_token) == "PUBLIC"
    assert await audience(elsewhere.access_token) == "PUBLIC"
    assert await audience(platform_admin_token) == "NAMED"
    # once verified, the same token of the cluster's university sees names on its next request
    await verify(gql, platform_admin_token, university.organisation_id)
    assert await audience(university.access_token) == "NAMED"
    # and no longer once the verification is withdrawn
    body = await gql(
        UNVERIFY,
        {"input": {"organisationId": university.organisation_id, "reason": "Not a university"}},
        token=platform_admin_token,
    )
    assert body["data"]["organisationUnverify"]["errors"] == [], body
    assert await audience(university.access_token) == "PUBLIC"


async def test_periods_are_calendar_days_of_the_clusters_time_zone(
    db: Database, gql: GraphQL, cluster_id: str, platform_admin_token: str, created_at: datetime
) -> None:
    # Given a trade completed on 31 January at 20:00 UTC: 1 February in Tokyo
    world = TradeWorld(db, uuid.UUID(cluster_id), created_at)
    await world.organisation("Mill A", activity="1610")
    await world.organisation("Hub Pellets", activity="1629")
    await world.trade("Mill A", "Hub Pellets", at=datetime(2027, 1, 31, 20, 0, tzinfo=UTC))

    # when January and February are read
    answer = await insights(
        gql, cluster_id, platform_admin_token, **{"from": "2027-01-01", "to": "2027-02-28"}
    )
    only_january = await insights(
        gql, cluster_id, platform_admin_token, **{"from": "2027-01-01", "to": "2027-01-31"}
    )

    # then the trade is February's, and not in a period that ends on 31 January
    months = {m["month"]: m["outcomes"]["divertedKg"] for m in answer["months"]}
    assert months == {"2027-01-01": "0", "2027-02-01": "1000"}
    assert only_january["totals"]["divertedKg"] == "0"
    assert only_january["network"]["organisations"] == 0


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"from": "2027-02-01", "to": "2027-01-31"},
            ("VALIDATION", "The period must start on or before its last day (to)", "from"),
        ),
        (
            {"from": "2017-01-01", "to": "2027-01-31"},
            ("VALIDATION", "A period covers at most 120 months", "to"),
        ),
        (
            {"unmatchedAfterDays": 0},
            ("VALIDATION", "unmatchedAfterDays is between 1 and 365", "unmatchedAfterDays"),
        ),
    ],
)
async def test_a_bad_period_is_a_validation_error_naming_the_argument(
    gql: GraphQL, cluster_id: str, variables: dict[str, Any], expected: tuple[str, str, str]
) -> None:
    body = await gql(CLUSTER_INSIGHTS, {"clusterId": cluster_id, **variables})
    [error] = body["errors"]
    extensions = error["extensions"]
    assert (extensions["code"], error["message"], extensions.get("field")) == expected


async def test_an_unknown_cluster_is_not_found(gql: GraphQL) -> None:
    body = await gql(CLUSTER_INSIGHTS, {"clusterId": str(uuid.uuid4())})
    [error] = body["errors"]
    assert error["extensions"]["code"] == "NOT_FOUND"


async def test_unmatched_offers_and_their_candidate_takers(
    db: Database,
    gql: GraphQL,
    cluster_id: str,
    platform_admin_token: str,
    clock: ManualClock,
    created_at: datetime,
) -> None:
    # Given shavings offered 20 days ago with no offer, sawdust offered 20 days ago with an
    # offer, bark offered 5 days ago, and a pellet maker that wants shavings
    world = TradeWorld(db, uuid.UUID(cluster_id), created_at)
    await world.organisation("Mill A", activity="1610")
    await world.organisation("Hub Pellets", activity="1629")
    now = clock.now()
    waiting = await world.listing(
        "Mill A", material="wood-shavings", published_at=now - timedelta(days=20)
    )
    await world.trade("Mill A", "Hub Pellets", at=now - timedelta(days=20), material="sawdust")
    await world.listing("Mill A", material="bark", published_at=now - timedelta(days=5))
    want = await world.listing(
        "Hub Pellets",
        material="wood-shavings",
        kind=ListingKind.WANT,
        published_at=now - timedelta(days=3),
    )

    # when the admin reads the unmatched offers
    body = await gql(UNMATCHED, {"clusterId": cluster_id}, token=platform_admin_token)
    assert "errors" not in body, body
    page = body["data"]["clusterInsights"]["unmatchedOffers"]

    # then only the shavings wait, for 20 days, and the pellet maker is the one to call
    assert page["totalCount"] == 1
    [edge] = page["edges"]
    node = edge["node"]
    assert node["listing"]["id"] == str(waiting.id)
    assert node["waitingDays"] == 20
    assert node["seller"]["name"] == "Mill A"
    [candidate] = node["candidateTakers"]
    assert candidate["organisation"]["name"] == "Hub Pellets"
    assert candidate["match"]["listing"] == {
        "id": str(want.id),
        "kind": "WANT",
        "title": want.title,
    }
    assert candidate["match"]["relation"] == "SAME"
    # by material, for the public: one organisation is too few to show
    public = await insights(gql, cluster_id)
    assert public["unmatchedByMaterial"] == []
    admin = await insights(gql, cluster_id, platform_admin_token)
    assert [
        (u["material"]["code"], u["listings"], u["kg"]) for u in admin["unmatchedByMaterial"]
    ] == [("wood-shavings", 1, "1000")]
    # and the public may not list them
    body = await gql(UNMATCHED, {"clusterId": cluster_id})
    assert body["data"]["clusterInsights"]["unmatchedOffers"] is None


async def _statements(db: Database, gql: GraphQL, cluster_id: str, token: str) -> StatementLog:
    with count_statements(db) as log:
        await insights(gql, cluster_id, token)
    return log


async def test_statements_do_not_grow_with_the_cluster_and_a_kept_answer_reads_less(
    db: Database, gql: GraphQL, cluster_id: str, platform_admin_token: str, created_at: datetime
) -> None:
    # Given a small network, read cold
    world = await star_and_pair(db, cluster_id, created_at)
    cache_for(db).clear()
    small = await _statements(db, gql, cluster_id, platform_admin_token)

    # when it grows tenfold (twenty more firms, sixty more trades) and is read cold again
    for i in range(20):
        await world.organisation(f"Firm {i}", activity="1610")
        for month in (4, 5, 6):
            await world.trade(f"Firm {i}", "Hub Pellets", at=at(month), kg="100")
    cache_for(db).clear()
    large = await _statements(db, gql, cluster_id, platform_admin_token)
    warm = await _statements(db, gql, cluster_id, platform_admin_token)

    # then it costs the same statements, and the kept network is not read again
    assert large.count == small.count
    assert warm.count < large.count
    assert not any("impact_entries" in s for s in warm.statements)


async def test_a_completed_trade_shows_on_the_next_read(
    db: Database,
    gql: GraphQL,
    cluster_id: str,
    register: Any,
    platform_admin_token: str,
) -> None:
    # Given two firms, and the insights read once (and kept)
    mill = await register("mill@insights.example", cluster_id, name="Mill")
    pellets = await register("pellets@insights.example", cluster_id, name="Pellets")
    before = await insights(gql, cluster_id, platform_admin_token)
    assert before["network"]["organisations"] == 0

    # when a trade is completed through the API
    await completed_trade(gql, mill.access_token, pellets.access_token, quantity="4")

    # then the next read has it (4 t)
    after = await insights(gql, cluster_id, platform_admin_token)
    assert after["network"]["organisations"] == 2
    assert Decimal(after["totals"]["divertedKg"]) == Decimal(4000)


async def test_isolated_members_page_by_page(
    db: Database, gql: GraphQL, cluster_id: str, platform_admin_token: str, created_at: datetime
) -> None:
    # Given 25 firms that never traded
    world = TradeWorld(db, uuid.UUID(cluster_id), created_at)
    for i in range(25):
        await world.organisation(f"Firm {i:02d}")

    # when the admin pages through them
    first = await gql(ISOLATED, {"clusterId": cluster_id}, token=platform_admin_token)
    page = first["data"]["clusterInsights"]["isolatedMembers"]
    second = await gql(
        ISOLATED,
        {"clusterId": cluster_id, "after": page["pageInfo"]["endCursor"]},
        token=platform_admin_token,
    )
    rest = second["data"]["clusterInsights"]["isolatedMembers"]

    # then 20 then 5, by name, each once
    names = [e["node"]["name"] for e in page["edges"] + rest["edges"]]
    assert names == [f"Firm {i:02d}" for i in range(25)]
    assert (page["pageInfo"]["hasNextPage"], rest["pageInfo"]["hasNextPage"]) == (True, False)
    # a cursor that is not one is a validation error
    bad = await gql(
        ISOLATED, {"clusterId": cluster_id, "after": "nonsense"}, token=platform_admin_token
    )
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_the_comparison_sets_clusters_side_by_side_as_the_public_sees_them(
    db: Database, gql: GraphQL, cluster_id: str, created_at: datetime
) -> None:
    # Given the star and the pair in one cluster and nothing in another
    await star_and_pair(db, cluster_id, created_at)
    await second_cluster(db)

    # when anyone compares the clusters
    body = await gql(COMPARISON, {})
    assert "errors" not in body, body
    rows = {r["insights"]["clusterName"]: r for r in body["data"]["clusterComparison"]}

    # then each cluster has its row: the wood cluster's type and main conversion, and the rice
    # cluster without a network
    wood, rice = rows["Test Wood Cluster"], rows["Test Rice Cluster"]
    assert wood["insights"]["network"]["type"] == "ANCHOR_TENANT_MUTUALISM"
    assert [(c["material"]["code"], c["kg"]) for c in wood["topConversions"]] == [
        ("wood-shavings", "5000")
    ]
    assert wood["insights"]["totals"]["divertedKg"] == "5800"
    assert rice["insights"]["network"] is None
    assert rice["topConversions"] == []
    assert rice["insights"]["members"] == {"total": 0, "atStart": 0, "joined": 0, "growth": None}


async def test_forum_activity_of_two_organisations_is_the_admins_not_the_publics(
    db: Database,
    gql: GraphQL,
    cluster_id: str,
    register: Any,
    platform_admin_token: str,
    clock: ManualClock,
) -> None:
    # Given a community's forum where a firm replied to the community's thread
    shg = await register("shg@insights.example", cluster_id, name="Women's Union", kind="COMMUNITY")
    farm = await register("farm@insights.example", cluster_id, name="Farm A")
    forum = await forums.open_forum(gql, shg.access_token, "CLUSTER", title="Feed and fodder")
    thread = await forums.start_thread(gql, shg.access_token, forum, "Feed prices")
    await forums.post(gql, farm.access_token, thread, "We pay 30")

    # when the public and the admin read the social capital
    public = (await insights(gql, cluster_id))["socialCapital"]
    admin = (await insights(gql, cluster_id, platform_admin_token))["socialCapital"]

    # then two organisations are too few for the public; the admin sees them
    assert public["forums"] is None
    assert admin["forums"]["organisations"] == 2
    assert admin["forums"]["threadsAcrossOrganisations"] == 1
    # and once a third organisation writes, the public sees the figures too
    third = await register("farm-b@insights.example", cluster_id, name="Farm B")
    await forums.post(gql, third.access_token, thread, "We pay 28")
    public = (await insights(gql, cluster_id))["socialCapital"]
    assert (public["forums"]["organisations"], public["forums"]["posts"]) == (3, 2)
    assert public["jointPurchasing"] == []
    assert public["eventsHeld"] == 0


async def test_a_page_of_unmatched_offers_holds_at_most_twenty(
    gql: GraphQL, cluster_id: str, platform_admin_token: str
) -> None:
    # each offer on the page runs the matching engine: the page is small
    body = await gql(UNMATCHED, {"clusterId": cluster_id, "first": 21}, token=platform_admin_token)
    [error] = body["errors"]
    assert (error["extensions"]["code"], error["message"]) == (
        "VALIDATION",
        "first must be between 1 and 20",
    )


async def test_eco_products_make_links_but_no_dependence(
    db: Database, gql: GraphQL, cluster_id: str, platform_admin_token: str, created_at: datetime
) -> None:
    # Given a pellet maker selling all its pellets (an eco-product) to one buyer, and its
    # shavings (a by-product) half to each of two takers
    world = TradeWorld(db, uuid.UUID(cluster_id), created_at)
    for name in ("Pellet Maker", "Pellet Buyer", "Taker A", "Taker B"):
        await world.organisation(name, activity="1629")
    await world.trade("Pellet Maker", "Pellet Buyer", at=at(6), kg="9000", material="wood-pellets")
    await world.trade("Pellet Maker", "Taker A", at=at(6), kg="500")
    await world.trade("Pellet Maker", "Taker B", at=at(6), kg="500")

    # when the admin reads the insights
    answer = await insights(gql, cluster_id, platform_admin_token)

    # then the pellets make a link (and most of the kg), but the maker depends on no taker for
    # its by-products
    assert (answer["network"]["links"], answer["totals"]["divertedKg"]) == (3, "10000")
    assert (answer["dependentSuppliers"], answer["dependences"]) == (0, [])


async def test_kept_unmatched_offers_go_when_an_offer_is_made(
    db: Database,
    gql: GraphQL,
    cluster_id: str,
    register: Any,
    platform_admin_token: str,
    clock: ManualClock,
) -> None:
    # Given shavings listed 20 days ago with no offer, counted once (and kept)
    mill = await register("mill@insights.example", cluster_id, name="Mill")
    pellets = await register("pellets@insights.example", cluster_id, name="Pellets")
    clock.set(clock.now() - timedelta(days=20))
    listing = await publish(gql, mill.access_token)
    clock.set(clock.now() + timedelta(days=20))
    before = await insights(gql, cluster_id, platform_admin_token)
    assert [u["listings"] for u in before["unmatchedByMaterial"]] == [1]

    # when the pellet maker makes an offer on it, within the same minute
    await make_offer(gql, pellets.access_token, listing["id"])

    # then the next read counts it no more
    after = await insights(gql, cluster_id, platform_admin_token)
    assert after["unmatchedByMaterial"] == []
