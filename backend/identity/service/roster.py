"""The organisations of a cluster as cluster insights see them: what they are, what they do,
since when, and whether they may be named (one statement, whatever the cluster's size)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import or_, select

from backend.identity.models import Organisation, OrganisationKind, OrganisationSubtype
from backend.kit.db import Database


class RosterEntry(NamedTuple):
    """One organisation (a named tuple: 10,000 of them make a large cluster's roster, and a
    frozen dataclass took three times as long to make)."""

    id: uuid.UUID
    name: str
    kind: OrganisationKind
    subtype: OrganisationSubtype | None
    cluster_id: uuid.UUID
    activity_code: str | None
    named_in_insights: bool
    created_at: datetime

    @classmethod
    def of(cls, organisation: Organisation) -> RosterEntry:
        return cls(
            organisation.id,
            organisation.name,
            organisation.kind,
            organisation.subtype,
            organisation.cluster_id,
            organisation.activity_code,
            organisation.named_in_insights,
            organisation.created_at,
        )


async def cluster_roster(
    *, db: Database, cluster_id: uuid.UUID | None, ids: Collection[uuid.UUID] = ()
) -> list[RosterEntry]:
    """The cluster's organisations and those of ``ids`` (trading partners from elsewhere), by
    name."""
    conditions = []
    if cluster_id is not None:
        conditions.append(Organisation.cluster_id == cluster_id)
    if ids:
        conditions.append(Organisation.id.in_(list(ids)))
    if not conditions:
        return []
    condition = or_(*conditions)
    statement = (
        select(
            Organisation.id,
            Organisation.name,
            Organisation.kind,
            Organisation.subtype,
            Organisation.cluster_id,
            Organisation.activity_code,
            Organisation.named_in_insights,
            Organisation.created_at,
        )
        .where(condition)
        .order_by(Organisation.name, Organisation.id)
    )
    async with db.read() as session:
        # Core rows: the ORM's loading of plain columns added nothing but time.
        rows = (await (await session.connection()).execute(statement)).all()
    return [RosterEntry._make(row) for row in rows]
