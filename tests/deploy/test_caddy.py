"""Issue 21: deploy/caddy/Caddyfile, run by Debian's Caddy on loopback in front of two real
``eic serve`` instances, as tests/deploy/test_proxy.py runs nginx: requests shared between the
instances, a graphql-transport-ws subscription over wss through it, and each client's own
address reaching the rate limits."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.kit.broadcast import RedisBroadcaster
from backend.kit.db import Database
from tests.conftest import TEST_REDIS_URL
from tests.deploy.kit import NEEDS_CADDY, Instances, Proxy, body_of, caddy_serving, eventually
from tests.deploy.test_proxy import (
    _a_subscription_over_wss_hears_posts_from_anywhere,
    _each_client_address_is_counted_for_itself,
    _metrics_are_read_at_each_instance_not_through_the_proxy,
    deployment,
)

ANSWERED = re.compile(r"POST /graphql 200 ")


def answered(instances: Instances) -> tuple[int, int]:
    """How many GraphQL POSTs each instance has logged."""
    first, second = (len(ANSWERED.findall(instances.log_text(index))) for index in (0, 1))
    return first, second


@NEEDS_CADDY
@pytest.mark.slow
async def test_caddy_in_front_of_two_instances(tmp_path: Path, empty_database_url: str) -> None:
    async with deployment(tmp_path, empty_database_url, caddy_serving) as (instances, proxy):
        db = Database(empty_database_url)
        broadcaster = RedisBroadcaster(TEST_REDIS_URL, "eic:")  # the instances' prefix
        try:
            await _requests_reach_both_instances(instances, proxy)
            await _a_subscription_over_wss_hears_posts_from_anywhere(
                db, empty_database_url, instances, proxy, broadcaster
            )
            await _each_client_address_is_counted_for_itself(proxy)
            await _metrics_are_read_at_each_instance_not_through_the_proxy(instances, proxy)
        finally:
            await broadcaster.close()
            await db.dispose()


async def _requests_reach_both_instances(instances: Instances, proxy: Proxy) -> None:
    # Given Caddy in front of two instances; when twenty requests go through it over HTTPS
    before = answered(instances)
    async with proxy.client() as client:
        answers = [
            await client.post("/graphql", json={"query": "{ __typename }"}) for _ in range(20)
        ]

    # then each is answered, over HTTP/1.1 or HTTP/2, and both instances answered some
    assert [(a.status_code, body_of(a)) for a in answers] == [
        (200, {"data": {"__typename": "Query"}})
    ] * 20

    async def logged() -> bool:  # an instance logs a request just after answering it
        return sum(answered(instances)) - sum(before) >= 20

    await eventually(logged, "the instances logged the twenty requests")
    after = answered(instances)
    assert after[0] > before[0], (before, after)
    assert after[1] > before[1], (before, after)
    assert sum(after) - sum(before) == 20
