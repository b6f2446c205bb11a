"""Login throttling, with counters in memory and in the real Redis.

Each Redis test uses a key prefix of its own and deletes its keys afterwards, so runs never see
each other's counts.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from backend.auth.throttle import (
    CounterStore,
    LoginThrottle,
    MemoryCounters,
    RedisCounters,
    ThrottleKey,
)
from backend.settings import Settings
from tests.conftest import make_settings

REDIS_URL = "redis://127.0.0.1:6379/0"
WINDOW = 900
PER_ACCOUNT = 3
PER_ADDRESS = 5
OFFICE = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture
async def redis_prefix(redis: Redis) -> AsyncIterator[str]:
    prefix = f"eic-test:throttle:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> CounterStore:
    if request.param == "memory":
        return MemoryCounters()
    redis: Redis = request.getfixturevalue("redis")
    return RedisCounters(redis, prefix=request.getfixturevalue("redis_prefix"))


def throttle_settings(**overrides: int) -> Settings:
    values = {
        "login_failures_per_account": PER_ACCOUNT,
        "login_failures_per_address": PER_ADDRESS,
        "login_throttle_window_seconds": WINDOW,
        **overrides,
    }
    return make_settings("sqlite+aiosqlite:///unused.db", **values)


@pytest.fixture
def throttle(store: CounterStore) -> LoginThrottle:
    return LoginThrottle(throttle_settings(), store)


async def fail(throttle: LoginThrottle, keys: list[ThrottleKey], times: int) -> None:
    for _ in range(times):
        await throttle.attempt(keys)


def test_keys_hash_the_account_and_keep_the_address() -> None:
    # given a throttle
    throttle = LoginThrottle(throttle_settings(), MemoryCounters())

    # when the keys of a sign-in are made
    keys = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)

    # then the account key is a hash (no email in clear) and the address key is the address
    account, address = keys
    assert "tanaka" not in account.name
    assert account.name.startswith("account:")
    assert len(account.name) == len("account:") + 32
    assert (account.limit, address) == (PER_ACCOUNT, ThrottleKey(f"address:{OFFICE}", PER_ADDRESS))
    # and without an address there is only the account key
    assert throttle.keys(email="tanaka@pellets.example", client_address=None) == [account]


async def test_account_is_throttled_at_its_limit(throttle: LoginThrottle) -> None:
    # given an account one failure short of its limit
    keys = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    await fail(throttle, keys, PER_ACCOUNT - 1)
    before = await throttle.retry_after(keys)

    # when it fails once more
    await throttle.attempt(keys)

    # then it was let through before, and now must wait a positive time within the window
    after = await throttle.retry_after(keys)
    assert before is None
    assert after is not None
    assert 0 < after <= WINDOW


async def test_account_limit_counts_failures_from_every_address(throttle: LoginThrottle) -> None:
    # given failures for one account spread over several addresses, none at its address limit
    for index in range(PER_ACCOUNT):
        address = f"192.0.2.{index + 1}"
        await throttle.attempt(
            throttle.keys(email="tanaka@pellets.example", client_address=address)
        )

    # when the account signs in from yet another address, or another account from the first
    from_new_address = await throttle.retry_after(
        throttle.keys(email="tanaka@pellets.example", client_address=ELSEWHERE)
    )
    other_account = await throttle.retry_after(
        throttle.keys(email="sato@pellets.example", client_address="192.0.2.1")
    )

    # then the account is throttled wherever it comes from, and nobody else is
    assert from_new_address is not None
    assert 0 < from_new_address <= WINDOW
    assert other_account is None


async def test_address_is_throttled_across_accounts(throttle: LoginThrottle) -> None:
    # given failures from one address, each for a different account (none at its account limit)
    for index in range(PER_ADDRESS):
        await throttle.attempt(
            throttle.keys(email=f"guess{index}@pellets.example", client_address=OFFICE)
        )

    # when a fresh account tries from that address, and from elsewhere
    from_office = await throttle.retry_after(
        throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    )
    from_elsewhere = await throttle.retry_after(
        throttle.keys(email="tanaka@pellets.example", client_address=ELSEWHERE)
    )

    # then the address is throttled for every account, and the account elsewhere is not
    assert from_office is not None
    assert 0 < from_office <= WINDOW
    assert from_elsewhere is None


async def test_address_one_short_of_its_limit_is_not_throttled(throttle: LoginThrottle) -> None:
    # given failures from one address, one short of the address limit
    for index in range(PER_ADDRESS - 1):
        await throttle.attempt(
            throttle.keys(email=f"guess{index}@pellets.example", client_address=OFFICE)
        )

    # when a fresh account tries from that address, then it is let through
    assert (
        await throttle.retry_after(
            throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
        )
        is None
    )


async def test_success_clears_the_account_and_gives_back_only_its_own_address_attempt(
    store: CounterStore,
) -> None:
    # given an account that failed once at the office, and a colleague who failed there too
    throttle = LoginThrottle(
        throttle_settings(login_failures_per_account=2, login_failures_per_address=3), store
    )
    tanaka_at_office = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    await fail(throttle, tanaka_at_office, 1)
    await throttle.attempt(throttle.keys(email="sato@pellets.example", client_address=OFFICE))

    # when the account then signs in successfully (the attempt is counted, then succeeds)
    assert await throttle.attempt(tanaka_at_office) is None
    await throttle.record_success(tanaka_at_office)

    # then the account's own count is gone ...
    account, address = (key.name for key in tanaka_at_office)
    assert (await store.count(account))[0] == 0
    # ... and the office address keeps the two failures, but not the success
    assert (await store.count(address))[0] == 2


async def test_sign_in_without_an_address_is_throttled_per_account(
    throttle: LoginThrottle,
) -> None:
    # given an account that failed up to its limit with no known client address
    keys = throttle.keys(email="tanaka@pellets.example", client_address=None)
    await fail(throttle, keys, PER_ACCOUNT)

    # when it tries again, then it is throttled by its account counter alone
    retry_after = await throttle.retry_after(keys)
    assert retry_after is not None
    assert 0 < retry_after <= WINDOW


async def test_redis_counter_window_is_fixed_from_the_first_failure(
    redis: Redis, redis_prefix: str
) -> None:
    # given a Redis counter after a first failure, with most of its window already passed
    store = RedisCounters(redis, prefix=redis_prefix)
    throttle = LoginThrottle(throttle_settings(), store)
    keys = throttle.keys(email="tanaka@pellets.example", client_address=None)
    await throttle.attempt(keys)
    first_ttl = await redis.ttl(redis_prefix + keys[0].name)
    await redis.expire(redis_prefix + keys[0].name, 5)

    # when more failures follow
    await fail(throttle, keys, PER_ACCOUNT - 1)

    # then the first failure opened a window of the configured length, and later failures did
    # not extend it: the wait is what was left of it
    retry_after = await throttle.retry_after(keys)
    assert WINDOW - 2 <= first_ttl <= WINDOW
    assert retry_after is not None
    assert 0 < retry_after <= 5
    assert await redis.get(redis_prefix + keys[0].name) == str(PER_ACCOUNT).encode()


async def test_redis_counter_is_forgotten_when_its_window_ends(
    redis: Redis, redis_prefix: str
) -> None:
    # given an account throttled through Redis
    store = RedisCounters(redis, prefix=redis_prefix)
    throttle = LoginThrottle(throttle_settings(), store)
    keys = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    await fail(throttle, keys, PER_ACCOUNT)
    assert await throttle.retry_after(keys) is not None

    # when the window ends (its expiry moved into the past instead of waiting it out)
    for key in keys:
        await redis.expireat(redis_prefix + key.name, 1)

    # then the account may try again, and a new failure starts a fresh count of one
    assert await throttle.retry_after(keys) is None
    await throttle.attempt(keys)
    failures, remaining = await store.count(keys[0].name)
    assert failures == 1
    assert WINDOW - 2 <= remaining <= WINDOW


async def test_redis_keeps_no_email_in_clear(redis: Redis, redis_prefix: str) -> None:
    # given failures counted in Redis for an account
    throttle = LoginThrottle(throttle_settings(), RedisCounters(redis, prefix=redis_prefix))
    await throttle.attempt(throttle.keys(email="tanaka@pellets.example", client_address=OFFICE))

    # when the keys Redis holds are listed
    stored = sorted([key.decode() async for key in redis.scan_iter(match=redis_prefix + "*")])

    # then they are the hashed account and the address, with no email anywhere
    account = throttle.keys(email="tanaka@pellets.example", client_address=None)[0].name
    assert stored == sorted([redis_prefix + account, redis_prefix + f"address:{OFFICE}"])
    assert not any("tanaka" in key for key in stored)


async def test_counts_are_shared_between_stores_on_one_redis(
    redis: Redis, redis_prefix: str
) -> None:
    # given two app instances, each with its own RedisCounters on the same Redis
    first = LoginThrottle(throttle_settings(), RedisCounters(redis, prefix=redis_prefix))
    second = LoginThrottle(throttle_settings(), RedisCounters(redis, prefix=redis_prefix))
    keys = first.keys(email="tanaka@pellets.example", client_address=OFFICE)

    # when the failures are split between them
    await fail(first, keys, PER_ACCOUNT - 1)
    await fail(second, keys, 1)

    # then both see the account at its limit
    assert await first.retry_after(keys) is not None
    assert await second.retry_after(keys) is not None


async def test_memory_counters_are_per_instance() -> None:
    # given two app instances with memory counters
    first = LoginThrottle(throttle_settings(), MemoryCounters())
    second = LoginThrottle(throttle_settings(), MemoryCounters())
    keys = first.keys(email="tanaka@pellets.example", client_address=OFFICE)

    # when one of them counts the account to its limit
    await fail(first, keys, PER_ACCOUNT)

    # then only that one throttles it (the reason Redis exists for several instances)
    assert (await first.retry_after(keys) is not None, await second.retry_after(keys)) == (
        True,
        None,
    )


async def test_giving_back_an_attempt_after_the_window_creates_no_counter(
    store: CounterStore,
) -> None:
    # given no counter (its window ended), when an attempt is given back, then none appears:
    # a DECR on a missing Redis key would make a negative counter that never expires
    await store.release("address:198.51.100.99")
    assert await store.count("address:198.51.100.99") == (0, 0)
