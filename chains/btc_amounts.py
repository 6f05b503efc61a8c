"""Bitcoin amounts: the one place a number from a node's reply becomes exact satoshi.

Where it sits: the Bitcoin adapters (chains/bitcoin_core.py reads BTC decimals,
chains/bitcoin_bcoin.py reads satoshi integers) call `to_sats` on every amount a node
sends. Replies are parsed with `parse_float=Decimal` (chains/rpc.py), so no float ever
reaches here; one that does, or a bool, a string, a fraction of a satoshi, a negative
amount or more than 21 million BTC, is a `MalformedReply`, never a rounded number.
"""

from __future__ import annotations

from decimal import Decimal, DecimalException, localcontext
from typing import Literal

from chains.rpc import peek
from verifier.base.errors import MalformedReply

__all__ = ["COIN", "MAX_MONEY", "to_sats"]

COIN = 100_000_000
"""Satoshi per bitcoin."""
MAX_MONEY = 21_000_000 * COIN
"""Consensus ceiling on any amount (Core's MAX_MONEY)."""

_PRECISION = 60
"""Digits of the Decimal context: far above 21e6 BTC at 8 decimals, so scaling is exact."""


def to_sats(value: object, unit: Literal["btc", "sat"], what: str) -> int:
    """An amount from a JSON reply (Decimal or int) as exact satoshi.

    Parameters
    ----------
    value
        The decoded JSON number (`json.loads(..., parse_float=Decimal)`).
    unit
        "btc" (a decimal with up to 8 places, as Core answers) or "sat" (bcoin, Esplora).
    what
        What the number is, for the error message.

    Returns
    -------
    int
        Satoshi, 0 <= sats <= `MAX_MONEY`.

    Raises
    ------
    MalformedReply
        Not a number, negative, above 21 million BTC, or not a whole number of satoshi.
    """
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise MalformedReply(f"{what}: {peek(value)} is not a JSON number")
    shown = f"{value} {'BTC' if unit == 'btc' else 'sat'}"
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        try:
            sats = Decimal(value) * (COIN if unit == "btc" else 1)
        except DecimalException:  # an exponent beyond the context's range
            raise MalformedReply(f"{what}: {shown} is out of range") from None
        if not sats.is_finite() or sats != sats.to_integral_value():
            raise MalformedReply(f"{what}: {shown} is not a whole number of satoshi")
        # compare before int(): int(Decimal("1E+999999")) would build a million digits
        if not 0 <= sats <= MAX_MONEY:
            raise MalformedReply(f"{what}: {shown} is outside 0..21,000,000 BTC")
    return int(sats)
