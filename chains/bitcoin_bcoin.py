"""Bitcoin balances at a pinned block from a bcoin node's address index.

Where it sits: a `ChainAdapter` (chains/base.py) for `Chain.BITCOIN`, beside the Bitcoin Core
adapter; the snapshot step (verifier/holdings/snapshot.py) pins a block with `tip()`/`block_at()`
and calls `holdings()`. HTTP goes through `chains/rpc.py` (timeouts, retries, typed errors,
Decimal numbers). Nothing but typed values leaves this module.

How a balance at height H is rebuilt: bcoin (run with `--index-tx --index-address`) answers
`POST /tx/address {"addresses": [...]}` with every transaction touching the addresses, each
input carrying the coin it spends. For each address::

    balance(H) = sum of its outputs in transactions at height 0..H
               - sum of the coins it spends in inputs of transactions at height 0..H

Mempool transactions (height -1) and those above H are ignored. Every spend must match an
output already seen in the same history (same outpoint, script and value), else the
history is incomplete and the reply is rejected.

bcoin 1.0.2 quirks this module works around:
  - The address index is keyed by the hash alone (hash160 or the 32-byte program), not by
    address type: a P2PKH and a P2WPKH address of the same key share one history. Outputs
    and spent coins are therefore matched by scriptPubKey, never by index membership.
  - A 40- or 64-character string is taken as that hash in hex, so a Core-style regtest
    P2WSH address (`bcrt1q` + 58 characters = 64) is never found by its address. Queries
    therefore send the hash in hex, which also makes them independent of the address
    prefixes the node was configured with.
  - Version 1.0.2 has no paging on these endpoints (`after`/`limit` came later): long
    histories come in one reply per request, so addresses are sent in chunks.
  - It predates taproot: witness v1+ addresses are refused (`InputError`).
  - Without `--index-address` the endpoints answer `[]` for every address, which would read
    as zero balances; a snapshot where no address has any history carries a note saying so.

Before and after the reads, the block at `at.height` must still have `at.hash` (`TipMoved`).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from chains.base import (
    DEFAULT_MAX_REPLY_BYTES,
    Balance,
    BlockRef,
    Chain,
    ChainSnapshot,
)
from chains.btc_address import AddressError, decode_address
from chains.btc_amounts import MAX_MONEY, to_sats  # noqa: F401  (MAX_MONEY: re-exported)
from chains.rpc import HttpJson, JsonRpc, header_time, peek
from verifier.base.console import plural
from verifier.base.errors import (
    InputError,
    MalformedReply,
    NetworkMismatch,
    PorError,
    RpcError,
    StaleNode,
    TipMoved,
)

RPC_INVALID_PARAMETER = -8
"""bcoin's (and Core's) code for `getblockhash` beyond the tip."""
METHOD = "address history (bcoin /tx/address)"

T = TypeVar("T")

_NETWORK_ALIASES = {
    "main": "main",
    "mainnet": "main",
    "bitcoin": "main",
    "test": "test",
    "testnet": "test",
    "testnet3": "test",
    "signet": "signet",
    "regtest": "regtest",
}
"""Accepted spellings → the names Core's `getblockchaininfo.chain` uses."""

_BCOIN_CHAIN_NAMES = {"testnet": "test"}
"""bcoin network names that differ from Core's (its RPC already maps testnet → test)."""


def network_name(network: str) -> str:
    """Core's name for a network ("main", "test", "signet", "regtest"), or `InputError`."""
    name = _NETWORK_ALIASES.get(network.strip().lower())
    if name is None:
        raise InputError("unknown Bitcoin network", value=network)
    return name


# ---------------------------------------------------------------------- addresses


@dataclass(frozen=True, slots=True)
class WatchedAddress:
    """An address as bcoin's index sees it."""

    address: str
    """As given (without surrounding blanks)."""
    script: bytes
    """Its scriptPubKey: outputs and spent coins are matched on this."""
    key: str
    """bcoin's index key: the hash160 or the witness program, hex (a 40/64-char string)."""


@functools.lru_cache(maxsize=1 << 16)  # scheduled runs read the same addresses every time
def _script_for(address: str, network: str | None) -> bytes:
    try:
        decoded = decode_address(address, network)
    except AddressError as exc:
        raise InputError(f"address {exc.reason}", value=address) from None
    if decoded.witness_version not in {None, 0}:
        # bcoin 1.0.2 predates BIP350: it neither encodes nor indexes v1+ correctly
        raise InputError(
            "witness v1+ (taproot) addresses are not supported by bcoin 1.0.2", value=address
        )
    return decoded.script_pubkey()


def index_key(script: bytes) -> str:
    """bcoin's address-index key of a standard scriptPubKey: the hash or program, in hex."""
    if len(script) == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return script[3:23].hex()
    if len(script) == 23 and script[:2] == b"\xa9\x14" and script[22:] == b"\x87":
        return script[2:22].hex()
    if len(script) in {22, 34} and script[0] == 0x00 and script[1] == len(script) - 2:
        return script[2:].hex()
    raise InputError("not a P2PKH, P2SH, P2WPKH or P2WSH script", value=script.hex())


def watch(address: str, network: str | None = None) -> WatchedAddress:
    """Decode `address` (of `network`, or of any Bitcoin network if None) for the index."""
    if not isinstance(address, str) or not address.strip():
        raise InputError("empty address", value=str(address))
    script = _script_for(address.strip(), network)
    return WatchedAddress(address.strip(), script, index_key(script))


# ---------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class HistoryOutput:
    script: bytes
    value: int


@dataclass(frozen=True, slots=True)
class HistoryInput:
    prevout: tuple[str, int]
    script: bytes | None
    """The spent coin's scriptPubKey (None for a coinbase input)."""
    value: int


@dataclass(frozen=True, slots=True)
class HistoryTx:
    """One transaction of an address history, decoded."""

    txid: str
    height: int
    """-1 in the mempool."""
    block: str | None
    outputs: tuple[HistoryOutput, ...]
    inputs: tuple[HistoryInput, ...]


def _field(obj: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise MalformedReply(f"{where}: field {key!r} is {peek(value)}")
    return value


def _hex(value: Any, where: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedReply(f"{where}: {peek(value)} is not hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise MalformedReply(f"{where}: {peek(value)} is not hex") from None


def parse_history(reply: Any, where: str) -> list[HistoryTx]:
    """Decode bcoin's `/tx/address` reply (a list of transactions with spent coins)."""
    if isinstance(reply, Mapping) and "error" in reply:
        error = reply["error"]
        message = error.get("message") if isinstance(error, Mapping) else error
        raise RpcError(f"bcoin {where}: {message}")
    if not isinstance(reply, list):
        raise MalformedReply(f"bcoin {where}: expected a list of transactions, got {peek(reply)}")
    txs = []
    for item in reply:
        if not isinstance(item, Mapping):
            raise MalformedReply(f"bcoin {where}: transaction {peek(item)} is not an object")
        txid = _field(item, "hash", str, where)
        at = f"{where} tx {txid}"
        height = _field(item, "height", int, at)
        block = item.get("block")
        if height < -1 or (height >= 0 and not isinstance(block, str)):
            raise MalformedReply(f"{at}: height {height} with block {peek(block)}")
        outputs = []
        for n, out in enumerate(_field(item, "outputs", list, at)):
            if not isinstance(out, Mapping):
                raise MalformedReply(f"{at}: output {n} is not an object")
            script = _hex(out.get("script"), f"{at} output {n}")
            outputs.append(HistoryOutput(script, to_sats(out.get("value"), "sat", f"{at}:{n}")))
        inputs = []
        for n, inp in enumerate(_field(item, "inputs", list, at)):
            if not isinstance(inp, Mapping):
                raise MalformedReply(f"{at}: input {n} is not an object")
            prevout = _field(inp, "prevout", Mapping, f"{at} input {n}")
            prev = (
                _field(prevout, "hash", str, f"{at} input {n}"),
                _field(prevout, "index", int, f"{at} input {n}"),
            )
            coin = inp.get("coin")
            if prev == ("00" * 32, 0xFFFFFFFF):
                inputs.append(HistoryInput(prev, None, 0))
            elif isinstance(coin, Mapping):
                script = _hex(coin.get("script"), f"{at} input {n} coin")
                value = to_sats(coin.get("value"), "sat", f"{at} input {n}")
                inputs.append(HistoryInput(prev, script, value))
            elif height >= 0:
                # a confirmed spend without its coin could hide a debit: refuse it
                raise MalformedReply(f"{at}: input {n} does not carry the coin it spends")
        txs.append(HistoryTx(txid, height, block, tuple(outputs), tuple(inputs)))
    return txs


def merge_histories(histories: Iterable[list[HistoryTx]]) -> list[HistoryTx]:
    """One list without duplicates; a transaction seen at two heights means the chain moved."""
    seen: dict[str, HistoryTx] = {}
    for history in histories:
        for tx in history:
            before = seen.setdefault(tx.txid, tx)
            if before.height != tx.height and max(before.height, tx.height) >= 0:
                raise TipMoved(
                    f"transaction {tx.txid} is at height {before.height} in one reply and "
                    f"{tx.height} in another: the chain changed during the scan"
                )
    return list(seen.values())


def balances_at(
    txs: Iterable[HistoryTx], watched: Sequence[WatchedAddress], height: int
) -> dict[str, int]:
    """Each watched address's balance in satoshi at exactly `height` (see the module doc)."""
    by_script = {w.script: w.address for w in watched}
    confirmed = [tx for tx in txs if 0 <= tx.height <= height]
    credit = dict.fromkeys(by_script, 0)
    debit = dict.fromkeys(by_script, 0)
    received: dict[tuple[str, int], HistoryOutput] = {}
    for tx in confirmed:
        for n, out in enumerate(tx.outputs):
            if out.script in by_script:
                credit[out.script] += out.value
                received[(tx.txid, n)] = out
    for tx in confirmed:
        for inp in tx.inputs:
            if inp.script is None or inp.script not in by_script:
                continue
            funding = received.get(inp.prevout)
            if funding is None or funding.script != inp.script or funding.value != inp.value:
                raise MalformedReply(
                    f"history of {by_script[inp.script]} is incomplete: transaction {tx.txid} "
                    f"spends {inp.prevout[0]}:{inp.prevout[1]}, which it does not show"
                )
            debit[inp.script] += inp.value
    balances = {}
    for script, address in by_script.items():
        units = credit[script] - debit[script]
        if units < 0:
            raise MalformedReply(f"history of {address} gives a negative balance {units}")
        balances[address] = units
    return balances


# ---------------------------------------------------------------------- the adapter


class BcoinAdapter:
    """`ChainAdapter` for Bitcoin on a bcoin full node (JSON-RPC + REST on one port).

    Parameters
    ----------
    url:
        The node's HTTP address, e.g. ``http://127.0.0.1:48332``.
    network:
        The network the node must serve: "main", "test", "signet" or "regtest".
    authorization:
        The Authorization header value (`chains.rpc.basic_auth(any, api_key)`), or None.
    asset:
        The asset code balances are reported under.
    timeout, retries, concurrency:
        Per request (seconds), transient-failure retries, requests in flight.
    max_reply_bytes:
        The largest reply read (`chains.rpc.read_body`); a `/tx/address` page of busy
        addresses is the largest.
    addresses_per_request:
        Addresses per `POST /tx/address` (bcoin 1.0.2 does not page its replies).
    """

    chain: Chain = Chain.BITCOIN

    def __init__(
        self,
        url: str,
        *,
        network: str = "regtest",
        authorization: str | None = None,
        asset: str = "BTC",
        timeout: float = 30.0,  # float-ok: seconds
        retries: int = 3,
        concurrency: int = 4,
        addresses_per_request: int = 200,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        if addresses_per_request < 1:
            raise InputError("addresses_per_request must be at least 1")
        self.network = network_name(network)
        self.asset = asset
        self._chunk = addresses_per_request
        self._http = JsonRpc(
            url,
            authorization=authorization,
            timeout=timeout,
            retries=retries,
            concurrency=concurrency,
            max_reply_bytes=max_reply_bytes,
            name="bcoin",
        )

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (a JSON-RPC batch counts once)."""
        return self._http.requests

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ---------------------------------------------------------------- blocks

    async def tip(self) -> BlockRef:
        """The best block, from one `getblockchaininfo` (height and hash read together), and
        its header's time from `getblockheader`."""
        best = self._tip_from(await self._http.call("getblockchaininfo"))
        return await self._timed(best)

    async def block_at(self, height: int) -> BlockRef:
        """The block at `height` on the node's best chain; `StaleNode` if it is below.

        One batch: `getblockchaininfo` (network check) and `getblockhash`.
        """
        if isinstance(height, bool) or not isinstance(height, int) or height < 0:
            raise InputError("block height must be a non-negative integer", value=str(height))
        _, found = await self._tip_and_hash(height)
        return await self._timed(self._ref(height, found))

    async def _timed(self, block: BlockRef) -> BlockRef:
        """`block` with its header's time (`getblockheader`, which must name the same block)."""
        header = await self._http.call("getblockheader", block.hash, True)
        return header_time(header, block, "bcoin getblockheader")

    async def _tip_and_hash(self, height: int) -> tuple[BlockRef, object]:
        """The tip (network checked) and the hash at `height`, in one JSON-RPC batch."""
        try:
            info, found = await self._http.batch(
                [("getblockchaininfo", []), ("getblockhash", [height])]
            )
        except RpcError as exc:
            if exc.code != RPC_INVALID_PARAMETER:
                raise
            best = await self.tip()  # a wrong network is reported before a short chain
            raise StaleNode(
                f"bcoin is at height {best.height}, below the requested height {height}"
            ) from None
        return self._tip_from(info), found

    def _tip_from(self, info: object) -> BlockRef:
        if not isinstance(info, Mapping):
            raise MalformedReply(f"bcoin getblockchaininfo: {peek(info)}")
        chain = info.get("chain")
        if not isinstance(chain, str):
            raise MalformedReply(f"bcoin getblockchaininfo.chain: {peek(chain)}")
        served = _BCOIN_CHAIN_NAMES.get(chain, chain)
        if served != self.network:
            raise NetworkMismatch(f"bcoin serves {peek(served)}, configured for {self.network!r}")
        height = info.get("blocks")
        if isinstance(height, bool) or not isinstance(height, int):
            raise MalformedReply(f"bcoin getblockchaininfo.blocks: {peek(height)}")
        return self._ref(height, info.get("bestblockhash"))

    def _ref(self, height: int, block_hash: object) -> BlockRef:
        if not isinstance(block_hash, str):
            raise MalformedReply(f"bcoin block hash {peek(block_hash)}")
        return BlockRef(Chain.BITCOIN, self.network, height, block_hash)

    async def _confirm(self, at: BlockRef, when: str) -> None:
        """The node serves our network and `at` is still its block at `at.height`."""
        try:
            _, found = await self._tip_and_hash(at.height)
        except StaleNode:
            if when == "before":
                raise
            raise TipMoved(
                f"block {at.height} ({at.hash}) left bcoin's best chain during the scan"
            ) from None
        if found != at.hash:
            raise TipMoved(
                f"block {at.height} is {peek(found)} on bcoin, not the pinned {at.hash} "
                f"({when} the reads)"
            )

    # ---------------------------------------------------------------- balances

    def _watch(self, addresses: Sequence[str]) -> list[WatchedAddress]:
        if isinstance(addresses, str):
            raise InputError("addresses must be a sequence of strings, not one string")
        unique: dict[bytes, WatchedAddress] = {}
        for address in addresses:
            watched = watch(address, self.network)
            unique.setdefault(watched.script, watched)
        return list(unique.values())

    async def holdings(self, addresses: Sequence[str], at: BlockRef) -> ChainSnapshot:
        """Every address's balance at exactly block `at` (see the module docstring).

        One balance per distinct address, in the order given. Raises `NetworkMismatch` if
        `at` or the node is of another network, `StaleNode` if the node is below
        `at.height`, `TipMoved` if `at` is not on the best chain before or after the reads.
        """
        pinned_network = _NETWORK_ALIASES.get(at.network.lower())
        if at.chain is not Chain.BITCOIN or pinned_network != self.network:
            raise NetworkMismatch(
                f"block {at.chain.value}/{at.network} given to a bcoin adapter for "
                f"bitcoin/{self.network}"
            )
        watched = self._watch(addresses)
        start = self._http.requests
        await self._confirm(at, "before")
        keys = list(dict.fromkeys(w.key for w in watched))
        chunks = [keys[i : i + self._chunk] for i in range(0, len(keys), self._chunk)]
        histories = await _all(self._history(chunk) for chunk in chunks)
        await self._confirm(at, "after")
        txs = merge_histories(histories)
        for tx in txs:
            if tx.height == at.height and tx.block != at.hash:
                raise TipMoved(f"transaction {tx.txid} is in block {tx.block}, not {at.hash}")
        balances = balances_at(txs, watched, at.height)
        notes: tuple[str, ...] = ()
        if watched and not txs:
            notes = (
                "no address has any transaction: if the node runs without --index-tx and "
                "--index-address, bcoin answers [] and every balance reads as zero",
            )
        return ChainSnapshot(
            block=at,
            balances=tuple(Balance(w.address, self.asset, balances[w.address]) for w in watched),
            requests=self._http.requests - start,
            method=METHOD,
            notes=notes,
        )

    async def used_addresses(self, addresses: Sequence[str]) -> set[str]:
        """The addresses with any transaction in their history (for gap-limit discovery).

        Mempool transactions count too: an address a customer was just given is used.
        """
        watched = self._watch(addresses)
        keys = list(dict.fromkeys(w.key for w in watched))
        chunks = [keys[i : i + self._chunk] for i in range(0, len(keys), self._chunk)]
        txs = merge_histories(await _all(self._history(chunk) for chunk in chunks))
        seen = {o.script for tx in txs for o in tx.outputs}
        seen |= {i.script for tx in txs for i in tx.inputs if i.script is not None}
        return {w.address for w in watched if w.script in seen}

    async def _history(self, keys: list[str]) -> list[HistoryTx]:
        reply = await self._http.post("/tx/address", {"addresses": keys})
        return parse_history(reply, f"/tx/address ({plural(len(keys), 'address')})")


async def _all(coroutines: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run concurrently in a TaskGroup; on failure re-raise the first error itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except ExceptionGroup as failures:
        first: BaseException = failures
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        if isinstance(first, PorError):
            raise first from None
        raise
    return [task.result() for task in tasks]


async def naive_balances(
    url: str,
    auth: str | None,
    addresses: Sequence[str],
    height: int,
    *,
    network: str | None = None,
    timeout: float = 30.0,  # float-ok: seconds
) -> tuple[dict[str, int], int]:
    """The baseline for benchmarks: one `GET /tx/address/<key>` per address, one at a time.

    No pinning and no reorg checks. Returns the balances at `height` and the HTTP request
    count.
    """
    wanted = None if network is None else network_name(network)
    balances: dict[str, int] = {}
    async with HttpJson(
        url, authorization=auth, timeout=timeout, concurrency=1, name="bcoin"
    ) as http:
        for address in addresses:
            watched = watch(address, wanted)
            reply = await http.get(f"/tx/address/{watched.key}")
            history = parse_history(reply, f"/tx/address/{watched.key}")
            balances[watched.address] = balances_at(history, [watched], height)[watched.address]
        return balances, http.requests
