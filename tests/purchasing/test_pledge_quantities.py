"""Pledged quantities add up exactly: tenths on every database engine, withdrawing down to
exactly zero, and a total too large for the books refused rather than crashed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.jobs import run_due_jobs
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from tests.purchasing.kit import GROUP, PLEDGE, create

WITHDRAW = """
mutation W($id: ID!) { purchaseGroupPledgeWithdraw(id: $id) { pledge { status } errors { code } } }
"""


async def _group(gql: Any, token: str, **extra: Any) -> str:
    group_id: str = (await create(gql, token, **extra))["id"]
    return group_id


async def _pledge(gql: Any, token: str, group_id: str, quantity: str) -> dict[str, Any]:
    """The pledge mutation's payload, errors and all."""
    answer = await gql(PLEDGE, {"input": {"groupId": group_id, "quantity": quantity}}, token=token)
    result: dict[str, Any] = answer["data"]["purchaseGroupPledge"]
    return result


async def test_tenths_add_up_exactly_on_every_engine(
    gql: Any, register: Any, cluster_id: str, clock: ManualClock, db: Database
) -> None:
    # Given a group needing 0.8 t at least and taking 1.0 t at most
    shg = await register("shg@example.org", cluster_id, name="Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    b = await register("b@firm.example", cluster_id, name="Farm B")
    group_id = await _group(
        gql,
        shg.access_token,
        unit="TNE",
        minQuantity="0.8",
        maxQuantity="1.0",
        priceTiers=[{"minQuantity": "0.1", "pricePerUnit": "100"}],
    )
    # when 0.7 and 0.1 are pledged, and 0.2 more fits exactly
    first = await _pledge(gql, a.access_token, group_id, "0.7")
    clock.advance(timedelta(minutes=1))
    second = await _pledge(gql, b.access_token, group_id, "0.1")
    clock.advance(timedelta(minutes=1))
    more = await _pledge(gql, shg.access_token, group_id, "0.2")
    assert (first["errors"], second["errors"], more["errors"]) == ([], [], [])
    # then past the deadline the group reads CONFIRMED, and the runner records the same
    clock.advance(timedelta(days=30))
    read = await gql(GROUP, {"id": group_id}, token=shg.access_token)
    assert (
        read["data"]["purchaseGroup"]["status"],
        read["data"]["purchaseGroup"]["pledgedQuantity"],
    ) == (
        "CONFIRMED",
        "1",
    )
    assert (await run_due_jobs(db, clock)).purchase_groups_closed == 1
    again = await gql(GROUP, {"id": group_id}, token=shg.access_token)
    assert again["data"]["purchaseGroup"]["status"] == "CONFIRMED"


async def test_withdrawing_every_tenth_leaves_exactly_zero(
    gql: Any, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Union", kind="COMMUNITY")
    group_id = await _group(
        gql,
        shg.access_token,
        unit="TNE",
        minQuantity="1",
        priceTiers=[{"minQuantity": "1", "pricePerUnit": "100"}],
    )
    a = await register("a@firm.example", cluster_id, name="Farm A")
    ids = [
        (await _pledge(gql, who.access_token, group_id, quantity))["pledge"]["id"]
        for who, quantity in ((shg, "0.7"), (a, "0.1"))
    ]
    tokens = (shg.access_token, a.access_token)
    withdrawn = [await gql(WITHDRAW, {"id": i}, token=t) for i, t in zip(ids, tokens, strict=True)]
    assert [w["data"]["purchaseGroupPledgeWithdraw"] for w in withdrawn] == [
        {"pledge": {"status": "WITHDRAWN"}, "errors": []}
    ] * 2
    read = await gql(GROUP, {"id": group_id}, token=shg.access_token)
    assert read["data"]["purchaseGroup"]["pledgedQuantity"] == "0"


async def test_a_total_too_large_for_the_books_is_refused_not_crashed(
    gql: Any, register: Any, cluster_id: str
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    group_id = await _group(gql, shg.access_token, maxQuantity=None)
    assert (await _pledge(gql, shg.access_token, group_id, "9999999999999"))["errors"] == []
    refused = await _pledge(gql, a.access_token, group_id, "9999999999999")
    assert refused == {
        "pledge": None,
        "errors": [
            {
                "code": "CAPACITY_REACHED",
                "message": "The group's total cannot grow this large",
                "field": "quantity",
            }
        ],
    }
