"""Object rules of joint purchasing, named ``purchasing:action``.

A group is run by its organiser: the members of the organising organisation acting for it.
Who may join follows the group's visibility: the organiser's members (MEMBERS), people acting
for an organisation of the organiser's cluster (CLUSTER), or anyone signed in (PUBLIC). Who may
read it is the same, except that PUBLIC groups are readable without signing in and participants
always see the groups they pledged to. Individual pledges are the organiser's and the pledger's.

The read rule is written once, as SQL (:func:`readable_groups`): one group is loaded through it
and lists select from it, so the two cannot disagree.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, Select, exists, or_, select, true

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.identity.models import Membership, MembershipRole, Organisation, OrganisationKind
from backend.kit.errors import forbidden
from backend.purchasing.models import GroupVisibility, Pledge, PurchaseGroup


def organises(viewer: Viewer | Anonymous, group: PurchaseGroup) -> bool:
    return isinstance(viewer, Viewer) and viewer.organisation_id == group.organisation_id


def eligible(
    viewer: Viewer | Anonymous, group: PurchaseGroup, viewer_cluster_id: uuid.UUID | None
) -> bool:
    """purchasing:join — whether the viewer (acting for their organisation) may take part."""
    if not isinstance(viewer, Viewer) or viewer.is_admin:
        return False
    if organises(viewer, group):
        return True
    if group.visibility is GroupVisibility.PUBLIC:
        return True
    if group.visibility is GroupVisibility.CLUSTER:
        return viewer_cluster_id is not None and viewer_cluster_id == group.cluster_id
    return False


def their_pledge(viewer: Viewer) -> ColumnElement[bool]:
    """A pledge is the viewer's when they are its participant or made it for a member."""
    return or_(Pledge.participant_id == viewer.user_id, Pledge.acted_by_id == viewer.user_id)


def pledged_to(viewer: Viewer) -> ColumnElement[bool]:
    """The group holds a pledge of the viewer's, withdrawn ones too."""
    return exists().where(Pledge.group_id == PurchaseGroup.id, their_pledge(viewer))


def readable_groups(viewer: Viewer | Anonymous) -> Select[PurchaseGroup]:
    """purchasing:read — the groups the viewer may read: PUBLIC ones (without signing in too),
    those they pledged to, and, acting for an organisation, its own groups and its cluster's
    CLUSTER groups; platform admins read every group.

    For one group add ``.where(PurchaseGroup.id == ...)``: a group outside it is NOT_FOUND, as
    if it did not exist. Lists add their filters and their order.
    """
    if isinstance(viewer, Viewer) and viewer.is_admin:
        return select(PurchaseGroup).where(true())
    conditions = [PurchaseGroup.visibility == GroupVisibility.PUBLIC]
    if isinstance(viewer, Viewer):
        conditions.append(pledged_to(viewer))
        if viewer.organisation_id is not None:
            conditions.append(PurchaseGroup.organisation_id == viewer.organisation_id)
            # correlate(None): the viewer's organisation, even in a statement that also joins
            # organisations (an organiser's, say)
            viewer_cluster = (
                select(Organisation.cluster_id)
                .where(Organisation.id == viewer.organisation_id)
                .correlate(None)
                .scalar_subquery()
            )
            conditions.append(
                (PurchaseGroup.visibility == GroupVisibility.CLUSTER)
                & (PurchaseGroup.cluster_id == viewer_cluster)
            )
    return select(PurchaseGroup).where(or_(*conditions))


def create(viewer: Viewer) -> None:
    """purchasing:create — firms and communities organise groups for the organisation they act
    for."""
    if viewer.role not in (Role.FIRM, Role.COMMUNITY) or viewer.organisation_id is None:
        raise forbidden(
            "Only firms and communities, acting for their organisation, organise groups"
        )


def manage(viewer: Viewer, group: PurchaseGroup) -> None:
    """purchasing:manage — change, close, cancel, mark ordered and delivered, see the pledges."""
    if not organises(viewer, group):
        raise forbidden("Only the organising organisation, acting for it, may do this")


def read_pledges(viewer: Viewer, group: PurchaseGroup) -> None:
    """purchasing:pledges_read — everyone's pledges are for the organiser (and platform admins)."""
    if not (organises(viewer, group) or viewer.is_admin):
        raise forbidden("Only the organiser sees everyone's pledges")


def pledge_for(
    viewer: Viewer, community: Organisation | None, facilitator: Membership | None
) -> None:
    """purchasing:pledge_on_behalf — a community's admin, acting for it, pledges for a member
    without a phone."""
    if (
        community is None
        or community.kind is not OrganisationKind.COMMUNITY
        or viewer.organisation_id != community.id
        or facilitator is None
        or facilitator.role is not MembershipRole.ADMIN
    ):
        raise forbidden(
            "Only an admin of a community, acting for it, may pledge on behalf of its members"
        )


def change_pledge(viewer: Viewer, pledge: Pledge, facilitator: Membership | None) -> None:
    """purchasing:pledge_change — the participant, or an admin of the community the pledge was
    made through (the facilitator's colleagues too), acting for it."""
    if pledge.participant_id == viewer.user_id:
        return
    if (
        pledge.organisation_id is not None
        and viewer.organisation_id == pledge.organisation_id
        and facilitator is not None
        and facilitator.role is MembershipRole.ADMIN
        and viewer.role is Role.COMMUNITY
    ):
        return
    raise forbidden("Only the participant or their community's admins may change this pledge")


def sees_pledge(viewer: Viewer | Anonymous, group: PurchaseGroup, pledge: Pledge) -> bool:
    """purchasing:pledge_read"""
    if not isinstance(viewer, Viewer):
        return False
    return (
        organises(viewer, group)
        or viewer.is_admin
        or pledge.participant_id == viewer.user_id
        or pledge.acted_by_id == viewer.user_id
    )
