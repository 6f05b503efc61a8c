"""A known Bitcoin history on a real bcoin regtest node, and the balances it must give.

Used by tests/integration/test_bcoin.py. `build_history` mines past segwit activation, then
pays and spends between P2PKH, P2SH-P2WPKH, P2WPKH and P2WSH (2-of-3) addresses at known
heights. `Ledger` records every balance change from the amounts and fees the test chose
— never from the node — so the adapter's answers are checked against an independent count.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest

from chains.nodes.base import NodeMissing
from chains.nodes.bcoin import SEGWIT_ACTIVE_HEIGHT, Bcoin, RegtestWallet

log = logging.getLogger("bcoin-history")

COIN = 100_000_000


def start_bcoin() -> Bcoin:
    """A started node; outside CI a missing node/bcoin skips, under CI it fails."""
    try:
        return Bcoin().start()
    except NodeMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"bcoin is required under CI: {exc}")
        pytest.skip(f"bcoin is not installed: {exc}")


@dataclass
class Ledger:
    """Balance changes per address and height, from what the test sent."""

    tracked: set[str] = field(default_factory=set)
    changes: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    pending: list[tuple[str, int]] = field(default_factory=list)

    def track(self, *addresses: str) -> None:
        self.tracked.update(addresses)

    def sent(self, outputs: Mapping[str, int], source: str | None, fee: int) -> None:
        """A payment is in the mempool: its changes apply at the next mined block."""
        for address, amount in outputs.items():
            if address in self.tracked:
                self.pending.append((address, amount))
        if source is not None and source in self.tracked:
            self.pending.append((source, -(sum(outputs.values()) + fee)))

    def mined(self, height: int) -> None:
        for address, delta in self.pending:
            self.changes.setdefault(address, []).append((height, delta))
        self.pending.clear()

    def balance(self, address: str, height: int) -> int:
        return sum(delta for h, delta in self.changes.get(address, []) if h <= height)


@dataclass
class History:
    node: Bcoin
    wallet: RegtestWallet
    ledger: Ledger
    addresses: dict[str, str]
    """Label → address: legacy, nested, native, multisig, late."""
    heights: dict[str, int]
    """Label → height of interesting blocks (before, h1, h2, gap, h3, h4, many, tip)."""
    many: list[str]
    """300 P2WPKH addresses funded in block `many`."""
    external: str

    def send(
        self, outputs: Mapping[str, int], *, source: str | None = None, fee: int = 10_000
    ) -> str:
        txid = self.wallet.pay(outputs, source=source, fee=fee)
        self.ledger.sent(outputs, source, fee)
        return txid

    def mine(self, blocks: int = 1) -> int:
        self.wallet.mine(blocks)
        height = self.node.height()
        self.ledger.mined(height)
        return height


def build_history(node: Bcoin) -> History:
    wallet = RegtestWallet(node)
    ledger = Ledger()
    legacy = wallet.new_address("p2pkh")
    addresses = {
        "legacy": legacy,
        "nested": wallet.new_address("p2sh-p2wpkh"),
        # the same key as `legacy`: bcoin's index files both under one hash160
        "native": wallet.new_address("p2wpkh", same_key_as=legacy),
        "multisig": wallet.new_address("p2wsh-2of3"),
        "late": wallet.new_address("p2wpkh"),
    }
    many = [wallet.new_address("p2wpkh") for _ in range(300)]
    ledger.track(*addresses.values(), *many)
    history = History(node, wallet, ledger, addresses, {}, many, wallet.new_address("p2pkh"))
    a = addresses

    log.info("mine past segwit activation (block %d) and coinbase maturity", SEGWIT_ACTIVE_HEIGHT)
    history.heights["before"] = history.mine(SEGWIT_ACTIVE_HEIGHT + 8)

    log.info("h1: the miner pays each kind of address; legacy receives twice")
    history.send(
        {
            a["legacy"]: 123_456_789,
            a["nested"]: 50_000_000,
            a["native"]: 12_345,
            a["multisig"]: 2 * COIN,
        }
    )
    history.send({a["legacy"]: 1_000_000}, fee=7_777)
    history.heights["h1"] = history.mine()

    log.info("h2: nested and legacy spend (change comes back), late receives")
    history.send({history.external: 20_000_000}, source=a["nested"], fee=1_000)
    history.send({a["multisig"]: 30_000_000}, source=a["legacy"], fee=2_345)
    history.send({a["late"]: 7_000_000})
    history.heights["h2"] = history.mine()
    history.heights["gap"] = history.mine(2)

    log.info("h3: the 2-of-3 multisig pays native; native spends its own coin")
    history.send({a["native"]: 150_000_000}, source=a["multisig"], fee=5_000)
    history.send({a["legacy"]: 2_345}, source=a["native"], fee=500)
    history.heights["h3"] = history.mine()

    log.info("h4: legacy sweeps everything it has to an outside address")
    fee = 3_000
    left = ledger.balance(a["legacy"], history.heights["h3"])
    history.send({history.external: left - fee}, source=a["legacy"], fee=fee)
    history.heights["h4"] = history.mine()

    log.info("many: one transaction pays 300 P2WPKH addresses")
    history.send({address: 10_000 + i for i, address in enumerate(many)}, fee=60_000)
    history.heights["many"] = history.mine()
    history.heights["tip"] = history.mine()
    return history
