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

from sqlalchemy import and_, select

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.identity.models import Membership, Organisation, RefreshSession, User
from backend.kit.db import Database
from backend.kit.errors import ErrorCode

ENDED = Anonymous(problem=ErrorCode.UNAUTHENTICATED, ended=True)


async def current_access(*, db: Database, viewer: Viewer) -> Viewer | Anonymous:
    """The viewer again, with its organisation's verification as it is now, if its sign-in,
    account and membership all still stand; else :data:`ENDED` (the token then counts as no
    token at all)."""
    if viewer.session_id is None:
        return ENDED
    statement = (
        select(User.is_active, User.is_platform_admin, Organisation.kind, Organisation.verified_at)
        .join(
            RefreshSession,
            and_(
                RefreshSession.id == viewer.session_id,
                RefreshSession.user_id == User.id,
                RefreshSession.revoked_at.is_(None),
            ),
        )
        .outerjoin(
            Membership,
            and_(
                Membership.user_id == User.id,
                Membership.organisation_id == viewer.organisation_id,
            ),
        )
        .outerjoin(Organisation, Organisation.id == Membership.organisation_id)
        .where(User.id == viewer.user_id)
    )
    async with db.read() as session:
        row = (await session.execute(statement)).one_or_none()
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
