"""Changing an event's topics keeps, reorders, adds and removes them in one update."""

from __future__ import annotations

from typing import Any

from tests.events.kit import CREATE, event_input

UPDATE = """
mutation U($input: EventUpdateInput!) {
  eventUpdate(input: $input) {
    event { version topics { tag material { code } } }
    errors { code message field }
  }
}
"""


async def test_topics_that_stay_are_kept_and_the_new_order_holds(
    gql: Any, register: Any, cluster_id: str
) -> None:
    # Given an event about wood shavings and boilers
    lab = await register("lab@uni.example", cluster_id, name="Lab", kind="INSTITUTION")
    created = await gql(CREATE, {"input": event_input(cluster_id)}, token=lab.access_token)
    event_id = created["data"]["eventCreate"]["event"]["id"]
    # when its topics become boilers (kept, now first), sawdust (new) and wood shavings (kept)
    # and a tag is dropped in a second update
    first = await gql(
        UPDATE,
        {"input": {"id": event_id, "topics": ["boilers", "sawdust", "wood-shavings"]}},
        token=lab.access_token,
    )
    second = await gql(
        UPDATE,
        {"input": {"id": event_id, "topics": ["wood-shavings", "sawdust"]}},
        token=lab.access_token,
    )
    # then each update holds exactly the topics given, in the order given
    assert first["data"]["eventUpdate"] == {
        "event": {
            "version": 2,
            "topics": [
                {"tag": "boilers", "material": None},
                {"tag": None, "material": {"code": "sawdust"}},
                {"tag": None, "material": {"code": "wood-shavings"}},
            ],
        },
        "errors": [],
    }
    assert second["data"]["eventUpdate"] == {
        "event": {
            "version": 3,
            "topics": [
                {"tag": None, "material": {"code": "wood-shavings"}},
                {"tag": None, "material": {"code": "sawdust"}},
            ],
        },
        "errors": [],
    }
