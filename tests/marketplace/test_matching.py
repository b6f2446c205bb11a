"""Match-making through the API: which listings match (relations and exclusions), how they are
scored and ranked, pages of matches, who may read them, the notifications sent on first
publication and the statement count of a request."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from backend.kit.db import Database, utcnow
from backend.marketplace.models import Listing
from backend.settings import Settings
from tests.conftest import CLOCK_START, GraphQL, seed_people
from tests.marketplace.trading_kit import (
    LISTING,
    LISTING_CREATE,
    MATCHES,
    NOTIFICATIONS,
    accept,
    make_offer,
    publish,
)

PUBLISH = """
mutation Publish($id: ID!) {
  listingPublish(id: $id) { listing { id status } errors { code message field } }
}
"""
CLOSE = """
mutation Close($id: ID!) {
  listingClose(id: $id) { listing { id status } errors { code message field } }
}
"""
HIDE = """
mutation Hide($input: ListingHideInput!) {
  listingHide(input: $input) { listing { id status hidden } errors { code message field } }
}
"""
SCORE_PART_NAMES = ["material", "quantity", "distance", "availability", "price", "trust"]

KATSUYAMA = {"lat": 35.09, "lon": 133.69, "placeName": "Katsuyama"}
NEAR_KATSUYAMA = {"lat": 35.1, "lon": 133.7, "placeName": "Katsuyama north"}
# about 136 km from Katsuyama: within the matching radius (300 km), far enough to score low
HIROSHIMA = {"lat": 34.39, "lon": 132.46, "placeName": "Hiroshima"}
# about 550 km: beyond the matching radius
TOKYO = {"lat": 35.68, "lon": 139.76, "placeName": "Tokyo"}


async def want(gql: GraphQL, token: str, **overrides: Any) -> dict[str, Any]:
    """A published WANT of 10 t of wood shavings in Katsuyama, without a price."""
    fields: dict[str, Any] = {
        "kind": "WANT",
        "title": "Shavings wanted",
        "pricePerUnit": None,
        **overrides,
    }
    return await publish(gql, token, **fields)


async def match_nodes(
    gql: GraphQL, listing_id: str, token: str | None = None, first: int = 100
) -> list[dict[str, Any]]:
    body = await gql(MATCHES, {"listingId": listing_id, "first": first}, token=token)
    assert "errors" not in body, body
    connection = body["data"]["listingMatches"]
    assert connection["pageInfo"]["hasNextPage"] is False, body
    nodes = [edge["node"] for edge in connection["edges"]]
    assert connection["totalCount"] == len(nodes)
    return nodes


def relations(nodes: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
    """Each matching listing's id -> (relation, the reason of the material part)."""
    return {node["listing"]["id"]: (node["relation"], node["parts"][0]["reason"]) for node in nodes}


def part(node: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in node["parts"] if p["name"] == name)
    return found


async def inbox(gql: GraphQL, token: str) -> list[dict[str, Any]]:
    body = await gql(NOTIFICATIONS, token=token)
    assert "errors" not in body, body
    return [edge["node"] for edge in body["data"]["notifications"]["edges"]]


async def set_expiry(db: Database, listing_id: str, minutes_from_now: int) -> None:
    async with db.write() as session:
        await session.execute(
            update(Listing)
            .where(Listing.id == uuid.UUID(listing_id))
            .values(expires_at=CLOCK_START + timedelta(minutes=minutes_from_now))
        )


# ---------------------------------------------------------------------------------------------
# Relations


async def test_an_offer_matches_the_same_a_broader_and_a_convertible_material(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a sawmill offering shavings, a pellet maker wanting shavings and wanting anything
    # of EWC 03 01 05 (its catalogue parent), a firm selling pellets, and rice husk on offer
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    seller = await register("seller@maniwa.example", cluster_id, name="Pellet Shop")
    rice = await register("rice@maniwa.example", cluster_id, name="Rice Mill")
    wants_shavings = await want(gql, maker.access_token)
    wants_family = await want(gql, maker.access_token, materialCode="ewc-03-01-05")
    pellets = await publish(gql, seller.access_token, materialCode="wood-pellets")
    await want(gql, rice.access_token, materialCode="rice-husk")
    await publish(gql, rice.access_token, materialCode="rice-husk")
    shavings = await publish(gql, mill.access_token)

    # when the sawmill reads its offer's matches
    nodes = await match_nodes(gql, shavings["id"], mill.access_token)

    # then it sees the want of shavings, the broader want and the pellet seller, nothing else
    assert relations(nodes) == {
        wants_shavings["id"]: ("SAME", "Same material: Wood shavings"),
        wants_family["id"]: ("BROADER", "A broader material that includes it"),
        pellets["id"]: ("CONVERSION", "Makes Wood pellets from Wood shavings (pelletising)"),
    }
    for node in nodes:
        assert [p["name"] for p in node["parts"]] == SCORE_PART_NAMES
        assert node["parts"][0]["reason"] in node["reasons"]
    material_values = {node["relation"]: part(node, "material")["value"] for node in nodes}
    assert material_values == {"SAME": 1.0, "BROADER": 0.6, "CONVERSION": 0.7}


async def test_a_want_matches_narrower_and_substitute_materials(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a pellet maker wanting shavings and wanting anything of EWC 03 01 05, and a second
    # sawmill offering sawdust
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    sawmill = await register("saw@maniwa.example", cluster_id, name="Sawdust Mill")
    wants_shavings = await want(gql, maker.access_token)
    wants_family = await want(gql, maker.access_token, materialCode="ewc-03-01-05")
    sawdust = await publish(gql, sawmill.access_token, materialCode="sawdust", title="Sawdust")

    # when the pellet maker reads the matches of both wants
    family = relations(await match_nodes(gql, wants_family["id"], maker.access_token))
    shavings = relations(await match_nodes(gql, wants_shavings["id"], maker.access_token))

    # then sawdust is a kind of EWC 03 01 05, and stands in for shavings (both make a product)
    assert family == {sawdust["id"]: ("NARROWER", "A kind of the material listed")}
    assert list(shavings) == [sawdust["id"]]
    relation, reason = shavings[sawdust["id"]]
    assert relation == "SUBSTITUTE"
    # sawdust and shavings both make pellets and cat litter
    assert reason in ("Also makes Wood pellets", "Also makes Wood cat litter"), reason


async def test_an_offer_of_a_product_matches_offers_of_its_inputs(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a pellet seller, a sawmill offering shavings and another offering sawdust
    seller = await register("seller@maniwa.example", cluster_id, name="Pellet Shop")
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    sawmill = await register("saw@maniwa.example", cluster_id, name="Sawdust Mill")
    shavings = await publish(gql, mill.access_token)
    sawdust = await publish(gql, sawmill.access_token, materialCode="sawdust", title="Sawdust")
    pellets = await publish(gql, seller.access_token, materialCode="wood-pellets", title="Pellets")

    # when the pellet seller reads its offer's matches
    nodes = await match_nodes(gql, pellets["id"], seller.access_token)

    # then both inputs of pellets are shown
    reason = "Has an input of your Wood pellets (pelletising)"
    assert relations(nodes) == {
        shavings["id"]: ("CONVERSION", reason),
        sawdust["id"]: ("CONVERSION", reason),
    }
    # conversions between different materials cannot compare quantities
    assert {(part(n, "quantity")["value"], part(n, "quantity")["reason"]) for n in nodes} == {
        (0.5, "")
    }


# ---------------------------------------------------------------------------------------------
# Exclusions


async def test_only_active_visible_related_listings_of_other_organisations_match(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, platform_admin_token: str
) -> None:
    # Given a sawmill offering shavings, which also wants shavings itself
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    supplier = await register("supplier@maniwa.example", cluster_id, name="Other Supplier")
    shavings = await publish(gql, mill.access_token)
    await want(gql, mill.access_token, title="Our own want")
    # and a pellet maker's wants of shavings: one visible ...
    visible = await want(gql, maker.access_token, title="Visible want")
    # ... a draft ...
    draft = await gql(
        LISTING_CREATE,
        {
            "input": {
                "kind": "WANT",
                "category": "BY_PRODUCT",
                "title": "Draft want",
                "materialCode": "wood-shavings",
                "quantity": "10",
                "unit": "TNE",
                "location": KATSUYAMA,
                "publish": False,
            }
        },
        token=maker.access_token,
    )
    assert draft["data"]["listingCreate"]["listing"]["status"] == "DRAFT", draft
    # ... a closed one ...
    closed = await want(gql, maker.access_token, title="Closed want")
    body = await gql(CLOSE, {"id": closed["id"]}, token=maker.access_token)
    assert body["data"]["listingClose"]["listing"]["status"] == "CLOSED", body
    # ... one hidden by a platform admin ...
    hidden = await want(gql, maker.access_token, title="Hidden want")
    body = await gql(
        HIDE, {"input": {"id": hidden["id"], "reason": "Spam"}}, token=platform_admin_token
    )
    assert body["data"]["listingHide"]["listing"]["hidden"] is True, body
    # ... an expired one ...
    expired = await want(gql, maker.access_token, title="Expired want")
    await set_expiry(db, expired["id"], -1)
    # ... one fully covered by an accepted offer (RESERVED) ...
    reserved = await want(gql, maker.access_token, title="Covered want")
    offer = await make_offer(gql, supplier.access_token, reserved["id"], quantity="10")
    await accept(gql, maker.access_token, offer["id"])
    body = await gql(LISTING, {"id": reserved["id"]}, token=maker.access_token)
    assert body["data"]["listing"]["status"] == "RESERVED", body
    # ... and an offer of shavings (the same side) and a want of rice husk (unrelated)
    await publish(gql, maker.access_token, title="Shavings on offer too")
    await want(gql, maker.access_token, title="Rice husk wanted", materialCode="rice-husk")

    # when the sawmill reads its offer's matches
    nodes = await match_nodes(gql, shavings["id"], mill.access_token)

    # then only the visible want of the other organisation is shown
    assert [(n["listing"]["id"], n["listing"]["title"]) for n in nodes] == [
        (visible["id"], "Visible want")
    ]


# ---------------------------------------------------------------------------------------------
# Scores


async def test_a_nearer_listing_ranks_first_and_the_score_is_the_weighted_sum(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a sawmill offering shavings, and two wants alike but for their distance
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    far = await want(gql, maker.access_token, title="Far want", location=HIROSHIMA)
    # (and a want beyond the matching radius, which is not a match at all)
    await want(gql, maker.access_token, title="Too far want", location=TOKYO)
    near = await want(gql, maker.access_token, title="Near want", location=NEAR_KATSUYAMA)
    shavings = await publish(gql, mill.access_token)

    # when the sawmill reads its matches
    nodes = await match_nodes(gql, shavings["id"], mill.access_token)

    # then the near want comes first, and only the distance part differs
    assert [n["listing"]["id"] for n in nodes] == [near["id"], far["id"]]
    assert nodes[0]["score"] > nodes[1]["score"]
    assert 1 < nodes[0]["distanceKm"] < 2 < 130 < nodes[1]["distanceKm"] < 140
    first, second = ([p for p in n["parts"] if p["name"] != "distance"] for n in nodes)
    assert first == second
    assert part(nodes[0], "distance")["value"] > 0.9 > 0.2 > part(nodes[1], "distance")["value"]
    assert part(nodes[0], "distance")["reason"] == f"{nodes[0]['distanceKm']:.1f} km away"
    # the newcomers' trust: 35 of 100
    assert part(nodes[0], "trust") == {
        "name": "trust",
        "value": 0.35,
        "weight": 0.15,
        "reason": "Trust score 35",
    }
    # and each score is 100 x the weighted sum of its parts (values are shown to 3 places)
    for node in nodes:
        assert abs(sum(p["weight"] for p in node["parts"]) - 1) < 1e-9
        recomputed = round(100 * sum(p["value"] * p["weight"] for p in node["parts"]), 1)
        assert abs(node["score"] - recomputed) <= 0.1, node
        assert 0 <= node["score"] <= 100


async def test_a_free_or_paid_take_away_gets_the_full_price_part(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a want of shavings at 4000 per tonne, and offers of shavings at -100 (the holder
    # pays), 0 (free) and 8000 (twice the buyer's price)
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    wanted = await want(gql, maker.access_token, pricePerUnit="4000")
    paid = await publish(gql, mill.access_token, title="Take them, we pay", pricePerUnit="-100")
    free = await publish(gql, mill.access_token, title="Free shavings", pricePerUnit="0")
    dear = await publish(gql, mill.access_token, title="Dear shavings", pricePerUnit="8000")

    # when both sides read their matches
    from_want = await match_nodes(gql, wanted["id"], maker.access_token)
    from_paid = await match_nodes(gql, paid["id"], mill.access_token)
    from_free = await match_nodes(gql, free["id"], mill.access_token)

    # then the price part is full for the negative and zero price, whoever asks
    prices = {n["listing"]["id"]: part(n, "price") for n in from_want}
    assert prices == {
        paid["id"]: {
            "name": "price",
            "value": 1.0,
            "weight": 0.1,
            "reason": "The holder pays the taker",
        },
        free["id"]: {"name": "price", "value": 1.0, "weight": 0.1, "reason": "Free to take"},
        dear["id"]: {
            "name": "price",
            "value": 0.5,
            "weight": 0.1,
            "reason": "Above the buyer's price",
        },
    }
    assert [part(n, "price")["reason"] for n in from_paid] == ["The holder pays the taker"]
    assert [part(n, "price")["reason"] for n in from_free] == ["Free to take"]
    # the dear offer ranks last: everything else is equal
    assert [n["listing"]["id"] for n in from_want][-1] == dear["id"]


async def test_availability_compares_seasons_and_windows(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given shavings offered every January to April, from tomorrow for a month
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    now = utcnow()
    season = {"recurrence": "SEASONAL"}
    offered = await publish(
        gql,
        mill.access_token,
        **season,
        seasonMonths=[1, 2, 3, 4],
        availableFrom=(now + timedelta(days=1)).isoformat(),
        availableUntil=(now + timedelta(days=30)).isoformat(),
    )
    # and wants: March to June, January to March, July and August, a one-off, and a one-off
    # window two months later
    spring = await want(gql, maker.access_token, **season, seasonMonths=[3, 4, 5, 6])
    winter = await want(gql, maker.access_token, **season, seasonMonths=[1, 2, 3])
    summer = await want(gql, maker.access_token, **season, seasonMonths=[7, 8])
    once = await want(gql, maker.access_token)
    later = await want(
        gql,
        maker.access_token,
        **season,
        seasonMonths=[1, 2, 3, 4],
        availableFrom=(now + timedelta(days=60)).isoformat(),
        availableUntil=(now + timedelta(days=90)).isoformat(),
    )

    # when the sawmill reads its matches
    nodes = await match_nodes(gql, offered["id"], mill.access_token)

    # then the availability part follows the months in common and the windows
    availability = {n["listing"]["id"]: part(n, "availability") for n in nodes}
    assert {key: (p["value"], p["reason"]) for key, p in availability.items()} == {
        spring["id"]: (0.333, "Seasons barely overlap"),  # 2 of 6 months
        winter["id"]: (0.75, "Same season"),  # 3 of 4 months
        summer["id"]: (0.0, "Other seasons"),
        once["id"]: (0.7, "Available at the same time"),
        later["id"]: (0.0, "Available at different times"),  # the same months, but no overlap
    }
    assert {p["weight"] for p in availability.values()} == {0.1}


async def test_quantities_are_compared_in_base_units(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given 10 t of shavings on offer, and wants of 8000 kg, 2 t and 100 pieces
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    offered = await publish(gql, mill.access_token)
    close = await want(gql, maker.access_token, quantity="8000", unit="KGM")
    small = await want(gql, maker.access_token, quantity="2")
    pieces = await want(gql, maker.access_token, quantity="100", unit="H87")

    # when the sawmill reads its matches
    nodes = await match_nodes(gql, offered["id"], mill.access_token)

    # then the quantity part is the smaller over the larger, and other units get 0.3
    quantity = {n["listing"]["id"]: part(n, "quantity") for n in nodes}
    assert {key: (p["value"], p["reason"]) for key, p in quantity.items()} == {
        close["id"]: (0.8, "Quantities fit"),
        small["id"]: (0.2, "Covers 20 % of the larger"),
        pieces["id"]: (0.3, "Quantities in other units"),
    }


# ---------------------------------------------------------------------------------------------
# Pages and readers


async def test_matches_come_in_pages_without_gaps_or_repeats(
    gql: GraphQL, register: Any, cluster_id: str, db: Database, settings: Settings
) -> None:
    # Given an offer of 10 t of shavings and 25 wants of it by five firms (some tied)
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    shavings = await publish(gql, mill.access_token)
    firms = await seed_people(db, settings, cluster_id, 5, prefix="firm")
    for index in range(25):
        firm = firms[index % 5]
        await want(gql, firm.token, title=f"Want {index:02d}", quantity=str(1 + index % 10))
    whole = [n["listing"]["id"] for n in await match_nodes(gql, shavings["id"], mill.access_token)]
    assert len(whole) == 25

    # when it reads them ten at a time
    seen: list[str] = []
    after = None
    pages = []
    while True:
        body = await gql(
            MATCHES,
            {"listingId": shavings["id"], "first": 10, "after": after},
            token=mill.access_token,
        )
        assert "errors" not in body, body
        connection = body["data"]["listingMatches"]
        assert connection["totalCount"] == 25
        seen += [edge["node"]["listing"]["id"] for edge in connection["edges"]]
        pages.append((len(connection["edges"]), connection["pageInfo"]["hasNextPage"]))
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    # then the pages cover all 25 once, in the order of the whole list
    assert pages == [(10, True), (10, True), (5, False)]
    assert seen == whole
    assert len(set(seen)) == 25


async def test_a_cursor_that_is_not_one_is_refused(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given an offer of shavings
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    shavings = await publish(gql, mill.access_token)

    # when its matches are asked after a made-up cursor
    body = await gql(
        MATCHES, {"listingId": shavings["id"], "after": "bm90LWEtY3Vyc29y"}, token=mill.access_token
    )

    # then the request fails with a validation error on after
    assert body["data"] is None
    assert [(e["extensions"]["code"], e["extensions"].get("field")) for e in body["errors"]] == [
        ("VALIDATION", "after")
    ]


async def test_anybody_reads_the_matches_of_a_published_listing(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given an offer of shavings and a want of it, and a draft
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    wanted = await want(gql, maker.access_token)
    shavings = await publish(gql, mill.access_token)
    draft = await publish(gql, mill.access_token, publish=False, title="Draft shavings")

    # when somebody who is not signed in reads the offer's matches
    anonymous = await match_nodes(gql, shavings["id"])

    # then they see the same as the owner
    assert anonymous == await match_nodes(gql, shavings["id"], mill.access_token)
    assert [n["listing"]["id"] for n in anonymous] == [wanted["id"]]
    # but another organisation's draft and an unknown listing are not found
    for listing_id in (draft["id"], str(uuid.uuid4())):
        body = await gql(MATCHES, {"listingId": listing_id}, token=maker.access_token)
        assert body["data"] is None, body
        assert [
            (e["extensions"]["code"], e["extensions"].get("field"), e["path"])
            for e in body["errors"]
        ] == [("NOT_FOUND", "listingId", ["listingMatches"])]


# ---------------------------------------------------------------------------------------------
# Notifications


async def test_publishing_tells_the_organisations_with_good_matches(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a pellet maker nearby wanting shavings (a good match) and a cat-litter maker far
    # away (a conversion, a poor match)
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    litter = await register("litter@tokyo.example", cluster_id, name="Cat Litter Co")
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    wanted = await want(gql, maker.access_token, title="Shavings for pellets")
    await publish(
        gql,
        litter.access_token,
        title="Cat litter",
        materialCode="cat-sand",
        location=HIROSHIMA,
    )

    # when the sawmill publishes its shavings
    shavings = await publish(gql, mill.access_token, title="Cedar shavings")

    # then the pellet maker is told, with the new listing as the subject
    assert await inbox(gql, maker.access_token) == [
        {
            "kind": "LISTING_MATCH",
            "title": "A match for Shavings for pellets: Cedar shavings",
            "subjectType": "LISTING",
            "subjectId": shavings["id"],
        }
    ]
    # the cat-litter maker is below the threshold, though it is a match
    scores = {
        n["listing"]["id"]: n["score"]
        for n in await match_nodes(gql, shavings["id"], mill.access_token)
    }
    assert scores[wanted["id"]] >= 60
    assert len(scores) == 2
    assert min(scores.values()) < 60
    assert await inbox(gql, litter.access_token) == []
    # and the sawmill tells nobody about its own listing
    assert await inbox(gql, mill.access_token) == []


async def test_renewing_an_expired_listing_tells_nobody_again(
    gql: GraphQL, register: Any, cluster_id: str, db: Database
) -> None:
    # Given a sawmill's shavings, published while a pellet maker wanted them, then expired
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    latecomer = await register("late@maniwa.example", cluster_id, name="Late Pellets")
    await want(gql, maker.access_token)
    shavings = await publish(gql, mill.access_token)
    assert len(await inbox(gql, maker.access_token)) == 1
    await set_expiry(db, shavings["id"], -1)
    # and another firm wanting shavings listed while it was expired
    await want(gql, latecomer.access_token)
    assert await inbox(gql, latecomer.access_token) == []

    # when the sawmill renews the listing
    renewed = await gql(PUBLISH, {"id": shavings["id"]}, token=mill.access_token)
    assert renewed["data"]["listingPublish"]["listing"]["status"] == "ACTIVE", renewed

    # then nobody is told again: neither the first pellet maker nor the latecomer
    assert len(await inbox(gql, maker.access_token)) == 1
    assert await inbox(gql, latecomer.access_token) == []
    # though both match it
    assert len(await match_nodes(gql, shavings["id"], mill.access_token)) == 2


async def test_a_draft_tells_nobody_until_it_is_first_published(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # Given a pellet maker wanting shavings
    maker = await register("maker@maniwa.example", cluster_id, name="Pellet Works")
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    await want(gql, maker.access_token, title="Shavings for pellets")

    # when the sawmill writes a draft of shavings
    draft = await publish(gql, mill.access_token, publish=False, title="Cedar shavings")

    # then nobody is told
    assert await inbox(gql, maker.access_token) == []

    # when it publishes the draft
    published = await gql(PUBLISH, {"id": draft["id"]}, token=mill.access_token)
    assert published["data"]["listingPublish"]["errors"] == [], published

    # then the pellet maker is told
    assert await inbox(gql, maker.access_token) == [
        {
            "kind": "LISTING_MATCH",
            "title": "A match for Shavings for pellets: Cedar shavings",
            "subjectType": "LISTING",
            "subjectId": draft["id"],
        }
    ]


# ---------------------------------------------------------------------------------------------
# Cost


async def test_the_statement_count_does_not_grow_with_the_candidates(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    db: Database,
    settings: Settings,
    sql_statements: Any,
) -> None:
    # Given an offer of shavings and wants of two firms
    mill = await register("mill@maniwa.example", cluster_id, name="Maniwa Sawmill")
    shavings = await publish(gql, mill.access_token)
    firms = await seed_people(db, settings, cluster_id, 20, prefix="firm")
    for firm in firms[:2]:
        await want(gql, firm.token)

    # when the sawmill reads the matches, then again after 18 more firms want shavings
    with sql_statements() as few:
        assert len(await match_nodes(gql, shavings["id"], mill.access_token)) == 2
    for firm in firms[2:]:
        await want(gql, firm.token)
    with sql_statements() as many:
        assert len(await match_nodes(gql, shavings["id"], mill.access_token)) == 20

    # then both requests cost the same statements
    assert many.count == few.count, many.statements
