"""Ethereum Merkle-Patricia proofs (EIP-1186 `eth_getProof`): the block header bound to the
pinned hash, each account proven against the header's stateRoot, each storage word proven
against its contract's storageRoot.

Where it sits: under the Ethereum adapter's trustless mode (chains/ethereum.py,
`trustless=True`), which asks the node for the proofs and hands each reply here. The block
header is hashed (RLP, keccak256) and must equal the pinned block hash, which makes its
`stateRoot` trusted; each account proof is checked against the `stateRoot` and each storage
proof against the token's `storageRoot`, itself proven by the token's account proof
(`trie.HexaryTrie.get_from_proof`, `rlp`). Any failing check raises `ProofMismatch`; a value
the node states but the proof does not give is never used. Pure: no I/O; replies are
decoded with chains/eth_hex.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import rlp
from eth_utils.crypto import keccak
from trie.constants import BLANK_HASH, BLANK_NODE_HASH
from trie.hexary import HexaryTrie

from chains.eth_hex import hex_data, hex_word, json_list, quantity
from verifier.base.errors import ChainError, MalformedReply

__all__ = [
    "EMPTY_CODE_HASH",
    "EMPTY_TRIE_ROOT",
    "AccountState",
    "ProofMismatch",
    "balance_slot",
    "header_hash",
    "verify_account_proof",
    "verify_header",
    "verify_storage_proof",
]

EMPTY_CODE_HASH = BLANK_HASH
"""keccak256 of empty code: the codeHash of an account without code."""
EMPTY_TRIE_ROOT = BLANK_NODE_HASH
"""keccak256(rlp(b"")): the storageRoot of an account without storage."""

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
            n = quantity(block[name], f"header {name}")
            items.append(n.to_bytes((n.bit_length() + 7) // 8, "big"))
        else:
            items.append(hex_data(block[name], f"header {name}", None if size < 0 else size))
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
    return hex_data(block.get("stateRoot"), "header stateRoot", 32)


def _prove(root: bytes, key: bytes, proof: Any, check: str, address: str) -> bytes:
    """The value at `key` in the trie with root `root`, as the proof nodes establish it."""
    nodes = json_list(proof, f"{check} of {address}")
    try:
        decoded = [rlp.decode(hex_data(node, f"{check} node")) for node in nodes]
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
    stated_address = hex_data(reply.get("address"), "proof address", 20)
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
        quantity(reply.get("nonce"), "proof nonce"),
        quantity(reply.get("balance"), "proof balance"),
        hex_data(reply.get("storageHash"), "proof storageHash", 32),
        hex_data(reply.get("codeHash"), "proof codeHash", 32),
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
    stated_key = hex_word(entry.get("key"), "storage key")
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
    stated = hex_word(entry.get("value"), "storage value")
    if stated != proven:
        raise ProofMismatch(
            "storage value",
            f"the node states {stated} at key 0x{key.hex()} but the proof gives {proven}",
            address=address,
        )
    return proven
