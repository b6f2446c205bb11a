"""Recording licences (their holder's admins) and verifying them (a platform admin or the
issuing authority). Each function owns its unit of work and takes ``now`` from the app clock."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.catalogue.models import Material
from backend.identity import service as identity_service
from backend.identity.models import GOVERNMENT_SUBTYPES, Organisation, OrganisationKind
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version, not_found
from backend.kit.validation import UNCHANGED, check_text
from backend.licences import policies
from backend.licences.models import LicenceCoverage, LicensedOperation, WasteLicence
from backend.licences.service.inputs import (
    MAX_COVERED_CODES,
    SUBJECT,
    LicenceChanges,
    LicenceDraft,
    LicenceView,
)
from backend.licences.service.reading import build_views, readable_licence
from backend.notifications import service as notifications
from backend.notifications.service import texts

# ---------------------------------------------------------------------------------------------
# Checks


def _check_texts(
    problems: Problems, issuer_name: str | None, number: str | None, note: str | None
) -> None:
    if issuer_name is not None:
        check_text(problems, "issuerName", issuer_name, min_length=2, max_length=200)
    if number is not None:
        check_text(problems, "number", number, min_length=1, max_length=100)
    if note is not None:
        check_text(problems, "note", note, min_length=0, max_length=2000, multiline=True)


def _check_operations(problems: Problems, operations: Sequence[LicensedOperation]) -> list[str]:
    if not operations:
        problems.add("operations", "Name at least one operation the licence allows")
    return [operation.value for operation in dict.fromkeys(operations)]


def _check_period(problems: Problems, valid_from: date, valid_to: date) -> None:
    if valid_to < valid_from:
        problems.add("validTo", "Must not be before validFrom")


def _is_ewc_code(code: str) -> bool:
    """An EWC chapter (``ewc-19``), sub-chapter (``ewc-19-08``) or entry (``ewc-19-08-11``)."""
    parts = code.split("-")
    return (
        parts[0] == "ewc"
        and 2 <= len(parts) <= 4
        and all(len(p) == 2 and p.isdigit() for p in parts[1:])
    )


async def _check_codes(
    session: AsyncSession, problems: Problems, codes: Sequence[str]
) -> list[str]:
    """The covered codes, each once, in the order given; each must be an EWC chapter,
    sub-chapter or entry of the catalogue (one statement)."""
    if len(codes) > MAX_COVERED_CODES:  # before any work on them
        problems.add("materialCodes", f"At most {MAX_COVERED_CODES} codes")
        return []
    unique = list(dict.fromkeys(code.strip().lower() for code in codes))
    if not unique:
        problems.add("materialCodes", "Name at least one EWC code the licence covers")
        return []
    if len(unique) > MAX_COVERED_CODES:
        problems.add("materialCodes", f"At most {MAX_COVERED_CODES} codes")
        return []
    shaped = [code for code in unique if _is_ewc_code(code)]
    known = set(
        (
            await session.scalars(
                select(Material.code).where(
                    Material.code.in_(shaped), Material.from_catalogue.is_(True)
                )
            )
        ).all()
        if shaped
        else ()
    )
    for index, code in enumerate(unique):
        if code not in known:
            problems.add(
                f"materialCodes.{index}",
                f"{code} is not an EWC chapter, sub-chapter or entry of the catalogue (such as "
                "ewc-19, ewc-19-08 or ewc-19-08-11)",
            )
    return unique


async def _check_authority(
    session: AsyncSession, problems: Problems, authority_id: uuid.UUID, holder_id: uuid.UUID
) -> None:
    authority = await session.get(Organisation, authority_id)
    # Only a public authority may be named: the one named verifies the licence, and a
    # licence verified by, say, a friendly university would open hazardous trading.
    if (
        authority is None
        or authority.kind is not OrganisationKind.INSTITUTION
        or authority.subtype not in GOVERNMENT_SUBTYPES
    ):
        problems.add(
            "authorityId", "Not a local- or national-government institution of the platform"
        )
    elif authority.id == holder_id:
        problems.add("authorityId", "An organisation cannot be the authority of its own licence")


async def _check_unique(
    session: AsyncSession,
    holder_id: uuid.UUID,
    issuer_name: str,
    number: str,
    licence_id: uuid.UUID | None,
) -> None:
    statement = select(WasteLicence.id).where(
        WasteLicence.organisation_id == holder_id,
        WasteLicence.issuer_name == issuer_name,
        WasteLicence.number == number,
    )
    if licence_id is not None:
        statement = statement.where(WasteLicence.id != licence_id)
    if await session.scalar(statement) is not None:
        raise ServiceError.of(
            ErrorCode.CONFLICT,
            "Your organisation has already recorded this issuer's licence with this number",
            "number",
        )


# ---------------------------------------------------------------------------------------------
# The holder


async def create_licence(
    *, db: Database, viewer: Viewer, draft: LicenceDraft, now: datetime
) -> LicenceView:
    """See ``_create``; a concurrent twin with the same client id is answered as a retry."""
    return await once_more_on_clash(lambda: _create(db=db, viewer=viewer, draft=draft, now=now))


async def _create(
    *, db: Database, viewer: Viewer, draft: LicenceDraft, now: datetime
) -> LicenceView:
    """An unverified licence of the organisation the viewer acts for (as an admin). The same
    client id twice gives it back."""
    async with db.write() as session:
        holder_id = await policies.record(session, viewer)
        if draft.id is not None and (existing := await session.get(WasteLicence, draft.id)):
            if existing.organisation_id != holder_id:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id belongs to another licence", "id"
                )
            return (await build_views(session, [existing], now))[0]
        problems = Problems()
        _check_texts(problems, draft.issuer_name, draft.number, draft.note)
        operations = _check_operations(problems, draft.operations)
        _check_period(problems, draft.valid_from, draft.valid_to)
        codes = await _check_codes(session, problems, draft.material_codes)
        if draft.authority_id is not None:
            await _check_authority(session, problems, draft.authority_id, holder_id)
        problems.raise_if_any()
        issuer_name, number = draft.issuer_name.strip(), draft.number.strip()
        await _check_unique(session, holder_id, issuer_name, number, None)
        licence = WasteLicence(
            organisation_id=holder_id,
            authority_id=draft.authority_id,
            issuer_name=issuer_name,
            number=number,
            operations=operations,
            valid_from=draft.valid_from,
            valid_to=draft.valid_to,
            created_by_id=viewer.user_id,
            note=draft.note.strip(),
            version=1,
            created_at=now,
            updated_at=now,
        )
        if draft.id is not None:
            licence.id = draft.id
        session.add(licence)
        await session.flush()
        session.add_all(LicenceCoverage(licence_id=licence.id, material_code=c) for c in codes)
        await session.flush()
        return (await build_views(session, [licence], now))[0]


async def _managed(session: AsyncSession, viewer: Viewer, licence_id: uuid.UUID) -> WasteLicence:
    licence = await readable_licence(session, viewer, licence_id, lock=True)
    if licence is None:
        raise not_found("Licence")
    await policies.manage(session, viewer, licence)
    return licence


async def update_licence(
    *,
    db: Database,
    viewer: Viewer,
    licence_id: uuid.UUID,
    changes: LicenceChanges,
    expected_version: int | None,
    now: datetime,
) -> LicenceView:
    """Change a licence. A change of its terms (anything but the note) withdraws the
    verification, and a new last day allows a new expiry notice."""
    async with db.write() as session:
        licence = await _managed(session, viewer, licence_id)
        check_version("licence", expected_version, licence.version)
        problems = Problems()
        _check_texts(problems, changes.issuer_name, changes.number, changes.note)
        operations = (
            None if changes.operations is None else _check_operations(problems, changes.operations)
        )
        valid_from = changes.valid_from or licence.valid_from
        valid_to = changes.valid_to or licence.valid_to
        _check_period(problems, valid_from, valid_to)
        codes = (
            None
            if changes.material_codes is None
            else await _check_codes(session, problems, changes.material_codes)
        )
        if changes.authority_id is not UNCHANGED and changes.authority_id is not None:
            await _check_authority(session, problems, changes.authority_id, licence.organisation_id)
        problems.raise_if_any()
        issuer_name = (
            licence.issuer_name if changes.issuer_name is None else changes.issuer_name.strip()
        )
        number = licence.number if changes.number is None else changes.number.strip()
        if (issuer_name, number) != (licence.issuer_name, licence.number):
            await _check_unique(session, licence.organisation_id, issuer_name, number, licence.id)
        old_codes = set(
            (
                await session.scalars(
                    select(LicenceCoverage.material_code).where(
                        LicenceCoverage.licence_id == licence.id
                    )
                )
            ).all()
        )
        authority_id = (
            licence.authority_id if changes.authority_id is UNCHANGED else changes.authority_id
        )
        terms_before = (
            licence.issuer_name,
            licence.number,
            licence.authority_id,
            sorted(licence.operations),
            licence.valid_from,
            licence.valid_to,
            old_codes,
        )
        terms_after = (
            issuer_name,
            number,
            authority_id,
            sorted(licence.operations if operations is None else operations),
            valid_from,
            valid_to,
            old_codes if codes is None else set(codes),
        )
        if codes is not None and set(codes) != old_codes:
            await session.execute(
                delete(LicenceCoverage).where(
                    LicenceCoverage.licence_id == licence.id,
                    LicenceCoverage.material_code.not_in(codes),
                )
            )
            session.add_all(
                LicenceCoverage(licence_id=licence.id, material_code=code)
                for code in codes
                if code not in old_codes
            )
        note = licence.note if changes.note is None else changes.note.strip()
        if terms_after == terms_before and note == licence.note:
            return (await build_views(session, [licence], now))[0]
        if terms_after != terms_before:
            licence.verified_at = None
            licence.verified_by_id = None
        if valid_to != licence.valid_to:
            licence.expiry_notified_at = None
        licence.issuer_name, licence.number, licence.authority_id = (
            issuer_name,
            number,
            authority_id,
        )
        if operations is not None:
            licence.operations = operations
        licence.valid_from, licence.valid_to = valid_from, valid_to
        licence.note = note
        licence.version += 1
        licence.updated_at = now
        await session.flush()
        return (await build_views(session, [licence], now))[0]


async def delete_licence(*, db: Database, viewer: Viewer, licence_id: uuid.UUID) -> uuid.UUID:
    """Delete a licence (its coverage goes with it); its id."""
    async with db.write() as session:
        licence = await _managed(session, viewer, licence_id)
        await session.delete(licence)
        return licence_id


# ---------------------------------------------------------------------------------------------
# The verifier


async def _verifiable(
    session: AsyncSession, viewer: Viewer, licence_id: uuid.UUID, expected_version: int | None
) -> WasteLicence:
    licence = await readable_licence(session, viewer, licence_id, lock=True)
    if licence is None:
        raise not_found("Licence")
    await policies.verify(session, viewer, licence)
    check_version("licence", expected_version, licence.version)
    return licence


async def verify_licence(
    *,
    db: Database,
    viewer: Viewer,
    licence_id: uuid.UUID,
    expected_version: int | None,
    now: datetime,
) -> LicenceView:
    """Verify a licence: from now on it counts for hazardous waste on the days it is valid.
    ``expected_version`` pins the terms the verifier checked. Verifying a verified licence
    again returns it unchanged (a retry); its holder's people are told once."""
    async with db.write() as session:
        licence = await _verifiable(session, viewer, licence_id, expected_version)
        if licence.verified_at is None:
            licence.verified_at = now
            licence.verified_by_id = viewer.user_id
            licence.version += 1
            licence.updated_at = now
            await notifications.add(
                session,
                user_ids=await identity_service.member_ids(session, licence.organisation_id),
                text=texts.LICENCE_VERIFIED(
                    number=licence.number,
                    issuer=licence.issuer_name,
                    valid_from=licence.valid_from,
                    valid_to=licence.valid_to,
                ),
                subject_type=SUBJECT,
                subject_id=licence.id,
                details={"verified": "true"},
                now=now,
            )
            await session.flush()
        return (await build_views(session, [licence], now))[0]


async def unverify_licence(
    *,
    db: Database,
    viewer: Viewer,
    licence_id: uuid.UUID,
    reason: str,
    expected_version: int | None,
    now: datetime,
) -> LicenceView:
    """Withdraw a licence's verification, saying why: its holder's people are told
    (LICENCE_VERIFICATION_WITHDRAWN, the reason as its body).
    An unverified licence is returned unchanged."""
    problems = Problems()
    check_text(problems, "reason", reason, min_length=3, max_length=500, multiline=True)
    problems.raise_if_any()
    async with db.write() as session:
        licence = await _verifiable(session, viewer, licence_id, expected_version)
        if licence.verified_at is not None:
            licence.verified_at = None
            licence.verified_by_id = None
            licence.version += 1
            licence.updated_at = now
            await notifications.add(
                session,
                user_ids=await identity_service.member_ids(session, licence.organisation_id),
                text=texts.LICENCE_VERIFICATION_WITHDRAWN(
                    number=licence.number, reason=reason.strip()
                ),
                subject_type=SUBJECT,
                subject_id=licence.id,
                now=now,
            )
            await session.flush()
        return (await build_views(session, [licence], now))[0]
