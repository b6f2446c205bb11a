"""The GraphQL endpoint: HTTP, and WebSocket subscriptions over graphql-transport-ws.

Apps authenticate a WebSocket in the ``connection_init`` payload
(``{"authorization": "Bearer <access token>"}``), since many WebSocket clients cannot set
headers; a bearer header on the upgrade request works too. A token that is present but not
valid closes the connection with 4403 before any subscription starts, and the connection is
closed with 4403 when the token expires (the app reconnects with a fresh one) or as soon as its
access ends (a sign-out, removal or disabling is announced to every instance; a periodic
re-check backs that up). Only graphql-transport-ws is spoken: the legacy graphql-ws protocol let
clients skip ``connection_init`` in older Strawberry versions.

A subscribe message may name its document by id, as over HTTP: ``extensions.persistedQuery``
in its payload, with or without the ``query`` (Apollo Kotlin and iOS send the id alone; Apollo
Client's GraphQLWsLink sends both). An id the server does not know answers an ``error`` message
for that subscription with ``PERSISTED_QUERY_NOT_FOUND``; the connection stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from fastapi.routing import APIRoute
from starlette.background import BackgroundTasks
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.websockets import WebSocketState
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import SubscribeMessage
from strawberry.types.unset import UNSET, UnsetType

from backend.auth.bearer import AccessCheck, current_viewer
from backend.auth.viewer import Anonymous, Viewer
from backend.graphql import graphiql
from backend.graphql.context import Context
from backend.graphql.persisted import PersistedQueries, RefusedOperationError
from backend.kit.broadcast import EVERYONE


def token_in(params: Any) -> str | None:
    """The bearer token of a connection_init payload, if it has one."""
    if not isinstance(params, dict):
        return None
    value = params.get("authorization") or params.get("Authorization")
    if not isinstance(value, str) or not value.strip():
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else value.strip()


class PersistedSubscribeHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws, with subscribe messages that name their document by id."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # counted by the metrics at a scrape, nothing per message
        connections = getattr(self.view, "connections", None)
        if connections is not None:
            connections.add(self)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        payload = message.get("payload")
        extensions = payload.get("extensions") if isinstance(payload, dict) else None
        if (
            self.connection_acknowledged  # else Strawberry closes it (4401)
            and isinstance(payload, dict)
            and isinstance(extensions, dict)
            and "persistedQuery" in extensions
        ):
            assert self.context.request is not None  # a WebSocket connection always has one
            persisted: PersistedQueries = self.context.request.app.state.persisted_queries
            request = dict(payload)
            try:
                await persisted.resolve(request, over_http=False)
            except RefusedOperationError as refused:
                await self.send_message(
                    {
                        "id": message["id"],
                        "type": "error",
                        "payload": [
                            {"message": refused.message, "extensions": {"code": refused.code}}
                        ],
                    }
                )
                return
            message = {**message, "payload": request}  # type: ignore[typeddict-item]
        await super().handle_subscribe(message)


class EICGraphQLRouter(GraphQLRouter[Context, None]):
    """Strawberry's router, whose HTTP requests are served by :meth:`http_route` (mounted by
    the app) rather than by its own FastAPI routes; it keeps the WebSocket route."""

    graphql_transport_ws_handler_class = PersistedSubscribeHandler

    def __init__(
        self,
        schema: Any,
        *,
        context_getter: Callable[[HTTPConnection], Awaitable[Context]],
        **options: Any,
    ) -> None:
        super().__init__(
            schema,
            context_getter=context_getter,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(seconds=10),
            # Server pings keep mobile connections through NAT and proxies alive.
            keep_alive=True,
            keep_alive_interval=25,
            # An app watches the thread on screen, perhaps a few more; each subscription holds
            # a queue and a task on the server.
            max_subscriptions_per_connection=20,
            **options,
        )
        # A connection's handler leaves when the connection has gone and nothing holds it.
        self.connections: weakref.WeakSet[PersistedSubscribeHandler] = weakref.WeakSet()
        self._context_of = context_getter
        # Strawberry's GET and POST routes receive the context through FastAPI's dependency
        # injection, which cost every request more than the rest of what happens before its
        # operation runs (solve_dependencies ~10 % of a feed page's CPU). :meth:`http_route`
        # serves them with a plain call instead.
        self.routes[:] = [route for route in self.routes if not isinstance(route, APIRoute)]

    def http_route(self, path: str) -> Route:
        """GraphQL over HTTP (GET and POST) at ``path``, for the app to mount beside this
        router's WebSocket route."""
        route = Route(path, self._serve_http, methods=["GET", "POST"], include_in_schema=False)
        # Starlette adds HEAD to a GET route; Strawberry's GET route never answered it.
        route.methods = {"GET", "POST"}
        return route

    async def _serve_http(self, request: Request) -> Response:
        # What Strawberry's FastAPI routes did around ``run``, without the dependency solving:
        # the sub-response a resolver may set headers or a status on (FastAPI's is made the
        # same way: no content-length, no status of its own), the context, background tasks.
        sub_response = Response()
        del sub_response.headers["content-length"]
        sub_response.status_code = None  # type: ignore[assignment]
        background_tasks = BackgroundTasks()
        context = await self._context_of(request)
        context.request = request
        context.background_tasks = background_tasks
        context.response = sub_response
        # Taken by ``run`` before its first await: no other request can replace it meanwhile.
        self.temporal_response = sub_response
        try:
            response = await self.run(request=request, context=context, root_value=None)
        except HTTPException as exc:
            response = PlainTextResponse(exc.reason, status_code=exc.status_code)
        if response.background is None:
            response.background = background_tasks
        return response

    def active_subscriptions(self) -> int:
        """The subscriptions running on this process's open WebSocket connections."""
        return sum(len(connection.operations) for connection in list(self.connections))

    def encode_json(self, data: object) -> str:
        # text, as graphql-transport-ws messages must be; HTTP answers skip the decode below
        return orjson.dumps(data).decode()

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        response = Response(
            orjson.dumps(response_data),
            media_type="application/json",
            status_code=sub_response.status_code or 200,
        )
        response.headers.raw.extend(sub_response.headers.raw)
        return response

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # GraphiQL from our own files (backend/graphql/graphiql.py), not Strawberry's CDN page
        return graphiql.page(request)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        token = token_in(context.connection_params)
        assert context.request is not None  # a WebSocket connection always has one
        check: AccessCheck = context.request.app.state.access_check
        viewer = (
            await current_viewer(context.security, check, token)
            if token is not None
            else context.viewer
        )
        # A token that was sent (in connection_init or on the upgrade) must be valid.
        if isinstance(viewer, Anonymous):
            if viewer.problem is not None:
                raise ConnectionRejectionError({"code": viewer.problem.value})
            return UNSET  # anonymous: PUBLIC forums only
        context.viewer = viewer
        task = asyncio.create_task(_watch(context.request, viewer, check))
        _watchers.add(task)
        task.add_done_callback(_watchers.discard)
        return UNSET


def access_changed(user: str) -> None:
    """An access change was announced for ``user`` (a user id as text, or ``"*"`` for anybody):
    the connections signed in as them check their access now instead of at the next interval."""
    for user_id, wakes in list(_wake.items()):
        if user in (EVERYONE, str(user_id)):
            for wake in wakes:
                wake.set()


logger = logging.getLogger(__name__)
_watchers: set[asyncio.Task[None]] = set()
# Each open signed-in connection's wake-up, by user: set when a change of their access is
# announced (``access_changed``).
_wake: dict[uuid.UUID, set[asyncio.Event]] = {}

# How often an open connection asks whether its sign-in still stands even when no change was
# announced: only the backstop for an announcement lost between instances, since changes
# (sign-out, removal, disabling) are announced and end the connection at once, and an instance
# whose feed of announcements was interrupted re-checks every connection when it is back. Each
# message a subscription sends is checked by its own rules (forums against a cached reader that
# the same announcements clear). It was 30 s when this was the only way: 1,000 connections
# then cost 33 statements a second, most of the delivery time at that size
# (scripts/bench_live.py).
ACCESS_RECHECK_SECONDS = 300.0


def _closed(websocket: Any) -> bool:
    return WebSocketState.DISCONNECTED in (
        getattr(websocket, "client_state", None),
        getattr(websocket, "application_state", None),
    )


async def _watch(websocket: Any, viewer: Viewer, check: AccessCheck) -> None:
    """Close the connection with 4403 when the token expires (the app reconnects with a fresh
    one) or when the access it carries ends."""
    wake = asyncio.Event()
    _wake.setdefault(viewer.user_id, set()).add(wake)
    try:
        reason = await _until_ended(websocket, viewer, check, wake)
    finally:
        wakes = _wake.get(viewer.user_id)
        if wakes is not None:
            wakes.discard(wake)
            if not wakes:
                del _wake[viewer.user_id]
    if reason is not None:
        with contextlib.suppress(Exception):  # already closed by the client
            await websocket.close(code=4403, reason=reason)


async def _until_ended(
    websocket: Any, viewer: Viewer, check: AccessCheck, wake: asyncio.Event
) -> str | None:
    """Why the connection must end ("Token expired", "Access ended"), or None once it has
    closed by itself."""
    while True:
        left = (
            (viewer.expires_at - datetime.now(UTC)).total_seconds()
            if viewer.expires_at is not None
            else ACCESS_RECHECK_SECONDS
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, min(left, ACCESS_RECHECK_SECONDS))):
                await wake.wait()
        wake.clear()
        if _closed(websocket):
            return None  # the app went away: nothing to watch
        if viewer.expires_at is not None and datetime.now(UTC) >= viewer.expires_at:
            return "Token expired"
        try:
            if isinstance(await check(viewer), Anonymous):
                return "Access ended"
        except Exception:  # the database is away: keep the connection, ask again later
            logger.warning(
                "Could not check a WebSocket's access; asking again later", exc_info=True
            )
