"""Sign-in throttling's counters, in memory and in the real Redis (the rules themselves are
tested through the API in tests/security/test_sign_in_throttling.py).

Each Redis test uses a key prefix of its own and deletes its keys afterwards, so runs never see
each other's counts.
"""

from __future__ import annotations

import uuid

import pytest
from redis.asyncio import Redis

from backend.auth.throttle import (
    CounterStore,
    LoginThrottle,
    MemoryCounters,
    RedisCounters,
    SignInKeys,
)
from backend.settings import Settings
from tests.conftest import make_settings

WINDOW = 900
PER_ACCOUNT = 3
PER_ADDRESS = 5
FREE = 2
BASE = 30
OFFICE = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


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
        "login_free_failures_per_pair": FREE,
        "login_backoff_base_seconds": BASE,
        **overrides,
    }
    return make_settings("sqlite+aiosqlite:///unused.db", **values)


@pytest.fixture
def throttle(store: CounterStore) -> LoginThrottle:
    return LoginThrottle(throttle_settings(), store)


async def fail(throttle: LoginThrottle, keys: SignInKeys, times: int) -> list[int | None]:
    return [await throttle.attempt(keys) for _ in range(times)]


def test_keys_hash_the_account_and_keep_the_address() -> None:
    # given a throttle
    throttle = LoginThrottle(throttle_settings(), MemoryCounters())

    # when the keys of a sign-in are made
    keys = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)

    # then the account is a hash (no email in clear) and the address is kept
    account = keys.account.removeprefix("account:")
    assert len(account) == 32
    assert "tanaka" not in str(keys)
    assert keys == SignInKeys(
        account=f"account:{account}",
        address=f"address:{OFFICE}",
        pair=f"pair:{account}:{OFFICE}",
        gate=f"gate:{account}:{OFFICE}",
        known=f"known:{account}:{OFFICE}",
    )
    # and without an address there is no address ceiling, and the pair is the account's own
    alone = throttle.keys(email="tanaka@pellets.example", client_address=None)
    assert (alone.address, alone.pair) == (None, f"pair:{account}:-")


async def test_account_ceiling_counts_failures_from_every_address(
    throttle: LoginThrottle,
) -> None:
    # given failures for one account from as many addresses as its ceiling
    for index in range(PER_ACCOUNT):
        keys = throttle.keys(email="tanaka@pellets.example", client_address=f"192.0.2.{index}")
        assert await throttle.attempt(keys) is None

    # when it is tried from yet another address, and another account from the first
    from_new_address = await throttle.attempt(
        throttle.keys(email="tanaka@pellets.example", client_address=ELSEWHERE)
    )
    other_account = await throttle.attempt(
        throttle.keys(email="sato@pellets.example", client_address="192.0.2.0")
    )

    # then the account waits within the window wherever it comes from, and nobody else does
    assert from_new_address is not None
    assert 0 < from_new_address <= WINDOW
    assert other_account is None


async def test_address_ceiling_counts_failures_across_accounts(throttle: LoginThrottle) -> None:
    # given failures from one address, each for a different account, as many as its ceiling
    for index in range(PER_ADDRESS):
        keys = throttle.keys(email=f"guess{index}@pellets.example", client_address=OFFICE)
        assert await throttle.attempt(keys) is None

    # when a fresh account tries from that address, and from elsewhere
    from_office = await throttle.attempt(
        throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    )
    from_elsewhere = await throttle.attempt(
        throttle.keys(email="tanaka@pellets.example", client_address=ELSEWHERE)
    )

    # then the address waits for every new pair, and the account elsewhere does not
    assert from_office is not None
    assert 0 < from_office <= WINDOW
    assert from_elsewhere is None


async def test_pair_back_off_starts_after_its_free_failures(
    throttle: LoginThrottle, store: CounterStore
) -> None:
    # given a pair, when it fails as often as it may for free and then tries again at once
    keys = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    outcomes = await fail(throttle, keys, FREE + 2)

    # then the free ones went through and the others wait for the first back-off
    assert outcomes[:FREE] == [None] * FREE
    assert all(wait is not None and 0 < wait <= BASE for wait in outcomes[FREE:])
    # and a refused attempt is given back: it checked no password
    assert (await store.count(keys.pair))[0] == FREE


async def test_success_forgets_the_pair_and_gives_back_only_its_own_attempt(
    throttle: LoginThrottle, store: CounterStore
) -> None:
    # given an account that failed at the office into a back-off, and a colleague's failure
    tanaka = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    await fail(throttle, tanaka, FREE)
    await throttle.attempt(throttle.keys(email="sato@pellets.example", client_address=OFFICE))

    # when the account then signs in successfully from there (the gate given up for it)
    await store.clear(tanaka.gate)
    assert await throttle.attempt(tanaka) is None
    await throttle.record_success(tanaka)

    # then the pair is forgotten and known, the account keeps its two failures, and the
    # office keeps the three failures but not the success
    assert [(await store.count(key))[0] for key in (tanaka.pair, tanaka.gate, tanaka.known)] == [
        0,
        0,
        1,
    ]
    assert (await store.count(tanaka.account))[0] == FREE
    assert tanaka.address is not None
    assert (await store.count(tanaka.address))[0] == FREE + 1


async def test_claim_sets_a_gate_only_once(store: CounterStore) -> None:
    # given a gate claimed for 30 seconds, when it is claimed again, then it says how long is left
    assert await store.claim("gate:x:198.51.100.9", 30) == 0
    assert 0 < await store.claim("gate:x:198.51.100.9", 60) <= 30


async def test_redis_counter_window_is_fixed_from_the_first_failure(
    redis: Redis, redis_prefix: str
) -> None:
    # given a Redis account counter after a first failure, with most of its window passed
    store = RedisCounters(redis, prefix=redis_prefix)
    throttle = LoginThrottle(throttle_settings(), store)
    keys = [
        throttle.keys(email="tanaka@pellets.example", client_address=f"192.0.2.{n}")
        for n in range(PER_ACCOUNT + 1)
    ]
    await throttle.attempt(keys[0])
    first_ttl = await redis.ttl(redis_prefix + keys[0].account)
    await redis.expire(redis_prefix + keys[0].account, 5)

    # when more failures follow (each from an address of its own) up to the ceiling
    for later in keys[1:PER_ACCOUNT]:
        await throttle.attempt(later)
    retry_after = await throttle.attempt(keys[PER_ACCOUNT])

    # then the first failure opened a window of the configured length, and later failures did
    # not extend it: the wait is what was left of it
    assert WINDOW - 2 <= first_ttl <= WINDOW
    assert retry_after is not None
    assert 0 < retry_after <= 5
    assert await redis.get(redis_prefix + keys[0].account) == str(PER_ACCOUNT).encode()


async def test_redis_counter_is_forgotten_when_its_window_ends(
    redis: Redis, redis_prefix: str
) -> None:
    # given a pair backed off through Redis (with an account ceiling it does not reach)
    store = RedisCounters(redis, prefix=redis_prefix)
    throttle = LoginThrottle(throttle_settings(login_failures_per_account=10), store)
    keys = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    await fail(throttle, keys, FREE)
    assert await throttle.attempt(keys) is not None

    # when its gate ends (its expiry moved into the past instead of waiting it out)
    await redis.expireat(redis_prefix + keys.gate, 1)

    # then the pair may try once more, and is then backed off twice as long
    assert await throttle.attempt(keys) is None
    wait = await throttle.attempt(keys)
    assert wait is not None
    assert 2 * BASE - 2 <= wait <= 2 * BASE


async def test_redis_keeps_no_email_in_clear(redis: Redis, redis_prefix: str) -> None:
    # given a failure and a success counted in Redis for an account
    throttle = LoginThrottle(throttle_settings(), RedisCounters(redis, prefix=redis_prefix))
    keys = throttle.keys(email="tanaka@pellets.example", client_address=OFFICE)
    await throttle.attempt(keys)
    await throttle.attempt(keys)
    await throttle.record_success(keys)

    # when the keys Redis holds are listed
    stored = sorted([key.decode() async for key in redis.scan_iter(match=redis_prefix + "*")])

    # then they are the hashed account, the address and the known pair, with no email anywhere
    assert keys.address is not None
    assert stored == sorted(redis_prefix + key for key in (keys.account, keys.address, keys.known))
    assert not any("tanaka" in key for key in stored)


async def test_back_off_is_shared_between_stores_on_one_redis(
    redis: Redis, redis_prefix: str
) -> None:
    # given two app instances, each with its own RedisCounters on the same Redis
    first = LoginThrottle(throttle_settings(), RedisCounters(redis, prefix=redis_prefix))
    second = LoginThrottle(throttle_settings(), RedisCounters(redis, prefix=redis_prefix))
    keys = first.keys(email="tanaka@pellets.example", client_address=OFFICE)

    # when the free failures are split between them
    await fail(first, keys, FREE - 1)
    await fail(second, keys, 1)

    # then both back the pair off
    assert await first.attempt(keys) is not None
    assert await second.attempt(keys) is not None


async def test_memory_counters_are_per_instance() -> None:
    # given two app instances with memory counters
    first = LoginThrottle(throttle_settings(), MemoryCounters())
    second = LoginThrottle(throttle_settings(), MemoryCounters())
    keys = first.keys(email="tanaka@pellets.example", client_address=OFFICE)

    # when one of them counts the pair into its back-off
    await fail(first, keys, FREE)

    # then only that one backs it off (the reason Redis exists for several instances)
    assert (await first.attempt(keys) is not None, await second.attempt(keys)) == (True, None)


async def test_giving_back_an_attempt_after_the_window_creates_no_counter(
    store: CounterStore,
) -> None:
    # given no counter (its window ended), when an attempt is given back, then none appears:
    # a DECR on a missing Redis key would make a negative counter that never expires
    await store.release("address:198.51.100.99")
    assert await store.count("address:198.51.100.99") == (0, 0)


async def test_an_attempt_given_back_leaves_no_count_and_lifts_its_gate(
    throttle: LoginThrottle, store: CounterStore
) -> None:
    # given a pair whose next attempt sets the gate of a back-off (FREE failures made)
    keys = throttle.keys(email=f"{uuid.uuid4().hex}@pellets.example", client_address=OFFICE)
    assert await fail(throttle, keys, FREE - 1) == [None] * (FREE - 1)
    gated = await throttle.begin(keys)
    assert (gated.wait, gated.gate) == (None, True)

    # when that attempt checked no password (the database was away) and is given back
    await throttle.give_back(gated)

    # then the counts are as before it, and the next attempt goes ahead (setting the gate again)
    assert (await store.count(keys.pair))[0] == FREE - 1
    assert (await store.count(keys.account))[0] == FREE - 1
    assert (await store.count(keys.gate))[0] == 0
    assert await throttle.attempt(keys) is None
    assert await throttle.attempt(keys) == BASE
