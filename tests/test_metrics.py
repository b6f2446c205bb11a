"""Prometheus metrics at /metrics: off by default, behind a bearer token when one is set,
counters that move with the operations sent, bounded labels, and gauges read at the scrape
(the outbox, the due-job lag) that leave a scrape whole when the database is away."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend import cli
from backend.app import create_app
from backend.graphql.observer import known_operations
from backend.kit.broadcast import InProcessBroadcaster
from backend.kit.clock import ManualClock
from backend.kit.db import Database, Timeouts
from backend.settings import Settings
from tests.conftest import CLOCK_START, GraphQL, make_settings, seed_people
from tests.forums.kit import a_thread
from tests.forums.live_kit import WAIT, live_server, subscribed, until_listening
from tests.notifications.test_push import notify, register_device
from tests.purchasing.test_due_jobs import create_group

TOKEN = "metrics-token-for-the-tests-0123456789"
CLUSTERS = "query Clusters { clusters(first: 5) { totalCount } }"
SIGN_IN = """
mutation SignIn($email: String!, $password: String!) {
  tokenCreate(input: { email: $email, password: $password }) { accessToken errors { code } }
}
"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


def metrics_settings(database_url: str, **overrides: object) -> Settings:
    return make_settings(database_url, metrics_enabled=True, metrics_token=TOKEN, **overrides)


@pytest.fixture
async def metrics_client(
    db: Database, database_url: str, clock: ManualClock
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(metrics_settings(database_url), db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield http


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return samples(response.text)


async def test_metrics_are_off_by_default(client: httpx.AsyncClient) -> None:
    assert (await client.get("/metrics")).status_code == 404


async def test_metrics_need_the_token(metrics_client: httpx.AsyncClient) -> None:
    missing = await metrics_client.get("/metrics")
    wrong = await metrics_client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.headers["www-authenticate"] == 'Bearer realm="metrics"'
    assert "eic_" not in missing.text


def test_production_refuses_metrics_without_a_token(database_url: str) -> None:
    with pytest.raises(ValueError, match="EIC_METRICS_TOKEN"):
        make_settings(database_url, environment="production", metrics_enabled=True)
    with pytest.raises(ValueError, match="EIC_METRICS_TOKEN"):
        make_settings(
            database_url, environment="production", metrics_enabled=True, metrics_token="short"
        )


async def test_counters_move_with_the_operations_sent(metrics_client: httpx.AsyncClient) -> None:
    gql = GraphQL(metrics_client)
    before = await scrape(metrics_client)
    # Given three queries of the apps' Clusters, a sign-in refused in its payload, a document
    # that does not parse, one that does not validate, and an operation of a name the apps do
    # not have
    for _ in range(3):
        assert "errors" not in await gql(CLUSTERS)
    refused = await gql(SIGN_IN, {"email": "nobody@eic.example", "password": "wrong horse"})
    assert refused["data"]["tokenCreate"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    await gql("query Clusters { clusters(first: 5) { totalCount }")
    await gql("query Clusters { clusters(first: 5) { nonsense } }")
    await gql("query Mine { __typename }")
    after = await scrape(metrics_client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # then each moved by what was sent, under the apps' names or "other"
    assert moved("eic_graphql_operations_total", operation="Clusters", outcome="ok") == 3
    assert (
        moved("eic_graphql_operations_total", operation="SignIn", outcome="INVALID_CREDENTIALS")
        == 1
    )
    assert (
        moved(
            "eic_graphql_operations_total",
            operation="Clusters",
            outcome="GRAPHQL_VALIDATION_FAILED",
        )
        == 1
    )
    # Strawberry answers a document that does not parse before any extension runs: it is
    # counted among the HTTP requests only
    assert (
        moved("eic_graphql_operations_total", operation="other", outcome="GRAPHQL_PARSE_FAILED")
        == 0
    )
    assert moved("eic_graphql_operations_total", operation="other", outcome="ok") == 1
    # four Clusters operations: three answered, one refused by validation
    assert moved("eic_graphql_operation_duration_seconds_count", operation="Clusters") == 4
    assert (
        moved("eic_graphql_operation_duration_seconds_bucket", operation="Clusters", le="+Inf") == 4
    )
    assert moved("eic_http_requests_total", method="POST", route="/graphql", status="200") == 7
    # the first scrape is counted by the time of the second, with its route
    assert moved("eic_http_requests_total", method="GET", route="/metrics", status="200") == 1
    assert moved("eic_http_request_duration_seconds_count", route="/graphql") == 7
    # and the gauges are there
    assert value(after, "eic_metrics_database_up") == 1
    assert value(after, "eic_graphql_subscriptions_active") == 0
    assert value(after, "eic_idempotency_keys_in_flight") == 0
    assert value(after, "eic_db_pool_checked_out") == 0
    assert value(after, "eic_db_pool_size") >= 1
    assert value(after, "process_cpu_seconds_total") > 0


async def test_labels_stay_bounded_whatever_clients_send(
    metrics_client: httpx.AsyncClient,
) -> None:
    # Given a client that names every request differently, and invents methods and paths
    gql = GraphQL(metrics_client)
    for n in range(40):
        await gql(f"query Probe{n}x{uuid.uuid4().hex} {{ __typename }}")
        await metrics_client.request("BREW", f"/graphql/{uuid.uuid4().hex}")
    found = await scrape(metrics_client)
    # then the labels take only the apps' operation names, "other", and declared routes
    operations = {
        dict(labels)["operation"]
        for name, labels in found
        if name == "eic_graphql_operations_total"
    }
    assert operations <= known_operations() | {"other"}
    assert "other" in operations
    routes = {dict(labels)["route"] for name, labels in found if name == "eic_http_requests_total"}
    assert routes <= {"/graphql", "/metrics", "unmatched"}
    methods = {
        dict(labels)["method"] for name, labels in found if name == "eic_http_requests_total"
    }
    assert methods <= {"GET", "POST", "OTHER"}
    assert len(known_operations()) > 100  # the manifest was read


async def test_outbox_and_due_job_gauges_are_read_at_the_scrape(
    metrics_client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    cluster_id: str,
    clock: ManualClock,
) -> None:
    gql = GraphQL(metrics_client)
    quiet = await scrape(metrics_client)
    assert value(quiet, "eic_push_outbox_depth") == 0
    assert value(quiet, "eic_push_outbox_oldest_age_seconds") == 0
    assert value(quiet, "eic_due_jobs_lag_seconds") == 0
    # Given two phones with a notification each waiting, written at the clock's start
    (person,) = await seed_people(db, settings, cluster_id, 1)
    for push_token in ("ExponentPushToken[metrics-a]", "ExponentPushToken[metrics-b]"):
        assert (await register_device(gql, person.token, push_token))["errors"] == []
    await notify(db, [uuid.UUID(person.user_id)], CLOCK_START)
    # and a purchase group whose deadline passed 90 s ago without the due jobs running
    await create_group(gql, person, deadline=CLOCK_START + timedelta(days=2))
    clock.advance(timedelta(days=2, seconds=90))
    found = await scrape(metrics_client)
    # then the scrape says so
    assert value(found, "eic_push_outbox_depth") == 2
    assert value(found, "eic_push_outbox_oldest_age_seconds") == pytest.approx(
        timedelta(days=2, seconds=90).total_seconds()
    )
    assert value(found, "eic_due_jobs_lag_seconds") == 90


async def test_a_scrape_answers_when_the_database_is_away(
    database_url: str, clock: ManualClock
) -> None:
    # Given an app whose database does not answer (nothing listens on port 9)
    away = Database(
        "postgresql+asyncpg://postgres@127.0.0.1:9/nothing",
        timeouts=Timeouts(connect=0.5, statement=0.5, pool=0.5),
    )
    app = create_app(
        metrics_settings(database_url, metrics_query_timeout_seconds=0.5), db=away, clock=clock
    )
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
            found = await scrape(http)
    finally:
        await away.dispose()
    # then the scrape is whole, says the database gauges are missing, and leaves them out
    assert value(found, "eic_metrics_database_up") == 0
    assert ("eic_push_outbox_depth", frozenset()) not in found
    assert ("eic_due_jobs_lag_seconds", frozenset()) not in found
    assert ("eic_graphql_subscriptions_active", frozenset()) in found


async def test_open_subscriptions_are_counted(
    gql: Any, register: Any, cluster_id: str, db: Database, database_url: str, clock: ManualClock
) -> None:
    # Given a member of a forum and a served app with metrics
    shg, thread_id = await a_thread(gql, register, cluster_id, "MEMBERS")
    broadcaster = InProcessBroadcaster()
    settings = metrics_settings(database_url)

    async def active(address: str) -> float:
        async with httpx.AsyncClient(base_url=f"http://{address}") as http:
            return value(await scrape(http), "eic_graphql_subscriptions_active")

    async with live_server(settings, db, clock, broadcaster) as address:
        assert await active(address) == 0
        # when the member subscribes to the thread, the scrape counts it
        async with subscribed(address, shg.access_token, thread_id):
            await until_listening(broadcaster, thread_id)
            assert await active(address) == 1
        # and once the app has gone, no more (the server notices the close on its own time)
        async with asyncio.timeout(WAIT):
            while await active(address) != 0:  # noqa: ASYNC110 - a scrape is all there is to ask
                await asyncio.sleep(0.01)


def test_serve_refuses_several_workers_with_metrics(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Workers share one port: a scrape would read whichever answered.
    monkeypatch.setattr(cli, "get_settings", lambda: metrics_settings(database_url))
    assert cli.main(["serve", "--workers", "2"]) == 2
    assert "--workers above 1" in capsys.readouterr().err


async def test_invented_methods_share_one_child_and_leave_no_memory_behind(
    db: Database, database_url: str, clock: ManualClock
) -> None:
    # Given an app with metrics, and a client inventing a method per request (h11, uvicorn's
    # other HTTP parser, takes any token as a method)
    app = create_app(metrics_settings(database_url), db=db, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        for _ in range(50):
            await http.request(f"X{uuid.uuid4().hex.upper()}", "/graphql")
    # then they are one series, and the metrics keep one child for it, not one per method
    children = app.state.metrics._http
    assert {key for key in children if key[0] not in ("GET", "POST")} == {
        ("OTHER", "/graphql", 405)
    }
