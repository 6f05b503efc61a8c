"""The number rules of reconciliation: decimal contexts and the helpers that apply them.

Where it sits: the bottom of verifier/reconcile/; every figure coverage.py, result.py and
reserve_inputs.py compute goes through these, and the report (verifier/report/) shows its
figures with them, so a value is computed and shown by one rule everywhere.

Invariants: base units are ``int``; fiat values are `Decimal` computed in `EXACT` (999
digits with ``Inexact`` trapped: a product or sum is exact or raises); ratios in `RATIO`
(28 digits, rounded toward zero, so a shown ratio never overstates coverage); shown
figures in `DISPLAY` (rounded toward zero). Never a float.
"""

from __future__ import annotations

from decimal import (
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
    localcontext,
)

from attestations.proofs import format_units

EXACT = Context(
    prec=999,
    rounding=ROUND_HALF_EVEN,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
"""Context for fiat sums and products: exact, or an error (never a silent rounding)."""

RATIO = Context(prec=28, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero, Overflow])
"""Context for ratios: 28 significant digits, rounded toward zero (never overstated)."""

DISPLAY = Context(
    prec=999, rounding=ROUND_FLOOR, traps=[InvalidOperation, DivisionByZero, Overflow]
)
"""Context for shown figures (percentages, 2-decimal money): rounded toward zero, wide
enough that a huge over-coverage ratio still fits."""


def dec_str(value: Decimal) -> str:
    """A Decimal as a plain decimal string: no exponent, no trailing fractional zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def units_json(units: int, decimals: int) -> dict[str, str]:
    """``{"base_units": "<int>", "amount": "<whole units>"}`` for the report."""
    return {"base_units": str(units), "amount": format_units(units, decimals)}


def unit_value(units: int, decimals: int, price: Decimal) -> Decimal:
    """Exact value of `units` base units at `price` per whole unit."""
    with localcontext(EXACT):
        return Decimal(units).scaleb(-decimals) * price


def floor_ratio(numerator: int, denominator: int) -> Decimal | None:
    """numerator / denominator rounded toward zero (28 digits); None when denominator is 0."""
    if denominator == 0:
        return None
    with localcontext(RATIO):
        return Decimal(numerator) / Decimal(denominator)


def percent_of(ratio: Decimal) -> str:
    """A ratio as a percentage with two decimals, rounded toward zero: the one rule for
    every coverage figure on every page, report and message (0.99876 -> 99.87%,
    1.00999 -> 100.99%, 1 -> 100.00%, 12.5 -> 1,250.00%)."""
    with localcontext(DISPLAY):
        return f"{(ratio * 100).quantize(Decimal('0.01')):,f}%"
