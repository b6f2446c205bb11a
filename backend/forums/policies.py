"""Object rules of the forums, named ``forums:action``.

Rules are answered about a :class:`Reader`: the viewer with the memberships that decide what
they may read (any of their organisations counts, not only the one their token acts for), the
organisations they administer and the forums they were named to moderate.

forums:read is written once, as the grants of :func:`_read_grants`. :func:`readable_forums` and
:func:`readable_threads` turn them into statements, through which the service loads one forum or
thread (NOT_FOUND outside them) and lists them; :func:`readable_bound` writes the same condition
with parameters, for statements built once (the thread screen's); :func:`can_read` answers the
same grants about a forum already in hand (a live post's, fanned out to many subscribers without
a query each).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, bindparam, or_, select, true
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import BindParameter

from backend.auth.viewer import Anonymous, Viewer
from backend.forums.models import Forum, ForumVisibility, Post, Thread
from backend.kit.errors import ErrorCode, ServiceError, forbidden


@dataclass(frozen=True, slots=True)
class Reader:
    viewer: Viewer | Anonymous
    member_of: frozenset[uuid.UUID] = frozenset()
    admin_of: frozenset[uuid.UUID] = frozenset()
    clusters: frozenset[uuid.UUID] = frozenset()
    moderates: frozenset[uuid.UUID] = frozenset()
    # time.monotonic() when the memberships were read (long-lived subscriptions re-read them)
    read_at: float = 0.0

    @property
    def signed_in(self) -> Viewer | None:
        return self.viewer if isinstance(self.viewer, Viewer) else None

    @property
    def is_platform_admin(self) -> bool:
        return isinstance(self.viewer, Viewer) and self.viewer.is_admin


@dataclass(frozen=True, slots=True)
class _Grant:
    """The forums of one visibility a reader may read: all of them (no ``column``), or those
    whose ``column`` is one of ``ids``."""

    visibility: ForumVisibility
    column: QueryableAttribute[Any] | None = None
    ids: frozenset[uuid.UUID] = frozenset()


def _read_grants(reader: Reader) -> tuple[_Grant, ...]:
    """forums:read — PUBLIC for anyone; CLUSTER for members of the cluster's organisations;
    MEMBERS for the owning organisation's members. Platform admins read everything (they are
    answered before the grants are looked at)."""
    return (
        _Grant(ForumVisibility.PUBLIC),
        _Grant(ForumVisibility.CLUSTER, Forum.cluster_id, reader.clusters),
        _Grant(ForumVisibility.MEMBERS, Forum.organisation_id, reader.member_of),
    )


def readable(reader: Reader) -> ColumnElement[bool]:
    """forums:read as a condition on ``Forum``."""
    if reader.is_platform_admin:
        return true()
    conditions = []
    for grant in _read_grants(reader):
        if grant.column is None:
            conditions.append(Forum.visibility == grant.visibility)
        elif grant.ids:  # no memberships of that kind: the grant gives nothing, say nothing
            conditions.append(
                and_(Forum.visibility == grant.visibility, grant.column.in_(grant.ids))
            )
    return or_(*conditions)


# Which grants give a reader something: the form of their forums:read condition (None for a
# platform admin, who reads everything). Statements built once per form take the ids as
# parameters (``read_parameters``) instead of being built again for every request.
ReadForm = tuple[ForumVisibility, ...] | None


def read_form(reader: Reader) -> ReadForm:
    if reader.is_platform_admin:
        return None
    return tuple(g.visibility for g in _read_grants(reader) if g.column is None or g.ids)


def readable_bound(form: ReadForm) -> ColumnElement[bool]:
    """forums:read as ``readable`` writes it, on the ``forums`` table's columns (a Core
    statement), with the grants' ids as expanding parameters named by ``read_parameters``."""
    if form is None:
        return true()
    table = Forum.__table__.c
    grants = {grant.visibility: grant for grant in _read_grants(Reader(Anonymous()))}
    conditions = []
    for visibility in form:
        column = grants[visibility].column
        if column is None:
            conditions.append(table.visibility == visibility)
        else:
            ids: BindParameter[Any] = bindparam(_read_parameter(visibility), expanding=True)
            conditions.append(and_(table.visibility == visibility, table[column.key].in_(ids)))
    return or_(*conditions)


def read_parameters(reader: Reader) -> dict[str, list[uuid.UUID]]:
    """The values of ``readable_bound(read_form(reader))``'s parameters (none for a platform
    admin's, which has none)."""
    if reader.is_platform_admin:
        return {}
    return {
        _read_parameter(grant.visibility): list(grant.ids)
        for grant in _read_grants(reader)
        if grant.column is not None and grant.ids
    }


def _read_parameter(visibility: ForumVisibility) -> str:
    return f"readable_{visibility.value.lower()}"


def readable_forums(reader: Reader) -> Select[Forum]:
    """The forums the reader may read: one is loaded through it, lists filter with it."""
    return select(Forum).where(readable(reader))


def readable_threads(reader: Reader) -> Select[Thread]:
    """The threads of the forums the reader may read. The forum is joined to be filtered on,
    not loaded: callers load what their screen shows."""
    return select(Thread).join(Forum, Forum.id == Thread.forum_id).where(readable(reader))


def can_read(reader: Reader, forum: Forum) -> bool:
    """forums:read about a forum already loaded: the grants of ``readable``, in Python."""
    if reader.is_platform_admin:
        return True
    return any(
        forum.visibility is grant.visibility
        and (grant.column is None or getattr(forum, grant.column.key) in grant.ids)
        for grant in _read_grants(reader)
    )


def moderates(reader: Reader, forum: Forum) -> bool:
    """forums:moderate — the owning organisation's admins, named moderators, platform admins."""
    return moderates_forum(reader, forum.id, forum.organisation_id)


def moderates_forum(reader: Reader, forum_id: uuid.UUID, organisation_id: uuid.UUID | None) -> bool:
    """``moderates`` about a forum read as columns (its id and owning organisation)."""
    return (
        reader.is_platform_admin
        or forum_id in reader.moderates
        or (organisation_id is not None and organisation_id in reader.admin_of)
    )


def manage(reader: Reader, forum: Forum) -> None:
    """forums:manage — who may read a forum and who moderates it are decided by the owning
    community's admins (and platform admins), not by the moderators they named."""
    if reader.is_platform_admin or (
        forum.organisation_id is not None and forum.organisation_id in reader.admin_of
    ):
        return
    raise forbidden("Only the community's admins may change the forum or its moderators")


def moderate(reader: Reader, forum: Forum) -> None:
    if not moderates(reader, forum):
        raise forbidden("Only this forum's moderators may do this")


def write(reader: Reader, forum: Forum) -> Viewer:
    """forums:write — start threads and post: any signed-in reader."""
    viewer = reader.signed_in
    if viewer is None:
        raise ServiceError.of(ErrorCode.UNAUTHENTICATED, "Sign in to post")
    if not can_read(reader, forum):
        raise forbidden("You cannot post here")
    return viewer


def create_forum(reader: Reader, organisation_id: uuid.UUID | None) -> None:
    """forums:create — a community's admins for their community; platform admins for a
    cluster."""
    if organisation_id is None:
        if not reader.is_platform_admin:
            raise forbidden("Only platform admins open cluster forums")
        return
    if organisation_id not in reader.admin_of:
        raise forbidden("Only the community's admins, acting for it, open its forums")


def author(reader: Reader, post_author_id: uuid.UUID | None) -> Viewer:
    """forums:post_edit — authors edit and delete their own posts."""
    viewer = reader.signed_in
    if viewer is None or post_author_id != viewer.user_id:
        raise forbidden("Only the author may do this")
    return viewer


def sees_hidden(reader: Reader, forum: Forum, post: Post) -> bool:
    """A hidden post's text is for the moderators (and its author)."""
    return sees_hidden_of(reader, moderates(reader, forum), post.author_id)


def sees_hidden_of(reader: Reader, moderates: bool, author_id: uuid.UUID | None) -> bool:
    """``sees_hidden`` for a post read as columns, knowing whether the reader moderates it."""
    viewer = reader.signed_in
    return moderates or (viewer is not None and author_id == viewer.user_id)
