"""BIP-322 ``to_spend``/``to_sign`` and their sighashes through embit equal the hand-built ones.

chains/btc_bip322_tx.py builds the virtual transactions with embit's `Transaction` types and
takes the BIP-143 and BIP-341 digests from embit. The byte-by-byte construction it replaced
is kept here as the reference: for random messages (any Unicode, empty, long) and random
P2WPKH, P2WSH and P2TR output scripts, both give the same txids and the same digests. The
BIP-322 vectors themselves are checked in tests/unit/test_btc_ownership.py.
"""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from chains.btc_bip322_tx import (
    bip322_message_hash,
    bip322_sighash,
    bip322_taproot_sighash,
    bip322_txids,
)

# ----------------------------------------------------------------------------- reference
# The construction chains/btc_bip322_tx.py used before embit, verbatim in substance.


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha256d(data: bytes) -> bytes:
    return _sha256(_sha256(data))


def _compact_size(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + n.to_bytes(2, "little")
    if n <= 0xFFFFFFFF:
        return b"\xfe" + n.to_bytes(4, "little")
    return b"\xff" + n.to_bytes(8, "little")


def _ref_to_spend(message: str, script_pubkey: bytes) -> bytes:
    script_sig = bytes([0x00, 32]) + bip322_message_hash(message)
    return b"".join(
        [
            (0).to_bytes(4, "little"),
            _compact_size(1),
            b"\x00" * 32,
            (0xFFFFFFFF).to_bytes(4, "little"),
            _compact_size(len(script_sig)) + script_sig,
            (0).to_bytes(4, "little"),
            _compact_size(1),
            (0).to_bytes(8, "little"),
            _compact_size(len(script_pubkey)) + script_pubkey,
            (0).to_bytes(4, "little"),
        ]
    )


def _ref_outpoint(message: str, script_pubkey: bytes) -> bytes:
    return _sha256d(_ref_to_spend(message, script_pubkey)) + (0).to_bytes(4, "little")


_REF_OUTPUT = (0).to_bytes(8, "little") + _compact_size(1) + bytes([0x6A])


def _ref_to_sign(message: str, script_pubkey: bytes) -> bytes:
    return b"".join(
        [
            (0).to_bytes(4, "little"),
            _compact_size(1),
            _ref_outpoint(message, script_pubkey),
            _compact_size(0),
            (0).to_bytes(4, "little"),
            _compact_size(1),
            _REF_OUTPUT,
            (0).to_bytes(4, "little"),
        ]
    )


def _ref_txids(message: str, script_pubkey: bytes) -> tuple[str, str]:
    return (
        _sha256d(_ref_to_spend(message, script_pubkey))[::-1].hex(),
        _sha256d(_ref_to_sign(message, script_pubkey))[::-1].hex(),
    )


def _ref_sighash(message: str, script_pubkey: bytes, script_code: bytes) -> bytes:
    outpoint = _ref_outpoint(message, script_pubkey)
    sequence = (0).to_bytes(4, "little")
    preimage = b"".join(
        [
            (0).to_bytes(4, "little"),
            _sha256d(outpoint),
            _sha256d(sequence),
            outpoint,
            _compact_size(len(script_code)) + script_code,
            (0).to_bytes(8, "little"),
            sequence,
            _sha256d(_REF_OUTPUT),
            (0).to_bytes(4, "little"),
            (1).to_bytes(4, "little"),
        ]
    )
    return _sha256d(preimage)


def _ref_taproot_sighash(message: str, script_pubkey: bytes, hash_type: int) -> bytes:
    outpoint = _ref_outpoint(message, script_pubkey)
    sequence = (0).to_bytes(4, "little")
    sig_msg = b"".join(
        [
            bytes([hash_type]),
            (0).to_bytes(4, "little"),
            (0).to_bytes(4, "little"),
            _sha256(outpoint),
            _sha256((0).to_bytes(8, "little")),
            _sha256(_compact_size(len(script_pubkey)) + script_pubkey),
            _sha256(sequence),
            _sha256(_REF_OUTPUT),
            b"\x00",
            (0).to_bytes(4, "little"),
        ]
    )
    tag = _sha256(b"TapSighash")
    return _sha256(tag + tag + b"\x00" + sig_msg)


# ----------------------------------------------------------------------------- strategies

messages = st.one_of(
    st.text(max_size=300),
    st.just(""),
    st.text(alphabet="ab\n\r", min_size=250, max_size=70_000),  # compact sizes fd/fe
)
p2wpkh = st.binary(min_size=20, max_size=20).map(lambda h: b"\x00\x14" + h)
p2wsh = st.binary(min_size=32, max_size=32).map(lambda h: b"\x00\x20" + h)
p2tr = st.binary(min_size=32, max_size=32).map(lambda k: b"\x51\x20" + k)
script_codes = st.one_of(
    st.binary(min_size=20, max_size=20).map(lambda h: b"\x76\xa9\x14" + h + b"\x88\xac"),
    st.binary(max_size=600),  # a witness script, including one past a 253-byte length
)


@settings(max_examples=300, deadline=None)
@given(message=messages, script_pubkey=st.one_of(p2wpkh, p2wsh, p2tr))
def test_txids_equal_the_reference(message: str, script_pubkey: bytes) -> None:
    assert bip322_txids(message, script_pubkey) == _ref_txids(message, script_pubkey)


@settings(max_examples=300, deadline=None)
@given(message=messages, script_pubkey=st.one_of(p2wpkh, p2wsh), script_code=script_codes)
def test_segwit_sighash_equals_the_reference(
    message: str, script_pubkey: bytes, script_code: bytes
) -> None:
    assert bip322_sighash(message, script_pubkey, script_code) == _ref_sighash(
        message, script_pubkey, script_code
    )


@settings(max_examples=300, deadline=None)
@given(message=messages, script_pubkey=p2tr, hash_type=st.sampled_from([0x00, 0x01]))
def test_taproot_sighash_equals_the_reference(
    message: str, script_pubkey: bytes, hash_type: int
) -> None:
    assert bip322_taproot_sighash(message, script_pubkey, hash_type) == _ref_taproot_sighash(
        message, script_pubkey, hash_type
    )


def test_the_reference_is_the_bip322_vector() -> None:
    # the reference itself reproduces BIP-322's published txids for the empty message
    spk = bytes.fromhex("00142b05d564e6a7a33c087f16e0f730d1440123799d")
    assert _ref_txids("", spk) == (
        "c5680aa69bb8d860bf82d4e9cd3504b55dde018de765a91bb566283c545a99a7",
        "1e9654e951a5ba44c8604c4de6c67fd78a27e81dcadcfe1edf638ba3aaebaed6",
    )


def test_a_changed_message_changes_every_digest() -> None:
    # guards against a comparison that passes because both sides ignore the message
    spk = b"\x51\x20" + bytes(range(32))
    assert bip322_txids("a", spk) != bip322_txids("b", spk)
    assert bip322_sighash("a", spk, b"\x51") != bip322_sighash("b", spk, b"\x51")
    assert bip322_taproot_sighash("a", spk, 0) != bip322_taproot_sighash("b", spk, 0)
