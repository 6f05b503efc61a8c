"""Exact arithmetic of the reserve: the 60-digit decimal context, decimal text, base units.

Where it sits: the bottom of verifier/reserve/. The statement reader
(verifier/reserve/statement.py), the pack reader (verifier/reserve/pack_file.py) and the
evaluation (verifier/reserve/rules.py and the modules it calls) all compute and print their
amounts through these helpers, so one rule holds everywhere: `Decimal` inside
`money_context()`, parsed from strings or integers (never floats), printed without exponent,
and rounded only once, where a division or a product may not terminate, in the conservative
direction (required rounds up, eligible rounds down).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import MAXYEAR, MINYEAR, date
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, localcontext

from pydantic_core import PydanticCustomError

from verifier.base.errors import InputError
from verifier.inputs.file_schemas import decimal_value

PRECISION = 60
"""Significant digits of every reserve computation (the default context has only 28)."""

ZERO = Decimal(0)
ONE = Decimal(1)
AMOUNT_QUANTUM = Decimal("1e-8")
"""Every reported amount is a multiple of this (reporting-currency units)."""
SHARE_QUANTUM = Decimal("1e-12")
"""A policy's value-weighted peril share is rounded down to this."""


@contextmanager
def money_context() -> Iterator[None]:
    """Run the enclosed `Decimal` arithmetic with `PRECISION` digits, half-even rounding.

    Every reserve computation runs inside this context (STYLE.md, "Money": never the
    default 28-digit context). Division by zero and invalid operations trap (raise).
    """
    with localcontext() as ctx:
        ctx.prec = PRECISION
        ctx.rounding = ROUND_HALF_EVEN
        yield


def fmt_decimal(value: Decimal) -> str:
    """A `Decimal` as a plain decimal string without exponent or trailing zeros.

    Parameters
    ----------
    value:
        A finite decimal.

    Returns
    -------
    str
        For example ``Decimal("5061000000.0")`` -> ``"5061000000"``, ``Decimal("0.0412500")``
        -> ``"0.04125"``.
    """
    with money_context():
        if value == value.to_integral_value():
            return f"{value.quantize(Decimal(1)):f}"
        return f"{value.normalize():f}"


def parse_decimal(value: object, *, file: str | None, key: str, what: str = "amount") -> Decimal:
    """Parse a decimal string or a TOML integer exactly; refuse floats and anything else.

    Parameters
    ----------
    value:
        The raw TOML value.
    file, key:
        Where it was read, for the error message.
    what:
        What the value is ("amount", "share", ...), for the error message.

    Returns
    -------
    Decimal
        The exact value (sign allowed; callers check ranges).

    Raises
    ------
    InputError
        For a TOML float ("write amounts as strings"), a boolean, a malformed string, or
        more digits than `verifier.inputs.file_schemas.MAX_DIGITS`.
    """
    try:
        return decimal_value(value, what)
    except PydanticCustomError as exc:
        # the same check as a file's fields (verifier.inputs.file_schemas), raised as ours
        ctx = exc.context or {}
        raise InputError(
            str(ctx.get("message", exc.message())),
            file=file,
            key=key,
            value=None if ctx.get("value") is None else str(ctx["value"]),
        ) from None


def to_units(amount: Decimal, decimals: int) -> int | None:
    """Whole units as exact integer base units.

    Parameters
    ----------
    amount:
        A quantity in whole units (``Decimal("1.5")`` BTC).
    decimals:
        The asset's decimals (8 for BTC).

    Returns
    -------
    int or None
        The base units (150000000), or None when a non-zero digit lies beyond `decimals`
        (never rounded).
    """
    with money_context():
        scaled = amount.scaleb(decimals)
        if scaled != scaled.to_integral_value():
            return None
        return int(scaled)


def add_years(day: date, years: int) -> date:
    """`day` moved by whole calendar years (a volume period's end, an evaluation's window).

    Parameters
    ----------
    day:
        The starting day.
    years:
        Years to add (negative to go back).

    Returns
    -------
    date
        The same day and month `years` later; 29 February becomes 28 February.
    """
    year = day.year + years
    if not MINYEAR <= year <= MAXYEAR:
        raise InputError(f"{years} years from {day} is past the calendar's range", value=str(years))
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)


# Results of a division (an average, a value-weighted share) or of a product may not
# terminate. Each is rounded once, where it arises, to a fixed quantum and in the
# conservative direction: what is required rounds up, what is eligible rounds down. Every
# amount reported is then a multiple of AMOUNT_QUANTUM, so shortfall = R - eligible is
# exact and anyone can recompute it from the document.


def round_up(value: Decimal) -> Decimal:
    """`value` rounded up to `AMOUNT_QUANTUM` (what is required)."""
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_CEILING)


def round_down(value: Decimal) -> Decimal:
    """`value` rounded down to `AMOUNT_QUANTUM` (what is eligible)."""
    return value.quantize(AMOUNT_QUANTUM, rounding=ROUND_FLOOR)


def share_down(value: Decimal) -> Decimal:
    """A share rounded down to `SHARE_QUANTUM`."""
    return value.quantize(SHARE_QUANTUM, rounding=ROUND_FLOOR)


def ratio_text(value: Decimal) -> str:
    """A share or ratio for the document: at most 12 decimals (comparisons use the exact
    value)."""
    exact = fmt_decimal(value)
    if "." in exact and len(exact.split(".")[1]) > 12:
        return fmt_decimal(value.quantize(Decimal("1e-12")))
    return exact
