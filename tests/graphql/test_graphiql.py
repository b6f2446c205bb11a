"""GraphiQL in development mode: served from our own files under a policy that allows this
origin alone, with the README's example operations as tabs; it renders in a browser that can
reach nothing but this server."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from backend.app import create_app
from backend.graphql import graphiql
from backend.kit.db import Database
from tests.conftest import make_settings
from tests.process_kit import (
    CHROMIUM,
    NEEDS_CHROMIUM,
    eic_serving,
    free_port,
    load_demo,
    run_chromium,
    scratch_environment,
)

README = Path(__file__).resolve().parents[2] / "README.md"
HTML = {"Accept": "text/html"}
ASSETS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphiql.min.css",
    "eic-graphiql.js",
    "eic-graphiql.css",
)


async def client_in(
    environment: str, db: Database, database_url: str
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(make_settings(database_url, environment=environment), db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield http


@pytest.fixture
async def development(db: Database, database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async for http in client_in("development", db, database_url):
        yield http


def referenced(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]*)"', page)


def readme_examples() -> list[str]:
    """The operations of the README's "Try:" block, and the `me` query after it."""
    text = README.read_text(encoding="utf-8")
    block = text.split("Try:\n\n```graphql\n", 1)[1].split("\n```", 1)[0]
    me = re.search(r"`(query \{ me \{[^`]*)`", text)
    assert me is not None
    return [*block.split("\n\n"), me.group(1)]


async def test_the_page_loads_only_our_files_under_a_policy_of_this_origin(
    development: httpx.AsyncClient,
) -> None:
    # when a browser opens the GraphQL endpoint in development mode
    page = await development.get("/graphql", headers=HTML)
    # then it gets our page, which may load nothing from anywhere else
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
        "frame-ancestors 'none'"
    )
    assert referenced(page.text) == [
        "data:,",
        "/graphiql/graphiql.min.css",
        "/graphiql/eic-graphiql.css",
        "/graphiql/react.production.min.js",
        "/graphiql/react-dom.production.min.js",
        "/graphiql/graphiql.min.js",
        "/graphiql/eic-graphiql.js",
    ]
    assert "<script>" not in page.text  # nothing inline to run: the policy would refuse it
    # and each file is served as it is in the package
    for name in ASSETS:
        served = await development.get(f"/graphiql/{name}")
        assert served.status_code == 200, name
        assert served.content == (graphiql.STATIC / name).read_bytes()


async def test_the_page_opens_with_the_readme_examples_as_tabs(
    development: httpx.AsyncClient,
) -> None:
    page = (await development.get("/graphql", headers=HTML)).text
    data = re.search(
        r'<script id="eic-graphiql-config" type="application/json">(.*?)</script>', page, re.S
    )
    assert data is not None
    assert json.loads(data.group(1)) == {
        "endpoint": "/graphql",
        "tabs": [{"query": example} for example in readme_examples()],
    }


@pytest.mark.parametrize("environment", ["production", "test"])
async def test_no_graphiql_outside_development(
    environment: str, db: Database, database_url: str
) -> None:
    overrides = {"jwt_secret": "p" * 40} if environment == "production" else {}
    settings = make_settings(database_url, environment=environment, **overrides)
    transport = httpx.ASGITransport(app=create_app(settings, db=db))
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        page = await http.get("/graphql", headers=HTML)
        asset = await http.get("/graphiql/graphiql.min.js")
    assert "EIC GraphiQL" not in page.text
    assert asset.status_code == 404


def page_requests(net_log: Path, base: str) -> list[str]:
    """The URLs the page itself asked for (Chromium's own background requests, which have no
    page as their initiator, left out)."""
    events = json.loads(net_log.read_text(encoding="utf-8"))["events"]
    return sorted(
        {
            params["url"]
            for event in events
            if isinstance(params := event.get("params"), dict)
            and "url" in params
            and params.get("initiator") == base
        }
    )


@pytest.fixture(scope="module")
def development_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`eic serve` in development mode over a new database with the demo; its base URL."""
    directory = tmp_path_factory.mktemp("graphiql")
    environment, _ = scratch_environment(directory)
    environment["EIC_ENVIRONMENT"] = "development"
    load_demo(environment, directory)
    with eic_serving(environment, directory) as base:
        yield base


@pytest.mark.slow
@NEEDS_CHROMIUM
async def test_graphiql_renders_in_a_browser_that_reaches_only_this_server(
    tmp_path: Path, development_server: str
) -> None:
    # Given `eic serve` in development mode, and a browser whose every other host name fails
    base = development_server
    offline = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
    budget = "--virtual-time-budget=20000"
    net_log = tmp_path / "net-log.json"
    # when it opens the GraphQL endpoint
    dom = (
        await run_chromium(
            tmp_path,
            offline,
            budget,
            f"--log-net-log={net_log}",
            "--dump-dom",
            base + "/graphql",
        )
    ).decode("utf-8")
    shot = tmp_path / "graphiql.png"
    await run_chromium(
        tmp_path,
        offline,
        budget,
        "--window-size=1280,800",
        f"--screenshot={shot}",
        base + "/graphql",
    )

    # then GraphiQL rendered (no "Loading…" left), with the sign-in tab open and the token field
    assert 'class="graphiql-container"' in dom
    assert "Loading…" not in dom
    assert "tokenCreate" in dom
    assert 'id="eic-access-token"' in dom
    # three tabs, one per README example
    assert len(re.findall(r'class="graphiql-tab[ "]', dom)) == 3
    # and everything the page asked for came from this server: its files, and the schema
    assert page_requests(net_log, base) == sorted(
        {f"{base}/graphiql/{name}" for name in ASSETS} | {f"{base}/graphql"}
    )
    assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


class DevTools:
    """Headless Chromium driven over the DevTools protocol: evaluate JavaScript in the page."""

    def __init__(self, socket: Any) -> None:
        self.socket = socket
        self.sent = 0

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.sent += 1
        await self.socket.send(json.dumps({"id": self.sent, "method": method, "params": params}))
        while True:
            message = json.loads(await self.socket.recv())
            if message.get("id") == self.sent:
                assert "error" not in message, message
                result: dict[str, Any] = message["result"]
                return result

    async def value(self, expression: str) -> Any:
        answer = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return answer["result"].get("value")

    async def until(self, expression: str, seconds: float = 30) -> Any:
        """The value of ``expression`` once it is truthy (polled; the page works on its own)."""
        deadline = asyncio.get_running_loop().time() + seconds
        while not (found := await self.value(expression)):
            assert asyncio.get_running_loop().time() < deadline, f"never true: {expression}"
            await asyncio.sleep(0.1)
        return found


@asynccontextmanager
async def devtools(directory: Path) -> AsyncIterator[DevTools]:
    assert CHROMIUM is not None
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--disable-background-networking",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--user-data-dir={directory / 'devtools-profile'}",
        f"--remote-debugging-port={port}",
        "about:blank",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        [page] = [target for target in targets if target["type"] == "page"]
        async with websockets.connect(page["webSocketDebuggerUrl"], max_size=2**24) as socket:
            yield DevTools(socket)
    finally:
        process.terminate()
        await process.wait()


@pytest.mark.slow
@NEEDS_CHROMIUM
async def test_signing_in_in_graphiql_fills_the_token_the_next_tab_sends(
    tmp_path: Path, development_server: str
) -> None:
    async with devtools(tmp_path) as browser:
        await browser.call("Page.enable")
        await browser.call("Page.navigate", url=development_server + "/graphql")
        await browser.until("document.querySelectorAll('.graphiql-tab').length === 3")
        assert await browser.value("document.getElementById('eic-access-token').value") == ""
        # when the first tab (the README's tokenCreate of a demo firm) is run
        await browser.until("!!document.querySelector('.graphiql-execute-button')")
        await browser.value("document.querySelector('.graphiql-execute-button').click()")
        # then the access token it answered is in the field
        token = await browser.until("document.getElementById('eic-access-token').value")
        assert token.count(".") == 2  # a JWT
        # and the third tab (`me`) is run as that firm
        await browser.value("document.querySelectorAll('.graphiql-tab-button')[2].click()")
        await browser.until(
            "document.querySelector('.graphiql-query-editor').innerText.includes('me {')"
        )
        await browser.value("document.querySelector('.graphiql-execute-button').click()")
        # (the result pane is a CodeMirror editor: its text, without the rendering's spaces)
        shown = await browser.until(
            "(t => t.includes('role') && t)("
            "document.querySelector('.result-window .CodeMirror').CodeMirror.getValue())"
        )
    assert json.loads(shown)["data"] == {
        "me": {
            "user": {"email": "katsuyama-pellets@demo.eic.example"},
            "organisation": {"name": "Katsuyama Pellet Works"},
            "role": "FIRM",
        }
    }
