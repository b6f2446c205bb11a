"""Passwords: argon2id hashes, and the same argon2 work whether or not the account exists."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import PasswordHasher

from backend.auth.passwords import Passwords
from tests.conftest import PASSWORD, make_settings


class CountingHasher:
    """Wraps the real argon2 PasswordHasher and records its verify calls (a spy, not a mock).

    ``outcomes`` holds one entry per call: True when argon2 matched, False when it refused.
    """

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher
        self.outcomes: list[bool] = []

    @property
    def verify_calls(self) -> int:
        return len(self.outcomes)

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        try:
            matched = self._hasher.verify(hash, password)
        except Exception:
            self.outcomes.append(False)
            raise
        self.outcomes.append(matched)
        return matched

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hasher, name)


@pytest.fixture
def passwords() -> Passwords:
    return Passwords(make_settings("sqlite+aiosqlite:///unused.db"))


@pytest.fixture
def spy(passwords: Passwords) -> CountingHasher:
    counting = CountingHasher(passwords._hasher)
    passwords._hasher = counting  # type: ignore[assignment]
    return counting


async def test_hash_is_argon2id_with_the_configured_cost(passwords: Passwords) -> None:
    # when a password is hashed
    password_hash = await passwords.hash(PASSWORD)

    # then it is an argon2id hash with the settings' cost, and it does not contain the password
    assert password_hash.startswith("$argon2id$v=19$m=1024,t=1,p=1$")
    assert PASSWORD not in password_hash


async def test_hashing_twice_gives_different_salts(passwords: Passwords) -> None:
    # when the same password is hashed twice, then the hashes differ (a fresh salt each time)
    assert await passwords.hash(PASSWORD) != await passwords.hash(PASSWORD)


async def test_verify_accepts_the_right_password(passwords: Passwords, spy: CountingHasher) -> None:
    # given a stored hash
    password_hash = await passwords.hash(PASSWORD)

    # when the same password is verified, then it matches after one argon2 verify
    assert await passwords.verify(password_hash, PASSWORD) is True
    assert spy.verify_calls == 1


@pytest.mark.parametrize(
    "attempt",
    ["correct horse battery ", "Correct horse battery", "", "wrong password entirely"],
)
async def test_verify_refuses_a_wrong_password(passwords: Passwords, attempt: str) -> None:
    # given a stored hash
    password_hash = await passwords.hash(PASSWORD)

    # when a different password is verified, then it does not match
    assert await passwords.verify(password_hash, attempt) is False


@pytest.mark.parametrize("stored", ["", "not-a-hash", "$argon2id$v=19$m=1024,t=1,p=1$broken"])
async def test_verify_refuses_against_a_damaged_hash(passwords: Passwords, stored: str) -> None:
    # when a password is verified against something that is not a valid hash,
    # then it is refused rather than raising
    assert await passwords.verify(stored, PASSWORD) is False


async def test_known_account_costs_one_argon2_verify(
    passwords: Passwords, spy: CountingHasher
) -> None:
    # given a stored hash
    password_hash = await passwords.hash(PASSWORD)

    # when a wrong password is verified against it
    matched = await passwords.verify(password_hash, "wrong password entirely")

    # then it is refused after exactly one argon2 verify
    assert (matched, spy.outcomes) == (False, [False])


async def test_unknown_account_is_refused_after_one_argon2_verify(
    passwords: Passwords, spy: CountingHasher
) -> None:
    # given no account (no stored hash)

    # when a password is verified for it
    matched = await passwords.verify(None, PASSWORD)

    # then it is refused, and argon2 still ran once, as for a known account
    assert (matched, spy.outcomes) == (False, [False])


async def test_unknown_account_is_refused_even_with_the_decoy_password(
    passwords: Passwords, spy: CountingHasher
) -> None:
    # given no account, and an attacker who knows the decoy password the unknown path checks
    decoy = "eic-decoy-password-for-unknown-accounts"

    # when that password is verified for the missing account
    matched = await passwords.verify(None, decoy)

    # then the decoy matched inside argon2 but the result is still a refusal
    assert (matched, spy.outcomes) == (False, [True])


async def test_needs_rehash_when_the_cost_goes_up(passwords: Passwords) -> None:
    # given a hash made with the cheap test cost
    password_hash = await passwords.hash(PASSWORD)
    stronger = Passwords(make_settings("sqlite+aiosqlite:///unused.db", argon2_time_cost=2))

    # when asked whether it needs a rehash, then the same cost says no and a higher cost says yes
    assert (passwords.needs_rehash(password_hash), stronger.needs_rehash(password_hash)) == (
        False,
        True,
    )
