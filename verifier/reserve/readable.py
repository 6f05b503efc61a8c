"""Reserve text for people: long decimals in a formula or a reason, rounded for reading.

Where it sits: beside the evaluation's results, for whoever shows them to a person (the
terminal of `por reserve evaluate`, the report). The evaluation document keeps every value
exact — its ``formula`` and each ``reason`` are what anyone recomputes from — so a value
times a price or an 18-decimal token amount can reach 25 digits there. `readable` rewrites
only the text shown: each number with more than `EXACT_DECIMALS` decimals is rounded half
to even to `SIGNIFICANT` significant digits, never to fewer than two decimals. Numbers
with at most `EXACT_DECIMALS` decimals (every amount the evaluation reports is a multiple
of 1e-8; a bitcoin amount has 8) are shown as they are.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal

from verifier.reserve.money import fmt_decimal, money_context

EXACT_DECIMALS = 8
"""Numbers with at most this many decimals are shown exactly."""
SIGNIFICANT = 8
"""Significant digits kept of a longer number."""
MIN_DECIMALS = 2
"""A rounded number keeps at least this many decimals (before trailing zeros go)."""

_LONG = re.compile(rf"(?<![\w.])[0-9]+\.[0-9]{{{EXACT_DECIMALS + 1},}}(?![\w.])")
"""A plain decimal number with more than EXACT_DECIMALS decimals, not part of a word."""


def round_number(value: Decimal) -> str:
    """`value` rounded for reading: `SIGNIFICANT` digits, at least `MIN_DECIMALS` decimals.

    Parameters
    ----------
    value:
        A finite, non-zero or zero decimal.

    Returns
    -------
    str
        For example ``230037766824.7031328166777`` -> ``"230037766824.7"``,
        ``5428.768162549805646986`` -> ``"5428.7682"``, ``0.019607843137`` ->
        ``"0.019607843"``.
    """
    with money_context():
        if value == 0:
            return "0"
        exponent = min(-MIN_DECIMALS, value.adjusted() - SIGNIFICANT + 1)
        return fmt_decimal(value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN))


def readable(text: str) -> str:
    """`text` with every decimal longer than `EXACT_DECIMALS` decimals rounded for reading.

    Parameters
    ----------
    text:
        A formula or a reason as the evaluation document holds it.

    Returns
    -------
    str
        The same text; only numbers with more than `EXACT_DECIMALS` decimals differ.
    """
    return _LONG.sub(lambda match: round_number(Decimal(match.group(0))), text)
