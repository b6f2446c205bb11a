"""Platform admins' trust decisions: verifying organisations and disabling accounts.

Each decision is kept as an :class:`AuditRecord` in the same unit of work as the change, and
takes effect on the affected people's next request (see ``access.py``): a disabled account's
sign-ins are revoked at once, and an institution's reading rights follow its verification.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.identity import policies
from backend.identity.models import (
    AuditAction,
    AuditRecord,
    Organisation,
    RefreshSession,
    User,
)
from backend.identity.service.checks import DELETED_ACCOUNT
from backend.kit.broadcast import Broadcaster, announce_access_change
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import check_text

MAX_REASON = 1000

# Newest first: the console shows the latest decisions on top.
AUDIT_BY_TIME = Sort(
    "audit:created_at",
    (SortKey(AuditRecord.created_at, descending=True), SortKey(AuditRecord.id, descending=True)),
)


@dataclass(frozen=True, slots=True)
class AuditFilter:
    action: AuditAction | None = None
    organisation_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None


def _check_reason(reason: str, *, required: bool) -> str:
    """A decision that takes trust away says why (``reason``); one that gives it may (``note``)."""
    problems = Problems()
    check_text(
        problems,
        "reason" if required else "note",
        reason,
        min_length=3 if required else 0,
        max_length=MAX_REASON,
        multiline=True,
    )
    problems.raise_if_any()
    return reason.strip()


async def _record(
    session: AsyncSession,
    viewer: Viewer,
    action: AuditAction,
    *,
    reason: str,
    now: datetime,
    user_id: uuid.UUID | None = None,
    organisation_id: uuid.UUID | None = None,
) -> None:
    actor = await session.get(User, viewer.user_id)
    session.add(
        AuditRecord(
            action=action,
            actor_id=viewer.user_id,
            actor_name=actor.display_name if actor is not None else "",
            subject_user_id=user_id,
            subject_organisation_id=organisation_id,
            reason=reason,
            created_at=now,
        )
    )


async def set_account_active(
    *,
    db: Database,
    viewer: Viewer,
    user_id: uuid.UUID,
    active: bool,
    reason: str,
    now: datetime,
    broadcaster: Broadcaster,
) -> User:
    """Disable or enable an account. Disabling revokes every sign-in of the account, so its
    access tokens stop working on their next request and its refresh tokens are dead."""
    policies.trust_manage(viewer)
    reason = _check_reason(reason, required=not active)
    if not active and user_id == viewer.user_id:
        raise ServiceError.of(ErrorCode.FORBIDDEN, "You cannot disable your own account", "userId")
    async with db.write() as session:
        user = await session.get(User, user_id, with_for_update=True)
        if user is None:
            raise not_found("Account", "userId")
        if active and user.deleted_at is not None:
            # An erasure is not a suspension: the profile and password are gone, and enabling
            # the row would put an anonymous account back among the active ones.
            raise ServiceError.of(ErrorCode.CONFLICT, DELETED_ACCOUNT, "userId")
        if user.is_active == active:
            return user  # nothing changes, nothing to record: a retry is harmless
        user.is_active = active
        if not active:
            await session.execute(
                update(RefreshSession)
                .where(RefreshSession.user_id == user_id, RefreshSession.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        await _record(
            session,
            viewer,
            AuditAction.ACCOUNT_ENABLED if active else AuditAction.ACCOUNT_DISABLED,
            reason=reason,
            now=now,
            user_id=user_id,
        )
    await announce_access_change(broadcaster, user_id)
    return user


async def set_organisation_verified(
    *,
    db: Database,
    viewer: Viewer,
    organisation_id: uuid.UUID,
    verified: bool,
    reason: str,
    now: datetime,
) -> Organisation:
    """Verify an organisation (its institution's reading rights start on its members' next
    request), or withdraw the verification (they end on the next request)."""
    policies.trust_manage(viewer)
    reason = _check_reason(reason, required=not verified)
    async with db.write() as session:
        # Locked alone (PostgreSQL refuses FOR UPDATE beside an outer join); its cluster is
        # loaded for the answer once the row is ours.
        organisation = await session.get(Organisation, organisation_id, with_for_update=True)
        if organisation is None:
            raise not_found("Organisation", "organisationId")
        await session.refresh(organisation, ["cluster"])
        if (organisation.verified_at is not None) == verified:
            return organisation  # already so: a retry records nothing twice
        organisation.verified_at = now if verified else None
        organisation.verified_by_id = viewer.user_id if verified else None
        organisation.version += 1
        organisation.updated_at = now
        await _record(
            session,
            viewer,
            AuditAction.ORGANISATION_VERIFIED if verified else AuditAction.ORGANISATION_UNVERIFIED,
            reason=reason,
            now=now,
            organisation_id=organisation_id,
        )
    return organisation


async def list_audit_records(
    *, db: Database, viewer: Viewer, filter: AuditFilter, page: PageRequest
) -> Page[AuditRecord]:
    policies.trust_manage(viewer)
    statement = select(AuditRecord)
    if filter.action is not None:
        statement = statement.where(AuditRecord.action == filter.action)
    if filter.organisation_id is not None:
        statement = statement.where(AuditRecord.subject_organisation_id == filter.organisation_id)
    if filter.user_id is not None:
        statement = statement.where(AuditRecord.subject_user_id == filter.user_id)
    async with db.read() as session:
        return await paginate(session, statement, sort=AUDIT_BY_TIME, request=page)
