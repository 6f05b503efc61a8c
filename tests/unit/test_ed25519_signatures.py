"""Solana and Algorand ownership signatures (chains/ed25519_signatures.py).

Evidence: signatures made here with Ed25519 keys generated in the test verify and report
their variant (Solana base64 / base58; Algorand raw / "MX"-prefixed); RFC 8032's test
vector 2 verifies through both address encodings; Algorand's zero address (the constant
py-algorand-sdk's ZeroAddressError names) decodes with its checksum; a changed message,
signature byte, address character (checksum) or another key fail naming the check;
SHA-512/256's pure fallback equals hashlib's; hostile input raises only InvalidProof.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from embit import base58
from hypothesis import given, settings
from hypothesis import strategies as st

from chains import ed25519_signatures
from chains.btc_proof_checks import Check
from chains.ed25519_signatures import (
    SIGNATURE,
    algorand_address,
    sha512_256,
    solana_address,
    verify_algorand,
    verify_solana,
)
from verifier.base.errors import InvalidProof

MESSAGE = "HTX proof of reserves 2026-05: these addresses are ours"

# RFC 8032, section 7.1, TEST 2 (message 0x72, "r")
RFC_PUBLIC = bytes.fromhex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")
RFC_SIGNATURE = bytes.fromhex(
    "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
    "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
)

# py-algorand-sdk, algosdk/error.py (ZeroAddressError): the address of 32 zero bytes
ALGORAND_ZERO = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAY5HFKQ"


def _keypair(seed: int) -> tuple[Ed25519PrivateKey, bytes]:
    key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed.to_bytes(4, "big")).digest())
    return key, key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# ----------------------------------------------------------------------------- Solana


def test_solana_base64_signature_verifies() -> None:
    key, public = _keypair(1)
    signature = _b64(key.sign(MESSAGE.encode()))
    assert verify_solana(solana_address(public), MESSAGE, signature) == "base64"


def test_solana_base58_signature_verifies() -> None:
    key, public = _keypair(1)
    signature = base58.encode(key.sign(MESSAGE.encode()))
    assert verify_solana(solana_address(public), MESSAGE, signature) == "base58"


def test_solana_rfc8032_vector() -> None:
    address = solana_address(RFC_PUBLIC)
    assert verify_solana(address, "r", _b64(RFC_SIGNATURE)) == "base64"
    assert verify_solana(address, "r", base58.encode(RFC_SIGNATURE)) == "base58"


def _solana_check(address: str, message: str, signature: str) -> str:
    with pytest.raises(InvalidProof) as caught:
        verify_solana(address, message, signature)
    return caught.value.check


def test_solana_tampering_fails_naming_the_check() -> None:
    key, public = _keypair(2)
    _, other = _keypair(3)
    raw = key.sign(MESSAGE.encode())
    address = solana_address(public)
    assert _solana_check(address, MESSAGE + ".", _b64(raw)) == SIGNATURE
    flipped = bytes([raw[0] ^ 1]) + raw[1:]
    assert _solana_check(address, MESSAGE, _b64(flipped)) == SIGNATURE
    assert _solana_check(solana_address(other), MESSAGE, _b64(raw)) == SIGNATURE
    assert _solana_check(address, MESSAGE, _b64(raw[:63])) == Check.ENCODING
    assert _solana_check(address, MESSAGE, "not base64 or base58!") == Check.ENCODING
    assert _solana_check(address[:-3], MESSAGE, _b64(raw)) == Check.ADDRESS
    assert _solana_check("0OIl" + address[4:], MESSAGE, _b64(raw)) == Check.ADDRESS


# ----------------------------------------------------------------------------- Algorand


def test_algorand_raw_signature_verifies() -> None:
    key, public = _keypair(4)
    signature = _b64(key.sign(MESSAGE.encode()))
    assert verify_algorand(algorand_address(public), MESSAGE, signature) == "raw"


def test_algorand_mx_signature_verifies() -> None:
    key, public = _keypair(4)
    signature = _b64(key.sign(b"MX" + MESSAGE.encode()))
    assert verify_algorand(algorand_address(public), MESSAGE, signature) == "MX"


def test_algorand_zero_address_vector() -> None:
    assert algorand_address(bytes(32)) == ALGORAND_ZERO
    assert ed25519_signatures._algorand_public_key(ALGORAND_ZERO) == bytes(32)


def test_algorand_rfc8032_vector() -> None:
    assert verify_algorand(algorand_address(RFC_PUBLIC), "r", _b64(RFC_SIGNATURE)) == "raw"


def _algorand_check(address: str, message: str, signature: str) -> str:
    with pytest.raises(InvalidProof) as caught:
        verify_algorand(address, message, signature)
    return caught.value.check


def test_algorand_tampering_fails_naming_the_check() -> None:
    key, public = _keypair(5)
    _, other = _keypair(6)
    raw = key.sign(MESSAGE.encode())
    address = algorand_address(public)
    assert _algorand_check(address, MESSAGE + ".", _b64(raw)) == SIGNATURE
    assert _algorand_check(address, MESSAGE, _b64(bytes([raw[5] ^ 4]) + raw[1:])) == SIGNATURE
    assert _algorand_check(algorand_address(other), MESSAGE, _b64(raw)) == SIGNATURE
    assert _algorand_check(address, MESSAGE, _b64(raw + b"\x00")) == Check.ENCODING
    assert _algorand_check(address, MESSAGE, base58.encode(raw)) == Check.ENCODING


def test_algorand_checksum_is_checked() -> None:
    key, public = _keypair(7)
    raw = key.sign(MESSAGE.encode())
    address = algorand_address(public)
    # a changed key character: the checksum no longer matches
    changed = ("B" if address[0] != "B" else "C") + address[1:]
    assert _algorand_check(changed, MESSAGE, _b64(raw)) == Check.ADDRESS
    # a changed checksum character
    tail = ("A" if address[-2] != "A" else "B") + address[-1]
    assert _algorand_check(address[:-2] + tail, MESSAGE, _b64(raw)) == Check.ADDRESS
    assert _algorand_check(address.lower(), MESSAGE, _b64(raw)) == Check.ADDRESS
    assert _algorand_check(address + "=", MESSAGE, _b64(raw)) == Check.ADDRESS
    assert _algorand_check(address[:-1], MESSAGE, _b64(raw)) == Check.ADDRESS


# ----------------------------------------------------------------------------- SHA-512/256


@pytest.mark.parametrize("size", [0, 1, 3, 111, 112, 127, 128, 129, 300])
def test_pure_sha512_256_equals_hashlib(size: int) -> None:
    data = bytes(range(256))[:size] if size <= 256 else b"\xa5" * size
    assert ed25519_signatures._sha512_256_pure(data) == hashlib.new("sha512_256", data).digest()


def test_sha512_256_fips_vector() -> None:
    # FIPS 180-4 example (NIST CSRC "SHA512_256.pdf"): "abc"
    assert sha512_256(b"abc").hex() == (
        "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
    )


def test_sha512_256_falls_back_when_openssl_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str, data: bytes = b"") -> object:
        raise ValueError(f"unsupported hash type {name}")

    monkeypatch.setattr("chains.ed25519_signatures.hashlib.new", missing)
    assert algorand_address(bytes(32)) == ALGORAND_ZERO


# ----------------------------------------------------------------------------- hostile


@pytest.mark.parametrize("verify", [verify_solana, verify_algorand])
@pytest.mark.parametrize("bad", [None, 1, b"x", ["a"], {"a": 1}])
def test_wrong_types_are_invalid_proofs(verify: object, bad: object) -> None:
    for args in ((bad, "m", "s"), ("a", bad, "s"), ("a", "m", bad)):
        with pytest.raises(InvalidProof):
            verify(*args)  # type: ignore[operator]


@pytest.mark.parametrize("verify", [verify_solana, verify_algorand])
def test_huge_inputs_are_refused(verify: object) -> None:
    _, public = _keypair(8)
    address = solana_address(public) if verify is verify_solana else algorand_address(public)
    for args in (("1" * 10_000_000, "m", "s"), (address, "m", "A" * 10_000_000)):
        with pytest.raises(InvalidProof):
            verify(*args)  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100), st.text(max_size=50), st.text(max_size=120))
def test_any_text_raises_only_invalid_proof(address: str, message: str, signature: str) -> None:
    for verify in (verify_solana, verify_algorand):
        with contextlib.suppress(InvalidProof):
            verify(address, message, signature)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=64, max_size=64))
def test_any_key_and_signature_bytes_raise_only_invalid_proof(key: bytes, raw: bytes) -> None:
    for address, verify in (
        (solana_address(key), verify_solana),
        (algorand_address(key), verify_algorand),
    ):
        with contextlib.suppress(InvalidProof):
            verify(address, "m", _b64(raw))
