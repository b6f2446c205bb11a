"""Request ids and request logs, so a masked error a user reports can be traced."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.kit.outages import RETRY_AFTER_SECONDS, outage_log, unavailable

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
logger = logging.getLogger("eic.request")

# A caller's id is echoed only if it looks like an id, so logs cannot be injected into.
_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
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


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RequestIdFilter())
    handler.addFilter(QuotedMessageFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")
    )
    for name in LOGGERS:
        named = logging.getLogger(name)
        named.handlers[:] = [handler]
        named.setLevel(level.upper())
        named.propagate = False


class RequestContextMiddleware:
    """Gives each HTTP request an id (``X-Request-ID``) and logs one line when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
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
            logger.info(
                "%s %s %s %.1fms",
                scope.get("method", "WS"),
                scope.get("path"),
                status,
                (time.perf_counter() - started) * 1000,
            )
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
