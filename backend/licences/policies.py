"""Who does what with waste licences, named ``licences:action``.

- the **holder** (the organisation that holds the licence): anyone acting for it reads its
  licences; its admins record, change and delete them;
- the **issuing authority** (the institution named as ``authority_id``), while verified by the
  platform and acting for itself: reads the licences naming it, and verifies them or withdraws
  the verification;
- **platform admins** read every licence and verify any (operators checking a paper licence);
- anyone else: the licence does not exist for them (NOT_FOUND).

The read rule is SQL (:func:`readable_licences`); one licence is read through it too.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Select, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.identity import service as identity
from backend.identity.models import MembershipRole
from backend.kit.errors import forbidden
from backend.licences.models import WasteLicence


def acts_as_authority(viewer: Viewer) -> bool:
    """An institution's account counts as an issuing authority only while verified."""
    return viewer.role is Role.INSTITUTION and viewer.organisation_verified


def readable_licences(viewer: Viewer | Anonymous) -> Select[WasteLicence]:
    """licences:read — the licences the viewer may read, as one statement. Lists add their
    filters and order; one licence adds ``.where(WasteLicence.id == ...)``. The token's
    organisation suffices: access that ended is refused before any resolver runs."""
    if not isinstance(viewer, Viewer):
        return select(WasteLicence).where(false())
    if viewer.is_admin:
        return select(WasteLicence).where(true())
    if viewer.organisation_id is None:
        return select(WasteLicence).where(false())
    conditions = [WasteLicence.organisation_id == viewer.organisation_id]
    if acts_as_authority(viewer):
        conditions.append(WasteLicence.authority_id == viewer.organisation_id)
    return select(WasteLicence).where(or_(*conditions))


async def _is_admin_of(session: AsyncSession, viewer: Viewer, organisation_id: uuid.UUID) -> bool:
    """Whether the viewer acts for ``organisation_id`` as an admin, as the memberships are now
    (one statement): a role changed since the token was issued counts at once."""
    if viewer.organisation_id != organisation_id:
        return False
    return any(
        a.organisation_id == organisation_id and a.role is MembershipRole.ADMIN
        for a in await identity.affiliations_of(session, viewer.user_id)
    )


async def record(session: AsyncSession, viewer: Viewer) -> uuid.UUID:
    """licences:record — an admin of the organisation acted for records its licences; the
    organisation's id."""
    organisation_id = viewer.organisation_id
    if organisation_id is None or not await _is_admin_of(session, viewer, organisation_id):
        raise forbidden("Only an admin of an organisation, acting for it, records its licences")
    return organisation_id


async def manage(session: AsyncSession, viewer: Viewer, licence: WasteLicence) -> None:
    """licences:manage — change or delete a licence: the holder's admins, acting for it."""
    if not await _is_admin_of(session, viewer, licence.organisation_id):
        raise forbidden("Only an admin of the licence's holder, acting for it, may do this")


async def verify(session: AsyncSession, viewer: Viewer, licence: WasteLicence) -> None:
    """licences:verify — verify a licence or withdraw its verification: a platform admin, or
    an admin of the issuing authority's verified institution account acting for it (the role
    as the memberships are now)."""
    if viewer.is_admin:
        return
    if (
        licence.authority_id is not None
        and acts_as_authority(viewer)
        and await _is_admin_of(session, viewer, licence.authority_id)
    ):
        return
    raise forbidden(
        "Only a platform admin or an admin of the issuing authority's verified institution "
        "account, acting for it, verifies a licence"
    )
