"""Apollo's persisted queries: the manifest in Apollo's format, Apollo's ids and bodies (with
``__typename``) on the server, trusted documents compared without ``__typename``, automatic
persisted queries (register on miss) within the schema's limits, in memory and in Redis, and
subscriptions by id over graphql-transport-ws.

tests/clients/apollo/test_apollo_client.py runs Apollo's own generator and Apollo Client."""

from __future__ import annotations

import json
import logging
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    get_named_type,
    parse,
    visit,
)
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from backend.app import create_app
from backend.graphql.apq import MemoryQueryStore, RedisQueryStore
from backend.graphql.operations import (
    APOLLO_MANIFEST,
    Operation,
    TrustedDocuments,
    apollo_body,
    apollo_manifest_text,
    operations_of,
    sha256,
)
from backend.graphql.persisted import _not_trusted
from backend.graphql.schema import build_schema
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import TEST_REDIS_URL, make_settings, without_cost
from tests.forums.kit import a_thread
from tests.forums.live_kit import live_server, receive
from tests.process_kit import free_port


def _operations() -> dict[str, Operation]:
    schema = build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]
    return {o.name: o for o in operations_of(schema)}


def _persisted(sha: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha}}


@pytest.fixture
async def trusted_client(
    db: Database, database_url: str, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, trusted_operations_only=True), db=db, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://eic.test"
    ) as http:
        yield http


def test_the_committed_apollo_manifest_is_built_from_the_apps_operations() -> None:
    operations = list(_operations().values())
    committed = APOLLO_MANIFEST.read_text(encoding="utf-8")
    assert apollo_manifest_text(operations) == committed, (
        "run `make schema` (eic operations build) and commit persisted-query-manifest.json"
    )
    manifest = json.loads(committed)
    assert (manifest["format"], manifest["version"]) == ("apollo-persisted-query-manifest", 1)
    names = [entry["name"] for entry in manifest["operations"]]
    assert names == sorted(names)
    assert len(names) == len(operations)
    for entry in manifest["operations"]:
        assert entry["id"] == sha256(entry["body"])
    types = {entry["name"]: entry["type"] for entry in manifest["operations"]}
    assert (types["Clusters"], types["ListingPublish"], types["ThreadPosts"]) == (
        "query",
        "mutation",
        "subscription",
    )


def test_apollos_body_adds_typename_sorts_definitions_and_prints_as_graphql_js_16() -> None:
    # Given a document with a fragment before its operation, an object argument, an inline
    # fragment and a selection that names __typename already
    document = """
        fragment B on Listing { id }
        query Q($id: ID!) { listing(id: $id) { ...B  unit { __typename code } }
          node: listing(id: $id) { ... on Listing { title } } }
        mutation M { listingPublish(input: {id: "x\\n", quantity: [1, 2]}) { errors { code } } }
    """
    # then the operations come first (by name), __typename ends every set but the roots', and
    # objects and lists print without inner spaces, as graphql-js 16 prints them
    assert apollo_body(document) == (
        "mutation M {\n"
        '  listingPublish(input: {id: "x\\n", quantity: [1, 2]}) {\n'
        "    errors {\n      code\n      __typename\n    }\n"
        "    __typename\n  }\n}\n\n"
        "query Q($id: ID!) {\n"
        "  listing(id: $id) {\n    ...B\n    unit {\n      __typename\n      code\n    }\n"
        "    __typename\n  }\n"
        "  node: listing(id: $id) {\n    ... on Listing {\n      title\n      __typename\n    }\n"
        "    __typename\n  }\n}\n\n"
        "fragment B on Listing {\n  id\n  __typename\n}"
    )


# Apollo's cache keys an object by __typename and id; these types have no id but a stable code
# (docs/clients.md: typePolicies with keyFields ["code"]).
KEYED_BY_CODE = frozenset({"Unit", "Material", "Activity"})


def _selects(
    selection_set: SelectionSetNode,
    type_name: str,
    key: str,
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    """Whether the set selects ``key`` of ``type_name`` itself or through a fragment."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == key and selection.alias is None:
                return True
            continue
        if isinstance(selection, FragmentSpreadNode):
            fragment = fragments[selection.name.value]
            condition: str | None = fragment.type_condition.name.value
            inner = fragment.selection_set
        else:
            assert isinstance(selection, InlineFragmentNode)
            condition = selection.type_condition.name.value if selection.type_condition else None
            inner = selection.selection_set
        if condition in (None, type_name) and _selects(inner, type_name, key, fragments):
            return True
    return False


class _Unkeyed(Visitor):
    """The object types of a document's selection sets that lack their cache key."""

    def __init__(self, types: TypeInfo, fragments: dict[str, FragmentDefinitionNode]) -> None:
        super().__init__()
        self.types, self.fragments = types, fragments
        self.found: set[str] = set()

    def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
        named = get_named_type(self.types.get_type())
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType) or named.name in (
            "Query",
            "Mutation",
            "Subscription",
        ):
            return
        key = "code" if named.name in KEYED_BY_CODE else "id"
        if key in named.fields and not _selects(node, named.name, key, self.fragments):
            self.found.add(named.name)


def test_every_object_the_apps_read_carries_its_key_for_apollos_cache() -> None:
    # Given every selection of every operation, of a type with an id (or keyed by its code)
    schema = build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]
    unkeyed: set[tuple[str, str]] = set()
    for operation in _operations().values():
        document = parse(operation.document)
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        types = TypeInfo(schema)
        visitor = _Unkeyed(types, fragments)
        visit(document, TypeInfoVisitor(types, visitor))
        unkeyed |= {(operation.name, name) for name in visitor.found}
    # then each selects it, so that Apollo's cache normalises the object
    assert unkeyed == set()


async def test_an_operation_runs_by_apollos_id_and_answers_with_typename(
    trusted_client: httpx.AsyncClient, cluster_id: str
) -> None:
    # Given a trusted-only server, when Clusters is asked for by Apollo's id, by GET
    clusters = _operations()["Clusters"]
    response = await trusted_client.get(
        "/graphql",
        params={
            "operationName": "Clusters",
            "variables": json.dumps({"first": 5}),
            "extensions": json.dumps(_persisted(clusters.apollo_id)),
        },
    )
    # then it runs Apollo's body: every object says its type, for Apollo's cache
    body = without_cost(response.json())
    assert response.status_code == 200, body
    connection = body["data"]["clusters"]
    assert connection["__typename"] == "ClusterConnection"
    assert connection["edges"][0]["__typename"] == "ClusterEdge"
    assert connection["edges"][0]["node"]["__typename"] == "Cluster"
    assert connection["edges"][0]["node"]["id"] == cluster_id
    # and our own id still runs our own text, without them
    ours = await trusted_client.post("/graphql", json={"id": clusters.sha256})
    assert "__typename" not in json.dumps(ours.json()["data"])


async def test_the_trusted_only_server_accepts_a_trusted_document_give_or_take_typename(
    trusted_client: httpx.AsyncClient, cluster_id: str
) -> None:
    search = _operations()["MarketSearch"]
    operation, fragment = search.document.split("\n\nfragment ")
    variants = {
        "Apollo's body": search.apollo_body,
        "__typename in one place only": search.document.replace(
            "pageInfo {", "pageInfo {\n      __typename"
        ),
        "the fragment first, printed on one line": " ".join(
            f"fragment {fragment} {operation}".split()
        ),
    }
    for variant, text in variants.items():
        assert sha256(text) != search.sha256
        response = await trusted_client.post("/graphql", json={"query": text})
        body = response.json()
        assert body["data"]["listings"]["edges"] is not None, (variant, body)
    # while anything else is refused: an extra field, or __typename under another name
    for text in (
        search.document.replace("endCursor", "endCursor startCursor"),
        search.document.replace("pageInfo {", "pageInfo {\n      kind: __typename"),
    ):
        refused = await trusted_client.post("/graphql", json={"query": text})
        assert refused.json()["errors"][0]["extensions"] == {"code": "OPERATION_NOT_TRUSTED"}


async def test_a_document_with_a_type_system_definition_is_simply_not_trusted(
    trusted_client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Given documents that parse but define something other than operations and fragments
    clusters = _operations()["Clusters"].document
    for extra in (
        "scalar X",
        "type T { a: Int }",
        "extend type Query { a: Int }",
        "schema { query: Query }",
        "directive @d on FIELD",
    ):
        text = f"{clusters}\n{extra}"
        # when one is sent to a trusted-only server
        with caplog.at_level(logging.ERROR):
            refused = await trusted_client.post("/graphql", json={"query": text})
        # then it is refused as any other untrusted text, not as a crash (nothing is logged)
        assert (refused.status_code, refused.json()) == (
            200,
            {
                "errors": [
                    {
                        "message": _not_trusted().message,
                        "extensions": {"code": "OPERATION_NOT_TRUSTED"},
                    }
                ]
            },
        ), extra
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == [], extra
    # and the verdict is kept by the text's hash, as the others are
    documents = TrustedDocuments({sha256(clusters): clusters})
    text = f"{clusters}\nscalar X"
    assert (documents.is_trusted(text), documents._verdicts) == (False, {sha256(text): False})


async def test_a_query_is_registered_on_miss_then_runs_by_its_hash_alone(
    client: httpx.AsyncClient, cluster_id: str
) -> None:
    # Given a query the server has never seen, as Apollo's link sends it: the hash alone
    query = "query Mine { clusters { totalCount } }"
    params = {"extensions": json.dumps(_persisted(sha256(query)))}
    miss = await client.get("/graphql", params=params)
    # then it is not found, in the words Apollo's link retries on
    assert miss.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    # when the link sends the text with the hash, it runs and is kept
    registered = await client.post(
        "/graphql", json={"query": query, "extensions": _persisted(sha256(query))}
    )
    assert without_cost(registered.json()) == {"data": {"clusters": {"totalCount": 1}}}
    # so that the hash alone runs it from then on, by GET
    hit = await client.get("/graphql", params=params)
    assert without_cost(hit.json()) == {"data": {"clusters": {"totalCount": 1}}}
    # and a hash that is not the text's SHA-256 is refused, and keeps nothing
    wrong = await client.post("/graphql", json={"query": query, "extensions": _persisted("0" * 64)})
    assert (wrong.status_code, wrong.json()["errors"][0]["extensions"]) == (
        400,
        {"code": "PERSISTED_QUERY_HASH_MISMATCH"},
    )
    still_missing = await client.post("/graphql", json={"extensions": _persisted("0" * 64)})
    assert still_missing.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_registration_keeps_no_document_the_schema_refuses_or_too_large(
    db: Database, database_url: str, clock: ManualClock
) -> None:
    app = create_app(
        make_settings(database_url, graphql_max_depth=2, apq_max_document_bytes=200),
        db=db,
        clock=clock,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://eic.test"
    ) as http:
        too_deep = "query Deep { clusters { edges { node { id } } } }"
        padded = "query Big { clusters { totalCount } }" + " " * 200
        refused = await http.post(
            "/graphql", json={"query": too_deep, "extensions": _persisted(sha256(too_deep))}
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        ran = await http.post(
            "/graphql", json={"query": padded, "extensions": _persisted(sha256(padded))}
        )
        assert "errors" not in ran.json()  # it runs, as any text would, but is not kept
        for text in (too_deep, padded):
            again = await http.post("/graphql", json={"extensions": _persisted(sha256(text))})
            assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_trusted_only_server_registers_nothing(
    trusted_client: httpx.AsyncClient, cluster_id: str
) -> None:
    # Given a trusted document sent as Apollo's link retries (text and its own hash)
    text = _operations()["Clusters"].document.replace("totalCount", "totalCount __typename")
    sent = await trusted_client.post(
        "/graphql", json={"query": text, "extensions": _persisted(sha256(text))}
    )
    assert sent.json()["data"]["clusters"]["__typename"] == "ClusterConnection"
    # then it ran, but its hash alone names nothing: only the manifests' ids do
    again = await trusted_client.post("/graphql", json={"extensions": _persisted(sha256(text))})
    assert again.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


async def test_the_memory_store_is_bounded_by_entries_bytes_and_age() -> None:
    now = [0.0]
    store = MemoryQueryStore(ttl_seconds=60, max_entries=3, max_bytes=10, monotonic=lambda: now[0])
    for name in ("a", "b", "c"):
        await store.put(name, "xx")
    assert await store.get("a") == "xx"  # a is now the most recently used
    await store.put("d", "xx")  # over 3 entries: b, the least recently used, goes
    assert [await store.get(k) for k in "abcd"] == ["xx", None, "xx", "xx"]
    await store.put("e", "123456")  # over 10 bytes: the least recently used go until it fits
    assert (len(store), store.bytes) == (3, 10)
    assert [await store.get(k) for k in "acde"] == [None, "xx", "xx", "123456"]
    await store.put("f", "x" * 11)  # larger than the whole store: not kept
    assert await store.get("f") is None
    now[0] = 60.0
    assert await store.get("e") is None  # expired


async def test_the_memory_stores_byte_bound_is_the_memory_its_documents_take() -> None:
    # Given documents with one character outside the BMP each (CPython then keeps the whole
    # text at 4 bytes a character, while its UTF-8 is about 1 byte a character)
    store = MemoryQueryStore(ttl_seconds=60, max_entries=1000, max_bytes=10_000_000)
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for number in range(100):
            document = f"query Q{number:03} {{ clusters {{ totalCount }} }} # \U0001f600"
            await store.put(f"{number}", document + " " * 10_000)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then what the store holds is about what it counts, not four times as much
    assert store.bytes == 100 * (len(document.encode("utf-8")) + 10_000)
    assert held - before < 1.2 * store.bytes
    # and a document comes back as the text it was
    assert await store.get("99") == document + " " * 10_000


async def test_the_redis_store_is_shared_bounded_and_expires(
    redis: Redis, redis_prefix: str
) -> None:
    now = [1_000_000.0]
    stores = [
        RedisQueryStore(
            TEST_REDIS_URL,
            timeout=1.0,
            ttl_seconds=60,
            max_entries=3,
            max_bytes=10,
            prefix=redis_prefix,
            now=lambda: now[0],
        )
        for _ in range(2)
    ]
    first, second = stores
    try:
        # Given documents kept by one instance, the other finds them
        for name in ("a", "b", "c"):
            await first.put(name, "xx")
        assert await second.get("b") == "xx"
        # each with its own expiry in Redis
        ttl = await redis.pttl(first.document_key("a"))
        assert 0 < ttl <= 60_000
        # over 3 entries, the first to expire goes
        now[0] += 1
        await second.put("d", "xx")
        assert [await first.get(k) for k in "abcd"] == [None, "xx", "xx", "xx"]
        # over 10 bytes, likewise until it fits
        await first.put("e", "123456")
        assert [await second.get(k) for k in "bcde"] == [None, "xx", "xx", "123456"]
        assert int(await redis.get(f"{redis_prefix}bytes") or 0) == 10
        # and entries past their expiry leave the index when the next one is kept
        now[0] += 120
        await first.put("f", "x")
        assert await redis.zrange(first.index_key, 0, -1) == [b"f"]
        assert int(await redis.get(f"{redis_prefix}bytes") or 0) == 1
    finally:
        for store in stores:
            await store.close()


async def test_a_subscription_runs_by_id_over_the_websocket_in_trusted_only_mode(
    gql: Any, register: Any, cluster_id: str, db: Database, database_url: str, clock: ManualClock
) -> None:
    shg, thread_id = await a_thread(gql, register, cluster_id, "CLUSTER")
    settings = make_settings(database_url, trusted_operations_only=True)
    thread_posts = _operations()["ThreadPosts"]
    async with (
        live_server(settings, db, clock, InProcessBroadcaster()) as address,
        connect(f"ws://{address}/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        init = {"authorization": f"Bearer {shg.access_token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert await receive(ws) == {"type": "connection_ack"}

        async def subscribe(number: str, sha: str) -> None:
            payload = {"variables": {"threadId": thread_id}, "extensions": _persisted(sha)}
            await ws.send(json.dumps({"id": number, "type": "subscribe", "payload": payload}))

        # an unknown id answers an error for that subscription; the connection stays open
        await subscribe("1", "0" * 64)
        assert await receive(ws) == {
            "id": "1",
            "type": "error",
            "payload": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ],
        }
        # Apollo's id runs Apollo's body (with __typename), ours our own text
        await subscribe("2", thread_posts.apollo_id)
        assert await receive(ws) == {
            "id": "2",
            "type": "next",
            "payload": {
                "data": {
                    "threadPosts": {
                        "kind": "SUBSCRIBED",
                        "sequence": 0,
                        "post": None,
                        "__typename": "ThreadPostEvent",
                    }
                }
            },
        }
        await subscribe("3", thread_posts.sha256)
        assert await receive(ws) == {
            "id": "3",
            "type": "next",
            "payload": {
                "data": {"threadPosts": {"kind": "SUBSCRIBED", "sequence": 0, "post": None}}
            },
        }


async def test_with_redis_away_a_lookup_misses_and_a_registration_is_dropped() -> None:
    # Given a store whose Redis does not listen (a free port nobody serves)
    store = RedisQueryStore(
        f"redis://127.0.0.1:{free_port()}/0",
        timeout=0.5,
        ttl_seconds=60,
        max_entries=10,
        max_bytes=1000,
    )
    try:
        # then nothing fails: the client is told "not found" and sends the text, which runs
        await store.put("a", "query A { units { code } }")
        assert await store.get("a") is None
    finally:
        await store.close()


async def test_a_query_registered_on_one_instance_runs_by_hash_on_another(
    db: Database, database_url: str, clock: ManualClock, redis_prefix: str, cluster_id: str
) -> None:
    settings = make_settings(database_url)
    stores = [
        RedisQueryStore(
            TEST_REDIS_URL,
            timeout=1.0,
            ttl_seconds=60,
            max_entries=10,
            max_bytes=10_000,
            prefix=redis_prefix,
        )
        for _ in range(2)
    ]
    first, second = (
        httpx.AsyncClient(
            transport=httpx.ASGITransport(
                app=create_app(settings, db=db, clock=clock, query_store=store)
            ),
            base_url="http://eic.test",
        )
        for store in stores
    )
    query = "query Shared { clusters { totalCount } }"
    try:
        # Given the text registered through the first instance
        await first.post("/graphql", json={"query": query, "extensions": _persisted(sha256(query))})
        # when the second is asked by the hash alone, then it runs it
        by_hash = await second.post("/graphql", json={"extensions": _persisted(sha256(query))})
        assert without_cost(by_hash.json()) == {"data": {"clusters": {"totalCount": 1}}}
    finally:
        for client in (first, second):
            await client.aclose()
        for store in stores:
            await store.close()
