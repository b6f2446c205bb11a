"""Helpers of the rate-limit and sign-in throttling tests: app instances seen from a chosen
client address, and addresses unique to one run (so runs sharing one Redis never count into
each other's keys)."""

from __future__ import annotations

import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from redis.asyncio import Redis

from backend.app import create_app
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import PASSWORD, GraphQL, organisation_input

REDIS_URL = "redis://127.0.0.1:6379/0"
REGISTER = """
mutation Register($input: AccountRegisterInput!) {
  accountRegister(input: $input) { user { email } errors { code message field retryAfter } }
}
"""
SIGN_IN = """
mutation SignIn($input: TokenCreateInput!) {
  tokenCreate(input: $input) { accessToken errors { code message field retryAfter } }
}
"""


@asynccontextmanager
async def app_client(settings: Settings, db: Database) -> AsyncIterator[Any]:
    """An app instance of its own (its own Security, so its own counters) on the shared
    database; ``client(address)`` is a GraphQL caller whose connection comes from ``address``."""
    app = create_app(settings, db=db)
    clients: list[httpx.AsyncClient] = []

    def client(address: str) -> GraphQL:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        http = httpx.AsyncClient(transport=transport, base_url="http://eic.test")
        clients.append(http)
        return GraphQL(http)

    async with app.router.lifespan_context(app):
        try:
            yield client
        finally:
            for http in clients:
                await http.aclose()


def unique_address() -> str:
    """An IPv6 documentation address in a /64 no other run uses (limits count a /64 as one)."""
    run = uuid.uuid4().hex
    return f"2001:db8:{run[:4]}:{run[4:8]}::{run[8:12]}"


def closed_redis_url() -> str:
    """A Redis URL where nothing listens: a port just taken from the system and let go."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


async def delete_keys(pattern: str) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in redis.scan_iter(match=pattern)]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def register(gql: GraphQL, email: str, cluster_id: str) -> dict[str, Any]:
    body = await gql(
        REGISTER,
        {
            "input": {
                "email": email,
                "password": PASSWORD,
                "displayName": email.split("@")[0],
                "organisation": organisation_input(cluster_id, name=f"Firm of {email}"),
            }
        },
        token="",
    )
    payload: dict[str, Any] = body["data"]["accountRegister"]
    return payload


async def sign_in(gql: GraphQL, email: str, password: str = PASSWORD) -> dict[str, Any]:
    body = await gql(SIGN_IN, {"input": {"email": email, "password": password}}, token="")
    payload: dict[str, Any] = body["data"]["tokenCreate"]
    return payload


def outcome(payload: dict[str, Any]) -> str:
    """OK, or the code of the payload's first error."""
    return str(payload["errors"][0]["code"]) if payload["errors"] else "OK"
