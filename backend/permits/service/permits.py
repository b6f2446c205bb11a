"""Issuing a permit and changing it."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.identity.models import Organisation, OrganisationKind
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version, forbidden
from backend.kit.validation import check_text
from backend.permits import policies
from backend.permits.models import Permit, PermitMember
from backend.permits.service.common import PermitView, permit_views, readable_permit
from backend.permits.service.inputs import MAX_RETURN_DUE_DAYS, PermitChanges, PermitDraft

HOLDER_KINDS = frozenset({OrganisationKind.COMMUNITY, OrganisationKind.INSTITUTION})


def _check_texts(problems: Problems, title: str | None, description: str | None) -> None:
    if title is not None:
        check_text(problems, "title", title, min_length=3, max_length=200)
    if description is not None:
        check_text(
            problems, "description", description, min_length=0, max_length=10_000, multiline=True
        )


def _check_due_days(problems: Problems, days: int | None) -> None:
    if days is not None and not 0 <= days <= MAX_RETURN_DUE_DAYS:
        problems.add("returnDueDays", f"Must be between 0 and {MAX_RETURN_DUE_DAYS}")


def _check_validity(problems: Problems, valid_from: date, valid_to: date) -> None:
    if valid_to < valid_from:
        problems.add("validTo", "Must not be before validFrom")


async def _view(session: AsyncSession, viewer: Viewer, permit: Permit) -> PermitView:
    [view] = await permit_views(session, viewer, [permit])
    return view


async def issue_permit(
    *, db: Database, viewer: Viewer, draft: PermitDraft, now: datetime
) -> PermitView:
    """See ``_issue``; a concurrent twin with the same client id is answered as a retry."""
    return await once_more_on_clash(lambda: _issue(db=db, viewer=viewer, draft=draft, now=now))


async def _issue(*, db: Database, viewer: Viewer, draft: PermitDraft, now: datetime) -> PermitView:
    """A verified government institution issues a permit to a community or institution of a
    cluster (not to itself); the permit's cluster is the holder's. The same client id twice
    gives it back."""
    problems = Problems()
    check_text(problems, "reference", draft.reference, min_length=1, max_length=100)
    _check_texts(problems, draft.title, draft.description)
    _check_due_days(problems, draft.return_due_days)
    _check_validity(problems, draft.valid_from, draft.valid_to)
    async with db.write() as session:
        authority = (
            await session.get(Organisation, viewer.organisation_id)
            if viewer.organisation_id
            else None
        )
        if authority is None:
            raise forbidden("Act for a verified government institution to issue permits")
        await policies.issue(session, viewer, authority)
        if draft.id is not None and (existing := await session.get(Permit, draft.id)):
            if existing.authority_id != authority.id:
                raise ServiceError.of(ErrorCode.CONFLICT, "This id belongs to another permit", "id")
            return await _view(session, viewer, existing)
        holder = await session.get(Organisation, draft.holder_id)
        if holder is None:
            problems.add("holderOrganisationId", "No such organisation", ErrorCode.NOT_FOUND)
        elif holder.id == authority.id:
            problems.add("holderOrganisationId", "An authority does not issue a permit to itself")
        elif holder.kind not in HOLDER_KINDS:
            problems.add(
                "holderOrganisationId",
                "A permit is held by a cluster association: a community or an institution",
            )
        problems.raise_if_any()
        assert holder is not None
        reference = draft.reference.strip()
        if await session.scalar(
            select(
                exists().where(Permit.authority_id == authority.id, Permit.reference == reference)
            )
        ):
            raise ServiceError.of(
                ErrorCode.CONFLICT, "You already issued a permit with this reference", "reference"
            )
        permit = Permit(
            cluster_id=holder.cluster_id,
            holder_id=holder.id,
            authority_id=authority.id,
            reference=reference,
            title=draft.title.strip(),
            description=draft.description.strip(),
            valid_from=draft.valid_from,
            valid_to=draft.valid_to,
            transfer_rule=draft.transfer_rule,
            return_due_days=draft.return_due_days,
            issued_by_id=viewer.user_id,
            version=1,
            created_at=now,
            updated_at=now,
        )
        if draft.id is not None:
            permit.id = draft.id
        session.add(permit)
        await session.flush()
        return await _view(session, viewer, permit)


async def update_permit(
    *,
    db: Database,
    viewer: Viewer,
    permit_id: uuid.UUID,
    changes: PermitChanges,
    expected_version: int | None,
    now: datetime,
) -> PermitView:
    """The holder's admins change the title, description, transfer rule and return due days;
    the authority changes the validity dates. A change asking for both needs both standings
    (nobody has them), so each side sends its own."""
    problems = Problems()
    _check_texts(problems, changes.title, changes.description)
    _check_due_days(problems, changes.return_due_days)
    problems.raise_if_any()
    async with db.write() as session:
        permit, standing = await readable_permit(session, viewer, permit_id, field_name="id")
        if changes.holder_part:
            policies.manage(standing)
        if changes.authority_part and not standing.authority:
            raise forbidden("Only the authority that issued the permit changes its validity")
        if not (changes.holder_part or changes.authority_part):
            return await _view(session, viewer, permit)
        locked = await session.get(Permit, permit.id, with_for_update=True, populate_existing=True)
        assert locked is not None
        permit = locked
        check_version("permit", expected_version, permit.version)
        valid_from = changes.valid_from or permit.valid_from
        valid_to = changes.valid_to or permit.valid_to
        _check_validity(problems, valid_from, valid_to)
        problems.raise_if_any()
        if changes.authority_part and await session.scalar(
            select(
                exists().where(
                    PermitMember.permit_id == permit.id,
                    or_(
                        PermitMember.covered_from < valid_from,
                        PermitMember.covered_from > valid_to,
                    ),
                )
            )
        ):
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                "A member's cover starts outside these dates; the holder changes it first",
                "validFrom" if changes.valid_from else "validTo",
            )
        if changes.title is not None:
            permit.title = changes.title.strip()
        if changes.description is not None:
            permit.description = changes.description.strip()
        if changes.transfer_rule is not None:
            permit.transfer_rule = changes.transfer_rule
        if changes.return_due_days is not None:
            permit.return_due_days = changes.return_due_days
        permit.valid_from, permit.valid_to = valid_from, valid_to
        permit.version += 1
        permit.updated_at = now
        await session.flush()
        return await _view(session, viewer, permit)
