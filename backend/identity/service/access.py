"""Whether the access an access token carries still stands, checked on every request.

An access token is signed for 15 minutes, but trust can end sooner: its owner signs out
(``tokenRevoke`` revokes the refresh session it was issued with), an organisation's admin
removes them, or a platform admin disables the account. Every door (GraphQL over HTTP, the
WebSocket handshake and its watch, the file exports) asks :func:`current_access` before it
believes a token, so each of these takes effect on the next request.

It is one statement of primary-key and unique-index lookups, made on every signed-in request
rather than cached: a cache would need invalidating on every app instance at the moment trust
ends, and the statement costs less than the request's own reads (the figures are in
``scripts/bench_access_check.py``).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import and_, bindparam, select

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.identity.models import Membership, Organisation, RefreshSession, User
from backend.kit.db import Database
from backend.kit.errors import ErrorCode
from backend.kit.prepared import Prepared

ENDED = Anonymous(problem=ErrorCode.UNAUTHENTICATED, ended=True)


_users = User.__table__
_sessions = RefreshSession.__table__
_memberships = Membership.__table__
_organisations = Organisation.__table__
# Built once, on tables rather than entities, and read on a plain connection: constructing an
# ORM select and opening an ORM session for it every request cost more CPU than the statement
# (``scripts/profile_pages.py --typename``). What it sends is the statement as it was.
ACCESS_STATEMENT = (
    select(
        _users.c.is_active,
        _users.c.is_platform_admin,
        _organisations.c.kind,
        _organisations.c.verified_at,
    )
    .join(
        _sessions,
        and_(
            _sessions.c.id == bindparam("session_id", type_=_sessions.c.id.type),
            _sessions.c.user_id == _users.c.id,
            _sessions.c.revoked_at.is_(None),
        ),
    )
    .outerjoin(
        _memberships,
        and_(
            _memberships.c.user_id == _users.c.id,
            _memberships.c.organisation_id
            == bindparam("organisation_id", type_=_memberships.c.organisation_id.type),
        ),
    )
    .outerjoin(_organisations, _organisations.c.id == _memberships.c.organisation_id)
    .where(_users.c.id == bindparam("user_id", type_=_users.c.id.type))
)


_ACCESS = Prepared(ACCESS_STATEMENT)  # compiled once: the SQL above, as it was


async def current_access(*, db: Database, viewer: Viewer) -> Viewer | Anonymous:
    """The viewer again, with its organisation's verification as it is now, if its sign-in,
    account and membership all still stand; else :data:`ENDED` (the token then counts as no
    token at all)."""
    if viewer.session_id is None:
        return ENDED
    async with db.read_rows() as connection:
        found = await _ACCESS.rows(
            connection,
            {
                "session_id": viewer.session_id,
                "organisation_id": viewer.organisation_id,
                "user_id": viewer.user_id,
            },
        )
    row = found[0] if found else None  # at most one: the user's primary key
    if row is None or not row.is_active:
        return ENDED  # signed out (or the session is gone), or no such account any more
    if viewer.organisation_id is None:
        # Only platform admins act for no organisation; a demoted one stops here.
        return viewer if viewer.role is Role.ADMIN and row.is_platform_admin else ENDED
    if row.kind is None or Role(row.kind.value) is not viewer.role:
        return ENDED  # no longer a member, or the token's role is not the organisation's
    verified = row.verified_at is not None
    return (
        viewer
        if viewer.organisation_verified == verified
        else replace(viewer, organisation_verified=verified)
    )
