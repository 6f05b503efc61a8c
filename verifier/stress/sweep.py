"""The sweep: for each wallet and each vendor, the largest loss the reserve absorbs in full.

Where it sits: beside verifier/stress/engine.py, which it calls (`settle`) at the report's
prices with no other shock. For a wallet (every address under one por.toml key) or a vendor
(every wallet naming it), a loss of `k` steps takes ``floor(customer_units × k / N)`` of each
customer balance, where ``N`` is the largest of those balances in base units: step 1 is one
base unit of the largest balance, so the search is exact in its units. Whether customers are
made whole is monotone in `k` (a larger loss never leaves less uncovered), so a binary search
finds the largest `k` with nothing uncovered. One event, peril ``--peril`` (default hack).
Ranked weakest first: by the share absorbed, then by the value absorbed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from verifier.reconcile.numbers import EXACT, RATIO, unit_value
from verifier.stress.base import StressBase, WalletBase
from verifier.stress.engine import ONE_EVENT, Loss, Shocked, settle

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class SweepEntry:
    """One wallet or vendor and the largest loss of it that every customer survives."""

    key: str
    """The wallet's key in por.toml, or the vendor's id."""
    label: str
    """The wallet's label, or the vendor's name."""
    value: Decimal
    """Value of its customer backing at the report's prices."""
    absorbable_share: Decimal
    """The largest share lost with every customer made whole (rounded toward zero)."""
    absorbable_value: Decimal
    """The value of that loss."""
    fully_absorbed: bool
    """Losing all of it leaves every customer whole."""


@dataclass(frozen=True, slots=True)
class SweepResult:
    """The sweep: wallets and vendors, weakest first."""

    peril: str
    wallets: tuple[SweepEntry, ...]
    vendors: tuple[SweepEntry, ...]


def _losses(wallets: Sequence[WalletBase], k: int, n: int, peril: str) -> list[Loss]:
    out = []
    for w in wallets:
        for code, units in w.customer.items():
            taken = units * k // n
            if taken:
                out.append(
                    Loss(w, code, taken, taken, 0, Decimal(k) / Decimal(n), peril, ONE_EVENT)
                )
    return out


def _value(base: StressBase, losses: Sequence[Loss]) -> Decimal:
    total = ZERO
    with localcontext(EXACT):
        for loss in losses:
            a = base.asset(loss.asset)
            if a is not None and a.price is not None:
                total += unit_value(loss.customer_units, a.decimals, a.price)
    return total


def largest_absorbed(
    base: StressBase, wallets: Sequence[WalletBase], *, peril: str = "hack"
) -> tuple[int, int]:
    """(k, N): the largest step `k` of `N` whose loss leaves every customer whole."""
    n = max((u for w in wallets for u in w.customer.values()), default=0)
    if n == 0:
        return 0, 0
    market = Shocked({a.code: a.price for a in base.assets}, dict(base.fx))
    whole: Callable[[int], bool] = lambda k: all(  # noqa: E731 - one predicate, read once
        a.made_whole for a in settle(base, market, _losses(wallets, k, n, peril))[0]
    )
    if not whole(0):
        return 0, n  # short before any loss
    low, high = 0, n  # whole(low) holds; find the largest
    if whole(n):
        return n, n
    while high - low > 1:
        mid = (low + high) // 2
        if whole(mid):
            low = mid
        else:
            high = mid
    return low, n


def _entry(
    base: StressBase, key: str, label: str, wallets: Sequence[WalletBase], peril: str
) -> SweepEntry:
    k, n = largest_absorbed(base, wallets, peril=peril)
    full = _value(base, _losses(wallets, n, n, peril)) if n else ZERO
    with localcontext(RATIO):
        share = Decimal(k) / Decimal(n) if n else Decimal(1)
    return SweepEntry(
        key=key,
        label=label,
        value=full,
        absorbable_share=share,
        absorbable_value=_value(base, _losses(wallets, k, n, peril)) if n else ZERO,
        fully_absorbed=k == n,
    )


def _ranked(entries: list[SweepEntry]) -> tuple[SweepEntry, ...]:
    return tuple(sorted(entries, key=lambda e: (e.absorbable_share, e.absorbable_value, e.key)))


def sweep(base: StressBase, *, peril: str = "hack") -> SweepResult:
    """Every wallet holding customer backing and every vendor, weakest first."""
    groups: dict[str, list[WalletBase]] = {}
    vendors: dict[str, list[WalletBase]] = {}
    for w in base.wallets:
        if any(w.customer.values()):
            groups.setdefault(w.key, []).append(w)
            if w.vendor:
                vendors.setdefault(w.vendor, []).append(w)
    wallets = [_entry(base, key, ws[0].label, ws, peril) for key, ws in groups.items()]
    by_vendor = [
        _entry(base, vendor, ws[0].vendor_name or vendor, ws, peril)
        for vendor, ws in vendors.items()
    ]
    return SweepResult(peril=peril, wallets=_ranked(wallets), vendors=_ranked(by_vendor))
