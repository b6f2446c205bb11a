"""The offline sync feed: what changed for the signed-in person since their cursor.

An app keeps an offline copy of what is *its person's*: their organisation's listings and those
it has offers on, their organisation's offers and trades, the purchasing groups they pledged to,
organise or supply, the forum threads they follow, the events they registered for or organise,
and their notifications. ``changes(since)`` walks the change log (``backend/sync/log.py``) from
the cursor in commit order, keeps each thing's latest change, and answers with each thing's
current state read through its domain's read rules: a thing the person may no longer read, or
that is no longer theirs to keep (a thread unfollowed, a registration cancelled, a draft
deleted), is a tombstone. The cursor says how far the person has read; quiet stretches move it
to the head of the log, so a person with nothing new never falls behind the retention window.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    Integer,
    bindparam,
    delete,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.visitors import replacement_traverse

from backend.auth.viewer import Role, Viewer
from backend.events import service as events_service
from backend.forums import service as forums_service
from backend.kit.db import Database, insert_or_else
from backend.kit.errors import ErrorCode, ServiceError
from backend.kit.prepared import Prepared
from backend.marketplace import service as marketplace_service
from backend.notifications import service as notifications_service
from backend.purchasing import service as purchasing_service
from backend.sync import log as sync_log
from backend.sync.models import Change, ChangeType, SyncLogState

# How long the log keeps changes: a cursor older than this is answered RESYNC_REQUIRED.
RETENTION = timedelta(days=30)
DEFAULT_FIRST = 100
MAX_FIRST = 500
# A position past every position of a commit: the cursor has seen the whole commit.
WHOLE_COMMIT = 2**31 - 1
CURSOR_PREFIX = "sync1"


@dataclass(frozen=True, slots=True)
class Cursor:
    sequence: int
    position: int
    # whose cursor it is (person and organisation acted for): their copy is a different one
    audience: str
    # the log's epoch when it was given (SyncLogState.epoch); empty before any restore, and
    # then left out of the text, so cursors given before epochs existed still read the same
    epoch: str = ""

    def encode(self) -> str:
        text = f"{CURSOR_PREFIX}:{self.sequence}:{self.position}:{self.audience}"
        if self.epoch:
            text += f":{self.epoch}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _audience(viewer: Viewer) -> str:
    who = f"{viewer.user_id}:{viewer.organisation_id}".encode()
    return hashlib.sha256(who).hexdigest()[:16]


def _decode(text: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        prefix, sequence, position, audience, *epoch = raw.split(":")
        if prefix != CURSOR_PREFIX or len(epoch) > 1 or epoch == [""]:
            raise ValueError(prefix)
        cursor = Cursor(int(sequence), int(position), audience, "".join(epoch))
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise ServiceError.of(
            ErrorCode.VALIDATION, "Not a sync cursor; send one `changes` gave", "since"
        ) from None
    if cursor.sequence < 0 or not 0 <= cursor.position <= WHOLE_COMMIT:
        raise ServiceError.of(ErrorCode.VALIDATION, "Not a sync cursor", "since")
    return cursor


def _resync(reason: str) -> ServiceError:
    return ServiceError.of(
        ErrorCode.RESYNC_REQUIRED,
        f"{reason}: drop the offline copy, load it again, and sync from the cursor of a "
        "`changes` call without `since` made before loading",
        "since",
    )


def _check_kept(cursor: Cursor, pruned: int) -> None:
    if (cursor.sequence, cursor.position) < (pruned, WHOLE_COMMIT):
        raise _resync(f"Changes older than {RETENTION.days} days are no longer kept")


@dataclass(frozen=True, slots=True)
class SyncedChange:
    """The latest change of one thing; ``node`` is its current state (a domain view), None for a
    tombstone."""

    type: ChangeType
    id: uuid.UUID
    sequence: int
    node: Any | None


@dataclass(frozen=True, slots=True)
class ChangeFeed:
    cursor: str
    has_more: bool
    items: list[SyncedChange]


# The feed's reads are Core statements built once, with bind parameters, sent on the session's
# connection: building them again for every request, and the ORM's execution and identity-map
# bookkeeping for the log state, cost about a fifth of the page. They send the SQL the ORM's
# (``session.get``) and the per-request statements sent, to the character.
_state = SyncLogState.__table__.c
_changes = Change.__table__.c

# session.get(SyncLogState, 1): every column, by primary key
_LOG_STATE = Prepared(
    select(_state.id, _state.last_sequence, _state.pruned_through, _state.epoch).where(
        _state.id == bindparam("id")
    )
)


class _LogState(NamedTuple):
    id: int
    last_sequence: int
    pruned_through: int
    epoch: str


async def _log_state(connection: AsyncConnection) -> _LogState | None:
    rows = await _LOG_STATE.rows(connection, {"id": 1})
    return _LogState._make(rows[0]) if rows else None


# Who the viewer is to the log, by kind (the index is the statement's ``kind`` column).
_SCOPE_KINDS = (
    (sync_log.thread_followers, forums_service.followed_thread_ids),
    (sync_log.event_attendees, events_service.registered_event_ids),
    (sync_log.group_participants, purchasing_service.pledged_group_ids),
)
# A viewer standing in for every viewer while the scopes' statement is built: its ids become
# bind parameters (the domains' own conditions, so their read rules stay theirs alone).
_ANY_VIEWER = Viewer(
    user_id=uuid.UUID("00000000-0000-4000-8000-5c09e5000001"),
    role=Role.COMMUNITY,
    organisation_id=uuid.UUID("00000000-0000-4000-8000-5c09e5000002"),
    token_id="",
)
# Another role, acting for no organisation: the statement must read the same for it.
_OTHER_VIEWER = Viewer(
    user_id=uuid.UUID("00000000-0000-4000-8000-5c09e5000003"),
    role=Role.FIRM,
    organisation_id=None,
    token_id="",
)


@functools.cache
def _scopes_statement() -> tuple[Prepared, tuple[str, ...]]:
    """The scopes' statement with the viewer's user id as bind parameters, and their names.

    Built on first use, not at import: the domains' statements need their mappers configured.
    Each place the id appears gets a parameter of its own, so the SQL (PostgreSQL's numbered
    parameters too) reads as the statement built for one viewer did.
    """

    def built(viewer: Viewer) -> Any:
        return union_all(
            *(
                select(literal(index).label("kind"), ids(viewer).subquery().c[0].label("id"))
                for index, (_, ids) in enumerate(_SCOPE_KINDS)
            )
        )

    statement = built(_ANY_VIEWER)
    # Built for everyone from one viewer: it must not depend on the viewer's role or
    # organisation (a domain's rule that did would be frozen as this viewer's for everyone).
    if str(statement) != str(built(_OTHER_VIEWER)):
        raise RuntimeError("the sync scopes depend on more than the viewer's user id")
    names: list[str] = []

    def viewer_bound(element: Any, **_: Any) -> Any:
        if isinstance(element, BindParameter):
            if element.value == _ANY_VIEWER.user_id:
                names.append(f"viewer_user_id_{len(names)}")
                return bindparam(names[-1], type_=element.type)
            if element.value == _ANY_VIEWER.organisation_id:
                # a domain now reads the organisation too: bind it here before going on
                raise RuntimeError("the sync scopes read the viewer's organisation")
        return None

    bound = replacement_traverse(statement, {}, viewer_bound)
    if not names:
        raise RuntimeError("the sync scopes no longer read the viewer's user id")
    return Prepared(bound), tuple(names)


async def _scopes(connection: AsyncConnection, viewer: Viewer) -> list[uuid.UUID]:
    """Who the viewer is to the log: themselves, their organisation, and the threads, events
    and groups they follow, attend or pledged to (one statement)."""
    statement, names = _scopes_statement()
    rows = await statement.rows(connection, dict.fromkeys(names, viewer.user_id))
    scopes = {_SCOPE_KINDS[kind][0](id_) for kind, id_ in rows}
    scopes.add(sync_log.person(viewer.user_id))
    scopes.add(sync_log.organisation(viewer.organisation_id))
    return [scope for scope in scopes if scope is not None]


@functools.cache
def _after_statement(typed: bool) -> Prepared:
    """The changes after a cursor, one statement per shape (whether the call names types)."""
    statement = (
        select(_changes.sequence, _changes.position, _changes.entity_type, _changes.entity_id)
        .where(
            _changes.scope_id.in_(bindparam("scopes", expanding=True)),
            or_(
                _changes.sequence > bindparam("after_sequence"),
                (_changes.sequence == bindparam("at_sequence"))
                & (_changes.position > bindparam("after_position")),
            ),
            # what was committed when the head was read: the cursor may then move to the head
            _changes.sequence <= bindparam("head"),
        )
        .distinct()
        .order_by(_changes.sequence, _changes.position)
        # typed as .limit(n) types it: asyncpg's SQL casts it (LIMIT $5::INTEGER)
        .limit(bindparam("limit", type_=Integer))
    )
    if typed:
        statement = statement.where(_changes.entity_type.in_(bindparam("types", expanding=True)))
    return Prepared(statement)


async def changes(
    *,
    db: Database,
    viewer: Viewer,
    since: str | None,
    types: list[ChangeType] | None,
    first: int | None,
    now: datetime,
) -> ChangeFeed:
    """What changed for the viewer after ``since``, oldest first, each thing once."""
    limit = DEFAULT_FIRST if first is None else first
    if not 1 <= limit <= MAX_FIRST:
        raise ServiceError.of(ErrorCode.VALIDATION, f"Between 1 and {MAX_FIRST}", "first")
    if types is not None and not types:
        raise ServiceError.of(
            ErrorCode.VALIDATION, "Name at least one type, or leave it out", "types"
        )
    audience = _audience(viewer)
    cursor = _decode(since) if since is not None else None
    if cursor is not None and cursor.audience != audience:
        raise _resync("This cursor is of another account or organisation")
    async with db.read_rows() as connection:
        state = await _log_state(connection)
        head = state.last_sequence if state else 0
        epoch = state.epoch if state else ""
        if cursor is None:  # a first sync: start from here, after loading everything
            return ChangeFeed(Cursor(head, WHOLE_COMMIT, audience, epoch).encode(), False, [])
        if cursor.epoch != epoch:
            # The database was restored from a backup since this cursor was given. Whether the
            # cursor is behind the backup or ahead of it, the app's copy may hold what the
            # backup never saw (its own writes, things loaded or synced after the backup), and
            # no change in the restored log will ever take them away: only a new copy is right.
            raise _resync("The server's data was restored from a backup since this cursor")
        if cursor.sequence > head:
            # a database restored from a backup is behind what the apps saw
            raise _resync("This cursor is ahead of the server's change log")
        _check_kept(cursor, state.pruned_through if state else 0)
        rows = await _after(connection, viewer, cursor, head, types, limit)
        # a prune that committed since the state was read may have taken changes this cursor
        # had not seen: read it again, after the changes
        state = await _log_state(connection)
        _check_kept(cursor, state.pruned_through if state else 0)
    has_more = len(rows) > limit
    rows = rows[:limit]
    if has_more:
        last = rows[-1]
        next_cursor = Cursor(last.sequence, last.position, audience, epoch)
    else:
        next_cursor = Cursor(head, WHOLE_COMMIT, audience, epoch)

    latest: dict[tuple[ChangeType, uuid.UUID], int] = {}
    # each thing once, at its latest change (the column's type gives ChangeType members; rows
    # read as tuples, which costs a fraction of reading a Row's fields by name)
    for sequence, _position, change_type, entity_id in rows:
        key = (change_type, entity_id)
        latest.pop(key, None)
        latest[key] = sequence
    nodes = await _current(db, viewer, latest.keys(), now)
    items = [
        SyncedChange(change_type, entity_id, sequence, nodes.get((change_type, entity_id)))
        for (change_type, entity_id), sequence in latest.items()
    ]
    return ChangeFeed(next_cursor.encode(), has_more, items)


async def _after(
    connection: AsyncConnection,
    viewer: Viewer,
    cursor: Cursor,
    head: int,
    types: list[ChangeType] | None,
    limit: int,
) -> list[Any]:
    """The viewer's change rows after the cursor, up to the head, in commit order (one more
    than ``limit``, to tell whether more wait)."""
    values: dict[str, Any] = {
        "scopes": await _scopes(connection, viewer),
        "after_sequence": cursor.sequence,
        "at_sequence": cursor.sequence,
        "after_position": cursor.position,
        "head": head,
        "limit": limit + 1,
    }
    if types:
        values["types"] = types
    return await _after_statement(bool(types)).rows(connection, values)


async def _current(
    db: Database, viewer: Viewer, keys: Any, now: datetime
) -> dict[tuple[ChangeType, uuid.UUID], Any]:
    """The current state of these things as the viewer may see them: one load per type."""
    by_type: dict[ChangeType, list[uuid.UUID]] = {}
    for change_type, entity_id in keys:
        by_type.setdefault(change_type, []).append(entity_id)
    found: dict[tuple[ChangeType, uuid.UUID], Any] = {}
    for change_type, ids in by_type.items():
        loaded: dict[uuid.UUID, Any]
        if change_type is ChangeType.LISTING:
            loaded = await marketplace_service.listings_for_sync(
                db=db, viewer=viewer, listing_ids=ids
            )
        elif change_type is ChangeType.OFFER:
            loaded = await marketplace_service.offers_for_sync(db=db, viewer=viewer, offer_ids=ids)
        elif change_type is ChangeType.TRADE:
            loaded = await marketplace_service.trades_for_sync(db=db, viewer=viewer, trade_ids=ids)
        elif change_type is ChangeType.PURCHASE_GROUP:
            loaded = await purchasing_service.groups_for_sync(
                db=db, viewer=viewer, group_ids=ids, now=now
            )
        elif change_type is ChangeType.FORUM_THREAD:
            loaded = await forums_service.threads_for_sync(db=db, viewer=viewer, thread_ids=ids)
        elif change_type is ChangeType.EVENT:
            loaded = await events_service.events_for_sync(db=db, viewer=viewer, event_ids=ids)
        else:
            loaded = await notifications_service.notifications_for_sync(
                db=db, viewer=viewer, notification_ids=ids
            )
        found.update(((change_type, entity_id), node) for entity_id, node in loaded.items())
    return found


# Commits forgotten per transaction: SQLite has one writer, whom a long DELETE would hold up.
PRUNE_STEP = 1000


async def prune(*, db: Database, now: datetime, retention: timedelta = RETENTION) -> int:
    """Forget changes older than the retention window (a due job), a step of commits per
    transaction; returns how many rows went. Cursors from before what was forgotten are then
    answered RESYNC_REQUIRED."""
    async with db.read() as session:
        through = await session.scalar(
            select(func.max(Change.sequence)).where(Change.created_at < now - retention)
        )
        first = await session.scalar(select(func.min(Change.sequence)))
    if through is None or first is None:
        return 0
    removed = 0
    for lower in range(first, through + 1, PRUNE_STEP):
        upper = min(through, lower + PRUNE_STEP - 1)
        async with db.write() as session:
            result = await session.execute(delete(Change).where(Change.sequence <= upper))
            await session.execute(
                update(SyncLogState)
                .where(SyncLogState.id == 1, SyncLogState.pruned_through < upper)
                .values(pruned_through=upper)
            )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


async def start_epoch(*, db: Database) -> str:
    """Begin a new epoch of the change log (after a restore): every cursor given out before is
    answered RESYNC_REQUIRED from now on. Returns the new epoch."""
    epoch = secrets.token_hex(8)
    async with db.write() as session:
        statement = (
            insert_or_else(session, SyncLogState)
            .values(id=1, last_sequence=0, pruned_through=0, epoch=epoch)
            .on_conflict_do_update(index_elements=[SyncLogState.id], set_={"epoch": epoch})
        )
        await session.execute(statement)
    return epoch
