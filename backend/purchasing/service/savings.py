"""What joint purchasing gained a cluster: the price its groups reached against the price one
buyer alone would have had (cluster insights, issue 18: social capital and knowledge)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

from sqlalchemy import case, func, select

from backend.kit.db import Database
from backend.kit.money import MONEY_PRECISION, round_money
from backend.purchasing.models import Direction, GroupStatus, Pledge, PledgeStatus, PurchaseGroup
from backend.purchasing.service.settlement import PriceTier, tier_progress

# Groups whose order went out: ORDERED, then DELIVERED. Nothing leaves either state (a group is
# cancelled or fails only while OPEN), so both keep the ``ordered_at`` they got.
ORDERED_OR_LATER = (GroupStatus.ORDERED, GroupStatus.DELIVERED)


@dataclass(frozen=True, slots=True)
class JointPurchaseSavings:
    """The groups of one direction and currency that placed their order in the period.

    ``quantity`` adds up each group's pledged total in that group's own unit (kg, t, litres):
    it is a sum across units, meaningful as a size only where the groups share one. The
    amounts are in ``currency``, summed exactly and rounded once to its minor unit.
    """

    direction: Direction  # BUY: members paid less; SELL: members received more
    currency: str
    groups: int
    # Distinct organisations behind the groups' active pledges; a pledge made for no
    # organisation counts its participant as one.
    organisations: int
    quantity: Decimal
    at_group_price: Decimal  # quantity x the unit price of the tier each group's total reached
    at_single_buyer_price: Decimal  # quantity x each group's first (smallest) tier's price
    # BUY: single-buyer - group price; SELL: group - single-buyer price. Added up per group and
    # never below zero for one: a group whose tiers ran the wrong way saved nothing.
    saved: Decimal


@dataclass(slots=True)
class _Totals:
    groups: int = 0
    quantity: Decimal = Decimal(0)
    at_group_price: Decimal = Decimal(0)
    at_single_buyer_price: Decimal = Decimal(0)
    saved: Decimal = Decimal(0)


async def joint_purchase_savings(
    *, db: Database, cluster_id: uuid.UUID, starts_at: datetime, ends_at: datetime
) -> list[JointPurchaseSavings]:
    """Savings of the cluster's groups ordered in [starts_at, ends_at), one row per direction
    and currency (BUY before SELL, currencies alphabetically); none without such groups.

    The pledges counted are those settlement counts: the active ones (withdrawn pledges are
    out). Two statements whatever the number of groups: the groups with their pledged totals,
    and the distinct organisations per direction and currency. The tier arithmetic runs here,
    over the groups ordered in the period, with the settlement's own :func:`tier_progress`.
    """
    in_period = (
        PurchaseGroup.cluster_id == cluster_id,
        PurchaseGroup.status.in_(ORDERED_OR_LATER),
        PurchaseGroup.ordered_at >= starts_at,
        PurchaseGroup.ordered_at < ends_at,
    )
    active = Pledge.status == PledgeStatus.ACTIVE
    # Summed by the database; typed as the column, so SQLite's floating-point sum comes back
    # rounded to its 4 decimals.
    pledged = (
        select(Pledge.group_id, func.sum(Pledge.quantity).label("quantity"))
        .where(active)
        .group_by(Pledge.group_id)
        .subquery()
    )
    groups_statement = (
        select(
            PurchaseGroup.direction,
            PurchaseGroup.currency,
            PurchaseGroup.price_tiers,
            pledged.c.quantity,
        )
        .join(pledged, pledged.c.group_id == PurchaseGroup.id)
        .where(*in_period)
    )
    organisations_statement = (
        select(
            PurchaseGroup.direction,
            PurchaseGroup.currency,
            # Organisations and people without one are told apart by column, not by mixing
            # their ids in one COUNT DISTINCT.
            func.count(func.distinct(Pledge.organisation_id)),
            func.count(
                func.distinct(case((Pledge.organisation_id.is_(None), Pledge.participant_id)))
            ),
        )
        .join(Pledge, Pledge.group_id == PurchaseGroup.id)
        .where(*in_period, active)
        .group_by(PurchaseGroup.direction, PurchaseGroup.currency)
    )
    async with db.read() as session:
        groups = (await session.execute(groups_statement)).all()
        organisations = {
            (direction, currency): by_organisation + by_person
            for direction, currency, by_organisation, by_person in await session.execute(
                organisations_statement
            )
        }

    totals: dict[tuple[Direction, str], _Totals] = defaultdict(_Totals)
    # Wide enough for the largest quantity x price the forms accept, summed over many groups.
    with localcontext(prec=MONEY_PRECISION):
        for direction, currency, stored_tiers, quantity in groups:
            tiers = sorted(
                (PriceTier.of(tier) for tier in stored_tiers), key=lambda t: t.min_quantity
            )
            reached = tier_progress(tiers, quantity).current
            if reached is None:  # cannot happen to an ordered group; settlement has no price
                continue
            at_group = quantity * reached.price_per_unit
            alone = quantity * tiers[0].price_per_unit
            gained = alone - at_group if direction is Direction.BUY else at_group - alone
            row = totals[(direction, currency)]
            row.groups += 1
            row.quantity += quantity
            row.at_group_price += at_group
            row.at_single_buyer_price += alone
            row.saved += max(gained, Decimal(0))
    return [
        JointPurchaseSavings(
            direction=direction,
            currency=currency,
            groups=row.groups,
            organisations=organisations.get((direction, currency), 0),
            quantity=row.quantity,
            at_group_price=round_money(row.at_group_price, currency),
            at_single_buyer_price=round_money(row.at_single_buyer_price, currency),
            saved=round_money(row.saved, currency),
        )
        for (direction, currency), row in sorted(
            totals.items(), key=lambda item: (item[0][0] is Direction.SELL, item[0][1])
        )
    ]
