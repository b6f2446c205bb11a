"""A query cost limit (issue 15, item 2): 30 aliases of ``listings(first: 100)`` with full cards
answered 1.27 MB and took 5-10 s for one anonymous request. Each operation's cost (the objects
its answer may hold, pages multiplied along nested lists: backend/graphql/cost.py) is estimated
before it runs, with the request's variables; one over the caller's budget is refused with its
cost and the limit, and every answer tells its caller what it cost."""

from __future__ import annotations

import re
from typing import Any

import pytest
from graphql import OperationDefinitionNode, parse
from strawberry.types.execution import PreExecutionError

from backend.graphql.cost import CostMeasure
from backend.graphql.operations import load_manifest
from backend.graphql.schema import build_schema
from backend.settings import Settings
from tests.conftest import GraphQL, make_settings
from tests.marketplace.trading_kit import publish
from tests.security.test_document_limits import fan_out, selections_written

ANONYMOUS_LIMIT = 2000
SIGNED_IN_LIMIT = 10000


def app_operation(name: str) -> str:
    """The document of one of the apps' operations (clients/operations), with its fragments."""
    [document] = [
        text
        for text in load_manifest().values()
        if re.match(rf"(query|mutation|subscription) {name}\b", text)
    ]
    return document


def listing_card() -> str:
    """The fragment of the apps' market search cards."""
    document = app_operation("MarketSearch")
    return document[document.index("fragment ListingCard") :]


def flood(aliases: int) -> str:
    """``aliases`` full pages of 100 listing cards in one request."""
    pages = " ".join(
        f"a{i}: listings(first: 100) {{ edges {{ node {{ ...ListingCard }} }} }}"
        for i in range(aliases)
    )
    return f"query Flood {{ {pages} }}\n{listing_card()}"


def refusal(cost: int, limit: int, callers: str) -> dict[str, Any]:
    return {
        "data": None,
        "errors": [
            {
                "message": f"This query costs {cost:,}, over the limit of {limit:,} for {callers} "
                "callers: ask for smaller pages or fewer fields",
                "extensions": {"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit},
            }
        ],
        "extensions": {"cost": {"requested": cost, "limit": limit}},
    }


def estimate(document: str, variables: dict[str, Any] | None = None) -> tuple[int, int]:
    """The cost of the document's one operation, and how many selections it took to find."""
    schema = build_schema(make_settings("sqlite+aiosqlite://"))._schema
    parsed = parse(document)
    measure = CostMeasure(schema, parsed, variables)
    [operation] = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    return measure.of(operation), measure.visits


def test_the_default_budgets() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.graphql_max_cost_anonymous == ANONYMOUS_LIMIT
    assert settings.graphql_max_cost_signed_in == SIGNED_IN_LIMIT


async def test_thirty_pages_of_full_cards_are_refused_before_anything_runs(
    gql: GraphQL, sql_statements: Any
) -> None:
    # given the document of the issue: 30 aliases of a page of 100 full listing cards, each
    # costing 1 + 100 x (an edge, a listing, its unit, place, material and organisation)
    document = flood(30)

    # when an anonymous caller sends it
    with sql_statements() as log:
        answer = await gql(document, token="")

    # then it is refused with its cost and the anonymous limit, and no SQL statement ran
    assert gql.last_response is not None
    assert gql.last_response.json() == refusal(30 * 601, ANONYMOUS_LIMIT, "anonymous")
    assert answer["data"] is None
    assert log.count == 0


async def test_a_signed_in_caller_has_its_own_larger_budget(
    gql: GraphQL, register: Any, cluster_id: str, sql_statements: Any
) -> None:
    # given five pages of 100 full cards (5 x 601 = 3,005: over the anonymous budget, under the
    # signed-in one), and a published listing for them to show
    account = await register("cost@example.org", cluster_id)
    listing = await publish(gql, account.access_token)
    document = flood(5)

    # when an anonymous caller sends it, then it is refused before anything runs
    with sql_statements() as log:
        await gql(document, token="")
    assert gql.last_response is not None
    assert gql.last_response.json() == refusal(3005, ANONYMOUS_LIMIT, "anonymous")
    assert log.count == 0

    # when a signed-in caller sends it, then it runs, and says what it cost of which budget
    await gql(document, token=account.access_token)
    body = gql.last_response.json()
    assert "errors" not in body
    assert [[e["node"]["id"] for e in page["edges"]] for page in body["data"].values()] == [
        [listing["id"]]
    ] * 5
    assert body["extensions"] == {"cost": {"requested": 3005, "limit": SIGNED_IN_LIMIT}}

    # and thirty pages are over the signed-in budget too
    await gql(flood(30), token=account.access_token)
    assert gql.last_response.json() == refusal(18030, SIGNED_IN_LIMIT, "signed-in")


async def test_every_answer_carries_its_cost(gql: GraphQL, register: Any, cluster_id: str) -> None:
    account = await register("cost@example.org", cluster_id)

    # an anonymous market search of the app: a page of 20 cards (its default) and the page info
    await gql(app_operation("MarketSearch"), token="")
    assert gql.last_response is not None
    anonymous = gql.last_response.json()
    assert anonymous["data"]["listings"]["edges"] == []
    assert anonymous["extensions"] == {"cost": {"requested": 122, "limit": ANONYMOUS_LIMIT}}

    # the same with 100 cards a page, signed in
    await gql(app_operation("MarketSearch"), {"first": 100}, token=account.access_token)
    signed_in = gql.last_response.json()
    assert signed_in["extensions"] == {"cost": {"requested": 602, "limit": SIGNED_IN_LIMIT}}

    # a mutation's answer too: the payload and its list of errors (10 items, as lists that are
    # not paged count)
    await gql(app_operation("SignOut"), {"refreshToken": "x"}, token="")
    assert gql.last_response.json()["extensions"] == {
        "cost": {"requested": 11, "limit": ANONYMOUS_LIMIT}
    }


@pytest.mark.parametrize(
    ("document", "variables", "cost"),
    [
        # an object costs 1, a scalar 0
        ("{ me { user { id displayName } } }", None, 2),
        # a connection without `first`: its default page of 20 (an edge and a node each)
        ("{ listings { edges { cursor node { id } } } }", None, 1 + 20 * 2),
        # `first` from the variables, null, omitted, over the maximum, or the variable's default
        (
            "query Q($n: Int) { listings(first: $n) { pageInfo { hasNextPage } "
            "edges { node { id } } } }",
            {"n": 5},
            1 + 1 + 5 * 2,
        ),
        (
            "query Q($n: Int) { listings(first: $n) { edges { node { id } } } }",
            {"n": None},
            41,
        ),
        ("query Q($n: Int) { listings(first: $n) { edges { node { id } } } }", {}, 41),
        ("query Q($n: Int) { listings(first: $n) { edges { node { id } } } }", {"n": 10**6}, 201),
        # a JSON number with a fraction part of zero is a valid Int: counted as the page it is
        ("query Q($n: Int) { listings(first: $n) { edges { node { id } } } }", {"n": 100.0}, 201),
        ("query Q($n: Int = 7) { listings(first: $n) { edges { node { id } } } }", {}, 15),
        # lists that are not paged: 10 items
        ("{ units { code } }", None, 10),
        ('{ listing(id: "x") { specs { key } organisation { cluster { id } } } }', None, 13),
        # introspection is free
        ("{ __typename __schema { types { name fields { name } } } }", None, 0),
        # fragments, spread at any level
        (
            "query Q { ...Q } fragment Q on Query { listings(first: 2) { ...C } } "
            "fragment C on ListingConnection { edges { ...E } } "
            "fragment E on ListingEdge { node { id } }",
            None,
            1 + 2 * 2,
        ),
        # a sync change holds one kind: the costliest kind asked for counts, each alias of it
        (
            "{ changes(first: 3) { items { listing { id } "
            "a: trade { id history { status } } b: trade { id } } } }",
            None,
            1 + 3 * (1 + (1 + 10) + 1),
        ),
        # the sync feed's own page size: 100 by default, at most 500
        ("{ changes { items { id } } }", None, 1 + 100),
        ("{ changes(first: 900) { items { id } } }", None, 1 + 500),
        # the apps' own documents
        (app_operation("MarketSearch"), {}, 122),
        (app_operation("MarketSearch"), {"first": 100}, 602),
        (app_operation("SyncChanges"), {"since": "c", "first": 100}, 4901),
        (app_operation("ListingView"), {"id": "x"}, 18),
    ],
)
def test_the_estimate_of_a_document(
    document: str, variables: dict[str, Any] | None, cost: int
) -> None:
    assert estimate(document, variables)[0] == cost


@pytest.mark.parametrize("levels", [20, 30, 200])
def test_estimating_a_fan_out_visits_each_written_selection_once(levels: int) -> None:
    # fragments that each spread the next one twice: 2**(levels-1) pages of listings
    document = fan_out(levels, leaf="listings(first: 100) { edges { node { id } } }")
    assert estimate(document) == (2 ** (levels - 1) * 201, selections_written(document))


async def test_a_fan_out_without_aliases_is_refused_for_its_cost(
    gql: GraphQL, sql_statements: Any
) -> None:
    # given a fan-out of 30 levels that passes the alias limit (the copies share a name)
    document = fan_out(30, leaf="listings(first: 100) { edges { node { id } } }")

    # when it is sent, then it is refused for the pages its spreads would ask for
    with sql_statements() as log:
        await gql(document, token="")
    assert gql.last_response is not None
    assert gql.last_response.json() == refusal(2**29 * 201, ANONYMOUS_LIMIT, "anonymous")
    assert log.count == 0


def test_every_app_operation_fits_its_callers_budget() -> None:
    """The apps' operations with the largest pages they ask for: `$first` at 100, the most a
    connection gives and the SDK's sync page. Screens an anonymous visitor opens fit the
    anonymous budget; everything fits the signed-in one."""
    public = {
        "MarketSearch", "MarketSearchMore", "ListingView", "MaterialPicker", "MaterialDetail",
        "UnitPicker", "EventsFeed", "EventsFeedMore", "EventDetail", "Clusters", "ClusterDetail",
        "SignUpClusters", "Forums", "ForumThreads", "ThreadDetail", "OrganisationDirectory",
        "OrganisationProfile", "PurchaseGroups", "PurchaseGroupDetail", "SignIn", "SignUp",
        "ListingMatches",
    }  # fmt: skip
    costs: dict[str, int] = {}
    for document in load_manifest().values():
        parsed = parse(document)
        [operation] = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
        assert operation.name is not None
        declared = {v.variable.name.value for v in operation.variable_definitions or ()}
        variables = {"first": 100} if "first" in declared else {}
        costs[operation.name.value] = estimate(document, variables)[0]
    assert public <= costs.keys()
    assert {name: costs[name] for name in public if costs[name] > ANONYMOUS_LIMIT} == {}
    assert {name: cost for name, cost in costs.items() if cost > SIGNED_IN_LIMIT} == {}
    # the largest of them, so that a change to a fragment that moves them shows here
    assert max(costs[name] for name in public) == costs["ListingMatches"] == 1702
    assert max(costs.values()) == costs["SyncChanges"] == 4901


async def test_a_trusted_operation_is_held_to_the_budget_too(database_url: str) -> None:
    # given a server that runs only the apps' operations, and the offers inbox with pages of 100
    schema = build_schema(make_settings(database_url, trusted_operations_only=True))

    # when it is sent without a token (no context: an anonymous caller)
    result = await schema.execute(
        app_operation("OffersInbox"), variable_values={"first": 100}, operation_name="OffersInbox"
    )

    # then it is refused for its cost, not run
    assert result.data is None
    assert [e.extensions for e in result.errors or []] == [
        {"code": "QUERY_TOO_COSTLY", "cost": 2902, "limit": ANONYMOUS_LIMIT}
    ]


async def test_a_subscription_is_held_to_the_budget_when_it_starts(database_url: str) -> None:
    # given the app's live posts subscription (a post, its author and 10 reaction counts: 12)
    # and an anonymous budget of 11
    schema = build_schema(make_settings(database_url, graphql_max_cost_anonymous=11))

    # when it is subscribed to (as the WebSocket's subscribe message does)
    stream = await schema.subscribe(app_operation("PostAdded"), variable_values={"threadId": "t"})
    assert not isinstance(stream, PreExecutionError)
    results = [result async for result in stream]

    # then the one answer refuses it for its cost
    assert [[e.extensions for e in r.errors or []] for r in results] == [
        [{"code": "QUERY_TOO_COSTLY", "cost": 12, "limit": 11}]
    ]
