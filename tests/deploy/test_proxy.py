"""Issue 21: deploy/nginx/eic.conf, run by Debian's nginx on loopback in front of two real
``eic serve`` instances (deploy/eic.env.example's settings) on one database and Redis: HTTPS with
a certificate made here, requests shared between the instances, a graphql-transport-ws
subscription over wss through it, and the client's own address reaching the rate limits."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect

from backend.kit.broadcast import RedisBroadcaster
from backend.kit.db import Database
from backend.settings import Settings, unknown_variables
from tests.conftest import TEST_JWT_SECRET, TEST_REDIS_URL, GraphQL
from tests.deploy.kit import (
    GRAPHQL_WS,
    NEEDS_NGINX,
    SYSTEMD_UNIT,
    Instances,
    Proxy,
    a_community,
    body_of,
    eventually,
    example_environment,
    nginx_serving,
    two_instances,
)
from tests.forums.kit import open_forum, start_thread
from tests.forums.live_kit import SUBSCRIBE, receive, until_listening
from tests.kit import create_wood_cluster
from tests.process_kit import EIC

LISTINGS = "query { listings(first: 1) { edges { node { id } } } }"
POST_CREATE = """
mutation P($input: PostCreateInput!) { postCreate(input: $input) { post { id } errors { code } } }
"""
READS_PER_MINUTE = 3
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")


@asynccontextmanager
async def deployment(
    tmp_path: Path,
    database_url: str,
    serving: Callable[[Path, Instances], AbstractContextManager[Proxy]] = nginx_serving,
) -> AsyncIterator[tuple[Instances, Proxy]]:
    """Two instances, and ``serving`` (nginx with deploy/nginx/eic.conf) in front of them."""
    async with two_instances(
        tmp_path,
        database_url,
        EIC_PUBLIC_URL="https://127.0.0.1",
        EIC_METRICS_ENABLED="true",
        EIC_METRICS_TOKEN=METRICS_TOKEN,
        # Small, so that a test can use up an address's budget.
        EIC_RATE_LIMIT_READS_PER_ADDRESS=f"{READS_PER_MINUTE}/minute",
    ) as instances:
        proxy_context = serving(tmp_path, instances)
        proxy = await asyncio.to_thread(proxy_context.__enter__)
        try:
            yield instances, proxy
        finally:
            await asyncio.to_thread(proxy_context.__exit__, None, None, None)


@asynccontextmanager
async def subscribed_through(
    proxy: Proxy, token: str, thread_id: str, broadcaster: RedisBroadcaster, **options: Any
) -> AsyncIterator[ClientConnection]:
    """A ``postAdded`` subscription over wss:// through nginx, once the instance holding it has
    subscribed in Redis. ``options`` go to the WebSocket client."""
    async with connect(
        f"wss://127.0.0.1:{proxy.https_port}/graphql",
        subprotocols=GRAPHQL_WS,
        ssl=proxy.ssl_context(),
        **options,
    ) as ws:
        assert ws.subprotocol == "graphql-transport-ws"
        init = {"authorization": f"Bearer {token}"}
        await ws.send(json.dumps({"type": "connection_init", "payload": init}))
        assert await receive(ws) == {"type": "connection_ack"}
        subscribe = {"query": SUBSCRIBE, "variables": {"thread": thread_id}}
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))
        await until_listening(broadcaster, thread_id)
        yield ws


def added(post_id: str, body: str) -> dict[str, Any]:
    """The subscription's message for a post of the community's person."""
    author = {"displayName": "Community Person 000"}
    return {
        "id": "1",
        "type": "next",
        "payload": {"data": {"postAdded": {"id": post_id, "body": body, "author": author}}},
    }


def loopback_address() -> str:
    """A loopback address of this test's own (127.0.0.0/8): the rate limits in the shared Redis
    count per address, and no other test's requests come from it."""
    return f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"


@NEEDS_NGINX
@pytest.mark.slow
async def test_nginx_in_front_of_two_instances(tmp_path: Path, empty_database_url: str) -> None:
    async with deployment(tmp_path, empty_database_url) as (instances, proxy):
        db = Database(empty_database_url)
        broadcaster = RedisBroadcaster(TEST_REDIS_URL, "eic:")  # the instances' prefix
        try:
            await _requests_reach_both_instances(instances, proxy)
            await _plain_http_is_redirected(proxy)
            await _a_subscription_over_wss_hears_posts_from_anywhere(
                db, empty_database_url, instances, proxy, broadcaster
            )
            await _each_client_address_is_counted_for_itself(proxy)
            await _metrics_are_read_at_each_instance_not_through_the_proxy(instances, proxy)
        finally:
            await broadcaster.close()
            await db.dispose()


async def _requests_reach_both_instances(instances: Instances, proxy: Proxy) -> None:
    # Given nginx in front of two instances; when ten requests go through it over HTTPS
    async with proxy.client() as client:
        answers = [
            await client.post("/graphql", json={"query": "{ __typename }"}) for _ in range(10)
        ]
        health = await client.get("/readyz")

    # then each is answered, and both instances answered some
    assert [(a.status_code, a.http_version, body_of(a)) for a in answers] == [
        (200, "HTTP/1.1", {"data": {"__typename": "Query"}})
    ] * 10
    assert health.status_code == 200

    async def logged() -> bool:  # nginx logs a request just after answering it
        return len(proxy.upstreams()) >= 11

    await eventually(logged, "nginx logged the eleven requests")
    served = proxy.upstreams()
    assert len(served) == 11
    assert set(served) == {f"127.0.0.1:{port}" for port in instances.ports}


async def _plain_http_is_redirected(proxy: Proxy) -> None:
    async with httpx.AsyncClient() as client:
        answer = await client.get(
            f"http://127.0.0.1:{proxy.http_port}/graphql?query=%7B__typename%7D"
        )
    assert answer.status_code == 301
    assert answer.headers["location"] == "https://127.0.0.1/graphql?query=%7B__typename%7D"


async def _a_subscription_over_wss_hears_posts_from_anywhere(
    db: Database,
    database_url: str,
    instances: Instances,
    proxy: Proxy,
    broadcaster: RedisBroadcaster,
) -> None:
    # Given a thread, and its author subscribed to it over wss:// through nginx
    cluster_id = await create_wood_cluster(db)
    author = await a_community(db, database_url, cluster_id)
    async with proxy.client() as client:
        gql = GraphQL(client, token=author.token)
        thread_id = await start_thread(gql, author.token, await open_forum(gql, author.token))
        async with subscribed_through(proxy, author.token, thread_id, broadcaster) as ws:
            # when posts are made through nginx, and straight at each instance
            made = []
            async with (
                httpx.AsyncClient(base_url=instances.urls[0]) as first,
                httpx.AsyncClient(base_url=instances.urls[1]) as second,
            ):
                for index, through in enumerate((client, first, second)):
                    text = f"Lot {index}"
                    body = await GraphQL(through, token=author.token)(
                        POST_CREATE, {"input": {"threadId": thread_id, "body": text}}
                    )
                    assert body["data"]["postCreate"]["errors"] == [], body
                    made.append((body["data"]["postCreate"]["post"]["id"], text))

            # then the subscriber hears all three, whichever instance holds its connection
            heard = [await receive(ws) for _ in made]
    assert heard == [added(post_id, text) for post_id, text in made]


async def _each_client_address_is_counted_for_itself(proxy: Proxy) -> None:
    # Given two clients of nginx at addresses of their own, the first also writing addresses of
    # its choice in X-Forwarded-For
    first, second = loopback_address(), loopback_address()
    while second == first:
        second = loopback_address()

    async def read(address: str, spoofed: str | None = None) -> str:
        headers = {"X-Forwarded-For": spoofed} if spoofed else {}
        async with proxy.client(address) as client:
            answer = await client.post("/graphql", json={"query": LISTINGS}, headers=headers)
        body = body_of(answer)
        if "errors" in body:
            code: str = body["errors"][0]["extensions"]["code"]
            return code
        return "OK"

    # when the first reads more than its budget, from a new forged address each time
    outcomes = [
        await read(first, spoofed=f"198.51.100.{index}") for index in range(READS_PER_MINUTE + 2)
    ]
    # then it is counted as itself (over both instances, through Redis) and throttled
    assert outcomes == ["OK"] * READS_PER_MINUTE + ["THROTTLED"] * 2
    # and the second, behind the same nginx, still has its whole budget
    assert await read(second) == "OK"


METRICS_TOKEN = "metrics-token-of-this-test"


async def _metrics_are_read_at_each_instance_not_through_the_proxy(
    instances: Instances, proxy: Proxy
) -> None:
    # Given instances with metrics on, behind the proxy; when /metrics is asked through it, with
    # the right token even
    bearer = {"Authorization": f"Bearer {METRICS_TOKEN}"}
    async with proxy.client() as client:
        through = await client.get("/metrics", headers=bearer)
    # then the proxy says there is no such page
    assert through.status_code == 404
    # and each instance serves its own figures at its own address, to the token only
    for url in instances.urls:
        async with httpx.AsyncClient(base_url=url) as client:
            refused = await client.get("/metrics")
            scraped = await client.get("/metrics", headers=bearer)
        assert refused.status_code == 401
        assert scraped.status_code == 200
        # the requests of the steps before reached this instance too (the proxy spread them)
        served = [
            float(line.rsplit(" ", 1)[1])
            for line in scraped.text.splitlines()
            if line.startswith("eic_http_requests_total{") and 'route="/graphql"' in line
        ]
        assert sum(served) > 0, scraped.text[:2000]


# Above uvicorn's WebSocket ping interval (20 s), below the time the subscription stays idle.
READ_TIMEOUT_SECONDS = 25
IDLE_SECONDS = 32


@NEEDS_NGINX
@pytest.mark.slow
async def test_an_idle_subscription_outlives_nginx_read_timeout(
    tmp_path: Path, empty_database_url: str
) -> None:
    # Given nginx waiting at most 25 s for the instance between two reads (60 s in the example;
    # shorter so that the test is), and a subscription through it whose client sends no pings
    def shorter(directory: Path, instances: Instances) -> AbstractContextManager[Proxy]:
        return nginx_serving(directory, instances, f"{READ_TIMEOUT_SECONDS}s")

    async with deployment(tmp_path, empty_database_url, shorter) as (_, proxy):
        db = Database(empty_database_url)
        broadcaster = RedisBroadcaster(TEST_REDIS_URL, "eic:")
        try:
            cluster_id = await create_wood_cluster(db)
            author = await a_community(db, empty_database_url, cluster_id)
            async with proxy.client() as client:
                gql = GraphQL(client, token=author.token)
                forum_id = await open_forum(gql, author.token)
                thread_id = await start_thread(gql, author.token, forum_id)
                async with subscribed_through(
                    # only the server's pings keep the connection busy
                    proxy,
                    author.token,
                    thread_id,
                    broadcaster,
                    ping_interval=None,
                ) as ws:
                    # when nothing happens for longer than nginx's read timeout
                    await asyncio.sleep(IDLE_SECONDS)

                    # then the subscription is still open, and hears the next post
                    body = await gql(
                        POST_CREATE, {"input": {"threadId": thread_id, "body": "Still here"}}
                    )
                    post_id = body["data"]["postCreate"]["post"]["id"]
                    assert await receive(ws) == added(post_id, "Still here")
        finally:
            await broadcaster.close()
            await db.dispose()


def test_the_env_file_example_names_only_settings_and_boots_in_production() -> None:
    # Given deploy/eic.env.example: it names only settings, and as shipped it is refused
    environment = example_environment()
    assert unknown_variables(environment) == []

    def settings_of(environment: dict[str, str]) -> Settings:
        return Settings.model_validate(
            {name.removeprefix("EIC_").lower(): value for name, value in environment.items()}
        )

    with pytest.raises(ValidationError, match="EIC_JWT_SECRET must be at least 32 bytes"):
        settings_of(environment)

    # when its secret is replaced, as docs/deployment.md says, then the settings are
    # production's, behind one proxy
    settings = settings_of(environment | {"EIC_JWT_SECRET": TEST_JWT_SECRET})
    assert settings.environment.value == "production"
    assert settings.redis_url is not None
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert (settings.trust_forwarded_for, settings.forwarded_for_proxies) == (True, 1)
    # nginx's upstream keepalive_timeout (60 s) is shorter, as docs/operations.md asks
    assert settings.keep_alive_seconds > 60


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze is not installed")
def test_the_systemd_unit_verifies(tmp_path: Path) -> None:
    # Given deploy/eic@.service with this machine's `eic` in place of /opt/eic's
    unit = SYSTEMD_UNIT.read_text()
    assert unit.count("/opt/eic/venv/bin/eic ") == 1
    (tmp_path / "eic@.service").write_text(unit.replace("/opt/eic/venv/bin/eic ", f"{EIC} "))

    # when systemd checks an instance of it, then it finds nothing to say
    assert SYSTEMD_ANALYZE is not None
    checked = subprocess.run(  # noqa: S603 - systemd's own checker
        [SYSTEMD_ANALYZE, "verify", str(tmp_path / "eic@8001.service")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
