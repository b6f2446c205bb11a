from tests.conftest import GraphQL

CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) {
    listing { id status title quantity unit { code } quantityInBaseUnit material { code ewcCode }
              currency location { lat lon } }
    errors { code message field }
  }
}
"""
SEARCH = """
query Search($filter: ListingFilter, $sort: ListingSort) {
  listings(filter: $filter, sort: $sort) {
    totalCount edges { node { title distanceKm organisation { name } } }
  }
}
"""


async def test_create_publish_and_find(gql: GraphQL, register, cluster_id: str) -> None:
    account = await register("tanaka@pellets.example", cluster_id)
    gql.token = account.access_token
    body = await gql(
        CREATE,
        {
            "input": {
                "kind": "OFFER",
                "category": "BY_PRODUCT",
                "title": "Cedar shavings, dry",
                "materialCode": "wood-shavings",
                "quantity": "2.5",
                "unit": "TNE",
                "location": {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"},
                "publish": True,
            }
        },
    )
    listing = body["data"]["listingCreate"]
    assert listing["errors"] == [], body
    assert listing["listing"]["quantityInBaseUnit"] == "2500"
    assert listing["listing"]["currency"] == "JPY"
    gql.token = None
    found = await gql(
        SEARCH,
        {
            "filter": {
                "search": "shav",
                "materialCode": "ewc-03",
                "near": {"lat": 35.07, "lon": 133.75, "radiusKm": 20},
            },
            "sort": "NEAREST",
        },
    )
    assert found["data"]["listings"]["totalCount"] == 1, found
    node = found["data"]["listings"]["edges"][0]["node"]
    assert node["title"] == "Cedar shavings, dry"
    assert 5 < node["distanceKm"] < 7


COUNTED = """
query Counted($filter: ListingFilter) {
  listings(filter: $filter, first: 5) { ...Total edges { node { id } } }
}
fragment Total on ListingConnection { totalCount }
"""
UNCOUNTED = """
query Uncounted($filter: ListingFilter) {
  listings(filter: $filter, first: 5) { pageInfo { hasNextPage } edges { node { id } } }
}
"""


async def test_listings_are_counted_only_when_the_query_asks(
    gql: GraphQL, register, cluster_id: str, sql_statements
) -> None:
    # given seven published listings
    account = await register("tanaka@pellets.example", cluster_id)
    for n in range(7):
        body = await gql(
            CREATE,
            {
                "input": {
                    "kind": "OFFER",
                    "category": "BY_PRODUCT",
                    "title": f"Cedar shavings lot {n}",
                    "materialCode": "wood-shavings",
                    "quantity": "1",
                    "unit": "TNE",
                    "location": {"lat": 35.09, "lon": 133.69},
                    "publish": True,
                }
            },
            token=account.access_token,
        )
        assert body["data"]["listingCreate"]["errors"] == []
    variables = {"filter": {"search": "cedar"}}

    # when the same search is sent asking for totalCount (through a fragment) and without it
    with sql_statements() as counted_log:
        counted = await gql(COUNTED, variables)
    with sql_statements() as uncounted_log:
        uncounted = await gql(UNCOUNTED, variables)

    # then the count is right when asked for, and costs exactly one statement more
    assert counted["data"]["listings"]["totalCount"] == 7
    assert len(counted["data"]["listings"]["edges"]) == 5
    assert uncounted["data"]["listings"]["pageInfo"] == {"hasNextPage": True}
    assert counted_log.count == uncounted_log.count + 1
