"""The sweep on the hand-made base (tests/unit/stress_fixture.py): each wallet's and vendor's
largest loss absorbed in full, exact in base units, weakest first."""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stress_fixture import ETH, base

from verifier.stress.engine import Shocked, settle
from verifier.stress.sweep import _losses, largest_absorbed, sweep


def test_wallets_ranked_weakest_first_with_hand_figures() -> None:
    s = sweep(base())
    keys = [e.key for e in s.wallets]
    assert keys == [
        "ethereum.wallets[0]",
        "bitcoin.wallets[0]",
        "bitcoin.wallets[1]",
        "ethereum.wallets[1]",
    ]
    cold_eth, cold_btc = s.wallets[0], s.wallets[1]
    # cold ETH: cash 5,000 + insurance 20,000 + guarantee 10,000 = 35,000 = 350 of 900 ETH
    assert cold_eth.absorbable_value == 35000 and not cold_eth.fully_absorbed
    assert cold_eth.absorbable_share == Decimal("0.3888888888888888888888888888")
    # cold BTC: its own 10 BTC surplus first, then 35,000 buys 35 BTC: 45 of 100 BTC
    assert cold_btc.absorbable_value == 45000 and cold_btc.absorbable_share == Decimal("0.45")
    assert all(e.fully_absorbed for e in s.wallets[2:])


def test_vendor_signco_search_is_exact_in_units() -> None:
    b = base()
    wallets = [w for w in b.wallets if w.vendor == "signco"]
    k, n = largest_absorbed(b, wallets)
    assert n == 900 * ETH
    market = Shocked({a.code: a.price for a in b.assets}, dict(b.fx))

    def whole(step: int) -> bool:
        return all(a.made_whole for a in settle(b, market, _losses(wallets, step, n, "hack"))[0])

    assert whole(k) and not whole(k + 1)
    # the loss 190,000·s − 10,000 (BTC surplus) meets 35,000 at s = 45/190 (less the
    # rounding of one satoshi bought back: each buy-back floors to whole base units)
    assert abs(Decimal(k) / Decimal(n) - Decimal(45) / Decimal(190)) < Decimal("1e-9")
    s = sweep(b)
    assert [v.key for v in s.vendors] == ["signco", "vaultsoft"]
    assert s.vendors[1].fully_absorbed and not s.vendors[0].fully_absorbed


def test_excluded_peril_weakens_every_wallet() -> None:
    hack, insider = sweep(base()), sweep(base(), peril="insider")
    for a, b in zip(hack.wallets, insider.wallets, strict=True):
        assert b.absorbable_value <= a.absorbable_value
    assert insider.wallets[0].absorbable_value == 15000  # cash + guarantee only
