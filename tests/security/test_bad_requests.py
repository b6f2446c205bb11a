"""A body that is not one JSON object, or a subscription sent over HTTP, gets a typed 400 the app
can act on (they were bare HTTP 500s, or a masked INTERNAL error, from inside Strawberry)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import without_cost

ONE_OBJECT = (
    'Send one operation as a JSON object: {"query": ..., "variables": ..., "operationName": ...}'
)
SUBSCRIPTION = (
    'subscription Live { postAdded(threadId: "0190c5a0-0000-7000-8000-000000000000") { id } }'
)


def bad_request(message: str) -> dict[str, Any]:
    return {"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'"a string"', ONE_OBJECT),
        (b"null", ONE_OBJECT),
        (b"42", ONE_OBJECT),
        (b'[{"query": "{ __typename }"}]', ONE_OBJECT),  # batches are off
        (b'{"query": "{ __typename }"', "The body is not JSON in UTF-8"),
        (b'\xff\xfe{"query": "{ __typename }"}', "The body is not JSON in UTF-8"),
        (
            '{"query": "{ __typename }", "x": "\udcff"}'.encode("utf-8", "surrogatepass"),
            "The body is not JSON in UTF-8",
        ),
    ],
    ids=["string", "null", "number", "batch", "cut short", "not utf-8", "lone surrogate"],
)
async def test_a_body_that_is_not_one_json_object_is_a_typed_400(
    client: httpx.AsyncClient, body: bytes, message: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (400, bad_request(message))


async def test_a_subscription_over_http_is_told_to_use_the_websocket(
    client: httpx.AsyncClient,
) -> None:
    expected = bad_request(
        "Subscriptions run over a WebSocket at /graphql (graphql-transport-ws), not over HTTP"
    )
    posted = await client.post("/graphql", json={"query": SUBSCRIPTION})
    got = await client.get("/graphql", params={"query": SUBSCRIPTION})
    assert (posted.status_code, posted.json()) == (400, expected)
    assert (got.status_code, got.json()) == (400, expected)


async def test_a_query_that_mentions_subscriptions_still_runs(client: httpx.AsyncClient) -> None:
    # the word alone proves nothing: only the operation's type decides
    response = await client.post("/graphql", json={"query": "query subscription { __typename }"})
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}
