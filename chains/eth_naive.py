"""The Ethereum benchmark's baseline: one plain HTTP POST per balance, one after the other.

Where it sits: beside the Ethereum adapter (chains/ethereum.py), used only by
`por bench snapshot` (verifier/tools/bench_snapshot.py) to show what batching, concurrency
and pinning buy; each Bitcoin adapter module carries its own `naive_balances`. It reads the
same values as the adapter's plain mode (`eth_getBalance`, `eth_call balanceOf`) with the
same reply limits and decoding, but no batching, no pinning checks and no retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from chains.base import DEFAULT_MAX_REPLY_BYTES, BlockRef, Token
from chains.eth_hex import checksum_address, hex_data, json_object, quantity
from chains.eth_rpc import rpc_error
from chains.ethereum import balance_of_data
from chains.rpc import check_endpoint, decode_reply, read_body, short
from verifier.base.errors import NodeUnavailable
from verifier.base.redact import mask_url

__all__ = ["naive_balances"]


async def naive_balances(
    url: str,
    addresses: Sequence[str],
    tokens: Sequence[Token],
    block: BlockRef | int,
    *,
    timeout: float = 30.0,  # float-ok: seconds
) -> tuple[dict[tuple[str, str], int], int]:
    """The benchmark's baseline: one HTTP POST per balance, one after the other, no batching.

    Parameters
    ----------
    url
        The node's JSON-RPC endpoint.
    addresses
        Holder addresses.
    tokens
        Assets to read: a `Token` without contract is the native coin (`eth_getBalance`),
        one with a contract an ERC-20 (`eth_call balanceOf`).
    block
        The block (or its number) to read at.
    timeout
        Seconds per request.

    Returns
    -------
    tuple
        ({(address as given, asset code): base units}, number of HTTP requests sent).
    """
    check_endpoint(url)
    shown = mask_url(url)
    height = block.height if isinstance(block, BlockRef) else block
    tag = hex(height)
    balances: dict[tuple[str, str], int] = {}
    sent = 0
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        for address in addresses:
            holder = checksum_address(address)
            for token in tokens:
                if token.contract is None:
                    call: list[Any] = [holder, tag]
                    method = "eth_getBalance"
                else:
                    call = [{"to": token.contract, "data": balance_of_data(holder)}, tag]
                    method = "eth_call"
                body = {"jsonrpc": "2.0", "id": sent, "method": method, "params": call}
                sent += 1
                source = f"{shown}: {method}"
                try:
                    async with session.post(url, json=body) as reply:
                        reply.raise_for_status()
                        raw = await read_body(reply, DEFAULT_MAX_REPLY_BYTES, source)
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    raise NodeUnavailable(
                        f"{source} failed ({type(exc).__name__}: {short(exc, 100)})"
                    ) from exc
                doc = json_object(decode_reply(raw, source=source), f"reply to {method}")
                if doc.get("error"):
                    raise rpc_error(method, doc["error"])
                result = doc.get("result")
                if token.contract is None:
                    units = quantity(result, method)
                else:
                    units = int.from_bytes(hex_data(result, method, 32), "big")
                balances[(address, token.code)] = units
    return balances, sent
