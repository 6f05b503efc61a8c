"""Ethereum JSON-RPC adapter: ETH and ERC-20 balances of many addresses at one pinned block.

Where it sits: the Ethereum edge of `chains/` (contract in `chains/base.py`), under
`verifier/holdings/snapshot.py`. It talks to any Ethereum JSON-RPC node (geth, reth, anvil, ...)
with raw JSON-RPC batches (the transport, its retries and typed errors:
`chains/eth_rpc.py`) and returns frozen values; raw JSON never leaves the Ethereum modules
(values are decoded at once by `chains/eth_hex.py`).

Two modes:

* plain (default): `eth_getBalance` and `eth_call balanceOf(holder)` at the pinned block
  number, sent as JSON-RPC batches (one HTTP request per batch,
  `max_batch` calls each, `concurrency` batches in flight). The node is trusted.
* trustless: `eth_getProof` (EIP-1186) for every holder (its ETH balance) and for every
  token contract with the holders' balance slots (`keccak256(pad32(holder) ++ pad32(slot))`,
  the Solidity layout of a `mapping(address => uint256)` at storage slot `slot`), each
  verified from the raw replies against the pinned block's header (`chains/eth_proofs.py`;
  a failing check is `ProofMismatch`). Still one HTTP request per batch.

Pinning (both modes): before the reads one batch checks `eth_chainId` (else
`NetworkMismatch`), that the node has reached the height (else `StaleNode`) and that the
block there still has the pinned hash (else `TipMoved`); after the reads the hash is checked
again (`TipMoved` on a reorg during the scan). Every read names the block number. The
same pinning guards the contract reads (`code_at`, EIP-1271 `call_is_valid_signature`,
used by `chains/eth_ownership.py`).

Hex quantities become ints at once; amounts are never floats. The URL may carry an API key
(`/v3/<key>`, `?apikey=`): messages show it masked (`shown_url`).

The benchmark's baseline, one plain HTTP POST per balance, is `chains/eth_naive.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak

from chains.base import DEFAULT_MAX_REPLY_BYTES, Balance, BlockRef, Chain, ChainSnapshot, Token
from chains.eth_hex import checksum_address, hex_data, json_list, json_object, quantity
from chains.eth_proofs import (
    EMPTY_CODE_HASH,
    balance_slot,
    verify_account_proof,
    verify_header,
    verify_storage_proof,
)
from chains.eth_rpc import EthereumRpc, Tally
from chains.rpc import peek
from verifier.base.console import plural
from verifier.base.errors import (
    InputError,
    MalformedReply,
    NetworkMismatch,
    RpcError,
    StaleNode,
    TipMoved,
)

__all__ = ["BALANCE_OF", "ETH", "IS_VALID_SIGNATURE", "EthereumAdapter", "balance_of_data"]

ETH = Token("ETH", 18)
"""The native asset of Ethereum mainnet and of anvil."""
BALANCE_OF = keccak(text="balanceOf(address)")[:4]
"""ERC-20 `balanceOf(address)` selector, 0x70a08231."""
IS_VALID_SIGNATURE = keccak(text="isValidSignature(bytes32,bytes)")[:4]
"""EIP-1271 selector, which is also the magic value a valid signature returns: 0x1626ba7e."""
RPC_EXECUTION_REVERTED = 3


def _block_ref(block: Any, chain_id: int) -> BlockRef:
    doc = json_object(block, "block")
    return BlockRef(
        chain=Chain.ETHEREUM,
        network=str(chain_id),
        height=quantity(doc.get("number"), "block number"),
        hash=hex_data(doc.get("hash"), "block hash", 32).hex(),
        time=quantity(doc.get("timestamp"), "block timestamp"),
    )


@dataclass(frozen=True, slots=True)
class _Read:
    """One balance to read: `asset` of `address` (contract None = the native coin)."""

    address: str
    """Checksummed."""
    asset: str
    contract: str | None


class EthereumAdapter(EthereumRpc):
    """ETH and ERC-20 balances at a pinned block from an Ethereum JSON-RPC node.

    Parameters
    ----------
    url
        The node's JSON-RPC endpoint.
    chain_id
        The chain id the node must report (`eth_chainId`), e.g. 1, or 31337 for anvil.
    native
        The native asset (its code names the balances); `ETH` by default.
    tokens
        ERC-20 tokens to read (each with `contract`).
    timeout
        Seconds for each HTTP request (and each await on it).
    concurrency
        HTTP requests in flight at once.
    trustless
        Read through `eth_getProof` and verify every proof (see the module docstring).
    balance_slots
        Token code -> storage slot of its balances mapping (trustless mode); 0 if absent.
    max_batch
        JSON-RPC calls per HTTP request in plain mode.
    proof_batch
        `eth_getProof` calls per HTTP request in trustless mode.
    proof_keys
        Storage keys per `eth_getProof` call on a token contract.
    retries, backoff
        Transient failures (connection refused or reset, timeouts, a body cut short, HTTP
        502/503/504: `chains.retry`) are retried this many times, after `backoff`,
        2 x `backoff`, ... seconds.
    max_reply_bytes
        The largest reply read (`chains.rpc.read_body`); larger is `ReplyTooLarge`.
    """

    chain = Chain.ETHEREUM

    def __init__(
        self,
        url: str,
        chain_id: int,
        *,
        native: Token = ETH,
        tokens: Sequence[Token] = (),
        timeout: float = 30.0,  # float-ok: seconds
        concurrency: int = 8,
        trustless: bool = False,
        balance_slots: Mapping[str, int] | None = None,
        max_batch: int = 500,
        proof_batch: int = 50,
        proof_keys: int = 100,
        retries: int = 2,
        backoff: float = 0.1,  # float-ok: seconds
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        super().__init__(
            url,
            timeout=timeout,
            concurrency=concurrency,
            retries=retries,
            backoff=backoff,
            max_reply_bytes=max_reply_bytes,
        )
        if native.contract is not None:
            raise InputError("the native asset has no contract", value=native.contract)
        self.chain_id = chain_id
        self.native = native
        self.tokens = tuple(
            Token(t.code, t.decimals, checksum_address(t.contract or "", f"token {t.code}"))
            for t in tokens
        )
        codes = [native.code, *(t.code for t in self.tokens)]
        if len(set(codes)) != len(codes):
            raise InputError("asset codes must be unique", value=", ".join(codes))
        slots = dict(balance_slots or {})
        unknown = set(slots) - {t.code for t in self.tokens}
        if unknown:
            raise InputError("balance slot for an unknown token", value=", ".join(sorted(unknown)))
        self.balance_slots = {t.code: slots.get(t.code, 0) for t in self.tokens}
        self.trustless = trustless
        self._max_batch = max(1, max_batch)
        self._proof_batch = max(1, proof_batch)
        self._proof_keys = max(1, proof_keys)

    @property
    def assets(self) -> tuple[Token, ...]:
        """The native asset, then the tokens, in the order balances are reported."""
        return (self.native, *self.tokens)

    # ------------------------------------------------------------------ pinning

    async def _block(self, tag: str, tally: Tally) -> tuple[Any, int]:
        """(block object or None, tip number), checking the chain id in the same batch."""
        chain_id, tip, block = await self._raw_batch(
            [
                ("eth_chainId", []),
                ("eth_blockNumber", []),
                ("eth_getBlockByNumber", [tag, False]),
            ],
            tally,
        )
        if quantity(chain_id, "eth_chainId") != self.chain_id:
            raise NetworkMismatch(
                f"ethereum node at {self.shown_url} serves chain id "
                f"{quantity(chain_id, 'chain id')}, not {self.chain_id}"
            )
        return block, quantity(tip, "eth_blockNumber")

    async def tip(self) -> BlockRef:
        """The node's current best block.

        Returns
        -------
        BlockRef
            Chain ETHEREUM, network = the chain id, the tip's number and hash.
        """
        block, _ = await self._block("latest", Tally())
        if block is None:
            raise MalformedReply("the node has no latest block")
        return _block_ref(block, self.chain_id)

    async def block_at(self, height: int) -> BlockRef:
        """The block at `height` on the node's best chain.

        Parameters
        ----------
        height
            Block number.

        Returns
        -------
        BlockRef
            The block's number and hash.

        Raises
        ------
        StaleNode
            The node has not reached `height`.
        """
        if not isinstance(height, int) or height < 0:
            raise InputError("block height must be a non-negative integer", value=str(height))
        block, tip = await self._block(hex(height), Tally())
        if block is None:
            raise StaleNode(f"ethereum node at {self.shown_url} is at block {tip}, below {height}")
        return _block_ref(block, self.chain_id)

    async def _pin(self, at: BlockRef, tally: Tally) -> Mapping[str, Any]:
        """Check that block `at` is still on the node's best chain; return its raw header."""
        if at.chain is not Chain.ETHEREUM or at.network != str(self.chain_id):
            raise NetworkMismatch(
                f"block {at.height} is pinned on {at.chain.value} {at.network}, "
                f"this adapter reads ethereum {self.chain_id}"
            )
        block, tip = await self._block(hex(at.height), tally)
        if block is None:
            raise StaleNode(
                f"ethereum node at {self.shown_url} is at block {tip}, below {at.height}"
            )
        current = _block_ref(block, self.chain_id)
        if current.hash != at.hash:
            raise TipMoved(
                f"block {at.height} is now {current.hash}, not the pinned {at.hash} (reorg)"
            )
        return json_object(block, "block")

    # ------------------------------------------------------------------ holdings

    async def holdings(self, addresses: Sequence[str], at: BlockRef) -> ChainSnapshot:
        """Every address's balance of every configured asset at exactly block `at`.

        Parameters
        ----------
        addresses
            Holder addresses (0x + 40 hex; checksummed or all one case). Balances name
            them exactly as given.
        at
            The pinned block (from `tip` or `block_at`).

        Returns
        -------
        ChainSnapshot
            One `Balance` per (address, asset), native asset first; `requests` counts the
            HTTP requests (a batch counts once).

        Raises
        ------
        NetworkMismatch, StaleNode, TipMoved, NodeUnavailable, RpcError, MalformedReply
            As in the module docstring (pinning) and chains/eth_rpc.py (transport).
        ProofMismatch
            Trustless mode: a header or proof that does not verify.
        """
        given = list(addresses)
        holders = [checksum_address(a) for a in given]
        if len({h.lower() for h in holders}) != len(holders):
            raise InputError("an address is listed twice", value=_first_duplicate(holders))
        tally = Tally()
        header = await self._pin(at, tally)
        if self.trustless:
            units, notes = await self._proven_balances(holders, at, header, tally)
            method = "eth_getProof"
        else:
            units = await self._plain_balances(holders, at.height, tally)
            notes = ()
            method = "eth_getBalance + eth_call balanceOf"
        await self._pin(at, tally)
        balances = tuple(
            Balance(address=name, asset=asset.code, units=units[(holder, asset.code)])
            for name, holder in zip(given, holders, strict=True)
            for asset in self.assets
        )
        return ChainSnapshot(
            block=at, balances=balances, requests=tally.requests, method=method, notes=notes
        )

    async def _plain_balances(
        self, holders: Sequence[str], height: int, tally: Tally
    ) -> dict[tuple[str, str], int]:
        reads = [_Read(h, a.code, a.contract) for h in holders for a in self.assets]
        chunks = [reads[i : i + self._max_batch] for i in range(0, len(reads), self._max_batch)]
        results = await self._fan_out([self._read_chunk(c, height, tally) for c in chunks])
        out: dict[tuple[str, str], int] = {}
        for chunk, values in zip(chunks, results, strict=True):
            for read, value in zip(chunk, values, strict=True):
                out[(read.address, read.asset)] = value
        return out

    async def _read_chunk(self, chunk: Sequence[_Read], height: int, tally: Tally) -> list[int]:
        """One raw JSON-RPC batch of eth_getBalance / eth_call balanceOf at `height`.

        Raw batches rather than web3's `w3.batch_requests()`: web3's per-call request and
        result formatting cost about 0.2 ms a balance, ten times the node's own time for a
        batched read (measured with `por bench snapshot`).
        """
        tag = hex(height)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBalance", [read.address, tag])
            if read.contract is None
            else ("eth_call", [{"to": read.contract, "data": balance_of_data(read.address)}, tag])
            for read in chunk
        ]
        replies = await self._raw_batch(calls, tally)
        values = []
        for read, reply in zip(chunk, replies, strict=True):
            if read.contract is None:
                values.append(quantity(reply, f"eth_getBalance of {read.address}"))
            else:
                values.append(_decode_word(hex_data(reply, f"balanceOf({read.address})"), read))
        return values

    async def _proven_balances(
        self,
        holders: Sequence[str],
        at: BlockRef,
        header: Mapping[str, Any],
        tally: Tally,
    ) -> tuple[dict[tuple[str, str], int], tuple[str, ...]]:
        state_root = verify_header(header, at.hash)
        block = hex(at.height)
        calls: list[tuple[str, list[Any]]] = [("eth_getProof", [h, [], block]) for h in holders]
        keys: list[tuple[Token, list[tuple[str, bytes]]]] = []
        for token in self.tokens:
            slot = self.balance_slots[token.code]
            wanted = [(h, balance_slot(h, slot)) for h in holders]
            for i in range(0, len(wanted), self._proof_keys):
                part = wanted[i : i + self._proof_keys]
                keys.append((token, part))
                calls.append(
                    ("eth_getProof", [token.contract, ["0x" + k.hex() for _, k in part], block])
                )
        chunks = [calls[i : i + self._proof_batch] for i in range(0, len(calls), self._proof_batch)]
        replies = [
            r
            for part in await self._fan_out([self._raw_batch(c, tally) for c in chunks])
            for r in part
        ]
        out: dict[tuple[str, str], int] = {}
        for holder, reply in zip(holders, replies, strict=False):
            account = verify_account_proof(state_root, holder, json_object(reply, "eth_getProof"))
            out[(holder, self.native.code)] = account.balance
        for (token, part), reply in zip(keys, replies[len(holders) :], strict=True):
            contract = cast(str, token.contract)
            doc = json_object(reply, "eth_getProof")
            account = verify_account_proof(state_root, contract, doc)
            if account.code_hash == EMPTY_CODE_HASH:
                raise MalformedReply(
                    f"token {token.code}: no contract code at {contract} in block {at.height}"
                )
            entries = json_list(doc.get("storageProof"), f"storageProof of {contract}")
            if len(entries) != len(part):
                raise MalformedReply(
                    f"token {token.code}: {plural(len(part), 'storage key')} got "
                    f"{plural(len(entries), 'proof')}"
                )
            for (holder, key), entry in zip(part, entries, strict=True):
                out[(holder, token.code)] = verify_storage_proof(
                    account.storage_root, key, json_object(entry, "storage proof"), contract
                )
        notes = (
            f"header of block {at.height} hashes to the pinned hash; "
            f"stateRoot 0x{state_root.hex()}",
            *(
                f"{t.code}: balances mapping at storage slot {self.balance_slots[t.code]}"
                for t in self.tokens
            ),
        )
        return out, notes

    # ------------------------------------------------------------------ contracts

    async def code_at(self, address: str, at: BlockRef) -> bytes:
        """The code of `address` at block `at` (empty for an externally owned account).

        Parameters
        ----------
        address
            The account.
        at
            The pinned block; `TipMoved` if it is no longer on the best chain.

        Returns
        -------
        bytes
            The runtime bytecode.
        """
        account = checksum_address(address)
        tally = Tally()
        await self._pin(at, tally)
        (code,) = await self._raw_batch([("eth_getCode", [account, hex(at.height)])], tally)
        await self._pin(at, tally)
        return hex_data(code, f"eth_getCode of {account}")

    async def call_is_valid_signature(
        self, contract: str, hash32: bytes, signature: bytes, at: BlockRef
    ) -> bool:
        """EIP-1271: does `contract` accept `signature` over `hash32` at block `at`?

        Parameters
        ----------
        contract
            The contract wallet.
        hash32
            The 32-byte message hash (for a challenge: its EIP-191 hash).
        signature
            The signature bytes, passed to the contract as they are.
        at
            The pinned block; the call runs at its number, and `TipMoved` is raised if it
            is no longer on the best chain before or after.

        Returns
        -------
        bool
            True iff `isValidSignature(hash32, signature)` returned the magic value
            0x1626ba7e; False if it returned anything else or reverted.
        """
        account = checksum_address(contract)
        if len(hash32) != 32:
            raise InputError("the hash must have 32 bytes", value=hash32.hex())
        data = (
            "0x"
            + (IS_VALID_SIGNATURE + abi_encode(["bytes32", "bytes"], [hash32, signature])).hex()
        )
        tally = Tally()
        await self._pin(at, tally)
        try:
            (result,) = await self._raw_batch(
                [("eth_call", [{"to": account, "data": data}, hex(at.height)])], tally
            )
        except RpcError as exc:
            # EIP-1271: a contract may revert instead of returning a non-magic value
            if exc.code != RPC_EXECUTION_REVERTED and "revert" not in exc.message.lower():
                raise
            result = "0x"
        await self._pin(at, tally)
        returned = hex_data(result, "isValidSignature")
        return len(returned) == 32 and returned[:4] == IS_VALID_SIGNATURE


# ---------------------------------------------------------------------- helpers


def balance_of_data(holder: str) -> str:
    """The `eth_call` data of ERC-20 `balanceOf(holder)`, hex with 0x."""
    return "0x" + (BALANCE_OF + bytes.fromhex(holder[2:]).rjust(32, b"\0")).hex()


def _decode_word(reply: Any, read: _Read) -> int:
    if not isinstance(reply, bytes | bytearray):
        raise MalformedReply(f"balanceOf({read.address}) on {read.contract}: {peek(reply)}")
    if len(reply) != 32:
        raise MalformedReply(
            f"balanceOf({read.address}) on {read.contract} returned "
            f"{plural(len(reply), 'byte')}, not 32 (no contract code there at that block?)"
        )
    return int.from_bytes(reply, "big")


def _first_duplicate(holders: Sequence[str]) -> str:
    seen: set[str] = set()
    for holder in holders:
        if holder.lower() in seen:
            return holder
        seen.add(holder.lower())
    return ""
