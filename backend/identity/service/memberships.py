"""Memberships: invite codes, joining with one, the member list, and leaving or removing."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.auth.viewer import Viewer
from backend.identity import policies
from backend.identity.models import (
    Membership,
    MembershipRole,
    OrganisationInvite,
    RefreshSession,
    User,
)
from backend.identity.service.organisations import _organisation_with_membership
from backend.kit.broadcast import Broadcaster, announce_access_change
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, Problems, ServiceError, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud
INVITE_LENGTH = 12
MAX_INVITE_USES = 500
MAX_INVITE_DAYS = 90


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    invite: OrganisationInvite
    code: str  # shown once; only its hash is stored


def _invite_hash(code: str) -> str:
    normalised = re.sub(r"[^A-Z0-9]", "", code.upper())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_invite_code() -> str:
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, INVITE_LENGTH, 4))


async def _consume_invite(
    session: AsyncSession, code: str, field: str, *, now: datetime
) -> OrganisationInvite:
    """Take one use of an invite; a conditional UPDATE, so concurrent joins cannot overuse it."""
    code_hash = _invite_hash(code)
    result = await session.execute(
        update(OrganisationInvite)
        .where(
            OrganisationInvite.code_hash == code_hash,
            OrganisationInvite.revoked_at.is_(None),
            OrganisationInvite.expires_at > now,
            OrganisationInvite.uses < OrganisationInvite.max_uses,
        )
        .values(uses=OrganisationInvite.uses + 1)
        .returning(OrganisationInvite.id)
    )
    invite_id = result.scalar_one_or_none()
    if invite_id is None:
        raise ServiceError.of(
            ErrorCode.INVITE_INVALID,
            "This invite code is unknown, expired or already used up; ask for a new one",
            field,
        )
    invite = await session.get(OrganisationInvite, invite_id)
    assert invite is not None
    return invite


async def create_invite(
    *,
    db: Database,
    viewer: Viewer,
    organisation_id: uuid.UUID,
    role: MembershipRole,
    max_uses: int,
    expires_in_days: int,
    now: datetime,
) -> IssuedInvite:
    problems = Problems()
    if not 1 <= max_uses <= MAX_INVITE_USES:
        problems.add("maxUses", f"Must be between 1 and {MAX_INVITE_USES}")
    if not 1 <= expires_in_days <= MAX_INVITE_DAYS:
        problems.add("expiresInDays", f"Must be between 1 and {MAX_INVITE_DAYS}")
    problems.raise_if_any()
    async with db.write() as session:
        organisation, membership = await _organisation_with_membership(
            session, viewer, organisation_id
        )
        policies.organisation_invite(viewer, organisation, membership)
        code = _new_invite_code()
        invite = OrganisationInvite(
            organisation_id=organisation.id,
            code_hash=_invite_hash(code),
            role=role,
            max_uses=max_uses,
            uses=0,
            expires_at=now + timedelta(days=expires_in_days),
            created_by_id=viewer.user_id,
        )
        session.add(invite)
    return IssuedInvite(invite=invite, code=code)


MEMBERS_BY_JOINING = Sort(
    "members:joined", (SortKey(Membership.created_at), SortKey(Membership.id))
)


async def list_members(
    *, db: Database, viewer: Viewer, organisation_id: uuid.UUID, page: PageRequest
) -> Page[Membership]:
    """Who belongs to an organisation: for its members and platform admins only."""
    async with db.read() as session:
        organisation, membership = await _organisation_with_membership(
            session, viewer, organisation_id
        )
        policies.organisation_members_read(viewer, organisation, membership)
        return await paginate(
            session,
            select(Membership).where(Membership.organisation_id == organisation_id),
            sort=MEMBERS_BY_JOINING,
            request=page,
            load=(joinedload(Membership.user),),
        )


async def remove_member(
    *,
    db: Database,
    viewer: Viewer,
    organisation_id: uuid.UUID,
    user_id: uuid.UUID,
    now: datetime,
    broadcaster: Broadcaster,
) -> uuid.UUID:
    """An admin removes a member, or a member leaves; the last admin cannot go. Every app
    instance is told, so that their open connections end and live posts stop at once."""
    async with db.write() as session:
        organisation, membership = await _organisation_with_membership(
            session, viewer, organisation_id, lock=True
        )
        if user_id != viewer.user_id:
            policies.organisation_update(viewer, organisation, membership)
        leaving = await session.scalar(
            select(Membership)
            .where(Membership.organisation_id == organisation_id, Membership.user_id == user_id)
            .with_for_update()
        )
        if leaving is None:
            raise not_found("Member", "userId")
        if leaving.role is MembershipRole.ADMIN:
            # Every admin row locked: two admins removing each other at once cannot both go.
            admins = (
                await session.scalars(
                    select(Membership.id)
                    .where(
                        Membership.organisation_id == organisation_id,
                        Membership.role == MembershipRole.ADMIN,
                    )
                    .with_for_update()
                )
            ).all()
            if len(admins) <= 1:
                raise ServiceError.of(
                    ErrorCode.CONFLICT,
                    "An organisation keeps at least one admin; make another member admin first",
                    "userId",
                )
        await session.delete(leaving)
        # (the account locked before its sessions, in the order tokenRefresh takes them, so a
        # refresh running meanwhile cannot slip a new session past this revocation)
        await session.execute(select(User.id).where(User.id == user_id).with_for_update())
        # Their sign-ins acting for this organisation end: the access tokens on their next
        # request (backend/identity/service/access.py), the refresh tokens with them.
        await session.execute(
            update(RefreshSession)
            .where(
                RefreshSession.user_id == user_id,
                RefreshSession.organisation_id == organisation_id,
                RefreshSession.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
    await announce_access_change(broadcaster, user_id)
    return user_id


async def join_organisation(
    *, db: Database, viewer: Viewer, invite_code: str, now: datetime, broadcaster: Broadcaster
) -> Membership:
    """Join with an invite code. Instances forget the joiner's cached access (they may now read
    the organisation's forums)."""
    try:
        async with db.write() as session:
            # The account, locked first as deletion and disabling lock it: the request's access
            # check ran before this transaction, and an account deleted or disabled meanwhile
            # must not come out of it a member (an ADMIN invite would make it an admin).
            joiner = await session.scalar(
                select(User.is_active).where(User.id == viewer.user_id).with_for_update()
            )
            if not joiner:
                raise ServiceError.of(
                    ErrorCode.UNAUTHENTICATED, "This account is deleted or disabled; sign in again"
                )
            invite = await _consume_invite(session, invite_code, "inviteCode", now=now)
            existing = await session.scalar(
                select(Membership.id).where(
                    Membership.user_id == viewer.user_id,
                    Membership.organisation_id == invite.organisation_id,
                )
            )
            if existing is not None:
                raise ServiceError.of(
                    ErrorCode.CONFLICT,
                    "You are already a member of this organisation",
                    "inviteCode",
                )
            membership = Membership(
                user_id=viewer.user_id, organisation_id=invite.organisation_id, role=invite.role
            )
            session.add(membership)
            await session.flush()
            await session.refresh(membership, ["organisation"])
            await session.refresh(membership.organisation, ["cluster"])
    except IntegrityError as exc:
        raise ServiceError.of(
            ErrorCode.CONFLICT, "You are already a member of this organisation", "inviteCode"
        ) from exc
    await announce_access_change(broadcaster, viewer.user_id)
    return membership
