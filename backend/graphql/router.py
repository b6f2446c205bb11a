"""The GraphQL endpoint: HTTP, and WebSocket subscriptions over graphql-transport-ws.

Apps authenticate a WebSocket in the ``connection_init`` payload
(``{"authorization": "Bearer <access token>"}``), since many WebSocket clients cannot set
headers; a bearer header on the upgrade request works too. A token that is present but not
valid closes the connection with 4403 before any subscription starts. Only graphql-transport-ws
is spoken: the legacy graphql-ws protocol let clients skip ``connection_init`` in older
Strawberry versions.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from backend.auth.viewer import Anonymous
from backend.graphql.context import Context, viewer_from_token


def token_in(params: Any) -> str | None:
    """The bearer token of a connection_init payload, if it has one."""
    if not isinstance(params, dict):
        return None
    value = params.get("authorization") or params.get("Authorization")
    if not isinstance(value, str) or not value.strip():
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else value.strip()


class EICGraphQLRouter(GraphQLRouter[Context, None]):
    def __init__(self, schema: Any, **options: Any) -> None:
        super().__init__(
            schema,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            # Server pings keep mobile connections through NAT and proxies alive.
            keep_alive=True,
            keep_alive_interval=25,
            **options,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        token = token_in(context.connection_params)
        if token is None:
            return UNSET  # anonymous (or a bearer header on the upgrade request)
        viewer = viewer_from_token(context.security, token)
        if isinstance(viewer, Anonymous):
            code = viewer.problem.value if viewer.problem else "UNAUTHENTICATED"
            raise ConnectionRejectionError({"code": code})
        context.viewer = viewer
        return UNSET
