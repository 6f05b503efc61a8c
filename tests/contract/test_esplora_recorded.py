"""`EsploraAdapter` against synthetic Esplora replies (fixtures/recorded/esplora/).

The adapter contract (suite.py) plus what is particular to Esplora: the network is known by
its genesis hash, a balance at a past block is rebuilt from the whole paged history (newest
first, 25 per page), unconfirmed transactions do not count, and the pinned block must still
be at its height after the scan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import pytest
from recorded import ESPLORA_DIR, EsploraReplay, fast, load_scenario
from suite import AdapterContract, Scenario

from chains.btc_wallets import AddressWallet, MultisigWallet, ScriptType, XpubWallet
from chains.esplora import GENESIS, EsploraAdapter, naive_balances
from verifier.base.errors import MalformedReply, NetworkMismatch, StaleNode, TipMoved

SCENARIO = load_scenario(ESPLORA_DIR / "regtest-160.json")
WALLETS = SCENARIO.extra["wallets"]
A, B, C, D, E = SCENARIO.addresses


def factory(url: str) -> Callable[..., EsploraAdapter]:
    def make_adapter(
        url_: str | None = None, network: str | None = None, **extra: Any
    ) -> EsploraAdapter:
        return EsploraAdapter(url_ or url, network=network or SCENARIO.network, **fast(**extra))

    def keywords(url: str | None = None, network: str | None = None, **extra: Any) -> Any:
        return make_adapter(url, network, **extra)

    return keywords


@pytest.fixture
async def server() -> AsyncIterator[tuple[EsploraReplay, Any]]:
    replay = EsploraReplay()
    async with replay.running():
        yield replay, factory(replay.url)


def staged(name: str, *variants: str) -> Any:
    """A fixture `name`: the replay server with these variant files, and an adapter factory."""

    @pytest.fixture(name=name)
    async def fixture() -> AsyncIterator[tuple[EsploraReplay, Any]]:
        replay = EsploraReplay(*variants)
        async with replay.running():
            yield replay, factory(replay.url)

    return fixture


class TestEsploraRecorded(AdapterContract):
    @pytest.fixture
    def scenario(self) -> Scenario:
        return SCENARIO

    @pytest.fixture
    def make_adapter(self, server: tuple[EsploraReplay, Any]) -> Any:
        return server[1]


# ---------------------------------------------------------------------- histories


async def test_a_three_page_history_is_read_to_its_end(server: tuple[EsploraReplay, Any]) -> None:
    replay, make = server
    async with make() as adapter:
        snapshot = await adapter.holdings([A], SCENARIO.pinned)
    assert snapshot.balances[0].units == SCENARIO.expected[A]
    pages = [c for c in replay.calls if c.startswith(f"/address/{A}/txs/chain")]
    assert len(pages) == SCENARIO.extra["pages"][A] == 3
    # the second and third pages continue after the last txid seen
    assert pages[0] == f"/address/{A}/txs/chain"
    assert all(len(p.rsplit("/", 1)[1]) == 64 for p in pages[1:])
    assert snapshot.method == "address history"


async def test_payments_and_spends_after_the_pinned_block_do_not_count(
    server: tuple[EsploraReplay, Any],
) -> None:
    _, make = server
    async with make() as adapter:
        at_150 = await adapter.holdings([A, B], SCENARIO.pinned)
        at_tip = await adapter.holdings([A, B], await adapter.tip())
    held = {b.address: b.units for b in at_150.balances}
    assert held == {A: SCENARIO.expected[A], B: SCENARIO.expected[B]}
    # B's coins were spent at 155: held at 150, partly gone at the tip
    assert {b.address: b.units for b in at_tip.balances}[B] < held[B]
    assert {b.address: b.units for b in at_tip.balances}[A] == SCENARIO.extra["naive_expected"][A]


async def test_request_count_is_pin_checks_plus_pages(server: tuple[EsploraReplay, Any]) -> None:
    _, make = server
    async with make() as adapter:
        snapshot = await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)
    # genesis check, pin check before and after, then one page per address (A has 3)
    assert snapshot.requests == 1 + 2 + len(SCENARIO.addresses) + 2


unconfirmed = staged("unconfirmed", "unconfirmed")


async def test_unconfirmed_transactions_do_not_count(unconfirmed: Any) -> None:
    _, make = unconfirmed
    async with make() as adapter:
        snapshot = await adapter.holdings([B], SCENARIO.pinned)
    assert snapshot.balances[0].units == SCENARIO.expected[B]


reorg = staged("reorg", "reorg-during-scan")


async def test_a_reorg_during_the_scan_is_tip_moved(reorg: Any) -> None:
    _, make = reorg
    async with make() as adapter:
        with pytest.raises(TipMoved, match="after the scan"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)


other_block = staged("other_block", "tx-in-other-block")


async def test_a_tx_in_another_block_at_the_pinned_height_is_tip_moved(other_block: Any) -> None:
    _, make = other_block
    async with make() as adapter:
        with pytest.raises(TipMoved, match="not the pinned"):
            await adapter.holdings([C], SCENARIO.pinned)


overspent = staged("overspent", "overspent")


async def test_a_history_that_spends_more_than_it_got_is_malformed(overspent: Any) -> None:
    _, make = overspent
    async with make() as adapter:
        with pytest.raises(MalformedReply, match="inconsistent"):
            await adapter.holdings([D], SCENARIO.pinned)


fractional = staged("fractional", "fractional-value")


async def test_a_value_with_a_fraction_is_malformed(fractional: Any) -> None:
    _, make = fractional
    async with make() as adapter:
        with pytest.raises(MalformedReply, match="satoshi"):
            await adapter.holdings([B], SCENARIO.pinned)


# ---------------------------------------------------------------------- blocks and network


async def test_the_pinned_block_above_the_tip_is_stale(server: tuple[EsploraReplay, Any]) -> None:
    _, make = server
    future = replace(SCENARIO.pinned, height=500)
    async with make() as adapter:
        with pytest.raises(StaleNode, match="height 160"):
            await adapter.holdings([A], future)


mainnet = staged("mainnet", "mainnet")


async def test_a_mainnet_server_is_named_in_the_mismatch(mainnet: Any) -> None:
    replay, make = mainnet
    async with make() as adapter:
        with pytest.raises(NetworkMismatch, match="serves main"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)
    assert not any(c.startswith("/address/") for c in replay.calls)


def test_genesis_hashes_are_distinct_and_regtest_is_cores() -> None:
    assert len(set(GENESIS.values())) == len(GENESIS)
    assert GENESIS["regtest"] == "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206"


# ---------------------------------------------------------------------- wallets


async def test_wallets_are_discovered_to_the_gap_limit(server: tuple[EsploraReplay, Any]) -> None:
    replay, make = server
    wallets = [
        AddressWallet("listed", "regtest", tuple(WALLETS["listed"])),
        MultisigWallet("vault", "regtest", 2, tuple(WALLETS["vault_keys"]), ScriptType.P2WSH),
        XpubWallet("hot", "regtest", WALLETS["hot_xpub"], ScriptType.P2WPKH, WALLETS["hot_path"]),
    ]
    async with make() as adapter:
        snapshot = await adapter.wallet_holdings(wallets, SCENARIO.pinned)
    assert {b.address: b.units for b in snapshot.balances} == WALLETS["expected"]
    stats = [c for c in replay.calls if c.count("/") == 2 and c.startswith("/address/")]
    # receive: used 0 and 3 -> 0..19 then 20..39 checked; change: used 1 -> 0..19 then 20..39
    assert len(stats) == 80


# ---------------------------------------------------------------------- benchmark baseline


async def test_naive_balances_is_one_request_per_address(
    server: tuple[EsploraReplay, Any],
) -> None:
    replay, _ = server
    balances, requests = await naive_balances(replay.url, SCENARIO.addresses, network="regtest")
    assert balances == SCENARIO.extra["naive_expected"]
    assert requests == len(SCENARIO.addresses)
