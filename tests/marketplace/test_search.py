"""Listing search through GraphQL: `listings(filter, sort, first, after)`.

Filters (kind, category, cluster, organisation, material subtree, distance, price, free text,
status), the sorts (newest, nearest, price both ways) and keyset pagination over each of them.
"""

from __future__ import annotations

import base64
import json
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from backend.app import create_app
from backend.identity import service as identity_service
from backend.identity.models import Sector
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.kit.geo import EARTH_RADIUS_KM, bounding_box, great_circle_km
from backend.kit.validation import Place
from backend.marketplace.models import Listing
from backend.settings import Settings
from tests.conftest import CLOCK_START, Account, GraphQL

CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) {
    listing { id status }
    errors { code message field }
  }
}
"""
CLOSE = """
mutation Close($id: ID!) { listingClose(id: $id) { listing { status } errors { code } } }
"""
HIDE = """
mutation Hide($input: ListingHideInput!) { listingHide(input: $input) { errors { code } } }
"""
TITLES = """
query Titles($filter: ListingFilter, $sort: ListingSort, $first: Int) {
  listings(filter: $filter, sort: $sort, first: $first) {
    totalCount edges { node { title } }
  }
}
"""
PAGE = """
query Page($filter: ListingFilter, $sort: ListingSort, $first: Int, $after: String) {
  listings(filter: $filter, sort: $sort, first: $first, after: $after) {
    totalCount
    edges { cursor node { id title distanceKm pricePerUnit } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""

MANIWA = (35.07, 133.75)  # the wood cluster's centre
AN_GIANG = (10.38, 105.43)


# ---------------------------------------------------------------------------------------------
# Helpers


def titles(*names: str) -> dict[str, Any]:
    """The whole response of TITLES for these titles, in this order."""
    return {
        "data": {
            "listings": {
                "totalCount": len(names),
                "edges": [{"node": {"title": name}} for name in names],
            }
        }
    }


def point_at(origin: tuple[float, float], north_km: float, east_km: float) -> tuple[float, float]:
    """A point roughly ``north_km`` north and ``east_km`` east of ``origin`` (exact distances
    are taken with great_circle_km afterwards)."""
    lat, lon = origin
    d_lat = math.degrees(north_km / EARTH_RADIUS_KM)
    d_lon = math.degrees(east_km / EARTH_RADIUS_KM) / math.cos(math.radians(lat))
    return lat + d_lat, lon + d_lon


def km(a: tuple[float, float], b: tuple[float, float]) -> float:
    return great_circle_km(a[0], a[1], b[0], b[1])


def near(point: tuple[float, float], radius_km: float) -> dict[str, float]:
    return {"lat": point[0], "lon": point[1], "radiusKm": radius_km}


async def list_one(
    gql: GraphQL, account: Account, title: str, *, publish: bool = True, **fields: Any
) -> str:
    """Creates a listing for ``account``'s organisation; returns its id."""
    at = fields.pop("at", (35.09, 133.69))
    listing_input = {
        "kind": "OFFER",
        "category": "BY_PRODUCT",
        "title": title,
        "materialCode": "wood-shavings",
        "quantity": "1",
        "unit": "TNE",
        "location": {"lat": at[0], "lon": at[1], "placeName": "Yard"},
        "publish": publish,
        **fields,
    }
    body = await gql(CREATE, {"input": listing_input}, token=account.access_token)
    payload = body["data"]["listingCreate"]
    assert payload["errors"] == [], body
    listing_id: str = payload["listing"]["id"]
    return listing_id


async def walk(
    gql: GraphQL, *, filter: dict[str, Any] | None, sort: str, first: int
) -> list[dict[str, Any]]:
    """Reads the whole list page by page with `after`; checks each page's cursors and flags."""
    seen: list[dict[str, Any]] = []
    after = None
    total = None
    while True:
        body = await gql(PAGE, {"filter": filter, "sort": sort, "first": first, "after": after})
        assert "errors" not in body, body
        connection = body["data"]["listings"]
        edges = connection["edges"]
        total = connection["totalCount"] if total is None else total
        # every page counts the whole list, not what is left of it
        assert connection["totalCount"] == total
        assert len(edges) <= first
        page_info = connection["pageInfo"]
        assert page_info["hasPreviousPage"] is (after is not None)
        if edges:
            assert page_info["startCursor"] == edges[0]["cursor"]
            assert page_info["endCursor"] == edges[-1]["cursor"]
        seen += [edge["node"] for edge in edges]
        if not page_info["hasNextPage"]:
            assert len(seen) == total
            return seen
        assert len(edges) == first
        after = page_info["endCursor"]


async def second_cluster(db: Database) -> str:
    cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="test-fish",
            name="Test Fish Cluster",
            region="An Giang",
            country="VN",
            sector=Sector.FISH,
            centre=Place(lat=AN_GIANG[0], lon=AN_GIANG[1]),
            currency="VND",
            languages=["vi"],
            timezone="Asia/Ho_Chi_Minh",
        ),
    )
    return str(cluster.id)


@dataclass
class Market:
    """Four organisations in two clusters: two wood firms and a self-help group in the wood
    cluster, a fish firm in the fish cluster."""

    wood_cluster: str
    fish_cluster: str
    pellets: Account
    bark: Account
    shg: Account
    fish: Account


@pytest.fixture
async def market(db: Database, register: Any, cluster_id: str) -> Market:
    fish_cluster = await second_cluster(db)
    return Market(
        wood_cluster=cluster_id,
        fish_cluster=fish_cluster,
        pellets=await register("tanaka@pellets.example", cluster_id, name="Pellet Works"),
        bark=await register("sato@bark.example", cluster_id, name="Bark Traders"),
        shg=await register(
            "women@shg.example", cluster_id, name="Hiruzen Women's Group", kind="COMMUNITY"
        ),
        fish=await register(
            "nguyen@catfish.example",
            fish_cluster,
            name="Mekong Catfish",
            location={"lat": AN_GIANG[0], "lon": AN_GIANG[1], "placeName": "Long Xuyen"},
        ),
    )


# Created in this order, so newest first is the reverse.
CATALOGUE_LISTINGS = [
    ("pellets", "Cedar shavings", {"materialCode": "wood-shavings"}),
    ("bark", "Hinoki bark", {"materialCode": "bark"}),
    (
        "shg",
        "Wood pellets, bagged",
        {"materialCode": "wood-pellets", "category": "ECO_PRODUCT", "unit": "BG"},
    ),
    ("fish", "Sawdust wanted for smoking", {"materialCode": "sawdust", "kind": "WANT"}),
    ("fish", "Catfish fat", {"materialCode": "fish-fat"}),
    ("pellets", "Fine sawdust", {"materialCode": "sawdust"}),
    ("fish", "Rice husk", {"materialCode": "rice-husk"}),
    ("fish", "Rice husk ash", {"materialCode": "rice-husk-ash"}),
    ("bark", "Mixed offcuts", {"materialCode": "ewc-03-01-05"}),
]


async def list_catalogue_listings(gql: GraphQL, market: Market) -> None:
    for owner, title, fields in CATALOGUE_LISTINGS:
        account: Account = getattr(market, owner)
        if owner == "fish":
            fields = {**fields, "at": AN_GIANG}
        await list_one(gql, account, title, **fields)


def newest_first(*wanted: str) -> dict[str, Any]:
    order = [title for _, title, _ in reversed(CATALOGUE_LISTINGS)]
    assert set(wanted) <= set(order)
    return titles(*(t for t in order if t in wanted))


# ---------------------------------------------------------------------------------------------
# Filters on the listing's own fields


FILTERS: list[tuple[str, Callable[[Market], dict[str, Any]], list[str]]] = [
    ("nothing", lambda m: {}, [t for _, t, _ in CATALOGUE_LISTINGS]),
    ("want", lambda m: {"kind": "WANT"}, ["Sawdust wanted for smoking"]),
    (
        "offer",
        lambda m: {"kind": "OFFER"},
        [t for _, t, _ in CATALOGUE_LISTINGS if t != "Sawdust wanted for smoking"],
    ),
    ("eco-product", lambda m: {"category": "ECO_PRODUCT"}, ["Wood pellets, bagged"]),
    (
        "wood cluster",
        lambda m: {"clusterId": m.wood_cluster},
        ["Cedar shavings", "Hinoki bark", "Wood pellets, bagged", "Fine sawdust", "Mixed offcuts"],
    ),
    (
        "fish cluster",
        lambda m: {"clusterId": m.fish_cluster},
        ["Sawdust wanted for smoking", "Catfish fat", "Rice husk", "Rice husk ash"],
    ),
    ("unknown cluster", lambda m: {"clusterId": str(uuid.uuid4())}, []),
    (
        "one organisation",
        lambda m: {"organisationId": m.pellets.organisation_id},
        ["Cedar shavings", "Fine sawdust"],
    ),
    ("community", lambda m: {"organisationId": m.shg.organisation_id}, ["Wood pellets, bagged"]),
    ("unknown organisation", lambda m: {"organisationId": str(uuid.uuid4())}, []),
    (
        "wood cluster by-product offers",
        lambda m: {"clusterId": m.wood_cluster, "kind": "OFFER", "category": "BY_PRODUCT"},
        ["Cedar shavings", "Hinoki bark", "Fine sawdust", "Mixed offcuts"],
    ),
    (
        "fish firm's wants in the wood cluster",
        lambda m: {"clusterId": m.wood_cluster, "organisationId": m.fish.organisation_id},
        [],
    ),
]


async def test_listings_filter_by_kind_category_cluster_and_organisation(
    gql: GraphQL, market: Market
) -> None:
    # given listings of four organisations in two clusters
    await list_catalogue_listings(gql, market)

    # when anybody searches with each filter
    found = {name: await gql(TITLES, {"filter": of(market)}) for name, of, _ in FILTERS}

    # then exactly the matching listings come, newest first
    assert found == {name: newest_first(*expected) for name, _, expected in FILTERS}


MATERIAL_FILTERS: list[tuple[str, list[str]]] = [
    (
        "ewc-03",
        [
            "Cedar shavings",
            "Hinoki bark",
            "Sawdust wanted for smoking",
            "Fine sawdust",
            "Mixed offcuts",
        ],
    ),
    (
        "ewc-03-01",
        [
            "Cedar shavings",
            "Hinoki bark",
            "Sawdust wanted for smoking",
            "Fine sawdust",
            "Mixed offcuts",
        ],
    ),
    (
        "ewc-03-01-05",
        ["Cedar shavings", "Sawdust wanted for smoking", "Fine sawdust", "Mixed offcuts"],
    ),
    ("ewc-03-01-01", ["Hinoki bark"]),
    ("wood-shavings", ["Cedar shavings"]),
    ("sawdust", ["Sawdust wanted for smoking", "Fine sawdust"]),
    ("eco-products", ["Wood pellets, bagged"]),
    ("ewc-02", ["Catfish fat", "Rice husk"]),
    # a code that starts another's code is not its parent
    ("rice-husk", ["Rice husk"]),
    ("rice-husk-ash", ["Rice husk ash"]),
    ("ewc-10", ["Rice husk ash"]),
    ("ewc-03-01-04", []),
]


async def test_listings_filter_by_material_includes_its_descendants(
    gql: GraphQL, market: Market
) -> None:
    # given listings of materials across the catalogue
    await list_catalogue_listings(gql, market)

    # when they are searched by each material code
    found = {
        code: await gql(TITLES, {"filter": {"materialCode": code}}) for code, _ in MATERIAL_FILTERS
    }

    # then listings of that material and of everything below it come
    assert found == {code: newest_first(*expected) for code, expected in MATERIAL_FILTERS}


async def test_listings_filter_by_an_unknown_material_is_a_validation_error(
    gql: GraphQL, market: Market
) -> None:
    # given a listing, and a code the catalogue does not have
    await list_one(gql, market.pellets, "Cedar shavings")

    # when listings are searched by it
    body = await gql('query { listings(filter: {materialCode: "ewc-99"}) { totalCount } }')

    # then the query fails with a validation error on the filter field
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Not a code of the material catalogue",
                "locations": [{"line": 1, "column": 9}],
                "path": ["listings"],
                "extensions": {"code": "VALIDATION", "field": "filter.materialCode"},
            }
        ],
    }


@pytest.mark.parametrize("field", ["clusterId", "organisationId"])
async def test_listings_filter_by_a_malformed_id_is_a_validation_error(
    gql: GraphQL, db: Database, field: str
) -> None:
    # given an id that is no id
    # when listings are filtered by it
    body = await gql(f'query {{ listings(filter: {{{field}: "wood"}}) {{ totalCount }} }}')

    # then it is a validation error on that filter field
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Not a valid id",
                "locations": [{"line": 1, "column": 9}],
                "path": ["listings"],
                "extensions": {"code": "VALIDATION", "field": f"filter.{field}"},
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Status


async def test_listings_show_active_ones_by_default_and_other_statuses_on_request(
    gql: GraphQL, db: Database, market: Market, platform_admin_token: str
) -> None:
    # given an active, a draft, a closed, an expired and a hidden listing of one firm
    await list_one(gql, market.pellets, "Active shavings")
    await list_one(gql, market.pellets, "Draft shavings", publish=False)
    closed = await list_one(gql, market.pellets, "Closed shavings")
    closing = await gql(CLOSE, {"id": closed}, token=market.pellets.access_token)
    assert closing["data"]["listingClose"] == {"listing": {"status": "CLOSED"}, "errors": []}
    expired = await list_one(gql, market.pellets, "Expired shavings")
    async with db.write() as session:
        await session.execute(
            update(Listing)
            .where(Listing.id == uuid.UUID(expired))
            .values(expires_at=CLOCK_START - timedelta(seconds=1))
        )
    hidden = await list_one(gql, market.pellets, "Hidden shavings")
    hiding = await gql(
        HIDE, {"input": {"id": hidden, "reason": "Spam"}}, token=platform_admin_token
    )
    assert hiding["data"]["listingHide"] == {"errors": []}

    async def search(status: str | None, token: str = "") -> Any:
        return await gql(TITLES, {"filter": {"status": status}}, token=token)

    # when anybody searches without a status, then only the active, unhidden one comes
    assert await gql(TITLES, {"filter": {}}) == titles("Active shavings")
    assert await gql(TITLES, {}) == titles("Active shavings")
    # when anybody asks for a status, then the visible listings in it come
    assert await search("ACTIVE") == titles("Active shavings")
    assert await search("CLOSED") == titles("Closed shavings")
    assert await search("EXPIRED") == titles("Expired shavings")
    assert await search("DRAFT") == titles()
    assert await search("RESERVED") == titles()
    # when anybody asks for every status, then drafts and hidden listings still stay out
    assert await search(None) == titles("Expired shavings", "Closed shavings", "Active shavings")
    # when the firm itself asks, then its draft and its hidden listing are there too
    owner = market.pellets.access_token
    assert await search("DRAFT", owner) == titles("Draft shavings")
    assert await search(None, owner) == titles(
        "Hidden shavings",
        "Expired shavings",
        "Closed shavings",
        "Draft shavings",
        "Active shavings",
    )
    # when another firm asks, then it sees what everybody sees
    assert await search(None, market.bark.access_token) == titles(
        "Expired shavings", "Closed shavings", "Active shavings"
    )


# ---------------------------------------------------------------------------------------------
# Distance


async def test_listings_near_a_point_keep_those_within_the_radius_with_their_distance(
    gql: GraphQL, market: Market
) -> None:
    # given listings around Maniwa at known distances, one in An Giang, and the search box
    radius = 10.0
    box = bounding_box(*MANIWA, radius)
    east_5 = point_at(MANIWA, 0, 5)
    north_9_9 = point_at(MANIWA, 9.9, 0)
    # in the corner of the box: inside the box, outside the circle
    corner = (
        MANIWA[0] + 0.8 * (box.max_lat - MANIWA[0]),
        MANIWA[1] + 0.8 * (box.max_lon - MANIWA[1]),
    )
    north_10_2 = point_at(MANIWA, 10.2, 0)
    assert km(MANIWA, east_5) < km(MANIWA, north_9_9) < radius < km(MANIWA, north_10_2)
    assert radius < km(MANIWA, corner)
    assert box.min_lat < corner[0] < box.max_lat
    assert box.min_lon < corner[1] < box.max_lon
    assert box.min_lat < north_9_9[0] < box.max_lat
    await list_one(gql, market.pellets, "Five km east", at=east_5)
    await list_one(gql, market.bark, "Corner of the box", at=corner)
    await list_one(gql, market.pellets, "Nine point nine km north", at=north_9_9)
    await list_one(gql, market.bark, "Ten point two km north", at=north_10_2)
    await list_one(gql, market.fish, "Far away in An Giang", at=AN_GIANG)

    # when anybody searches within 10 km of the centre (newest first)
    body = await gql(PAGE, {"filter": {"near": near(MANIWA, radius)}})

    # then the two within the radius come with their great-circle distance, rounded to metres
    connection = body["data"]["listings"]
    assert connection["totalCount"] == 2, body
    assert [(e["node"]["title"], e["node"]["distanceKm"]) for e in connection["edges"]] == [
        ("Nine point nine km north", round(km(MANIWA, north_9_9), 3)),
        ("Five km east", round(km(MANIWA, east_5), 3)),
    ]

    # when the radius grows to take in the corner, then it comes too
    wider = await gql(TITLES, {"filter": {"near": near(MANIWA, 11.5)}, "sort": "NEAREST"})
    assert wider == titles(
        "Five km east", "Nine point nine km north", "Ten point two km north", "Corner of the box"
    )


async def test_listings_without_near_have_no_distance(gql: GraphQL, market: Market) -> None:
    # given a listing
    listing_id = await list_one(gql, market.pellets, "Cedar shavings", pricePerUnit="12.50")

    # when listings are searched without a point
    body = await gql(PAGE, {})

    # then it comes without a distance
    assert body["data"]["listings"]["edges"] == [
        {
            "cursor": body["data"]["listings"]["pageInfo"]["endCursor"],
            "node": {
                "id": listing_id,
                "title": "Cedar shavings",
                "distanceKm": None,
                "pricePerUnit": "12.5",
            },
        }
    ]


async def test_listings_near_use_the_approximate_location_of_a_listing(
    gql: GraphQL, market: Market
) -> None:
    # given a listing shown only approximately (rounded to 0.01 degree)
    exact = (35.0712, 133.7549)
    await list_one(gql, market.pellets, "Approximate yard", at=exact, locationApproximate=True)

    # when another firm searches from the exact yard
    body = await gql(PAGE, {"filter": {"near": near(exact, 5)}}, token=market.bark.access_token)

    # then the distance is to the rounded point, so it cannot be used to find the yard
    [edge] = body["data"]["listings"]["edges"]
    assert edge["node"]["distanceKm"] == round(km(exact, (35.07, 133.75)), 3)
    assert edge["node"]["distanceKm"] > 0


async def test_listings_near_a_point_across_the_antimeridian(gql: GraphQL, market: Market) -> None:
    # given listings in Fiji on both sides of the 180th meridian
    centre = (-17.0, 179.97)
    west_of_line = (-17.0, -179.97)
    await list_one(gql, market.pellets, "Across the line", at=west_of_line)
    await list_one(gql, market.pellets, "Same side", at=(-17.0, 179.9))
    await list_one(gql, market.pellets, "Far side", at=(-17.0, -179.0))
    assert km(centre, west_of_line) < 10 < km(centre, (-17.0, -179.0))

    # when anybody searches within 10 km of a point just west of the line
    body = await gql(PAGE, {"filter": {"near": near(centre, 10)}, "sort": "NEAREST"})

    # then the listings on both sides of the line within 10 km come, nearest first
    assert [
        (e["node"]["title"], e["node"]["distanceKm"]) for e in body["data"]["listings"]["edges"]
    ] == [
        ("Across the line", round(km(centre, west_of_line), 3)),
        ("Same side", round(km(centre, (-17.0, 179.9)), 3)),
    ]


async def test_listings_sorted_nearest_first_page_through_ties_in_distance(
    gql: GraphQL, market: Market
) -> None:
    # given seven listings around Maniwa, three of them in one spot (a tie in distance)
    spots = {
        "At the centre": MANIWA,
        "Two km south": point_at(MANIWA, -2, 0),
        "Shared yard A": point_at(MANIWA, 3, 3),
        "Shared yard B": point_at(MANIWA, 3, 3),
        "Shared yard C": point_at(MANIWA, 3, 3),
        "Six km west": point_at(MANIWA, 0, -6),
        "Eight km north": point_at(MANIWA, 8, 0),
    }
    ids: dict[str, str] = {}
    for i, (title, spot) in enumerate(spots.items()):
        owner = (market.pellets, market.bark)[i % 2]
        ids[title] = await list_one(gql, owner, title, at=spot)
    await list_one(gql, market.bark, "Outside the radius", at=point_at(MANIWA, 20, 0))
    # nearest first, ties by id
    expected = sorted(spots, key=lambda t: (round(km(MANIWA, spots[t]), 9), uuid.UUID(ids[t])))

    # when they are read two at a time, nearest first
    seen = await walk(gql, filter={"near": near(MANIWA, 10)}, sort="NEAREST", first=2)

    # then each comes once, by distance and then id, each with its distance
    assert [(n["title"], n["distanceKm"]) for n in seen] == [
        (title, round(km(MANIWA, spots[title]), 3)) for title in expected
    ]
    assert [n["id"] for n in seen] == [ids[t] for t in expected]


async def test_listings_nearest_sort_without_a_point_is_a_validation_error(
    gql: GraphQL, db: Database
) -> None:
    # given no point to measure from
    # when listings are sorted nearest first
    body = await gql("query { listings(sort: NEAREST) { totalCount } }")

    # then it is a validation error on the sort
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Sorting by distance needs filter.near",
                "locations": [{"line": 1, "column": 9}],
                "path": ["listings"],
                "extensions": {"code": "VALIDATION", "field": "sort"},
            }
        ],
    }


@pytest.mark.parametrize("radius", [0, -1, 500.001, 1000])
async def test_listings_near_with_a_radius_out_of_range_is_a_validation_error(
    gql: GraphQL, db: Database, radius: float
) -> None:
    # given a radius of zero, below zero or above 500 km
    # when listings are searched within it
    body = await gql(PAGE, {"filter": {"near": near(MANIWA, radius)}})

    # then it is a validation error on the radius
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "Must be more than 0 and at most 500.0",
                "locations": [{"line": 3, "column": 3}],
                "path": ["listings"],
                "extensions": {"code": "VALIDATION", "field": "filter.near.radiusKm"},
            }
        ],
    }


@pytest.mark.parametrize(
    ("variables", "field", "message"),
    [
        (
            {"filter": {"near": {"lat": 91, "lon": 133.75, "radiusKm": 10}}},
            "filter.near.lat",
            "Latitude must be between -90 and 90",
        ),
        (
            {"filter": {"near": {"lat": 35, "lon": -180.5, "radiusKm": 10}}},
            "filter.near.lon",
            "Longitude must be between -180 and 180",
        ),
        ({"filter": {"search": "x" * 201}}, "filter.search", "Must have at most 200 characters"),
        (
            {"filter": {"search": "shavings\u0000"}},
            "filter.search",
            "Must not contain control characters",
        ),
        ({"filter": {"priceMin": "1.00001"}}, "filter.priceMin", "Use at most 4 decimal places"),
        ({"filter": {"priceMax": "1e20"}}, "filter.priceMax", "Is too large"),
        ({"first": 0}, "first", "first must be between 1 and 100"),
        ({"first": 101}, "first", "first must be between 1 and 100"),
    ],
)
async def test_listings_with_a_bad_argument_is_a_validation_error(
    gql: GraphQL, db: Database, variables: dict[str, Any], field: str, message: str
) -> None:
    # given one argument out of its range
    # when listings are searched with it
    body = await gql(PAGE, variables)

    # then it is a validation error on that argument
    assert body == {
        "data": None,
        "errors": [
            {
                "message": message,
                "locations": [{"line": 3, "column": 3}],
                "path": ["listings"],
                "extensions": {"code": "VALIDATION", "field": field},
            }
        ],
    }


async def test_listings_near_accept_the_largest_radius(gql: GraphQL, market: Market) -> None:
    # given a listing in Maniwa and one in An Giang
    await list_one(gql, market.pellets, "Cedar shavings")
    await list_one(gql, market.fish, "Catfish fat", at=AN_GIANG)

    # when anybody searches within 500 km of Maniwa
    body = await gql(TITLES, {"filter": {"near": near(MANIWA, 500)}})

    # then the Maniwa listing comes
    assert body == titles("Cedar shavings")


# ---------------------------------------------------------------------------------------------
# Price


# title: (price sent, price shown)
PRICES: dict[str, tuple[str | None, str | None]] = {
    "Ten yen A": ("10", "10"),
    "Free": ("0", "0"),
    "Two fifty": ("2.50", "2.5"),
    "We pay you": ("-5", "-5"),
    "No price A": (None, None),
    "Ten yen B": ("10", "10"),
    "Ninety nine": ("99.99", "99.99"),
    "No price B": (None, None),
    "Ten yen C": ("10.0000", "10"),
}


async def list_priced(gql: GraphQL, market: Market) -> dict[str, str]:
    ids = {}
    for i, (title, (price, _)) in enumerate(PRICES.items()):
        owner = (market.pellets, market.bark, market.shg)[i % 3]
        ids[title] = await list_one(gql, owner, title, pricePerUnit=price)
    return ids


PRICE_RANGES: list[tuple[dict[str, str], list[str]]] = [
    (
        {"priceMin": "0", "priceMax": "10"},
        ["Ten yen C", "Ten yen B", "Two fifty", "Free", "Ten yen A"],
    ),
    ({"priceMin": "10.0001"}, ["Ninety nine"]),
    ({"priceMax": "0"}, ["We pay you", "Free"]),
    ({"priceMax": "-5.0001"}, []),
    ({"priceMin": "2.5", "priceMax": "2.5"}, ["Two fifty"]),
    ({"priceMin": "11", "priceMax": "3"}, []),
]


async def test_listings_filter_by_price_range_leaves_out_unpriced_ones(
    gql: GraphQL, market: Market
) -> None:
    # given listings with prices, free, negative and without a price
    await list_priced(gql, market)

    # when listings are searched in each price range
    found = [await gql(TITLES, {"filter": price_range}) for price_range, _ in PRICE_RANGES]

    # then those priced within it (bounds included) come, newest first
    assert found == [titles(*expected) for _, expected in PRICE_RANGES]


@pytest.mark.parametrize(("sort", "descending"), [("PRICE_ASC", False), ("PRICE_DESC", True)])
async def test_listings_sorted_by_price_page_through_ties_with_unpriced_last(
    gql: GraphQL, market: Market, sort: str, descending: bool
) -> None:
    # given listings with prices (three at the same price), free, negative and without a price
    ids = await list_priced(gql, market)

    def order(title: str) -> tuple[Any, ...]:
        price = PRICES[title][0]
        key = uuid.UUID(ids[title]).int
        if price is None:
            return (1, 0, -key if descending else key)
        value = Decimal(price)
        return (0, -value if descending else value, -key if descending else key)

    expected = sorted(PRICES, key=order)

    # when they are read two at a time by price
    seen = await walk(gql, filter=None, sort=sort, first=2)

    # then each comes once: by price, ties by id, the unpriced ones last either way
    assert [n["title"] for n in seen] == expected
    assert [n["pricePerUnit"] for n in seen] == [PRICES[t][1] for t in expected]
    assert [n["pricePerUnit"] for n in seen[-2:]] == [None, None]


# ---------------------------------------------------------------------------------------------
# Newest first and pagination


async def test_listings_are_newest_first_by_publication(
    gql: GraphQL, market: Market, clock: ManualClock
) -> None:
    # given a draft made first, two listings published after it, then the draft published (a
    # minute apart on the app's clock)
    draft = await list_one(gql, market.pellets, "Drafted first", publish=False)
    clock.advance(timedelta(minutes=1))
    await list_one(gql, market.bark, "Published second")
    clock.advance(timedelta(minutes=1))
    await list_one(gql, market.shg, "Published third")
    clock.advance(timedelta(minutes=1))
    published = await gql(
        "mutation P($id: ID!) { listingPublish(id: $id) { errors { code } } }",
        {"id": draft},
        token=market.pellets.access_token,
    )
    assert published["data"]["listingPublish"] == {"errors": []}

    # when anybody searches without a sort
    body = await gql(TITLES, {})

    # then the most recently published comes first
    assert body == titles("Drafted first", "Published third", "Published second")


async def test_listings_newest_first_pages_walk_every_listing_once(
    gql: GraphQL, market: Market
) -> None:
    # given seven listings
    created = [await list_one(gql, market.pellets, f"Lot number {i}") for i in range(7)]

    # when they are read three at a time (the default sort)
    seen = await walk(gql, filter=None, sort="NEWEST", first=3)

    # then each comes once, newest first
    assert [n["id"] for n in seen] == list(reversed(created))


async def test_listings_total_count_counts_every_match_not_the_page(
    gql: GraphQL, market: Market
) -> None:
    # given five matching listings and one that does not match
    for i in range(5):
        await list_one(gql, market.pellets, f"Shavings lot {i}")
    await list_one(gql, market.pellets, "Bark lot", materialCode="bark")

    # when the first two are asked for
    body = await gql(PAGE, {"filter": {"materialCode": "wood-shavings"}, "first": 2})

    # then the page has two and counts five
    connection = body["data"]["listings"]
    assert (connection["totalCount"], len(connection["edges"])) == (5, 2)
    assert (connection["pageInfo"]["hasNextPage"], connection["pageInfo"]["hasPreviousPage"]) == (
        True,
        False,
    )


CAPPED = """
query Capped($filter: ListingFilter, $first: Int) {
  listings(filter: $filter, first: $first) {
    totalCount totalCountIsAtLeast edges { node { title } }
  }
}
"""


@pytest.mark.parametrize(
    ("cap", "expected"),
    [
        (2, {"totalCount": 2, "totalCountIsAtLeast": True}),
        (3, {"totalCount": 3, "totalCountIsAtLeast": False}),
        (4, {"totalCount": 3, "totalCountIsAtLeast": False}),
    ],
)
async def test_listings_total_count_stops_at_the_cap_and_says_so(
    gql: GraphQL,
    market: Market,
    db: Database,
    settings: Settings,
    clock: ManualClock,
    cap: int,
    expected: dict[str, Any],
) -> None:
    # given three matching listings and a service that counts up to `cap`
    for i in range(3):
        await list_one(gql, market.pellets, f"Shavings lot {i}")
    capped = create_app(settings.model_copy(update={"search_count_cap": cap}), db=db, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=capped), base_url="http://eic.test"
    ) as http:
        # when the first page is asked for with its total
        body = await GraphQL(http)(CAPPED, {"filter": {"search": "shavings"}, "first": 1})

    # then the total stops at the cap, and the flag says when more match than were counted
    assert body == {
        "data": {"listings": {**expected, "edges": [{"node": {"title": "Shavings lot 2"}}]}}
    }


@pytest.mark.parametrize(
    ("cursor_sort", "used_with"),
    [
        ("NEWEST", "PRICE_ASC"),
        ("PRICE_ASC", "PRICE_DESC"),
        ("PRICE_DESC", "NEWEST"),
        ("NEAREST", "NEWEST"),
        ("NEWEST", "NEAREST"),
    ],
)
async def test_listings_cursor_of_another_sort_is_a_validation_error(
    gql: GraphQL, market: Market, cursor_sort: str, used_with: str
) -> None:
    # given a cursor from a page in one sort
    await list_one(gql, market.pellets, "Cedar shavings", pricePerUnit="5")
    await list_one(gql, market.pellets, "Fine sawdust", pricePerUnit="7")
    listing_filter = {"near": near(MANIWA, 50)}
    first = await gql(PAGE, {"filter": listing_filter, "sort": cursor_sort, "first": 1})
    cursor = first["data"]["listings"]["pageInfo"]["endCursor"]
    assert cursor

    # when it is used with another sort
    body = await gql(
        PAGE, {"filter": listing_filter, "sort": used_with, "first": 1, "after": cursor}
    )

    # then it is a validation error on `after`
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "after is not a cursor of this list",
                "locations": [{"line": 3, "column": 3}],
                "path": ["listings"],
                "extensions": {"code": "VALIDATION", "field": "after"},
            }
        ],
    }


def cursor_of(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%%%",
        cursor_of({"s": "listings:newest", "v": ["2026-01-01T00:00:00+00:00"]}),
        cursor_of({"s": "listings:newest", "v": ["yesterday", str(uuid.uuid4())]}),
        cursor_of({"s": "listings:newest", "v": ["2026-01-01T00:00:00+00:00", "not-an-id"]}),
        cursor_of({"s": "organisations:name", "v": ["Pellet Works", str(uuid.uuid4())]}),
        cursor_of(["listings:newest"]),
    ],
)
async def test_listings_malformed_cursor_is_a_validation_error(
    gql: GraphQL, market: Market, cursor: str
) -> None:
    # given something that is not a cursor of this list
    await list_one(gql, market.pellets, "Cedar shavings")

    # when it is sent as `after`
    body = await gql(PAGE, {"after": cursor})

    # then it is a validation error on `after`, not a crash
    assert body == {
        "data": None,
        "errors": [
            {
                "message": "after is not a cursor of this list",
                "locations": [{"line": 3, "column": 3}],
                "path": ["listings"],
                "extensions": {"code": "VALIDATION", "field": "after"},
            }
        ],
    }


async def test_forged_cursors_are_validation_errors(gql: GraphQL) -> None:
    some_id = "0193a8a0-0000-7000-8000-000000000000"
    forged = {
        "time without offset": cursor_of(
            {"s": "listings:newest", "v": ["2020-01-01T00:00:00", some_id]}
        ),
        "year one": cursor_of(
            {"s": "listings:newest", "v": ["0001-01-01T00:00:00+05:00", some_id]}
        ),
        "price too large": cursor_of({"s": "listings:price-asc", "v": ["1e999999", some_id]}),
        "price not a number": cursor_of({"s": "listings:price-asc", "v": ["NaN", some_id]}),
        "deeply nested": base64.urlsafe_b64encode(b"[" * 700).decode(),
        "far too long": "A" * 5000,
    }
    sorts = {"price too large": "PRICE_ASC", "price not a number": "PRICE_ASC"}
    codes = {}
    for name, after in forged.items():
        body = await gql(PAGE, {"after": after, "sort": sorts.get(name, "NEWEST")})
        codes[name] = [
            (e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]
        ]
    assert codes == {name: [("VALIDATION", "after")] for name in forged}


# ---------------------------------------------------------------------------------------------
# Free text


# title, description, language, material (whose names in every language are searched too)
TEXT_LISTINGS = [
    ("Cedar shavings, dry", "Planer shavings from sugi, moisture 12.5 %.", "en", "wood-shavings"),
    ("Hinoki bark", "Bark mulch from the debarker.", "en", "bark"),
    ("Mỡ cá basa", "Mỡ cá tra từ nhà máy phi lê, giao tại Long Xuyên.", "vi", "fish-fat"),
    ("杉の乾燥おがくず、10トンあります", "真庭市の製材所から。", "ja", "sawdust"),
    ("Rice husk ash", "", "en", "rice-husk-ash"),
    ("ขายแกลบสด 20 ตัน", "จากโรงสีข้าวในฉะเชิงเทรา", "th", "rice-husk"),
]


@pytest.fixture
async def text_listings(gql: GraphQL, market: Market) -> list[str]:
    """The TEXT_LISTINGS, listed; their titles newest first."""
    for title, description, language, material in TEXT_LISTINGS:
        await list_one(
            gql,
            market.pellets,
            title,
            description=description,
            language=language,
            materialCode=material,
        )
    return [title for title, *_ in reversed(TEXT_LISTINGS)]


async def search_each(gql: GraphQL, searches: list[str]) -> dict[str, Any]:
    return {search: await gql(TITLES, {"filter": {"search": search}}) for search in searches}


def expect_each(newest: list[str], cases: list[tuple[str, list[str]]]) -> dict[str, Any]:
    return {search: titles(*(t for t in newest if t in found)) for search, found in cases}


CEDAR, BARK, FISH_FAT, SAWDUST_JA, ASH, HUSK_TH = (title for title, *_ in TEXT_LISTINGS)


async def test_listings_free_text_matches_every_word_as_a_prefix(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given listings in English, Vietnamese and Japanese
    cases = [
        ("shav", [CEDAR]),
        ("shavings", [CEDAR]),
        ("SHAVINGS", [CEDAR]),
        ("Cedar", [CEDAR]),
        # words of the description match as well as the title's
        ("mulch", [BARK]),
        ("sug", [CEDAR]),
        # every word must match, each as a prefix, in any order
        ("dry cedar", [CEDAR]),
        ("shav moist", [CEDAR]),
        ("cedar, dry!", [CEDAR]),
        # the material's names count as words of the listing: the Thai listing is of rice husk
        ("rice husk", [ASH, HUSK_TH]),
        ("rice-husk", [ASH, HUSK_TH]),
        ("husk", [ASH, HUSK_TH]),
        ("wood", [CEDAR]),
        ("sawd", [SAWDUST_JA]),
        ("fat", [FISH_FAT]),
        ("cedar wood", [CEDAR]),
        ("cedar bark", []),
        # words match from their start, not in their middle
        ("avings", []),
        ("edar", []),
        ("shavingsx", []),
    ]

    # when anybody searches each text
    found = await search_each(gql, [search for search, _ in cases])

    # then exactly the listings with every word come, newest first
    assert found == expect_each(text_listings, cases)


async def test_listings_free_text_matches_vietnamese_with_diacritics(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given a listing of fish fat written in Vietnamese among others
    cases = [
        ("mỡ cá", [FISH_FAT]),
        ("MỠ CÁ", [FISH_FAT]),
        ("Mỡ Cá Basa", [FISH_FAT]),
        ("cá tra", [FISH_FAT]),
        ("xuyên", [FISH_FAT]),
        ("nhà máy", [FISH_FAT]),
    ]

    # when anybody searches in Vietnamese
    found = await search_each(gql, [search for search, _ in cases])

    # then the words match whatever their case
    assert found == expect_each(text_listings, cases)


async def test_listings_free_text_keeps_vietnamese_diacritics_apart(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given "Mỡ cá basa" (fish fat) and an English listing about moisture
    # (in Vietnamese the marks make the word: mỡ is fat, mở is open, mô is tissue)
    cases = [("mỡ", [FISH_FAT]), ("mở", []), ("mo ca", []), ("moisture", [CEDAR])]

    # when anybody searches for a word with its marks, or without them
    found = await search_each(gql, [search for search, _ in cases])

    # then a word matches only with its own marks, the same on every database
    assert found == expect_each(text_listings, cases)


async def test_listings_free_text_matches_japanese_and_thai_inside_longer_text(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given Japanese and Thai titles, written without spaces between their words
    cases = [
        ("おがくず", [SAWDUST_JA]),
        ("乾燥", [SAWDUST_JA]),
        ("杉の乾燥おがくず", [SAWDUST_JA]),
        ("製材所", [SAWDUST_JA]),
        ("木くず", []),
        # LIKE wildcards are plain characters
        ("お_くず", []),
        ("お%くず", []),
        # rice husk ash is ขี้เถ้าแกลบ in Thai
        ("แกลบ", [HUSK_TH, ASH]),
        ("โรงสีข้าว", [HUSK_TH]),
        ("ฟางข้าว", []),
    ]

    # when anybody searches for a word inside them
    found = await search_each(gql, [search for search, _ in cases])

    # then the listing with it comes
    assert found == expect_each(text_listings, cases)


async def test_listings_free_text_matches_several_japanese_words_anywhere(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given "杉の乾燥おがくず、10トンあります" / "真庭市の製材所から。"
    # (Japanese searchers separate the words they look for with spaces)
    cases = [
        ("おがくず 杉", [SAWDUST_JA]),
        ("杉　おがくず", [SAWDUST_JA]),  # an ideographic space, as Japanese keyboards type it
        ("乾燥 製材所", [SAWDUST_JA]),
        ("おがくず 樹皮", []),
    ]

    # when anybody searches for several words
    found = await search_each(gql, [search for search, _ in cases])

    # then, as for every language, each word must be there, not the words side by side
    assert found == expect_each(text_listings, cases)


async def test_listings_free_text_matches_the_material_in_every_catalogue_language(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given listings whose text is in one language, of materials the catalogue names in several
    cases = [
        ("樹皮", [BARK]),  # bark, in Japanese, finds the English listing
        ("เปลือกไม้", [BARK]),  # and in Thai
        ("vỏ cây", [BARK]),  # and in Vietnamese, each word of the name
        ("mùn cưa", [SAWDUST_JA]),  # sawdust in Vietnamese finds the Japanese listing
        ("ขี้เลื่อย", [SAWDUST_JA]),
        ("かんなくず cedar", [CEDAR]),  # a Japanese name and an English word, each somewhere
        ("魚脂", [FISH_FAT]),
        ("trấu", [ASH, HUSK_TH]),  # rice husk and rice husk ash are both trấu in Vietnamese
        # the catalogue's codes are not words of its names: "03 01 05" is wood's EWC entry
        ("03", []),
        ("05", []),
        # a name's word matches from its start, as the listing's own words do
        ("hings", []),
    ]

    # when anybody searches for the material's name
    found = await search_each(gql, [search for search, _ in cases])

    # then the listings of that material come, whatever their own language
    assert found == expect_each(text_listings, cases)


async def test_listings_free_text_near_maniwa_finds_the_demo_wood_in_japanese(
    gql: GraphQL, db: Database, settings: Settings, clock: ManualClock
) -> None:
    # given the demo clusters, whose Maniwa firms list in Japanese (木質ペレット, かんなくず ...)
    from backend import demo
    from backend.auth.passwords import Passwords

    await demo.seed_demo(db, Passwords(settings), clock)
    query = """query($filter: ListingFilter) {
      listings(filter: $filter, sort: NEAREST, first: 100) {
        edges { node { title description material { code name } } }
      }
    }"""
    near = {"lat": MANIWA[0], "lon": MANIWA[1], "radiusKm": 25}

    # when anybody searches "wood" near Maniwa
    body = await gql(query, {"filter": {"search": "wood", "near": near}})
    found = [edge["node"] for edge in body["data"]["listings"]["edges"]]

    # then the Japanese wood pellets and shavings come, through their material's name
    titles_found = [node["title"] for node in found]
    assert "木質ペレット 10kg袋" in titles_found
    japanese = [node for node in found if "wood" not in (node["title"] + node["description"])]
    assert {node["material"]["code"] for node in japanese} >= {"wood-pellets", "wood-shavings"}
    # and every listing found says "wood" in its text or its material's name
    for node in found:
        words = f"{node['title']} {node['description']} {node['material']['name']}".lower()
        assert "wood" in words, node


async def test_listings_free_text_matches_numbers_with_a_decimal_point(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given "Planer shavings from sugi, moisture 12.5 %."
    cases = [("12.5", [CEDAR]), ("moisture 12.5", [CEDAR]), ("12", [CEDAR]), ("12.6", [])]

    # when anybody searches for the number as written
    found = await search_each(gql, [search for search, _ in cases])

    # then the listing comes, the same on every database
    assert found == expect_each(text_listings, cases)


async def test_listings_free_text_of_only_punctuation_matches_everything(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given listings
    searches = ["?!", "...", " - ", "“”", "%", "'\"", "   ", ""]

    # when the search has no word in it
    found = await search_each(gql, searches)

    # then it does not narrow the list
    assert found == {search: titles(*text_listings) for search in searches}


async def test_listings_free_text_of_only_underscores_matches_everything(
    gql: GraphQL, text_listings: list[str]
) -> None:
    # given listings
    searches = ["_", "__ ?", "-_-"]

    # when the search has no word in it, only connector punctuation
    found = await search_each(gql, searches)

    # then it does not narrow the list either
    assert found == {search: titles(*text_listings) for search in searches}


async def test_listings_free_text_follows_a_changed_title(gql: GraphQL, market: Market) -> None:
    # given a listing whose title was changed
    listing_id = await list_one(gql, market.pellets, "Cedar shavings")
    changed = await gql(
        "mutation U($input: ListingUpdateInput!) { listingUpdate(input: $input) "
        "{ errors { code } } }",
        {"input": {"id": listing_id, "title": "Hinoki shavings"}},
        token=market.pellets.access_token,
    )
    assert changed["data"]["listingUpdate"] == {"errors": []}

    # when the old and the new words are searched
    old = await gql(TITLES, {"filter": {"search": "cedar"}})
    new = await gql(TITLES, {"filter": {"search": "hinoki"}})

    # then only the new title matches
    assert (old, new) == (titles(), titles("Hinoki shavings"))


async def test_listings_combine_text_distance_and_material(gql: GraphQL, market: Market) -> None:
    # given shavings nearby, and listings that each miss one of three conditions
    nearby = point_at(MANIWA, 3, 4)
    await list_one(gql, market.pellets, "Cedar shavings nearby", at=nearby)
    await list_one(gql, market.bark, "Cedar shavings far off", at=point_at(MANIWA, 40, 0))
    # (of offcuts: a listing of shavings is found by "shav" through its material's name)
    await list_one(
        gql, market.bark, "Cedar offcuts nearby", at=nearby, materialCode="wood-trimmings"
    )
    await list_one(gql, market.bark, "Shavings of bark nearby", at=nearby, materialCode="bark")
    await list_one(
        gql,
        market.shg,
        "Shavings pellets nearby",
        at=nearby,
        materialCode="wood-pellets",
        category="ECO_PRODUCT",
    )
    await list_one(gql, market.pellets, "Cedar shavings drafted", at=nearby, publish=False)

    # when anybody searches for shavings of the sawdust-and-shavings entry within 10 km
    body = await gql(
        PAGE,
        {
            "filter": {
                "search": "shav",
                "near": near(MANIWA, 10),
                "materialCode": "ewc-03-01-05",
            },
            "sort": "NEAREST",
        },
    )

    # then only the listing meeting all three comes, with its distance
    connection = body["data"]["listings"]
    assert connection["totalCount"] == 1, body
    assert [(e["node"]["title"], e["node"]["distanceKm"]) for e in connection["edges"]] == [
        ("Cedar shavings nearby", round(km(MANIWA, nearby), 3))
    ]


async def test_listings_combine_japanese_text_with_distance(gql: GraphQL, market: Market) -> None:
    # given Japanese listings near and far
    await list_one(gql, market.pellets, "乾燥おがくず、杉", language="ja", materialCode="sawdust")
    await list_one(
        gql, market.fish, "おがくず求む", language="ja", materialCode="sawdust", at=AN_GIANG
    )
    await list_one(gql, market.bark, "樹皮チップ", language="ja", materialCode="bark")

    # when anybody searches in Japanese near Maniwa
    body = await gql(
        TITLES, {"filter": {"search": "おがくず", "near": near(MANIWA, 50)}, "sort": "NEAREST"}
    )

    # then only the nearby sawdust comes
    assert body == titles("乾燥おがくず、杉")
