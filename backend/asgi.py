"""What the GraphQL endpoint's ASGI middlewares share (trusted operations, idempotency): the
ASGI types, reading a request body and handing it on, and GraphQL-style JSON answers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def read_body(receive: Receive) -> tuple[bytes, list[Message]]:
    """The whole request body, and the message that cut it short (a disconnect), if any."""
    chunks: list[bytes] = []
    rest: list[Message] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            rest.append(message)
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks), rest


def replay(body: bytes, rest: list[Message], then: Receive) -> Receive:
    """A ``receive`` for the next app: the body already read (perhaps rewritten), then what was
    left, then the connection's own messages (a disconnect, when it comes)."""
    queue: list[Message] = [{"type": "http.request", "body": body}, *rest]

    async def receive() -> Message:
        if queue:
            return queue.pop(0)
        return await then()

    return receive


def json_answer(
    status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()
) -> list[Message]:
    return [
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        },
        {"type": "http.response.body", "body": body},
    ]


def error_answer(code: str, message: str, status: int) -> list[Message]:
    """A GraphQL error the app can act on by its code (never cached)."""
    body = json.dumps({"errors": [{"message": message, "extensions": {"code": code}}]})
    return json_answer(status, body.encode(), [(b"cache-control", b"no-store")])


async def send_all(send: Send, messages: list[Message]) -> None:
    for message in messages:
        await send(message)
