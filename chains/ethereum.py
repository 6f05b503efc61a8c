"""Ethereum JSON-RPC adapter: ETH and ERC-20 balances of many addresses at one pinned block.

Where it sits: the Ethereum edge of `chains/` (contract in `chains/base.py`), under
`verifier/holdings/snapshot.py`. It talks to any Ethereum JSON-RPC node (geth, reth, anvil, ...)
with raw JSON-RPC batches over aiohttp and returns frozen values; raw JSON never leaves this
module. (web3's request and result formatting cost ten times the node's own time for a
batched read, measured with `por bench snapshot`, and its provider shows the URL, API key
included, in its string form.)

Two modes:

* plain (default): `eth_getBalance` and `eth_call balanceOf(holder)` at the pinned block
  number, sent as JSON-RPC batches (one HTTP request per batch,
  `max_batch` calls each, `concurrency` batches in flight). The node is trusted.
* trustless: `eth_getProof` (EIP-1186) for every holder (its ETH balance) and for every
  token contract with the holders' balance slots (`keccak256(pad32(holder) ++ pad32(slot))`,
  the Solidity layout of a `mapping(address => uint256)` at storage slot `slot`). The block
  header is hashed (RLP, keccak256) and must equal the pinned block hash, which makes its
  `stateRoot` trusted; each account proof is checked against the `stateRoot` and each
  storage proof against the token's `storageRoot`, itself proven by the token's account
  proof (`trie.HexaryTrie.get_from_proof`, `rlp`). Any failing check raises `ProofMismatch`;
  a value the node states but the proof does not give is never used. Proofs are decoded
  and verified from the raw replies (still one HTTP request per batch).

Pinning (both modes): before the reads one batch checks `eth_chainId` (else
`NetworkMismatch`), that the node has reached the height (else `StaleNode`) and that the
block there still has the pinned hash (else `TipMoved`); after the reads the hash is checked
again (`TipMoved` on a reorg during the scan). Every read names the block number.

Errors are translated at the boundary (`raise ... from exc`): connection failures and
timeouts (retried `retries` times with backoff first) -> `NodeUnavailable`; JSON-RPC error
objects -> `RpcError`; replies of the wrong shape -> `MalformedReply`. A reply is read up to
`max_reply_bytes` (`chains.rpc.read_body`, else `ReplyTooLarge`) and decoded with bounded
nesting and integers (`chains.rpc.decode_reply`). Hex quantities become ints at once;
amounts are never floats. The URL may carry an API key (`/v3/<key>`, `?apikey=`): messages
show it masked (`shown_url`).

`naive_balances` is the benchmark's baseline: one plain HTTP POST per balance, sequentially.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self, TypeVar, cast

import aiohttp
import rlp
from eth_abi.abi import encode as abi_encode
from eth_utils.crypto import keccak
from trie.constants import BLANK_HASH, BLANK_NODE_HASH
from trie.hexary import HexaryTrie

from chains.base import DEFAULT_MAX_REPLY_BYTES, Balance, BlockRef, Chain, ChainSnapshot, Token
from chains.retry import RetryPolicy, unavailable
from chains.rpc import check_endpoint, decode_reply, peek, read_body, short
from verifier.base.errors import (
    ChainError,
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

log = logging.getLogger(__name__)
ETH = Token("ETH", 18)
"""The native asset of Ethereum mainnet and of anvil."""
BALANCE_OF = keccak(text="balanceOf(address)")[:4]
"""ERC-20 `balanceOf(address)` selector, 0x70a08231."""
IS_VALID_SIGNATURE = keccak(text="isValidSignature(bytes32,bytes)")[:4]
"""EIP-1271 selector, which is also the magic value a valid signature returns: 0x1626ba7e."""
EMPTY_CODE_HASH = BLANK_HASH
"""keccak256 of empty code: the codeHash of an account without code."""
EMPTY_TRIE_ROOT = BLANK_NODE_HASH
"""keccak256(rlp(b"")): the storageRoot of an account without storage."""
RPC_EXECUTION_REVERTED = 3

_QUANTITY = re.compile(r"0x(0|[1-9a-fA-F][0-9a-fA-F]{0,63})")
_DATA = re.compile(r"0x([0-9a-fA-F]{2})*")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_WORD = re.compile(r"0x[0-9a-fA-F]{1,64}")

# Header fields in RLP order (Yellow Paper; EIP-1559, -4895, -4844, -4788, -7685). The
# later ones exist only from their fork on, so the list is cut at the first one missing.
_HEADER_FIELDS = (
    ("parentHash", 32),
    ("sha3Uncles", 32),
    ("miner", 20),
    ("stateRoot", 32),
    ("transactionsRoot", 32),
    ("receiptsRoot", 32),
    ("logsBloom", 256),
    ("difficulty", 0),
    ("number", 0),
    ("gasLimit", 0),
    ("gasUsed", 0),
    ("timestamp", 0),
    ("extraData", -1),
    ("mixHash", 32),
    ("nonce", 8),
    ("baseFeePerGas", 0),
    ("withdrawalsRoot", 32),
    ("blobGasUsed", 0),
    ("excessBlobGas", 0),
    ("parentBeaconBlockRoot", 32),
    ("requestsHash", 32),
)
"""(name, size): size 0 = a quantity (minimal big-endian), -1 = bytes of any length."""
_REQUIRED_FIELDS = 15
"""The fields up to `nonce` are in every header; `baseFeePerGas` onwards only from its fork."""

_T = TypeVar("_T")


class ProofMismatch(ChainError):
    """A Merkle-Patricia proof (or block header) from the node that does not verify.

    `check` names the failing check ("header", "account proof", "account fields",
    "storage proof", "storage value"); `address` the account concerned, if any.
    """

    def __init__(self, check: str, message: str, *, address: str | None = None) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check
        self.address = address

    def to_json(self) -> dict[str, object]:
        doc = super().to_json()
        doc.update({"check": self.check, "address": self.address})
        return doc


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account as its state-trie leaf stores it (Yellow Paper section 4.1)."""

    nonce: int
    balance: int
    """Wei."""
    storage_root: bytes
    """Root of the account's storage trie (32 bytes)."""
    code_hash: bytes
    """keccak256 of the account's code (32 bytes); `EMPTY_CODE_HASH` if it has none."""


# ---------------------------------------------------------------------- decoding helpers


def _quantity(value: Any, what: str) -> int:
    """A JSON-RPC hex quantity ("0x1a") as an int, at once."""
    if not isinstance(value, str) or not _QUANTITY.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not a hex quantity")
    return int(value, 16)


def _word(value: Any, what: str) -> int:
    """A storage key or value: clients send it as a quantity or zero-padded to 32 bytes."""
    if not isinstance(value, str) or not _WORD.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not a hex word")
    return int(value, 16)


def _data(value: Any, what: str, size: int | None = None) -> bytes:
    """JSON-RPC hex data ("0x..." with whole bytes), optionally of a fixed size."""
    if not isinstance(value, str) or not _DATA.fullmatch(value):
        raise MalformedReply(f"{what}: {peek(value)} is not hex data")
    raw = bytes.fromhex(value[2:])
    if size is not None and len(raw) != size:
        raise MalformedReply(f"{what}: {len(raw)} bytes, expected {size}")
    return raw


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedReply(f"{what}: {peek(value)} is not an object")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedReply(f"{what}: {peek(value)} is not a list")
    return value


def checksum_address(address: str, what: str = "address") -> str:
    """An address in its EIP-55 checksummed form.

    Parameters
    ----------
    address
        0x + 40 hex digits: all lowercase, all uppercase, or correctly checksummed.
    what
        What the address is, for the error message.

    Returns
    -------
    str
        The checksummed address.

    Raises
    ------
    InputError
        Not an address, or mixed case with a wrong checksum (a typo EIP-55 catches).
    """
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        raise InputError(f"{what} is not an Ethereum address", value=str(address))
    body = address[2:]
    checksummed = _eip55(body.lower())
    if body != body.lower() and body != body.upper() and checksummed != address:
        raise InputError(f"{what} has a wrong EIP-55 checksum", value=address)
    return checksummed


@functools.lru_cache(maxsize=1 << 16)
def _eip55(lower: str) -> str:
    """EIP-55 of 40 lowercase hex digits: one keccak, no library decorators (a snapshot of
    thousands of addresses spent most of its time in eth_utils' checksum helpers)."""
    digest = keccak(text=lower).hex()
    return "0x" + "".join(
        c.upper() if c > "9" and digest[i] >= "8" else c for i, c in enumerate(lower)
    )


def _block_ref(block: Any, chain_id: int) -> BlockRef:
    doc = _mapping(block, "block")
    return BlockRef(
        chain=Chain.ETHEREUM,
        network=str(chain_id),
        height=_quantity(doc.get("number"), "block number"),
        hash=_data(doc.get("hash"), "block hash", 32).hex(),
        time=_quantity(doc.get("timestamp"), "block timestamp"),
    )


# ---------------------------------------------------------------------- proofs (pure)


def header_hash(block: Mapping[str, Any]) -> str:
    """keccak256 of the RLP-encoded header of an `eth_getBlockByNumber` reply (hex, no 0x).

    Parameters
    ----------
    block
        The block object as the node sent it (hex strings).

    Returns
    -------
    str
        The hash the header's fields give, to compare with the block hash.
    """
    items: list[bytes] = []
    for index, (name, size) in enumerate(_HEADER_FIELDS):
        if name not in block:
            if index >= _REQUIRED_FIELDS:
                break
            raise MalformedReply(f"block header has no {name}")
        if size == 0:
            n = _quantity(block[name], f"header {name}")
            items.append(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        else:
            items.append(_data(block[name], f"header {name}", None if size < 0 else size))
    return bytes(keccak(rlp.encode(items))).hex()


def verify_header(block: Mapping[str, Any], expected_hash: str) -> bytes:
    """Check that the header's fields hash to `expected_hash`; return its stateRoot.

    Parameters
    ----------
    block
        The `eth_getBlockByNumber` reply.
    expected_hash
        The pinned block hash (hex, no 0x).

    Returns
    -------
    bytes
        The 32-byte stateRoot, now bound to the pinned hash.

    Raises
    ------
    ProofMismatch
        The header does not hash to the pinned hash (check "header").
    """
    computed = header_hash(block)
    if computed != expected_hash:
        raise ProofMismatch(
            "header",
            f"the header fields hash to {computed}, not to the pinned block {expected_hash} "
            "(a tampered header, or header fields of a fork this code does not know)",
        )
    return _data(block.get("stateRoot"), "header stateRoot", 32)


def _prove(root: bytes, key: bytes, proof: Any, check: str, address: str) -> bytes:
    """The value at `key` in the trie with root `root`, as the proof nodes establish it."""
    nodes = _list(proof, f"{check} of {address}")
    try:
        decoded = [rlp.decode(_data(node, f"{check} node")) for node in nodes]
        value = HexaryTrie.get_from_proof(root, key, decoded)  # type: ignore[no-untyped-call]
    except MalformedReply:
        raise
    except Exception as exc:
        # anything the trie library rejects (a missing or altered node, bad RLP, a node of
        # the wrong shape) means the proof does not establish the value: never trust it
        raise ProofMismatch(
            check, f"does not verify against root 0x{root.hex()} ({exc})", address=address
        ) from exc
    return bytes(value)


def verify_account_proof(state_root: bytes, address: str, reply: Mapping[str, Any]) -> AccountState:
    """Verify an `eth_getProof` reply's account proof against a block's stateRoot.

    Parameters
    ----------
    state_root
        The block's stateRoot (32 bytes), e.g. from `verify_header`.
    address
        The account asked for (any case).
    reply
        The `eth_getProof` result: address, accountProof, balance, nonce, storageHash,
        codeHash.

    Returns
    -------
    AccountState
        The proven account (all zero with empty roots if the proof shows it absent).

    Raises
    ------
    ProofMismatch
        The proof does not verify ("account proof"), or the reply's stated fields differ from
        the proven ones ("account fields").
    """
    stated_address = _data(reply.get("address"), "proof address", 20)
    if stated_address != bytes.fromhex(address[2:]):
        raise ProofMismatch(
            "account fields", f"a proof for 0x{stated_address.hex()} was sent", address=address
        )
    leaf = _prove(
        state_root,
        bytes(keccak(stated_address)),
        reply.get("accountProof"),
        "account proof",
        address,
    )
    if leaf == b"":
        proven = AccountState(0, 0, EMPTY_TRIE_ROOT, EMPTY_CODE_HASH)
    else:
        try:
            fields = rlp.decode(leaf)
            nonce, balance, storage_root, code_hash = fields
        except Exception as exc:
            raise ProofMismatch(
                "account proof", f"the proven leaf is not an account ({exc})", address=address
            ) from exc
        proven = AccountState(
            int.from_bytes(nonce, "big"),
            int.from_bytes(balance, "big"),
            bytes(storage_root),
            bytes(code_hash),
        )
    stated = AccountState(
        _quantity(reply.get("nonce"), "proof nonce"),
        _quantity(reply.get("balance"), "proof balance"),
        _data(reply.get("storageHash"), "proof storageHash", 32),
        _data(reply.get("codeHash"), "proof codeHash", 32),
    )
    if stated != proven:
        raise ProofMismatch(
            "account fields",
            f"the node states {stated} but the proof gives {proven}",
            address=address,
        )
    return proven


def balance_slot(holder: str, slot: int) -> bytes:
    """The storage key of `holder`'s entry in a `mapping(address => uint256)` at `slot`.

    Solidity layout: keccak256(pad32(holder) ++ pad32(slot)).

    Parameters
    ----------
    holder
        The address (0x + 40 hex).
    slot
        The mapping's storage slot (0 for `chains/nodes/contracts/TestToken.sol`).

    Returns
    -------
    bytes
        The 32-byte storage key (to pass to `eth_getProof`).
    """
    return bytes(keccak(bytes.fromhex(holder[2:]).rjust(32, b"\0") + slot.to_bytes(32, "big")))


def verify_storage_proof(
    storage_root: bytes, key: bytes, entry: Mapping[str, Any], address: str
) -> int:
    """Verify one `storageProof` entry of an `eth_getProof` reply; return the proven word.

    Parameters
    ----------
    storage_root
        The contract's proven storageRoot (`verify_account_proof`).
    key
        The 32-byte storage key asked for (`balance_slot`).
    entry
        The reply's entry for it: key, value, proof.
    address
        The contract's address (for the error message).

    Returns
    -------
    int
        The storage word (0 if the proof shows the slot empty).

    Raises
    ------
    ProofMismatch
        The proof does not verify ("storage proof"), or the entry's stated key or value
        differs from the proven one ("storage value").
    """
    stated_key = _word(entry.get("key"), "storage key")
    if stated_key != int.from_bytes(key, "big"):
        raise ProofMismatch(
            "storage value", f"a proof for key {hex(stated_key)} was sent", address=address
        )
    leaf = _prove(storage_root, bytes(keccak(key)), entry.get("proof"), "storage proof", address)
    if leaf == b"":
        proven = 0
    else:
        try:
            word = rlp.decode(leaf)
        except Exception as exc:
            raise ProofMismatch(
                "storage proof", f"the proven leaf is not RLP ({exc})", address=address
            ) from exc
        if not isinstance(word, bytes) or len(word) > 32:
            raise ProofMismatch("storage proof", "the proven leaf is not a word", address=address)
        proven = int.from_bytes(word, "big")
    stated = _word(entry.get("value"), "storage value")
    if stated != proven:
        raise ProofMismatch(
            "storage value",
            f"the node states {stated} at key 0x{key.hex()} but the proof gives {proven}",
            address=address,
        )
    return proven


# ---------------------------------------------------------------------- the adapter


@dataclass
class _Tally:
    """HTTP requests of one operation (concurrent operations on one adapter count apart)."""

    requests: int = 0


@dataclass(frozen=True, slots=True)
class _Read:
    """One balance to read: `asset` of `address` (contract None = the native coin)."""

    address: str
    """Checksummed."""
    asset: str
    contract: str | None


class EthereumAdapter:
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
        check_endpoint(url)
        # zero would mean "no timeout" to aiohttp and a gate nobody passes
        if not timeout > 0:
            raise InputError("the timeout must be positive", key="timeout", value=str(timeout))
        if concurrency < 1 or max_reply_bytes < 1:
            raise InputError(
                "concurrency and max_reply_bytes must be positive",
                value=f"{concurrency}, {max_reply_bytes}",
            )
        if native.contract is not None:
            raise InputError("the native asset has no contract", value=native.contract)
        self.url = url
        self.shown_url = mask_url(url)
        """The URL as messages show it: an API key or password in it is masked."""
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
        self._timeout = timeout
        self._policy = RetryPolicy(retries=retries, backoff=backoff, node="ethereum", log=log)
        self._max_batch = max(1, max_batch)
        self._proof_batch = max(1, proof_batch)
        self._proof_keys = max(1, proof_keys)
        self._max_reply = max_reply_bytes
        self._gate = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None
        self.requests = 0
        """HTTP requests sent by this adapter so far (all operations)."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                connector=aiohttp.TCPConnector(limit=32),
            )
        return self._session

    @property
    def assets(self) -> tuple[Token, ...]:
        """The native asset, then the tokens, in the order balances are reported."""
        return (self.native, *self.tokens)

    # ------------------------------------------------------------------ transport

    async def _send(self, tally: _Tally, op: Callable[[], Awaitable[_T]], what: str) -> _T:
        """Run one HTTP exchange with timeout, retries (`chains.retry`) and typed errors;
        count it."""

        async def attempt() -> _T:
            async with self._gate:
                tally.requests += 1
                self.requests += 1
                async with asyncio.timeout(self._timeout):
                    return await op()

        subject = f"ethereum node at {self.shown_url}: {what}"
        try:
            return await self._policy.run(attempt, subject=subject, give_up=unavailable(subject))
        except PorError:
            raise
        except (aiohttp.ClientError, OSError) as exc:
            # library texts may quote the URL: masked like ours
            raise NodeUnavailable(
                f"ethereum node at {self.shown_url}: {what} failed "
                f"({type(exc).__name__}: {short(exc)})"
            ) from exc
        except ValueError as exc:
            raise MalformedReply(f"ethereum {what}: bad reply ({short(exc)})") from exc

    async def _post_batch(self, body: list[dict[str, Any]], what: str) -> Any:
        """POST one JSON-RPC batch and decode the reply (no retries here: see `_send`).

        A plain POST; the reply is read up to `max_reply_bytes` and decoded bounded.
        """
        source = f"ethereum node at {self.shown_url} ({what})"
        async with self._client().post(self.url, json=body) as reply:
            reply.raise_for_status()
            raw = await read_body(reply, self._max_reply, source)
        return decode_reply(raw, source=source)

    async def _raw_batch(self, calls: Sequence[tuple[str, list[Any]]], tally: _Tally) -> list[Any]:
        """Raw JSON-RPC calls in one HTTP batch; their results in order (errors raise)."""
        body = [
            {"jsonrpc": "2.0", "id": n, "method": method, "params": params}
            for n, (method, params) in enumerate(calls)
        ]
        what = ", ".join(sorted({m for m, _ in calls}))

        async def op() -> Any:
            return await self._post_batch(body, what)

        replies = await self._send(tally, op, what)
        if not isinstance(replies, list):
            error = replies.get("error") if isinstance(replies, Mapping) else None
            raise _rpc_error(what, error) if error else MalformedReply(f"{what}: {peek(replies)}")
        if len(replies) != len(calls):
            raise MalformedReply(f"a batch of {len(calls)} calls got {len(replies)} replies")
        # JSON-RPC lets a server answer a batch in any order: match replies by id (an id
        # that is not a number answers none of ours; a list would not even be hashable)
        by_id = {
            r["id"]: r
            for r in replies
            if isinstance(r, Mapping) and isinstance(r.get("id"), int | str)
        }
        if sorted(by_id, key=str) != sorted(range(len(calls)), key=str):
            raise MalformedReply(f"a batch of {len(calls)} calls got replies with other ids")
        replies = [by_id[n] for n in range(len(calls))]
        out = []
        for (method, _), reply in zip(calls, replies, strict=True):
            reply_doc = _mapping(reply, f"reply to {method}")
            if reply_doc.get("error"):
                raise _rpc_error(method, reply_doc["error"])
            if "result" not in reply_doc:
                raise MalformedReply(f"reply to {method} has no result")
            out.append(reply_doc["result"])
        return out

    async def _fan_out(self, jobs: Sequence[Awaitable[_T]]) -> list[_T]:
        """Run the jobs concurrently (bounded by the request gate); the first error wins."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(_as_coroutine(job)) for job in jobs]
        except BaseExceptionGroup as failed:
            # surface one typed error, not the group; keep its library cause chained
            error = _first_error(failed)
            raise error from error.__cause__
        return [task.result() for task in tasks]

    # ------------------------------------------------------------------ pinning

    async def _block(self, tag: str, tally: _Tally) -> tuple[Any, int]:
        """(block object or None, tip number), checking the chain id in the same batch."""
        chain_id, tip, block = await self._raw_batch(
            [
                ("eth_chainId", []),
                ("eth_blockNumber", []),
                ("eth_getBlockByNumber", [tag, False]),
            ],
            tally,
        )
        if _quantity(chain_id, "eth_chainId") != self.chain_id:
            raise NetworkMismatch(
                f"ethereum node at {self.shown_url} serves chain id "
                f"{_quantity(chain_id, 'chain id')}, not {self.chain_id}"
            )
        return block, _quantity(tip, "eth_blockNumber")

    async def tip(self) -> BlockRef:
        """The node's current best block.

        Returns
        -------
        BlockRef
            Chain ETHEREUM, network = the chain id, the tip's number and hash.
        """
        block, _ = await self._block("latest", _Tally())
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
        block, tip = await self._block(hex(height), _Tally())
        if block is None:
            raise StaleNode(f"ethereum node at {self.shown_url} is at block {tip}, below {height}")
        return _block_ref(block, self.chain_id)

    async def _pin(self, at: BlockRef, tally: _Tally) -> Mapping[str, Any]:
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
        return _mapping(block, "block")

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
            As in the module docstring.
        ProofMismatch
            Trustless mode: a header or proof that does not verify.
        """
        given = list(addresses)
        holders = [checksum_address(a) for a in given]
        if len({h.lower() for h in holders}) != len(holders):
            raise InputError("an address is listed twice", value=_first_duplicate(holders))
        tally = _Tally()
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
        self, holders: Sequence[str], height: int, tally: _Tally
    ) -> dict[tuple[str, str], int]:
        reads = [_Read(h, a.code, a.contract) for h in holders for a in self.assets]
        chunks = [reads[i : i + self._max_batch] for i in range(0, len(reads), self._max_batch)]
        results = await self._fan_out([self._read_chunk(c, height, tally) for c in chunks])
        out: dict[tuple[str, str], int] = {}
        for chunk, values in zip(chunks, results, strict=True):
            for read, value in zip(chunk, values, strict=True):
                out[(read.address, read.asset)] = value
        return out

    async def _read_chunk(self, chunk: Sequence[_Read], height: int, tally: _Tally) -> list[int]:
        """One raw JSON-RPC batch of eth_getBalance / eth_call balanceOf at `height`.

        Raw batches rather than web3's `w3.batch_requests()`: web3's per-call request and
        result formatting cost about 0.2 ms a balance, ten times the node's own time for a
        batched read (measured with `por bench snapshot`).
        """
        tag = hex(height)
        calls: list[tuple[str, list[Any]]] = [
            ("eth_getBalance", [read.address, tag])
            if read.contract is None
            else ("eth_call", [{"to": read.contract, "data": _balance_of(read.address)}, tag])
            for read in chunk
        ]
        replies = await self._raw_batch(calls, tally)
        values = []
        for read, reply in zip(chunk, replies, strict=True):
            if read.contract is None:
                values.append(_quantity(reply, f"eth_getBalance of {read.address}"))
            else:
                values.append(_decode_word(_data(reply, f"balanceOf({read.address})"), read))
        return values

    async def _proven_balances(
        self,
        holders: Sequence[str],
        at: BlockRef,
        header: Mapping[str, Any],
        tally: _Tally,
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
            account = verify_account_proof(state_root, holder, _mapping(reply, "eth_getProof"))
            out[(holder, self.native.code)] = account.balance
        for (token, part), reply in zip(keys, replies[len(holders) :], strict=True):
            contract = cast(str, token.contract)
            doc = _mapping(reply, "eth_getProof")
            account = verify_account_proof(state_root, contract, doc)
            if account.code_hash == EMPTY_CODE_HASH:
                raise MalformedReply(
                    f"token {token.code}: no contract code at {contract} in block {at.height}"
                )
            entries = _list(doc.get("storageProof"), f"storageProof of {contract}")
            if len(entries) != len(part):
                raise MalformedReply(
                    f"token {token.code}: {len(part)} storage keys got {len(entries)} proofs"
                )
            for (holder, key), entry in zip(part, entries, strict=True):
                out[(holder, token.code)] = verify_storage_proof(
                    account.storage_root, key, _mapping(entry, "storage proof"), contract
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
        tally = _Tally()
        await self._pin(at, tally)
        (code,) = await self._raw_batch([("eth_getCode", [account, hex(at.height)])], tally)
        await self._pin(at, tally)
        return _data(code, f"eth_getCode of {account}")

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
        tally = _Tally()
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
        returned = _data(result, "isValidSignature")
        return len(returned) == 32 and returned[:4] == IS_VALID_SIGNATURE


# ---------------------------------------------------------------------- helpers


def _balance_of(holder: str) -> str:
    return "0x" + (BALANCE_OF + bytes.fromhex(holder[2:]).rjust(32, b"\0")).hex()


def _decode_word(reply: Any, read: _Read) -> int:
    if not isinstance(reply, bytes | bytearray):
        raise MalformedReply(f"balanceOf({read.address}) on {read.contract}: {peek(reply)}")
    if len(reply) != 32:
        raise MalformedReply(
            f"balanceOf({read.address}) on {read.contract} returned {len(reply)} bytes, not 32 "
            "(no contract code there at that block?)"
        )
    return int.from_bytes(reply, "big")


def _rpc_error(method: str, error: Any) -> RpcError:
    if isinstance(error, Mapping):
        code = error.get("code")
        return RpcError(
            f"ethereum {method}: {short(error.get('message'))}",
            code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        )
    return RpcError(f"ethereum {method}: {peek(error)}")


def _first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_error(error)
        if isinstance(error, PorError):
            return error
    return group.exceptions[0]


def _first_duplicate(holders: Sequence[str]) -> str:
    seen: set[str] = set()
    for holder in holders:
        if holder.lower() in seen:
            return holder
        seen.add(holder.lower())
    return ""


async def _as_coroutine(job: Awaitable[_T]) -> _T:
    return await job


# ---------------------------------------------------------------------- benchmark baseline


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
                    call = [{"to": token.contract, "data": _balance_of(holder)}, tag]
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
                doc = _mapping(decode_reply(raw, source=source), f"reply to {method}")
                if doc.get("error"):
                    raise _rpc_error(method, doc["error"])
                result = doc.get("result")
                if token.contract is None:
                    units = _quantity(result, method)
                else:
                    units = int.from_bytes(_data(result, method, 32), "big")
                balances[(address, token.code)] = units
    return balances, sent
