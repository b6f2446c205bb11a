"""Persisted (trusted) operations on the GraphQL endpoint, and HTTP caching of GET queries.

An ASGI middleware in front of Strawberry: it turns an operation sent by hash into the document
of the manifest (:mod:`backend.graphql.operations`), so Strawberry sees an ordinary request.

- ``{"id": "<sha256>", "variables": ...}`` or Apollo's
  ``{"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "<sha256>"}}}``, by POST or, for
  queries, by GET (``/graphql?extensions=...&variables=...``); the id is ours
  (``manifest.json``) or Apollo's (``persisted-query-manifest.json``, whose bodies select
  ``__typename``, so the answer carries it), or one registered automatically.
- An unknown hash answers ``PERSISTED_QUERY_NOT_FOUND`` with the message
  ``PersistedQueryNotFound`` (HTTP 200): Apollo's persisted-query link matches either and sends
  the text with the hash. Unless the server is trusted-only, that text is kept under its hash
  (automatic persisted queries, :mod:`backend.graphql.apq`) when the hash is its SHA-256 (else
  ``PERSISTED_QUERY_HASH_MISMATCH``), it is no larger than EIC_APQ_MAX_DOCUMENT_BYTES and it
  passes the schema's validation with every limit (the cheap limits first, verdicts remembered
  by hash, a text already kept is not checked again); the next call by hash alone runs it.
- With ``EIC_TRUSTED_OPERATIONS_ONLY=true`` a document that is not in the manifest (give or
  take ``__typename`` selections) answers ``OPERATION_NOT_TRUSTED``: nothing but the apps' own
  operations runs.
- The subscribe messages of the WebSocket are resolved the same way (``router.py``).
- GET responses say how proxies may keep them: ``public, max-age=60`` without an Authorization
  header (public data only), ``private, no-store`` with one. The response cache outside
  (``response_cache.py``) keeps the public ones as long, adds ``Vary`` and the ``ETag``, and
  turns ``public`` into ``no-store`` for an answer with errors.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from graphql import GraphQLError, OperationType, get_operation_ast, parse

from backend.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    error_answer,
    read_body,
    replay,
    send_all,
)
from backend.graphql.apq import QueryStore
from backend.graphql.operations import TrustedDocuments, sha256

PUBLIC_MAX_AGE = 60


# The schema's own token limit refuses larger documents later; this parse stops at it too.
SUBSCRIPTION_CHECK_MAX_TOKENS = 20_000


class RefusedOperationError(Exception):
    def __init__(self, code: str, message: str, status: int = 200) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def _persisted_hash(request: dict[str, Any]) -> Any:
    if "id" in request:
        return request["id"]
    extensions = request.get("extensions")
    if isinstance(extensions, str):  # GET carries it as JSON text
        try:
            extensions = json.loads(extensions)
        except ValueError as exc:
            raise RefusedOperationError("BAD_REQUEST", "extensions is not JSON", 400) from exc
    if isinstance(extensions, dict) and isinstance(extensions.get("persistedQuery"), dict):
        return extensions["persistedQuery"].get("sha256Hash")
    return None


@dataclass(frozen=True)
class PersistedQueries:
    """How an operation sent by id finds its document, on HTTP and on the WebSocket."""

    documents: Callable[[], TrustedDocuments]
    trusted_only: bool
    # None: nothing is registered (trusted-only, or EIC_APQ_ENABLED=false)
    store: QueryStore | None = None
    admits: Callable[[str], bool] = lambda _document: False
    max_document_bytes: int = 0

    async def resolve(self, request: dict[str, Any], *, over_http: bool = True) -> None:
        """Put the document of a persisted operation into ``request["query"]`` (registering
        a new one), or refuse."""
        documents = self.documents()
        wanted = _persisted_hash(request)
        query = request.get("query")
        if wanted is not None:
            if not isinstance(wanted, str):
                raise RefusedOperationError(
                    "BAD_REQUEST", "A persisted query's id is a SHA-256 hex string", 400
                )
            if query:
                if not isinstance(query, str) or sha256(query) != wanted:
                    raise RefusedOperationError(
                        "PERSISTED_QUERY_HASH_MISMATCH", "The query does not have this SHA-256", 400
                    )
                if wanted not in documents.by_id:
                    await self._register(wanted, query)
            else:
                known = documents.by_id.get(wanted)
                if known is None and self.store is not None:
                    known = await self.store.get(wanted)
                if known is None:
                    raise RefusedOperationError(
                        "PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound"
                    )
                request["query"] = known
            request.pop("id", None)
        query = request.get("query")
        if self.trusted_only and not documents.is_trusted(query):
            raise _not_trusted()
        if over_http and isinstance(query, str) and "subscription" in query:
            _refuse_subscription(query, request.get("operationName"))

    async def _register(self, wanted: str, query: str) -> None:
        if (
            self.store is not None
            and len(query.encode("utf-8")) <= self.max_document_bytes
            # a client may keep sending the text with its hash: once kept, it is not checked
            # and kept again on every request (a Redis script each time)
            and await self.store.get(wanted) is None
            and self.admits(query)
        ):
            await self.store.put(wanted, query)


def _refuse_subscription(query: str, operation_name: Any) -> None:
    """Subscriptions run over the WebSocket; over HTTP one ended as a masked INTERNAL error."""
    try:  # only documents that mention "subscription" pay for this parse
        document = parse(query, no_location=True, max_tokens=SUBSCRIPTION_CHECK_MAX_TOKENS)
    except GraphQLError:
        return  # Strawberry answers the document's own syntax or size error
    operation = get_operation_ast(
        document, operation_name if isinstance(operation_name, str) else None
    )
    if operation is not None and operation.operation is OperationType.SUBSCRIPTION:
        raise RefusedOperationError(
            "BAD_REQUEST",
            "Subscriptions run over a WebSocket at /graphql (graphql-transport-ws), not over HTTP",
            400,
        )


def _not_trusted() -> RefusedOperationError:
    return RefusedOperationError(
        "OPERATION_NOT_TRUSTED",
        "This server runs only the apps' operations: send the operation's id (its SHA-256 in "
        "clients/operations/manifest.json)",
    )


def _refusal(refused: RefusedOperationError) -> list[Message]:
    return error_answer(refused.code, refused.message, refused.status)


class TrustedOperations:
    def __init__(
        self,
        app: ASGIApp,
        *,
        persisted: PersistedQueries,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.persisted = persisted
        self.trusted_only = persisted.trusted_only
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "GET":
            await self._get(scope, receive, send)
        elif scope["method"] == "POST":
            await self._post(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _get(self, scope: Scope, receive: Receive, send: Send) -> None:
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not pairs:  # the IDE page, in development
            await self.app(scope, receive, send)
            return
        request: dict[str, Any] = dict(pairs)
        try:
            await self.persisted.resolve(request)
        except RefusedOperationError as refused:
            await send_all(send, _refusal(refused))
            return
        scope = dict(scope, query_string=urlencode(request).encode())
        authorised = any(name == b"authorization" for name, _ in scope.get("headers", []))
        cache_control = (
            b"private, no-store" if authorised else f"public, max-age={PUBLIC_MAX_AGE}".encode()
        )

        async def send_with_caching(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                headers.append((b"cache-control", cache_control))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_caching)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the first Content-Type, as Starlette (and so Strawberry) reads it
        content_type = next(
            (v for k, v in scope.get("headers", []) if k.lower() == b"content-type"), b""
        )
        if b"application/json" not in content_type:
            if self.trusted_only:  # (the schema's rule refuses it too; this answers sooner)
                await send_all(send, _refusal(_not_trusted()))
                return
            await self.app(scope, receive, send)
            return
        body, rest = await read_body(receive)
        if rest:  # the client went away mid-body: let the app see it as it is
            await self.app(scope, replay(body, rest, receive), send)
            return
        try:
            # strict UTF-8 (json.loads of bytes would let lone surrogates through)
            request = json.loads(body.decode("utf-8"))
        except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
            await send_all(send, error_answer("BAD_REQUEST", "The body is not JSON in UTF-8", 400))
            return
        if not isinstance(request, dict):  # Strawberry answered these with a bare 500 or text
            await send_all(
                send,
                error_answer(
                    "BAD_REQUEST",
                    "Send one operation as a JSON object: "
                    '{"query": ..., "variables": ..., "operationName": ...}',
                    400,
                ),
            )
            return
        try:
            await self.persisted.resolve(request)
        except RefusedOperationError as refused:
            await send_all(send, _refusal(refused))
            return
        body = json.dumps(request).encode()
        scope = dict(
            scope,
            headers=[(k, v) for k, v in scope.get("headers", []) if k.lower() != b"content-length"]
            + [(b"content-length", str(len(body)).encode())],
        )
        await self.app(scope, replay(body, rest, receive), send)
