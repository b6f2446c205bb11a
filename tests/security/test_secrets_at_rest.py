"""Secrets at rest: answers kept for Idempotency-Key retries hold no secret in clear.

Every mutation that answers with a secret (tokenCreate, tokenRefresh: access and refresh
tokens; calendarFeedRotate: the feed address; organisationInviteCreate: the invite code) is sent
with a key, then every column of every row of every table the database holds (read from the
database itself, not from a list kept here) is searched for each secret, as text and in the
spellings a store might use (JSON-escaped, base64, URL-quoted).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import Any

import httpx
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection

from backend.idempotency import SEALED_PREFIX, IdempotencyKey
from backend.identity.models import OrganisationInvite, RefreshSession
from backend.kit.db import Database
from tests.conftest import PASSWORD, SIGN_IN

REFRESH = """
mutation Refresh($input: TokenRefreshInput!) {
  tokenRefresh(input: $input) {
    accessToken refreshToken expiresAt refreshExpiresAt role organisationId
    errors { code message field }
  }
}
"""
FEED_ROTATE = """
mutation { calendarFeedRotate { feedUrl feedPath errors { code message field } } }
"""
INVITE_CREATE = """
mutation Invite($input: OrganisationInviteCreateInput!) {
  organisationInviteCreate(input: $input) {
    invite { id code role maxUses uses expiresAt }
    errors { code message field }
  }
}
"""


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str,
    token: str | None = None,
) -> httpx.Response:
    headers = {"Idempotency-Key": key}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )


def spellings(secret: str) -> set[str]:
    """The secret as a store could hold it: as is, inside JSON, base64 and URL-quoted."""
    raw = secret.encode()
    return {
        secret,
        json.dumps(secret)[1:-1],
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        urllib.parse.quote(secret, safe=""),
    }


def _every_cell(connection: Connection) -> list[tuple[str, str, str]]:
    """(table, column, text) of every non-null cell of every table in the database."""
    tables = MetaData()
    tables.reflect(connection)
    cells = []
    for table in tables.sorted_tables:
        for row in connection.execute(select(table)).mappings():
            for column, value in row.items():
                if value is None:
                    continue
                if isinstance(value, bytes | memoryview):
                    text = bytes(value).decode("latin-1") + " " + bytes(value).hex()
                elif isinstance(value, dict | list):
                    text = json.dumps(value) + " " + str(value)
                else:
                    text = str(value)
                cells.append((table.name, str(column), text))
    return cells


async def secrets_in_clear(db: Database, secrets: dict[str, str]) -> list[tuple[str, str, str]]:
    """(secret's name, table, column) wherever a secret appears in clear."""
    async with db.engine.connect() as connection:
        cells = await connection.run_sync(_every_cell)
    assert any(table == "idempotency_keys" for table, _, _ in cells), "nothing was scanned"
    return sorted(
        {
            (name, table, column)
            for name, secret in secrets.items()
            for table, column, text in cells
            if any(form in text for form in spellings(secret))
        }
    )


async def stored_answers(db: Database) -> dict[str, str | None]:
    async with db.read() as session:
        rows = (await session.scalars(select(IdempotencyKey))).all()
    return {row.key: row.response_body for row in rows}


async def test_no_answer_with_a_secret_is_kept_in_clear(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a firm admin who signs in, refreshes, rotates a feed and makes an invite, each with
    # an Idempotency-Key (every mutation of the schema that answers with a secret)
    admin = await register("admin@maniwa.example", cluster_id)
    signed_in = await post(
        client,
        SIGN_IN,
        {"input": {"email": "admin@maniwa.example", "password": PASSWORD}},
        key="key-sign-in",
    )
    first = signed_in.json()["data"]["tokenCreate"]
    assert first["errors"] == []
    refreshed = await post(
        client, REFRESH, {"input": {"refreshToken": first["refreshToken"]}}, key="key-refresh"
    )
    second = refreshed.json()["data"]["tokenRefresh"]
    assert second["errors"] == []
    rotated = await post(client, FEED_ROTATE, key="key-feed", token=second["accessToken"])
    feed = rotated.json()["data"]["calendarFeedRotate"]
    assert feed["errors"] == []
    invited = await post(
        client,
        INVITE_CREATE,
        {"input": {"organisationId": admin.organisation_id}},
        key="key-invite",
        token=second["accessToken"],
    )
    code = invited.json()["data"]["organisationInviteCreate"]["invite"]["code"]
    secrets = {
        "tokenCreate.accessToken": first["accessToken"],
        "tokenCreate.refreshToken": first["refreshToken"],
        "tokenRefresh.accessToken": second["accessToken"],
        "tokenRefresh.refreshToken": second["refreshToken"],
        "calendarFeedRotate.feedUrl": feed["feedUrl"],
        "calendarFeedRotate.token": feed["feedPath"].removeprefix("/calendar/feeds/")[:-4],
        "organisationInviteCreate.code": code,
        "organisationInviteCreate.code(no dashes)": code.replace("-", ""),
    }

    # when every table is searched for them, then none is there in clear
    assert await secrets_in_clear(db, secrets) == []
    # and the sign-in kept no row at all, the others their answers sealed
    answers = await stored_answers(db)
    assert sorted(answers) == ["key-feed", "key-invite", "key-refresh"]
    assert all(body is not None and body.startswith(SEALED_PREFIX) for body in answers.values())


async def test_a_retried_refresh_gets_the_same_pair_and_keeps_the_sign_in(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a phone that refreshes its session with a key and loses the answer
    account = await register("tanaka@maniwa.example", cluster_id)
    request = {"input": {"refreshToken": account.refresh_token}}
    lost = await post(client, REFRESH, request, key="refresh-1")

    # when it sends the same refresh again with the same key
    again = await post(client, REFRESH, request, key="refresh-1")

    # then it gets the same pair, replayed from the sealed answer
    assert again.status_code == lost.status_code == 200
    assert again.json() == lost.json()
    assert again.json()["data"]["tokenRefresh"]["errors"] == []
    assert again.headers["idempotent-replayed"] == "true"
    assert (await stored_answers(db))["refresh-1"].startswith(SEALED_PREFIX)  # type: ignore[union-attr]
    # and the sign-in was not revoked: the new refresh token works
    pair = again.json()["data"]["tokenRefresh"]
    onwards = await post(
        client, REFRESH, {"input": {"refreshToken": pair["refreshToken"]}}, key="refresh-2"
    )
    assert onwards.json()["data"]["tokenRefresh"]["errors"] == []
    async with db.read() as session:
        revoked = await session.scalars(
            select(RefreshSession.id).where(RefreshSession.revoked_at.is_not(None))
        )
        assert revoked.all() == []


async def test_a_retried_sign_in_signs_in_again(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a sign-in sent with a key
    await register("tanaka@maniwa.example", cluster_id)
    request = {"input": {"email": "tanaka@maniwa.example", "password": PASSWORD}}
    first = await post(client, SIGN_IN, request, key="sign-in-1")

    # when it is sent again with the same key
    again = await post(client, SIGN_IN, request, key="sign-in-1")

    # then it is not replayed (nothing was kept) but signs in again: two working pairs
    assert "idempotent-replayed" not in again.headers
    pairs = [r.json()["data"]["tokenCreate"] for r in (first, again)]
    assert [p["errors"] for p in pairs] == [[], []]
    assert pairs[0]["refreshToken"] != pairs[1]["refreshToken"]
    for number, pair in enumerate(pairs):
        used = await post(
            client, REFRESH, {"input": {"refreshToken": pair["refreshToken"]}}, key=f"r-{number}"
        )
        assert used.json()["data"]["tokenRefresh"]["errors"] == []


async def test_a_retried_feed_rotation_gives_the_same_working_address_to_its_sender_only(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a person who rotates their calendar feed with a key
    account = await register("tanaka@maniwa.example", cluster_id)
    first = await post(client, FEED_ROTATE, key="feed-1", token=account.access_token)

    # when the app sends it again with the same key and the same token
    again = await post(client, FEED_ROTATE, key="feed-1", token=account.access_token)

    # then it gets the same address, which works: the feed was rotated once
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    path = again.json()["data"]["calendarFeedRotate"]["feedPath"]
    assert (await client.get(path)).status_code == 200

    # and the same key with other credentials of the same person cannot read the answer
    other = await post(
        client,
        REFRESH,
        {"input": {"refreshToken": account.refresh_token}},
        key="refresh-for-a-new-access-token",
    )
    new_access = other.json()["data"]["tokenRefresh"]["accessToken"]
    elsewhere = await post(client, FEED_ROTATE, key="feed-1", token=new_access)
    assert elsewhere.status_code == 409
    assert elsewhere.json() == {
        "errors": [
            {
                "message": "The first answer to this Idempotency-Key holds a secret that only "
                "the credentials that sent it can read; send the request again with a new key",
                "extensions": {"code": "IDEMPOTENCY_KEY_SEALED"},
            }
        ]
    }
    assert (await client.get(path)).status_code == 200  # and nothing was rotated


async def test_a_retried_invite_creation_gives_the_same_invite(
    client: httpx.AsyncClient, db: Database, register: Any, cluster_id: str
) -> None:
    # Given a firm admin who makes an invite with a key
    admin = await register("admin@maniwa.example", cluster_id)
    request = {"input": {"organisationId": admin.organisation_id, "maxUses": 3}}
    first = await post(client, INVITE_CREATE, request, key="invite-1", token=admin.access_token)

    # when the app sends it again with the same key
    again = await post(client, INVITE_CREATE, request, key="invite-1", token=admin.access_token)

    # then it gets the same invite and code, and there is one invite
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await stored_answers(db))["invite-1"].startswith(SEALED_PREFIX)  # type: ignore[union-attr]
    async with db.read() as session:
        assert len((await session.scalars(select(OrganisationInvite.id))).all()) == 1
