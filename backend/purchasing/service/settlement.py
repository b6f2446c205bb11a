"""Price tiers and settlement: who pays (or receives) what once a group is confirmed.

The tier reached by the group's total sets one unit price for everyone. Each participant's
exact amount is quantity x price, plus (BUY) or minus (SELL: costs come out of the proceeds) their
share of the shared costs, split pro rata to quantity or equally. The total is rounded once, to
the currency's minor unit (halves away from zero); the lines are then the largest-remainder
split of that total: each exact amount rounded down to the minor unit, and the units still
missing given one each to the lines with the largest remainders, ties to the earliest pledge.
So the lines always add up exactly to the total, and no line is more than one minor unit away
from its exact amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from backend.kit.money import MONEY_PRECISION, allocate, round_money
from backend.purchasing.models import CostSplit, Direction, Pledge


@dataclass(frozen=True, slots=True)
class PriceTier:
    min_quantity: Decimal
    price_per_unit: Decimal

    def stored(self) -> dict[str, str]:
        return {"min_quantity": str(self.min_quantity), "price_per_unit": str(self.price_per_unit)}

    @classmethod
    def of(cls, stored: dict[str, str]) -> PriceTier:
        return cls(Decimal(stored["min_quantity"]), Decimal(stored["price_per_unit"]))


@dataclass(frozen=True, slots=True)
class TierProgress:
    current: PriceTier | None
    next: PriceTier | None
    # How much more is needed to reach ``next``; None at the top tier.
    to_next: Decimal | None


def tier_progress(tiers: Sequence[PriceTier], total: Decimal) -> TierProgress:
    current = None
    following = None
    for tier in sorted(tiers, key=lambda t: t.min_quantity):
        if tier.min_quantity <= total:
            current = tier
        elif following is None:
            following = tier
    return TierProgress(
        current, following, None if following is None else following.min_quantity - total
    )


@dataclass(frozen=True, slots=True)
class SettlementLine:
    pledge: Pledge
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Settlement:
    currency: str
    direction: Direction
    tier: PriceTier
    total_quantity: Decimal
    goods_total: Decimal  # exact quantity x price over all lines
    shared_costs: Decimal
    total: Decimal  # rounded to the minor unit; the lines add up to it
    lines: list[SettlementLine]


def settle(
    *,
    pledges: Sequence[Pledge],
    tiers: Sequence[PriceTier],
    shared_costs: Decimal,
    cost_split: CostSplit,
    direction: Direction,
    currency: str,
) -> Settlement | None:
    """The settlement of ``pledges`` (active ones, in pledge order); None when no tier is reached
    (a group cannot be confirmed then: the lowest tier starts at or below its minimum)."""
    total_quantity = sum((p.quantity for p in pledges), Decimal(0))
    tier = tier_progress(tiers, total_quantity).current
    if tier is None or not pledges:
        return None
    # Exact arithmetic: a third of the costs is a third, not a 28-digit decimal, so equal
    # remainders compare equal and the total rounds as its true value does.
    costs = Fraction(shared_costs)
    if cost_split is CostSplit.PRO_RATA:
        shares = [costs * Fraction(p.quantity) / Fraction(total_quantity) for p in pledges]
    else:
        shares = [costs / len(pledges) for _ in pledges]
    sign = 1 if direction is Direction.BUY else -1
    price = Fraction(tier.price_per_unit)
    exact = [
        Fraction(p.quantity) * price + sign * share
        for p, share in zip(pledges, shares, strict=True)
    ]
    goods = Fraction(total_quantity) * price
    total = round_money(goods + sign * costs, currency)
    with localcontext(prec=MONEY_PRECISION):  # exact for any amount the forms accept
        goods_total = total_quantity * tier.price_per_unit
    amounts = allocate(total, exact, currency)
    return Settlement(
        currency=currency,
        direction=direction,
        tier=tier,
        total_quantity=total_quantity,
        goods_total=goods_total,
        shared_costs=shared_costs,
        total=total,
        lines=[SettlementLine(p, a) for p, a in zip(pledges, amounts, strict=True)],
    )
