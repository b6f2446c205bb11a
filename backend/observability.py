"""Request ids and request logs, so a masked error a user reports can be traced."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.kit.outages import RETRY_AFTER_SECONDS, outage_log, unavailable

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
logger = logging.getLogger("eic.request")


@dataclass(slots=True)
class RequestFacts:
    """What one request ran, learnt inside GraphQL and read outside it (the log lines, the
    metrics). A mutable holder rather than a context variable set deep inside: what Strawberry
    runs in tasks of its own (a WebSocket's subscriptions) shares the holder, not the variable.

    ``operation``: the GraphQL operation's name for logs ("-" until known); ``label``: the same
    name if it is one of the apps' operations, else "other" (a bounded metric label);
    ``outcome``: "ok" or the first error's code, once GraphQL has answered."""

    operation: str = "-"
    label: str = "other"
    outcome: str | None = None


# Set by RequestContextMiddleware when something observes operations (JSON logs, metrics), and
# filled by backend.graphql.observer.OperationObserver.
request_facts_var: contextvars.ContextVar[RequestFacts | None] = contextvars.ContextVar(
    "request_facts", default=None
)


class RequestMetrics(Protocol):
    """What RequestContextMiddleware tells the metrics (backend/metrics.py) of each request."""

    def request_ended(
        self, scope: Scope, status: int, seconds: float, facts: RequestFacts | None
    ) -> None: ...


# A caller's id is echoed only if it looks like an id, so logs cannot be injected into.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        facts = request_facts_var.get()
        record.operation = "-" if facts is None else facts.operation
        return True


# A log message quotes what clients sent (a path, a GraphQL error with its document excerpt):
# control characters are escaped, so a client cannot forge log lines, and a message is cut here.
MAX_MESSAGE_CHARS = 2000
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def quoted(text: str) -> str:
    """``text`` for a log line: control characters escaped (a newline as \\n), at most
    MAX_MESSAGE_CHARS characters."""
    escaped = _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)
    if len(escaped) > MAX_MESSAGE_CHARS:
        return f"{escaped[:MAX_MESSAGE_CHARS]}... ({len(escaped) - MAX_MESSAGE_CHARS} more)"
    return escaped


class QuotedMessageFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = quoted(record.getMessage()), None
        return True


# Strawberry logs each GraphQL error (with the client's document excerpt) on its own logger.
LOGGERS = ("eic", "strawberry")


# JSON's own escaping leaves these as they are; a line splitter of some log shippers does not.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id,
    operation, and the exception's traceback as one string when there is one. The message is
    quoted as in text logs (QuotedMessageFilter); JSON escapes the rest, so a line is a line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
            "operation": getattr(record, "operation", "-"),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        line = json.dumps(entry, ensure_ascii=False, default=str)
        return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", line)


# What else writes to stderr in a served process (uvicorn.error's lines go through "uvicorn";
# its access log stays off: our request line carries the request id): JSON too in JSON mode.
SERVER_LOGGERS = ("uvicorn",)


def configure_logging(level: str, log_format: Literal["text", "json"] = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(QuotedMessageFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
        )
    for name in LOGGERS:
        named = logging.getLogger(name)
        named.handlers[:] = [handler]
        named.setLevel(level.upper())
        named.propagate = False
    if log_format == "json":
        # uvicorn's lines and any library's warnings (the root logger's) in the same form
        for name in SERVER_LOGGERS:
            named = logging.getLogger(name)
            named.handlers[:] = [handler]
            named.propagate = False
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.WARNING)


class RequestContextMiddleware:
    """Gives each HTTP request an id (``X-Request-ID``) and logs one line when it ends.

    ``observe``: each request gets a :class:`RequestFacts` for GraphQL to fill (JSON logs and
    metrics read it); ``metrics``: told of every HTTP request when it ends. Both off, a request
    costs what it did before them."""

    def __init__(
        self, app: ASGIApp, *, observe: bool = False, metrics: RequestMetrics | None = None
    ) -> None:
        self.app = app
        self.observe = observe or metrics is not None
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        facts = RequestFacts() if self.observe else None
        facts_token = request_facts_var.set(facts) if facts is not None else None
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            if self.metrics is not None and scope["type"] == "http":
                self.metrics.request_ended(scope, status, seconds, facts)
            logger.info(
                "%s %s %s %.1fms",
                scope.get("method", "WS"),
                scope.get("path"),
                status,
                seconds * 1000,
            )
            if facts_token is not None:
                request_facts_var.reset(facts_token)
            request_id_var.reset(token)


class FailureAnswers:
    """Answers a request whose handling raised before any answer was sent: JSON with the
    request id, never Starlette's bare ``500 text/plain``.

    An outage (:func:`backend.kit.outages.unavailable`: the database or Redis away, a full or
    read-only disk) gets ``503`` with ``Retry-After`` and the code ``SERVICE_UNAVAILABLE``, so
    apps know to try the same request again; anything else is a masked ``500 INTERNAL``. This
    covers what fails before GraphQL runs (the idempotency store, reading the viewer's access);
    what fails inside an operation is answered by the schema's error masking, with the same code.
    Placed inside :class:`RequestContextMiddleware`, which adds the ``X-Request-ID`` header.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise  # half an answer is out: nothing better than closing the connection
            request_id = request_id_var.get()
            service = unavailable(exc)
            error: dict[str, object]
            if service is not None:
                outage_log.failed(service, "requests", exc)
                status, headers = 503, [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())]
                message, extensions = unavailable_error(service, request_id)
                error = {"message": message, "extensions": extensions}
            else:
                logger.error("unexpected error before GraphQL ran", exc_info=exc)
                status, headers = 500, []
                error = {
                    "message": f"Internal server error (request id {request_id})",
                    "extensions": {"code": "INTERNAL", "requestId": request_id},
                }
            body = json.dumps({"errors": [error]}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"cache-control", b"no-store"),
                        *headers,
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def unavailable_error(service: str, request_id: str) -> tuple[str, dict[str, object]]:
    """The message and extensions of an outage's GraphQL error, as the schema's masking and
    :class:`FailureAnswers` give it: apps retry on ``SERVICE_UNAVAILABLE`` after ``retryAfter``
    seconds."""
    message = (
        f"The service is unavailable for a moment ({service}); try again in "
        f"{RETRY_AFTER_SECONDS} seconds (request id {request_id})"
    )
    return message, {
        "code": "SERVICE_UNAVAILABLE",
        "retryAfter": RETRY_AFTER_SECONDS,
        "requestId": request_id,
    }
