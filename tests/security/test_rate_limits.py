"""Rate limits (issue 15, item 3): registrations per address, expensive reads per address when
anonymous and per account when signed in, THROTTLED with a retry-after, shared through Redis by
every instance, and not enforced (fail open) when Redis is away.

Each test sets small limits of its own; the suite's settings are generous."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from pydantic import ValidationError

from backend.auth.addresses import limited_unit
from backend.kit.db import Database
from backend.kit.outages import outage_log
from backend.settings import Settings
from tests.conftest import PASSWORD, make_settings
from tests.security.kit import (
    REDIS_URL,
    REGISTER,
    app_client,
    closed_redis_url,
    delete_keys,
    outcome,
    register,
    unique_address,
)

OFFICE = "203.0.113.7"
ELSEWHERE = "198.51.100.20"
LISTINGS = "query { listings(first: 1) { edges { node { id } } } }"
ORGANISATIONS = "query { organisations(first: 1) { edges { node { id } } } }"


def throttled_read(field: str, body: dict[str, Any]) -> int:
    """The retry-after of a read refused as THROTTLED (asserting the whole answer)."""
    error = body["errors"][0]
    assert body == {
        "data": None,
        "errors": [
            {
                "message": error["message"],
                "locations": [{"line": 1, "column": 9}],
                "path": [field],
                "extensions": {"code": "THROTTLED", "field": None, "retryAfter": ANY_INT},
            }
        ],
    }
    wait: int = error["extensions"]["retryAfter"]
    assert error["message"].endswith(f"try again in {wait} seconds")
    return wait


class Recorded(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _AnyInt:
    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and not isinstance(other, bool)


ANY_INT = _AnyInt()


async def test_registrations_are_limited_per_address(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given an app allowing three registrations per address an hour
    settings = make_settings(database_url, rate_limit_registrations_per_address="3/hour")
    async with app_client(settings, db) as client:
        office, elsewhere = client(OFFICE), client(ELSEWHERE)

        # when four accounts are registered from one address, and one from another
        from_office = [await register(office, f"p{n}@office.example", cluster_id) for n in range(4)]
        from_elsewhere = await register(elsewhere, "q@elsewhere.example", cluster_id)

    # then three are made, the fourth is THROTTLED with a wait within the hour, and the other
    # address has its own budget
    assert [outcome(p) for p in from_office] == ["OK", "OK", "OK", "THROTTLED"]
    refused = from_office[3]
    wait = refused["errors"][0]["retryAfter"]
    assert 0 < wait <= 3600
    assert refused == {
        "user": None,
        "errors": [
            {
                "code": "THROTTLED",
                "message": f"Too many registrations from this address; try again in {wait} seconds",
                "field": None,
                "retryAfter": wait,
            }
        ],
    }
    assert outcome(from_elsewhere) == "OK"


async def test_other_errors_carry_no_retry_after(db: Database, database_url: str) -> None:
    # given a registration with an invite that does not exist, then its error has no wait
    async with app_client(make_settings(database_url), db) as client:
        body = await client(OFFICE)(
            REGISTER,
            {
                "input": {
                    "email": "p@office.example",
                    "password": PASSWORD,
                    "displayName": "p",
                    "inviteCode": "NOSUCHCODE23",
                }
            },
            token="",
        )
    errors = body["data"]["accountRegister"]["errors"]
    assert [(error["code"], error["retryAfter"]) for error in errors] == [("INVITE_INVALID", None)]


async def test_anonymous_searches_are_limited_per_address(db: Database, database_url: str) -> None:
    # given an app allowing three expensive reads a minute per anonymous address
    settings = make_settings(database_url, rate_limit_reads_per_address="3/minute")
    async with app_client(settings, db) as client:
        office, elsewhere = client(OFFICE), client(ELSEWHERE)

        # when an address searches listings twice, the directory once, then listings again
        answers = [
            await office(LISTINGS),
            await office(LISTINGS),
            await office(ORGANISATIONS),
            await office(LISTINGS),
        ]
        # and another address searches
        other = await elsewhere(LISTINGS)

    # then the reads share one budget of three: the fourth is THROTTLED for at most a minute
    assert [("errors" in body) for body in answers] == [False, False, False, True]
    assert 0 < throttled_read("listings", answers[3]) <= 60
    assert other == {"data": {"listings": {"edges": []}}}


async def test_signed_in_searches_spend_the_account_budget(
    db: Database, database_url: str, register: Any, cluster_id: str
) -> None:
    # given one anonymous read per address a minute, three per account, and two people
    settings = make_settings(
        database_url,
        rate_limit_reads_per_address="1/minute",
        rate_limit_reads_per_account="3/minute",
    )
    tanaka = await register("tanaka@pellets.example", cluster_id)
    sato = await register("sato@pellets.example", cluster_id, name="Sato Timber")
    async with app_client(settings, db) as client:
        office = client(OFFICE)

        # when one of them searches four times from the office
        tanaka_reads = [await office(LISTINGS, token=tanaka.access_token) for _ in range(4)]
        # and the other, and an anonymous visitor, search from the same office
        sato_read = await office(LISTINGS, token=sato.access_token)
        anonymous_reads = [await office(LISTINGS) for _ in range(2)]

    # then the account, not the office, is counted: three reads, then THROTTLED
    assert [("errors" in body) for body in tanaka_reads] == [False, False, False, True]
    assert 0 < throttled_read("listings", tanaka_reads[3]) <= 60
    # and the colleague and the anonymous visitor have budgets of their own
    assert "errors" not in sato_read
    assert [("errors" in body) for body in anonymous_reads] == [False, True]


async def test_limits_in_redis_are_shared_by_two_instances(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given two app instances built from the same settings, counting in one Redis, and an
    # address unique to this run
    address = unique_address()
    settings = make_settings(
        database_url,
        redis_url=REDIS_URL,
        rate_limit_registrations_per_address="3/hour",
        rate_limit_reads_per_address="2/minute",
    )
    try:
        async with app_client(settings, db) as first, app_client(settings, db) as second:
            on_first, on_second = first(address), second(address)

            # when registrations and reads are spread over the two instances
            registered = [
                await register(on_first, "p0@office.example", cluster_id),
                await register(on_second, "p1@office.example", cluster_id),
                await register(on_first, "p2@office.example", cluster_id),
                await register(on_second, "p3@office.example", cluster_id),
            ]
            reads = [await on_first(LISTINGS), await on_second(LISTINGS), await on_first(LISTINGS)]

        # then each instance saw the other's counts
        assert [outcome(p) for p in registered] == ["OK", "OK", "OK", "THROTTLED"]
        assert [("errors" in body) for body in reads] == [False, False, True]
        assert 0 < throttled_read("listings", reads[2]) <= 60
    finally:
        await delete_keys(f"eic:rate:*{address}*")


async def test_rate_limits_fail_open_and_sign_in_counts_in_process_without_redis(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given an app whose Redis cannot be reached, with limits of one a minute
    outage_log.reset()
    settings = make_settings(
        database_url,
        redis_url=closed_redis_url(),
        rate_limit_registrations_per_address="1/minute",
        rate_limit_reads_per_address="1/minute",
    )
    async with app_client(settings, db) as client:
        office = client(OFFICE)

        # when an address registers twice and searches twice, and then signs in
        logged = Recorded()
        # on the logger itself: the app's logging set-up does not propagate to the root
        logging.getLogger("eic.outage").addHandler(logged)
        try:
            registered = [
                await register(office, f"p{n}@office.example", cluster_id) for n in range(2)
            ]
            reads = [await office(LISTINGS), await office(LISTINGS)]
            signing_in = await office(
                "mutation($input: TokenCreateInput!) { tokenCreate(input: $input) { "
                "errors { code } } }",
                {"input": {"email": "p0@office.example", "password": "correct horse battery"}},
            )
        finally:
            logging.getLogger("eic.outage").removeHandler(logged)
            outage_log.reset()

    # then the limits were not enforced, and the outage was logged once, not per request ...
    assert [outcome(p) for p in registered] == ["OK", "OK"]
    assert reads == [{"data": {"listings": {"edges": []}}}] * 2
    # (the response cache's is its version bump after the first registration's commit)
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in logged.records] == [
        ("ERROR", "redis unavailable (rate limits, not counted)"),
        ("ERROR", "redis unavailable (response cache, not used)"),
        ("ERROR", "redis unavailable (sign-in throttle, counting in this process)"),
    ]
    # ... and the sign-in was counted in the process's memory instead of failing
    assert signing_in == {"data": {"tokenCreate": {"errors": []}}}


@pytest.mark.parametrize("value", ["ten an hour", "10/fortnight", "/hour"])
def test_a_rate_limit_that_cannot_be_read_is_refused_at_start_up(
    database_url: str, value: str
) -> None:
    with pytest.raises(ValidationError, match="is not a rate limit such as"):
        make_settings(database_url, rate_limit_reads_per_address=value)


def test_an_empty_rate_limit_turns_it_off(database_url: str) -> None:
    settings = make_settings(database_url, rate_limit_reads_per_address="  ")
    assert settings.rate_limit_reads_per_address == ""


def test_limits_are_on_by_default() -> None:
    defaults = Settings.model_fields
    assert [
        defaults[name].default
        for name in (
            "rate_limit_registrations_per_address",
            "rate_limit_reads_per_address",
            "rate_limit_reads_per_account",
        )
    ] == ["10/hour;50/day", "60/minute", "300/minute"]


async def test_an_ipv6_subscriber_counts_as_one_address_whatever_it_picks_in_its_64(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given an app allowing two registrations per address an hour, and a subscriber whose
    # provider gave it a /64 (2^64 addresses of its own)
    settings = make_settings(database_url, rate_limit_registrations_per_address="2/hour")
    prefix = unique_address().rsplit("::", 1)[0]
    async with app_client(settings, db) as client:
        # when it registers from three addresses of its /64, and another /64 once
        answers = [
            await register(client(f"{prefix}::{n + 1}"), f"v6-{n}@office.example", cluster_id)
            for n in range(3)
        ]
        neighbour = await register(client(unique_address()), "next@door.example", cluster_id)

    # then the third is THROTTLED as if from one address, and the other /64 has its own budget
    assert [outcome(a) for a in answers] == ["OK", "OK", "THROTTLED"]
    assert outcome(neighbour) == "OK"


def test_the_unit_of_an_address() -> None:
    assert [
        limited_unit(a)
        for a in ("192.0.2.7", "2001:db8:1:2:3:4:5:6", "::ffff:192.0.2.7", "testclient", None)
    ] == ["192.0.2.7", "2001:db8:1:2::/64", "192.0.2.7", "testclient", None]
