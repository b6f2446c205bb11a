"""OpenTelemetry traces: `eic serve` configured by the standard OTEL_* variables sends its spans
over OTLP/HTTP to a real receiver on loopback (this test's), and the spans nest as they should:
the HTTP request, the GraphQL operation below it, the SQL statements below the operation. Off
(the default), nothing of it is added to the app or the schema."""

from __future__ import annotations

import gzip
import queue
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from backend.app import create_app
from backend.graphql.extensions import SchemaOptions, build_extensions
from backend.kit.db import Database
from backend.settings import Settings
from tests.conftest import make_settings
from tests.process_kit import EIC, eic_serving, scratch_environment

CLUSTERS = "query Clusters { clusters(first: 5) { totalCount } }"


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP trace receiver: POST /v1/traces, protobuf; the spans it got, in a queue."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ReceiverHandler)
        self.spans: queue.Queue[dict[str, Any]] = queue.Queue()
        self.paths: list[str] = []


class _ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.server.paths.append(self.path)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            service = next(
                (
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                ),
                None,
            )
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.server.spans.put(
                        {
                            "name": span.name,
                            "trace": span.trace_id.hex(),
                            "id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex(),
                            "scope": scope_spans.scope.name,
                            "service": service,
                            "attributes": {
                                a.key: a.value.string_value or a.value.int_value
                                for a in span.attributes
                            },
                        }
                    )
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's output stays the test's


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def spans_until(receiver: Receiver, done: Any, seconds: float = 30) -> list[dict[str, Any]]:
    """The spans received until ``done(spans)`` holds (at most ``seconds``)."""
    spans: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while not done(spans):
        left = deadline - time.monotonic()
        assert left > 0, f"spans received: {[s['name'] for s in spans]}"
        try:
            spans.append(receiver.spans.get(timeout=left))
        except queue.Empty:
            continue
    return spans


def test_spans_of_a_request_reach_the_collector_nested(tmp_path: Path, receiver: Receiver) -> None:
    environment, _ = scratch_environment(tmp_path)
    subprocess.run(  # noqa: S603 - our own command
        [EIC, "migrate"], env=environment, cwd=tmp_path, check=True, capture_output=True
    )
    port = receiver.server_address[1]
    environment |= {
        # the standard variables only: that they are set turns tracing on
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
        "OTEL_SERVICE_NAME": "eic-tracing-test",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with eic_serving(environment, tmp_path) as url:
        # Given a served app, when an app asks for clusters (and a probe checks it meanwhile)
        assert httpx.get(f"{url}/healthz").status_code == 200
        answer = httpx.post(f"{url}/graphql", json={"query": CLUSTERS}, timeout=30)
        assert answer.json()["data"] == {"clusters": {"totalCount": 0}}

        def complete(spans: list[dict[str, Any]]) -> bool:
            names = {span["name"] for span in spans}
            return "GraphQL Query: Clusters" in names and "POST /graphql" in names

        spans = spans_until(receiver, complete)

    # then the collector has the request's server span, the operation below it, and the SQL
    # statements below the operation, all of one trace, from the named service
    (http,) = [s for s in spans if s["name"] == "POST /graphql"]
    (operation,) = [s for s in spans if s["name"] == "GraphQL Query: Clusters"]
    statements = [s for s in spans if s["scope"] == "opentelemetry.instrumentation.sqlalchemy"]
    assert operation["parent"] == http["id"]
    assert statements, [s["name"] for s in spans]
    assert {s["parent"] for s in statements} == {operation["id"]}
    assert {s["trace"] for s in [http, operation, *statements]} == {http["trace"]}
    parsing = [s for s in spans if s["name"] in ("GraphQL Parsing", "GraphQL Validation")]
    assert {s["parent"] for s in parsing} == {operation["id"]}
    assert {s["service"] for s in spans} == {"eic-tracing-test"}
    assert receiver.paths
    assert set(receiver.paths) == {"/v1/traces"}
    # probes are left out, and no span per field resolver or ASGI message is made
    assert not [s for s in spans if "healthz" in s["name"]]
    assert not [s for s in spans if s["name"].startswith("GraphQL Resolving")]
    assert not [s for s in spans if s["name"].endswith((" http send", " http receive"))]


def test_tracing_is_off_and_absent_by_default(
    monkeypatch: pytest.MonkeyPatch, db: Database, settings: Settings
) -> None:
    for name in (
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert not settings.tracing_on
    app = create_app(settings, db=db)
    names = [type(extension).__name__ for extension in _extensions(settings)]
    assert "OperationSpans" not in names
    assert "OperationObserver" not in names  # text logs, no metrics: nothing observes either
    assert not [m for m in app.user_middleware if "opentelemetry" in str(m.cls).lower()]
    # and each way of turning it on is read as the standard says
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert settings.tracing_on
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not settings.tracing_on
    monkeypatch.delenv("OTEL_SDK_DISABLED")
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not settings.tracing_on
    assert make_settings(settings.database_url, tracing_enabled=False).tracing_on is False


def _extensions(settings: Settings) -> list[Any]:
    return [factory() for factory in build_extensions(SchemaOptions.of(settings))]
