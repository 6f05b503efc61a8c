"""TRON ownership signatures (chains/tron_signatures.py): every form, published vectors, tampering.

Evidence: signatures made here with keys generated in the test for each form (v1 over the
message bytes, v1 over keccak256(message), v2 with the length; 1b/1c and 00/01 last bytes,
with and without 0x) verify and report their form; HTX's own test vector and real rows of
its ownership file, and TronWeb's signMessageV2 vector, verify; a changed message,
signature byte, address character or another key's address fail naming the check; hostile
input raises only InvalidProof.
"""

from __future__ import annotations

import contextlib

import pytest
from coincurve import PrivateKey
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from chains.btc_proof_checks import Check
from chains.tron_signatures import message_digests, tron_address, verify_tron
from verifier.base.errors import InvalidProof

MESSAGE = "HTX proof of reserves 2026-05: these addresses are ours"

# huobiapi/Tool-Node.js-VerifyAddress, test/index.spec.js ("Proof TRX Address")
HTX_TEST = (
    "TLjemq2t6tFCMApBSJNs2eHVRBkMbYuzU8",
    "hello world",
    "6fc3b702edbc3995a2d380ce7babecea2a7aac1687616d14badb84fd1337edd62ebbf3001d38dd221921c1b849"
    "b9571217d32385cbb57e545015501c4b525d4e1b",
)

# huobiapi/Tool-Node.js-VerifyAddress, snapshot/huobi_por.csv (commit 041da736): real rows,
# with a 00/01 last byte, bare and 0x-prefixed; HTX's verifier accepts them by v1-keccak
HTX_ROWS = [
    (
        "TYh6mgoMNZTCsgpYHBz7gttEfrQmDMABub",
        "huobi",
        "24d160af1f9f0c4ff530f85f6ed0850927727a7a4a576918d1d502c2af3eb4227417b1527e5eb5aae09529"
        "935d0662b5775d5f67db06d46ac34ee7e127c1582901",
    ),
    (
        "TCQQjfccKdMi4CnPAzmZW5TALH4HbwceVb",
        "huobi",
        "4d3baf9ceb963cb5224005d1f1dc769bbb57c4710ffe5a2432d46c9b8ad22cd90ae94a5f53af14314b6880"
        "8802aa944a4a99b0c5c181e95b87f32a3f0aeefef700",
    ),
    (
        "TWN6yGR6VzYmThSy2CmkpEASyvwV4VKRDs",
        "htx",
        "0x4c1d4b5922317f58967c3759c6bbeb57497e40e81662260ae8fa82496d0c391467a0d0cf7d8bd9039594"
        "057c4353c7d7831c247912148a62f9548282372a551700",
    ),
    (
        "TB5s4duG2LqfnkF1VgX4fWdvtYcmf1WELk",
        "htx",
        "0xf0d92874a3a44f7ecaec706de6c481f003baab5373c0cd98c73aa2d911ff029a432e8c42150546d1a72b"
        "21cf0326a28077fa01e4c6d91a256b13c225c84b26b901",
    ),
]

# tronprotocol/tronweb, test/testcases/src/sign-message.ts (utils.message, i.e. v2)
TRONWEB_V2 = (
    "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC",
    "hello world",
    "0xcf02daeb2bea196ed5692322a66ed50080ce74ff8cb711199f1b04f3c13bc10d",
    "0x0dc0b53d525e0103a6013061cf18e60cf158809149f2b8994a545af65a7004cb1eeaff560e801ab51b28df5"
    "d42549aa024c2aa7e9d34de1e01294b9afb5e6c7e1c",
)


def _key(seed: int) -> PrivateKey:
    return PrivateKey(keccak(seed.to_bytes(4, "big")))


def _address(key: PrivateKey) -> str:
    return tron_address(key.public_key.format(compressed=False))


def _sign(key: PrivateKey, message: str, form: str, *, zero_one: bool = False) -> str:
    """A signature made as TronWeb (or an older Java SDK, `zero_one`) makes it."""
    digest = dict(message_digests(message))[form]
    recoverable = key.sign_recoverable(digest, hasher=None)
    v = recoverable[64] + (0 if zero_one else 27)
    return (recoverable[:64] + bytes([v])).hex()


@pytest.mark.parametrize("form", ["v1-bytes", "v1-keccak", "v2"])
@pytest.mark.parametrize("zero_one", [False, True])
@pytest.mark.parametrize("prefix", ["", "0x"])
def test_own_signature_of_each_form_verifies_and_names_it(
    form: str, zero_one: bool, prefix: str
) -> None:
    key = _key(1)
    signature = prefix + _sign(key, MESSAGE, form, zero_one=zero_one)
    assert verify_tron(_address(key), MESSAGE, signature) == form


def test_v1_keccak_is_v1_over_the_message_hash() -> None:
    digests = dict(message_digests("abc"))
    header = b"\x19TRON Signed Message:\n32"
    assert digests["v1-bytes"] == keccak(header + b"abc")
    assert digests["v1-keccak"] == keccak(header + keccak(b"abc"))
    assert digests["v2"] == keccak(b"\x19TRON Signed Message:\n3abc")


def test_v2_length_is_the_utf8_byte_length() -> None:
    message = "préuve"  # 6 characters, 7 bytes
    assert dict(message_digests(message))["v2"] == keccak(
        b"\x19TRON Signed Message:\n7" + message.encode()
    )
    key = _key(7)
    assert verify_tron(_address(key), message, _sign(key, message, "v2")) == "v2"


def test_htx_test_vector_verifies() -> None:
    assert verify_tron(*HTX_TEST) == "v1-bytes"


@pytest.mark.parametrize(("address", "message", "signature"), HTX_ROWS)
def test_htx_published_rows_verify(address: str, message: str, signature: str) -> None:
    assert verify_tron(address, message, signature) == "v1-keccak"


def test_tronweb_v2_vector() -> None:
    address, message, digest, signature = TRONWEB_V2
    assert dict(message_digests(message))["v2"].hex() == digest[2:]
    assert verify_tron(address, message, signature) == "v2"
    # the vector's key is 1: the address is the generator point's
    assert _address(PrivateKey((1).to_bytes(32, "big"))) == address


# ----------------------------------------------------------------------------- tampering


def _check(address: str, message: str, signature: str) -> str:
    with pytest.raises(InvalidProof) as caught:
        verify_tron(address, message, signature)
    return caught.value.check


def test_another_message_fails_as_recovered_key() -> None:
    assert _check(HTX_TEST[0], "HelloWorld", HTX_TEST[2]) == Check.RECOVERED_KEY


def test_a_flipped_signature_byte_fails() -> None:
    address, message, signature = HTX_ROWS[0]
    flipped = signature[:10] + ("0" if signature[10] != "0" else "1") + signature[11:]
    assert _check(address, message, flipped) in {Check.RECOVERED_KEY, Check.RECOVERY}


def test_another_keys_address_fails_naming_both() -> None:
    key, other = _key(2), _key(3)
    signature = _sign(key, MESSAGE, "v2")
    with pytest.raises(InvalidProof) as caught:
        verify_tron(_address(other), MESSAGE, signature)
    assert caught.value.check == Check.RECOVERED_KEY
    assert _address(key) in caught.value.message


def test_a_changed_address_character_fails_its_checksum() -> None:
    address, message, signature = HTX_TEST
    changed = address[:5] + ("b" if address[5] != "b" else "c") + address[6:]
    assert _check(changed, message, signature) == Check.ADDRESS


def test_a_bitcoin_address_is_not_a_tron_address() -> None:
    assert _check("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "m", HTX_TEST[2]) == Check.ADDRESS


@pytest.mark.parametrize("last", ["02", "1a", "1d", "ff"])
def test_a_recovery_byte_outside_00_01_1b_1c_is_refused(last: str) -> None:
    address, message, signature = HTX_TEST
    assert _check(address, message, signature[:128] + last) == Check.ENCODING


@pytest.mark.parametrize(
    "signature",
    ["", "-", "zz" * 65, "00" * 64, "00" * 66, "0x", "0x0x" + "00" * 65, "0X" + "00" * 65],
)
def test_malformed_signatures_fail_as_encoding(signature: str) -> None:
    assert _check(HTX_TEST[0], "m", signature) == Check.ENCODING


def test_r_zero_cannot_recover() -> None:
    assert _check(HTX_TEST[0], "m", "00" * 64 + "1b") == Check.RECOVERY


@pytest.mark.parametrize("bad", [None, 1, b"TLjemq", ["T"], {"a": 1}])
def test_wrong_types_are_invalid_proofs(bad: object) -> None:
    for args in ((bad, "m", HTX_TEST[2]), (HTX_TEST[0], bad, HTX_TEST[2]), (HTX_TEST[0], "m", bad)):
        with pytest.raises(InvalidProof):
            verify_tron(*args)


def test_huge_inputs_are_refused_quickly() -> None:
    assert _check("T" * 10_000_000, "m", HTX_TEST[2]) == Check.ADDRESS
    assert _check(HTX_TEST[0], "m", "a" * 10_000_000) == Check.ENCODING
    assert _check(HTX_TEST[0], "x" * 1_000_000, HTX_TEST[2]) == Check.RECOVERED_KEY


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80), st.text(max_size=120), st.text(max_size=200))
def test_any_text_raises_only_invalid_proof(address: str, message: str, signature: str) -> None:
    with contextlib.suppress(InvalidProof):
        verify_tron(address, message, signature)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=65, max_size=65))
def test_any_65_bytes_raise_only_invalid_proof(raw: bytes) -> None:
    with contextlib.suppress(InvalidProof):
        verify_tron(HTX_TEST[0], "m", raw.hex())
