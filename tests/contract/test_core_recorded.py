"""`CoreAdapter` against synthetic Bitcoin Core replies (fixtures/recorded/core/).

The adapter contract (suite.py) plus what is particular to Core: the node's tip must be the
pinned block (the UTXO set exists only there), `scantxoutset` amounts in BTC become exact
satoshi, its height/bestblock must be the pinned block, one scan at a time, cookie auth.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from recorded import CORE_DIR, CoreReplay, fast, load_scenario
from suite import AdapterContract, Scenario

from chains.bitcoin_core import (
    CoreAdapter,
    ScanAborted,
    ScanInProgress,
    btc_to_sats,
    naive_balances,
)
from chains.btc_wallets import AddressWallet, MultisigWallet, ScriptType, XpubWallet
from chains.rpc import basic_auth
from verifier.base.errors import (
    InputError,
    MalformedReply,
    NetworkMismatch,
    NodeUnavailable,
    StaleNode,
    TipMoved,
)

SCENARIO = load_scenario(CORE_DIR / "regtest-150.json")
WALLETS = SCENARIO.extra["wallets"]


@pytest.fixture
def cookie_file(tmp_path: Path) -> Path:
    path = tmp_path / ".cookie"
    path.write_text(CoreReplay().cookie + "\n", encoding="utf-8")
    return path


def factory(url: str, cookie_file: Path) -> Callable[..., CoreAdapter]:
    def make(*, url_: str | None = None, network: str | None = None, **extra: Any) -> CoreAdapter:
        return CoreAdapter(
            url_ or url,
            network=network or SCENARIO.network,
            cookie_file=cookie_file,
            **fast(**extra),
        )

    def make_adapter(
        url: str | None = None, network: str | None = None, **extra: Any
    ) -> CoreAdapter:
        return make(url_=url, network=network, **extra)

    return make_adapter


@pytest.fixture
async def node(cookie_file: Path) -> AsyncIterator[tuple[CoreReplay, Any]]:
    """The replay server with the base replies, and an adapter factory for it."""
    server = CoreReplay()
    async with server.running():
        yield server, factory(server.url, cookie_file)


def staged(name: str, *variants: str) -> Any:
    """A fixture `name`: the replay server with these variant files, and an adapter factory."""

    @pytest.fixture(name=name)
    async def fixture(cookie_file: Path) -> AsyncIterator[tuple[CoreReplay, Any]]:
        server = CoreReplay(*variants)
        async with server.running():
            yield server, factory(server.url, cookie_file)

    return fixture


class TestCoreRecorded(AdapterContract):
    @pytest.fixture
    def scenario(self) -> Scenario:
        return SCENARIO

    @pytest.fixture
    def make_adapter(self, node: tuple[CoreReplay, Any]) -> Any:
        return node[1]


# ---------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("value", "sats"),
    [
        (Decimal("0.00000001"), 1),
        (Decimal("1.50000000"), 150_000_000),
        (Decimal("0.29"), 29_000_000),  # int(0.29 * 1e8) == 28_999_999 with floats
        (Decimal("20999999.97690000"), 2_099_999_997_690_000),
        (Decimal("1E-8"), 1),
        (50, 5_000_000_000),
        (Decimal("0E-8"), 0),
    ],
)
def test_btc_amounts_become_exact_satoshi(value: Any, sats: int) -> None:
    assert btc_to_sats(value, "amount") == sats


@pytest.mark.parametrize(
    "value",
    [
        Decimal("0.000000015"),
        Decimal("-0.00000001"),
        Decimal("21000000.00000001"),
        Decimal("NaN"),
        Decimal("1E+999999"),
        Decimal("1E+999999999"),
        0.5,
        "1.0",
        True,
        None,
    ],
)
def test_bad_amounts_are_malformed(value: Any) -> None:
    with pytest.raises(MalformedReply):
        btc_to_sats(value, "amount")


# ---------------------------------------------------------------------- holdings


async def test_holdings_is_one_scan_of_addr_descriptors(node: tuple[CoreReplay, Any]) -> None:
    server, make = node
    async with make() as adapter:
        snapshot = await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)
    assert snapshot.method == "scantxoutset"
    assert snapshot.total("BTC") == sum(SCENARIO.expected.values())
    scans = [m for m in server.methods if m == "scantxoutset"]
    assert scans == ["scantxoutset"]
    assert server.calls[-1].startswith('["scantxoutset",["start",["addr(bcrt1q')
    # getblockchaininfo, the pin check (a batch of 2), the scan: 3 HTTP requests
    assert snapshot.requests == 3


async def test_duplicate_addresses_are_read_once(node: tuple[CoreReplay, Any]) -> None:
    _, make = node
    async with make() as adapter:
        snapshot = await adapter.holdings(
            SCENARIO.addresses + SCENARIO.addresses[:1], SCENARIO.pinned
        )
    assert [b.address for b in snapshot.balances] == SCENARIO.addresses


async def test_an_address_of_another_network_is_an_input_error(
    node: tuple[CoreReplay, Any],
) -> None:
    _, make = node
    async with make() as adapter:
        with pytest.raises(InputError, match=r"addresses\[1\]"):
            await adapter.holdings(
                [SCENARIO.addresses[0], "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"],
                SCENARIO.pinned,
            )


tip_moved = staged("tip_moved", "tip-moved-during-scan")


async def test_a_block_arriving_during_the_scan_is_tip_moved(tip_moved: Any) -> None:
    _, make = tip_moved
    async with make() as adapter:
        with pytest.raises(TipMoved, match="during the scan"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)


past_pinned = staged("past_pinned", "past-pinned")


async def test_a_node_past_the_pinned_block_is_refused_with_advice(past_pinned: Any) -> None:
    _, make = past_pinned
    async with make() as adapter:
        with pytest.raises(StaleNode, match="invalidateblock") as caught:
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)
    assert "UTXO set" in str(caught.value)
    assert "block 151" in str(caught.value)


below_pinned = staged("below_pinned", "below-pinned")


async def test_a_node_below_the_pinned_block_is_stale(below_pinned: Any) -> None:
    _, make = below_pinned
    async with make() as adapter:
        with pytest.raises(StaleNode, match="below the pinned block"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)
        with pytest.raises(StaleNode, match="height 140"):
            await adapter.block_at(SCENARIO.pinned.height)


fractional = staged("fractional", "fractional-satoshi")


async def test_a_fractional_satoshi_is_malformed(fractional: Any) -> None:
    _, make = fractional
    async with make() as adapter:
        with pytest.raises(MalformedReply, match="whole number of satoshi"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)


wrong_total = staged("wrong_total", "wrong-total")


async def test_a_total_that_is_not_the_sum_is_malformed(wrong_total: Any) -> None:
    _, make = wrong_total
    async with make() as adapter:
        with pytest.raises(MalformedReply, match="total_amount"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)


foreign = staged("foreign", "foreign-script")


async def test_an_output_nobody_asked_for_is_malformed(foreign: Any) -> None:
    _, make = foreign
    async with make() as adapter:
        with pytest.raises(MalformedReply, match="not asked for"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)


aborted = staged("aborted", "aborted")


async def test_an_aborted_scan_is_an_error(aborted: Any) -> None:
    _, make = aborted
    async with make() as adapter:
        with pytest.raises(ScanAborted):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)


in_progress = staged("in_progress", "scan-in-progress")


async def test_a_scan_already_running_is_a_clear_error(in_progress: Any) -> None:
    server, make = in_progress
    async with make() as adapter:
        with pytest.raises(ScanInProgress, match="scantxoutset abort") as caught:
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)
    assert caught.value.code == -8
    # never retried: a second start would only meet the same running scan
    assert server.methods.count("scantxoutset") == 1


mainnet = staged("mainnet", "mainnet")


async def test_a_mainnet_node_is_refused_before_any_scan(mainnet: Any) -> None:
    server, make = mainnet
    async with make() as adapter:
        with pytest.raises(NetworkMismatch, match="'main'"):
            await adapter.holdings(SCENARIO.addresses, SCENARIO.pinned)
    assert "scantxoutset" not in server.methods


async def test_a_block_of_another_network_is_refused(node: tuple[CoreReplay, Any]) -> None:
    _, make = node
    async with make() as adapter:
        with pytest.raises(NetworkMismatch):
            await adapter.holdings(SCENARIO.addresses, replace(SCENARIO.pinned, network="test"))


# ---------------------------------------------------------------------- credentials


async def test_a_wrong_cookie_is_refused(node: tuple[CoreReplay, Any], tmp_path: Path) -> None:
    server, _ = node
    bad = tmp_path / "bad.cookie"
    bad.write_text("__cookie__:not-the-secret", encoding="utf-8")
    async with CoreAdapter(server.url, network="regtest", cookie_file=bad, retries=0) as adapter:
        with pytest.raises(NodeUnavailable, match="401"):
            await adapter.tip()


async def test_a_password_from_the_environment_works(
    node: tuple[CoreReplay, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _ = node
    name, _, secret = server.cookie.partition(":")
    monkeypatch.setenv("POR_TEST_RPC_PASSWORD", secret)
    async with CoreAdapter(
        server.url, network="regtest", user=name, password_env="POR_TEST_RPC_PASSWORD"
    ) as adapter:
        assert await adapter.tip() == SCENARIO.pinned


async def test_a_missing_cookie_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cookie"):
        CoreAdapter("http://127.0.0.1:1", network="regtest", cookie_file=tmp_path / "none")


def test_an_unknown_network_is_an_input_error() -> None:
    with pytest.raises(InputError, match="network"):
        CoreAdapter("http://127.0.0.1:1", network="mainnet")


# ---------------------------------------------------------------------- wallets


def scenario_wallets(gap_limit: int = 20) -> list[Any]:
    return [
        AddressWallet("listed", "regtest", tuple(WALLETS["listed"])),
        MultisigWallet("vault", "regtest", 2, tuple(WALLETS["vault_keys"]), ScriptType.P2WSH),
        XpubWallet(
            "hot", "regtest", WALLETS["hot_xpub"], ScriptType.P2WPKH, WALLETS["hot_path"], gap_limit
        ),
    ]


async def test_wallets_are_scanned_by_ranged_descriptors_in_one_pass(
    node: tuple[CoreReplay, Any],
) -> None:
    server, make = node
    async with make() as adapter:
        snapshot = await adapter.wallet_holdings(scenario_wallets(), SCENARIO.pinned)
    assert {b.address: b.units for b in snapshot.balances} == WALLETS["expected"]
    assert server.methods.count("scantxoutset") == 1
    scan = server.calls[-1]
    assert '"range":[0,999]' in scan
    assert f"wpkh({WALLETS['hot_xpub']}/0/*)#" in scan


async def test_coins_near_the_end_of_the_range_extend_the_scan(
    node: tuple[CoreReplay, Any],
) -> None:
    server, make = node
    small = XpubWallet("small", "regtest", WALLETS["hot_xpub"], ScriptType.P2WPKH, gap_limit=5)
    async with make() as adapter:
        snapshot = await adapter.wallet_holdings([small], SCENARIO.pinned, scan_range=10)
    assert {b.address: b.units for b in snapshot.balances} == WALLETS["gap_expected"]
    scans = [c for c in server.calls if c.startswith('["scantxoutset"')]
    assert len(scans) == 2
    assert '"range":[10,19]' in scans[1] and "/1/*" not in scans[1]
    assert snapshot.notes == ("2 UTXO-set pass(es)",)


# ---------------------------------------------------------------------- benchmark baseline


async def test_naive_balances_scans_once_per_address(node: tuple[CoreReplay, Any]) -> None:
    server, _ = node
    name, _, secret = server.cookie.partition(":")
    balances, requests = await naive_balances(
        server.url, basic_auth(name, secret), SCENARIO.addresses, network="regtest"
    )
    assert balances == SCENARIO.expected
    assert requests == len(SCENARIO.addresses)
    assert server.methods == ["scantxoutset"] * len(SCENARIO.addresses)
