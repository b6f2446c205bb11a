"""Clusters: the list, one cluster, and clusterCreate for platform admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from backend.identity import service as identity_service
from backend.identity.models import Cluster, Sector
from backend.kit.db import Database, utcnow
from backend.kit.validation import Place
from tests.conftest import GraphQL

CLUSTER_FIELDS = """
  id slug name region country sector centre { lat lon } currency languages timezone
  description createdAt
"""
CLUSTERS = f"""
query Clusters($filter: ClusterFilter, $first: Int, $after: String) {{
  clusters(filter: $filter, first: $first, after: $after) {{
    edges {{ cursor node {{ {CLUSTER_FIELDS} }} }}
    pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
    totalCount
  }}
}}
"""
CLUSTER = f"query One($id: ID!) {{ cluster(id: $id) {{ {CLUSTER_FIELDS} }} }}"
CLUSTER_CREATE = f"""
mutation Create($input: ClusterCreateInput!) {{
  clusterCreate(input: $input) {{
    cluster {{ {CLUSTER_FIELDS} }}
    errors {{ code message field }}
  }}
}}
"""

# The demo clusters of DOMAIN.md, plus the conftest's "Test Wood Cluster" (JP, WOOD, Okayama).
DEMO_CLUSTERS = [
    ("hosur-silk", "Hosur Silk", "Tamil Nadu", "IN", Sector.SERICULTURE, "INR", ["ta", "kn"]),
    ("maniwa-wood", "Maniwa Wood", "Okayama", "JP", Sector.WOOD, "JPY", ["ja"]),
    ("chachoengsao-rice", "Chachoengsao Rice", "Chachoengsao", "TH", Sector.RICE, "THB", ["th"]),
    ("an-giang-fish", "An Giang Fish", "An Giang", "VN", Sector.FISH, "VND", ["vi"]),
    ("percent-wood", "100% Bamboo_Works", "Kerala", "IN", Sector.WOOD, "INR", ["ml"]),
]


async def add_demo_clusters(db: Database) -> dict[str, str]:
    """Slug -> id of the demo clusters."""
    ids = {}
    for slug, name, region, country, sector, currency, languages in DEMO_CLUSTERS:
        cluster = await identity_service.create_cluster(
            db=db,
            cluster=identity_service.NewCluster(
                slug=slug,
                name=name,
                region=region,
                country=country,
                sector=sector,
                centre=Place(lat=10.0, lon=100.0),
                currency=currency,
                languages=languages,
                timezone="Asia/Bangkok",
                description=f"{name} cluster",
            ),
        )
        ids[slug] = str(cluster.id)
    return ids


async def cluster_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Cluster)) or 0)


def cluster_input(**fields: Any) -> dict[str, Any]:
    return {
        "slug": "hosur-silk",
        "name": "Hosur Silk",
        "region": "Tamil Nadu",
        "country": "IN",
        "sector": "SERICULTURE",
        "centre": {"lat": 12.74, "lon": 77.83},
        "currency": "INR",
        "languages": ["ta", "kn", "te", "en-IN"],
        "timezone": "Asia/Kolkata",
        "description": "Silk waste, pupae and mulberry residue",
        **fields,
    }


def refused(*errors: tuple[str, str, str | None]) -> dict[str, Any]:
    """The whole response of a refused clusterCreate."""
    return {
        "data": {
            "clusterCreate": {
                "cluster": None,
                "errors": [
                    {"code": code, "message": message, "field": field}
                    for code, message, field in errors
                ],
            }
        }
    }


async def names_of(gql: GraphQL, filter: dict[str, Any] | None) -> tuple[list[str], int]:
    body = await gql(CLUSTERS, {"filter": filter})
    connection = body["data"]["clusters"]
    return [e["node"]["slug"] for e in connection["edges"]], connection["totalCount"]


# ---------------------------------------------------------------------------------------------
# clusters and cluster(id)


async def test_clusters_are_listed_by_name_with_total(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given six clusters
    ids = await add_demo_clusters(db)

    # when anybody lists them
    body = await gql(CLUSTERS)

    # then all come back by name, with their count
    connection = body["data"]["clusters"]
    assert [e["node"]["name"] for e in connection["edges"]] == [
        "100% Bamboo_Works",
        "An Giang Fish",
        "Chachoengsao Rice",
        "Hosur Silk",
        "Maniwa Wood",
        "Test Wood Cluster",
    ]
    assert connection["totalCount"] == 6
    assert connection["pageInfo"] == {
        "hasNextPage": False,
        "hasPreviousPage": False,
        "startCursor": connection["edges"][0]["cursor"],
        "endCursor": connection["edges"][-1]["cursor"],
    }
    # and each node is the whole cluster
    hosur = connection["edges"][3]["node"]
    assert hosur == {
        "id": ids["hosur-silk"],
        "slug": "hosur-silk",
        "name": "Hosur Silk",
        "region": "Tamil Nadu",
        "country": "IN",
        "sector": "SERICULTURE",
        "centre": {"lat": 10.0, "lon": 100.0},
        "currency": "INR",
        "languages": ["ta", "kn"],
        "timezone": "Asia/Bangkok",
        "description": "Hosur Silk cluster",
        "createdAt": hosur["createdAt"],
    }
    assert datetime.fromisoformat(hosur["createdAt"]) <= utcnow()


async def test_clusters_pages_walk_every_cluster_once(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given six clusters
    await add_demo_clusters(db)
    everything = (await names_of(gql, None))[0]

    # when they are read two at a time
    seen: list[str] = []
    after = None
    while True:
        body = await gql(CLUSTERS, {"first": 2, "after": after})
        connection = body["data"]["clusters"]
        assert len(connection["edges"]) == 2
        seen += [e["node"]["slug"] for e in connection["edges"]]
        if not connection["pageInfo"]["hasNextPage"]:
            break
        assert len(seen) < 10, "the walk does not end"
        after = connection["pageInfo"]["endCursor"]

    # then each comes once, in the same order as the single page
    assert seen == everything
    assert len(set(seen)) == 6


@pytest.mark.parametrize(
    ("filter", "expected"),
    [
        ({"country": "JP"}, ["maniwa-wood", "test-wood"]),
        ({"country": "jp"}, ["maniwa-wood", "test-wood"]),
        ({"country": "IN"}, ["percent-wood", "hosur-silk"]),
        ({"country": "DE"}, []),
        ({"sector": "WOOD"}, ["percent-wood", "maniwa-wood", "test-wood"]),
        ({"sector": "FISH"}, ["an-giang-fish"]),
        ({"sector": "TEXTILES"}, []),
        ({"country": "IN", "sector": "WOOD"}, ["percent-wood"]),
        ({"search": "wood"}, ["maniwa-wood", "test-wood"]),
        ({"search": "OKAYAMA"}, ["maniwa-wood", "test-wood"]),
        ({"search": " tamil "}, ["hosur-silk"]),
        ({"search": "%"}, ["percent-wood"]),
        ({"search": "_"}, ["percent-wood"]),
        ({"search": "an"}, ["an-giang-fish", "maniwa-wood"]),
        ({"search": "an", "country": "VN"}, ["an-giang-fish"]),
        ({"search": "nowhere"}, []),
    ],
)
async def test_clusters_filter(
    gql: GraphQL, db: Database, cluster_id: str, filter: dict[str, Any], expected: list[str]
) -> None:
    # given six clusters in four countries
    await add_demo_clusters(db)

    # when the list is filtered
    slugs, total = await names_of(gql, filter)

    # then only the matching clusters come back, by name, and the total counts only them
    assert (slugs, total) == (expected, len(expected))


async def test_cluster_by_id(gql: GraphQL, db: Database, cluster_id: str) -> None:
    # given the conftest's cluster
    # when it is read by id
    body = await gql(CLUSTER, {"id": cluster_id})

    # then the whole cluster comes back
    cluster = body["data"]["cluster"]
    assert body == {
        "data": {
            "cluster": {
                "id": cluster_id,
                "slug": "test-wood",
                "name": "Test Wood Cluster",
                "region": "Okayama",
                "country": "JP",
                "sector": "WOOD",
                "centre": {"lat": 35.07, "lon": 133.75},
                "currency": "JPY",
                "languages": ["ja"],
                "timezone": "Asia/Tokyo",
                "description": "",
                "createdAt": cluster["createdAt"],
            }
        }
    }


@pytest.mark.parametrize(
    "cluster_id", [str(uuid.uuid4()), "maniwa-wood", ""], ids=["unknown", "malformed", "empty"]
)
async def test_cluster_that_does_not_exist_is_null(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given no cluster with this id
    # when it is asked for
    body = await gql(CLUSTER, {"id": cluster_id})

    # then the answer is null, without errors
    assert body == {"data": {"cluster": None}}


async def test_clusters_page_costs_the_same_statements_for_1_and_all(
    gql: GraphQL, db: Database, cluster_id: str, sql_statements: Any
) -> None:
    # given six clusters
    await add_demo_clusters(db)

    # when a page of one and a page of all six are read
    with sql_statements() as one:
        page_of_one = await gql(CLUSTERS, {"first": 1})
    with sql_statements() as six:
        page_of_six = await gql(CLUSTERS, {"first": 6})

    # then both cost the same number of statements
    assert len(page_of_one["data"]["clusters"]["edges"]) == 1
    assert len(page_of_six["data"]["clusters"]["edges"]) == 6
    assert one.count == six.count, (one.statements, six.statements)


# ---------------------------------------------------------------------------------------------
# clusterCreate


async def test_platform_admin_creates_cluster(
    gql: GraphQL, db: Database, platform_admin_token: str
) -> None:
    # given a platform admin
    before = utcnow()

    # when they open a cluster, with spaces around the names
    body = await gql(
        CLUSTER_CREATE,
        {"input": cluster_input(name="  Hosur Silk ", region=" Tamil Nadu ")},
        token=platform_admin_token,
    )

    # then the cluster is made with every field as given (names trimmed)
    cluster = body["data"]["clusterCreate"]["cluster"]
    assert body == {
        "data": {
            "clusterCreate": {
                "cluster": {
                    "id": cluster["id"],
                    "slug": "hosur-silk",
                    "name": "Hosur Silk",
                    "region": "Tamil Nadu",
                    "country": "IN",
                    "sector": "SERICULTURE",
                    "centre": {"lat": 12.74, "lon": 77.83},
                    "currency": "INR",
                    "languages": ["ta", "kn", "te", "en-IN"],
                    "timezone": "Asia/Kolkata",
                    "description": "Silk waste, pupae and mulberry residue",
                    "createdAt": cluster["createdAt"],
                },
                "errors": [],
            }
        }
    }
    uuid.UUID(cluster["id"])
    assert before <= datetime.fromisoformat(cluster["createdAt"]) <= utcnow()
    # and anybody can read it back as it was returned
    assert await gql(CLUSTER, {"id": cluster["id"]}) == {"data": {"cluster": cluster}}


async def test_organisation_admin_token_may_not_create_cluster(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given the admin of a firm (an organisation admin, not a platform admin): a FIRM token
    firm = await register("admin@pellets.example", cluster_id)

    # when they try to open a cluster
    body = await gql(CLUSTER_CREATE, {"input": cluster_input()}, token=firm.access_token)

    # then it is forbidden, in the payload, and no cluster is added
    assert body == refused(("FORBIDDEN", "Only platform admins may do this", None))
    assert await cluster_count(db) == 1


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "Sign in to do this"),
        ("not-a-jwt", "The access token is not valid; sign in again"),
    ],
    ids=["no-token", "bad-token"],
)
async def test_anonymous_may_not_create_cluster(
    gql: GraphQL, db: Database, token: str | None, message: str
) -> None:
    # given a request without a usable token
    # when it tries to open a cluster
    body = await gql(CLUSTER_CREATE, {"input": cluster_input()}, token=token)

    # then the payload says to sign in; the request itself does not fail
    assert body == refused(("UNAUTHENTICATED", message, None))
    assert await cluster_count(db) == 0


async def test_cluster_create_reports_every_problem_at_once(
    gql: GraphQL, db: Database, platform_admin_token: str
) -> None:
    # given an input wrong in every checked field
    bad = cluster_input(
        slug="Hosur Silk",
        name="H",
        region=" ",
        country="ind",
        currency="rupee",
        languages=[],
        timezone="Mars/Olympus_Mons",
        centre={"lat": 90.01, "lon": -180.01},
    )

    # when a platform admin sends it
    body = await gql(CLUSTER_CREATE, {"input": bad}, token=platform_admin_token)

    # then each problem is reported with its field, and nothing is written
    assert body == refused(
        (
            "VALIDATION",
            "Use lower-case letters, digits and single hyphens (at most 64)",
            "slug",
        ),
        ("VALIDATION", "Must have at least 2 characters", "name"),
        ("VALIDATION", "Must have at least 2 characters", "region"),
        ("VALIDATION", "Use an ISO 3166-1 alpha-2 code such as IN or JP", "country"),
        ("VALIDATION", "Use an ISO 4217 code such as INR or JPY", "currency"),
        ("VALIDATION", "Give one or more BCP 47 language tags such as ta or ja", "languages"),
        ("VALIDATION", "Use an IANA time zone such as Asia/Kolkata", "timezone"),
        ("VALIDATION", "Latitude must be between -90 and 90", "centre.lat"),
        ("VALIDATION", "Longitude must be between -180 and 180", "centre.lon"),
    )
    assert await cluster_count(db) == 0


SLUG = ("VALIDATION", "Use lower-case letters, digits and single hyphens (at most 64)", "slug")
COUNTRY = ("VALIDATION", "Use an ISO 3166-1 alpha-2 code such as IN or JP", "country")
CURRENCY = ("VALIDATION", "Use an ISO 4217 code such as INR or JPY", "currency")
LANGUAGES = ("VALIDATION", "Give one or more BCP 47 language tags such as ta or ja", "languages")
TIMEZONE = ("VALIDATION", "Use an IANA time zone such as Asia/Kolkata", "timezone")


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"slug": "-hosur"}, SLUG),
        ({"slug": "hosur-"}, SLUG),
        ({"slug": "hosur--silk"}, SLUG),
        ({"slug": "Hosur"}, SLUG),
        ({"slug": "hosur_silk"}, SLUG),
        ({"slug": ""}, SLUG),
        ({"slug": "h" * 65}, SLUG),
        ({"country": "jp"}, COUNTRY),
        ({"country": "JPN"}, COUNTRY),
        ({"country": "J1"}, COUNTRY),
        ({"currency": "JP"}, CURRENCY),
        ({"currency": "jpy"}, CURRENCY),
        ({"languages": ["Japanese"]}, LANGUAGES),
        ({"languages": ["ja", ""]}, LANGUAGES),
        ({"languages": ["ja_JP"]}, LANGUAGES),
        ({"timezone": "Asia/Tokio"}, TIMEZONE),
        ({"timezone": ""}, TIMEZONE),
        ({"timezone": "../../etc/passwd"}, TIMEZONE),
        ({"timezone": "/etc/localtime"}, TIMEZONE),
    ],
)
async def test_cluster_create_validates_each_field(
    gql: GraphQL,
    db: Database,
    platform_admin_token: str,
    fields: dict[str, Any],
    problem: tuple[str, str, str],
) -> None:
    # given an input with one wrong field
    # when a platform admin sends it
    body = await gql(CLUSTER_CREATE, {"input": cluster_input(**fields)}, token=platform_admin_token)

    # then that field is reported and nothing is written
    assert body == refused(problem)
    assert await cluster_count(db) == 0


@pytest.mark.parametrize("timezone", ["Asia", "x" * 300], ids=["a-directory-of-zones", "too-long"])
async def test_cluster_create_refuses_timezone_that_is_no_zone_file(
    gql: GraphQL, db: Database, platform_admin_token: str, timezone: str
) -> None:
    # given a time zone that names a directory of the zone database, or no file at all
    # when a platform admin sends it
    body = await gql(
        CLUSTER_CREATE, {"input": cluster_input(timezone=timezone)}, token=platform_admin_token
    )

    # then it is a validation error like any unknown zone, not an internal error
    assert body == refused(TIMEZONE)
    assert await cluster_count(db) == 0


async def test_cluster_create_refuses_language_tag_with_trailing_newline(
    gql: GraphQL, db: Database, platform_admin_token: str
) -> None:
    # given a language tag followed by a newline
    # when a platform admin sends it
    body = await gql(
        CLUSTER_CREATE, {"input": cluster_input(languages=["ta\n"])}, token=platform_admin_token
    )

    # then it is refused like any malformed tag
    assert body == refused(LANGUAGES)
    assert await cluster_count(db) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"slug": "h" * 64},
        {"slug": "a1-b2-c3"},
        {"languages": ["ta", "en-IN", "zh-Hant-TW", "fil"]},
        {"timezone": "UTC"},
        {"timezone": "America/Argentina/Buenos_Aires"},
        {"centre": {"lat": -90, "lon": 180}},
    ],
)
async def test_cluster_create_accepts_values_at_the_edges(
    gql: GraphQL, db: Database, platform_admin_token: str, fields: dict[str, Any]
) -> None:
    # given an input that is unusual but valid
    # when a platform admin sends it
    body = await gql(CLUSTER_CREATE, {"input": cluster_input(**fields)}, token=platform_admin_token)

    # then the cluster is made with those values
    payload = body["data"]["clusterCreate"]
    assert payload["errors"] == []
    for name, value in fields.items():
        assert payload["cluster"][name] == value
    assert await cluster_count(db) == 1


async def test_duplicate_slug_is_a_conflict(
    gql: GraphQL, db: Database, cluster_id: str, platform_admin_token: str
) -> None:
    # given the cluster "test-wood"
    # when a platform admin opens another cluster with the same slug
    body = await gql(
        CLUSTER_CREATE,
        {"input": cluster_input(slug="test-wood", name="Another Wood")},
        token=platform_admin_token,
    )

    # then it is a conflict on the slug and only the first cluster exists
    assert body == refused(("CONFLICT", "A cluster with this slug exists", "slug"))
    assert await cluster_count(db) == 1
    assert (await gql(CLUSTER, {"id": cluster_id}))["data"]["cluster"]["name"] == (
        "Test Wood Cluster"
    )
