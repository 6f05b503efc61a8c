"""BcoinAdapter against a real bcoin 1.0.2 regtest node (marker `node`).

One node per module carries a known history (tests/integration/bcoin_fixtures.py); the
balances the adapter reads at past heights must equal the ones counted from what was
sent. Tests that break the node (kill) start their own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import pytest

from chains.base import BlockRef, Chain
from chains.bitcoin_bcoin import BcoinAdapter, naive_balances, watch
from chains.nodes.bcoin import Bcoin
from verifier.base.errors import ChainError, NetworkMismatch, NodeUnavailable, StaleNode, TipMoved

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bcoin_fixtures import History, build_history, start_bcoin

pytestmark = pytest.mark.node
log = logging.getLogger("test_bcoin")


def assert_gone(node: Bcoin, pid: int) -> None:
    """The node's process group and temp directory no longer exist."""
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not node.datadir.exists()


@pytest.fixture(scope="module")
def history():
    node = start_bcoin()
    assert node.process is not None
    pid = node.process.pid
    try:
        yield build_history(node)
    finally:
        node.stop()
        assert_gone(node, pid)


def adapter_for(node: Bcoin, **kwargs) -> BcoinAdapter:
    return BcoinAdapter(node.url, network="regtest", authorization=node.authorization, **kwargs)


async def test_node_is_the_pinned_bcoin_with_core_prefixes(history: History):
    node = history.node
    assert node.rpc("getnetworkinfo")["subversion"] == "/bcoin:v1.0.2/"
    for address in (*history.addresses.values(), history.external):
        assert node.rpc("validateaddress", address)["isvalid"], address
    a = history.addresses
    assert a["legacy"][0] in "mn"
    assert a["nested"].startswith("2")
    assert a["native"].startswith("bcrt1q") and a["multisig"].startswith("bcrt1q")
    assert len(a["multisig"]) == 64  # bcoin would take it for a hash: queries send the hash


async def test_balances_at_past_heights_are_exact(history: History):
    labels = ["before", "h1", "h2", "gap", "h3", "h4", "tip"]
    addresses = list(history.addresses.values())
    async with adapter_for(history.node) as adapter:
        for label in labels:
            at = await adapter.block_at(history.heights[label])
            snapshot = await adapter.holdings(addresses, at)
            got = {b.address: b.units for b in snapshot.balances}
            want = {a: history.ledger.balance(a, at.height) for a in addresses}
            assert got == want, label
            assert snapshot.block == at
            assert all(b.asset == "BTC" for b in snapshot.balances)
    # the scenario really moved money both ways
    ledger, a, h = history.ledger, history.addresses, history.heights
    assert ledger.balance(a["legacy"], h["h3"]) > 0 == ledger.balance(a["legacy"], h["h4"])
    assert ledger.balance(a["multisig"], h["h2"]) == 230_000_000
    assert ledger.balance(a["multisig"], h["h3"]) == 230_000_000 - 150_005_000
    assert ledger.balance(a["native"], h["h3"]) == 12_345 + 150_000_000 - 2_845


async def test_same_key_p2pkh_and_p2wpkh_are_kept_apart(history: History):
    """bcoin indexes both under one hash160; the adapter matches outputs by script."""
    legacy, native = history.addresses["legacy"], history.addresses["native"]
    async with adapter_for(history.node) as adapter:
        at = await adapter.block_at(history.heights["h1"])
        alone = await adapter.holdings([native], at)
        both = await adapter.holdings([legacy, native], at)
    assert alone.balances[0].units == 12_345
    assert {b.address: b.units for b in both.balances} == {
        legacy: 124_456_789,
        native: 12_345,
    }


async def test_mempool_payments_and_spends_are_ignored(history: History):
    node, a = history.node, history.addresses
    async with adapter_for(history.node) as adapter:
        at = await adapter.tip()
        before = await adapter.holdings([a["late"], a["multisig"]], at)
        paid = history.wallet.pay({a["late"]: 90_000_000})
        spent = history.wallet.pay({history.external: 10_000_000}, source=a["multisig"])
        assert node.in_mempool(paid) and node.in_mempool(spent)
        late_history = node.rest(f"/tx/address/{watch(a['late']).key}")
        assert any(tx["hash"] == paid and tx["height"] == -1 for tx in late_history)
        after = await adapter.holdings([a["late"], a["multisig"]], await adapter.tip())
    assert after.block == at  # nothing mined
    assert after.balances == before.balances
    assert after.balances[0].units == history.ledger.balance(a["late"], at.height)


async def test_wrong_network_is_refused(history: History):
    async with BcoinAdapter(
        history.node.url, network="main", authorization=history.node.authorization
    ) as adapter:
        with pytest.raises(NetworkMismatch):
            await adapter.tip()
        with pytest.raises(NetworkMismatch):
            await adapter.block_at(1)
    async with adapter_for(history.node) as adapter:
        at = await adapter.tip()
        foreign = BlockRef(Chain.BITCOIN, "test", at.height, at.hash)
        with pytest.raises(NetworkMismatch):
            await adapter.holdings([history.addresses["legacy"]], foreign)


async def test_height_above_the_tip_is_a_stale_node(history: History):
    async with adapter_for(history.node) as adapter:
        tip = await adapter.tip()
        with pytest.raises(StaleNode):
            await adapter.block_at(tip.height + 5)
        ahead = BlockRef(Chain.BITCOIN, "regtest", tip.height + 5, "ab" * 32)
        with pytest.raises(StaleNode):
            await adapter.holdings([history.addresses["legacy"]], ahead)


async def test_reorg_between_pinning_and_reading_is_tip_moved(history: History):
    node = history.node
    async with adapter_for(node) as adapter:
        log.info("mine an empty block and pin it")
        history.wallet.mine(1, history.external)
        pinned = await adapter.tip()
        log.info("invalidate it and mine a longer competing branch")
        node.invalidate(pinned.hash)
        node.mine(2, history.external)
        replaced = await adapter.block_at(pinned.height)
        assert replaced.hash != pinned.hash
        with pytest.raises(TipMoved):
            await adapter.holdings(list(history.addresses.values()), pinned)
        # the new branch reads fine, and history below the fork is unchanged
        snapshot = await adapter.holdings([history.addresses["nested"]], replaced)
        assert snapshot.balances[0].units == history.ledger.balance(
            history.addresses["nested"], history.heights["tip"]
        )


async def test_reorg_during_the_reads_is_tip_moved(history: History):
    node = history.node
    async with adapter_for(node) as adapter:
        history.wallet.mine(1, history.external)
        pinned = await adapter.tip()
        real_post = adapter._http.post

        async def post_after_reorg(path, body):
            if path == "/tx/address":
                node.invalidate(pinned.hash)
                node.mine(2, history.external)
            return await real_post(path, body)

        adapter._http.post = post_after_reorg  # type: ignore[method-assign]
        with pytest.raises(TipMoved):
            await adapter.holdings([history.addresses["legacy"]], pinned)


async def test_many_addresses_take_few_requests(history: History):
    at_height = history.heights["many"]
    want = {a: history.ledger.balance(a, at_height) for a in history.many}
    assert sum(want.values()) == sum(10_000 + i for i in range(300))
    async with adapter_for(history.node) as adapter:
        at = await adapter.block_at(at_height)
        start = adapter.requests
        snapshot = await adapter.holdings(history.many, at)
        # pin check, two chunks of 200 addresses, pin check
        assert snapshot.requests == adapter.requests - start == 4
    assert {b.address: b.units for b in snapshot.balances} == want
    assert snapshot.total("BTC") == sum(want.values())

    balances, requests = await naive_balances(
        history.node.url, history.node.authorization, history.many, at_height
    )
    assert balances == want
    assert requests == 300


async def test_killed_node_is_node_unavailable_quickly():
    node = start_bcoin()
    assert node.process is not None
    pid = node.process.pid
    try:
        node.mine(3, "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn")
        async with adapter_for(node, timeout=2.0, retries=1) as adapter:
            at = await adapter.tip()
            real_post = adapter._http.post

            async def post_after_kill(path, body):
                if path == "/tx/address":
                    log.info("kill the node in the middle of the snapshot")
                    node.kill()
                return await real_post(path, body)

            adapter._http.post = post_after_kill  # type: ignore[method-assign]
            started = time.monotonic()
            with pytest.raises(ChainError) as caught:
                await asyncio.wait_for(
                    adapter.holdings(["mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn"], at), timeout=10
                )
            assert isinstance(caught.value, NodeUnavailable)
            assert time.monotonic() - started < 5
    finally:
        node.stop()
    assert_gone(node, pid)
