"""A purchasing group once, end to end: create, pledge, deadline, settlement, delivery."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from backend.kit.clock import ManualClock
from tests.purchasing.kit import group_input

CREATE = """
mutation Create($input: PurchaseGroupCreateInput!) {
  purchaseGroupCreate(input: $input) {
    purchaseGroup { id status currency pledgedQuantity participantsCount }
    errors { code message field }
  }
}
"""
PLEDGE = """
mutation Pledge($input: PurchaseGroupPledgeInput!) {
  purchaseGroupPledge(input: $input) {
    pledge { id quantity }
    errors { code message field }
  }
}
"""
GROUP = """
query Group($id: ID!) {
  purchaseGroup(id: $id) {
    status pledgedQuantity participantsCount minimumReached
    currentTier { minQuantity pricePerUnit } nextTier { minQuantity } quantityToNextTier
    settlement { total unitPrice lines { participant { displayName } quantity amount } }
  }
}
"""


async def test_a_group_from_pledges_to_settlement(
    gql: Any, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    shg = await register("shg@example.org", cluster_id, name="Women's Union", kind="COMMUNITY")
    a = await register("a@firm.example", cluster_id, name="Farm A")
    b = await register("b@firm.example", cluster_id, name="Farm B")
    c = await register("c@firm.example", cluster_id, name="Farm C")
    created = await gql(CREATE, {"input": group_input()}, token=shg.access_token)
    assert created["data"]["purchaseGroupCreate"]["errors"] == [], created
    group_id = created["data"]["purchaseGroupCreate"]["purchaseGroup"]["id"]
    for account, quantity in ((a, "40"), (b, "40"), (c, "40")):
        pledged = await gql(
            PLEDGE,
            {"input": {"groupId": group_id, "quantity": quantity}},
            token=account.access_token,
        )
        assert pledged["data"]["purchaseGroupPledge"]["errors"] == [], pledged
        clock.advance(timedelta(minutes=1))  # pledge order is by time: keep it unambiguous
    clock.advance(timedelta(days=30))
    read = await gql(GROUP, {"id": group_id}, token=shg.access_token)
    assert read["data"]["purchaseGroup"] == {
        "status": "CONFIRMED",
        "pledgedQuantity": "120",
        "participantsCount": 3,
        "minimumReached": True,
        "currentTier": {"minQuantity": "100", "pricePerUnit": "10"},
        "nextTier": {"minQuantity": "500"},
        "quantityToNextTier": "380",
        "settlement": {
            "total": "1210.00",
            "unitPrice": "10",
            "lines": [
                {"participant": {"displayName": "a"}, "quantity": "40", "amount": "403.34"},
                {"participant": {"displayName": "b"}, "quantity": "40", "amount": "403.33"},
                {"participant": {"displayName": "c"}, "quantity": "40", "amount": "403.33"},
            ],
        },
    }, read
