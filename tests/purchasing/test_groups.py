"""Purchasing groups from open to delivered, failed or cancelled: creating (and every problem of
a bad form at once), changing before and after the first pledge, closing, cancelling, marking
ordered and delivered, pledging and changing pledges, listing with filters, and tier progress."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.purchasing import service
from tests.conftest import Account, GraphQL
from tests.identity.kit import second_cluster
from tests.kit import AppCalls, begins, problem
from tests.purchasing.kit import (
    CANCEL,
    CLOSE,
    CREATE,
    DEADLINE,
    GROUPS,
    MARK_DELIVERED,
    MARK_ORDERED,
    MY_PLEDGES,
    NOW,
    PLEDGE,
    PLEDGE_UPDATE,
    PLEDGE_WITHDRAW,
    SECONDS_TO_DEADLINE,
    TIERS,
    UPDATE,
    create,
    failed,
    group_input,
    inbox,
    listed,
    opened,
    payload,
    person,
    pledge,
    pledge_of,
    read,
)


@dataclass
class Crowd:
    """A community that organises, and three farms of its cluster that take part."""

    shg: Account
    a: Account
    b: Account
    c: Account
    cluster_id: str

    def group(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """The default group as the community (its organiser) sees it."""
        return opened(group_id, self.shg, self.cluster_id, "Women's Union", **overrides)

    def seen_by_farm(self, group_id: str, **overrides: Any) -> dict[str, Any]:
        """The default group as a farm that may pledge sees it."""
        return self.group(group_id, canManage=False, **overrides)


@pytest.fixture
async def crowd(register: Any, cluster_id: str) -> Crowd:
    return Crowd(
        shg=await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY"),
        a=await register("a@firm.example", cluster_id, name="Farm A"),
        b=await register("b@firm.example", cluster_id, name="Farm B"),
        c=await register("c@firm.example", cluster_id, name="Farm C"),
        cluster_id=cluster_id,
    )


# ---------------------------------------------------------------------------------------------
# Creating


async def test_create_returns_the_whole_open_group(
    gql: GraphQL, crowd: Crowd, cluster_id: str
) -> None:
    # when a community starts a group
    body = await gql(CREATE, {"input": group_input()}, token=crowd.shg.access_token)

    # then it is OPEN at once, with everything it was given and what follows from it
    group_id = body["data"]["purchaseGroupCreate"]["purchaseGroup"]["id"]
    assert body == {
        "data": {"purchaseGroupCreate": {"purchaseGroup": crowd.group(group_id), "errors": []}}
    }
    assert await read(gql, crowd.shg, group_id) == crowd.group(group_id)
    # and a farm of the cluster sees it as one it may pledge to but not manage
    assert await read(gql, crowd.a, group_id) == crowd.seen_by_farm(group_id)

    # a firm may organise too
    by_firm = await create(gql, crowd.a, title="Sawdust for the boilers")
    assert by_firm == opened(
        by_firm["id"], crowd.a, cluster_id, "Farm A", "FIRM", title="Sawdust for the boilers"
    )


async def test_every_field_is_kept_and_the_currency_defaults_to_the_cluster_s(
    gql: GraphQL, crowd: Crowd, register: Any, cluster_id: str
) -> None:
    mill = await register("mill@feed.example", cluster_id, name="An Giang Feed Mill")
    form = group_input(
        title="  Pooled fish feed  ",
        description="  From the mill, delivered to the co-op  ",
        itemName="  Sinking fish feed  ",
        materialCode="fish-feed",
        unit="kgm",
        direction="SELL",
        maxQuantity=None,
        sharedCosts="1500",
        costSplit="EQUAL",
        visibility="PUBLIC",
        counterpartOrganisationId=mill.organisation_id,
    )
    del form["currency"]

    body = await gql(CREATE, {"input": form}, token=crowd.shg.access_token)

    group_id = body["data"]["purchaseGroupCreate"]["purchaseGroup"]["id"]
    expected = crowd.group(
        group_id,
        title="Pooled fish feed",
        description="From the mill, delivered to the co-op",
        itemName="Sinking fish feed",
        material={"code": "fish-feed", "name": "Fish feed"},
        direction="SELL",
        maxQuantity=None,
        remainingQuantity=None,
        currency="JPY",
        sharedCosts="1500",
        costSplit="EQUAL",
        visibility="PUBLIC",
        counterpart={"id": mill.organisation_id, "name": "An Giang Feed Mill", "kind": "FIRM"},
    )
    assert body == {"data": {"purchaseGroupCreate": {"purchaseGroup": expected, "errors": []}}}


async def test_a_bad_form_gets_every_problem_at_once_and_creates_nothing(
    gql: GraphQL, crowd: Crowd
) -> None:
    form = group_input(
        title=" x ",
        maxQuantity="50",
        priceTiers=[],
        sharedCosts="-5",
        deadline="2027-02-28T00:00:00+00:00",
        currency="usd",
        unit="XXXX",
        materialCode="no-such-material",
        counterpartOrganisationId=str(uuid.uuid4()),
    )

    body = await gql(CREATE, {"input": form}, token=crowd.shg.access_token)

    assert body == failed(
        "purchaseGroupCreate",
        problem("VALIDATION", "Must have at least 3 characters", "title"),
        problem("VALIDATION", "Must not be below the minimum", "maxQuantity"),
        problem("VALIDATION", "Must not be negative", "sharedCosts"),
        problem("VALIDATION", "Give 1 to 10 price tiers", "priceTiers"),
        problem("VALIDATION", "Must be in the future", "deadline"),
        problem("VALIDATION", "Use an ISO 4217 code such as INR, JPY, THB or VND", "currency"),
        problem("VALIDATION", "Not a code of the material catalogue", "materialCode"),
        problem("VALIDATION", "Not a known UN/ECE unit code", "unit"),
        problem("NOT_FOUND", "No such organisation", "counterpartOrganisationId"),
    )
    assert await listed(gql, crowd.shg) == []


FIRST_TIER_ABOVE_MINIMUM = problem(
    "VALIDATION", "The first tier must start at or below the minimum total", "priceTiers"
)
NOT_ASCENDING = problem(
    "VALIDATION", "List the tiers from the smallest quantity up, each larger", "priceTiers"
)


@pytest.mark.parametrize(
    ("change", "problems"),
    [
        pytest.param(
            {"priceTiers": [TIERS[1], TIERS[0]]}, [NOT_ASCENDING], id="tiers-not-ascending"
        ),
        pytest.param(
            {"priceTiers": [TIERS[0], {"minQuantity": "100", "pricePerUnit": "9"}]},
            [NOT_ASCENDING],
            id="tiers-repeated",
        ),
        pytest.param(
            {"priceTiers": [{"minQuantity": "200", "pricePerUnit": "10"}]},
            [FIRST_TIER_ABOVE_MINIMUM],
            id="first-tier-above-minimum",
        ),
        pytest.param(
            {"priceTiers": [{"minQuantity": str(n), "pricePerUnit": "10"} for n in range(11)]},
            [problem("VALIDATION", "Give 1 to 10 price tiers", "priceTiers")],
            id="eleven-tiers",
        ),
        pytest.param(
            {"priceTiers": [{"minQuantity": "-5", "pricePerUnit": "10"}]},
            [problem("VALIDATION", "Must not be negative", "priceTiers.0.minQuantity")],
            id="negative-tier",
        ),
        pytest.param(
            {"priceTiers": [{"minQuantity": "100", "pricePerUnit": "0"}]},
            [problem("VALIDATION", "Must be more than zero", "priceTiers.0.pricePerUnit")],
            id="free-tier",
        ),
        pytest.param(
            {"minQuantity": "0"},
            [
                problem("VALIDATION", "Must be more than zero", "minQuantity"),
                FIRST_TIER_ABOVE_MINIMUM,
            ],
            id="zero-minimum",
        ),
        pytest.param(
            {"minQuantity": "100.00001"},
            [problem("VALIDATION", "Use at most 4 decimal places", "minQuantity")],
            id="five-decimals",
        ),
        pytest.param(
            {"deadline": "2027-03-08T12:00:00"},
            [
                problem(
                    "VALIDATION",
                    "Give the time with its offset, such as 2026-12-10T18:00:00+07:00",
                    "deadline",
                )
            ],
            id="naive-deadline",
        ),
        pytest.param(
            {"deadline": NOW},
            [problem("VALIDATION", "Must be in the future", "deadline")],
            id="deadline-now",
        ),
        pytest.param(
            {"deadline": "2028-03-02T00:00:00+00:00"},
            [problem("VALIDATION", "Must be within 366 days", "deadline")],
            id="deadline-beyond-a-year",
        ),
        pytest.param(
            {"currency": "EURO"},
            [
                problem(
                    "VALIDATION", "Use an ISO 4217 code such as INR, JPY, THB or VND", "currency"
                )
            ],
            id="bad-currency",
        ),
        pytest.param(
            {"materialCode": "Not A Code"},
            [problem("VALIDATION", "Not a code of the material catalogue", "materialCode")],
            id="material-code-shape",
        ),
        pytest.param(
            {"counterpartOrganisationId": "not-an-id"},
            [problem("VALIDATION", "Not a valid id", "counterpartOrganisationId")],
            id="counterpart-id-shape",
        ),
    ],
)
async def test_each_problem_of_a_form(
    gql: GraphQL, register: Any, cluster_id: str, change: dict[str, Any], problems: list[Any]
) -> None:
    firm = await register("a@firm.example", cluster_id, name="Farm A")
    body = await gql(CREATE, {"input": group_input(**change)}, token=firm.access_token)
    assert body == failed("purchaseGroupCreate", *problems)


async def test_the_same_client_id_gives_the_same_group_and_is_refused_to_others(
    gql: GraphQL, crowd: Crowd
) -> None:
    client_id = str(uuid.uuid4())
    first = await create(gql, crowd.shg, id=client_id)
    # a retried request (even one that changed on the way) gives the group back, unchanged
    again = await gql(
        CREATE, {"input": group_input(id=client_id, title="Retried")}, token=crowd.shg.access_token
    )
    assert first == crowd.group(client_id)
    assert again == {"data": {"purchaseGroupCreate": {"purchaseGroup": first, "errors": []}}}
    assert await listed(gql, crowd.shg) == [("Fish feed for the dry season", "OPEN")]

    # another organisation cannot take the id
    stolen = await gql(CREATE, {"input": group_input(id=client_id)}, token=crowd.a.access_token)
    assert stolen == failed(
        "purchaseGroupCreate", problem("CONFLICT", "This id belongs to another group", "id")
    )
    assert await read(gql, crowd.shg, client_id) == crowd.group(client_id)


async def test_hazardous_waste_is_not_pooled_in_a_group(gql: GraphQL, crowd: Crowd) -> None:
    # Given sludge from industrial waste water treatment, an asterisk entry of the EWC
    # when a group is organised for it
    body = await gql(
        CREATE,
        {"input": group_input(materialCode="ewc-19-08-13")},
        token=crowd.shg.access_token,
    )
    # then it is refused: nobody's licence is checked in a group
    assert body == failed(
        "purchaseGroupCreate",
        problem(
            "LICENCE_REQUIRED",
            "Hazardous waste is not traded in purchasing groups: list it on the market, "
            "where its receiver's waste licence is checked",
            "materialCode",
        ),
    )
    assert await listed(gql, crowd.shg) == []


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
async def test_not_a_number_anywhere_in_a_new_group_is_a_validation_error(
    gql: Any, register: Any, cluster_id: str, value: str
) -> None:
    # Given a community, when every number of its new group's form is not a number
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    form = group_input(
        minQuantity=value,
        maxQuantity=value,
        sharedCosts=value,
        priceTiers=[{"minQuantity": value, "pricePerUnit": value}],
    )
    created = await gql(CREATE, {"input": form}, token=shg.access_token)
    # then each field says so, and nothing is created
    payload = created["data"]["purchaseGroupCreate"]
    assert payload["purchaseGroup"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION", "minQuantity"),
        ("VALIDATION", "maxQuantity"),
        ("VALIDATION", "sharedCosts"),
        ("VALIDATION", "priceTiers.0.minQuantity"),
        ("VALIDATION", "priceTiers.0.pricePerUnit"),
    ]


# ---------------------------------------------------------------------------------------------
# Changing


async def update(gql: GraphQL, account: Account, group_id: str, **changes: Any) -> dict[str, Any]:
    return await gql(UPDATE, {"input": {"id": group_id, **changes}}, token=account.access_token)


async def test_before_the_first_pledge_anything_may_change(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    clock.advance(timedelta(hours=1))

    body = await update(
        gql,
        crowd.shg,
        group["id"],
        expectedVersion=1,
        title="Rice husk for the boilers",
        description="Delivered to the co-op yard",
        itemName="Rice husk, dry",
        materialCode="rice-husk",
        unit="tne",
        direction="SELL",
        minQuantity="2",
        maxQuantity=None,
        priceTiers=[
            {"minQuantity": "1", "pricePerUnit": "500"},
            {"minQuantity": "5", "pricePerUnit": "450"},
        ],
        currency="THB",
        sharedCosts="0",
        costSplit="EQUAL",
        deadline="2027-04-01T00:00:00+00:00",
        visibility="PUBLIC",
        counterpartOrganisationId=crowd.a.organisation_id,
    )

    changed = crowd.group(
        group["id"],
        title="Rice husk for the boilers",
        description="Delivered to the co-op yard",
        itemName="Rice husk, dry",
        material={"code": "rice-husk", "name": "Rice husk"},
        unit={"code": "TNE", "name": "tonne", "symbol": "t"},
        direction="SELL",
        minQuantity="2",
        maxQuantity=None,
        remainingQuantity=None,
        priceTiers=[
            {"minQuantity": "1", "pricePerUnit": "500"},
            {"minQuantity": "5", "pricePerUnit": "450"},
        ],
        nextTier={"minQuantity": "1", "pricePerUnit": "500"},
        quantityToNextTier="1",
        currency="THB",
        sharedCosts="0",
        costSplit="EQUAL",
        deadline="2027-04-01T00:00:00+00:00",
        secondsLeft=31 * 86400 - 3600,
        visibility="PUBLIC",
        counterpart={"id": crowd.a.organisation_id, "name": "Farm A", "kind": "FIRM"},
        version=2,
        updatedAt="2027-03-01T01:00:00+00:00",
    )
    assert body == {"data": {"purchaseGroupUpdate": {"purchaseGroup": changed, "errors": []}}}

    # null removes the material, the counterpart and (here: sets) the maximum; omitted stays
    removed = await update(
        gql,
        crowd.shg,
        group["id"],
        materialCode=None,
        counterpartOrganisationId=None,
        maxQuantity="10",
    )
    assert payload(removed, "purchaseGroupUpdate") == {
        **changed,
        "material": None,
        "counterpart": None,
        "maxQuantity": "10",
        "remainingQuantity": "10",
        "version": 3,
    }
    assert await read(gql, crowd.shg, group["id"]) == payload(removed, "purchaseGroupUpdate")


async def test_an_update_is_checked_like_a_new_group(gql: GraphQL, crowd: Crowd) -> None:
    group = await create(gql, crowd.shg)

    terms = await update(
        gql,
        crowd.shg,
        group["id"],
        maxQuantity="1",
        priceTiers=[{"minQuantity": "200", "pricePerUnit": "10"}],
        sharedCosts="-1",
        unit="XXXX",
        materialCode="no-such-material",
        counterpartOrganisationId=str(uuid.uuid4()),
    )
    texts = await update(
        gql,
        crowd.shg,
        group["id"],
        title="x",
        currency="usd",
        deadline="2027-02-01T00:00:00+00:00",
    )

    assert terms == failed(
        "purchaseGroupUpdate",
        problem("VALIDATION", "Must not be below the minimum", "maxQuantity"),
        problem("VALIDATION", "Must not be negative", "sharedCosts"),
        FIRST_TIER_ABOVE_MINIMUM,
        problem("VALIDATION", "Not a code of the material catalogue", "materialCode"),
        problem("VALIDATION", "Not a known UN/ECE unit code", "unit"),
        problem("NOT_FOUND", "No such organisation", "counterpartOrganisationId"),
    )
    assert texts == failed(
        "purchaseGroupUpdate",
        problem("VALIDATION", "Must have at least 3 characters", "title"),
        problem("VALIDATION", "Use an ISO 4217 code such as INR, JPY, THB or VND", "currency"),
        problem("VALIDATION", "Must be in the future", "deadline"),
    )
    assert await read(gql, crowd.shg, group["id"]) == crowd.group(group["id"])


async def test_an_update_to_a_zero_minimum_is_refused(gql: GraphQL, crowd: Crowd) -> None:
    """A zero minimum is refused on creation, and must be on an update too."""
    group = await create(gql, crowd.shg, priceTiers=[{"minQuantity": "0", "pricePerUnit": "10"}])

    body = await update(gql, crowd.shg, group["id"], minQuantity="0")

    assert body == failed(
        "purchaseGroupUpdate", problem("VALIDATION", "Must be more than zero", "minQuantity")
    )


async def test_after_the_first_pledge_only_safe_changes_are_allowed(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    await pledge(gql, crowd.a, group["id"], "40")
    pledged = {
        "pledgedQuantity": "40",
        "remainingQuantity": "960",
        "participantsCount": 1,
        "quantityToNextTier": "60",
    }
    unsafe = {
        "itemName": "Sinking fish feed",
        "materialCode": "fish-feed",
        "unit": "TNE",
        "direction": "SELL",
        "minQuantity": "50",
        "priceTiers": [{"minQuantity": "50", "pricePerUnit": "9"}],
        "currency": "THB",
        "sharedCosts": "0",
        "costSplit": "EQUAL",
        "visibility": "PUBLIC",
        "counterpartOrganisationId": crowd.b.organisation_id,
    }
    for field_name, value in unsafe.items():
        body = await update(gql, crowd.shg, group["id"], **{field_name: value})
        assert body == failed(
            "purchaseGroupUpdate",
            problem("VALIDATION", "Cannot change once somebody has pledged", field_name),
        ), field_name
    earlier = await update(gql, crowd.shg, group["id"], deadline="2027-03-05T00:00:00+00:00")
    lower = await update(gql, crowd.shg, group["id"], maxQuantity="900")
    assert earlier == failed(
        "purchaseGroupUpdate",
        problem(
            "VALIDATION", "Once somebody has pledged the deadline may only move later", "deadline"
        ),
    )
    assert lower == failed(
        "purchaseGroupUpdate",
        problem(
            "VALIDATION", "Once somebody has pledged the maximum may only go up", "maxQuantity"
        ),
    )
    assert await read(gql, crowd.shg, group["id"]) == crowd.group(group["id"], **pledged)

    # the title, the description, a later deadline and a higher maximum may change
    clock.advance(timedelta(hours=1))
    safe = await update(
        gql,
        crowd.shg,
        group["id"],
        expectedVersion=1,
        title="Fish feed, second round",
        description="Pick-up at the co-op",
        deadline="2027-03-10T00:00:00+00:00",
        maxQuantity="2000",
    )
    changed = crowd.group(
        group["id"],
        **{**pledged, "remainingQuantity": "1960"},
        title="Fish feed, second round",
        description="Pick-up at the co-op",
        deadline="2027-03-10T00:00:00+00:00",
        secondsLeft=9 * 86400 - 3600,
        maxQuantity="2000",
        version=2,
        updatedAt="2027-03-01T01:00:00+00:00",
    )
    assert safe == {"data": {"purchaseGroupUpdate": {"purchaseGroup": changed, "errors": []}}}
    # and so may no maximum at all
    unlimited = await update(gql, crowd.shg, group["id"], maxQuantity=None)
    assert payload(unlimited, "purchaseGroupUpdate") == {
        **changed,
        "maxQuantity": None,
        "remainingQuantity": None,
        "version": 3,
    }


async def test_a_maximum_below_what_is_pledged_is_refused(gql: GraphQL, crowd: Crowd) -> None:
    group = await create(
        gql,
        crowd.shg,
        minQuantity="10",
        maxQuantity=None,
        priceTiers=[{"minQuantity": "10", "pricePerUnit": "10"}],
    )
    await pledge(gql, crowd.a, group["id"], "40")

    body = await update(gql, crowd.shg, group["id"], maxQuantity="30")

    assert body == failed(
        "purchaseGroupUpdate",
        problem(
            "VALIDATION",
            "40 is already pledged; the maximum cannot go below it",
            "maxQuantity",
        ),
    )


async def test_a_stale_expected_version_is_a_conflict(gql: GraphQL, crowd: Crowd) -> None:
    group = await create(gql, crowd.shg)
    first = await update(gql, crowd.shg, group["id"], expectedVersion=1, title="First edit")
    assert payload(first, "purchaseGroupUpdate")["version"] == 2

    stale = await update(gql, crowd.shg, group["id"], expectedVersion=1, title="Second edit")

    assert stale == failed(
        "purchaseGroupUpdate",
        problem(
            "CONFLICT",
            "The group was changed meanwhile (now version 2); reload it and apply your edit again",
            "expectedVersion",
        ),
    )
    assert await read(gql, crowd.shg, group["id"]) == crowd.group(
        group["id"], title="First edit", version=2
    )


async def test_not_a_number_in_an_update_is_a_validation_error(
    gql: Any, register: Any, cluster_id: str
) -> None:
    # Given a group with a pledge
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    created = await gql(CREATE, {"input": group_input()}, token=shg.access_token)
    group_id = created["data"]["purchaseGroupCreate"]["purchaseGroup"]["id"]
    # when its maximum and minimum are changed to NaN
    updated = await gql(
        UPDATE,
        {"input": {"id": group_id, "maxQuantity": "NaN", "minQuantity": "NaN"}},
        token=shg.access_token,
    )
    # then both fields say so
    assert updated["data"]["purchaseGroupUpdate"] == {
        "purchaseGroup": None,
        "errors": [
            {"code": "VALIDATION", "message": "Not a number", "field": "minQuantity"},
            {"code": "VALIDATION", "message": "Not a number", "field": "maxQuantity"},
        ],
    }


# ---------------------------------------------------------------------------------------------
# Closing, cancelling, ordering, delivering


def line(account: Account, name: str, pledge_id: str, quantity: str, amount: str) -> Any:
    return {
        "pledgeId": pledge_id,
        "participant": person(account),
        "organisationName": name,
        "quantity": quantity,
        "amount": amount,
    }


async def test_closing_early_needs_the_minimum_and_tells_the_participants(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    pa = await pledge(gql, crowd.a, group["id"], "40")
    pb = await pledge(gql, crowd.b, group["id"], "30")

    too_early = await gql(CLOSE, {"id": group["id"]}, token=crowd.shg.access_token)
    # (the message itself: test_closing_below_the_minimum_says_how_much_more_is_needed)
    assert [e["code"] for e in too_early["data"]["purchaseGroupClose"]["errors"]] == ["VALIDATION"]
    assert (await read(gql, crowd.shg, group["id"]) or {})["status"] == "OPEN"

    pc = await pledge(gql, crowd.c, group["id"], "30")
    clock.advance(timedelta(hours=2))
    closed = await gql(CLOSE, {"id": group["id"]}, token=crowd.shg.access_token)

    at = "2027-03-01T02:00:00+00:00"
    confirmed = crowd.group(
        group["id"],
        status="CONFIRMED",
        pledgedQuantity="100",
        remainingQuantity="900",
        minimumReached=True,
        participantsCount=3,
        currentTier=TIERS[0],
        nextTier=TIERS[1],
        quantityToNextTier="400",
        secondsLeft=SECONDS_TO_DEADLINE - 7200,
        canPledge=False,
        settlement={
            "currency": "USD",
            "tier": TIERS[0],
            "unitPrice": "10",
            "totalQuantity": "100",
            "sharedCosts": "10",
            "total": "1010.00",
            "lines": [
                line(crowd.a, "Farm A", pa["id"], "40", "404.00"),
                line(crowd.b, "Farm B", pb["id"], "30", "303.00"),
                line(crowd.c, "Farm C", pc["id"], "30", "303.00"),
            ],
        },
        version=2,
        updatedAt=at,
        closedAt=at,
    )
    assert closed == {"data": {"purchaseGroupClose": {"purchaseGroup": confirmed, "errors": []}}}
    # a retried close changes nothing and tells nobody twice
    again = await gql(CLOSE, {"id": group["id"]}, token=crowd.shg.access_token)
    assert again == closed
    told = {
        "kind": "PURCHASE_GROUP_CONFIRMED",
        "title": "Confirmed: Fish feed for the dry season",
        "body": "The group reached its minimum; the settlement shows what each participant pays.",
        "subjectType": "PURCHASE_GROUP",
        "subjectId": group["id"],
    }
    for farm in (crowd.a, crowd.b, crowd.c):
        assert await inbox(gql, farm) == [told]
    assert await inbox(gql, crowd.shg) == []


async def test_closing_below_the_minimum_says_how_much_more_is_needed(
    gql: GraphQL, crowd: Crowd
) -> None:
    group = await create(gql, crowd.shg)
    await pledge(gql, crowd.a, group["id"], "70")

    body = await gql(CLOSE, {"id": group["id"]}, token=crowd.shg.access_token)

    # in the group's own terms, as every other message of purchasing ("Only 50 KGM left ...")
    assert body == failed(
        "purchaseGroupClose",
        problem("VALIDATION", "The minimum is not reached yet: 30 more is needed"),
    )


async def test_cancelling_tells_the_participants_why_and_closes_everything(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    pa = await pledge(gql, crowd.a, group["id"], "40")
    await pledge(gql, crowd.b, group["id"], "30")
    clock.advance(timedelta(hours=1))

    cancelled = await gql(
        CANCEL, {"id": group["id"], "reason": "  The mill closed  "}, token=crowd.shg.access_token
    )

    at = "2027-03-01T01:00:00+00:00"
    expected = crowd.group(
        group["id"],
        status="CANCELLED",
        pledgedQuantity="70",
        remainingQuantity="930",
        participantsCount=2,
        quantityToNextTier="30",
        secondsLeft=SECONDS_TO_DEADLINE - 3600,
        canPledge=False,
        cancellationReason="The mill closed",
        version=2,
        updatedAt=at,
        cancelledAt=at,
    )
    assert cancelled == {"data": {"purchaseGroupCancel": {"purchaseGroup": expected, "errors": []}}}
    told = {
        "kind": "PURCHASE_GROUP_CANCELLED",
        "title": "Cancelled: Fish feed for the dry season",
        "body": "The mill closed",
        "subjectType": "PURCHASE_GROUP",
        "subjectId": group["id"],
    }
    assert await inbox(gql, crowd.a) == [told]
    assert await inbox(gql, crowd.b) == [told]
    assert await inbox(gql, crowd.c) == []
    # cancelling again changes nothing
    again = await gql(CANCEL, {"id": group["id"]}, token=crowd.shg.access_token)
    assert again == cancelled
    assert await inbox(gql, crowd.a) == [told]

    # nothing else happens to a cancelled group
    token = crowd.shg.access_token
    assert await update(gql, crowd.shg, group["id"], title="Revived") == failed(
        "purchaseGroupUpdate",
        problem("CONFLICT", "The group is CANCELLED; it can no longer change"),
    )
    assert await gql(CLOSE, {"id": group["id"]}, token=token) == failed(
        "purchaseGroupClose", problem("CONFLICT", "The group is CANCELLED")
    )
    assert await gql(MARK_ORDERED, {"id": group["id"]}, token=token) == failed(
        "purchaseGroupMarkOrdered",
        problem("CONFLICT", "The group is CANCELLED; it must be CONFIRMED first"),
    )
    closed_for_pledges = problem("DEADLINE_PASSED", "The group is CANCELLED; pledges are closed")
    joining = await gql(
        PLEDGE, {"input": {"groupId": group["id"], "quantity": "10"}}, token=crowd.c.access_token
    )
    more = await gql(
        PLEDGE_UPDATE,
        {"input": {"pledgeId": pa["id"], "quantity": "50"}},
        token=crowd.a.access_token,
    )
    leaving = await gql(PLEDGE_WITHDRAW, {"id": pa["id"]}, token=crowd.a.access_token)
    assert joining == failed("purchaseGroupPledge", closed_for_pledges)
    assert more == failed("purchaseGroupPledgeUpdate", closed_for_pledges)
    assert leaving == failed("purchaseGroupPledgeWithdraw", closed_for_pledges)
    assert await read(gql, crowd.shg, group["id"]) == expected


async def test_a_confirmed_or_failed_group_cannot_be_cancelled(
    gql: GraphQL, crowd: Crowd, clock: ManualClock, db: Database
) -> None:
    confirmed = await create(gql, crowd.shg, title="Closed early")
    await pledge(gql, crowd.a, confirmed["id"], "100")
    assert (
        payload(
            await gql(CLOSE, {"id": confirmed["id"]}, token=crowd.shg.access_token),
            "purchaseGroupClose",
        )["status"]
        == "CONFIRMED"
    )
    below = await create(gql, crowd.shg, title="Below its minimum")
    await pledge(gql, crowd.b, below["id"], "10")

    early = await gql(CANCEL, {"id": confirmed["id"]}, token=crowd.shg.access_token)
    clock.set(datetime(2027, 3, 9, tzinfo=UTC))  # past both deadlines
    late = await gql(CANCEL, {"id": below["id"]}, token=crowd.shg.access_token)

    assert early == failed(
        "purchaseGroupCancel",
        problem("CONFLICT", "The group is CONFIRMED; only open groups can be cancelled"),
    )
    assert late == failed(
        "purchaseGroupCancel",
        problem("CONFLICT", "The group is FAILED; only open groups can be cancelled"),
    )
    # a refused request changes nothing: the due-job runner records the failure and tells them
    assert await inbox(gql, crowd.b) == []
    assert await service.record_due_outcomes(db=db, now=clock.now()) == 1
    assert await inbox(gql, crowd.b) == [
        {
            "kind": "PURCHASE_GROUP_FAILED",
            "title": "Did not go ahead: Below its minimum",
            "body": "The deadline passed below the minimum total; nothing will be ordered.",
            "subjectType": "PURCHASE_GROUP",
            "subjectId": below["id"],
        }
    ]
    assert await listed(gql, crowd.shg) == [
        ("Closed early", "CONFIRMED"),
        ("Below its minimum", "FAILED"),
    ]


async def test_ordered_only_once_confirmed_and_delivered_only_once_ordered(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    pa = await pledge(gql, crowd.a, group["id"], "100")
    token = crowd.shg.access_token

    assert await gql(MARK_ORDERED, {"id": group["id"]}, token=token) == failed(
        "purchaseGroupMarkOrdered",
        problem("CONFLICT", "The group is OPEN; it must be CONFIRMED first"),
    )
    assert await gql(MARK_DELIVERED, {"id": group["id"]}, token=token) == failed(
        "purchaseGroupMarkDelivered",
        problem("CONFLICT", "The group is OPEN; it must be ORDERED first"),
    )
    payload(await gql(CLOSE, {"id": group["id"]}, token=token), "purchaseGroupClose")
    assert await gql(MARK_DELIVERED, {"id": group["id"]}, token=token) == failed(
        "purchaseGroupMarkDelivered",
        problem("CONFLICT", "The group is CONFIRMED; it must be ORDERED first"),
    )

    clock.advance(timedelta(days=1))
    ordered = await gql(MARK_ORDERED, {"id": group["id"]}, token=token)
    clock.advance(timedelta(days=1))
    ordered_again = await gql(MARK_ORDERED, {"id": group["id"]}, token=token)
    delivered = await gql(MARK_DELIVERED, {"id": group["id"]}, token=token)
    clock.advance(timedelta(days=1))
    delivered_again = await gql(MARK_DELIVERED, {"id": group["id"]}, token=token)

    base = crowd.group(
        group["id"],
        pledgedQuantity="100",
        remainingQuantity="900",
        minimumReached=True,
        participantsCount=1,
        currentTier=TIERS[0],
        nextTier=TIERS[1],
        quantityToNextTier="400",
        canPledge=False,
        settlement={
            "currency": "USD",
            "tier": TIERS[0],
            "unitPrice": "10",
            "totalQuantity": "100",
            "sharedCosts": "10",
            "total": "1010.00",
            "lines": [line(crowd.a, "Farm A", pa["id"], "100", "1010.00")],
        },
        closedAt=NOW,
    )
    day_1, day_2 = "2027-03-02T00:00:00+00:00", "2027-03-03T00:00:00+00:00"
    expected_ordered = {
        **base,
        "status": "ORDERED",
        "secondsLeft": SECONDS_TO_DEADLINE - 86400,
        "version": 3,
        "updatedAt": day_1,
        "orderedAt": day_1,
    }
    expected_delivered = {
        **expected_ordered,
        "status": "DELIVERED",
        "secondsLeft": SECONDS_TO_DEADLINE - 2 * 86400,
        "version": 4,
        "updatedAt": day_2,
        "deliveredAt": day_2,
    }
    assert ordered == {
        "data": {"purchaseGroupMarkOrdered": {"purchaseGroup": expected_ordered, "errors": []}}
    }
    assert ordered_again == {
        "data": {
            "purchaseGroupMarkOrdered": {
                "purchaseGroup": {
                    **expected_ordered,
                    "secondsLeft": SECONDS_TO_DEADLINE - 2 * 86400,
                },
                "errors": [],
            }
        }
    }
    assert delivered == {
        "data": {"purchaseGroupMarkDelivered": {"purchaseGroup": expected_delivered, "errors": []}}
    }
    assert payload(delivered_again, "purchaseGroupMarkDelivered") == {
        **expected_delivered,
        "secondsLeft": SECONDS_TO_DEADLINE - 3 * 86400,
    }
    # a delivered group is not ordered again
    assert await gql(MARK_ORDERED, {"id": group["id"]}, token=token) == failed(
        "purchaseGroupMarkOrdered",
        problem("CONFLICT", "The group is DELIVERED; it must be CONFIRMED first"),
    )
    subject = {"subjectType": "PURCHASE_GROUP", "subjectId": group["id"]}
    assert await inbox(gql, crowd.a) == [
        {
            "kind": "PURCHASE_GROUP_DELIVERED",
            "title": "Delivered: Fish feed for the dry season",
            "body": "The order has arrived.",
            **subject,
        },
        {
            "kind": "PURCHASE_GROUP_ORDERED",
            "title": "Ordered: Fish feed for the dry season",
            "body": "The order has been placed.",
            **subject,
        },
        {
            "kind": "PURCHASE_GROUP_CONFIRMED",
            "title": "Confirmed: Fish feed for the dry season",
            "body": "The group reached its minimum; the settlement shows what each participant "
            "pays.",
            **subject,
        },
    ]


async def test_a_group_past_its_deadline_with_its_minimum_is_ordered_at_once(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    await pledge(gql, crowd.a, group["id"], "100")
    clock.set(datetime(2027, 3, 9, tzinfo=UTC))

    ordered = await gql(MARK_ORDERED, {"id": group["id"]}, token=crowd.shg.access_token)

    result = payload(ordered, "purchaseGroupMarkOrdered")
    assert (result["status"], result["closedAt"], result["orderedAt"], result["secondsLeft"]) == (
        "ORDERED",
        DEADLINE,
        "2027-03-09T00:00:00+00:00",
        0,
    )
    assert [n["kind"] for n in await inbox(gql, crowd.a)] == [
        "PURCHASE_GROUP_ORDERED",
        "PURCHASE_GROUP_CONFIRMED",
    ]


# ---------------------------------------------------------------------------------------------
# Pledging


async def test_pledges_to_a_closed_cancelled_or_expired_group_are_refused(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    closed = await create(gql, crowd.shg, title="Closed")
    await pledge(gql, crowd.a, closed["id"], "100")
    payload(
        await gql(CLOSE, {"id": closed["id"]}, token=crowd.shg.access_token), "purchaseGroupClose"
    )
    cancelled = await create(gql, crowd.shg, title="Cancelled")
    payload(
        await gql(CANCEL, {"id": cancelled["id"]}, token=crowd.shg.access_token),
        "purchaseGroupCancel",
    )
    expired = await create(gql, crowd.shg, title="Expired")
    mine = await pledge(gql, crowd.b, expired["id"], "20")
    clock.set(datetime(2027, 3, 8, 5, tzinfo=UTC))  # the deadline itself

    def join(group_id: str) -> Any:
        return gql(
            PLEDGE, {"input": {"groupId": group_id, "quantity": "10"}}, token=crowd.c.access_token
        )

    assert await join(closed["id"]) == failed(
        "purchaseGroupPledge",
        problem("DEADLINE_PASSED", "The group is CONFIRMED; pledges are closed"),
    )
    assert await join(cancelled["id"]) == failed(
        "purchaseGroupPledge",
        problem("DEADLINE_PASSED", "The group is CANCELLED; pledges are closed"),
    )
    deadline_passed = problem("DEADLINE_PASSED", "The deadline has passed")
    assert await join(expired["id"]) == failed("purchaseGroupPledge", deadline_passed)
    assert await gql(
        PLEDGE_UPDATE,
        {"input": {"pledgeId": mine["id"], "quantity": "30"}},
        token=crowd.b.access_token,
    ) == failed("purchaseGroupPledgeUpdate", deadline_passed)
    assert await gql(PLEDGE_WITHDRAW, {"id": mine["id"]}, token=crowd.b.access_token) == failed(
        "purchaseGroupPledgeWithdraw", deadline_passed
    )
    # a retried pledge of what is already pledged is still answered with the pledge
    retried = await pledge(gql, crowd.a, closed["id"], "100")
    assert (retried["quantity"], retried["status"]) == ("100", "ACTIVE")


async def test_a_pledge_goes_up_when_it_fits_and_down_any_time(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    pa = await pledge(gql, crowd.a, group["id"], "400")
    await pledge(gql, crowd.b, group["id"], "500")
    clock.advance(timedelta(hours=1))
    at = "2027-03-01T01:00:00+00:00"

    up = await gql(
        PLEDGE_UPDATE,
        {"input": {"pledgeId": pa["id"], "quantity": "450"}},
        token=crowd.a.access_token,
    )
    too_much = await gql(
        PLEDGE_UPDATE,
        {"input": {"pledgeId": pa["id"], "quantity": "600"}},
        token=crowd.a.access_token,
    )
    newcomer = await gql(
        PLEDGE, {"input": {"groupId": group["id"], "quantity": "51"}}, token=crowd.c.access_token
    )

    seen = {
        "secondsLeft": SECONDS_TO_DEADLINE - 3600,
        "participantsCount": 2,
        "minimumReached": True,
        "currentTier": TIERS[1],
        "nextTier": None,
        "quantityToNextTier": None,
    }
    assert up == {
        "data": {
            "purchaseGroupPledgeUpdate": {
                "pledge": pledge_of(
                    crowd.a,
                    "Farm A",
                    pa["id"],
                    "450",
                    crowd.seen_by_farm(
                        group["id"],
                        **seen,
                        pledgedQuantity="950",
                        remainingQuantity="50",
                        myPledge={"id": pa["id"], "quantity": "450", "status": "ACTIVE"},
                    ),
                    updatedAt=at,
                ),
                "errors": [],
            }
        }
    }
    assert too_much == failed(
        "purchaseGroupPledgeUpdate",
        problem(
            "CAPACITY_REACHED",
            "Only 50 KGM left of the maximum 1000; 150 does not fit",
            "quantity",
        ),
    )
    assert newcomer == failed(
        "purchaseGroupPledge",
        problem(
            "CAPACITY_REACHED", "Only 50 KGM left of the maximum 1000; 51 does not fit", "quantity"
        ),
    )
    # exactly what is left fits
    last = await pledge(gql, crowd.c, group["id"], "50")
    assert last["group"]["remainingQuantity"] == "0"

    down = await gql(
        PLEDGE_UPDATE,
        {"input": {"pledgeId": pa["id"], "quantity": "100"}},
        token=crowd.a.access_token,
    )
    assert payload(down, "purchaseGroupPledgeUpdate") == pledge_of(
        crowd.a,
        "Farm A",
        pa["id"],
        "100",
        crowd.seen_by_farm(
            group["id"],
            **{**seen, "participantsCount": 3},
            pledgedQuantity="650",
            remainingQuantity="350",
            myPledge={"id": pa["id"], "quantity": "100", "status": "ACTIVE"},
        ),
        updatedAt=at,
    )
    # pledging again: the same quantity is a retry, another one a conflict
    assert (await pledge(gql, crowd.a, group["id"], "100"))["id"] == pa["id"]
    assert await gql(
        PLEDGE, {"input": {"groupId": group["id"], "quantity": "200"}}, token=crowd.a.access_token
    ) == failed(
        "purchaseGroupPledge",
        problem("CONFLICT", "Already pledged 100; change that pledge instead", "quantity"),
    )
    for quantity in ("0", "-5"):
        assert await gql(
            PLEDGE_UPDATE,
            {"input": {"pledgeId": pa["id"], "quantity": quantity}},
            token=crowd.a.access_token,
        ) == failed(
            "purchaseGroupPledgeUpdate",
            problem("VALIDATION", "Must be more than zero", "quantity"),
        )
    assert (await read(gql, crowd.shg, group["id"]) or {})["pledgedQuantity"] == "650"


async def test_withdrawing_then_pledging_again_revives_the_same_pledge(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    group = await create(gql, crowd.shg)
    first = await pledge(gql, crowd.a, group["id"], "40")
    clock.advance(timedelta(hours=1))
    withdrawn_at = "2027-03-01T01:00:00+00:00"

    withdrawn = await gql(PLEDGE_WITHDRAW, {"id": first["id"]}, token=crowd.a.access_token)

    mine_withdrawn = {"id": first["id"], "quantity": "40", "status": "WITHDRAWN"}
    expected = pledge_of(
        crowd.a,
        "Farm A",
        first["id"],
        "40",
        crowd.seen_by_farm(
            group["id"], secondsLeft=SECONDS_TO_DEADLINE - 3600, myPledge=mine_withdrawn
        ),
        status="WITHDRAWN",
        updatedAt=withdrawn_at,
        withdrawnAt=withdrawn_at,
    )
    assert withdrawn == {
        "data": {"purchaseGroupPledgeWithdraw": {"pledge": expected, "errors": []}}
    }
    # withdrawing again changes nothing; a withdrawn pledge is not changed but pledged again
    again = await gql(PLEDGE_WITHDRAW, {"id": first["id"]}, token=crowd.a.access_token)
    assert again == withdrawn
    assert await gql(
        PLEDGE_UPDATE,
        {"input": {"pledgeId": first["id"], "quantity": "60"}},
        token=crowd.a.access_token,
    ) == failed(
        "purchaseGroupPledgeUpdate",
        problem("CONFLICT", "The pledge was withdrawn; pledge again"),
    )

    clock.advance(timedelta(hours=1))
    revived = await pledge(gql, crowd.a, group["id"], "60")

    assert revived == pledge_of(
        crowd.a,
        "Farm A",
        first["id"],
        "60",
        crowd.seen_by_farm(
            group["id"],
            secondsLeft=SECONDS_TO_DEADLINE - 7200,
            pledgedQuantity="60",
            remainingQuantity="940",
            participantsCount=1,
            quantityToNextTier="40",
            myPledge={"id": first["id"], "quantity": "60", "status": "ACTIVE"},
        ),
        updatedAt="2027-03-01T02:00:00+00:00",
    )


async def test_my_pledges_lists_the_viewer_s_pledges_with_their_groups(
    gql: GraphQL, crowd: Crowd, clock: ManualClock
) -> None:
    feed = await create(gql, crowd.shg, title="Fish feed")
    husk = await create(gql, crowd.shg, title="Rice husk")
    on_feed = await pledge(gql, crowd.a, feed["id"], "40")
    await pledge(gql, crowd.b, feed["id"], "30")
    clock.advance(timedelta(hours=1))
    on_husk = await pledge(gql, crowd.a, husk["id"], "20")
    clock.advance(timedelta(hours=1))
    payload(
        await gql(PLEDGE_WITHDRAW, {"id": on_husk["id"]}, token=crowd.a.access_token),
        "purchaseGroupPledgeWithdraw",
    )

    active = await gql(MY_PLEDGES, token=crowd.a.access_token)
    everything = await gql(MY_PLEDGES, {"includeWithdrawn": True}, token=crowd.a.access_token)
    anonymous = await gql(MY_PLEDGES, token="")

    feed_pledge = pledge_of(
        crowd.a,
        "Farm A",
        on_feed["id"],
        "40",
        {
            "id": feed["id"],
            "title": "Fish feed",
            "status": "OPEN",
            "myPledge": {"id": on_feed["id"]},
        },
    )
    two = "2027-03-01T02:00:00+00:00"
    husk_pledge = pledge_of(
        crowd.a,
        "Farm A",
        on_husk["id"],
        "20",
        {
            "id": husk["id"],
            "title": "Rice husk",
            "status": "OPEN",
            "myPledge": {"id": on_husk["id"]},
        },
        status="WITHDRAWN",
        createdAt="2027-03-01T01:00:00+00:00",
        updatedAt=two,
        withdrawnAt=two,
    )
    assert active == {"data": {"myPledges": {"totalCount": 1, "edges": [{"node": feed_pledge}]}}}
    assert everything == {
        "data": {
            "myPledges": {
                "totalCount": 2,
                "edges": [{"node": husk_pledge}, {"node": feed_pledge}],
            }
        }
    }
    assert anonymous["data"] is None
    assert [e["extensions"]["code"] for e in anonymous["errors"]] == ["UNAUTHENTICATED"]
    # the organiser pledged nothing
    organiser = await gql(MY_PLEDGES, token=crowd.shg.access_token)
    assert organiser == {"data": {"myPledges": {"totalCount": 0, "edges": []}}}


# ---------------------------------------------------------------------------------------------
# Listing


async def test_purchase_groups_filters(
    gql: GraphQL, crowd: Crowd, db: Database, register: Any, clock: ManualClock
) -> None:
    rice_cluster = await second_cluster(db)
    far = await register("far@rice.example", rice_cluster, name="Rice Mill")
    a = crowd.a
    feed = await create(
        gql, crowd.shg, title="Feed", materialCode="fish-feed", deadline="2027-03-08T00:00:00Z"
    )
    sawdust = await create(
        gql,
        a,
        title="Sawdust",
        direction="SELL",
        materialCode="sawdust",
        visibility="PUBLIC",
        deadline="2027-03-03T00:00:00Z",
    )
    await create(
        gql,
        far,
        title="Trimmings",
        materialCode="wood-trimmings",
        visibility="PUBLIC",
        deadline="2027-03-11T00:00:00Z",
    )
    pellets = await create(gql, a, title="Pellets", deadline="2027-03-21T00:00:00Z")
    payload(await gql(CANCEL, {"id": pellets["id"]}, token=a.access_token), "purchaseGroupCancel")
    await pledge(gql, a, feed["id"], "100")
    await pledge(gql, far, sawdust["id"], "10")

    everything = [
        ("Sawdust", "OPEN"),
        ("Feed", "OPEN"),
        ("Trimmings", "OPEN"),
        ("Pellets", "CANCELLED"),
    ]
    assert await listed(gql, a) == everything
    assert await listed(gql, a, clusterId=crowd.cluster_id) == [
        ("Sawdust", "OPEN"),
        ("Feed", "OPEN"),
        ("Pellets", "CANCELLED"),
    ]
    assert await listed(gql, a, clusterId=rice_cluster) == [("Trimmings", "OPEN")]
    assert await listed(gql, a, direction="SELL") == [("Sawdust", "OPEN")]
    assert await listed(gql, a, direction="BUY") == [
        ("Feed", "OPEN"),
        ("Trimmings", "OPEN"),
        ("Pellets", "CANCELLED"),
    ]
    assert await listed(gql, a, organisationId=a.organisation_id) == [
        ("Sawdust", "OPEN"),
        ("Pellets", "CANCELLED"),
    ]
    # a material takes in everything below it in the catalogue
    assert await listed(gql, a, materialCode="fish-feed") == [("Feed", "OPEN")]
    assert await listed(gql, a, materialCode="eco-products") == [("Feed", "OPEN")]
    assert await listed(gql, a, materialCode="ewc-03-01") == [
        ("Sawdust", "OPEN"),
        ("Trimmings", "OPEN"),
    ]
    assert await listed(gql, a, materialCode="sawdust") == [("Sawdust", "OPEN")]
    assert await listed(gql, a, materialCode="rice-husk") == []
    # only the groups the viewer pledged to (or for)
    assert await listed(gql, a, participating=True) == [("Feed", "OPEN")]
    assert await listed(gql, far, participating=True) == [("Sawdust", "OPEN")]
    assert await listed(gql, "", participating=True) == []
    # every condition holds at once
    assert await listed(gql, a, clusterId=crowd.cluster_id, direction="BUY", status="OPEN") == [
        ("Feed", "OPEN")
    ]
    assert await listed(gql, a, status="OPEN") == [
        ("Sawdust", "OPEN"),
        ("Feed", "OPEN"),
        ("Trimmings", "OPEN"),
    ]
    assert await listed(gql, a, status="CANCELLED") == [("Pellets", "CANCELLED")]

    # past their deadlines, open groups are CONFIRMED or FAILED as of now, before any job ran
    clock.set(datetime(2027, 3, 9, tzinfo=UTC))
    assert await listed(gql, a) == [
        ("Sawdust", "FAILED"),
        ("Feed", "CONFIRMED"),
        ("Trimmings", "OPEN"),
        ("Pellets", "CANCELLED"),
    ]
    assert await listed(gql, a, status="CONFIRMED") == [("Feed", "CONFIRMED")]
    assert await listed(gql, a, status="FAILED") == [("Sawdust", "FAILED")]
    assert await listed(gql, a, status="OPEN") == [("Trimmings", "OPEN")]

    # a material code that is not one, or not in the catalogue
    for code, expected in (
        ("Not A Code", ("VALIDATION", "Not a material code")),
        ("no-such-material", ("VALIDATION", "Not a code of the material catalogue")),
    ):
        body = await gql(GROUPS, {"filter": {"materialCode": code}}, token=a.access_token)
        assert body["data"] is None
        assert [
            (e["extensions"]["code"], e["message"], e["extensions"]["field"])
            for e in body["errors"]
        ] == [(*expected, "filter.materialCode")]


# ---------------------------------------------------------------------------------------------
# Tier progress


async def test_tier_progress_follows_the_pledges(gql: GraphQL, crowd: Crowd) -> None:
    tiers = [
        {"minQuantity": "100", "pricePerUnit": "10"},
        {"minQuantity": "500", "pricePerUnit": "9.5"},
        {"minQuantity": "1000", "pricePerUnit": "9"},
    ]
    group = await create(gql, crowd.shg, maxQuantity=None, priceTiers=tiers)
    progress = await gql(
        """query P($id: ID!) { purchaseGroup(id: $id) {
          pledgedQuantity minimumReached currentTier { minQuantity pricePerUnit }
          nextTier { minQuantity pricePerUnit } quantityToNextTier remainingQuantity } }""",
        {"id": group["id"]},
        token=crowd.shg.access_token,
    )
    steps = [(crowd.a, "60"), (crowd.b, "40"), (crowd.c, "400.5"), (crowd.shg, "499.5")]
    seen = [progress["data"]["purchaseGroup"]]
    for account, quantity in steps:
        pledged = await pledge(gql, account, group["id"], quantity)
        seen.append(
            {
                key: pledged["group"][key]
                for key in (
                    "pledgedQuantity",
                    "minimumReached",
                    "currentTier",
                    "nextTier",
                    "quantityToNextTier",
                    "remainingQuantity",
                )
            }
        )

    def at(total: str, reached: bool, current: int | None, to_next: str | None) -> Any:
        following = 0 if current is None else current + 1
        return {
            "pledgedQuantity": total,
            "minimumReached": reached,
            "currentTier": None if current is None else tiers[current],
            "nextTier": tiers[following] if following < len(tiers) else None,
            "quantityToNextTier": to_next,
            "remainingQuantity": None,
        }

    assert seen == [
        at("0", False, None, "100"),
        at("60", False, None, "40"),
        at("100", True, 0, "400"),
        at("500.5", True, 1, "499.5"),
        at("1000", True, 2, None),
    ]


# ---------------------------------------------------------------------------------------------
# What the apps' pledges cost


async def test_the_apps_pledges_cost_pinned_statements_and_answer_as_a_reload(
    gql: GraphQL,
    db: Database,
    crowd: Crowd,
    register: Any,
    cluster_id: str,
    sql_statements: Any,
) -> None:
    """Statement counts of the apps' own pledge documents (clients/operations/purchasing.graphql),
    and each payload as the group screen and the "my pledges" tab show it right after: a
    payload built from the unit of work's rows must not differ from one read back."""
    begin = begins(db)
    mill = await register("mill@feed.example", cluster_id, name="An Giang Feed Mill")
    group = await create(
        gql, crowd.shg, materialCode="fish-feed", counterpartOrganisationId=mill.organisation_id
    )
    app = AppCalls(gql, sql_statements)

    async def screens(account: Account, answer: dict[str, Any]) -> None:
        """The pledge answer against the group screen and the "my pledges" tab."""
        token = account.access_token
        assert answer["group"] == await app.read("PurchaseGroupDetail", token, id=group["id"])
        mine = await app.read("MyPledges", token, includeWithdrawn=False)
        [listed] = [edge["node"] for edge in mine["edges"] if edge["node"]["id"] == answer["id"]]
        assert {**answer, "group": None} == {**listed, "group": None}

    # when farm A pledges, sends it again (a retry), farm B pledges, and farm A changes its
    # pledge
    a, b = crowd.a.access_token, crowd.b.access_token
    first = {"groupId": group["id"], "quantity": "150"}
    pledged = await app.send("PurchaseGroupPledge", "PurchaseGroupPledge", a, input=first)
    await screens(crowd.a, pledged["pledge"])
    again = await app.send("PurchaseGroupPledge again", "PurchaseGroupPledge", a, input=first)
    assert again == pledged
    second = {"groupId": group["id"], "quantity": "50"}
    other = await app.send("PurchaseGroupPledge 2nd", "PurchaseGroupPledge", b, input=second)
    await screens(crowd.b, other["pledge"])
    change = {"pledgeId": pledged["pledge"]["id"], "quantity": "200"}
    changed = await app.send(
        "PurchaseGroupPledgeUpdate", "PurchaseGroupPledgeUpdate", a, input=change
    )
    await screens(crowd.a, changed["pledge"])

    # then (above) each answer is what the screens show; the total moved with each pledge
    assert changed["pledge"]["group"]["pledgedQuantity"] == "250"

    # Each count includes the check that the sender's sign-in still stands (1, in a read
    # transaction of its own) and the offline sync log of the write. SQLite sends each
    # transaction's BEGIN as a statement of its own.
    access = 1 + begin
    assert app.counts == {
        # group locked if readable, the sender's cluster, the participant's pledge (none), the
        # total (conditional UPDATE), insert; the organiser, the supplier and the pledge's
        # organisation with their clusters (1), the group's material and unit (2), the
        # participant, who acted too (1); sync log (sequence, changes). The pledge, the group
        # (its total as the UPDATE left it) and the viewer's own pledge (this one) are not
        # read back.
        "PurchaseGroupPledge": 11 + begin + access,
        # group locked, cluster, the pledge: the same quantity, a retry; the same four
        "PurchaseGroupPledge again": 7 + begin + access,
        "PurchaseGroupPledge 2nd": 11 + begin + access,
        # the pledge's group, the group locked, the pledge, the total, update; the same four;
        # the sender's cluster (whether they may join); sync log (2)
        "PurchaseGroupPledgeUpdate": 12 + begin + access,
    }, app.statements
