"""What listings, offers, matching and trades share: a listing's status as of now, what it
loads with, and its committed quantity. Below every other service module, so none of them has
to import another to reach these."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import LABEL_STYLE_NONE, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.base import ExecutableOption

from backend.catalogue.models import Material, Unit
from backend.identity.models import Cluster, Organisation, trust_score
from backend.kit.db import attach
from backend.kit.errors import ErrorCode, ServiceError
from backend.kit.prepared import Prepared
from backend.marketplace.models import (
    Listing,
    ListingStatus,
)
from backend.marketplace.service.inputs import ListingRecord
from backend.sync import log as sync_log
from backend.sync.models import ChangeType


def effective_status(listing: Listing, now: datetime) -> ListingStatus:
    """ACTIVE listings past their expiry read as EXPIRED at once; no job has to run first."""
    if (
        listing.status is ListingStatus.ACTIVE
        and listing.expires_at is not None
        and listing.expires_at <= now
    ):
        return ListingStatus.EXPIRED
    return listing.status


def listing_loads() -> tuple[ExecutableOption, ...]:
    """What a listing carries to the API: seller (with cluster), material and unit.

    Loaded by id after the page is chosen (three small statements, whatever the page size):
    joined into the page query instead, they were joined to every match before the sort and
    limit: 104 ms against 49 ms for the page query on PostgreSQL with 100,000 listings
    (EXPLAIN ANALYZE of the benchmark's query).
    """
    return (
        selectinload(Listing.organisation).joinedload(Organisation.cluster),
        selectinload(Listing.material),
        selectinload(Listing.unit),
    )


# What :func:`listing_loads` sends, built once and run as prepared statements
# (backend.kit.prepared): ``listing_records`` sends the same statements for a page of rows.
_CLUSTERS = Cluster.__table__.alias("clusters_1")  # the eager load's name for the join
_ORGANISATION_COLUMNS = tuple(Organisation.__table__.c)
_SELLERS = Prepared(
    select(*_ORGANISATION_COLUMNS, *_CLUSTERS.c)
    .select_from(
        Organisation.__table__.outerjoin(
            _CLUSTERS, _CLUSTERS.c.id == Organisation.__table__.c.cluster_id
        )
    )
    .where(Organisation.__table__.c.id.in_(bindparam("ids", expanding=True)))
    # no labels for the cluster's columns named as the organisation's ("id AS id_1"), as the
    # eager load writes it: the joined columns are read by position
    .set_label_style(LABEL_STYLE_NONE)
)
# Materials and units as rows of their columns (the entities' SQL): their GraphQL objects read
# them by the entities' attribute names.
_MATERIALS = Prepared(
    select(*Material.__table__.c).where(Material.code.in_(bindparam("codes", expanding=True)))
)
_UNITS = Prepared(
    select(*Unit.__table__.c).where(Unit.code.in_(bindparam("codes", expanding=True)))
)

_ClusterRow = namedtuple("_ClusterRow", [column.key for column in _CLUSTERS.c])  # type: ignore[misc]


class SellerRow(namedtuple("SellerRow", [*(c.key for c in _ORGANISATION_COLUMNS), "cluster"])):  # type: ignore[misc]
    """A listing's seller as read for a page: the organisation's columns by the entity's
    attribute names, its cluster (a row of its columns) and its trust score, so that it reads
    as an ``Organisation`` with its cluster loaded reads (``OrganisationType.of``). An entity
    cost about three times the row (docs/performance.md)."""

    __slots__ = ()

    @property
    def trust_score(self) -> int:
        columns: Any = self
        return trust_score(columns.reviews_count, columns.rating_total, columns.trades_completed)


def _seller(row: Any) -> Any:
    width = len(_ORGANISATION_COLUMNS)
    cluster = row[width:]
    seller: SellerRow = SellerRow._make(
        (*row[:width], None if cluster[0] is None else _ClusterRow._make(cluster))
    )
    return seller


async def listing_records(session: AsyncSession, rows: Sequence[Any]) -> list[ListingRecord]:
    """:func:`listing_rows_records` in the session's unit of work."""
    if not rows:
        return []
    return await listing_rows_records(await session.connection(), rows)


async def listing_rows_records(
    connection: AsyncConnection, rows: Sequence[Any]
) -> list[ListingRecord]:
    """Rows of :data:`LISTING_COLUMNS` with what ``listing_loads`` gives an entity, as rows:
    three statements (none for no rows), whatever the number of rows, as ``listing_loads``
    costs."""
    if not rows:
        return []
    sellers: dict[Any, Any] = {
        seller.id: seller
        for seller in map(
            _seller,
            await _SELLERS.rows(
                connection, {"ids": list(dict.fromkeys(row.organisation_id for row in rows))}
            ),
        )
    }
    materials = {
        material.code: material
        for material in await _MATERIALS.rows(
            connection, {"codes": list(dict.fromkeys(row.material_code for row in rows))}
        )
    }
    units = {
        unit.code: unit
        for unit in await _UNITS.rows(
            connection, {"codes": list(dict.fromkeys(row.unit_code for row in rows))}
        )
    }
    return [
        ListingRecord(
            row, sellers[row.organisation_id], materials[row.material_code], units[row.unit_code]
        )
        for row in rows
    ]


async def attach_loads(session: AsyncSession, listing: Listing) -> Listing:
    """A listing of the caller's unit of work with what ``listing_loads`` gives it: the seller
    (with its cluster), material and unit the session holds, the others one statement each
    (the answer of a write, without reading the listing back)."""
    await attach(session, [(listing, "organisation")], joinedload(Organisation.cluster))
    await attach(session, [(listing.organisation, "cluster")])
    await attach(session, [(listing, "material")])
    await attach(session, [(listing, "unit")])
    return listing


def remaining(listing: Listing) -> Decimal:
    return max(Decimal(0), listing.quantity - listing.quantity_committed)


async def move_committed(
    session: AsyncSession, listing: Listing, delta: Decimal, now: datetime
) -> bool:
    """Commit (``delta`` > 0) or release (< 0) quantity of a listing locked by the caller.

    The new figure is computed here in decimals (SQLite keeps NUMERIC as floating point and
    would drift), written by an UPDATE conditional on the figure read, and backed by the CHECK
    ``0 <= quantity_committed <= quantity``. False when it does not fit. A listing with nothing
    left becomes RESERVED, and ACTIVE again when quantity comes back.
    """
    before = listing.quantity_committed
    after = before + delta
    if after > listing.quantity:
        return False
    after = max(after, Decimal(0))
    status = listing.status
    if status is ListingStatus.ACTIVE and after >= listing.quantity:
        status = ListingStatus.RESERVED
    elif status is ListingStatus.RESERVED and after < listing.quantity:
        status = ListingStatus.ACTIVE
    changed = await session.scalar(
        update(Listing)
        .where(Listing.id == listing.id, Listing.quantity_committed == before)
        .values(
            quantity_committed=after,
            status=status,
            version=Listing.version + 1,
            updated_at=now,
        )
        .returning(Listing.version)
        .execution_options(synchronize_session=False)
    )
    if changed is None:  # cannot happen under the row lock; refuse rather than guess
        raise ServiceError.of(ErrorCode.CONFLICT, "The listing changed meanwhile; try again")
    sync_log.note(
        session, ChangeType.LISTING, listing.id, [sync_log.organisation(listing.organisation_id)]
    )
    for name, value in (
        ("quantity_committed", after),
        ("status", status),
        ("version", changed),
        ("updated_at", now),
    ):
        set_committed_value(listing, name, value)
    return True
