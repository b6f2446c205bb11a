"""The thread screen's reads (``thread(id)`` and ``posts(threadId)``, the apps' ThreadDetail)
on Core rows, with statements built once at import.

The screen's two root fields run at the same time, each in its own unit of work. Both need the
viewer's memberships and the thread through forums:read; :class:`ThreadAccesses` (one per
request) reads them once, in the unit of work of the field that asks first, and the other
field waits for that. The thread statement also reads what the thread's card shows (its
forum's title, its author and their organisation, whether the viewer follows it), so the
``thread`` field sends nothing more; ``posts`` sends its count, its page (with the authors
joined) and the reaction counts with the viewer's own, three statements whatever the page size.
Rows, not ORM entities: a read-only screen needs no identity map or instrumented attributes;
and each statement is a :class:`~backend.kit.prepared.Prepared` on a plain connection
(``Database.read_rows``), not a Core statement on a session's: SQLAlchemy's cache key, compiled
cache lookup and session set-up cost more than the driver's work for these small statements.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import (
    Select,
    TypeDecorator,
    Uuid,
    and_,
    bindparam,
    case,
    exists,
    func,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from backend.auth.viewer import Anonymous, Viewer
from backend.forums import policies
from backend.forums.models import Forum, Post, PostReaction, Reaction, Thread, ThreadFollower
from backend.forums.policies import Reader
from backend.forums.service.readers import reader_on
from backend.identity.models import Organisation, User
from backend.kit.db import Database
from backend.kit.errors import not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, decode_cursor
from backend.kit.prepared import Prepared

_threads = Thread.__table__
_forums = Forum.__table__
_posts = Post.__table__
_reactions = PostReaction.__table__
_followers = ThreadFollower.__table__
_users = User.__table__
_organisations = Organisation.__table__


class _ShownId(TypeDecorator[Any]):
    """A UUID column that is only shown (``str()`` of it), never compared: SQLite's stored text
    (32 hex digits, as ``Uuid`` writes it) is cut into the shown form rather than made into a
    UUID first; PostgreSQL's driver gives a UUID already (no processing, as ``Uuid``). On
    SQLite, making UUIDs was most of the cost of processing a page's rows (measured: a page
    of 31 posts' processing from ~500 to ~320 us with the two author columns shown)."""

    impl = Uuid
    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        if dialect.name != "sqlite":
            return self.impl_instance.result_processor(dialect, coltype)
        return _shown_id

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return value  # (result_processor above does the work)


def _shown_id(stored: str | None) -> str | None:
    if stored is None:
        return None
    if len(stored) != 32:  # not Uuid's text: let UUID read (or refuse) it
        return str(uuid.UUID(stored))
    return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"


# A thread's or post's author as ForumAuthor.of_columns reads them (outer-joined: null when
# gone); their ids as _ShownId (the same SQL: the columns are labelled either way).
_AUTHOR_COLUMNS = (
    type_coerce(_users.c.id, _ShownId).label("author_user_id"),
    _users.c.display_name.label("author_name"),
    type_coerce(_organisations.c.id, _ShownId).label("author_organisation_found"),
    _organisations.c.name.label("author_organisation_name"),
)

# The posts' order and cursors, as the ORM list had them (cursors stay valid across the change).
POSTS = Sort("posts:chronological", (SortKey(Post.created_at), SortKey(Post.id)))


@dataclass(frozen=True, slots=True)
class ThreadAccess:
    """The reader, and the thread as its card shows it (None: none they may read)."""

    reader: Reader
    thread: Any  # a named tuple, or None

    @property
    def moderates(self) -> bool:
        thread = self.thread
        assert thread is not None
        return policies.moderates_forum(self.reader, thread.forum_id, thread.forum_organisation_id)


# (Not frozen: a frozen dataclass sets each field through object.__setattr__, and a page makes
# one line per post.)
@dataclass(slots=True)
class ThreadLine:
    """A thread read for its screen: ``row`` has the thread's columns, ``forum_title``,
    ``author_user_id`` and ``author_name`` (null when the account is gone),
    ``author_organisation_found`` and ``author_organisation_name`` (null when none) and
    ``following``."""

    row: Any  # a named tuple
    moderates: bool


@dataclass(slots=True)
class PostLine:
    """A post read for its screen: ``row`` has the post's columns, ``author_user_id``,
    ``author_name``, ``author_organisation_found`` and ``author_organisation_name``."""

    row: Any  # a named tuple
    # reaction -> count, and the viewer's own reactions
    reactions: dict[Reaction, int]
    mine: frozenset[Reaction]
    sees_hidden: bool
    moderates: bool


class ThreadAccesses:
    """Each thread's :class:`ThreadAccess` for one viewer, read once: keep one per request
    (never longer: memberships change, and each request must see them as they are)."""

    def __init__(self) -> None:
        self._found: dict[tuple[Viewer | Anonymous, uuid.UUID], asyncio.Future[ThreadAccess]] = {}

    async def get(
        self, connection: AsyncConnection, viewer: Viewer | Anonymous, thread_id: uuid.UUID
    ) -> ThreadAccess:
        key = (viewer, thread_id)
        found = self._found.get(key)
        if found is not None:  # read, or being read, by the other field
            return await asyncio.shield(found)
        found = self._found[key] = asyncio.get_running_loop().create_future()
        try:
            access = await _read_access(connection, viewer, thread_id)
        except BaseException as failure:
            del self._found[key]
            # Those waiting get the same failure; nobody waiting is no unretrieved exception.
            found.set_exception(failure)
            found.exception()
            raise
        found.set_result(access)
        return access


def _thread_statement(form: policies.ReadForm) -> Select[Any]:
    following = exists().where(
        _followers.c.thread_id == _threads.c.id,
        _followers.c.user_id == bindparam("viewer_id"),
    )
    return (
        select(
            _threads.c.id,
            _threads.c.forum_id,
            _threads.c.author_id,
            _threads.c.author_organisation_id,
            _threads.c.title,
            _threads.c.body,
            _threads.c.language,
            _threads.c.tags,
            _threads.c.pinned,
            _threads.c.locked_at,
            _threads.c.reply_count,
            _threads.c.last_activity_at,
            _threads.c.created_at,
            _threads.c.version,
            _forums.c.title.label("forum_title"),
            _forums.c.organisation_id.label("forum_organisation_id"),
            *_AUTHOR_COLUMNS,
            following.label("following"),
        )
        .select_from(
            _threads.join(_forums, _forums.c.id == _threads.c.forum_id)
            .outerjoin(_users, _users.c.id == _threads.c.author_id)
            .outerjoin(_organisations, _organisations.c.id == _threads.c.author_organisation_id)
        )
        .where(policies.readable_bound(form), _threads.c.id == bindparam("thread_id"))
    )


# One statement per form of forums:read (at most five), made on first use.
_THREAD_STATEMENTS: dict[policies.ReadForm, Prepared] = {}


async def _read_access(
    connection: AsyncConnection, viewer: Viewer | Anonymous, thread_id: uuid.UUID
) -> ThreadAccess:
    reader = await reader_on(connection, viewer)
    form = policies.read_form(reader)
    statement = _THREAD_STATEMENTS.get(form)
    if statement is None:
        statement = _THREAD_STATEMENTS[form] = Prepared(_thread_statement(form))
    viewer_id = viewer.user_id if isinstance(viewer, Viewer) else None
    found = await statement.rows(
        connection,
        {"thread_id": thread_id, "viewer_id": viewer_id, **policies.read_parameters(reader)},
    )
    return ThreadAccess(reader, found[0] if found else None)


async def get_thread(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    thread_id: uuid.UUID,
    accesses: ThreadAccesses | None = None,
) -> ThreadLine | None:
    """The thread, if the viewer may read it. ``accesses``: the request's, shared with its
    ``posts`` field."""
    async with db.read_rows() as connection:
        access = await (accesses or ThreadAccesses()).get(connection, viewer, thread_id)
    if access.thread is None:
        return None
    return ThreadLine(access.thread, access.moderates)


_PAGE_COLUMNS = (
    _posts.c.id,
    _posts.c.thread_id,
    _posts.c.reply_to_id,
    _posts.c.author_id,
    _posts.c.body,
    _posts.c.mentioned_organisation_ids,
    _posts.c.created_at,
    _posts.c.edited_at,
    _posts.c.deleted_at,
    _posts.c.hidden_at,
    _posts.c.hidden_reason,
    _posts.c.version,
    *_AUTHOR_COLUMNS,
)
_FIRST_PAGE = (
    select(*_PAGE_COLUMNS)
    .select_from(
        _posts.outerjoin(_users, _users.c.id == _posts.c.author_id).outerjoin(
            _organisations, _organisations.c.id == _posts.c.author_organisation_id
        )
    )
    .where(_posts.c.thread_id == bindparam("thread_id"))
    .order_by(_posts.c.created_at.asc(), _posts.c.id.asc())
    .limit(bindparam("limit"))
)
# (created_at, id) > the cursor's, spelt as kit.pagination spells it
_NEXT_PAGE = _FIRST_PAGE.where(
    or_(
        _posts.c.created_at > bindparam("after_created_at"),
        and_(
            _posts.c.created_at == bindparam("after_created_at"),
            _posts.c.id > bindparam("after_id"),
        ),
    )
)
_COUNT = Prepared(
    select(func.count()).select_from(_posts).where(_posts.c.thread_id == bindparam("thread_id"))
)
_REACTIONS = Prepared(
    select(
        _reactions.c.post_id,
        _reactions.c.reaction,
        func.count(),
        func.sum(case((_reactions.c.user_id == bindparam("viewer_id"), 1), else_=0)),
    )
    .where(_reactions.c.post_id.in_(bindparam("post_ids", expanding=True)))
    .group_by(_reactions.c.post_id, _reactions.c.reaction)
)
_PREPARED_FIRST_PAGE = Prepared(_FIRST_PAGE)
_PREPARED_NEXT_PAGE = Prepared(_NEXT_PAGE)
# A post nobody reacted to (most of a page): one for all of them, never changed.
_NO_COUNTS: dict[Reaction, int] = {}
_NONE_MINE: frozenset[Reaction] = frozenset()


def _cursor(row: Any) -> str:
    """``encode_cursor(POSTS, [row.created_at, row.id])`` to the character (compact JSON of
    ASCII text, unpadded URL-safe base64), with orjson: json.dumps, which builds an encoder per
    call for its separators, cost more than the rest of a post's line."""
    raw = orjson.dumps({"s": POSTS.name, "v": [row.created_at.isoformat(), str(row.id)]})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def list_posts(
    *,
    db: Database,
    viewer: Viewer | Anonymous,
    thread_id: uuid.UUID,
    page: PageRequest,
    with_total: bool,
    accesses: ThreadAccesses | None = None,
) -> Page[PostLine]:
    """A thread's posts, oldest first, with authors and reaction counts: the same statements
    for a page of 1 and of 100. ``accesses``: the request's, shared with its ``thread``."""
    async with db.read_rows() as connection:
        access = await (accesses or ThreadAccesses()).get(connection, viewer, thread_id)
        if access.thread is None:
            raise not_found("Thread", "threadId")
        parameters: dict[str, Any] = {"thread_id": thread_id, "limit": page.first + 1}
        statement = _PREPARED_FIRST_PAGE
        if page.after is not None:
            after_created_at, after_id = decode_cursor(POSTS, page.after)
            parameters.update(after_created_at=after_created_at, after_id=after_id)
            statement = _PREPARED_NEXT_PAGE
        total = None
        if with_total:
            total = (await _COUNT.rows(connection, {"thread_id": thread_id}))[0][0]
        rows = await statement.rows(connection, parameters)
        items = rows[: page.first]
        counts: dict[uuid.UUID, dict[Reaction, int]] = {}
        mine: dict[uuid.UUID, set[Reaction]] = {}
        if items:
            viewer_id = viewer.user_id if isinstance(viewer, Viewer) else None
            reacted = await _REACTIONS.rows(
                connection, {"post_ids": [row.id for row in items], "viewer_id": viewer_id}
            )
            for post_id, reaction, count, own in reacted:
                counts.setdefault(post_id, {})[reaction] = count
                if own:
                    mine.setdefault(post_id, set()).add(reaction)
    reader = access.reader
    moderates = access.moderates
    lines = [
        PostLine(
            row,
            counts.get(row.id, _NO_COUNTS),
            frozenset(mine[row.id]) if row.id in mine else _NONE_MINE,
            policies.sees_hidden_of(reader, moderates, row.author_id),
            moderates,
        )
        for row in items
    ]
    return Page(
        items=lines,
        cursors=[_cursor(row) for row in items],
        has_next_page=len(rows) > page.first,
        has_previous_page=page.after is not None,
        total_count=total,
    )
