"""`por bench snapshot`: the adapters against naive reads, on real local nodes.

Starts bcoin (regtest) and anvil, funds N Bitcoin addresses (P2WPKH, in a few
transactions) and N Ethereum addresses (ETH by anvil_setBalance, each of T test tokens by
batched mints), pins the tip of each chain, then times in the same run:

* ours: `BcoinAdapter.holdings` and `EthereumAdapter.holdings` (batched, concurrent,
  pinned and re-checked);
* naive: one HTTP request per balance, one after another (`naive_balances` of each
  adapter module).

Both must give identical balances. `speedup` is naive time divided by ours.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chains.base import Token
from chains.bitcoin_bcoin import BcoinAdapter
from chains.bitcoin_bcoin import naive_balances as bcoin_naive
from chains.eth_naive import naive_balances as eth_naive
from chains.ethereum import EthereumAdapter
from chains.nodes.anvil import Anvil
from chains.nodes.bcoin import Bcoin, RegtestWallet
from chains.nodes.solc import load_artifact
from verifier.base.errors import StoreError

ETHER = 10**18


def _fund_bitcoin(node: Bcoin, count: int, progress: Any) -> list[str]:
    wallet = RegtestWallet(node)
    wallet.mine(440)  # past segwit activation and coinbase maturity
    addresses = [wallet.new_address("p2wpkh") for _ in range(count)]
    for start in range(0, count, 500):
        chunk = addresses[start : start + 500]
        wallet.pay({a: 10_000 + start + i for i, a in enumerate(chunk)}, fee=50_000)
        wallet.mine(1)
        progress("fund bitcoin addresses", min(start + 500, count), count)
    return addresses


def _fund_ethereum(
    node: Anvil, count: int, tokens: int, progress: Any
) -> tuple[list[str], list[Token]]:
    from eth_utils.address import to_checksum_address
    from eth_utils.crypto import keccak

    artifact = load_artifact("TestToken")
    deployed = []
    for t in range(tokens):
        code = f"TK{t}"
        deployed.append(Token(code, 6 + t, node.deploy(artifact, f"Token {t}", code, 6 + t)))
    holders = [
        str(to_checksum_address(keccak(text=f"por bench holder {i}")[:20])) for i in range(count)
    ]
    for i, h in enumerate(holders):
        node.set_balance(h, ETHER + i)
        if i % 200 == 0:
            progress("fund ethereum addresses", i, count)
    for token in deployed:
        for start in range(0, count, 400):
            chunk = holders[start : start + 400]
            node.transact(
                token.contract or "",
                artifact,
                "mint",
                chunk,
                [1_000 + start + i for i in range(len(chunk))],
            )
    node.mine(1)
    progress("fund ethereum addresses", count, count)
    return holders, deployed


async def _timed(coro: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    result = await coro
    return result, time.perf_counter() - started


async def _measure(
    bcoin: Bcoin, btc: list[str], anvil: Anvil, eth: list[str], tokens: list[Token]
) -> dict[str, Any]:
    btc_adapter = BcoinAdapter(bcoin.url, network="regtest", authorization=bcoin.authorization)
    eth_adapter = EthereumAdapter(anvil.url, anvil.chain_id, tokens=tokens)
    async with btc_adapter, eth_adapter:
        btc_at = await btc_adapter.tip()
        eth_at = await eth_adapter.tip()
        btc_snap, btc_s = await _timed(btc_adapter.holdings(btc, btc_at))
        eth_snap, eth_s = await _timed(eth_adapter.holdings(eth, eth_at))
        # both chains at once, as `por snapshot` reads them
        both_started = time.perf_counter()
        await asyncio.gather(btc_adapter.holdings(btc, btc_at), eth_adapter.holdings(eth, eth_at))
        both_s = time.perf_counter() - both_started
    (btc_naive, btc_naive_requests), btc_naive_s = await _timed(
        bcoin_naive(bcoin.url, bcoin.authorization, btc, btc_at.height)
    )
    (eth_naive_result, eth_naive_requests), eth_naive_s = await _timed(
        eth_naive(anvil.url, eth, [Token("ETH", 18), *tokens], eth_at)
    )
    ours_btc = {b.address: b.units for b in btc_snap.balances}
    ours_eth = {(b.address, b.asset): b.units for b in eth_snap.balances}
    if ours_btc != btc_naive or ours_eth != eth_naive_result:
        raise StoreError("the adapters and the naive reads disagree: benchmark invalid")
    return {
        "bitcoin": {
            "addresses": len(btc),
            "height": btc_at.height,
            "ours": {"seconds": round(btc_s, 3), "requests": btc_snap.requests},
            "naive": {"seconds": round(btc_naive_s, 3), "requests": btc_naive_requests},
            "speedup": round(btc_naive_s / btc_s, 1),
        },
        "ethereum": {
            "addresses": len(eth),
            "tokens": len(tokens),
            "balances": len(ours_eth),
            "block": eth_at.height,
            "ours": {"seconds": round(eth_s, 3), "requests": eth_snap.requests},
            "naive": {"seconds": round(eth_naive_s, 3), "requests": eth_naive_requests},
            "speedup": round(eth_naive_s / eth_s, 1),
        },
        "both_chains_concurrently_seconds": round(both_s, 3),
        "speedup": round((btc_naive_s + eth_naive_s) / (btc_s + eth_s), 1),
    }


def run_snapshot_bench(
    *, btc_addresses: int, eth_addresses: int, tokens: int, progress: Any = None
) -> dict[str, Any]:
    """Start the nodes, fund the addresses, measure; the nodes are stopped whatever happens."""
    report = progress or (lambda *a: None)
    with Bcoin() as bcoin, Anvil() as anvil:
        report("start nodes", 1, 1)
        btc = _fund_bitcoin(bcoin, btc_addresses, report)
        eth, deployed = _fund_ethereum(anvil, eth_addresses, tokens, report)
        report("measure", 0, 1)
        figures = asyncio.run(_measure(bcoin, btc, anvil, eth, deployed))
        report("measure", 1, 1)
    from verifier.tools.bench import machine

    return {"benchmark": "snapshot", "machine": machine(), **figures}
