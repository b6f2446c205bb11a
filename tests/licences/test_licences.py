"""Recording, changing and verifying waste licences through the apps' own operations: the
rules of each step and what the holder and the verifier see."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from tests.conftest import GraphQL
from tests.identity.kit import invite_code
from tests.kit import problem
from tests.licences import kit
from tests.licences.kit import SLUDGE, SLUDGE_NAME, People

INBOX = """
query Inbox { notifications(first: 20) {
  edges { node { kind title body subjectType subjectId } } } }
"""


@pytest.fixture
async def people(gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str) -> People:
    return await kit.people(gql, register, cluster_id, platform_admin_token)


def sludge() -> dict[str, Any]:
    return {"code": SLUDGE, "name": SLUDGE_NAME, "ewcCode": "19 08 11", "hazardous": True}


async def test_an_admin_records_a_licence_of_its_organisation_unverified(
    gql: GraphQL, people: People
) -> None:
    # given the admin of a treatment firm, with the prefecture's institution account
    licence_id = str(uuid.uuid4())
    # when they record the prefecture's licence for 19 08 11* and the whole sub-chapter 19 02
    body = await gql(
        kit.CREATE,
        {
            "input": kit.licence_input(
                id=licence_id,
                authorityId=people.authority.organisation_id,
                materialCodes=[SLUDGE, "ewc-19-02", SLUDGE],
                note="  Max 200 t a year  ",
            )
        },
        token=people.holder.access_token,
    )
    # then it is recorded, unverified and valid today (2027-03-01 in Tokyo), codes once each
    licence = body["data"]["wasteLicenceCreate"]["wasteLicence"]
    assert body == {
        "data": {
            "wasteLicenceCreate": {
                "wasteLicence": {
                    "id": licence_id,
                    "issuerName": "Okayama Prefecture",
                    "number": "OK-2027-0042",
                    "status": "VALID",
                    "verified": False,
                    "validFrom": "2027-01-01",
                    "validTo": "2027-12-31",
                    "holder": {
                        "id": people.holder.organisation_id,
                        "name": "Maniwa Sludge Treatment",
                    },
                    "coveredMaterials": [
                        {
                            "code": "ewc-19-02",
                            "name": licence["coveredMaterials"][0]["name"],
                            "ewcCode": "19 02",
                            "hazardous": False,
                        },
                        sludge(),
                    ],
                    "operations": ["TREATMENT", "STORAGE"],
                    "authority": {
                        "id": people.authority.organisation_id,
                        "name": "Okayama Prefecture",
                        "verified": True,
                    },
                    "verifiedAt": None,
                    "note": "Max 200 t a year",
                    "version": 1,
                    "createdAt": "2027-03-01T00:00:00+00:00",
                    "updatedAt": "2027-03-01T00:00:00+00:00",
                },
                "errors": [],
            }
        }
    }
    # and sending the same again (an offline retry) returns it instead of a second one
    again = await gql(
        kit.CREATE,
        {"input": kit.licence_input(id=licence_id, authorityId=people.authority.organisation_id)},
        token=people.holder.access_token,
    )
    assert again["data"]["wasteLicenceCreate"]["wasteLicence"]["id"] == licence_id
    listed = await gql(kit.LICENCES, {}, token=people.holder.access_token)
    assert listed["data"]["wasteLicences"]["totalCount"] == 1


async def test_a_licence_with_bad_terms_is_refused_field_by_field(
    gql: GraphQL, people: People
) -> None:
    # when the form holds a cluster material (not an EWC node), an unknown code, no operation,
    # a period ending before it starts, and a firm as the authority
    body = await gql(
        kit.CREATE,
        {
            "input": kit.licence_input(
                issuerName=" ",
                materialCodes=["wood-shavings", "ewc-99-99-99", "ewc-19"],
                operations=[],
                validFrom="2027-06-01",
                validTo="2027-05-31",
                authorityId=people.other_firm.organisation_id,
            )
        },
        token=people.holder.access_token,
    )
    # then every problem is named on its field, and nothing is recorded
    not_ewc = (
        " is not an EWC chapter, sub-chapter or entry of the catalogue (such as ewc-19, "
        "ewc-19-08 or ewc-19-08-11)"
    )
    assert body["data"]["wasteLicenceCreate"] == {
        "wasteLicence": None,
        "errors": [
            problem("VALIDATION", "Must have at least 2 characters", "issuerName"),
            problem("VALIDATION", "Name at least one operation the licence allows", "operations"),
            problem("VALIDATION", "Must not be before validFrom", "validTo"),
            problem("VALIDATION", "wood-shavings" + not_ewc, "materialCodes.0"),
            problem("VALIDATION", "ewc-99-99-99" + not_ewc, "materialCodes.1"),
            problem(
                "VALIDATION",
                "Not a local- or national-government institution of the platform",
                "authorityId",
            ),
        ],
    }
    listed = await gql(kit.LICENCES, {}, token=people.holder.access_token)
    assert listed["data"]["wasteLicences"]["totalCount"] == 0


async def test_the_same_issuer_and_number_twice_is_a_conflict(gql: GraphQL, people: People) -> None:
    await kit.create(gql, people.holder.access_token)
    body = await gql(kit.CREATE, {"input": kit.licence_input()}, token=people.holder.access_token)
    assert body["data"]["wasteLicenceCreate"] == {
        "wasteLicence": None,
        "errors": [
            problem(
                "CONFLICT",
                "Your organisation has already recorded this issuer's licence with this number",
                "number",
            )
        ],
    }


async def test_the_authority_verifies_and_the_holders_people_are_told(
    gql: GraphQL, people: People
) -> None:
    # given a licence naming the prefecture
    licence = await kit.create(
        gql, people.holder.access_token, authorityId=people.authority.organisation_id
    )
    # when the prefecture's officer verifies the version they checked
    body = await gql(
        kit.VERIFY,
        {"input": {"id": licence["id"], "expectedVersion": 1}},
        token=people.authority.access_token,
    )
    # then it is verified (version 2) and both of the holder's people are told once
    verified = body["data"]["wasteLicenceVerify"]
    assert verified["errors"] == []
    assert (verified["wasteLicence"]["verified"], verified["wasteLicence"]["verifiedAt"]) == (
        True,
        "2027-03-01T00:00:00+00:00",
    )
    assert verified["wasteLicence"]["version"] == 2
    again = await kit.verify_licence(gql, people.authority.access_token, licence["id"])
    assert again["version"] == 2
    told = {
        "kind": "LICENCE_VERIFIED",
        "title": "Licence OK-2027-0042 verified",
        "body": "Okayama Prefecture OK-2027-0042 now counts for hazardous waste from "
        "2027-01-01 to 2027-12-31.",
        "subjectType": "WASTE_LICENCE",
        "subjectId": licence["id"],
    }
    for person in (people.holder, people.member):
        inbox = await gql(INBOX, token=person.access_token)
        assert [e["node"] for e in inbox["data"]["notifications"]["edges"]] == [told]


async def test_verifying_terms_the_holder_changed_since_is_a_conflict(
    gql: GraphQL, people: People
) -> None:
    licence = await kit.create(
        gql, people.holder.access_token, authorityId=people.authority.organisation_id
    )
    await gql(
        kit.UPDATE,
        {"input": {"id": licence["id"], "validTo": "2028-12-31"}},
        token=people.holder.access_token,
    )
    body = await gql(
        kit.VERIFY,
        {"input": {"id": licence["id"], "expectedVersion": 1}},
        token=people.authority.access_token,
    )
    assert body["data"]["wasteLicenceVerify"] == {
        "wasteLicence": None,
        "errors": [
            problem(
                "CONFLICT",
                "The licence was changed meanwhile (now version 2); reload it and apply your "
                "edit again",
                "expectedVersion",
            )
        ],
    }


async def test_changing_the_terms_withdraws_the_verification_but_the_note_does_not(
    gql: GraphQL, people: People
) -> None:
    # given a verified licence (version 2)
    licence = await kit.verified_licence(gql, people)
    # when the holder changes only its note
    noted = await gql(
        kit.UPDATE,
        {"input": {"id": licence["id"], "expectedVersion": 2, "note": "Renewal filed"}},
        token=people.holder.access_token,
    )
    # then it stays verified
    after_note = noted["data"]["wasteLicenceUpdate"]["wasteLicence"]
    assert (after_note["verified"], after_note["note"], after_note["version"]) == (
        True,
        "Renewal filed",
        3,
    )
    # when they widen its codes to the whole chapter 19
    widened = await gql(
        kit.UPDATE,
        {"input": {"id": licence["id"], "expectedVersion": 3, "materialCodes": ["ewc-19"]}},
        token=people.holder.access_token,
    )
    # then it must be checked again
    after = widened["data"]["wasteLicenceUpdate"]["wasteLicence"]
    assert (after["verified"], after["verifiedAt"], after["version"]) == (False, None, 4)
    assert [m["code"] for m in after["coveredMaterials"]] == ["ewc-19"]
    # and a stale version is a conflict, not an overwrite
    stale = await gql(
        kit.UPDATE,
        {"input": {"id": licence["id"], "expectedVersion": 3, "number": "X-1"}},
        token=people.holder.access_token,
    )
    assert [e["code"] for e in stale["data"]["wasteLicenceUpdate"]["errors"]] == ["CONFLICT"]


async def test_withdrawing_a_verification_tells_the_holder_why(
    gql: GraphQL, people: People, clock: ManualClock
) -> None:
    licence = await kit.verified_licence(gql, people)
    clock.set(clock.now() + timedelta(hours=1))
    body = await gql(
        kit.UNVERIFY,
        {"input": {"id": licence["id"], "reason": "Suspended by the prefecture"}},
        token=people.admin_token,
    )
    after = body["data"]["wasteLicenceUnverify"]
    assert (after["errors"], after["wasteLicence"]["verified"]) == ([], False)
    inbox = await gql(INBOX, token=people.member.access_token)
    withdrawn, verified = [e["node"] for e in inbox["data"]["notifications"]["edges"]]
    assert (withdrawn, verified["title"]) == (
        {
            "kind": "LICENCE_VERIFICATION_WITHDRAWN",
            "title": "Verification of licence OK-2027-0042 withdrawn",
            "body": "Suspended by the prefecture",
            "subjectType": "WASTE_LICENCE",
            "subjectId": licence["id"],
        },
        "Licence OK-2027-0042 verified",
    )


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "status"),
    [
        ("2027-03-02", "2027-12-31", "NOT_YET_VALID"),
        # 2027-03-01T00:00Z is 09:00 on 1 March in Tokyo: the first day counts
        ("2027-03-01", "2027-03-01", "VALID"),
        ("2026-01-01", "2027-02-28", "EXPIRED"),
    ],
)
async def test_status_is_today_in_the_holders_cluster(
    gql: GraphQL, people: People, valid_from: str, valid_to: str, status: str
) -> None:
    licence = await kit.create(
        gql, people.holder.access_token, validFrom=valid_from, validTo=valid_to
    )
    assert licence["status"] == status


async def test_status_moves_with_the_clock(
    gql: GraphQL, people: People, clock: ManualClock
) -> None:
    licence = await kit.create(gql, people.holder.access_token, validTo="2027-03-01")
    # 2027-03-01T15:00Z is already 2 March in Tokyo
    clock.set(clock.now().replace(hour=15))
    body = await gql(kit.LICENCE, {"id": licence["id"]}, token=people.holder.access_token)
    assert body["data"]["wasteLicence"]["status"] == "EXPIRED"


async def test_the_verification_queue_of_an_authority_and_of_an_admin(
    gql: GraphQL, people: People
) -> None:
    # given three licences: one naming the prefecture, one naming it and verified, one naming
    # nobody
    named = await kit.create(
        gql, people.holder.access_token, authorityId=people.authority.organisation_id
    )
    done = await kit.create(
        gql,
        people.holder.access_token,
        number="OK-2027-0043",
        validTo="2027-06-30",
        authorityId=people.authority.organisation_id,
    )
    await kit.verify_licence(gql, people.authority.access_token, done["id"])
    unnamed = await kit.create(
        gql, people.holder.access_token, issuerName="Ministry", validTo="2027-09-30"
    )

    async def queue(token: str, **filter: Any) -> list[str]:
        body = await gql(kit.LICENCES, {"filter": filter}, token=token)
        return [e["node"]["id"] for e in body["data"]["wasteLicences"]["edges"]]

    # then the prefecture's queue holds what names it and waits; an admin's everything waiting,
    # soonest to end first; the holder sees its own
    assert await queue(people.authority.access_token, verified=False) == [named["id"]]
    assert await queue(people.authority.access_token) == [done["id"], named["id"]]
    assert await queue(people.admin_token, verified=False) == [unnamed["id"], named["id"]]
    assert await queue(people.holder.access_token, verified=True) == [done["id"]]
    assert await queue(people.other_firm.access_token) == []


async def test_only_a_public_authority_is_named_and_only_its_admins_verify(
    gql: GraphQL, people: People, register: Any
) -> None:
    # Given a verified university: an institution, but no authority over waste
    # when the holder names it as its licence's authority
    body = await gql(
        kit.CREATE,
        {"input": kit.licence_input(authorityId=people.other_institution.organisation_id)},
        token=people.holder.access_token,
    )
    # then it is refused: the one named verifies, so a friendly institution would open
    # hazardous trading
    assert body["data"]["wasteLicenceCreate"]["errors"] == [
        problem(
            "VALIDATION",
            "Not a local- or national-government institution of the platform",
            "authorityId",
        )
    ]
    # and, naming the prefecture, a plain member of the prefecture cannot verify it: its admins
    licence = await kit.create(
        gql, people.holder.access_token, authorityId=people.authority.organisation_id
    )
    clerk = await register(
        "clerk@pref.example",
        invite_code=await invite_code(gql, people.authority, "MEMBER"),
    )
    refused = await gql(
        kit.VERIFY,
        {"input": {"id": licence["id"], "expectedVersion": licence["version"]}},
        token=clerk.access_token,
    )
    assert refused["data"]["wasteLicenceVerify"]["errors"] == [
        problem(
            "FORBIDDEN",
            "Only a platform admin or an admin of the issuing authority's verified institution "
            "account, acting for it, verifies a licence",
        )
    ]
    verified = await gql(
        kit.VERIFY,
        {"input": {"id": licence["id"], "expectedVersion": licence["version"]}},
        token=people.authority.access_token,
    )
    assert verified["data"]["wasteLicenceVerify"]["errors"] == []
