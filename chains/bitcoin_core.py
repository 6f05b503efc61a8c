"""Bitcoin Core adapter: balances at one pinned block from the UTXO set (`scantxoutset`).

Where it sits: in `chains/`, under `verifier/holdings/snapshot.py` and over `chains/rpc.py`
(JSON-RPC with timeouts, retries and Decimal numbers). It is the adapter an auditor points
at their own Bitcoin Core node (27/28; any version whose `scantxoutset` reports `height`
and `bestblock`, i.e. 0.19+).

Core answers balance questions from its UTXO set, which exists only at the node's tip: it
cannot read a past block. So `holdings(at)` REFUSES (`StaleNode`) unless the node's best
block is exactly `at` — height and hash. An auditor who wants an older block rewinds a
dedicated node first (`bitcoin-cli invalidateblock <hash of block at+1>`, later
`reconsiderblock`) with networking off so it does not move on. The scan then runs once, for
every address and descriptor together, and its own `height`/`bestblock` must still be `at`,
else `TipMoved`.

Invariants:
  1. The node's network (`getblockchaininfo.chain`) is the configured one (`NetworkMismatch`).
  2. Amounts arrive as JSON numbers in BTC, are parsed as `Decimal` and converted to satoshi
     exactly; a fractional satoshi is a `MalformedReply`, never a rounding.
  3. Unspent outputs are mapped back to addresses by their output script, never by text.
  4. Credentials come from a cookie file, a password file or an environment variable
     (`chains.rpc.auth_from_sources`), never from argv.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from chains.base import (
    DEFAULT_MAX_REPLY_BYTES,
    Balance,
    BlockRef,
    Chain,
    ChainSnapshot,
)
from chains.btc_amounts import to_sats
from chains.btc_wallets import (
    BITCOIN_NETWORKS,
    GapLimitScan,
    Wallet,
    WatchedAddress,
    XpubWallet,
    fixed_addresses,
    watch_addresses,
)
from chains.rpc import JsonRpc, auth_from_sources, header_time, peek
from verifier.base.errors import (
    InputError,
    MalformedReply,
    NetworkMismatch,
    RpcError,
    StaleNode,
    TipMoved,
)
from verifier.base.redact import mask_url

RPC_INVALID_PARAMETER = -8
DEFAULT_RANGE = 1000
"""Indexes per HD chain in one scan: Core's own default range for ranged descriptors."""

_HEX32 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"(?:[0-9a-f]{2})+")


class ScanInProgress(RpcError):
    """Another `scantxoutset` is running on the node (RPC -8); Core runs one at a time."""


class ScanAborted(RpcError):
    """`scantxoutset` returned `success: false`: the scan was aborted before it finished."""


def btc_to_sats(value: object, what: str) -> int:
    """An amount in BTC from a JSON reply (Decimal or int) as exact satoshi.

    Parameters
    ----------
    value
        The decoded JSON number (`json.loads(..., parse_float=Decimal)`).
    what
        What the number is, for the error message.

    Returns
    -------
    int
        Satoshi.

    Raises
    ------
    MalformedReply
        Not a number, negative, above 21 million BTC, or not a whole number of satoshi.
    """
    return to_sats(value, "btc", what)


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedReply(f"{what}: {peek(value)} is not an integer")
    return value


def _hash(value: object, what: str) -> str:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not a 64-hex-digit block hash")
    return value


@dataclass(frozen=True, slots=True)
class ScanResult:
    """One decoded `scantxoutset start` reply."""

    height: int
    bestblock: str
    by_script: Mapping[str, int]
    """Output script (hex) -> satoshi summed over its unspent outputs."""
    outputs: int


async def scantxoutset(
    rpc: JsonRpc, objects: Sequence[object], wanted: Collection[str], url: str
) -> ScanResult:
    """Run `scantxoutset start objects` and sum the unspent outputs per output script.

    Parameters
    ----------
    rpc
        The client to send it with (no retries: see `CoreAdapter`).
    objects
        Scan objects: descriptor strings or {"desc", "range"} objects.
    wanted
        Output scripts (hex) the objects stand for; any other script in the reply is an error.
    url
        The node's address, for messages (masked there: it may carry credentials).

    Returns
    -------
    ScanResult
        The scan's block and the satoshi per output script.
    """
    url = mask_url(url)
    try:
        reply = await rpc.call("scantxoutset", "start", list(objects))
    except RpcError as exc:
        if exc.code == RPC_INVALID_PARAMETER and "in progress" in exc.message:
            raise ScanInProgress(
                f"another scantxoutset is already running on {url} (Core runs one "
                "at a time): wait for it to finish, or stop it with "
                "`bitcoin-cli scantxoutset abort`, then run again",
                code=exc.code,
            ) from exc
        raise
    if not isinstance(reply, Mapping):
        raise MalformedReply(f"scantxoutset: the reply is not an object: {peek(reply)}")
    if reply.get("success") is not True:
        raise ScanAborted(
            f"scantxoutset on {url} did not complete (success: "
            f"{peek(reply.get('success'))}); it was aborted — run again"
        )
    unspents = reply.get("unspents")
    if not isinstance(unspents, list):
        raise MalformedReply("scantxoutset: 'unspents' is not a list")
    by_script: dict[str, int] = {}
    total = 0
    for n, utxo in enumerate(unspents):
        where = f"scantxoutset unspents[{n}]"
        if not isinstance(utxo, Mapping):
            raise MalformedReply(f"{where} is not an object")
        spk = utxo.get("scriptPubKey")
        if not isinstance(spk, str) or not _HEX.fullmatch(spk):
            raise MalformedReply(f"{where}.scriptPubKey is not hex: {peek(spk)}")
        if spk not in wanted:
            raise MalformedReply(f"{where} pays {spk}, a script that was not asked for")
        _hash(utxo.get("txid"), f"{where}.txid")
        _int(utxo.get("vout"), f"{where}.vout")
        _int(utxo.get("height"), f"{where}.height")
        sats = btc_to_sats(utxo.get("amount"), f"{where}.amount")
        by_script[spk] = by_script.get(spk, 0) + sats
        total += sats
    if "total_amount" in reply and btc_to_sats(reply["total_amount"], "total_amount") != total:
        raise MalformedReply(
            f"scantxoutset: total_amount {reply['total_amount']} BTC is not the sum of "
            f"the unspent outputs ({total} sat)"
        )
    return ScanResult(
        height=_int(reply.get("height"), "scantxoutset height"),
        bestblock=_hash(reply.get("bestblock"), "scantxoutset bestblock"),
        by_script=by_script,
        outputs=len(unspents),
    )


class CoreAdapter:
    """`ChainAdapter` for Chain.BITCOIN over Bitcoin Core JSON-RPC (see the module docstring).

    Parameters
    ----------
    url
        RPC endpoint, e.g. "http://127.0.0.1:18443".
    network
        Expected `getblockchaininfo.chain`: main, test, testnet4, signet or regtest.
    asset
        Asset code for the balances (default "BTC").
    cookie_file, user, password_file, password_env
        Credentials, as `chains.rpc.auth_from_sources` reads them.
    authorization
        Or the Authorization header value itself (not together with the above).
    timeout
        Seconds per ordinary RPC request.
    scan_timeout
        Seconds for one `scantxoutset` (a full pass over the UTXO set: minutes on mainnet).
    retries, backoff, concurrency
        Passed to `chains.rpc.JsonRpc` for ordinary requests.
    max_reply_bytes
        The largest reply read (`chains.rpc.read_body`), for the scan too: a scan's reply
        lists every unspent output found (about 300 bytes each).
    """

    chain = Chain.BITCOIN

    def __init__(
        self,
        url: str,
        *,
        network: str,
        asset: str = "BTC",
        cookie_file: Path | None = None,
        user: str | None = None,
        password_file: Path | None = None,
        password_env: str | None = None,
        authorization: str | None = None,
        timeout: float = 30.0,  # float-ok: seconds
        scan_timeout: float = 1800.0,  # float-ok: seconds
        retries: int = 3,
        backoff: float = 0.2,  # float-ok: seconds
        concurrency: int = 8,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        if network not in BITCOIN_NETWORKS:
            raise InputError(
                f"unknown Bitcoin network; use one of {BITCOIN_NETWORKS}", key="network"
            )
        self.network = network
        self.asset = asset
        self.url = url
        self.shown_url = mask_url(url)
        """The URL as messages show it: credentials in it are masked."""
        auth = auth_from_sources(
            cookie_file=cookie_file,
            user=user,
            password_file=password_file,
            password_env=password_env,
        )
        if authorization is not None:
            if auth is not None:
                raise InputError("give credentials either as sources or as a header, not both")
            auth = authorization
        self._rpc = JsonRpc(
            url,
            authorization=auth,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            concurrency=concurrency,
            max_reply_bytes=max_reply_bytes,
            name="bitcoind",
        )
        # A scan must never be retried: on a timeout the first scan is still running on the
        # node, and a second `start` only earns "Scan already in progress". Its own client
        # has the long timeout and no retries.
        self._scan_rpc = JsonRpc(
            url,
            authorization=auth,
            timeout=scan_timeout,
            retries=0,
            max_reply_bytes=max_reply_bytes,
            name="bitcoind",
        )
        self._network_checked = False

    # ------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close both HTTP sessions."""
        await self._rpc.aclose()
        await self._scan_rpc.aclose()

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (a batch counts once)."""
        return self._rpc.requests + self._scan_rpc.requests

    # ------------------------------------------------------------------ blocks

    async def _check_network(self) -> None:
        if self._network_checked:
            return
        info = await self._rpc.call("getblockchaininfo")
        if not isinstance(info, Mapping) or not isinstance(info.get("chain"), str):
            raise MalformedReply(f"getblockchaininfo has no 'chain' string: {peek(info)}")
        if info["chain"] != self.network:
            raise NetworkMismatch(
                f"the node at {self.shown_url} is on {peek(info['chain'])}, not {self.network!r}"
            )
        self._network_checked = True

    def _ref(self, height: int, block_hash: str) -> BlockRef:
        return BlockRef(Chain.BITCOIN, self.network, height, block_hash)

    async def tip(self) -> BlockRef:
        """The node's best block.

        One batch asks the best hash, the height and the best hash again; equal hashes mean
        no block arrived in between, so the height belongs to that hash.

        Returns
        -------
        BlockRef
            Height and hash of the tip.
        """
        await self._check_network()
        for _ in range(3):
            before, count, after = await self._rpc.batch(
                [("getbestblockhash", []), ("getblockcount", []), ("getbestblockhash", [])]
            )
            if _hash(before, "getbestblockhash") == _hash(after, "getbestblockhash"):
                return await self._timed(self._ref(_int(count, "getblockcount"), before))
        raise TipMoved(f"the tip of {self.shown_url} kept moving while it was read")

    async def block_at(self, height: int) -> BlockRef:
        """The block at `height` on the node's best chain.

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
            The node has not reached `height`.
        """
        if isinstance(height, bool) or not isinstance(height, int) or height < 0:
            raise InputError("a block height is a non-negative integer", value=str(height))
        await self._check_network()
        try:
            block_hash = await self._rpc.call("getblockhash", height)
        except RpcError as exc:
            if exc.code != RPC_INVALID_PARAMETER:
                raise
            count = _int(await self._rpc.call("getblockcount"), "getblockcount")
            if count >= height:
                raise
            raise StaleNode(
                f"the node at {self.shown_url} is at height {count}, "
                f"below the asked height {height}"
            ) from None
        return await self._timed(self._ref(height, _hash(block_hash, "getblockhash")))

    async def _timed(self, block: BlockRef) -> BlockRef:
        """`block` with its header's time (`getblockheader`, which must name the same block)."""
        header = await self._rpc.call("getblockheader", block.hash, True)
        return header_time(header, block, "getblockheader")

    async def _require_tip_at(self, at: BlockRef) -> None:
        """Refuse unless the node's best block is exactly `at` (the UTXO set is tip-only)."""
        if at.chain is not Chain.BITCOIN or at.network != self.network:
            raise NetworkMismatch(
                f"block {at.height} is on {at.chain.value}/{at.network}, "
                f"the node is bitcoin/{self.network}"
            )
        await self._check_network()
        count, best = await self._rpc.batch([("getblockcount", []), ("getbestblockhash", [])])
        count = _int(count, "getblockcount")
        best = _hash(best, "getbestblockhash")
        if count == at.height and best == at.hash:
            return
        if count < at.height:
            raise StaleNode(
                f"the node at {self.shown_url} is at height {count}, below the pinned block "
                f"{at.height}; wait for it to sync"
            )
        if count == at.height:
            raise TipMoved(
                f"block {at.height} on the node is {best}, not the pinned {at.hash} (a reorg)"
            )
        pinned_now = await self.block_at(at.height)
        if pinned_now.hash != at.hash:
            raise TipMoved(
                f"block {at.height} on the node is now {pinned_now.hash}, not the pinned "
                f"{at.hash} (a reorg)"
            )
        raise StaleNode(
            f"the node at {self.shown_url} is at height {count}, "
            f"past the pinned block {at.height}: "
            "Bitcoin Core reads balances from its UTXO set, which exists only at its tip. "
            "Rewind a dedicated node to the pinned block (with networking off: "
            f"`bitcoin-cli setnetworkactive false`, then `bitcoin-cli invalidateblock "
            f"<hash of block {at.height + 1}>`; `reconsiderblock` afterwards) and run again"
        )

    # ------------------------------------------------------------------ scanning

    async def _scan(self, objects: Sequence[object], wanted: set[str]) -> ScanResult:
        return await scantxoutset(self._scan_rpc, objects, wanted, self.shown_url)

    def _check_scan_block(self, scan: ScanResult, at: BlockRef) -> None:
        if scan.height != at.height or scan.bestblock != at.hash:
            raise TipMoved(
                f"scantxoutset ran at block {scan.height} {scan.bestblock}, not at the pinned "
                f"{at.height} {at.hash}: the tip moved during the scan"
            )

    def _watch(self, addresses: Sequence[str]) -> list[WatchedAddress]:
        return watch_addresses(addresses, self.network)

    async def holdings(self, addresses: Sequence[str], at: BlockRef) -> ChainSnapshot:
        """Every address's balance at exactly block `at`, from one UTXO-set scan.

        Parameters
        ----------
        addresses
            Addresses of the adapter's network (scanned as `addr(...)` descriptors).
        at
            The pinned block; the node's tip must be exactly this block.

        Returns
        -------
        ChainSnapshot
            One `Balance` per distinct address, zero included, in the order given.

        Raises
        ------
        StaleNode
            The node is below `at`, or past it (rewind it: see the module docstring).
        TipMoved
            `at` is not on the node's best chain, or the tip moved during the scan.
        ScanInProgress
            Another scan is running on the node.
        """
        start = self.requests
        watched = self._watch(addresses)
        await self._require_tip_at(at)
        objects = [f"addr({w.address})" for w in watched]
        scan = await self._scan(objects, {w.script_pubkey for w in watched})
        self._check_scan_block(scan, at)
        balances = tuple(
            Balance(w.address, self.asset, scan.by_script.get(w.script_pubkey, 0)) for w in watched
        )
        return ChainSnapshot(
            block=at,
            balances=balances,
            requests=self.requests - start,
            method="scantxoutset",
            notes=(f"{scan.outputs} unspent outputs found",),
        )

    async def wallet_holdings(
        self, wallets: Sequence[Wallet], at: BlockRef, *, scan_range: int = DEFAULT_RANGE
    ) -> ChainSnapshot:
        """Balances of whole wallets at `at`: fixed addresses plus HD chains by descriptor.

        HD chains are scanned as ranged descriptors (`wpkh(tpub.../0/*)` with a range), all
        wallets in one `scantxoutset`. Core sees only unspent outputs, so an HD address
        counts as used when it holds coins at `at`; while coins sit within `gap_limit` of
        the end of the scanned range, the next `scan_range` indexes of that chain are scanned
        too (one more pass over the UTXO set each time).

        Parameters
        ----------
        wallets
            Address, xpub and multisig wallets of the adapter's network.
        at
            The pinned block (the node's tip must be exactly this block).
        scan_range
            Indexes per HD chain per pass (default 1000, Core's default range).

        Returns
        -------
        ChainSnapshot
            Every fixed address (zero included) and every HD address holding coins.
        """
        if scan_range < 1:
            raise InputError("scan_range must be positive", value=str(scan_range))
        start = self.requests
        for wallet in wallets:
            if wallet.network != self.network:
                raise NetworkMismatch(f"wallet {wallet.name} is on {wallet.network}")
        fixed = self._watch([w.address for wallet in wallets for w in fixed_addresses(wallet)])
        await self._require_tip_at(at)
        chains = [
            (wallet, change, GapLimitScan(wallet.gap_limit, max(scan_range, wallet.gap_limit)))
            for wallet in wallets
            if isinstance(wallet, XpubWallet)
            for change in (0, 1)
        ]
        found: dict[str, int] = {}
        order: list[WatchedAddress] = list(fixed)
        first = True
        passes = 0
        while True:
            objects: list[object] = [f"addr({w.address})" for w in fixed] if first else []
            wanted = {w.script_pubkey for w in fixed} if first else set()
            pending: list[tuple[GapLimitScan, dict[str, int], tuple[WatchedAddress, ...]]] = []
            for wallet, change, gap in chains:
                batch = gap.next_batch()
                if batch is None:
                    continue
                derived = wallet.derive_range(change, batch.start, batch.stop)
                objects.append(
                    {"desc": wallet.descriptor(change), "range": [batch.start, batch.stop - 1]}
                )
                index = {w.script_pubkey: batch.start + i for i, w in enumerate(derived)}
                wanted.update(index)
                pending.append((gap, index, derived))
            if not objects:
                break
            scan = await self._scan(objects, wanted)
            self._check_scan_block(scan, at)
            passes += 1
            if first:
                found.update(
                    {w.script_pubkey: scan.by_script.get(w.script_pubkey, 0) for w in fixed}
                )
                first = False
            for gap, index, derived in pending:
                gap.feed(index[spk] for spk in scan.by_script if spk in index)
                for w in derived:
                    if w.script_pubkey in scan.by_script and w.script_pubkey not in found:
                        found[w.script_pubkey] = scan.by_script[w.script_pubkey]
                        order.append(w)
        balances = tuple(Balance(w.address, self.asset, found[w.script_pubkey]) for w in order)
        return ChainSnapshot(
            block=at,
            balances=balances,
            requests=self.requests - start,
            method="scantxoutset",
            notes=(f"{passes} UTXO-set pass(es)",),
        )


async def naive_balances(
    url: str,
    authorization: str | None,
    addresses: Sequence[str],
    *,
    network: str,
    timeout: float = 1800.0,  # float-ok: seconds
) -> tuple[dict[str, int], int]:
    """The baseline for benchmarks: one `scantxoutset` per address, one after another.

    No pinning and no batching: each address costs a full pass over the UTXO set.

    Parameters
    ----------
    url
        The node's RPC address.
    authorization
        The Authorization header value (`chains.rpc.auth_from_sources`), or None.
    addresses
        Addresses of `network`.
    network
        The node's network (addresses are checked against it).
    timeout
        Seconds per scan.

    Returns
    -------
    tuple[dict[str, int], int]
        Satoshi per address at whatever the tip was during its scan, and the HTTP requests.
    """
    watched = watch_addresses(addresses, network)
    balances: dict[str, int] = {}
    async with JsonRpc(
        url, authorization=authorization, timeout=timeout, retries=0, concurrency=1, name="bitcoind"
    ) as rpc:
        for w in watched:
            scan = await scantxoutset(rpc, [f"addr({w.address})"], {w.script_pubkey}, url)
            balances[w.address] = scan.by_script.get(w.script_pubkey, 0)
        return balances, rpc.requests
