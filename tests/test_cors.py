"""CORS: off unless origins are named (EIC_CORS_ORIGINS); then a named origin's preflight and
requests get the headers a browser needs, and any other origin gets none."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from backend.app import VaryByOrigin, create_app
from backend.graphql.operations import load_manifest
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import make_settings

WEB_APP = "https://market.maniwa.example"
GRAPHIQL_ELSEWHERE = "http://127.0.0.1:3000"
STRANGER = "https://evil.example"
CLUSTERS = {"query": "{ clusters { totalCount } }"}
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


async def client_of(db: Database, database_url: str, **overrides: Any) -> httpx.AsyncClient:
    app = create_app(make_settings(database_url, **overrides), db=db)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://eic.test")


@pytest.fixture
async def cors_client(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with await client_of(
        db, database_url, cors_origins=[WEB_APP, GRAPHIQL_ELSEWHERE]
    ) as http:
        yield http


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


async def test_a_named_origin_passes_the_preflight_and_reads_the_answer(
    cors_client: httpx.AsyncClient,
) -> None:
    # when the web app's browser asks before a signed-in, keyed POST
    preflight = await cors_client.options("/graphql", headers={"Origin": WEB_APP, **PREFLIGHT})
    # then it may send it, with those headers, and keep the answer for ten minutes
    assert preflight.status_code == 200
    assert cors_headers(preflight) == {
        "access-control-allow-origin": WEB_APP,
        "access-control-allow-methods": "GET, POST",
        "access-control-allow-headers": (
            "Accept, Accept-Language, Authorization, Content-Language, Content-Type, "
            "Idempotency-Key, If-None-Match"
        ),
        "access-control-max-age": "600",
    }
    assert "Origin" in preflight.headers["vary"]
    # and the answer itself is readable by that page, with the headers apps act on exposed
    answer = await cors_client.post("/graphql", json=CLUSTERS, headers={"Origin": WEB_APP})
    assert answer.json() == {
        "data": {"clusters": {"totalCount": 0}},
        "extensions": {"cost": {"limit": 2000, "requested": 1}},
    }
    assert cors_headers(answer) == {
        "access-control-allow-origin": WEB_APP,
        "access-control-expose-headers": (
            "X-Request-ID, Retry-After, ETag, X-Cache, Idempotent-Replayed"
        ),
    }


async def test_another_origin_is_refused(cors_client: httpx.AsyncClient) -> None:
    # when a page of another origin asks
    preflight = await cors_client.options("/graphql", headers={"Origin": STRANGER, **PREFLIGHT})
    # then the preflight fails and says nothing that lets the browser go on
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    # and a simple request is answered (the server cannot stop it), but the browser does not
    # let the page read it: no Access-Control-Allow-Origin (Starlette names the exposed headers
    # on every answer; without an allowed origin that lets nothing through)
    answer = await cors_client.post("/graphql", json=CLUSTERS, headers={"Origin": STRANGER})
    assert answer.status_code == 200
    assert "access-control-allow-origin" not in answer.headers


async def test_every_graphql_answer_varies_by_origin_even_one_asked_without(
    cors_client: httpx.AsyncClient,
) -> None:
    # Given a public GET a proxy may keep for a minute, asked first without an Origin (by the
    # mobile app, or a link opened in a tab)
    clusters = next(sha for sha, text in load_manifest().items() if "query Clusters(" in text)
    params = {"id": clusters, "variables": json.dumps({"first": 5})}
    plain = await cors_client.get("/graphql", params=params)
    assert plain.headers["cache-control"] == "public, max-age=60"
    # then it says it varies by Origin, so that a CDN never hands that copy (which has no
    # Access-Control-Allow-Origin) to the web app's browser
    assert "origin" in _vary(plain)
    # as does the copy served from our own response cache, and the web app's own answer
    again = await cors_client.get("/graphql", params=params)
    assert again.headers["x-cache"] == "HIT"
    assert "origin" in _vary(again)
    web = await cors_client.get("/graphql", params=params, headers={"Origin": WEB_APP})
    assert (web.headers["access-control-allow-origin"], "origin" in _vary(web)) == (WEB_APP, True)
    # and a POST, answered to a page of another origin
    stranger = await cors_client.post("/graphql", json=CLUSTERS, headers={"Origin": STRANGER})
    assert "origin" in _vary(stranger)


async def test_vary_by_origin_does_not_rely_on_starlettes_cors_to_say_it() -> None:
    # Given an app that answers without a word about Origin, as Starlette's CORS middleware
    # before its PR 3516 passed on a request without Origin (fastapi>=0.115 allows those)
    async def plain(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"vary", b"Authorization, Accept-Encoding")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=VaryByOrigin(plain)), base_url="http://eic.test"
    ) as http:
        answer = await http.get("/graphql")
    # then the answer varies by Origin too, the app's own Vary kept
    assert _vary(answer) == ["authorization", "accept-encoding", "origin"]


def _vary(response: httpx.Response) -> list[str]:
    return [
        name.strip().lower()
        for value in response.headers.get_list("vary")
        for name in value.split(",")
    ]


async def test_an_origin_named_in_capitals_matches_what_a_browser_sends(
    db: Database, database_url: str
) -> None:
    # Given the web app's origin written by hand with capitals and a trailing slash
    async with await client_of(
        db, database_url, cors_origins=["HTTPS://Market.Maniwa.Example/"]
    ) as http:
        # when its browser asks (a browser sends scheme and host in lower case)
        preflight = await http.options("/graphql", headers={"Origin": WEB_APP, **PREFLIGHT})
        answer = await http.post("/graphql", json=CLUSTERS, headers={"Origin": WEB_APP})
    # then it matches
    assert preflight.status_code == 200
    assert answer.headers["access-control-allow-origin"] == WEB_APP


async def test_cors_is_off_by_default(db: Database, database_url: str) -> None:
    async with await client_of(db, database_url) as http:
        preflight = await http.options("/graphql", headers={"Origin": WEB_APP, **PREFLIGHT})
        answer = await http.post("/graphql", json=CLUSTERS, headers={"Origin": WEB_APP})
    # no origin named: no CORS header at all, for the preflight or the answer
    assert preflight.status_code == 405
    assert cors_headers(preflight) == {}
    assert answer.status_code == 200
    assert cors_headers(answer) == {}


def test_eic_cors_origins_is_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("EIC_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("EIC_CORS_ORIGINS", f" {WEB_APP}/ , {GRAPHIQL_ELSEWHERE},")
    assert Settings(_env_file=None).cors_origins == [WEB_APP, GRAPHIQL_ELSEWHERE]  # type: ignore[call-arg]
    monkeypatch.setenv("EIC_CORS_ORIGINS", "HTTPS://Market.Maniwa.Example/,http://127.0.0.1:3000")
    assert Settings(_env_file=None).cors_origins == [WEB_APP, GRAPHIQL_ELSEWHERE]  # type: ignore[call-arg]
    monkeypatch.setenv("EIC_CORS_ORIGINS", "")
    assert Settings(_env_file=None).cors_origins == []  # type: ignore[call-arg]
    # a path is not part of an origin: the browser would never send it, so it is refused
    monkeypatch.setenv("EIC_CORS_ORIGINS", "https://market.maniwa.example/app")
    with pytest.raises(ValidationError, match="is not an origin"):
        Settings(_env_file=None)  # type: ignore[call-arg]
