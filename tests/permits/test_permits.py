"""Issuing a permit, changing it, covering members and the conditions' caps, through the API."""

from __future__ import annotations

from typing import Any

from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.kit import AppCalls, begins, problem
from tests.permits.kit import (
    CONDITION_ADD,
    CONDITION_UPDATE,
    CONDITIONS,
    ISSUE,
    MEMBER_ADD,
    MEMBER_REMOVE,
    PERMIT,
    UPDATE,
    build_scene,
    condition_input,
    permit_input,
)

MEMBERS = """query($id: ID!, $current: Boolean) { permit(id: $id) {
  members(current: $current) { totalCount edges { node { organisation { id } coveredFrom
  coveredTo current } } } } }"""
LEDGER = """query($id: ID!, $org: ID) { permit(id: $id) { conditions {
  ledger(organisationId: $org) { edges { node { organisation { id } reason change
  balanceAfter } } } } } }"""


async def test_a_verified_authority_issues_a_permit_to_the_holder(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)

    permit = await scene.call(PERMIT, {"id": scene.permit_id}, scene.holder.access_token)

    assert permit == {
        "id": scene.permit_id,
        "reference": "MNW-2027-001",
        "title": "Maniwa wood-waste umbrella permit",
        "description": "Wood waste of the Biomass Town Association's members",
        "validFrom": "2027-01-01",
        "validTo": "2029-12-31",
        "transferRule": "FREE",
        "returnDueDays": 15,
        "holder": {"id": scene.holder.organisation_id, "name": "Biomass Town Association"},
        "authority": {"id": scene.authority.organisation_id, "name": "Maniwa City"},
        "cluster": {"id": cluster_id},
        "viewerStanding": {
            "holder": True,
            "holderAdmin": True,
            "authority": False,
            "member": False,
            "memberAdmin": False,
            "platformAdmin": False,
        },
        "version": 1,
    }


async def test_issuing_refuses_a_reference_twice_a_firm_holder_and_the_unverified(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    token = scene.authority.access_token

    again = await scene.call(ISSUE, {"input": permit_input(scene, reference="MNW-2027-001")}, token)
    firm = await scene.call(
        ISSUE,
        {"input": permit_input(scene, holderOrganisationId=scene.firms[0].organisation_id)},
        token,
    )
    backwards = await scene.call(
        ISSUE, {"input": permit_input(scene, validTo="2026-12-31", returnDueDays=121)}, token
    )
    unverified = await scene.call(
        ISSUE, {"input": permit_input(scene)}, scene.unverified_authority.access_token
    )

    assert again == {
        "permit": None,
        "errors": [
            problem("CONFLICT", "You already issued a permit with this reference", "reference")
        ],
    }
    assert firm["errors"] == [
        problem(
            "VALIDATION",
            "A permit is held by a cluster association: a community or an institution",
            "holderOrganisationId",
        )
    ]
    assert backwards["errors"] == [
        problem("VALIDATION", "Must be between 0 and 120", "returnDueDays"),
        problem("VALIDATION", "Must not be before validFrom", "validTo"),
    ]
    assert unverified["errors"] == [
        problem(
            "FORBIDDEN",
            "Only an admin of a verified local- or national-government institution, acting "
            "for it, issues umbrella permits",
        )
    ]


async def test_the_same_client_id_issues_once(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    draft = permit_input(scene, id="6a4b1a3e-9f55-4a53-8d8e-2a7e0c2f7a11")

    first = await scene.ok(ISSUE, {"input": draft}, scene.authority.access_token)
    second = await scene.ok(ISSUE, {"input": draft}, scene.authority.access_token)

    assert first == second
    assert first["permit"]["id"] == "6a4b1a3e-9f55-4a53-8d8e-2a7e0c2f7a11"


async def test_the_holder_changes_terms_and_the_authority_the_dates(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    terms = {"id": scene.permit_id, "transferRule": "HOLDER_APPROVAL", "expectedVersion": 1}
    dates = {"id": scene.permit_id, "validTo": "2030-12-31", "expectedVersion": 2}

    by_authority = await scene.call(UPDATE, {"input": terms}, scene.authority.access_token)
    by_holder = await scene.ok(UPDATE, {"input": terms}, scene.holder.access_token)
    dates_by_holder = await scene.call(UPDATE, {"input": dates}, scene.holder.access_token)
    dates_by_authority = await scene.ok(UPDATE, {"input": dates}, scene.authority.access_token)
    stale = await scene.call(UPDATE, {"input": terms}, scene.holder.access_token)

    assert by_authority["errors"] == [
        problem("FORBIDDEN", "Only an admin of the permit's holder, acting for it, may do this")
    ]
    assert (by_holder["permit"]["transferRule"], by_holder["permit"]["version"]) == (
        "HOLDER_APPROVAL",
        2,
    )
    assert dates_by_holder["errors"] == [
        problem("FORBIDDEN", "Only the authority that issued the permit changes its validity")
    ]
    assert (dates_by_authority["permit"]["validTo"], dates_by_authority["permit"]["version"]) == (
        "2030-12-31",
        3,
    )
    assert stale["errors"][0]["code"] == "CONFLICT"


async def test_members_have_exact_spans_and_removal_returns_allocations(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    firm = scene.firms[0]
    token = scene.holder.access_token
    cover = {"permitId": scene.permit_id, "organisationId": firm.organisation_id}

    twice = await scene.call(MEMBER_ADD, {"input": {**cover, "coveredFrom": "2027-02-01"}}, token)
    outside = await scene.call(
        MEMBER_ADD,
        {
            "input": {
                **cover,
                "organisationId": scene.firms[2].organisation_id,
                "coveredFrom": "2030-01-01",
            }
        },
        token,
    )
    removed = await scene.ok(MEMBER_REMOVE, {"input": {**cover, "coveredTo": "2027-06-30"}}, token)
    early = await scene.call(MEMBER_ADD, {"input": {**cover, "coveredFrom": "2027-06-30"}}, token)
    await scene.ok(MEMBER_ADD, {"input": {**cover, "coveredFrom": "2027-07-15"}}, token)
    spans = await scene.call(MEMBERS, {"id": scene.permit_id}, token)
    current = await scene.call(MEMBERS, {"id": scene.permit_id, "current": True}, token)
    [condition] = (await scene.call(CONDITIONS, {"id": scene.permit_id}, token))["conditions"]
    ledger = await scene.call(LEDGER, {"id": scene.permit_id, "org": firm.organisation_id}, token)

    assert twice["errors"] == [
        problem("CONFLICT", "The organisation is covered already", "organisationId")
    ]
    assert outside["errors"] == [
        problem(
            "VALIDATION",
            "Must be within the permit's validity, 2027-01-01 to 2029-12-31",
            "coveredFrom",
        )
    ]
    assert removed["member"]["coveredTo"] == "2027-06-30"
    assert early["errors"] == [
        problem(
            "VALIDATION",
            "Its last cover ended on 2027-06-30; a new one starts after it",
            "coveredFrom",
        )
    ]
    assert spans["members"]["totalCount"] == 3
    assert [
        (e["node"]["organisation"]["id"], e["node"]["coveredFrom"], e["node"]["coveredTo"])
        for e in spans["members"]["edges"]
    ] == [
        (firm.organisation_id, "2027-01-01", "2027-06-30"),
        (scene.firms[1].organisation_id, "2027-01-01", None),
        (firm.organisation_id, "2027-07-15", None),
    ]
    assert current["members"]["totalCount"] == 2
    assert (condition["allocated"], condition["unallocated"]) == ("20", "80")
    assert sorted(
        (a["organisation"]["id"], a["amount"]) for a in condition["allocations"]
    ) == sorted([(firm.organisation_id, "0"), (scene.firms[1].organisation_id, "20")])
    assert [
        (e["node"]["reason"], e["node"]["change"], e["node"]["balanceAfter"])
        for e in ledger["conditions"][0]["ledger"]["edges"]
    ] == [("MEMBER_REMOVED", "-30", "0"), ("ALLOCATED", "30", "30")]


async def test_conditions_check_material_unit_and_the_cap_against_allocations(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    token = scene.holder.access_token

    bad = await scene.call(
        CONDITION_ADD,
        {"input": condition_input(scene.permit_id, materialCode="sawdust", unit="LTR", cap="0")},
        token,
    )
    bod = await scene.call(
        CONDITION_ADD,
        {"input": condition_input(scene.permit_id, parameter="BOD", materialCode=None, unit="KGM")},
        token,
    )
    below = await scene.call(
        CONDITION_UPDATE, {"input": {"id": scene.condition_id, "cap": "49.5"}}, token
    )
    lowered = await scene.ok(
        CONDITION_UPDATE, {"input": {"id": scene.condition_id, "cap": "50"}}, token
    )

    assert bad["errors"] == [
        problem("VALIDATION", "Must be more than zero", "cap"),
        problem(
            "VALIDATION", "Give an EWC entry, chapter or sub-chapter (ewc-03-01-05)", "materialCode"
        ),
        problem("VALIDATION", "Give a mass unit (KGM, TNE ...)", "unit"),
    ]
    assert bod["errors"] == []
    assert (bod["condition"]["material"], bod["condition"]["unit"]) == (None, {"code": "KGM"})
    assert below["errors"] == [
        problem("CONFLICT", "50 TNE is allocated; the cap cannot go below it", "cap")
    ]
    assert (lowered["condition"]["cap"], lowered["condition"]["unallocated"]) == ("50", "0")


async def test_pages_cost_the_same_statements_for_one_item_and_many(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    platform_admin_token: str,
    sql_statements: Any,
    db: Database,
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token, firms=6)
    calls = AppCalls(gql, sql_statements)
    token = scene.holder.access_token

    await calls.send("members of 2", "PermitMembers", token, id=scene.permit_id)
    await calls.send("permit with 1 condition", "Permit", token, id=scene.permit_id)
    await calls.send("ledger of 2", "PermitConditionLedger", token, id=scene.condition_id)
    await calls.send("permits 1", "Permits", token)
    for firm in scene.firms[2:]:
        await scene.cover(scene.permit_id, firm)
        await scene.allocate(scene.condition_id, firm, "5")
    await calls.send("members of 6", "PermitMembers", token, id=scene.permit_id)
    await calls.send("ledger of 6", "PermitConditionLedger", token, id=scene.condition_id)
    await scene.condition(scene.permit_id, parameter="COD", materialCode=None, unit="KGM")
    await scene.issue()
    await scene.issue()
    await calls.send("permit with 2 conditions", "Permit", token, id=scene.permit_id)
    await calls.send("permits 3", "Permits", token)

    assert calls.counts["members of 2"] == calls.counts["members of 6"]
    assert calls.counts["permit with 1 condition"] == calls.counts["permit with 2 conditions"]
    assert calls.counts["ledger of 2"] == calls.counts["ledger of 6"]
    assert calls.counts["permits 1"] == calls.counts["permits 3"]
    # the whole detail screen in three transactions (the token's access check; the permit, the
    # standing (2), its organisations; the conditions, their allocations, organisations, units
    # and materials)
    assert calls.counts["permit with 2 conditions"] == 10 + 3 * begins(db)
