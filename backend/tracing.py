"""OpenTelemetry traces (docs/observability.md): off unless the standard OTEL_* variables ask
for them (or EIC_TRACING_ENABLED); then each HTTP request is a server span (FastAPI
instrumentation), its GraphQL operation a child span with parsing and validation below it
(Strawberry's OpenTelemetryExtension), and every SQL statement a span below the operation
(SQLAlchemy instrumentation of the app's engine).

The SDK reads its configuration from the environment as usual: the OTLP endpoint, headers,
timeout and compression (OTEL_EXPORTER_OTLP_*), the sampler (OTEL_TRACES_SAMPLER[_ARG]), the
resource (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES; the service is "eic" unless named), the
batching (OTEL_BSP_*). Spans go out over OTLP/HTTP with protobuf; OTEL_TRACES_EXPORTER=console
prints them instead. Off, none of this is imported and nothing is added to a request.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Generator

from fastapi import FastAPI
from opentelemetry import context, trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import get_meter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from strawberry.extensions import LifecycleStep, SchemaExtension
from strawberry.extensions.tracing import OpenTelemetryExtension

from backend.kit.db import Database

logger = logging.getLogger("eic.tracing")

# Probes and scrapes come every few seconds and say nothing about a user's request.
EXCLUDED_URLS = "/healthz,/readyz,/metrics"


def _exporter() -> SpanExporter:
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    if chosen == "console":
        return ConsoleSpanExporter()
    if chosen != "otlp":
        logger.warning("OTEL_TRACES_EXPORTER=%s is not supported here; using otlp", chosen)
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
    )
    if protocol.strip() and protocol.strip() != "http/protobuf":
        logger.warning("OTLP protocol %s is not installed; sending http/protobuf", protocol)
    return OTLPSpanExporter()


@functools.cache
def tracer_provider() -> TracerProvider:
    """The process's tracer provider, made from the environment on first use and made the
    global one (libraries that trace on their own find it)."""
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "eic"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    return provider


def instrument(app: FastAPI, database: Database) -> TracerProvider:
    """Trace ``app``'s requests and ``database``'s statements; returns the provider (to flush
    it when the app stops)."""
    provider = tracer_provider()
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        # one span per request, not three more per ASGI message
        exclude_spans=["receive", "send"],
    )
    # This engine only (SQLAlchemyInstrumentor().instrument() would patch every engine made
    # later in the process, and only once per process).
    EngineTracer(
        trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", tracer_provider=provider),
        database.engine.sync_engine,
        get_meter("opentelemetry.instrumentation.sqlalchemy").create_up_down_counter(
            name="db.client.connections.usage", unit="connections"
        ),
    )
    return provider


class OperationSpans(OpenTelemetryExtension):
    """Strawberry's OpenTelemetry extension, with two changes.

    The operation's span is the current span while it runs, so SQL statements are its
    children (Strawberry only starts it, and they would hang off the HTTP span). And no span per
    resolver: a hook on every field would also turn off the fast path for plain fields
    (backend/graphql/execution.py), and a page of cards has ~600 of them."""

    resolve = SchemaExtension.resolve  # type: ignore[assignment]

    def on_operation(self) -> Generator[None, None, None]:
        stock = super().on_operation()
        next(stock)  # the span starts
        span = self._span_holder[LifecycleStep.OPERATION]
        token = context.attach(trace.set_span_in_context(span))
        try:
            yield
        finally:
            context.detach(token)
            result = self.execution_context.result
            if result is not None and getattr(result, "errors", None):
                span.set_status(trace.Status(trace.StatusCode.ERROR))
            next(stock, None)  # the span ends, renamed if the document named the operation
