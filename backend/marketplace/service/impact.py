"""The impact ledger: what completed trades kept from disposal, and its totals.

Completing a trade writes one ledger entry (``record``) with four measures: the mass diverted
from disposal (the delivered quantity in kg, through the unit, or the material's density for
litres), the CO2-equivalent avoided and the disposal cost avoided (the material's factor of the
current method version, the nearest one up the catalogue), and the transport distance between
the parties. The entry keeps copies of the factors and their sources, so a later method version
never rewrites history.

``marketplace:impact_read``: verified institutions and platform admins read any cluster's and
any organisation's totals; firms, communities and unverified institutions read their own
organisation's.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.viewer import Role, Viewer
from backend.catalogue import service as catalogue_service
from backend.catalogue.models import Dimension, ImpactFactor, Material, Unit
from backend.identity.models import Cluster, Organisation
from backend.kit.clock import local_day
from backend.kit.db import Database, insert_or_else
from backend.kit.errors import ErrorCode, Problems, ServiceError
from backend.kit.validation import check_utc
from backend.marketplace.models import ImpactEntry, MonthParty, Trade

KG_PER_TONNE = Decimal(1000)
FOUR_PLACES = Decimal("0.0001")


def _decimal(value: Any) -> Decimal:
    """A database sum as a decimal of the columns' 4 places (SQLite answers a float)."""
    if value is None:
        return Decimal(0)
    return Decimal(str(value)).quantize(FOUR_PLACES)


def _kilograms(quantity: Decimal, unit: Unit, factor: ImpactFactor | None) -> Decimal | None:
    if unit.dimension is Dimension.MASS:
        return quantity * unit.factor
    if unit.dimension is Dimension.VOLUME and factor is not None and factor.kg_per_litre:
        return quantity * unit.factor * factor.kg_per_litre
    return None  # pieces, bags and energy have no mass we could vouch for


async def record(session: AsyncSession, trade: Trade, now: datetime) -> ImpactEntry:
    """The ledger entry of a trade being completed, and its two parties in the month's
    :class:`MonthParty` rows, in the caller's transaction."""
    material = await session.get(Material, trade.material_code)
    unit = await session.get(Unit, trade.unit_code)
    assert material is not None
    assert unit is not None
    assert trade.delivered_quantity is not None
    factor = await catalogue_service.impact_factor(session, material)
    kilograms = _kilograms(trade.delivered_quantity, unit, factor)
    tonnes = kilograms / KG_PER_TONNE if kilograms is not None else None
    co2e = cost = None
    currency = None
    if factor is not None and tonnes is not None:
        if factor.co2e_kg_per_tonne is not None:
            co2e = (tonnes * factor.co2e_kg_per_tonne).quantize(FOUR_PLACES)
        if factor.disposal_cost_per_tonne is not None:
            cost = (tonnes * factor.disposal_cost_per_tonne).quantize(FOUR_PLACES)
            currency = factor.disposal_cost_currency
    entry = ImpactEntry(
        trade_id=trade.id,
        cluster_id=trade.cluster_id,
        supplier_id=trade.supplier_id,
        receiver_id=trade.receiver_id,
        material_code=trade.material_code,
        quantity=trade.delivered_quantity,
        unit_code=trade.unit_code,
        diverted_kg=kilograms.quantize(FOUR_PLACES) if kilograms is not None else None,
        co2e_avoided_kg=co2e,
        disposal_cost_avoided=cost,
        currency=currency,
        transport_km=trade.distance_km,
        paid=trade.delivered_quantity * trade.price_per_unit,
        trade_currency=trade.currency,
        method_version=catalogue_service.METHOD_VERSION,
        factor_material_code=factor.material_code if factor else None,
        baseline=factor.baseline if factor else "",
        co2e_kg_per_tonne=factor.co2e_kg_per_tonne if factor else None,
        co2e_source=factor.co2e_source if factor else "",
        disposal_cost_per_tonne=factor.disposal_cost_per_tonne if factor else None,
        disposal_cost_source=factor.disposal_cost_source if factor else "",
        recorded_at=now,
    )
    session.add(entry)
    cluster = await session.get(Cluster, trade.cluster_id)
    assert cluster is not None
    month = local_day(now, cluster.timezone).replace(day=1)
    # In one order for every trade: two completions of A-to-B and B-to-A that both open the
    # month for both parties would otherwise each hold the row the other waits on (PostgreSQL
    # makes a second insert of a key wait for the first's transaction).
    parties = sorted({trade.supplier_id, trade.receiver_id})
    await session.execute(
        insert_or_else(session, MonthParty)
        .values(
            [
                {"cluster_id": trade.cluster_id, "month": month, "organisation_id": party}
                for party in parties
            ]
        )
        .on_conflict_do_nothing()
    )
    return entry


# ---------------------------------------------------------------------------------------------
# Totals


@dataclass(frozen=True, slots=True)
class MaterialImpact:
    material_code: str
    material_name: str
    diverted_kg: Decimal
    co2e_avoided_kg: Decimal
    trades_completed: int


@dataclass(frozen=True, slots=True)
class MoneyTotal:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class ImpactSummary:
    diverted_kg: Decimal
    co2e_avoided_kg: Decimal
    disposal_cost_avoided: Decimal
    currency: str | None
    other_currencies: list[MoneyTotal]
    trades_completed: int
    trades_without_mass: int
    transport_km: float
    method_versions: list[str]
    by_material: list[MaterialImpact] = field(default_factory=list)


def _check_reader(viewer: Viewer, organisation_id: uuid.UUID | None) -> None:
    """marketplace:impact_read (see the module's docstring)."""
    if viewer.reads_across_organisations:
        return
    if viewer.role is Role.INSTITUTION and organisation_id != viewer.organisation_id:
        raise ServiceError.of(
            ErrorCode.FORBIDDEN,
            "Institutions read other organisations' impact once a platform admin has verified "
            "them; until then, pass your own organisationId",
            "organisationId",
        )
    if organisation_id is None or organisation_id != viewer.organisation_id:
        raise ServiceError.of(
            ErrorCode.FORBIDDEN,
            "Firms and communities see their own organisation's impact: pass its organisationId",
            "organisationId",
        )


async def summarise_impact(
    *,
    db: Database,
    viewer: Viewer,
    cluster_id: uuid.UUID | None,
    organisation_id: uuid.UUID | None,
    since: datetime | None,
    until: datetime | None,
) -> ImpactSummary:
    """Totals of the ledger entries recorded in [since, until) of a cluster, of an organisation
    (the trades it supplied or received: both parties count a trade), or of both conditions.
    Disposal costs are added up in the scope's currency (the cluster's); entries in another
    currency are totalled apart."""
    problems = Problems()
    since, until = check_utc(problems, "from", since), check_utc(problems, "to", until)
    if since and until and until <= since:
        problems.add("to", "Must be after from")
    if cluster_id is None and organisation_id is None and not viewer.is_admin:
        problems.add("clusterId", "Give a clusterId or an organisationId")
    problems.raise_if_any()
    _check_reader(viewer, organisation_id)

    # Summed by the database per material, currency and method; rounded back to the columns'
    # 4 decimals, since SQLite sums NUMERIC as floating point.
    statement = (
        select(
            ImpactEntry.material_code,
            Material.name,
            ImpactEntry.currency,
            ImpactEntry.method_version,
            func.count(),
            func.count(ImpactEntry.diverted_kg),
            func.sum(ImpactEntry.diverted_kg),
            func.sum(ImpactEntry.co2e_avoided_kg),
            func.sum(ImpactEntry.disposal_cost_avoided),
            func.sum(ImpactEntry.transport_km),
        )
        .join(Material, Material.code == ImpactEntry.material_code)
        .group_by(
            ImpactEntry.material_code,
            Material.name,
            ImpactEntry.currency,
            ImpactEntry.method_version,
        )
    )
    conditions: list[Any] = []
    async with db.read() as session:
        currency: str | None = None
        if cluster_id is not None:
            cluster = await session.get(Cluster, cluster_id)
            if cluster is None:
                raise ServiceError.of(ErrorCode.NOT_FOUND, "Cluster not found", "clusterId")
            currency = cluster.currency
            conditions.append(ImpactEntry.cluster_id == cluster_id)
        if organisation_id is not None:
            organisation = await session.get(Organisation, organisation_id)
            if organisation is None:
                raise ServiceError.of(
                    ErrorCode.NOT_FOUND, "Organisation not found", "organisationId"
                )
            if currency is None:
                cluster = await session.get(Cluster, organisation.cluster_id)
                currency = cluster.currency if cluster else None
            conditions.append(
                or_(
                    ImpactEntry.supplier_id == organisation_id,
                    ImpactEntry.receiver_id == organisation_id,
                )
            )
        if since is not None:
            conditions.append(ImpactEntry.recorded_at >= since)
        if until is not None:
            conditions.append(ImpactEntry.recorded_at < until)
        rows = (await session.execute(statement.where(*conditions))).all()

    diverted = co2e = cost = Decimal(0)
    transport = 0.0
    trades_completed = without_mass = 0
    others: dict[str, Decimal] = defaultdict(Decimal)
    versions: set[str] = set()
    per_material: dict[str, list[Any]] = {}
    for code, name, entry_currency, version, count, with_mass, kg, co2, money, km in rows:
        versions.add(version)
        trades_completed += count
        without_mass += count - with_mass
        kg, co2, money = _decimal(kg), _decimal(co2), _decimal(money)
        line = per_material.setdefault(code, [name, Decimal(0), Decimal(0), 0])
        line[1] += kg
        line[2] += co2
        line[3] += count
        diverted += kg
        co2e += co2
        if entry_currency is not None:
            if entry_currency == currency:
                cost += money
            else:
                others[entry_currency] += money
        transport += float(km or 0.0)
    if currency is None and len(others) == 1:
        # no scope to take a currency from (platform-wide): one currency is still one total
        currency, cost = others.popitem()
    return ImpactSummary(
        diverted_kg=diverted,
        co2e_avoided_kg=co2e,
        disposal_cost_avoided=cost,
        currency=currency,
        other_currencies=[MoneyTotal(amount, code) for code, amount in sorted(others.items())],
        trades_completed=trades_completed,
        trades_without_mass=without_mass,
        transport_km=round(transport, 3),
        method_versions=sorted(versions),
        by_material=sorted(
            (
                MaterialImpact(code, line[0], line[1], line[2], line[3])
                for code, line in per_material.items()
            ),
            key=lambda m: (-m.diverted_kg, m.material_code),
        ),
    )
