"""Settlement: the tier reached, each participant's amount, and the rounding of the lines.

First ``settle`` itself, on pledges built without a database (it reads only ``.quantity``): tier
boundaries, both cost splits, BUY and SELL, currencies of 0, 2 and 3 decimals, and seeded random
groups checked against an exact reference in fractions. Then the settlement as the API shows it,
for a group's organiser, in every status.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction
from math import floor
from typing import Any

import pytest

from backend.kit.clock import ManualClock
from backend.kit.money import minor_unit
from backend.purchasing.models import CostSplit, Direction, Pledge
from backend.purchasing.schema.types import ROUNDING
from backend.purchasing.service.settlement import PriceTier, Settlement, settle, tier_progress
from tests.conftest import Account, GraphQL
from tests.purchasing.kit import group_input

D = Decimal
BUY, SELL = Direction.BUY, Direction.SELL
PRO_RATA, EQUAL = CostSplit.PRO_RATA, CostSplit.EQUAL


def pledges(*quantities: str) -> list[Pledge]:
    return [Pledge(quantity=D(q)) for q in quantities]


def settled(
    quantities: list[str],
    *,
    price: str,
    costs: str = "0",
    split: CostSplit = PRO_RATA,
    direction: Direction = BUY,
    currency: str = "USD",
    tiers: list[PriceTier] | None = None,
) -> Settlement:
    settlement = settle(
        pledges=pledges(*quantities),
        tiers=tiers or [PriceTier(D(0), D(price))],
        shared_costs=D(costs),
        cost_split=split,
        direction=direction,
        currency=currency,
    )
    assert settlement is not None
    return settlement


def amounts(settlement: Settlement) -> tuple[str, list[str]]:
    return str(settlement.total), [str(line.amount) for line in settlement.lines]


Example = tuple[list[str], dict[str, Any]]  # quantities in pledge order, and settled()'s terms


def settled_amounts(case: Example) -> tuple[str, list[str]]:
    quantities, terms = case
    return amounts(settled(quantities, **terms))


# ---------------------------------------------------------------------------------------------
# Tiers

TIERS = [  # given out of order on purpose: settle sorts them
    PriceTier(D(500), D("9.5")),
    PriceTier(D(1000), D(9)),
    PriceTier(D(100), D(10)),
]


@pytest.mark.parametrize(
    ("total", "price"),
    [
        ("100", "10"),
        ("100.0000", "10"),
        ("100.0001", "10"),
        ("499.9999", "10"),
        ("500", "9.5"),
        ("999.9999", "9.5"),
        ("1000", "9"),
        ("250000", "9"),
    ],
)
def test_the_tier_reached_by_the_total_sets_the_price(total: str, price: str) -> None:
    # the total made of two pledges, so that no single pledge reaches a tier on its own
    half = D(total) / 2
    settlement = settle(
        pledges=[Pledge(quantity=half), Pledge(quantity=D(total) - half)],
        tiers=TIERS,
        shared_costs=D(0),
        cost_split=PRO_RATA,
        direction=BUY,
        currency="USD",
    )
    assert settlement is not None
    assert (settlement.tier.price_per_unit, settlement.total_quantity) == (D(price), D(total))
    assert settlement.goods_total == D(total) * D(price)
    assert sum(line.amount for line in settlement.lines) == settlement.total


@pytest.mark.parametrize("total", ["0.0001", "50", "99.9999"])
def test_below_the_first_tier_there_is_no_settlement(total: str) -> None:
    assert (
        settle(
            pledges=pledges(total),
            tiers=TIERS,
            shared_costs=D(10),
            cost_split=EQUAL,
            direction=BUY,
            currency="USD",
        )
        is None
    )


def test_without_pledges_there_is_no_settlement_even_from_zero() -> None:
    assert (
        settle(
            pledges=[],
            tiers=[PriceTier(D(0), D(5))],
            shared_costs=D(10),
            cost_split=EQUAL,
            direction=BUY,
            currency="USD",
        )
        is None
    )


@pytest.mark.parametrize(
    ("total", "current", "following", "to_next"),
    [
        ("0", None, "100", "100"),
        ("99.9999", None, "100", "0.0001"),
        ("100", "100", "500", "400"),
        ("499.9999", "100", "500", "0.0001"),
        ("500", "500", "1000", "500"),
        ("1000", "1000", None, None),
        ("12345.6789", "1000", None, None),
    ],
)
def test_tier_progress_at_the_boundaries(
    total: str, current: str | None, following: str | None, to_next: str | None
) -> None:
    progress = tier_progress(TIERS, D(total))
    assert (
        None if progress.current is None else progress.current.min_quantity,
        None if progress.next is None else progress.next.min_quantity,
        progress.to_next,
    ) == (
        None if current is None else D(current),
        None if following is None else D(following),
        None if to_next is None else D(to_next),
    )


# ---------------------------------------------------------------------------------------------
# Splits, directions, currencies: hand-worked


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # 10 USD of transport pro rata over three equal pledges: 3.333.. each
        (
            (["40", "40", "40"], {"price": "10", "costs": "10"}),
            ("1210.00", ["403.34", "403.33", "403.33"]),
        ),
        # pro rata over unequal pledges: the shares are exact
        (
            (["10", "30", "60"], {"price": "2", "costs": "100"}),
            ("300.00", ["30.00", "90.00", "180.00"]),
        ),
        # equally: 33.333.. each whatever the quantity; the cent goes to the earliest pledge
        (
            (["10", "30", "60"], {"price": "2", "costs": "100", "split": EQUAL}),
            ("300.00", ["53.34", "93.33", "153.33"]),
        ),
        # SELL: the costs come out of the proceeds; a line may go below zero
        (
            (["10", "30", "60"], {"price": "2", "costs": "100", "split": EQUAL, "direction": SELL}),
            ("100.00", ["-13.33", "26.67", "86.66"]),
        ),
        (
            (["40", "40", "40"], {"price": "10", "costs": "10", "direction": SELL}),
            ("1190.00", ["396.67", "396.67", "396.66"]),
        ),
        # SELL where the costs exceed the proceeds: the total is negative
        (
            (["1", "2"], {"price": "1", "costs": "10", "split": EQUAL, "direction": SELL}),
            ("-7.00", ["-4.00", "-3.00"]),
        ),
        # no shared costs: quantity x price, 0.4995 and 0.8325, rounded to 1.33 together
        ((["1.5", "2.5"], {"price": "0.333"}), ("1.33", ["0.50", "0.83"])),
        # 4-decimal quantities
        (
            (["0.3333", "0.3333", "0.3334"], {"price": "3"}),
            ("3.00", ["1.00", "1.00", "1.00"]),
        ),
        (
            (["12.3456", "0.0001", "7.6543"], {"price": "99.99", "costs": "0.01"}),
            ("1999.81", ["1234.44", "0.01", "765.36"]),
        ),
    ],
)
def test_split_and_direction(case: Example, expected: tuple[str, list[str]]) -> None:
    assert settled_amounts(case) == expected


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # JPY, no decimals: 1033.33 each
        (
            (["1", "1", "1"], {"price": "1000", "costs": "100", "currency": "JPY"}),
            ("3100", ["1034", "1033", "1033"]),
        ),
        # VND: 3333.33 of transport each
        (
            (
                ["3", "5", "7"],
                {"price": "25000", "costs": "10000", "split": EQUAL, "currency": "VND"},
            ),
            ("385000", ["78334", "128333", "178333"]),
        ),
        (
            (["0.5", "0.25"], {"price": "12345", "currency": "VND"}),
            ("9259", ["6173", "3086"]),  # 6172.5 and 3086.25 make 9258.75, which rounds up
        ),
        # INR: 99.99 pro rata over 7, 11 and 13 kg
        (
            (["7", "11", "13"], {"price": "52.5", "costs": "99.99", "currency": "INR"}),
            ("1727.49", ["390.08", "612.98", "724.43"]),
        ),
        # KWD, three decimals
        (
            (
                ["1", "2", "3"],
                {"price": "1.2345", "costs": "0.5", "split": EQUAL, "currency": "KWD"},
            ),
            ("7.907", ["1.401", "2.636", "3.870"]),
        ),
        (
            (["1", "1", "1"], {"price": "0.0005", "currency": "KWD"}),
            ("0.002", ["0.001", "0.001", "0.000"]),  # 0.0015 rounds to 0.002
        ),
    ],
)
def test_currencies(case: Example, expected: tuple[str, list[str]]) -> None:
    assert settled_amounts(case) == expected


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ((["1"], {"price": "1.005"}), ("1.01", ["1.01"])),
        ((["1"], {"price": "0.005", "costs": "0.01", "direction": SELL}), ("-0.01", ["-0.01"])),
        ((["1"], {"price": "2.5", "currency": "JPY"}), ("3", ["3"])),
        (
            (["1"], {"price": "1", "costs": "3.5", "direction": SELL, "currency": "JPY"}),
            ("-3", ["-3"]),
        ),
        ((["1"], {"price": "0.0005", "currency": "KWD"}), ("0.001", ["0.001"])),
        # a sale whose costs take a little more than the proceeds: zero, not minus zero
        ((["1"], {"price": "0.009", "costs": "0.01", "direction": SELL}), ("0.00", ["0.00"])),
    ],
)
def test_the_total_rounds_halves_away_from_zero(
    case: Example, expected: tuple[str, list[str]]
) -> None:
    assert settled_amounts(case) == expected


def test_a_total_on_a_half_that_the_lines_only_reach_in_exact_arithmetic() -> None:
    # 2.5 x 0.398 = 0.995, plus 0.01 = 1.005: the total rounds up to 1.01. The equal shares of
    # 0.01 are 0.00333.., so the lines' computed sum is 1.00499..9, just under the half.
    settlement = settled(["1", "1", "0.5"], price="0.398", costs="0.01", split=EQUAL)
    assert amounts(settlement) == ("1.01", ["0.40", "0.40", "0.21"])


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        # 10 USD equally over three: every exact amount ends in 0.00333..; the cent missing
        # goes to the earliest pledge, whatever the size of its amount
        (
            (["100", "1", "1"], {"price": "10", "costs": "10", "split": EQUAL}),
            ("1030.00", ["1003.34", "13.33", "13.33"]),
        ),
        (
            (["1000", "1", "1"], {"price": "1", "costs": "10", "split": EQUAL, "currency": "JPY"}),
            ("1012", ["1004", "4", "4"]),
        ),
    ],
)
def test_ties_go_to_the_earliest_pledge_whatever_the_size_of_the_amounts(
    case: Example, expected: tuple[str, list[str]]
) -> None:
    assert settled_amounts(case) == expected


def test_the_settlement_carries_its_terms() -> None:
    settlement = settled(["40", "80"], price="9.5", costs="12.5", split=EQUAL, currency="THB")
    assert (
        settlement.currency,
        settlement.direction,
        settlement.total_quantity,
        settlement.goods_total,
        settlement.shared_costs,
        settlement.total,
        [line.pledge.quantity for line in settlement.lines],
    ) == ("THB", BUY, D(120), D("1140.0"), D("12.5"), D("1152.50"), [D(40), D(80)])


def test_the_largest_accepted_amounts_settle_exactly() -> None:
    big = Decimal("9999999999999.9999")
    pledges = [Pledge(quantity=big), Pledge(quantity=Decimal("0.0001")), Pledge(quantity=big)]
    for currency in ("KWD", "JPY", "USD"):
        settled = settle(
            pledges=pledges,
            tiers=[PriceTier(Decimal(0), big)],
            shared_costs=big,
            cost_split=CostSplit.PRO_RATA,
            direction=Direction.BUY,
            currency=currency,
        )
        assert settled is not None
        assert sum(line.amount for line in settled.lines) == settled.total


# ---------------------------------------------------------------------------------------------
# Seeded random groups against an exact reference


@dataclass(frozen=True)
class Reference:
    total: Fraction
    exact: list[Fraction]
    lines: list[Fraction]


def reference(
    quantities: list[Decimal],
    price: Decimal,
    costs: Decimal,
    split: CostSplit,
    direction: Direction,
    currency: str,
) -> Reference:
    """The documented rule in exact fractions."""
    unit = Fraction(minor_unit(currency))
    total_quantity = sum((Fraction(q) for q in quantities), Fraction(0))
    if split is PRO_RATA:
        shares = [Fraction(costs) * Fraction(q) / total_quantity for q in quantities]
    else:
        shares = [Fraction(costs) / len(quantities)] * len(quantities)
    sign = 1 if direction is BUY else -1
    exact = [
        Fraction(q) * Fraction(price) + sign * s for q, s in zip(quantities, shares, strict=True)
    ]
    in_units = sum(exact, Fraction(0)) / unit
    rounded = floor(abs(in_units) + Fraction(1, 2)) * (1 if in_units >= 0 else -1)
    floors = [floor(e / unit) for e in exact]
    missing = rounded - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] / unit - floors[i]), i))
    for i in order[:missing]:
        floors[i] += 1
    return Reference(rounded * unit, exact, [f * unit for f in floors])


@dataclass(frozen=True)
class Case:
    number: int
    quantities: list[Decimal]
    price: Decimal
    costs: Decimal
    split: CostSplit
    direction: Direction
    currency: str


def random_cases(seed: int, count: int) -> list[Case]:
    rng = random.Random(seed)

    def decimal(digits: int, decimals: int) -> Decimal:
        return D(rng.randint(1, 10**digits)).scaleb(-rng.randint(0, decimals))

    cases = []
    for number in range(count):
        currency = rng.choice(["USD", "INR", "JPY", "VND", "KWD"])
        participants = rng.choice([1, 2, 3, 6, 7, 11, 13, 29, 60])
        quantities = [decimal(rng.randint(1, 7), 4) for _ in range(participants)]
        if rng.random() < 0.3:  # some equal quantities
            quantities = [rng.choice(quantities) for _ in quantities]
        costs = D(0) if rng.random() < 0.15 else decimal(rng.randint(1, 7), 3)
        cases.append(
            Case(
                number,
                quantities,
                decimal(rng.randint(1, 6), 4),
                costs,
                rng.choice([PRO_RATA, EQUAL]),
                rng.choice([BUY, BUY, SELL]),
                currency,
            )
        )
    return cases


def settle_case(case: Case) -> Settlement:
    settlement = settle(
        pledges=[Pledge(quantity=q) for q in case.quantities],
        # a lower tier that the total passes, and a higher one it never reaches
        tiers=[
            PriceTier(sum(case.quantities, D(0)) + 1, D("0.0001")),
            PriceTier(D(0), case.price * 2),
            PriceTier(min(case.quantities), case.price),
        ],
        shared_costs=case.costs,
        cost_split=case.split,
        direction=case.direction,
        currency=case.currency,
    )
    assert settlement is not None, case
    return settlement


SEED = 20270301


def test_random_groups_add_up_to_the_total_and_stay_within_a_unit() -> None:
    for case in random_cases(SEED, 1500):
        settlement = settle_case(case)
        expected = reference(
            case.quantities, case.price, case.costs, case.split, case.direction, case.currency
        )
        unit = minor_unit(case.currency)
        line_amounts = [line.amount for line in settlement.lines]
        assert settlement.tier.price_per_unit == case.price, case
        assert Fraction(settlement.total) == expected.total, (case, settlement.total)
        assert settlement.total.as_tuple().exponent == unit.as_tuple().exponent, case
        assert sum(line_amounts, D(0)) == settlement.total, case
        assert [line.pledge.quantity for line in settlement.lines] == case.quantities, case
        for amount, exact in zip(line_amounts, expected.exact, strict=True):
            assert amount.as_tuple().exponent == unit.as_tuple().exponent, (case, amount)
            assert abs(Fraction(amount) - exact) < Fraction(unit), (case, amount, exact)


def test_random_groups_give_the_units_to_the_largest_exact_remainders() -> None:
    differing = []
    for case in random_cases(SEED, 1500):
        settlement = settle_case(case)
        expected = reference(
            case.quantities, case.price, case.costs, case.split, case.direction, case.currency
        )
        got = [line.amount for line in settlement.lines]
        if [Fraction(amount) for amount in got] != expected.lines:
            differing.append(
                (
                    case,
                    [str(a) for a in got],
                    [str(D(a.numerator) / a.denominator) for a in expected.lines],
                )
            )
    assert not differing, (
        f"{len(differing)} of 1500 groups differ from the rule; the first, its lines and the "
        f"rule's: {differing[0]}"
    )


# ---------------------------------------------------------------------------------------------
# Through the API

CREATE = """
mutation Create($input: PurchaseGroupCreateInput!) {
  purchaseGroupCreate(input: $input) {
    purchaseGroup { id status }
    errors { code message field }
  }
}
"""
PLEDGE = """
mutation Pledge($input: PurchaseGroupPledgeInput!) {
  purchaseGroupPledge(input: $input) {
    pledge { id quantity }
    errors { code message field }
  }
}
"""
WITHDRAW = """
mutation Withdraw($id: ID!) {
  purchaseGroupPledgeWithdraw(id: $id) { pledge { status } errors { code message field } }
}
"""
SETTLEMENT = """
settlement {
  currency totalQuantity sharedCosts total unitPrice
  tier { minQuantity pricePerUnit }
  lines { participant { displayName } organisationName quantity amount }
  rounding
}
"""
GROUP = f"""
query Group($id: ID!) {{
  purchaseGroup(id: $id) {{ status {SETTLEMENT} }}
}}
"""
ACTION_PAYLOAD = f"purchaseGroup {{ status {SETTLEMENT} }} errors {{ code message field }}"
CLOSE = f"mutation Close($id: ID!) {{ purchaseGroupClose(id: $id) {{ {ACTION_PAYLOAD} }} }}"
CANCEL = f"""
mutation Cancel($id: ID!) {{
  purchaseGroupCancel(id: $id, reason: "No truck") {{ {ACTION_PAYLOAD} }}
}}
"""
ORDERED = f"""
mutation Ordered($id: ID!) {{ purchaseGroupMarkOrdered(id: $id) {{ {ACTION_PAYLOAD} }} }}
"""
DELIVERED = f"""
mutation Delivered($id: ID!) {{ purchaseGroupMarkDelivered(id: $id) {{ {ACTION_PAYLOAD} }} }}
"""


NAMES = ["An", "Binh", "Chau", "Dung", "Giang", "Hai", "Khanh"]


@dataclass
class Group:
    id: str
    organiser: Account
    participants: list[Account]
    pledge_ids: list[str]


async def group_with_pledges(
    gql: GraphQL,
    register: Any,
    cluster_id: str,
    clock: ManualClock,
    quantities: list[str],
    **terms: Any,
) -> Group:
    """A group of the Women's Union, and one participant (of their own farm) per quantity,
    pledging in that order a minute apart."""
    organiser = await register(
        "union@coop.example", cluster_id, name="Women's Union", kind="COMMUNITY"
    )
    created = await gql(CREATE, {"input": group_input(**terms)}, token=organiser.access_token)
    assert created["data"]["purchaseGroupCreate"]["errors"] == [], created
    group_id = created["data"]["purchaseGroupCreate"]["purchaseGroup"]["id"]
    participants = []
    pledge_ids = []
    for name, quantity in zip(NAMES, quantities, strict=False):
        account = await register(f"{name.lower()}@farm.example", cluster_id, name=f"{name} Farm")
        clock.advance(timedelta(minutes=1))
        pledged = await gql(
            PLEDGE,
            {"input": {"groupId": group_id, "quantity": quantity}},
            token=account.access_token,
        )
        assert pledged["data"]["purchaseGroupPledge"]["errors"] == [], pledged
        participants.append(account)
        pledge_ids.append(pledged["data"]["purchaseGroupPledge"]["pledge"]["id"])
    return Group(group_id, organiser, participants, pledge_ids)


async def read(gql: GraphQL, group: Group, account: Account | None = None) -> dict[str, Any]:
    body = await gql(GROUP, {"id": group.id}, token=(account or group.organiser).access_token)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["purchaseGroup"]
    return result


def lines(quantities: list[str], line_amounts: list[str]) -> list[dict[str, Any]]:
    return [
        {
            "participant": {"displayName": name.lower()},
            "organisationName": f"{name} Farm",
            "quantity": quantity,
            "amount": amount,
        }
        for name, quantity, amount in zip(NAMES, quantities, line_amounts, strict=False)
    ]


VND_TIERS = [
    {"minQuantity": "100", "pricePerUnit": "25000"},
    {"minQuantity": "500", "pricePerUnit": "23500"},
]


async def test_vnd_three_participants_reaching_the_second_tier_exactly(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given 120 + 250 + 130 kg = 500 kg, the second tier exactly, and 100,000 VND of transport
    # split equally: 33,333.33 each
    quantities = ["120", "250", "130"]
    group = await group_with_pledges(
        gql,
        register,
        cluster_id,
        clock,
        quantities,
        currency="VND",
        priceTiers=VND_TIERS,
        sharedCosts="100000",
        costSplit="EQUAL",
    )
    # when the deadline passes
    clock.advance(timedelta(days=30))
    # then the organiser sees 500 x 23,500 + 100,000 and every line; the one missing dong
    # goes to the earliest pledge
    assert await read(gql, group) == {
        "status": "CONFIRMED",
        "settlement": {
            "currency": "VND",
            "totalQuantity": "500",
            "sharedCosts": "100000",
            "total": "11850000",
            "unitPrice": "23500",
            "tier": {"minQuantity": "500", "pricePerUnit": "23500"},
            "lines": lines(quantities, ["2853334", "5908333", "3088333"]),
            "rounding": ROUNDING,
        },
    }
    # and a participant sees the same total with only their own line
    binh = (await read(gql, group, group.participants[1]))["settlement"]
    assert (binh["total"], binh["lines"]) == (
        "11850000",
        lines(quantities, ["2853334", "5908333", "3088333"])[1:2],
    )


async def test_vnd_seven_participants_pro_rata_with_awkward_fractions(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given 171.8734 kg in 7 pledges (three tiers; the second reached) and 250,000 VND of
    # transport pro rata
    quantities = ["13", "27.5", "8.25", "41", "3.1234", "19", "60"]
    group = await group_with_pledges(
        gql,
        register,
        cluster_id,
        clock,
        quantities,
        currency="VND",
        minQuantity="50",
        priceTiers=[
            {"minQuantity": "50", "pricePerUnit": "31000"},
            {"minQuantity": "150", "pricePerUnit": "29500"},
            {"minQuantity": "300", "pricePerUnit": "28000"},
        ],
        sharedCosts="250000",
    )
    clock.advance(timedelta(days=30))
    assert await read(gql, group) == {
        "status": "CONFIRMED",
        "settlement": {
            "currency": "VND",
            "totalQuantity": "171.8734",
            "sharedCosts": "250000",
            "total": "5320265",
            "unitPrice": "29500",
            "tier": {"minQuantity": "150", "pricePerUnit": "29500"},
            "lines": lines(
                quantities,
                ["402409", "851250", "255375", "1269137", "96683", "588137", "1857274"],
            ),
            "rounding": ROUNDING,
        },
    }


async def test_inr_three_participants_selling_with_costs_taken_from_the_proceeds(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given rice husk sold as one lot: 2,500 kg reach the second tier; 1,500 INR of transport
    # come out of the proceeds pro rata
    quantities = ["1200", "866.75", "433.25"]
    group = await group_with_pledges(
        gql,
        register,
        cluster_id,
        clock,
        quantities,
        title="Rice husk for the boiler plant",
        itemName="Rice husk, dry",
        direction="SELL",
        currency="INR",
        minQuantity="1000",
        maxQuantity="5000",
        priceTiers=[
            {"minQuantity": "1000", "pricePerUnit": "3.75"},
            {"minQuantity": "2500", "pricePerUnit": "4.1"},
        ],
        sharedCosts="1500",
    )
    # when the organiser closes it before the deadline
    closed = await gql(CLOSE, {"id": group.id}, token=group.organiser.access_token)
    assert closed["data"]["purchaseGroupClose"]["errors"] == [], closed
    # then 2,500 x 4.1 - 1,500 = 8,750.00, split 1200 x 4.1 - 720 = 4,200.00 and so on
    expected = {
        "status": "CONFIRMED",
        "settlement": {
            "currency": "INR",
            "totalQuantity": "2500",
            "sharedCosts": "1500",
            "total": "8750.00",
            "unitPrice": "4.1",
            "tier": {"minQuantity": "2500", "pricePerUnit": "4.1"},
            "lines": lines(quantities, ["4200.00", "3033.63", "1516.37"]),
            "rounding": ROUNDING,
        },
    }
    assert closed["data"]["purchaseGroupClose"]["purchaseGroup"] == expected
    assert await read(gql, group) == expected


async def test_inr_seven_participants_equal_costs_and_a_total_on_a_half(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given 300.75 kg at 52.5 INR = 15,789.375, and 1,000 INR split equally: 142.857.. each;
    # the total 16,789.375 rounds up to 16,789.38
    quantities = ["20", "25.5", "33", "40", "47.25", "60", "75"]
    group = await group_with_pledges(
        gql,
        register,
        cluster_id,
        clock,
        quantities,
        currency="INR",
        priceTiers=[
            {"minQuantity": "50", "pricePerUnit": "55"},
            {"minQuantity": "300", "pricePerUnit": "52.5"},
        ],
        sharedCosts="1000",
        costSplit="EQUAL",
    )
    clock.advance(timedelta(days=30))
    # then 5 cents are missing after rounding down; six lines have the same remainder
    # (0.00714..), so the five earliest of them get one, and 47.25 kg (0.00214..) none
    assert await read(gql, group) == {
        "status": "CONFIRMED",
        "settlement": {
            "currency": "INR",
            "totalQuantity": "300.75",
            "sharedCosts": "1000",
            "total": "16789.38",
            "unitPrice": "52.5",
            "tier": {"minQuantity": "300", "pricePerUnit": "52.5"},
            "lines": lines(
                quantities,
                [
                    "1192.86",
                    "1481.61",
                    "1875.36",
                    "2242.86",
                    "2623.48",
                    "3292.86",
                    "4080.35",
                ],
            ),
            "rounding": ROUNDING,
        },
    }


async def test_vnd_ties_go_to_the_earliest_pledge_whatever_the_size_of_the_amounts(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given 500, 20 and 20 kg at 15,000 VND and 100,000 VND of transport split equally: every
    # exact amount ends in .333..
    quantities = ["500", "20", "20"]
    group = await group_with_pledges(
        gql,
        register,
        cluster_id,
        clock,
        quantities,
        currency="VND",
        priceTiers=[{"minQuantity": "100", "pricePerUnit": "15000"}],
        sharedCosts="100000",
        costSplit="EQUAL",
    )
    clock.advance(timedelta(days=30))
    # then the one dong missing goes to the earliest pledge
    settlement = (await read(gql, group))["settlement"]
    assert (settlement["total"], [line["amount"] for line in settlement["lines"]]) == (
        "8200000",
        ["7533334", "333333", "333333"],
    )


async def test_the_settlement_is_there_from_confirmed_to_delivered(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given 40 + 40 + 40 kg of a 100 kg minimum, before the deadline
    group = await group_with_pledges(gql, register, cluster_id, clock, ["40", "40", "40"])
    token = group.organiser.access_token
    # then there is no settlement while it is open, the minimum reached or not
    assert await read(gql, group) == {"status": "OPEN", "settlement": None}
    settlement = {
        "currency": "USD",
        "totalQuantity": "120",
        "sharedCosts": "10",
        "total": "1210.00",
        "unitPrice": "10",
        "tier": {"minQuantity": "100", "pricePerUnit": "10"},
        "lines": lines(["40", "40", "40"], ["403.34", "403.33", "403.33"]),
        "rounding": ROUNDING,
    }
    # when it is closed, ordered and delivered, the settlement stays the same
    for mutation, name, status in (
        (CLOSE, "purchaseGroupClose", "CONFIRMED"),
        (ORDERED, "purchaseGroupMarkOrdered", "ORDERED"),
        (DELIVERED, "purchaseGroupMarkDelivered", "DELIVERED"),
    ):
        clock.advance(timedelta(hours=1))
        done = await gql(mutation, {"id": group.id}, token=token)
        assert done["data"][name] == {
            "purchaseGroup": {"status": status, "settlement": settlement},
            "errors": [],
        }, done
        assert await read(gql, group) == {"status": status, "settlement": settlement}
    # and after the deadline too
    clock.advance(timedelta(days=30))
    assert await read(gql, group) == {"status": "DELIVERED", "settlement": settlement}


async def test_a_withdrawn_pledge_has_no_line(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    group = await group_with_pledges(gql, register, cluster_id, clock, ["40", "50", "60"])
    withdrawn = await gql(
        WITHDRAW, {"id": group.pledge_ids[1]}, token=group.participants[1].access_token
    )
    assert withdrawn["data"]["purchaseGroupPledgeWithdraw"]["errors"] == [], withdrawn
    clock.advance(timedelta(days=30))
    settlement = (await read(gql, group))["settlement"]
    # 100 kg x 10 + 10 of transport pro rata: 4 and 6
    an, _, chau = lines(["40", "50", "60"], ["404.00", "", "606.00"])
    assert (settlement["totalQuantity"], settlement["total"], settlement["lines"]) == (
        "100",
        "1010.00",
        [an, chau],
    )


async def test_no_settlement_for_a_group_that_failed(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given 40 + 50 kg of a 100 kg minimum
    group = await group_with_pledges(gql, register, cluster_id, clock, ["40", "50"])
    # when the deadline passes
    clock.advance(timedelta(days=30))
    # then it failed, without a settlement
    assert await read(gql, group) == {"status": "FAILED", "settlement": None}
    assert await read(gql, group, group.participants[0]) == {"status": "FAILED", "settlement": None}


async def test_no_settlement_for_a_cancelled_group(
    gql: GraphQL, register: Any, cluster_id: str, clock: ManualClock
) -> None:
    # given a group past its minimum
    group = await group_with_pledges(gql, register, cluster_id, clock, ["60", "70"])
    # when the organiser cancels it
    cancelled = await gql(CANCEL, {"id": group.id}, token=group.organiser.access_token)
    # then it has no settlement, neither now nor after the deadline
    assert cancelled["data"]["purchaseGroupCancel"] == {
        "purchaseGroup": {"status": "CANCELLED", "settlement": None},
        "errors": [],
    }, cancelled
    clock.advance(timedelta(days=30))
    assert await read(gql, group) == {"status": "CANCELLED", "settlement": None}
