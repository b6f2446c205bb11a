"""The response cache for public persisted GETs, and ETags with 304 for every GraphQL GET.

Which answers are kept: anonymous (no ``Authorization`` header) GETs of a persisted operation
(``?extensions={"persistedQuery": ...}`` or ``?id=``, no ``query``) that answered 200 without
``errors`` and with ``Cache-Control: public, max-age=N`` (``TrustedOperations`` says so); kept at
most N seconds. Signed-in requests neither read nor fill it, so no answer is ever shared between
viewers. Key: the schema's fingerprint, the operation's hash, ``operationName`` and the
variables in canonical JSON. Both encodings live in one entry: the body as is and gzipped once
when it is kept, served by the request's ``Accept-Encoding``.

Invalidation (``backend/kit/response_store.py``): while a miss is computed, the SQL statements it
sends say which tables it read (``kit.db.tracking_reads``); it is kept with those tables'
versions as they were before it ran, and every committed write bumps the versions of the tables
it wrote. An answer whose tables changed is not served again. A statement whose tables cannot
be told (DDL, unknown kinds) keeps the answer out of the cache.

Rate limits: an answer served from the cache spends the same budgets as computing it spent (the
expensive reads of ``graphql/budgets.py``), counted the same way, per address. So budgets mean
"N searches a minute" whether or not the cache answers; a client over budget is answered by the
app (THROTTLED), exactly as without the cache. A hit costs one budget check, not the search.

Every GraphQL GET answer of 200 gets a strong ``ETag`` (of its body; the gzipped form has its
own) and ``If-None-Match`` with it answers 304 without a body, for kept and computed answers
alike. ``X-Cache`` says ``HIT`` (from the cache), ``MISS`` (computed, and kept when it could be)
or ``BYPASS`` (computed, not kept: signed in, not persisted, the cache off or unavailable,
or over budget).

This middleware compresses GET answers itself (the app inside sees no ``Accept-Encoding``):
gzip's header holds a time, so the inner compression would give the same answer a new ETag
every second; here the gzipped body is made with a fixed time.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import HTTPConnection

from backend.asgi import ASGIApp, Message, Receive, Scope, Send
from backend.auth.addresses import limited_unit
from backend.auth.clients import client_address_of
from backend.auth.ratelimit import Budget
from backend.auth.security import Security
from backend.graphql.budgets import recording_spends
from backend.kit.db import TablesRead, tracking_reads
from backend.kit.errors import ServiceError
from backend.kit.response_store import (
    Lookup,
    MemoryResponseStore,
    RedisResponseStore,
    ResponseStore,
    StoredAnswer,
    versions_of,
)
from backend.settings import Settings

HIT, MISS, BYPASS = b"HIT", b"MISS", b"BYPASS"
VARY = b"Authorization, Accept-Encoding"
# Starlette's GZipMiddleware's level: the same bytes on the wire as before.
GZIP_LEVEL = 9
KEYS_REMEMBERED = 4096
_PERSISTED_PARAMETERS = frozenset({"extensions", "variables", "operationName", "id"})
_UNREAD_EXTENSIONS = frozenset({"clientLibrary"})
_MAX_AGE = re.compile(rb"max-age=(\d+)")
# Headers of the app's answer that this middleware sets itself.
_OWN_HEADERS = frozenset({b"content-length", b"vary", b"etag", b"age", b"x-cache"})


@functools.lru_cache(maxsize=8)
def schema_fingerprint(schema: Any) -> str:
    """What answers are kept for: answers of another version of the schema (in Redis during a
    deploy) may have another shape for the same operation. Printing the schema takes ~30 ms,
    once per schema (``build_schema`` keeps its schemas)."""
    return hashlib.sha256(str(schema).encode()).hexdigest()[:32]


def store_for(settings: Settings) -> ResponseStore | None:
    """The store the settings ask for: none (EIC_RESPONSE_CACHE_ENABLED=false), Redis, or memory."""
    if not settings.response_cache_enabled:
        return None
    if settings.redis_url:
        return RedisResponseStore(settings.redis_url, timeout=settings.redis_timeout_seconds)
    return MemoryResponseStore(
        max_entries=settings.response_cache_max_entries,
        max_bytes=settings.response_cache_max_bytes,
    )


def cache_key(query_string: bytes, fingerprint: str) -> str | None:
    """The key of a persisted GET, or None when the request is not one the cache keeps: a
    document sent as text, a parameter it does not know, variables that are not a JSON object."""
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    request = dict(pairs)
    if len(request) != len(pairs) or not request.keys() <= _PERSISTED_PARAMETERS:
        return None
    try:
        operation = request.get("id")
        if operation is None:
            extensions = json.loads(request.get("extensions") or "null")
            persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
            # Apollo Client 4 names itself in every request (extensions.clientLibrary): that
            # changes nothing in the answer, so such GETs share the entry.
            if not isinstance(persisted, dict) or extensions.keys() - _UNREAD_EXTENSIONS != {
                "persistedQuery"
            }:
                return None
            operation = persisted.get("sha256Hash")
        elif "extensions" in request:
            return None
        variables = json.loads(request.get("variables") or "{}")
    except ValueError:
        return None
    if not isinstance(operation, str) or not isinstance(variables, dict):
        return None
    canonical = json.dumps(
        [fingerprint, operation, request.get("operationName") or None, variables],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.blake2b(canonical.encode(), digest_size=16).hexdigest()


def etag_of(body: bytes) -> bytes:
    digest = hashlib.blake2b(body, digest_size=15).digest()
    return b'"' + base64.urlsafe_b64encode(digest) + b'"'


def gzip_etag(etag: bytes) -> bytes:
    return etag[:-1] + b'.gz"'


def matches(if_none_match: bytes, etag: bytes) -> bool:
    """``If-None-Match`` (weak comparison, as RFC 9110 has it for this header)."""
    if if_none_match.strip() == b"*":
        return True
    return any(tag.strip().removeprefix(b"W/") == etag for tag in if_none_match.split(b",") if tag)


def _has_errors(body: bytes) -> bool:
    if b'"errors"' not in body:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return True
    return not isinstance(answer, dict) or "errors" in answer


class ResponseCache:
    """The ASGI middleware (outermost but for the request id and the failure answers)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        store: ResponseStore | None,
        settings: Settings,
        security: Security,
        now: Callable[[], float],
        fingerprint: str,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.store = store
        self.settings = settings
        self.security = security
        self.now = now
        self.fingerprint = fingerprint
        self.path = path
        self.max_entry_bytes = settings.response_cache_max_entry_bytes
        self.compress_min_bytes = settings.compress_min_bytes
        # The key of each query string seen lately: a popular page's hits skip the parsing.
        self._keys: dict[bytes, str | None] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not scope.get("query_string")  # the IDE page, in development
            or scope["path"].rstrip("/") != self.path
        ):
            await self.app(scope, receive, send)
            return
        signed_in, accepts_gzip, if_none_match = False, False, None
        for name, value in scope["headers"]:
            if name == b"authorization":
                signed_in = True
            elif name == b"accept-encoding":
                accepts_gzip = b"gzip" in value
            elif name == b"if-none-match":
                if_none_match = value
        key = None
        if self.store is not None and not signed_in:
            query_string: bytes = scope["query_string"]
            try:
                key = self._keys[query_string]
            except KeyError:
                if len(self._keys) >= KEYS_REMEMBERED:
                    self._keys.clear()
                key = self._keys[query_string] = cache_key(query_string, self.fingerprint)
        lookup: Lookup | None = None
        if key is not None:
            assert self.store is not None
            now = self.now()
            lookup = await self.store.lookup(key, now)
            if lookup is not None and lookup.answer is not None:
                answer = lookup.answer
                if await self._spend(answer, scope):
                    await _send_answer(
                        send,
                        answer,
                        accepts_gzip,
                        if_none_match,
                        [(b"age", str(max(0, int(now - answer.stored_at))).encode())],
                        HIT,
                    )
                    return
                lookup = None  # over budget: the app answers THROTTLED, which is not kept
        await self._compute(scope, receive, send, key, lookup, accepts_gzip, if_none_match)

    async def _spend(self, answer: StoredAnswer, scope: Scope) -> bool:
        """Spend for a kept answer what computing it spent; False when over budget."""
        rate_limits = self.security.rate_limits
        try:
            budgets = [Budget(name) for name in answer.budgets]
        except ValueError:  # kept by another version that had other budgets: compute it
            return False
        if not any(rate_limits.limited(budget) for budget in budgets):
            return True
        who = limited_unit(client_address_of(HTTPConnection(scope), self.settings))
        try:
            for budget in budgets:
                await rate_limits.spend(budget, who)
        except ServiceError:
            return False
        return True

    async def _compute(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        key: str | None,
        lookup: Lookup | None,
        accepts_gzip: bool,
        if_none_match: bytes | None,
    ) -> None:
        # The app inside answers uncompressed; this middleware compresses (see the docstring).
        inner = dict(scope, headers=[h for h in scope["headers"] if h[0] != b"accept-encoding"])
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False

        async def capture(message: Message) -> None:
            nonlocal start, passing
            if passing:
                await send(message)
            elif message["type"] == "http.response.start":
                encoded = any(k == b"content-encoding" for k, _ in message.get("headers", []))
                if message["status"] != 200 or encoded:
                    passing = True  # refusals and errors go out as the app made them
                    await send(message)
                else:
                    start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            else:
                await send(message)

        keeping = key is not None and lookup is not None
        read, spent = TablesRead(), []
        if keeping:
            with tracking_reads() as read, recording_spends() as spent:
                await self.app(inner, receive, capture)
        else:
            await self.app(inner, receive, capture)
        if start is None:
            return  # passed through (or the app sent nothing, which the server answers)
        body = b"".join(chunks)
        headers = [(k, v) for k, v in start.get("headers", []) if k not in _OWN_HEADERS]
        failed = _has_errors(body)
        public_for = None
        for index, (name, value) in enumerate(headers):
            if name == b"cache-control" and value.startswith(b"public"):
                if failed:  # an error (THROTTLED, a bad variable) is nobody's to keep
                    headers[index] = (name, b"no-store")
                else:
                    found = _MAX_AGE.search(value)
                    public_for = int(found.group(1)) if found else None
        now = self.now()
        etag = etag_of(body)
        gzipped = None
        if len(body) >= self.compress_min_bytes and (accepts_gzip or keeping):
            gzipped = gzip.compress(body, GZIP_LEVEL, mtime=0)
        answer = StoredAnswer(
            body=body,
            gzipped=gzipped,
            headers=tuple(headers),
            etag=etag,
            stored_at=now,
            expires_at=now + (public_for or 0),
            versions=versions_of(read.tables, lookup.versions) if lookup else (),
            budgets=tuple(spent),
        )
        if (
            keeping
            and key is not None
            and self.store is not None
            and public_for
            and not failed
            and not read.unknown
            and answer.size <= self.max_entry_bytes
        ):
            await self.store.keep(key, answer, now)
        await _send_answer(
            send, answer, accepts_gzip, if_none_match, [], MISS if keeping else BYPASS
        )


async def _send_answer(
    send: Send,
    answer: StoredAnswer,
    accepts_gzip: bool,
    if_none_match: bytes | None,
    extra: list[tuple[bytes, bytes]],
    cache_status: bytes,
) -> None:
    if accepts_gzip and answer.gzipped is not None:
        payload, etag = answer.gzipped, gzip_etag(answer.etag)
        encoding: list[tuple[bytes, bytes]] = [(b"content-encoding", b"gzip")]
    else:
        payload, etag, encoding = answer.body, answer.etag, []
    own = [(b"vary", VARY), (b"etag", etag), *extra, (b"x-cache", cache_status)]
    if if_none_match is not None and matches(if_none_match, etag):
        kept = [(k, v) for k, v in answer.headers if k == b"cache-control"]
        await send({"type": "http.response.start", "status": 304, "headers": kept + own})
        await send({"type": "http.response.body", "body": b""})
        return
    headers: list[Any] = [
        *answer.headers,
        *encoding,
        (b"content-length", str(len(payload)).encode()),
        *own,
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
