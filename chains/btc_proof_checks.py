"""What every Bitcoin ownership check shares: the `Check` that failed, the message hashes,
and the claimed address decoded for the proof's network.

Where it sits: the bottom of the Bitcoin ownership modules. The scheme checkers
(chains/btc_bip137.py, chains/btc_multisig.py, chains/btc_bip322.py) raise
``InvalidProof(Check.X, ...)`` from here, and chains/btc_ownership.py turns that into an
UNPROVEN `OwnershipCheck` whose reason starts with the check. Pure: no I/O.

The claimed address is decoded for the given network only, by chains/btc_address.py as
wallets and the bcoin adapter decode it: an address of another network, or with a bad
checksum, proves nothing.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib

from embit import compact as _compact
from embit import hashes as _embit_hashes

from chains import btc_address
from chains.btc_address import DecodedAddress
from verifier.base.errors import InvalidProof

__all__ = [
    "Check",
    "b64decode",
    "bip137_message_hash",
    "bip322_message_hash",
    "decode_address",
    "hash160",
    "same_address",
    "sha256",
]

_MAGIC = b"Bitcoin Signed Message:\n"
_BIP322_TAG = b"BIP0322-signed-message"


class Check(enum.StrEnum):
    """The check that failed; every UNPROVEN reason starts with ``"<check>: "``."""

    NO_SIGNATURE = "no signature"
    """No proof, or a proof without the signature(s) its scheme needs."""
    SCHEME = "unsupported scheme"
    PROOF = "proof"
    """A proof field of the wrong type (e.g. `signatures` not a list of strings)."""
    MESSAGE = "message"
    """The proof's own message text is not this attestation's challenge."""
    ADDRESS = "address"
    """The claimed address does not decode for the network (checksum, network, length)."""
    ADDRESS_TYPE = "address type"
    """The scheme cannot prove this kind of address."""
    ENCODING = "signature encoding"
    """Not base64, wrong length, or not a witness stack."""
    HEADER = "header"
    """BIP-137 header byte out of range, or naming another address type."""
    RECOVERY = "key recovery"
    """No public key can be recovered from (r, s, recovery id)."""
    RECOVERED_KEY = "recovered key"
    """The recovered key does not derive the claimed address."""
    WITNESS_SCRIPT = "witness script"
    """The witness script is not hex, or does not hash to the claimed address."""
    MULTISIG_SCRIPT = "multisig script"
    """The witness script is not ``OP_m <keys> OP_n OP_CHECKMULTISIG``."""
    COSIGNER = "cosigner"
    """A signature recovers to a key that is not in the witness script."""
    DUPLICATE_KEY = "duplicate key"
    """Two signatures recover to the same cosigner key."""
    THRESHOLD = "threshold"
    """Fewer distinct cosigner keys signed than the script requires."""
    WITNESS = "witness"
    """A BIP-322 witness stack of the wrong shape for the address."""
    PUBKEY_HASH = "pubkey hash"
    """The BIP-322 witness public key does not hash to the P2WPKH program."""
    SIGHASH_TYPE = "sighash type"
    DER = "DER"
    """Not strictly DER-encoded (BIP-66)."""
    LOW_S = "low S"
    ECDSA = "ECDSA"
    """The ECDSA signature does not verify over the BIP-322 sighash."""
    SCHNORR = "Schnorr"
    """The BIP-340 signature of a P2TR key-path witness does not verify."""


# ----------------------------------------------------------------------------- hashing


def sha256(data: bytes) -> bytes:
    """SHA-256 of `data`."""
    return hashlib.sha256(data).digest()


def _sha256d(data: bytes) -> bytes:
    return sha256(sha256(data))


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256 of `data`: what P2PKH, P2WPKH and P2SH commit to."""
    # embit falls back to a pure-Python RIPEMD-160 where OpenSSL 3 has dropped it
    return bytes(_embit_hashes.hash160(data))


def bip137_message_hash(message: str) -> bytes:
    """The digest a ``signmessage`` signature signs (Bitcoin Core ``MessageHash``).

    Parameters
    ----------
    message
        The message text; encoded as UTF-8.

    Returns
    -------
    bytes
        ``sha256d(varint(24) "Bitcoin Signed Message:\\n" varint(len(m)) m)``, 32 bytes.
    """
    data = message.encode("utf-8")
    return _sha256d(_compact.to_bytes(len(_MAGIC)) + _MAGIC + _compact.to_bytes(len(data)) + data)


def bip322_message_hash(message: str) -> bytes:
    """The BIP-340 tagged hash ``sha256_tag("BIP0322-signed-message", m)`` of BIP-322.

    Parameters
    ----------
    message
        The message text; encoded as UTF-8, no length prefix.

    Returns
    -------
    bytes
        32 bytes.
    """
    tag = sha256(_BIP322_TAG)
    return sha256(tag + tag + message.encode("utf-8"))


# ----------------------------------------------------------------------------- addresses


def decode_address(address: str, network: str) -> DecodedAddress:
    """Decode a Bitcoin address of `network` (`chains.btc_address.decode_address`).

    Parameters
    ----------
    address
        Base58check (P2PKH, P2SH) or bech32/bech32m (segwit, BIP-173/BIP-350).
    network
        "main", "test", "testnet4", "signet" or "regtest".

    Returns
    -------
    DecodedAddress

    Raises
    ------
    InvalidProof
        ``Check.ADDRESS`` if the address does not decode for this network.
    InputError
        If `network` is not a known network.
    """
    try:
        return btc_address.decode_address(address, network)
    except btc_address.AddressError as exc:
        raise InvalidProof(Check.ADDRESS, str(exc)) from None


def same_address(a: DecodedAddress, b: DecodedAddress) -> bool:
    """Do `a` and `b` pay to the same script?"""
    # compare what the addresses commit to, so bech32 case does not matter
    return a.script_pubkey() == b.script_pubkey()


def b64decode(text: str, what: str) -> bytes:
    """Strict base64 of a signature; ``Check.ENCODING`` naming `what` if it is not."""
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidProof(Check.ENCODING, f"{what} is not valid base64") from None
