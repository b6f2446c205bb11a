"""Engine, sessions and the declarative base shared by every domain.

Services open their own unit of work through :class:`Database`: ``db.read()`` for queries and
``db.write()`` for a transaction that commits when the block ends. No ``AsyncSession`` is ever
shared between concurrently running resolvers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import orjson
from sqlalchemy import (
    ColumnElement,
    DateTime,
    Enum,
    MetaData,
    case,
    event,
    inspect,
    literal,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError, IntegrityError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import MANYTOONE, DeclarativeBase, Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.interfaces import ORMOption
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import TypeDecorator

from backend.kit.geo import great_circle_km

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


T = TypeVar("T")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> uuid.UUID:
    """A UUIDv7: time-ordered, so new rows land at the end of primary-key indexes.

    Python 3.11 has no ``uuid.uuid7``; this follows RFC 9562 section 5.7.
    """
    unix_ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (unix_ms & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b
    return uuid.UUID(int=value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored in UTC on every backend.

    SQLite keeps no offset, so values come back naive there; this type refuses naive input and
    returns aware UTC values everywhere, which keeps comparisons in services backend-independent.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        # TypeDecorator answers `object`; keyset cursors decode their sort values by it.
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column(enum_class: type[StrEnum], name: str) -> Enum:
    """An enum stored as a short string with a CHECK: adding a value is a plain migration on both
    SQLite and PostgreSQL (no native enum type to ALTER)."""
    return Enum(enum_class, name=name, native_enum=False, create_constraint=True, length=32)


# A new aiosqlite connection's SQLite busy timeout: how long a write waits for another process's
# write lock (writers of this process queue on Database._sqlite_writers first).
SQLITE_BUSY_SECONDS = 30


def _configure_sqlite(engine: AsyncEngine) -> None:
    """WAL, foreign keys, a busy timeout, and explicit BEGINs.

    pysqlite's own transaction handling defers BEGIN until the first write, so two writers that
    both read first dead-lock into "database is locked". We switch that off and emit BEGIN
    ourselves: ``BEGIN IMMEDIATE`` for write units of work (they queue on the busy timeout),
    plain ``BEGIN`` for reads (WAL lets them run beside a writer).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # PostgreSQL gets the same function from a migration: one SQL for both backends.
        dbapi_connection.create_function("eic_distance_km", 4, great_circle_km, deterministic=True)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


@dataclass(frozen=True)
class Timeouts:
    """How long the service waits for its database before it gives up with an exception
    (EIC_DB_*_TIMEOUT_SECONDS; the defaults are the settings' defaults).

    ``connect``: a new PostgreSQL connection, TCP and start-up (asyncpg ``timeout``).
    ``statement``: PostgreSQL's ``statement_timeout`` (the server cancels the statement:
    ``QueryCanceledError``); the client stops waiting one second later (asyncpg
    ``command_timeout``: ``TimeoutError``), which is what ends the wait for a server that does
    not answer at all (stopped, partitioned). ``pool``: waiting for a free connection of the
    pool (``sqlalchemy.exc.TimeoutError``), on both backends.
    """

    connect: float = 5
    statement: float = 10
    pool: float = 5


def read_json(text: str) -> Any:
    """A stored JSON value as ``json.loads`` reads it, read by orjson where orjson gives the
    same: 4 to 8 times faster on the short lists and objects the tables hold. The standard
    reader takes what orjson refuses (NaN, Infinity, numbers out of a float's range, lone
    surrogates), and a value in which orjson found a float as large as an integer past 64 bits
    (which orjson reads as a float, the standard reader as an integer)."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    return json.loads(text) if _holds_huge_float(value) else value


# Integers orjson reads exactly: from -2**63 to 2**64 - 1. A float at least this large may have
# been a larger integer in the text.
_HUGE = 9.2e18


def _holds_huge_float(value: Any) -> bool:
    kind = value.__class__
    if kind is float:
        return value >= _HUGE or value <= -_HUGE
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return False
    for item in value:  # noqa: SIM110 - a loop: any() of a generator cost what orjson saved
        if item.__class__ is not str and _holds_huge_float(item):
            return True
    return False


def make_engine(url: str, *, echo: bool = False, timeouts: Timeouts | None = None) -> AsyncEngine:
    timeouts = timeouts or Timeouts()
    kwargs: dict[str, Any] = {"echo": echo, "json_deserializer": read_json}
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/").endswith("sqlite+aiosqlite:"):
            kwargs["poolclass"] = StaticPool
        else:
            # A pool that keeps its connections open (SQLAlchemy's default queue pool). With a
            # fresh connection per unit of work the last one to close deleted the -wal and -shm
            # files, and the next one had to create them again: on a full disk every request,
            # reads too, then failed (SQLITE_IOERR_SHMSIZE). Open connections keep both files,
            # so reads go on; they also save the open and the PRAGMAs per unit of work
            # (scripts/bench_sqlite_pool.py). Each aiosqlite connection has its own thread and
            # serves one unit of work at a time, as with any pooled connection.
            kwargs["pool_timeout"] = timeouts.pool
        kwargs["connect_args"] = {"timeout": SQLITE_BUSY_SECONDS}
    else:
        kwargs["pool_timeout"] = timeouts.pool
        if url.startswith("postgresql+asyncpg"):
            kwargs["connect_args"] = {
                "timeout": timeouts.connect,
                "command_timeout": timeouts.statement + 1,
                "server_settings": {
                    "statement_timeout": str(round(timeouts.statement * 1000)),
                    # asyncpg prepares every statement; after five runs PostgreSQL may switch to
                    # a generic plan that cannot see the search's values and scans every listing
                    # (measured: 100 ms queries turning into 600 ms from the sixth run on). Plan
                    # each run for its values.
                    "plan_cache_mode": "force_custom_plan",
                },
            }
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    else:
        _ping_after_idle(engine)
    event.listen(engine.sync_engine, "before_cursor_execute", _track_statement)
    return engine


# A pooled PostgreSQL connection that rested longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0
_IDLE_SINCE = "eic.idle_since"


def _ping_after_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it has rested (as PgBouncer's
    ``server_check_delay`` does), instead of before every use (``pool_pre_ping``).

    A ping is three round trips with asyncpg (BEGIN, an empty query, ROLLBACK), paid by every
    unit of work, two per request: it was the largest single cost of a search page's database
    time (scripts/bench_pages.py). A connection in steady use needs none: if the server went
    away since its last use, the statement fails, SQLAlchemy sees a disconnect and renews every
    connection of the pool at once, and the request answers SERVICE_UNAVAILABLE (retryable).
    Connections that rested, where a restart or an idle timeout of a proxy is likely to have
    ended them, are still pinged and replaced silently."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new, or in steady use
        try:
            dbapi_connection.ping()
        except Exception as exc:  # the pool replaces it and tries another
            raise DisconnectionError("a rested connection did not answer a ping") from exc


async def once_more_on_clash(operation: Callable[[], Awaitable[T]]) -> T:
    """Run a write; if a concurrent twin (the same client id, the same report ...) committed its
    row first and ours hit the unique constraint, run it once more: this time it finds the row
    and answers as a retry does, instead of an internal error."""
    try:
        return await operation()
    except IntegrityError:
        return await operation()


# Run at the start of every write transaction of the current request (the idempotency layer
# records its key there, so the key and the work commit or roll back together).
write_hook: ContextVar[Callable[[AsyncSession], Awaitable[None]] | None] = ContextVar(
    "write_hook", default=None
)


def held_row(session: AsyncSession | Session, model: type[T], key: Any) -> T | None:
    """The row of ``model`` with primary key ``key`` if the session holds it, loaded (no
    statement either way); None otherwise, or when the session expired it."""
    row = session.identity_map.get(inspect(model).identity_key_from_primary_key([key]))
    if row is None or inspect(row).expired_attributes:
        return None
    held: T = row
    return held


async def attach(
    session: AsyncSession, links: Iterable[tuple[Any, str]], *options: ORMOption
) -> None:
    """Give rows their many-to-one relationships as loaded values, for a payload built from the
    rows a unit of work holds instead of read back: ``links`` are (row, relationship name)
    pairs whose relationships all lead to one mapped class. Related rows the session already
    holds are taken as they are; the others come in one statement (with loader ``options``,
    such as ``joinedload(Organisation.cluster)``, which the rows taken as they are do not get).

    Reading the rows back with ``selectinload`` would select the rows themselves once more, and
    one statement per relationship. A held row is current only if nothing changed it behind the
    ORM's back (an UPDATE with ``synchronize_session=False``): attach before such an UPDATE of
    the related rows, or leave them out.
    """
    wanted: list[tuple[Any, str, Any]] = []
    target: Any = None
    for row, name in links:
        mapper = inspect(type(row))
        relationship = mapper.relationships[name]
        assert relationship.direction is MANYTOONE, name
        assert target in (None, relationship.mapper), name
        target = relationship.mapper
        [column] = relationship.local_columns
        wanted.append((row, name, getattr(row, mapper.get_property_by_column(column).key)))
    if target is None:
        return
    found: dict[Any, Any] = {}
    missing: set[Any] = set()
    for _row, _name, key in wanted:
        if key is None or key in found:
            continue
        held = held_row(session, target.class_, key)
        if held is not None:
            found[key] = held
        else:
            missing.add(key)
    if len(missing) == 1:
        # by primary key, as session.get asks (its cached statement; an IN list is rendered
        # again for every execution)
        [key] = missing
        found[key] = await session.get(target.class_, key, options=list(options))
    elif missing:
        [primary_key] = target.primary_key
        loaded = await session.scalars(
            select(target).where(primary_key.in_(missing)).options(*options)
        )
        pk_name = target.get_property_by_column(primary_key).key
        found.update({getattr(related, pk_name): related for related in loaded})
    for row, name, key in wanted:
        set_committed_value(row, name, found.get(key) if key is not None else None)


def later_of(column: Any, moment: datetime) -> ColumnElement[datetime]:
    """The later of a time column and ``moment``, as SQL (GREATEST, spelt so that both engines
    run it). Concurrent writers commit in another order than they took their times: setting a
    "last activity" to the writer's own time would let an older time overwrite a newer one."""
    value = literal(moment, column.type)
    return case((column < value, value), else_=column)


def insert_or_else(session: AsyncSession, model: type[Any]) -> Any:
    """An INSERT that can say what to do on a conflict (``on_conflict_do_nothing`` /
    ``_do_update``): both backends spell it alike, through their own dialect's construct."""
    module: Any = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return module.insert(model)


def before_commit(
    session: AsyncSession | Session, callback: Callable[[AsyncSession], Awaitable[None]]
) -> None:
    """Run ``callback`` once, as the last step of the write transaction that ``session`` is in,
    just before it commits (the change log numbers a commit there, so that its numbers follow
    commit order). Nothing runs if the transaction rolls back."""
    callbacks: list[Callable[[AsyncSession], Awaitable[None]]] = session.info.setdefault(
        BEFORE_COMMIT, []
    )
    if callback not in callbacks:
        callbacks.append(callback)


BEFORE_COMMIT = "eic.before_commit"


async def _run_before_commit(session: AsyncSession) -> None:
    # What the block left unflushed (a delete, say) is flushed first, so that flush listeners,
    # which register callbacks, see it; a callback may register another by writing.
    await session.flush()
    while callbacks := session.info.pop(BEFORE_COMMIT, None):
        for callback in callbacks:
            await callback(session)


# ---------------------------------------------------------------------------------------------
# Which tables a request reads and which tables a unit of work writes (the response cache's
# invalidation, backend/graphql/response_cache.py). One listener on every engine looks at each
# statement's SQL; it does nothing unless a request or a write asked for it.

# A write of a table that no statement names (DDL, a statement of another kind): every table.
ALL_TABLES = "*"
# Statements that read and write no table.
_CONTROL = frozenset(
    {"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "SET", "SHOW", "RESET", "PRAGMA"}
)
_DML = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "REPLACE", "WITH", "UPSERT"})
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Memo of the tables of statements without a compiled form (text sent to the driver as is).
_MEMO_LIMIT = 2048


class _Kind(StrEnum):
    CONTROL = "control"
    READ = "read"
    WRITE = "write"
    OTHER = "other"  # DDL and the rest: which tables it reads or writes is not told


@dataclass
class TablesRead:
    """The tables the statements of a block named; ``unknown`` when one of them was of a kind
    whose tables cannot be told (then nothing may be cached on the strength of this list)."""

    tables: set[str] = field(default_factory=set)
    unknown: bool = False


_tables_read: ContextVar[TablesRead | None] = ContextVar("tables_read", default=None)
_tables_written: ContextVar[set[str] | None] = ContextVar("tables_written", default=None)


@contextmanager
def tracking_reads() -> Iterator[TablesRead]:
    """The tables every statement sent while the block runs names, in this task and the tasks
    it starts (they inherit the context, and SQLAlchemy's greenlets with them)."""
    tables = TablesRead()
    token = _tables_read.set(tables)
    try:
        yield tables
    finally:
        _tables_read.reset(token)


class _Schema:
    """The known table names, and for each the tables a write of it may change through foreign
    keys (``ON DELETE CASCADE`` / ``SET NULL``: deleting an organisation changes its listings)."""

    def __init__(self) -> None:
        self.size = -1
        self.names: frozenset[str] = frozenset()
        self.reach: dict[str, frozenset[str]] = {}

    def refresh(self) -> None:
        tables = Base.metadata.tables
        if len(tables) == self.size:
            return
        dependants: dict[str, set[str]] = {}
        for table in tables.values():
            for key in table.foreign_keys:
                actions = {(key.ondelete or "").upper(), (key.onupdate or "").upper()}
                if actions & {"CASCADE", "SET NULL", "SET DEFAULT"}:
                    dependants.setdefault(key.column.table.name, set()).add(table.name)
        reach: dict[str, frozenset[str]] = {}
        for name in (table.name for table in tables.values()):
            seen, pending = {name}, [name]
            while pending:
                for dependant in dependants.get(pending.pop(), ()):
                    if dependant not in seen:
                        seen.add(dependant)
                        pending.append(dependant)
            reach[name] = frozenset(seen)
        self.names = frozenset(reach)
        self.reach = reach
        self.size = len(tables)


_schema = _Schema()
_memo: dict[str, tuple[_Kind, frozenset[str]]] = {}


def _classify_sql(sql: str) -> tuple[_Kind, frozenset[str]]:
    """What a statement does and the known tables it names. Every word that is a table name
    counts (a column of the same name too): naming a table too many only costs the cache an
    entry, naming one too few would serve a stale page."""
    _schema.refresh()
    words = _WORD.findall(sql)
    first = words[0].upper() if words else ""
    if first in _CONTROL:
        return _Kind.CONTROL, frozenset()
    tables = frozenset(word for word in words if word in _schema.names)
    if first == "SELECT":
        return _Kind.READ, tables
    if first in _DML:
        return _Kind.WRITE, tables
    return _Kind.OTHER, tables


def _classify(statement: str, context: Any) -> tuple[_Kind, frozenset[str]]:
    compiled = getattr(context, "compiled", None)
    if compiled is not None:  # one per statement shape, kept in SQLAlchemy's compiled cache
        known: tuple[_Kind, frozenset[str]] | None = getattr(compiled, "_eic_tables", None)
        if known is None:
            known = _classify_sql(compiled.string)
            compiled._eic_tables = known
        return known
    known = _memo.get(statement)
    if known is None:
        if len(_memo) >= _MEMO_LIMIT:
            _memo.clear()
        known = _memo[statement] = _classify_sql(statement)
    return known


def _track_statement(
    _connection: Any,
    _cursor: Any,
    statement: str,
    _parameters: Any,
    context: Any,
    _executemany: bool,
) -> None:
    read, written = _tables_read.get(), _tables_written.get()
    if read is None and written is None:
        return
    kind, tables = _classify(statement, context)
    if read is not None and kind is not _Kind.CONTROL:
        read.tables |= tables
        if kind is _Kind.OTHER:
            read.unknown = True
    if written is not None:
        if kind is _Kind.WRITE:
            for table in tables:
                written |= _schema.reach.get(table, frozenset((table,)))
        elif kind is _Kind.OTHER:
            written.add(ALL_TABLES)


class WriteWatcher(Protocol):
    """Told the tables of each committed unit of work (after the commit). It must not raise:
    the write is done and its caller waits for its answer."""

    async def tables_written(self, tables: frozenset[str]) -> None: ...


class NotWritableError(Exception):
    """The database answers reads but cannot take writes; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Below this much free space for the service's user (statvfs f_bavail), an SQLite database counts
# as on a full disk: a commit that has to grow the -wal file may fail (SQLITE_FULL) from then on.
MIN_FREE_DISK_BYTES = 1024 * 1024


def _probe_sqlite_file(path: str) -> None:
    """Free space, then a write that is rolled back (on a connection of its own, so that nothing
    it sets can stay on a pooled one). BEGIN IMMEDIATE alone succeeds on a read-only file; writing
    the header's user_version (with the value it has) is refused there (SQLITE_READONLY)."""
    folder = os.path.dirname(os.path.abspath(path))
    stats = os.statvfs(folder)
    if stats.f_bavail * stats.f_frsize < MIN_FREE_DISK_BYTES:
        raise NotWritableError("disk full")
    # timeout=0: a writer holding the lock answers SQLITE_BUSY at once, and a busy file is writable.
    connection = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorname.startswith("SQLITE_BUSY"):
                return
            raise
        try:
            (version,) = connection.execute("PRAGMA user_version").fetchone()
            connection.execute(f"PRAGMA user_version={int(version)}")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorname.startswith("SQLITE_READONLY"):
                raise NotWritableError("read-only") from exc
            raise
        finally:
            connection.execute("ROLLBACK")
    finally:
        connection.close()


class Database:
    """The engine and the two kinds of unit of work the services use."""

    def __init__(self, url: str, *, echo: bool = False, timeouts: Timeouts | None = None) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, timeouts=timeouts)
        write_engine = (
            self.engine.execution_options(sqlite_begin="IMMEDIATE")
            if self.engine.dialect.name == "sqlite"
            else self.engine
        )
        # PostgreSQL reads run without BEGIN and ROLLBACK (two round trips per unit of work):
        # at READ COMMITTED every statement sees its own snapshot anyway, in a transaction or
        # not. SQLite keeps its BEGIN: there one read transaction is one snapshot, and a BEGIN
        # costs no round trip to a server.
        read_engine = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.engine.dialect.name == "postgresql"
            else self.engine
        )
        self._read_engine = read_engine
        self._read_sessions = async_sessionmaker(read_engine, expire_on_commit=False)
        self._write_sessions = async_sessionmaker(write_engine, expire_on_commit=False)
        # SQLite has one writer at a time, and its busy handler wakes waiting writers in no
        # order: under a burst of 50 writers one request starved past the 30 s timeout
        # (scripts/bench_events.py). Queueing the writers of this process on an asyncio lock
        # (first come, first served) leaves SQLite's own locking to other processes.
        self._sqlite_writers = asyncio.Lock() if self.engine.dialect.name == "sqlite" else None
        # Told what each committed write changed (weakly held: an app that is gone stops
        # listening without saying so, as apps in tests do).
        self._watchers: weakref.WeakSet[WriteWatcher] = weakref.WeakSet()

    def watch_writes(self, watcher: WriteWatcher) -> None:
        """Tell ``watcher`` the tables of every unit of work of :meth:`write` that commits, once
        it has committed (the response cache's versions)."""
        self._watchers.add(watcher)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for queries; whatever it holds is rolled back when the block ends."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def read_rows(self) -> AsyncIterator[AsyncConnection]:
        """A connection for Core queries (rows, no ORM entities), rolled back when the block
        ends: the same statements as :meth:`read` (BEGIN and ROLLBACK on SQLite, neither on
        PostgreSQL), without an ORM session's set-up and tear-down, which cost more than a
        small statement itself (the access check of every signed-in request)."""
        async with self._read_engine.connect() as connection:
            yield connection

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits when the block ends, rolls back if it raises.

        Never open a write inside another in the same task: on SQLite they queue on one lock.
        Once it has committed, the watchers (:meth:`watch_writes`) learn which tables it wrote.
        """
        hook = write_hook.get()
        written: set[str] = set()
        token = _tables_written.set(written)
        try:
            if self._sqlite_writers is None:
                async with self._write_sessions() as session, session.begin():
                    if hook is not None:
                        await hook(session)
                    yield session
                    await _run_before_commit(session)
            else:
                async with (
                    self._sqlite_writers,
                    self._write_sessions() as session,
                    session.begin(),
                ):
                    if hook is not None:
                        await hook(session)
                    yield session
                    await _run_before_commit(session)
        finally:
            _tables_written.reset(token)
        # After the commit, not before: a reader that took the versions before this point and
        # read the rows before the commit stored its page under the old versions, which this
        # makes stale; one that takes them after it reads committed rows.
        if written:
            changed = frozenset(written)
            for watcher in list(self._watchers):
                await watcher.tables_written(changed)

    async def probe(self) -> None:
        """Raise unless the database answers and can take writes: the driver's exception when it
        cannot be reached (``TimeoutError`` when it does not answer in time),
        :class:`NotWritableError` for an SQLite file that is read-only or on a full disk.

        What this cannot see: a PostgreSQL server's full disk (only a committed write would tell,
        and a probe should not write), a disk quota, a write that fails for the next request
        anyway; nor can any rolled-back write find a full disk, since SQLite writes nothing
        before the commit.
        """
        async with self.engine.connect() as connection:
            # The pooled connection stays open while the probe opens its own, so the probe's
            # never is the last one, whose close would delete the -wal and -shm files.
            await connection.execute(text("SELECT 1"))
            path = self.engine.url.database
            if self.dialect == "sqlite" and path and path != ":memory:":
                await asyncio.to_thread(_probe_sqlite_file, path)

    async def dispose(self) -> None:
        await self.engine.dispose()
