"""Sign-in sessions through the GraphQL API: tokenCreate, tokenRefresh, tokenRevoke and `me`.

Covers the generic credential error, login throttling (in one process and shared through Redis),
refresh-token rotation with reuse detection, token types, the active organisation and platform
admins.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest.mock import ANY

import httpx
from redis.asyncio import Redis
from sqlalchemy import delete, update

from backend.app import create_app
from backend.auth.security import Security
from backend.auth.throttle import LoginThrottle, MemoryCounters
from backend.auth.tokens import Tokens
from backend.auth.viewer import Role
from backend.identity import service as identity_service
from backend.identity.models import Membership, User
from backend.kit.db import Database, utcnow
from backend.settings import Settings
from tests.conftest import PASSWORD, REGISTER, SIGN_IN, GraphQL, make_settings, organisation_input

REFRESH = """
mutation Refresh($input: TokenRefreshInput!) {
  tokenRefresh(input: $input) {
    accessToken refreshToken expiresAt refreshExpiresAt role organisationId
    errors { code message field }
  }
}
"""
REVOKE = """
mutation Revoke($input: TokenRevokeInput!) {
  tokenRevoke(input: $input) { revoked errors { code message field } }
}
"""
ME = """
query {
  me {
    user { id email displayName isPlatformAdmin }
    role
    organisation { id name kind }
    memberships { role organisation { id name } }
  }
}
"""
INVITE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) { invite { code } errors { code message field } }
}
"""
JOIN = """
mutation Join($input: OrganisationJoinInput!) {
  organisationJoin(input: $input) {
    membership { role organisation { id } }
    errors { code message field }
  }
}
"""

REDIS_URL = "redis://127.0.0.1:6379/0"
THROTTLE_PREFIX = "eic:login-throttle:"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(days=30)
GENERIC_FAILURE = {
    "code": "INVALID_CREDENTIALS",
    "message": "The email or password is incorrect",
    "field": None,
}


class Jwt:
    """Equal to any compact JWT (three dot-separated parts): tokens are random, their shape is
    not."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", other) is not None

    def __repr__(self) -> str:
        return "<a JWT>"


def failed_token(*errors: dict[str, Any]) -> dict[str, Any]:
    """A TokenPayload that carries only errors."""
    return {
        "accessToken": None,
        "refreshToken": None,
        "expiresAt": None,
        "refreshExpiresAt": None,
        "role": None,
        "organisationId": None,
        "errors": list(errors),
    }


def token_pair(role: str, organisation_id: str | None) -> dict[str, Any]:
    """A successful TokenPayload; the times are checked separately with :func:`assert_lifetimes`."""
    return {
        "accessToken": Jwt(),
        "refreshToken": Jwt(),
        "expiresAt": ANY,
        "refreshExpiresAt": ANY,
        "role": role,
        "organisationId": organisation_id,
        "errors": [],
    }


def assert_lifetimes(payload: dict[str, Any], before: datetime, after: datetime) -> None:
    expires_at = datetime.fromisoformat(payload["expiresAt"])
    refresh_expires_at = datetime.fromisoformat(payload["refreshExpiresAt"])
    assert before + ACCESS_TTL <= expires_at <= after + ACCESS_TTL
    assert before + REFRESH_TTL <= refresh_expires_at <= after + REFRESH_TTL


async def sign_in(gql: GraphQL, email: str, password: str = PASSWORD, **extra: Any) -> Any:
    body = await gql(SIGN_IN, {"input": {"email": email, "password": password, **extra}}, token="")
    return body["data"]["tokenCreate"]


async def refresh(gql: GraphQL, refresh_token: str) -> Any:
    body = await gql(REFRESH, {"input": {"refreshToken": refresh_token}}, token="")
    return body["data"]["tokenRefresh"]


async def sign_up(gql: GraphQL, email: str, cluster_id: str, name: str, kind: str = "FIRM") -> None:
    """Register without signing in, so no sign-in is counted before the test's own."""
    body = await gql(
        REGISTER,
        {
            "input": {
                "email": email,
                "password": PASSWORD,
                "displayName": email.split("@")[0],
                "organisation": organisation_input(cluster_id, name=name, kind=kind),
            }
        },
        token="",
    )
    assert body["data"]["accountRegister"]["errors"] == [], body


@asynccontextmanager
async def app_client(settings: Settings, db: Database) -> AsyncIterator[GraphQL]:
    """A separate app instance (its own Security, so its own throttle) on the same database."""
    app = create_app(settings, db=db)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://eic.test") as http:
        yield GraphQL(http)


# ---------------------------------------------------------------------------------------------
# tokenCreate


async def test_sign_in_returns_a_fifteen_minute_token_pair_for_the_organisation(
    gql: GraphQL, cluster_id: str
) -> None:
    # given a registered firm admin
    await sign_up(gql, "tanaka@pellets.example", cluster_id, "Katsuyama Pellet Works")

    # when they sign in
    before = utcnow()
    body = await gql(
        SIGN_IN,
        {"input": {"email": "tanaka@pellets.example", "password": PASSWORD}},
        token="",
    )
    after = utcnow()

    # then they get a pair for their firm, the access token living 15 minutes
    pair = body["data"]["tokenCreate"]
    me = await gql(ME, token=pair["accessToken"])
    organisation = me["data"]["me"]["organisation"]
    assert body["data"]["tokenCreate"] == token_pair("FIRM", organisation["id"])
    assert body == {"data": {"tokenCreate": pair}}
    assert_lifetimes(pair, before, after)
    assert pair["accessToken"] != pair["refreshToken"]
    assert organisation == {
        "id": organisation["id"],
        "name": "Katsuyama Pellet Works",
        "kind": "FIRM",
    }


async def test_me_shows_the_signed_in_person(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a signed-in firm admin
    account = await register("tanaka@pellets.example", cluster_id)

    # when they ask who they are
    body = await gql(ME, token=account.access_token)

    # then they see themselves, their role, their firm and their membership of it
    firm = {"id": account.organisation_id, "name": "Katsuyama Pellet Works"}
    assert body == {
        "data": {
            "me": {
                "user": {
                    "id": account.user_id,
                    "email": "tanaka@pellets.example",
                    "displayName": "tanaka",
                    "isPlatformAdmin": False,
                },
                "role": "FIRM",
                "organisation": {**firm, "kind": "FIRM"},
                "memberships": [{"role": "ADMIN", "organisation": firm}],
            }
        }
    }


async def test_wrong_password_and_unknown_email_fail_alike(
    gql: GraphQL, db: Database, cluster_id: str
) -> None:
    # given one registered account, and one that has been disabled
    await sign_up(gql, "tanaka@pellets.example", cluster_id, "Katsuyama Pellet Works")
    await sign_up(gql, "sato@pellets.example", cluster_id, "Sato Timber")
    async with db.write() as session:
        await session.execute(
            update(User).where(User.email == "sato@pellets.example").values(is_active=False)
        )

    # when someone signs in with a wrong password, an unknown email, a disabled account's right
    # password, or something that is not an email at all
    attempts = [
        ("tanaka@pellets.example", "wrong password entirely"),
        ("nobody@pellets.example", PASSWORD),
        ("sato@pellets.example", PASSWORD),
        ("not an email", PASSWORD),
    ]
    bodies = [
        await gql(SIGN_IN, {"input": {"email": email, "password": password}}, token="")
        for email, password in attempts
    ]

    # then every answer is the same generic failure, revealing nothing about the account
    assert bodies == [{"data": {"tokenCreate": failed_token(GENERIC_FAILURE)}}] * len(attempts)


async def test_email_is_case_insensitive(gql: GraphQL, cluster_id: str) -> None:
    # given an account registered with a lower-case email
    await sign_up(gql, "tanaka@pellets.example", cluster_id, "Katsuyama Pellet Works")

    # when they sign in with the email in other case and surrounded by spaces
    pair = await sign_in(gql, "  Tanaka@Pellets.EXAMPLE ")

    # then they are signed in
    assert pair == token_pair("FIRM", pair["organisationId"])
    me = await gql(ME, token=pair["accessToken"])
    assert me["data"]["me"]["user"]["email"] == "tanaka@pellets.example"


async def test_pair_is_backed_off_after_three_failures_even_with_the_right_password(
    gql: GraphQL, cluster_id: str
) -> None:
    # given an account that failed to sign in three times from one address (in any letter case
    # of the email)
    await sign_up(gql, "tanaka@pellets.example", cluster_id, "Katsuyama Pellet Works")
    await sign_up(gql, "sato@pellets.example", cluster_id, "Sato Timber")
    failures = [
        await sign_in(gql, email, "wrong password entirely")
        for email in ["tanaka@pellets.example", "TANAKA@pellets.example", "Tanaka@Pellets.Example"]
    ]

    # when the right password is given at once from the same address
    body = await gql(
        SIGN_IN,
        {"input": {"email": "tanaka@pellets.example", "password": PASSWORD}},
        token="",
    )

    # then every failure was the generic one, and the fourth attempt waits for the first
    # back-off of 30 seconds
    assert failures == [failed_token(GENERIC_FAILURE)] * 3
    error = body["data"]["tokenCreate"]["errors"][0]
    wait = re.fullmatch(r"Too many failed sign-ins; try again in (\d+) seconds", error["message"])
    assert wait is not None, error
    assert 0 < int(wait.group(1)) <= 30
    assert body == {
        "data": {
            "tokenCreate": failed_token(
                {"code": "THROTTLED", "message": error["message"], "field": None}
            )
        }
    }
    # and another account from the same address is not affected
    assert (await sign_in(gql, "sato@pellets.example"))["errors"] == []


async def test_concurrent_wrong_passwords_cannot_exceed_the_free_failures(
    gql: GraphQL, cluster_id: str
) -> None:
    # given a registered account
    await sign_up(gql, "tanaka@pellets.example", cluster_id, "Katsuyama Pellet Works")

    # when an attacker sends twelve guesses at once instead of one after another
    bodies = await asyncio.gather(
        *[
            gql(
                SIGN_IN,
                {"input": {"email": "tanaka@pellets.example", "password": f"guess number {n}"}},
                token="",
            )
            for n in range(12)
        ]
    )

    # then no more than the three free ones are checked; the other nine are throttled
    codes = Counter(body["data"]["tokenCreate"]["errors"][0]["code"] for body in bodies)
    assert codes == {"INVALID_CREDENTIALS": 3, "THROTTLED": 9}


async def test_successful_sign_in_resets_the_pair_count(gql: GraphQL, cluster_id: str) -> None:
    # given an account that failed twice and then signed in
    await sign_up(gql, "tanaka@pellets.example", cluster_id, "Katsuyama Pellet Works")
    for _ in range(2):
        await sign_in(gql, "tanaka@pellets.example", "wrong password entirely")
    assert (await sign_in(gql, "tanaka@pellets.example"))["errors"] == []

    # when it fails twice more
    late_failures = [
        await sign_in(gql, "tanaka@pellets.example", "wrong password entirely") for _ in range(2)
    ]

    # then those count from zero: they are plain failures and the right password still works
    assert late_failures == [failed_token(GENERIC_FAILURE)] * 2
    assert (await sign_in(gql, "tanaka@pellets.example"))["errors"] == []


async def test_address_ceiling_throttles_new_pairs_across_accounts(
    gql: GraphQL, db: Database, database_url: str, cluster_id: str
) -> None:
    # given an app that allows three failures per address, and two accounts
    await sign_up(gql, "tanaka@pellets.example", cluster_id, "Katsuyama Pellet Works")
    await sign_up(gql, "sato@pellets.example", cluster_id, "Sato Timber")
    settings = make_settings(database_url, login_failures_per_address=3)
    async with app_client(settings, db) as office:
        # and three failures, each for another unknown account, from one address
        failures = [
            await sign_in(office, f"guess{n}@pellets.example", "wrong password entirely")
            for n in range(3)
        ]

        # when an account that never signed in from there signs in with its right password
        pair = await sign_in(office, "sato@pellets.example")

    # then it is throttled too (a known pair would pass: tests/security)
    assert failures == [failed_token(GENERIC_FAILURE)] * 3
    assert pair == failed_token({"code": "THROTTLED", "message": ANY, "field": None})
    assert pair["errors"][0]["message"].startswith("Too many failed sign-ins; try again in ")


async def test_throttle_is_shared_between_app_instances_through_redis(
    gql: GraphQL, db: Database, database_url: str, cluster_id: str
) -> None:
    # given two app instances counting in one Redis, behind a proxy that names the client
    # address; the email and the address are unique to this run, so runs sharing the Redis (on
    # SQLite and PostgreSQL at once, say) never count into each other's keys
    run = uuid.uuid4().hex
    email = f"tanaka-{run[:8]}@pellets.example"
    address = f"2001:db8:{run[8:12]}:{run[12:16]}::{run[16:20]}"  # a /64 of its own
    await sign_up(gql, email, cluster_id, "Katsuyama Pellet Works")
    settings = make_settings(database_url, redis_url=REDIS_URL, trust_forwarded_for=True)
    # the app hashes the email into its keys; a LoginThrottle names the same keys for the cleanup
    names = LoginThrottle(settings, MemoryCounters()).keys(email=email, client_address=address)
    redis_keys = [
        THROTTLE_PREFIX + key
        for key in (names.account, names.address or "", names.pair, names.gate, names.known)
    ]
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(*redis_keys)
    try:
        async with app_client(settings, db) as first, app_client(settings, db) as second:
            headers = {"X-Forwarded-For": address}
            wrong = {"email": email, "password": "wrong password entirely"}
            right = {"email": email, "password": PASSWORD}
            # and two failures on the first instance and one on the second (three in all)
            failures = [
                await first(SIGN_IN, {"input": wrong}, headers=headers) for _ in range(2)
            ] + [await second(SIGN_IN, {"input": wrong}, headers=headers)]

            # when the account signs in with the right password on each instance
            on_first = await first(SIGN_IN, {"input": right}, headers=headers)
            on_second = await second(SIGN_IN, {"input": right}, headers=headers)

        # then both refuse it: each saw all three failures, not only its own
        assert failures == [{"data": {"tokenCreate": failed_token(GENERIC_FAILURE)}}] * 3
        throttled = failed_token({"code": "THROTTLED", "message": ANY, "field": None})
        assert on_first == {"data": {"tokenCreate": throttled}}
        assert on_second == {"data": {"tokenCreate": throttled}}
        # and Redis holds exactly the failures (the refused attempts were given back) and the
        # pair's gate, under hashed names only
        counts = [await redis.get(key) for key in redis_keys]
        assert counts == [b"3", b"3", b"3", b"1", None]
        stored = [key.decode() async for key in redis.scan_iter(match=f"{THROTTLE_PREFIX}*")]
        assert not any("tanaka" in key for key in stored)
    finally:
        await redis.delete(*redis_keys)
        await redis.aclose()


# ---------------------------------------------------------------------------------------------
# tokenRefresh and tokenRevoke


async def test_refresh_rotates_the_pair(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a signed-in firm admin
    account = await register("tanaka@pellets.example", cluster_id)

    # when they exchange their refresh token
    before = utcnow()
    body = await gql(REFRESH, {"input": {"refreshToken": account.refresh_token}}, token="")
    after = utcnow()

    # then they get a new pair for the same firm, with a different refresh token that works
    pair = body["data"]["tokenRefresh"]
    assert body == {"data": {"tokenRefresh": pair}}
    assert pair == token_pair("FIRM", account.organisation_id)
    assert_lifetimes(pair, before, after)
    assert pair["refreshToken"] != account.refresh_token
    assert pair["accessToken"] != account.access_token
    me = await gql(ME, token=pair["accessToken"])
    assert me["data"]["me"]["organisation"]["id"] == account.organisation_id
    # and the old refresh token no longer works
    assert await refresh(gql, account.refresh_token) == failed_token(
        {"code": "TOKEN_REUSED", "message": ANY, "field": "refreshToken"}
    )


async def test_reusing_a_rotated_refresh_token_revokes_its_whole_sign_in(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a sign-in whose refresh token was rotated once, and a second sign-in of the same person
    account = await register("tanaka@pellets.example", cluster_id)
    newest = (await refresh(gql, account.refresh_token))["refreshToken"]
    other_device = await sign_in(gql, "tanaka@pellets.example")

    # when the rotated (copied) token is used again
    reused = await gql(REFRESH, {"input": {"refreshToken": account.refresh_token}}, token="")

    # then it is refused as reused
    assert reused == {
        "data": {
            "tokenRefresh": failed_token(
                {
                    "code": "TOKEN_REUSED",
                    "message": "This refresh token was already used; all sessions of this "
                    "sign-in are revoked. Sign in again.",
                    "field": "refreshToken",
                }
            )
        }
    }
    # and the newest token of that sign-in is revoked with it
    assert await refresh(gql, newest) == failed_token(
        {
            "code": "TOKEN_INVALID",
            "message": "This refresh token is revoked or unknown",
            "field": "refreshToken",
        }
    )
    # while the other sign-in carries on
    assert (await refresh(gql, other_device["refreshToken"]))["errors"] == []


async def test_access_token_is_refused_as_refresh_token(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a signed-in person
    account = await register("tanaka@pellets.example", cluster_id)

    # when they send their access token to tokenRefresh
    body = await gql(REFRESH, {"input": {"refreshToken": account.access_token}}, token="")

    # then it is refused by its type
    assert body == {
        "data": {
            "tokenRefresh": failed_token(
                {
                    "code": "TOKEN_INVALID",
                    "message": "This is not a refresh token",
                    "field": "refreshToken",
                }
            )
        }
    }
    # and their refresh token was not spent by the attempt
    assert (await refresh(gql, account.refresh_token))["errors"] == []


async def test_expired_refresh_token_is_refused_as_expired(
    gql: GraphQL, register: Any, settings: Settings, cluster_id: str
) -> None:
    # given a refresh token of a real account that expired a minute ago
    account = await register("tanaka@pellets.example", cluster_id)
    tokens = Tokens(settings)
    expired = tokens.issue_refresh(
        user_id=uuid.UUID(account.user_id),
        family_id=uuid.uuid4(),
        jti=uuid.uuid4(),
        now=utcnow() - tokens.refresh_ttl - timedelta(minutes=1),
    )

    # when the app tries to refresh with it
    body = await gql(REFRESH, {"input": {"refreshToken": expired.token}}, token="")

    # then it is refused as expired, so the app knows to ask for the password
    assert body == {
        "data": {
            "tokenRefresh": failed_token(
                {
                    "code": "TOKEN_EXPIRED",
                    "message": "The refresh token has expired",
                    "field": "refreshToken",
                }
            )
        }
    }


async def test_refresh_token_is_refused_as_access_token(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a signed-in firm admin
    account = await register("tanaka@pellets.example", cluster_id)

    # when they send their refresh token as the bearer token
    me = await gql(ME, token=account.refresh_token)
    invite = await gql(
        INVITE, {"input": {"organisationId": account.organisation_id}}, token=account.refresh_token
    )

    # then nobody is signed in, and a gated mutation refuses them
    assert me == {"data": {"me": None}}
    assert invite == {
        "data": {
            "organisationInviteCreate": {
                "invite": None,
                "errors": [
                    {
                        "code": "UNAUTHENTICATED",
                        "message": "The access token is not valid; sign in again",
                        "field": None,
                    }
                ],
            }
        }
    }


async def test_revoked_sign_in_cannot_refresh(gql: GraphQL, register: Any, cluster_id: str) -> None:
    # given a signed-in person
    account = await register("tanaka@pellets.example", cluster_id)

    # when they sign out
    revoked = await gql(REVOKE, {"input": {"refreshToken": account.refresh_token}}, token="")

    # then the sign-out succeeds, the refresh token no longer works, and signing out again is
    # not an error
    assert revoked == {"data": {"tokenRevoke": {"revoked": True, "errors": []}}}
    assert await refresh(gql, account.refresh_token) == failed_token(
        {
            "code": "TOKEN_INVALID",
            "message": "This refresh token is revoked or unknown",
            "field": "refreshToken",
        }
    )
    again = await gql(REVOKE, {"input": {"refreshToken": account.refresh_token}}, token="")
    assert again == revoked


async def test_revoke_refuses_a_token_that_is_not_a_refresh_token(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a signed-in person
    account = await register("tanaka@pellets.example", cluster_id)

    # when they try to revoke with their access token
    body = await gql(REVOKE, {"input": {"refreshToken": account.access_token}}, token="")

    # then it is refused, and their sign-in is untouched
    assert body == {
        "data": {
            "tokenRevoke": {
                "revoked": False,
                "errors": [
                    {
                        "code": "TOKEN_INVALID",
                        "message": "This is not a refresh token",
                        "field": "refreshToken",
                    }
                ],
            }
        }
    }
    assert (await refresh(gql, account.refresh_token))["errors"] == []


async def test_refresh_fails_once_the_membership_is_gone(
    gql: GraphQL, db: Database, register: Any, cluster_id: str
) -> None:
    # given a signed-in firm admin who has since been removed from the firm
    account = await register("tanaka@pellets.example", cluster_id)
    async with db.write() as session:
        await session.execute(
            delete(Membership).where(Membership.user_id == uuid.UUID(account.user_id))
        )

    # when their app refreshes the token
    body = await gql(REFRESH, {"input": {"refreshToken": account.refresh_token}}, token="")

    # then the refresh is refused: the role is derived afresh and there is none any more
    assert body == {
        "data": {
            "tokenRefresh": failed_token(
                {
                    "code": "TOKEN_INVALID",
                    "message": "You are not a member of this organisation",
                    "field": "refreshToken",
                }
            )
        }
    }


# ---------------------------------------------------------------------------------------------
# me


async def test_me_is_null_without_a_token(gql: GraphQL) -> None:
    # when nobody is signed in, then `me` is null
    assert await gql(ME, token="") == {"data": {"me": None}}


async def test_me_is_null_for_a_garbage_token(gql: GraphQL) -> None:
    # when the bearer token is not a JWT at all, or a JWT signed by someone else
    bodies = [
        await gql(ME, token=token)
        for token in [
            "garbage",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
        ]
    ]

    # then `me` is null, not an error
    assert bodies == [{"data": {"me": None}}] * 2


async def test_me_is_null_for_an_expired_token(
    gql: GraphQL, register: Any, settings: Settings, cluster_id: str
) -> None:
    # given an access token of a real account that expired a minute ago
    account = await register("tanaka@pellets.example", cluster_id)
    tokens = Tokens(settings)
    expired = tokens.issue_access(
        user_id=uuid.UUID(account.user_id),
        role=Role.FIRM,
        organisation_id=uuid.UUID(account.organisation_id),
        session_id=uuid.uuid4(),  # expired first: its session is never looked up
        now=utcnow() - tokens.access_ttl - timedelta(minutes=1),
    )

    # when it is used
    me = await gql(ME, token=expired.token)
    invite = await gql(
        INVITE, {"input": {"organisationId": account.organisation_id}}, token=expired.token
    )

    # then `me` is null, and a gated mutation tells the app to refresh
    assert me == {"data": {"me": None}}
    assert invite == {
        "data": {
            "organisationInviteCreate": {
                "invite": None,
                "errors": [
                    {
                        "code": "TOKEN_EXPIRED",
                        "message": "The access token has expired; refresh it and try again",
                        "field": None,
                    }
                ],
            }
        }
    }


# ---------------------------------------------------------------------------------------------
# The active organisation


async def test_member_of_two_organisations_chooses_which_one_to_act_for(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given a firm admin who also joined a self-help group with an invite from its admin
    tanaka = await register("tanaka@pellets.example", cluster_id)
    shg = await register(
        "lakshmi@shg.example", cluster_id, name="Maniwa Women's SHG", kind="COMMUNITY"
    )
    invite = await gql(
        INVITE, {"input": {"organisationId": shg.organisation_id}}, token=shg.access_token
    )
    code = invite["data"]["organisationInviteCreate"]["invite"]["code"]
    joined = await gql(JOIN, {"input": {"inviteCode": code}}, token=tanaka.access_token)
    assert joined == {
        "data": {
            "organisationJoin": {
                "membership": {"role": "MEMBER", "organisation": {"id": shg.organisation_id}},
                "errors": [],
            }
        }
    }

    # when they sign in for the group, and without choosing
    for_group = await sign_in(gql, "tanaka@pellets.example", organisationId=shg.organisation_id)
    by_default = await sign_in(gql, "tanaka@pellets.example")

    # then the group token carries the community role and `me` acts for the group
    assert for_group == token_pair("COMMUNITY", shg.organisation_id)
    me = await gql(ME, token=for_group["accessToken"])
    firm = {"id": tanaka.organisation_id, "name": "Katsuyama Pellet Works"}
    group = {"id": shg.organisation_id, "name": "Maniwa Women's SHG"}
    assert me["data"]["me"]["role"] == "COMMUNITY"
    assert me["data"]["me"]["organisation"] == {**group, "kind": "COMMUNITY"}
    assert me["data"]["me"]["memberships"] == [
        {"role": "ADMIN", "organisation": firm},
        {"role": "MEMBER", "organisation": group},
    ]
    # and without a choice they act for the organisation they joined first
    assert by_default == token_pair("FIRM", tanaka.organisation_id)
    me_by_default = await gql(ME, token=by_default["accessToken"])
    assert me_by_default["data"]["me"]["organisation"] == {**firm, "kind": "FIRM"}
    # and refreshing keeps the chosen organisation
    refreshed = await refresh(gql, for_group["refreshToken"])
    assert refreshed == token_pair("COMMUNITY", shg.organisation_id)


async def test_choosing_an_organisation_one_is_not_in_is_forbidden(
    gql: GraphQL, register: Any, cluster_id: str
) -> None:
    # given two firm admins of different firms
    await register("tanaka@pellets.example", cluster_id)
    other = await register("sato@timber.example", cluster_id, name="Sato Timber")

    # when one signs in for the other's firm, or for an organisation that does not exist
    bodies = [
        await gql(
            SIGN_IN,
            {
                "input": {
                    "email": "tanaka@pellets.example",
                    "password": PASSWORD,
                    "organisationId": organisation_id,
                }
            },
            token="",
        )
        for organisation_id in [other.organisation_id, str(uuid.uuid4())]
    ]

    # then both are forbidden, pointing at the organisationId field
    forbidden = failed_token(
        {
            "code": "FORBIDDEN",
            "message": "You are not a member of this organisation",
            "field": "organisationId",
        }
    )
    assert bodies == [{"data": {"tokenCreate": forbidden}}] * 2


async def test_platform_admin_signs_in_as_admin_without_an_organisation(
    gql: GraphQL, db: Database, settings: Settings
) -> None:
    # given a platform admin made the way `eic create-admin` makes one
    admin = await identity_service.create_platform_admin(
        db=db,
        security=Security.from_settings(settings),
        email="Admin@EIC.example",
        password=PASSWORD,
        display_name="Platform Admin",
    )

    # when they sign in
    pair = await sign_in(gql, "admin@eic.example")
    me = await gql(ME, token=pair["accessToken"])

    # then the token carries ADMIN and no organisation, and so does `me`
    assert pair == token_pair("ADMIN", None)
    assert me == {
        "data": {
            "me": {
                "user": {
                    "id": str(admin.id),
                    "email": "admin@eic.example",
                    "displayName": "Platform Admin",
                    "isPlatformAdmin": True,
                },
                "role": "ADMIN",
                "organisation": None,
                "memberships": [],
            }
        }
    }
    # and a refresh keeps them an admin
    assert await refresh(gql, pair["refreshToken"]) == token_pair("ADMIN", None)
