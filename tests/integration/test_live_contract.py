"""The adapter contract suite (tests/contract/suite.py) on the real local nodes.

The same tests that run against the recorded Core and Esplora replies run here against a
live bcoin regtest node and a live anvil node.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "contract"))

from bcoin_fixtures import start_bcoin
from eth_fixtures import holder, start_anvil
from suite import AdapterContract, Scenario

from chains.base import BlockRef, Chain, ChainAdapter
from chains.bitcoin_bcoin import BcoinAdapter
from chains.ethereum import EthereumAdapter
from chains.nodes.anvil import Anvil
from chains.nodes.bcoin import Bcoin, RegtestWallet

pytestmark = pytest.mark.node


@pytest.fixture(scope="module")
def bcoin_world() -> Iterator[tuple[Bcoin, Scenario]]:
    node = start_bcoin()
    try:
        wallet = RegtestWallet(node)
        wallet.mine(440)
        addresses = [
            wallet.new_address(k) for k in ("p2pkh", "p2sh-p2wpkh", "p2wpkh", "p2wsh-2of3")
        ]
        wallet.pay({a: 10_000 * (i + 1) for i, a in enumerate(addresses)})
        wallet.mine(1)
        height = node.height()
        pinned = BlockRef(Chain.BITCOIN, "regtest", height, node.block_hash(height))
        wallet.pay({addresses[0]: 1})  # after the pinned block: not counted
        wallet.mine(1)
        empty = wallet.new_address("p2wpkh")
        expected = {a: 10_000 * (i + 1) for i, a in enumerate(addresses)} | {empty: 0}
        yield node, Scenario(network="regtest", pinned=pinned, expected=expected)
    finally:
        node.stop()


class TestBcoinLive(AdapterContract):
    @pytest.fixture
    def scenario(self, bcoin_world: tuple[Bcoin, Scenario]) -> Scenario:
        return bcoin_world[1]

    @pytest.fixture
    def make_adapter(self, bcoin_world: tuple[Bcoin, Scenario]) -> Callable[..., ChainAdapter]:
        node = bcoin_world[0]

        def make(url: str | None = None, network: str | None = None) -> ChainAdapter:
            return BcoinAdapter(
                url or node.url,
                network=network or "regtest",
                authorization=node.authorization,
                timeout=3,
                retries=1,
            )

        return make


@pytest.fixture(scope="module")
def anvil_world() -> Iterator[tuple[Anvil, Scenario]]:
    node = start_anvil()
    try:
        holders = [holder(50_000 + i) for i in range(5)]
        for i, h in enumerate(holders[:4]):
            node.set_balance(h, 10**18 * (i + 1) + i)
        number = node.mine(2)
        pinned = BlockRef(
            Chain.ETHEREUM, "31337", number, node.block_hash(number).removeprefix("0x")
        )
        # after the pinned block (anvil_setBalance edits the newest block's state: mine first)
        node.mine(1)
        node.set_balance(holders[0], 1)
        node.mine(1)
        expected = {h: (10**18 * (i + 1) + i if i < 4 else 0) for i, h in enumerate(holders)}
        yield node, Scenario(network="31337", pinned=pinned, expected=expected)
    finally:
        node.stop()


class TestAnvilLive(AdapterContract):
    @pytest.fixture
    def scenario(self, anvil_world: tuple[Anvil, Scenario]) -> Scenario:
        return anvil_world[1]

    @pytest.fixture
    def wrong_network(self) -> str:
        return "1"

    @pytest.fixture
    def make_adapter(self, anvil_world: tuple[Anvil, Scenario]) -> Callable[..., Any]:
        node = anvil_world[0]

        def make(url: str | None = None, network: str | None = None) -> ChainAdapter:
            return EthereumAdapter(
                url or node.url, int(network or "31337"), timeout=3, retries=1, backoff=0.05
            )

        return make
