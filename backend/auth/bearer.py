"""Who a request is from: the bearer token of an HTTP request (or WebSocket upgrade) read into a
viewer, and checked to still stand. Shared by the GraphQL context, the WebSocket handshake, the
idempotency middleware and the plain HTTP routes, so that every door reads a token the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import HTTPConnection

from backend.auth.security import Security
from backend.auth.tokens import TokenError
from backend.auth.viewer import Anonymous, Viewer


def bearer_token(connection: HTTPConnection) -> str | None:
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def viewer_from_token(security: Security, token: str | None) -> Viewer | Anonymous:
    if token is None:
        return Anonymous()
    try:
        return security.tokens.read_access(token)
    except TokenError as exc:
        return Anonymous(problem=exc.code)


# Whether a token's access still stands (sign-in, account, membership): the identity domain's
# ``current_access``, handed to the app at start-up so that auth does not build on a domain.
AccessCheck = Callable[[Viewer], Awaitable[Viewer | Anonymous]]


async def current_viewer(
    security: Security, check: AccessCheck, token: str | None
) -> Viewer | Anonymous:
    """The viewer of a token whose access still stands: what every door believes."""
    viewer = viewer_from_token(security, token)
    if isinstance(viewer, Anonymous):
        return viewer
    return await check(viewer)
