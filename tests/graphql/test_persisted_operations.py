"""Trusted operations: the manifest stays in step with the apps' operations; the server runs them
by hash (POST, Apollo's form, GET with caching headers), refuses unknown ones when asked to, and
compresses large responses."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from backend.app import create_app
from backend.graphql.operations import MANIFEST, load_manifest, manifest_text, operations_of
from backend.graphql.schema import build_schema
from backend.kit.clock import ManualClock
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import make_settings


def _operations() -> dict[str, Any]:
    schema = build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]
    return {o.name: o for o in operations_of(schema)}


def test_the_committed_manifest_is_built_from_the_apps_operations() -> None:
    # Given the operations files, when the manifest is built again (every operation validated
    # against the schema on the way), then it is the committed one, byte for byte.
    schema = build_schema(Settings(_env_file=None))._schema  # type: ignore[call-arg]
    committed = MANIFEST.read_text(encoding="utf-8")
    assert manifest_text(operations_of(schema)) == committed, (
        "run `make schema` (eic operations build) and commit clients/operations/manifest.json"
    )
    # and every domain has operations in it
    files = {o.file for o in operations_of(schema)}
    assert {"marketplace.graphql", "trading.graphql", "events.graphql", "purchasing.graphql"} <= (
        files
    )


def test_an_operation_carries_the_fragments_it_uses_and_nothing_else() -> None:
    operations = _operations()
    search = operations["MarketSearch"].document
    assert search.startswith("query MarketSearch(")
    assert "fragment ListingCard on Listing" in search
    assert "fragment ListingDetail" not in search
    assert json.loads(MANIFEST.read_text())[operations["MarketSearch"].sha256] == search


@pytest.fixture
async def trusted_client(
    db: Database, database_url: str, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with EIC_TRUSTED_OPERATIONS_ONLY=true."""
    app = create_app(make_settings(database_url, trusted_operations_only=True), db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield http


def _clusters_id() -> str:
    sha: str = _operations()["Clusters"].sha256
    return sha


async def test_an_operation_runs_by_its_id_and_by_apollos_persisted_query(
    client: httpx.AsyncClient, cluster_id: str
) -> None:
    # Given the Clusters operation's hash, when it is sent by id and in Apollo's form
    by_id = await client.post("/graphql", json={"id": _clusters_id(), "variables": {"first": 5}})
    apollo = await client.post(
        "/graphql",
        json={
            "variables": {"first": 5},
            "extensions": {"persistedQuery": {"version": 1, "sha256Hash": _clusters_id()}},
        },
    )
    # then both run it
    for response in (by_id, apollo):
        assert response.status_code == 200
        clusters = response.json()["data"]["clusters"]
        assert [e["node"]["id"] for e in clusters["edges"]] == [cluster_id]


async def test_an_unknown_hash_is_not_found_and_a_wrong_one_is_refused(
    client: httpx.AsyncClient,
) -> None:
    unknown = await client.post(
        "/graphql",
        json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "0" * 64}}},
    )
    assert (unknown.status_code, unknown.json()) == (
        200,
        {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        },
    )
    mismatch = await client.post(
        "/graphql", json={"id": _clusters_id(), "query": "{ units { code } }"}
    )
    assert mismatch.status_code == 400
    assert mismatch.json()["errors"][0]["extensions"] == {"code": "PERSISTED_QUERY_HASH_MISMATCH"}


async def test_a_query_by_get_says_how_it_may_be_cached(
    client: httpx.AsyncClient, cluster_id: str, register: Any
) -> None:
    # Given the Clusters operation by GET, as an app behind a caching proxy sends it
    params = {
        "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": _clusters_id()}}),
        "variables": json.dumps({"first": 5}),
    }
    # when nobody signs in, then proxies may keep it for a minute
    public = await client.get("/graphql", params=params)
    assert public.status_code == 200
    assert public.json()["data"]["clusters"]["edges"][0]["node"]["id"] == cluster_id
    assert public.headers["cache-control"] == "public, max-age=60"
    assert public.headers["vary"] == "Authorization, Accept-Encoding"
    # and with a token, nobody keeps it
    account = await register("firm@maniwa.example", cluster_id)
    private = await client.get(
        "/graphql", params=params, headers={"Authorization": f"Bearer {account.access_token}"}
    )
    assert private.status_code == 200
    assert private.headers["cache-control"] == "private, no-store"


async def test_a_mutation_by_get_is_refused(client: httpx.AsyncClient) -> None:
    mutation = _operations()["ListingPublish"].sha256
    response = await client.get(
        "/graphql",
        params={
            "extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": mutation}}),
            "variables": json.dumps({"id": "x"}),
        },
    )
    assert (response.status_code, response.text) == (
        400,
        "mutations are not allowed when using GET",
    )


async def test_the_trusted_only_server_runs_nothing_but_the_manifest(
    trusted_client: httpx.AsyncClient, cluster_id: str
) -> None:
    # Given a server with EIC_TRUSTED_OPERATIONS_ONLY, when a document of its own is sent
    refused = await trusted_client.post("/graphql", json={"query": "{ units { code } }"})
    # then it is refused with a code the app can act on
    assert refused.status_code == 200
    assert refused.json()["errors"][0]["extensions"] == {"code": "OPERATION_NOT_TRUSTED"}
    # while the apps' operations run, by id or as the manifest's exact text
    by_id = await trusted_client.post("/graphql", json={"id": _clusters_id()})
    as_text = await trusted_client.post(
        "/graphql", json={"query": _operations()["Clusters"].document}
    )
    for response in (by_id, as_text):
        assert response.json()["data"]["clusters"]["totalCount"] == 1, response.json()


async def test_large_responses_are_gzipped_small_ones_not(
    client: httpx.AsyncClient, cluster_id: str
) -> None:
    # Given the units list (about 1.5 kB of JSON) and the clusters list (a few hundred bytes)
    units = _operations()["UnitPicker"].sha256
    big = await client.post("/graphql", json={"id": units}, headers={"Accept-Encoding": "gzip"})
    small = await client.post(
        "/graphql", json={"id": _clusters_id()}, headers={"Accept-Encoding": "gzip"}
    )
    # then the large one comes compressed (httpx undoes it: the raw bytes are smaller)
    assert big.headers["content-encoding"] == "gzip"
    assert len(big.content) > 1000
    assert len(gzip.compress(big.content)) < len(big.content)
    assert "content-encoding" not in small.headers


def test_the_manifest_is_read_once(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text('{"a": "query A { units { code } }"}')
    assert load_manifest(path) == {"a": "query A { units { code } }"}
    path.write_text("{}")
    assert load_manifest(path) == {"a": "query A { units { code } }"}  # cached for the process


async def test_the_trusted_only_schema_refuses_other_documents_by_any_transport(
    database_url: str,
) -> None:
    # The WebSocket's subscribe messages reach the schema without the HTTP middleware: the
    # schema's own validation refuses documents that are not in the manifest.
    schema = build_schema(make_settings(database_url, trusted_operations_only=True))
    refused = await schema.execute("{ __typename }")
    assert refused.errors is not None
    assert [e.extensions for e in refused.errors] == [{"code": "OPERATION_NOT_TRUSTED"}]
    trusted = await schema.execute(_operations()["UnitPicker"].document)
    assert not any(
        (e.extensions or {}).get("code") == "OPERATION_NOT_TRUSTED" for e in trusted.errors or []
    )
