"""Safe retries: the ``Idempotency-Key`` header on GraphQL requests.

A phone on a bad network sends a mutation, loses the answer and sends it again. With the same
``Idempotency-Key`` (any string of 1-200 characters, a UUID per user action is the usual choice),
the second request gets the first one's answer and nothing is done twice:

- The key is written **in the work's own transaction**: ``Database.write()`` runs a hook at the
  start of every write transaction of the request, which inserts ``(person, key, request hash)``.
  If the work rolls back, so does the key; if it commits, the key is there.
- When the request ends, the answer is stored on the key's row (a second small transaction).
- A copy arriving while the first is still running hits the key's unique row at its first write:
  its transaction rolls back before any work (PostgreSQL makes it wait for the first to commit;
  SQLite's writers run one at a time). It then waits for the stored answer and returns it. So
  20 copies at once do the work once and all get the same answer.
- The answer cannot be stored with the work: it holds what GraphQL resolves after the commit
  (fields read in other sessions, the request's later mutations), and holding the work's
  transaction open until then would hold SQLite's only writer. So the row also names its
  *holder* (the app process, :class:`_Liveness`) and when its answer is due. A process killed
  between the commit and the answer leaves a row without an answer whose holder is gone: the
  next copy sees that at once (PostgreSQL: the holder's advisory lock went with its connection;
  SQLite: its lock on the ``-holders`` file went with the process) and answers
  ``IDEMPOTENCY_KEY_ANSWER_LOST``: done, its changes are saved, reload them; the work is not
  done again. A holder alive that never stores the answer (the database failed after the work)
  counts as lost once ``answer_due`` has passed (:data:`ANSWER_DEADLINE`); when the request
  failed after its work, its own process stores that answer. A request that never committed left
  no row: its retry runs at once.
- The same key with a different request (other operation or variables) is refused with
  ``IDEMPOTENCY_KEY_REUSED``; keys are per person (the token's subject, or the client address for
  anonymous requests) and expire after 24 hours (:data:`KEY_LIFETIME`).
- A request that writes nothing (a query, a mutation refused by validation) stores nothing: sent
  again, it is simply answered again.

Replayed answers carry ``Idempotent-Replayed: true``.

Answers that hold a secret (a refresh token, a calendar feed address, an invite code) must not
sit in this table in clear while the tables that own those secrets keep only hashes. A mutation
declares how its answer is kept (``payload_mutation(secret_answer=...)``, :class:`SecretAnswer`):

- ``SEALED``: encrypted (AES-256-GCM) with a key derived (HKDF-SHA256) from the request itself,
  which the table does not keep: the canonical request (its variables hold the refresh token) and
  the ``Authorization`` header (a signed access token). A retry carries both and reads the
  answer; the table alone cannot. A replay with other credentials gets
  ``IDEMPOTENCY_KEY_SEALED`` (409) instead of the answer.
- ``NOT_KEPT``: no row at all: the request runs as if it had no key (for sign-in, whose only
  secret input is a password; a key derived from it could be guessed offline).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import errno
import hashlib
import json
import logging
import os
import secrets
import weakref
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Integer, String, Text, delete, event, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import NullPool

from backend.asgi import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    error_answer,
    json_answer,
    read_body,
    replay,
    send_all,
)
from backend.kit.db import Base, Database, UTCDateTime, utcnow, write_hook

HEADER = b"idempotency-key"
KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 200
# How long a copy waits for the first request's answer while its holder is alive and the answer
# is due, before giving up (IDEMPOTENCY_KEY_IN_USE, "try again").
WAIT_FOR_FIRST = timedelta(seconds=30)
# How long after its work committed a request's answer is due. A holder that is alive but has not
# stored it by then failed after the work (the database went away): the answer counts as lost.
# It bounds a request's time from its first commit to its answer, far above the usual
# milliseconds; wall-clock time of the app hosts (no test clock), so hosts keep NTP time.
ANSWER_DEADLINE = timedelta(seconds=30)
POLL_SECONDS = 0.05
# A stored answer starting with this is sealed (a JSON answer starts with "{"): version 1 is
# base64url(12-byte nonce + AES-256-GCM ciphertext and tag).
SEALED_PREFIX = "sealed:v1:"
# HKDF's "info": binds derived keys to this one use, so the same request material can never
# yield a key that also serves elsewhere.
SEAL_LABEL = b"eic/idempotency/sealed-answer/v1"
NONCE_BYTES = 12

logger = logging.getLogger("eic.idempotency")


class SecretAnswer(StrEnum):
    """How the store keeps the answer of a mutation that returns a secret."""

    SEALED = "SEALED"
    NOT_KEPT = "NOT_KEPT"


@dataclass
class _Secrecy:
    """What the request's mutations declared about their answers (shared, mutable: a resolver
    may run in a copied context, and the middleware must see what it declared)."""

    sealed: bool = False
    not_kept: bool = False


_secrecy: ContextVar[_Secrecy | None] = ContextVar("eic_idempotent_secrecy", default=None)


def declare_secret_answer(how: SecretAnswer) -> None:
    """Called before a mutation does any work: its answer holds a secret, keep it ``how``."""
    current = _secrecy.get()
    if current is None:  # no Idempotency-Key on this request: nothing is stored anyway
        return
    if how is SecretAnswer.SEALED:
        current.sealed = True
    else:
        current.not_kept = True


@dataclass(frozen=True)
class _Seal:
    """Seals and opens one request's answer. The key comes from what the retry carries and the
    table does not keep; the salt and associated data tie a sealed answer to its row."""

    material: bytes
    salt: bytes

    def _aead(self) -> AESGCM:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=self.salt, info=SEAL_LABEL).derive(
            self.material
        )
        return AESGCM(key)

    def close(self, body: bytes, associated: bytes) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead().encrypt(nonce, body, associated)
        return SEALED_PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, stored: str, associated: bytes) -> bytes | None:
        try:
            sealed = base64.urlsafe_b64decode(stored.removeprefix(SEALED_PREFIX))
            return self._aead().decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], associated)
        except (InvalidTag, ValueError, binascii.Error):
            return None


def _associated(row_principal: str, key: str, request_hash: str, status: int) -> bytes:
    return json.dumps([row_principal, key, request_hash, status]).encode()


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    # who sent it: "user:<id>" or "anonymous:<address>"
    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(MAX_KEY_LENGTH), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # the first answer, once the request has ended
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    # the app process that did the work (see _Liveness), and when its answer is due
    holder: Mapped[str | None] = mapped_column(String(64))
    answer_due: Mapped[datetime | None] = mapped_column(UTCDateTime)


class KeyTakenError(Exception):
    """Another request with this key did (or is doing) the work: this one does none of it."""


@dataclass
class _Claim:
    """The request's key, inserted at the start of its write transactions until one of them
    commits with it: a transaction that rolls back takes the key with it, so the next write of
    the request inserts it again."""

    principal: str
    key: str
    request_hash: str
    now: datetime
    holder: str
    secrecy: _Secrecy = field(default_factory=_Secrecy)
    claimed: bool = False  # a transaction with the key committed: this request did the work
    lost: bool = False  # another request holds the key

    async def __call__(self, session: AsyncSession) -> None:
        if self.claimed or self.secrecy.not_kept:
            return
        session.add(
            IdempotencyKey(
                principal=self.principal,
                key=self.key,
                request_hash=self.request_hash,
                created_at=self.now,
                holder=self.holder,
                answer_due=utcnow() + ANSWER_DEADLINE,
            )
        )
        try:
            await session.flush()
        except IntegrityError as exc:
            self.lost = True
            raise KeyTakenError(self.key) from exc
        event.listen(session.sync_session, "after_commit", self._committed, once=True)

    def _committed(self, _session: object) -> None:
        self.claimed = True


class _Liveness:
    """This process's sign of life, kept where every process using the database can check it.

    One per process and database. ``running`` counts the keys this process is working on: a row
    held by this process whose key is not running any more lost its answer (the store failed).
    Subclasses check other processes; this base knows of none (an in-memory SQLite database
    belongs to one process, so another holder cannot be running)."""

    def __init__(self) -> None:
        self.holder = f"local:{secrets.token_hex(8)}"
        self.running: Counter[tuple[str, str]] = Counter()

    async def start(self) -> None:
        """Take the sign of life (before the first key is claimed); cheap once taken."""

    async def alive(self, database: Database, holder: str | None, principal: str, key: str) -> bool:
        """Whether the request holding this key may still store its answer."""
        if holder == self.holder:
            return self.running[(principal, key)] > 0
        return await self._other_alive(database, holder)

    async def _other_alive(self, database: Database, holder: str | None) -> bool:
        return False


class _PostgresLiveness(_Liveness):
    """A session-level advisory lock, held on a connection of its own for the process's life:
    PostgreSQL releases it the moment that connection ends (the process was killed, or the
    network between them broke), and ``pg_locks`` shows every database user whether it is held.
    """

    def __init__(self, url: str) -> None:
        super().__init__()
        self.lock_id = secrets.randbelow(2**62) + 1
        self.holder = f"pg:{self.lock_id}"
        self.url = url
        self._engine: AsyncEngine | None = None
        self._connection: AsyncConnection | None = None
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        if not await self._lost():
            return
        async with self._starting:
            if not await self._lost():
                return
            if self._connection is not None:  # the server went away: so did the lock
                await self._connection.invalidate()
            if self._engine is None:  # outside the app's pool: it is never given back
                self._engine = create_async_engine(self.url, poolclass=NullPool)
            connection = await self._engine.connect()
            await connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": self.lock_id})
            await connection.commit()  # the lock is the session's: it outlives the transaction
            self._connection = connection

    async def _lost(self) -> bool:
        """Whether the lock is not held: never taken, or its connection closed. asyncpg sees the
        server close an idle connection (a restart) without a round trip."""
        connection = self._connection
        if connection is None or connection.closed or connection.invalidated:
            return True
        driver = (await connection.get_raw_connection()).driver_connection
        return driver is None or bool(driver.is_closed())

    async def _other_alive(self, database: Database, holder: str | None) -> bool:
        if holder is None or not holder.startswith("pg:"):
            return False  # written before holders were kept, or by an SQLite process
        lock_id = int(holder.removeprefix("pg:"))
        async with database.read() as session:
            # A one-bigint advisory lock shows its high half as classid, its low as objid.
            held = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                    " AND classid = CAST(CAST(:high AS bigint) AS oid)"
                    " AND objid = CAST(CAST(:low AS bigint) AS oid) AND objsubid = 1"
                ),
                {"high": lock_id >> 32, "low": lock_id & 0xFFFF_FFFF},
            )
        return bool(held)


class _SqliteFileLiveness(_Liveness):
    """A lock on one byte of a file beside the database (``<file>-holders``, like its -wal and
    -shm): the kernel releases it when the process ends however it ends. The processes sharing an
    SQLite file share a host, so they share those locks too."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.offset = secrets.randbelow(2**40)
        self.holder = f"sqlite:{self.offset}"
        self.path = f"{path}-holders"
        self._fd: int | None = None

    async def start(self) -> None:
        if self._fd is not None:
            return
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self.offset)
        self._fd = fd  # open for the process's life: closing it would release the lock

    async def _other_alive(self, database: Database, holder: str | None) -> bool:
        if holder is None or not holder.startswith("sqlite:") or self._fd is None:
            return False
        import fcntl

        offset = int(holder.removeprefix("sqlite:"))
        try:
            # POSIX record locks are the process's own: trying one tells whether another process
            # holds it; ours it is not (every key of this process is checked by ``running``).
            fcntl.lockf(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EAGAIN):
                return True
            raise
        fcntl.lockf(self._fd, fcntl.LOCK_UN, 1, offset)
        return False


class _UnknownLiveness(_Liveness):
    """Where no lock can show another process's life (no POSIX record locks): every other holder
    counts as alive, and only ``answer_due`` tells a lost answer."""

    async def _other_alive(self, database: Database, holder: str | None) -> bool:
        return holder is not None


_livenesses: weakref.WeakKeyDictionary[Database, _Liveness] = weakref.WeakKeyDictionary()
_by_location: dict[str, _Liveness] = {}


def _liveness(database: Database) -> _Liveness:
    """The process's liveness for this database: one per database location, however many
    :class:`Database` objects point at it (two record locks of one process on one file would
    not see each other)."""
    found = _livenesses.get(database)
    if found is not None:
        return found
    url = make_url(database.url)
    if database.dialect == "postgresql":
        location = url.render_as_string(hide_password=False)
        if location not in _by_location:
            _by_location[location] = _PostgresLiveness(location)
        found = _by_location[location]
    elif database.dialect == "sqlite" and url.database and url.database != ":memory:":
        path = os.path.realpath(url.database)
        location = f"sqlite:{path}"
        if location not in _by_location:
            _by_location[location] = (
                _SqliteFileLiveness(path) if os.name == "posix" else _UnknownLiveness()
            )
        found = _by_location[location]
    else:  # an in-memory database is this Database's alone
        found = _Liveness()
    _livenesses[database] = found
    return found


def _principal(scope: Scope, secret_check: Callable[[str], str | None]) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                subject = secret_check(token.strip())
                if subject is not None:
                    return f"user:{subject}"
    client = scope.get("client") or ("unknown", 0)
    return f"anonymous:{client[0]}"


def canonical_hash(body: bytes) -> str:
    """The same request however it is spelt: the document (by its hash, so an operation sent by
    id and by text is one request), the variables with sorted keys, and the operation name."""
    return hashlib.sha256(canonical_request(body)).hexdigest()


def canonical_request(body: bytes) -> bytes:
    """The bytes :func:`canonical_hash` hashes (the body itself when it is no JSON object)."""
    try:
        request = json.loads(body)
    except ValueError:
        request = None
    if not isinstance(request, dict):
        return body
    query = request.get("query")
    document: Any = hashlib.sha256(query.encode()).hexdigest() if isinstance(query, str) else None
    if document is None:
        extensions = request.get("extensions")
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        document = request.get("id") or (
            persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        )
    canonical = json.dumps(
        {
            "document": document,
            "variables": request.get("variables") or {},
            "operationName": request.get("operationName"),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return canonical.encode()


def _authorization(scope: Scope) -> bytes:
    return next((v for n, v in scope.get("headers", []) if n == b"authorization"), b"")


def _sealed_elsewhere() -> list[Message]:
    return error_answer(
        "IDEMPOTENCY_KEY_SEALED",
        "The first answer to this Idempotency-Key holds a secret that only the credentials that "
        "sent it can read; send the request again with a new key",
        409,
    )


def _in_use() -> list[Message]:
    return error_answer(
        "IDEMPOTENCY_KEY_IN_USE",
        "A request with this Idempotency-Key is still running; try again",
        409,
    )


def _answer_lost() -> list[Message]:
    # HTTP 200: the request succeeded, sending it again changes nothing, so clients that resend
    # on 409 and 5xx must not; the app reloads what the action changed instead.
    return error_answer(
        "IDEMPOTENCY_KEY_ANSWER_LOST",
        "The request with this Idempotency-Key was done and its changes are saved, but its "
        "answer was lost in a server failure; reload what it changed (do not send it again "
        "with a new key)",
        200,
    )


class IdempotencyMiddleware:
    """Honours ``Idempotency-Key`` on POST requests to the GraphQL endpoint.

    Failures of the database while it reads or writes keys (and every exception of the app
    behind it) propagate as exceptions, for the outer layers to answer; except storing an
    answer the client is about to receive: that failure is logged and the answer sent."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        db: Callable[[], Database],
        subject_of: Callable[[str], str | None],
        now: Callable[[], datetime] = utcnow,
        path: str = "/graphql",
    ) -> None:
        self.app = app
        self.db = db
        self.subject_of = subject_of
        self.now = now
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = next((v for n, v in scope.get("headers", []) if n == HEADER), None)
        if (
            key is None
            or scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"].rstrip("/") != self.path
        ):
            await self.app(scope, receive, send)
            return
        text = key.decode("latin-1").strip()
        if not 1 <= len(text) <= MAX_KEY_LENGTH:
            for message in error_answer(
                "BAD_REQUEST", f"Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters", 400
            ):
                await send(message)
            return
        body, more = await read_body(receive)
        principal = _principal(scope, self.subject_of)
        canonical = canonical_request(body)
        request_hash = hashlib.sha256(canonical).hexdigest()
        # A NUL cannot occur in a header value (RFC 9110), so the two parts cannot blur.
        seal = _Seal(
            material=canonical + b"\x00" + _authorization(scope),
            salt=f"{principal}\x00{text}".encode(),
        )
        database = self.db()
        now = self.now()
        liveness = _liveness(database)

        stored = await self._stored(database, principal, text, now)
        if stored is not None:
            await self._replay_or_refuse(
                send, stored, request_hash, seal, database, principal, text
            )
            return

        await liveness.start()  # before the key can name this process as its holder
        claim = _Claim(principal, text, request_hash, now, liveness.holder)
        captured: list[Message] = []

        async def capture(message: Message) -> None:
            captured.append(message)

        running = (principal, text)
        # Counted until the answer is stored: a copy that sees this process hold the key and not
        # run it any more knows that the answer will never come.
        liveness.running[running] += 1
        try:
            token = write_hook.set(claim)
            declared = _secrecy.set(claim.secrecy)
            try:
                await self.app(scope, replay(body, more, receive), capture)
            except BaseException:
                if claim.claimed:  # the work is done: its retries learn so at once
                    await self._store_quietly(database, claim, seal, _answer_lost())
                raise
            finally:
                _secrecy.reset(declared)
                write_hook.reset(token)
            if claim.claimed and not claim.lost:
                await self._store_quietly(database, claim, seal, captured)
        finally:
            liveness.running[running] -= 1
            if liveness.running[running] <= 0:
                del liveness.running[running]
        if claim.lost:  # a copy did the work: answer with its answer
            first = await self._wait(database, principal, text)
            if first is None:
                await send_all(send, _in_use())
            else:
                await self._replay_or_refuse(
                    send, first, request_hash, seal, database, principal, text
                )
            return
        await send_all(send, captured)

    async def _replay_or_refuse(
        self,
        send: Send,
        row: IdempotencyKey,
        request_hash: str,
        seal: _Seal,
        database: Database,
        principal: str,
        key: str,
    ) -> None:
        if row.request_hash == request_hash and row.response_body is None:
            # the work is done (the row is there) and its answer not yet
            waited = await self._wait(database, principal, key, row)
            if waited is None:
                await send_all(send, _in_use())
                return
            row = waited
        await self._answer(send, row, request_hash, seal)

    async def _stored(
        self, database: Database, principal: str, key: str, now: datetime
    ) -> IdempotencyKey | None:
        """The key's row, unless there is none or it has expired (then it is deleted)."""
        async with database.read() as session:
            row = await session.get(IdempotencyKey, (principal, key))
        if row is not None and row.created_at <= now - KEY_LIFETIME:
            async with database.write() as session:  # expired: the key is free again
                await session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.principal == principal,
                        IdempotencyKey.key == key,
                        IdempotencyKey.created_at <= now - KEY_LIFETIME,
                    )
                )
            return None
        return row

    async def _wait(
        self,
        database: Database,
        principal: str,
        key: str,
        row: IdempotencyKey | None = None,
    ) -> IdempotencyKey | None:
        """The first request's row once it has an answer: its own, or "answer lost" as soon as
        its holder is gone or its answer overdue. None after WAIT_FOR_FIRST (the holder lives
        and its answer is due: a request still running). ``row``: the row as just read."""
        liveness = _liveness(database)
        deadline = asyncio.get_running_loop().time() + WAIT_FOR_FIRST.total_seconds()
        while True:
            if row is None:
                row = await self._read(database, principal, key)
            if row is not None:
                if row.response_body is not None:
                    return row
                gone = (
                    row.answer_due is None
                    or row.answer_due <= utcnow()
                    or not await liveness.alive(database, row.holder, principal, key)
                )
                # Read again after the check: an answer stored just before its holder let go
                # of the key is seen, not taken for lost.
                fresh = await self._read(database, principal, key)
                if fresh is not None and fresh.response_body is not None:
                    return fresh
                if gone and fresh is not None and fresh.holder == row.holder:
                    # Answered, not stored: a holder that is late but alive may still store
                    # the real answer for later retries, and a retry spends no write (a burst
                    # of them after a restart would queue on SQLite's one writer).
                    start, body = _parts(_answer_lost())
                    assert start is not None
                    fresh.response_status, fresh.response_body = start["status"], body.decode()
                    return fresh
                row = fresh
            if asyncio.get_running_loop().time() >= deadline:
                return None
            await asyncio.sleep(POLL_SECONDS)

    async def _read(self, database: Database, principal: str, key: str) -> IdempotencyKey | None:
        async with database.read() as session:
            return await session.get(IdempotencyKey, (principal, key))

    async def _answer(
        self, send: Send, row: IdempotencyKey, request_hash: str, seal: _Seal
    ) -> None:
        if row.request_hash != request_hash:
            messages = error_answer(
                "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used for another request; use a new key per action",
                422,
            )
        else:
            assert row.response_body is not None
            status = row.response_status or 200
            body: bytes | None = row.response_body.encode()
            if row.response_body.startswith(SEALED_PREFIX):
                body = seal.open(
                    row.response_body, _associated(row.principal, row.key, request_hash, status)
                )
            if body is None:
                messages = _sealed_elsewhere()
            else:
                messages = json_answer(status, body, [(b"idempotent-replayed", b"true")])
        await send_all(send, messages)

    async def _store_quietly(
        self, database: Database, claim: _Claim, seal: _Seal, captured: list[Message]
    ) -> None:
        """Store the answer; if the database fails now, the client still gets its answer (or
        the app's exception), and the key's retries learn "answer lost" once it is due."""
        try:
            await self._store(database, claim, seal, captured)
        except (SQLAlchemyError, OSError, TimeoutError):
            logger.warning(
                "the answer to an Idempotency-Key was not stored (its work is done)",
                exc_info=True,
            )

    async def _store(
        self, database: Database, claim: _Claim, seal: _Seal, captured: list[Message]
    ) -> None:
        start, body = _parts(captured)
        if start is None:
            return
        stored = body.decode("utf-8")
        # NOT_KEPT declared after an earlier mutation of the same request had already claimed
        # the key: the row must hold an answer, so it holds it sealed.
        if claim.secrecy.sealed or claim.secrecy.not_kept:
            stored = seal.close(
                body,
                _associated(claim.principal, claim.key, claim.request_hash, start["status"]),
            )
        async with database.write() as session:
            # only if the work committed (its row is there) and nobody stored an answer yet
            await session.execute(
                update(IdempotencyKey)
                .where(
                    IdempotencyKey.principal == claim.principal,
                    IdempotencyKey.key == claim.key,
                    IdempotencyKey.request_hash == claim.request_hash,
                    IdempotencyKey.response_body.is_(None),
                )
                .values(response_status=start["status"], response_body=stored)
            )


def _parts(messages: list[Message]) -> tuple[Message | None, bytes]:
    """An answer's start message and its whole body."""
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")
    return start, body


async def forget_expired(db: Database, now: datetime) -> int:
    """Delete keys past their lifetime (a due job); returns how many."""
    async with db.write() as session:
        result = await session.execute(
            delete(IdempotencyKey).where(IdempotencyKey.created_at <= now - KEY_LIFETIME)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def keys_in_flight(database: Database) -> int:
    """Requests of this process with an Idempotency-Key whose answer is not stored yet (the
    metrics' gauge); in memory, no statement."""
    found = _livenesses.get(database)
    return 0 if found is None else sum(found.running.values())


__all__ = [
    "IdempotencyKey",
    "IdempotencyMiddleware",
    "KeyTakenError",
    "SecretAnswer",
    "declare_secret_answer",
    "forget_expired",
    "keys_in_flight",
]
