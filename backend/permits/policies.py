"""Who does what under an umbrella permit, named ``permits:action``.

A person's standing towards one permit comes from the organisation they act for in this token
and their role there, both read in the caller's transaction (so a membership removed, a role
changed or a verification withdrawn counts on the next request):

- the **holder** (the cluster association): its admins manage conditions, members, allocations
  and transfers that wait for approval; anyone acting for it reads everything;
- the **authority** that issued it (a verified government institution): reads everything about
  the permits it issued, and nothing about others;
- a **member** (an organisation with a span of cover, current or past): reads the permit, its
  conditions and members, and its own allocations, ledger, transfers and returns; files its
  own returns (anyone acting for it) and transfers its own allocation (its admins);
- platform admins read everything (operators answering support), and change nothing;
- anyone else: the permit does not exist for them (NOT_FOUND).

The list rule is SQL (:func:`readable_permits`); one permit is read through it too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Select, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.identity import service as identity
from backend.identity.models import GOVERNMENT_SUBTYPES, MembershipRole, Organisation
from backend.kit.errors import forbidden, not_found
from backend.permits.models import Permit, PermitMember

AUTHORITY_SUBTYPES = GOVERNMENT_SUBTYPES


def acts_as_authority(viewer: Viewer) -> bool:
    """A government institution's account counts as an authority only while verified."""
    return viewer.role is Role.INSTITUTION and viewer.organisation_verified


@dataclass(frozen=True, slots=True)
class Standing:
    """What the viewer is to one permit."""

    permit_id: uuid.UUID
    organisation_id: uuid.UUID | None
    holder: bool = False
    holder_admin: bool = False
    authority: bool = False
    member: bool = False  # the organisation acted for has (or had) a span of cover
    member_admin: bool = False
    platform_admin: bool = False

    @property
    def reads_all(self) -> bool:
        """permits:read_all — every member's figures, the ledger, the report."""
        return self.holder or self.authority or self.platform_admin

    @property
    def reads(self) -> bool:
        """permits:read — the permit, its conditions and its members."""
        return self.reads_all or self.member


async def standing_of(
    session: AsyncSession, viewer: Viewer | Anonymous, permit: Permit
) -> Standing:
    """The viewer's standing towards ``permit``: at most two statements (the viewer's
    memberships, and their organisation's cover)."""
    if not isinstance(viewer, Viewer):
        return Standing(permit.id, None)
    if viewer.is_admin:
        return Standing(permit.id, None, platform_admin=True)
    organisation_id = viewer.organisation_id
    if organisation_id is None:
        return Standing(permit.id, None)
    roles = {
        a.organisation_id: a.role for a in await identity.affiliations_of(session, viewer.user_id)
    }
    role = roles.get(organisation_id)
    if role is None:  # no longer acts for it
        return Standing(permit.id, organisation_id)
    admin = role is MembershipRole.ADMIN
    holder = organisation_id == permit.holder_id
    authority = organisation_id == permit.authority_id and acts_as_authority(viewer)
    member = bool(
        await session.scalar(
            select(
                exists().where(
                    PermitMember.permit_id == permit.id,
                    PermitMember.organisation_id == organisation_id,
                )
            )
        )
    )
    return Standing(
        permit.id,
        organisation_id,
        holder=holder,
        holder_admin=holder and admin,
        authority=authority,
        member=member,
        member_admin=member and admin,
    )


async def standings_of(
    session: AsyncSession, viewer: Viewer | Anonymous, permits: list[Permit]
) -> dict[uuid.UUID, Standing]:
    """:func:`standing_of` for a page of permits, in at most two statements whatever its size
    (the viewer's memberships, and which of the permits cover their organisation)."""
    if not permits:
        return {}
    if not isinstance(viewer, Viewer) or viewer.is_admin or viewer.organisation_id is None:
        return {p.id: await standing_of(session, viewer, p) for p in permits}
    organisation_id = viewer.organisation_id
    roles = {
        a.organisation_id: a.role for a in await identity.affiliations_of(session, viewer.user_id)
    }
    role = roles.get(organisation_id)
    if role is None:
        return {p.id: Standing(p.id, organisation_id) for p in permits}
    admin = role is MembershipRole.ADMIN
    covered = set(
        (
            await session.scalars(
                select(PermitMember.permit_id).where(
                    PermitMember.organisation_id == organisation_id,
                    PermitMember.permit_id.in_([p.id for p in permits]),
                )
            )
        ).all()
    )
    standings = {}
    for permit in permits:
        holder = organisation_id == permit.holder_id
        member = permit.id in covered
        standings[permit.id] = Standing(
            permit.id,
            organisation_id,
            holder=holder,
            holder_admin=holder and admin,
            authority=organisation_id == permit.authority_id and acts_as_authority(viewer),
            member=member,
            member_admin=member and admin,
        )
    return standings


def readable_permits(viewer: Viewer | Anonymous) -> Select[Permit]:
    """permits:read — the permits the viewer may read, as one statement (see the module's
    docstring). The role in the organisation is not needed to read, so the token's
    organisation suffices here; access that ended is refused before any resolver runs."""
    if not isinstance(viewer, Viewer) or viewer.organisation_id is None:
        if isinstance(viewer, Viewer) and viewer.is_admin:
            return select(Permit).where(true())
        return select(Permit).where(false())
    if viewer.is_admin:
        return select(Permit).where(true())
    organisation_id = viewer.organisation_id
    conditions = [
        Permit.holder_id == organisation_id,
        exists().where(
            PermitMember.permit_id == Permit.id,
            PermitMember.organisation_id == organisation_id,
        ),
    ]
    if acts_as_authority(viewer):
        conditions.append(Permit.authority_id == organisation_id)
    return select(Permit).where(or_(*conditions))


def read(standing: Standing) -> None:
    """permits:read"""
    if not standing.reads:
        raise not_found("Permit", "permitId")


def read_member(standing: Standing, organisation_id: uuid.UUID) -> bool:
    """permits:read_member — one member's allocation, ledger, transfers and returns: the
    member itself and those who read everything."""
    return standing.reads_all or (standing.member and standing.organisation_id == organisation_id)


async def issue(session: AsyncSession, viewer: Viewer, authority: Organisation) -> None:
    """permits:issue — an admin of a verified local- or national-government institution,
    acting for it (the role as the memberships are now: one statement)."""
    if not (
        acts_as_authority(viewer)
        and viewer.organisation_id == authority.id
        and authority.subtype in AUTHORITY_SUBTYPES
        and any(
            a.organisation_id == authority.id and a.role is MembershipRole.ADMIN
            for a in await identity.affiliations_of(session, viewer.user_id)
        )
    ):
        raise forbidden(
            "Only an admin of a verified local- or national-government institution, acting "
            "for it, issues umbrella permits"
        )


def manage(standing: Standing) -> None:
    """permits:manage — conditions, members, allocations, the transfer rule and pending
    transfers: the holder's admins."""
    read(standing)
    if not standing.holder_admin:
        raise forbidden("Only an admin of the permit's holder, acting for it, may do this")


def file_return(standing: Standing, organisation_id: uuid.UUID) -> None:
    """permits:file_return — anyone acting for the member files and amends its own returns."""
    read(standing)
    if not (standing.member and standing.organisation_id == organisation_id):
        raise forbidden("Only the member itself files its returns")


def transfer(standing: Standing) -> None:
    """permits:transfer — a member's admins pass its allocation to another member."""
    read(standing)
    if not standing.member_admin:
        raise forbidden("Only an admin of a covered member, acting for it, transfers allocation")
