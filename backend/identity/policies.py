"""Object rules of the identity domain, named ``identity:action``.

An organisation is managed by its admins, acting for it (their token's active organisation is
that organisation), or by platform admins.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from backend.auth.viewer import Viewer
from backend.identity.models import Membership, MembershipRole, Organisation
from backend.kit.errors import forbidden


def _may_manage(viewer: Viewer, organisation: Organisation, membership: Membership | None) -> bool:
    if viewer.is_admin:
        return True
    return (
        membership is not None
        and membership.role is MembershipRole.ADMIN
        and viewer.organisation_id == organisation.id
    )


def organisation_update(
    viewer: Viewer, organisation: Organisation, membership: Membership | None
) -> None:
    """identity:organisation_update"""
    if not _may_manage(viewer, organisation, membership):
        raise forbidden("Only this organisation's admins, acting for it, may change it")


def organisation_invite(
    viewer: Viewer, organisation: Organisation, membership: Membership | None
) -> None:
    """identity:organisation_invite"""
    if not _may_manage(viewer, organisation, membership):
        raise forbidden("Only this organisation's admins, acting for it, may invite people")


def organisation_members_read(
    viewer: Viewer, organisation: Organisation, membership: Membership | None
) -> None:
    """identity:organisation_members_read"""
    if not (viewer.is_admin or membership is not None):
        raise forbidden("Only this organisation's members see who belongs to it")


def organisation_privacy_read(
    viewer: Viewer, organisation_id: uuid.UUID, member_of: Collection[uuid.UUID]
) -> bool:
    """identity:organisation_privacy_read — an organisation's privacy choices (whether cluster
    insights name it to institutions) are its own business: its members, whichever organisation
    they act for at the moment, and platform admins read them; to anyone else they are null."""
    return viewer.is_admin or organisation_id in member_of


def trust_manage(viewer: Viewer) -> None:
    """identity:trust_manage — verifying organisations, disabling accounts, reading the audit
    records of those decisions: platform admins only."""
    if not viewer.is_admin:
        raise forbidden("Only platform admins decide whom the platform trusts")
