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
