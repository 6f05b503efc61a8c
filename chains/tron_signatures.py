"""TRON message signatures: verify one for a base58check ``T…`` address, naming the form.

Where it sits: one of the ownership schemes of other exchanges' ownership files
(verifier/external/ownership_files.py calls `verify_tron` per TRON row and reports the
returned form). Pure: no I/O. secp256k1 key recovery is coincurve's, keccak is eth_utils'.

A TRON signature is 65 bytes ``r || s || v`` in hex (an optional ``0x``). As HTX's verifier
(huobiapi/Tool-Node.js-VerifyAddress, src/sdk/trx.js) does for signatures made by older
Java SDKs, a last byte ``00``/``01`` is read as ``1b``/``1c``; ``v`` must then be 27 or 28.
The signed digest is one of these forms, tried in this fixed order (the first that
recovers the address wins and is returned):

``v1-bytes``
    ``keccak256("\\x19TRON Signed Message:\\n32" || m)`` with m the UTF-8 message bytes
    (TronWeb ``Trx.verifySignature`` over the message's hex, HTX's first try; the "32" is
    a constant there, whatever the message length).
``v1-keccak``
    the same header over ``keccak256(m)`` (HTX's fallback: the message hashed first).
``v2``
    ``keccak256("\\x19TRON Signed Message:\\n" || len(m) || m)``, the decimal byte length
    (TronWeb ``signMessageV2`` / ``verifyMessageV2``).

The recovered key's address is base58check(``0x41`` || last 20 bytes of
keccak256(uncompressed key without its ``04``)); the claimed address must be a valid
base58check TRON address (checksum, 21 bytes, prefix ``0x41``) and equal it.

Not accepted, because neither HTX's verifier nor TronWeb does by default: Ethereum's
header (TronWeb's ``useTronHeader=false``), 64-byte (EIP-2098) signatures, hex ``41…``
addresses. TronWeb 4's ``TronWeb.toHex`` reads a message that looks like ``0x…`` hex or a
decimal number as that number in the ``v1-keccak`` form; we always hash the text.
"""

from __future__ import annotations

import re

import coincurve
from embit import base58 as _base58
from eth_utils.crypto import keccak

from chains.btc_proof_checks import Check
from verifier.base.errors import InvalidProof

__all__ = [
    "TRON_PREFIX",
    "message_digests",
    "tron_address",
    "verify_tron",
]

TRON_PREFIX = 0x41
"""The first byte of every TRON account address (base58 ``T…``)."""

_V1_HEADER = b"\x19TRON Signed Message:\n32"
_V2_HEADER = b"\x19TRON Signed Message:\n"
_HEX_SIGNATURE = re.compile(r"(?:0x)?([0-9a-fA-F]{130})")
_MAX_ADDRESS = 64
"""Longer strings are not looked at (a TRON address is 34 characters)."""


def message_digests(message: str) -> tuple[tuple[str, bytes], ...]:
    """The digests a TRON signature of `message` may sign, as (form, digest), in trial order.

    Parameters
    ----------
    message
        The message text; encoded as UTF-8.

    Returns
    -------
    tuple
        ``("v1-bytes", …)``, ``("v1-keccak", …)``, ``("v2", …)``; 32-byte digests.
    """
    data = message.encode("utf-8")
    return (
        ("v1-bytes", keccak(_V1_HEADER + data)),
        ("v1-keccak", keccak(_V1_HEADER + keccak(data))),
        ("v2", keccak(_V2_HEADER + str(len(data)).encode("ascii") + data)),
    )


def tron_address(public_key: bytes) -> str:
    """The base58check TRON address of a secp256k1 public key (33 or 65 bytes).

    Parameters
    ----------
    public_key
        SEC1-encoded, compressed or not.

    Returns
    -------
    str
        ``T…``, 34 characters.
    """
    point = coincurve.PublicKey(public_key).format(compressed=False)[1:]
    return str(_base58.encode_check(bytes([TRON_PREFIX]) + keccak(point)[-20:]))


def _decode_address(address: str) -> bytes:
    """The 21 bytes of a base58check TRON address; ``Check.ADDRESS`` if it is not one."""
    if not 0 < len(address) <= _MAX_ADDRESS:
        raise InvalidProof(Check.ADDRESS, "the TRON address is empty or too long")
    try:
        raw = bytes(_base58.decode_check(address))
    except Exception:  # embit raises ValueError, IndexError or its own errors
        raise InvalidProof(
            Check.ADDRESS,
            f"{address} is not a valid TRON address (base58check checksum or character)",
        ) from None
    if len(raw) != 21 or raw[0] != TRON_PREFIX:
        raise InvalidProof(
            Check.ADDRESS,
            f"{address} is not a TRON address (decodes to {len(raw)} bytes; a TRON address "
            f"is 21 bytes starting 0x{TRON_PREFIX:02x})",
        )
    return raw


def _decode_signature(signature: str) -> bytes:
    """``r || s || recovery id`` (65 bytes) of a hex signature whose v is 00/01/1b/1c."""
    match = _HEX_SIGNATURE.fullmatch(signature.strip())
    if match is None:
        raise InvalidProof(
            Check.ENCODING,
            "the TRON signature is not 65 bytes of hex (r, s, v; an optional 0x)",
        )
    raw = bytes.fromhex(match.group(1))
    v = raw[64]
    # HTX's verifier reads a last byte 00/01 (older Java SDKs) as 1b/1c
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise InvalidProof(
            Check.ENCODING, f"the TRON signature's last byte is 0x{raw[64]:02x}, not 00/01/1b/1c"
        )
    return raw[:64] + bytes([v - 27])


def verify_tron(address: str, message: str, signature: str) -> str:
    """Verify a TRON signature of `message` by `address`; return the form that verified.

    Parameters
    ----------
    address
        The claimed base58check address (``T…``).
    message
        The text the exchange says it signed.
    signature
        Hex of ``r || s || v`` (65 bytes, optional ``0x``; v 00, 01, 1b or 1c).

    Returns
    -------
    str
        "v1-bytes", "v1-keccak" or "v2" (see the module docstring).

    Raises
    ------
    InvalidProof
        ``.check`` is "address" (not a TRON address, bad checksum), "signature encoding",
        "key recovery" (no key for any form) or "recovered key" (no form recovers the
        address: another key or another message).
    """
    if not all(isinstance(value, str) for value in (address, message, signature)):
        raise InvalidProof(Check.PROOF, "address, message and signature must be text")
    claimed = _decode_address(address)
    compact = _decode_signature(signature)
    recovered: list[str] = []
    for form, digest in message_digests(message):
        try:
            key = coincurve.PublicKey.from_signature_and_message(compact, digest, hasher=None)
        except ValueError:
            continue  # r or s out of range, or no curve point for this digest
        point = key.format(compressed=False)[1:]
        if keccak(point)[-20:] == claimed[1:]:
            return form
        recovered.append(f"{tron_address(key.format(compressed=False))} ({form})")
    if not recovered:
        raise InvalidProof(
            Check.RECOVERY,
            "no public key can be recovered from the TRON signature (r or s out of range)",
        )
    raise InvalidProof(
        Check.RECOVERED_KEY,
        f"the TRON signature recovers {', '.join(recovered)}, not {address} (another key "
        "signed, or another message was signed)",
    )
