"""GraphQL hardening through the real ASGI app: document limits, the request body's size,
introspection, suggestions, the IDE, mutations over GET, error masking and request ids, role
gates and cursor errors.

Each limit is checked on both sides of its boundary, so a test fails if the limit is missing and
also if it refuses documents it should let through.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import Lexer, Source, TokenKind
from sqlalchemy import func, select

from backend.app import create_app
from backend.identity.models import User
from backend.kit.db import Database
from backend.observability import RequestIdFilter
from backend.settings import Settings
from tests.conftest import (
    PASSWORD,
    REGISTER,
    GraphQL,
    make_settings,
    organisation_input,
    without_cost,
)

# 48 bytes: well over the 32-byte minimum that production insists on.
PRODUCTION_JWT_SECRET = "production-only-secret-for-the-limits-tests-0123"
GENERATED_REQUEST_ID = re.compile(r"^[0-9a-f]{32}$")

Serve = Callable[..., Awaitable[httpx.AsyncClient]]

VALIDATION_FAILED = {"code": "GRAPHQL_VALIDATION_FAILED"}


@pytest.fixture
async def serve(db: Database, database_url: str) -> AsyncIterator[Serve]:
    """``await serve("production", graphql_max_depth=4)`` -> a client of an app built for it."""
    async with AsyncExitStack() as stack:

        async def _serve(
            environment: str = "test", *, database: Database | None = None, **overrides: Any
        ) -> httpx.AsyncClient:
            if environment == "production":
                overrides.setdefault("jwt_secret", PRODUCTION_JWT_SECRET)
            settings = make_settings(database_url, environment=environment, **overrides)
            app = create_app(settings, db=database or db)
            transport = httpx.ASGITransport(app=app)
            return await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://eic.test")
            )

        yield _serve


@pytest.fixture
async def unmigrated_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A Database without tables: every statement fails inside a resolver with an error that
    is no outage (an unreachable database is SERVICE_UNAVAILABLE: tests/reliability/)."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/unmigrated.db")
    yield database
    await database.dispose()


async def post(
    http: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **body: Any,
) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": query, "variables": variables or {}, **body}, headers=headers
    )


def register_input(cluster_id: str, email: str = "sato@mill.example") -> dict[str, Any]:
    return {
        "input": {
            "email": email,
            "password": PASSWORD,
            "displayName": "sato",
            "organisation": organisation_input(cluster_id, name="Sato Sawmill"),
        }
    }


async def accounts(db: Database) -> int:
    """How many people have an account (accountRegister's answer does not tell)."""
    async with db.read() as session:
        return await session.scalar(select(func.count()).select_from(User)) or 0


# ---------------------------------------------------------------------------------------------
# Depth


AT_DEPTH_4 = "query Deep { me { memberships { organisation { cluster { id } } } } }"
AT_DEPTH_5 = "query Deep { me { memberships { organisation { cluster { centre { lat } } } } } }"


async def test_a_query_deeper_than_the_limit_is_refused(serve: Serve) -> None:
    # given an app that allows depth 4 (root fields are depth 0, as in graphql-depth-limit)
    http = await serve(graphql_max_depth=4)

    # when a query reaches depth 5
    response = await post(http, AT_DEPTH_5)

    # then it is refused at the field past the limit, before anything runs
    assert response.status_code == 200
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": "'Deep' exceeds maximum operation depth of 4",
                "locations": [{"line": 1, "column": AT_DEPTH_5.index("lat") + 1}],
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


async def test_a_query_at_the_depth_limit_runs(serve: Serve) -> None:
    # given an app that allows depth 4
    http = await serve(graphql_max_depth=4)

    # when a query reaches exactly depth 4
    response = await post(http, AT_DEPTH_4)

    # then it runs (anonymous, so `me` is null)
    assert without_cost(response.json()) == {"data": {"me": None}}


async def test_the_depth_limit_follows_fragments(serve: Serve) -> None:
    # given an app that allows depth 4
    http = await serve(graphql_max_depth=4)
    query = (
        "query Deep { ...Viewer } "
        "fragment Viewer on Query { me { memberships { organisation { ...Place } } } } "
        "fragment Place on Organisation { cluster { centre { lat } } }"
    )

    # when the depth is reached only through fragment spreads
    response = await post(http, query)

    # then it is refused all the same
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": "'Deep' exceeds maximum operation depth of 4",
                "locations": [{"line": 1, "column": query.index("lat") + 1}],
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


# ---------------------------------------------------------------------------------------------
# Aliases, tokens, directives, operations


def aliased_typenames(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


async def test_too_many_aliases_are_refused(client: httpx.AsyncClient, settings: Settings) -> None:
    # given the default alias limit
    limit = settings.graphql_max_aliases
    assert limit == 30

    # when a query uses one alias more than allowed
    response = await post(client, aliased_typenames(limit + 1))

    # then it is refused without running
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": f"{limit + 1} aliases found. Allowed: {limit}",
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


async def test_aliases_up_to_the_limit_are_allowed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given the default alias limit
    limit = settings.graphql_max_aliases

    # when a query uses exactly that many aliases
    response = await post(client, aliased_typenames(limit))

    # then every alias is answered
    assert without_cost(response.json()) == {"data": {f"a{i}": "Query" for i in range(limit)}}


def token_count(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


def cluster_create_with_tokens(total: int) -> str:
    """A valid clusterCreate document of exactly ``total`` tokens (one per language tag)."""

    def document(languages: int) -> str:
        tags = " ".join(['"ja"'] * languages)
        return (
            'mutation { clusterCreate(input: {slug: "s", name: "n", region: "r", country: "JP", '
            'sector: WOOD, centre: {lat: 0, lon: 0}, currency: "JPY", timezone: "Asia/Tokyo", '
            f"languages: [{tags}]}}) {{ errors {{ code }} }} }}"
        )

    built = document(total - token_count(document(0)))
    assert token_count(built) == total
    return built


async def test_a_document_over_the_token_limit_is_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given the default token limit and a valid document one token over it
    limit = settings.graphql_max_tokens
    assert limit == 4000
    document = cluster_create_with_tokens(limit + 1)

    # when it is sent
    response = await post(client, document)

    # then the parser gives up on it; nothing is validated or run
    body = response.json()
    assert body["data"] is None
    assert [error["message"] for error in body["errors"]] == [
        f"Syntax Error: Document contains more than {limit} tokens. Parsing aborted."
    ]


async def test_a_document_at_the_token_limit_runs(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given a valid document of exactly the token limit
    document = cluster_create_with_tokens(settings.graphql_max_tokens)

    # when it is sent without a token
    response = await post(client, document)

    # then it is parsed, validated and reaches the mutation's role gate
    assert without_cost(response.json()) == {
        "data": {"clusterCreate": {"errors": [{"code": "UNAUTHENTICATED"}]}}
    }


def typenames_with_directives(count: int) -> str:
    # One directive per field: repeating a directive on one field is already invalid GraphQL,
    # which would hide whether the directive limit itself works.
    return "{ " + " ".join(["__typename @include(if: true)"] * count) + " }"


async def test_too_many_directives_are_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given the default directive limit
    limit = settings.graphql_max_directives
    assert limit == 30

    # when a query carries 40 directives
    response = await post(client, typenames_with_directives(40))

    # then it is refused once, by the directive rule
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": f"More than {limit} directives in one document",
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


async def test_directives_up_to_the_limit_are_allowed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given the default directive limit
    # when a query carries exactly that many directives
    response = await post(client, typenames_with_directives(settings.graphql_max_directives))

    # then it runs
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}


def operations(count: int) -> str:
    return "\n".join(f"query Q{i} {{ __typename }}" for i in range(count))


async def test_too_many_operations_in_one_document_are_refused(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given the default operation limit
    limit = settings.graphql_max_operations
    assert limit == 20

    # when a document holds one operation more than allowed
    response = await post(client, operations(limit + 1), operationName="Q0")

    # then it is refused
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": f"More than {limit} operations in one document",
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


async def test_operations_up_to_the_limit_are_allowed(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    # given a document with exactly the allowed number of operations
    document = operations(settings.graphql_max_operations)

    # when the last one is chosen
    response = await post(client, document, operationName=f"Q{settings.graphql_max_operations - 1}")

    # then it runs
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}


async def test_a_batch_body_is_refused_and_not_executed(
    client: httpx.AsyncClient, gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a JSON array holding a registration
    batch = [{"query": REGISTER, "variables": register_input(cluster_id)}]

    # when it is posted
    response = await client.post("/graphql", json=batch)

    # then it is refused as a whole
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_REQUEST"}
    # and nothing ran: no account, and the same registration makes one afterwards
    assert await accounts(db) == 0
    registered = await gql(REGISTER, register_input(cluster_id))
    assert registered["data"]["accountRegister"]["errors"] == []
    assert await accounts(db) == 1


async def test_a_request_body_over_the_limit_is_refused(gql: GraphQL) -> None:
    response = await gql.http.post(
        "/graphql", json={"query": "{ units { code } }", "variables": {"pad": "x" * 1_100_000}}
    )
    assert response.status_code == 413


# ---------------------------------------------------------------------------------------------
# Introspection, suggestions, the IDE


@pytest.mark.parametrize("environment", ["production", "test"])
async def test_introspection_is_refused_outside_development(serve: Serve, environment: str) -> None:
    # given an app outside development
    http = await serve(environment)

    # when a client asks for the schema
    response = await post(http, "{ __schema { types { name } } }")

    # then introspection is refused
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": "GraphQL introspection has been disabled, but the requested query "
                "contained the field '__schema'.",
                "locations": [{"line": 1, "column": 3}],
                "extensions": VALIDATION_FAILED,
            },
            {
                "message": "GraphQL introspection has been disabled, but the requested query "
                "contained the field 'types'.",
                "locations": [{"line": 1, "column": 14}],
                "extensions": VALIDATION_FAILED,
            },
        ],
    }


async def test_type_introspection_is_refused_in_production(serve: Serve) -> None:
    # given a production app
    http = await serve("production")

    # when a client asks for one type
    response = await post(http, '{ __type(name: "Query") { name } }')

    # then that is refused too
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": "GraphQL introspection has been disabled, but the requested query "
                "contained the field '__type'.",
                "locations": [{"line": 1, "column": 3}],
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


async def test_introspection_is_allowed_in_development(serve: Serve) -> None:
    # given a development app
    http = await serve("development")

    # when a client asks for the schema
    response = await post(http, "{ __schema { types { name } } }")

    # then it gets it
    body = without_cost(response.json())
    assert set(body) == {"data"}
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "Cluster", "UserError", "ErrorCode"} <= names


MISSPELT_FIELD = "{ clusterz { totalCount } }"


@pytest.mark.parametrize("environment", ["production", "test"])
async def test_field_suggestions_are_absent_outside_development(
    serve: Serve, environment: str
) -> None:
    # given an app outside development
    http = await serve(environment)

    # when a query misspells a field
    response = await post(http, MISSPELT_FIELD)

    # then the error names the field but suggests nothing from the schema
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": "Cannot query field 'clusterz' on type 'Query'.",
                "locations": [{"line": 1, "column": 3}],
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


async def test_field_suggestions_are_given_in_development(serve: Serve) -> None:
    # given a development app
    http = await serve("development")

    # when a query misspells a field
    response = await post(http, MISSPELT_FIELD)

    # then the error helps the developer
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": "Cannot query field 'clusterz' on type 'Query'. "
                "Did you mean 'cluster' or 'clusters'?",
                "locations": [{"line": 1, "column": 3}],
                "extensions": VALIDATION_FAILED,
            }
        ],
    }


FILTERED_CLUSTERS = "query($f: ClusterFilter) { clusters(filter: $f) { totalCount } }"


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param("{ clusters(filtr: null) { totalCount } }", None, id="argument"),
        pytest.param(
            "query($f: ClusterFiltr) { clusters(filter: $f) { totalCount } }", None, id="type"
        ),
        pytest.param("{ clusters(filter: {sectr: WOOD}) { totalCount } }", None, id="input-field"),
        pytest.param("{ clusters(filter: {sector: WOD}) { totalCount } }", None, id="enum-value"),
        pytest.param(FILTERED_CLUSTERS, {"f": {"sectr": "WOOD"}}, id="variable-input-field"),
        pytest.param(FILTERED_CLUSTERS, {"f": {"sector": "WOD"}}, id="variable-enum-value"),
    ],
)
async def test_no_schema_suggestions_of_any_kind_in_production(
    serve: Serve, query: str, variables: dict[str, Any] | None
) -> None:
    # given a production app (introspection off, so suggestions are the way to map the schema)
    http = await serve("production")

    # when a query misspells an argument, a type, an input field or an enum value
    response = await post(http, query, variables)

    # then it is refused without naming anything of the schema it did not already name
    body = response.json()
    assert body["data"] is None
    assert body["errors"]
    assert [e["message"] for e in body["errors"] if "Did you mean" in e["message"]] == []


async def test_graphiql_is_served_in_development(serve: Serve) -> None:
    # given a development app
    http = await serve("development")

    # when a browser opens /graphql
    response = await http.get("/graphql", headers={"Accept": "text/html"})

    # then it gets the GraphiQL page
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


@pytest.mark.parametrize("environment", ["production", "test"])
async def test_graphiql_is_not_served_outside_development(serve: Serve, environment: str) -> None:
    # given an app outside development
    http = await serve(environment)

    # when a browser opens /graphql
    response = await http.get("/graphql", headers={"Accept": "text/html"})

    # then there is no IDE
    assert response.status_code == 404
    assert not response.headers["content-type"].startswith("text/html")
    assert "graphiql" not in response.text.lower()


# ---------------------------------------------------------------------------------------------
# GET


async def test_a_mutation_over_get_is_refused_and_not_executed(
    client: httpx.AsyncClient, gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given a registration sent as a GET request (as a link or an <img> could send it)
    params = {"query": REGISTER, "variables": json.dumps(register_input(cluster_id))}

    # when it arrives
    response = await client.get("/graphql", params=params)

    # then it is refused
    assert (response.status_code, response.text) == (
        400,
        "mutations are not allowed when using GET",
    )
    # and nothing ran: no account, and the same registration makes one over POST
    assert await accounts(db) == 0
    registered = await gql(REGISTER, register_input(cluster_id))
    assert registered["data"]["accountRegister"]["errors"] == []
    assert await accounts(db) == 1


async def test_a_query_over_get_runs(client: httpx.AsyncClient, cluster_id: str) -> None:
    # given one cluster
    # when it is listed over GET
    response = await client.get(
        "/graphql", params={"query": "{ clusters { totalCount edges { node { id slug } } } }"}
    )

    # then the query runs
    assert response.status_code == 200
    assert without_cost(response.json()) == {
        "data": {
            "clusters": {
                "totalCount": 1,
                "edges": [{"node": {"id": cluster_id, "slug": "test-wood"}}],
            }
        }
    }


# ---------------------------------------------------------------------------------------------
# Masking and request ids


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def graphql_log() -> Iterator[Captured]:
    captured = Captured()
    logger = logging.getLogger("eic.graphql")
    logger.addHandler(captured)
    try:
        yield captured
    finally:
        logger.removeHandler(captured)


async def test_unexpected_exceptions_are_masked_with_the_request_id(
    serve: Serve, unmigrated_db: Database, graphql_log: Captured
) -> None:
    # given an app whose database has no tables (a bug, not an outage)
    http = await serve(database=unmigrated_db)

    # when a query needs the database
    response = await post(http, "{ clusters { totalCount } }")

    # then the client learns only that it failed and which request to quote
    request_id = response.headers["x-request-id"]
    assert GENERATED_REQUEST_ID.match(request_id)
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": f"Internal server error (request id {request_id})",
                "locations": [{"line": 1, "column": 3}],
                "path": ["clusters"],
                "extensions": {"code": "INTERNAL", "requestId": request_id},
            }
        ],
    }
    assert "no such table" not in response.text.lower()
    assert "unmigrated" not in response.text
    # and the log line with the same id holds the exception for the operator
    [record] = graphql_log.records
    assert record.levelno == logging.ERROR
    assert record.request_id == request_id  # type: ignore[attr-defined]
    assert record.exc_info is not None
    assert "no such table: clusters" in str(record.exc_info[1])


async def test_a_masked_error_quotes_the_clients_request_id(
    serve: Serve, unmigrated_db: Database
) -> None:
    # given an app whose database has no tables
    http = await serve(database=unmigrated_db)

    # when a client that sets its own request id hits an unexpected error
    response = await post(
        http, "{ clusters { totalCount } }", headers={"X-Request-ID": "abcd1234efgh"}
    )

    # then the masked error quotes that id
    assert response.headers["x-request-id"] == "abcd1234efgh"
    [error] = response.json()["errors"]
    assert error["message"] == "Internal server error (request id abcd1234efgh)"
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "abcd1234efgh"}


async def test_a_safe_client_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    # given a client that sends its own request id
    # when it makes a request
    response = await post(client, "{ __typename }", headers={"X-Request-ID": "abcd1234efgh"})

    # then the response carries the same id
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}
    assert response.headers["x-request-id"] == "abcd1234efgh"


@pytest.mark.parametrize(
    "unsafe",
    [
        pytest.param("abcd 1234 efgh", id="spaces"),
        pytest.param("abcd1234\n2026-01-01 INFO eic forged line", id="newline"),
        pytest.param("abc123", id="too-short"),
        pytest.param("a" * 65, id="too-long"),
    ],
)
async def test_an_unsafe_client_request_id_is_replaced(
    client: httpx.AsyncClient, unsafe: str
) -> None:
    # given a client that sends a request id that could forge or break log lines
    # when it makes a request
    response = await post(client, "{ __typename }", headers={"X-Request-ID": unsafe})

    # then the request is served under an id of the server's own
    assert without_cost(response.json()) == {"data": {"__typename": "Query"}}
    assert GENERATED_REQUEST_ID.match(response.headers["x-request-id"])


# ---------------------------------------------------------------------------------------------
# Expected failures stay typed


INVITE_CREATE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) { invite { code } errors { code message field } }
}
"""
CLUSTER_CREATE = """
mutation Open($input: ClusterCreateInput!) {
  clusterCreate(input: $input) { cluster { slug } errors { code message field } }
}
"""
NEW_CLUSTER = {
    "input": {
        "slug": "hida-wood",
        "name": "Hida Wood",
        "region": "Gifu",
        "country": "JP",
        "sector": "WOOD",
        "centre": {"lat": 36.14, "lon": 137.25},
        "currency": "JPY",
        "languages": ["ja"],
        "timezone": "Asia/Tokyo",
    }
}


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        pytest.param({}, "Sign in to do this", id="no-token"),
        pytest.param(
            {"Authorization": "Bearer not-a-jwt"},
            "The access token is not valid; sign in again",
            id="garbage-token",
        ),
    ],
)
async def test_a_gated_mutation_without_a_valid_token_returns_a_payload_error(
    client: httpx.AsyncClient, cluster_id: str, headers: dict[str, str], message: str
) -> None:
    # given no valid access token
    variables = {"input": {"organisationId": cluster_id}}

    # when a signed-in-only mutation is called
    response = await post(client, INVITE_CREATE, variables, headers=headers)

    # then the denial is a typed payload error, not a top-level error
    assert without_cost(response.json()) == {
        "data": {
            "organisationInviteCreate": {
                "invite": None,
                "errors": [{"code": "UNAUTHENTICATED", "message": message, "field": None}],
            }
        }
    }


async def test_an_admin_mutation_without_a_token_returns_a_payload_error(
    client: httpx.AsyncClient,
) -> None:
    # given no access token
    # when the admin-only clusterCreate is called
    response = await post(client, CLUSTER_CREATE, NEW_CLUSTER)

    # then the denial is a typed payload error
    assert without_cost(response.json()) == {
        "data": {
            "clusterCreate": {
                "cluster": None,
                "errors": [
                    {"code": "UNAUTHENTICATED", "message": "Sign in to do this", "field": None}
                ],
            }
        }
    }


async def test_an_admin_mutation_for_a_firm_returns_forbidden(
    client: httpx.AsyncClient, register: Any, cluster_id: str
) -> None:
    # given a firm's access token
    firm = await register("ito@pellets.example", cluster_id)

    # when the firm calls the admin-only clusterCreate
    response = await post(
        client,
        CLUSTER_CREATE,
        NEW_CLUSTER,
        headers={"Authorization": f"Bearer {firm.access_token}"},
    )

    # then it is forbidden, as a payload error, and no cluster was opened
    assert without_cost(response.json()) == {
        "data": {
            "clusterCreate": {
                "cluster": None,
                "errors": [
                    {
                        "code": "FORBIDDEN",
                        "message": "Only platform admins may do this",
                        "field": None,
                    }
                ],
            }
        }
    }
    listed = await post(client, "{ clusters { totalCount } }")
    assert without_cost(listed.json()) == {"data": {"clusters": {"totalCount": 1}}}


@pytest.mark.parametrize(
    ("arguments", "message", "field"),
    [
        pytest.param('after: "garbage"', "after is not a cursor of this list", "after", id="after"),
        pytest.param("first: 101", "first must be between 1 and 100", "first", id="first"),
    ],
)
async def test_a_bad_page_argument_is_a_validation_error_not_masked(
    client: httpx.AsyncClient, arguments: str, message: str, field: str
) -> None:
    # given a page argument the list cannot use
    query = f"{{ clusters({arguments}) {{ totalCount }} }}"

    # when the list is queried
    response = await post(client, query)

    # then the error keeps its words and says which argument is at fault
    assert without_cost(response.json()) == {
        "data": None,
        "errors": [
            {
                "message": message,
                "locations": [{"line": 1, "column": 3}],
                "path": ["clusters"],
                "extensions": {"code": "VALIDATION", "field": field},
            }
        ],
    }
