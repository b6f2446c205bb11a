"""Regressions for a review of the marketplace: leaks, races and inputs that used to crash."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timedelta
from typing import Any

from backend.kit.clock import ManualClock
from tests.conftest import GraphQL

CREATE = """
mutation Create($input: ListingCreateInput!) {
  listingCreate(input: $input) {
    listing { id version expiresAt location { lat lon placeName } }
    errors { code message field }
  }
}
"""
UPDATE = """
mutation Update($input: ListingUpdateInput!) {
  listingUpdate(input: $input) { listing { version expiresAt } errors { code field } }
}
"""
VIEW = "query View($id: ID!) { listing(id: $id) { status location { lat lon placeName } } }"
SEARCH = """
query Search($sort: ListingSort, $after: String, $filter: ListingFilter) {
  listings(sort: $sort, after: $after, filter: $filter) { edges { node { id } } }
}
"""


def listing_input(**overrides: Any) -> dict[str, Any]:
    return {
        "kind": "OFFER",
        "category": "BY_PRODUCT",
        "title": "Cedar shavings",
        "materialCode": "wood-shavings",
        "quantity": "2",
        "unit": "TNE",
        "location": {"lat": 35.0912, "lon": 133.6934, "placeName": "3-14 Katsuyama (Sato yard)"},
        "publish": True,
        **overrides,
    }


async def create(gql: GraphQL, token: str, **overrides: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": listing_input(**overrides)}, token=token)
    payload: dict[str, Any] = body["data"]["listingCreate"]
    return payload


def cursor(body: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(body).encode()).decode().rstrip("=")


async def test_an_approximate_location_hides_the_place_name_too(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing shown only approximately
    owner = await register("sato@lumber.example", cluster_id)
    created = await create(gql, owner.access_token, locationApproximate=True)
    listing_id = created["listing"]["id"]
    # when the owner and an anonymous reader look at it
    mine = await gql(VIEW, {"id": listing_id}, token=owner.access_token)
    theirs = await gql(VIEW, {"id": listing_id}, token="")
    # then only the owner sees the point and the yard's name
    assert mine["data"]["listing"]["location"] == {
        "lat": 35.0912,
        "lon": 133.6934,
        "placeName": "3-14 Katsuyama (Sato yard)",
    }
    assert theirs["data"]["listing"]["location"] == {"lat": 35.09, "lon": 133.69, "placeName": ""}


async def test_two_edits_with_one_expected_version_cannot_both_win(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing at version 2 (created, published)
    owner = await register("sato@lumber.example", cluster_id)
    created = await create(gql, owner.access_token)
    listing_id, version = created["listing"]["id"], created["listing"]["version"]

    # when two phones send an edit made offline against that version at the same time
    async def edit(title: str) -> dict[str, Any]:
        body = await gql(
            UPDATE,
            {"input": {"id": listing_id, "expectedVersion": version, "title": title}},
            token=owner.access_token,
        )
        return body["data"]["listingUpdate"]  # type: ignore[no-any-return]

    results = await asyncio.gather(edit("Cedar shavings, dry"), edit("Cedar shavings, wet"))

    # then exactly one is applied and the other is a CONFLICT on expectedVersion
    outcomes = sorted(
        "ok" if r["errors"] == [] else r["errors"][0]["code"] + ":" + r["errors"][0]["field"]
        for r in results
    )
    assert outcomes == ["CONFLICT:expectedVersion", "ok"]


async def test_clearing_the_expiry_of_an_active_listing_gives_the_default_lifetime(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    owner = await register("sato@lumber.example", cluster_id)
    created = await create(gql, owner.access_token)
    body = await gql(
        UPDATE,
        {"input": {"id": created["listing"]["id"], "expiresAt": None}},
        token=owner.access_token,
    )
    expires_at = datetime.fromisoformat(body["data"]["listingUpdate"]["listing"]["expiresAt"])
    assert timedelta(days=89) < expires_at - clock.now() <= timedelta(days=90)


async def test_an_update_refuses_times_without_an_offset(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    owner = await register("sato@lumber.example", cluster_id)
    created = await create(gql, owner.access_token)
    body = await gql(
        UPDATE,
        {"input": {"id": created["listing"]["id"], "availableFrom": "2027-01-31T09:00:00"}},
        token=owner.access_token,
    )
    assert body["data"]["listingUpdate"] == {
        "listing": None,
        "errors": [{"code": "VALIDATION", "field": "availableFrom"}],
    }


async def test_inputs_that_used_to_crash_are_validation_errors(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    owner = await register("sato@lumber.example", cluster_id)
    cases = {
        "huge quantity": ({"quantity": "1E+1000000"}, "quantity"),
        "huge negative price": ({"pricePerUnit": "-1E+1000000"}, "pricePerUnit"),
        "broken photo address": ({"photos": ["https://[oops"]}, "photos.0"),
        "NUL in the material code": ({"materialCode": "wood\u0000"}, "materialCode"),
        "NUL in the unit": ({"unit": "KG\u0000"}, "unit"),
    }
    fields = {}
    for name, (overrides, _) in cases.items():
        payload = await create(gql, owner.access_token, **overrides)
        fields[name] = [e["field"] for e in payload["errors"] if e["code"] == "VALIDATION"]
    assert fields == {name: [field] for name, (_, field) in cases.items()}


async def test_trailing_zeros_are_not_extra_decimal_places(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    owner = await register("sato@lumber.example", cluster_id)
    assert (await create(gql, owner.access_token, quantity="2.50000"))["errors"] == []


async def test_forged_cursors_are_validation_errors(gql: GraphQL) -> None:
    some_id = "0193a8a0-0000-7000-8000-000000000000"
    forged = {
        "time without offset": cursor(
            {"s": "listings:newest", "v": ["2020-01-01T00:00:00", some_id]}
        ),
        "year one": cursor({"s": "listings:newest", "v": ["0001-01-01T00:00:00+05:00", some_id]}),
        "price too large": cursor({"s": "listings:price-asc", "v": ["1e999999", some_id]}),
        "price not a number": cursor({"s": "listings:price-asc", "v": ["NaN", some_id]}),
        "deeply nested": base64.urlsafe_b64encode(b"[" * 700).decode(),
        "far too long": "A" * 5000,
    }
    sorts = {"price too large": "PRICE_ASC", "price not a number": "PRICE_ASC"}
    codes = {}
    for name, after in forged.items():
        body = await gql(SEARCH, {"after": after, "sort": sorts.get(name, "NEWEST")})
        codes[name] = [
            (e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]
        ]
    assert codes == {name: [("VALIDATION", "after")] for name in forged}


async def test_platform_admins_see_hidden_listings_but_not_drafts(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    owner = await register("sato@lumber.example", cluster_id)
    draft = await create(gql, owner.access_token, publish=False)
    body = await gql(VIEW, {"id": draft["listing"]["id"]}, token=platform_admin_token)
    assert body == {"data": {"listing": None}}
    drafts = await gql(SEARCH, {"filter": {"status": "DRAFT"}}, token=platform_admin_token)
    assert drafts == {"data": {"listings": {"edges": []}}}


async def test_material_lookups_with_control_characters_find_nothing(gql: GraphQL) -> None:
    body = await gql('query { material(code: "wood\\u0000") { code } }')
    assert body == {"data": {"material": None}}


async def test_a_request_body_over_the_limit_is_refused(gql: GraphQL) -> None:
    response = await gql.http.post(
        "/graphql", json={"query": "{ units { code } }", "variables": {"pad": "x" * 1_100_000}}
    )
    assert response.status_code == 413
