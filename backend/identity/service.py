"""Identity: accounts, sign-in sessions, organisations, memberships, invites and clusters.

Every public function is keyword-only and owns its unit of work.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from backend.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from backend.auth.security import Security
from backend.auth.tokens import TokenError, fingerprint
from backend.auth.viewer import Role, Viewer
from backend.identity import policies
from backend.identity.models import (
    SUBTYPES_BY_KIND,
    Cluster,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationInvite,
    OrganisationKind,
    OrganisationSubtype,
    RefreshSession,
    Sector,
    User,
)
from backend.kit.db import Database, utcnow
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version, not_found
from backend.kit.pagination import Page, PageRequest, Sort, SortKey, paginate
from backend.kit.validation import (
    LANGUAGE_TAG,
    Place,
    check_place,
    check_text,
    has_control_characters,
    parse_uuid,
    time_zones,
)

INVITE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud
INVITE_LENGTH = 12
MAX_INVITE_USES = 500
MAX_INVITE_DAYS = 90


# ---------------------------------------------------------------------------------------------
# Inputs and results


@dataclass(frozen=True, slots=True)
class NewOrganisation:
    name: str
    kind: OrganisationKind
    cluster_id: str  # as the app sent it; checked with the other fields
    location: Place
    subtype: OrganisationSubtype | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class OrganisationChanges:
    """Fields left as None stay as they are."""

    name: str | None = None
    subtype: OrganisationSubtype | None = None
    description: str | None = None
    location: Place | None = None


@dataclass(frozen=True, slots=True)
class NewCluster:
    slug: str
    name: str
    region: str
    country: str
    sector: Sector
    centre: Place
    currency: str
    languages: list[str]
    timezone: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    expires_at: datetime
    refresh_token: str
    refresh_expires_at: datetime
    role: Role
    organisation_id: uuid.UUID | None


@dataclass(frozen=True, slots=True)
class Me:
    user: User
    role: Role
    organisation: Organisation | None
    memberships: list[Membership]


@dataclass(frozen=True, slots=True)
class IssuedInvite:
    invite: OrganisationInvite
    code: str  # shown once; only its hash is stored


@dataclass(frozen=True, slots=True)
class ClusterFilter:
    country: str | None = None
    sector: Sector | None = None
    search: str | None = None


@dataclass(frozen=True, slots=True)
class OrganisationFilter:
    cluster_id: uuid.UUID | None = None
    kind: OrganisationKind | None = None
    subtype: OrganisationSubtype | None = None
    search: str | None = None


CLUSTERS_BY_NAME = Sort("clusters:name", (SortKey(Cluster.name), SortKey(Cluster.id)))
ORGANISATIONS_BY_NAME = Sort(
    "organisations:name", (SortKey(Organisation.name), SortKey(Organisation.id))
)


# ---------------------------------------------------------------------------------------------
# Validation helpers


def normalise_email(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ServiceError.of(ErrorCode.VALIDATION, "Enter a valid email address", "email") from exc


def _check_password(problems: Problems, password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.add("password", f"Use at least {MIN_PASSWORD_LENGTH} characters")
    elif len(password) > MAX_PASSWORD_LENGTH:
        problems.add("password", f"Use at most {MAX_PASSWORD_LENGTH} characters")
    elif password.strip().lower() == email:
        problems.add("password", "The password must not be the email address")


def _check_subtype(
    problems: Problems, field: str, kind: OrganisationKind, subtype: OrganisationSubtype | None
) -> None:
    if subtype is not None and subtype not in SUBTYPES_BY_KIND[kind]:
        allowed = ", ".join(sorted(s.value for s in SUBTYPES_BY_KIND[kind]))
        problems.add(field, f"A {kind.value} organisation's subtype is one of: {allowed}")


def _like_pattern(search: str) -> str:
    if has_control_characters(search, multiline=False):
        raise ServiceError.of(
            ErrorCode.VALIDATION, "Must not contain control characters", "filter.search"
        )
    escaped = search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _invite_hash(code: str) -> str:
    normalised = re.sub(r"[^A-Z0-9]", "", code.upper())
    return hashlib.sha256(normalised.encode()).hexdigest()


def _new_invite_code() -> str:
    raw = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, INVITE_LENGTH, 4))


def _role_of(organisation: Organisation) -> Role:
    return Role(organisation.kind.value)


# ---------------------------------------------------------------------------------------------
# Accounts


async def _consume_invite(session: AsyncSession, code: str, field: str) -> OrganisationInvite:
    """Take one use of an invite; a conditional UPDATE, so concurrent joins cannot overuse it."""
    now = utcnow()
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


async def register_account(
    *,
    db: Database,
    security: Security,
    email: str,
    password: str,
    display_name: str,
    organisation: NewOrganisation | None,
    invite_code: str | None,
) -> User:
    """Create a person with either a new organisation (they become its admin) or an invite."""
    problems = Problems()
    try:
        email = normalise_email(email)
    except ServiceError as exc:
        problems.items.extend(exc.problems)
    _check_password(problems, password, email)
    check_text(problems, "displayName", display_name, min_length=1, max_length=100)
    if (organisation is None) == (invite_code is None):
        problems.add("organisation", "Give either a new organisation or an invite code")
    if organisation is not None:
        check_text(problems, "organisation.name", organisation.name, min_length=2, max_length=200)
        _check_subtype(problems, "organisation.subtype", organisation.kind, organisation.subtype)
        check_place(problems, "organisation.location", organisation.location)
        check_text(
            problems,
            "organisation.description",
            organisation.description,
            min_length=0,
            max_length=4000,
            multiline=True,
        )
        cluster_id = parse_uuid(problems, "organisation.clusterId", organisation.cluster_id)
    problems.raise_if_any()

    password_hash = await security.passwords.hash(password)
    try:
        async with db.write() as session:
            if await session.scalar(select(User.id).where(User.email == email)) is not None:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "An account with this email already exists", "email"
                )
            user = User(email=email, password_hash=password_hash, display_name=display_name.strip())
            session.add(user)
            await session.flush()
            if organisation is not None:
                if await session.get(Cluster, cluster_id) is None:
                    raise not_found("Cluster", "organisation.clusterId")
                now = utcnow()
                org = Organisation(
                    created_at=now,
                    updated_at=now,
                    name=organisation.name.strip(),
                    kind=organisation.kind,
                    subtype=organisation.subtype,
                    cluster_id=cluster_id,
                    lat=organisation.location.lat,
                    lon=organisation.location.lon,
                    place_name=organisation.location.place_name.strip(),
                    description=organisation.description.strip(),
                )
                session.add(org)
                await session.flush()
                session.add(
                    Membership(user_id=user.id, organisation_id=org.id, role=MembershipRole.ADMIN)
                )
            else:
                assert invite_code is not None
                invite = await _consume_invite(session, invite_code, "inviteCode")
                session.add(
                    Membership(
                        user_id=user.id, organisation_id=invite.organisation_id, role=invite.role
                    )
                )
    except IntegrityError as exc:
        # Two registrations of one email racing: the unique index decides. Anything else (a
        # cluster deleted meanwhile, say) is not a conflict of the email and stays unexpected.
        async with db.read() as session:
            if await session.scalar(select(User.id).where(User.email == email)) is None:
                raise
        raise ServiceError.of(
            ErrorCode.CONFLICT, "An account with this email already exists", "email"
        ) from exc
    return user


async def create_platform_admin(
    *, db: Database, security: Security, email: str, password: str, display_name: str
) -> User:
    """Make a platform admin (the CLI's ``eic create-admin``); promotes an existing account."""
    email = normalise_email(email)
    problems = Problems()
    _check_password(problems, password, email)
    check_text(problems, "displayName", display_name, min_length=1, max_length=100)
    problems.raise_if_any()
    password_hash = await security.passwords.hash(password)
    async with db.write() as session:
        user = await session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, display_name=display_name.strip(), password_hash="")
            session.add(user)
        user.password_hash = password_hash
        user.is_platform_admin = True
        user.is_active = True
    return user


# ---------------------------------------------------------------------------------------------
# Tokens


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
    now = utcnow()
    access = security.tokens.issue_access(
        user_id=user_id, role=role, organisation_id=organisation_id, now=now
    )
    refresh = security.tokens.issue_refresh(
        user_id=user_id, family_id=family_id, jti=uuid.uuid4(), now=now
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
    retry_after = await security.throttle.attempt(keys)
    if retry_after is not None:
        raise ServiceError.of(
            ErrorCode.THROTTLED,
            f"Too many failed sign-ins; try again in {retry_after} seconds",
        )

    async with db.read() as session:
        user = await session.scalar(select(User).where(User.email == email))
    ok = await security.passwords.verify(user.password_hash if user else None, password)
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

    now = utcnow()
    outcome: TokenPair | ServiceError
    async with db.write() as session:
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
            user = await session.get(User, claims.user_id)
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


async def revoke_token(*, db: Database, security: Security, refresh_token: str) -> None:
    """Sign out: revoke the refresh token's whole family. Revoking twice is not an error."""
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
        await _revoke_family(session, stored.family_id, utcnow())


# ---------------------------------------------------------------------------------------------
# The signed-in person


async def get_me(*, db: Database, viewer: Viewer) -> Me | None:
    async with db.read() as session:
        user = await session.get(User, viewer.user_id)
        if user is None or not user.is_active:
            return None
        memberships = list(
            (
                await session.scalars(
                    select(Membership)
                    .options(joinedload(Membership.organisation).joinedload(Organisation.cluster))
                    .where(Membership.user_id == user.id)
                    .order_by(Membership.created_at, Membership.id)
                )
            ).all()
        )
    active = next(
        (m.organisation for m in memberships if m.organisation_id == viewer.organisation_id), None
    )
    return Me(user=user, role=viewer.role, organisation=active, memberships=memberships)


# ---------------------------------------------------------------------------------------------
# Organisations


async def membership_in(
    session: AsyncSession, user_id: uuid.UUID, organisation_id: uuid.UUID
) -> Membership | None:
    """A person's membership of an organisation, read in the caller's unit of work (other
    domains check "is this person a member" inside their own transactions)."""
    membership: Membership | None = await session.scalar(
        select(Membership).where(
            Membership.organisation_id == organisation_id, Membership.user_id == user_id
        )
    )
    return membership


async def _organisation_with_membership(
    session: AsyncSession, viewer: Viewer, organisation_id: uuid.UUID, *, lock: bool = False
) -> tuple[Organisation, Membership | None]:
    # With ``lock``, held for the rest of the unit of work: changes to one organisation (edits
    # with one expectedVersion, admins removing each other) queue up instead of racing.
    organisation = await session.get(Organisation, organisation_id, with_for_update=lock)
    if organisation is None:
        raise not_found("Organisation", "organisationId")
    return organisation, await membership_in(session, viewer.user_id, organisation_id)


async def create_invite(
    *,
    db: Database,
    viewer: Viewer,
    organisation_id: uuid.UUID,
    role: MembershipRole,
    max_uses: int,
    expires_in_days: int,
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
            expires_at=utcnow() + timedelta(days=expires_in_days),
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
    *, db: Database, viewer: Viewer, organisation_id: uuid.UUID, user_id: uuid.UUID
) -> uuid.UUID:
    """An admin removes a member, or a member leaves; the last admin cannot go."""
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
        # Their refresh tokens for this organisation stop working at the next refresh.
    return user_id


async def join_organisation(*, db: Database, viewer: Viewer, invite_code: str) -> Membership:
    try:
        async with db.write() as session:
            invite = await _consume_invite(session, invite_code, "inviteCode")
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
    return membership


async def update_organisation(
    *,
    db: Database,
    viewer: Viewer,
    organisation_id: uuid.UUID,
    changes: OrganisationChanges,
    expected_version: int | None,
) -> Organisation:
    problems = Problems()
    if changes.name is not None:
        check_text(problems, "name", changes.name, min_length=2, max_length=200)
    if changes.description is not None:
        check_text(
            problems,
            "description",
            changes.description,
            min_length=0,
            max_length=4000,
            multiline=True,
        )
    if changes.location is not None:
        check_place(problems, "location", changes.location)
    problems.raise_if_any()
    async with db.write() as session:
        organisation, membership = await _organisation_with_membership(
            session, viewer, organisation_id, lock=True
        )
        policies.organisation_update(viewer, organisation, membership)
        check_version("organisation", expected_version, organisation.version)
        if changes.subtype is not None:
            _check_subtype(problems, "subtype", organisation.kind, changes.subtype)
            problems.raise_if_any()
            organisation.subtype = changes.subtype
        if changes.name is not None:
            organisation.name = changes.name.strip()
        if changes.description is not None:
            organisation.description = changes.description.strip()
        if changes.location is not None:
            organisation.lat = changes.location.lat
            organisation.lon = changes.location.lon
            organisation.place_name = changes.location.place_name.strip()
        organisation.version += 1
        organisation.updated_at = utcnow()
        await session.flush()
        await session.refresh(organisation, ["cluster"])
    return organisation


async def get_organisation(*, db: Database, organisation_id: uuid.UUID) -> Organisation | None:
    async with db.read() as session:
        return await session.scalar(
            select(Organisation)
            .options(joinedload(Organisation.cluster))
            .where(Organisation.id == organisation_id)
        )


async def list_organisations(
    *, db: Database, filter: OrganisationFilter, page: PageRequest
) -> Page[Organisation]:
    statement = select(Organisation)
    if filter.cluster_id is not None:
        statement = statement.where(Organisation.cluster_id == filter.cluster_id)
    if filter.kind is not None:
        statement = statement.where(Organisation.kind == filter.kind)
    if filter.subtype is not None:
        statement = statement.where(Organisation.subtype == filter.subtype)
    if filter.search:
        statement = statement.where(
            func.lower(Organisation.name).like(_like_pattern(filter.search), escape="\\")
        )
    async with db.read() as session:
        return await paginate(
            session,
            statement,
            sort=ORGANISATIONS_BY_NAME,
            request=page,
            load=(joinedload(Organisation.cluster),),
        )


# ---------------------------------------------------------------------------------------------
# Clusters


async def get_cluster(*, db: Database, cluster_id: uuid.UUID) -> Cluster | None:
    async with db.read() as session:
        return await session.get(Cluster, cluster_id)


async def list_clusters(*, db: Database, filter: ClusterFilter, page: PageRequest) -> Page[Cluster]:
    statement = select(Cluster)
    if filter.country:
        if not re.fullmatch(r"[A-Za-z]{2}", filter.country):
            raise ServiceError.of(
                ErrorCode.VALIDATION, "Use an ISO 3166-1 alpha-2 code", "filter.country"
            )
        statement = statement.where(Cluster.country == filter.country.upper())
    if filter.sector is not None:
        statement = statement.where(Cluster.sector == filter.sector)
    if filter.search:
        pattern = _like_pattern(filter.search)
        statement = statement.where(
            func.lower(Cluster.name).like(pattern, escape="\\")
            | func.lower(Cluster.region).like(pattern, escape="\\")
        )
    async with db.read() as session:
        return await paginate(session, statement, sort=CLUSTERS_BY_NAME, request=page)


async def create_cluster(*, db: Database, cluster: NewCluster) -> Cluster:
    """Platform admins open a new cluster (the permission class gates the role)."""
    problems = Problems()
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", cluster.slug) or len(cluster.slug) > 64:
        problems.add("slug", "Use lower-case letters, digits and single hyphens (at most 64)")
    check_text(problems, "name", cluster.name, min_length=2, max_length=120)
    check_text(problems, "region", cluster.region, min_length=2, max_length=120)
    if not re.fullmatch(r"[A-Z]{2}", cluster.country):
        problems.add("country", "Use an ISO 3166-1 alpha-2 code such as IN or JP")
    if not re.fullmatch(r"[A-Z]{3}", cluster.currency):
        problems.add("currency", "Use an ISO 4217 code such as INR or JPY")
    if not cluster.languages or not all(LANGUAGE_TAG.fullmatch(t) for t in cluster.languages):
        problems.add("languages", "Give one or more BCP 47 language tags such as ta or ja")
    if cluster.timezone not in time_zones():
        problems.add("timezone", "Use an IANA time zone such as Asia/Kolkata")
    check_place(problems, "centre", cluster.centre)
    check_text(
        problems, "description", cluster.description, min_length=0, max_length=4000, multiline=True
    )
    problems.raise_if_any()
    try:
        async with db.write() as session:
            created = Cluster(
                slug=cluster.slug,
                name=cluster.name.strip(),
                region=cluster.region.strip(),
                country=cluster.country,
                sector=cluster.sector,
                centre_lat=cluster.centre.lat,
                centre_lon=cluster.centre.lon,
                currency=cluster.currency,
                languages=list(cluster.languages),
                timezone=cluster.timezone,
                description=cluster.description.strip(),
            )
            session.add(created)
    except IntegrityError as exc:
        raise ServiceError.of(
            ErrorCode.CONFLICT, "A cluster with this slug exists", "slug"
        ) from exc
    return created
