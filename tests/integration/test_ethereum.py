"""EthereumAdapter and the Ethereum ownership proofs against a real anvil 1.7.1 node.

One node per module carries a known history (tests/integration/eth_fixtures.py): the
balances the adapter reads at a past block must equal the ones the test set. Tests that
break the node (reorg, kill) start their own; every node is stopped, and its temp dir
removed, in a finalizer.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account.messages import encode_defunct

from chains.base import Balance, BlockRef, Chain, Ownership, Token
from chains.challenge import challenge
from chains.eth_naive import naive_balances
from chains.eth_ownership import challenge_hash, check_eip1271, verify_eip191
from chains.eth_proofs import ProofMismatch
from chains.ethereum import ETH, EthereumAdapter
from chains.nodes.anvil import ANVIL_VERSION, Anvil
from verifier.base.errors import NetworkMismatch, NodeUnavailable, StaleNode, TipMoved

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eth_fixtures import World, build_world, key, small_world, start_anvil

pytestmark = pytest.mark.node
log = logging.getLogger("test_ethereum")

TIMEOUT = 3.0  # float-ok: seconds per request, so that a failing test cannot hang
EXCHANGE = "Example Exchange"
ATTESTATION = "exch-2026-11"


def assert_gone(node: Anvil, pid: int) -> None:
    """The node's process group and temp directory no longer exist."""
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
    assert not node.datadir.exists()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    node = start_anvil()
    assert node.process is not None
    pid = node.process.pid
    try:
        yield build_world(node)
    finally:
        node.stop()
        assert_gone(node, pid)


@pytest.fixture
def fresh() -> Iterator[Anvil]:
    """A node of its own, for a test that reorganises or kills it."""
    node = start_anvil()
    assert node.process is not None
    pid = node.process.pid
    try:
        yield node
    finally:
        node.stop()
        assert_gone(node, pid)


def adapter(world: World, **kwargs: Any) -> EthereumAdapter:
    kwargs.setdefault("timeout", TIMEOUT)
    return EthereumAdapter(world.node.url, world.node.chain_id, tokens=world.tokens, **kwargs)


def pinned(world: World, name: str) -> BlockRef:
    return BlockRef(Chain.ETHEREUM, "31337", world.heights[name], world.hashes[name])


def expected(world: World, accounts: list[str], at: str) -> tuple[Balance, ...]:
    ledger = world.at[at]
    return tuple(
        Balance(a, code, ledger.get(a, code)) for a in accounts for code in ("ETH", "USDT", "DAI")
    )


def hook_batches(adapter: EthereumAdapter, hook: Callable[[int, Any], Any]) -> None:
    """Call hook(n, replies) around the n-th HTTP batch the adapter sends (n from 1).

    hook(n, None) runs before the batch is sent; hook(n, replies) after, and may alter them.
    """
    original = adapter._post_batch
    sent = 0

    async def wrapped(body: Any, what: str) -> Any:
        nonlocal sent
        sent += 1
        hook(sent, None)
        replies = await original(body, what)
        return hook(sent, replies) or replies

    adapter._post_batch = wrapped  # type: ignore[method-assign]


# ---------------------------------------------------------------------- the node


def test_anvil_is_pinned_version_with_private_cache(world: World):
    node = world.node
    assert node.rpc("web3_clientVersion").startswith(f"anvil/v{ANVIL_VERSION}")
    command = node.command()
    assert command[command.index("--cache-path") + 1].startswith(str(node.datadir))
    assert int(node.rpc("eth_chainId"), 16) == 31337


def test_mine_snapshot_and_revert(fresh: Anvil):
    start = fresh.block_number()
    saved = fresh.snapshot()
    assert fresh.mine(3) == start + 3
    assert fresh.revert(saved)
    assert fresh.block_number() == start


def test_stopped_node_leaves_nothing(fresh: Anvil):
    assert fresh.process is not None
    pid = fresh.process.pid
    fresh.stop()
    assert_gone(fresh, pid)
    fresh.stop()  # twice is fine


# ---------------------------------------------------------------------- balances


async def test_balances_at_past_block_are_exact_and_differ_from_tip(world: World):
    accounts = [*world.holders[:3], world.wallet, world.accounts[-1]]
    async with adapter(world) as eth:
        tip = await eth.tip()
        assert (tip.height, tip.hash) == (world.heights["tip"], world.hashes["tip"])
        past = await eth.block_at(world.heights["past"])
        assert past == pinned(world, "past")
        then = await eth.holdings(accounts, past)
        now = await eth.holdings(accounts, tip)
    assert then.block == past and now.block == tip
    assert then.balances == expected(world, accounts, "past")
    assert now.balances == expected(world, accounts, "tip")
    changed = {
        (b.address, b.asset) for b, c in zip(then.balances, now.balances, strict=True) if b != c
    }
    assert changed == {
        (world.holders[0], "ETH"),
        (world.holders[0], "DAI"),
        (world.holders[1], "USDT"),
    }
    # exact to the wei: one wei was sent after the pinned block
    eth_then = then.balances[0].units
    assert now.balances[0].units == eth_then + 1
    assert then.method == "eth_getBalance + eth_call balanceOf"


async def test_addresses_are_reported_as_given(world: World):
    lower = world.holders[5].lower()
    async with adapter(world) as eth:
        snap = await eth.holdings([lower], pinned(world, "past"))
    assert {b.address for b in snap.balances} == {lower}
    assert snap.total("USDT") == world.at["past"].get(lower, "USDT")


async def test_batch_covers_250_addresses_in_few_requests(world: World):
    accounts = world.accounts
    assert len(accounts) >= 252
    async with adapter(world) as eth:
        started = time.perf_counter()
        snap = await eth.holdings(accounts, pinned(world, "past"))
        log.info(
            "%d balances in %d requests, %.3f s",
            len(snap.balances),
            snap.requests,
            time.perf_counter() - started,
        )
    assert snap.balances == expected(world, accounts, "past")
    # pin check, 756 reads in 2 batches of <= 500, re-check
    assert snap.requests == 4
    naive, sent = await naive_balances(
        world.node.url, accounts, [ETH, *world.tokens], pinned(world, "past"), timeout=TIMEOUT
    )
    assert sent == len(accounts) * 3
    assert naive == {(b.address, b.asset): b.units for b in snap.balances}


async def test_concurrency_and_batch_size_do_not_change_the_answer(world: World):
    accounts = world.holders[:100]
    async with adapter(world, max_batch=7, concurrency=3) as eth:
        snap = await eth.holdings(accounts, pinned(world, "past"))
    assert snap.balances == expected(world, accounts, "past")
    assert snap.requests == 2 + -(-300 // 7)


async def test_wrong_chain_id_is_network_mismatch(world: World):
    async with EthereumAdapter(world.node.url, 1, timeout=TIMEOUT) as mainnet:
        with pytest.raises(NetworkMismatch, match="31337"):
            await mainnet.tip()
        with pytest.raises(NetworkMismatch):
            await mainnet.holdings(world.holders[:1], BlockRef(Chain.ETHEREUM, "1", 1, "ab" * 32))
    async with adapter(world) as eth:
        other = BlockRef(Chain.ETHEREUM, "1", world.heights["past"], world.hashes["past"])
        with pytest.raises(NetworkMismatch):
            await eth.holdings(world.holders[:1], other)


async def test_node_below_the_height_is_stale(world: World):
    ahead = world.heights["tip"] + 100
    async with adapter(world) as eth:
        with pytest.raises(StaleNode, match=f"below {ahead}"):
            await eth.block_at(ahead)
        with pytest.raises(StaleNode):
            await eth.holdings(
                world.holders[:1], BlockRef(Chain.ETHEREUM, "31337", ahead, "00" * 32)
            )


async def test_block_hash_that_is_not_on_the_chain_is_tip_moved(world: World):
    stranger = BlockRef(Chain.ETHEREUM, "31337", world.heights["past"], "ab" * 32)
    async with adapter(world) as eth:
        with pytest.raises(TipMoved):
            await eth.holdings(world.holders[:1], stranger)


# ---------------------------------------------------------------------- reorgs and failures


async def test_reorg_before_the_reads_is_tip_moved(fresh: Anvil):
    usdt, holders = small_world(fresh)
    async with EthereumAdapter(fresh.url, 31337, tokens=[usdt], timeout=TIMEOUT) as eth:
        at = await eth.tip()
        log.info("reorganise the last 2 blocks: same height, another hash")
        fresh.reorg(2)
        assert fresh.block_number() == at.height
        assert fresh.block_hash(at.height) != at.hash
        with pytest.raises(TipMoved, match="reorg"):
            await eth.holdings(holders, at)


async def test_reorg_between_two_reads_is_tip_moved(fresh: Anvil):
    usdt, holders = small_world(fresh)
    async with EthereumAdapter(
        fresh.url, 31337, tokens=[usdt], timeout=TIMEOUT, max_batch=10, concurrency=1
    ) as eth:
        at = await eth.tip()

        def reorg_after_first_read(n: int, replies: Any) -> None:
            if n == 2 and replies is not None:
                log.info("reorg after the first read batch")
                fresh.reorg(1)

        hook_batches(eth, reorg_after_first_read)
        with pytest.raises(TipMoved):
            await eth.holdings(holders, at)


async def test_node_killed_mid_snapshot_is_node_unavailable(fresh: Anvil):
    usdt, holders = small_world(fresh)
    async with EthereumAdapter(
        fresh.url,
        31337,
        tokens=[usdt],
        timeout=TIMEOUT,
        max_batch=10,
        concurrency=1,
        retries=1,
        backoff=0.05,
    ) as eth:
        at = await eth.tip()

        def kill_after_first_read(n: int, replies: Any) -> None:
            if n == 2 and replies is not None:
                log.info("kill anvil after the first read batch")
                fresh.kill()

        hook_batches(eth, kill_after_first_read)
        started = time.monotonic()
        with pytest.raises(NodeUnavailable) as raised:
            await eth.holdings(holders, at)
        assert time.monotonic() - started < TIMEOUT
        assert raised.value.__cause__ is not None  # the library error is chained
        with pytest.raises(NodeUnavailable):
            await eth.tip()


async def test_node_that_never_answers_times_out():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with EthereumAdapter(
            f"http://127.0.0.1:{port}", 31337, timeout=0.3, retries=1, backoff=0.01
        ) as eth:
            started = time.monotonic()
            with pytest.raises(NodeUnavailable, match="2 attempt"):
                await eth.tip()
            assert time.monotonic() - started < 2
    finally:
        server.close()


# ---------------------------------------------------------------------- trustless mode


async def test_trustless_mode_gives_the_same_balances(world: World):
    accounts = world.accounts
    at = pinned(world, "past")
    async with adapter(world) as plain, adapter(world, trustless=True) as proven:
        read = await plain.holdings(accounts, at)
        checked = await proven.holdings(accounts, at)
    assert checked.balances == read.balances == expected(world, accounts, "past")
    assert checked.method == "eth_getProof"
    assert any("stateRoot" in note for note in checked.notes)
    # 252 account proofs + 2 tokens x 3 key chunks = 258 calls in batches of 50, plus pins
    assert checked.requests == 2 + 6


def tamper_first_proof(change: Callable[[dict[str, Any]], None]) -> Callable[[int, Any], Any]:
    def hook(n: int, replies: Any) -> Any:
        if n == 2 and replies is not None:
            change(replies[0]["result"])
        return replies

    return hook


def flip(hex_text: str, at: int) -> str:
    """Flip one hex digit of a 0x-string."""
    digits = list(hex_text)
    digits[at] = "1" if digits[at] != "1" else "2"
    return "".join(digits)


@pytest.mark.parametrize(
    ("what", "change", "check"),
    [
        ("balance", lambda r: r.update(balance=hex(int(r["balance"], 16) + 1)), "account fields"),
        (
            "proof node",
            lambda r: r["accountProof"].__setitem__(1, flip(r["accountProof"][1], 40)),
            "account proof",
        ),
        ("missing node", lambda r: r["accountProof"].pop(), "account proof"),
    ],
)
async def test_trustless_mode_rejects_a_tampered_account_proof(
    world: World, what: str, change: Callable[[dict[str, Any]], None], check: str
):
    async with adapter(world, trustless=True) as eth:
        hook_batches(eth, tamper_first_proof(change))
        with pytest.raises(ProofMismatch) as raised:
            await eth.holdings(world.holders[:3], pinned(world, "past"))
    assert raised.value.check == check, what


async def test_trustless_mode_rejects_a_tampered_token_balance(world: World):
    def more_tokens(n: int, replies: Any) -> Any:
        if n == 2 and replies is not None:
            entry = replies[-1]["result"]["storageProof"][0]
            entry["value"] = hex(int(entry["value"], 16) * 2 + 1)
        return replies

    async with adapter(world, trustless=True) as eth:
        hook_batches(eth, more_tokens)
        with pytest.raises(ProofMismatch) as raised:
            await eth.holdings(world.holders[:3], pinned(world, "past"))
    assert raised.value.check == "storage value"


async def test_trustless_mode_rejects_a_tampered_state_root(world: World):
    def other_root(n: int, replies: Any) -> Any:
        if n == 1 and replies is not None:
            header = replies[2]["result"]
            header["stateRoot"] = flip(header["stateRoot"], 10)
        return replies

    async with adapter(world, trustless=True) as eth:
        hook_batches(eth, other_root)
        with pytest.raises(ProofMismatch) as raised:
            await eth.holdings(world.holders[:3], pinned(world, "past"))
    assert raised.value.check == "header"


# ---------------------------------------------------------------------- ownership


async def test_eip191_personal_sign_over_the_challenge(world: World):
    node = world.node
    signer = node.accounts()[3]
    async with adapter(world) as eth:
        at = await eth.block_at(world.heights["past"])
        before = await eth.block_at(world.heights["past"] - 1)
    text = challenge(EXCHANGE, ATTESTATION, at)
    signature = node.rpc("personal_sign", "0x" + text.encode().hex(), signer)

    proven = verify_eip191(signer, text, signature)
    assert proven.status is Ownership.PROVEN, proven.reason
    assert proven.scheme == "eip191"
    assert verify_eip191(signer.lower(), text, signature).status is Ownership.PROVEN

    tampered = flip(signature, 20)
    verdict = verify_eip191(signer, text, tampered)
    assert verdict.status is Ownership.UNPROVEN
    assert "recovers to" in verdict.reason or "malformed" in verdict.reason

    other_block = verify_eip191(signer, challenge(EXCHANGE, ATTESTATION, before), signature)
    assert other_block.status is Ownership.UNPROVEN
    assert "recovers to" in other_block.reason

    other_exchange = verify_eip191(signer, challenge("Other Exchange", ATTESTATION, at), signature)
    assert other_exchange.status is Ownership.UNPROVEN
    assert "recovers to" in other_exchange.reason

    # r || s without v is the EIP-2098 compact form of the same signature when v was 27
    # (yParity 0 in the top bit of s), so it proves; 63 bytes are no signature at all
    compact = verify_eip191(signer, text, signature[:-2])
    v = int(signature[-2:], 16)
    assert (compact.status is Ownership.PROVEN) == (v in {0, 27}), compact.reason
    short = verify_eip191(signer, text, signature[:-4])
    assert short.status is Ownership.UNPROVEN
    assert short.reason.startswith("malformed signature: 63 bytes")


async def test_eip1271_contract_wallet_at_the_pinned_block(world: World):
    async with adapter(world) as eth:
        at = await eth.block_at(world.heights["past"])
        text = challenge(EXCHANGE, ATTESTATION, at)
        signature = world.owner.sign_message(encode_defunct(text=text)).signature

        proven = await check_eip1271(eth, world.wallet, text, signature, at)
        assert proven.status is Ownership.PROVEN, proven.reason
        assert proven.scheme == "eip1271"
        assert "0x1626ba7e" in proven.reason
        assert await eth.call_is_valid_signature(
            world.wallet, challenge_hash(text), bytes(signature), at
        )

        stranger = key("not the owner").sign_message(encode_defunct(text=text)).signature
        wrong = await check_eip1271(eth, world.wallet, text, stranger, at)
        assert wrong.status is Ownership.UNPROVEN
        assert "did not return 0x1626ba7e" in wrong.reason

        # the owner's signature over another block's challenge does not prove this one
        tip = await eth.tip()
        stale = await check_eip1271(
            eth, world.wallet, challenge(EXCHANGE, ATTESTATION, tip), signature, tip
        )
        assert stale.status is Ownership.UNPROVEN

        garbage = await check_eip1271(eth, world.wallet, text, b"\x01" * 3, at)
        assert garbage.status is Ownership.UNPROVEN  # the wallet rejects it (no revert leak)

        before = await eth.block_at(world.heights["before_wallet"])
        early_text = challenge(EXCHANGE, ATTESTATION, before)
        early_signature = world.owner.sign_message(encode_defunct(text=early_text)).signature
        early = await check_eip1271(eth, world.wallet, early_text, early_signature, before)
        assert early.status is Ownership.UNPROVEN
        assert "no contract code" in early.reason

        # a contract without isValidSignature reverts: a "no", not an error
        token = await check_eip1271(eth, world.usdt.contract or "", text, signature, at)
        assert token.status is Ownership.UNPROVEN
        assert "did not return 0x1626ba7e" in token.reason

        eoa = await check_eip1271(eth, world.holders[0], text, signature, at)
        assert eoa.status is Ownership.UNPROVEN
        assert "no contract code" in eoa.reason


async def test_eip1271_check_on_a_reorganised_block_is_tip_moved(world: World):
    at = pinned(world, "past")
    gone = BlockRef(Chain.ETHEREUM, at.network, at.height, "cd" * 32)
    async with adapter(world) as eth:
        with pytest.raises(TipMoved):
            await check_eip1271(eth, world.wallet, "x", b"\0" * 65, gone)


def test_tokens_are_configured_with_contracts(world: World):
    assert all(isinstance(t, Token) and t.contract for t in world.tokens)
