"""Allocations and transfers: the cap holds, the ledger records every change, transfers follow
the permit's rule, a retried transfer is done once, and the ledger refuses changes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from backend.kit.db import Database
from tests.conftest import GraphQL
from tests.kit import problem
from tests.permits.kit import ALLOCATE, CANCEL, DECIDE, TRANSFER, UPDATE, build_scene

LEDGER = """query($id: ID!) { permit(id: $id) { conditions {
  ledger { edges { node { organisation { id } reason change balanceAfter transferId } } }
  transfers { totalCount edges { node { id status } } } } } }"""


def _transfer(scene: Any, amount: str, to: int = 1, **more: Any) -> dict[str, Any]:
    return {
        "input": {
            "conditionId": scene.condition_id,
            "toOrganisationId": scene.firms[to].organisation_id,
            "amount": amount,
            **more,
        }
    }


async def test_the_holder_allocates_within_the_cap(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    firm = scene.firms[0]
    vars_ = {"conditionId": scene.condition_id, "organisationId": firm.organisation_id}

    too_much = await scene.call(
        ALLOCATE, {"input": {**vars_, "amount": "80.5"}}, scene.holder.access_token
    )
    fits = await scene.ok(ALLOCATE, {"input": {**vars_, "amount": "80"}}, scene.holder.access_token)
    not_covered = await scene.call(
        ALLOCATE,
        {"input": {**vars_, "organisationId": scene.firms[2].organisation_id, "amount": "1"}},
        scene.holder.access_token,
    )
    by_member = await scene.call(ALLOCATE, {"input": {**vars_, "amount": "1"}}, firm.access_token)

    assert too_much == {
        "allocation": None,
        "condition": None,
        "errors": [
            problem(
                "CAPACITY_REACHED",
                "Only 50 TNE of the cap 100 is unallocated; raising this member by 50.5 does "
                "not fit",
                "amount",
            )
        ],
    }
    assert fits["allocation"] == {"organisation": {"id": firm.organisation_id}, "amount": "80"}
    assert (fits["condition"]["allocated"], fits["condition"]["unallocated"]) == ("100", "0")
    assert not_covered["errors"] == [
        problem("VALIDATION", "Not a member the permit covers now", "organisationId")
    ]
    assert by_member["errors"] == [
        problem("FORBIDDEN", "Only an admin of the permit's holder, acting for it, may do this")
    ]


async def test_a_free_transfer_is_done_at_once_and_once(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    sender, receiver = scene.firms[0], scene.firms[1]
    request = _transfer(scene, "12.5", id="0b7a5a8e-4b3c-4c1e-9f7e-5a1d2c3b4a59", note="Kiln down")

    first = await scene.ok(TRANSFER, request, sender.access_token)
    again = await scene.ok(TRANSFER, request, sender.access_token)
    short = await scene.call(TRANSFER, _transfer(scene, "18"), sender.access_token)
    plain_member = await scene.call(TRANSFER, _transfer(scene, "1"), scene.firm_member.access_token)
    ledger = await scene.call(LEDGER, {"id": scene.permit_id}, scene.holder.access_token)

    assert first["transfer"] == {
        "id": "0b7a5a8e-4b3c-4c1e-9f7e-5a1d2c3b4a59",
        "conditionId": scene.condition_id,
        "fromOrganisation": {"id": sender.organisation_id},
        "toOrganisation": {"id": receiver.organisation_id},
        "amount": "12.5",
        "status": "DONE",
        "note": "Kiln down",
        "decisionReason": "",
        "condition": {
            "allocated": "50",
            # a member sees its own allocation only
            "allocations": [{"organisation": {"id": sender.organisation_id}, "amount": "17.5"}],
        },
    }
    assert again == first
    assert short["errors"] == [
        problem("CAPACITY_REACHED", "The sender holds 17.5 TNE; 18 does not fit", "amount")
    ]
    assert plain_member["errors"] == [
        problem(
            "FORBIDDEN", "Only an admin of a covered member, acting for it, transfers allocation"
        )
    ]
    [condition] = ledger["conditions"]
    entries = [e["node"] for e in condition["ledger"]["edges"]]
    assert [(e["reason"], e["change"], e["balanceAfter"]) for e in entries[:2]] in (
        [("TRANSFER_OUT", "-12.5", "17.5"), ("TRANSFER_IN", "12.5", "32.5")],
        [("TRANSFER_IN", "12.5", "32.5"), ("TRANSFER_OUT", "-12.5", "17.5")],
    )
    assert {e["transferId"] for e in entries[:2]} == {first["transfer"]["id"]}
    assert len(entries) == 4
    assert condition["transfers"]["totalCount"] == 1


async def test_under_holder_approval_a_transfer_waits_and_is_checked_again(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str
) -> None:
    scene = await build_scene(gql, register, cluster_id, platform_admin_token)
    sender = scene.firms[0]
    await scene.ok(
        UPDATE,
        {"input": {"id": scene.permit_id, "transferRule": "HOLDER_APPROVAL"}},
        scene.holder.access_token,
    )

    pending = (await scene.ok(TRANSFER, _transfer(scene, "30"), sender.access_token))["transfer"]
    other = (await scene.ok(TRANSFER, _transfer(scene, "10"), sender.access_token))["transfer"]
    by_member = await scene.call(
        DECIDE, {"input": {"id": pending["id"], "approve": True}}, sender.access_token
    )
    approved = await scene.ok(
        DECIDE, {"input": {"id": pending["id"], "approve": True}}, scene.holder.access_token
    )
    too_late = await scene.call(
        DECIDE, {"input": {"id": other["id"], "approve": True}}, scene.holder.access_token
    )
    cancelled = await scene.ok(CANCEL, {"id": other["id"]}, sender.access_token)
    decided_again = await scene.call(
        DECIDE, {"input": {"id": other["id"], "approve": False}}, scene.holder.access_token
    )

    assert pending["status"] == "PENDING"
    assert by_member["errors"] == [
        problem("FORBIDDEN", "Only an admin of the permit's holder, acting for it, may do this")
    ]
    assert approved["transfer"]["status"] == "DONE"
    assert too_late["errors"] == [
        problem("CAPACITY_REACHED", "The sender holds 0 TNE; 10 does not fit", "amount")
    ]
    assert cancelled["transfer"]["status"] == "CANCELLED"
    assert decided_again["errors"] == [problem("CONFLICT", "The transfer is CANCELLED already")]


async def test_the_ledger_refuses_updates(
    gql: GraphQL, register: Any, cluster_id: str, platform_admin_token: str, db: Database
) -> None:
    await build_scene(gql, register, cluster_id, platform_admin_token)

    with pytest.raises((DBAPIError, IntegrityError)) as refused:
        async with db.write() as session:
            await session.execute(text("UPDATE permit_allocation_entries SET change = 1000"))

    assert "append-only" in str(refused.value)
