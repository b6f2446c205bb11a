"""backend.kit.money without a database: the amount and currency checks, minor units, rounding to
them, and the largest-remainder split, on hand-worked examples and on seeded random cases."""

from __future__ import annotations

import random
from decimal import ROUND_FLOOR, Decimal
from fractions import Fraction

import pytest

from backend.kit.errors import ErrorCode, Problems
from backend.kit.money import allocate, check_amount, check_currency, minor_unit, round_money

D = Decimal


def strings(amounts: list[Decimal]) -> list[str]:
    return [str(amount) for amount in amounts]


# ---------------------------------------------------------------------------------------------
# check_amount, check_currency


def amount_problems(value: Decimal, *, positive: bool) -> list[tuple[str, str, ErrorCode]]:
    problems = Problems()
    check_amount(problems, "quantity", value, positive=positive)
    return [(p.field or "", p.message, p.code) for p in problems.items]


@pytest.mark.parametrize(
    ("value", "positive", "message"),
    [
        ("NaN", True, "Not a number"),
        ("NaN", False, "Not a number"),
        ("-NaN", False, "Not a number"),
        ("sNaN", False, "Not a number"),
        ("Infinity", True, "Not a number"),
        ("-Infinity", False, "Not a number"),
        # abs() would round to the context and overflow; the check must not raise
        ("1E+1000000", True, "Is too large"),
        ("1E+1000000", False, "Is too large"),
        ("-1E+1000000", False, "Is too large"),
        ("-1E+1000000", True, "Must be more than zero"),
        ("1E+13", True, "Is too large"),
        ("-1E+13", False, "Is too large"),
        ("1.00001", True, "Use at most 4 decimal places"),
        ("-1.00001", False, "Use at most 4 decimal places"),
        ("0.00001", False, "Use at most 4 decimal places"),
        ("1E-5", True, "Use at most 4 decimal places"),
        ("-1", True, "Must be more than zero"),
        ("-0.0001", True, "Must be more than zero"),
        ("0", True, "Must be more than zero"),
        ("-0", True, "Must be more than zero"),
        ("0.0000", True, "Must be more than zero"),
        ("0.000000", True, "Must be more than zero"),
    ],
)
def test_check_amount_refuses_with_one_message(value: str, positive: bool, message: str) -> None:
    assert amount_problems(D(value), positive=positive) == [
        ("quantity", message, ErrorCode.VALIDATION)
    ]


@pytest.mark.parametrize(
    ("value", "positive"),
    [
        ("0.0001", True),
        ("1", True),
        ("1.00000", True),  # trailing zeros are not decimal places of the amount
        ("2.500000000", True),
        ("1E+5", True),
        ("9999999999999.9999", True),  # the largest the columns take
        ("0", False),
        ("-0", False),
        ("0.0000", False),
        # zero with trailing zeros has no decimal places either, as 1.00000 has none
        ("0.000000", False),
        ("-0.000000", False),
        ("0E-10", False),
        ("-5.25", False),  # negatives pass when positive is not required
        ("-9999999999999.9999", False),
    ],
)
def test_check_amount_accepts(value: str, positive: bool) -> None:
    assert amount_problems(D(value), positive=positive) == []


def test_check_amount_refuses_more_than_4_decimals_beyond_the_decimal_precision() -> None:
    # 31 decimal places: normalize() rounds this to the 28 digits of the context (0.1) and the
    # check then sees no decimals beyond the 4th; the column would silently store 0.1000.
    assert amount_problems(D("0.1000000000000000000000000000001"), positive=True) == [
        ("quantity", "Use at most 4 decimal places", ErrorCode.VALIDATION)
    ]


def test_check_amount_calls_a_value_that_is_not_a_decimal_not_a_number() -> None:
    problems = Problems()
    check_amount(problems, "quantity", "12", positive=True)  # type: ignore[arg-type]
    assert [(p.field, p.message) for p in problems.items] == [("quantity", "Not a number")]


@pytest.mark.parametrize("currency", ["usd", "US", "", "USDX", " USD", "USD\n", "U5D", "ÜSD"])
def test_check_currency_refuses(currency: str) -> None:
    problems = Problems()
    check_currency(problems, "currency", currency)
    assert [(p.field, p.message, p.code) for p in problems.items] == [
        (
            "currency",
            "Use an ISO 4217 code such as INR, JPY, THB or VND",
            ErrorCode.VALIDATION,
        )
    ]


@pytest.mark.parametrize("currency", ["USD", "JPY", "VND", "KWD", "INR", "THB"])
def test_check_currency_accepts(currency: str) -> None:
    problems = Problems()
    check_currency(problems, "currency", currency)
    assert problems.items == []


# ---------------------------------------------------------------------------------------------
# minor_unit, round_money


@pytest.mark.parametrize(
    ("currency", "unit"),
    [
        ("JPY", "1"),
        ("VND", "1"),
        ("KRW", "1"),
        ("KWD", "0.001"),
        ("BHD", "0.001"),
        ("USD", "0.01"),
        ("INR", "0.01"),
        ("THB", "0.01"),
        ("EUR", "0.01"),
        ("XYZ", "0.01"),  # unknown codes: two decimals
    ],
)
def test_minor_unit(currency: str, unit: str) -> None:
    assert str(minor_unit(currency)) == unit


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("1.005", "USD", "1.01"),
        ("-1.005", "USD", "-1.01"),  # halves away from zero for negatives too
        ("1.0049999", "USD", "1.00"),
        ("-1.0049999", "USD", "-1.00"),
        ("2.675", "INR", "2.68"),  # decimal, not binary: no 2.67
        ("0.005", "USD", "0.01"),
        ("-0.005", "USD", "-0.01"),
        ("5", "USD", "5.00"),
        ("1210", "INR", "1210.00"),
        ("2.5", "JPY", "3"),
        ("-2.5", "JPY", "-3"),
        ("3.5", "VND", "4"),
        ("2.4999", "VND", "2"),
        ("1234567.5", "VND", "1234568"),
        ("0.0005", "KWD", "0.001"),
        ("-0.0005", "KWD", "-0.001"),
        ("1.23449999", "KWD", "1.234"),
        ("7", "KWD", "7.000"),
    ],
)
def test_round_money(amount: str, currency: str, rounded: str) -> None:
    assert str(round_money(D(amount), currency)) == rounded


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        (Fraction(1, 3), "USD", "0.33"),
        (Fraction(2, 3), "USD", "0.67"),
        (Fraction(201, 200), "USD", "1.01"),  # 1.005
        (Fraction(-201, 200), "USD", "-1.01"),
        (Fraction(-1, 1000), "USD", "0.00"),  # not -0.00
        (Fraction(5, 2), "JPY", "3"),
        (Fraction(-5, 2), "VND", "-3"),
        (Fraction(1, 2000), "KWD", "0.001"),
        (Fraction(10, 3), "KWD", "3.333"),
        # a sum of thirds rounds as its true value: 0.995 + 3 x 0.01/3 = 1.005
        (Fraction(995, 1000) + 3 * (Fraction(1, 100) / 3), "USD", "1.01"),
    ],
)
def test_round_money_of_exact_fractions(amount: Fraction, currency: str, rounded: str) -> None:
    assert str(round_money(amount, currency)) == rounded


# ---------------------------------------------------------------------------------------------
# allocate: hand-worked


@pytest.mark.parametrize(
    ("total", "parts", "currency", "expected"),
    [
        # 100.00 in three: 33.333.. each; the missing cent goes to the first
        ("100.00", [D(100) / 3] * 3, "USD", ["33.34", "33.33", "33.33"]),
        # the same remainders: the missing units go to the earlier parts
        ("0.02", ["0.005"] * 4, "USD", ["0.01", "0.01", "0.00", "0.00"]),
        # a later, larger remainder wins over an earlier, smaller one
        ("0.01", ["0.003", "0.003", "0.004"], "USD", ["0.00", "0.00", "0.01"]),
        ("0.02", ["0.004", "0.006", "0.006", "0.004"], "USD", ["0.00", "0.01", "0.01", "0.00"]),
        # negative parts: rounded down toward minus infinity first, then units added
        ("-100.00", [D(-100) / 3] * 3, "USD", ["-33.33", "-33.33", "-33.34"]),
        ("0.00", ["10.005", "-5.0025", "-5.0025"], "USD", ["10.00", "-5.00", "-5.00"]),
        ("-0.01", ["-0.0025", "-0.0025"], "USD", ["0.00", "-0.01"]),
        # zero parts never get a unit, however early
        ("0.00", ["0", "0", "0"], "USD", ["0.00", "0.00", "0.00"]),
        ("0.01", ["0", "0.005", "0.005"], "USD", ["0.00", "0.01", "0.00"]),
        ("1.00", ["0", "0.5", "0.5"], "USD", ["0.00", "0.50", "0.50"]),
        # parts already in minor units stay as they are
        ("6.00", ["1", "2", "3"], "USD", ["1.00", "2.00", "3.00"]),
        ("-4.50", ["-1.25", "-3.25"], "USD", ["-1.25", "-3.25"]),
        # JPY: no decimals
        ("1000", [D(1000) / 3] * 3, "JPY", ["334", "333", "333"]),
        ("1012", [D("1003.4"), D("4.3"), D("4.3")], "JPY", ["1004", "4", "4"]),
        ("-1000", [D(-1000) / 3] * 3, "JPY", ["-333", "-333", "-334"]),
        # VND
        ("385000", ["78333.33", "128333.33", "178333.34"], "VND", ["78333", "128333", "178334"]),
        # KWD: three decimals
        ("10.000", [D(10) / 3] * 3, "KWD", ["3.334", "3.333", "3.333"]),
        ("7.907", ["1.4011667", "2.6356667", "3.8701667"], "KWD", ["1.401", "2.636", "3.870"]),
        # a single part is its own rounding
        ("0.01", ["0.005"], "USD", ["0.01"]),
        ("-0.01", ["-0.005"], "USD", ["-0.01"]),
        # nothing to split
        ("0.00", [], "USD", []),
    ],
)
def test_allocate(
    total: str, parts: list[Decimal | str], currency: str, expected: list[str]
) -> None:
    assert strings(allocate(D(total), [D(p) for p in parts], currency)) == expected


@pytest.mark.parametrize(
    ("total", "parts", "currency"),
    [
        ("100.04", [D(100) / 3] * 3, "USD"),  # 3 parts take at most 3 extra cents
        ("99.98", [D(100) / 3] * 3, "USD"),  # below the parts rounded down
        ("0.01", [], "USD"),
        ("3", ["0", "0"], "JPY"),
        ("10.003", ["3.3333", "3.3333", "3.3333"], "KWD"),
    ],
)
def test_allocate_refuses_a_total_out_of_reach(
    total: str, parts: list[Decimal | str], currency: str
) -> None:
    with pytest.raises(ValueError, match="total is not the rounded sum of the parts"):
        allocate(D(total), [D(p) for p in parts], currency)


@pytest.mark.parametrize(
    ("total", "parts", "currency", "expected"),
    [
        ("100.00", [Fraction(100, 3)] * 3, "USD", ["33.34", "33.33", "33.33"]),
        # equal remainders (1/3 of a unit) tie whatever the size of the amounts
        (
            "1012",
            [Fraction(3010, 3), Fraction(13, 3), Fraction(13, 3)],
            "JPY",
            ["1004", "4", "4"],
        ),
        ("-1.000", [Fraction(-1, 3)] * 3, "KWD", ["-0.333", "-0.333", "-0.334"]),
    ],
)
def test_allocate_exact_fractions(
    total: str, parts: list[Fraction], currency: str, expected: list[str]
) -> None:
    assert strings(allocate(D(total), parts, currency)) == expected


def test_allocate_refuses_a_total_one_unit_off_the_rounded_sum() -> None:
    # 33.333.. x 3 rounds to 100.00; 100.01 is not the rounded sum, but still reachable
    with pytest.raises(ValueError, match="total is not the rounded sum of the parts"):
        allocate(D("100.01"), [D(100) / 3] * 3, "USD")


# ---------------------------------------------------------------------------------------------
# allocate: seeded random cases

CURRENCIES = ("USD", "INR", "JPY", "VND", "KWD")
SEED = 20270301
CASES = 4000


def random_parts(rng: random.Random) -> list[Decimal]:
    """1 to 15 parts, up to 8 decimals, some negative, some zero, some repeated (ties)."""
    parts: list[Decimal] = []
    for _ in range(rng.randint(1, 15)):
        roll = rng.random()
        if parts and roll < 0.2:
            parts.append(rng.choice(parts))
        elif roll < 0.25:
            parts.append(D(0))
        else:
            size = 10 ** rng.randint(0, 10)
            low = -size if rng.random() < 0.3 else 0
            parts.append(D(rng.randint(low, size)).scaleb(-rng.randint(0, 8)))
    return parts


def floor_to(value: Decimal, unit: Decimal) -> Decimal:
    return (value / unit).to_integral_value(rounding=ROUND_FLOOR) * unit


def random_cases() -> list[tuple[int, str, list[Decimal]]]:
    rng = random.Random(SEED)
    return [(case, rng.choice(CURRENCIES), random_parts(rng)) for case in range(CASES)]


def test_allocate_adds_up_exactly_and_stays_within_a_unit_on_random_cases() -> None:
    for case, currency, parts in random_cases():
        unit = minor_unit(currency)
        total = round_money(sum(parts, D(0)), currency)
        amounts = allocate(total, parts, currency)
        where = (case, currency, parts, total, amounts)
        assert len(amounts) == len(parts), where
        assert sum(amounts, D(0)) == total, where
        for amount, exact in zip(amounts, parts, strict=True):
            assert amount.as_tuple().exponent == unit.as_tuple().exponent, where
            assert abs(amount - exact) < unit, where
            assert amount - floor_to(exact, unit) in (0, unit), where
        # the extra units went to the largest remainders, ties to the earlier part
        remainders = [exact - floor_to(exact, unit) for exact in parts]
        extra = [a != floor_to(e, unit) for a, e in zip(amounts, parts, strict=True)]
        for i in range(len(parts)):
            for j in range(len(parts)):
                if extra[i] and not extra[j]:
                    assert (remainders[i], -i) > (remainders[j], -j), (i, j, where)


def test_allocate_refuses_totals_out_of_reach_on_random_cases() -> None:
    for _case, currency, parts in random_cases():
        unit = minor_unit(currency)
        total = round_money(sum(parts, D(0)), currency)
        beyond = (len(parts) + 1) * unit
        for wrong in (total + beyond, total - beyond):
            with pytest.raises(ValueError, match="total is not the rounded sum"):
                allocate(wrong, parts, currency)


def test_allocate_refuses_any_total_but_the_rounded_sum_on_random_cases() -> None:
    accepted = []
    for case, currency, parts in random_cases():
        unit = minor_unit(currency)
        total = round_money(sum(parts, D(0)), currency)
        for wrong in (total + unit, total - unit):
            try:
                amounts = allocate(wrong, parts, currency)
            except ValueError:
                continue
            accepted.append((case, currency, parts, total, wrong, amounts))
    assert not accepted, (
        f"{len(accepted)} of {2 * CASES} totals one unit off were accepted, the first: "
        f"{accepted[0]}"
    )
