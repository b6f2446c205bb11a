"""Listings through the GraphQL API: create, validation, client ids, lifecycle, updates, who may
do what, approximate locations, myListings and the statement count of a page."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, update

from backend.identity import service as identity_service
from backend.identity.models import Organisation, Sector
from backend.kit.clock import ManualClock
from backend.kit.db import Database, utcnow
from backend.kit.validation import Place
from backend.marketplace.models import (
    Delivery,
    Listing,
    ListingCategory,
    ListingKind,
    ListingStatus,
    Recurrence,
)
from tests.conftest import PASSWORD, SIGN_IN, GraphQL
from tests.kit import AppCalls, begins

LISTING_FIELDS = """
  id kind category status title description language
  quantity quantityInBaseUnit unit { code name dimension }
  material { code name ewcCode hazardous }
  recurrence seasonMonths availableFrom availableUntil
  pricePerUnit currency delivery
  location { lat lon placeName } locationApproximate
  specs { key value } photos
  expiresAt publishedAt closedAt createdAt updatedAt version
  hidden viewerCanManage distanceKm
  organisation { id name kind subtype cluster { id name currency } }
"""
ERRORS = "errors { code message field }"
CREATE = f"""
mutation Create($input: ListingCreateInput!) {{
  listingCreate(input: $input) {{ listing {{ {LISTING_FIELDS} }} {ERRORS} }}
}}
"""
UPDATE = f"""
mutation Update($input: ListingUpdateInput!) {{
  listingUpdate(input: $input) {{ listing {{ {LISTING_FIELDS} }} {ERRORS} }}
}}
"""
PUBLISH = f"""
mutation Publish($id: ID!) {{
  listingPublish(id: $id) {{ listing {{ {LISTING_FIELDS} }} {ERRORS} }}
}}
"""
CLOSE = f"""
mutation Close($id: ID!) {{
  listingClose(id: $id) {{ listing {{ {LISTING_FIELDS} }} {ERRORS} }}
}}
"""
DELETE = f"""
mutation Delete($id: ID!) {{
  listingDelete(id: $id) {{ deletedId {ERRORS} }}
}}
"""
HIDE = f"""
mutation Hide($input: ListingHideInput!) {{
  listingHide(input: $input) {{ listing {{ id status hidden }} {ERRORS} }}
}}
"""
RESTORE = f"""
mutation Restore($id: ID!) {{
  listingRestore(id: $id) {{ listing {{ id status hidden }} {ERRORS} }}
}}
"""
LISTING = f"query One($id: ID!) {{ listing(id: $id) {{ {LISTING_FIELDS} }} }}"
LISTINGS = """
query Search($filter: ListingFilter, $first: Int) {
  listings(filter: $filter, first: $first) {
    totalCount
    edges { node { id title status hidden location { lat lon } } }
  }
}
"""
MY_LISTINGS = """
query Mine($status: ListingStatus) {
  myListings(status: $status) {
    totalCount
    edges { node { id title status hidden } }
  }
}
"""
INVITE_CREATE = f"""
mutation Invite($input: OrganisationInviteCreateInput!) {{
  organisationInviteCreate(input: $input) {{ invite {{ code }} {ERRORS} }}
}}
"""
JOIN = f"""
mutation Join($input: OrganisationJoinInput!) {{
  organisationJoin(input: $input) {{ membership {{ role }} {ERRORS} }}
}}
"""

KATSUYAMA = {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"}

UNAUTHENTICATED = {"code": "UNAUTHENTICATED", "message": "Sign in to do this", "field": None}
FORBIDDEN_ROLE = {
    "code": "FORBIDDEN",
    "message": "Only firms and communities may do this",
    "field": None,
}
FORBIDDEN_ADMIN_ONLY = {
    "code": "FORBIDDEN",
    "message": "Only platform admins may do this",
    "field": None,
}
FORBIDDEN_MANAGE = {
    "code": "FORBIDDEN",
    "message": "Only members of the listing's organisation, acting for it, may do this",
    "field": None,
}
NOT_FOUND = {"code": "NOT_FOUND", "message": "Listing not found", "field": "id"}


# ---------------------------------------------------------------------------------------------
# Helpers


def listing_input(**overrides: Any) -> dict[str, Any]:
    """A valid create input: two tonnes of cedar shavings in Katsuyama."""
    return {
        "kind": "OFFER",
        "category": "BY_PRODUCT",
        "title": "Cedar shavings, kiln dry",
        "materialCode": "wood-shavings",
        "quantity": "2",
        "unit": "TNE",
        "location": KATSUYAMA,
        **overrides,
    }


async def create(gql: GraphQL, token: str | None, **overrides: Any) -> dict[str, Any]:
    body = await gql(CREATE, {"input": listing_input(**overrides)}, token=token)
    payload: dict[str, Any] = body["data"]["listingCreate"]
    return payload


async def create_listing(gql: GraphQL, token: str, **overrides: Any) -> dict[str, Any]:
    payload = await create(gql, token, **overrides)
    assert payload["errors"] == [], payload
    listing: dict[str, Any] = payload["listing"]
    return listing


async def mutate(
    gql: GraphQL, operation: str, variables: dict[str, Any], token: str | None
) -> dict[str, Any]:
    """The payload of a single-mutation operation."""
    body = await gql(operation, variables, token=token)
    assert "errors" not in body, body
    (payload,) = body["data"].values()
    result: dict[str, Any] = payload
    return result


async def read_listing(gql: GraphQL, listing_id: str, token: str | None) -> dict[str, Any] | None:
    body = await gql(LISTING, {"id": listing_id}, token=token)
    assert "errors" not in body, body
    listing: dict[str, Any] | None = body["data"]["listing"]
    return listing


async def search_ids(
    gql: GraphQL, token: str | None, filter: dict[str, Any] | None = None
) -> list[str]:
    body = await gql(LISTINGS, {"filter": filter}, token=token)
    assert "errors" not in body, body
    connection = body["data"]["listings"]
    ids = [edge["node"]["id"] for edge in connection["edges"]]
    assert connection["totalCount"] == len(ids)
    return ids


async def my_listings(gql: GraphQL, token: str | None, status: str | None = None) -> dict[str, Any]:
    body = await gql(MY_LISTINGS, {"status": status}, token=token)
    assert "errors" not in body, body
    connection: dict[str, Any] = body["data"]["myListings"]
    return connection


async def sign_in(gql: GraphQL, email: str, organisation_id: str | None = None) -> str:
    signed_in = await gql(
        SIGN_IN,
        {"input": {"email": email, "password": PASSWORD, "organisationId": organisation_id}},
    )
    assert signed_in["data"]["tokenCreate"]["errors"] == [], signed_in
    token: str = signed_in["data"]["tokenCreate"]["accessToken"]
    return token


async def invite_code(gql: GraphQL, token: str, organisation_id: str) -> str:
    created = await mutate(
        gql, INVITE_CREATE, {"input": {"organisationId": organisation_id}}, token
    )
    assert created["errors"] == [], created
    code: str = created["invite"]["code"]
    return code


async def listings_in_db(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Listing)) or 0)


async def set_expiry(db: Database, listing_id: str, expires_at: datetime) -> None:
    async with db.write() as session:
        await session.execute(
            update(Listing).where(Listing.id == uuid.UUID(listing_id)).values(expires_at=expires_at)
        )


def card(listing: dict[str, Any], status: str, *, hidden: bool = False) -> dict[str, Any]:
    """A listing as MY_LISTINGS selects it."""
    return {"id": listing["id"], "title": listing["title"], "status": status, "hidden": hidden}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


# ---------------------------------------------------------------------------------------------
# listingCreate


async def test_firm_creates_a_draft_and_gets_the_whole_listing_back(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a signed-in firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it lists two tonnes of cedar shavings with every optional field given
    before = clock.now()
    payload = await create(
        gql,
        firm.access_token,
        description="Planer shavings from cedar, bagged.",
        language="ja",
        pricePerUnit="1500.50",
        recurrence="SEASONAL",
        seasonMonths=[11, 1, 12],
        availableFrom="2030-01-01T00:00:00+00:00",
        availableUntil="2030-03-31T00:00:00+00:00",
        delivery="PICKUP",
        specs=[{"key": "moisture", "value": "12 %"}],
        photos=["https://img.example/shavings.jpg"],
    )
    after = clock.now()

    # then it is a DRAFT of the firm, in the cluster's currency, with the quantity also in kg
    listing = payload["listing"]
    assert before <= at(listing["createdAt"]) <= after
    assert payload == {
        "listing": {
            "id": listing["id"],
            "kind": "OFFER",
            "category": "BY_PRODUCT",
            "status": "DRAFT",
            "title": "Cedar shavings, kiln dry",
            "description": "Planer shavings from cedar, bagged.",
            "language": "ja",
            "quantity": "2",
            "quantityInBaseUnit": "2000",
            "unit": {"code": "TNE", "name": "tonne", "dimension": "MASS"},
            "material": {
                "code": "wood-shavings",
                "name": "Wood shavings",
                "ewcCode": "03 01 05",
                "hazardous": False,
            },
            "recurrence": "SEASONAL",
            "seasonMonths": [1, 11, 12],
            "availableFrom": "2030-01-01T00:00:00+00:00",
            "availableUntil": "2030-03-31T00:00:00+00:00",
            "pricePerUnit": "1500.5",
            "currency": "JPY",
            "delivery": "PICKUP",
            "location": {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"},
            "locationApproximate": False,
            "specs": [{"key": "moisture", "value": "12 %"}],
            "photos": ["https://img.example/shavings.jpg"],
            "expiresAt": None,
            "publishedAt": None,
            "closedAt": None,
            "createdAt": listing["createdAt"],
            "updatedAt": listing["createdAt"],
            "version": 1,
            "hidden": False,
            "viewerCanManage": True,
            "distanceKm": None,
            "organisation": {
                "id": firm.organisation_id,
                "name": "Katsuyama Pellet Works",
                "kind": "FIRM",
                "subtype": None,
                "cluster": {"id": cluster_id, "name": "Test Wood Cluster", "currency": "JPY"},
            },
        },
        "errors": [],
    }
    uuid.UUID(listing["id"])
    # and reading it back gives the same listing
    assert await read_listing(gql, listing["id"], firm.access_token) == listing


async def test_create_answer_is_what_a_later_read_returns(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm in Japan that gives its dates with the local offset
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it creates a listing available from 9:00 Japan time
    created = await create_listing(
        gql,
        firm.access_token,
        availableFrom="2030-01-01T09:00:00+09:00",
        availableUntil="2030-02-01T09:00:00+09:00",
    )

    # then the answer already holds what is stored (UTC), the same as any later read
    assert created["availableFrom"] == "2030-01-01T00:00:00+00:00"
    assert created["availableUntil"] == "2030-02-01T00:00:00+00:00"
    assert await read_listing(gql, created["id"], firm.access_token) == created


async def test_community_creates_an_eco_product_draft(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a self-help group selling its members' pellets
    shg = await register(
        "sato@shg.example", cluster_id, name="Maniwa Women's SHG", kind="COMMUNITY", subtype="SHG"
    )

    # when it lists 40 bags of pellets at a price in yen
    payload = await create(
        gql,
        shg.access_token,
        kind="OFFER",
        category="ECO_PRODUCT",
        title="Cedar pellets, 10 kg bags",
        materialCode="wood-pellets",
        quantity="40",
        unit="BG",
        pricePerUnit="800",
    )

    # then the draft belongs to the group
    listing = payload["listing"]
    assert payload["errors"] == []
    assert (
        listing["status"],
        listing["category"],
        listing["material"]["code"],
        listing["quantity"],
        listing["quantityInBaseUnit"],
        listing["unit"]["code"],
        listing["pricePerUnit"],
        listing["currency"],
    ) == ("DRAFT", "ECO_PRODUCT", "wood-pellets", "40", "40", "BG", "800", "JPY")
    assert listing["organisation"] | {"cluster": None} == {
        "id": shg.organisation_id,
        "name": "Maniwa Women's SHG",
        "kind": "COMMUNITY",
        "subtype": "SHG",
        "cluster": None,
    }


@pytest.mark.parametrize(
    ("quantity", "unit", "in_base_unit"),
    [("2", "TNE", "2000"), ("2000", "KGM", "2000"), ("2.5", "tne", "2500"), ("1.5", "MTQ", "1500")],
)
async def test_quantity_in_base_unit_converts_the_unit(
    gql: GraphQL, register: Any, cluster_id: str, quantity: str, unit: str, in_base_unit: str
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it lists a quantity in some unit
    listing = await create_listing(gql, firm.access_token, quantity=quantity, unit=unit)

    # then the quantity is kept as given and also converted to its dimension's base unit
    assert (listing["quantity"], listing["unit"]["code"], listing["quantityInBaseUnit"]) == (
        quantity,
        unit.upper(),
        in_base_unit,
    )


async def test_explicit_currency_is_kept(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a firm in a JPY cluster
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it prices a listing in US dollars, negative because it pays whoever takes it
    listing = await create_listing(gql, firm.access_token, pricePerUnit="-12.25", currency="USD")

    # then the currency and price are as given
    assert (listing["pricePerUnit"], listing["currency"]) == ("-12.25", "USD")


async def test_institution_may_not_create_listings(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a university
    university = await register(
        "lab@uni.example", cluster_id, name="Okayama University", kind="INSTITUTION"
    )

    # when it tries to list shavings
    payload = await create(gql, university.access_token)

    # then it is forbidden in the payload and nothing is stored
    assert payload == {"listing": None, "errors": [FORBIDDEN_ROLE]}
    assert await listings_in_db(db) == 0


async def test_anonymous_create_is_unauthenticated_in_payload(gql: GraphQL, db: Database) -> None:
    # given nobody signed in
    # when a listing is created
    payload = await create(gql, None)

    # then they are asked to sign in and nothing is stored
    assert payload == {"listing": None, "errors": [UNAUTHENTICATED]}
    assert await listings_in_db(db) == 0


async def test_platform_admin_without_organisation_may_not_create_listings(
    gql: GraphQL, db: Database, platform_admin_token: str
) -> None:
    # given a platform admin acting for no organisation
    # when they create a listing
    payload = await create(gql, platform_admin_token)

    # then only firms and communities may
    assert payload == {"listing": None, "errors": [FORBIDDEN_ROLE]}
    assert await listings_in_db(db) == 0


# ---------------------------------------------------------------------------------------------
# Validation


def _problem(field: str, message: str) -> dict[str, Any]:
    return {"code": "VALIDATION", "message": message, "field": field}


def _by_field(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(errors, key=lambda e: (e["field"] or "", e["message"]))


async def test_create_reports_every_problem_at_once_and_writes_nothing(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it sends a form with a mistake in nearly every field
    payload = await create(
        gql,
        firm.access_token,
        title="ab",
        quantity="0",
        currency="yen",
        recurrence="SEASONAL",
        availableFrom="2030-02-01T00:00:00+00:00",
        availableUntil="2030-01-01T00:00:00+00:00",
        location={"lat": 91.0, "lon": -181.0, "placeName": "Nowhere"},
        specs=[{"key": f"k{i}", "value": "v"} for i in range(21)],
        photos=["https://img.example/ok.jpg", "http://img.example/plain.jpg"],
        expiresAt=(utcnow() - timedelta(days=1)).isoformat(),
    )

    # then each problem is reported with the path of its field
    assert payload["listing"] is None
    assert _by_field(payload["errors"]) == [
        _problem("availableUntil", "Must not be before availableFrom"),
        _problem("currency", "Use an ISO 4217 code such as INR, JPY, THB or VND"),
        _problem("expiresAt", "Must be in the future"),
        _problem("location.lat", "Latitude must be between -90 and 90"),
        _problem("location.lon", "Longitude must be between -180 and 180"),
        _problem("photos.1", "Give an https:// address of at most 2048 characters"),
        _problem("quantity", "Must be more than zero"),
        _problem("seasonMonths", "A seasonal listing names its months (1-12)"),
        _problem("specs", "At most 20 quality notes"),
        _problem("title", "Must have at least 3 characters"),
    ]
    # and nothing was written
    assert (await my_listings(gql, firm.access_token))["totalCount"] == 0
    assert await listings_in_db(db) == 0


async def test_unknown_material_and_unit_are_reported_with_the_other_problems(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when its form has a short title, an unknown material and an unknown unit
    payload = await create(
        gql, firm.access_token, title="ab", materialCode="no-such-material", unit="XYZ"
    )

    # then all three come back from the one request
    assert payload["listing"] is None
    assert _by_field(payload["errors"]) == [
        _problem("materialCode", "Not a code of the material catalogue"),
        _problem("title", "Must have at least 3 characters"),
        _problem("unit", "Not a known UN/ECE unit code"),
    ]
    assert await listings_in_db(db) == 0


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"title": "  ab  "}, _problem("title", "Must have at least 3 characters")),
        ({"quantity": "0"}, _problem("quantity", "Must be more than zero")),
        ({"quantity": "-3"}, _problem("quantity", "Must be more than zero")),
        ({"quantity": "1.12345"}, _problem("quantity", "Use at most 4 decimal places")),
        ({"unit": "XYZ"}, _problem("unit", "Not a known UN/ECE unit code")),
        (
            {"materialCode": "no-such-material"},
            _problem("materialCode", "Not a code of the material catalogue"),
        ),
        (
            {"currency": "JP"},
            _problem("currency", "Use an ISO 4217 code such as INR, JPY, THB or VND"),
        ),
        (
            {"recurrence": "SEASONAL"},
            _problem("seasonMonths", "A seasonal listing names its months (1-12)"),
        ),
        (
            {"recurrence": "SEASONAL", "seasonMonths": [1, 13]},
            _problem("seasonMonths", "Months are distinct numbers from 1 to 12"),
        ),
        (
            {"recurrence": "ONE_OFF", "seasonMonths": [4, 5]},
            _problem("seasonMonths", "Only SEASONAL listings have months"),
        ),
        (
            {
                "availableFrom": "2030-02-01T00:00:00+00:00",
                "availableUntil": "2030-01-31T23:59:59+00:00",
            },
            _problem("availableUntil", "Must not be before availableFrom"),
        ),
        (
            {"location": {"lat": -90.5, "lon": 133.69}},
            _problem("location.lat", "Latitude must be between -90 and 90"),
        ),
        (
            {"location": {"lat": 35.0, "lon": 180.01}},
            _problem("location.lon", "Longitude must be between -180 and 180"),
        ),
        (
            {"specs": [{"key": f"k{i}", "value": "v"} for i in range(21)]},
            _problem("specs", "At most 20 quality notes"),
        ),
        (
            {"photos": ["ftp://img.example/a.jpg"]},
            _problem("photos.0", "Give an https:// address of at most 2048 characters"),
        ),
        (
            {"expiresAt": "2020-01-01T00:00:00+00:00"},
            _problem("expiresAt", "Must be in the future"),
        ),
        ({"id": "not-a-uuid"}, _problem("id", "Not a valid id")),
    ],
    ids=[
        "title-short",
        "quantity-zero",
        "quantity-negative",
        "quantity-5-decimals",
        "unit-unknown",
        "material-unknown",
        "currency-bad",
        "seasonal-without-months",
        "seasonal-bad-months",
        "months-on-one-off",
        "until-before-from",
        "lat-out-of-range",
        "lon-out-of-range",
        "too-many-specs",
        "photo-not-https",
        "expiry-in-past",
        "id-not-uuid",
    ],
)
async def test_create_validation_names_the_field(
    gql: GraphQL,
    db: Database,
    register: Any,
    cluster_id: str,
    overrides: dict[str, Any],
    error: dict[str, Any],
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when one field of an otherwise valid form is wrong
    payload = await create(gql, firm.access_token, **overrides)

    # then exactly that field is reported and nothing is written
    assert payload == {"listing": None, "errors": [error]}
    assert (await my_listings(gql, firm.access_token))["totalCount"] == 0
    assert await listings_in_db(db) == 0


async def test_twenty_specs_and_four_decimals_are_accepted(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it sends values at the limits
    listing = await create_listing(
        gql,
        firm.access_token,
        quantity="0.0001",
        unit="KGM",
        specs=[{"key": f"k{i}", "value": "v"} for i in range(20)],
    )

    # then they are kept
    assert (listing["quantity"], len(listing["specs"])) == ("0.0001", 20)


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
        payload = await create(gql, owner.access_token, publish=True, **overrides)
        fields[name] = [e["field"] for e in payload["errors"] if e["code"] == "VALIDATION"]
    assert fields == {name: [field] for name, (_, field) in cases.items()}


async def test_trailing_zeros_are_not_extra_decimal_places(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    owner = await register("sato@lumber.example", cluster_id)
    assert (await create(gql, owner.access_token, publish=True, quantity="2.50000"))["errors"] == []


# ---------------------------------------------------------------------------------------------
# Client-generated ids


async def test_same_create_twice_returns_the_one_listing(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a firm whose app made its own id for a new listing
    firm = await register("tanaka@pellets.example", cluster_id)
    client_id = str(uuid.uuid4())

    # when the app sends the create, loses the answer and sends it again
    first = await create(gql, firm.access_token, id=client_id)
    again = await create(gql, firm.access_token, id=client_id)

    # then both answers are the one listing with the app's id
    assert first["errors"] == []
    assert first["listing"]["id"] == client_id
    assert again == first
    assert (await my_listings(gql, firm.access_token))["totalCount"] == 1
    assert await listings_in_db(db) == 1


async def test_ten_concurrent_creates_with_one_id_make_one_listing(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a firm and a client id
    firm = await register("tanaka@pellets.example", cluster_id)
    client_id = str(uuid.uuid4())

    # when ten retries of the same create arrive at once
    payloads = await asyncio.gather(
        *(create(gql, firm.access_token, id=client_id) for _ in range(10))
    )

    # then every one succeeds with the same listing, and only one exists
    assert [p["errors"] for p in payloads] == [[]] * 10
    assert {p["listing"]["id"] for p in payloads} == {client_id}
    assert {p["listing"]["createdAt"] for p in payloads} == {payloads[0]["listing"]["createdAt"]}
    assert await listings_in_db(db) == 1


async def test_id_of_another_organisations_listing_is_a_conflict(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a firm's listing made with a client id
    owner = await register("tanaka@pellets.example", cluster_id)
    client_id = str(uuid.uuid4())
    original = await create_listing(gql, owner.access_token, id=client_id)

    # when another firm creates a listing with the same id
    payload = await create(
        gql,
        (await register("ito@bark.example", cluster_id, name="Bark Traders")).access_token,
        id=client_id,
        title="Bark for mulch",
    )

    # then it is a conflict on the id, and the first listing is untouched
    assert payload == {
        "listing": None,
        "errors": [
            {"code": "CONFLICT", "message": "This id belongs to another listing", "field": "id"}
        ],
    }
    assert await read_listing(gql, client_id, owner.access_token) == original
    assert await listings_in_db(db) == 1


# ---------------------------------------------------------------------------------------------
# Lifecycle


async def test_publish_makes_a_draft_active_for_ninety_days(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a draft
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token)
    assert await search_ids(gql, None) == []

    # when it is published
    before = clock.now()
    payload = await mutate(gql, PUBLISH, {"id": draft["id"]}, firm.access_token)
    after = clock.now()

    # then it is ACTIVE from now for 90 days, one version on
    listing = payload["listing"]
    assert payload["errors"] == []
    assert before <= at(listing["publishedAt"]) <= after
    assert at(listing["expiresAt"]) - at(listing["publishedAt"]) == timedelta(days=90)
    assert listing == draft | {
        "status": "ACTIVE",
        "publishedAt": listing["publishedAt"],
        "expiresAt": listing["expiresAt"],
        "updatedAt": listing["publishedAt"],
        "version": 2,
    }
    # and anybody finds it
    assert await search_ids(gql, None) == [draft["id"]]


async def test_publish_twice_changes_nothing(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a published listing
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token)
    published = await mutate(gql, PUBLISH, {"id": draft["id"]}, firm.access_token)

    # when it is published again (a retry)
    again = await mutate(gql, PUBLISH, {"id": draft["id"]}, firm.access_token)

    # then the same listing comes back, with the same dates and version
    assert again == published
    assert again["errors"] == []


async def test_create_with_publish_is_active_at_once(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it creates with publish: true
    listing = await create_listing(gql, firm.access_token, publish=True)

    # then it is active, published when created, for 90 days
    assert (listing["status"], listing["version"]) == ("ACTIVE", 1)
    assert listing["publishedAt"] == listing["createdAt"]
    assert at(listing["expiresAt"]) - at(listing["publishedAt"]) == timedelta(days=90)


async def test_close_an_active_listing(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given an active listing
    firm = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, firm.access_token, publish=True)

    # when it is closed
    before = clock.now()
    payload = await mutate(gql, CLOSE, {"id": active["id"]}, firm.access_token)
    after = clock.now()

    # then it is CLOSED, and no longer found by the default search
    listing = payload["listing"]
    assert payload["errors"] == []
    assert before <= at(listing["closedAt"]) <= after
    assert listing == active | {
        "status": "CLOSED",
        "closedAt": listing["closedAt"],
        "updatedAt": listing["closedAt"],
        "version": 2,
    }
    assert await search_ids(gql, None) == []
    # but still readable by anybody
    assert (await read_listing(gql, active["id"], None) or {}).get("status") == "CLOSED"


async def test_closing_a_draft_is_a_conflict(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a draft
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token)

    # when it is closed
    payload = await mutate(gql, CLOSE, {"id": draft["id"]}, firm.access_token)

    # then drafts are deleted, not closed, and the draft is unchanged
    assert payload == {
        "listing": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "A draft is not closed but deleted (listingDelete)",
                "field": None,
            }
        ],
    }
    assert await read_listing(gql, draft["id"], firm.access_token) == draft


async def test_delete_a_draft(gql: GraphQL, db: Database, register: Any, cluster_id: str) -> None:
    # given a draft
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token)

    # when it is deleted
    payload = await mutate(gql, DELETE, {"id": draft["id"]}, firm.access_token)

    # then it is gone
    assert payload == {"deletedId": draft["id"], "errors": []}
    assert await read_listing(gql, draft["id"], firm.access_token) is None
    assert await listings_in_db(db) == 0


async def test_deleting_an_active_listing_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an active listing
    firm = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, firm.access_token, publish=True)

    # when it is deleted
    payload = await mutate(gql, DELETE, {"id": active["id"]}, firm.access_token)

    # then it must be closed instead, and it is still there
    assert payload == {
        "deletedId": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "Only drafts can be deleted; close a published listing",
                "field": None,
            }
        ],
    }
    assert await read_listing(gql, active["id"], firm.access_token) == active


async def test_updating_a_closed_listing_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a closed listing
    firm = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, firm.access_token, publish=True)
    closed = (await mutate(gql, CLOSE, {"id": active["id"]}, firm.access_token))["listing"]

    # when its title is changed
    payload = await mutate(
        gql, UPDATE, {"input": {"id": active["id"], "title": "Reopened"}}, firm.access_token
    )

    # then it is a conflict and nothing changes
    assert payload["listing"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("CONFLICT", None)]
    assert payload["errors"][0]["message"].startswith("A CLOSED listing cannot be changed")
    assert await read_listing(gql, active["id"], firm.access_token) == closed


async def test_expired_listing_leaves_search_and_publish_renews_it(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given an active listing whose expiry has just passed (no job has run since)
    firm = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, firm.access_token, publish=True)
    await set_expiry(db, active["id"], clock.now() - timedelta(minutes=1))

    # when it is read and searched for
    read = await read_listing(gql, active["id"], firm.access_token)

    # then it reads as EXPIRED, is gone from the default search, and found among the expired
    assert read is not None
    assert read["status"] == "EXPIRED"
    assert await search_ids(gql, firm.access_token) == []
    assert await search_ids(gql, None) == []
    assert await search_ids(gql, firm.access_token, {"status": "EXPIRED"}) == [active["id"]]
    assert (await my_listings(gql, firm.access_token, "EXPIRED"))["totalCount"] == 1
    assert (await my_listings(gql, firm.access_token, "ACTIVE"))["totalCount"] == 0

    # and when it is published again
    before = clock.now()
    renewed = await mutate(gql, PUBLISH, {"id": active["id"]}, firm.access_token)

    # then it is ACTIVE for another 90 days and found again
    listing = renewed["listing"]
    assert renewed["errors"] == []
    assert listing["status"] == "ACTIVE"
    assert at(listing["publishedAt"]) >= before
    assert at(listing["expiresAt"]) - at(listing["publishedAt"]) == timedelta(days=90)
    assert await search_ids(gql, None) == [active["id"]]


async def test_expired_listing_cannot_be_updated(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given an expired listing
    firm = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, firm.access_token, publish=True)
    await set_expiry(db, active["id"], clock.now() - timedelta(minutes=1))

    # when its title is changed
    payload = await mutate(
        gql, UPDATE, {"input": {"id": active["id"], "title": "Still here"}}, firm.access_token
    )

    # then it must be published again first
    assert payload["listing"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("CONFLICT", None)]


# ---------------------------------------------------------------------------------------------
# listingUpdate


async def test_update_changes_fields_and_bumps_version(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given an active listing
    firm = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, firm.access_token, publish=True, pricePerUnit="1000")

    # when the firm changes several fields, a while later
    clock.advance(timedelta(minutes=1))
    payload = await mutate(
        gql,
        UPDATE,
        {
            "input": {
                "id": active["id"],
                "expectedVersion": 1,
                "title": "Cedar shavings, air dry",
                "description": "Now air dried.",
                "quantity": "3.5",
                "materialCode": "sawdust",
                "delivery": "DELIVERY",
                "specs": [{"key": "moisture", "value": "18 %"}],
                "location": {"lat": 35.1, "lon": 133.7, "placeName": "Maniwa"},
            }
        },
        firm.access_token,
    )

    # then exactly those fields change and the version is bumped
    listing = payload["listing"]
    assert payload["errors"] == []
    assert at(listing["updatedAt"]) > at(active["updatedAt"])
    assert listing == active | {
        "title": "Cedar shavings, air dry",
        "description": "Now air dried.",
        "quantity": "3.5",
        "quantityInBaseUnit": "3500",
        "material": {
            "code": "sawdust",
            "name": listing["material"]["name"],
            "ewcCode": "03 01 05",
            "hazardous": False,
        },
        "delivery": "DELIVERY",
        "specs": [{"key": "moisture", "value": "18 %"}],
        "location": {"lat": 35.1, "lon": 133.7, "placeName": "Maniwa"},
        "updatedAt": listing["updatedAt"],
        "version": 2,
    }
    assert await read_listing(gql, active["id"], firm.access_token) == listing


async def test_update_with_stale_version_is_a_conflict(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing edited once since the app loaded it at version 1
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token)
    edited = await mutate(
        gql, UPDATE, {"input": {"id": draft["id"], "title": "First edit"}}, firm.access_token
    )
    assert edited["listing"]["version"] == 2

    # when the app saves its own edit against version 1
    payload = await mutate(
        gql,
        UPDATE,
        {"input": {"id": draft["id"], "expectedVersion": 1, "title": "Second edit"}},
        firm.access_token,
    )

    # then it is told to reload, and the first edit stands
    assert payload == {
        "listing": None,
        "errors": [
            {
                "code": "CONFLICT",
                "message": "The listing was changed meanwhile (now version 2); reload it and "
                "apply your edit again",
                "field": "expectedVersion",
            }
        ],
    }
    assert await read_listing(gql, draft["id"], firm.access_token) == edited["listing"]


async def test_update_price_null_clears_it_and_omitted_keeps_it(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a priced draft
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token, pricePerUnit="1200")

    # when the title changes without a price
    kept = await mutate(
        gql, UPDATE, {"input": {"id": draft["id"], "title": "New title"}}, firm.access_token
    )

    # then the price stays
    assert kept["errors"] == []
    assert (kept["listing"]["title"], kept["listing"]["pricePerUnit"]) == ("New title", "1200")

    # when the price is sent as null
    cleared = await mutate(
        gql, UPDATE, {"input": {"id": draft["id"], "pricePerUnit": None}}, firm.access_token
    )

    # then it is cleared
    assert cleared["errors"] == []
    assert cleared["listing"] == kept["listing"] | {
        "pricePerUnit": None,
        "updatedAt": cleared["listing"]["updatedAt"],
        "version": 3,
    }


async def test_update_unit_recomputes_quantity_in_base_unit(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a draft of 3 kg
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token, quantity="3", unit="KGM")
    assert draft["quantityInBaseUnit"] == "3"

    # when the unit is corrected to tonnes
    payload = await mutate(
        gql, UPDATE, {"input": {"id": draft["id"], "unit": "TNE"}}, firm.access_token
    )

    # then the quantity in kg follows
    assert payload["errors"] == []
    listing = payload["listing"]
    assert (listing["quantity"], listing["unit"]["code"], listing["quantityInBaseUnit"]) == (
        "3",
        "TNE",
        "3000",
    )


async def test_update_validation_reports_fields_and_changes_nothing(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a draft
    firm = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, firm.access_token)

    # when the update is wrong in several fields
    payload = await mutate(
        gql,
        UPDATE,
        {
            "input": {
                "id": draft["id"],
                "title": "x",
                "quantity": "-1",
                "currency": "12",
                "photos": ["http://img.example/a.jpg"],
            }
        },
        firm.access_token,
    )

    # then all are reported and the draft is unchanged
    assert payload["listing"] is None
    assert _by_field(payload["errors"]) == [
        _problem("currency", "Use an ISO 4217 code such as INR, JPY, THB or VND"),
        _problem("photos.0", "Give an https:// address of at most 2048 characters"),
        _problem("quantity", "Must be more than zero"),
        _problem("title", "Must have at least 3 characters"),
    ]
    assert await read_listing(gql, draft["id"], firm.access_token) == draft


async def test_two_edits_with_one_expected_version_cannot_both_win(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing at version 2 (created, published)
    owner = await register("sato@lumber.example", cluster_id)
    created = await create(gql, owner.access_token, publish=True)
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
    created = await create(gql, owner.access_token, publish=True)
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
    created = await create(gql, owner.access_token, publish=True)
    body = await gql(
        UPDATE,
        {"input": {"id": created["listing"]["id"], "availableFrom": "2027-01-31T09:00:00"}},
        token=owner.access_token,
    )
    assert body["data"]["listingUpdate"] == {
        "listing": None,
        "errors": [
            _problem(
                "availableFrom", "Give the time with its offset, such as 2027-01-31T09:00:00+09:00"
            )
        ],
    }


# ---------------------------------------------------------------------------------------------
# Who may do what


MANAGE_OPERATIONS = {
    "update": (UPDATE, lambda listing_id: {"input": {"id": listing_id, "title": "Taken over"}}),
    "publish": (PUBLISH, lambda listing_id: {"id": listing_id}),
    "close": (CLOSE, lambda listing_id: {"id": listing_id}),
    "delete": (DELETE, lambda listing_id: {"id": listing_id}),
}


def _refused(operation: str, error: dict[str, Any]) -> dict[str, Any]:
    result_field = "deletedId" if operation == DELETE else "listing"
    return {result_field: None, "errors": [error]}


@pytest.mark.parametrize("action", list(MANAGE_OPERATIONS))
async def test_another_organisation_may_not_manage_an_active_listing(
    gql: GraphQL, register: Any, cluster_id: str, action: str
) -> None:
    # given a firm's active listing and another firm
    owner = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, owner.access_token, publish=True)
    other = await register("ito@bark.example", cluster_id, name="Bark Traders")

    # when the other firm acts on it by id
    operation, variables = MANAGE_OPERATIONS[action]
    payload = await mutate(gql, operation, variables(active["id"]), other.access_token)

    # then it is forbidden and the listing is unchanged
    assert payload == _refused(operation, FORBIDDEN_MANAGE)
    assert await read_listing(gql, active["id"], owner.access_token) == active


@pytest.mark.parametrize("action", list(MANAGE_OPERATIONS))
async def test_another_organisation_cannot_find_a_draft_to_manage(
    gql: GraphQL, register: Any, cluster_id: str, action: str
) -> None:
    # given a firm's draft and another firm
    owner = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, owner.access_token)
    other = await register("ito@bark.example", cluster_id, name="Bark Traders")

    # when the other firm acts on it by id
    operation, variables = MANAGE_OPERATIONS[action]
    payload = await mutate(gql, operation, variables(draft["id"]), other.access_token)

    # then, as it cannot see the draft, it is not found, and the draft is unchanged
    assert payload == _refused(operation, NOT_FOUND)
    assert await read_listing(gql, draft["id"], owner.access_token) == draft


@pytest.mark.parametrize("action", list(MANAGE_OPERATIONS))
async def test_anonymous_may_not_manage_listings(
    gql: GraphQL, register: Any, cluster_id: str, action: str
) -> None:
    # given an active listing
    owner = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, owner.access_token, publish=True)

    # when somebody without a token acts on it
    operation, variables = MANAGE_OPERATIONS[action]
    payload = await mutate(gql, operation, variables(active["id"]), None)

    # then they are asked to sign in and nothing changes
    assert payload == _refused(operation, UNAUTHENTICATED)
    assert await read_listing(gql, active["id"], owner.access_token) == active


async def test_managing_a_listing_that_does_not_exist_is_not_found(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm
    firm = await register("tanaka@pellets.example", cluster_id)

    # when it publishes an id nobody used
    payload = await mutate(gql, PUBLISH, {"id": str(uuid.uuid4())}, firm.access_token)

    # then it is not found
    assert payload == {"listing": None, "errors": [NOT_FOUND]}


async def test_member_who_is_not_admin_may_edit(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm's draft and a plain member who joined the firm with an invite
    owner = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, owner.access_token)
    code = await invite_code(gql, owner.access_token, owner.organisation_id)
    member = await register("yamada@pellets.example", invite_code=code)
    assert member.organisation_id == owner.organisation_id

    # when the member edits and publishes the draft
    edited = await mutate(
        gql, UPDATE, {"input": {"id": draft["id"], "title": "Edited by staff"}}, member.access_token
    )
    published = await mutate(gql, PUBLISH, {"id": draft["id"]}, member.access_token)

    # then both succeed
    assert edited["errors"] == []
    assert edited["listing"]["title"] == "Edited by staff"
    assert edited["listing"]["viewerCanManage"] is True
    assert published["errors"] == []
    assert published["listing"]["status"] == "ACTIVE"


async def test_member_acting_for_another_organisation_may_not_edit(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm's active listing, and a person of another firm who also joined the first
    owner = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, owner.access_token, publish=True)
    person = await register("ito@bark.example", cluster_id, name="Bark Traders")
    code = await invite_code(gql, owner.access_token, owner.organisation_id)
    joined = await mutate(gql, JOIN, {"input": {"inviteCode": code}}, person.access_token)
    assert joined == {"membership": {"role": "MEMBER"}, "errors": []}
    bark_token = await sign_in(gql, person.email)

    # when they edit the listing with a token acting for their own firm
    refused = await mutate(
        gql, UPDATE, {"input": {"id": active["id"], "title": "Wrong hat"}}, bark_token
    )

    # then it is forbidden and nothing changes
    assert refused == {"listing": None, "errors": [FORBIDDEN_MANAGE]}
    assert await read_listing(gql, active["id"], owner.access_token) == active

    # and acting for the owning firm the same edit succeeds
    pellet_token = await sign_in(gql, person.email, owner.organisation_id)
    allowed = await mutate(
        gql, UPDATE, {"input": {"id": active["id"], "title": "Right hat"}}, pellet_token
    )
    assert allowed["errors"] == []
    assert allowed["listing"]["title"] == "Right hat"


async def test_anonymous_and_institutions_read_active_listings(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an active listing and a university
    owner = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, owner.access_token, publish=True)
    university = await register(
        "lab@uni.example", cluster_id, name="Okayama University", kind="INSTITUTION"
    )

    for token in (None, university.access_token):
        # when they read it by id and search
        read = await read_listing(gql, active["id"], token)
        found = await search_ids(gql, token)

        # then they see it, but may not manage it
        assert read == active | {"viewerCanManage": False}
        assert found == [active["id"]]


async def test_drafts_are_invisible_to_others(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a firm's draft
    owner = await register("tanaka@pellets.example", cluster_id)
    draft = await create_listing(gql, owner.access_token)
    other = await register("ito@bark.example", cluster_id, name="Bark Traders")
    university = await register(
        "lab@uni.example", cluster_id, name="Okayama University", kind="INSTITUTION"
    )

    for token in (None, other.access_token, university.access_token):
        # when others read it by id or search any status
        read = await read_listing(gql, draft["id"], token)
        found = await search_ids(gql, token, {"status": None})
        drafts = await search_ids(gql, token, {"status": "DRAFT"})

        # then there is nothing
        assert (read, found, drafts) == (None, [], [])

    # while the owner sees it
    assert await read_listing(gql, draft["id"], owner.access_token) == draft
    assert await search_ids(gql, owner.access_token, {"status": "DRAFT"}) == [draft["id"]]


async def test_platform_admins_see_hidden_listings_but_not_drafts(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    owner = await register("sato@lumber.example", cluster_id)
    draft = await create(gql, owner.access_token, publish=False)
    body = await gql(LISTING, {"id": draft["listing"]["id"]}, token=platform_admin_token)
    assert body == {"data": {"listing": None}}
    drafts = await gql(LISTINGS, {"filter": {"status": "DRAFT"}}, token=platform_admin_token)
    assert drafts == {"data": {"listings": {"totalCount": 0, "edges": []}}}


async def test_platform_admin_hides_and_restores_a_listing(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # given an active listing and another firm
    owner = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, owner.access_token, publish=True)
    other = await register("ito@bark.example", cluster_id, name="Bark Traders")

    # when a platform admin hides it
    hidden = await mutate(
        gql,
        HIDE,
        {"input": {"id": active["id"], "reason": "Misleading photos"}},
        platform_admin_token,
    )

    # then it is hidden from search and from reading by others
    assert hidden == {
        "listing": {"id": active["id"], "status": "ACTIVE", "hidden": True},
        "errors": [],
    }
    for token in (None, other.access_token):
        assert await search_ids(gql, token) == []
        assert await read_listing(gql, active["id"], token) is None
    # and the owner still sees it, marked hidden
    owned = await read_listing(gql, active["id"], owner.access_token)
    assert owned is not None
    assert (owned["hidden"], owned["status"]) == (True, "ACTIVE")
    assert (await my_listings(gql, owner.access_token))["edges"] == [
        {"node": card(active, "ACTIVE", hidden=True)}
    ]

    # when the admin restores it
    restored = await mutate(gql, RESTORE, {"id": active["id"]}, platform_admin_token)

    # then everybody sees it again
    assert restored == {
        "listing": {"id": active["id"], "status": "ACTIVE", "hidden": False},
        "errors": [],
    }
    for token in (None, other.access_token):
        assert await search_ids(gql, token) == [active["id"]]
        assert (await read_listing(gql, active["id"], token) or {}).get("hidden") is False


async def test_hiding_needs_a_reason(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    # given an active listing
    owner = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, owner.access_token, publish=True)

    # when a platform admin hides it without a real reason
    payload = await mutate(
        gql, HIDE, {"input": {"id": active["id"], "reason": "  "}}, platform_admin_token
    )

    # then the reason is asked for and the listing stays visible
    assert payload == {
        "listing": None,
        "errors": [_problem("reason", "Must have at least 3 characters")],
    }
    assert await search_ids(gql, None) == [active["id"]]


async def test_firm_may_not_hide_or_restore_listings(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an active listing and another firm
    owner = await register("tanaka@pellets.example", cluster_id)
    active = await create_listing(gql, owner.access_token, publish=True)
    other = await register("ito@bark.example", cluster_id, name="Bark Traders")

    for token in (other.access_token, owner.access_token):
        # when a firm (even the owner) hides it or restores it
        hidden = await mutate(
            gql, HIDE, {"input": {"id": active["id"], "reason": "Competitor"}}, token
        )
        restored = await mutate(gql, RESTORE, {"id": active["id"]}, token)

        # then only platform admins may
        assert hidden == {"listing": None, "errors": [FORBIDDEN_ADMIN_ONLY]}
        assert restored == {"listing": None, "errors": [FORBIDDEN_ADMIN_ONLY]}
    assert await search_ids(gql, None) == [active["id"]]


# ---------------------------------------------------------------------------------------------
# Approximate location


async def test_approximate_location_is_rounded_for_everyone_but_the_owner(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given an active listing whose yard is shown only approximately
    owner = await register("tanaka@pellets.example", cluster_id)
    exact = {"lat": 35.09123, "lon": 133.69876, "placeName": "Katsuyama"}
    active = await create_listing(
        gql, owner.access_token, publish=True, location=exact, locationApproximate=True
    )
    other = await register("ito@bark.example", cluster_id, name="Bark Traders")

    # when the owner reads it, then it sees the exact point
    assert active["location"] == exact
    owned = await read_listing(gql, active["id"], owner.access_token)
    assert owned is not None
    assert owned["location"] == exact

    for token in (None, other.access_token):
        # when others read it or find it, then they see the point rounded to 2 decimals and
        # no place name (a street or yard name would undo the rounding)
        read = await read_listing(gql, active["id"], token)
        body = await gql(LISTINGS, {}, token=token)
        rounded = {"lat": 35.09, "lon": 133.7}
        assert read is not None
        assert (read["location"], read["locationApproximate"]) == (
            rounded | {"placeName": ""},
            True,
        )
        assert [e["node"]["location"] for e in body["data"]["listings"]["edges"]] == [rounded]


async def test_an_approximate_location_hides_the_place_name_too(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a listing shown only approximately
    owner = await register("sato@lumber.example", cluster_id)
    created = await create(
        gql,
        owner.access_token,
        publish=True,
        location={"lat": 35.0912, "lon": 133.6934, "placeName": "3-14 Katsuyama (Sato yard)"},
        locationApproximate=True,
    )
    listing_id = created["listing"]["id"]
    # when the owner and an anonymous reader look at it
    mine = await gql(LISTING, {"id": listing_id}, token=owner.access_token)
    theirs = await gql(LISTING, {"id": listing_id}, token="")
    # then only the owner sees the point and the yard's name
    assert mine["data"]["listing"]["location"] == {
        "lat": 35.0912,
        "lon": 133.6934,
        "placeName": "3-14 Katsuyama (Sato yard)",
    }
    assert theirs["data"]["listing"]["location"] == {"lat": 35.09, "lon": 133.69, "placeName": ""}


# ---------------------------------------------------------------------------------------------
# myListings


async def test_my_listings_are_the_active_organisations_newest_first(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given three listings of a firm (a draft, an active one, a draft) and another firm's two
    firm = await register("tanaka@pellets.example", cluster_id)
    first = await create_listing(gql, firm.access_token, title="First draft")
    second = await create_listing(gql, firm.access_token, title="Second, active", publish=True)
    third = await create_listing(gql, firm.access_token, title="Third draft")
    other = await register("ito@bark.example", cluster_id, name="Bark Traders")
    await create_listing(gql, other.access_token, title="Bark draft")
    await create_listing(gql, other.access_token, title="Bark active", publish=True)

    # when the firm lists its own
    mine = await my_listings(gql, firm.access_token)

    # then it gets its three, drafts included, newest first
    assert mine == {
        "totalCount": 3,
        "edges": [
            {"node": card(third, "DRAFT")},
            {"node": card(second, "ACTIVE")},
            {"node": card(first, "DRAFT")},
        ],
    }

    # and filtered by status only the matching ones
    drafts = await my_listings(gql, firm.access_token, "DRAFT")
    assert [e["node"]["id"] for e in drafts["edges"]] == [third["id"], first["id"]]
    assert drafts["totalCount"] == 2
    active = await my_listings(gql, firm.access_token, "ACTIVE")
    assert [e["node"]["id"] for e in active["edges"]] == [second["id"]]
    assert (await my_listings(gql, firm.access_token, "CLOSED"))["totalCount"] == 0


async def test_my_listings_follow_the_organisation_the_token_acts_for(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a person in two firms, each with one listing
    pellets = await register("tanaka@pellets.example", cluster_id)
    pellet_listing = await create_listing(gql, pellets.access_token, title="Pellet dust")
    bark = await register("ito@bark.example", cluster_id, name="Bark Traders")
    bark_listing = await create_listing(gql, bark.access_token, title="Cedar bark")
    code = await invite_code(gql, pellets.access_token, pellets.organisation_id)
    joined = await mutate(gql, JOIN, {"input": {"inviteCode": code}}, bark.access_token)
    assert joined["errors"] == []

    # when they list theirs acting for each firm in turn
    as_bark = await my_listings(gql, await sign_in(gql, bark.email, bark.organisation_id))
    as_pellets = await my_listings(gql, await sign_in(gql, bark.email, pellets.organisation_id))

    # then each shows only that firm's listing
    assert [e["node"]["id"] for e in as_bark["edges"]] == [bark_listing["id"]]
    assert [e["node"]["id"] for e in as_pellets["edges"]] == [pellet_listing["id"]]


async def test_my_listings_anonymous_is_unauthenticated(gql: GraphQL, db: Database) -> None:
    # given nobody signed in
    # when they ask for their listings
    body = await gql(MY_LISTINGS, {})

    # then it is a top-level error asking them to sign in
    assert body["data"] is None
    assert [(e["message"], e["path"], e["extensions"]) for e in body["errors"]] == [
        ("Sign in to do this", ["myListings"], {"code": "UNAUTHENTICATED"})
    ]


# ---------------------------------------------------------------------------------------------
# Statement count


PAGE_WITH_RELATIONS = """
query Page($first: Int) {
  listings(first: $first) {
    totalCount
    edges { node { id title organisation { name cluster { name } } material { name }
                   unit { code } } }
  }
}
"""


async def insert_active_listings(
    db: Database, organisations: list[tuple[str, str]], count: int, now: datetime
) -> None:
    """Rows straight into the table, spread over ``organisations`` ((id, cluster id) pairs)."""
    materials = ["wood-shavings", "sawdust", "rice-husk"]
    units = [("KGM", Decimal(1)), ("TNE", Decimal(1000))]
    listings = []
    for i in range(count):
        organisation_id, listing_cluster_id = organisations[i % len(organisations)]
        unit_code, factor = units[i % len(units)]
        listings.append(
            Listing(
                organisation_id=uuid.UUID(organisation_id),
                cluster_id=uuid.UUID(listing_cluster_id),
                kind=ListingKind.OFFER,
                category=ListingCategory.BY_PRODUCT,
                status=ListingStatus.ACTIVE,
                title=f"Listing {i:03d}",
                language="en",
                material_code=materials[i % len(materials)],
                quantity=Decimal(i + 1),
                unit_code=unit_code,
                quantity_base=Decimal(i + 1) * factor,
                recurrence=Recurrence.ONE_OFF,
                currency="JPY",
                delivery=Delivery.EITHER,
                lat=35.0,
                lon=133.7,
                public_lat=35.0,
                public_lon=133.7,
                published_at=now - timedelta(seconds=i),
                expires_at=now + timedelta(days=30),
                created_at=now - timedelta(seconds=i),
                updated_at=now,
            )
        )
    async with db.write() as session:
        session.add_all(listings)


async def test_a_page_costs_the_same_statements_for_one_and_fifty_listings(
    gql: GraphQL,
    db: Database,
    register: Any,
    cluster_id: str,
    sql_statements: Any,
    clock: ManualClock,
) -> None:
    # given 50 active listings of three organisations in two clusters
    second_cluster = await identity_service.create_cluster(
        db=db,
        cluster=identity_service.NewCluster(
            slug="test-rice",
            name="Test Rice Cluster",
            region="Chachoengsao",
            country="TH",
            sector=Sector.AGRICULTURE,
            centre=Place(lat=13.69, lon=101.07),
            currency="THB",
            languages=["th"],
            timezone="Asia/Bangkok",
        ),
    )
    owners = [
        await register("tanaka@pellets.example", cluster_id),
        await register("ito@bark.example", cluster_id, name="Bark Traders"),
        await register(
            "somchai@rice.example", str(second_cluster.id), name="Chachoengsao Rice Mill"
        ),
    ]
    async with db.read() as session:
        clusters = {
            str(o.id): str(o.cluster_id) for o in (await session.scalars(select(Organisation)))
        }
    organisations = [(o.organisation_id, clusters[o.organisation_id]) for o in owners]
    await insert_active_listings(db, organisations, 50, clock.now())

    pages = {}
    counts = {}
    for first in (1, 50):
        # when a page of that size is read with seller, cluster, material and unit
        with sql_statements() as log:
            body = await gql(PAGE_WITH_RELATIONS, {"first": first})
        pages[first], counts[first] = body, log.count

    # then both pages are complete and cost the same number of statements
    for first, body in pages.items():
        assert "errors" not in body, body
        edges = body["data"]["listings"]["edges"]
        assert body["data"]["listings"]["totalCount"] == 50
        assert len(edges) == first
    fifty = pages[50]["data"]["listings"]["edges"]
    names = {e["node"]["organisation"]["cluster"]["name"] for e in fifty}
    assert names == {"Test Wood Cluster", "Test Rice Cluster"}
    assert counts[1] == counts[50], (counts, pages)
    # pinned: the count, the page, its sellers (with clusters), materials and units (and on
    # SQLite the BEGIN of its unit of work)
    assert counts[50] == (6 if db.dialect == "sqlite" else 5), counts


# ---------------------------------------------------------------------------------------------
# What the apps' listing mutations cost


async def test_the_apps_listing_mutations_cost_pinned_statements_and_answer_as_a_reload(
    gql: GraphQL, db: Database, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    """Statement counts of the apps' own documents (clients/operations/marketplace.graphql),
    and each payload as the listing screen shows the listing right after: a payload built from
    the unit of work's rows must not differ from one read back."""
    begin = begins(db)
    sawmill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    pellets = await register("pellets@maniwa.example", cluster_id, name="Katsuyama Pellets")
    # the pellet maker wants shavings: the sawmill's new listing matches it
    await create_listing(
        gql, pellets.access_token, kind="WANT", title="Dry shavings wanted", publish=True
    )
    app = AppCalls(gql, sql_statements)
    token = sawmill.access_token

    # when the sawmill saves a listing form with its own id, published at once, and sends it
    # again (a retry after a lost answer)
    form = listing_input(
        id=str(uuid.uuid4()),
        publish=True,
        pricePerUnit="5000",
        description="Planer shavings of Japanese cedar",
        specs=[{"key": "moisture", "value": "12 %"}],
        photos=["https://photos.example/shavings.jpg"],
    )
    saved = (await app.send("ListingSave", "ListingSave", token, input=form))["listing"]
    again = (await app.send("ListingSave again", "ListingSave", token, input=form))["listing"]

    # then both answers are the listing as its screen shows it
    assert saved == await app.read("ListingView", token, id=form["id"])
    assert again == saved

    # and so are an edit's, and a draft's publication
    change = {"id": form["id"], "expectedVersion": 1, "title": "Cedar shavings", "quantity": "12"}
    edited = (await app.send("ListingEdit", "ListingEdit", token, input=change))["listing"]
    assert edited == await app.read("ListingView", token, id=form["id"])
    assert edited["version"] == 2
    draft_form = listing_input(title="Cedar trimmings", materialCode="wood-trimmings")
    draft = (await app.send("ListingSave draft", "ListingSave", token, input=draft_form))["listing"]
    assert draft == await app.read("ListingView", token, id=draft["id"])
    published = (await app.send("ListingPublish", "ListingPublish", token, id=draft["id"]))[
        "listing"
    ]
    screen = await app.read("ListingView", token, id=draft["id"])
    assert published == {name: screen[name] for name in published}
    assert published["status"] == "ACTIVE"

    # Each count includes the check that the sender's sign-in still stands (1, in a read
    # transaction of its own) and the offline sync log of the write (the organisations with
    # offers on the listing, the sequence, the change). SQLite sends each transaction's BEGIN
    # as a statement of its own.
    access = 1 + begin
    assert app.counts == {
        # the id's listing (none: not a retry), organisation and cluster (its currency),
        # material and unit checked (2), insert; the match-making of a first publication: the
        # material's subtree, its conversions, the candidate listings with their sellers,
        # materials and units (4), the matched organisation told (5, with the material's names
        # for the text); sync log (3). The answer is built from these rows: nothing is read back.
        "ListingSave": 20 + begin + access,
        # the id's listing (the retry's), its seller with cluster, material and unit (3)
        "ListingSave again": 4 + begin + access,
        # listing locked, unit checked, update, its seller with cluster and material (2: the
        # unit is in the session), sync log (3)
        "ListingEdit": 8 + begin + access,
        # organisation, cluster, material, unit, insert, sync log (3)
        "ListingSave draft": 8 + begin + access,
        # listing locked, update, its seller with cluster, material and unit (3), match-making
        # (subtree, conversions, candidates: none), sync log (3)
        "ListingPublish": 11 + begin + access,
    }, app.statements


# ---------------------------------------------------------------------------------------------
# The search's card is the listing


EVERY_FIELD = """
  id kind category status title description language
  quantity quantityInBaseUnit quantityCommitted quantityRemaining
  unit { code name symbol dimension factor }
  material { code name localNames { language name } parentCode ewcCode hsCode hazardous
             description displayName(language: "ja") }
  recurrence seasonMonths availableFrom availableUntil
  pricePerUnit currency delivery
  location { lat lon placeName } locationApproximate
  specs { key value } photos
  expiresAt publishedAt closedAt createdAt updatedAt version
  hidden viewerCanManage
  organisation {
    id name kind subtype description location { lat lon placeName }
    createdAt updatedAt version trustScore tradesCompleted reviewsCount ratingAverage
    verified verifiedAt
    cluster { id slug name region country sector centre { lat lon } currency languages
              timezone description createdAt }
  }
"""
ONE_WITH_EVERY_FIELD = f"query One($id: ID!) {{ listing(id: $id) {{ {EVERY_FIELD} }} }}"
SEARCH_WITH_EVERY_FIELD = f"""
query Search($filter: ListingFilter) {{
  listings(filter: $filter) {{ edges {{ node {{ {EVERY_FIELD} }} }} }}
}}
"""


async def test_the_search_card_is_the_listing_read_by_its_id(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a published listing with every optional field, its location shown approximately
    firm = await register("tanaka@pellets.example", cluster_id)
    created = await create_listing(
        gql,
        firm.access_token,
        description="Planer shavings from cedar, bagged.",
        pricePerUnit="1500.50",
        recurrence="SEASONAL",
        seasonMonths=[11, 1, 12],
        availableFrom="2030-01-01T00:00:00+00:00",
        delivery="PICKUP",
        specs=[{"key": "moisture", "value": "12 %"}],
        photos=["https://img.example/shavings.jpg"],
        locationApproximate=True,
        publish=True,
    )

    # when its organisation and anybody find it by a search (rows) and read it by id (entity)
    for token in (firm.access_token, None):
        one = await gql(ONE_WITH_EVERY_FIELD, {"id": created["id"]}, token=token)
        found = await gql(
            SEARCH_WITH_EVERY_FIELD,
            {"filter": {"search": "cedar", "near": {**KATSUYAMA_POINT, "radiusKm": 50}}},
            token=token,
        )

        # then the search's card is the listing, seller, cluster, material and unit included
        assert "errors" not in one, one
        assert "errors" not in found, found
        (edge,) = found["data"]["listings"]["edges"]
        assert edge["node"] == one["data"]["listing"]
        assert edge["node"]["organisation"]["cluster"]["id"] == cluster_id
        assert edge["node"]["material"]["localNames"]


KATSUYAMA_POINT = {"lat": KATSUYAMA["lat"], "lon": KATSUYAMA["lon"]}
