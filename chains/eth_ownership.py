"""Ethereum ownership proofs: does the exchange control this address at the pinned block?

Where it sits: beside the Ethereum adapter (`chains/ethereum.py`), called by
`verifier/holdings/snapshot.py` for each Ethereum address with the challenge of
`chains/challenge.py` (which names the exchange, the attestation and the pinned block). Two
schemes:

* `eip191` (externally owned accounts): a `personal_sign` signature over the challenge text,
  i.e. an ECDSA signature over keccak256("\\x19Ethereum Signed Message:\\n" + len + text)
  (EIP-191 version 0x45), as Foundry's `cast wallet sign`, ethers' `signMessage`, web3.py's
  `sign_message(encode_defunct(text=...))` and wallets' `personal_sign` all produce it:
  65 bytes r || s || v with v = 27/28 (or 0/1, as some hardware wallets return it), or the
  64-byte EIP-2098 compact form r || (yParity << 255 | s). Pure: the public key is recovered
  with `eth_account` and its address must equal the claimed one (case-insensitively).
* `eip1271` (contract wallets): the contract's `isValidSignature(hash, signature)` is called
  at the pinned block, with hash = the same EIP-191 hash of the challenge; only the magic
  value 0x1626ba7e proves ownership (`EthereumAdapter.call_is_valid_signature`).

A verdict is `PROVEN` or `UNPROVEN` with a precise reason. A node that cannot be reached is
not a verdict: the adapter's `ChainError`s propagate.
"""

from __future__ import annotations

import re
from typing import Protocol

from eth_account import Account
from eth_account.messages import defunct_hash_message, encode_defunct
from eth_keys.exceptions import BadSignature

from chains.base import BlockRef, Ownership, OwnershipCheck
from verifier.base.console import plural

EIP191 = "eip191"
EIP1271 = "eip1271"
SIGNATURE_BYTES = 65
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
_HEX = re.compile(r"(0x)?([0-9a-fA-F]{2})*")


class SignatureChecker(Protocol):
    """What `check_eip1271` needs of the adapter (`chains.ethereum.EthereumAdapter`)."""

    async def code_at(self, address: str, at: BlockRef) -> bytes: ...

    async def call_is_valid_signature(
        self, contract: str, hash32: bytes, signature: bytes, at: BlockRef
    ) -> bool: ...


def challenge_hash(challenge: str) -> bytes:
    """The EIP-191 (version 0x45, `personal_sign`) hash of the challenge text.

    Parameters
    ----------
    challenge
        The message from `chains.challenge.challenge`.

    Returns
    -------
    bytes
        keccak256("\\x19Ethereum Signed Message:\\n" + str(len(utf8)) + utf8), 32 bytes.
    """
    return bytes(defunct_hash_message(text=challenge))


def _hex_bytes(signature: str | bytes) -> bytes | None:
    """Bytes as given, or decoded from hex (with or without 0x); None if not hex."""
    if isinstance(signature, bytes):
        return signature
    if isinstance(signature, str) and _HEX.fullmatch(signature.strip()):
        return bytes.fromhex(signature.strip().removeprefix("0x"))
    return None


_HIGH_BIT = 1 << 255


def expand_compact(raw: bytes) -> bytes:
    """An EIP-2098 compact signature (r || yParityAndS, 64 bytes) as r || s || v (65 bytes).

    EIP-2098 packs v into the top bit of s (s is at most n/2 in a canonical signature, so
    the bit is free): v = 27 + that bit, s = the other 255 bits.
    """
    y_parity_and_s = int.from_bytes(raw[32:64], "big")
    s = y_parity_and_s & (_HIGH_BIT - 1)
    return raw[:32] + s.to_bytes(32, "big") + bytes([27 + (y_parity_and_s >> 255)])


def _signature_bytes(signature: str | bytes) -> bytes | str:
    """The 65 signature bytes (a 64-byte EIP-2098 one expanded), or why they are malformed."""
    raw = _hex_bytes(signature)
    if raw is None:
        return "malformed signature: not hex"
    if len(raw) == 64:
        return expand_compact(raw)
    if len(raw) != SIGNATURE_BYTES:
        return (
            f"malformed signature: {plural(len(raw), 'byte')}, expected {SIGNATURE_BYTES} "
            "(r, s, v) or 64 (EIP-2098 compact)"
        )
    return raw


def _signer(challenge: str, raw: bytes) -> str:
    return str(Account.recover_message(encode_defunct(text=challenge), signature=raw))


def _near_miss(address: str, challenge: str, raw: bytes) -> str:
    """A hint when the signature is by `address` over the challenge with a newline or CRLF."""
    from chains.btc_ownership import message_variants

    for description, text in message_variants(challenge):
        try:
            if _signer(text, raw).lower() == address.lower():
                return (
                    f"; it is this address's signature over the challenge with {description} "
                    "added: sign exactly the printed text, lines ending in LF and no newline "
                    "after the last line"
                )
        except (BadSignature, ValueError):
            return ""
    return ""


def _unproven(address: str, scheme: str, reason: str) -> OwnershipCheck:
    return OwnershipCheck(address, Ownership.UNPROVEN, scheme, reason)


def verify_eip191(address: str, challenge: str, signature: str | bytes) -> OwnershipCheck:
    """Check an EIP-191 `personal_sign` signature over the challenge by `address`.

    Parameters
    ----------
    address
        The claimed signer (0x + 40 hex, any case).
    challenge
        The exact challenge text for this attestation and block.
    signature
        65 bytes r || s || v (v = 27/28 or 0/1), or 64 bytes EIP-2098 compact, as bytes or
        hex (with or without 0x).

    Returns
    -------
    OwnershipCheck
        PROVEN if the signature recovers to `address`; otherwise UNPROVEN, with the reason:
        not an address, malformed signature, no public key recoverable, or the address it
        recovers to (a signature over another message, e.g. another block's or another
        exchange's challenge, or by another key).
    """
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        return _unproven(str(address), EIP191, f"{address!r} is not an Ethereum address")
    raw = _signature_bytes(signature)
    if isinstance(raw, str):
        return _unproven(address, EIP191, raw)
    if raw[64] not in (0, 1, 27, 28):
        return _unproven(
            address, EIP191, f"malformed signature: v = {raw[64]}, not 27 or 28 (or 0 or 1)"
        )
    try:
        signer = _signer(challenge, raw)
    except (BadSignature, ValueError) as exc:
        return _unproven(address, EIP191, f"malformed signature: no public key recovers ({exc})")
    if signer.lower() != address.lower():
        return _unproven(
            address,
            EIP191,
            f"the signature recovers to {signer}, not to this address: it signs another "
            "message (another block's or exchange's challenge?) or was made by another key"
            + _near_miss(address, challenge, raw),
        )
    return OwnershipCheck(
        address,
        Ownership.PROVEN,
        EIP191,
        "EIP-191 personal_sign signature over this attestation's challenge recovers to the address",
    )


async def check_eip1271(
    adapter: SignatureChecker,
    address: str,
    challenge: str,
    signature: str | bytes,
    at: BlockRef,
) -> OwnershipCheck:
    """Ask the contract wallet at `address` (EIP-1271) whether it signed the challenge.

    Parameters
    ----------
    adapter
        The Ethereum adapter reading the chain (`EthereumAdapter`).
    address
        The contract wallet.
    challenge
        The exact challenge text for this attestation and block `at`.
    signature
        The signature the wallet's owner(s) made, as bytes or hex; passed to the contract
        unchanged (its format is the contract's business).
    at
        The pinned block: the code and the call are read there.

    Returns
    -------
    OwnershipCheck
        PROVEN iff `isValidSignature(EIP-191 hash of challenge, signature)` returns 0x1626ba7e
        at block `at`; UNPROVEN with the reason otherwise (no contract code, not hex, the
        contract said no or reverted).

    Raises
    ------
    ChainError
        The node failed, or the block left the best chain (`TipMoved`).
    """
    if not isinstance(address, str) or not _ADDRESS.fullmatch(address):
        return _unproven(str(address), EIP1271, f"{address!r} is not an Ethereum address")
    raw = _hex_bytes(signature)
    if raw is None:
        return _unproven(address, EIP1271, "malformed signature: not hex")
    code = await adapter.code_at(address, at)
    if not code:
        return _unproven(
            address,
            EIP1271,
            f"no contract code at this address in block {at.height}: an EIP-1271 proof needs "
            "a contract wallet (an ordinary account signs with eip191)",
        )
    if not await adapter.call_is_valid_signature(address, challenge_hash(challenge), raw, at):
        return _unproven(
            address,
            EIP1271,
            f"the contract's isValidSignature did not return 0x1626ba7e at block {at.height}: "
            "it rejects this signature over this attestation's challenge",
        )
    return OwnershipCheck(
        address,
        Ownership.PROVEN,
        EIP1271,
        f"the contract's isValidSignature returned 0x1626ba7e for this attestation's challenge "
        f"at block {at.height}",
    )
