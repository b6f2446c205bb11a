"""Prometheus metrics at /metrics (EIC_METRICS_ENABLED; docs/observability.md).

Each app has a registry of its own: the request counters and latency histograms are updated
once per HTTP request by :class:`backend.observability.RequestContextMiddleware` (labels
bounded: routes as declared, the apps' operation names or "other", outcome codes of our own),
and everything else is read when Prometheus scrapes: the database pool, open subscriptions and
idempotent requests from memory; the push outbox and the due-job lag from the database, with a
time limit, so a database that is away costs a scrape at most that long and never fails it
(``eic_metrics_database_up`` says whether those gauges were read).

A process has its own figures: with several instances each one is scraped on its own, and
``eic serve --workers N`` (N > 1, whose workers share a port) is refused with metrics on.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Scope

from backend import idempotency
from backend.kit.clock import Clock
from backend.kit.db import Database
from backend.notifications import push
from backend.observability import RequestFacts
from backend.purchasing import service as purchasing_service

logger = logging.getLogger("eic.metrics")

# Methods the service answers; anything else a client invents counts as "OTHER".
METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "PATCH", "DELETE"})
# Seconds: from a cached page (a few ms) to the statement timeout (10 s).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(slots=True)
class DatabaseGauges:
    """What a scrape read from the database."""

    outbox_depth: int
    outbox_oldest_age: float
    due_jobs_lag: float


class Metrics:
    """One app's metrics: its registry, the request metrics, and the gauges read at a scrape."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        subscriptions: Callable[[], int],
        routes: Callable[[], Sequence[BaseRoute]],
        extra_paths: Sequence[str] = (),
        query_timeout_seconds: float,
    ) -> None:
        self.db = db
        # the routes' paths, and paths served by something that declares no route (GraphQL)
        self.routes = routes
        self.extra_paths = extra_paths
        self.clock = clock
        self.subscriptions = subscriptions
        self.query_timeout_seconds = query_timeout_seconds
        # No "_created" series beside each counter and histogram: twice the lines per scrape
        # for a start time that process_start_time_seconds already gives.
        disable_created_metrics()
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "eic_http_requests",
            "HTTP requests answered, by method, route (as declared, or 'unmatched') and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "eic_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by route.",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.operations = Counter(
            "eic_graphql_operations",
            "GraphQL operations over HTTP, by operation (the apps' operation names, else "
            "'other') and outcome ('ok' or the first error's code).",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.operation_duration = Histogram(
            "eic_graphql_operation_duration_seconds",
            "Time of the HTTP request that carried a GraphQL operation, by operation.",
            ["operation"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_ScrapeGauges(self))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        # Children by label values: .labels() takes a lock and builds a tuple per call; the
        # label sets are bounded, so these dictionaries are too.
        self._http: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._static_paths: dict[str, str] | None = None
        self._operation: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._last_read: DatabaseGauges | None = None

    def request_ended(
        self, scope: Scope, status: int, seconds: float, facts: RequestFacts | None
    ) -> None:
        method = scope.get("method", "")
        # bounded before it keys the dictionary too: a method per request would grow it forever
        method = method if method in METHODS else "OTHER"
        route = self._route_of(scope.get("path", ""))
        key = (method, route, status)
        children = self._http.get(key)
        if children is None:
            children = self._http[key] = (
                self.http_requests.labels(method, route, str(status)),
                self.http_duration.labels(route),
            )
        children[0].inc()
        children[1].observe(seconds)
        if facts is not None and facts.outcome is not None:
            operation_key = (facts.label, facts.outcome)
            observed = self._operation.get(operation_key)
            if observed is None:
                observed = self._operation[operation_key] = (
                    self.operations.labels(facts.label, facts.outcome),
                    self.operation_duration.labels(facts.label),
                )
            observed[0].inc()
            observed[1].observe(seconds)

    def _route_of(self, path: str) -> str:
        """The route ``path`` matches, as declared ("/calendar/events/{event_id}.ics"), or
        "unmatched". Matched here against the app's routes rather than read from the scope:
        middlewares inside this one hand the app copies of the scope, so the route Starlette
        notes never comes back out. A path without parameters (GraphQL's among them) is one
        dictionary look-up."""
        static = self._static_paths
        if static is None:
            static = {path: path for path in self.extra_paths}
            for route in self.routes():
                declared = getattr(route, "path", None)
                if isinstance(declared, str) and declared and "{" not in declared:
                    static[declared] = declared
            self._static_paths = static
        found = static.get(path)
        if found is not None:
            return found
        for route in self.routes():
            pattern = getattr(route, "path_regex", None)
            if pattern is not None and pattern.match(path):
                return str(getattr(route, "path_format", None) or getattr(route, "path", path))
        return "unmatched"

    async def read_database(self) -> DatabaseGauges | None:
        """The gauges that need the database, or None when it did not answer in time."""
        now = self.clock.now()
        try:
            async with asyncio.timeout(self.query_timeout_seconds):
                backlog, overdue = await asyncio.gather(
                    push.backlog(self.db),
                    purchasing_service.oldest_overdue_deadline(db=self.db, now=now),
                )
        except Exception as exc:  # away, slow, or failing: the scrape goes on without them
            logger.warning("metrics: the database gauges were not read (%s)", type(exc).__name__)
            return None
        return DatabaseGauges(
            outbox_depth=backlog.depth,
            outbox_oldest_age=_seconds_since(backlog.oldest, now),
            due_jobs_lag=_seconds_since(overdue, now),
        )

    async def exposition(self) -> bytes:
        self._last_read = await self.read_database()
        return generate_latest(self.registry)

    def pool_figures(self) -> dict[str, float]:
        pool = self.db.engine.sync_engine.pool
        figures: dict[str, float] = {}
        for name in ("size", "checkedout", "overflow"):
            read = getattr(pool, name, None)
            if callable(read):  # a StaticPool (in-memory SQLite) has none of these
                figures[name] = float(read())
        return figures

    async def endpoint(self, request: Request, token: str | None) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(
                    "metrics need the bearer token (EIC_METRICS_TOKEN)\n",
                    status_code=401,
                    headers={"www-authenticate": 'Bearer realm="metrics"'},
                    media_type="text/plain",
                )
        return Response(
            await self.exposition(),
            media_type=CONTENT_TYPE_LATEST,
            headers={"cache-control": "no-store"},
        )


def _seconds_since(moment: object, now: object) -> float:
    if moment is None:
        return 0.0
    waited = (now - moment).total_seconds()  # type: ignore[operator]
    return max(0.0, float(waited))


class _ScrapeGauges(Collector):
    """The gauges worked out at a scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list[GaugeMetricFamily]:
        # Nothing to check at registration: collecting here would read the gauges too early.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        metrics = self.metrics
        pool = metrics.pool_figures()
        for name, help_text in (
            ("size", "Connections the database pool keeps (its configured size)."),
            ("checkedout", "Database connections in use by a unit of work now."),
            ("overflow", "Connections opened beyond the pool's size (negative: unopened)."),
        ):
            if name in pool:
                family = "checked_out" if name == "checkedout" else name
                yield GaugeMetricFamily(f"eic_db_pool_{family}", help_text, value=pool[name])
        yield GaugeMetricFamily(
            "eic_graphql_subscriptions_active",
            "GraphQL subscriptions running on this process's WebSocket connections.",
            value=metrics.subscriptions(),
        )
        yield GaugeMetricFamily(
            "eic_idempotency_keys_in_flight",
            "Requests with an Idempotency-Key this process is working on (answer not stored).",
            value=idempotency.keys_in_flight(metrics.db),
        )
        read = metrics._last_read
        yield GaugeMetricFamily(
            "eic_metrics_database_up",
            "1 if this scrape read the database's gauges in time, else 0 (they are left out).",
            value=0 if read is None else 1,
        )
        if read is None:
            return
        yield GaugeMetricFamily(
            "eic_push_outbox_depth",
            "Push messages waiting to be handed to a provider (PENDING or SENDING).",
            value=read.outbox_depth,
        )
        yield GaugeMetricFamily(
            "eic_push_outbox_oldest_age_seconds",
            "Age of the oldest push message waiting to be handed over (0 when none waits).",
            value=read.outbox_oldest_age,
        )
        yield GaugeMetricFamily(
            "eic_due_jobs_lag_seconds",
            "How long the oldest due job (an open purchase group past its deadline) has waited "
            "for the due-job runner (0 when none waits).",
            value=read.due_jobs_lag,
        )
