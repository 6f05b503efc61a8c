"""Dogecoin and Litecoin signed messages (chains/altcoin_messages.py).

Evidence: signatures made here with keys generated in the test verify for every address
type each coin can prove (Dogecoin P2PKH, compressed or not; Litecoin P2PKH, P2SH-P2WPKH
under both version bytes, P2WPKH) and name it; litecore-message's published vector
(litecoin-project/litecore-message README, a testnet address) recovers its key under the
Litecoin magic; Bitcoin's magic or the other coin's does not verify; a changed message,
signature byte, address character, header or another key fail naming the check; a
Dogecoin P2SH address is refused as an address type; hostile input raises only
InvalidProof.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib

import pytest
from coincurve import PrivateKey
from embit import base58, bech32
from hypothesis import given, settings
from hypothesis import strategies as st

from chains.altcoin_messages import (
    DOGECOIN,
    LITECOIN,
    Coin,
    message_hash,
    verify_dogecoin,
    verify_litecoin,
)
from chains.btc_bip137 import decode_compact_signature, recover_key
from chains.btc_proof_checks import Check, bip137_message_hash, hash160
from verifier.base.errors import InvalidProof

MESSAGE = "HTX proof of reserves 2026-05: these addresses are ours"

# litecoin-project/litecore-message, README.md ("To verify a message")
LITECORE = (
    "n1ZCYg9YXtB5XCZazLxSmPDa8iwJRZHhGx",
    "hello, world",
    "H9XORZInM3B3a8BNS65kwgmbnqEuq73rjAQ5VKyVzTrzPOdHdHOY2lfoph5auvMgLSr7bh+nEQSG/f2kv9TnsbY=",
)

_HEADER = {"p2pkh-uncompressed": 27, "p2pkh": 31, "p2sh-p2wpkh": 35, "p2wpkh": 39}


def _key(seed: int) -> PrivateKey:
    return PrivateKey(hashlib.sha256(b"altcoin" + seed.to_bytes(4, "big")).digest())


def _sign(coin: Coin, key: PrivateKey, message: str, kind: str) -> str:
    recoverable = key.sign_recoverable(message_hash(coin, message), hasher=None)
    header = _HEADER[kind] + recoverable[64]
    return base64.b64encode(bytes([header]) + recoverable[:64]).decode()


def _address(key: PrivateKey, version: int | None, kind: str, hrp: str = "ltc") -> str:
    key_hash = hash160(key.public_key.format(compressed=kind != "p2pkh-uncompressed"))
    if kind == "p2wpkh":
        return str(bech32.encode(hrp, 0, key_hash))
    payload = hash160(b"\x00\x14" + key_hash) if kind == "p2sh-p2wpkh" else key_hash
    assert version is not None
    return str(base58.encode_check(bytes([version]) + payload))


def test_magic_hashes() -> None:
    data = b"abc"
    for coin, magic in ((DOGECOIN, b"Dogecoin"), (LITECOIN, b"Litecoin")):
        expected = b"\x19" + magic + b" Signed Message:\n" + b"\x03" + data
        assert (
            message_hash(coin, "abc") == hashlib.sha256(hashlib.sha256(expected).digest()).digest()
        )


@pytest.mark.parametrize("kind", ["p2pkh", "p2pkh-uncompressed"])
def test_dogecoin_p2pkh_verifies(kind: str) -> None:
    key = _key(1)
    address = _address(key, 0x1E, kind)
    assert address.startswith("D")
    assert verify_dogecoin(address, MESSAGE, _sign(DOGECOIN, key, MESSAGE, kind)) == kind


@pytest.mark.parametrize(
    ("version", "kind", "start"),
    [
        (0x30, "p2pkh", "L"),
        (0x30, "p2pkh-uncompressed", "L"),
        (0x32, "p2sh-p2wpkh", "M"),
        (0x05, "p2sh-p2wpkh", "3"),
        (None, "p2wpkh", "ltc1"),
    ],
)
def test_litecoin_address_types_verify(version: int | None, kind: str, start: str) -> None:
    key = _key(2)
    address = _address(key, version, kind)
    assert address.startswith(start)
    assert verify_litecoin(address, MESSAGE, _sign(LITECOIN, key, MESSAGE, kind)) == kind


@pytest.mark.parametrize(("version", "kind"), [(0x32, "p2sh-p2wpkh"), (None, "p2wpkh")])
def test_litecoin_segwit_with_a_compressed_key_header_verifies(
    version: int | None, kind: str
) -> None:
    # Litecoin Core and Electrum-LTC sign every type with the 31-34 headers
    key = _key(3)
    address = _address(key, version, kind)
    assert verify_litecoin(address, MESSAGE, _sign(LITECOIN, key, MESSAGE, "p2pkh")) == kind


def test_litecore_published_vector_recovers_under_the_litecoin_magic() -> None:
    address, message, signature = LITECORE
    raw = decode_compact_signature(signature, "the signature")
    key = recover_key(raw, message_hash(LITECOIN, message), "the signature")
    assert hash160(key.format(compressed=True)) == bytes(base58.decode_check(address))[1:]
    # the same key's mainnet address verifies through the public API
    mainnet = str(base58.encode_check(b"\x30" + hash160(key.format(compressed=True))))
    assert verify_litecoin(mainnet, message, signature) == "p2pkh"
    # a testnet address is not a Litecoin mainnet address
    with pytest.raises(InvalidProof) as caught:
        verify_litecoin(address, message, signature)
    assert caught.value.check == Check.ADDRESS


def test_another_coins_magic_does_not_verify() -> None:
    key = _key(4)
    address = _address(key, 0x30, "p2pkh")
    for digest in (bip137_message_hash(MESSAGE), message_hash(DOGECOIN, MESSAGE)):
        recoverable = key.sign_recoverable(digest, hasher=None)
        signature = base64.b64encode(bytes([31 + recoverable[64]]) + recoverable[:64]).decode()
        with pytest.raises(InvalidProof) as caught:
            verify_litecoin(address, MESSAGE, signature)
        assert caught.value.check == Check.RECOVERED_KEY


def test_dogecoin_p2sh_is_refused_as_an_address_type() -> None:
    key = _key(5)
    address = _address(key, 0x16, "p2sh-p2wpkh")
    with pytest.raises(InvalidProof) as caught:
        verify_dogecoin(address, MESSAGE, _sign(DOGECOIN, key, MESSAGE, "p2sh-p2wpkh"))
    assert caught.value.check == Check.ADDRESS_TYPE


def test_other_coins_addresses_are_refused() -> None:
    key = _key(6)
    signature = _sign(DOGECOIN, key, MESSAGE, "p2pkh")
    for address in (_address(key, 0x30, "p2pkh"), _address(key, 0x00, "p2pkh")):
        with pytest.raises(InvalidProof) as caught:
            verify_dogecoin(address, MESSAGE, signature)
        assert caught.value.check == Check.ADDRESS
    with pytest.raises(InvalidProof) as caught:
        verify_litecoin(_address(key, None, "p2wpkh", hrp="bc"), MESSAGE, signature)
    assert caught.value.check == Check.ADDRESS


def test_ltc_p2wsh_and_taproot_are_refused_as_address_types() -> None:
    for version, program in ((0, bytes(32)), (1, bytes(32))):
        address = str(bech32.encode("ltc", version, program))
        with pytest.raises(InvalidProof) as caught:
            verify_litecoin(address, MESSAGE, "A" * 88)
        assert caught.value.check == Check.ADDRESS_TYPE


# ----------------------------------------------------------------------------- tampering


def _check(verify: object, address: str, message: str, signature: str) -> str:
    with pytest.raises(InvalidProof) as caught:
        verify(address, message, signature)  # type: ignore[operator]
    return caught.value.check


@pytest.mark.parametrize(
    ("coin", "verify", "version"),
    [(DOGECOIN, verify_dogecoin, 0x1E), (LITECOIN, verify_litecoin, 0x30)],
)
def test_tampering_fails_naming_the_check(coin: Coin, verify: object, version: int) -> None:
    key, other = _key(7), _key(8)
    address = _address(key, version, "p2pkh")
    signature = _sign(coin, key, MESSAGE, "p2pkh")
    assert _check(verify, address, MESSAGE + ".", signature) == Check.RECOVERED_KEY
    assert _check(verify, _address(other, version, "p2pkh"), MESSAGE, signature) == (
        Check.RECOVERED_KEY
    )
    raw = bytearray(base64.b64decode(signature))
    raw[20] ^= 1
    assert _check(verify, address, MESSAGE, base64.b64encode(raw).decode()) in {
        Check.RECOVERED_KEY,
        Check.RECOVERY,
    }
    changed = address[:6] + ("x" if address[6] != "x" else "y") + address[7:]
    assert _check(verify, changed, MESSAGE, signature) == Check.ADDRESS
    # an uncompressed-key header for the compressed key's address: another address
    raw = bytearray(base64.b64decode(signature))
    raw[0] -= 4
    assert _check(verify, address, MESSAGE, base64.b64encode(raw).decode()) == (Check.RECOVERED_KEY)
    # a P2WPKH-only header on a P2PKH address
    raw[0] += 12
    assert _check(verify, address, MESSAGE, base64.b64encode(raw).decode()) == Check.HEADER
    assert _check(verify, address, MESSAGE, "not base64!") == Check.ENCODING
    assert _check(verify, address, MESSAGE, base64.b64encode(bytes(64)).decode()) == (
        Check.ENCODING
    )
    assert _check(verify, address, MESSAGE, base64.b64encode(bytes(65)).decode()) == Check.HEADER


# ----------------------------------------------------------------------------- hostile


@pytest.mark.parametrize("verify", [verify_dogecoin, verify_litecoin])
@pytest.mark.parametrize("bad", [None, 1, b"x", ["a"], {"a": 1}])
def test_wrong_types_are_invalid_proofs(verify: object, bad: object) -> None:
    for args in ((bad, "m", "s"), ("a", bad, "s"), ("a", "m", bad)):
        with pytest.raises(InvalidProof):
            verify(*args)  # type: ignore[operator]


@pytest.mark.parametrize("verify", [verify_dogecoin, verify_litecoin])
def test_huge_and_empty_inputs_are_refused(verify: object) -> None:
    address = _address(_key(9), 0x1E if verify is verify_dogecoin else 0x30, "p2pkh")
    for args in (
        ("", "m", "s"),
        ("D" * 10_000_000, "m", "s"),
        ("ltc1" + "q" * 10_000_000, "m", "s"),
        (address, "m", ""),
        (address, "m", "A" * 10_000_000),
    ):
        with pytest.raises(InvalidProof):
            verify(*args)  # type: ignore[operator]


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100), st.text(max_size=50), st.text(max_size=120))
def test_any_text_raises_only_invalid_proof(address: str, message: str, signature: str) -> None:
    for verify in (verify_dogecoin, verify_litecoin):
        with contextlib.suppress(InvalidProof):
            verify(address, message, signature)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=65, max_size=65))
def test_any_65_bytes_raise_only_invalid_proof(raw: bytes) -> None:
    address = _address(_key(10), 0x30, "p2pkh")
    with contextlib.suppress(InvalidProof):
        verify_litecoin(address, "m", base64.b64encode(raw).decode())
