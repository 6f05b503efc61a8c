"""Properties of the stress engine over generated bases (hypothesis).

- uncovered units are never negative, and a payer never pays more than it has;
- never netted: with no money payer, more holdings of asset B never change asset A's
  uncovered units; with money payers (cash, insurance and guarantees are shared by every
  asset, the one way assets meet), A's uncovered units lie between its gap and its gap less
  all the money paid (a larger surplus of B can change how much insurance pays, and so what
  reaches A, but never fills A's gap from B's coins);
- the uncovered value never falls when a loss grows (up to one base unit per asset and
  payer of rounding, as each buy-back floors to whole units);
- a per-occurrence limit holds per event, an aggregate one over the scenario.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stress_fixture import BTC, ETH, report, statement

from verifier.stress.base import StressBase, stress_base
from verifier.stress.engine import Loss, Shocked, settle

UNITS = st.integers(min_value=0, max_value=2000)


def make(
    btc_held: int, eth_held: int, limit_type: str = "per_occurrence", *, money: bool = True
) -> StressBase:
    b = stress_base(
        report(btc_held=(10 + btc_held) * BTC, eth_held=(100 + eth_held) * ETH),
        statement(limit_type),
        source="r",
    )
    return b if money else replace(b, cash=(), policies=(), guarantees=())


def losses(b: StressBase, shares: list[tuple[int, int]]) -> list[Loss]:
    """A loss of share n/1000 of wallet i, one event per wallet; a wallet hit twice loses at
    most what is left of it (a stand-in for settle: resolve_losses' own pro-rata rule is
    tested in tests/unit/test_stress_review.py)."""
    out = []
    left: dict[tuple[int, str], int] = {}
    for i, n in shares:
        w = b.wallets[i % len(b.wallets)]
        for code, units in w.customer.items():
            rest = left.setdefault((i % len(b.wallets), code), units)
            taken = min(rest, units * n // 1000)
            left[(i % len(b.wallets), code)] = rest - taken
            out.append(Loss(w, code, taken, taken, 0, Decimal(n) / 1000, "hack", f"e{i}"))
    return out


def run(b: StressBase, shares: list[tuple[int, int]]):  # type: ignore[no-untyped-def]
    market = Shocked({a.code: a.price for a in b.assets}, dict(b.fx))
    return settle(b, market, losses(b, shares))


SHARES = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1000)), max_size=4)


@settings(max_examples=150, deadline=None)
@given(UNITS, UNITS, SHARES, st.sampled_from(["aggregate", "per_occurrence"]))
def test_never_negative_never_overpaid_limits_held(
    btc: int, eth: int, shares: list[tuple[int, int]], limit_type: str
) -> None:
    b = make(btc, eth, limit_type)
    assets, payers, _ = run(b, shares)
    assert all(a.uncovered_units >= 0 and a.holdings_after >= 0 for a in assets)
    assert all(0 <= p.paid <= p.available for p in payers)
    for p in payers:
        if p.kind == "insurance":
            claims = [c for _, _, c in p.claims]
            assert all(0 <= c <= 20000 for c in claims)
            if limit_type == "aggregate":
                assert sum(claims) <= 20000


@settings(max_examples=150, deadline=None)
@given(UNITS, UNITS, st.integers(1, 500), SHARES, st.booleans())
def test_never_netted_across_assets(
    btc: int, eth: int, more: int, shares: list[tuple[int, int]], money: bool
) -> None:
    """BTC's surplus never fills ETH's gap: with no money payer, more BTC held leaves ETH's
    uncovered units exactly as they were; with money payers (cash, insurance, guarantees:
    the one way assets meet), ETH never ends worse than its gap before any money, nor
    better than that gap less all the money paid, bought at ETH's price."""
    before = {a.code: a for a in run(make(btc, eth, money=money), shares)[0]}
    assets, payers, _ = run(make(btc + more, eth, money=money), shares)
    after = {a.code: a for a in assets}
    eth_after = after["ETH"]
    if not money:
        assert eth_after.uncovered_units == before["ETH"].uncovered_units
        return
    gap = max(0, eth_after.liabilities - (eth_after.holdings_before - eth_after.loss_units))
    spent = sum((p.paid for p in payers if p.kind != "surplus"), Decimal(0))
    assert eth_after.uncovered_units <= gap
    assert eth_after.paid_units * Decimal(100) <= spent * ETH


@settings(max_examples=150, deadline=None)
@given(UNITS, UNITS, st.integers(0, 3), st.integers(0, 1000), st.integers(0, 1000), SHARES)
def test_uncovered_value_never_falls_when_the_loss_grows(
    btc: int, eth: int, wallet: int, small: int, extra: int, rest: list[tuple[int, int]]
) -> None:
    b = make(btc, eth)
    big = min(1000, small + extra)

    def uncovered(n: int) -> Decimal:
        assets = run(b, [(wallet, n), *rest])[0]
        return sum((a.value(a.uncovered_units) or Decimal(0) for a in assets), Decimal(0))

    # each money payer's buy-back floors to whole units: one base unit per asset per payer
    # (BTC 1e-8 × 1,000 + ETH 1e-18 × 100, three payers)
    slack = 3 * (Decimal("0.00001") + Decimal("1e-16"))
    assert uncovered(big) >= uncovered(small) - slack
