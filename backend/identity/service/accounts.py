"""Accounts: signing up (with a new organisation or an invite), platform admins, and the
signed-in person."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from backend.auth.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from backend.auth.security import Security
from backend.auth.viewer import Role, Viewer
from backend.catalogue import service as catalogue
from backend.identity.models import (
    Cluster,
    Membership,
    MembershipRole,
    Organisation,
    OrganisationKind,
    OrganisationSubtype,
    User,
)
from backend.identity.service.checks import _check_subtype, normalise_email
from backend.identity.service.memberships import _consume_invite
from backend.kit.db import Database
from backend.kit.errors import Problems, ServiceError, not_found
from backend.kit.validation import Place, check_place, check_text, parse_uuid
from backend.notifications import service as notifications
from backend.notifications.service import texts


@dataclass(frozen=True, slots=True)
class NewOrganisation:
    name: str
    kind: OrganisationKind
    cluster_id: str  # as the app sent it; checked with the other fields
    location: Place
    subtype: OrganisationSubtype | None = None
    description: str = ""
    activity_code: str | None = None  # an ISIC Rev. 4 class
    named_in_insights: bool = True


@dataclass(frozen=True, slots=True)
class Me:
    user: User
    role: Role
    organisation: Organisation | None
    memberships: list[Membership]


def _check_password(problems: Problems, password: str, email: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.add("password", f"Use at least {MIN_PASSWORD_LENGTH} characters")
    elif len(password) > MAX_PASSWORD_LENGTH:
        problems.add("password", f"Use at most {MAX_PASSWORD_LENGTH} characters")
    elif password.strip().lower() == email:
        problems.add("password", "The password must not be the email address")


class _EmailTakenError(Exception):
    """The email has an account: undo whatever the registration did (an invite's use)."""

    def __init__(self, user_id: uuid.UUID) -> None:
        super().__init__("email taken")
        self.user_id = user_id


async def register_account(
    *,
    db: Database,
    security: Security,
    email: str,
    password: str,
    display_name: str,
    organisation: NewOrganisation | None,
    invite_code: str | None,
    now: datetime,
) -> User | None:
    """Create a person with either a new organisation (they become its admin) or an invite.

    Whether the email already has an account is nobody's business but its owner's: the invite
    (or cluster) is checked first whatever the email, the password is hashed either way, and an
    email with an account changes nothing but a notification to that account. Returns None
    then; callers must answer exactly as for a new account.
    """
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

    # Before looking at the email, so both answers cost the same argon2 run.
    password_hash = await security.passwords.hash(password)
    try:
        async with db.write() as session:
            # The invite or the cluster (and activity) first: a bad one is refused whatever the
            # email.
            if organisation is not None:
                if await session.get(Cluster, cluster_id) is None:
                    raise not_found("Cluster", "organisation.clusterId")
                if organisation.activity_code is not None:
                    await catalogue.check_activity_class(
                        session, problems, organisation.activity_code, "organisation.activityCode"
                    )
                    problems.raise_if_any()
            else:
                assert invite_code is not None
                invite = await _consume_invite(session, invite_code, "inviteCode", now=now)
            existing = await session.scalar(select(User.id).where(User.email == email))
            if existing is not None:
                raise _EmailTakenError(existing)  # rolls the invite's use back
            user = User(email=email, password_hash=password_hash, display_name=display_name.strip())
            session.add(user)
            await session.flush()
            if organisation is not None:
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
                    activity_code=organisation.activity_code,
                    named_in_insights=organisation.named_in_insights,
                )
                session.add(org)
                await session.flush()
                session.add(
                    Membership(user_id=user.id, organisation_id=org.id, role=MembershipRole.ADMIN)
                )
            else:
                session.add(
                    Membership(
                        user_id=user.id, organisation_id=invite.organisation_id, role=invite.role
                    )
                )
    except _EmailTakenError as taken:
        await _tell_owner(db, taken.user_id, now)
        return None
    except IntegrityError:
        # Two registrations of one email racing: the unique index decides, and the later one is
        # an email with an account like any other. Anything else (a cluster deleted meanwhile,
        # say) stays unexpected.
        async with db.read() as session:
            existing = await session.scalar(select(User.id).where(User.email == email))
        if existing is None:
            raise
        await _tell_owner(db, existing, now)
        return None
    return user


async def _tell_owner(db: Database, user_id: uuid.UUID, now: datetime) -> None:
    """Tell an account's owner that someone asked for an account with their email: the one
    channel we have to them. At most once a day, so nobody can flood an inbox this way."""
    try:
        async with db.write() as session:
            await notifications.add(
                session,
                user_ids=[user_id],
                text=texts.ACCOUNT_REGISTRATION_ATTEMPTED(),
                subject_type="USER",
                subject_id=user_id,
                now=now,
                dedupe=f"ACCOUNT_REGISTRATION_ATTEMPTED:{now.date().isoformat()}",
            )
    except IntegrityError:
        pass  # already told today


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
