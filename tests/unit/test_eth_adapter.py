"""EthereumAdapter and Anvil without a node: configuration checks, decoding, version pin.

The behaviour against a real node is in tests/integration/test_ethereum.py.
"""

from __future__ import annotations

import stat
import tempfile
from pathlib import Path

import pytest

from chains.base import BlockRef, Chain, Token
from chains.eth_hex import checksum_address
from chains.ethereum import ETH, EthereumAdapter
from chains.nodes.anvil import Anvil
from chains.nodes.base import NodeMissing
from verifier.base.errors import InputError, NetworkMismatch, NodeUnavailable

USDT = "0xdAC17F958D2ee523a2206206994597C13D831ec7"


def test_checksum_address_accepts_one_case_or_the_right_checksum():
    assert checksum_address(USDT.lower()) == USDT
    assert checksum_address("0x" + USDT[2:].upper()) == USDT
    assert checksum_address(USDT) == USDT


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "0x1234",
        USDT[2:],
        USDT + "00",
        "0xdAC17F958D2ee523a2206206994597C13D831ec8",
        "0x" + "g" * 40,
    ],
)
def test_checksum_address_rejects(bad):
    wrong_case = USDT[:3] + USDT[3].swapcase() + USDT[4:]
    with pytest.raises(InputError):
        checksum_address(bad)
    with pytest.raises(InputError, match="checksum"):
        checksum_address(wrong_case)


def test_adapter_configuration_is_checked():
    usdt = Token("USDT", 6, USDT.lower())
    adapter = EthereumAdapter("http://127.0.0.1:1", 1, tokens=[usdt], balance_slots={"USDT": 2})
    assert adapter.tokens[0].contract == USDT
    assert adapter.balance_slots == {"USDT": 2}
    assert [a.code for a in adapter.assets] == ["ETH", "USDT"]
    with pytest.raises(InputError, match="unique"):
        EthereumAdapter("http://127.0.0.1:1", 1, tokens=[usdt, Token("ETH", 18, USDT)])
    with pytest.raises(InputError, match="unknown token"):
        EthereumAdapter("http://127.0.0.1:1", 1, tokens=[usdt], balance_slots={"DAI": 0})
    with pytest.raises(InputError, match="not an Ethereum address"):
        EthereumAdapter("http://127.0.0.1:1", 1, tokens=[Token("USDT", 6)])
    with pytest.raises(InputError, match="native"):
        EthereumAdapter("http://127.0.0.1:1", 1, native=usdt)
    assert Token("ETH", 18) == ETH


async def test_holdings_refuses_bad_input_before_any_request():
    async with EthereumAdapter("http://127.0.0.1:1", 1, timeout=0.5, retries=0) as adapter:
        at = BlockRef(Chain.ETHEREUM, "1", 5, "ab" * 32)
        with pytest.raises(InputError, match="twice"):
            await adapter.holdings([USDT, USDT.lower()], at)
        with pytest.raises(InputError):
            await adapter.holdings(["0x12"], at)
        with pytest.raises(NetworkMismatch):
            await adapter.holdings([USDT], BlockRef(Chain.ETHEREUM, "5", 5, "ab" * 32))
        with pytest.raises(NetworkMismatch):
            await adapter.holdings([USDT], BlockRef(Chain.BITCOIN, "1", 5, "ab" * 32))
        assert adapter.requests == 0


async def test_nothing_listening_is_node_unavailable():
    async with EthereumAdapter("http://127.0.0.1:1", 1, timeout=0.5, retries=1, backoff=0.01) as a:
        with pytest.raises(NodeUnavailable, match="2 attempt"):
            await a.tip()
        assert a.requests == 2


def fake_anvil(tmp_path, monkeypatch, version: str) -> None:
    binary = tmp_path / ".bin" / "anvil"
    binary.parent.mkdir()
    binary.write_text(f"#!/bin/sh\necho 'anvil Version: {version}'\n")
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("POR_NODE_MODULES", str(tmp_path))


def test_anvil_version_is_pinned(tmp_path, monkeypatch):
    fake_anvil(tmp_path, monkeypatch, "0.2.0")
    node = Anvil()
    try:
        with pytest.raises(NodeUnavailable, match=r"expected anvil 1\.7\.1"):
            node.check_version()
    finally:
        node.stop()
    assert not node.datadir.exists()


def test_anvil_command_keeps_state_in_its_own_directory(tmp_path, monkeypatch):
    fake_anvil(tmp_path, monkeypatch, "1.7.1")
    node = Anvil(chain_id=5)
    try:
        node.check_version()
        command = node.command()
        assert command[command.index("--chain-id") + 1] == "5"
        assert command[command.index("--cache-path") + 1].startswith(str(node.datadir))
        assert "--silent" in command and command[command.index("--host") + 1] == "127.0.0.1"
        assert node.url == f"http://127.0.0.1:{node.port}" and node.chain_id == 5
    finally:
        node.stop()


def test_missing_anvil_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setenv("POR_NODE_MODULES", str(tmp_path))
    temp = Path(tempfile.gettempdir())
    before = set(temp.glob("por-anvil-*"))
    with pytest.raises(NodeMissing, match="npm ci"):
        Anvil()
    assert set(temp.glob("por-anvil-*")) == before  # no temp directory left behind
