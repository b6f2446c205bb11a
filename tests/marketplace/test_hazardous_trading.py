"""Hazardous waste goes only to licensed hands (issue 19): offerCreate and offerAccept refuse
with LICENCE_REQUIRED unless the receiver of the waste holds a verified licence, valid that day,
covering its EWC code; matches say whether each receiver holds one, at one statement per page."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import GraphQL, seed_people
from tests.kit import AppCalls, problem
from tests.licences import kit as licences
from tests.licences.kit import SLUDGE, SLUDGE_NAME, People
from tests.marketplace.trading_kit import OFFER_ACCEPT, OFFER_CREATE, make_offer, publish

MATERIAL_CREATE = """
mutation Create($input: MaterialCreateInput!) {
  materialCreate(input: $input) { material { code hazardous } errors { code message field } }
}
"""

NO_LICENCE = (
    f"{SLUDGE_NAME} (EWC 19 08 11*) is hazardous waste: {{who}}, which would receive it, needs a "
    "verified waste licence covering it, valid on {day}"
)


@pytest.fixture
async def people(gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str) -> People:
    return await licences.people(gql, register, cluster_id, platform_admin_token)


async def sludge_on_offer(gql: GraphQL, people: People, **overrides: Any) -> dict[str, Any]:
    """The other firm (a dye works, say) offers 20 t of 19 08 11* sludge, paying for removal."""
    fields = {
        "title": "Dye-works sludge",
        "materialCode": SLUDGE,
        "quantity": "20",
        "pricePerUnit": "-8000",
        **overrides,
    }
    return await publish(gql, people.other_firm.access_token, **fields)


async def offer_answer(gql: GraphQL, token: str, listing_id: str) -> dict[str, Any]:
    body = await gql(
        OFFER_CREATE,
        {"input": {"listingId": listing_id, "quantity": "5", "pricePerUnit": "-8000"}},
        token=token,
    )
    answer: dict[str, Any] = body["data"]["offerCreate"]
    return answer


async def test_an_offer_for_hazardous_waste_without_a_licence_is_refused(
    gql: GraphQL, people: People
) -> None:
    # given sludge on offer and a treatment firm without any licence
    listing = await sludge_on_offer(gql, people)
    # when the treatment firm offers to take it
    answer = await offer_answer(gql, people.holder.access_token, listing["id"])
    # then it is refused, saying what is missing
    assert answer == {
        "offer": None,
        "errors": [
            problem(
                "LICENCE_REQUIRED",
                NO_LICENCE.format(who="your organisation", day="2027-03-01"),
                "listingId",
            )
        ],
    }


@pytest.mark.parametrize(
    ("codes", "verified", "valid_to", "allowed"),
    [
        pytest.param([SLUDGE], True, "2027-12-31", True, id="the entry, verified and valid"),
        pytest.param(["ewc-19"], True, "2027-12-31", True, id="chapter-wide covers the entry"),
        pytest.param(["ewc-19-08"], True, "2027-12-31", True, id="sub-chapter covers the entry"),
        pytest.param([SLUDGE], True, "2027-02-28", False, id="expired"),
        pytest.param([SLUDGE], False, "2027-12-31", False, id="unverified"),
        pytest.param(["ewc-03"], True, "2027-12-31", False, id="another chapter"),
        pytest.param(["ewc-19-08-13"], True, "2027-12-31", False, id="a sibling entry"),
    ],
)
async def test_which_licence_lets_a_receiver_offer_for_hazardous_waste(
    gql: GraphQL, people: People, codes: list[str], verified: bool, valid_to: str, allowed: bool
) -> None:
    # given sludge on offer and the treatment firm's licence
    listing = await sludge_on_offer(gql, people)
    licence = await licences.create(
        gql,
        people.holder.access_token,
        materialCodes=codes,
        validFrom="2026-01-01",
        validTo=valid_to,
    )
    if verified:
        await licences.verify_licence(gql, people.admin_token, licence["id"])
    # when the treatment firm offers to take it
    answer = await offer_answer(gql, people.holder.access_token, listing["id"])
    # then only a verified licence valid today and covering 19 08 11 lets it
    if allowed:
        assert (answer["errors"], answer["offer"]["status"]) == ([], "PENDING")
    else:
        assert answer["errors"] == [
            problem(
                "LICENCE_REQUIRED",
                NO_LICENCE.format(who="your organisation", day="2027-03-01"),
                "listingId",
            )
        ]


async def test_a_material_below_a_hazardous_entry_needs_the_entrys_licence(
    gql: GraphQL, people: People
) -> None:
    # given a cluster material under 19 08 11* (it inherits the asterisk), on offer
    created = await gql(
        MATERIAL_CREATE,
        {"input": {"code": "dye-sludge", "parentCode": SLUDGE, "name": "Dye-works sludge"}},
        token=people.admin_token,
    )
    assert created["data"]["materialCreate"]["material"] == {
        "code": "dye-sludge",
        "hazardous": True,
    }
    listing = await sludge_on_offer(gql, people, materialCode="dye-sludge")
    # when the treatment firm offers without a licence, then with one for the entry
    refused = await offer_answer(gql, people.holder.access_token, listing["id"])
    await licences.verified_licence(gql, people)
    allowed = await offer_answer(gql, people.holder.access_token, listing["id"])
    # then the first is refused, the second made
    assert [e["code"] for e in refused["errors"]] == ["LICENCE_REQUIRED"]
    assert (allowed["errors"], allowed["offer"]["status"]) == ([], "PENDING")


async def test_on_a_want_listing_the_listings_organisation_is_the_receiver(
    gql: GraphQL, people: People
) -> None:
    # given the treatment firm wants sludge, without a licence
    wanted = await publish(
        gql,
        people.holder.access_token,
        kind="WANT",
        title="Sludge for treatment",
        materialCode=SLUDGE,
        pricePerUnit="-9000",
    )
    # when a producer offers its sludge to it, then again once the treatment firm's licence is
    # verified
    refused = await offer_answer(gql, people.other_firm.access_token, wanted["id"])
    await licences.verified_licence(gql, people)
    allowed = await offer_answer(gql, people.other_firm.access_token, wanted["id"])
    # then the producer needs no licence of its own: the receiver's counts
    assert refused["errors"] == [
        problem(
            "LICENCE_REQUIRED",
            NO_LICENCE.format(who="the listing's organisation", day="2027-03-01"),
            "listingId",
        )
    ]
    assert (allowed["errors"], allowed["offer"]["status"]) == ([], "PENDING")


async def test_acceptance_is_refused_once_the_licence_no_longer_counts(
    gql: GraphQL, people: People, clock: ManualClock
) -> None:
    # given an offer made under a licence whose last day is 2 March (Tokyo)
    listing = await sludge_on_offer(gql, people)
    await licences.verified_licence(gql, people, validTo="2027-03-02")
    offer = await make_offer(gql, people.holder.access_token, listing["id"], "5", "-8000")
    # when the producer accepts on 3 March in Tokyo (18:00 UTC on the 2nd)
    clock.set(clock.now() + timedelta(days=1, hours=15))
    body = await gql(OFFER_ACCEPT, {"id": offer["id"]}, token=people.other_firm.access_token)
    # then no trade starts: the receiver's licence has expired
    assert body["data"]["offerAccept"] == {
        "offer": None,
        "trade": None,
        "errors": [
            problem(
                "LICENCE_REQUIRED",
                NO_LICENCE.format(who="the offer's maker", day="2027-03-03"),
                "id",
            )
        ],
    }


async def test_acceptance_with_a_licence_valid_that_day_starts_the_trade(
    gql: GraphQL, people: People, clock: ManualClock
) -> None:
    listing = await sludge_on_offer(gql, people)
    await licences.verified_licence(gql, people, validTo="2027-03-02")
    offer = await make_offer(gql, people.holder.access_token, listing["id"], "5", "-8000")
    # 14:59 UTC on 2 March is 23:59 in Tokyo: still the licence's last day
    clock.set(clock.now() + timedelta(days=1, hours=14, minutes=59))
    body = await gql(OFFER_ACCEPT, {"id": offer["id"]}, token=people.other_firm.access_token)
    answer = body["data"]["offerAccept"]
    assert (answer["errors"], answer["offer"]["status"], answer["trade"]["status"]) == (
        [],
        "ACCEPTED",
        "AGREED",
    )


async def test_matches_say_whether_each_receiver_is_licensed_in_one_statement(
    gql: GraphQL,
    people: People,
    db: Database,
    settings: Settings,
    cluster_id: str,
    sql_statements: Any,
) -> None:
    # given sludge on offer, and five firms wanting it: the 1st and 4th with verified licences
    listing = await sludge_on_offer(gql, people)
    firms = await seed_people(db, settings, cluster_id, 5, prefix="treater")
    for index, firm in enumerate(firms):
        await publish(
            gql,
            firm.token,
            kind="WANT",
            title=f"Sludge wanted {index}",
            materialCode=SLUDGE,
            pricePerUnit=None,
        )
        if index in (0, 3):
            licence = await licences.create(gql, firm.token, number=f"T-{index}")
            await licences.verify_licence(gql, people.admin_token, licence["id"])
    calls = AppCalls(gql, sql_statements)
    # when the producer reads its matches a page of one and a page of five
    one = await calls.send(
        "one", "ListingMatches", people.other_firm.access_token, listingId=listing["id"], first=1
    )
    five = await calls.send(
        "five", "ListingMatches", people.other_firm.access_token, listingId=listing["id"], first=5
    )
    # then each candidate says whether it may receive the sludge
    licensed = {firms[0].organisation_id, firms[3].organisation_id}
    flags = {
        edge["node"]["listing"]["organisation"]["id"]: edge["node"]["receiverLicensed"]
        for edge in five["edges"]
    }
    assert flags == {firm.organisation_id: firm.organisation_id in licensed for firm in firms}
    assert len(one["edges"]) == 1
    # and a page of one costs what a page of five does
    assert calls.counts["one"] == calls.counts["five"], calls.statements["five"]
    licence_reads = [s for s in calls.statements["five"] if "waste_licence" in s]
    assert len(licence_reads) == 1, licence_reads


async def test_a_match_on_waste_that_is_not_hazardous_has_no_licence_flag(
    gql: GraphQL, people: People
) -> None:
    listing = await publish(gql, people.other_firm.access_token)  # wood shavings
    await publish(gql, people.holder.access_token, kind="WANT", pricePerUnit=None)
    calls = AppCalls(gql, nullcontext)
    matches = await calls.read(
        "ListingMatches", people.other_firm.access_token, listingId=listing["id"]
    )
    assert [e["node"]["receiverLicensed"] for e in matches["edges"]] == [None]
