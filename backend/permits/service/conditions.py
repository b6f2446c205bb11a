"""Conditions: caps per reporting period on one parameter, in a mass unit of the catalogue."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Viewer
from backend.catalogue import service as catalogue
from backend.catalogue.models import Dimension
from backend.kit.db import Database, once_more_on_clash
from backend.kit.errors import ErrorCode, Problems, ServiceError, check_version
from backend.kit.money import check_amount, plain
from backend.kit.validation import check_text
from backend.permits import policies
from backend.permits.models import WASTE_PARAMETERS, PermitCondition
from backend.permits.policies import Standing
from backend.permits.service.common import ConditionView, readable_condition, readable_permit
from backend.permits.service.inputs import ConditionDraft
from backend.permits.service.reading import condition_views

# an EWC chapter (ewc-03), sub-chapter (ewc-03-01) or entry (ewc-03-01-05) of the catalogue
EWC_CODE = re.compile(r"ewc-\d{2}(-\d{2}){0,2}")


async def _view(
    session: AsyncSession, standing: Standing, condition: PermitCondition
) -> ConditionView:
    [view] = await condition_views(session, standing, [condition])
    return view


async def add_condition(
    *, db: Database, viewer: Viewer, draft: ConditionDraft, now: datetime
) -> ConditionView:
    return await once_more_on_clash(
        lambda: _add_condition(db=db, viewer=viewer, draft=draft, now=now)
    )


async def _add_condition(
    *, db: Database, viewer: Viewer, draft: ConditionDraft, now: datetime
) -> ConditionView:
    """A cap on one parameter: a waste stream by its EWC code for the waste parameters, no
    material for the others; the cap in a mass unit. The same client id twice gives it back."""
    problems = Problems()
    check_text(problems, "title", draft.title, min_length=3, max_length=200)
    check_amount(problems, "cap", draft.cap, positive=True)
    async with db.write() as session:
        permit, standing = await readable_permit(session, viewer, draft.permit_id)
        policies.manage(standing)
        if draft.id is not None and (existing := await session.get(PermitCondition, draft.id)):
            if existing.permit_id != permit.id:
                raise ServiceError.of(
                    ErrorCode.CONFLICT, "This id belongs to another condition", "id"
                )
            return await _view(session, standing, existing)
        if draft.parameter in WASTE_PARAMETERS:
            if draft.material_code is None:
                problems.add("materialCode", "A waste parameter names its EWC code")
            elif not EWC_CODE.fullmatch(draft.material_code):
                problems.add(
                    "materialCode", "Give an EWC entry, chapter or sub-chapter (ewc-03-01-05)"
                )
            else:
                await catalogue.check_material(
                    session, problems, draft.material_code, "materialCode"
                )
        elif draft.material_code is not None:
            problems.add("materialCode", f"A {draft.parameter.value} condition names no material")
        unit = await catalogue.check_unit(session, problems, draft.unit_code, "unit")
        if unit is not None and unit.dimension is not Dimension.MASS:
            problems.add("unit", "Give a mass unit (KGM, TNE ...)")
        problems.raise_if_any()
        assert unit is not None
        condition = PermitCondition(
            permit_id=permit.id,
            parameter=draft.parameter,
            material_code=draft.material_code,
            title=draft.title.strip(),
            cap=draft.cap,
            unit_code=unit.code,
            frequency=draft.frequency,
            allocated=Decimal(0),
            version=1,
            created_at=now,
            updated_at=now,
        )
        if draft.id is not None:
            condition.id = draft.id
        session.add(condition)
        await session.flush()
        return await _view(session, standing, condition)


async def update_condition(
    *,
    db: Database,
    viewer: Viewer,
    condition_id: uuid.UUID,
    title: str | None,
    cap: Decimal | None,
    expected_version: int | None,
    now: datetime,
) -> ConditionView:
    """Change the title or the cap; the cap never goes below what is allocated (CONFLICT on
    ``cap`` saying how much that is: lower allocations first)."""
    problems = Problems()
    if title is not None:
        check_text(problems, "title", title, min_length=3, max_length=200)
    if cap is not None:
        check_amount(problems, "cap", cap, positive=True)
    problems.raise_if_any()
    async with db.write() as session:
        condition, _permit, standing = await readable_condition(
            session, viewer, condition_id, lock=True, field_name="id"
        )
        policies.manage(standing)
        check_version("condition", expected_version, condition.version)
        if cap is not None and cap < condition.allocated:
            raise ServiceError.of(
                ErrorCode.CONFLICT,
                f"{plain(condition.allocated)} {condition.unit_code} is allocated; the cap "
                "cannot go below it",
                "cap",
            )
        if title is None and (cap is None or cap == condition.cap):
            return await _view(session, standing, condition)
        if title is not None:
            condition.title = title.strip()
        if cap is not None:
            condition.cap = cap
        condition.version += 1
        condition.updated_at = now
        await session.flush()
        return await _view(session, standing, condition)
