"""A person's own identity data for an access request, and their account's anonymisation for an
erasure request (the rest of both lives in ``backend/privacy``).

The account row is kept, anonymised, not deleted: trades, posts and audit records keep pointing
at it (their ``ON DELETE SET NULL`` would lose "someone of this organisation did this"), and it
reads "Deleted user" wherever it is shown.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.identity.models import (
    AuditAction,
    AuditRecord,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationInvite,
    RefreshSession,
    User,
)
from backend.identity.service.checks import normalise_email
from backend.kit.clock import iso_or_none
from backend.kit.errors import ErrorCode, ServiceError

DELETED_NAME = "Deleted user"
# RFC 2606 reserves .invalid: the placeholder can never reach a mailbox, and it is unique per
# account, so the unique index on email holds and the real address is free to register again.
DELETED_EMAIL_DOMAIN = "deleted.invalid"


def deleted_email(user_id: uuid.UUID) -> str:
    return f"deleted-{user_id.hex}@{DELETED_EMAIL_DOMAIN}"


async def person_by_email(session: AsyncSession, email: str) -> User | None:
    return await session.scalar(select(User).where(User.email == normalise_email(email)))


async def locked_person(session: AsyncSession, user_id: uuid.UUID) -> User | None:
    """The account, locked first: the order tokenRefresh and removals take it, so a refresh
    running meanwhile cannot slip a new session past the revocation."""
    return await session.get(User, user_id, with_for_update=True, populate_existing=True)


def profile(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "displayName": user.display_name,
        "isPlatformAdmin": user.is_platform_admin,
        "isActive": user.is_active,
        "createdAt": iso_or_none(user.created_at),
        "deletedAt": iso_or_none(user.deleted_at),
    }


async def memberships_of(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncGenerator[dict[str, Any], None]:
    rows = await session.execute(
        select(
            Membership.organisation_id, Organisation.name, Membership.role, Membership.created_at
        )
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Membership.id)
    )
    for organisation_id, name, role, joined in rows:
        yield {
            "organisationId": str(organisation_id),
            "organisationName": name,
            "role": role.value,
            "joinedAt": iso_or_none(joined),
        }


async def sign_ins_of(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncGenerator[dict[str, Any], None]:
    """Sessions' metadata; never the token hashes (they are the server's, not the person's)."""
    result = await session.stream_scalars(
        select(RefreshSession)
        .where(RefreshSession.user_id == user_id)
        .order_by(RefreshSession.issued_at, RefreshSession.id)
        .execution_options(yield_per=500)
    )
    async for row in result:
        yield {
            "signInId": str(row.family_id),
            "organisationId": str(row.organisation_id) if row.organisation_id else None,
            "issuedAt": iso_or_none(row.issued_at),
            "expiresAt": iso_or_none(row.expires_at),
            "rotatedAt": iso_or_none(row.rotated_at),
            "revokedAt": iso_or_none(row.revoked_at),
        }


async def invites_created_by(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncGenerator[dict[str, Any], None]:
    rows = await session.scalars(
        select(OrganisationInvite)
        .where(OrganisationInvite.created_by_id == user_id)
        .order_by(OrganisationInvite.created_at, OrganisationInvite.id)
    )
    for invite in rows:
        yield {
            "id": str(invite.id),
            "organisationId": str(invite.organisation_id),
            "role": invite.role.value,
            "maxUses": invite.max_uses,
            "uses": invite.uses,
            "createdAt": iso_or_none(invite.created_at),
            "expiresAt": iso_or_none(invite.expires_at),
            "revokedAt": iso_or_none(invite.revoked_at),
        }


async def audit_records_about(
    session: AsyncSession, user_id: uuid.UUID
) -> AsyncGenerator[dict[str, Any], None]:
    """Trust decisions about the person or made by them (platform admins)."""
    rows = await session.scalars(
        select(AuditRecord)
        .where((AuditRecord.subject_user_id == user_id) | (AuditRecord.actor_id == user_id))
        .order_by(AuditRecord.created_at, AuditRecord.id)
    )
    for record in rows:
        yield {
            "id": str(record.id),
            "action": record.action.value,
            "byYou": record.actor_id == user_id,
            "aboutYou": record.subject_user_id == user_id,
            "subjectOrganisationId": (
                str(record.subject_organisation_id) if record.subject_organisation_id else None
            ),
            "reason": record.reason,
            "createdAt": iso_or_none(record.created_at),
        }


async def check_can_leave_everywhere(session: AsyncSession, user_id: uuid.UUID) -> None:
    """An organisation with other members keeps an admin: its last admin hands over first
    (``organisationMemberRemove``'s rule). An organisation the person is alone in stays, without
    members: its trades and ledger are the organisation's records, not the person's."""
    admin_of = (
        await session.scalars(
            select(Membership.organisation_id).where(
                Membership.user_id == user_id, Membership.role == MembershipRole.ADMIN
            )
        )
    ).all()
    blocked: list[str] = []
    for organisation_id in admin_of:
        # every admin row locked: two admins deleting their accounts at once cannot both go
        admins = (
            await session.scalars(
                select(Membership.user_id)
                .where(
                    Membership.organisation_id == organisation_id,
                    Membership.role == MembershipRole.ADMIN,
                )
                .with_for_update()
            )
        ).all()
        if len(admins) > 1:
            continue
        others = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.organisation_id == organisation_id, Membership.user_id != user_id)
        )
        if others:
            name = await session.scalar(
                select(Organisation.name).where(Organisation.id == organisation_id)
            )
            blocked.append(name or str(organisation_id))
    if blocked:
        raise ServiceError.of(
            ErrorCode.CONFLICT,
            "You are the last admin of "
            + ", ".join(sorted(blocked))
            + ": make another member admin first, then delete your account",
        )


async def anonymise(
    session: AsyncSession,
    user: User,
    *,
    now: datetime,
    actor_id: uuid.UUID | None,
    actor_name: str,
    reason: str,
) -> None:
    """Leave every organisation, end every sign-in (access tokens fail on their next request:
    ``access.current_access`` needs a live session and an active account), blank the profile,
    and record the deletion."""
    user_id = user.id
    await session.execute(delete(Membership).where(Membership.user_id == user_id))
    await session.execute(
        update(RefreshSession)
        .where(RefreshSession.user_id == user_id, RefreshSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    # Live invites they made keep working for the organisation: they are its, not theirs.
    user.email = deleted_email(user_id)
    user.display_name = DELETED_NAME
    # An empty hash verifies no password (argon2 refuses it as invalid).
    user.password_hash = ""
    user.is_active = False
    user.is_platform_admin = False
    user.deleted_at = now
    # Their name, copied into audit records of decisions they made as a platform admin, goes too.
    await session.execute(
        update(AuditRecord).where(AuditRecord.actor_id == user_id).values(actor_name=DELETED_NAME)
    )
    session.add(
        AuditRecord(
            action=AuditAction.ACCOUNT_DELETED,
            actor_id=actor_id,
            actor_name=actor_name,
            subject_user_id=user_id,
            reason=reason,
            created_at=now,
        )
    )
