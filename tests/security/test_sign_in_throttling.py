"""Sign-in throttling without lockouts of the innocent (issue 15, item 7, after OWASP): back-off
per (account, address) pair that doubles, a loose per-account ceiling against sprays over many
addresses, a very loose per-address ceiling, and pairs that signed in before passing both
ceilings."""

from __future__ import annotations

from typing import Any

from backend.auth.throttle import LoginThrottle, MemoryCounters
from backend.kit.db import Database
from tests.conftest import make_settings
from tests.security.kit import app_client, outcome, register, sign_in

ATTACKER = "198.51.100.66"
OWNER_HOME = "203.0.113.7"
OWNER_PHONE = "192.0.2.44"
NAT = "203.0.113.200"
EMAIL = "tanaka@pellets.example"
WRONG = "wrong password entirely"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle_with_clock(**overrides: Any) -> tuple[LoginThrottle, Clock]:
    clock = Clock()
    values = {
        "login_free_failures_per_pair": 3,
        "login_backoff_base_seconds": 30,
        "login_backoff_max_seconds": 3600,
        **overrides,
    }
    settings = make_settings("sqlite+aiosqlite:///unused.db", **values)
    return LoginThrottle(settings, MemoryCounters(now=clock)), clock


async def test_back_off_doubles_per_pair_and_leaves_other_addresses_alone() -> None:
    # given a pair that has used its three free failures
    throttle, clock = throttle_with_clock()
    attacker = throttle.keys(email=EMAIL, client_address=ATTACKER)
    assert [await throttle.attempt(attacker) for _ in range(3)] == [None, None, None]

    # when it tries again at once, and again each time the wait it was given has passed
    waits = []
    for _ in range(6):
        wait = await throttle.attempt(attacker)
        assert wait is not None
        waits.append(wait)
        clock.now += wait
        assert await throttle.attempt(attacker) is None  # the one attempt the wait allows

    # then each wait is twice the last, up to the maximum
    assert waits == [30, 60, 120, 240, 480, 960]
    # and the same account from another address is not slowed at all
    assert await throttle.attempt(throttle.keys(email=EMAIL, client_address=OWNER_HOME)) is None


async def test_back_off_stops_at_its_maximum() -> None:
    throttle, clock = throttle_with_clock(login_backoff_max_seconds=100)
    keys = throttle.keys(email=EMAIL, client_address=ATTACKER)
    waits = []
    for _ in range(3 + 5):
        wait = await throttle.attempt(keys)
        if wait is not None:
            waits.append(wait)
            clock.now += wait
            await throttle.attempt(keys)
    assert waits == [30, 60, 100, 100, 100]


async def test_owner_with_the_right_password_from_a_clean_address_gets_in(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given an account, and an attacker address that guessed ten times
    settings = make_settings(database_url)
    async with app_client(settings, db) as client:
        attacker, owner = client(ATTACKER), client(OWNER_HOME)
        assert outcome(await register(owner, EMAIL, cluster_id)) == "OK"
        guesses = [await sign_in(attacker, EMAIL, WRONG) for _ in range(10)]

        # when the owner signs in from their own address, and the attacker tries the right
        # password (say it was found) while backed off
        owners = await sign_in(owner, EMAIL)
        attackers = await sign_in(attacker, EMAIL)

    # then three guesses were checked, the rest were THROTTLED with the first back-off (30 s,
    # the gate of the third failure: refused attempts do not lengthen it)
    assert [outcome(p) for p in guesses] == ["INVALID_CREDENTIALS"] * 3 + ["THROTTLED"] * 7
    assert {p["errors"][0]["retryAfter"] for p in guesses[3:]} <= set(range(1, 31))
    assert outcome(attackers) == "THROTTLED"
    # and the owner got in
    assert outcome(owners) == "OK"
    assert owners["accessToken"]


async def test_a_spray_over_many_addresses_reaches_the_account_ceiling_but_not_the_owner(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given an account ceiling of five failures an hour, and an owner who signed in from home
    settings = make_settings(database_url, login_failures_per_account=5)
    async with app_client(settings, db) as client:
        home = client(OWNER_HOME)
        assert outcome(await register(home, EMAIL, cluster_id)) == "OK"
        assert outcome(await sign_in(home, EMAIL)) == "OK"

        # when eight addresses guess once each
        spray = [await sign_in(client(f"192.0.2.{n}"), EMAIL, WRONG) for n in range(1, 9)]

        # and the owner signs in from home, and from a phone never used before
        from_home = await sign_in(home, EMAIL)
        from_phone = await sign_in(client(OWNER_PHONE), EMAIL)

    # then five guesses were checked and the spray was stopped for the rest of the hour
    assert [outcome(p) for p in spray] == ["INVALID_CREDENTIALS"] * 5 + ["THROTTLED"] * 3
    assert all(0 < p["errors"][0]["retryAfter"] <= 3600 for p in spray[5:])
    # and the owner gets in from home (a known pair without failures); a new address waits
    # like any other until the spray's hour ends
    assert outcome(from_home) == "OK"
    assert outcome(from_phone) == "THROTTLED"


async def test_failures_behind_one_nat_do_not_lock_out_a_colleague(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given twelve people behind one NAT address who each get their password wrong three
    # times (36 failures: more than the 30 that used to lock the address), and a colleague
    settings = make_settings(database_url)
    async with app_client(settings, db) as client:
        nat = client(NAT)
        assert outcome(await register(nat, "colleague@pellets.example", cluster_id)) == "OK"
        failures = [
            await sign_in(nat, f"p{n}@pellets.example", WRONG) for n in range(12) for _ in range(3)
        ]

        # when the colleague, who has not failed, signs in from the same address
        colleague = await sign_in(nat, "colleague@pellets.example")

    # then every failure was checked, and the colleague gets in
    assert {outcome(p) for p in failures} == {"INVALID_CREDENTIALS"}
    assert outcome(colleague) == "OK"


async def test_a_known_pair_passes_the_address_ceiling(
    db: Database, database_url: str, cluster_id: str
) -> None:
    # given an address ceiling of four failures, and a colleague who signed in there before
    settings = make_settings(database_url, login_failures_per_address=4)
    async with app_client(settings, db) as client:
        nat = client(NAT)
        assert outcome(await register(nat, "colleague@pellets.example", cluster_id)) == "OK"
        assert outcome(await register(nat, "newcomer@pellets.example", cluster_id)) == "OK"
        assert outcome(await sign_in(nat, "colleague@pellets.example")) == "OK"

        # when others fail five times from that address
        failures = [await sign_in(nat, f"p{n}@pellets.example", WRONG) for n in range(5)]

        # and the colleague and a newcomer to the address sign in
        colleague = await sign_in(nat, "colleague@pellets.example")
        newcomer = await sign_in(nat, "newcomer@pellets.example")

    # then the address reached its ceiling, the colleague still gets in, the newcomer waits
    assert [outcome(p) for p in failures] == ["INVALID_CREDENTIALS"] * 4 + ["THROTTLED"]
    assert outcome(colleague) == "OK"
    assert outcome(newcomer) == "THROTTLED"
