"""A known Ethereum history on a real anvil node, and the balances it must give.

Used by tests/integration/test_ethereum.py. `build_world` deploys two TestTokens (USDT with
6 decimals, DAI with 18) and a Wallet1271, funds 250 receive-only holder addresses with ETH
and tokens at known amounts, pins block `past`, then changes some balances in later blocks.
`Ledger` records every balance from the amounts the test chose — never from the node — so
the adapter's answers are checked against an independent count.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from chains.base import Token
from chains.nodes.anvil import Anvil
from chains.nodes.base import NodeMissing
from chains.nodes.solc import Artifact, load_artifact

log = logging.getLogger("eth-history")

ETHER = 10**18
HOLDERS = 250


def start_anvil(chain_id: int = 31337) -> Anvil:
    """A started node; outside CI a missing anvil skips, under CI it fails."""
    try:
        return Anvil(chain_id=chain_id, rpc_timeout=5.0).start()
    except NodeMissing as exc:
        if os.environ.get("CI"):
            pytest.fail(f"anvil is required under CI: {exc}")
        pytest.skip(f"anvil is not installed: {exc}")


def holder(i: int) -> str:
    """The i-th receive-only test address (nobody holds its key)."""
    return to_checksum_address(keccak(text=f"por holder {i}")[:20])


def key(name: str) -> LocalAccount:
    """A deterministic local key (for signatures; the node never sees it)."""
    return Account.from_key(keccak(text=f"por key {name}"))


@dataclass
class Ledger:
    """Expected balances per (address, asset), as the test set them."""

    units: dict[tuple[str, str], int] = field(default_factory=dict)

    def add(self, address: str, asset: str, units: int) -> None:
        k = (address.lower(), asset)
        self.units[k] = self.units.get(k, 0) + units

    def set(self, address: str, asset: str, units: int) -> None:
        self.units[(address.lower(), asset)] = units

    def get(self, address: str, asset: str) -> int:
        return self.units.get((address.lower(), asset), 0)

    def copy(self) -> Ledger:
        return Ledger(dict(self.units))


@dataclass
class World:
    node: Anvil
    token: Artifact
    wallet_artifact: Artifact
    usdt: Token
    dai: Token
    wallet: str
    """The Wallet1271 contract (owned by `owner`)."""
    owner: LocalAccount
    deployer: str
    holders: list[str]
    heights: dict[str, int]
    """before_wallet (a block before the wallet existed), past, tip."""
    hashes: dict[str, str]
    at: dict[str, Ledger]
    """Expected balances at "past" and at "tip"."""

    @property
    def tokens(self) -> list[Token]:
        return [self.usdt, self.dai]

    @property
    def accounts(self) -> list[str]:
        """Holders, the wallet, and a never-used address."""
        return [*self.holders, self.wallet, holder(10_000)]


def build_world(node: Anvil) -> World:
    """Deploy, fund and move balances; return what every balance must be where."""
    token = load_artifact("TestToken")
    wallet_artifact = load_artifact("Wallet1271")
    dev = node.accounts()
    deployer = dev[0]
    owner = key("wallet owner")
    holders = [holder(i) for i in range(HOLDERS)]
    ledger = Ledger()

    log.info("deploy USDT (6 decimals), DAI (18 decimals) and a Wallet1271")
    usdt = Token("USDT", 6, node.deploy(token, "Tether USD", "USDT", 6, sender=deployer))
    dai = Token("DAI", 18, node.deploy(token, "Dai Stablecoin", "DAI", 18, sender=deployer))
    before_wallet = node.block_number()
    wallet = node.deploy(wallet_artifact, owner.address, sender=deployer)

    log.info("mint USDT to all %d holders, DAI to the first 60 (one block each)", HOLDERS)
    usdt_amounts = [i * 1_000_000 + 1 for i in range(HOLDERS)]
    node.transact(usdt.contract or "", token, "mint", holders, usdt_amounts, sender=deployer)
    for h, units in zip(holders, usdt_amounts, strict=True):
        ledger.add(h, "USDT", units)
    dai_amounts = [(i + 1) * ETHER + 7 for i in range(60)]
    node.transact(dai.contract or "", token, "mint", holders[:60], dai_amounts, sender=deployer)
    for h, units in zip(holders[:60], dai_amounts, strict=True):
        ledger.add(h, "DAI", units)

    log.info("ETH to the first 40 holders (anvil_setBalance, then a block)")
    for i, h in enumerate(holders[:40]):
        units = (i + 1) * ETHER // 3
        node.set_balance(h, units)
        ledger.set(h, "ETH", units)
    node.mine()
    log.info("fund the contract wallet: 5 ETH and 123.456789 USDT")
    node.transfer_eth(dev[1], wallet, 5 * ETHER)
    ledger.add(wallet, "ETH", 5 * ETHER)
    node.transact(usdt.contract or "", token, "mint", [wallet], [123_456_789], sender=deployer)
    ledger.add(wallet, "USDT", 123_456_789)
    node.mine(3)
    past = node.block_number()
    at_past = ledger.copy()

    log.info("after the pinned block: move ETH and tokens of holders 0 and 1")
    node.transfer_eth(dev[2], holders[0], 1)  # one wei: exactness to the wei
    ledger.add(holders[0], "ETH", 1)
    node.transact(usdt.contract or "", token, "mint", [holders[1]], [5], sender=deployer)
    ledger.add(holders[1], "USDT", 5)
    node.transact(dai.contract or "", token, "mint", [holders[0]], [ETHER], sender=deployer)
    ledger.add(holders[0], "DAI", ETHER)
    tip = node.mine(2)
    return World(
        node=node,
        token=token,
        wallet_artifact=wallet_artifact,
        usdt=usdt,
        dai=dai,
        wallet=wallet,
        owner=owner,
        deployer=deployer,
        holders=holders,
        heights={"before_wallet": before_wallet, "past": past, "tip": tip},
        hashes={name: node.block_hash(h) for name, h in (("past", past), ("tip", tip))},
        at={"past": at_past, "tip": ledger},
    )


def small_world(node: Anvil) -> tuple[Token, list[str]]:
    """A token and 30 funded holders on a fresh node (for tests that break the node)."""
    token = load_artifact("TestToken")
    usdt = Token("USDT", 6, node.deploy(token, "Tether USD", "USDT", 6))
    holders = [holder(i) for i in range(30)]
    node.transact(usdt.contract or "", token, "mint", holders, [7] * len(holders))
    node.mine(3)
    return usdt, holders
