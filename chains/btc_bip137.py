"""BIP-137 message signatures (``signmessage``): verify one for an address, or make one.

Where it sits: one of the Bitcoin ownership schemes that chains/btc_ownership.py
dispatches to (``"scheme": "bip137"``); chains/btc_multisig.py reuses its compact-signature
decoding and key recovery for each cosigner. `sign_bip137` is the exchange's side (the
demo, tests and users who hold keys in software). Pure: no I/O.

The format is the legacy ``signmessage`` one (BIP-137; Bitcoin Core, Electrum, Trezor,
Sparrow): base64 of ``header || r || s`` over ``sha256d(varint(24) "Bitcoin Signed
Message:\\n" varint(len(m)) m)``. The public key is recovered from the signature and must
derive the claimed P2PKH, P2SH-P2WPKH or P2WPKH address. Headers 27-30 name an uncompressed
P2PKH key, 31-34 a compressed key (Core and Electrum also use these for both segwit types),
35-38 P2SH-P2WPKH and 39-42 P2WPKH (BIP-137 proper).

As Bitcoin Core's ``verifymessage``, a signature may have a high S: key recovery does not
normalise S.
"""

from __future__ import annotations

import base64

import coincurve

from chains.btc_address import AddressType, DecodedAddress, encode_address
from chains.btc_proof_checks import (
    Check,
    b64decode,
    bip137_message_hash,
    decode_address,
    hash160,
    same_address,
)
from verifier.base.console import plural
from verifier.base.errors import InputError, InvalidProof

__all__ = ["check_bip137", "decode_compact_signature", "recover_key", "sign_bip137"]

_HEADER_BASE = {"p2pkh": 31, "p2sh-p2wpkh": 35, "p2wpkh": 39}
"""The strict BIP-137 header of a compressed key, before the recovery id is added."""


def recover_key(signature65: bytes, message_hash: bytes, what: str) -> coincurve.PublicKey:
    """Recover the signing key from ``header || r || s`` (header already range-checked)."""
    recovery_id = (signature65[0] - 27) & 3
    compact = signature65[1:65] + bytes([recovery_id])
    try:
        return coincurve.PublicKey.from_signature_and_message(compact, message_hash, hasher=None)
    except ValueError:
        raise InvalidProof(
            Check.RECOVERY,
            f"no public key can be recovered from {what} (r or s out of range, or no curve "
            f"point for recovery id {recovery_id})",
        ) from None


def decode_compact_signature(signature: str, what: str) -> bytes:
    """The 65 bytes ``header || r || s`` of a base64 signature, header in 27-42."""
    raw = b64decode(signature, what)
    if len(raw) != 65:
        raise InvalidProof(
            Check.ENCODING, f"{what} decodes to {plural(len(raw), 'byte')}, not 65 (header, r, s)"
        )
    header = raw[0]
    if not 27 <= header <= 42:
        raise InvalidProof(Check.HEADER, f"{what} has header byte {header}, outside 27-42")
    return raw


def _header_label(header: int) -> str:
    if header <= 30:
        return "P2PKH, uncompressed key"
    if header <= 34:
        return "compressed key"
    if header <= 38:
        return "P2SH-P2WPKH"
    return "P2WPKH"


def _header_fits(header: int, address_type: AddressType) -> bool:
    if header <= 30:
        return address_type is AddressType.P2PKH
    if header <= 34:
        # Core's signmessage and Electrum use 31-34 for P2PKH, P2SH-P2WPKH and P2WPKH alike
        return address_type in {AddressType.P2PKH, AddressType.P2SH, AddressType.P2WPKH}
    if header <= 38:
        return address_type is AddressType.P2SH
    return address_type is AddressType.P2WPKH


def _key_address(key: coincurve.PublicKey, compressed: bool, kind: AddressType) -> DecodedAddress:
    """The `kind` address of `key`: P2PKH, P2SH-P2WPKH (for P2SH) or P2WPKH."""
    key_hash = hash160(key.format(compressed=compressed))
    if kind is AddressType.P2PKH:
        return DecodedAddress(AddressType.P2PKH, key_hash)
    if kind is AddressType.P2SH:
        return DecodedAddress(AddressType.P2SH, hash160(b"\x00\x14" + key_hash))
    return DecodedAddress(AddressType.P2WPKH, key_hash, 0)


def check_bip137(address: str, signature: str, network: str, message: str) -> str:
    """Verify a BIP-137 / ``signmessage`` signature of `message` for `address`.

    Parameters
    ----------
    address
        The claimed P2PKH, P2SH-P2WPKH or P2WPKH address.
    signature
        Base64 of the 65 bytes ``header || r || s``.
    network
        The address's network.
    message
        The text that must have been signed (the challenge).

    Returns
    -------
    str
        What was proven, in words.

    Raises
    ------
    InvalidProof
        The first check that failed; ``.check`` is a `Check`.
    """
    claimed = decode_address(address, network)
    if claimed.type not in {AddressType.P2PKH, AddressType.P2SH, AddressType.P2WPKH}:
        raise InvalidProof(
            Check.ADDRESS_TYPE,
            f"{address} is a {claimed.type} address; a signmessage signature proves only "
            "P2PKH, P2SH-P2WPKH and P2WPKH addresses (use bip322-simple or p2wsh-multisig)",
        )
    raw = decode_compact_signature(signature, "the signature")
    header = raw[0]
    if not _header_fits(header, claimed.type):
        raise InvalidProof(
            Check.HEADER,
            f"header byte {header} ({_header_label(header)}) does not match the "
            f"{claimed.type} address {address}",
        )
    key = recover_key(raw, bip137_message_hash(message), "the signature")
    compressed = header >= 31
    derived = _key_address(key, compressed, claimed.type)
    if not same_address(derived, claimed):
        raise InvalidProof(
            Check.RECOVERED_KEY,
            f"the key recovered from the signature over the challenge, "
            f"{key.format(compressed=compressed).hex()}, derives "
            f"{encode_address(derived, network)}, not {address} (another key signed, or "
            "another message was signed)",
        )
    return (
        f"signature over the challenge recovers key {key.format(compressed=compressed).hex()} "
        f"(header {header}), which derives {address} ({claimed.type})"
    )


# ----------------------------------------------------------------------------- signing
# The exchange's side: sign the challenge so that `check_bip137` (and each cosigner of
# `chains.btc_multisig.check_p2wsh_multisig`) accepts it. Hardware wallets produce the
# same format.


def sign_bip137(secret: bytes, message: str, address_type: str = "p2wpkh") -> str:
    """A "Bitcoin Signed Message" signature with the strict BIP-137 header for the type.

    Parameters
    ----------
    secret
        The 32-byte private key.
    message
        The text to sign (the challenge).
    address_type
        "p2pkh" (compressed key), "p2sh-p2wpkh" or "p2wpkh".

    Returns
    -------
    str
        base64 of header || r || s, as `signmessage` prints it.
    """
    if address_type not in _HEADER_BASE:
        raise InputError("cannot sign for this address type", value=address_type)
    key = coincurve.PrivateKey(secret)
    recoverable = key.sign_recoverable(bip137_message_hash(message), hasher=None)
    header = _HEADER_BASE[address_type] + recoverable[64]
    return base64.b64encode(bytes([header]) + recoverable[:64]).decode("ascii")
