"""The ASGI application: GraphQL, health endpoints and request context middleware."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.responses import Response

from backend.asgi import ASGIApp, Message, Receive, Scope, Send
from backend.auth.bearer import viewer_from_token
from backend.auth.security import Security
from backend.auth.viewer import Anonymous, Viewer
from backend.events.routes import router as events_router
from backend.forums import service as forums_service
from backend.graphql import graphiql
from backend.graphql import router as graphql_router
from backend.graphql.apq import QueryStore, query_store_for
from backend.graphql.context import get_context
from backend.graphql.extensions import SchemaOptions, admission
from backend.graphql.operations import trusted_documents
from backend.graphql.persisted import PersistedQueries, TrustedOperations
from backend.graphql.response_cache import ResponseCache, schema_fingerprint, store_for
from backend.graphql.router import EICGraphQLRouter
from backend.graphql.schema import build_schema
from backend.idempotency import IdempotencyMiddleware
from backend.identity.service import current_access
from backend.insights.routes import router as insights_router
from backend.jobs import run_periodically
from backend.kit import heap
from backend.kit.broadcast import Broadcaster, broadcaster_for, follow_access_changes
from backend.kit.clock import Clock, SystemClock
from backend.kit.db import Database, Timeouts
from backend.kit.outages import outage_log
from backend.kit.response_store import ResponseStore
from backend.notifications import push
from backend.observability import FailureAnswers, RequestContextMiddleware, configure_logging
from backend.permits.routes import router as permits_router
from backend.readiness import readiness
from backend.settings import Settings, get_settings


def _on_access_change(user: str) -> None:
    forums_service.forget_readers(user)
    graphql_router.access_changed(user)


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    clock: Clock | None = None,
    broadcaster: Broadcaster | None = None,
    response_store: ResponseStore | None = None,
    query_store: QueryStore | None = None,
    run_due_jobs: bool = False,
) -> FastAPI:
    """The app. ``run_due_jobs`` runs the due-job loop beside it (``eic serve`` does; tests and
    embedders that run ``eic run-due-jobs`` themselves do not). ``response_store``: the response
    cache's store, instead of the one the settings ask for (used only with the cache on);
    ``query_store``: the automatic persisted queries' store, likewise (not on a trusted-only
    server)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_format)
    outage_log.interval = settings.outage_log_interval_seconds
    database = db or Database(
        settings.database_url,
        echo=settings.database_echo,
        timeouts=Timeouts(
            connect=settings.db_connect_timeout_seconds,
            statement=settings.db_statement_timeout_seconds,
            pool=settings.db_pool_timeout_seconds,
        ),
    )

    security = Security.from_settings(settings)
    # read now: a missing or malformed push key file stops the start with its reason
    push_config = push.PushConfig.from_settings(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = None
        if run_due_jobs and settings.due_jobs_interval_seconds > 0:
            loop = asyncio.create_task(
                run_periodically(database, app.state.clock, settings.due_jobs_interval_seconds)
            )
        pusher = None
        if run_due_jobs and push_config.sends_anything:
            pusher = asyncio.create_task(
                push.run_worker(
                    database,
                    app.state.clock,
                    interval_seconds=settings.push_interval_seconds,
                    config=push_config,
                )
            )
        if settings.trusted_operations_only:
            # Before the first request rather than during it: comparing a text with the
            # trusted documents needs them parsed (~0.5 s for ~300 documents).
            trusted_documents().is_trusted("{ __typename }")
        # Every instance forgets what it cached of someone's access, and re-checks their open
        # connections, as soon as a change is announced (kit.broadcast.announce_access_change).
        follower = asyncio.create_task(
            follow_access_changes(app.state.broadcaster, _on_access_change)
        )
        yield
        for task in (loop, pusher, follower):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await security.close()
        if broadcaster is None:  # an injected broadcaster belongs to its creator
            await app.state.broadcaster.close()
        if response_store is None and store is not None:  # so does an injected store
            await store.close()
        if query_store is None and queries is not None:
            await queries.close()
        if db is None:  # an injected database belongs to its creator
            await database.dispose()
        if tracer_provider is not None:  # what the batch holds goes out before the process ends
            await asyncio.to_thread(tracer_provider.force_flush, 5000)

    app = FastAPI(
        title="EIC",
        description="GraphQL backend for eco-industrial clusters",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        max_body_size=settings.max_request_bytes,
    )
    app.state.settings = settings
    app.state.db = database
    app.state.security = security

    async def access_check(viewer: Viewer) -> Viewer | Anonymous:
        return await current_access(db=database, viewer=viewer)

    app.state.access_check = access_check
    # One clock for every deadline; tests pass a ManualClock to move time instead of sleeping.
    app.state.clock = clock_of_app = clock or SystemClock()
    # Redis pub/sub when several processes serve the app; in-process otherwise.
    app.state.broadcaster = broadcaster or broadcaster_for(settings.redis_url)

    schema = build_schema(settings)
    graphql = EICGraphQLRouter(
        schema,
        context_getter=get_context,
        graphql_ide="graphiql" if settings.is_development else None,
        # GET serves cacheable queries; Strawberry refuses mutations over GET.
        allow_queries_via_get=True,
    )
    # First: the route nearly every request takes is matched before the others are tried.
    app.router.routes.insert(0, graphql.http_route("/graphql"))
    app.include_router(graphql, prefix="/graphql")  # its WebSocket route
    if settings.is_development:  # the GraphiQL page's own files; served where it is
        app.mount(graphiql.ASSETS_PATH, graphiql.assets(), name="graphiql")
    app.include_router(events_router)
    app.include_router(insights_router)
    app.include_router(permits_router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        ready, body = await readiness(
            database, redis_url=settings.redis_url, seconds=settings.ready_timeout_seconds
        )
        return JSONResponse(body, 200 if ready else 503)

    # Observability (docs/observability.md): metrics, traces; each off unless asked for.
    metrics = None
    if settings.metrics_enabled:
        from backend.metrics import Metrics

        metrics = Metrics(
            db=database,
            clock=clock_of_app,
            subscriptions=graphql.active_subscriptions,
            # the routers as declared: FastAPI's own list holds included routers unexpanded
            routes=lambda: [
                *events_router.routes,
                *insights_router.routes,
                *permits_router.routes,
                *app.router.routes,
            ],
            extra_paths=("/graphql",),
            query_timeout_seconds=settings.metrics_query_timeout_seconds,
        )
        app.state.metrics = metrics
        metrics_token = settings.metrics_token

        @app.get("/metrics", include_in_schema=False)
        async def metrics_endpoint(request: Request) -> Response:
            assert metrics is not None
            return await metrics.endpoint(request, metrics_token)

    tracer_provider = None
    if settings.tracing_on:
        from backend.tracing import instrument

        tracer_provider = instrument(app, database)

    # The response cache's store learns of every committed write (its table versions).
    store = (response_store or store_for(settings)) if settings.response_cache_enabled else None
    if store is not None:
        database.watch_writes(store)
    app.state.response_store = store

    # Persisted operations are resolved before Strawberry parses the request (the WebSocket's
    # subscribe messages in the router).
    queries = None
    if not settings.trusted_operations_only:
        queries = query_store or query_store_for(settings)
    app.state.persisted_queries = persisted = PersistedQueries(
        documents=trusted_documents,
        trusted_only=settings.trusted_operations_only,
        store=queries,
        admits=admission(schema._schema, SchemaOptions.of(settings)),
        max_document_bytes=settings.apq_max_document_bytes,
    )
    app.add_middleware(TrustedOperations, persisted=persisted)

    def subject_of(token: str) -> str | None:
        viewer = viewer_from_token(security, token)
        return str(viewer.user_id) if isinstance(viewer, Viewer) else None

    # Outside the persisted-operation resolution: a retry is the same request byte for byte.
    app.add_middleware(
        IdempotencyMiddleware,
        db=lambda: database,
        subject_of=subject_of,
        now=app.state.clock.now,
    )
    # Compression wraps everything but GraphQL GETs, which the response cache compresses itself.
    app.add_middleware(GZipMiddleware, minimum_size=settings.compress_min_bytes)
    # As far out as it can be, so that a hit costs little: only the request id (and its log
    # line) and the failure answers are outside it. Answers from it are already compressed.
    app.add_middleware(
        ResponseCache,
        store=store,
        settings=settings,
        security=security,
        now=lambda: clock_of_app.now().timestamp(),
        fingerprint=schema_fingerprint(schema),
    )
    # Inside the request id, outside everything that may fail on the database before GraphQL
    # runs: such a failure is answered with JSON (503 SERVICE_UNAVAILABLE for an outage).
    app.add_middleware(FailureAnswers)
    app.add_middleware(
        RequestContextMiddleware, observe=settings.log_format == "json", metrics=metrics
    )
    if settings.cors_origins:
        # Outermost: a preflight is answered before anything else runs, and every answer (a
        # cached one, a failure's) carries the headers a browser needs to read it.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "ETag",
                "X-Cache",
                "Idempotent-Replayed",
            ],
            allow_credentials=False,
            max_age=600,
        )
        app.add_middleware(VaryByOrigin)
    return app


class VaryByOrigin:
    """Every answer says it varies by Origin, one asked without an Origin too.

    Public GET answers may be kept by a proxy for a minute: a copy made for a request without
    Origin has no Access-Control-Allow-Origin, and handed to the web app's browser it would be
    refused. Starlette adds ``Vary: Origin`` to such answers only since its PR 3516 (2026);
    fastapi>=0.115 lets an older one in, so this does not rely on it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_varying(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                varies = {
                    name.strip().lower()
                    for key, value in headers
                    if key.lower() == b"vary"
                    for name in value.split(b",")
                }
                if b"origin" not in varies and b"*" not in varies:
                    message = dict(message, headers=[*headers, (b"vary", b"Origin")])
            await send(message)

        await self.app(scope, receive, send_varying)


def app_from_environment() -> FastAPI:
    """Factory for ``uvicorn --factory`` and multi-worker ``eic serve``."""
    app = create_app(get_settings(), run_due_jobs=True)
    heap.settle_after_start_up()  # what start-up built is never walked by the collector again
    return app
