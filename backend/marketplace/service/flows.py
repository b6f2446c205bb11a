"""What cluster insights read from the marketplace: the material flows of completed trades (from
the impact ledger), their monthly outcomes, and the by-products nobody has asked for.

Each read is a fixed number of statements, whatever the size of the cluster: the sums are made
by the database (``GROUP BY``), so a year of 200,000 trades comes back as one row per pair of
organisations and material, one per month, and one page of listings.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    Subquery,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    union,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession

from backend.catalogue import service as catalogue_service
from backend.catalogue.models import Dimension, Material, Unit
from backend.kit.db import Database
from backend.kit.pagination import Page, PageRequest, SortKey, paginate
from backend.kit.pagination import Sort as CursorSort
from backend.marketplace.models import (
    ImpactEntry,
    Listing,
    ListingKind,
    ListingStatus,
    MonthParty,
    Offer,
)
from backend.marketplace.service.common import listing_loads
from backend.marketplace.service.matching import Match, matches_of

FOUR_PLACES = Decimal("0.0001")


def _decimal(value: object) -> Decimal:
    """A database sum as a decimal of 4 places: asyncpg answers the NUMERIC sum as a Decimal of
    the columns' 4 places already (kept as it is: 80,000 round trips through ``str`` were a
    tenth of a cold year of insights), SQLite a float; no row: None."""
    if type(value) is Decimal:
        return value
    if value is None:
        return Decimal(0)
    return Decimal(str(value)).quantize(FOUR_PLACES)


def _in_period(starts_at: datetime, ends_at: datetime) -> ColumnElement[bool]:
    return and_(ImpactEntry.recorded_at >= starts_at, ImpactEntry.recorded_at < ends_at)


class PairFlow(NamedTuple):
    """What one supplier sent one taker of one material in the period (a named tuple: a year
    of a large cluster is 40,000 of them, and a frozen dataclass took three times as long to
    make)."""

    supplier_id: uuid.UUID
    receiver_id: uuid.UUID
    material_code: str
    kg: Decimal  # diverted kilograms (trades in units without a mass count 0)
    co2e_kg: Decimal
    trades: int


async def pair_flows(
    *, db: Database, cluster_id: uuid.UUID, starts_at: datetime, ends_at: datetime
) -> list[PairFlow]:
    """The cluster's completed trades in the period, summed by supplier, taker and material."""
    statement = (
        select(
            ImpactEntry.supplier_id,
            ImpactEntry.receiver_id,
            ImpactEntry.material_code,
            func.sum(ImpactEntry.diverted_kg),
            func.sum(ImpactEntry.co2e_avoided_kg),
            func.count(),
        )
        .where(ImpactEntry.cluster_id == cluster_id, _in_period(starts_at, ends_at))
        .group_by(ImpactEntry.supplier_id, ImpactEntry.receiver_id, ImpactEntry.material_code)
    )
    async with db.read() as session:
        # Core rows: the ORM's loading of 40,000 plain columns added nothing but time.
        rows = (await (await session.connection()).execute(statement)).all()
    return [
        PairFlow(supplier, receiver, material, _decimal(kg), _decimal(co2e), trades)
        for supplier, receiver, material, kg, co2e, trades in rows
    ]


async def supplied_kg(
    session: AsyncSession,
    *,
    supplier_id: uuid.UUID,
    material: Material,
    starts_at: datetime,
    ends_at: datetime,
) -> Decimal:
    """Kilograms the organisation supplied through completed trades of ``material`` and the
    materials below it, recorded in the period (an umbrella permit's return reads it inside
    its own unit of work): one statement. Trades in units without a mass count 0."""
    kg = await session.scalar(
        select(func.sum(ImpactEntry.diverted_kg))
        .join(Material, Material.code == ImpactEntry.material_code)
        .where(
            ImpactEntry.supplier_id == supplier_id,
            catalogue_service.subtree(material),
            _in_period(starts_at, ends_at),
        )
    )
    return _decimal(kg)


@dataclass(frozen=True, slots=True)
class MonthlyOutcome:
    """One month's completed trades, for one method version and pair of currencies."""

    month: int  # index into the months the caller gave
    method_version: str
    kg: Decimal
    co2e_kg: Decimal
    disposal_cost_avoided: Decimal
    disposal_currency: str | None
    paid_to_suppliers: Decimal  # delivered quantity x agreed price
    trade_currency: str
    trades: int


@dataclass(frozen=True, slots=True)
class MonthlyOutcomes:
    rows: list[MonthlyOutcome]
    # distinct organisations (suppliers and takers) behind each month's figures, by index
    organisations: dict[int, int]
    # who they are, for the months with fewer than ``name_below`` of them
    few: dict[int, frozenset[uuid.UUID]] = field(default_factory=dict)


def _month_of(boundaries: Sequence[datetime]) -> ColumnElement[int]:
    """The index of the month an entry falls in, from the months' starts (UTC instants, the
    first the period's start): exact on both databases for any time zone the caller used to
    make the boundaries, daylight saving included."""
    if len(boundaries) == 1:
        return literal(0)
    whens = [(ImpactEntry.recorded_at < start, index - 1) for index, start in enumerate(boundaries)]
    return case(*whens[1:], else_=len(boundaries) - 1)


def _parties_by_month(
    cluster_id: uuid.UUID,
    month_starts: Sequence[datetime],
    ends_at: datetime,
    whole: Mapping[int, date],
) -> Subquery:
    """(month index, organisation) once per organisation that traded in the month: the whole
    months from :class:`MonthParty`, the others from the ledger's suppliers and takers."""
    ends = [*month_starts[1:], ends_at]
    parts: list[Select[Any]] = []
    if whole:
        index = case(*((MonthParty.month == first, i) for i, first in whole.items()), else_=-1)
        parts.append(
            select(index.label("month"), MonthParty.organisation_id).where(
                MonthParty.cluster_id == cluster_id, MonthParty.month.in_(list(whole.values()))
            )
        )
    partial = [i for i in range(len(month_starts)) if i not in whole]
    if partial:
        ledger = (
            select(
                _month_of(month_starts).label("month"),
                ImpactEntry.supplier_id,
                ImpactEntry.receiver_id,
            )
            .where(
                ImpactEntry.cluster_id == cluster_id,
                or_(*(_in_period(month_starts[i], ends[i]) for i in partial)),
            )
            .subquery()
        )
        # a subquery of its own: SQLite takes no parenthesised UNION inside a UNION ALL
        distinct = union(
            select(ledger.c.month, ledger.c.supplier_id.label("organisation_id")),
            select(ledger.c.month, ledger.c.receiver_id.label("organisation_id")),
        ).subquery()
        parts.append(select(distinct.c.month, distinct.c.organisation_id))
    if len(parts) == 1:
        return parts[0].subquery()
    return union_all(*parts).subquery()


async def monthly_outcomes(
    *,
    db: Database,
    cluster_id: uuid.UUID,
    month_starts: Sequence[datetime],
    ends_at: datetime,
    whole_months: Mapping[int, date] | None = None,
    name_below: int = 0,
) -> MonthlyOutcomes:
    """Diverted kilograms, CO2e avoided, disposal cost avoided and the value paid to suppliers
    per month of the period, with the organisations behind each month counted (two
    statements), and named for the months with fewer than ``name_below`` (a third, when there
    are such months: small-cell suppression needs to know whether two of them share one).

    ``whole_months`` (index: the month's first day) are the months the period holds whole, in
    the cluster's time zone: their organisations are read from :class:`MonthParty`; the other
    months' (a period's first and last, when it starts or ends within one) from the ledger."""
    whole = dict(whole_months or {})
    # The month is computed once per entry in a subquery and grouped by its column: grouping by
    # the CASE itself repeats its parameters, which PostgreSQL then reads as another expression.
    entries = (
        select(
            _month_of(month_starts).label("month"),
            ImpactEntry.method_version,
            ImpactEntry.diverted_kg,
            ImpactEntry.co2e_avoided_kg,
            ImpactEntry.disposal_cost_avoided,
            ImpactEntry.currency.label("disposal_currency"),
            ImpactEntry.paid,
            ImpactEntry.trade_currency,
        )
        .where(ImpactEntry.cluster_id == cluster_id, _in_period(month_starts[0], ends_at))
        .subquery()
    )
    sums = (
        select(
            entries.c.month,
            entries.c.method_version,
            func.sum(entries.c.diverted_kg),
            func.sum(entries.c.co2e_avoided_kg),
            func.sum(entries.c.disposal_cost_avoided),
            entries.c.disposal_currency,
            func.sum(entries.c.paid),
            entries.c.trade_currency,
            func.count(),
        )
        .group_by(
            entries.c.month,
            entries.c.method_version,
            entries.c.disposal_currency,
            entries.c.trade_currency,
        )
        .order_by(entries.c.month, entries.c.method_version)
    )
    parties = _parties_by_month(cluster_id, month_starts, ends_at, whole)
    counted = select(parties.c.month, func.count()).group_by(parties.c.month)
    async with db.read() as session:
        rows = (await session.execute(sums)).all()
        organisations = {int(m): int(n) for m, n in (await session.execute(counted)).all()}
        small = [m for m, n in organisations.items() if n < name_below]
        few: dict[int, set[uuid.UUID]] = {}
        if small:
            named = select(parties.c.month, parties.c.organisation_id).where(
                parties.c.month.in_(small)
            )
            for month, organisation in (await session.execute(named)).all():
                few.setdefault(int(month), set()).add(organisation)
    return MonthlyOutcomes(
        rows=[
            MonthlyOutcome(
                month=int(row[0]),
                method_version=row[1],
                kg=_decimal(row[2]),
                co2e_kg=_decimal(row[3]),
                disposal_cost_avoided=_decimal(row[4]),
                disposal_currency=row[5],
                # the entries keep 8 places (quantity x price, exact); SQLite sums them as
                # floats, which its NUMERIC type gives back with 8 places of noise
                paid_to_suppliers=_decimal(row[6]).quantize(FOUR_PLACES),
                trade_currency=row[7],
                trades=int(row[8]),
            )
            for row in rows
        ],
        organisations=organisations,
        few={month: frozenset(members) for month, members in few.items()},
    )


# ---------------------------------------------------------------------------------------------
# By-products nobody asked for


def _unmatched(
    cluster_id: uuid.UUID, published_before: datetime, now: datetime
) -> ColumnElement[bool]:
    """ACTIVE, visible, unexpired OFFER listings of the cluster published before the cut-off
    that have had no offer at all."""
    return and_(
        Listing.cluster_id == cluster_id,
        Listing.kind == ListingKind.OFFER,
        Listing.status == ListingStatus.ACTIVE,
        Listing.hidden_at.is_(None),
        or_(Listing.expires_at.is_(None), Listing.expires_at > now),
        Listing.published_at < published_before,
        ~exists().where(Offer.listing_id == Listing.id),
    )


@dataclass(frozen=True, slots=True)
class UnmatchedMaterial:
    material_code: str
    listings: int
    organisations: int
    kg: Decimal  # the listings in units of mass, still available (not committed to offers)
    listings_without_mass: int


async def unmatched_by_material(
    *, db: Database, cluster_id: uuid.UUID, published_before: datetime, now: datetime
) -> list[UnmatchedMaterial]:
    """The unmatched offers of the cluster summed by material, most kilograms first."""
    is_mass = Unit.dimension == Dimension.MASS
    available = Listing.quantity_base - Listing.quantity_committed * Unit.factor
    statement = (
        select(
            Listing.material_code,
            func.count(),
            func.count(func.distinct(Listing.organisation_id)),
            func.sum(case((is_mass, available), else_=literal(0))),
            func.sum(case((is_mass, 0), else_=1)),
        )
        .join(Unit, Unit.code == Listing.unit_code)
        .where(_unmatched(cluster_id, published_before, now))
        .group_by(Listing.material_code)
    )
    async with db.read() as session:
        rows = (await session.execute(statement)).all()
    materials = [
        UnmatchedMaterial(code, int(count), int(organisations), _decimal(kg), int(without))
        for code, count, organisations, kg, without in rows
    ]
    materials.sort(key=lambda m: (-m.kg, -m.listings, m.material_code))
    return materials


async def unmatched_organisations(
    *,
    db: Database,
    cluster_id: uuid.UUID,
    published_before: datetime,
    now: datetime,
    material_codes: Sequence[str],
) -> int:
    """How many organisations the unmatched offers of these materials come from, each once."""
    statement = select(func.count(func.distinct(Listing.organisation_id))).where(
        _unmatched(cluster_id, published_before, now),
        Listing.material_code.in_(list(material_codes)),
    )
    async with db.read() as session:
        return int(await session.scalar(statement) or 0)


OLDEST_FIRST = CursorSort(
    "unmatched:published", (SortKey(Listing.published_at), SortKey(Listing.id))
)


@dataclass(frozen=True, slots=True)
class UnmatchedOffer:
    listing: Listing
    # the best match of each of the best-matching other organisations, best first
    takers: list[Match]


async def unmatched_offers(
    *,
    db: Database,
    cluster_id: uuid.UUID,
    published_before: datetime,
    now: datetime,
    page: PageRequest,
    takers_per_offer: int,
) -> Page[UnmatchedOffer]:
    """The unmatched offers themselves, the longest waiting first, with seller, material and
    unit loaded, each with its candidate takers: the matching engine's best match of each of
    the ``takers_per_offer`` best-matching other organisations, whom a facilitator should call.
    The page costs the same statements whatever its size, plus the matching engine's for each
    offer on it (callers keep pages small)."""
    statement = select(Listing).where(_unmatched(cluster_id, published_before, now))
    async with db.read() as session:
        listings = await paginate(
            session, statement, sort=OLDEST_FIRST, request=page, load=listing_loads()
        )
        offers = []
        for listing in listings.items:
            best: dict[uuid.UUID, Match] = {}
            for match in await matches_of(session, listing, now):
                best.setdefault(match.listing.organisation_id, match)
                if len(best) >= takers_per_offer:
                    break
            offers.append(UnmatchedOffer(listing, list(best.values())))
    return listings.with_items(offers)
