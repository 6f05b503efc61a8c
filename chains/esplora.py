"""Esplora adapter: balances at a past block rebuilt from address histories (REST).

Where it sits: in `chains/`, under `verifier/holdings/snapshot.py` and over `chains/rpc.py`
(`HttpJson`: timeouts, retries, a concurrency bound). It reads any Esplora server — the
Blockstream electrs fork or mempool.space's — through the documented HTTP API (Esplora's
API.md): `/blocks/tip/hash`, `/block/:hash`, `/block-height/:height`, `/address/:address`
and `/address/:address/txs/chain[/:last_seen_txid]` (25 confirmed transactions per page,
newest first; amounts are integer satoshi).

Unlike Core, an address index can answer for a past block: the balance of an address at
height H is what confirmed transactions at heights <= H paid to it minus what confirmed
transactions at heights <= H spent from it (each input carries its `prevout`). Unconfirmed
transactions are ignored. Since pages go newest first, every page is read, down to the
address's first transaction.

Invariants:
  1. The server is on the configured network: `/block-height/0` is that network's genesis
     hash (Esplora has no "chain" call), else `NetworkMismatch`.
  2. `/block-height/H` is the pinned hash before the reads and again after them, and every
     transaction the history places at height H names that hash; otherwise `TipMoved`.
  3. Outputs and prevouts are matched to an address by output script, not by text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar

from chains.base import (
    DEFAULT_MAX_REPLY_BYTES,
    MAX_BLOCK_TIME,
    Balance,
    BlockRef,
    Chain,
    ChainSnapshot,
)
from chains.btc_amounts import MAX_MONEY
from chains.btc_wallets import (
    BITCOIN_NETWORKS,
    Wallet,
    WatchedAddress,
    XpubWallet,
    discover,
    fixed_addresses,
    watch_addresses,
)
from chains.rpc import HttpJson, decode_reply, peek, short
from verifier.base.errors import (
    InputError,
    MalformedReply,
    NetworkMismatch,
    NodeUnavailable,
    PorError,
    RpcError,
    StaleNode,
    TipMoved,
)
from verifier.base.redact import mask_url

GENESIS = {
    "main": "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    "test": "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
    "testnet4": "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
    "signet": "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
    "regtest": "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
}
"""Genesis block hash of each network (Bitcoin Core `chainparams.cpp`)."""

PAGE_SIZE = 25
"""Confirmed transactions per `/txs/chain` page (Esplora API.md)."""

_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEIGHT = re.compile(r"[0-9]{1,10}")
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class _Reply:
    """An HTTP reply as received (at most `max_reply_bytes`): Esplora answers some paths in
    plain text, others in JSON."""

    status: int
    body: bytes

    @property
    def text(self) -> str:
        """The body as text, for the plain-text paths (bad bytes shown, never raised)."""
        return self.body.decode("utf-8", "replace")


class _Rest(HttpJson):
    """`HttpJson` with its retry policy and reply cap, but the body handed back undecoded."""

    def _decode(self, raw: bytes, status: int, path: str) -> _Reply:
        return _Reply(status, raw)


def _failure(reply: _Reply, path: str) -> PorError:
    """The error for a reply other than 200 OK."""
    snippet = short(repr(reply.body[:200].decode("utf-8", "replace").strip()))
    if reply.status >= 500:
        return NodeUnavailable(f"esplora answered HTTP {reply.status} to {path}: {snippet}")
    return RpcError(f"esplora answered HTTP {reply.status} to {path}: {snippet}")


def _decode_json(reply: _Reply, path: str) -> Any:
    """The JSON body of a 200 reply (`chains.rpc.decode_reply`: bounded, numbers with a
    fraction as `Decimal`, never float)."""
    if reply.status != 200:
        raise _failure(reply, path)
    return decode_reply(reply.body, source=f"esplora {path}")


def _txid(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not a 64-hex-digit id")
    return value


def _sats(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_MONEY:
        raise MalformedReply(f"{what}: {peek(value)} is not an amount in satoshi")
    return value


async def _gather(coroutines: Iterable[Coroutine[Any, Any, _T]]) -> list[_T]:
    """Run coroutines in one TaskGroup, results in order; on failure raise the first
    `PorError` itself rather than the group (callers and the CLI expect typed errors)."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(c) for c in coroutines]
    except BaseExceptionGroup as failed:
        raise _leaf(failed) from None
    return [t.result() for t in tasks]


def _leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _leaf(error)
        if isinstance(error, PorError):
            return error
    return group.exceptions[0]


class EsploraAdapter:
    """`ChainAdapter` for Chain.BITCOIN over an Esplora REST server (module docstring).

    Parameters
    ----------
    url
        API base, e.g. "http://127.0.0.1:3002" or "https://blockstream.info/testnet/api".
    network
        main, test, testnet4, signet or regtest: checked against `/block-height/0`.
    asset
        Asset code for the balances (default "BTC").
    timeout, retries, backoff, concurrency, max_reply_bytes
        Passed to `chains.rpc.HttpJson`.
    page_size
        Transactions per `/txs/chain` page; a shorter page is the last one.
    """

    chain = Chain.BITCOIN

    def __init__(
        self,
        url: str,
        *,
        network: str,
        asset: str = "BTC",
        timeout: float = 30.0,  # float-ok: seconds
        retries: int = 3,
        backoff: float = 0.2,  # float-ok: seconds
        concurrency: int = 8,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if network not in BITCOIN_NETWORKS:
            raise InputError(
                f"unknown Bitcoin network; use one of {BITCOIN_NETWORKS}", key="network"
            )
        if page_size < 1:
            raise InputError("page_size must be positive", value=str(page_size))
        self.network = network
        self.asset = asset
        self.url = url
        self.shown_url = mask_url(url)
        """The URL as messages show it: an API key in it is masked."""
        self.page_size = page_size
        self._http = _Rest(
            url,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            concurrency=concurrency,
            max_reply_bytes=max_reply_bytes,
            name="esplora",
        )
        self._network_checked = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        await self._http.aclose()

    @property
    def requests(self) -> int:
        """HTTP requests sent so far."""
        return self._http.requests

    # ------------------------------------------------------------------ HTTP

    async def _get(self, path: str) -> _Reply:
        reply: _Reply = await self._http.get(path)
        return reply

    async def _text(self, path: str) -> str:
        reply = await self._get(path)
        if reply.status != 200:
            raise _failure(reply, path)
        return reply.text.strip()

    async def _json(self, path: str) -> Any:
        return _decode_json(await self._get(path), path)

    async def _hash_at(self, height: int) -> str | None:
        """`/block-height/:height`, or None when the server has no block there (404)."""
        path = f"/block-height/{height}"
        reply = await self._get(path)
        if reply.status == 404:
            return None
        if reply.status != 200:
            raise _failure(reply, path)
        return _txid(reply.text.strip(), path)

    async def _tip_height(self) -> int:
        text = await self._text("/blocks/tip/height")
        # ASCII digits only: str.isdigit() takes "²", which int() then refuses
        if not _HEIGHT.fullmatch(text):
            raise MalformedReply(f"/blocks/tip/height: {text[:50]!r} is not a height")
        return int(text)

    # ------------------------------------------------------------------ blocks

    async def _check_network(self) -> None:
        if self._network_checked:
            return
        genesis = await self._hash_at(0)
        if genesis is None:
            raise MalformedReply(f"{self.shown_url} has no block at height 0")
        if genesis != GENESIS[self.network]:
            known = {v: k for k, v in GENESIS.items()}.get(genesis, "an unknown network")
            raise NetworkMismatch(
                f"the Esplora server at {self.shown_url} serves {known} "
                f"(genesis {genesis}), not {self.network}"
            )
        self._network_checked = True

    def _ref(self, height: int, block_hash: str) -> BlockRef:
        return BlockRef(Chain.BITCOIN, self.network, height, block_hash)

    async def tip(self) -> BlockRef:
        """The server's best block: `/blocks/tip/hash`, then that block's height.

        Returns
        -------
        BlockRef
        """
        await self._check_network()
        block_hash = _txid(await self._text("/blocks/tip/hash"), "/blocks/tip/hash")
        return await self._described(block_hash, None)

    async def _described(self, block_hash: str, height: int | None) -> BlockRef:
        """`/block/:hash`: the block's height (must be `height` when given) and timestamp."""
        block = await self._json(f"/block/{block_hash}")
        if not isinstance(block, Mapping) or block.get("id") != block_hash:
            raise MalformedReply(f"/block/{block_hash} does not describe that block")
        found = block.get("height")
        if isinstance(found, bool) or not isinstance(found, int) or found < 0:
            raise MalformedReply(f"/block/{block_hash}: height {peek(found)} is not a height")
        if height is not None and found != height:
            raise MalformedReply(f"/block/{block_hash}: height {found}, not {height}")
        time = block.get("timestamp")
        if isinstance(time, bool) or not isinstance(time, int) or not 0 <= time <= MAX_BLOCK_TIME:
            raise MalformedReply(f"/block/{block_hash}: timestamp {peek(time)} is not a unix time")
        return BlockRef(Chain.BITCOIN, self.network, found, block_hash, time)

    async def block_at(self, height: int) -> BlockRef:
        """The block at `height` on the server's best chain.

        Parameters
        ----------
        height
            Block height, >= 0.

        Returns
        -------
        BlockRef

        Raises
        ------
        StaleNode
            The server has no block at `height` yet.
        """
        if isinstance(height, bool) or not isinstance(height, int) or height < 0:
            raise InputError("a block height is a non-negative integer", value=str(height))
        await self._check_network()
        block_hash = await self._hash_at(height)
        if block_hash is None:
            tip = await self._tip_height()
            raise StaleNode(
                f"the Esplora server at {self.shown_url} is at height {tip}, below the asked "
                f"height {height}"
            )
        return await self._described(block_hash, height)

    async def _require_pinned(self, at: BlockRef, when: str) -> None:
        block_hash = await self._hash_at(at.height)
        if block_hash is None:
            tip = await self._tip_height()
            raise StaleNode(
                f"the Esplora server at {self.shown_url} is at height {tip}, below the pinned "
                f"block {at.height}"
            )
        if block_hash != at.hash:
            raise TipMoved(
                f"{when}, block {at.height} on {self.shown_url} is {block_hash}, not the pinned "
                f"{at.hash} (a reorg)"
            )

    # ------------------------------------------------------------------ balances

    def _watch(self, addresses: Sequence[str]) -> list[WatchedAddress]:
        return watch_addresses(addresses, self.network)

    def _pays(self, out: object, w: WatchedAddress, what: str) -> int:
        """Satoshi an output (a `vout` entry or a `prevout`) pays to `w`, else 0."""
        if not isinstance(out, Mapping):
            raise MalformedReply(f"{what} is not an object")
        spk = out.get("scriptpubkey")
        if spk is not None:
            mine = spk == w.script_pubkey
        else:
            mine = out.get("scriptpubkey_address") == w.address
        return _sats(out.get("value"), f"{what}.value") if mine else 0

    def _tx_delta(self, tx: object, w: WatchedAddress, at: BlockRef, what: str) -> int | None:
        """What one transaction adds to (or takes from) `w` by block `at`; None if after it."""
        if not isinstance(tx, Mapping):
            raise MalformedReply(f"{what} is not an object")
        status = tx.get("status")
        if not isinstance(status, Mapping) or not isinstance(status.get("confirmed"), bool):
            raise MalformedReply(f"{what}.status has no 'confirmed' flag")
        if not status["confirmed"]:
            return None  # unconfirmed: not part of any block
        height = status.get("block_height")
        if isinstance(height, bool) or not isinstance(height, int) or height < 0:
            raise MalformedReply(f"{what}.status.block_height {peek(height)} is not a height")
        if height > at.height:
            return None
        block_hash = status.get("block_hash")
        if height == at.height and block_hash is not None and block_hash != at.hash:
            raise TipMoved(
                f"{what} is in block {at.height} {block_hash}, not the pinned "
                f"{at.hash} (a reorg during the scan)"
            )
        vout, vin = tx.get("vout"), tx.get("vin")
        if not isinstance(vout, list) or not isinstance(vin, list):
            raise MalformedReply(f"{what} has no vin/vout lists")
        delta = sum(self._pays(o, w, f"{what}.vout[{i}]") for i, o in enumerate(vout))
        for i, txin in enumerate(vin):
            if not isinstance(txin, Mapping):
                raise MalformedReply(f"{what}.vin[{i}] is not an object")
            if txin.get("is_coinbase") is True or txin.get("prevout") is None:
                continue
            delta -= self._pays(txin["prevout"], w, f"{what}.vin[{i}].prevout")
        return delta

    async def _balance_at(self, w: WatchedAddress, at: BlockRef) -> int:
        """Page through the address's confirmed history and total it at block `at`."""
        seen: set[str] = set()
        balance = 0
        last: str | None = None
        while True:
            path = f"/address/{w.address}/txs/chain" + (f"/{last}" if last else "")
            page = await self._json(path)
            if not isinstance(page, list):
                raise MalformedReply(f"{path}: the reply is not a list")
            for n, tx in enumerate(page):
                what = f"{path} [{n}]"
                txid = _txid(tx.get("txid") if isinstance(tx, Mapping) else None, f"{what}.txid")
                if txid in seen:
                    raise MalformedReply(f"{what}: transaction {txid} was already listed")
                seen.add(txid)
                delta = self._tx_delta(tx, w, at, f"{what} ({txid})")
                if delta is not None:
                    balance += delta
            if len(page) < self.page_size:
                break
            last = _txid(page[-1].get("txid"), path)
        if balance < 0:
            raise MalformedReply(
                f"the history of {w.address} spends more than it received by block "
                f"{at.height} ({balance} sat): the server's index is inconsistent"
            )
        return balance

    async def holdings(self, addresses: Sequence[str], at: BlockRef) -> ChainSnapshot:
        """Every address's balance at exactly block `at`, rebuilt from its history.

        Parameters
        ----------
        addresses
            Addresses of the adapter's network.
        at
            The pinned block; it must be on the server's best chain before and after.

        Returns
        -------
        ChainSnapshot
            One `Balance` per distinct address, zero included, in the order given.

        Raises
        ------
        StaleNode
            The server has not reached `at`.
        TipMoved
            `at` is not (or no longer) on the server's best chain.
        """
        start = self.requests
        watched = self._watch(addresses)
        if at.chain is not Chain.BITCOIN or at.network != self.network:
            raise NetworkMismatch(
                f"block {at.height} is on {at.chain.value}/{at.network}, "
                f"the server is bitcoin/{self.network}"
            )
        await self._check_network()
        await self._require_pinned(at, "before the scan")
        units = await _gather(self._balance_at(w, at) for w in watched)
        # a reorg that replaced block H while the histories were read shows here
        await self._require_pinned(at, "after the scan")
        return ChainSnapshot(
            block=at,
            balances=tuple(
                Balance(w.address, self.asset, u) for w, u in zip(watched, units, strict=True)
            ),
            requests=self.requests - start,
            method="address history",
        )

    async def used_addresses(self, addresses: Sequence[str]) -> set[str]:
        """The addresses with any transaction (confirmed or not), for gap-limit discovery."""
        return await self._used(watch_addresses(addresses, self.network))

    async def _used(self, batch: Collection[WatchedAddress]) -> set[str]:
        """The addresses of `batch` with any transaction (confirmed or not)."""

        async def used(w: WatchedAddress) -> bool:
            info = await self._json(f"/address/{w.address}")
            count = 0
            for key in ("chain_stats", "mempool_stats"):
                stats = info.get(key) if isinstance(info, Mapping) else None
                if not isinstance(stats, Mapping):
                    raise MalformedReply(f"/address/{w.address}: no {key}")
                n = stats.get("tx_count")
                if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                    raise MalformedReply(f"/address/{w.address}: {key}.tx_count is {peek(n)}")
                count += n
            return count > 0

        flags = await _gather(used(w) for w in batch)
        return {w.address for w, flag in zip(batch, flags, strict=True) if flag}

    async def wallet_holdings(self, wallets: Sequence[Wallet], at: BlockRef) -> ChainSnapshot:
        """Balances of whole wallets at `at`: fixed addresses plus HD chains to their gap limit.

        Each HD chain (receive 0/i, change 1/i) is walked with `chains.btc_wallets.discover`,
        an address counting as used if `/address/:address` shows any transaction; then every
        fixed and used address is read at `at` as in `holdings`.

        Parameters
        ----------
        wallets
            Address, xpub and multisig wallets of the adapter's network.
        at
            The pinned block.

        Returns
        -------
        ChainSnapshot
            Every fixed address and every used HD address (zero balances included).
        """
        start = self.requests
        for wallet in wallets:
            if wallet.network != self.network:
                raise NetworkMismatch(f"wallet {wallet.name} is on {wallet.network}")
        await self._check_network()
        addresses = [w.address for wallet in wallets for w in fixed_addresses(wallet)]
        for wallet in wallets:
            if isinstance(wallet, XpubWallet):
                for change in (0, 1):
                    found = await discover(wallet, change, self._used)
                    addresses.extend(w.address for w in found.used)
        snapshot = await self.holdings(list(dict.fromkeys(addresses)), at)
        return ChainSnapshot(
            block=snapshot.block,
            balances=snapshot.balances,
            requests=self.requests - start,
            method=snapshot.method,
            notes=snapshot.notes,
        )


async def naive_balances(
    url: str,
    addresses: Sequence[str],
    *,
    network: str,
    timeout: float = 30.0,  # float-ok: seconds
) -> tuple[dict[str, int], int]:
    """The baseline for benchmarks: `GET /address/:address` per address, one at a time.

    The balance is `chain_stats.funded_txo_sum - chain_stats.spent_txo_sum`: confirmed, at
    whatever the tip is when that address is read (no pinning, no reorg checks).

    Parameters
    ----------
    url
        The Esplora API base.
    addresses
        Addresses of `network`.
    network
        The server's network (addresses are checked against it).
    timeout
        Seconds per request.

    Returns
    -------
    tuple[dict[str, int], int]
        Satoshi per address, and the HTTP requests made.
    """
    watched = watch_addresses(addresses, network)
    balances: dict[str, int] = {}
    async with _Rest(url, timeout=timeout, concurrency=1, name="esplora") as http:
        for w in watched:
            path = f"/address/{w.address}"
            info = _decode_json(await http.get(path), path)
            stats = info.get("chain_stats") if isinstance(info, Mapping) else None
            if not isinstance(stats, Mapping):
                raise MalformedReply(f"{path}: no chain_stats")
            funded = _sats(stats.get("funded_txo_sum"), f"{path} funded_txo_sum")
            spent = _sats(stats.get("spent_txo_sum"), f"{path} spent_txo_sum")
            if spent > funded:
                raise MalformedReply(f"{path}: spent more than funded")
            balances[w.address] = funded - spent
        return balances, http.requests
