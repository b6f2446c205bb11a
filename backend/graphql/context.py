"""Per-request context: who is asking, from where, and the app's shared services."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import HTTPConnection
from strawberry.fastapi import BaseContext

from backend.auth.security import Security
from backend.auth.tokens import TokenError
from backend.auth.viewer import Anonymous, Viewer
from backend.forums.broadcast import Broadcaster
from backend.forums.service import AddedPosts
from backend.kit.clock import Clock
from backend.kit.db import Database
from backend.settings import Settings


@dataclass
class Context(BaseContext):
    settings: Settings
    db: Database
    security: Security
    viewer: Viewer | Anonymous
    client_address: str | None
    clock: Clock
    broadcaster: Broadcaster
    added_posts: AddedPosts

    def __post_init__(self) -> None:
        super().__init__()


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _client_address(connection: HTTPConnection, settings: Settings) -> str | None:
    if settings.trust_forwarded_for:
        forwarded = connection.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return connection.client.host if connection.client else None


def viewer_from_token(security: Security, token: str | None) -> Viewer | Anonymous:
    if token is None:
        return Anonymous()
    try:
        return security.tokens.read_access(token)
    except TokenError as exc:
        return Anonymous(problem=exc.code)


async def get_context(connection: HTTPConnection) -> Context:
    state = connection.app.state
    settings: Settings = state.settings
    return Context(
        settings=settings,
        db=state.db,
        security=state.security,
        viewer=viewer_from_token(state.security, bearer_token(connection)),
        client_address=_client_address(connection, settings),
        clock=state.clock,
        broadcaster=state.broadcaster,
        added_posts=state.added_posts,
    )
