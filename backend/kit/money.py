"""Quantities and money: the checks every form applies, currencies' minor units, and splitting
an amount into parts that add up exactly.

Amounts are ``Decimal`` end to end and stored as ``Numeric(18, 4)``: 14 integer digits and 4
decimals cover 1 g in a 100,000 t lot and prices in VND.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from fractions import Fraction

from backend.kit.errors import Problems

MAX_AMOUNT = Decimal("1e13")  # Numeric(18, 4): 14 integer digits
# Digits for computed amounts: quantity x price of two MAX_AMOUNTs, at 3 decimals, and more.
MONEY_PRECISION = 60
CURRENCY = re.compile(r"[A-Z]{3}")

# ISO 4217 currencies whose minor unit is not the cent. Every other code has two decimals.
_DECIMALS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def _decimal_places(value: Decimal) -> int:
    """Decimal places without trailing zeros, counted exactly (``normalize()`` would first
    round to the context's 28 digits, and 0.1000000000000000000000000000001 would pass as
    0.1)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or not any(digits):  # 0.000000 has no decimal places
        return 0
    end = len(digits)
    while exponent < 0 and end > 0 and digits[end - 1] == 0:
        end -= 1
        exponent += 1
    return max(0, -exponent)


def check_amount(problems: Problems, field_name: str, value: Decimal, *, positive: bool) -> None:
    """A finite decimal that fits the columns, with at most 4 decimal places."""
    try:
        exponent = value.as_tuple().exponent
    except (InvalidOperation, AttributeError):
        problems.add(field_name, "Not a number")
        return
    if not value.is_finite():
        problems.add(field_name, "Not a number")
    elif positive and value <= 0:
        problems.add(field_name, "Must be more than zero")
    elif value.copy_abs() >= MAX_AMOUNT:  # abs() rounds, and overflows on 1E+1000000
        problems.add(field_name, "Is too large")
    elif isinstance(exponent, int) and exponent < -4 and _decimal_places(value) > 4:
        problems.add(field_name, "Use at most 4 decimal places")


def plain(value: Decimal) -> str:
    """A quantity or amount as people write it: 30.0000 -> 30, 2.5000 -> 2.5, never 3E+1."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def plain_number(value: Decimal) -> Decimal:
    """The same number as the API shows it: without trailing zeros and never in exponent form
    (2500.0000 -> 2500, 2.5000 -> 2.5); :func:`plain` is its text for messages."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def check_currency(problems: Problems, field_name: str, currency: str) -> None:
    if not CURRENCY.fullmatch(currency):
        problems.add(field_name, "Use an ISO 4217 code such as INR, JPY, THB or VND")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency that changes hands: 1 JPY, 0.01 INR, 0.001 KWD."""
    return Decimal(1).scaleb(-_DECIMALS.get(currency, 2))


def round_money(amount: Decimal | Fraction, currency: str) -> Decimal:
    """To the currency's minor unit, halves away from zero (as invoices round). Takes exact
    fractions too, so a sum of thirds rounds as its true value does."""
    unit = minor_unit(currency)
    # Wide enough for the largest quantity x price the forms accept, in any currency.
    with localcontext(prec=MONEY_PRECISION):
        if isinstance(amount, Decimal):
            return amount.quantize(unit, rounding=ROUND_HALF_UP)
        units = abs(amount) / Fraction(unit)
        whole = math.floor(units + Fraction(1, 2))
        return (Decimal(whole if amount >= 0 else -whole) * unit).quantize(unit)


def allocate(
    total: Decimal, exact_parts: Sequence[Decimal | Fraction], currency: str
) -> list[Decimal]:
    """Split ``total`` (already in minor units) into parts in minor units that add up to it
    exactly, each as close as possible to its exact value: the largest-remainder method.

    Every part is first rounded down to the minor unit; the minor units still missing go one
    each to the parts with the largest remainders, ties to the earlier part. Parts are compared
    exactly (fractions, not 28-digit decimals), so equal remainders tie whatever the size of
    the amounts. ``total`` must be the rounded sum of ``exact_parts``, so at most one extra
    unit goes to each part.
    """
    unit = Fraction(minor_unit(currency))
    parts = [Fraction(part) for part in exact_parts]
    floors = [math.floor(part / unit) for part in parts]  # in minor units, toward -infinity
    if total != round_money(sum(parts, Fraction(0)), currency):
        raise ValueError("total is not the rounded sum of the parts")
    missing = Fraction(total) / unit - sum(floors)
    by_remainder = sorted(range(len(parts)), key=lambda i: (-(parts[i] - floors[i] * unit), i))
    for i in by_remainder[: int(missing)]:
        floors[i] += 1
    decimal_unit = minor_unit(currency)
    with localcontext(prec=MONEY_PRECISION):
        return [(Decimal(units) * decimal_unit).quantize(decimal_unit) for units in floors]
