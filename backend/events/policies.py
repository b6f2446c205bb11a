"""Object rules of the events domain, named ``events:action``.

An event is run by the organisation that created it: its members acting for it (their token's
active organisation) manage it. Platform admins may cancel any event and see who registered, as
moderators; they do not edit other people's events.
"""

from __future__ import annotations

from backend.auth.viewer import Anonymous, Role, Viewer
from backend.events.models import Event, EventKind, EventRegistration
from backend.events.models import RegistrationStatus as R
from backend.kit.errors import forbidden


def organises(viewer: Viewer | Anonymous, event: Event) -> bool:
    return isinstance(viewer, Viewer) and viewer.organisation_id == event.organisation_id


def is_public(event: Event) -> bool:
    """Published once: a draft cancelled before publication stays as private as a draft."""
    return event.published_at is not None


def can_read(viewer: Viewer | Anonymous, event: Event) -> bool:
    """events:read — events never published are their organisers' (and platform admins')."""
    if is_public(event):
        return True
    return organises(viewer, event) or (isinstance(viewer, Viewer) and viewer.is_admin)


def create(viewer: Viewer, kind: EventKind) -> None:
    """events:create — institutions create any kind; communities community meetings."""
    if viewer.role is Role.INSTITUTION:
        return
    if viewer.role is Role.COMMUNITY:
        if kind is not EventKind.COMMUNITY_MEETING:
            raise forbidden("Communities may create community meetings only")
        return
    raise forbidden("Only institutions and communities create events")


def manage(viewer: Viewer, event: Event) -> None:
    """events:manage — change, publish, approve, check in, list and export participants."""
    if not organises(viewer, event):
        raise forbidden("Only the organising organisation, acting for it, may do this")


def cancel(viewer: Viewer, event: Event) -> None:
    """events:cancel — the organisers, or platform admins as moderators."""
    if not (organises(viewer, event) or viewer.is_admin):
        raise forbidden("Only the organising organisation or a platform admin may cancel it")


def read_participants(viewer: Viewer, event: Event) -> None:
    """events:participants_read — who registered is for the organisers and platform admins."""
    if not (organises(viewer, event) or viewer.is_admin):
        raise forbidden("Only the organisers see who registered")


def cancel_registration(viewer: Viewer, registration: EventRegistration) -> None:
    """events:registration_cancel — people cancel their own registrations."""
    if registration.user_id != viewer.user_id:
        raise forbidden("Only the person who registered may cancel the registration")


def sees_online_url(
    viewer: Viewer | Anonymous, event: Event, registration: EventRegistration | None
) -> bool:
    """events:online_url — confirmed participants and the organisers."""
    if organises(viewer, event):
        return True
    return (
        registration is not None
        and isinstance(viewer, Viewer)
        and registration.user_id == viewer.user_id
        and registration.status is R.CONFIRMED
    )
