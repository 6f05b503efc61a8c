"""The pure parts of chains/bitcoin_bcoin.py: amounts, addresses, history → balance at H."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from embit.script import address_to_scriptpubkey

from chains.bitcoin_bcoin import (
    MAX_MONEY,
    balances_at,
    index_key,
    merge_histories,
    network_name,
    parse_history,
    to_sats,
    watch,
)
from verifier.base.errors import InputError, MalformedReply, RpcError, TipMoved

# ---------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("value", "unit", "sats"),
    [
        (0, "sat", 0),
        (5_000_000_000, "sat", 5_000_000_000),
        (Decimal("1234.0"), "sat", 1234),
        (Decimal("0.29"), "btc", 29_000_000),  # int(0.29 * 1e8) would be 28_999_999
        (Decimal("0.00000001"), "btc", 1),
        (Decimal("21000000"), "btc", MAX_MONEY),
        (Decimal("1E-8"), "btc", 1),
        (3, "btc", 300_000_000),
    ],
)
def test_to_sats_is_exact(value, unit, sats):
    assert to_sats(value, unit, "test") == sats


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (Decimal("0.5"), "sat"),
        (Decimal("0.000000001"), "btc"),
        (Decimal("-0.00000001"), "btc"),
        (-1, "sat"),
        (MAX_MONEY + 1, "sat"),
        (Decimal("21000000.00000001"), "btc"),
        (0.5, "btc"),  # a float never gets in
        (True, "sat"),
        ("100", "sat"),
        (None, "sat"),
        (Decimal("NaN"), "sat"),
        (Decimal("Infinity"), "btc"),
    ],
)
def test_to_sats_rejects(value, unit):
    with pytest.raises(MalformedReply):
        to_sats(value, unit, "test")


def test_json_numbers_parse_as_decimal_then_sats():
    reply = json.loads('{"value": 0.1, "big": 20999999.99999999}', parse_float=Decimal)
    assert to_sats(reply["value"], "btc", "t") == 10_000_000
    assert to_sats(reply["big"], "btc", "t") == MAX_MONEY - 1


# ---------------------------------------------------------------------- addresses

BIP173_P2WPKH = "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4"
BIP173_P2WSH_TEST = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"


@pytest.mark.parametrize(
    ("address", "network"),
    [
        (BIP173_P2WPKH, "main"),
        (BIP173_P2WPKH.lower(), "main"),
        (BIP173_P2WSH_TEST, "test"),
        ("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "regtest"),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "main"),
        ("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", "main"),
        ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "regtest"),
        ("2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", "regtest"),
        ("2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", "test"),
    ],
)
def test_watch_gives_the_script_and_index_key(address, network):
    watched = watch(address, network)
    canonical = address.lower() if address.lower().startswith(("bc1", "tb1", "bcrt1")) else address
    assert watched.script == bytes(address_to_scriptpubkey(canonical).data)
    assert watched.key == index_key(watched.script)
    assert len(watched.key) in {40, 64}
    assert watched.address == address
    assert watch(address).script == watched.script  # any network


def test_bip173_vector():
    assert watch(BIP173_P2WPKH, "main").key == "751e76e8199196d454941c45d1b3a323f1433bd6"
    assert watch(BIP173_P2WSH_TEST, "test").script.hex() == (
        "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"
    )


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080", "main"),
        ("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "main"),
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "regtest"),
        ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7kV8F3T4", "main"),  # mixed case
        ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "main"),  # checksum
        ("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", "main"),  # base58 checksum
        ("bc1pqqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0sg5tmnz", "main"),  # taproot
        ("", "main"),
        ("hello", "main"),
    ],
)
def test_watch_rejects(address, network):
    with pytest.raises(InputError):
        watch(address, network)


def test_network_names():
    assert network_name("mainnet") == "main"
    assert network_name("Testnet") == "test"
    assert network_name("regtest") == "regtest"
    with pytest.raises(InputError):
        network_name("litecoin")


def test_index_key_refuses_other_scripts():
    with pytest.raises(InputError):
        index_key(bytes.fromhex("6a0401020304"))  # OP_RETURN


# ---------------------------------------------------------------------- histories

A = watch("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn", "regtest")
# the same hash160 as a P2WPKH: bcoin's index returns both under one key
A_SEGWIT = watch("bcrt1qysl38985g420fn3l66rynsv6m3yre6fy726hhl", "regtest")
B = watch("2MzQwSSnBHWHqSAqtTVQ6v47XtaisrJa1Vc", "regtest")
OTHER = bytes.fromhex("0014" + "11" * 20)
COINBASE = {"hash": "00" * 32, "index": 0xFFFFFFFF}


def tx(txid, height, outputs, inputs=(), block=None):
    return {
        "hash": txid * 32 if len(txid) == 2 else txid,
        "height": height,
        "block": block if block is not None else (None if height < 0 else f"{height:064x}"),
        "outputs": [{"value": v, "script": s.hex(), "address": "x"} for s, v in outputs],
        "inputs": [
            {"prevout": COINBASE}
            if prev is None
            else {
                "prevout": {"hash": prev[0] * 32, "index": prev[1]},
                "coin": {"value": v, "script": s.hex()},
            }
            for prev, s, v in (inputs or [(None, None, None)])
        ],
    }


def history(*txs):
    return parse_history(json.loads(json.dumps(list(txs)), parse_float=Decimal), "test")


def test_shared_index_key():
    assert A.key == A_SEGWIT.key and A.script != A_SEGWIT.script


def test_balance_at_each_height():
    txs = history(
        tx("01", 10, [(A.script, 5_000), (B.script, 700)]),
        tx("02", 12, [(OTHER, 1_000), (A.script, 3_900)], [(("01", 0), A.script, 5_000)]),
        tx("03", 12, [(A_SEGWIT.script, 42)]),
        tx("04", 15, [(OTHER, 3_800)], [(("02", 1), A.script, 3_900)]),
        tx("05", -1, [(A.script, 99_999)], [(("01", 1), B.script, 700)]),  # mempool
    )
    expect = {9: (0, 0, 0), 10: (5_000, 700, 0), 12: (3_900, 700, 42), 15: (0, 700, 42)}
    for height, (a, b, a_segwit) in expect.items():
        got = balances_at(txs, [A, B, A_SEGWIT], height)
        assert got == {A.address: a, B.address: b, A_SEGWIT.address: a_segwit}, height
    assert balances_at(txs, [A], 12) == {A.address: 3_900}  # P2WPKH output not counted


def test_spend_of_an_unseen_output_is_refused():
    txs = history(tx("02", 12, [(OTHER, 1)], [(("09", 0), A.script, 5_000)]))
    with pytest.raises(MalformedReply, match="incomplete"):
        balances_at(txs, [A], 12)
    # ... unless it is above the height asked for
    assert balances_at(txs, [A], 11) == {A.address: 0}


def test_spend_with_another_value_is_refused():
    txs = history(
        tx("01", 10, [(A.script, 5_000)]),
        tx("02", 12, [(OTHER, 1)], [(("01", 0), A.script, 5_001)]),
    )
    with pytest.raises(MalformedReply):
        balances_at(txs, [A], 12)


@pytest.mark.parametrize(
    "reply",
    [
        {"not": "a list"},
        [1],
        [{"hash": "01" * 32, "height": "3", "outputs": [], "inputs": []}],
        [{"hash": "01" * 32, "height": 3, "block": None, "outputs": [], "inputs": []}],
        [{"hash": "01" * 32, "height": -2, "outputs": [], "inputs": []}],
        [{"hash": "01" * 32, "height": 3, "block": "b", "outputs": [{"value": 1}], "inputs": []}],
        [
            {
                "hash": "01" * 32,
                "height": 3,
                "block": "b",
                "outputs": [{"value": Decimal("0.5"), "script": "00"}],
                "inputs": [],
            }
        ],
        [
            {
                "hash": "01" * 32,
                "height": 3,
                "block": "b",
                "outputs": [],
                "inputs": [{"prevout": {"hash": "02" * 32, "index": 0}}],  # no coin
            }
        ],
    ],
)
def test_malformed_history(reply):
    with pytest.raises(MalformedReply):
        parse_history(reply, "test")


def test_error_object_is_an_rpc_error():
    with pytest.raises(RpcError, match="Address is required"):
        parse_history({"error": {"type": "Error", "message": "Address is required."}}, "t")


def test_mempool_input_without_coin_is_ignored():
    reply = [
        {
            "hash": "01" * 32,
            "height": -1,
            "block": None,
            "outputs": [],
            "inputs": [{"prevout": {"hash": "02" * 32, "index": 0}}],
        }
    ]
    assert parse_history(reply, "t")[0].inputs == ()


def test_merge_histories():
    first = history(tx("01", 10, [(A.script, 1)]), tx("02", -1, [(A.script, 2)]))
    second = history(tx("01", 10, [(A.script, 1)]), tx("02", 11, [(A.script, 2)]))
    assert [t.txid for t in merge_histories([first, first])] == ["01" * 32, "02" * 32]
    with pytest.raises(TipMoved):
        merge_histories([first, second])
