"""Quantities and money: the checks every form applies, currencies' minor units, and splitting
an amount into parts that add up exactly.

Amounts are ``Decimal`` end to end and stored as ``Numeric(18, 4)``: 14 integer digits and 4
decimals cover 1 g in a 100,000 t lot and prices in VND.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from backend.errors import Problems

MAX_AMOUNT = Decimal("1e13")  # Numeric(18, 4): 14 integer digits
CURRENCY = re.compile(r"[A-Z]{3}")

# ISO 4217 currencies whose minor unit is not the cent. Every other code has two decimals.
_DECIMALS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI"), 0
    ),
    **dict.fromkeys(("VND", "VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def _exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0


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
    elif isinstance(exponent, int) and exponent < -4 and _exponent(value.normalize()) < -4:
        problems.add(field_name, "Use at most 4 decimal places")


def check_currency(problems: Problems, field_name: str, currency: str) -> None:
    if not CURRENCY.fullmatch(currency):
        problems.add(field_name, "Use an ISO 4217 code such as INR, JPY, THB or VND")


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency that changes hands: 1 JPY, 0.01 INR, 0.001 KWD."""
    return Decimal(1).scaleb(-_DECIMALS.get(currency, 2))


def round_money(amount: Decimal, currency: str) -> Decimal:
    """To the currency's minor unit, halves away from zero (as invoices round)."""
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def allocate(total: Decimal, exact_parts: Sequence[Decimal], currency: str) -> list[Decimal]:
    """Split ``total`` (already in minor units) into parts in minor units that add up to it
    exactly, each as close as possible to its exact value: the largest-remainder method.

    Every part is first rounded down to the minor unit; the minor units still missing go one
    each to the parts with the largest remainders, ties to the earlier part. ``total`` must be
    the rounded sum of ``exact_parts``, so at most one extra unit goes to each part.
    """
    unit = minor_unit(currency)
    floors = [part.quantize(unit, rounding=ROUND_DOWN) for part in exact_parts]
    # ROUND_DOWN goes toward zero; a negative part's floor must go toward minus infinity.
    floors = [f - unit if f > p else f for f, p in zip(floors, exact_parts, strict=True)]
    missing = int((total - sum(floors, Decimal(0))) / unit)
    if not 0 <= missing <= len(exact_parts):
        raise ValueError("total is not the rounded sum of the parts")
    by_remainder = sorted(range(len(exact_parts)), key=lambda i: (-(exact_parts[i] - floors[i]), i))
    for i in by_remainder[:missing]:
        floors[i] += unit
    return floors
