"""Signing in and out: token pairs, refresh-token rotation with reuse detection, revocation."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.auth.security import Security
from backend.auth.tokens import TokenError, fingerprint
from backend.auth.viewer import Role
from backend.identity.models import Membership, Organisation, RefreshSession, User
from backend.identity.service.checks import normalise_email
from backend.kit.broadcast import Broadcaster, announce_access_change
from backend.kit.db import Database
from backend.kit.errors import ErrorCode, ServiceError, throttled


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    role: Role
    organisation_id: uuid.UUID | None


def _role_of(organisation: Organisation) -> Role:
    return Role(organisation.kind.value)


async def _active_context(
    session: AsyncSession, user: User, organisation_id: uuid.UUID | None, *, explicit: bool
) -> tuple[Role, uuid.UUID | None]:
    """The role and organisation a token is issued for.

    With no organisation asked for, a platform admin signs in as ADMIN and anybody else as their
    earliest membership.
    """
    if organisation_id is None and user.is_platform_admin:
        return Role.ADMIN, None
    statement = (
        select(Membership)
        .options(joinedload(Membership.organisation))
        .where(Membership.user_id == user.id)
        .order_by(Membership.created_at, Membership.id)
        .limit(1)
    )
    if organisation_id is not None:
        statement = statement.where(Membership.organisation_id == organisation_id)
    membership = await session.scalar(statement)
    if membership is None:
        if explicit:
            raise ServiceError.of(
                ErrorCode.FORBIDDEN, "You are not a member of this organisation", "organisationId"
            )
        raise ServiceError.of(ErrorCode.FORBIDDEN, "This account belongs to no organisation")
    return _role_of(membership.organisation), membership.organisation_id


async def _issue_pair(
    session: AsyncSession,
    security: Security,
    *,
    user_id: uuid.UUID,
    role: Role,
    organisation_id: uuid.UUID | None,
    family_id: uuid.UUID,
) -> TokenPair:
    now = security.tokens.now()
    refresh = security.tokens.issue_refresh(
        user_id=user_id, family_id=family_id, jti=uuid.uuid4(), now=now
    )
    access = security.tokens.issue_access(
        user_id=user_id,
        role=role,
        organisation_id=organisation_id,
        session_id=refresh.jti,
        now=now,
    )
    session.add(
        RefreshSession(
            id=refresh.jti,
            family_id=family_id,
            user_id=user_id,
            organisation_id=organisation_id,
            token_hash=fingerprint(refresh.token),
            issued_at=now,
            expires_at=refresh.expires_at,
        )
    )
    return TokenPair(
        access_token=access.token,
        expires_at=access.expires_at,
        refresh_token=refresh.token,
        refresh_expires_at=refresh.expires_at,
        role=role,
        organisation_id=organisation_id,
    )


INVALID_CREDENTIALS = ServiceError.of(
    ErrorCode.INVALID_CREDENTIALS, "The email or password is incorrect"
)


async def create_token(
    *,
    db: Database,
    security: Security,
    email: str,
    password: str,
    organisation_id: uuid.UUID | None,
    client_address: str | None,
) -> TokenPair:
    """Sign in. Unknown emails cost the same argon2 work as known ones; errors are generic."""
    try:
        email = normalise_email(email)
    except ServiceError:
        email = email.strip().lower()
    keys = security.throttle.keys(email=email, client_address=client_address)
    attempt = await security.throttle.begin(keys)
    if attempt.wait is not None:
        raise throttled(
            f"Too many failed sign-ins; try again in {attempt.wait} seconds", attempt.wait
        )

    try:
        async with db.read() as session:
            user = await session.scalar(select(User).where(User.email == email))
        ok = await security.passwords.verify(user.password_hash if user else None, password)
    except Exception:
        # No password was checked (the database is away, say): only a checked wrong password
        # counts, or an outage would back off the owner's retries for minutes afterwards.
        await security.throttle.give_back(attempt)
        raise
    if user is None or not ok or not user.is_active:
        raise ServiceError(*INVALID_CREDENTIALS.problems)  # the attempt stays counted
    await security.throttle.record_success(keys)

    new_hash = None
    if security.passwords.needs_rehash(user.password_hash):
        new_hash = await security.passwords.hash(password)
    async with db.write() as session:
        role, active_org = await _active_context(
            session, user, organisation_id, explicit=organisation_id is not None
        )
        if new_hash is not None:
            await session.execute(
                update(User).where(User.id == user.id).values(password_hash=new_hash)
            )
        return await _issue_pair(
            session,
            security,
            user_id=user.id,
            role=role,
            organisation_id=active_org,
            family_id=uuid.uuid4(),
        )


def _token_problem(exc: TokenError) -> ServiceError:
    return ServiceError.of(exc.code, exc.message, "refreshToken")


async def refresh_token(
    *,
    db: Database,
    security: Security,
    refresh_token: str,
    organisation_id: uuid.UUID | None = None,
) -> TokenPair:
    """Rotate a refresh token. A token used twice revokes its whole family (it was copied).

    With ``organisation_id`` the new pair acts for that organisation instead: how the apps switch
    organisation without asking for the password again.
    """
    try:
        claims = security.tokens.read_refresh(refresh_token)
    except TokenError as exc:
        raise _token_problem(exc) from exc

    # On the tokens' clock: a refresh session expires together with its token.
    now = security.tokens.now()
    outcome: TokenPair | ServiceError
    async with db.write() as session:
        # The account is locked first (before the session row the rotation locks, the order
        # disabling and removal take too): an account disabled or a member removed meanwhile
        # waits for this refresh to commit and then revokes the session it made as well,
        # instead of missing it (PostgreSQL; SQLite runs one writer at a time).
        await session.execute(select(User.id).where(User.id == claims.user_id).with_for_update())
        rotated = await session.execute(
            update(RefreshSession)
            .where(
                RefreshSession.id == claims.jti,
                RefreshSession.token_hash == fingerprint(refresh_token),
                RefreshSession.rotated_at.is_(None),
                RefreshSession.revoked_at.is_(None),
                RefreshSession.expires_at > now,
            )
            .values(rotated_at=now)
            .returning(RefreshSession.organisation_id)
        )
        row = rotated.one_or_none()
        if row is None:
            stored = await session.get(RefreshSession, claims.jti)
            if stored is not None and stored.rotated_at is not None:
                await _revoke_family(session, stored.family_id, now)
                outcome = ServiceError.of(
                    ErrorCode.TOKEN_REUSED,
                    "This refresh token was already used; all sessions of this sign-in are "
                    "revoked. Sign in again.",
                    "refreshToken",
                )
            else:
                outcome = ServiceError.of(
                    ErrorCode.TOKEN_INVALID,
                    "This refresh token is revoked or unknown",
                    "refreshToken",
                )
        else:
            switching = organisation_id is not None
            target_organisation = organisation_id if switching else row.organisation_id
            user = await session.get(User, claims.user_id)  # locked above
            try:
                if user is None or not user.is_active:
                    raise ServiceError.of(
                        ErrorCode.TOKEN_INVALID, "This account is disabled", "refreshToken"
                    )
                # Memberships can end between refreshes: re-derive the role every time.
                role, active_org = await _active_context(
                    session, user, target_organisation, explicit=target_organisation is not None
                )
                outcome = await _issue_pair(
                    session,
                    security,
                    user_id=user.id,
                    role=role,
                    organisation_id=active_org,
                    family_id=claims.family_id,
                )
            except ServiceError as exc:
                if switching and exc.code is ErrorCode.FORBIDDEN:
                    # Asking for an organisation one is not in changes nothing: the old token
                    # stays usable (the rotation above is rolled back with this error).
                    raise
                await _revoke_family(session, claims.family_id, now)
                outcome = ServiceError.of(
                    ErrorCode.TOKEN_INVALID, exc.problems[0].message, "refreshToken"
                )
    # Raised only after the commit, so a detected reuse stays revoked.
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


async def _revoke_family(session: AsyncSession, family_id: uuid.UUID, now: datetime) -> None:
    await session.execute(
        update(RefreshSession)
        .where(RefreshSession.family_id == family_id, RefreshSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_token(
    *, db: Database, security: Security, refresh_token: str, broadcaster: Broadcaster
) -> None:
    """Sign out: revoke the refresh token's whole family. Revoking twice is not an error. Every
    app instance is told, so that the person's open connections are checked at once."""
    try:
        claims = security.tokens.read_refresh(refresh_token)
    except TokenError as exc:
        if exc.code is not ErrorCode.TOKEN_EXPIRED:
            raise _token_problem(exc) from exc
        return  # an expired token signs nobody in any more
    async with db.write() as session:
        stored = await session.get(RefreshSession, claims.jti)
        if stored is None or stored.token_hash != fingerprint(refresh_token):
            raise ServiceError.of(
                ErrorCode.TOKEN_INVALID, "This refresh token is unknown", "refreshToken"
            )
        await _revoke_family(session, stored.family_id, security.tokens.now())
        user_id = stored.user_id
    await announce_access_change(broadcaster, user_id)
