"""chains/btc_address.py and chains/btc_amounts.py: one address decoder, one amount converter.

Wallets (`btc_wallets.script_pubkey`), the bcoin adapter (`bitcoin_bcoin.watch`) and
ownership proofs (`btc_proof_checks.decode_address`) all decode through `btc_address`; the
tests here pin that they accept and refuse the same strings and give the same script, and
that every amount path (Core's BTC, bcoin's satoshi) converts exactly or refuses.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from embit import bech32
from hypothesis import given, settings
from hypothesis import strategies as st

from chains import bitcoin_bcoin, btc_proof_checks, btc_wallets
from chains.bitcoin_core import btc_to_sats
from chains.btc_address import (
    NETWORKS,
    AddressError,
    AddressType,
    DecodedAddress,
    decode_address,
    encode_address,
)
from chains.btc_amounts import COIN, MAX_MONEY, to_sats
from verifier.base.errors import InputError, InvalidProof, MalformedReply

CORPUS = [
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7kV8F3T4",  # mixed case
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5",  # checksum
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
    "bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3",  # base58 checksum
    "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy",
    "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn",
    "2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc",
    "111111111111111111117K4nzc",  # base58check of 20 bytes, not 21
    "hello",
    "bc1",
    "1",
]
BCOIN_NETWORKS = ("main", "test", "signet", "regtest")


def _ownership(address: str, network: str) -> bytes | None:
    try:
        return btc_proof_checks.decode_address(address, network).script_pubkey()
    except InvalidProof:
        return None


def _wallets(address: str, network: str) -> bytes | None:
    try:
        return btc_wallets.script_pubkey(address, network)
    except InputError:
        return None


def _bcoin(address: str, network: str) -> bytes | None:
    try:
        return bitcoin_bcoin.watch(address, network).script
    except InputError:
        return None


@pytest.mark.parametrize("network", BCOIN_NETWORKS)
@pytest.mark.parametrize("address", CORPUS)
def test_the_three_callers_agree(address: str, network: str) -> None:
    ownership, wallets, bcoin = (f(address, network) for f in (_ownership, _wallets, _bcoin))
    assert ownership == wallets
    taproot = ownership is not None and ownership[0] != 0x00 and len(ownership) == 34
    # bcoin 1.0.2 cannot index witness v1+: the adapter refuses what the others decode
    assert bcoin == (None if taproot else ownership)


def test_the_corpus_has_both_outcomes() -> None:
    # the agreement test above would pass if every decoder refused everything
    decoded = [a for a in CORPUS if _ownership(a, "main") is not None]
    assert 4 <= len(decoded) < len(CORPUS)


@pytest.mark.parametrize(
    ("address", "network", "words"),
    [
        ("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "main", "another network"),
        ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7kV8F3T4", "main", "mixes upper and lower case"),
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "main", "checksum"),
        ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "main", "version byte 0x6f"),
        ("111111111111111111117K4nzc", "main", "20 bytes, not 21"),
    ],
)
def test_a_refusal_names_the_address_and_why(address: str, network: str, words: str) -> None:
    with pytest.raises(AddressError) as caught:
        decode_address(address, network)
    assert str(caught.value).startswith(address)
    assert words in caught.value.reason
    with pytest.raises(InputError) as wrapped:
        btc_wallets.script_pubkey(address, network, key="cold.addresses[0]")
    assert (wrapped.value.key, wrapped.value.value) == ("cold.addresses[0]", address)
    assert words in wrapped.value.message


def test_an_unknown_network_is_an_input_error_not_an_address_error() -> None:
    with pytest.raises(InputError):
        decode_address("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "mainnet")


def test_no_network_means_any_known_network() -> None:
    assert decode_address("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", None).type is AddressType.P2PKH
    assert decode_address("bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk", None).witness_version == 0
    with pytest.raises(AddressError, match="version byte 0x30"):
        decode_address("LVg2kJoFNg45Nbpy53h7Fe1wKyeXVRhMH9", None)  # a Litecoin address


_KINDS = st.sampled_from(
    [
        (AddressType.P2PKH, 20, None),
        (AddressType.P2SH, 20, None),
        (AddressType.P2WPKH, 20, 0),
        (AddressType.P2WSH, 32, 0),
        (AddressType.P2TR, 32, 1),
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    kind=_KINDS,
    payload=st.binary(min_size=32, max_size=32),
    network=st.sampled_from(list(NETWORKS)),
)
def test_encode_then_decode_is_the_identity(
    kind: tuple[AddressType, int, int | None], payload: bytes, network: str
) -> None:
    kind_type, size, version = kind
    address = DecodedAddress(kind_type, payload[:size], version)
    text = encode_address(address, network)
    assert decode_address(text, network) == address
    assert decode_address(text.upper() if version is not None else text, network) == address
    fmt = NETWORKS[network]
    if version is None:  # testnets and regtest share base58 version bytes
        others = [n for n, f in NETWORKS.items() if (f.p2pkh, f.p2sh) != (fmt.p2pkh, fmt.p2sh)]
    else:
        others = [n for n, f in NETWORKS.items() if f.hrp != fmt.hrp]
    assert others
    for other in others:
        with pytest.raises(AddressError):
            decode_address(text, other)


def test_unknown_witness_versions_decode_as_such() -> None:
    text = bech32.encode("bc", 2, bytes(range(16)))
    decoded = decode_address(text, "main")
    assert (decoded.type, decoded.witness_version) == (AddressType.WITNESS_UNKNOWN, 2)
    assert decoded.script_pubkey() == bytes([0x52, 16]) + bytes(range(16))


# ----------------------------------------------------------------------------- amounts


@settings(max_examples=300, deadline=None)
@given(sats=st.integers(min_value=0, max_value=MAX_MONEY))
def test_btc_and_sat_paths_are_exact(sats: int) -> None:
    btc = (Decimal(sats) / COIN).quantize(Decimal("0.00000001"))
    assert to_sats(btc, "btc", "amount") == sats
    assert btc_to_sats(btc, "amount") == sats  # Core's name for the same conversion
    assert to_sats(sats, "sat", "amount") == sats
    assert bitcoin_bcoin.to_sats(sats, "sat", "amount") == sats


@pytest.mark.parametrize(
    ("value", "unit", "words"),
    [
        (Decimal("1E+999999999"), "sat", "out of range"),  # the exponent overflows Decimal
        (Decimal("1E+20"), "btc", "outside 0..21,000,000 BTC"),
        (MAX_MONEY + 1, "sat", "outside"),
        (Decimal("0.000000015"), "btc", "whole number of satoshi"),
        (Decimal("0.5"), "sat", "whole number of satoshi"),
        (Decimal("sNaN"), "btc", "out of range"),
        (0.5, "btc", "not a JSON number"),
        (True, "sat", "not a JSON number"),
    ],
)
def test_bad_amounts_name_what_and_why(value: object, unit: str, words: str) -> None:
    with pytest.raises(MalformedReply) as caught:
        to_sats(value, unit, "tx 7 output 2")  # type: ignore[arg-type]
    assert caught.value.message.startswith("tx 7 output 2: ")
    assert words in caught.value.message
