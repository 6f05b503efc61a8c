"""Ed25519 message signatures of Solana and Algorand addresses, naming the variant verified.

Where it sits: ownership schemes of other exchanges' ownership files
(verifier/external/ownership_files.py calls `verify_solana` / `verify_algorand` per row and
reports the returned variant). Pure: no I/O; Ed25519 is `cryptography`'s (OpenSSL), which
refuses a non-canonical S as RFC 8032 requires.

The rules are HTX's verifier's (huobiapi/Tool-Node.js-VerifyAddress, src/sdk/sol.js and
src/sdk/algo.js, tweetnacl's detached verify):

Solana
    The public key is the base58 decoding of the address (32 bytes; Solana addresses have
    no checksum). The signature is over the UTF-8 message; it is base64 (HTX's files) or
    base58 (Solana wallets' ``signMessage`` output), tried in that order: the variant
    returned is "base64" or "base58".
Algorand
    The address is 58 base32 characters without padding: the 32-byte public key and a
    4-byte checksum, the last 4 bytes of SHA-512/256 of the key (algosdk
    ``decodeAddress``), which is checked. The signature (base64, 64 bytes) is over the raw
    UTF-8 message (HTX signs so) or, failing that, over ``"MX" || message`` (algosdk
    ``signBytes``/``verifyBytes``): the variant returned is "raw" or "MX".

SHA-512/256 is hashlib's where OpenSSL provides it, else the small pure implementation
below (FIPS 180-4, section 5.3.6).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
import struct

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from embit import base58 as _base58

from chains.btc_proof_checks import Check
from verifier.base.errors import InvalidProof

__all__ = [
    "ALGORAND_MESSAGE_PREFIX",
    "SIGNATURE",
    "algorand_address",
    "sha512_256",
    "solana_address",
    "verify_algorand",
    "verify_solana",
]

SIGNATURE = "signature"
"""The check named when a well-formed Ed25519 signature does not verify."""

ALGORAND_MESSAGE_PREFIX = b"MX"
"""algosdk's domain separator of signed arbitrary bytes (``signBytes``)."""

_MAX_TEXT = 256
"""Addresses and signatures longer than this are refused before decoding."""

_B64 = re.compile(r"[A-Za-z0-9+/\-_]+={0,2}")


def _require_text(address: object, message: object, signature: object) -> None:
    if not all(isinstance(value, str) for value in (address, message, signature)):
        raise InvalidProof(Check.PROOF, "address, message and signature must be text")


def _verify(public_key: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _b64decode(text: str) -> bytes | None:
    """base64 (standard or URL-safe alphabet, padding optional), or None if it is not."""
    text = text.strip()
    if not text or len(text) > _MAX_TEXT or _B64.fullmatch(text) is None:
        return None
    body = text.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _b58decode(text: str) -> bytes | None:
    text = text.strip()
    if not text or len(text) > _MAX_TEXT:
        return None
    try:
        return bytes(_base58.decode(text))
    except Exception:  # embit raises ValueError or IndexError on bad characters
        return None


# ----------------------------------------------------------------------------- Solana


def solana_address(public_key: bytes) -> str:
    """The Solana address (base58) of a 32-byte Ed25519 public key."""
    return str(_base58.encode(public_key))


def verify_solana(address: str, message: str, signature: str) -> str:
    """Verify a Solana (Ed25519) signature of `message` by `address`.

    Parameters
    ----------
    address
        base58 of the 32-byte public key.
    message
        The text the exchange says it signed (UTF-8, no prefix).
    signature
        base64 or base58 of the 64-byte signature.

    Returns
    -------
    str
        "base64" or "base58": the signature encoding that verified.

    Raises
    ------
    InvalidProof
        ``.check`` is "address" (not base58 of 32 bytes), "signature encoding" (neither
        base64 nor base58 of 64 bytes) or "signature" (does not verify).
    """
    _require_text(address, message, signature)
    public_key = _b58decode(address)
    if public_key is None or len(public_key) != 32:
        raise InvalidProof(
            Check.ADDRESS, f"{address[:64]!r} is not a Solana address (base58 of 32 bytes)"
        )
    candidates = [
        (name, raw)
        for name, raw in (("base64", _b64decode(signature)), ("base58", _b58decode(signature)))
        if raw is not None and len(raw) == 64
    ]
    if not candidates:
        raise InvalidProof(
            Check.ENCODING, "the Solana signature is not base64 or base58 of 64 bytes"
        )
    data = message.encode("utf-8")
    for name, raw in candidates:
        if _verify(public_key, raw, data):
            return name
    raise InvalidProof(
        SIGNATURE,
        f"the Ed25519 signature ({', '.join(name for name, _ in candidates)}) does not verify "
        f"for {address} over the message (another key signed, or another message)",
    )


# ----------------------------------------------------------------------------- Algorand


def algorand_address(public_key: bytes) -> str:
    """The Algorand address of a 32-byte Ed25519 public key (base32, checksum, no padding)."""
    checksum = sha512_256(public_key)[-4:]
    return base64.b32encode(public_key + checksum).decode("ascii").rstrip("=")


def _algorand_public_key(address: str) -> bytes:
    """The public key of an Algorand address; ``Check.ADDRESS`` naming what is wrong."""
    if len(address) != 58:
        raise InvalidProof(
            Check.ADDRESS,
            f"{address[:64]!r} is not an Algorand address ({len(address)} characters, not 58)",
        )
    try:
        raw = base64.b32decode(address + "======", casefold=False)
    except (binascii.Error, ValueError):
        raise InvalidProof(
            Check.ADDRESS, f"{address} is not an Algorand address (not base32)"
        ) from None
    public_key, checksum = raw[:32], raw[32:]
    # re-encoding also refuses a last character with stray low bits (not algosdk's output)
    if sha512_256(public_key)[-4:] != checksum or algorand_address(public_key) != address:
        raise InvalidProof(
            Check.ADDRESS, f"{address} has a bad checksum (not an Algorand address, or mistyped)"
        )
    return public_key


def verify_algorand(address: str, message: str, signature: str) -> str:
    """Verify an Algorand (Ed25519) signature of `message` by `address`.

    Parameters
    ----------
    address
        58 base32 characters: public key and checksum.
    message
        The text the exchange says it signed.
    signature
        base64 of the 64-byte signature.

    Returns
    -------
    str
        "raw" (over the message, as HTX signs) or "MX" (over ``"MX" || message``).

    Raises
    ------
    InvalidProof
        ``.check`` is "address" (length, base32, checksum), "signature encoding" or
        "signature" (verifies over neither form).
    """
    _require_text(address, message, signature)
    public_key = _algorand_public_key(address)
    raw = _b64decode(signature)
    if raw is None or len(raw) != 64:
        raise InvalidProof(Check.ENCODING, "the Algorand signature is not base64 of 64 bytes")
    data = message.encode("utf-8")
    for name, signed in (("raw", data), ("MX", ALGORAND_MESSAGE_PREFIX + data)):
        if _verify(public_key, raw, signed):
            return name
    raise InvalidProof(
        SIGNATURE,
        f"the Ed25519 signature does not verify for {address} over the message, raw or "
        "MX-prefixed (another key signed, or another message)",
    )


# ----------------------------------------------------------------------------- SHA-512/256


def sha512_256(data: bytes) -> bytes:
    """SHA-512/256 of `data` (FIPS 180-4): hashlib's if OpenSSL has it, else pure Python."""
    try:
        return hashlib.new("sha512_256", data).digest()
    except ValueError:  # an OpenSSL build without SHA-512/t
        return _sha512_256_pure(data)


def _primes(count: int) -> list[int]:
    found: list[int] = []
    candidate = 2
    while len(found) < count:
        if all(candidate % p for p in found if p * p <= candidate):
            found.append(candidate)
        candidate += 1
    return found


def _icbrt(n: int) -> int:
    """The integer cube root of `n` (floor), by Newton's method."""
    x = 1 << ((n.bit_length() + 2) // 3)
    while True:
        y = (2 * x + n // (x * x)) // 3
        if y >= x:
            return x
        x = y


# FIPS 180-4 4.2.3 / 5.3.5: the first 64 bits of the fractional parts of the cube roots of
# the first 80 primes (K) and of the square roots of the first 8 (the SHA-512 IV); derived
# here rather than copied as 88 hex literals, and checked against hashlib by the tests.
_MASK = (1 << 64) - 1
_K = tuple(_icbrt(p << 192) & _MASK for p in _primes(80))
_IV512 = tuple(math.isqrt(p << 128) & _MASK for p in _primes(8))


def _ror(x: int, n: int) -> int:
    return ((x >> n) | (x << (64 - n))) & _MASK


def _compress(state: tuple[int, ...], block: bytes) -> tuple[int, ...]:
    w = list(struct.unpack(">16Q", block))
    for i in range(16, 80):
        s0 = _ror(w[i - 15], 1) ^ _ror(w[i - 15], 8) ^ (w[i - 15] >> 7)
        s1 = _ror(w[i - 2], 19) ^ _ror(w[i - 2], 61) ^ (w[i - 2] >> 6)
        w.append((w[i - 16] + s0 + w[i - 7] + s1) & _MASK)
    a, b, c, d, e, f, g, h = state
    for i in range(80):
        t1 = h + (_ror(e, 14) ^ _ror(e, 18) ^ _ror(e, 41)) + ((e & f) ^ (~e & g)) + _K[i] + w[i]
        t2 = (_ror(a, 28) ^ _ror(a, 34) ^ _ror(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))
        a, b, c, d, e, f, g, h = (t1 + t2) & _MASK, a, b, c, (d + t1) & _MASK, e, f, g
    return tuple((x + y) & _MASK for x, y in zip(state, (a, b, c, d, e, f, g, h), strict=True))


def _sha512_words(data: bytes, iv: tuple[int, ...]) -> tuple[int, ...]:
    padded = data + b"\x80" + b"\x00" * ((111 - len(data)) % 128) + (len(data) * 8).to_bytes(16)
    state = iv
    for offset in range(0, len(padded), 128):
        state = _compress(state, padded[offset : offset + 128])
    return state


def _sha512_256_pure(data: bytes) -> bytes:
    # FIPS 180-4 5.3.6: the SHA-512/t IV is SHA-512 of "SHA-512/256" under IV ^ a5a5...
    iv = _sha512_words(b"SHA-512/256", tuple(x ^ 0xA5A5A5A5A5A5A5A5 for x in _IV512))
    return struct.pack(">8Q", *_sha512_words(data, iv))[:32]
