"""The hazardous-waste rule, the one place it is written.

A material is hazardous when the catalogue marks it (``Material.hazardous``: the EWC entries
with an asterisk, and the clusters' materials below them). Hazardous waste may be offered to
and traded only with an organisation holding a **verified** licence, **valid on that day** (the
cluster's time zone, first and last days included), that **covers the material**: a coverage
code equal to the material or to one of its ancestors in the catalogue (``Material.path``).

The party that must hold it is the receiver of the waste. The marketplace asks here, inside its
own transaction, so the answer and the offer or trade it allows are one unit of work.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue.models import Material
from backend.identity.models import Cluster
from backend.kit.clock import local_day
from backend.kit.errors import ErrorCode, ServiceError
from backend.licences.models import LicenceCoverage, WasteLicence


def _lineage(material: Material) -> list[str]:
    """The material's code and its ancestors' (the path lists them from the root)."""
    return material.path.split("/")


async def licensed_pairs(
    session: AsyncSession, pairs: Iterable[tuple[uuid.UUID, Material]], on_day: date
) -> set[tuple[uuid.UUID, str]]:
    """Of (organisation, material) pairs, those whose material is hazardous and whose
    organisation holds a licence for it on ``on_day``, as (organisation id, material code).
    One statement for all of them (none when no material is hazardous)."""
    wanted = [(organisation_id, m) for organisation_id, m in pairs if m.hazardous]
    if not wanted:
        return set()
    organisations = {organisation_id for organisation_id, _ in wanted}
    codes = {code for _, material in wanted for code in _lineage(material)}
    rows = await session.execute(
        select(WasteLicence.organisation_id, LicenceCoverage.material_code)
        .join(LicenceCoverage, LicenceCoverage.licence_id == WasteLicence.id)
        .where(
            WasteLicence.organisation_id.in_(organisations),
            WasteLicence.verified_at.is_not(None),
            WasteLicence.valid_from <= on_day,
            WasteLicence.valid_to >= on_day,
            LicenceCoverage.material_code.in_(codes),
        )
        .distinct()
    )
    held = {(organisation_id, code) for organisation_id, code in rows.all()}
    return {
        (organisation_id, material.code)
        for organisation_id, material in wanted
        if any((organisation_id, code) in held for code in _lineage(material))
    }


async def licensed_receivers(
    session: AsyncSession,
    organisation_ids: Collection[uuid.UUID],
    material: Material,
    on_day: date,
) -> set[uuid.UUID]:
    """Those of ``organisation_ids`` that may receive ``material`` on ``on_day``: all of them
    when it is not hazardous, else those holding a licence for it (one statement)."""
    if not material.hazardous:
        return set(organisation_ids)
    held = await licensed_pairs(session, ((o, material) for o in organisation_ids), on_day)
    return {organisation_id for organisation_id, _ in held}


async def require_licence(
    session: AsyncSession,
    *,
    receiver_id: uuid.UUID,
    receiver: str,
    material_code: str,
    cluster_id: uuid.UUID,
    now: datetime,
    field: str,
) -> Material | None:
    """LICENCE_REQUIRED on ``field`` unless the receiver (``receiver`` names it in the message:
    "your organisation", "the listing's organisation") may receive the material in the
    cluster today. Nothing more is read for a material that is not hazardous.

    Returns the material it read: the session holds its rows only while someone refers to
    them, so a caller that keeps it finds it there when it builds its answer (no second read).
    """
    material = await session.get(Material, material_code)
    if material is None or not material.hazardous:
        return material
    cluster = await session.get(Cluster, cluster_id)
    assert cluster is not None  # a listing's cluster is never deleted (RESTRICT)
    day = local_day(now, cluster.timezone)
    if receiver_id in await licensed_receivers(session, [receiver_id], material, day):
        return material
    ewc = f" (EWC {material.ewc_code}*)" if material.ewc_code else ""
    raise ServiceError.of(
        ErrorCode.LICENCE_REQUIRED,
        f"{material.name}{ewc} is hazardous waste: {receiver}, which would receive it, needs a "
        f"verified waste licence covering it, valid on {day.isoformat()}",
        field,
    )
