"""Numbers that are not numbers get typed errors on every field, never a crash."""

from __future__ import annotations

from typing import Any

import pytest

from tests.purchasing.test_smoke import CREATE, group_input

UPDATE = """
mutation Update($input: PurchaseGroupUpdateInput!) {
  purchaseGroupUpdate(input: $input) { purchaseGroup { id } errors { code message field } }
}
"""


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
