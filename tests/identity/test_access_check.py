"""What every request pays before its operation runs, in SQL: a signed-in request one statement
(the access check, backend/identity/service/access.py), made again on every request; an
anonymous request none."""

from __future__ import annotations

from typing import Any

from tests.conftest import GraphQL

TYPENAME = "{ __typename }"
CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


def reads(statements: list[str]) -> list[str]:
    return [s for s in statements if not s.lstrip().upper().startswith(CONTROL)]


async def test_a_signed_in_request_sends_the_access_check_alone_every_time(
    gql: GraphQL, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    # given a signed-in member whose token was read before
    account = await register("tanaka@pellets.example", cluster_id)
    assert await gql(TYPENAME, token=account.access_token) == {"data": {"__typename": "Query"}}

    # when they send the smallest document twice more
    with sql_statements() as log:
        for _ in range(2):
            body = await gql(TYPENAME, token=account.access_token)
            assert body == {"data": {"__typename": "Query"}}

    # then each request checked their access once, with one statement: nothing is cached
    # across requests, and nothing else is read
    sent = reads(log.statements)
    assert len(sent) == 2
    assert all("FROM users JOIN refresh_sessions" in " ".join(s.split()) for s in sent)


async def test_an_anonymous_request_sends_no_statement(gql: GraphQL, sql_statements: Any) -> None:
    # given no token
    # when the smallest document is asked
    with sql_statements() as log:
        body = await gql(TYPENAME, token="")

    # then nothing is read
    assert body == {"data": {"__typename": "Query"}}
    assert reads(log.statements) == []
