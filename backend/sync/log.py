"""Writing the change log: what each write transaction changed, numbered in commit order.

Domains declare, next to their models, which of their rows the apps keep offline and who is to
hear of a change (:func:`track`). A flush listener notes every tracked row a transaction inserts,
updates or deletes through the ORM; writes done with a plain UPDATE note theirs with
:func:`note`. As the transaction's last step before commit (``db.before_commit``), the notes get
one commit number and become rows of ``sync_changes``. A transaction that rolls back leaves
nothing.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import event, insert, inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from backend.kit.db import before_commit, insert_or_else, utcnow
from backend.sync.models import Change, ChangeType, SyncLogState

Scope = uuid.UUID | None
Described = Iterable[tuple[ChangeType, uuid.UUID, Iterable[Scope]]]
Widen = Callable[[AsyncSession, list[uuid.UUID]], Awaitable[dict[uuid.UUID, set[uuid.UUID]]]]

PENDING = "eic.sync.pending"

# Scopes are named ids: who a change is for is never the bare id of a row. Threads, events and
# groups take the app's own UUID on create, so a bare id could be chosen to equal another
# organisation's or person's id and read their changes; a scope is the UUIDv5 of its kind and id.
_SCOPES = uuid.UUID("7d0f3c52-4a8e-4f57-9a51-2f6b0c8e1d11")


# A person's scopes are the same on every sync they make (their threads, events and groups), and
# naming them (a SHA-1 and a UUID each) was 2 % of the sync page's CPU (py-spy, profile_pages.py
# --pages SyncChanges). The most recent ones are kept (a few MB at most).
@functools.lru_cache(maxsize=16384)
def _scope_of(kind: str, id_: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(_SCOPES, f"{kind}:{id_}")


def _scope(kind: str, id_: uuid.UUID | None) -> uuid.UUID | None:
    return None if id_ is None else _scope_of(kind, id_)


def person(user_id: uuid.UUID | None) -> uuid.UUID | None:
    """The scope of a person (their notifications, their registrations and pledges)."""
    return _scope("person", user_id)


def organisation(organisation_id: uuid.UUID | None) -> uuid.UUID | None:
    """The scope of everyone acting for an organisation."""
    return _scope("organisation", organisation_id)


def thread_followers(thread_id: uuid.UUID | None) -> uuid.UUID | None:
    return _scope("thread", thread_id)


def event_attendees(event_id: uuid.UUID | None) -> uuid.UUID | None:
    return _scope("event", event_id)


def group_participants(group_id: uuid.UUID | None) -> uuid.UUID | None:
    return _scope("group", group_id)


_tracked: dict[type[Any], Callable[[Any], Described]] = {}
_wideners: dict[ChangeType, Widen] = {}


def track(model: type[Any], describe: Callable[[Any], Described]) -> None:
    """Rows of ``model`` written through the ORM are changes: ``describe(row)`` says of which
    synced thing (a post is a change of its thread) and for which scopes."""
    _tracked[model] = describe


def widen(change_type: ChangeType, scopes_of: Widen) -> None:
    """Scopes of a change that no row attribute gives (the organisations with offers on a
    listing), looked up once per commit for all changed things of the type."""
    _wideners[change_type] = scopes_of


def note(
    session: AsyncSession | Session,
    change_type: ChangeType,
    entity_id: uuid.UUID,
    scopes: Iterable[Scope],
) -> None:
    """Record a change in the caller's transaction (for writes the flush listener cannot see:
    UPDATE statements)."""
    pending: dict[tuple[ChangeType, uuid.UUID], set[uuid.UUID]] = session.info.setdefault(
        PENDING, {}
    )
    pending.setdefault((change_type, entity_id), set()).update(s for s in scopes if s is not None)
    before_commit(session, _write_changes)


@event.listens_for(Session, "after_flush")
def _noted_on_flush(session: Session, _context: Any) -> None:
    # after_flush still sees the flush's new/dirty/deleted sets and the attributes' history,
    # and new rows have their ids
    dirty = [row for row in session.dirty if type(row) in _tracked]
    for row in dirty:
        if session.is_modified(row, include_collections=False):
            _describe(session, row)
            # who heard of it before the change hears of it too: a supplier replaced on a
            # group, a facilitator whose pledge the member took over, must drop their copy
            _describe(session, _AsItWas(row))
    for row in (*session.new, *session.deleted):
        if type(row) in _tracked:
            _describe(session, row)


class _AsItWas:
    """A row's attributes as they were before the flush (for the describe functions)."""

    def __init__(self, row: Any) -> None:
        self._state = inspect(row)
        self._model = type(row)

    def __getattr__(self, name: str) -> Any:
        attribute = self._state.attrs[name]
        history = attribute.history
        if history.deleted:
            return history.deleted[0]
        return attribute.value


def _describe(session: Session, row: Any) -> None:
    model = row._model if isinstance(row, _AsItWas) else type(row)
    for change_type, entity_id, scopes in _tracked[model](row):
        note(session, change_type, entity_id, scopes)


async def _next_sequence(session: AsyncSession) -> int:
    """The next commit number. The upsert locks the state row until this transaction ends."""
    statement = (
        insert_or_else(session, SyncLogState)
        .values(id=1, last_sequence=1, pruned_through=0)
        .on_conflict_do_update(
            index_elements=[SyncLogState.id],
            set_={"last_sequence": SyncLogState.last_sequence + 1},
        )
        .returning(SyncLogState.last_sequence)
    )
    return int((await session.execute(statement)).scalar_one())


async def _write_changes(session: AsyncSession) -> None:
    await session.flush()  # writes still waiting in the session are noted by the listener
    pending: dict[tuple[ChangeType, uuid.UUID], set[uuid.UUID]] = session.info.pop(PENDING, {})
    if not pending:
        return
    for change_type, scopes_of in _wideners.items():
        ids = [entity_id for kind, entity_id in pending if kind is change_type]
        if ids:
            for entity_id, scopes in (await scopes_of(session, ids)).items():
                pending[(change_type, entity_id)].update(scopes)
    sequence = await _next_sequence(session)
    now = utcnow()
    rows = [
        {
            "scope_id": scope,
            "sequence": sequence,
            "position": position,
            "entity_type": change_type,
            "entity_id": entity_id,
            "created_at": now,
        }
        for position, ((change_type, entity_id), scopes) in enumerate(pending.items())
        for scope in scopes
    ]
    if len(rows) > COPY_ABOVE and session.get_bind().dialect.name == "postgresql":
        await _copy(session, rows)
    elif rows:
        await session.execute(insert(Change), rows)


# Above this many rows a commit's changes go in by PostgreSQL's COPY: every other write waits
# for this commit (it holds the numbering row), and COPY writes them several times faster than
# INSERTs (scripts/bench_sync.py, the fan-out phase).
COPY_ABOVE = 500
COPY_COLUMNS = ("scope_id", "sequence", "position", "entity_type", "entity_id", "created_at")


async def _copy(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection  # asyncpg's, in this transaction
    await driver.copy_records_to_table(
        Change.__tablename__,
        columns=COPY_COLUMNS,
        records=[
            tuple(
                # the enum column stores names, as SQLAlchemy writes them
                row[column].name if column == "entity_type" else row[column]
                for column in COPY_COLUMNS
            )
            for row in rows
        ],
    )
