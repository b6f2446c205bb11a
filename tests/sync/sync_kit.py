"""Shared steps of the offline sync tests: a cursor, and every change after it."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL

START = "query Start { changes { cursor hasMore items { id } } }"

CHANGES = """
query Changes($since: String!, $types: [ChangeType!], $first: Int) {
  changes(since: $since, types: $types, first: $first) {
    cursor
    hasMore
    items {
      type id action
      listing { id status title version quantityCommitted }
      offer { id status version }
      trade { id status version }
      purchaseGroup { id status pledgedQuantity version }
      thread { id title replyCount viewerFollows version }
      event { id title status myRegistration { status } }
      notification { id kind readAt }
    }
  }
}
"""


async def start(gql: GraphQL, token: str) -> str:
    """A first sync: the cursor to sync from after loading everything."""
    body = await gql(START, token=token)
    assert "errors" not in body, body
    feed = body["data"]["changes"]
    assert (feed["hasMore"], feed["items"]) == (False, []), feed
    cursor: str = feed["cursor"]
    return cursor


async def changes_page(gql: GraphQL, token: str, since: str, **variables: Any) -> dict[str, Any]:
    body = await gql(CHANGES, {"since": since, **variables}, token=token)
    assert "errors" not in body, body
    feed: dict[str, Any] = body["data"]["changes"]
    return feed


async def sync(gql: GraphQL, token: str, since: str, **variables: Any) -> tuple[list[Any], str]:
    """Every change after ``since`` (all pages) and the cursor to keep."""
    items: list[Any] = []
    while True:
        feed = await changes_page(gql, token, since, **variables)
        items.extend(feed["items"])
        since = feed["cursor"]
        if not feed["hasMore"]:
            return items, since


def brief(items: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(type, id, action) of each change, in order."""
    return [(item["type"], item["id"], item["action"]) for item in items]
